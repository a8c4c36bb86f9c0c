//! OCDS 1.1 release package of a plan (docs/EXPORTS.md), a view of the ledger at one checkpoint.
//!
//! One contracting process per plan: `ocid` = `ocds-{h}-{plan}`, where `{h}` is the first six hex digits of
//! SHA-256 of the ledger's origin (the first line of the signed checkpoint), so the prefix is stable for a
//! ledger and differs between ledgers. The release is the state at the checkpoint (`id` =
//! `{plan}-{tree size}`, `date` = the checkpoint's as-of date), tagged with the stages it carries.
//!
//! Every figure that the transparency report shows is taken from the report model ([`Report`]): the budget
//! (total external pledged P), each funder's pledged / committed / disbursed, the requirement, milestones,
//! tranche statuses and the corrections. The individual agreements and payments (one award and one contract
//! per commitment, one implementation transaction per disbursement) are listed from the same snapshot the
//! report was computed in, with the report's rule for what counts: withdrawn commitments and reversed
//! transactions are left out (an OCDS release is a snapshot; a correction is a later release without the
//! erroneous item, never a negative amount) and each reversal is named in the contract's `amendments`, with
//! the re-entry that corrects it (DOMAIN.md §7); the release is then also tagged `implementationUpdate`.
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

/// The plan as an OCDS 1.1 release package (pretty JSON, object keys sorted, one trailing newline).
pub fn release_package(r: &dyn Source, rep: &Report, at: &pb::ReadAt) -> Result<String> {
    let plan_id = rep.plan.plan_id.as_str();
    let plan_s =
        r.subject(book::PLAN, plan_id)?.ok_or_else(|| Error::not_found("plan_id", format!("no plan {plan_id:?}")))?;
    let plan: pb::PlanCreated = plan_s.decode()?;
    let gov = r.governance()?;
    let name_of = |id: &str| gov.parties.get(id).map(|p| p.name.clone()).unwrap_or_else(|| id.to_string());
    let org = |id: &str| json!({ "id": id, "name": name_of(id) });
    let secretariat = super::publisher(&plan, &gov, "OCDS")?;

    let pledges: Vec<(Subject, pb::PledgeAnnounced)> = super::standing(r, book::PLEDGE, plan_id)?;
    let commitments: Vec<(Subject, pb::CommitmentSigned)> = super::standing(r, book::COMMITMENT, plan_id)?;
    // Every transaction (reversed ones too: their reversal is named in the contract's amendments).
    let transactions: Vec<(Subject, pb::TransactionRecorded)> =
        r.scan(book::TRANSACTION, plan_id)?.into_iter().map(|s| s.decode().map(|t| (s, t))).collect::<Result<_>>()?;

    // Parties and their roles.
    let mut roles: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    roles.entry(secretariat.clone()).or_default().extend(["buyer", "procuringEntity"]);
    for (_, p) in &pledges {
        roles.entry(p.pledger_id.clone()).or_default().insert("funder");
    }
    for (_, c) in &commitments {
        roles.entry(c.provider_id.clone()).or_default().insert("funder");
        roles.entry(c.recipient_id.clone()).or_default().insert("supplier");
    }
    for (s, t) in &transactions {
        if s.tally.reversed || t.commitment_id.is_empty() || !matches!(t.transaction_type, 3 | 7) {
            continue;
        }
        roles.entry(t.provider_id.clone()).or_default().insert("payer");
        roles.entry(t.receiver_id.clone()).or_default().insert("payee");
    }
    let donors: BTreeMap<&str, &super::FlowRow> =
        rep.funding.by_donor.iter().map(|row| (row.key.as_str(), row)).collect();
    let parties: Vec<Value> = roles
        .iter()
        .map(|(id, rs)| {
            let mut o = Map::new();
            o.insert("id".into(), id.as_str().into());
            o.insert("name".into(), name_of(id).into());
            o.insert("roles".into(), rs.iter().copied().collect::<Vec<_>>().into());
            if let Some(country) = gov.parties.get(id).map(|p| p.country.clone()).filter(|c| !c.is_empty()) {
                o.insert("address".into(), json!({ "countryName": country }));
            }
            if let Some(row) = donors.get(id.as_str()) {
                // The report's figures for this funder, in the reporting currency.
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
        .collect();

    // Planning: the budget is total external pledged (P), as the report states it.
    let currency = rep.funding.currency.as_str();
    let mut budget = Map::new();
    budget.insert("id".into(), plan_id.into());
    let per_donor: Vec<String> =
        rep.funding.by_donor.iter().map(|row| format!("{} {} {}", row.name, row.pledged, row.currency)).collect();
    budget.insert(
        "description".into(),
        format!(
            "Total external pledged (P) to plan {plan_id} in {currency}, each pledge converted at its value date: {}",
            per_donor.join("; ")
        )
        .into(),
    );
    if let Some(v) = value(&rep.funding.total_external.pledged, currency) {
        budget.insert("amount".into(), v);
    }
    let milestones: Vec<Value> = rep
        .delivery
        .milestones
        .iter()
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
    put(&mut planning, "rationale", plan.description.as_str());
    planning.insert("budget".into(), Value::Object(budget));
    put(&mut planning, "milestones", milestones);

    // Tender: the plan as the coalition's call for funding; its value is the requirement R.
    let period = plan.period.clone().unwrap_or_default();
    let mut tender = Map::new();
    tender.insert("id".into(), plan_id.into());
    put(&mut tender, "title", plan.title.as_str());
    tender.insert("status".into(), "active".into());
    if let Some(v) = value(&rep.coverage.requirement, currency) {
        tender.insert("value".into(), v);
    }
    tender.insert("procuringEntity".into(), org(&secretariat));
    if !period.start.is_empty() && !period.end.is_empty() {
        tender.insert(
            "contractPeriod".into(),
            json!({ "startDate": datetime(&period.start), "endDate": datetime(&period.end) }),
        );
    }

    // Corrections from the report, by subject.
    let corrections: BTreeMap<(&str, &str), &super::AmendmentLog> =
        rep.amendments.iter().map(|a| ((a.kind.as_str(), a.id.as_str()), a)).collect();
    let tranches: BTreeMap<&str, Vec<&super::TrancheLine>> =
        rep.tranches.conditions.iter().flat_map(|c| c.tranches.iter()).fold(BTreeMap::new(), |mut m, t| {
            m.entry(t.commitment_id.as_str()).or_insert_with(Vec::new).push(t);
            m
        });

    // Awards and contracts: one each per signed commitment.
    let mut awards = Vec::new();
    let mut contracts = Vec::new();
    let (mut any_payment, mut any_update) = (false, false);
    for (s, c) in &commitments {
        let money = c.amount.clone().unwrap_or_default();
        let award_id = format!("{}-award", s.id);
        let title = format!("Commitment {} from {} to {}", s.id, name_of(&c.provider_id), name_of(&c.recipient_id));
        let mut a = Map::new();
        a.insert("id".into(), award_id.clone().into());
        a.insert("title".into(), title.clone().into());
        a.insert("status".into(), "active".into());
        put(&mut a, "date", datetime(&c.signed_date));
        if let Some(v) = value(&money.value, &money.currency) {
            a.insert("value".into(), v);
        }
        a.insert("suppliers".into(), json!([org(&c.recipient_id)]));
        awards.push(Value::Object(a));

        let mut k = Map::new();
        k.insert("id".into(), s.id.clone().into());
        k.insert("awardID".into(), award_id.into());
        k.insert("title".into(), title.into());
        if !c.finance_type.is_empty() {
            put(&mut k, "description", format!("Finance type {} (IATI FinanceType)", c.finance_type));
        }
        k.insert("status".into(), "active".into());
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
        let tranche_ms: Vec<Value> = tranches
            .get(s.id.as_str())
            .map(|ts| {
                ts.iter()
                    .map(|t| {
                        let mut o = Map::new();
                        o.insert("id".into(), t.tranche_id.clone().into());
                        o.insert(
                            "title".into(),
                            format!("Tranche {} ({} {})", t.tranche_id, t.value, t.currency).into(),
                        );
                        o.insert("type".into(), "financing".into());
                        put(
                            &mut o,
                            "description",
                            if t.outcome.is_empty() {
                                t.status.clone()
                            } else {
                                format!("{}: {}", t.status, t.outcome)
                            },
                        );
                        let status = milestone_status(&t.status);
                        if status == "met" {
                            put(&mut o, "dateMet", datetime(&t.date));
                        }
                        o.insert("status".into(), status.into());
                        Value::Object(o)
                    })
                    .collect()
            })
            .unwrap_or_default();
        put(&mut k, "milestones", tranche_ms);

        let mut payments = Vec::new();
        let mut amendments = Vec::new();
        if let Some(log) = corrections.get(&(book::COMMITMENT, s.id.as_str())) {
            for corr in &log.corrections {
                amendments.push(amendment(&format!("{}-{}", s.id, corr.index), corr, &format!("commitment {}", s.id)));
            }
        }
        for (ts, t) in
            transactions.iter().filter(|(_, t)| t.commitment_id == s.id && matches!(t.transaction_type, 3 | 7))
        {
            if ts.tally.reversed {
                any_update = true;
                // DOMAIN.md §7: a corrected re-entry names the transaction it replaces.
                let what = if ts.tally.corrected_by.is_empty() {
                    format!("transaction {}", ts.id)
                } else {
                    format!("transaction {} (corrected by {})", ts.id, ts.tally.corrected_by)
                };
                if let Some(log) = corrections.get(&(book::TRANSACTION, ts.id.as_str())) {
                    for corr in &log.corrections {
                        amendments.push(amendment(&format!("{}-{}", ts.id, corr.index), corr, &what));
                    }
                }
                continue;
            }
            let m = t.amount.clone().unwrap_or_default();
            let mut o = Map::new();
            o.insert("id".into(), ts.id.clone().into());
            put(&mut o, "date", datetime(&t.date));
            if let Some(v) = value(&m.value, &m.currency) {
                o.insert("value".into(), v);
            }
            o.insert("payer".into(), org(&t.provider_id));
            o.insert("payee".into(), org(&t.receiver_id));
            payments.push(Value::Object(o));
        }
        if !payments.is_empty() {
            any_payment = true;
            k.insert("implementation".into(), json!({ "transactions": payments }));
        }
        put(&mut k, "amendments", amendments);
        contracts.push(Value::Object(k));
    }

    let mut tag = vec!["planning", "tender"];
    if !awards.is_empty() {
        tag.extend(["award", "contract"]);
    }
    if any_payment {
        tag.push("implementation");
    }
    if any_update {
        tag.push("implementationUpdate");
    }
    let origin = at.checkpoint.lines().next().unwrap_or_default();
    let date = datetime(if rep.read_at.as_of_date.is_empty() { "1970-01-01" } else { &rep.read_at.as_of_date });
    let mut release = Map::new();
    release.insert("ocid".into(), format!("{}-{}", ocid_prefix(origin), plan_id).into());
    release.insert("id".into(), format!("{plan_id}-{}", at.tree_size).into());
    release.insert("date".into(), date.clone().into());
    release.insert("tag".into(), tag.into());
    release.insert("initiationType".into(), "tender".into());
    release.insert("parties".into(), parties.into());
    release.insert("buyer".into(), org(&secretariat));
    release.insert("planning".into(), Value::Object(planning));
    release.insert("tender".into(), Value::Object(tender));
    put(&mut release, "awards", awards);
    put(&mut release, "contracts", contracts);
    release.insert("language".into(), "en".into());

    let package = json!({
        "uri": format!("urn:x-accord:{}:{}:ocds:{}", pct(origin), pct(plan_id), at.tree_size),
        "version": "1.1",
        "publishedDate": date,
        "publisher": { "name": name_of(&secretariat), "uid": secretariat },
        "releases": [Value::Object(release)],
    });
    let mut out = serde_json::to_string_pretty(&package).map_err(|e| Error::internal(e.to_string()))?;
    out.push('\n');
    Ok(out)
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
