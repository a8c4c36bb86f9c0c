//! The report as one self-contained HTML page with inline SVG charts (no external assets).
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::*;
use crate::{CoFinancing, IndicatorProgress};

/// A [`tables::Table`] under its own heading, in HTML (amounts for people).
fn html_view(t: &tables::Table) -> Markup {
    html! {
        h3 { (t.title) }
        (html_table(&t.header(), t.shown_rows(), t.id))
    }
}

fn num(s: &str) -> f64 {
    // Chart geometry only; every figure shown as text comes from the exact decimals.
    s.parse::<f64>().unwrap_or(0.0)
}

/// One decimal place, for chart geometry.
fn f1(v: f64) -> String {
    format!("{v:.1}")
}

// Every page and chart below is built with maud's `html!`, which escapes every interpolated value (text and
// attribute) by construction. The only pre-escaped markup is our own constants: the stylesheet [`CSS`] and
// the verification help passed by the server ([`html`]'s `verify_help`, a `&'static str`). SVG elements are
// written with explicit end tags (`rect … {}`), since HTML's parser does not self-close foreign elements.

/// A chart label of at most 34 characters.
fn short_label(label: &str) -> String {
    if label.chars().count() > 34 {
        label.chars().take(33).chain(['…']).collect()
    } else {
        label.to_string()
    }
}

/// Grouped horizontal bars (pledged / committed / disbursed) as inline SVG.
pub fn bars_svg(title: &str, rows: &[FlowRow]) -> Markup {
    let colours = ["#9bb7d4", "#3f7cbf", "#1b3f6b"];
    let max =
        rows.iter().flat_map(|r| [num(&r.pledged), num(&r.committed), num(&r.disbursed)]).fold(0.0, f64::max).max(1.0);
    let row_h = 42.0;
    let h = 40.0 + row_h * rows.len() as f64;
    html! {
        div class="scroll chart" tabindex="0" { svg role="img" aria-label=(title) viewBox={ "0 0 720 " (h) } width="100%" {
            @for (i, (label, c)) in ["pledged", "committed", "disbursed"].iter().zip(colours).enumerate() {
                rect x=(i.saturating_mul(110).saturating_add(250)) y="6" width="12" height="12" fill=(c) {}
                text x=(i.saturating_mul(110).saturating_add(266)) y="16" font-size="12" { (label) }
            }
            @for (i, r) in rows.iter().enumerate() {
                @let y = 30.0 + row_h * i as f64;
                @let label = if r.name.is_empty() { &r.key } else { &r.name };
                text x="0" y=(y + 22.0) font-size="12" { title { (label) } (short_label(label)) }
                @for (j, (v, c)) in [&r.pledged, &r.committed, &r.disbursed].iter().zip(colours).enumerate() {
                    rect x="250" y=(y + 4.0 + 11.0 * j as f64) width=(f1(460.0 * num(v) / max)) height="10" fill=(c) {
                        title { (amount(v)) }
                    }
                }
            }
        } }
    }
}

/// Realised co-financing against the required amount, per party.
fn cofinancing_svg(cf: &CoFinancing) -> Markup {
    let max = cf.rows.iter().flat_map(|r| [num(&r.required), num(&r.realised)]).fold(0.0, f64::max).max(1.0);
    let h = 20.0 + 34.0 * cf.rows.len() as f64;
    html! {
        div class="scroll chart" tabindex="0" { svg role="img" aria-label="co-financing against the rule" viewBox={ "0 0 720 " (h) } width="100%" {
            @for (i, r) in cf.rows.iter().enumerate() {
                @let y = 10.0 + 34.0 * i as f64;
                @let colour = if r.result == "met" { "#2e7d32" } else { "#c62828" };
                @let x = f1(120.0 + 520.0 * num(&r.required) / max);
                text x="0" y=(y + 14.0) font-size="12" { (r.party) " " (r.year) }
                rect x="120" y=(y) width=(f1(520.0 * num(&r.realised) / max)) height="16" fill=(colour) {}
                line x1=(x) y1=(y - 3.0) x2=(x) y2=(y + 19.0) stroke="#000" stroke-width="2" {}
            }
        } }
    }
}

/// Indicator values against the target path.
fn indicator_svg(i: &IndicatorProgress) -> Markup {
    let mut pts: Vec<(String, f64)> = i.targets.iter().map(|(e, v)| (e.clone(), num(v))).collect();
    pts.insert(0, (format!("{}-12-31", i.baseline_year), num(&i.baseline)));
    let vals: Vec<(String, f64)> = i.values.iter().map(|v| (v.period_end.clone(), num(&v.used))).collect();
    let all: Vec<f64> = pts.iter().chain(vals.iter()).map(|p| p.1).collect();
    let (lo, hi) = (all.iter().cloned().fold(f64::MAX, f64::min), all.iter().cloned().fold(f64::MIN, f64::max));
    let span = (hi - lo).max(1e-9);
    let mut dates: Vec<&String> = pts.iter().chain(vals.iter()).map(|p| &p.0).collect();
    dates.sort();
    dates.dedup();
    let x = |d: &String| {
        40.0 + 620.0 * dates.iter().position(|x| *x == d).unwrap_or(0) as f64
            / (dates.len().max(2).saturating_sub(1)) as f64
    };
    let y = |v: f64| 150.0 - 130.0 * (v - lo) / span;
    let path: Vec<String> = pts.iter().map(|(d, v)| format!("{:.1},{:.1}", x(d), y(*v))).collect();
    html! {
        div class="scroll chart" tabindex="0" { svg role="img" aria-label={ (i.indicator_id) " against targets" } viewBox="0 0 720 170" width="100%" {
            polyline fill="none" stroke="#999" stroke-dasharray="4 3" points=(path.join(" ")) {}
            @for (d, v) in &vals {
                circle cx=(f1(x(d))) cy=(f1(y(*v))) r="5" fill="#1b3f6b" { title { (d) ": " (v) } }
            }
        } }
    }
}

/// The stylesheet inlined in every HTML page (self-contained: no network), with print rules.
pub const CSS: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em;width:100%}th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:right}\
th:first-child,td:first-child{text-align:left}caption{text-align:left;font-weight:600}pre{white-space:pre-wrap;background:#f5f5f5;padding:.8em;font-size:.85em}\
.met{color:#2e7d32}.notMet,.withheld{color:#c62828}.pending{color:#8a6d00}\
.scroll{overflow-x:auto;max-width:100%}.chart svg{min-width:600px}code{overflow-wrap:anywhere;word-break:break-all}pre{overflow-wrap:anywhere}\
@media print{body{margin:0;max-width:none}section{break-inside:avoid}.chart svg{min-width:0}}";

/// A table; every header and cell is text (escaped). Each cell's class is its first comma-separated word
/// (so a status such as `notMet, unverified` is styled by the stylesheet).
pub fn html_table(header: &[&str], rows: Vec<Vec<String>>, id: &str) -> Markup {
    // Inside a scrolling box: a wide table scrolls on its own on a narrow screen, never the page.
    html! {
        div class="scroll" tabindex="0" role="region" aria-label=(id) {
            table id=(id) {
                thead { tr { @for h in header { th scope="col" { (h) } } } }
                tbody {
                    @for r in &rows {
                        tr { @for c in r { td class=(c.split(',').next().unwrap_or("")) { (c) } } }
                    }
                }
            }
        }
    }
}

/// A whole HTML page: `<head>` with the title and our stylesheet, then `nav` and `body`.
pub fn document(title: &str, nav: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body { (nav) (body) }
        }
    }
}

/// The report as one self-contained HTML page (inline CSS and SVG, no external assets). `verify_help` is
/// our own constant markup (e.g. [`crate::VERIFY_HELP`]), never data.
pub fn html(rep: &Report, verify_help: &'static str) -> String {
    document(&format!("{} — Accord report", rep.plan.title), html! {}, report_body(rep, verify_help)).into_string()
}

/// The report's content (everything inside `<body>`), for the HTML report and the public plan page.
pub fn report_body(rep: &Report, verify_help: &'static str) -> Markup {
    let p = &rep.plan;
    let c = &rep.coverage;
    let v = &rep.verification;
    html! {
        h1 { (p.title) }
        p {
            "Plan " b { (p.plan_id) } ", " (p.period_start) " to " (p.period_end) ". Figures in " (p.reporting_currency)
            " (each flow converted at its own value-date rate). Computed at tree size "
            b id="tree-size" { (rep.read_at.tree_size) } ", as of " (rep.read_at.as_of_date) "."
        }
        @if let Some(w) = rep.conversion_warning() {
            section {
                p class="warning" role="alert" { strong { "Warning: " } (w) "." }
                h2 { "Unconverted amounts" }
                (html_table(&["entry", "from", "to", "value date", "amount", "reason"], unconverted_rows(rep), "unconverted"))
            }
        }
        (funding_section(rep))
        section {
            h2 { "Plan coverage" }
            p {
                "Funded " b { (amount(&c.funded)) } " (paid " (amount(&c.paid)) ", committed not yet paid "
                (amount(&c.committed_unpaid)) "); requirement "
                @if c.requirement.is_empty() { "not stated" } @else { (amount(&c.requirement)) }
                "; " (percent(&c.percent_funded)) " funded; unmet "
                @if c.unmet.is_empty() { "–" } @else { (amount(&c.unmet)) }
                ". Pledges are shown beside, never counted: "
                (amount(&c.pledged_beside)) "."
            }
            h3 { "Internal flows (listed, never added to F)" }
            (html_table(INTERNAL_HEADER, internal_rows(rep), "internal-flows"))
        }
        section {
            h2 { "New money" }
            p {
                "New money " b { (amount(&rep.new_money.new_money)) } " of " (amount(&rep.new_money.pledged))
                " pledged (" (percent(&rep.new_money.share)) ")."
            }
            (html_table(NEW_MONEY_PLEDGE_HEADER, new_money_pledge_rows(rep), "new-money-by-pledge"))
            (html_table(NEW_MONEY_PLEDGER_HEADER, new_money_pledger_rows(rep), "new-money-by-pledger"))
            (html_table(RESTATEMENT_HEADER, restatement_rows(rep), "restatements"))
        }
        section {
            h2 { "Usage years" }
            (html_table(&["year", "committed"], usage_rows(rep), "usage-years"))
        }
        (tranches_section(rep))
        (co_financing_sections(rep))
        (progress_sections(rep))
        section {
            h2 { "Verification coverage" }
            p {
                "Verified " (amount(&v.verified_amount)) " of " (amount(&v.reported_amount)) " reported ("
                (percent(&v.verified_share)) "); " (v.reports_attested) " of " (v.reports) " reports attested ("
                (percent(&v.attested_share)) "); median attestation lag "
                @if v.median_attestation_lag_days.is_empty() { "–" } @else { (v.median_attestation_lag_days) }
                " days."
            }
        }
        section {
            h2 { "Amendments and corrections" }
            (html_table(AMENDMENT_HEADER, amendment_rows(rep), "amendments"))
            (html_view(&tables::corrections(rep)))
        }
        section {
            h2 { "Checkpoint" }
            p { "Every figure above is a function of the log up to this signed checkpoint." }
            pre id="checkpoint" { (rep.read_at.checkpoint) }
            (PreEscaped(verify_help))
        }
    }
}

/// Pledged, committed, disbursed: per donor (with bars), pledge currency, goal, recipient and year.
fn funding_section(rep: &Report) -> Markup {
    let f = &rep.funding;
    let h = [
        "donor",
        "pledged P",
        "committed C",
        "disbursed D",
        "C/P",
        "D/P",
        "D/C",
        "uncommitted P − C",
        "pipeline C − D",
    ];
    let hd = |first: &'static str| -> [&'static str; 9] {
        let mut x = h;
        x[0] = first;
        x
    };
    let mut donors: Vec<Vec<String>> = f.by_donor.iter().map(flow_md).collect();
    donors.push(flow_md(&f.total_external));
    let pc: Vec<Vec<String>> = f
        .pledge_currency
        .iter()
        .map(|r| {
            let mut v = flow_md(r);
            v.insert(1, r.currency.clone());
            v
        })
        .collect();
    html! {
    section {
        h2 { "Pledged, committed, disbursed" }
        (bars_svg("by donor", &f.by_donor))
        (html_table(&h, donors, "funding-by-donor"))
        h3 { "In each donor's pledge currency" }
        (html_table(&["donor", "currency", "P", "C", "D", "C/P", "D/P", "D/C", "P − C", "C − D"], pc, "funding-pledge-currency"))
        h3 { "By goal" }
        (bars_svg("by goal", &f.by_goal))
        (html_table(&hd("goal"), f.by_goal.iter().map(flow_md).collect(), "funding-by-goal"))
        h3 { "By recipient" }
        (html_table(&hd("recipient"), f.by_recipient.iter().map(flow_md).collect(), "funding-by-recipient"))
        h3 { "By year" }
        (html_table(&hd("year"), f.by_year.iter().map(flow_md).collect(), "funding-by-year"))
    }
    }
}

/// Conditional tranches and their totals per status.
fn tranches_section(rep: &Report) -> Markup {
    let mut tranches = Vec::new();
    for cv in &rep.tranches.conditions {
        for t in &cv.tranches {
            tranches.push(vec![
                format!("{} / {}", cv.condition_id, t.tranche_id),
                t.recipient.clone(),
                format!("{} {}", amount(&t.value), t.currency),
                t.status.clone(),
                format!("{} {}", t.outcome, t.date),
            ]);
        }
        if !cv.uncommitted_at_stake.is_empty() {
            tranches.push(vec![
                cv.condition_id.to_string(),
                String::new(),
                format!("{} {}", amount(&cv.uncommitted_at_stake), cv.currency),
                cv.uncommitted_status.clone(),
                cv.status.clone(),
            ]);
        }
    }
    let totals: Vec<Vec<String>> = rep
        .tranches
        .totals
        .iter()
        .map(|t| vec![t.status.clone(), format!("{} {}", amount(&t.amount), t.currency)])
        .collect();
    html! {
    section {
        h2 { "Conditional tranches" }
        (html_table(&["condition / tranche", "recipient", "amount", "status", "assessment"], tranches, "tranches"))
        (html_table(&["status", "total"], totals, "tranche-totals"))
    }
    }
}

/// One section per co-financing test, with its chart.
fn co_financing_sections(rep: &Report) -> Markup {
    html! {
    @for cf in &rep.co_financing {
        section {
            h2 { "Co-financing " (cf.condition_id) " (own resources ≥ " (cf.ratio) " × external grants)" }
            (cofinancing_svg(cf))
            (html_table(
                &[
                    "party",
                    "external grants",
                    "required",
                    "realised",
                    "realised / grants",
                    "fulfilment",
                    "result",
                    "opinion",
                ],
                co_financing_rows(cf),
                &format!("cofinancing-{}", cf.condition_id),
            ))
            p {
                "Plan level: realised " (amount(&cf.plan_realised)) " against external grants "
                (amount(&cf.plan_external_grants)) " → " (percent(&cf.plan_share)) "."
            }
        }
    }
    }
}

/// Indicator progress, in-kind and policy delivery, timeliness.
fn progress_sections(rep: &Report) -> Markup {
    html! {
    @if !rep.indicators.is_empty() {
        section {
            h2 { "Indicator progress" }
            @for i in &rep.indicators {
                h3 { (i.indicator_id) " — " (i.title) }
                p { "Baseline " (i.baseline) " (" (i.baseline_year) "), end target " (i.end_target) "." }
                (indicator_svg(i))
                (html_table(
                    &["period end", "reported", "verified", "opinion", "to end target", "to period target"],
                    indicator_rows(i),
                    &format!("indicator-{}", i.indicator_id),
                ))
            }
        }
    }
    section {
        h2 { "In-kind and policy delivery" }
        (html_table(INKIND_HEADER, inkind_rows(rep), "in-kind"))
        (html_view(&tables::in_kind_items(rep)))
        (html_view(&tables::milestones(rep)))
    }
    section {
        h2 { "Timeliness" }
        (html_table(TIMELINESS_HEADER, timeliness_rows(rep), "timeliness"))
        (html_view(&tables::missing_reports(rep)))
        (html_view(&tables::periods(rep)))
        (html_view(&tables::period_reporters(rep)))
    }
    }
}
