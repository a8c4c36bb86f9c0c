//! Compiled bodies across the boundary: the typed body a statement gives the subjects it creates or
//! versions, with its wire encoding ([`compiled`]); and a subject's stored body read back into that form
//! ([`parse_compiled`]).
use std::sync::Arc;

use accord_domain::book::{self, Compiled};
use accord_domain::statement as d;

use super::statement::FromWire;
use crate::error::{Error, Result};
use crate::pb;

/// The compiled body of a statement parsed at the boundary: typed ([`d::Body::compiled`]) and encoded
/// ([`super::compiled_body`]), computed once before the sequencer so the subjects it creates share it.
pub fn compiled(st: &pb::Statement, parsed: &d::Statement) -> Arc<Compiled> {
    Arc::new(Compiled { body: parsed.body.compiled(), wire: super::compiled_body(st) })
}

/// A subject's stored body (the encoded body message of its kind) read back: `None` for a tranche, which has
/// none. The body passed every rule when it was sequenced, so a body that does not parse is corrupt data
/// (DATA_LOSS, naming the subject).
pub fn parse_compiled(kind: book::SubjectKind, id: &str, wire: Vec<u8>) -> Result<Option<Arc<Compiled>>> {
    fn typed<T: FromWire>(wire: &[u8], into: fn(T) -> d::Body) -> Result<d::Body> {
        T::decode_wire(wire).map(into)
    }
    let body = match kind {
        book::TRANCHE if wire.is_empty() => return Ok(None),
        book::PLAN => typed(&wire, d::Body::PlanCreated),
        book::GOAL => typed(&wire, d::Body::GoalDefined),
        book::INDICATOR => typed(&wire, d::Body::IndicatorDefined),
        book::PLEDGE => typed(&wire, d::Body::PledgeAnnounced),
        book::CONDITION => typed(&wire, d::Body::ConditionDefined),
        book::COMMITMENT => typed(&wire, d::Body::CommitmentSigned),
        book::TRANSACTION => typed(&wire, d::Body::TransactionRecorded),
        book::DELIVERY => typed(&wire, d::Body::InkindDelivered),
        book::REPORT => typed(&wire, d::Body::ProgressReported),
        book::ATTESTATION => typed(&wire, d::Body::AttestationIssued),
        book::FX_RATE => typed(&wire, d::Body::FxRateRecorded),
        book::TRANCHE => Err(Error::invalid("body", "a tranche has no body of its own")),
    }
    .map_err(|e| Error::corrupt("subjects", format!("{kind} {id}"), format!("body does not parse: {e}")))?;
    Ok(Some(Arc::new(Compiled { body, wire })))
}
