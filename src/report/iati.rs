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

use rust_decimal::{Decimal, RoundingStrategy};

use super::{Correction, IndicatorProgress, IndicatorValueView, Source};
use crate::domain::book::{self, Subject};
use crate::domain::Governance;
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

/// The language of every narrative the export writes (`iati-activity/@xml:lang`): its own sentences are
/// English; names and texts the parties signed are carried as written.
const LANG: &str = "en";

struct Tx {
    ref_: String,
    code: u32,
    date: String,
    money: pb::Money,
    description: String,
    provider: String,
    receiver: String,
    /// Named receivers when there is no single one to reference.
    receiver_names: String,
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
    } else if !t.receiver_names.is_empty() {
        x.narrated("receiver-org", &[], &t.receiver_names);
    }
    if !t.finance_type.is_empty() {
        x.empty("finance-type", &[("code", &t.finance_type)]);
    }
    x.end("transaction");
}

/// The IATI sector vocabulary of a goal classification's vocabulary: `dac5` → 1 (OECD DAC CRS purpose code),
/// `sdg_target` → 8 (SDG target), `plan` → 99 (reporting organisation: the plan's own codes). Classifications
/// under other vocabularies are not exported.
fn sector_vocabulary(v: &str) -> Option<&'static str> {
    match v {
        "dac5" => Some("1"),
        "sdg_target" => Some("8"),
        "plan" => Some("99"),
        _ => None,
    }
}

fn dec(s: &str) -> Option<Decimal> {
    Decimal::from_str_exact(s.trim()).ok()
}

fn sum(it: impl IntoIterator<Item = Decimal>) -> Decimal {
    it.into_iter().fold(Decimal::ZERO, |a, x| a.checked_add(x).unwrap_or(a))
}

/// Percentages of `weights` (each ≥ 0) to two decimals that sum to exactly 100, as the Standard Ruleset's
/// `sum` and `strict_sum` require: each share rounded down, the remainder added to the largest (the first of
/// equals). Empty when the weights sum to zero.
fn percentages(weights: &[Decimal]) -> Vec<Decimal> {
    let total = sum(weights.iter().copied());
    if total <= Decimal::ZERO {
        return Vec::new();
    }
    let mut out: Vec<Decimal> = weights
        .iter()
        .map(|w| {
            w.checked_mul(Decimal::ONE_HUNDRED)
                .and_then(|x| x.checked_div(total))
                .unwrap_or_default()
                .round_dp_with_strategy(2, RoundingStrategy::ToZero)
        })
        .collect();
    let rest = Decimal::ONE_HUNDRED.checked_sub(sum(out.iter().copied())).unwrap_or_default();
    let largest = weights.iter().enumerate().fold(None::<(usize, Decimal)>, |best, (i, w)| match best {
        Some((_, b)) if b >= *w => best,
        _ => Some((i, *w)),
    });
    if let Some(x) = largest.and_then(|(i, _)| out.get_mut(i)) {
        *x = x.checked_add(rest).unwrap_or(*x);
    }
    out
}

/// Activity-level sectors (vocabulary, code, percentage, narrative): the goal classifications of the
/// activity's pledges, each pledge weighted by its amount as exported (in its own currency when all the
/// party's pledges share one; otherwise, and when no pledge has an amount, each pledge equally), each goal by
/// the pledge's share in it, each code by its share in the goal (equal shares when the goal gives none); and
/// the goals themselves under vocabulary 98 (reporting organisation 2), so that every activity funding a goal
/// has a sector even when its goals carry no classification. Percentages are per vocabulary and sum to 100
/// in each.
fn sectors(
    pledges: &[(&pb::PledgeAnnounced, Option<pb::Money>)],
    goals: &BTreeMap<String, pb::GoalDefined>,
) -> Vec<(&'static str, String, Decimal, String)> {
    let currencies: BTreeSet<&str> =
        pledges.iter().filter_map(|(_, m)| m.as_ref()).map(|m| m.currency.as_str()).collect();
    let by_amount = currencies.len() == 1;
    let mut weights: Vec<Decimal> = pledges
        .iter()
        .map(|(_, m)| match m {
            Some(m) if by_amount => dec(&m.value).unwrap_or_default().max(Decimal::ZERO),
            _ if by_amount => Decimal::ZERO,
            _ => Decimal::ONE,
        })
        .collect();
    if sum(weights.iter().copied()).is_zero() {
        weights = vec![Decimal::ONE; pledges.len()];
    }
    // vocabulary → code → (weight, goal titles)
    let mut acc: BTreeMap<&'static str, BTreeMap<String, (Decimal, BTreeSet<String>)>> = BTreeMap::new();
    for ((p, _), w) in pledges.iter().zip(&weights) {
        for gs in &p.goals {
            let Some(goal) = goals.get(&gs.goal_id) else { continue };
            let wg = dec(&gs.share)
                .and_then(|s| w.checked_mul(s))
                .and_then(|x| x.checked_div(Decimal::ONE_HUNDRED))
                .unwrap_or_default();
            let title = if goal.title.is_empty() { goal.goal_id.clone() } else { goal.title.clone() };
            // The plan's goals themselves: vocabulary 98 (reporting organisation 2), code = goal id.
            let e = acc.entry("98").or_default().entry(goal.goal_id.clone()).or_default();
            e.0 = e.0.checked_add(wg).unwrap_or(e.0);
            e.1.insert(title.clone());
            let mut by_vocab: BTreeMap<&'static str, Vec<&pb::Classification>> = BTreeMap::new();
            for c in &goal.classifications {
                if let Some(v) = sector_vocabulary(&c.vocabulary) {
                    by_vocab.entry(v).or_default().push(c);
                }
            }
            for (v, cs) in by_vocab {
                let shares: Option<Vec<Decimal>> = cs.iter().map(|c| dec(&c.share)).collect();
                let n = Decimal::from(cs.len());
                for (i, c) in cs.iter().enumerate() {
                    let part = match &shares {
                        Some(sh) => sh
                            .get(i)
                            .and_then(|s| wg.checked_mul(*s))
                            .and_then(|x| x.checked_div(Decimal::ONE_HUNDRED))
                            .unwrap_or_default(),
                        None => wg.checked_div(n).unwrap_or_default(),
                    };
                    let e = acc.entry(v).or_default().entry(c.code.clone()).or_default();
                    e.0 = e.0.checked_add(part).unwrap_or(e.0);
                    e.1.insert(title.clone());
                }
            }
        }
    }
    let mut out = Vec::new();
    for (v, codes) in acc {
        let ws: Vec<Decimal> = codes.values().map(|(w, _)| *w).collect();
        for ((code, (_, titles)), pct) in codes.iter().zip(percentages(&ws)) {
            if !pct.is_zero() {
                out.push((v, code.clone(), pct, titles.iter().cloned().collect::<Vec<_>>().join("; ")));
            }
        }
    }
    out
}

/// Activity-level recipient countries with percentages, from the parties' ISO 3166 `country`: the
/// recipients of the activity's commitments split by committed amount (when they share one currency), else
/// the one country of its pledges' intended recipients (the party itself for its own resources). None when
/// that data is missing or cannot be split without inventing figures.
fn recipient_countries(
    party: &str,
    commitments: &[&(Subject, pb::CommitmentSigned)],
    pledges: &[(&pb::PledgeAnnounced, Option<pb::Money>)],
    gov: &Governance,
) -> Option<Vec<(String, Decimal)>> {
    let country = |id: &str| gov.parties.get(id).map(|p| p.country.clone()).filter(|c| !c.is_empty());
    if !commitments.is_empty() {
        let mut by: BTreeMap<String, Decimal> = BTreeMap::new();
        let mut currencies = BTreeSet::new();
        for (_, c) in commitments {
            let m = c.amount.clone().unwrap_or_default();
            currencies.insert(m.currency.clone());
            let e = by.entry(country(&c.recipient_id)?).or_default();
            *e = e.checked_add(dec(&m.value).unwrap_or_default()).unwrap_or(*e);
        }
        if by.len() > 1 && currencies.len() > 1 {
            return None;
        }
        let ws: Vec<Decimal> = by.values().copied().collect();
        return Some(by.keys().cloned().zip(percentages(&ws)).collect());
    }
    let mut recipients: BTreeSet<&str> =
        pledges.iter().flat_map(|(p, _)| p.recipient_ids.iter().map(String::as_str)).collect();
    if recipients.is_empty() && pledges.iter().any(|(p, _)| p.funding_source == "domestic_own_resources") {
        recipients.insert(party);
    }
    let countries: Option<BTreeSet<String>> = recipients.iter().map(|r| country(r)).collect();
    let countries = countries?;
    match countries.len() {
        1 => countries.into_iter().next().map(|c| vec![(c, Decimal::ONE_HUNDRED)]),
        _ => None,
    }
}

/// An indicator's periods, (start, end) → (targets, actual values).
type Periods<'a> = BTreeMap<(String, String), (Vec<String>, Vec<&'a IndicatorValueView>)>;

/// `<result>`s of one activity: one per goal the party's pledges allocate to that has indicators (IATI type
/// 2, outcome; `aggregation-status` 0 because a plan's goal is shown under every activity funding it). Each
/// indicator carries its measure, direction, baseline and, per period, its target (as the indicator defines
/// it) and the actual values reported for that period, each with the reporter as a `dimension` and, in a
/// comment, the value reported, the verified value and the auditor's opinion; the value given is the one the
/// report uses (the verified one when it exists).
fn results(
    x: &mut Xml,
    goal_ids: &BTreeSet<String>,
    goals: &BTreeMap<String, pb::GoalDefined>,
    indicators: &[(Subject, pb::IndicatorDefined)],
    progress: &[IndicatorProgress],
    period_of: &BTreeMap<String, pb::Period>,
    gov: &Governance,
) {
    for gid in goal_ids {
        let inds: Vec<&(Subject, pb::IndicatorDefined)> =
            indicators.iter().filter(|(_, i)| &i.goal_id == gid).collect();
        if inds.is_empty() {
            continue;
        }
        let title = goals.get(gid).map(|g| g.title.clone()).filter(|t| !t.is_empty()).unwrap_or_else(|| gid.clone());
        x.start("result", &[("type", "2"), ("aggregation-status", "0")]);
        x.narrated("title", &[], &title);
        x.narrated(
            "description",
            &[],
            &format!("Goal {gid} of the plan, with its indicators as the plan defines them."),
        );
        for (s, ind) in inds {
            let measure = if (1..=5).contains(&ind.measure) { ind.measure.to_string() } else { "1".to_string() };
            let qualitative = ind.measure == 5;
            x.start("indicator", &[("measure", &measure), ("ascending", if ind.ascending { "1" } else { "0" })]);
            let t = if ind.title.is_empty() { s.id.clone() } else { ind.title.clone() };
            x.narrated("title", &[], &if ind.unit.is_empty() { t } else { format!("{t} ({})", ind.unit) });
            if let Some(b) = ind.baseline.as_ref().filter(|b| b.year > 0) {
                let year = b.year.to_string();
                // A quantitative baseline without a value is left out (the ruleset asks for @value).
                if qualitative {
                    x.empty("baseline", &[("year", &year)]);
                } else if !b.value.is_empty() {
                    x.empty("baseline", &[("year", &year), ("value", &b.value)]);
                }
            }
            // (start, end) → (targets, actuals)
            let mut periods: Periods = BTreeMap::new();
            for t in &ind.targets {
                let Some(p) = t.period.as_ref().filter(|p| !p.start.is_empty() && !p.end.is_empty()) else { continue };
                periods.entry((p.start.clone(), p.end.clone())).or_default().0.push(t.value.clone());
            }
            for v in progress.iter().filter(|p| p.indicator_id == s.id).flat_map(|p| &p.values) {
                let Some(p) = period_of.get(&v.report_id).filter(|p| !p.start.is_empty() && !p.end.is_empty()) else {
                    continue;
                };
                periods.entry((p.start.clone(), p.end.clone())).or_default().1.push(v);
            }
            for ((start, end), (targets, actuals)) in &periods {
                x.start("period", &[]);
                x.empty("period-start", &[("iso-date", start)]);
                x.empty("period-end", &[("iso-date", end)]);
                for t in targets {
                    if qualitative {
                        x.empty("target", &[]);
                    } else if !t.is_empty() {
                        x.empty("target", &[("value", t)]);
                    }
                }
                for v in actuals {
                    if qualitative {
                        x.start("actual", &[]);
                    } else if v.used.is_empty() {
                        continue;
                    } else {
                        x.start("actual", &[("value", &v.used)]);
                    }
                    x.empty("dimension", &[("name", "reporter"), ("value", &v.reporter)]);
                    let who =
                        gov.parties.get(&v.reporter).map(|p| p.name.clone()).unwrap_or_else(|| v.reporter.clone());
                    let check = if v.opinion.is_empty() {
                        "not attested".to_string()
                    } else {
                        format!("verified value {} (auditor's opinion: {})", v.verified, v.opinion)
                    };
                    x.start("comment", &[]);
                    x.text(
                        "narrative",
                        &[],
                        &format!("Reported by {who} in {}: {}; {check}.", v.report_id, v.reported),
                    );
                    x.end("comment");
                    x.end("actual");
                }
                x.end("period");
            }
            x.end("indicator");
        }
        x.end("result");
    }
}

/// The plan as an IATI 2.03 `iati-activities` document. `rep` is the plan's report computed from the same
/// snapshot: indicator values as it uses them (verified where attested) and the correction log (reversal
/// dates and rationales). `generated_at` is a date (YYYY-MM-DD) used for `generated-datetime` and
/// `last-updated-datetime`, so the output is a function of the ledger alone.
pub fn iati_activities(r: &dyn Source, rep: &super::Report, generated_at: &str) -> Result<String> {
    let plan_id = rep.plan.plan_id.as_str();
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
    let transactions: Vec<(Subject, pb::TransactionRecorded)> =
        r.scan(book::TRANSACTION, plan_id)?.into_iter().map(|s| s.decode().map(|t| (s, t))).collect::<Result<_>>()?;
    let reversals: BTreeMap<&str, &Correction> = rep
        .amendments
        .iter()
        .filter(|a| a.kind == book::TRANSACTION)
        .filter_map(|a| a.corrections.iter().find(|c| c.action == "reversed").map(|c| (a.id.as_str(), c)))
        .collect();
    let conditions: Vec<(Subject, pb::ConditionDefined)> = super::standing(r, book::CONDITION, plan_id)?;
    let reports: Vec<(Subject, pb::ProgressReported)> =
        r.scan(book::REPORT, plan_id)?.into_iter().map(|s| s.decode().map(|p| (s, p))).collect::<Result<_>>()?;
    let period_of: BTreeMap<String, pb::Period> =
        reports.iter().map(|(s, p)| (s.id.clone(), p.period.clone().unwrap_or_default())).collect();
    let goals: BTreeMap<String, pb::GoalDefined> = r
        .scan(book::GOAL, plan_id)?
        .into_iter()
        .map(|s| s.decode::<pb::GoalDefined>().map(|g| (s.id.clone(), g)))
        .collect::<Result<_>>()?;
    let indicators: Vec<(Subject, pb::IndicatorDefined)> =
        r.scan(book::INDICATOR, plan_id)?.into_iter().map(|s| s.decode().map(|i| (s, i))).collect::<Result<_>>()?;

    let parties: BTreeSet<String> = pledges.iter().map(|(_, p)| p.pledger_id.clone()).collect();
    // One file, one reporting organisation (IATI's publishing rule): the plan's secretariat reports every
    // activity as a secondary reporter, on the parties' behalf, from their signed statements.
    let reporter = super::publisher(&plan, &gov, "IATI")?;
    let reporter_p = gov.parties.get(&reporter);
    let reporter_name = reporter_p.map(|p| p.name.clone()).unwrap_or_else(|| reporter.clone());
    let reporter_type =
        reporter_p.map(|p| p.organisation_type.clone()).filter(|t| !t.is_empty()).unwrap_or_else(|| "10".into());
    let org_type_of = |id: &str| gov.parties.get(id).map(|p| p.organisation_type.clone()).filter(|t| !t.is_empty());
    let name_of = |id: &str| gov.parties.get(id).map(|p| p.name.clone()).unwrap_or_else(|| id.to_string());
    let mut x = Xml { w: Writer::new_with_indent(Vec::new(), b' ', 1), err: None };
    x.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    x.event(Event::Comment(BytesText::from_escaped(format!(
        " Accord export of plan {} at tree size {} (root {}); the signed ledger is the source of truth. ",
        comment_text(plan_id),
        rep.read_at.tree_size,
        comment_text(&rep.read_at.root_hash)
    ))));
    let generated = format!("{stamp}T00:00:00Z");
    x.start("iati-activities", &[("version", "2.03"), ("generated-datetime", &generated)]);
    for party in &parties {
        let name = name_of(party);
        let org_type = org_type_of(party).unwrap_or_else(|| "10".into());
        // The party's pledges as exported: net of what later pledges restate (DOMAIN.md §7), as total
        // pledged counts them; a fully superseded pledge is not exported at all.
        let mut my_pledges: Vec<(&Subject, &pb::PledgeAnnounced, Option<pb::Money>)> = Vec::new();
        for (s, p) in pledges.iter().filter(|(_, p)| &p.pledger_id == party) {
            let mut m = p.amount.clone();
            if let Some(m) = m.as_mut().filter(|_| !s.tally.restated.is_zero()) {
                let net = dec(&m.value).unwrap_or_default().checked_sub(s.tally.restated).unwrap_or_default();
                if net <= Decimal::ZERO {
                    continue;
                }
                m.value = net.normalize().to_string();
            }
            my_pledges.push((s, p, m));
        }
        let weighted: Vec<(&pb::PledgeAnnounced, Option<pb::Money>)> =
            my_pledges.iter().map(|(_, p, m)| (*p, m.clone())).collect();
        let my_commitments: Vec<&(Subject, pb::CommitmentSigned)> =
            commitments.iter().filter(|(_, c)| &c.provider_id == party).collect();
        let recipients: BTreeSet<String> = my_commitments
            .iter()
            .map(|(_, c)| c.recipient_id.clone())
            .chain(my_pledges.iter().flat_map(|(_, p, _)| p.recipient_ids.clone()))
            .filter(|r| r != party)
            .collect();
        let default_currency = my_pledges
            .iter()
            .filter_map(|(_, _, m)| m.as_ref())
            .map(|m| m.currency.clone())
            .chain(my_commitments.iter().filter_map(|(_, c)| c.amount.as_ref()).map(|m| m.currency.clone()))
            .chain(std::iter::once(plan.reporting_currency.clone()))
            .find(|c| !c.is_empty());
        let mut attrs = vec![("last-updated-datetime", generated.as_str()), ("xml:lang", LANG)];
        if let Some(c) = &default_currency {
            attrs.push(("default-currency", c.as_str()));
        }
        attrs.push(("hierarchy", "1"));
        x.start("iati-activity", &attrs);
        x.text("iati-identifier", &[], &format!("{}-{}-{}", reporter, plan_id, party));
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
            match org_type_of(rcp) {
                Some(t) => x.narrated("participating-org", &[("ref", rcp), ("role", "4"), ("type", &t)], &name_of(rcp)),
                None => x.narrated("participating-org", &[("ref", rcp), ("role", "4")], &name_of(rcp)),
            }
        }
        // The ledger's own key for the activity (type A1, the reporting organisation's internal identifier).
        x.start("other-identifier", &[("ref", &format!("{plan_id}:{party}")), ("type", "A1")]);
        x.narrated("owner-org", &[("ref", &reporter)], &reporter_name);
        x.end("other-identifier");
        x.empty("activity-status", &[("code", "2")]);
        x.empty("activity-date", &[("type", "1"), ("iso-date", &period.start)]);
        x.empty("activity-date", &[("type", "3"), ("iso-date", &period.end)]);
        if let Some(countries) = recipient_countries(party, &my_commitments, &weighted, &gov) {
            for (code, pct) in countries {
                x.empty("recipient-country", &[("code", &code), ("percentage", &pct.normalize().to_string())]);
            }
        }
        for (vocabulary, code, pct, titles) in sectors(&weighted, &goals) {
            let attrs = [("vocabulary", vocabulary), ("code", code.as_str())];
            let pct = pct.normalize().to_string();
            let attrs = [attrs[0], attrs[1], ("percentage", pct.as_str())];
            if matches!(vocabulary, "98" | "99") {
                x.narrated("sector", &attrs, &titles);
            } else {
                x.empty("sector", &attrs);
            }
        }
        // Budgets: per usage year (and currency) of the party's commitments, committed (status 2), each
        // period one calendar year; planned disbursements: per commitment and usage year, provider to
        // recipient.
        let mut budgets: BTreeMap<(u32, String), Decimal> = BTreeMap::new();
        for (_, c) in &my_commitments {
            let currency = c.amount.as_ref().map(|m| m.currency.clone()).unwrap_or_default();
            for u in c.usage_years.iter().filter(|u| u.year > 0) {
                let e = budgets.entry((u.year, currency.clone())).or_default();
                *e = e.checked_add(dec(&u.value).unwrap_or_default()).unwrap_or(*e);
            }
        }
        for ((year, currency), v) in &budgets {
            x.start("budget", &[("type", "1"), ("status", "2")]);
            let (start, end) = (format!("{year:04}-01-01"), format!("{year:04}-12-31"));
            x.empty("period-start", &[("iso-date", &start)]);
            x.empty("period-end", &[("iso-date", &end)]);
            x.text("value", &[("currency", currency), ("value-date", &start)], &v.normalize().to_string());
            x.end("budget");
        }
        for (_, c) in &my_commitments {
            let currency = c.amount.as_ref().map(|m| m.currency.clone()).unwrap_or_default();
            for u in c.usage_years.iter().filter(|u| u.year > 0) {
                let (start, end) = (format!("{:04}-01-01", u.year), format!("{:04}-12-31", u.year));
                x.start("planned-disbursement", &[("type", "1")]);
                x.empty("period-start", &[("iso-date", &start)]);
                x.empty("period-end", &[("iso-date", &end)]);
                x.text("value", &[("currency", &currency), ("value-date", &start)], &u.value);
                x.empty("provider-org", &[("ref", &c.provider_id)]);
                x.empty("receiver-org", &[("ref", &c.recipient_id)]);
                x.end("planned-disbursement");
            }
        }
        // Transactions: pledges (12), commitments (2), flows (1, 3, 4, 7) each followed by its reversal if
        // reversed, co-financing spend (4).
        for (s, p, m) in &my_pledges {
            let mut description = format!("Pledge {} ({}, {})", s.id, p.pledge_kind, p.funding_source);
            // A pledge without a money value (a policy action) is still a pledge: value 0 in the activity's
            // default currency, at its announcement date, its milestones in the description.
            let m = match (m.clone(), &default_currency) {
                (Some(m), _) => m,
                (None, Some(currency)) => {
                    let Some(day) = p.announced.as_ref().map(|a| a.date.clone()).filter(|d| !d.is_empty()) else {
                        continue;
                    };
                    let milestones: Vec<String> = p
                        .milestones
                        .iter()
                        .map(|m| format!("{} {} (due {})", m.milestone_id, m.title, m.due_date))
                        .collect();
                    description.push_str(&format!("; no money value; milestones: {}", milestones.join("; ")));
                    pb::Money { value: "0".into(), currency: currency.clone(), value_date: day }
                }
                (None, None) => continue,
            };
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
            // The intended recipient: one party by reference, several named, or the party itself for its own
            // resources.
            let (receiver, receiver_names) = match p.recipient_ids.as_slice() {
                [one] => (one.clone(), String::new()),
                [] if p.funding_source == "domestic_own_resources" => (party.clone(), String::new()),
                [] => (String::new(), String::new()),
                many => (
                    String::new(),
                    format!("Intended recipients: {}", many.iter().map(|r| name_of(r)).collect::<Vec<_>>().join(", ")),
                ),
            };
            transaction(
                &mut x,
                &Tx {
                    ref_: s.id.clone(),
                    code: 12,
                    date,
                    money: m,
                    description,
                    provider: party.clone(),
                    receiver,
                    receiver_names,
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
                    receiver_names: String::new(),
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
            let mut description = if t.tranche_id.is_empty() {
                format!("{} against commitment {}", s.id, t.commitment_id)
            } else {
                format!("{} against commitment {}, tranche {}", s.id, t.commitment_id, t.tranche_id)
            };
            if !t.description.is_empty() {
                description.push_str(&format!(": {}", t.description));
            }
            // DOMAIN.md §7: a corrected re-entry names the reversed transaction it replaces.
            if !t.corrects.is_empty() {
                description.push_str(&format!("; corrects {} (reversed)", t.corrects));
            }
            let reversal = reversals.get(s.id.as_str()).filter(|_| s.tally.reversed);
            if let Some(rev) = reversal {
                description.push_str(&format!("; reversed on {} by {}-reversal", rev.date, s.id));
            }
            let money = t.amount.clone().unwrap_or_default();
            let mut tx = Tx {
                ref_: s.id.clone(),
                code: t.transaction_type,
                date: t.date.clone(),
                money: money.clone(),
                description,
                provider: t.provider_id.clone(),
                receiver: t.receiver_id.clone(),
                receiver_names: String::new(),
                finance_type: finance_of.get(&t.commitment_id).cloned().unwrap_or_default(),
            };
            transaction(&mut x, &tx);
            // A reversal: the same transaction type with the negated amount at the original value date (so
            // any conversion nets to zero), dated when it was reversed, its ref and description naming the
            // original.
            if let Some(rev) = reversal {
                let Some(neg) = dec(&money.value).and_then(|v| Decimal::ZERO.checked_sub(v)) else { continue };
                tx.ref_ = format!("{}-reversal", s.id);
                tx.date = if rev.date.is_empty() { t.date.clone() } else { rev.date.clone() };
                tx.money = pb::Money { value: neg.normalize().to_string(), ..money };
                tx.description = format!("Reversal of {} (original transaction ref {}): {}", s.id, s.id, rev.rationale);
                transaction(&mut x, &tx);
            }
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
                    receiver_names: String::new(),
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
        let goal_ids: BTreeSet<String> =
            my_pledges.iter().flat_map(|(_, p, _)| p.goals.iter().map(|g| g.goal_id.clone())).collect();
        results(&mut x, &goal_ids, &goals, &indicators, &rep.indicators, &period_of, &gov);
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

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    #[test]
    fn percentages_sum_to_exactly_100() {
        assert_eq!(percentages(&[d("1"), d("1"), d("1")]), [d("33.34"), d("33.33"), d("33.33")]);
        assert_eq!(percentages(&[d("2"), d("1")]), [d("66.67"), d("33.33")]);
        assert_eq!(percentages(&[d("0"), d("5")]), [d("0"), d("100")]);
        assert!(percentages(&[d("0")]).is_empty());
    }

    fn goal(id: &str, classes: &[(&str, &str, &str)]) -> (String, pb::GoalDefined) {
        let classifications = classes
            .iter()
            .map(|(v, c, s)| pb::Classification {
                vocabulary: v.to_string(),
                code: c.to_string(),
                share: s.to_string(),
            })
            .collect();
        (
            id.into(),
            pb::GoalDefined { goal_id: id.into(), title: format!("Goal {id}"), classifications, ..Default::default() },
        )
    }

    fn pledge(goals: &[(&str, &str)], money: Option<(&str, &str)>) -> (pb::PledgeAnnounced, Option<pb::Money>) {
        let goals = goals.iter().map(|(g, s)| pb::GoalShare { goal_id: g.to_string(), share: s.to_string() }).collect();
        let money =
            money.map(|(v, c)| pb::Money { value: v.into(), currency: c.into(), value_date: "2026-01-20".into() });
        (pb::PledgeAnnounced { goals, ..Default::default() }, money)
    }

    /// Sectors per vocabulary: DAC codes (1) weighted by amount and goal share, given code shares used, SDG
    /// targets (8) over the goals that have one, the plan's own codes (99) with a narrative.
    #[test]
    fn sectors_are_weighted_per_vocabulary_and_sum_to_100() {
        let goals: BTreeMap<String, pb::GoalDefined> = [
            goal(
                "G1",
                &[("dac5", "15113", "70"), ("dac5", "15130", "30"), ("sdg_target", "16.5", ""), ("plan", "RL", "")],
            ),
            goal("G2", &[("dac5", "15210", ""), ("other", "x", "")]),
        ]
        .into_iter()
        .collect();
        let p1 = pledge(&[("G1", "50"), ("G2", "50")], Some(("300", "USD")));
        let p2 = pledge(&[("G2", "100")], Some(("100", "USD")));
        let pledges = [(&p1.0, p1.1.clone()), (&p2.0, p2.1.clone())];
        let got: Vec<(&str, String, String, String)> =
            sectors(&pledges, &goals).into_iter().map(|(v, c, p, n)| (v, c, p.normalize().to_string(), n)).collect();
        // G1 weighs 150, G2 250 of the 400: 15113 = 150 × 0.7 = 105, 15130 = 45, 15210 = 250.
        assert_eq!(
            got,
            [
                ("1", "15113".into(), "26.25".into(), "Goal G1".into()),
                ("1", "15130".into(), "11.25".into(), "Goal G1".into()),
                ("1", "15210".into(), "62.5".into(), "Goal G2".into()),
                ("8", "16.5".into(), "100".into(), "Goal G1".into()),
                ("98", "G1".into(), "37.5".into(), "Goal G1".into()),
                ("98", "G2".into(), "62.5".into(), "Goal G2".into()),
                ("99", "RL".into(), "100".into(), "Goal G1".into()),
            ]
        );
        // Pledges in two currencies are weighted equally rather than summed across currencies.
        let p3 = pledge(&[("G2", "100")], Some(("100", "EUR")));
        let mixed = [(&p1.0, p1.1.clone()), (&p3.0, p3.1.clone())];
        let dac: Vec<String> = sectors(&mixed, &goals)
            .into_iter()
            .filter(|s| s.0 == "1")
            .map(|s| format!("{}={}", s.1, s.2.normalize()))
            .collect();
        assert_eq!(dac, ["15113=17.5", "15130=7.5", "15210=75"]);
    }

    fn gov(countries: &[(&str, &str)]) -> Governance {
        let mut g = Governance::default();
        for (id, c) in countries {
            g.parties.insert(
                id.to_string(),
                crate::domain::PartyRecord {
                    party_id: id.to_string(),
                    name: id.to_string(),
                    roles: vec![],
                    organisation_type: "10".into(),
                    country: c.to_string(),
                    admitted_at: 0,
                },
            );
        }
        g
    }

    fn commitment(to: &str, value: &str, currency: &str) -> (Subject, pb::CommitmentSigned) {
        let amount =
            Some(pb::Money { value: value.into(), currency: currency.into(), value_date: "2026-02-15".into() });
        (Subject::default(), pb::CommitmentSigned { recipient_id: to.into(), amount, ..Default::default() })
    }

    /// Recipient countries come from the parties' countries, split by committed amount; nothing is
    /// invented when a country is missing or amounts in several currencies would have to be added.
    #[test]
    fn recipient_countries_only_from_data_the_ledger_has() {
        let g = gov(&[("GT", "GT"), ("HN", "HN"), ("X", ""), ("DA", "DE")]);
        let (a, b) = (commitment("GT", "30", "EUR"), commitment("HN", "10", "EUR"));
        let got = recipient_countries("DA", &[&a, &b], &[], &g);
        assert_eq!(got, Some(vec![("GT".into(), d("75")), ("HN".into(), d("25"))]));
        let c = commitment("HN", "10", "USD");
        assert_eq!(recipient_countries("DA", &[&a, &c], &[], &g), None, "two currencies");
        let x = commitment("X", "10", "EUR");
        assert_eq!(recipient_countries("DA", &[&a, &x], &[], &g), None, "a recipient without a country");
        // No commitment: the one country of the pledges' recipients, or the party's own for own resources.
        let mut own = pledge(&[], Some(("5", "GTQ")));
        own.0.funding_source = "domestic_own_resources".into();
        assert_eq!(recipient_countries("GT", &[], &[(&own.0, own.1.clone())], &g), Some(vec![("GT".into(), d("100"))]));
        let mut two = pledge(&[], Some(("5", "EUR")));
        two.0.recipient_ids = vec!["GT".into(), "HN".into()];
        assert_eq!(recipient_countries("DA", &[], &[(&two.0, two.1.clone())], &g), None, "no amounts to split by");
    }

    fn results_xml(measure: u32, baseline: &str, target: &str, used: &str) -> String {
        let mut x = Xml { w: Writer::new(Vec::new()), err: None };
        let goals: BTreeMap<String, pb::GoalDefined> = [goal("G1", &[])].into_iter().collect();
        let ind = pb::IndicatorDefined {
            indicator_id: "I1".into(),
            goal_id: "G1".into(),
            title: "I".into(),
            measure,
            baseline: Some(pb::Baseline { value: baseline.into(), year: 2025 }),
            targets: vec![pb::IndicatorTarget {
                period: Some(pb::Period { start: "2026-01-01".into(), end: "2026-12-31".into() }),
                value: target.into(),
            }],
            ..Default::default()
        };
        let subject = Subject { id: "I1".into(), ..Default::default() };
        let progress = [IndicatorProgress {
            indicator_id: "I1".into(),
            values: vec![IndicatorValueView {
                report_id: "R1".into(),
                reporter: "GT".into(),
                reported: used.into(),
                used: used.into(),
                ..Default::default()
            }],
            ..Default::default()
        }];
        let period_of: BTreeMap<String, pb::Period> =
            [("R1".to_string(), pb::Period { start: "2026-01-01".into(), end: "2026-12-31".into() })].into();
        let goal_ids: BTreeSet<String> = ["G1".to_string()].into();
        results(&mut x, &goal_ids, &goals, &[(subject, ind)], &progress, &period_of, &Governance::default());
        x.finish().unwrap()
    }

    /// A quantitative indicator never shows a baseline, target or actual without a value (the ruleset asks
    /// for @value); a qualitative one shows them without values.
    #[test]
    fn results_leave_out_valueless_quantities() {
        let q = results_xml(1, "18", "25", "22");
        assert!(q.contains(r#"<baseline year="2025" value="18"/>"#), "{q}");
        assert!(q.contains(r#"<target value="25"/><actual value="22"><dimension name="reporter" value="GT"/>"#), "{q}");
        let empty = results_xml(1, "", "", "");
        assert!(!empty.contains("<baseline") && !empty.contains("<target") && !empty.contains("<actual"), "{empty}");
        assert!(empty.contains("<period><period-start iso-date=\"2026-01-01\"/>"), "{empty}");
        let qualitative = results_xml(5, "good", "better", "fair");
        assert!(qualitative.contains(r#"<baseline year="2025"/>"#), "{qualitative}");
        assert!(qualitative.contains("<target/><actual><dimension"), "{qualitative}");
        assert!(!qualitative.contains("value=\"fair\""), "{qualitative}");
    }
}
