//! `accord.v1.CoalitionService`: the coalition's queries, answered by [`crate::query`] through the
//! ledger's read view.
use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::{blocking, status};
use crate::domain::book;
use crate::error::Error;
use crate::ledger::Ledger;
use crate::pb;

/// `accord.v1.CoalitionService`: queries over the projections, each read at one checkpoint.
#[derive(Debug, Clone)]
pub struct CoalitionApi {
    ledger: Arc<Ledger>,
}

impl CoalitionApi {
    /// The service over `ledger`.
    pub fn new(ledger: Arc<Ledger>) -> Self {
        Self { ledger }
    }

    async fn list(&self, kind: book::SubjectKind, req: pb::ListRequest) -> Result<Response<pb::ListResponse>, Status> {
        let l = self.ledger.clone();
        blocking(move || crate::query::complete::list_answer(&l, kind, &req)).await.map(Response::new)
    }

    async fn get(&self, req: pb::GetSubjectRequest) -> Result<Response<pb::GetSubjectResponse>, Status> {
        let l = self.ledger.clone();
        blocking(move || crate::query::complete::get_answer(&l, &req)).await.map(Response::new)
    }
}

#[tonic::async_trait]
impl pb::coalition_service_server::CoalitionService for CoalitionApi {
    async fn list_parties(
        &self,
        req: Request<pb::ListPartiesRequest>,
    ) -> Result<Response<pb::ListPartiesResponse>, Status> {
        let l = self.ledger.clone();
        let q = req.into_inner();
        blocking(move || l.read(|v| crate::query::parties(v, &q))).await.map(Response::new)
    }
    async fn list_plans(&self, req: Request<pb::ListRequest>) -> Result<Response<pb::ListResponse>, Status> {
        self.list(book::PLAN, req.into_inner()).await
    }
    async fn list_goals(&self, req: Request<pb::ListRequest>) -> Result<Response<pb::ListResponse>, Status> {
        self.list(book::GOAL, req.into_inner()).await
    }
    async fn list_indicators(&self, req: Request<pb::ListRequest>) -> Result<Response<pb::ListResponse>, Status> {
        self.list(book::INDICATOR, req.into_inner()).await
    }
    async fn list_pledges(&self, req: Request<pb::ListRequest>) -> Result<Response<pb::ListResponse>, Status> {
        self.list(book::PLEDGE, req.into_inner()).await
    }
    async fn list_conditions(&self, req: Request<pb::ListRequest>) -> Result<Response<pb::ListResponse>, Status> {
        self.list(book::CONDITION, req.into_inner()).await
    }
    async fn list_commitments(&self, req: Request<pb::ListRequest>) -> Result<Response<pb::ListResponse>, Status> {
        self.list(book::COMMITMENT, req.into_inner()).await
    }
    async fn list_transactions(&self, req: Request<pb::ListRequest>) -> Result<Response<pb::ListResponse>, Status> {
        self.list(book::TRANSACTION, req.into_inner()).await
    }
    async fn list_subjects(&self, req: Request<pb::ListRequest>) -> Result<Response<pb::ListResponse>, Status> {
        let req = req.into_inner();
        let kind = book::SubjectKind::parse("kind", &req.kind).map_err(|e| status(e.into()))?;
        self.list(kind, req).await
    }
    async fn get_pledge(
        &self,
        req: Request<pb::GetSubjectRequest>,
    ) -> Result<Response<pb::GetSubjectResponse>, Status> {
        let mut q = req.into_inner();
        if !q.kind.is_empty() && q.kind != book::PLEDGE.as_str() {
            return Err(status(Error::invalid("kind", "GetPledge reads pledges; use GetSubject for other kinds")));
        }
        q.kind = book::PLEDGE.to_string();
        self.get(q).await
    }
    async fn get_subject(
        &self,
        req: Request<pb::GetSubjectRequest>,
    ) -> Result<Response<pb::GetSubjectResponse>, Status> {
        self.get(req.into_inner()).await
    }
    async fn get_index(&self, req: Request<pb::GetIndexRequest>) -> Result<Response<pb::GetIndexResponse>, Status> {
        let (l, q) = (self.ledger.clone(), req.into_inner());
        blocking(move || crate::query::complete::index_answer(&l, &q)).await.map(Response::new)
    }
    async fn get_proven_entries(
        &self,
        req: Request<pb::GetProvenEntriesRequest>,
    ) -> Result<Response<pb::GetProvenEntriesResponse>, Status> {
        let (l, q) = (self.ledger.clone(), req.into_inner());
        blocking(move || crate::query::complete::proven_entries(&l, &q)).await.map(Response::new)
    }
}
