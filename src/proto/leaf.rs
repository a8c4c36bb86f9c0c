//! Leaves and bodies on the wire: the statement inside a stored leaf, the compiled body a statement gives
//! the subject it creates, and the kind name of a protobuf body.
use prost::Message;

use crate::error::{Error, Result};
use crate::pb::{self, statement::Body, Statement};

/// The statement kind's stable name, as stored and reported.
pub fn kind_name(body: &Body) -> &'static str {
    match body {
        Body::Charter(_) => "charter",
        Body::PartyAdmitted(_) => "party.admitted",
        Body::KeyRotated(_) => "key.rotated",
        Body::KeyRevoked(_) => "key.revoked",
        Body::PlanCreated(_) => "plan.created",
        Body::GoalDefined(_) => "goal.defined",
        Body::IndicatorDefined(_) => "indicator.defined",
        Body::PledgeAnnounced(_) => "pledge.announced",
        Body::ConditionDefined(_) => "condition.defined",
        Body::CommitmentSigned(_) => "commitment.signed",
        Body::TransactionRecorded(_) => "transaction.recorded",
        Body::TransactionReversed(_) => "transaction.reversed",
        Body::InkindDelivered(_) => "inkind.delivered",
        Body::MilestoneUpdated(_) => "milestone.updated",
        Body::ConditionAssessed(_) => "condition.assessed",
        Body::ProgressReported(_) => "progress.reported",
        Body::AttestationIssued(_) => "attestation.issued",
        Body::Amended(_) => "amended",
        Body::Withdrawn(_) => "withdrawn",
        Body::FxRateRecorded(_) => "fx_rate.recorded",
        Body::DeliveryConfirmed(_) => "delivery.confirmed",
    }
}

/// Stateless checks of a decoded statement: ledger origin, ids, dates and each body's shape (the
/// parsing at the wire boundary, [`super::parse_statement`]). Returns the statement kind.
pub fn check_statement(st: &Statement, origin: &str) -> Result<&'static str> {
    Ok(super::parse_statement(st, origin)?.body.kind_name())
}

/// The compiled body a statement gives the subject it creates or versions: its body message encoded on its
/// own (an amendment's new version for `amended`). Storage keeps a subject's body only where it differs
/// from this function of the statement at the subject's `version_at` entry; both sides call this one
/// function on the same decoded statement, so the derived body is byte for byte the one the rules built.
pub fn compiled_body(st: &pb::Statement) -> Vec<u8> {
    let mut field = Vec::new();
    match &st.body {
        Some(pb::statement::Body::Amended(a)) => {
            if let Some(v) = &a.version {
                v.encode(&mut field)
            }
        }
        Some(b) => b.encode(&mut field),
        None => {}
    }
    // `field` is one length-delimited field: key, length, then the message.
    let mut rest = field.as_slice();
    match (prost::encoding::decode_key(&mut rest), prost::encoding::decode_varint(&mut rest)) {
        (Ok(_), Ok(len)) => match usize::try_from(len).ok().and_then(|n| rest.get(..n)) {
            Some(body) => body.to_vec(),
            None => field,
        },
        _ => field,
    }
}

/// The statement inside a stored leaf (`LogEntry` → envelope → payload).
pub fn statement_of_leaf(leaf: &[u8]) -> Result<pb::Statement> {
    let le = pb::LogEntry::decode(leaf).map_err(|e| Error::internal(format!("leaf does not decode: {e}")))?;
    let env = le.envelope.ok_or_else(|| Error::internal("leaf without envelope"))?;
    pb::Statement::decode(env.payload.as_slice()).map_err(|e| Error::internal(format!("payload does not decode: {e}")))
}

/// The typed statement inside a stored leaf and the keyids of its signatures, as the views read an entry.
/// The leaf passed every rule when it was sequenced ([`super::parse_stored_statement`]).
pub fn signed_statement_of_leaf(leaf: &[u8]) -> Result<(accord_domain::statement::Statement, Vec<String>)> {
    let le = pb::LogEntry::decode(leaf).map_err(|e| Error::internal(format!("leaf does not decode: {e}")))?;
    let env = le.envelope.unwrap_or_default();
    let st = pb::Statement::decode(env.payload.as_slice())
        .map_err(|e| Error::internal(format!("payload does not decode: {e}")))?;
    let typed = super::parse_stored_statement(&st)?;
    Ok((typed, env.signatures.into_iter().map(|s| s.keyid).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    /// The JSON templates and kind names of `crate::json` agree with the wire's and the typed statement's kinds.
    fn kind_names_match_the_domain() {
        for (kind, field) in crate::json::statement_kinds() {
            let st = crate::json::statement_from_json(
                &crate::json::statement_template(&kind, "o", "id", "2026-01-01").unwrap(),
            )
            .unwrap_or_else(|e| panic!("{kind}: template does not parse: {e}"));
            let body = st.body.unwrap_or_else(|| panic!("{kind}: no body"));
            assert_eq!(kind_name(&body), kind, "{field}");
            // The typed kind has the same name and wire field name.
            if let Ok(typed) = super::super::parse_body(&body) {
                assert_eq!(typed.kind_name(), kind);
                assert_eq!(typed.field_name(), field);
            }
            let t = crate::json::statement_template(&kind, "o", "id", "2026-01-01").unwrap();
            let lines: Vec<&str> = t.lines().map(str::trim).collect();
            for w in lines.windows(2) {
                if w[1].starts_with('"') && w[1].contains("\":") {
                    assert!(w[0].starts_with("//"), "{kind}: {} is not explained", w[1]);
                }
            }
        }
        assert!(crate::json::statement_template("nope", "o", "id", "2026-01-01")
            .unwrap_err()
            .message
            .contains("pledge.announced"));
    }
}
