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
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{Report, Source};
use crate::domain::book::{self, Subject};
use crate::error::{Error, Result};
use crate::pb;

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
pub fn release_package(r: &dyn Source, rep: &Report, at: &pb::ReadAt) -> Result<String> {
    let plan_id = rep.plan.plan_id.as_str();
    let plan_s =
        r.subject(book::PLAN, plan_id)?.ok_or_else(|| Error::not_found("plan_id", format!("no plan {plan_id:?}")))?;
    let plan: pb::PlanCreated = plan_s.decode()?;
    let gov = r.governance()?;
    let secretariat = super::publisher(&plan, &gov, "OCDS")?;
    // Every commitment, withdrawn ones too (their process is kept, marked cancelled).
    let commitments: Vec<(Subject, pb::CommitmentSigned)> =
        r.scan(book::COMMITMENT, plan_id)?.into_iter().map(|s| s.decode().map(|c| (s, c))).collect::<Result<_>>()?;
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
    let transactions: Vec<(Subject, pb::TransactionRecorded)> =
        r.scan(book::TRANSACTION, plan_id)?.into_iter().map(|s| s.decode().map(|t| (s, t))).collect::<Result<_>>()?;
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
    plan: &'a pb::PlanCreated,
    gov: &'a crate::domain::Governance,
    secretariat: &'a str,
    transactions: &'a [(Subject, pb::TransactionRecorded)],
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

    /// The contracting process of one commitment.
    fn release(&self, s: &Subject, c: &pb::CommitmentSigned) -> Result<Value> {
        let withdrawn = s.tally.withdrawn;
        let pledges = self.drawn_pledges(c)?;
        let txns: Vec<&(Subject, pb::TransactionRecorded)> = self
            .transactions
            .iter()
            .filter(|(_, t)| t.commitment_id == s.id && matches!(t.transaction_type, 3 | 7))
            .collect();
        let parties = self.parties(c, &pledges, &txns);
        let planning = self.planning(s, &pledges);
        let tender = self.tender();
        let (a, mut k) = self.award_and_contract(s, c, withdrawn);

        // Amendments: of the commitment, then the corrections of its payments.
        let mut amendments = Vec::new();
        let mut amended = false;
        for corr in self.corrections(book::COMMITMENT, &s.id) {
            amended |= corr.action == "amended";
            amendments.push(amendment(&format!("{}-{}", s.id, corr.index), corr, &format!("commitment {}", s.id)));
        }
        let (payments, update) = self.payments(&txns, &mut amendments);
        let any_payment = !payments.is_empty();
        if any_payment {
            k.insert("implementation".into(), json!({ "transactions": payments }));
        }
        put(&mut k, "amendments", amendments);

        let mut tag = vec!["planning", "tender", "award", "contract"];
        if amended {
            tag.push("contractAmendment");
        }
        if any_payment {
            tag.push("implementation");
        }
        if update {
            tag.push("implementationUpdate");
        }
        if withdrawn {
            tag.extend(["awardCancellation", "contractTermination"]);
        }
        let mut release = Map::new();
        release.insert("ocid".into(), format!("{}-{}", ocid_prefix(self.origin), s.id).into());
        release.insert("id".into(), format!("{}-{}", s.id, self.tree_size).into());
        release.insert("date".into(), self.date.clone().into());
        release.insert("tag".into(), tag.into());
        release.insert("initiationType".into(), "tender".into());
        release.insert("parties".into(), parties.into());
        release.insert("buyer".into(), self.org(self.secretariat));
        release.insert("planning".into(), Value::Object(planning));
        release.insert("tender".into(), Value::Object(tender));
        release.insert("awards".into(), json!([Value::Object(a)]));
        release.insert("contracts".into(), json!([Value::Object(k)]));
        release.insert("language".into(), "en".into());
        Ok(Value::Object(release))
    }

    /// The pledges a commitment draws on, with the amount allocated from each (a pledge not found is named
    /// by its id alone).
    fn drawn_pledges(&self, c: &pb::CommitmentSigned) -> Result<Vec<(String, pb::PledgeAnnounced, pb::Money)>> {
        let mut pledges: Vec<(String, pb::PledgeAnnounced, pb::Money)> = Vec::new();
        for a in &c.allocations {
            let p: pb::PledgeAnnounced = match self.r.subject(book::PLEDGE, &a.pledge_id)? {
                Some(ps) => ps.decode()?,
                None => pb::PledgeAnnounced { pledge_id: a.pledge_id.clone(), ..Default::default() },
            };
            pledges.push((a.pledge_id.clone(), p, a.amount.clone().unwrap_or_default()));
        }

        Ok(pledges)
    }

    /// The parties of the process and their roles: the secretariat as buyer and procuring entity, pledgers
    /// and the provider as funders (with the report's figures of each donor), the recipient as supplier,
    /// payers and payees of the payments not reversed.
    fn parties(
        &self,
        c: &pb::CommitmentSigned,
        pledges: &[(String, pb::PledgeAnnounced, pb::Money)],
        txns: &[&(Subject, pb::TransactionRecorded)],
    ) -> Vec<Value> {
        let rep = self.rep;
        let mut roles: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
        roles.entry(self.secretariat.to_string()).or_default().extend(["buyer", "procuringEntity"]);
        for (_, p, _) in pledges {
            if !p.pledger_id.is_empty() {
                roles.entry(p.pledger_id.clone()).or_default().insert("funder");
            }
        }
        roles.entry(c.provider_id.clone()).or_default().insert("funder");
        roles.entry(c.recipient_id.clone()).or_default().insert("supplier");
        for (ts, t) in txns {
            if !ts.tally.reversed {
                roles.entry(t.provider_id.clone()).or_default().insert("payer");
                roles.entry(t.receiver_id.clone()).or_default().insert("payee");
            }
        }
        let donors: BTreeMap<&str, &super::FlowRow> =
            rep.funding.by_donor.iter().map(|row| (row.key.as_str(), row)).collect();
        roles
            .iter()
            .map(|(id, rs)| {
                let mut o = Map::new();
                o.insert("id".into(), id.as_str().into());
                o.insert("name".into(), self.name_of(id).into());
                o.insert("roles".into(), rs.iter().copied().collect::<Vec<_>>().into());
                if let Some(country) = self.gov.parties.get(id).map(|p| p.country.clone()).filter(|c| !c.is_empty()) {
                    o.insert("address".into(), json!({ "countryName": country }));
                }
                if let Some(row) = donors.get(id.as_str()) {
                    // The report's figures for this funder across the plan, in the reporting currency.
                    o.insert(
                        "details".into(),
                        json!({
                            "accordFunding": {
                                "currency": rep.funding.currency,
                                "pledged": row.pledged,
                                "committed": row.committed,
                                "disbursed": row.disbursed,
                            }
                        }),
                    );
                }
                Value::Object(o)
            })
            .collect()
    }

    /// Planning: the allocations from the pledges are the budget of this process; their milestones.
    fn planning(&self, s: &Subject, pledges: &[(String, pb::PledgeAnnounced, pb::Money)]) -> Map<String, Value> {
        let rep = self.rep;
        let plan_id = rep.plan.plan_id.as_str();
        let currency = rep.funding.currency.as_str();
        let alloc_currencies: BTreeSet<&str> = pledges.iter().map(|(_, _, m)| m.currency.as_str()).collect();
        let mut budget = Map::new();
        budget.insert("id".into(), pledges.iter().map(|(id, _, _)| id.as_str()).collect::<Vec<_>>().join("+").into());
        let lines: Vec<String> = pledges
            .iter()
            .map(|(id, p, m)| {
                let own = p.amount.clone().unwrap_or_default();
                let counted = rep
                    .new_money
                    .by_pledge
                    .iter()
                    .find(|n| &n.pledge_id == id)
                    .map(|n| format!(", counted {} {currency} in P", n.pledged))
                    .unwrap_or_default();
                format!(
                    "pledge {id} by {} ({} {} pledged{counted}): {} {} allocated",
                    self.name_of(&p.pledger_id),
                    own.value,
                    own.currency,
                    m.value,
                    m.currency
                )
            })
            .collect();
        budget.insert(
            "description".into(),
            format!(
                "Commitment {} draws on {}. Plan {plan_id}: total external pledged (P) {} {currency}",
                s.id,
                lines.join("; "),
                rep.funding.total_external.pledged
            )
            .into(),
        );
        if let [cur] = alloc_currencies.iter().copied().collect::<Vec<_>>().as_slice() {
            let sum = pledges
                .iter()
                .map(|(_, _, m)| m.value.trim().parse::<rust_decimal::Decimal>().ok())
                .try_fold(rust_decimal::Decimal::ZERO, |acc, v| v.and_then(|v| acc.checked_add(v)));
            if let Some(v) = sum.and_then(|x| value(&x.normalize().to_string(), cur)) {
                budget.insert("amount".into(), v);
            }
        }
        budget.insert("projectID".into(), plan_id.into());
        put(&mut budget, "project", self.plan.title.as_str());
        let pledge_ids: BTreeSet<&str> = pledges.iter().map(|(id, _, _)| id.as_str()).collect();
        let milestones: Vec<Value> = rep
            .delivery
            .milestones
            .iter()
            .filter(|m| pledge_ids.contains(m.pledge_id.as_str()))
            .map(|m| {
                let mut o = Map::new();
                o.insert("id".into(), format!("{}-{}", m.pledge_id, m.milestone_id).into());
                put(&mut o, "title", m.title.as_str());
                o.insert("type".into(), "delivery".into());
                put(&mut o, "description", format!("Milestone {} of pledge {}", m.milestone_id, m.pledge_id));
                put(&mut o, "dueDate", datetime(&m.due_date));
                let status = milestone_status(&m.status);
                if status == "met" {
                    put(&mut o, "dateMet", datetime(&m.date));
                }
                o.insert("status".into(), status.into());
                Value::Object(o)
            })
            .collect();
        let mut planning = Map::new();
        put(&mut planning, "rationale", self.plan.description.as_str());
        planning.insert("budget".into(), Value::Object(budget));
        put(&mut planning, "milestones", milestones);
        planning
    }

    /// Tender: the plan's call for funding, which this commitment answers (its requirement R is the plan's,
    /// so it is stated, not given as this process's value).
    fn tender(&self) -> Map<String, Value> {
        let rep = self.rep;
        let plan_id = rep.plan.plan_id.as_str();
        let currency = rep.funding.currency.as_str();
        let period = self.plan.period.clone().unwrap_or_default();
        let mut tender = Map::new();
        tender.insert("id".into(), plan_id.into());
        put(&mut tender, "title", self.plan.title.as_str());
        let requirement = if rep.coverage.requirement.is_empty() {
            String::new()
        } else {
            format!(", requirement (R) {} {currency}", rep.coverage.requirement)
        };
        tender.insert("description".into(), format!("The call for funding of plan {plan_id}{requirement}").into());
        tender.insert("status".into(), "complete".into());
        tender.insert("procuringEntity".into(), self.org(self.secretariat));
        if !period.start.is_empty() && !period.end.is_empty() {
            tender.insert(
                "contractPeriod".into(),
                json!({ "startDate": datetime(&period.start), "endDate": datetime(&period.end) }),
            );
        }
        tender
    }

    /// Award and contract: the commitment, with its tranches as the contract's milestones.
    fn award_and_contract(
        &self,
        s: &Subject,
        c: &pb::CommitmentSigned,
        withdrawn: bool,
    ) -> (Map<String, Value>, Map<String, Value>) {
        let rep = self.rep;
        let money = c.amount.clone().unwrap_or_default();
        let award_id = format!("{}-award", s.id);
        let title =
            format!("Commitment {} from {} to {}", s.id, self.name_of(&c.provider_id), self.name_of(&c.recipient_id));
        let mut a = Map::new();
        a.insert("id".into(), award_id.clone().into());
        a.insert("title".into(), title.clone().into());
        a.insert("status".into(), if withdrawn { "cancelled" } else { "active" }.into());
        put(&mut a, "date", datetime(&c.signed_date));
        if let Some(v) = value(&money.value, &money.currency) {
            a.insert("value".into(), v);
        }
        a.insert("suppliers".into(), json!([self.org(&c.recipient_id)]));

        let mut k = Map::new();
        k.insert("id".into(), s.id.clone().into());
        k.insert("awardID".into(), award_id.into());
        k.insert("title".into(), title.into());
        if !c.finance_type.is_empty() {
            put(&mut k, "description", format!("Finance type {} (IATI FinanceType)", c.finance_type));
        }
        k.insert("status".into(), if withdrawn { "terminated" } else { "active" }.into());
        let years: Vec<u32> = c.usage_years.iter().map(|u| u.year).collect();
        if let (Some(first), Some(last)) = (years.iter().min(), years.iter().max()) {
            k.insert(
                "period".into(),
                json!({ "startDate": format!("{first:04}-01-01T00:00:00Z"), "endDate": format!("{last:04}-12-31T00:00:00Z") }),
            );
        }
        if let Some(v) = value(&money.value, &money.currency) {
            k.insert("value".into(), v);
        }
        put(&mut k, "dateSigned", datetime(&c.signed_date));
        let tranche_ms: Vec<Value> = rep
            .tranches
            .conditions
            .iter()
            .flat_map(|cv| cv.tranches.iter())
            .filter(|t| t.commitment_id == s.id)
            .map(|t| {
                let mut o = Map::new();
                o.insert("id".into(), t.tranche_id.clone().into());
                o.insert("title".into(), format!("Tranche {} ({} {})", t.tranche_id, t.value, t.currency).into());
                o.insert("type".into(), "financing".into());
                put(
                    &mut o,
                    "description",
                    if t.outcome.is_empty() { t.status.clone() } else { format!("{}: {}", t.status, t.outcome) },
                );
                let status = milestone_status(&t.status);
                if status == "met" {
                    put(&mut o, "dateMet", datetime(&t.date));
                }
                o.insert("status".into(), status.into());
                Value::Object(o)
            })
            .collect();
        put(&mut k, "milestones", tranche_ms);
        (a, k)
    }

    /// The payments of the process (its transactions not reversed), and whether any transaction was
    /// reversed or re-enters one of another commitment (an implementation update); the amendments of
    /// reversed transactions and the re-entries are added to `amendments`.
    fn payments(
        &self,
        txns: &[&(Subject, pb::TransactionRecorded)],
        amendments: &mut Vec<Value>,
    ) -> (Vec<Value>, bool) {
        let mut payments = Vec::new();
        let mut update = false;
        for (ts, t) in txns {
            if ts.tally.reversed {
                update = true;
                // DOMAIN.md §7: a corrected re-entry names the transaction it replaces.
                let what = if ts.tally.corrected_by.is_empty() {
                    format!("transaction {}", ts.id)
                } else {
                    format!("transaction {} (corrected by {})", ts.id, ts.tally.corrected_by)
                };
                for corr in self.corrections(book::TRANSACTION, &ts.id) {
                    let mut am = amendment(&format!("{}-{}", ts.id, corr.index), corr, &what);
                    if let Some(Value::String(d)) = am.get_mut("description") {
                        d.push_str(&self.net_change(&ts.id));
                    }
                    amendments.push(am);
                }
                continue;
            }
            if !t.corrects.is_empty() && !txns.iter().any(|(o, _)| o.id == t.corrects) {
                // The re-entry of a transaction of another commitment: named here too.
                update = true;
                let mut o = Map::new();
                o.insert("id".into(), format!("{}-corrects", ts.id).into());
                // Dated when the re-entry was recorded (the report's correction log), else its value date.
                let recorded = self
                    .rep
                    .corrections
                    .iter()
                    .filter(|x| x.txn_id == t.corrects)
                    .flat_map(|x| x.steps.iter())
                    .find(|step| step.step == "correction" && step.txn_id == ts.id)
                    .map_or(t.date.as_str(), |step| step.date.as_str());
                put(&mut o, "date", datetime(recorded));
                let of = self
                    .transactions
                    .iter()
                    .find(|(o, _)| o.id == t.corrects)
                    .map(|(_, x)| format!(" of commitment {}", x.commitment_id))
                    .unwrap_or_default();
                o.insert(
                    "description".into(),
                    format!("transaction {} corrects transaction {}{of} (reversed)", ts.id, t.corrects).into(),
                );
                amendments.push(Value::Object(o));
            }
            let m = t.amount.clone().unwrap_or_default();
            let mut o = Map::new();
            o.insert("id".into(), ts.id.clone().into());
            put(&mut o, "date", datetime(&t.date));
            if let Some(v) = value(&m.value, &m.currency) {
                o.insert("value".into(), v);
            }
            o.insert("payer".into(), self.org(&t.provider_id));
            o.insert("payee".into(), self.org(&t.receiver_id));
            payments.push(Value::Object(o));
        }
        (payments, update)
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
