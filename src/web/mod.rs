//! The public transparency page: read-only HTML over HTTP, served beside the gRPC API by `accord serve
//! --http ADDR`. Coalition overview, each plan's report, each pledge's history, and the current signed
//! checkpoint with instructions for verifying it. Pages are computed from the same projections and report
//! code as the API, each inside one read snapshot, and name the checkpoint they were read at.
use std::future::Future;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::domain::book;
use crate::error::{Error, Kind, Result};
use crate::log::Ledger;
use crate::pb;
use crate::report::render::{amount, esc, html_table, CSS};
use crate::storage::{Reader, SubjectFilter};

/// The routes of the public page.
pub fn router(ledger: Arc<Ledger>) -> Router {
    Router::new()
        .route("/", get(overview))
        .route("/plan/{id}", get(plan))
        .route("/pledge/{id}", get(pledge))
        .route("/checkpoint", get(checkpoint_page))
        .route("/checkpoint.txt", get(checkpoint_text))
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(|| async { page_error(Error::not_found("path", "no such page")) })
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

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{} — Accord</title><style>{CSS}</style></head><body><nav><a href=\"/\">Overview</a> · <a href=\"/checkpoint\">Checkpoint</a></nav>{body}</body></html>",
        esc(title)
    )
}

fn page_error(e: Error) -> Response {
    let code = match e.kind {
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::InvalidArgument => StatusCode::BAD_REQUEST,
        Kind::Internal => {
            tracing::error!(error = %e, "public page");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(page("Error", "<h1>Internal error</h1><p>Logged on the server.</p>")),
            )
                .into_response();
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    (code, Html(page("Not found", &format!("<h1>{}</h1><p>{}</p>", code.as_u16(), esc(&e.to_string())))))
        .into_response()
}

/// Run a read in the blocking pool inside one snapshot and render it.
async fn read<T: Send + 'static>(
    ledger: Arc<Ledger>,
    f: impl FnOnce(&Reader) -> Result<T> + Send + 'static,
) -> std::result::Result<T, Response> {
    tokio::task::spawn_blocking(move || ledger.readers().with(|r| r.snapshot(f)))
        .await
        .map_err(|e| page_error(Error::internal(e.to_string())))?
        .map_err(page_error)
}

fn read_at_line(at: &pb::ReadAt) -> String {
    format!(
        "<p class=\"read-at\">Read at the signed checkpoint of tree size <b>{}</b> (root <code>{}</code>, as of {}). <a href=\"/checkpoint\">How to verify</a>.</p>",
        at.tree_size,
        hex::encode(&at.root_hash),
        esc(&at.as_of_date)
    )
}

async fn overview(State(ledger): State<Arc<Ledger>>) -> Response {
    let res = read(ledger, |r| {
        let at = crate::query::read_at(r)?;
        let gov = r.governance()?;
        let name = gov.charter.as_ref().map(|c| c.0.clone()).unwrap_or_else(|| "Coalition".into());
        let mut plans = Vec::new();
        r.scan_subjects(&SubjectFilter { kind: book::PLAN.into(), ..Default::default() }, |s| {
            plans.push(s);
            Ok(true)
        })?;
        let mut rows = Vec::new();
        for s in &plans {
            let p: pb::PlanCreated = s.decode()?;
            let rep = crate::report::plan_report(r, &s.id, &at)?;
            let t = &rep.funding.total_external;
            rows.push(vec![
                format!("<a href=\"/plan/{}\">{}</a>", esc(&s.id), esc(&p.title)),
                p.period.as_ref().map(|x| format!("{} – {}", x.start, x.end)).unwrap_or_default(),
                format!("{} {}", amount(&t.pledged), p.reporting_currency),
                format!("{} {}", amount(&t.committed), p.reporting_currency),
                format!("{} {}", amount(&t.disbursed), p.reporting_currency),
            ]);
        }
        let parties: Vec<Vec<String>> = gov
            .parties
            .values()
            .map(|p| vec![p.party_id.clone(), p.name.clone(), p.roles.join(", "), p.country.clone()])
            .collect();
        // Plan titles are links: build that table by hand (html_table escapes its cells).
        let mut plan_table = String::from(
            "<table id=\"plans\"><thead><tr><th>plan</th><th>period</th><th>pledged</th><th>committed</th><th>disbursed</th></tr></thead><tbody>",
        );
        for r in rows {
            plan_table.push_str("<tr>");
            for (i, c) in r.iter().enumerate() {
                if i == 0 {
                    plan_table.push_str(&format!("<td>{c}</td>"));
                } else {
                    plan_table.push_str(&format!("<td>{}</td>", esc(c)));
                }
            }
            plan_table.push_str("</tr>");
        }
        plan_table.push_str("</tbody></table>");
        let body = format!(
            "<h1>{}</h1>{}<h2>Plans</h2>{plan_table}<h2>Members</h2>{}",
            esc(&name),
            read_at_line(&at),
            html_table(&["party", "name", "roles", "country"], parties, "parties")
        );
        Ok(page(&name, &body))
    })
    .await;
    match res {
        Ok(h) => Html(h).into_response(),
        Err(r) => r,
    }
}

async fn plan(State(ledger): State<Arc<Ledger>>, Path(id): Path<String>) -> Response {
    let res = read(ledger, move |r| {
        crate::domain::check_id("plan_id", &id)?;
        let at = crate::query::read_at(r)?;
        let rep = crate::report::plan_report(r, &id, &at)?;
        let mut html = crate::report::render::html(&rep, crate::report::VERIFY_HELP);
        let mut links = String::from("<section><h2>Pledges</h2><ul id=\"pledges\">");
        r.scan_subjects(
            &SubjectFilter { kind: book::PLEDGE.into(), plan_id: id.clone(), ..Default::default() },
            |s| {
                let p: pb::PledgeAnnounced = s.decode()?;
                let status = book::pledge_status(&s, &p, crate::domain::date::parse_date(&at.as_of_date).unwrap_or(0));
                links.push_str(&format!(
                    "<li><a href=\"/pledge/{0}\">{0}</a> — {1}, {2} {3} ({4})</li>",
                    esc(&s.id),
                    esc(&p.pledger_id),
                    esc(&amount(p.amount.as_ref().map_or("", |m| m.value.as_str()))),
                    esc(p.amount.as_ref().map_or("", |m| m.currency.as_str())),
                    status
                ));
                Ok(true)
            },
        )?;
        links.push_str("</ul></section>");
        html = html.replacen(
            "<body>",
            "<body><nav><a href=\"/\">Overview</a> · <a href=\"/checkpoint\">Checkpoint</a></nav>",
            1,
        );
        Ok(html.replacen("</body>", &format!("{links}</body>"), 1))
    })
    .await;
    match res {
        Ok(h) => Html(h).into_response(),
        Err(r) => r,
    }
}

async fn pledge(State(ledger): State<Arc<Ledger>>, Path(id): Path<String>) -> Response {
    let res = read(ledger, move |r| {
        let q = pb::GetSubjectRequest { kind: book::PLEDGE.into(), id: id.clone(), with_proofs: false, currency: String::new() };
        let resp = crate::query::get(r, &q)?;
        let item = resp.item.unwrap_or_default();
        let f = item.figures.clone().unwrap_or_default();
        let p = match item.compiled.as_ref().and_then(|s| s.body.clone()) {
            Some(pb::statement::Body::PledgeAnnounced(p)) => p,
            _ => return Err(Error::internal("pledge body")),
        };
        let goals: Vec<String> = p.goals.iter().map(|g| format!("{} {}%", g.goal_id, g.share)).collect();
        let facts = vec![
            vec!["pledger".into(), p.pledger_id.clone()],
            vec!["kind".into(), p.pledge_kind.clone()],
            vec!["amount".into(), format!("{} {}", amount(&f.amount), f.currency)],
            vec!["committed".into(), amount(&f.committed)],
            vec!["disbursed".into(), amount(&f.disbursed)],
            vec!["status".into(), item.status.clone()],
            vec!["goals".into(), goals.join(", ")],
            vec!["funding source".into(), p.funding_source.clone()],
            vec!["new money".into(), if p.new_money { "yes".into() } else { "no".into() }],
            vec!["version".into(), format!("{} (entry {})", item.version, item.version_index)],
        ];
        let history = crate::query::history_rows(&resp.history);
        let at = resp.read_at.unwrap_or_default();
        let body = format!(
            "<h1>Pledge {}</h1>{}{}<h2>History</h2>{}<p>Every version and event is an entry of the log. Check them yourself: <code>accord query history pledge {} --with-proofs</code>.</p>",
            esc(&id),
            read_at_line(&at),
            html_table(&["", ""], facts, "pledge"),
            html_table(&crate::query::HISTORY_COLUMNS, history, "history"),
            esc(&id)
        );
        Ok(page(&format!("Pledge {id}"), &body))
    })
    .await;
    match res {
        Ok(h) => Html(h).into_response(),
        Err(r) => r,
    }
}

async fn checkpoint_page(State(ledger): State<Arc<Ledger>>) -> Response {
    let origin = ledger.origin().to_string();
    let vkey = ledger.verifier_key().to_string();
    let res = read(ledger, move |r| {
        let at = crate::query::read_at(r)?;
        let body = format!(
            "<h1>Current signed checkpoint</h1><p>Tree size <b id=\"size\">{}</b>, root hash <code>{}</code>.</p><pre id=\"checkpoint\">{}</pre>\
             <h2>How to verify it</h2><ol>\
             <li>Obtain the log's public key from the coalition (not from this page): it should read <code>{}</code>.</li>\
             <li>Check the signature: <code>accord checkpoint --server URL --log-key KEY</code>, or any C2SP signed-note implementation (Go: <code>golang.org/x/mod/sumdb/note</code>, <code>note.Open</code>) with that key. The first line must be the origin <code>{}</code>.</li>\
             <li>Check that the log only grows: keep this checkpoint and later run <code>accord consistency old.checkpoint</code> (an RFC 6962 consistency proof).</li>\
             <li>Check any entry: <code>accord get --index N --server URL --log-key KEY</code> verifies its inclusion proof against a signed checkpoint; <code>accord verify</code> does so offline from a tlog-proof bundle.</li>\
             <li>Check any report: <code>accord report verify --plan PLAN --server URL --log-key KEY</code> recomputes it from every entry up to this checkpoint.</li></ol>\
             <p>The raw note is at <a href=\"/checkpoint.txt\">/checkpoint.txt</a>.</p>",
            at.tree_size,
            hex::encode(&at.root_hash),
            esc(&at.checkpoint),
            esc(&vkey),
            esc(&origin)
        );
        Ok(page("Checkpoint", &body))
    })
    .await;
    match res {
        Ok(h) => Html(h).into_response(),
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
    Router::new().route("/metrics", get(metrics)).with_state(ledger)
}

async fn metrics(State(ledger): State<Arc<Ledger>>) -> Response {
    let latest = ledger.latest();
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let gauges = [
        ("accord_tree_size", "Entries in the log (size of the latest signed checkpoint).", latest.size as f64),
        (
            "accord_checkpoint_age_seconds",
            "Seconds since the latest checkpoint was signed (or the ledger opened).",
            ((now - latest.at_ms).max(0) as f64) / 1000.0,
        ),
        (
            "accord_reader_connections_open",
            "Read-only SQLite connections open in the pool.",
            ledger.readers().open_count() as f64,
        ),
        ("accord_reader_connections_busy", "Read-only connections in use now.", ledger.readers().busy_count() as f64),
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
