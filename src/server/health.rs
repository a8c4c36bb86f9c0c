//! gRPC health: every service SERVING at start, then following the ledger's write path (a full disk, a
//! stopped sequencer).
use tokio_util::sync::CancellationToken;
use tonic_health::pb::health_server::{Health, HealthServer};

use crate::ledger::Ledger;
use crate::pb::{
    audit_service_server::AuditServiceServer, coalition_service_server::CoalitionServiceServer,
    ledger_service_server::LedgerServiceServer, report_service_server::ReportServiceServer,
};
use crate::server::api::{CoalitionApi, LedgerApi, ReportApi};

/// The health service with every service SERVING, and a task, stopped by `shutdown`, that keeps it in step
/// with the ledger's write state.
pub(super) async fn health_service(ledger: &Ledger, shutdown: &CancellationToken) -> HealthServer<impl Health> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<LedgerServiceServer<LedgerApi>>().await;
    health_reporter.set_serving::<CoalitionServiceServer<CoalitionApi>>().await;
    health_reporter.set_serving::<ReportServiceServer<ReportApi>>().await;
    health_reporter.set_serving::<AuditServiceServer<crate::server::api::AuditApi>>().await;
    let health_task = shutdown.child_token();
    let (reporter, state) = (health_reporter.clone(), ledger.write_state());
    tokio::spawn(async move {
        tokio::select! {
            _ = report_write_state(reporter, state) => {}
            _ = health_task.cancelled() => {}
        }
    });
    health_service
}

/// Health follows the write path: a full disk makes LedgerService NOT_SERVING until writes succeed again
/// (reads go on); a stopped sequencer makes the whole server NOT_SERVING (`""`), so an orchestrator
/// restarts it.
async fn report_write_state(
    health: tonic_health::server::HealthReporter,
    mut state: tokio::sync::watch::Receiver<crate::ledger::WriteState>,
) {
    use crate::ledger::WriteState;
    loop {
        let now = state.borrow_and_update().clone();
        match now {
            WriteState::Serving => health.set_serving::<LedgerServiceServer<LedgerApi>>().await,
            WriteState::DiskFull => health.set_not_serving::<LedgerServiceServer<LedgerApi>>().await,
            WriteState::Stopped(_) => {
                health.set_not_serving::<LedgerServiceServer<LedgerApi>>().await;
                health.set_service_status("", tonic_health::ServingStatus::NotServing).await;
            }
        }
        if state.changed().await.is_err() {
            return;
        }
    }
}
