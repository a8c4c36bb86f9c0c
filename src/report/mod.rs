//! Transparency reports at the server's edge. The views themselves are the pure crate `accord-views`
//! (re-exported here): one file per view of DOMAIN.md §5 and §7 over a plan's context, the JSON model, the
//! renderers and the IATI and OCDS exports. This module gives them what they read ([`Source`] for the
//! SQLite reader, and [`replay::MemoryBook`] for a downloaded log), answers `GetReport`, and recomputes a
//! report for `accord report verify`.
pub mod replay;

pub use accord_views::*;

use crate::domain::book::{Subject, SubjectKind};
use crate::domain::Governance;
use crate::error;
use crate::ledger::ReadView;
use crate::pb;
use crate::store::{EntryRow, Reader, SubjectFilter};
use accord_domain::statement as ds;

impl Source for Reader {
    fn scan(&self, kind: SubjectKind, plan_id: &str) -> accord_views::Result<Vec<Subject>> {
        let mut out = Vec::new();
        let f = SubjectFilter { kind: kind.to_string(), plan_id: plan_id.into(), ..Default::default() };
        self.scan_subjects(&f, |s| {
            out.push(s);
            Ok::<_, error::Error>(true)
        })
        .map_err(error::state)?;
        Ok(out)
    }
    fn integrated_ms(&self, index: u64) -> accord_views::Result<Option<i64>> {
        Ok(self.entry_by_index(index).map_err(error::state)?.map(|e| e.integrated_at_ms))
    }
    fn statement(&self, index: u64) -> accord_views::Result<Option<(ds::Statement, Vec<String>)>> {
        let entry = self.entry_by_index(index).map_err(error::state)?;
        entry.map(|e| crate::proto::signed_statement_of_leaf(&e.leaf)).transpose().map_err(error::state)
    }
    fn history(&self, kind: SubjectKind, id: &str) -> accord_views::Result<Vec<History>> {
        let rows = Reader::history(self, kind, id).map_err(error::state)?;
        Ok(rows.into_iter().map(|h| History { index: h.index, action: h.action }).collect())
    }
    fn governance(&self) -> accord_views::Result<Governance> {
        Reader::governance(self).map_err(error::state)
    }
}

/// The checkpoint a report is computed at, from the wire.
pub fn read_at(at: &pb::ReadAt) -> ReadAt {
    ReadAt {
        tree_size: at.tree_size,
        root_hash: at.root_hash.clone(),
        checkpoint: at.checkpoint.clone(),
        as_of_date: at.as_of_date.clone(),
    }
}

/// A plan's report read through a ledger view at the checkpoint `at` (what the edge holds; call inside
/// [`crate::ledger::Ledger::snapshot`]).
pub fn plan_report_at(view: &ReadView<'_>, plan_id: &str, at: &ReadAt) -> error::Result<Report> {
    Ok(plan_report(view.store_reader(), plan_id, at)?)
}

/// Answer a `GetReport` request through a ledger view: compute the report at the latest checkpoint inside
/// one snapshot and render the requested format.
pub fn serve_report(view: &ReadView<'_>, q: &pb::GetReportRequest) -> error::Result<pb::GetReportResponse> {
    crate::domain::check_id("plan_id", &q.plan_id)?;
    let format = if q.format.is_empty() { "json" } else { q.format.as_str() };
    if !FORMATS.contains(&format) {
        return Err(error::Error::invalid("format", format!("{format:?} is not one of {}", FORMATS.join(", "))));
    }
    view.store_reader().snapshot(|r| {
        let wire_at = crate::query::read_at(r)?;
        let at = read_at(&wire_at);
        let rep = plan_report(r, &q.plan_id, &at)?;
        let json = rep.canonical_json();
        let file = |name: String, media: &str, content: String| pb::ReportFile {
            name,
            media_type: media.into(),
            content: content.into_bytes(),
        };
        let files = match format {
            "markdown" => vec![file(format!("{}.md", q.plan_id), "text/markdown", render::markdown(&rep))],
            "html" => vec![file(format!("{}.html", q.plan_id), "text/html", render::html(&rep, VERIFY_HELP))],
            "csv" => render::csv_files(&rep, q.hxl).into_iter().map(|f| file(f.name, "text/csv", f.text)).collect(),
            "iati" => vec![file(
                format!("{}.iati.xml", q.plan_id),
                "application/xml",
                iati::iati_activities(r, &rep, &at.as_of_date)?,
            )],
            "ocds" => {
                vec![file(format!("{}.ocds.json", q.plan_id), "application/json", ocds::release_package(r, &rep, &at)?)]
            }
            _ => Vec::new(),
        };
        Ok(pb::GetReportResponse { read_at: Some(wire_at), canonical_json: json, files })
    })
}

/// Recompute a plan's report from entries already checked against the signed checkpoint `at`: replay them
/// in memory (every signature and rule re-checked, signatures in parallel) and compute the report the way
/// the server does. `at` is the checkpoint as the server named it; its as-of date is recomputed here.
pub fn recompute(
    origin: &str,
    entries: Vec<EntryRow>,
    plan_id: &str,
    at: &pb::ReadAt,
    progress: impl FnMut(u64),
) -> error::Result<Report> {
    let at = as_of(at, entries.last().map(|e| e.integrated_at_ms));
    let book = replay::MemoryBook::replay(origin, entries, progress)?;
    Ok(plan_report(&book, plan_id, &at)?)
}

/// Recompute a plan's report from its book read through the index (docs/INDEX.md §11): `entries` with
/// gaps ([`replay::MemoryBook::replay_part`]), the entries its attestations cover outside it (`known`),
/// and the integration time of the checkpoint's last entry (its as-of date), all checked against `at`.
pub fn recompute_part(
    origin: &str,
    entries: Vec<EntryRow>,
    known: &[(Vec<u8>, u64)],
    last_integrated_ms: Option<i64>,
    plan_id: &str,
    at: &pb::ReadAt,
    progress: impl FnMut(u64),
) -> error::Result<Report> {
    let at = as_of(at, last_integrated_ms);
    let book = replay::MemoryBook::replay_part(origin, entries, known, progress)?;
    Ok(plan_report(&book, plan_id, &at)?)
}

/// The checkpoint `at` as a report names it: its as-of date is the day its last entry was integrated.
fn as_of(at: &pb::ReadAt, last_integrated_ms: Option<i64>) -> ReadAt {
    use crate::domain::date::{day_of_ms, format_date};
    let mut at = read_at(at);
    at.as_of_date = last_integrated_ms.map(|ms| format_date(day_of_ms(ms))).unwrap_or_default();
    at
}
