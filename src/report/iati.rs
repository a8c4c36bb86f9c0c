//! IATI 2.03 activity XML export of a plan (DOMAIN.md §6), a view of the ledger at one checkpoint.
//!
//! Mapping (docs/EXPORTS.md): one `iati-activity` per party that pledged to the plan, all reported by the
//! plan's secretariat as a secondary reporter (one reporting organisation per file), identified
//! `{secretariat}-{plan}-{party}`. Its pledges are transaction type 12 (outgoing pledge; a partner's own
//! resources are pledged to its own activity, so also 12), its commitments type 2, disbursements type 3,
//! reimbursements 7, incoming funds 1, and co-financing realised from its progress reports type 4
//! (expenditure) under the partner's own activity. Conditions the party set are `conditions/condition` with
//! @type 1 policy, 2 performance, 3 fiduciary; a co-financing rule has no IATI type and is exported as type 3
//! with a narrative stating the rule, under each co-financing party's activity. Every `value` carries
//! `@currency` and `@value-date`. Element order follows the 2.03 schema's sequences.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::Source;
use crate::domain::book::{self, Subject};
use crate::error::{Error, Result};
use crate::pb;

/// XML text and attribute escaping.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => o.push(c),
        }
    }
    o
}

fn narrative(out: &mut String, indent: &str, text: &str) {
    let _ = writeln!(out, "{indent}<narrative>{}</narrative>", esc(text));
}

struct Tx {
    ref_: String,
    code: u32,
    date: String,
    money: pb::Money,
    description: String,
    provider: String,
    receiver: String,
    finance_type: String,
}

fn transaction(out: &mut String, t: &Tx) {
    let _ = writeln!(out, "  <transaction ref=\"{}\">", esc(&t.ref_));
    let _ = writeln!(out, "   <transaction-type code=\"{}\"/>", t.code);
    let _ = writeln!(out, "   <transaction-date iso-date=\"{}\"/>", esc(&t.date));
    let _ = writeln!(
        out,
        "   <value currency=\"{}\" value-date=\"{}\">{}</value>",
        esc(&t.money.currency),
        esc(&t.money.value_date),
        esc(&t.money.value)
    );
    if !t.description.is_empty() {
        out.push_str("   <description>\n");
        narrative(out, "    ", &t.description);
        out.push_str("   </description>\n");
    }
    if !t.provider.is_empty() {
        let _ = writeln!(out, "   <provider-org ref=\"{}\"/>", esc(&t.provider));
    }
    if !t.receiver.is_empty() {
        let _ = writeln!(out, "   <receiver-org ref=\"{}\"/>", esc(&t.receiver));
    }
    if !t.finance_type.is_empty() {
        let _ = writeln!(out, "   <finance-type code=\"{}\"/>", esc(&t.finance_type));
    }
    out.push_str("  </transaction>\n");
}

/// The plan as an IATI 2.03 `iati-activities` document. `generated_at` is a date (YYYY-MM-DD) used for
/// `generated-datetime` and `last-updated-datetime`, so the output is a function of the ledger alone.
pub fn iati_activities(r: &dyn Source, plan_id: &str, at: &pb::ReadAt, generated_at: &str) -> Result<String> {
    let plan_s =
        r.subject(book::PLAN, plan_id)?.ok_or_else(|| Error::not_found("plan_id", format!("no plan {plan_id:?}")))?;
    let plan: pb::PlanCreated = plan_s.decode()?;
    let gov = r.governance()?;
    let stamp = if generated_at.is_empty() { "1970-01-01".to_string() } else { generated_at.to_string() };
    let period = plan.period.clone().unwrap_or_default();

    let pledges: Vec<(Subject, pb::PledgeAnnounced)> = r
        .scan(book::PLEDGE, plan_id)?
        .into_iter()
        .filter(|s| !s.tally.withdrawn)
        .map(|s| s.decode().map(|p| (s, p)))
        .collect::<Result<_>>()?;
    let commitments: Vec<(Subject, pb::CommitmentSigned)> = r
        .scan(book::COMMITMENT, plan_id)?
        .into_iter()
        .filter(|s| !s.tally.withdrawn)
        .map(|s| s.decode().map(|c| (s, c)))
        .collect::<Result<_>>()?;
    let finance_of: BTreeMap<String, String> =
        commitments.iter().map(|(s, c)| (s.id.clone(), c.finance_type.clone())).collect();
    let transactions: Vec<(Subject, pb::TransactionRecorded)> = r
        .scan(book::TRANSACTION, plan_id)?
        .into_iter()
        .filter(|s| !s.tally.reversed)
        .map(|s| s.decode().map(|t| (s, t)))
        .collect::<Result<_>>()?;
    let conditions: Vec<(Subject, pb::ConditionDefined)> = r
        .scan(book::CONDITION, plan_id)?
        .into_iter()
        .filter(|s| !s.tally.withdrawn)
        .map(|s| s.decode().map(|c| (s, c)))
        .collect::<Result<_>>()?;
    let reports: Vec<(Subject, pb::ProgressReported)> =
        r.scan(book::REPORT, plan_id)?.into_iter().map(|s| s.decode().map(|p| (s, p))).collect::<Result<_>>()?;

    let parties: BTreeSet<String> = pledges.iter().map(|(_, p)| p.pledger_id.clone()).collect();
    // One file, one reporting organisation (IATI's publishing rule): the plan's secretariat reports every
    // activity as a secondary reporter, on the parties' behalf, from their signed statements.
    let reporter = plan
        .signatories
        .iter()
        .map(|s| s.party_id.clone())
        .chain(gov.parties.values().map(|p| p.party_id.clone()))
        .find(|id| gov.parties.get(id).is_some_and(|p| p.roles.iter().any(|r| r == "secretariat")))
        .ok_or_else(|| {
            Error::precondition("plan_id", "the IATI export needs a party with the secretariat role to report it")
        })?;
    let reporter_p = gov.parties.get(&reporter);
    let reporter_name = reporter_p.map(|p| p.name.clone()).unwrap_or_else(|| reporter.clone());
    let reporter_type =
        reporter_p.map(|p| p.organisation_type.clone()).filter(|t| !t.is_empty()).unwrap_or_else(|| "10".into());
    let mut out = String::new();
    let _ = writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(
        out,
        "<!-- Accord export of plan {} at tree size {} (root {}); the signed ledger is the source of truth. -->",
        esc(plan_id),
        at.tree_size,
        hex::encode(&at.root_hash)
    );
    let _ = writeln!(out, "<iati-activities version=\"2.03\" generated-datetime=\"{}T00:00:00Z\">", esc(&stamp));
    for party in &parties {
        let p = gov.parties.get(party);
        let name = p.map(|p| p.name.clone()).unwrap_or_else(|| party.clone());
        let org_type = p.map(|p| p.organisation_type.clone()).filter(|t| !t.is_empty()).unwrap_or_else(|| "10".into());
        let my_pledges: Vec<_> = pledges.iter().filter(|(_, p)| &p.pledger_id == party).collect();
        let my_commitments: Vec<_> = commitments.iter().filter(|(_, c)| &c.provider_id == party).collect();
        let recipients: BTreeSet<String> = my_commitments
            .iter()
            .map(|(_, c)| c.recipient_id.clone())
            .chain(my_pledges.iter().flat_map(|(_, p)| p.recipient_ids.clone()))
            .collect();
        let _ = writeln!(out, " <iati-activity last-updated-datetime=\"{}T00:00:00Z\" hierarchy=\"1\">", esc(&stamp));
        let _ = writeln!(
            out,
            "  <iati-identifier>{}-{}-{}</iati-identifier>",
            esc(&reporter),
            esc(&plan_id.replace('/', "-")),
            esc(&party.replace('/', "-"))
        );
        let _ = writeln!(
            out,
            "  <reporting-org ref=\"{}\" type=\"{}\" secondary-reporter=\"1\">",
            esc(&reporter),
            esc(&reporter_type)
        );
        narrative(&mut out, "   ", &reporter_name);
        out.push_str("  </reporting-org>\n  <title>\n");
        narrative(&mut out, "   ", &format!("{} — {}", plan.title, name));
        out.push_str("  </title>\n  <description type=\"1\">\n");
        narrative(
            &mut out,
            "   ",
            &format!(
                "{}'s contribution to plan {} ({}), exported from a signed, append-only Accord ledger.",
                name, plan.plan_id, plan.title
            ),
        );
        out.push_str("  </description>\n");
        let _ = writeln!(out, "  <participating-org ref=\"{}\" role=\"1\" type=\"{}\">", esc(party), esc(&org_type));
        narrative(&mut out, "   ", &name);
        out.push_str("  </participating-org>\n");
        for rcp in &recipients {
            let rname = gov.parties.get(rcp).map(|p| p.name.clone()).unwrap_or_else(|| rcp.clone());
            let _ = writeln!(out, "  <participating-org ref=\"{}\" role=\"4\">", esc(rcp));
            narrative(&mut out, "   ", &rname);
            out.push_str("  </participating-org>\n");
        }
        out.push_str("  <activity-status code=\"2\"/>\n");
        let _ = writeln!(out, "  <activity-date type=\"1\" iso-date=\"{}\"/>", esc(&period.start));
        let _ = writeln!(out, "  <activity-date type=\"3\" iso-date=\"{}\"/>", esc(&period.end));
        // Transactions: pledges (12), commitments (2), flows (1, 3, 4, 7), co-financing spend (4).
        for (s, p) in &my_pledges {
            let Some(m) = p.amount.clone() else { continue };
            let date = p
                .announced
                .as_ref()
                .map(|a| a.date.clone())
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| m.value_date.clone());
            transaction(
                &mut out,
                &Tx {
                    ref_: s.id.clone(),
                    code: 12,
                    date,
                    money: m,
                    description: format!("Pledge {} ({}, {})", s.id, p.pledge_kind, p.funding_source),
                    provider: party.clone(),
                    receiver: String::new(),
                    finance_type: p.finance_type.clone(),
                },
            );
        }
        for (s, c) in &my_commitments {
            transaction(
                &mut out,
                &Tx {
                    ref_: s.id.clone(),
                    code: 2,
                    date: c.signed_date.clone(),
                    money: c.amount.clone().unwrap_or_default(),
                    description: format!("Commitment {} to {}", s.id, c.recipient_id),
                    provider: c.provider_id.clone(),
                    receiver: c.recipient_id.clone(),
                    finance_type: c.finance_type.clone(),
                },
            );
        }
        for (s, t) in transactions.iter().filter(|(_, t)| {
            if t.transaction_type == 1 {
                &t.receiver_id == party
            } else {
                &t.provider_id == party
            }
        }) {
            transaction(
                &mut out,
                &Tx {
                    ref_: s.id.clone(),
                    code: t.transaction_type,
                    date: t.date.clone(),
                    money: t.amount.clone().unwrap_or_default(),
                    description: if t.tranche_id.is_empty() {
                        format!("{} against commitment {}", s.id, t.commitment_id)
                    } else {
                        format!("{} against commitment {}, tranche {}", s.id, t.commitment_id, t.tranche_id)
                    },
                    provider: t.provider_id.clone(),
                    receiver: t.receiver_id.clone(),
                    finance_type: finance_of.get(&t.commitment_id).cloned().unwrap_or_default(),
                },
            );
        }
        for (s, rep) in reports.iter().filter(|(s, _)| &s.party_id == party) {
            let Some(m) = rep.co_financing_realised.clone() else { continue };
            let end = rep.period.clone().unwrap_or_default().end;
            transaction(
                &mut out,
                &Tx {
                    ref_: format!("{}-co-financing", s.id),
                    code: 4,
                    date: end,
                    money: m,
                    description: format!("Co-financing from own resources reported in {}", s.id),
                    provider: party.clone(),
                    receiver: party.clone(),
                    finance_type: String::new(),
                },
            );
        }
        // Conditions the party set, and co-financing rules that apply to it.
        let mut conds = Vec::new();
        for (s, c) in &conditions {
            match c.condition_type.as_str() {
                "co_financing" => {
                    let Some(rule) = &c.co_financing else { continue };
                    if rule.party_ids.contains(party) {
                        conds.push((
                            3,
                            format!(
                                "{}: co-financing rule (no IATI condition type): own resources at least {} times the external flows of finance types {} received in each {}. {}",
                                s.id,
                                rule.ratio,
                                if rule.finance_types.is_empty() { "any".to_string() } else { rule.finance_types.join(", ") },
                                if rule.period.is_empty() { "year" } else { &rule.period },
                                c.text
                            ),
                        ));
                    }
                }
                kind if &c.party_id == party => {
                    let code = match kind {
                        "policy" => 1,
                        "performance" => 2,
                        _ => 3,
                    };
                    conds.push((code, format!("{}: {}", s.id, c.text)));
                }
                _ => {}
            }
        }
        let _ = writeln!(out, "  <conditions attached=\"{}\">", if conds.is_empty() { 0 } else { 1 });
        for (code, text) in conds {
            let _ = writeln!(out, "   <condition type=\"{code}\">");
            narrative(&mut out, "    ", &text);
            out.push_str("   </condition>\n");
        }
        out.push_str("  </conditions>\n </iati-activity>\n");
    }
    out.push_str("</iati-activities>\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(esc("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos;");
    }
}
