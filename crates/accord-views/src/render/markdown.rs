//! The report as Markdown.
use std::fmt::Write as _;

use super::*;

/// A [`tables::Table`] under its own heading, in Markdown (amounts for people).
fn md_view(out: &mut String, t: &tables::Table) {
    let _ = writeln!(out, "### {}\n", t.title);
    md_table(out, &t.header(), t.shown_rows());
}

fn md_table(out: &mut String, header: &[&str], rows: Vec<Vec<String>>) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}|", header.iter().map(|_| "---").collect::<Vec<_>>().join("|"));
    for r in rows {
        let _ = writeln!(out, "| {} |", r.iter().map(|c| c.replace('|', "\\|")).collect::<Vec<_>>().join(" | "));
    }
    out.push('\n');
}

/// The report as Markdown.
pub fn markdown(rep: &Report) -> String {
    let mut o = String::new();
    let p = &rep.plan;
    let _ = writeln!(o, "# {} ({})\n", p.title, p.plan_id);
    let _ = writeln!(
        o,
        "Period {} to {}; reporting currency {}. Computed at tree size {} (as of {}), root `{}`.\n",
        p.period_start,
        p.period_end,
        p.reporting_currency,
        rep.read_at.tree_size,
        rep.read_at.as_of_date,
        rep.read_at.root_hash
    );
    if let Some(w) = rep.conversion_warning() {
        let _ = writeln!(o, "> **Warning:** {w}. They are listed under \"Unconverted amounts\".\n");
    }
    md_funding(&mut o, rep);
    md_coverage_and_new_money(&mut o, rep);
    md_tranches(&mut o, rep);
    md_co_financing(&mut o, rep);
    md_progress(&mut o, rep);
    md_records(&mut o, rep);
    let _ = writeln!(o, "## Checkpoint\n\n```\n{}```", rep.read_at.checkpoint);
    o
}

/// Pledged, committed, disbursed: per donor, pledge currency, goal, recipient and year.
fn md_funding(o: &mut String, rep: &Report) {
    let h =
        &["", "pledged P", "committed C", "disbursed D", "C/P", "D/P", "D/C", "uncommitted P − C", "pipeline C − D"];
    let _ =
        writeln!(o, "## Pledged, committed, disbursed ({}; each flow at its value-date rate)\n", rep.funding.currency);
    let mut rows: Vec<Vec<String>> = rep.funding.by_donor.iter().map(flow_md).collect();
    rows.push(flow_md(&rep.funding.total_external));
    md_table(o, h, rows);
    let _ = writeln!(o, "### In each donor's pledge currency\n");
    md_table(
        o,
        &["donor", "currency", "P", "C", "D", "C/P", "D/P", "D/C", "P − C", "C − D"],
        rep.funding
            .pledge_currency
            .iter()
            .map(|r| {
                let mut v = flow_md(r);
                v.insert(1, r.currency.clone());
                v
            })
            .collect(),
    );
    let _ = writeln!(o, "### By goal\n");
    md_table(o, h, rep.funding.by_goal.iter().map(flow_md).collect());
    let _ = writeln!(o, "### By recipient\n");
    md_table(o, h, rep.funding.by_recipient.iter().map(flow_md).collect());
    let _ = writeln!(o, "### By year\n");
    md_table(o, h, rep.funding.by_year.iter().map(flow_md).collect());
}

/// Plan coverage, internal flows, new money and usage years.
fn md_coverage_and_new_money(o: &mut String, rep: &Report) {
    let c = &rep.coverage;
    let _ = writeln!(o, "## Plan coverage\n");
    let _ = writeln!(
        o,
        "Funded F = {} (paid {}, committed not yet paid {}); requirement {}; {} funded; unmet {}. Pledges, shown beside and never counted: {}.\n",
        amount(&c.funded),
        amount(&c.paid),
        amount(&c.committed_unpaid),
        if c.requirement.is_empty() { "not stated".into() } else { amount(&c.requirement) },
        percent(&c.percent_funded),
        if c.unmet.is_empty() { "–".into() } else { amount(&c.unmet) },
        amount(&c.pledged_beside)
    );
    let _ = writeln!(o, "### Internal flows (listed, never added to F)\n");
    md_table(o, INTERNAL_HEADER, internal_rows(rep));
    let n = &rep.new_money;
    let _ = writeln!(
        o,
        "## New money\n\nNew money {} of {} pledged ({}).\n",
        amount(&n.new_money),
        amount(&n.pledged),
        percent(&n.share)
    );
    md_table(o, NEW_MONEY_PLEDGE_HEADER, new_money_pledge_rows(rep));
    md_table(o, NEW_MONEY_PLEDGER_HEADER, new_money_pledger_rows(rep));
    for r in &n.restatements {
        let withdrawn = if r.status == "withdrawn" { " (withdrawn: no longer restated)" } else { "" };
        let _ =
            writeln!(o, "- {} restates {} {} of {}{withdrawn}", r.pledge_id, amount(&r.amount), r.currency, r.restates);
    }
    let _ = writeln!(o, "## Usage years\n");
    md_table(o, &["year", "committed"], usage_rows(rep));
}

/// Conditional tranches.
fn md_tranches(o: &mut String, rep: &Report) {
    let _ = writeln!(o, "## Conditional tranches\n");
    let mut rows = Vec::new();
    for cv in &rep.tranches.conditions {
        for t in &cv.tranches {
            rows.push(vec![
                cv.condition_id.to_string(),
                t.tranche_id.to_string(),
                t.recipient.clone(),
                format!("{} {}", amount(&t.value), t.currency),
                t.status.clone(),
                format!("{} {}", t.outcome, t.date),
            ]);
        }
        if !cv.uncommitted_at_stake.is_empty() {
            rows.push(vec![
                cv.condition_id.to_string(),
                "(not yet in a commitment)".into(),
                String::new(),
                format!("{} {}", amount(&cv.uncommitted_at_stake), cv.currency),
                cv.uncommitted_status.clone(),
                cv.status.clone(),
            ]);
        }
    }
    md_table(o, &["condition", "tranche", "recipient", "amount", "status", "assessment"], rows);
    md_table(
        o,
        &["status", "currency", "total"],
        rep.tranches.totals.iter().map(|t| vec![t.status.clone(), t.currency.clone(), amount(&t.amount)]).collect(),
    );
}

/// Co-financing tests.
fn md_co_financing(o: &mut String, rep: &Report) {
    for cf in &rep.co_financing {
        let _ = writeln!(
            o,
            "## Co-financing {} (own resources ≥ {} × external grants received)\n",
            cf.condition_id, cf.ratio
        );
        md_table(
            o,
            &[
                "year",
                "party",
                "external grants",
                "required",
                "realised",
                "realised / grants",
                "fulfilment",
                "realised / own pledge",
                "result",
                "opinion",
            ],
            cf.rows
                .iter()
                .map(|r| {
                    vec![
                        r.year.clone(),
                        r.party.clone(),
                        amount(&r.external_grants),
                        amount(&r.required),
                        amount(&r.realised),
                        percent(&r.realised_over_grants),
                        percent(&r.fulfilment),
                        percent(&r.realised_over_own_pledge),
                        format!("{}{}", r.result, if r.verified { "" } else { ", unverified" }),
                        r.opinion.clone(),
                    ]
                })
                .collect(),
        );
        let _ = writeln!(
            o,
            "Plan level: realised {} against external grants {} → {}.\n",
            amount(&cf.plan_realised),
            amount(&cf.plan_external_grants),
            percent(&cf.plan_share)
        );
    }
}

/// Indicator progress, in-kind and policy delivery, timeliness.
fn md_progress(o: &mut String, rep: &Report) {
    let _ = writeln!(o, "## Indicator progress\n");
    let mut rows = Vec::new();
    for i in &rep.indicators {
        for v in &i.values {
            rows.push(vec![
                i.indicator_id.to_string(),
                v.period_end.clone(),
                i.baseline.clone(),
                i.end_target.clone(),
                v.reported.clone(),
                v.verified.clone(),
                v.opinion.clone(),
                percent(&v.progress_to_end_target),
                percent(&v.progress_to_period_target),
            ]);
        }
    }
    md_table(
        o,
        &[
            "indicator",
            "period end",
            "baseline",
            "end target",
            "reported",
            "verified",
            "opinion",
            "to end target",
            "to period target",
        ],
        rows,
    );
    let _ = writeln!(o, "## In-kind and policy delivery\n");
    md_table(o, INKIND_HEADER, inkind_rows(rep));
    md_view(o, &tables::in_kind_items(rep));
    md_view(o, &tables::milestones(rep));
    let _ = writeln!(o, "## Timeliness\n");
    md_table(o, TIMELINESS_HEADER, timeliness_rows(rep));
    md_view(o, &tables::missing_reports(rep));
    md_view(o, &tables::periods(rep));
    md_view(o, &tables::period_reporters(rep));
}

/// Verification, amendments and corrections, unconverted amounts.
fn md_records(o: &mut String, rep: &Report) {
    let v = &rep.verification;
    let _ = writeln!(
        o,
        "## Verification coverage\n\nVerified {} of {} reported ({}); {} of {} reports attested ({}); median attestation lag {} days.\n",
        amount(&v.verified_amount),
        amount(&v.reported_amount),
        percent(&v.verified_share),
        v.reports_attested,
        v.reports,
        percent(&v.attested_share),
        if v.median_attestation_lag_days.is_empty() { "–" } else { &v.median_attestation_lag_days }
    );
    let _ = writeln!(o, "## Amendments and corrections\n");
    md_table(o, AMENDMENT_HEADER, amendment_rows(rep));
    md_view(o, &tables::corrections(rep));
    if !rep.unconverted.is_empty() {
        let _ = writeln!(o, "## Unconverted amounts\n");
        md_table(o, &["entry", "from", "to", "value date", "amount", "reason"], unconverted_rows(rep));
    }
}
