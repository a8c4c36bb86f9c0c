//! `accord.v1.ReportService`: a plan's report, answered by [`crate::report::serve_report`] through the
//! ledger's read view.
use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::blocking;
use crate::ledger::Ledger;
use crate::pb;

/// `accord.v1.ReportService`: a plan's report computed inside one read snapshot, with its checkpoint.
#[derive(Debug, Clone)]
pub struct ReportApi {
    ledger: Arc<Ledger>,
}

impl ReportApi {
    /// The service over `ledger`.
    pub fn new(ledger: Arc<Ledger>) -> Self {
        Self { ledger }
    }
}

#[tonic::async_trait]
impl pb::report_service_server::ReportService for ReportApi {
    async fn get_report(&self, req: Request<pb::GetReportRequest>) -> Result<Response<pb::GetReportResponse>, Status> {
        let l = self.ledger.clone();
        let q = req.into_inner();
        blocking(move || l.read(|v| crate::report::serve_report(v, &q))).await.map(Response::new)
    }
}
