//! Read-only JSON over HTTP, for report consumers who will never speak gRPC: CoalitionService's queries and
//! ReportService.GetReport at `/api/v1/…` on the public HTTP port, with the same requests (as query
//! parameters, in the protobuf JSON mapping's names) and the same answers (the protobuf JSON mapping).
//! Specified in `docs/openapi.json`, which a test checks against the live server.
//!
//! Every answer names the checkpoint it was read at (`readAt`, and the `X-Accord-Root` and
//! `X-Accord-Tree-Size` headers), so the page cache ([`super::web`]) can serve it again until the log
//! grows, with an `ETag` of that root.
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::domain::book;
use crate::error::{Error, Kind, Result};
use crate::ledger::Ledger;
use crate::pb;

/// The `/api/v1` routes.
pub fn routes() -> Router<Arc<Ledger>> {
    Router::new()
        .route("/api/v1/parties", get(parties))
        .route("/api/v1/subjects/{kind}/{id}", get(subject))
        .route("/api/v1/pledges/{id}", get(pledge))
        .route("/api/v1/reports/{plan_id}", get(report))
        .route("/api/v1/{collection}", get(list))
}

type Params = Query<Vec<(String, String)>>;

/// The HTTP status of an error kind (the answer's `code` is [`Error::code_name`]).
fn http_status(kind: Kind) -> StatusCode {
    match kind {
        Kind::InvalidArgument | Kind::FailedPrecondition => StatusCode::BAD_REQUEST,
        Kind::PermissionDenied => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::AlreadyExists => StatusCode::CONFLICT,
        Kind::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Kind::Internal | Kind::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error answer: `{"code", "field", "message"}` with the matching HTTP status; internal details are
/// logged, never sent.
fn error(e: Error) -> Response {
    let e = e.in_json_names();
    let (name, status) = (e.code_name(), http_status(e.kind));
    let message = if matches!(e.kind, Kind::Internal | Kind::DataLoss) {
        tracing::error!(error = %e, "JSON API");
        "internal error (logged on the server)".to_string()
    } else {
        e.message.clone()
    };
    let body = serde_json::json!({"code": name, "field": e.field.to_string(), "message": message});
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// A request message from query parameters (and path segments), through the protobuf JSON mapping: a
/// parameter must be a field of the request (either spelling), given once; `true`/`false` are booleans.
fn request<M: prost::Message + Default>(
    full_name: &str,
    params: &[(String, String)],
    path: &[(&str, &str)],
) -> Result<M> {
    let mut obj = serde_json::Map::new();
    for (k, v) in path.iter().map(|(k, v)| (k.to_string(), v.to_string())).chain(params.iter().cloned()) {
        if obj.contains_key(&k) {
            return Err(Error::invalid(k.as_str(), "is given more than once"));
        }
        let value = match v.as_str() {
            "true" => serde_json::Value::Bool(true),
            "false" => serde_json::Value::Bool(false),
            _ => serde_json::Value::String(v),
        };
        obj.insert(k, value);
    }
    crate::json::message_from_json(full_name, &serde_json::Value::Object(obj).to_string())
        .map_err(|e| Error::invalid("query", e.message))
}

/// A message answer, with the checkpoint it was read at.
fn answer<M: prost::Message>(full_name: &str, msg: &M, at: Option<&pb::ReadAt>) -> Response {
    match crate::json::message_to_json(full_name, msg) {
        Ok(body) => {
            let mut res = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
            if let Some(at) = at {
                stamp(&mut res, at);
            }
            res
        }
        Err(e) => error(e),
    }
}

/// The `X-Accord-Root` and `X-Accord-Tree-Size` headers of an answer read at `at`.
pub fn stamp(res: &mut Response, at: &pb::ReadAt) {
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&hex::encode(&at.root_hash)) {
        h.insert("x-accord-root", v);
    }
    h.insert("x-accord-tree-size", HeaderValue::from(at.tree_size));
}

async fn run<T: Send + 'static>(
    ledger: Arc<Ledger>,
    f: impl FnOnce(&crate::ledger::ReadView<'_>) -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(move || ledger.read(f)).await.map_err(|e| Error::internal(e.to_string()))?
}

async fn parties(State(ledger): State<Arc<Ledger>>, Query(params): Params) -> Response {
    let q: pb::ListPartiesRequest = match request("accord.v1.ListPartiesRequest", &params, &[]) {
        Ok(q) => q,
        Err(e) => return error(e),
    };
    match run(ledger, move |v| crate::query::parties(v, &q)).await {
        Ok(r) => answer("accord.v1.ListPartiesResponse", &r, r.read_at.as_ref()),
        Err(e) => error(e),
    }
}

async fn list(State(ledger): State<Arc<Ledger>>, Path(collection): Path<String>, Query(params): Params) -> Response {
    let kind = match collection.as_str() {
        "plans" => Some(book::PLAN),
        "goals" => Some(book::GOAL),
        "indicators" => Some(book::INDICATOR),
        "pledges" => Some(book::PLEDGE),
        "conditions" => Some(book::CONDITION),
        "commitments" => Some(book::COMMITMENT),
        "transactions" => Some(book::TRANSACTION),
        "subjects" => None,
        other => {
            return error(Error::not_found(
                "collection",
                format!("no collection {other:?}: parties, plans, goals, indicators, pledges, conditions, commitments, transactions, subjects"),
            ))
        }
    };
    let q: pb::ListRequest = match request("accord.v1.ListRequest", &params, &[]) {
        Ok(q) => q,
        Err(e) => return error(e),
    };
    let kind = match kind {
        Some(k) => k,
        None => match book::SubjectKind::parse("kind", &q.kind) {
            Ok(k) => k,
            Err(e) => return error(e.into()),
        },
    };
    let answer_of = move || crate::query::complete::list_answer(&ledger, kind, &q);
    match tokio::task::spawn_blocking(answer_of).await.map_err(|e| Error::internal(e.to_string())).and_then(|r| r) {
        Ok(r) => answer("accord.v1.ListResponse", &r, r.read_at.as_ref()),
        Err(e) => error(e),
    }
}

async fn get_subject(ledger: Arc<Ledger>, q: Result<pb::GetSubjectRequest>) -> Response {
    let q = match q {
        Ok(q) => q,
        Err(e) => return error(e),
    };
    let answer_of = move || crate::query::complete::get_answer(&ledger, &q);
    match tokio::task::spawn_blocking(answer_of).await.map_err(|e| Error::internal(e.to_string())).and_then(|r| r) {
        Ok(r) => answer("accord.v1.GetSubjectResponse", &r, r.read_at.as_ref()),
        Err(e) => error(e),
    }
}

async fn subject(
    State(ledger): State<Arc<Ledger>>,
    Path((kind, id)): Path<(String, String)>,
    Query(params): Params,
) -> Response {
    let q = request("accord.v1.GetSubjectRequest", &params, &[("kind", &kind), ("id", &id)]);
    get_subject(ledger, q).await
}

async fn pledge(State(ledger): State<Arc<Ledger>>, Path(id): Path<String>, Query(params): Params) -> Response {
    let q = request("accord.v1.GetSubjectRequest", &params, &[("kind", book::PLEDGE.as_str()), ("id", &id)]);
    get_subject(ledger, q).await
}

async fn report(State(ledger): State<Arc<Ledger>>, Path(plan_id): Path<String>, Query(params): Params) -> Response {
    let q: pb::GetReportRequest = match request("accord.v1.GetReportRequest", &params, &[("planId", &plan_id)]) {
        Ok(q) => q,
        Err(e) => return error(e),
    };
    match run(ledger, move |v| crate::report::serve_report(v, &q)).await {
        Ok(r) => answer("accord.v1.GetReportResponse", &r, r.read_at.as_ref()),
        Err(e) => error(e),
    }
}
