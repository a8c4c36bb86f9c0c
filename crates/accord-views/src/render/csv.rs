//! The report as CSV files: one per view, a header row, an optional HXL hashtag row.
use super::*;

/// One CSV table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvFile {
    /// The file name, `.csv` included.
    pub name: String,
    /// The contents (RFC 4180, CRLF line ends): the header row, the HXL hashtag row when asked for, the rows.
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

pub(super) fn csv(name: &str, header: &[&str], hxl: Option<&[&str]>, rows: Vec<Vec<String>>) -> CsvFile {
    // Quoting by the csv crate (RFC 4180, CRLF line ends); every data cell is neutralised first. Writing to a
    // Vec cannot fail, and a failed write would only shorten the file, never corrupt a cell.
    let mut w = ::csv::WriterBuilder::new().flexible(true).terminator(::csv::Terminator::CRLF).from_writer(Vec::new());
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
    let mut out = funding_files(rep, hxl);
    out.extend(new_money_files(rep, hxl));
    out.extend(tranche_files(rep));
    out.extend(cofinancing_and_indicator_files(rep));
    out.extend(delivery_files(rep));
    out.extend(record_files(rep));
    out
}

/// Funding by donor, goal, recipient, year and pledge currency; plan coverage; internal flows.
fn funding_files(rep: &Report, hxl: bool) -> Vec<CsvFile> {
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
                f.txn_id.to_string(),
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
    out
}

/// New money, per pledge, and the usage years.
fn new_money_files(rep: &Report, hxl: bool) -> Vec<CsvFile> {
    let h = |tags: &'static [&'static str]| if hxl { Some(tags) } else { None };
    let mut out = Vec::new();
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
                    p.pledge_id.to_string(),
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
    out
}

/// Conditional tranches.
fn tranche_files(rep: &Report) -> Vec<CsvFile> {
    let mut out = Vec::new();
    let mut tr = Vec::new();
    for cv in &rep.tranches.conditions {
        for t in &cv.tranches {
            tr.push(vec![
                cv.condition_id.to_string(),
                t.tranche_id.to_string(),
                t.commitment_id.to_string(),
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
                cv.condition_id.to_string(),
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
    out
}

/// Co-financing tests and indicator values.
fn cofinancing_and_indicator_files(rep: &Report) -> Vec<CsvFile> {
    let mut out = Vec::new();
    let mut cf = Vec::new();
    for c in &rep.co_financing {
        for r in &c.rows {
            cf.push(vec![
                c.condition_id.to_string(),
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
                i.indicator_id.to_string(),
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
    out
}

/// Milestones, in-kind items and timeliness.
fn delivery_files(rep: &Report) -> Vec<CsvFile> {
    let mut out = Vec::new();
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
    out
}

/// Verification, amendments, missing reports, periods, corrections and unconverted amounts.
fn record_files(rep: &Report) -> Vec<CsvFile> {
    let mut out = Vec::new();
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

/// A [`tables::Table`] as one CSV file (exact values).
fn csv_table(t: &tables::Table) -> CsvFile {
    csv(t.id, &t.csv_header(), None, t.raw_rows())
}
