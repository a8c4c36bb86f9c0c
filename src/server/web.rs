//! The public transparency page: read-only HTML over HTTP, served beside the gRPC API by `accord serve
//! --http ADDR`. Coalition overview, each plan's report, each pledge's history, and the current signed
//! checkpoint with instructions for verifying it. Pages are computed from the same projections and report
//! code as the API, each inside one read snapshot, and name the checkpoint they were read at.
//!
//! Every page is built with maud's `html!`, which escapes every interpolated value by construction, and
//! every response carries a Content-Security-Policy that forbids script (the pages have none) and
//! `X-Content-Type-Options: nosniff`, so even a rendering mistake could not run a member's text as code.
use std::future::Future;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use tokio::net::TcpListener;

use crate::domain::book;
use crate::error::{Error, Kind, Result};
use crate::ledger::Ledger;
use crate::ledger::ReadView;
use crate::pb;
use crate::report::render::{amount, document, html_table};
use accord_domain::statement as ds;

/// The Content-Security-Policy of every public response: nothing may load or run (no script at all, no
/// frames, no forms, no base URL); only the pages' own inline stylesheet and inline images are allowed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Pages and API answers computed once per checkpoint: a GET whose answer names the root it was read at
/// (`X-Accord-Root`) is kept, keyed by its URI, and served again until the log grows; it carries
/// `ETag: "<root>"` and `Cache-Control: public, max-age=5`, and a matching `If-None-Match` gets 304.
/// `X-Accord-Cache` says `hit` or `miss`. Bounded: at most [`PAGE_CACHE_ENTRIES`] answers of at most
/// [`PAGE_CACHE_ANSWER_BYTES`] each, all dropped when the root changes.
#[derive(Debug)]
pub struct PageCache {
    ledger: Arc<Ledger>,
    pages: std::sync::Mutex<(String, std::collections::HashMap<String, CachedPage>)>,
}

/// Most answers the page cache keeps.
pub const PAGE_CACHE_ENTRIES: usize = 512;
/// Largest answer the page cache keeps.
pub const PAGE_CACHE_ANSWER_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone)]
struct CachedPage {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: bytes::Bytes,
}

impl CachedPage {
    fn response(&self, etag: &str, if_none_match: Option<&HeaderValue>, hit: bool) -> Response {
        let not_modified = if_none_match
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*"));
        let mut res = if not_modified {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let mut r = (self.status, self.body.clone()).into_response();
            *r.headers_mut() = self.headers.clone();
            r
        };
        let h = res.headers_mut();
        if let Ok(v) = HeaderValue::from_str(etag) {
            h.insert(header::ETAG, v);
        }
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=5"));
        h.insert("x-accord-cache", HeaderValue::from_static(if hit { "hit" } else { "miss" }));
        res
    }
}

async fn page_cache(
    State(cache): State<Arc<PageCache>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if req.method() != axum::http::Method::GET {
        return next.run(req).await;
    }
    let key = req.uri().to_string();
    let inm = req.headers().get(header::IF_NONE_MATCH).cloned();
    let latest = hex::encode(cache.ledger.latest().root);
    let etag = format!("\"{latest}\"");
    let hit = {
        let pages = crate::sync::lock(&cache.pages);
        if pages.0 == latest {
            pages.1.get(&key).cloned()
        } else {
            None
        }
    };
    if let Some(page) = hit {
        return page.response(&etag, inm.as_ref(), true);
    }
    let res = next.run(req).await;
    let root = res.headers().get("x-accord-root").and_then(|v| v.to_str().ok()).map(str::to_string);
    let Some(root) = root else { return res };
    if res.status() != StatusCode::OK {
        return res;
    }
    let (parts, body) = res.into_parts();
    let body = match axum::body::to_bytes(body, PAGE_CACHE_ANSWER_BYTES).await {
        Ok(b) => b,
        Err(e) => return page_error(Error::internal(format!("page body: {e}"))),
    };
    let page = CachedPage { status: parts.status, headers: parts.headers, body };
    // Kept only when read at the root that is still the latest (a read can run ahead of the published
    // checkpoint for a moment; it is then served, not kept).
    if root == latest {
        let mut pages = crate::sync::lock(&cache.pages);
        if pages.0 != latest {
            *pages = (latest.clone(), Default::default());
        }
        if pages.1.len() < PAGE_CACHE_ENTRIES {
            pages.1.insert(key, page.clone());
        }
    }
    page.response(&format!("\"{root}\""), inm.as_ref(), false)
}

/// The routes of the public page.
pub fn router(ledger: Arc<Ledger>) -> Router {
    let cache = Arc::new(PageCache { ledger: ledger.clone(), pages: Default::default() });
    Router::new()
        .route("/", get(overview))
        .route("/plan/{id}", get(plan))
        .route("/pledge/{id}", get(pledge))
        .route("/party/{id}", get(party))
        .route("/commitment/{id}", get(commitment))
        .route("/plan/{id}/{file}", get(plan_download))
        .route("/entry/{file}", get(entry_proof))
        .route("/checkpoint.html", get(checkpoint_page))
        .route("/checkpoint.txt", get(checkpoint_text))
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(super::tiles::routes())
        .merge(super::rest::routes())
        .fallback(|| async { page_error(Error::not_found("path", "no such page")) })
        .layer(axum::middleware::from_fn_with_state(cache, page_cache))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(ledger)
}

/// Serve the public page on `listener` until `shutdown` completes (default connection cap and header-read
/// deadline, see [`crate::server::serve_http`]).
pub async fn serve(
    listener: TcpListener,
    ledger: Arc<Ledger>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::server::serve_http(listener, router(ledger), None, Default::default(), shutdown).await
}

fn nav() -> Markup {
    html! { nav { a href="/" { "Overview" } " · " a href="/checkpoint.html" { "Checkpoint" } } }
}

fn page(title: &str, body: Markup) -> String {
    document(&format!("{title} — Accord"), nav(), body).into_string()
}

/// A path segment for a link: every byte outside RFC 3986's unreserved set percent-encoded, so an id can
/// never leave its segment (`/`, `?`, `#`, `..`).
fn seg(id: &str) -> String {
    let mut o = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            o.push(char::from(b));
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// Headers on every response of the public page (errors and the fallback included).
async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

/// A page read at `at`: the headers that name its checkpoint (and let the page cache keep it).
fn stamped(mut res: Response, at: &pb::ReadAt) -> Response {
    super::rest::stamp(&mut res, at);
    res
}

fn page_error(e: Error) -> Response {
    let code = match e.kind {
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::InvalidArgument => StatusCode::BAD_REQUEST,
        Kind::Internal | Kind::DataLoss => {
            tracing::error!(error = %e, "public page");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(page("Error", html! { h1 { "Internal error" } p { "Logged on the server." } })),
            )
                .into_response();
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    (code, Html(page("Not found", html! { h1 { (code.as_u16()) } p { (e.to_string()) } }))).into_response()
}

/// Run a read in the blocking pool inside one snapshot and render it.
async fn read<T: Send + 'static>(
    ledger: Arc<Ledger>,
    f: impl FnOnce(&ReadView<'_>) -> Result<T> + Send + 'static,
) -> std::result::Result<T, Response> {
    tokio::task::spawn_blocking(move || ledger.snapshot(f))
        .await
        .map_err(|e| page_error(Error::internal(e.to_string())))?
        .map_err(page_error)
}

fn read_at_line(at: &pb::ReadAt) -> Markup {
    html! {
        p class="read-at" {
            "Read at the signed checkpoint of tree size " b { (at.tree_size) } " (root " code { (hex::encode(&at.root_hash)) }
            ", as of " (at.as_of_date) "). " a href="/checkpoint.html" { "How to verify" } "."
        }
    }
}

/// One plan of the overview: link target, title, period, and the external totals in the plan's currency.
struct PlanLine {
    id: String,
    title: String,
    period: String,
    figures: [String; 3],
}

/// The members of the coalition, each linked to its page.
fn members_table(parties: &[Vec<String>]) -> Markup {
    html! {
        div class="scroll" tabindex="0" role="region" aria-label="members" { table id="parties" {
            thead { tr { th scope="col" { "party" } th scope="col" { "name" } th scope="col" { "roles" } th scope="col" { "country" } } }
            tbody {
                @for p in parties {
                    @if let Some((id, rest)) = p.split_first() {
                        tr {
                            td { a href={ "/party/" (seg(id)) } { (id) } }
                            @for c in rest { td { (c) } }
                        }
                    }
                }
            }
        } }
    }
}

async fn overview(State(ledger): State<Arc<Ledger>>) -> Response {
    let res = read(ledger, |v| {
        let at = crate::query::read_at_of(v)?;
        let gov = v.governance()?;
        let name = gov.charter.as_ref().map(|c| c.0.clone()).unwrap_or_else(|| "Coalition".into());
        let mut plans = Vec::new();
        v.scan_subjects(book::PLAN, "", |s| {
            plans.push(s);
            Ok(true)
        })?;
        let mut lines = Vec::new();
        for s in &plans {
            let p: ds::PlanCreated = s.parsed()?;
            let rep = crate::report::plan_report_at(v, &s.id, &crate::report::read_at(&at))?;
            let t = &rep.funding.total_external;
            let cur = &p.reporting_currency;
            lines.push(PlanLine {
                id: s.id.clone(),
                title: p.title.clone(),
                period: format!("{} – {}", p.period.start, p.period.end),
                figures: [
                    format!("{} {cur}", amount(&t.pledged)),
                    format!("{} {cur}", amount(&t.committed)),
                    format!("{} {cur}", amount(&t.disbursed)),
                ],
            });
        }
        let parties: Vec<Vec<String>> = gov
            .parties
            .values()
            .map(|p| {
                vec![
                    p.party_id.clone(),
                    p.name.clone(),
                    p.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
                    p.country.clone(),
                ]
            })
            .collect();
        let overview_links: Vec<(String, String)> = lines
            .iter()
            .flat_map(|l| {
                report_links(&l.id).into_iter().map(move |(href, label)| (href, format!("{}: {label}", l.title)))
            })
            .collect();
        let body = html! {
            h1 { (name) }
            (read_at_line(&at))
            h2 { "Plans" }
            div class="scroll" tabindex="0" role="region" aria-label="plans" { table id="plans" {
                thead { tr { th scope="col" { "plan" } th scope="col" { "period" } th scope="col" { "pledged" } th scope="col" { "committed" } th scope="col" { "disbursed" } } }
                tbody {
                    @for l in &lines {
                        tr {
                            td { a href={ "/plan/" (seg(&l.id)) } { (l.title) } }
                            td { (l.period) }
                            @for f in &l.figures { td { (f) } }
                        }
                    }
                }
            } }
            h2 { "Members" }
            (members_table(&parties))
            (downloads(&at, &overview_links))
        };
        Ok((page(&name, body), at))
    })
    .await;
    match res {
        Ok((h, at)) => stamped(Html(h).into_response(), &at),
        Err(r) => r,
    }
}

/// One pledge in a plan page's list.
struct PledgeLine {
    id: String,
    pledger: String,
    amount: String,
    currency: String,
    status: String,
}

async fn plan(State(ledger): State<Arc<Ledger>>, Path(id): Path<String>) -> Response {
    let res = read(ledger, move |v| {
        crate::domain::check_id("plan_id", &id)?;
        let at = crate::query::read_at_of(v)?;
        let rep = crate::report::plan_report_at(v, &id, &crate::report::read_at(&at))?;
        let as_of = crate::domain::date::parse_date(&at.as_of_date).unwrap_or(0);
        let gov = v.governance()?;
        let mut pledges = Vec::new();
        v.scan_subjects(book::PLEDGE, &id, |s| {
            let p: ds::PledgeAnnounced = s.parsed()?;
            pledges.push(PledgeLine {
                id: s.id.clone(),
                pledger: p.pledger_id.to_string(),
                amount: amount(&p.amount.as_ref().map(|m| m.value.to_string()).unwrap_or_default()),
                currency: p.amount.as_ref().map(|m| m.currency.to_string()).unwrap_or_default(),
                status: book::pledge_status(&s, &p, as_of).to_string(),
            });
            Ok(true)
        })?;
        let body = html! {
            (crate::report::render::report_body(&rep, crate::report::VERIFY_HELP))
            section {
                h2 { "Pledges" }
                ul id="pledges" {
                    @for l in &pledges {
                        li {
                            a href={ "/pledge/" (seg(&l.id)) } { (l.id) }
                            " — " (party_link(&gov, &l.pledger)) ", " (l.amount) " " (l.currency) " (" (l.status) ")"
                        }
                    }
                }
            }
            (downloads(&at, &report_links(&id)))
        };
        Ok((document(&format!("{} — Accord report", rep.plan.title), nav(), body).into_string(), at))
    })
    .await;
    match res {
        Ok((h, at)) => stamped(Html(h).into_response(), &at),
        Err(r) => r,
    }
}

async fn pledge(State(ledger): State<Arc<Ledger>>, Path(id): Path<String>) -> Response {
    let res = read(ledger, move |v| {
        let q = pb::GetSubjectRequest {
            kind: book::PLEDGE.to_string(),
            id: id.clone(),
            with_proofs: false,
            currency: String::new(),
        };
        let resp = crate::query::get(v, &q)?;
        let gov = v.governance()?;
        let item = resp.item.unwrap_or_default();
        let f = item.figures.clone().unwrap_or_default();
        // The compiled statement the item carries, read at the wire boundary.
        let p = match item.compiled.as_ref().and_then(|s| s.body.as_ref()).map(crate::proto::parse_body).transpose()? {
            Some(ds::Body::PledgeAnnounced(p)) => p,
            _ => return Err(Error::internal("pledge body")),
        };
        let goals: Vec<String> = p.goals.iter().map(|g| format!("{} {}%", g.goal_id, g.share)).collect();
        let facts = vec![
            vec!["pledger".into(), p.pledger_id.to_string()],
            vec!["kind".into(), p.pledge_kind.as_str().to_string()],
            vec!["amount".into(), format!("{} {}", amount(&f.amount), f.currency)],
            vec!["committed".into(), amount(&f.committed)],
            vec!["disbursed".into(), amount(&f.disbursed)],
            vec!["status".into(), item.status.clone()],
            vec!["goals".into(), goals.join(", ")],
            vec!["funding source".into(), p.funding_source.as_str().to_string()],
            vec!["new money".into(), if p.new_money { "yes".into() } else { "no".into() }],
            vec!["version".into(), format!("{} (entry {})", item.version, item.version_index)],
        ];
        let history = crate::query::history_rows(&resp.history);
        let proof_links: Vec<(String, String)> = resp
            .history
            .iter()
            .map(|h| {
                (format!("/entry/{}.tlog-proof", h.index), format!("entry {} ({}) as a C2SP tlog-proof", h.index, h.statement_kind))
            })
            .collect();
        let at = resp.read_at.unwrap_or_default();
        let body = html! {
            h1 { "Pledge " (id) }
            (read_at_line(&at))
            p id="pledge-links" {
                "Pledged by " (party_link(&gov, p.pledger_id.as_str())) " to plan "
                a href={ "/plan/" (seg(&item.plan_id)) } { (item.plan_id) } "."
            }
            (html_table(&["", ""], facts, "pledge"))
            h2 { "History" }
            (html_table(&crate::query::HISTORY_COLUMNS, history, "history"))
            p {
                "Every version and event is an entry of the log. Check them yourself: "
                code { "accord query history pledge " (id) " --with-proofs" } ", or download an entry's proof below and run "
                code { "accord verify --log-key KEY FILE" } "."
            }
            (downloads(&at, &proof_links))
        };
        Ok((page(&format!("Pledge {id}"), body), at))
    })
    .await;
    match res {
        Ok((h, at)) => stamped(Html(h).into_response(), &at),
        Err(r) => r,
    }
}

/// A link to a party's page, named by the party's name (the id when it is not a member).
fn party_link(gov: &crate::domain::Governance, id: &str) -> Markup {
    let name = gov.parties.get(id).map(|p| p.name.as_str()).unwrap_or(id);
    html! { a href={ "/party/" (seg(id)) } { (name) } }
}

/// Subjects of one kind owned by (or, for commitments, made to) a party, as table rows with links.
fn party_subjects(v: &ReadView<'_>, kind: book::SubjectKind, q: pb::ListRequest) -> Result<Vec<pb::Item>> {
    let mut items = Vec::new();
    let mut q = q;
    q.page_size = 1000;
    loop {
        let r = crate::query::list(v, kind, &q)?;
        items.extend(r.items);
        if r.next_page_token.is_empty() || items.len() >= 10_000 {
            return Ok(items);
        }
        q.page_token = r.next_page_token;
    }
}

fn subject_list(kind: &str, items: &[pb::Item], gov: &crate::domain::Governance) -> Markup {
    html! {
        div class="scroll" tabindex="0" role="region" aria-label=(kind) {
            table {
                thead { tr { th scope="col" { (kind) } th scope="col" { "plan" } th scope="col" { "party" } th scope="col" { "amount" } th scope="col" { "status" } } }
                tbody {
                    @for i in items {
                        @let f = i.figures.clone().unwrap_or_default();
                        tr {
                            td { a href={ "/" (kind) "/" (seg(&i.id)) } { (i.id) } }
                            td { a href={ "/plan/" (seg(&i.plan_id)) } { (i.plan_id) } }
                            td { (party_link(gov, &i.party_id)) }
                            td { (amount(&f.amount)) " " (f.currency) }
                            td { (i.status) }
                        }
                    }
                }
            }
        }
    }
}

async fn party(State(ledger): State<Arc<Ledger>>, Path(id): Path<String>) -> Response {
    let res = read(ledger, move |v| {
        crate::domain::check_id("party_id", &id)?;
        let at = crate::query::read_at_of(v)?;
        let gov = v.governance()?;
        let p = gov.parties.get(&id).ok_or_else(|| Error::not_found("party_id", format!("no member {id:?}")))?;
        let by = |kind| party_subjects(v, kind, pb::ListRequest { party_id: id.clone(), ..Default::default() });
        let pledges = by(book::PLEDGE)?;
        let provided = by(book::COMMITMENT)?;
        let received =
            party_subjects(v, book::COMMITMENT, pb::ListRequest { recipient_id: id.clone(), ..Default::default() })?;
        let facts = vec![
            vec!["party".into(), p.party_id.clone()],
            vec!["name".into(), p.name.clone()],
            vec!["roles".into(), p.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")],
            vec!["organisation type".into(), p.organisation_type.clone()],
            vec!["country".into(), p.country.clone()],
            vec!["admitted at entry".into(), p.admitted_at.to_string()],
        ];
        let body = html! {
            h1 { (p.name) }
            (read_at_line(&at))
            (html_table(&["", ""], facts, "party"))
            h2 { "Pledges" }
            (subject_list("pledge", &pledges, &gov))
            h2 { "Commitments it made" }
            (subject_list("commitment", &provided, &gov))
            h2 { "Commitments made to it" }
            (subject_list("commitment", &received, &gov))
            (downloads(&at, &[]))
        };
        Ok((page(&p.name, body), at))
    })
    .await;
    match res {
        Ok((h, at)) => stamped(Html(h).into_response(), &at),
        Err(r) => r,
    }
}

async fn commitment(State(ledger): State<Arc<Ledger>>, Path(id): Path<String>) -> Response {
    let res = read(ledger, move |v| {
        let q = pb::GetSubjectRequest { kind: book::COMMITMENT.to_string(), id: id.clone(), ..Default::default() };
        let resp = crate::query::get(v, &q)?;
        let gov = v.governance()?;
        let item = resp.item.unwrap_or_default();
        let f = item.figures.clone().unwrap_or_default();
        let c = match item.compiled.as_ref().and_then(|s| s.body.as_ref()).map(crate::proto::parse_body).transpose()? {
            Some(ds::Body::CommitmentSigned(c)) => c,
            _ => return Err(Error::internal("commitment body")),
        };
        let history = crate::query::history_rows(&resp.history);
        let at = resp.read_at.unwrap_or_default();
        let tranches: Vec<Vec<String>> = item
            .tranches
            .iter()
            .map(|t| vec![t.tranche_id.clone(), amount(&t.value), amount(&t.disbursed), t.status.clone()])
            .collect();
        let body = html! {
            h1 { "Commitment " (id) }
            (read_at_line(&at))
            table id="commitment" {
                tbody {
                    tr { th scope="row" { "plan" } td { a href={ "/plan/" (seg(c.plan_id.as_str())) } { (c.plan_id) } } }
                    tr { th scope="row" { "provider" } td { (party_link(&gov, c.provider_id.as_str())) } }
                    tr { th scope="row" { "recipient" } td { (party_link(&gov, c.recipient_id.as_str())) } }
                    tr { th scope="row" { "draws on" } td {
                        @for (k, a) in c.allocations.iter().enumerate() {
                            @if k > 0 { ", " }
                            a href={ "/pledge/" (seg(a.pledge_id.as_str())) } { (a.pledge_id) }
                        }
                    } }
                    tr { th scope="row" { "signed" } td { (c.signed_date) } }
                    tr { th scope="row" { "amount" } td { (amount(&f.amount)) " " (f.currency) } }
                    tr { th scope="row" { "disbursed" } td { (amount(&f.disbursed)) } }
                    tr { th scope="row" { "status" } td { (item.status) } }
                }
            }
            h2 { "Tranches" }
            (html_table(&["tranche", "value", "disbursed", "status"], tranches, "tranches"))
            h2 { "History" }
            (html_table(&crate::query::HISTORY_COLUMNS, history, "history"))
            (downloads(&at, &resp.history.iter().map(|h| (format!("/entry/{}.tlog-proof", h.index), format!("entry {} ({}) as a C2SP tlog-proof", h.index, h.statement_kind))).collect::<Vec<_>>()))
        };
        Ok((page(&format!("Commitment {id}"), body), at))
    })
    .await;
    match res {
        Ok((h, at)) => stamped(Html(h).into_response(), &at),
        Err(r) => r,
    }
}

/// The files of a plan's report, by download name: (format for GetReport, media type).
const REPORT_FILES: [(&str, &str, &str); 6] = [
    ("report.json", "json", "application/json"),
    ("report.html", "html", "text/html; charset=utf-8"),
    ("report.md", "markdown", "text/markdown; charset=utf-8"),
    ("report-csv.zip", "csv", "application/zip"),
    ("iati.xml", "iati", "application/xml"),
    ("ocds.json", "ocds", "application/json"),
];

/// The downloads of a page, each named with the checkpoint it is read at.
fn downloads(at: &pb::ReadAt, links: &[(String, String)]) -> Markup {
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
fn report_links(plan: &str) -> Vec<(String, String)> {
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
fn attachment(res: &mut Response, name: &str) {
    let safe: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
}

async fn plan_download(State(ledger): State<Arc<Ledger>>, Path((id, file)): Path<(String, String)>) -> Response {
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
async fn entry_proof(State(ledger): State<Arc<Ledger>>, Path(file): Path<String>) -> Response {
    let Some(index) = file.strip_suffix(".tlog-proof").and_then(|n| n.parse::<u64>().ok()) else {
        return page_error(Error::not_found("file", "an entry's proof is /entry/<index>.tlog-proof"));
    };
    let l = ledger.clone();
    let built = tokio::task::spawn_blocking(move || -> crate::error::Result<(String, pb::ReadAt)> {
        let latest = l.latest();
        if index >= latest.size {
            return Err(Error::not_found("index", format!("the log has {} entries", latest.size)));
        }
        let entry = l.read(|v| v.entry_by_index(index))?.ok_or_else(|| Error::not_found("index", "no such entry"))?;
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

async fn checkpoint_page(State(ledger): State<Arc<Ledger>>) -> Response {
    let origin = ledger.origin().to_string();
    let vkey = ledger.verifier_key().to_string();
    let res = read(ledger, move |v| {
        let at = crate::query::read_at_of(v)?;
        let body = html! {
            h1 { "Current signed checkpoint" }
            p { "Tree size " b id="size" { (at.tree_size) } ", root hash " code { (hex::encode(&at.root_hash)) } "." }
            pre id="checkpoint" { (at.checkpoint) }
            h2 { "How to verify it" }
            ol {
                li {
                    "Obtain the log's public key from the coalition (not from this page): it should read "
                    code { (vkey) } "."
                }
                li {
                    "Check the signature: " code { "accord checkpoint --server URL --log-key KEY" }
                    ", or any C2SP signed-note implementation (Go: " code { "golang.org/x/mod/sumdb/note" } ", "
                    code { "note.Open" } ") with that key. The first line must be the origin " code { (origin) } "."
                }
                li {
                    "Check that the log only grows: keep this checkpoint and later run "
                    code { "accord consistency old.checkpoint" } " (an RFC 6962 consistency proof)."
                }
                li {
                    "Check any entry: " code { "accord get --index N --server URL --log-key KEY" }
                    " verifies its inclusion proof against a signed checkpoint; " code { "accord verify" }
                    " does so offline from a tlog-proof bundle."
                }
                li {
                    "Check any report: " code { "accord report verify --plan PLAN --server URL --log-key KEY" }
                    " recomputes it from every entry up to this checkpoint."
                }
            }
            p { "The raw note is at " a href="/checkpoint" { "/checkpoint" } " (also " code { "/checkpoint.txt" } "). "
                "The whole tree is published as C2SP tlog-tiles under " code { "/tile/" } ": hash tiles "
                code { "/tile/<L>/<N>" } " and entry bundles " code { "/tile/entries/<N>" } ", so any web cache or "
                "mirror can serve it and " code { "accord audit --tiles URL" } " can check the whole log from them." }
            (downloads(&at, &[]))
        };
        Ok((page("Checkpoint", body), at))
    })
    .await;
    match res {
        Ok((h, at)) => stamped(Html(h).into_response(), &at),
        Err(r) => r,
    }
}

async fn checkpoint_text(State(ledger): State<Arc<Ledger>>) -> Response {
    let latest = ledger.latest();
    let note = ledger.cosigned_note(latest.size, &latest.note);
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response()
}

/// The Prometheus endpoint (`GET /metrics`), on its own address.
pub fn metrics_router(ledger: Arc<Ledger>) -> Router {
    // The per-method and per-kind series exist from the first scrape, also before the gRPC port's task runs.
    crate::server::observe::init_method_labels();
    Router::new().route("/metrics", get(metrics)).with_state(ledger)
}

async fn metrics(State(ledger): State<Arc<Ledger>>) -> Response {
    let latest = ledger.latest();
    let now = ledger.now_ms();
    let pool = ledger.read_pool();
    let gauges = [
        ("accord_tree_size", "Entries in the log (size of the latest signed checkpoint).", latest.size as f64),
        (
            "accord_checkpoint_age_seconds",
            "Seconds since the latest checkpoint was signed (or the ledger opened).",
            (now.saturating_sub(latest.at_ms).max(0) as f64) / 1000.0,
        ),
        ("accord_reader_connections_open", "Read-only SQLite connections open in the pool.", pool.open as f64),
        ("accord_reader_connections_busy", "Read-only connections in use now.", pool.busy as f64),
    ];
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], crate::metrics::metrics().render(&gauges))
        .into_response()
}

/// Serve a router over TLS (rustls) on `listener` until `shutdown` completes: the public page and the
/// metrics endpoint use the same certificate as the gRPC port when TLS is configured.
pub async fn serve_tls(
    listener: TcpListener,
    router: Router,
    cert_pem: &[u8],
    key_pem: &[u8],
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = crate::server::http_tls_config(cert_pem, key_pem)?;
    crate::server::serve_http(listener, router, Some(tls), Default::default(), shutdown).await
}
