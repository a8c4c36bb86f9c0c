//! Views described once, rendered in every format: a [`Table`] names its CSV file and HTML id, its title,
//! and each column's CSV name and human header; each cell says whether it is an amount, a percentage or
//! text, so CSV keeps exact decimals while Markdown and HTML round amounts to cents. The views of
//! DOMAIN.md §7 (milestones with targets, in-kind items, missing reports, periods, the correction log) are
//! defined here; the renderers in [`super::render`] draw every table the same way.
use super::Report;

/// One cell of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Text shown as it is (ids, names, dates, codes, counts).
    Text(String),
    /// An exact decimal amount (rounded to cents for people).
    Amount(String),
    /// A percentage with one decimal (shown with `%` for people, `–` when empty).
    Percent(String),
}

impl Cell {
    /// The exact value, for CSV.
    pub fn raw(&self) -> &str {
        match self {
            Cell::Text(s) | Cell::Amount(s) | Cell::Percent(s) => s,
        }
    }
    /// The value for people (Markdown, HTML).
    pub fn shown(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Amount(s) => super::render::amount(s),
            Cell::Percent(s) if s.is_empty() => "–".into(),
            Cell::Percent(s) => format!("{s}%"),
        }
    }
}

fn t(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn a(s: &str) -> Cell {
    Cell::Amount(s.into())
}

/// A view as a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// CSV file name (without `.csv`) and HTML id.
    pub id: &'static str,
    /// The heading people see (Markdown and HTML).
    pub title: &'static str,
    /// (CSV column name, human header) per column.
    pub columns: &'static [(&'static str, &'static str)],
    /// One cell per column, per row.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// The CSV column names.
    pub fn csv_header(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.0).collect()
    }
    /// The human column headers (Markdown and HTML).
    pub fn header(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.1).collect()
    }
    /// Every cell's exact value, for CSV.
    pub fn raw_rows(&self) -> Vec<Vec<String>> {
        self.rows.iter().map(|r| r.iter().map(|c| c.raw().to_string()).collect()).collect()
    }
    /// Every cell as shown to people: amounts rounded to cents, percentages with `%`.
    pub fn shown_rows(&self) -> Vec<Vec<String>> {
        self.rows.iter().map(|r| r.iter().map(Cell::shown).collect()).collect()
    }
}

/// Policy milestones: due dates (original and amended), status, days late, quantity done against target.
pub fn milestones(rep: &Report) -> Table {
    Table {
        id: "milestones",
        title: "Policy milestones",
        columns: &[
            ("pledge", "pledge"),
            ("milestone", "milestone"),
            ("title", "title"),
            ("original_due_date", "original due"),
            ("due_date", "due"),
            ("status", "status"),
            ("date", "date"),
            ("days_late", "days late"),
            ("quantity_done", "done"),
            ("quantity_target", "target"),
            ("unit", "unit"),
            ("percent_done", "% done"),
        ],
        rows: rep
            .delivery
            .milestones
            .iter()
            .map(|m| {
                vec![
                    t(&m.pledge_id),
                    t(&m.milestone_id),
                    t(&m.title),
                    t(&m.original_due_date),
                    t(&m.due_date),
                    t(&m.status),
                    t(&m.date),
                    t(m.days_late.to_string()),
                    t(&m.quantity_done),
                    t(&m.quantity_target),
                    t(&m.unit),
                    Cell::Percent(m.percent_done.clone()),
                ]
            })
            .collect(),
    }
}

/// In-kind help per item: quantity and value pledged, delivered and confirmed by the receiver.
pub fn in_kind_items(rep: &Report) -> Table {
    Table {
        id: "in_kind_items",
        title: "In-kind items",
        columns: &[
            ("pledge", "pledge"),
            ("item", "item"),
            ("description", "description"),
            ("unit", "unit"),
            ("quantity_pledged", "qty pledged"),
            ("quantity_delivered", "qty delivered"),
            ("quantity_confirmed", "qty confirmed"),
            ("value_pledged", "value pledged"),
            ("value_delivered", "value delivered"),
            ("value_confirmed", "value confirmed"),
            ("currency", "currency"),
            ("deliveries", "deliveries"),
            ("confirmed", "confirmed"),
        ],
        rows: rep
            .delivery
            .in_kind_items
            .iter()
            .map(|i| {
                vec![
                    t(&i.pledge_id),
                    t(if i.item_id.is_empty() { "(no item named)" } else { &i.item_id }),
                    t(&i.description),
                    t(&i.unit),
                    t(&i.quantity_pledged),
                    t(&i.quantity_delivered),
                    t(&i.quantity_confirmed),
                    a(&i.value_pledged),
                    a(&i.value_delivered),
                    a(&i.value_confirmed),
                    t(&i.currency),
                    t(i.deliveries.to_string()),
                    t(i.confirmed.to_string()),
                ]
            })
            .collect(),
    }
}

/// Reports owed and not filed, with the days they are overdue.
pub fn missing_reports(rep: &Report) -> Table {
    Table {
        id: "missing_reports",
        title: "Missing reports",
        columns: &[
            ("party", "reporter"),
            ("period_end", "period end"),
            ("due_date", "due"),
            ("days_overdue", "days overdue"),
        ],
        rows: rep
            .timeliness
            .iter()
            .flat_map(|x| {
                x.missing
                    .iter()
                    .map(|m| vec![t(&x.party), t(&m.period_end), t(&m.due_date), t(m.days_overdue.to_string())])
            })
            .collect(),
    }
}

/// Timeliness and verification per reporting period: one row per period.
pub fn periods(rep: &Report) -> Table {
    Table {
        id: "periods",
        title: "Reporting periods",
        columns: &[
            ("period_end", "period end"),
            ("reports_due", "due"),
            ("on_time", "on time"),
            ("missing", "missing"),
            ("punctuality_pct", "punctuality"),
            ("median_lag_days", "median lag (days)"),
            ("reports", "reports"),
            ("reports_attested", "attested"),
            ("attested_share_pct", "attested share"),
            ("median_attestation_lag_days", "attestation lag (days)"),
            ("reported_amount", "reported"),
            ("verified_amount", "verified"),
            ("verified_share_pct", "verified share"),
        ],
        rows: rep
            .periods
            .iter()
            .map(|p| {
                vec![
                    t(&p.period_end),
                    t(p.reports_due.to_string()),
                    t(p.on_time.to_string()),
                    t(p.missing.to_string()),
                    Cell::Percent(p.punctuality.clone()),
                    t(&p.median_lag_days),
                    t(p.reports.to_string()),
                    t(p.reports_attested.to_string()),
                    Cell::Percent(p.attested_share.clone()),
                    t(&p.median_attestation_lag_days),
                    a(&p.reported_amount),
                    a(&p.verified_amount),
                    Cell::Percent(p.verified_share.clone()),
                ]
            })
            .collect(),
    }
}

/// Every reporter within every period: its report or that it is missing, and what was verified of it.
pub fn period_reporters(rep: &Report) -> Table {
    Table {
        id: "period_reporters",
        title: "Reporters per period",
        columns: &[
            ("period_end", "period end"),
            ("party", "reporter"),
            ("status", "status"),
            ("report", "report"),
            ("due_date", "due"),
            ("integrated", "filed"),
            ("lag_days", "lag"),
            ("days_late", "days late"),
            ("days_overdue", "days overdue"),
            ("attested", "attested"),
            ("opinion", "opinion"),
            ("attestation_lag_days", "attestation lag"),
            ("reported_amount", "reported"),
            ("verified_amount", "verified"),
        ],
        rows: rep
            .periods
            .iter()
            .flat_map(|p| {
                p.reporters.iter().map(|r| {
                    vec![
                        t(&p.period_end),
                        t(&r.party),
                        t(&r.status),
                        t(&r.report_id),
                        t(&r.due_date),
                        t(&r.integrated),
                        t(&r.lag_days),
                        t(&r.days_late),
                        t(&r.days_overdue),
                        t(if r.attested { "yes" } else { "no" }),
                        t(&r.opinion),
                        t(&r.attestation_lag_days),
                        a(&r.reported_amount),
                        a(&r.verified_amount),
                    ]
                })
            })
            .collect(),
    }
}

/// The correction log: original, reversal and corrected re-entry of each reversed transaction, and the net
/// change on the transaction's last row.
pub fn corrections(rep: &Report) -> Table {
    let mut rows = Vec::new();
    for c in &rep.corrections {
        let last = c.steps.len().saturating_sub(1);
        for (i, s) in c.steps.iter().enumerate() {
            rows.push(vec![
                t(&c.txn_id),
                t(&s.step),
                t(&s.txn_id),
                t(s.entry.to_string()),
                t(&s.date),
                t(&s.value_date),
                t(s.signers.join(" ")),
                a(&s.amount),
                t(&s.currency),
                t(&s.rationale),
                if i == last { a(&c.net_change) } else { t("") },
            ]);
        }
    }
    Table {
        id: "corrections",
        title: "Correction log",
        columns: &[
            ("transaction", "transaction"),
            ("step", "step"),
            ("txn_id", "entered as"),
            ("entry", "entry"),
            ("date", "date"),
            ("value_date", "value date"),
            ("signers", "signed by"),
            ("amount", "amount"),
            ("currency", "currency"),
            ("rationale", "rationale"),
            ("net_change", "net change"),
        ],
        rows,
    }
}
