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

/// A compact axis label: 1.2k, 35M, 1.5bn (chart ticks only; figures shown as text stay exact).
fn compact(v: f64) -> String {
    let a = v.abs();
    let (d, unit) = if a >= 1e9 {
        (1e9, "bn")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e3 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    let x = v / d;
    let s = if (x - x.round()).abs() < 0.05 { format!("{:.0}", x.round()) } else { format!("{x:.1}") };
    format!("{s}{unit}")
}

/// A "nice" axis maximum and tick step (1, 2 or 5 × 10^k) for values up to `max`, about four ticks.
fn nice_axis(max: f64) -> (f64, f64) {
    let max = if max > 0.0 { max } else { 1.0 };
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

/// Grouped horizontal bars (pledged / committed / disbursed) as inline SVG: a legend, an amount axis with
/// ticks and grid lines, and each bar's amount written beside it.
pub fn bars_svg(title: &str, rows: &[FlowRow]) -> Markup {
    let colours = ["#9bb7d4", "#3f7cbf", "#1b3f6b"];
    let max = rows.iter().flat_map(|r| [num(&r.pledged), num(&r.committed), num(&r.disbursed)]).fold(0.0, f64::max);
    let (top, step) = nice_axis(max);
    let (x0, w) = (230.0, 380.0);
    let row_h = 54.0;
    let axis_y = 34.0 + row_h * rows.len() as f64;
    let h = axis_y + 30.0;
    let ticks: Vec<f64> = (0..).map(|i| f64::from(i) * step).take_while(|t| *t <= top + step / 2.0).collect();
    html! {
        div class="scroll chart" tabindex="0" { svg role="img" aria-label=(title) viewBox={ "0 0 720 " (h) } width="100%" {
            @for (i, (label, c)) in ["pledged", "committed", "disbursed"].iter().zip(colours).enumerate() {
                rect x=(i.saturating_mul(120).saturating_add(230)) y="6" width="12" height="12" fill=(c) {}
                text x=(i.saturating_mul(120).saturating_add(246)) y="17" font-size="12" { (label) }
            }
            @for t in &ticks {
                @let x = x0 + w * t / top;
                line x1=(f1(x)) y1="26" x2=(f1(x)) y2=(f1(axis_y)) stroke="#ddd" stroke-width="1" {}
                text x=(f1(x)) y=(f1(axis_y + 16.0)) font-size="12" text-anchor="middle" { (compact(*t)) }
            }
            line x1=(f1(x0)) y1=(f1(axis_y)) x2=(f1(x0 + w)) y2=(f1(axis_y)) stroke="#444" stroke-width="1" {}
            @for (i, r) in rows.iter().enumerate() {
                @let y = 30.0 + row_h * i as f64;
                @let label = if r.name.is_empty() { &r.key } else { &r.name };
                text x="0" y=(y + 27.0) font-size="12" { title { (label) } (short_label(label)) }
                @for (j, (v, c)) in [&r.pledged, &r.committed, &r.disbursed].iter().zip(colours).enumerate() {
                    @let bw = w * num(v) / top;
                    @let by = y + 4.0 + 16.0 * j as f64;
                    rect x=(f1(x0)) y=(f1(by)) width=(f1(bw)) height="13" fill=(c) { title { (amount(v)) } }
                    @if !v.is_empty() {
                        text x=(f1(x0 + bw + 4.0)) y=(f1(by + 11.0)) font-size="12" { (compact(num(v))) }
                    }
                }
            }
        } }
    }
}

/// Realised co-financing against the required amount, per party: a legend, an amount axis, the realised
/// bar (green when the rule is met, red when not) with its amount, and the required amount as a mark.
fn cofinancing_svg(cf: &CoFinancing) -> Markup {
    let max = cf.rows.iter().flat_map(|r| [num(&r.required), num(&r.realised)]).fold(0.0, f64::max);
    let (top, step) = nice_axis(max);
    let (x0, w) = (150.0, 470.0);
    let axis_y = 34.0 + 34.0 * cf.rows.len() as f64;
    let h = axis_y + 30.0;
    let ticks: Vec<f64> = (0..).map(|i| f64::from(i) * step).take_while(|t| *t <= top + step / 2.0).collect();
    html! {
        div class="scroll chart" tabindex="0" { svg role="img" aria-label="co-financing against the rule" viewBox={ "0 0 720 " (h) } width="100%" {
            rect x="150" y="6" width="12" height="12" fill="#2e7d32" {}
            text x="166" y="17" font-size="12" { "realised (met)" }
            rect x="290" y="6" width="12" height="12" fill="#c62828" {}
            text x="306" y="17" font-size="12" { "realised (not met)" }
            line x1="450" y1="4" x2="450" y2="20" stroke="#000" stroke-width="2" {}
            text x="456" y="17" font-size="12" { "required" }
            @for t in &ticks {
                @let x = x0 + w * t / top;
                line x1=(f1(x)) y1="26" x2=(f1(x)) y2=(f1(axis_y)) stroke="#ddd" stroke-width="1" {}
                text x=(f1(x)) y=(f1(axis_y + 16.0)) font-size="12" text-anchor="middle" { (compact(*t)) }
            }
            @for (i, r) in cf.rows.iter().enumerate() {
                @let y = 34.0 + 34.0 * i as f64;
                @let colour = if r.result == "met" { "#2e7d32" } else { "#c62828" };
                @let x = f1(x0 + w * num(&r.required) / top);
                @let bw = w * num(&r.realised) / top;
                text x="0" y=(y + 14.0) font-size="12" { (r.party) " " (r.year) }
                rect x=(f1(x0)) y=(y) width=(f1(bw)) height="16" fill=(colour) { title { (amount(&r.realised)) } }
                text x=(f1(x0 + bw + 4.0)) y=(y + 13.0) font-size="12" { (compact(num(&r.realised))) }
                line x1=(x) y1=(y - 3.0) x2=(x) y2=(y + 19.0) stroke="#000" stroke-width="2" { title { "required " (amount(&r.required)) } }
            }
        } }
    }
}

/// Indicator values against the target path on a time axis: the baseline (end of its year), the target
/// of each period as a dashed line with its points, the values used (verified where an auditor verified
/// them) as a solid line with each value written; a y axis with ticks, year ticks, and a legend.
fn indicator_svg(i: &IndicatorProgress) -> Markup {
    use accord_domain::date::parse_date;
    let base = (!i.baseline.is_empty()).then(|| (format!("{}-12-31", i.baseline_year), num(&i.baseline)));
    let targets: Vec<(i64, f64)> = i.targets.iter().filter_map(|(e, v)| Some((parse_date(e)?, num(v)))).collect();
    let vals: Vec<(i64, f64, &str)> =
        i.values.iter().filter_map(|v| Some((parse_date(&v.period_end)?, num(&v.used), v.used.as_str()))).collect();
    let base = base.and_then(|(d, v)| Some((parse_date(&d)?, v)));
    let days: Vec<i64> =
        base.iter().map(|b| b.0).chain(targets.iter().map(|t| t.0)).chain(vals.iter().map(|v| v.0)).collect();
    let ys: Vec<f64> =
        base.iter().map(|b| b.1).chain(targets.iter().map(|t| t.1)).chain(vals.iter().map(|v| v.1)).collect();
    let (d0, d1) = (days.iter().copied().min().unwrap_or(0), days.iter().copied().max().unwrap_or(1));
    let (lo, hi) = (ys.iter().copied().fold(f64::MAX, f64::min).min(0.0), ys.iter().copied().fold(0.0, f64::max));
    let (top, step) = nice_axis(hi - lo);
    let (x0, w, y0, ht) = (60.0, 620.0, 40.0, 150.0);
    let x = |d: i64| x0 + w * d.saturating_sub(d0) as f64 / (d1.saturating_sub(d0).max(1)) as f64;
    let y = |v: f64| y0 + ht - ht * (v - lo) / top.max(1e-9);
    let line_of = |pts: &[(i64, f64)]| {
        pts.iter().map(|(d, v)| format!("{:.1},{:.1}", x(*d), y(*v))).collect::<Vec<_>>().join(" ")
    };
    let target_path: Vec<(i64, f64)> = base.iter().copied().chain(targets.iter().copied()).collect();
    let value_path: Vec<(i64, f64)> = vals.iter().map(|(d, v, _)| (*d, *v)).collect();
    let ticks: Vec<f64> = (0..).map(|k| lo + f64::from(k) * step).take_while(|t| *t <= lo + top + step / 2.0).collect();
    let year = |d: i64| accord_domain::date::format_date(d).get(..4).unwrap_or("").to_string();
    let years: Vec<(i64, String)> = {
        let mut out: Vec<(i64, String)> = Vec::new();
        for d in [d0, d1].iter().copied().chain(days.iter().copied()) {
            let yv = year(d);
            if !out.iter().any(|(_, y)| *y == yv) {
                out.push((parse_date(&format!("{yv}-12-31")).unwrap_or(d).clamp(d0, d1), yv));
            }
        }
        out
    };
    html! {
        div class="scroll chart" tabindex="0" { svg role="img" aria-label={ (i.indicator_id) " against its baseline and targets over time" } viewBox="0 0 720 220" width="100%" {
            line x1="60" y1="12" x2="84" y2="12" stroke="#999" stroke-width="2" stroke-dasharray="5 3" {}
            text x="90" y="16" font-size="12" { "baseline and targets" }
            line x1="250" y1="12" x2="274" y2="12" stroke="#1b3f6b" stroke-width="2" {}
            circle cx="262" cy="12" r="4" fill="#1b3f6b" {}
            text x="280" y="16" font-size="12" { "value used (verified where audited)" }
            @for t in &ticks {
                line x1="60" y1=(f1(y(*t))) x2="680" y2=(f1(y(*t))) stroke="#eee" stroke-width="1" {}
                text x="54" y=(f1(y(*t) + 4.0)) font-size="12" text-anchor="end" { (compact(*t)) }
            }
            line x1="60" y1=(f1(y0 + ht)) x2="680" y2=(f1(y0 + ht)) stroke="#444" stroke-width="1" {}
            @for (d, label) in &years {
                line x1=(f1(x(*d))) y1=(f1(y0 + ht)) x2=(f1(x(*d))) y2=(f1(y0 + ht + 5.0)) stroke="#444" stroke-width="1" {}
                text x=(f1(x(*d))) y=(f1(y0 + ht + 18.0)) font-size="12" text-anchor="middle" { (label) }
            }
            @if target_path.len() > 1 {
                polyline fill="none" stroke="#999" stroke-width="2" stroke-dasharray="5 3" points=(line_of(&target_path)) {}
            }
            @if let Some((d, v)) = base {
                circle cx=(f1(x(d))) cy=(f1(y(v))) r="4" fill="#fff" stroke="#666" stroke-width="2" { title { "baseline " (i.baseline) } }
                text x=(f1(x(d) + 6.0)) y=(f1(y(v) - 6.0)) font-size="12" { "baseline " (i.baseline) }
            }
            @for (d, v) in &targets {
                rect x=(f1(x(*d) - 3.5)) y=(f1(y(*v) - 3.5)) width="7" height="7" fill="#999" { title { "target " (v) } }
            }
            @if value_path.len() > 1 {
                polyline fill="none" stroke="#1b3f6b" stroke-width="2" points=(line_of(&value_path)) {}
            }
            @for (d, v, text_value) in &vals {
                circle cx=(f1(x(*d))) cy=(f1(y(*v))) r="5" fill="#1b3f6b" { title { (accord_domain::date::format_date(*d)) ": " (text_value) } }
                text x=(f1(x(*d))) y=(f1(y(*v) - 9.0)) font-size="12" text-anchor="middle" { (text_value) }
            }
        } }
    }
}

/// The stylesheet inlined in every HTML page (self-contained: no network), with print rules.
pub const CSS: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em;width:100%}th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:right}\
th:first-child,td:first-child{text-align:left}caption{text-align:left;font-weight:600}pre{white-space:pre-wrap;background:#f5f5f5;padding:.8em;font-size:.85em}\
.met{color:#2e7d32}.not_met,.withheld{color:#c62828}.pending{color:#8a6d00}\
.scroll{overflow-x:auto;max-width:100%}.chart svg{min-width:600px}code{overflow-wrap:anywhere;word-break:break-all}pre{overflow-wrap:anywhere}\
@media print{body{margin:0;max-width:none}section{break-inside:avoid}.chart svg{min-width:0}}";

/// A table; every header and cell is text (escaped). Each cell's class is its first comma-separated word
/// (so a status such as `not_met, unverified` is styled by the stylesheet).
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
