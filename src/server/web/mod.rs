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

mod cache;
mod downloads;
mod subjects;
use cache::page_cache;
pub use cache::{PageCache, PAGE_CACHE_ANSWER_BYTES, PAGE_CACHE_ENTRIES};
use downloads::{downloads, entry_proof, plan_download, report_links};
use subjects::{amendments_of, commitment, party, party_link};

/// The Content-Security-Policy of every public response: nothing may load or run (no script at all, no
/// frames, no forms, no base URL); only the pages' own inline stylesheet and inline images are allowed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The routes of the public page.
pub fn router(ledger: Arc<Ledger>) -> Router {
    let cache = Arc::new(PageCache::new(ledger.clone()));
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
            ..Default::default()
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
        let amendments = amendments_of(v, &item.plan_id, "pledge", &id, &at)?;
        let body = html! {
            h1 { "Pledge " (id) }
            (read_at_line(&at))
            p id="pledge-links" {
                "Pledged by " (party_link(&gov, p.pledger_id.as_str())) " to plan "
                a href={ "/plan/" (seg(&item.plan_id)) } { (item.plan_id) } "."
            }
            (html_table(&["", ""], facts, "pledge"))
            (amendments)
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
