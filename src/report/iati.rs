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
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::Source;
use crate::domain::book::{self, Subject};
use crate::error::{Error, Result};
use crate::pb;

/// Whether XML 1.0 allows a character at all (the `Char` production): not the C0 controls other than tab,
/// newline and carriage return, nor U+FFFE / U+FFFF.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Text with every character that XML cannot carry dropped; escaping itself is quick-xml's (text and
/// attribute values both), so nothing a party writes can end an element, open one or break the document.
pub fn xml_chars(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_xml_char) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|c| is_xml_char(*c)).collect())
    }
}

/// Text for an XML comment, which has no escaping: only `A-Z a-z 0-9 . _ : / -` kept (anything else becomes
/// `_`) and never two `-` in a row, so the comment cannot end early.
fn comment_text(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '-') { c } else { '_' };
        if c == '-' && o.ends_with('-') {
            o.push('_');
        } else {
            o.push(c);
        }
    }
    o
}

fn tag<'a>(name: &'a str, attrs: &[(&str, &str)]) -> BytesStart<'a> {
    let mut t = BytesStart::new(name);
    for (k, v) in attrs {
        t.push_attribute((*k, xml_chars(v).as_ref()));
    }
    t
}

/// The document under construction: quick-xml's writer, indented one space per level. Writing to memory
/// cannot fail; should it, the first error is kept and the export fails with it at the end.
struct Xml {
    w: Writer<Vec<u8>>,
    err: Option<io::Error>,
}

impl Xml {
    fn event(&mut self, e: Event) {
        if self.err.is_none() {
            self.err = self.w.write_event(e).err();
        }
    }
    fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.event(Event::Start(tag(name, attrs)));
    }
    fn end(&mut self, name: &str) {
        self.event(Event::End(BytesEnd::new(name)));
    }
    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.event(Event::Empty(tag(name, attrs)));
    }
    fn text(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start(name, attrs);
        self.event(Event::Text(BytesText::new(&xml_chars(text))));
        self.end(name);
    }
    /// `<name attrs><narrative>text</narrative></name>`.
    fn narrated(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start(name, attrs);
        self.text("narrative", &[], text);
        self.end(name);
    }
    fn finish(self) -> Result<String> {
        if let Some(e) = self.err {
            return Err(Error::internal(format!("writing the IATI document: {e}")));
        }
        let mut out = String::from_utf8(self.w.into_inner()).map_err(|e| Error::internal(e.to_string()))?;
        out.push('\n');
        Ok(out)
    }
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

fn transaction(x: &mut Xml, t: &Tx) {
    x.start("transaction", &[("ref", &t.ref_)]);
    x.empty("transaction-type", &[("code", &t.code.to_string())]);
    x.empty("transaction-date", &[("iso-date", &t.date)]);
    x.text("value", &[("currency", &t.money.currency), ("value-date", &t.money.value_date)], &t.money.value);
    if !t.description.is_empty() {
        x.narrated("description", &[], &t.description);
    }
    if !t.provider.is_empty() {
        x.empty("provider-org", &[("ref", &t.provider)]);
    }
    if !t.receiver.is_empty() {
        x.empty("receiver-org", &[("ref", &t.receiver)]);
    }
    if !t.finance_type.is_empty() {
        x.empty("finance-type", &[("code", &t.finance_type)]);
    }
    x.end("transaction");
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

    let pledges: Vec<(Subject, pb::PledgeAnnounced)> = super::standing(r, book::PLEDGE, plan_id)?;
    let commitments: Vec<(Subject, pb::CommitmentSigned)> = super::standing(r, book::COMMITMENT, plan_id)?;
    let finance_of: BTreeMap<String, String> =
        commitments.iter().map(|(s, c)| (s.id.clone(), c.finance_type.clone())).collect();
    let transactions: Vec<(Subject, pb::TransactionRecorded)> = r
        .scan(book::TRANSACTION, plan_id)?
        .into_iter()
        .filter(|s| !s.tally.reversed)
        .map(|s| s.decode().map(|t| (s, t)))
        .collect::<Result<_>>()?;
    let conditions: Vec<(Subject, pb::ConditionDefined)> = super::standing(r, book::CONDITION, plan_id)?;
    let reports: Vec<(Subject, pb::ProgressReported)> =
        r.scan(book::REPORT, plan_id)?.into_iter().map(|s| s.decode().map(|p| (s, p))).collect::<Result<_>>()?;

    let parties: BTreeSet<String> = pledges.iter().map(|(_, p)| p.pledger_id.clone()).collect();
    // One file, one reporting organisation (IATI's publishing rule): the plan's secretariat reports every
    // activity as a secondary reporter, on the parties' behalf, from their signed statements.
    let reporter = super::publisher(&plan, &gov, "IATI")?;
    let reporter_p = gov.parties.get(&reporter);
    let reporter_name = reporter_p.map(|p| p.name.clone()).unwrap_or_else(|| reporter.clone());
    let reporter_type =
        reporter_p.map(|p| p.organisation_type.clone()).filter(|t| !t.is_empty()).unwrap_or_else(|| "10".into());
    let mut x = Xml { w: Writer::new_with_indent(Vec::new(), b' ', 1), err: None };
    x.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    x.event(Event::Comment(BytesText::from_escaped(format!(
        " Accord export of plan {} at tree size {} (root {}); the signed ledger is the source of truth. ",
        comment_text(plan_id),
        at.tree_size,
        hex::encode(&at.root_hash)
    ))));
    let generated = format!("{stamp}T00:00:00Z");
    x.start("iati-activities", &[("version", "2.03"), ("generated-datetime", &generated)]);
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
        x.start("iati-activity", &[("last-updated-datetime", &generated), ("hierarchy", "1")]);
        x.text(
            "iati-identifier",
            &[],
            &format!("{}-{}-{}", reporter, plan_id.replace('/', "-"), party.replace('/', "-")),
        );
        x.narrated(
            "reporting-org",
            &[("ref", &reporter), ("type", &reporter_type), ("secondary-reporter", "1")],
            &reporter_name,
        );
        x.narrated("title", &[], &format!("{} — {}", plan.title, name));
        x.narrated(
            "description",
            &[("type", "1")],
            &format!(
                "{}'s contribution to plan {} ({}), exported from a signed, append-only Accord ledger.",
                name, plan.plan_id, plan.title
            ),
        );
        x.narrated("participating-org", &[("ref", party), ("role", "1"), ("type", &org_type)], &name);
        for rcp in &recipients {
            let rname = gov.parties.get(rcp).map(|p| p.name.clone()).unwrap_or_else(|| rcp.clone());
            x.narrated("participating-org", &[("ref", rcp), ("role", "4")], &rname);
        }
        x.empty("activity-status", &[("code", "2")]);
        x.empty("activity-date", &[("type", "1"), ("iso-date", &period.start)]);
        x.empty("activity-date", &[("type", "3"), ("iso-date", &period.end)]);
        // Transactions: pledges (12), commitments (2), flows (1, 3, 4, 7), co-financing spend (4).
        for (s, p) in &my_pledges {
            let Some(mut m) = p.amount.clone() else { continue };
            // Net of what later pledges restate (DOMAIN.md §7), as total pledged counts it: the restated part
            // is exported once, under the restating pledge; a superseded pledge is not exported at all.
            if !s.tally.restated.is_zero() {
                let value = rust_decimal::Decimal::from_str_exact(&m.value).unwrap_or_default();
                let net = value.checked_sub(s.tally.restated).unwrap_or_default();
                if net <= rust_decimal::Decimal::ZERO {
                    continue;
                }
                m.value = net.normalize().to_string();
            }
            let mut description = format!("Pledge {} ({}, {})", s.id, p.pledge_kind, p.funding_source);
            if !s.tally.restated.is_zero() {
                description.push_str(&format!(
                    "; net of {} restated by {}",
                    s.tally.restated.normalize(),
                    s.tally.restated_by.join(", ")
                ));
            }
            for r in &p.restates {
                let a = r.amount.as_ref().map(|a| format!("{} {}", a.value, a.currency)).unwrap_or_default();
                description.push_str(&format!("; restates {a} of pledge {}", r.pledge_id));
            }
            let date = p
                .announced
                .as_ref()
                .map(|a| a.date.clone())
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| m.value_date.clone());
            transaction(
                &mut x,
                &Tx {
                    ref_: s.id.clone(),
                    code: 12,
                    date,
                    money: m,
                    description,
                    provider: party.clone(),
                    receiver: String::new(),
                    finance_type: p.finance_type.clone(),
                },
            );
        }
        for (s, c) in &my_commitments {
            transaction(
                &mut x,
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
                &mut x,
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
                &mut x,
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
        x.start("conditions", &[("attached", if conds.is_empty() { "0" } else { "1" })]);
        for (code, text) in conds {
            x.narrated("condition", &[("type", &code.to_string())], &text);
        }
        x.end("conditions");
        x.end("iati-activity");
    }
    x.end("iati-activities");
    x.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_xml_cannot_carry_are_dropped_and_comments_cannot_end_early() {
        assert_eq!(xml_chars("a<b>&\"c'\u{1}\u{b}\u{fffe}\u{ffff}\td\ne"), "a<b>&\"c'\td\ne");
        assert!(matches!(xml_chars("plain ✓"), Cow::Borrowed(_)));
        assert_eq!(comment_text("CA--2026 -->x"), "CA-_2026_-__x");
    }
}
