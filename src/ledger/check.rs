//! The dry run of a submission (`LedgerService.Check`): the verdict Submit would give now, the parties
//! that signed, and the signatures still missing, named from the statement and the ledger's state.
use crate::domain::book::{self, Subject, SubjectKind};
use crate::domain::codes::Role;
use crate::domain::statement::{self as d, Body};
use crate::domain::{Governance, StateView};
use crate::error::{Error, Kind, Result};
use crate::signing::{self, Need};

use super::{Ledger, Prepared, SHUTTING_DOWN};

/// A dry run's answer.
#[derive(Debug)]
pub struct Checked {
    /// What Submit would answer: `Ok` (a new entry, or the envelope already in the log) or its error.
    pub verdict: Result<()>,
    /// The statement kind.
    pub kind: &'static str,
    /// Who must sign this kind, and who may countersign (docs/SIGNING.md).
    pub rule: Option<&'static signing::Rule>,
    /// The parties whose keys signed.
    pub signed_by: Vec<String>,
    /// The signatures still missing, in words.
    pub missing: Vec<String>,
    /// The log index of this very envelope, when it is already in the log.
    pub duplicate: Option<u64>,
}

impl Ledger {
    /// Evaluate a prepared envelope (or unsigned statement) against the current state on the sequencer,
    /// writing nothing; queued like a submission (a full queue is UNAVAILABLE, as for Submit).
    pub async fn check(&self, item: Prepared) -> Result<Checked> {
        let (check, rx) = tokio::sync::oneshot::channel();
        let (reply, _) = tokio::sync::oneshot::channel();
        {
            let guard = crate::sync::lock(&self.tx);
            let tx = guard.as_ref().ok_or_else(|| Error::new(Kind::Unavailable, "", SHUTTING_DOWN))?;
            let job = super::sequencer::Job { items: vec![item], cosignatures: Vec::new(), reply, check: Some(check) };
            match tx.try_send(job) {
                Ok(()) => {}
                Err(std::sync::mpsc::TrySendError::Full(_)) => {
                    return Err(Error::new(Kind::Unavailable, "", "the sequencer queue is full; retry shortly"))
                }
                Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                    return Err(Error::new(Kind::Unavailable, "", SHUTTING_DOWN))
                }
            }
        }
        rx.await.map_err(|_| Error::new(Kind::Unavailable, "", "the sequencer stopped before answering; retry"))?
    }
}

/// The answer of a dry run whose rules gave `verdict`, with the signers and the signatures missing.
pub(super) fn checked(
    gov: &Governance,
    view: &dyn StateView,
    item: &Prepared,
    duplicate: Option<u64>,
    verdict: Result<()>,
) -> Checked {
    let members: Vec<String> = gov.parties.keys().cloned().collect();
    let k = gov.charter.as_ref().map_or(1, |c| c.1) as usize;
    let mut needs = signing::needs(&item.statement, Some((k, &members)));
    if needs.iter().any(|n| n.k == 0) {
        needs.retain(|n| n.k != 0);
        needs.extend(stateful_needs(gov, view, &item.parsed.body, k, &members));
    }
    let mut signed_by: Vec<String> = Vec::new();
    for kid in &item.signers {
        let party = gov
            .keys
            .get(kid)
            .map(|k| k.party_id.clone())
            .or_else(|| needs.iter().find(|n| n.keyids.contains(kid)).and_then(|n| n.parties.first().cloned()));
        if let Some(p) = party {
            if !signed_by.contains(&p) {
                signed_by.push(p);
            }
        }
    }
    // What is missing is said only when the rules refuse it: a need met another way (k members instead of
    // the secretariat) is not missing.
    let missing = needs
        .iter()
        .filter(|_| verdict.is_err())
        .filter(|n| signing::met(n, &item.signers, &signed_by) == Some(false))
        .map(|n| n.label.clone())
        .collect();
    Checked { verdict, kind: item.kind, rule: signing::rule(item.kind), signed_by, missing, duplicate }
}

fn subject(view: &dyn StateView, kind: SubjectKind, id: &str) -> Option<Subject> {
    view.subject(kind, id).ok().flatten()
}

fn one(label: String, party: String) -> Need {
    Need { label, parties: vec![party], keyids: Vec::new(), k: 1 }
}

fn holders(gov: &Governance, role: Role) -> Vec<String> {
    gov.parties.values().filter(|p| p.roles.contains(&role)).map(|p| p.party_id.clone()).collect()
}

/// The signatures a statement needs that depend on the state: a subject's original signers, a pledge's
/// pledger, a delivery's receiver, a condition's assessor, the holders of a role, k members.
fn stateful_needs(gov: &Governance, view: &dyn StateView, body: &Body, k: usize, members: &[String]) -> Vec<Need> {
    let originals = |kind: SubjectKind, id: &str| -> Vec<Need> {
        match subject(view, kind, id) {
            Some(s) => {
                s.signers.iter().map(|p| one(format!("{p} (an original signer of {kind} {id})"), p.clone())).collect()
            }
            None => Vec::new(),
        }
    };
    match body {
        Body::Amended(a) => originals(book::version_kind(&a.version), &a.subject_id),
        Body::Withdrawn(w) => originals(w.subject_kind.into(), &w.subject_id),
        Body::TransactionReversed(r) => originals(book::TRANSACTION, &r.txn_id),
        Body::InkindDelivered(d::InkindDelivered { pledge_id, .. })
        | Body::MilestoneUpdated(d::MilestoneUpdated { pledge_id, .. }) => subject(view, book::PLEDGE, pledge_id)
            .map(|s| vec![one(format!("the pledger {} (of pledge {pledge_id})", s.party_id), s.party_id)])
            .unwrap_or_default(),
        Body::DeliveryConfirmed(c) => subject(view, book::DELIVERY, &c.delivery_id)
            .and_then(|s| s.parsed::<d::InkindDelivered>().ok())
            .map(|x| {
                vec![one(
                    format!("the receiver {} (of delivery {})", x.receiver_id, c.delivery_id),
                    x.receiver_id.to_string(),
                )]
            })
            .unwrap_or_default(),
        Body::ConditionAssessed(a) => subject(view, book::CONDITION, &a.condition_id)
            .and_then(|s| s.parsed::<d::ConditionDefined>().ok())
            .and_then(|c| c.assessor_id)
            .map(|p| vec![one(format!("the assessor {p} (of condition {})", a.condition_id), p.to_string())])
            .unwrap_or_default(),
        Body::PlanCreated(_) | Body::GoalDefined(_) | Body::IndicatorDefined(_) => {
            let sec = holders(gov, Role::Secretariat);
            let label = format!(
                "a secretariat member ({}), a plan signatory, or {k} member(s)",
                if sec.is_empty() { "none".to_string() } else { sec.join(", ") }
            );
            if sec.is_empty() {
                vec![Need { label, parties: members.to_vec(), keyids: Vec::new(), k }]
            } else {
                vec![Need { label, parties: sec, keyids: Vec::new(), k: 1 }]
            }
        }
        Body::FxRateRecorded(_) => {
            let p = holders(gov, Role::RatePublisher);
            vec![Need { label: format!("a rate publisher ({})", p.join(", ")), parties: p, keyids: Vec::new(), k: 1 }]
        }
        _ => Vec::new(),
    }
}
