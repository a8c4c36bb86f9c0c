//! OCDS 1.1 release package of a plan (docs/EXPORTS.md), a view of the ledger at one checkpoint.
//!
//! One contracting process per commitment (DOMAIN.md §7): `ocid` = `{prefix}-{commitment id}`. The prefix
//! stands in for an OCDS-registered one: `ocds-{h}`, where `{h}` is the first six hex digits of SHA-256 of
//! the ledger's origin (the first line of the signed checkpoint), so it is stable for a ledger and differs
//! between ledgers (a coalition that registers a prefix should publish under it instead). Each release is
//! the state of its process at the checkpoint (`id` = `{commitment}-{tree size}`, `date` = the checkpoint's
//! as-of date), tagged with the stages it carries; the package's `uri` names the checkpoint (origin, plan,
//! tree size and root hash).
//!
//! In a release: `planning` is the pledges the commitment draws on (its allocations: `budget.amount` is
//! their sum, the pledgers are `funder`s, their delivery milestones are the planning milestones); `tender`
//! is the plan's call for funding; one `award` and one `contract` are the commitment (value, dates,
//! tranches as milestones); `contract.implementation.transactions` are its disbursements and
//! reimbursements.
//!
//! Every figure that the transparency report shows is taken from the report model ([`Report`]): total
//! external pledged P and the requirement R (in the budget's and the tender's descriptions), each pledge's
//! P, each funder's pledged / committed / disbursed, milestones, tranche statuses, the corrections and
//! their net changes. The individual agreements and payments are listed from the same snapshot the report
//! was computed in, with the report's rule for what counts: reversed transactions are left out (an OCDS
//! release is a snapshot; a correction is a later release without the erroneous item, never a negative
//! amount) and each reversal is named in the contract's `amendments` with the re-entry that corrects it
//! (DOMAIN.md §7); the release is then also tagged `implementationUpdate`. An amended commitment is tagged
//! `contractAmendment`, each amendment (rationale, old → new amount) in `amendments`.
//!
//! A withdrawn commitment keeps its process (OCDS never deletes an ocid): the award is `cancelled`, the
//! contract `terminated` (it was signed by both parties, then ended before any money moved: a commitment
//! with disbursements cannot be withdrawn), the release is tagged `awardCancellation` and
//! `contractTermination`, and the withdrawal (rationale, amount → 0) is in the contract's `amendments`.
//!
//! This file holds the package and what its releases share; `release.rs` builds one release.
mod release;

use accord_domain::statement as ds;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{Report, Source};
use crate::{Error, Result};
use accord_domain::book::{self, Subject};

/// The ocid prefix derived from a ledger origin: `ocds-` and six hex digits of SHA-256(origin).
pub fn ocid_prefix(origin: &str) -> String {
    let h = hex::encode(Sha256::digest(origin.as_bytes()));
    format!("ocds-{}", h.get(..6).unwrap_or("000000"))
}

/// A decimal amount as a JSON number: an integer when it is one, else the nearest double (OCDS amounts are
/// numbers). An empty or unreadable amount gives None (the field is then left out).
fn number(s: &str) -> Option<Value> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::from(i));
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite()).and_then(serde_json::Number::from_f64).map(Value::Number)
}

fn value(amount: &str, currency: &str) -> Option<Value> {
    number(amount).map(|a| json!({ "amount": a, "currency": currency }))
}

/// A date (YYYY-MM-DD) as an OCDS date-time (midnight UTC); empty stays empty.
fn datetime(d: &str) -> String {
    if d.is_empty() {
        String::new()
    } else {
        format!("{d}T00:00:00Z")
    }
}

/// Insert `k` only when the value says something (non-empty string, array or object; any number).
fn put(o: &mut Map<String, Value>, k: &str, v: impl Into<Value>) {
    let v = v.into();
    let empty = match &v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    };
    if !empty {
        o.insert(k.into(), v);
    }
}

/// Percent-encode everything outside RFC 3986's unreserved set, so any origin or plan id makes a valid URI.
fn pct(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            o.push(char::from(b));
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// Milestone status of OCDS (`milestoneStatus` codelist) for an Accord milestone or tranche status.
fn milestone_status(s: &str) -> &'static str {
    match s {
        "met" | "released" | "waived" => "met",
        "notMet" | "not_met" | "withheld" | "missed" | "lapsed" => "notMet",
        "partiallyMet" | "partially_met" => "partiallyMet",
        _ => "scheduled",
    }
}

/// The plan as an OCDS 1.1 release package, one release per commitment (pretty JSON, object keys sorted,
/// releases in commitment id order, one trailing newline).
pub fn release_package(r: &dyn Source, rep: &Report, at: &super::ReadAt) -> Result<String> {
    let plan_id = rep.plan.plan_id.as_str();
    let plan_s =
        r.subject(book::PLAN, plan_id)?.ok_or_else(|| Error::not_found("plan_id", format!("no plan {plan_id:?}")))?;
    let plan: ds::PlanCreated = plan_s.parsed()?;
    let gov = r.governance()?;
    let secretariat = super::publisher(plan.signatories.iter().map(|s| s.party_id.as_str()), &gov, "OCDS")?;
    // Every commitment, withdrawn ones too (their process is kept, marked cancelled).
    let commitments: Vec<(Subject, ds::CommitmentSigned)> = r
        .scan(book::COMMITMENT, plan_id)?
        .into_iter()
        .map(|s| s.parsed().map(|c| (s, c)))
        .collect::<accord_domain::state::Result<_>>()?;
    if commitments.is_empty() {
        // A release package holds one or more releases, and a process is a commitment.
        return Err(Error::precondition(
            "plan_id",
            format!(
                "plan {plan_id} has no commitment yet: the OCDS export publishes one contracting process per \
                 commitment and a release package needs at least one"
            ),
        ));
    }
    // Every transaction (reversed ones too: their reversal is named in the contract's amendments).
    let transactions: Vec<(Subject, ds::TransactionRecorded)> = r
        .scan(book::TRANSACTION, plan_id)?
        .into_iter()
        .map(|s| s.parsed().map(|t| (s, t)))
        .collect::<accord_domain::state::Result<_>>()?;
    let ctx = Ctx {
        r,
        rep,
        plan: &plan,
        gov: &gov,
        secretariat: &secretariat,
        transactions: &transactions,
        origin: at.checkpoint.lines().next().unwrap_or_default(),
        tree_size: at.tree_size,
        date: datetime(if rep.read_at.as_of_date.is_empty() { "1970-01-01" } else { &rep.read_at.as_of_date }),
    };
    let releases: Vec<Value> = commitments.iter().map(|(s, c)| ctx.release(s, c)).collect::<Result<_>>()?;
    let package = json!({
        "uri": format!(
            "urn:x-accord:{}:{}:ocds:{}:{}",
            pct(ctx.origin),
            pct(plan_id),
            at.tree_size,
            hex::encode(&at.root_hash)
        ),
        "version": "1.1",
        "publishedDate": ctx.date,
        "publisher": { "name": ctx.name_of(&secretariat), "uid": secretariat },
        "releases": releases,
    });
    let mut out = serde_json::to_string_pretty(&package).map_err(|e| Error::internal(e.to_string()))?;
    out.push('\n');
    Ok(out)
}

/// What every release of one package shares.
struct Ctx<'a> {
    r: &'a dyn Source,
    rep: &'a Report,
    plan: &'a ds::PlanCreated,
    gov: &'a accord_domain::Governance,
    secretariat: &'a str,
    transactions: &'a [(Subject, ds::TransactionRecorded)],
    origin: &'a str,
    tree_size: u64,
    date: String,
}

impl Ctx<'_> {
    fn name_of(&self, id: &str) -> String {
        self.gov.parties.get(id).map(|p| p.name.clone()).unwrap_or_else(|| id.to_string())
    }

    fn org(&self, id: &str) -> Value {
        json!({ "id": id, "name": self.name_of(id) })
    }

    /// The report's corrections of one subject (amendments, withdrawals, reversals).
    fn corrections(&self, kind: &str, id: &str) -> &[super::Correction] {
        self.rep
            .amendments
            .iter()
            .find(|a| a.kind == kind && a.id == id)
            .map(|a| a.corrections.as_slice())
            .unwrap_or(&[])
    }

    /// `; net change {n} {currency}` from the report's correction log of a reversed transaction.
    fn net_change(&self, txn: &str) -> String {
        self.rep
            .corrections
            .iter()
            .find(|c| c.txn_id == txn && !c.net_change.is_empty())
            .map(|c| format!("; net change {} {}", c.net_change, c.currency))
            .unwrap_or_default()
    }
}

fn amendment(id: &str, c: &super::Correction, what: &str) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), id.into());
    put(&mut o, "date", datetime(&c.date));
    put(&mut o, "rationale", c.rationale.as_str());
    let change = if c.old_amount.is_empty() && c.new_amount.is_empty() {
        String::new()
    } else {
        format!(" (amount {} → {})", c.old_amount, c.new_amount)
    };
    o.insert("description".into(), format!("{what} {}{change}", c.action).into());
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_prefixes_and_uris() {
        assert_eq!(number("120000000"), Some(Value::from(120000000)));
        assert_eq!(number("27.5").map(|v| v.to_string()), Some("27.5".into()));
        assert_eq!(number(""), None);
        assert_eq!(number("x"), None);
        let p = ocid_prefix("accord.example/coalition");
        assert!(p.starts_with("ocds-") && p.len() == 11, "{p}");
        assert_eq!(p, ocid_prefix("accord.example/coalition"));
        assert_ne!(p, ocid_prefix("other.example/log"));
        assert_eq!(pct("a b/c:d"), "a%20b%2Fc%3Ad");
    }
}
