//! Indicator progress (DOMAIN.md §5, §7): reported and verified values side by side, progress against the end
//! target and the period target, the opinion of the latest attestation beside each value.

use rust_decimal::Decimal;

use accord_domain::statement as ds;

use super::context::PlanContext;
use super::*;

pub(super) fn indicators(ctx: &PlanContext<'_>) -> Result<Vec<IndicatorProgress>> {
    let r = ctx.r;
    let plan_id = ctx.plan.plan_id.as_str();
    let reports = &ctx.reports;
    let attested = &ctx.attested;
    let opinion_of = &ctx.opinion_of;
    let verified_value = |rep: &Subject, item: &str| ctx.verified_value(rep, item);
    // Indicator progress.
    let mut indicators = Vec::new();
    for is in all(r, book::INDICATOR, plan_id)? {
        let x: ds::IndicatorDefined = is.parsed()?;
        let base = x.baseline.as_ref().map(|b| b.value).unwrap_or_default();
        let mut targets: Vec<(String, Decimal)> =
            x.targets.iter().map(|t| (t.period.end.to_string(), t.value)).collect();
        targets.sort();
        let end = targets.last().map(|t| t.1);
        let progress = |actual: Decimal, target: Decimal| pct(sub(actual, base), sub(target, base));
        let mut values = Vec::new();
        for rep in reports.iter() {
            let b: ds::ProgressReported = rep.parsed()?;
            let pe = b.period.end.to_string();
            for v in b.indicator_values.iter().filter(|v| v.indicator_id == is.id) {
                let value = v.value.to_string();
                // DOMAIN.md §7: a clean attestation verifies the value as reported; an adjustment replaces it.
                let verified = match verified_value(rep, &format!("indicator:{}", is.id)) {
                    Some(v) => v,
                    None if attested.contains_key(&rep.created_at) => value.clone(),
                    None => String::new(),
                };
                let opinion = opinion_of.get(&rep.created_at).map(|o| o.1.clone()).unwrap_or_default();
                let used = if verified.is_empty() { value.clone() } else { verified.clone() };
                let period_t = targets.iter().find(|(e, _)| *e >= pe).map(|t| t.1);
                values.push(IndicatorValueView {
                    report_id: rep.id.clone(),
                    reporter: rep.party_id.to_string(),
                    period_end: pe.clone(),
                    reported: value,
                    verified,
                    used: used.clone(),
                    opinion,
                    progress_to_end_target: end.map(|t| progress(dec(&used), t)).unwrap_or_default(),
                    period_target: period_t.map(d).unwrap_or_default(),
                    progress_to_period_target: period_t.map(|t| progress(dec(&used), t)).unwrap_or_default(),
                });
            }
        }
        indicators.push(IndicatorProgress {
            indicator_id: is.id.clone(),
            goal_id: x.goal_id.to_string(),
            title: x.title.clone(),
            ascending: x.ascending,
            unit: x.unit.clone(),
            baseline: x.baseline.as_ref().map(|b| b.value.to_string()).unwrap_or_default(),
            baseline_year: x.baseline.as_ref().map_or(0, |b| b.year),
            end_target: end.map(d).unwrap_or_default(),
            targets: targets.iter().map(|(e, v)| (e.clone(), d(*v))).collect(),
            values,
        });
    }

    Ok(indicators)
}
