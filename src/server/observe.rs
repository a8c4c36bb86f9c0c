//! Request observation: a tracing span per gRPC request with method, status and latency, the request
//! metrics, and the bounded set of method labels they use.
use crate::pb::{
    audit_service_server::AuditServiceServer, coalition_service_server::CoalitionServiceServer,
    ledger_service_server::LedgerServiceServer, report_service_server::ReportServiceServer, FILE_DESCRIPTOR_SET,
};
use crate::server::api::{CoalitionApi, LedgerApi, ReportApi};

/// A span per request with method, status and latency, and the request metrics.
#[derive(Debug, Clone)]
pub(super) struct Observe<S>(pub(super) S);

impl<S, B, RB> tower::Service<http::Request<B>> for Observe<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        use tracing::Instrument;
        let method = method_label(req.uri().path());
        let started = std::time::Instant::now();
        let span = tracing::info_span!("grpc", method = %method, status = tracing::field::Empty, latency_ms = tracing::field::Empty);
        let clone = self.0.clone();
        let mut inner = std::mem::replace(&mut self.0, clone);
        let fut = inner.call(req);
        Box::pin(async move {
            let res = fut.instrument(span.clone()).await;
            let code = match &res {
                Ok(r) => r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or("OK", |c| code_name(tonic::Code::from(c))),
                // The service failed without a status (tonic answers it as one): counted as UNKNOWN.
                Err(_) => "UNKNOWN",
            };
            let secs = started.elapsed().as_secs_f64();
            span.record("status", code);
            span.record("latency_ms", secs * 1000.0);
            let m = crate::metrics::metrics();
            m.request(method, code, secs);
            if code != "OK" {
                if method.ends_with("/Submit") || method.ends_with("/SubmitBatch") {
                    m.rejected(method, code);
                }
                tracing::info!(parent: &span, "request refused");
            } else {
                tracing::debug!(parent: &span, "request");
            }
            res
        })
    }
}

/// A status code's canonical name (`OK`, `INVALID_ARGUMENT`, ... as in grpc/status.proto and every gRPC
/// library's metrics), the form of the `code` metric label and the span's `status`.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The gRPC methods served, as `/package.Service/Method`: the only values the `method` metric label takes
/// (anything else is "other"), so request paths cannot grow the metrics without bound.
static METHODS: std::sync::OnceLock<std::collections::BTreeSet<String>> = std::sync::OnceLock::new();

pub(super) fn init_method_labels() {
    METHODS.get_or_init(|| {
        use tonic::server::NamedService;
        let served = [
            <LedgerServiceServer<LedgerApi> as NamedService>::NAME,
            <CoalitionServiceServer<CoalitionApi> as NamedService>::NAME,
            <ReportServiceServer<ReportApi> as NamedService>::NAME,
            <AuditServiceServer<crate::server::api::AuditApi> as NamedService>::NAME,
        ];
        let mut set: std::collections::BTreeSet<String> = [
            "/grpc.health.v1.Health/Check",
            "/grpc.health.v1.Health/Watch",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        match prost_reflect::DescriptorPool::decode(FILE_DESCRIPTOR_SET) {
            Ok(pool) => {
                for svc in pool.services().filter(|s| served.contains(&s.full_name())) {
                    for m in svc.methods() {
                        set.insert(format!("/{}/{}", svc.full_name(), m.name()));
                    }
                }
                crate::metrics::metrics().preinit_kinds(statement_kinds(&pool).iter().map(String::as_str));
            }
            Err(e) => tracing::error!(error = %e, "file descriptor set"),
        }
        crate::metrics::metrics().preinit_methods(set.iter().map(String::as_str));
        set
    });
}

/// The metric label of a request path: the method when it is one we serve, else "other".
pub fn method_label(path: &str) -> &'static str {
    METHODS.get().and_then(|m| m.get(path)).map_or("other", |s| s.as_str())
}

/// The statement kinds (`pledge.announced`, `fx_rate.recorded`, `amended`, ...) from the `Statement.body`
/// oneof's field names, the rule of `crate::json::statement_kinds` (which the server may not name;
/// tests/ops.rs checks kinds of both spellings).
fn statement_kinds(pool: &prost_reflect::DescriptorPool) -> Vec<String> {
    let Some(oneof) =
        pool.get_message_by_name("accord.v1.Statement").and_then(|m| m.oneofs().find(|o| o.name() == "body"))
    else {
        return Vec::new();
    };
    oneof
        .fields()
        .map(|f| match f.name().rsplit_once('_') {
            Some((head, tail)) if !["amended", "withdrawn", "charter"].contains(&f.name()) => format!("{head}.{tail}"),
            _ => f.name().to_string(),
        })
        .collect()
}
