//! Renderers of a [`Report`]: CSV (one file per view, header row, optional HXL hashtag row), Markdown, and a
//! self-contained HTML page with inline SVG charts (no external assets; prints cleanly). Amounts are
//! rounded to cents half-to-even here and nowhere earlier. One file per format; the rows that several
//! formats draw the same way are here.
use rust_decimal::Decimal;

use super::{tables, FlowRow, Report};
use accord_domain::money;

mod csv;
mod html;
mod markdown;
mod zip;

pub use csv::{csv_files, csv_safe, CsvFile};
pub use html::{bars_svg, document, html, html_table, report_body, CSS};
pub use markdown::markdown;
pub use zip::zip_store;

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

fn co_financing_rows(cf: &crate::CoFinancing) -> Vec<Vec<String>> {
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
                f.txn_id.to_string(),
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
                r.pledge_id.to_string(),
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
                p.pledge_id.to_string(),
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
                k.pledge_id.to_string(),
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

/// The columns of the amendment log (DOMAIN.md §5): each amendment, withdrawal or reversal with its
/// rationale and the amount before → after.
pub const AMENDMENT_HEADER: &[&str] =
    &["subject", "entry", "date", "action", "rationale", "signed by", "old → new", "net change"];

fn amendment_rows(rep: &Report) -> Vec<Vec<String>> {
    amendment_rows_of(rep.amendments.iter())
}

/// The amendment-log rows of some subjects' logs (a subject page shows its own).
pub fn amendment_rows_of<'a>(logs: impl IntoIterator<Item = &'a crate::AmendmentLog>) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for a in logs {
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

fn indicator_rows(i: &crate::IndicatorProgress) -> Vec<Vec<String>> {
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
        let f = csv::csv("t", &["h"], Some(&["#tag"]), rows);
        assert_eq!(
            f.text,
            "h\r\n#tag\r\n\"a,b\",\"say \"\"x\"\"\",plain,'=cmd|' /C calc'!A0,-1250.00,+3,'-2+3,'@SUM(A1),'\tx,'-\r\n"
        );
    }
}
