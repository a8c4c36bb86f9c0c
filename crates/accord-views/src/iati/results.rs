//! An activity's `<result>`s: the plan's goals it funds, their indicators, targets and the values the
//! parties reported (verified where attested).
use std::collections::{BTreeMap, BTreeSet};

use super::xml::Xml;
use crate::{IndicatorProgress, IndicatorValueView};
use accord_domain::book::Subject;
use accord_domain::codes::Measure;
use accord_domain::statement as ds;
use accord_domain::Governance;

/// An indicator's periods, (start, end) → (targets, actual values).
type Periods<'a> = BTreeMap<(String, String), (Vec<String>, Vec<&'a IndicatorValueView>)>;

/// `<result>`s of one activity: one per goal the party's pledges allocate to that has indicators (IATI type
/// 2, outcome; `aggregation-status` 0 because a plan's goal is shown under every activity funding it). Each
/// indicator carries its measure, direction, baseline and, per period, its target (as the indicator defines
/// it) and the actual values reported for that period, each with the reporter as a `dimension` and, in a
/// comment, the value reported, the verified value and the auditor's opinion; the value given is the one the
/// report uses (the verified one when it exists).
pub(super) fn results(
    x: &mut Xml,
    goal_ids: &BTreeSet<String>,
    goals: &BTreeMap<String, ds::GoalDefined>,
    indicators: &[(Subject, ds::IndicatorDefined)],
    progress: &[IndicatorProgress],
    period_of: &BTreeMap<String, ds::Period>,
    gov: &Governance,
) {
    for gid in goal_ids {
        let inds: Vec<&(Subject, ds::IndicatorDefined)> =
            indicators.iter().filter(|(_, i)| i.goal_id == *gid).collect();
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
            indicator(x, s, ind, progress, period_of, gov);
        }
        x.end("result");
    }
}

/// One `<indicator>`: measure, direction, title, baseline and its periods.
fn indicator(
    x: &mut Xml,
    s: &Subject,
    ind: &ds::IndicatorDefined,
    progress: &[IndicatorProgress],
    period_of: &BTreeMap<String, ds::Period>,
    gov: &Governance,
) {
    let measure = ind.measure.code().to_string();
    let qualitative = ind.measure == Measure::Qualitative;
    x.start("indicator", &[("measure", &measure), ("ascending", if ind.ascending { "1" } else { "0" })]);
    let t = if ind.title.is_empty() { s.id.clone() } else { ind.title.clone() };
    x.narrated("title", &[], &if ind.unit.is_empty() { t } else { format!("{t} ({})", ind.unit) });
    if let Some(b) = ind.baseline.as_ref().filter(|b| b.year > 0) {
        let year = b.year.to_string();
        // A qualitative baseline has no @value; a quantitative one always has one (the ruleset asks for it).
        if qualitative {
            x.empty("baseline", &[("year", &year)]);
        } else {
            x.empty("baseline", &[("year", &year), ("value", &b.value.to_string())]);
        }
    }
    // (start, end) → (targets, actuals)
    let mut periods: Periods = BTreeMap::new();
    for t in &ind.targets {
        let p = &t.period;
        periods.entry((p.start.to_string(), p.end.to_string())).or_default().0.push(t.value.to_string());
    }
    for v in progress.iter().filter(|p| p.indicator_id == s.id).flat_map(|p| &p.values) {
        let Some(p) = period_of.get(&v.report_id) else { continue };
        periods.entry((p.start.to_string(), p.end.to_string())).or_default().1.push(v);
    }
    for ((start, end), (targets, actuals)) in &periods {
        x.start("period", &[]);
        x.empty("period-start", &[("iso-date", start)]);
        x.empty("period-end", &[("iso-date", end)]);
        for t in targets {
            if qualitative {
                x.empty("target", &[]);
            } else {
                x.empty("target", &[("value", t)]);
            }
        }
        for v in actuals {
            actual(x, v, qualitative, gov);
        }
        x.end("period");
    }
    x.end("indicator");
}

/// One `<actual>` of a period: the value the report uses, the reporter as a `dimension`, and a comment with
/// the value reported, the verified value and the auditor's opinion. A quantitative actual without a value
/// is left out.
fn actual(x: &mut Xml, v: &IndicatorValueView, qualitative: bool, gov: &Governance) {
    if qualitative {
        x.start("actual", &[]);
    } else if v.used.is_empty() {
        return;
    } else {
        x.start("actual", &[("value", &v.used)]);
    }
    x.empty("dimension", &[("name", "reporter"), ("value", &v.reporter)]);
    let who = gov.parties.get(&v.reporter).map(|p| p.name.clone()).unwrap_or_else(|| v.reporter.clone());
    let check = if v.opinion.is_empty() {
        "not attested".to_string()
    } else {
        format!("verified value {} (auditor's opinion: {})", v.verified, v.opinion)
    };
    x.start("comment", &[]);
    x.text("narrative", &[], &format!("Reported by {who} in {}: {}; {check}.", v.report_id, v.reported));
    x.end("comment");
    x.end("actual");
}

#[cfg(test)]
mod tests {
    use quick_xml::Writer;

    use super::*;

    fn d(s: &str) -> rust_decimal::Decimal {
        rust_decimal::Decimal::from_str_exact(s).unwrap()
    }

    fn year_2026() -> ds::Period {
        let day = |s: &str| accord_domain::date::Day::parse("day", s).unwrap();
        ds::Period { start: day("2026-01-01"), end: day("2026-12-31") }
    }

    fn results_xml(measure: u32, baseline: Option<&str>, target: &str, used: &str) -> String {
        use accord_domain::ids::{GoalId, IndicatorId, PlanId};
        let mut x = Xml::new(Writer::new(Vec::new()));
        let g1 = ds::GoalDefined {
            goal_id: GoalId::parse("goal_id", "G1").unwrap(),
            plan_id: PlanId::parse("plan_id", "P").unwrap(),
            title: "Goal G1".into(),
            classifications: Vec::new(),
            description: String::new(),
        };
        let goals: BTreeMap<String, ds::GoalDefined> = [("G1".to_string(), g1)].into_iter().collect();
        let ind = ds::IndicatorDefined {
            indicator_id: IndicatorId::parse("indicator_id", "I1").unwrap(),
            goal_id: GoalId::parse("goal_id", "G1").unwrap(),
            title: "I".into(),
            measure: Measure::parse("measure", measure).unwrap(),
            ascending: false,
            unit: String::new(),
            baseline: baseline.map(|b| ds::Baseline { value: d(b), year: 2025 }),
            targets: vec![ds::IndicatorTarget { period: year_2026(), value: d(target) }],
        };
        let subject = Subject::new(accord_domain::book::INDICATOR, "I1");
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
        let period_of: BTreeMap<String, ds::Period> = [("R1".to_string(), year_2026())].into();
        let goal_ids: BTreeSet<String> = ["G1".to_string()].into();
        results(&mut x, &goal_ids, &goals, &[(subject, ind)], &progress, &period_of, &Governance::default());
        x.finish().unwrap()
    }

    /// A quantitative indicator never shows a baseline, target or actual without a value (the ruleset asks
    /// for @value); a qualitative one shows them without values.
    #[test]
    fn results_leave_out_valueless_quantities() {
        let q = results_xml(1, Some("18"), "25", "22");
        assert!(q.contains(r#"<baseline year="2025" value="18"/>"#), "{q}");
        assert!(q.contains(r#"<target value="25"/><actual value="22"><dimension name="reporter" value="GT"/>"#), "{q}");
        let empty = results_xml(1, None, "25", "");
        assert!(!empty.contains("<baseline") && !empty.contains("<actual"), "{empty}");
        assert!(empty.contains("<period><period-start iso-date=\"2026-01-01\"/>"), "{empty}");
        let qualitative = results_xml(5, Some("3"), "4", "fair");
        assert!(qualitative.contains(r#"<baseline year="2025"/>"#), "{qualitative}");
        assert!(qualitative.contains("<target/><actual><dimension"), "{qualitative}");
        assert!(!qualitative.contains("value=\"fair\""), "{qualitative}");
    }
}
