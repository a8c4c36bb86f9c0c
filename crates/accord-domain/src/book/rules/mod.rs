//! The signer rules and invariants of DOMAIN.md §3–§4, applied in the sequencer against the state as of
//! the entry, producing the effects that update the projections. One file per group of statement kinds;
//! [`apply`] dispatches, and [`Out`] collects the effects.
use std::collections::{BTreeMap, BTreeSet};

use std::sync::Arc;

use super::*;
use crate::codes::{Action, Role};
use crate::error::Error;
use crate::state::{Effect, Governance, Result, StateView};
use crate::statement::{self as d, Body, Version};
use crate::{date, money};

mod commitments;
mod deliveries;
mod fx;
mod plans;
mod pledges;
mod reporting;
mod transactions;
mod versions;

use commitments::*;
use deliveries::*;
use fx::*;
use plans::*;
use pledges::*;
use reporting::*;
use transactions::*;
use versions::*;

/// Everything [`apply`] needs about the entry being sequenced.
pub struct Ctx<'a> {
    /// Governance as of the entry.
    pub gov: &'a Governance,
    /// Parties with at least one valid signature on the statement.
    pub signers: &'a BTreeSet<String>,
    /// The entry's log index.
    pub index: u64,
    /// Integration day.
    pub today: i64,
    /// The projections as of the entry.
    pub view: &'a dyn StateView,
    /// The statement's compiled body: the body a subject it creates or versions keeps.
    pub body: &'a Arc<Compiled>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").field("signers", &self.signers).field("index", &self.index).finish_non_exhaustive()
    }
}

/// Collects effects, and keeps subjects updated earlier in the same statement visible to later steps.
struct Out<'a> {
    ctx: &'a Ctx<'a>,
    effects: Vec<Effect>,
    pending: BTreeMap<(SubjectKind, String), Subject>,
}

impl<'a> Out<'a> {
    fn new(ctx: &'a Ctx<'a>) -> Self {
        Self { ctx, effects: Vec::new(), pending: BTreeMap::new() }
    }
    fn get(&self, kind: SubjectKind, id: &str) -> Result<Option<Subject>> {
        if let Some(s) = self.pending.get(&(kind, id.to_string())) {
            return Ok(Some(s.clone()));
        }
        self.ctx.view.subject(kind, id)
    }
    /// An earlier subject of the right kind, or a FAILED_PRECONDITION naming what is missing.
    fn need(&self, field: &str, kind: SubjectKind, id: &str) -> Result<Subject> {
        self.get(kind, id)?.ok_or_else(|| {
            Error::precondition(
                field,
                format!("refers to no earlier {kind} {id:?} (references point to earlier entries of the right kind)"),
            )
        })
    }
    fn fresh(&self, field: &str, kind: SubjectKind, id: &str) -> Result<()> {
        match self.get(kind, id)? {
            Some(s) => Err(Error::precondition(
                field,
                format!("{kind} {id:?} already exists (entry {}); ids are unique and immutable", s.created_at),
            )),
            None => Ok(()),
        }
    }
    fn put(&mut self, mut s: Subject, action: Action) {
        s.updated_at = self.ctx.index;
        self.effects.push(Effect::History { kind: s.kind, id: s.id.clone(), index: self.ctx.index, action });
        self.pending.insert((s.kind, s.id.clone()), s.clone());
        self.effects.push(Effect::Subject(Box::new(s)));
    }
    /// Record that this entry touched a subject without changing its projection.
    fn touch(&mut self, kind: SubjectKind, id: &str, action: Action) {
        self.effects.push(Effect::History { kind, id: id.into(), index: self.ctx.index, action });
    }
    /// A new subject created by this entry, with the statement's compiled body.
    fn new_subject(&self, kind: SubjectKind, id: &str, plan_id: &str, party_id: &str) -> Subject {
        Subject {
            kind,
            id: id.into(),
            plan_id: plan_id.into(),
            party_id: party_id.into(),
            status: SubjectStatus::Active,
            created_at: self.ctx.index,
            updated_at: self.ctx.index,
            version_at: self.ctx.index,
            version: 1,
            signers: Vec::new(),
            body: Some(Arc::clone(self.ctx.body)),
            tally: Tally::default(),
        }
    }
}

impl Ctx<'_> {
    fn party(&self, field: &str, id: &str) -> Result<()> {
        if self.gov.parties.contains_key(id) {
            Ok(())
        } else {
            Err(Error::precondition(field, format!("party {id:?} is not a member of the coalition")))
        }
    }
    fn has_role(&self, id: &str, role: Role) -> bool {
        self.gov.parties.get(id).is_some_and(|p| p.roles.contains(&role))
    }
    fn role(&self, field: &str, id: &str, role: Role) -> Result<()> {
        self.party(field, id)?;
        if self.has_role(id, role) {
            Ok(())
        } else {
            Err(Error::precondition(field, format!("party {id:?} does not hold the {role} role")))
        }
    }
    /// The party must have signed: a party acts only as itself.
    fn signed_by(&self, field: &str, id: &str, what: &str) -> Result<()> {
        if self.signers.contains(id) {
            Ok(())
        } else {
            Err(Error::denied(
                field,
                format!(
                    "{what} must be signed by {id} (a party acts only as itself; signed by: {})",
                    self.signer_list()
                ),
            ))
        }
    }
    fn signer_list(&self) -> String {
        if self.signers.is_empty() {
            "nobody registered".into()
        } else {
            self.signers.iter().cloned().collect::<Vec<_>>().join(", ")
        }
    }
    /// Plans, goals and indicators: signed by the secretariat, a plan signatory, or k members.
    fn plan_authority(&self, plan: Option<&d::PlanCreated>, what: &str) -> Result<()> {
        let secretariat = self.signers.iter().any(|p| self.has_role(p, Role::Secretariat));
        let signatory =
            plan.is_some_and(|pl| pl.signatories.iter().any(|s| self.signers.contains(s.party_id.as_str())));
        let k = self.gov.charter.as_ref().map_or(1, |c| c.1) as usize;
        if secretariat || signatory || self.signers.len() >= k {
            Ok(())
        } else {
            Err(Error::denied(
                "envelope.signatures",
                format!(
                    "{what} is signed by the secretariat, a plan signatory or {k} member(s); signed by: {}",
                    self.signer_list()
                ),
            ))
        }
    }
    /// Every one of the subject's original required signers signed again.
    fn original_signers(&self, s: &Subject, what: &str) -> Result<()> {
        for p in &s.signers {
            self.signed_by("envelope.signatures", p, &format!("{what} of {} {}", s.kind, s.id))?;
        }
        Ok(())
    }
}

/// Whether two optional periods overlap (an absent period overlaps every period).
fn periods_overlap(a: Option<&d::Period>, b: Option<&d::Period>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.overlaps(b),
        _ => true,
    }
}

/// Scope an error under a statement body name, leaving envelope-level fields alone.
fn sc(name: &'static str) -> impl Fn(Error) -> Error {
    move |e| e.within(name)
}

/// Apply a book statement (anything but governance) at `ctx.index`. Errors name fields relative to the
/// statement (e.g. `pledge_announced.amount`).
pub fn apply(ctx: &Ctx<'_>, body: &Body) -> Result<Vec<Effect>> {
    let mut out = Out::new(ctx);
    let o = &mut out;
    match body {
        Body::PlanCreated(p) => plan(o, p, None),
        Body::GoalDefined(g) => goal(o, g, None),
        Body::IndicatorDefined(x) => indicator(o, x, None),
        Body::PledgeAnnounced(p) => pledge(o, p, None),
        Body::ConditionDefined(c) => condition(o, c, None),
        Body::CommitmentSigned(c) => commitment(o, c, None),
        Body::TransactionRecorded(t) => transaction(o, t),
        Body::TransactionReversed(r) => reversal(o, r),
        Body::InkindDelivered(x) => delivery(o, x),
        Body::MilestoneUpdated(m) => milestone(o, m),
        Body::ConditionAssessed(a) => assessment(o, a),
        Body::ProgressReported(r) => progress(o, r),
        Body::AttestationIssued(a) => attestation(o, a),
        Body::Amended(a) => amendment(o, a),
        Body::Withdrawn(w) => withdrawal(o, w),
        Body::FxRateRecorded(f) => fx_rate(o, f),
        Body::DeliveryConfirmed(c) => confirmation(o, c),
        Body::Charter(_) | Body::PartyAdmitted(_) | Body::KeyRotated(_) | Body::KeyRevoked(_) => {
            return Err(Error::internal("governance statement routed to the book"))
        }
    }
    .map_err(sc(body.field_name()))?;
    Ok(out.effects)
}

/// Start a subject, or continue the previous version of an amended one (same creation entry and tally).
fn versioned(out: &Out<'_>, prev: Option<&Subject>, kind: SubjectKind, id: &str, plan: &str, party: &str) -> Subject {
    match prev {
        Some(p) => Subject {
            version: p.version.saturating_add(1),
            version_at: out.ctx.index,
            body: Some(Arc::clone(out.ctx.body)),
            ..p.clone()
        },
        None => out.new_subject(kind, id, plan, party),
    }
}

fn immutable(field: &str, old: &str, new: &str) -> Result<()> {
    if old == new {
        Ok(())
    } else {
        Err(Error::precondition(
            field,
            format!("is {old:?} and cannot change in an amendment (amend by withdrawing and re-creating)"),
        ))
    }
}
