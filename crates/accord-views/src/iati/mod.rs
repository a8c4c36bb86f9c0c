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
//!
//! This file loads the plan's statements once (`Export`) and writes the document; `activity.rs` writes one
//! party's activity, `transactions.rs` its transactions, `sectors.rs` its sectors and countries,
//! `results.rs` its results, `xml.rs` holds the writer.
mod activity;
mod results;
mod sectors;
mod transactions;
mod xml;

pub use xml::xml_chars;

use std::collections::{BTreeMap, BTreeSet};

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use rust_decimal::Decimal;

use super::{Correction, Source};
use crate::{Error, Result};
use accord_domain::book::{self, Subject};
use accord_domain::statement as ds;
use accord_domain::Governance;
use xml::{comment_text, Xml};

/// The language of every narrative the export writes (`iati-activity/@xml:lang`): its own sentences are
/// English; names and texts the parties signed are carried as written.
const LANG: &str = "en";

fn sum(it: impl IntoIterator<Item = Decimal>) -> Decimal {
    it.into_iter().fold(Decimal::ZERO, |a, x| a.checked_add(x).unwrap_or(a))
}

/// The plan's statements the export reads, loaded once from the snapshot its report was computed from, and
/// the reporting organisation every activity names.
struct Export<'a> {
    rep: &'a super::Report,
    plan_id: &'a str,
    plan: ds::PlanCreated,
    gov: Governance,
    pledges: Vec<(Subject, ds::PledgeAnnounced)>,
    commitments: Vec<(Subject, ds::CommitmentSigned)>,
    finance_of: BTreeMap<String, String>,
    transactions: Vec<(Subject, ds::TransactionRecorded)>,
    reversals: BTreeMap<&'a str, &'a Correction>,
    conditions: Vec<(Subject, ds::ConditionDefined)>,
    reports: Vec<(Subject, ds::ProgressReported)>,
    period_of: BTreeMap<String, ds::Period>,
    goals: BTreeMap<String, ds::GoalDefined>,
    indicators: Vec<(Subject, ds::IndicatorDefined)>,
    reporter: String,
    reporter_name: String,
    reporter_type: String,
    /// `generated-datetime` and every activity's `last-updated-datetime`.
    generated: String,
}

impl<'a> Export<'a> {
    fn load(r: &dyn Source, rep: &'a super::Report, generated_at: &str) -> Result<Self> {
        let plan_id = rep.plan.plan_id.as_str();
        let plan_s = r
            .subject(book::PLAN, plan_id)?
            .ok_or_else(|| Error::not_found("plan_id", format!("no plan {plan_id:?}")))?;
        let plan: ds::PlanCreated = plan_s.parsed()?;
        let gov = r.governance()?;
        let stamp = if generated_at.is_empty() { "1970-01-01".to_string() } else { generated_at.to_string() };

        let pledges: Vec<(Subject, ds::PledgeAnnounced)> = super::standing(r, book::PLEDGE, plan_id)?;
        let commitments: Vec<(Subject, ds::CommitmentSigned)> = super::standing(r, book::COMMITMENT, plan_id)?;
        let finance_of: BTreeMap<String, String> =
            commitments.iter().map(|(s, c)| (s.id.clone(), c.finance_type.clone().unwrap_or_default())).collect();
        let transactions: Vec<(Subject, ds::TransactionRecorded)> = super::typed(r, book::TRANSACTION, plan_id)?;
        let reversals: BTreeMap<&str, &Correction> = rep
            .amendments
            .iter()
            .filter(|a| a.kind == book::TRANSACTION.as_str())
            .filter_map(|a| a.corrections.iter().find(|c| c.action == "reversed").map(|c| (a.id.as_str(), c)))
            .collect();
        let conditions: Vec<(Subject, ds::ConditionDefined)> = super::standing(r, book::CONDITION, plan_id)?;
        let reports: Vec<(Subject, ds::ProgressReported)> = super::typed(r, book::REPORT, plan_id)?;
        let period_of: BTreeMap<String, ds::Period> = reports.iter().map(|(s, p)| (s.id.clone(), p.period)).collect();
        let goals: BTreeMap<String, ds::GoalDefined> =
            super::typed(r, book::GOAL, plan_id)?.into_iter().map(|(s, g)| (s.id, g)).collect();
        let indicators: Vec<(Subject, ds::IndicatorDefined)> = super::typed(r, book::INDICATOR, plan_id)?;

        // One file, one reporting organisation (IATI's publishing rule): the plan's secretariat reports every
        // activity as a secondary reporter, on the parties' behalf, from their signed statements.
        let reporter = super::publisher(plan.signatories.iter().map(|s| s.party_id.as_str()), &gov, "IATI")?;
        let reporter_p = gov.parties.get(&reporter);
        let reporter_name = reporter_p.map(|p| p.name.clone()).unwrap_or_else(|| reporter.clone());
        let reporter_type =
            reporter_p.map(|p| p.organisation_type.clone()).filter(|t| !t.is_empty()).unwrap_or_else(|| "10".into());
        let generated = format!("{stamp}T00:00:00Z");
        Ok(Export {
            rep,
            plan_id,
            plan,
            gov,
            pledges,
            commitments,
            finance_of,
            transactions,
            reversals,
            conditions,
            reports,
            period_of,
            goals,
            indicators,
            reporter,
            reporter_name,
            reporter_type,
            generated,
        })
    }

    /// A party's IATI organisation type, when it gave one.
    fn org_type_of(&self, id: &str) -> Option<String> {
        self.gov.parties.get(id).map(|p| p.organisation_type.clone()).filter(|t| !t.is_empty())
    }

    /// A party's name, or its id when it is not admitted.
    fn name_of(&self, id: &str) -> String {
        self.gov.parties.get(id).map(|p| p.name.clone()).unwrap_or_else(|| id.to_string())
    }
}

/// The plan as an IATI 2.03 `iati-activities` document. `rep` is the plan's report computed from the same
/// snapshot: indicator values as it uses them (verified where attested) and the correction log (reversal
/// dates and rationales). `generated_at` is a date (YYYY-MM-DD) used for `generated-datetime` and
/// `last-updated-datetime`, so the output is a function of the ledger alone.
pub fn iati_activities(r: &dyn Source, rep: &super::Report, generated_at: &str) -> Result<String> {
    let e = Export::load(r, rep, generated_at)?;
    let parties: BTreeSet<String> = e.pledges.iter().map(|(_, p)| p.pledger_id.to_string()).collect();
    let mut x = Xml::new(Writer::new_with_indent(Vec::new(), b' ', 1));
    x.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    x.event(Event::Comment(BytesText::from_escaped(format!(
        " Accord export of plan {} at tree size {} (root {}); the signed ledger is the source of truth. ",
        comment_text(e.plan_id),
        rep.read_at.tree_size,
        comment_text(&rep.read_at.root_hash)
    ))));
    x.start("iati-activities", &[("version", "2.03"), ("generated-datetime", &e.generated)]);
    for party in &parties {
        activity::activity(&mut x, &e, party);
    }
    x.end("iati-activities");
    x.finish()
}
