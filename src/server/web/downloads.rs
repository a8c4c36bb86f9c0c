//! Downloads on every page, each named with the checkpoint it was read at: a plan's report in six formats
//! and every entry as a C2SP tlog-proof bundle.
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::*;

/// The files of a plan's report, by download name: (format for GetReport, media type).
pub(super) const REPORT_FILES: [(&str, &str, &str); 6] = [
    ("report.json", "json", "application/json"),
    ("report.html", "html", "text/html; charset=utf-8"),
    ("report.md", "markdown", "text/markdown; charset=utf-8"),
    ("report-csv.zip", "csv", "application/zip"),
    ("iati.xml", "iati", "application/xml"),
    ("ocds.json", "ocds", "application/json"),
];

/// The downloads of a page, each named with the checkpoint it is read at.
pub(super) fn downloads(at: &pb::ReadAt, links: &[(String, String)]) -> Markup {
    html! {
        section id="downloads" {
            h2 { "Downloads" }
            p {
                "Read at the signed checkpoint of tree size " (at.tree_size) ", root " code { (hex::encode(&at.root_hash)) }
                "; each file's name carries the size, and its " code { "X-Accord-Root" } " header the root."
            }
            ul {
                @for (href, label) in links { li { a href=(href) download { (label) } } }
                li { a href="/checkpoint" download { "the signed checkpoint (C2SP note, with witness cosignatures)" } }
            }
        }
    }
}

/// The report links of a plan.
pub(super) fn report_links(plan: &str) -> Vec<(String, String)> {
    let labels = [
        "canonical JSON",
        "HTML",
        "Markdown",
        "CSV, one file per view (zip)",
        "IATI 2.03 XML",
        "OCDS 1.1 release package",
    ];
    REPORT_FILES.iter().zip(labels).map(|((f, _, _), l)| (format!("/plan/{}/{f}", seg(plan)), l.to_string())).collect()
}

/// `Content-Disposition: attachment` with a file name that carries the tree size.
pub(super) fn attachment(res: &mut Response, name: &str) {
    let safe: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
}

pub(super) async fn plan_download(
    State(ledger): State<Arc<Ledger>>,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    let Some(&(_, format, media)) = REPORT_FILES.iter().find(|(f, _, _)| *f == file) else {
        return page_error(Error::not_found("file", format!("{file:?} is not a download of a plan")));
    };
    let plan = id.clone();
    let res = read(ledger, move |v| {
        let q = pb::GetReportRequest { plan_id: plan, format: format.into(), hxl: false };
        crate::report::serve_report(v, &q)
    })
    .await;
    let resp = match res {
        Ok(r) => r,
        Err(r) => return r,
    };
    let at = resp.read_at.clone().unwrap_or_default();
    let body = match format {
        "json" => resp.canonical_json.into_bytes(),
        "csv" => {
            let files: Vec<(String, Vec<u8>)> = resp.files.into_iter().map(|f| (f.name, f.content)).collect();
            match crate::report::render::zip_store(&files) {
                Some(z) => z,
                None => return page_error(Error::internal("the CSV archive is too large for a ZIP file")),
            }
        }
        _ => resp.files.into_iter().next().map(|f| f.content).unwrap_or_default(),
    };
    let mut res = ([(header::CONTENT_TYPE, media)], body).into_response();
    attachment(&mut res, &format!("{id}-{}-{file}", at.tree_size));
    stamped(res, &at)
}

/// `/entry/<index>.tlog-proof`: the entry's C2SP tlog-proof bundle (leaf, inclusion proof, checkpoint with
/// cosignatures) at the latest checkpoint: `accord verify` checks it offline.
pub(super) async fn entry_proof(State(ledger): State<Arc<Ledger>>, Path(file): Path<String>) -> Response {
    let Some(index) = file.strip_suffix(".tlog-proof").and_then(|n| n.parse::<u64>().ok()) else {
        return page_error(Error::not_found("file", "an entry's proof is /entry/<index>.tlog-proof"));
    };
    let l = ledger.clone();
    let built = tokio::task::spawn_blocking(move || -> crate::error::Result<(String, pb::ReadAt)> {
        let latest = l.latest();
        if index >= latest.size {
            return Err(Error::not_found("index", format!("the log has {} entries", latest.size)));
        }
        let entry =
            l.read_log(|v| v.entry_by_index(index))?.ok_or_else(|| Error::not_found("index", "no such entry"))?;
        let proof = l.inclusion_proof(index, latest.size)?;
        let note = l.cosigned_note(latest.size, &latest.note);
        let bundle =
            crate::merkle::ProofBundle { extra: Some(entry.leaf), index, proof, checkpoint: note.clone() }.to_text();
        let at = pb::ReadAt {
            tree_size: latest.size,
            root_hash: latest.root.to_vec(),
            checkpoint: note,
            as_of_date: String::new(),
        };
        Ok((bundle, at))
    })
    .await;
    match built {
        Ok(Ok((bundle, at))) => {
            let mut res = ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], bundle).into_response();
            attachment(&mut res, &format!("entry-{index}-at-{}.tlog-proof", at.tree_size));
            stamped(res, &at)
        }
        Ok(Err(e)) => page_error(e),
        Err(e) => page_error(Error::internal(e.to_string())),
    }
}
