//! `accord.v1.AuditService`: the reads an auditor needs beyond LedgerService (every stored checkpoint, with
//! its stored witness cosignatures).
use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::blocking;
use crate::ledger::Ledger;
use crate::pb;

/// Default and largest page of checkpoints.
const DEFAULT_PAGE: usize = 1000;
const MAX_PAGE: usize = 10_000;

/// `accord.v1.AuditService`.
#[derive(Debug, Clone)]
pub struct AuditApi {
    ledger: Arc<Ledger>,
}

impl AuditApi {
    /// The service over `ledger`.
    pub fn new(ledger: Arc<Ledger>) -> Self {
        Self { ledger }
    }
}

#[tonic::async_trait]
impl pb::audit_service_server::AuditService for AuditApi {
    async fn list_checkpoints(
        &self,
        req: Request<pb::ListCheckpointsRequest>,
    ) -> Result<Response<pb::ListCheckpointsResponse>, Status> {
        let req = req.into_inner();
        let limit = match req.limit as usize {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let l = self.ledger.clone();
        // Each note carries the witness cosignatures stored for it, as GetCheckpoint's does.
        let mut rows = blocking(move || l.cosigned_checkpoints(req.start_size, limit.saturating_add(1))).await?;
        let next_size = if rows.len() > limit { rows.pop().map(|r| r.size) } else { None };
        Ok(Response::new(pb::ListCheckpointsResponse {
            checkpoints: rows
                .into_iter()
                .map(|r| pb::StoredCheckpoint { tree_size: r.size, root_hash: r.root.to_vec(), checkpoint: r.note })
                .collect(),
            next_size,
        }))
    }
}
