//! Renderers of a [`Report`]: CSV (one file per view, header row, optional HXL hashtag row), Markdown, and a
//! self-contained HTML page with inline SVG charts (no external assets; prints cleanly). Amounts are
//! rounded to cents half-to-even here and nowhere earlier.
use std::fmt::Write as _;

use maud::{html, Markup, PreEscaped, DOCTYPE};

use rust_decimal::Decimal;

use super::{tables, FlowRow, Report};
use crate::domain::money;

/// An amount for people: cents, banker's rounding, thousands separators. Empty stays empty.
pub fn amount(s: &str) -> String {
    let Ok(v) = Decimal::from_str_exact(s) else { return s.to_string() };
    let t = money::format_amount(v);
    let (sign, t) = t.strip_prefix('-').map_or(("", t.as_str()), |r| ("-", r));
    let (int, frac) = t.split_once('.').unwrap_or((t, "00"));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && int.len().saturating_sub(i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{frac}")
}

fn percent(s: &str) -> String {
    if s.is_empty() {
        "–".into()
    } else {
        format!("{s}%")
    }
}

/// One CSV table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvFile {
    pub name: String,
    pub text: String,
}

/// Whether a cell is a plain decimal number (`-1250.00`, `+3`, `42`): a spreadsheet reads it as a number,
/// never as a formula, so it is written as it is.
fn is_plain_number(s: &str) -> bool {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// Formula neutralisation (OWASP "CSV injection"): a cell that a spreadsheet would evaluate — one starting
/// with `=`, `+`, `-`, `@`, tab or carriage return — gets a leading `'`, unless it is a plain decimal number.
pub fn csv_safe(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_plain_number(s) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

fn csv(name: &str, header: &[&str], hxl: Option<&[&str]>, rows: Vec<Vec<String>>) -> CsvFile {
    // Quoting by the csv crate (RFC 4180, CRLF line ends); every data cell is neutralised first. Writing to a
    // Vec cannot fail, and a failed write would only shorten the file, never corrupt a cell.
    let mut w = csv::WriterBuilder::new().flexible(true).terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    let _ = w.write_record(header);
    if let Some(tags) = hxl {
        let _ = w.write_record(tags);
    }
    for r in &rows {
        let _ = w.write_record(r.iter().map(|c| csv_safe(c).into_owned()));
    }
    let text = w.into_inner().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    CsvFile { name: format!("{name}.csv"), text }
}

const FLOW_HEADER: &[&str] = &[
    "key",
    "name",
    "currency",
    "pledged",
    "committed",
    "disbursed",
    "conversion_pct",
    "fulfilment_pct",
    "execution_pct",
    "uncommitted",
    "pipeline",
];
const FLOW_HXL: &[&str] = &[
    "#org+code",
    "#org+name",
    "#currency",
    "#value+pledged",
    "#value+committed",
    "#value+funding+disbursed",
    "#indicator+pct+conversion",
    "#indicator+pct+fulfilment",
    "#indicator+pct+execution",
    "#value+uncommitted",
    "#value+pipeline",
];

fn flow_cells(r: &FlowRow) -> Vec<String> {
    vec![
        r.key.clone(),
        r.name.clone(),
        r.currency.clone(),
        r.pledged.clone(),
        r.committed.clone(),
        r.disbursed.clone(),
        r.conversion.clone(),
        r.fulfilment.clone(),
        r.execution.clone(),
        r.uncommitted.clone(),
        r.pipeline.clone(),
    ]
}

/// Every view as CSV, one file each. Amounts are the exact decimals of the report.
pub fn csv_files(rep: &Report, hxl: bool) -> Vec<CsvFile> {
    let h = |tags: &'static [&'static str]| if hxl { Some(tags) } else { None };
    let f = &rep.funding;
    let mut donors: Vec<Vec<String>> = f.by_donor.iter().map(flow_cells).collect();
    donors.push(flow_cells(&f.total_external));
    let mut out = vec![
        csv("funding_by_donor", FLOW_HEADER, h(FLOW_HXL), donors),
        csv("funding_by_goal", FLOW_HEADER, h(FLOW_HXL), f.by_goal.iter().map(flow_cells).collect()),
        csv("funding_by_recipient", FLOW_HEADER, h(FLOW_HXL), f.by_recipient.iter().map(flow_cells).collect()),
        csv("funding_by_year", FLOW_HEADER, h(FLOW_HXL), f.by_year.iter().map(flow_cells).collect()),
        csv("funding_pledge_currency", FLOW_HEADER, h(FLOW_HXL), f.pledge_currency.iter().map(flow_cells).collect()),
    ];
    let c = &rep.coverage;
    out.push(csv(
        "plan_coverage",
        &["requirement", "funded", "paid", "committed_unpaid", "percent_funded", "unmet", "pledged_beside"],
        h(&[
            "#value+requirement",
            "#value+funding",
            "#value+paid",
            "#value+committed",
            "#indicator+pct",
            "#value+unmet",
            "#value+pledged",
        ]),
        vec![vec![
            c.requirement.clone(),
            c.funded.clone(),
            c.paid.clone(),
            c.committed_unpaid.clone(),
            c.percent_funded.clone(),
            c.unmet.clone(),
            c.pledged_beside.clone(),
        ]],
    ));
    let mut internal: Vec<Vec<String>> = c
        .internal_flows
        .iter()
        .map(|f| {
            vec![
                f.txn_id.clone(),
                f.transaction_type.to_string(),
                f.date.clone(),
                f.provider.clone(),
                f.receiver.clone(),
                f.amount.clone(),
                f.currency.clone(),
                f.converted.clone(),
            ]
        })
        .collect();
    let mut total_row = vec!["total_internal".to_string()];
    total_row.extend(std::iter::repeat_n(String::new(), 6));
    total_row.push(c.internal_total.clone());
    internal.push(total_row);
    out.push(csv(
        "internal_flows",
        &["txn_id", "transaction_type", "date", "provider", "receiver", "amount", "currency", "converted"],
        None,
        internal,
    ));
    out.push(csv(
        "new_money",
        &["new_money", "pledged", "share_pct"],
        None,
        vec![vec![rep.new_money.new_money.clone(), rep.new_money.pledged.clone(), rep.new_money.share.clone()]],
    ));
    out.push(csv(
        "new_money_by_pledge",
        &["pledge_id", "pledger", "claims_new_money", "pledged", "restated", "new_money", "restates"],
        None,
        rep.new_money
            .by_pledge
            .iter()
            .map(|p| {
                vec![
                    p.pledge_id.clone(),
                    p.pledger.clone(),
                    p.claims_new_money.to_string(),
                    p.pledged.clone(),
                    p.restated.clone(),
                    p.new_money.clone(),
                    p.restates.join(" "),
                ]
            })
            .collect(),
    ));
    out.push(csv(
        "usage_years",
        &["year", "amount"],
        h(&["#date+year", "#value"]),
        rep.usage_years
            .iter()
            .map(|y| vec![y.year.to_string(), y.amount.clone()])
            .chain(std::iter::once(vec!["total".to_string(), rep.usage_years_total.clone()]))
            .collect(),
    ));
    let mut tr = Vec::new();
    for cv in &rep.tranches.conditions {
        for t in &cv.tranches {
            tr.push(vec![
                cv.condition_id.clone(),
                t.tranche_id.clone(),
                t.commitment_id.clone(),
                t.recipient.clone(),
                t.value.clone(),
                t.currency.clone(),
                t.status.clone(),
                t.outcome.clone(),
                t.date.clone(),
                cv.assessor.clone(),
            ]);
        }
        if !cv.uncommitted_at_stake.is_empty() {
            tr.push(vec![
                cv.condition_id.clone(),
                String::new(),
                String::new(),
                String::new(),
                cv.uncommitted_at_stake.clone(),
                cv.currency.clone(),
                cv.uncommitted_status.clone(),
                cv.status.clone(),
                String::new(),
                cv.assessor.clone(),
            ]);
        }
    }
    out.push(csv(
        "conditional_tranches",
        &[
            "condition",
            "tranche",
            "commitment",
            "recipient",
            "amount",
            "currency",
            "status",
            "outcome",
            "date",
            "assessor",
        ],
        None,
        tr,
    ));
    let mut cf = Vec::new();
    for c in &rep.co_financing {
        for r in &c.rows {
            cf.push(vec![
                c.condition_id.clone(),
                r.year.clone(),
                r.party.clone(),
                r.external_grants.clone(),
                r.required.clone(),
                r.realised.clone(),
                r.realised_over_grants.clone(),
                r.fulfilment.clone(),
                r.realised_over_own_pledge.clone(),
                r.result.clone(),
                r.verified.to_string(),
                r.opinion.clone(),
            ]);
        }
    }
    out.push(csv(
        "co_financing",
        &[
            "condition",
            "year",
            "party",
            "external_grants",
            "required",
            "realised",
            "realised_over_grants_pct",
            "fulfilment_pct",
            "realised_over_own_pledge_pct",
            "result",
            "verified",
            "opinion",
        ],
        None,
        cf,
    ));
    let mut ind = Vec::new();
    for i in &rep.indicators {
        for v in &i.values {
            ind.push(vec![
                i.indicator_id.clone(),
                v.report_id.clone(),
                v.period_end.clone(),
                i.baseline.clone(),
                i.end_target.clone(),
                v.reported.clone(),
                v.verified.clone(),
                v.opinion.clone(),
                v.progress_to_end_target.clone(),
                v.progress_to_period_target.clone(),
            ]);
        }
    }
    out.push(csv(
        "indicator_progress",
        &[
            "indicator",
            "report",
            "period_end",
            "baseline",
            "end_target",
            "reported",
            "verified",
            "opinion",
            "progress_end_pct",
            "progress_period_pct",
        ],
        None,
        ind,
    ));
    out.push(csv_table(&tables::milestones(rep)));
    out.push(csv_table(&tables::in_kind_items(rep)));
    out.push(csv(
        "timeliness",
        &["party", "reports", "median_lag_days", "p90_lag_days", "reports_due", "on_time", "punctuality_pct"],
        None,
        rep.timeliness
            .iter()
            .map(|t| {
                vec![
                    t.party.clone(),
                    t.reports.len().to_string(),
                    t.median_lag_days.clone(),
                    t.p90_lag_days.clone(),
                    t.reports_due.to_string(),
                    t.on_time.to_string(),
                    t.punctuality.clone(),
                ]
            })
            .collect(),
    ));
    let v = &rep.verification;
    out.push(csv(
        "verification",
        &[
            "reported_amount",
            "verified_amount",
            "verified_share_pct",
            "reports",
            "reports_attested",
            "attested_share_pct",
        ],
        None,
        vec![vec![
            v.reported_amount.clone(),
            v.verified_amount.clone(),
            v.verified_share.clone(),
            v.reports.to_string(),
            v.reports_attested.to_string(),
            v.attested_share.clone(),
        ]],
    ));
    let mut am = Vec::new();
    for a in &rep.amendments {
        for c in &a.corrections {
            am.push(vec![
                a.kind.clone(),
                a.id.clone(),
                c.index.to_string(),
                c.date.clone(),
                c.action.clone(),
                c.rationale.clone(),
                c.signers.join(" "),
                a.net_change.clone(),
                a.currency.clone(),
            ]);
        }
    }
    out.push(csv(
        "amendments",
        &["kind", "id", "entry", "date", "action", "rationale", "signers", "net_change", "currency"],
        None,
        am,
    ));
    for t in
        [tables::missing_reports(rep), tables::periods(rep), tables::period_reporters(rep), tables::corrections(rep)]
    {
        out.push(csv_table(&t));
    }
    if !rep.unconverted.is_empty() {
        out.push(csv(
            "unconverted",
            &["entry", "from", "to", "value_date", "amount", "reason"],
            None,
            unconverted_rows(rep),
        ));
    }
    out
}

/// The amounts left out of converted totals, one row each.
fn unconverted_rows(rep: &Report) -> Vec<Vec<String>> {
    rep.unconverted
        .iter()
        .map(|u| {
            vec![
                u.entry.to_string(),
                u.from.clone(),
                u.to.clone(),
                u.value_date.clone(),
                u.amount.clone(),
                u.reason.clone(),
            ]
        })
        .collect()
}

/// A [`tables::Table`] as one CSV file (exact values).
fn csv_table(t: &tables::Table) -> CsvFile {
    csv(t.id, &t.csv_header(), None, t.raw_rows())
}

/// A [`tables::Table`] under its own heading, in Markdown (amounts for people).
fn md_view(out: &mut String, t: &tables::Table) {
    let _ = writeln!(out, "### {}\n", t.title);
    md_table(out, &t.header(), t.shown_rows());
}

/// A [`tables::Table`] under its own heading, in HTML (amounts for people).
fn html_view(t: &tables::Table) -> Markup {
    html! {
        h3 { (t.title) }
        (html_table(&t.header(), t.shown_rows(), t.id))
    }
}

fn md_table(out: &mut String, header: &[&str], rows: Vec<Vec<String>>) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}|", header.iter().map(|_| "---").collect::<Vec<_>>().join("|"));
    for r in rows {
        let _ = writeln!(out, "| {} |", r.iter().map(|c| c.replace('|', "\\|")).collect::<Vec<_>>().join(" | "));
    }
    out.push('\n');
}

fn flow_md(r: &FlowRow) -> Vec<String> {
    vec![
        if r.name.is_empty() { r.key.clone() } else { r.name.clone() },
        amount(&r.pledged),
        amount(&r.committed),
        amount(&r.disbursed),
        percent(&r.conversion),
        percent(&r.fulfilment),
        percent(&r.execution),
        amount(&r.uncommitted),
        amount(&r.pipeline),
    ]
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
    let h =
        &["", "pledged P", "committed C", "disbursed D", "C/P", "D/P", "D/C", "uncommitted P − C", "pipeline C − D"];
    let _ =
        writeln!(o, "## Pledged, committed, disbursed ({}; each flow at its value-date rate)\n", rep.funding.currency);
    let mut rows: Vec<Vec<String>> = rep.funding.by_donor.iter().map(flow_md).collect();
    rows.push(flow_md(&rep.funding.total_external));
    md_table(&mut o, h, rows);
    let _ = writeln!(o, "### In each donor's pledge currency\n");
    md_table(
        &mut o,
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
    md_table(&mut o, h, rep.funding.by_goal.iter().map(flow_md).collect());
    let _ = writeln!(o, "### By recipient\n");
    md_table(&mut o, h, rep.funding.by_recipient.iter().map(flow_md).collect());
    let _ = writeln!(o, "### By year\n");
    md_table(&mut o, h, rep.funding.by_year.iter().map(flow_md).collect());
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
    md_table(&mut o, INTERNAL_HEADER, internal_rows(rep));
    let n = &rep.new_money;
    let _ = writeln!(
        o,
        "## New money\n\nNew money {} of {} pledged ({}).\n",
        amount(&n.new_money),
        amount(&n.pledged),
        percent(&n.share)
    );
    md_table(&mut o, NEW_MONEY_PLEDGE_HEADER, new_money_pledge_rows(rep));
    md_table(&mut o, NEW_MONEY_PLEDGER_HEADER, new_money_pledger_rows(rep));
    for r in &n.restatements {
        let withdrawn = if r.status == "withdrawn" { " (withdrawn: no longer restated)" } else { "" };
        let _ =
            writeln!(o, "- {} restates {} {} of {}{withdrawn}", r.pledge_id, amount(&r.amount), r.currency, r.restates);
    }
    let _ = writeln!(o, "## Usage years\n");
    md_table(&mut o, &["year", "committed"], usage_rows(rep));
    let _ = writeln!(o, "## Conditional tranches\n");
    let mut rows = Vec::new();
    for cv in &rep.tranches.conditions {
        for t in &cv.tranches {
            rows.push(vec![
                cv.condition_id.clone(),
                t.tranche_id.clone(),
                t.recipient.clone(),
                format!("{} {}", amount(&t.value), t.currency),
                t.status.clone(),
                format!("{} {}", t.outcome, t.date),
            ]);
        }
        if !cv.uncommitted_at_stake.is_empty() {
            rows.push(vec![
                cv.condition_id.clone(),
                "(not yet in a commitment)".into(),
                String::new(),
                format!("{} {}", amount(&cv.uncommitted_at_stake), cv.currency),
                cv.uncommitted_status.clone(),
                cv.status.clone(),
            ]);
        }
    }
    md_table(&mut o, &["condition", "tranche", "recipient", "amount", "status", "assessment"], rows);
    md_table(
        &mut o,
        &["status", "currency", "total"],
        rep.tranches.totals.iter().map(|t| vec![t.status.clone(), t.currency.clone(), amount(&t.amount)]).collect(),
    );
    for cf in &rep.co_financing {
        let _ = writeln!(
            o,
            "## Co-financing {} (own resources ≥ {} × external grants received)\n",
            cf.condition_id, cf.ratio
        );
        md_table(
            &mut o,
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
    let _ = writeln!(o, "## Indicator progress\n");
    let mut rows = Vec::new();
    for i in &rep.indicators {
        for v in &i.values {
            rows.push(vec![
                i.indicator_id.clone(),
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
        &mut o,
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
    md_table(&mut o, INKIND_HEADER, inkind_rows(rep));
    md_view(&mut o, &tables::in_kind_items(rep));
    md_view(&mut o, &tables::milestones(rep));
    let _ = writeln!(o, "## Timeliness\n");
    md_table(&mut o, TIMELINESS_HEADER, timeliness_rows(rep));
    md_view(&mut o, &tables::missing_reports(rep));
    md_view(&mut o, &tables::periods(rep));
    md_view(&mut o, &tables::period_reporters(rep));
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
    md_table(&mut o, AMENDMENT_HEADER, amendment_rows(rep));
    md_view(&mut o, &tables::corrections(rep));
    if !rep.unconverted.is_empty() {
        let _ = writeln!(o, "## Unconverted amounts\n");
        md_table(&mut o, &["entry", "from", "to", "value date", "amount", "reason"], unconverted_rows(rep));
    }
    let _ = writeln!(o, "## Checkpoint\n\n```\n{}```", rep.read_at.checkpoint);
    o
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
        svg role="img" aria-label=(title) viewBox={ "0 0 720 " (h) } width="100%" {
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
        }
    }
}

/// Realised co-financing against the required amount, per party.
fn cofinancing_svg(cf: &super::CoFinancing) -> Markup {
    let max = cf.rows.iter().flat_map(|r| [num(&r.required), num(&r.realised)]).fold(0.0, f64::max).max(1.0);
    let h = 20.0 + 34.0 * cf.rows.len() as f64;
    html! {
        svg role="img" aria-label="co-financing against the rule" viewBox={ "0 0 720 " (h) } width="100%" {
            @for (i, r) in cf.rows.iter().enumerate() {
                @let y = 10.0 + 34.0 * i as f64;
                @let colour = if r.result == "met" { "#2e7d32" } else { "#c62828" };
                @let x = f1(120.0 + 520.0 * num(&r.required) / max);
                text x="0" y=(y + 14.0) font-size="12" { (r.party) " " (r.year) }
                rect x="120" y=(y) width=(f1(520.0 * num(&r.realised) / max)) height="16" fill=(colour) {}
                line x1=(x) y1=(y - 3.0) x2=(x) y2=(y + 19.0) stroke="#000" stroke-width="2" {}
            }
        }
    }
}

/// Indicator values against the target path.
fn indicator_svg(i: &super::IndicatorProgress) -> Markup {
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
        svg role="img" aria-label={ (i.indicator_id) " against targets" } viewBox="0 0 720 170" width="100%" {
            polyline fill="none" stroke="#999" stroke-dasharray="4 3" points=(path.join(" ")) {}
            @for (d, v) in &vals {
                circle cx=(f1(x(d))) cy=(f1(y(*v))) r="5" fill="#1b3f6b" { title { (d) ": " (v) } }
            }
        }
    }
}

pub const CSS: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em;width:100%}th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:right}\
th:first-child,td:first-child{text-align:left}caption{text-align:left;font-weight:600}pre{white-space:pre-wrap;background:#f5f5f5;padding:.8em;font-size:.85em}\
.met{color:#2e7d32}.notMet,.withheld{color:#c62828}.pending{color:#8a6d00}@media print{body{margin:0;max-width:none}section{break-inside:avoid}}";

/// A table; every header and cell is text (escaped). Each cell's class is its first comma-separated word
/// (so a status such as `notMet, unverified` is styled by the stylesheet).
pub fn html_table(header: &[&str], rows: Vec<Vec<String>>, id: &str) -> Markup {
    html! {
        table id=(id) {
            thead { tr { @for h in header { th { (h) } } } }
            tbody {
                @for r in &rows {
                    tr { @for c in r { td class=(c.split(',').next().unwrap_or("")) { (c) } } }
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
/// our own constant markup (e.g. [`super::VERIFY_HELP`]), never data.
pub fn html(rep: &Report, verify_help: &'static str) -> String {
    document(&format!("{} — Accord report", rep.plan.title), html! {}, report_body(rep, verify_help)).into_string()
}

fn co_financing_rows(cf: &super::CoFinancing) -> Vec<Vec<String>> {
    cf.rows
        .iter()
        .map(|r| {
            vec![
                format!("{} {}", r.party, r.year),
                amount(&r.external_grants),
                amount(&r.required),
                amount(&r.realised),
                percent(&r.realised_over_grants),
                percent(&r.fulfilment),
                format!("{}{}", r.result, if r.verified { "" } else { ", unverified" }),
                r.opinion.clone(),
            ]
        })
        .collect()
}

const INTERNAL_HEADER: &[&str] = &["transaction", "type", "date", "provider", "receiver", "amount", "converted"];

/// The internal flows of the plan, then their total in the reporting currency.
fn internal_rows(rep: &Report) -> Vec<Vec<String>> {
    let c = &rep.coverage;
    let mut rows: Vec<Vec<String>> = c
        .internal_flows
        .iter()
        .map(|f| {
            vec![
                f.txn_id.clone(),
                f.transaction_type.to_string(),
                f.date.clone(),
                f.provider.clone(),
                f.receiver.clone(),
                format!("{} {}", amount(&f.amount), f.currency),
                amount(&f.converted),
            ]
        })
        .collect();
    let total = if c.internal_total.is_empty() { "0".to_string() } else { c.internal_total.clone() };
    rows.push(vec![
        "Total internal".into(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        amount(&total),
    ]);
    rows
}

fn usage_rows(rep: &Report) -> Vec<Vec<String>> {
    let total = if rep.usage_years_total.is_empty() { "0" } else { rep.usage_years_total.as_str() };
    rep.usage_years
        .iter()
        .map(|y| vec![y.year.to_string(), amount(&y.amount)])
        .chain(std::iter::once(vec!["Total".to_string(), amount(total)]))
        .collect()
}

const RESTATEMENT_HEADER: &[&str] = &["pledge", "restates", "amount", "status"];

fn restatement_rows(rep: &Report) -> Vec<Vec<String>> {
    rep.new_money
        .restatements
        .iter()
        .map(|r| {
            vec![
                r.pledge_id.clone(),
                r.restates.clone(),
                format!("{} {}", amount(&r.amount), r.currency),
                r.status.clone(),
            ]
        })
        .collect()
}

const NEW_MONEY_PLEDGE_HEADER: &[&str] =
    &["pledge", "pledger", "claims new money", "pledged (in P)", "restates", "restated", "new money"];

/// New money per pledge (DOMAIN.md §7).
fn new_money_pledge_rows(rep: &Report) -> Vec<Vec<String>> {
    let n = &rep.new_money;
    n.by_pledge
        .iter()
        .map(|p| {
            vec![
                p.pledge_id.clone(),
                p.pledger.clone(),
                if p.claims_new_money { "yes".into() } else { "no".into() },
                amount(&p.pledged),
                p.restates.join(", "),
                amount(&p.restated),
                amount(&p.new_money),
            ]
        })
        .collect()
}

const NEW_MONEY_PLEDGER_HEADER: &[&str] = &["pledger", "pledged (in P)", "new money", "share"];

fn new_money_pledger_rows(rep: &Report) -> Vec<Vec<String>> {
    rep.new_money
        .by_pledger
        .iter()
        .map(|p| vec![p.pledger.clone(), amount(&p.pledged), amount(&p.new_money), percent(&p.share)])
        .collect()
}

const INKIND_HEADER: &[&str] = &["pledge", "pledged", "delivered", "share"];

fn inkind_rows(rep: &Report) -> Vec<Vec<String>> {
    rep.delivery
        .in_kind
        .iter()
        .map(|k| {
            vec![
                k.pledge_id.clone(),
                format!("{} {}", amount(&k.pledged), k.currency),
                amount(&k.delivered),
                percent(&k.share),
            ]
        })
        .collect()
}

const TIMELINESS_HEADER: &[&str] =
    &["party", "reports", "median lag (days)", "p90 lag", "due", "on time", "punctuality"];

fn timeliness_rows(rep: &Report) -> Vec<Vec<String>> {
    rep.timeliness
        .iter()
        .map(|t| {
            vec![
                t.party.clone(),
                t.reports.len().to_string(),
                t.median_lag_days.clone(),
                t.p90_lag_days.clone(),
                t.reports_due.to_string(),
                t.on_time.to_string(),
                percent(&t.punctuality),
            ]
        })
        .collect()
}

const AMENDMENT_HEADER: &[&str] =
    &["subject", "entry", "date", "action", "rationale", "signed by", "old → new", "net change"];

fn amendment_rows(rep: &Report) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for a in &rep.amendments {
        for c in &a.corrections {
            rows.push(vec![
                format!("{} {}", a.kind, a.id),
                c.index.to_string(),
                c.date.clone(),
                c.action.clone(),
                c.rationale.clone(),
                c.signers.join(", "),
                if c.old_amount.is_empty() {
                    String::new()
                } else {
                    format!("{} → {} {}", amount(&c.old_amount), amount(&c.new_amount), a.currency)
                },
                if a.net_change.is_empty() {
                    String::new()
                } else {
                    format!("{} {}", amount(&a.net_change), a.currency)
                },
            ]);
        }
    }
    rows
}

fn indicator_rows(i: &super::IndicatorProgress) -> Vec<Vec<String>> {
    i.values
        .iter()
        .map(|v| {
            vec![
                v.period_end.clone(),
                v.reported.clone(),
                v.verified.clone(),
                v.opinion.clone(),
                percent(&v.progress_to_end_target),
                percent(&v.progress_to_period_target),
            ]
        })
        .collect()
}

/// The report's content (everything inside `<body>`), for the HTML report and the public plan page.
pub fn report_body(rep: &Report, verify_help: &'static str) -> Markup {
    let p = &rep.plan;
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
    let c = &rep.coverage;
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
                cv.condition_id.clone(),
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
        section {
            h2 { "Conditional tranches" }
            (html_table(&["condition / tranche", "recipient", "amount", "status", "assessment"], tranches, "tranches"))
            (html_table(&["status", "total"], totals, "tranche-totals"))
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_rounded_half_even_and_grouped() {
        assert_eq!(amount("130200000"), "130,200,000.00");
        assert_eq!(amount("30075000.005"), "30,075,000.00");
        assert_eq!(amount("0.015"), "0.02");
        assert_eq!(amount("-1234.5"), "-1,234.50");
        assert_eq!(amount(""), "");
    }

    #[test]
    fn csv_quotes_what_needs_quoting_and_neutralises_formulas() {
        let rows = vec![vec![
            "a,b".to_string(),
            "say \"x\"".into(),
            "plain".into(),
            "=cmd|' /C calc'!A0".into(),
            "-1250.00".into(),
            "+3".into(),
            "-2+3".into(),
            "@SUM(A1)".into(),
            "\tx".into(),
            "-".into(),
        ]];
        let f = csv("t", &["h"], Some(&["#tag"]), rows);
        assert_eq!(
            f.text,
            "h\r\n#tag\r\n\"a,b\",\"say \"\"x\"\"\",plain,'=cmd|' /C calc'!A0,-1250.00,+3,'-2+3,'@SUM(A1),'\tx,'-\r\n"
        );
    }
}
