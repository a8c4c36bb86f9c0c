//! `pb::Statement` → typed statement, one function per kind (one file per group of kinds), with the
//! stateless rules of each.
mod commitments;
mod flows;
mod governance;
mod plans;
mod values;

use commitments::*;
use flows::*;
use governance::*;
use plans::*;
use values::*;

use accord_domain::ids::*;
use accord_domain::statement as d;
use prost::Message;

use accord_domain::text::is_forbidden_in_text;

use crate::error::{Error, Result};
use crate::pb::{self, statement::Body as PbBody};

/// A typed value read from its protobuf message (used to read a subject's stored body).
pub trait FromWire: Sized {
    /// The protobuf message.
    type Wire: Message + Default;
    /// Parse the message, applying its stateless rules; field paths are relative to the message.
    fn from_wire(w: &Self::Wire) -> Result<Self>;
    /// Decode and parse an encoded message.
    fn decode_wire(bytes: &[u8]) -> Result<Self> {
        let w = Self::Wire::decode(bytes).map_err(|e| Error::internal(format!("body does not decode: {e}")))?;
        Self::from_wire(&w)
    }
}

macro_rules! from_wire {
    ($($t:ty => $w:ty, $f:path;)*) => {$(
        impl FromWire for $t {
            type Wire = $w;
            fn from_wire(w: &$w) -> Result<Self> {
                $f(w)
            }
        }
    )*};
}

from_wire! {
    d::PlanCreated => pb::PlanCreated, plan;
    d::GoalDefined => pb::GoalDefined, goal;
    d::IndicatorDefined => pb::IndicatorDefined, indicator;
    d::PledgeAnnounced => pb::PledgeAnnounced, pledge;
    d::ConditionDefined => pb::ConditionDefined, condition;
    d::CommitmentSigned => pb::CommitmentSigned, commitment;
    d::TransactionRecorded => pb::TransactionRecorded, transaction;
    d::TransactionReversed => pb::TransactionReversed, reversal;
    d::InkindDelivered => pb::InkindDelivered, delivery;
    d::DeliveryConfirmed => pb::DeliveryConfirmed, confirmation;
    d::MilestoneUpdated => pb::MilestoneUpdated, milestone;
    d::ConditionAssessed => pb::ConditionAssessed, assessment;
    d::ProgressReported => pb::ProgressReported, progress;
    d::AttestationIssued => pb::AttestationIssued, attestation;
    d::Withdrawn => pb::Withdrawn, withdrawal;
    d::FxRateRecorded => pb::FxRateRecorded, fx_rate;
}

/// Parse a statement for a ledger of origin `origin`: the ledger, ids, dates, text and each body's shape.
/// Field paths are relative to the statement (`pledge_announced.amount.value`).
pub fn parse_statement(st: &pb::Statement, origin: &str) -> Result<d::Statement> {
    parse_statement_as(st, &st.encode_to_vec(), origin)
}

/// [`parse_statement`] of a statement that arrived as `wire`, its canonical encoding (a DSSE payload the
/// caller has checked): the text scan reads `wire` instead of encoding the statement again.
pub fn parse_statement_as(st: &pb::Statement, wire: &[u8], origin: &str) -> Result<d::Statement> {
    if st.ledger != origin {
        return Err(Error::invalid("ledger", format!("is {:?}, but this ledger's origin is {origin:?}", st.ledger)));
    }
    parse_fields(st, Some(wire))
}

/// A statement read back from the log: it passed every check of [`parse_statement`] when it was
/// sequenced, so the ledger's origin and the scan of every text field for control characters (a walk by
/// reflection, the costliest check) are not repeated; the typed fields are parsed as at submission.
pub fn parse_stored_statement(st: &pb::Statement) -> Result<d::Statement> {
    parse_fields(st, None)
}

/// `scan`: the statement's encoding, whose text is scanned for control characters; None skips the scan.
fn parse_fields(st: &pb::Statement, scan: Option<&[u8]>) -> Result<d::Statement> {
    let statement_id = StatementId::parse("statement_id", &st.statement_id)?;
    let issued_at = issued_at(st.issued_at.as_ref())?;
    if let Some((field, c)) = scan.and_then(|wire| crate::json::forbidden_text_in(wire, &is_forbidden_in_text)) {
        return Err(Error::invalid(
            field,
            format!("contains the control character U+{:04X} (only newline and tab are allowed in text)", u32::from(c)),
        ));
    }
    let effective_date = day("effective_date", &st.effective_date)?;
    let body = st.body.as_ref().ok_or_else(|| Error::invalid("body", "one statement kind must be set"))?;
    let body = parse_body(body)?;
    Ok(d::Statement { ledger: st.ledger.clone(), statement_id, issued_at, effective_date, body })
}

/// Parse a statement body; field paths are scoped under the body's field name (`pledge_announced`).
pub fn parse_body(body: &PbBody) -> Result<d::Body> {
    Ok(match body {
        PbBody::Charter(c) => d::Body::Charter(charter(c)?),
        PbBody::PartyAdmitted(a) => {
            let p = a.party.as_ref().ok_or_else(|| Error::invalid("party_admitted.party", "is required"))?;
            d::Body::PartyAdmitted(d::PartyAdmitted { party: party(p).map_err(|e| e.scope("party_admitted.party"))? })
        }
        PbBody::KeyRotated(r) => d::Body::KeyRotated(key_rotated(r)?),
        PbBody::KeyRevoked(r) => d::Body::KeyRevoked(key_revoked(r)?),
        PbBody::PlanCreated(p) => d::Body::PlanCreated(plan(p).map_err(|e| e.scope("plan_created"))?),
        PbBody::GoalDefined(g) => d::Body::GoalDefined(goal(g).map_err(|e| e.scope("goal_defined"))?),
        PbBody::IndicatorDefined(x) => {
            d::Body::IndicatorDefined(indicator(x).map_err(|e| e.scope("indicator_defined"))?)
        }
        PbBody::PledgeAnnounced(p) => d::Body::PledgeAnnounced(pledge(p).map_err(|e| e.scope("pledge_announced"))?),
        PbBody::ConditionDefined(c) => {
            d::Body::ConditionDefined(condition(c).map_err(|e| e.scope("condition_defined"))?)
        }
        PbBody::CommitmentSigned(c) => {
            d::Body::CommitmentSigned(commitment(c).map_err(|e| e.scope("commitment_signed"))?)
        }
        PbBody::TransactionRecorded(t) => {
            d::Body::TransactionRecorded(transaction(t).map_err(|e| e.scope("transaction_recorded"))?)
        }
        PbBody::TransactionReversed(r) => {
            d::Body::TransactionReversed(reversal(r).map_err(|e| e.scope("transaction_reversed"))?)
        }
        PbBody::InkindDelivered(x) => d::Body::InkindDelivered(delivery(x).map_err(|e| e.scope("inkind_delivered"))?),
        PbBody::DeliveryConfirmed(c) => {
            d::Body::DeliveryConfirmed(confirmation(c).map_err(|e| e.scope("delivery_confirmed"))?)
        }
        PbBody::MilestoneUpdated(m) => {
            d::Body::MilestoneUpdated(milestone(m).map_err(|e| e.scope("milestone_updated"))?)
        }
        PbBody::ConditionAssessed(a) => {
            d::Body::ConditionAssessed(assessment(a).map_err(|e| e.scope("condition_assessed"))?)
        }
        PbBody::ProgressReported(r) => {
            d::Body::ProgressReported(progress(r).map_err(|e| e.scope("progress_reported"))?)
        }
        PbBody::AttestationIssued(a) => {
            d::Body::AttestationIssued(attestation(a).map_err(|e| e.scope("attestation_issued"))?)
        }
        PbBody::Amended(a) => d::Body::Amended(amended(a).map_err(|e| e.scope("amended"))?),
        PbBody::Withdrawn(w) => d::Body::Withdrawn(withdrawal(w).map_err(|e| e.scope("withdrawn"))?),
        PbBody::FxRateRecorded(f) => d::Body::FxRateRecorded(fx_rate(f).map_err(|e| e.scope("fx_rate_recorded"))?),
    })
}

/// Public keys a statement introduces, read from the wire without checking the statement (a replay
/// collects every key of a log before it verifies signatures); malformed keys are skipped.
pub fn introduced_keys(st: &pb::Statement) -> Vec<[u8; 32]> {
    let party_keys = |p: &pb::Party| -> Vec<[u8; 32]> {
        p.public_keys.iter().filter_map(|k| <[u8; 32]>::try_from(k.as_slice()).ok()).collect()
    };
    match &st.body {
        Some(PbBody::Charter(c)) => c.founders.iter().flat_map(party_keys).collect(),
        Some(PbBody::PartyAdmitted(a)) => a.party.as_ref().map(party_keys).unwrap_or_default(),
        Some(PbBody::KeyRotated(r)) => <[u8; 32]>::try_from(r.new_public_key.as_slice()).into_iter().collect(),
        _ => Vec::new(),
    }
}
