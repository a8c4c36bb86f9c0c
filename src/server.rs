//! Transport: the gRPC server with health and reflection, bound to a listener the caller gives, stopped by
//! a shutdown future the caller chooses (ctrl-c/SIGTERM in `main`, a channel in tests).
//! No business logic here.
use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

use crate::api::{CoalitionApi, LedgerApi, ReportApi};
use crate::log::Ledger;
use crate::pb::{
    coalition_service_server::CoalitionServiceServer, ledger_service_server::LedgerServiceServer,
    report_service_server::ReportServiceServer, FILE_DESCRIPTOR_SET,
};

/// Largest gRPC message accepted (a full SubmitBatch of 1024 × 64 KiB envelopes is the design maximum).
pub const MAX_MESSAGE_BYTES: usize = 80 * 1024 * 1024;

/// HTTP/2 flow-control window per stream (the connection gets twice this).
pub const WINDOW_BYTES: u32 = 4 * 1024 * 1024;

/// Serve the ledger on `listener` until `shutdown` completes, then close the ledger: in-flight
/// submissions finish, the sequencer drains and the database is closed.
pub async fn run(
    listener: TcpListener,
    ledger: Arc<Ledger>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<LedgerServiceServer<LedgerApi>>().await;
    health_reporter.set_serving::<CoalitionServiceServer<CoalitionApi>>().await;
    health_reporter.set_serving::<ReportServiceServer<ReportApi>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let api = LedgerServiceServer::new(LedgerApi::new(ledger.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let coalition =
        CoalitionServiceServer::new(CoalitionApi::new(ledger.clone())).max_encoding_message_size(MAX_MESSAGE_BYTES);
    let reports = ReportServiceServer::new(ReportApi::new(ledger.clone())).max_encoding_message_size(MAX_MESSAGE_BYTES);
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        // Batches and their receipts are hundreds of KiB: HTTP/2's default 64 KiB windows would stall them.
        .initial_stream_window_size(Some(WINDOW_BYTES))
        .initial_connection_window_size(Some(2 * WINDOW_BYTES))
        .trace_fn(|req| tracing::info_span!("grpc", method = %req.uri().path()))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(api)
        .add_service(coalition)
        .add_service(reports)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    let l = ledger.clone();
    tokio::task::spawn_blocking(move || l.close()).await?;
    tracing::info!(size = ledger.latest().size, "server stopped");
    Ok(())
}

/// Resolves on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown requested");
}
