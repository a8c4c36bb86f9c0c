//! The signer rules and invariants of DOMAIN.md §3–§4, applied in the sequencer against the state as of
//! the entry, producing the effects that update the projections.
use std::collections::{BTreeMap, BTreeSet};

use prost::Message;
use rust_decimal::Decimal;

use super::*;
use crate::domain::money::{self, parse_money, Amount};
use crate::domain::{Effect, Governance, StateView};
use crate::error::{Error, Result};
use crate::pb::{self, amended::Version, statement::Body};

/// Everything [`apply`] needs about the entry being sequenced.
pub struct Ctx<'a> {
    pub gov: &'a Governance,
    /// Parties with at least one valid signature on the statement.
    pub signers: &'a BTreeSet<String>,
    pub index: u64,
    /// Integration day.
    pub today: i64,
    pub view: &'a dyn StateView,
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
    pending: BTreeMap<(String, String), Subject>,
}

impl<'a> Out<'a> {
    fn new(ctx: &'a Ctx<'a>) -> Self {
        Self { ctx, effects: Vec::new(), pending: BTreeMap::new() }
    }
    fn get(&self, kind: &str, id: &str) -> Result<Option<Subject>> {
        if let Some(s) = self.pending.get(&(kind.to_string(), id.to_string())) {
            return Ok(Some(s.clone()));
        }
        self.ctx.view.subject(kind, id)
    }
    /// An earlier subject of the right kind, or a FAILED_PRECONDITION naming what is missing.
    fn need(&self, field: &str, kind: &str, id: &str) -> Result<Subject> {
        self.get(kind, id)?.ok_or_else(|| {
            Error::precondition(
                field,
                format!("refers to no earlier {kind} {id:?} (references point to earlier entries of the right kind)"),
            )
        })
    }
    fn fresh(&self, field: &str, kind: &str, id: &str) -> Result<()> {
        match self.get(kind, id)? {
            Some(s) => Err(Error::precondition(
                field,
                format!("{kind} {id:?} already exists (entry {}); ids are unique and immutable", s.created_at),
            )),
            None => Ok(()),
        }
    }
    fn put(&mut self, mut s: Subject, action: &str) {
        s.updated_at = self.ctx.index;
        self.effects.push(Effect::History {
            kind: s.kind.clone(),
            id: s.id.clone(),
            index: self.ctx.index,
            action: action.into(),
        });
        self.pending.insert((s.kind.clone(), s.id.clone()), s.clone());
        self.effects.push(Effect::Subject(Box::new(s)));
    }
    /// Record that this entry touched a subject without changing its projection.
    fn touch(&mut self, kind: &str, id: &str, action: &str) {
        self.effects.push(Effect::History {
            kind: kind.into(),
            id: id.into(),
            index: self.ctx.index,
            action: action.into(),
        });
    }
    fn new_subject(&self, kind: &str, id: &str, plan_id: &str, party_id: &str, body: Vec<u8>) -> Subject {
        Subject {
            kind: kind.into(),
            id: id.into(),
            plan_id: plan_id.into(),
            party_id: party_id.into(),
            status: "active".into(),
            created_at: self.ctx.index,
            updated_at: self.ctx.index,
            version_at: self.ctx.index,
            version: 1,
            signers: Vec::new(),
            body,
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
    fn has_role(&self, id: &str, role: &str) -> bool {
        self.gov.parties.get(id).is_some_and(|p| p.roles.iter().any(|r| r == role))
    }
    fn role(&self, field: &str, id: &str, role: &str) -> Result<()> {
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
    fn plan_authority(&self, plan: Option<&pb::PlanCreated>, what: &str) -> Result<()> {
        let secretariat = self.signers.iter().any(|p| self.has_role(p, "secretariat"));
        let signatory = plan.is_some_and(|pl| pl.signatories.iter().any(|s| self.signers.contains(&s.party_id)));
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

fn dec(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap_or_default()
}

fn amount_of(m: Option<&pb::Money>) -> Option<Amount> {
    parse_money("amount", m).ok()
}

fn periods_overlap(a: Option<&pb::Period>, b: Option<&pb::Period>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.start <= b.end && b.start <= a.end,
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
    match body {
        Body::PlanCreated(p) => plan(&mut out, p, None).map_err(sc("plan_created"))?,
        Body::GoalDefined(g) => goal(&mut out, g, None).map_err(sc("goal_defined"))?,
        Body::IndicatorDefined(x) => indicator(&mut out, x, None).map_err(sc("indicator_defined"))?,
        Body::PledgeAnnounced(p) => pledge(&mut out, p, None).map_err(sc("pledge_announced"))?,
        Body::ConditionDefined(c) => condition(&mut out, c, None).map_err(sc("condition_defined"))?,
        Body::CommitmentSigned(c) => commitment(&mut out, c, None).map_err(sc("commitment_signed"))?,
        Body::TransactionRecorded(t) => transaction(&mut out, t).map_err(sc("transaction_recorded"))?,
        Body::TransactionReversed(r) => reversal(&mut out, r).map_err(sc("transaction_reversed"))?,
        Body::InkindDelivered(d) => delivery(&mut out, d).map_err(sc("inkind_delivered"))?,
        Body::MilestoneUpdated(m) => milestone(&mut out, m).map_err(sc("milestone_updated"))?,
        Body::ConditionAssessed(a) => assessment(&mut out, a).map_err(sc("condition_assessed"))?,
        Body::ProgressReported(r) => progress(&mut out, r).map_err(sc("progress_reported"))?,
        Body::AttestationIssued(a) => attestation(&mut out, a).map_err(sc("attestation_issued"))?,
        Body::Amended(a) => amendment(&mut out, a).map_err(sc("amended"))?,
        Body::Withdrawn(w) => withdrawal(&mut out, w).map_err(sc("withdrawn"))?,
        Body::FxRateRecorded(f) => fx_rate(&mut out, f).map_err(sc("fx_rate_recorded"))?,
        Body::DeliveryConfirmed(c) => confirmation(&mut out, c).map_err(sc("delivery_confirmed"))?,
        Body::Charter(_) | Body::PartyAdmitted(_) | Body::KeyRotated(_) | Body::KeyRevoked(_) => {
            return Err(Error::internal("governance statement routed to the book"))
        }
    }
    Ok(out.effects)
}

/// Start a subject, or continue the previous version of an amended one (same creation entry and tally).
fn versioned(
    out: &Out<'_>,
    prev: Option<&Subject>,
    kind: &str,
    id: &str,
    plan: &str,
    party: &str,
    body: Vec<u8>,
) -> Subject {
    match prev {
        Some(p) => Subject { version: p.version.saturating_add(1), version_at: out.ctx.index, body, ..p.clone() },
        None => out.new_subject(kind, id, plan, party, body),
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

fn plan(out: &mut Out<'_>, p: &pb::PlanCreated, prev: Option<&Subject>) -> Result<()> {
    let ctx = out.ctx;
    if prev.is_none() {
        out.fresh("plan_id", PLAN, &p.plan_id)?;
    }
    for (i, s) in p.signatories.iter().enumerate() {
        ctx.party(&format!("signatories[{i}].party_id"), &s.party_id)?;
    }
    for (i, b) in p.boundary_party_ids.iter().enumerate() {
        ctx.party(&format!("boundary_party_ids[{i}]"), b)?;
    }
    for (i, x) in p.expected_reporters.iter().enumerate() {
        ctx.party(&format!("expected_reporters[{i}].party_id"), &x.party_id)?;
    }
    ctx.plan_authority(None, "plan.created")?;
    let s = versioned(out, prev, PLAN, &p.plan_id, &p.plan_id, "", p.encode_to_vec());
    out.put(s, if prev.is_some() { "amended" } else { "created" });
    Ok(())
}

fn goal(out: &mut Out<'_>, g: &pb::GoalDefined, prev: Option<&Subject>) -> Result<()> {
    if let Some(p) = prev {
        immutable("plan_id", &p.plan_id, &g.plan_id)?;
    } else {
        out.fresh("goal_id", GOAL, &g.goal_id)?;
    }
    let plan: pb::PlanCreated = out.need("plan_id", PLAN, &g.plan_id)?.decode()?;
    out.ctx.plan_authority(Some(&plan), "goal.defined")?;
    let s = versioned(out, prev, GOAL, &g.goal_id, &g.plan_id, "", g.encode_to_vec());
    out.put(s, if prev.is_some() { "amended" } else { "created" });
    Ok(())
}

fn indicator(out: &mut Out<'_>, x: &pb::IndicatorDefined, prev: Option<&Subject>) -> Result<()> {
    if prev.is_none() {
        out.fresh("indicator_id", INDICATOR, &x.indicator_id)?;
    }
    let goal = out.need("goal_id", GOAL, &x.goal_id)?;
    if let Some(p) = prev {
        let old: pb::IndicatorDefined = p.decode()?;
        immutable("goal_id", &old.goal_id, &x.goal_id)?;
    }
    let plan: pb::PlanCreated = out.need("goal_id", PLAN, &goal.plan_id)?.decode()?;
    out.ctx.plan_authority(Some(&plan), "indicator.defined")?;
    let s = versioned(out, prev, INDICATOR, &x.indicator_id, &goal.plan_id, "", x.encode_to_vec());
    out.put(s, if prev.is_some() { "amended" } else { "created" });
    Ok(())
}

fn pledge(out: &mut Out<'_>, p: &pb::PledgeAnnounced, prev: Option<&Subject>) -> Result<()> {
    let ctx = out.ctx;
    ctx.party("pledger_id", &p.pledger_id)?;
    ctx.signed_by("pledger_id", &p.pledger_id, "a pledge")?;
    out.need("plan_id", PLAN, &p.plan_id)?;
    for (i, r) in p.recipient_ids.iter().enumerate() {
        ctx.party(&format!("recipient_ids[{i}]"), r)?;
    }
    for (i, g) in p.goals.iter().enumerate() {
        let goal = out.need(&format!("goals[{i}].goal_id"), GOAL, &g.goal_id)?;
        if goal.plan_id != p.plan_id {
            return Err(Error::precondition(
                format!("goals[{i}].goal_id"),
                format!("goal {} belongs to plan {}, not {}", g.goal_id, goal.plan_id, p.plan_id),
            ));
        }
    }
    let amount = amount_of(p.amount.as_ref());
    if let Some(prev) = prev {
        let old: pb::PledgeAnnounced = prev.decode()?;
        immutable("pledger_id", &old.pledger_id, &p.pledger_id)?;
        immutable("plan_id", &old.plan_id, &p.plan_id)?;
        immutable("pledge_kind", &old.pledge_kind, &p.pledge_kind)?;
        if old.restates != p.restates {
            // Amending a pledge changes what it restates (DOMAIN.md §7): the old restatements are released,
            // the new ones applied with the same rules as at announcement.
            release_restatements(out, &old)?;
            restate(out, p)?;
        }
        let old_amount = amount_of(old.amount.as_ref());
        if let (Some(o), Some(n)) = (&old_amount, &amount) {
            if o.currency != n.currency && !(prev.tally.committed.is_zero() && prev.tally.delivered.is_zero()) {
                return Err(Error::precondition(
                    "amount.currency",
                    "cannot change once the pledge is committed or delivered",
                ));
            }
            let drawn = prev.tally.committed.max(prev.tally.delivered);
            if n.value < drawn {
                return Err(Error::precondition(
                    "amount.value",
                    format!("{} is below the {drawn} already committed or delivered against the pledge", n.value),
                ));
            }
        }
        let s = Subject {
            version: prev.version.saturating_add(1),
            version_at: ctx.index,
            body: p.encode_to_vec(),
            ..prev.clone()
        };
        let mut s = s;
        s.status = pledge_status(&s, p, ctx.today).into();
        out.put(s, "amended");
        return Ok(());
    }
    out.fresh("pledge_id", PLEDGE, &p.pledge_id)?;
    let restated = restate(out, p)?;
    // Overlap (DOMAIN.md §7): an open pledge of the same pledger, plan and usage period must be restated,
    // whatever `new_money` says; `new_money` only claims that the part not restated is additional, and a
    // restatement of 0 declares that none of the other pledge is re-announced.
    for other in ctx.view.subjects(PLEDGE, &p.plan_id, &p.pledger_id)? {
        if restated.contains(&other.id) {
            continue;
        }
        let ob: pb::PledgeAnnounced = other.decode()?;
        let open =
            !matches!(pledge_status(&other, &ob, ctx.today), "withdrawn" | "superseded" | "fulfilled" | "lapsed");
        if open && ob.pledge_kind == p.pledge_kind && periods_overlap(ob.usage_period.as_ref(), p.usage_period.as_ref())
        {
            return Err(Error::precondition(
                "restates",
                format!(
                    "the pledge overlaps open pledge {} of the same pledger, plan and period: declare `restates` \
                     (the amount re-announced, 0 if none is), whatever `new_money` says",
                    other.id
                ),
            ));
        }
    }
    let mut s = out.new_subject(PLEDGE, &p.pledge_id, &p.plan_id, &p.pledger_id, p.encode_to_vec());
    s.signers = vec![p.pledger_id.clone()];
    s.status = pledge_status(&s, p, ctx.today).into();
    out.put(s, "created");
    Ok(())
}

/// Apply a pledge's restatements: earlier pledges of the same pledger, in their own currency, never
/// over-restated. Returns the ids restated.
fn restate(out: &mut Out<'_>, p: &pb::PledgeAnnounced) -> Result<BTreeSet<String>> {
    let ctx = out.ctx;
    let mut restated = BTreeSet::new();
    for (i, r) in p.restates.iter().enumerate() {
        let field = format!("restates[{i}]");
        let mut old = out.need(&format!("{field}.pledge_id"), PLEDGE, &r.pledge_id)?;
        let old_body: pb::PledgeAnnounced = old.decode()?;
        if old_body.pledger_id != p.pledger_id {
            return Err(Error::precondition(
                format!("{field}.pledge_id"),
                format!("pledge {} is {}'s; a pledger restates only its own pledges", r.pledge_id, old_body.pledger_id),
            ));
        }
        // A restatement of 0 is allowed: it states, auditably, that none of that pledge is re-announced.
        let a = money::parse_money_or_zero(&format!("{field}.amount"), r.amount.as_ref())?;
        let old_amount = amount_of(old_body.amount.as_ref())
            .ok_or_else(|| Error::precondition(format!("{field}.pledge_id"), "the restated pledge has no amount"))?;
        if a.currency != old_amount.currency {
            return Err(Error::invalid(
                format!("{field}.amount.currency"),
                format!("is {} but pledge {} is in {}", a.currency, r.pledge_id, old_amount.currency),
            ));
        }
        let restated_total = money::add(&format!("{field}.amount.value"), old.tally.restated, a.value)?;
        if restated_total > old_amount.value {
            return Err(Error::precondition(
                format!("{field}.amount.value"),
                format!(
                    "restating {} would restate more than pledge {} ({}; {} already restated)",
                    a.value, r.pledge_id, old_amount.value, old.tally.restated
                ),
            ));
        }
        old.tally.restated = restated_total;
        old.tally.restated_by.push(p.pledge_id.clone());
        old.status = pledge_status(&old, &old_body, ctx.today).into();
        restated.insert(r.pledge_id.clone());
        out.put(old, "restated");
    }
    Ok(restated)
}

/// Release a pledge's restatements (DOMAIN.md §7: a restatement counts only while the restating pledge is
/// effective as it stands): the restated pledges' totals, `restated_by` and statuses are restored.
fn release_restatements(out: &mut Out<'_>, p: &pb::PledgeAnnounced) -> Result<()> {
    for r in &p.restates {
        let Some(mut old) = out.get(PLEDGE, &r.pledge_id)? else { continue };
        let a = money::parse_money_or_zero("restates.amount", r.amount.as_ref())?;
        old.tally.restated = money::sub("restates.amount.value", old.tally.restated, a.value)?.max(Decimal::ZERO);
        if let Some(pos) = old.tally.restated_by.iter().position(|x| x == &p.pledge_id) {
            old.tally.restated_by.remove(pos);
        }
        let ob: pb::PledgeAnnounced = old.decode()?;
        old.status = pledge_status(&old, &ob, out.ctx.today).into();
        out.put(old, "restatement_released");
    }
    Ok(())
}

fn condition(out: &mut Out<'_>, c: &pb::ConditionDefined, prev: Option<&Subject>) -> Result<()> {
    let ctx = out.ctx;
    ctx.party("party_id", &c.party_id)?;
    ctx.signed_by("party_id", &c.party_id, "a condition")?;
    out.need("plan_id", PLAN, &c.plan_id)?;
    if !c.assessor_id.is_empty() {
        ctx.role("assessor_id", &c.assessor_id, "assessor")?;
    }
    for (i, pid) in c.pledge_ids.iter().enumerate() {
        let p = out.need(&format!("pledge_ids[{i}]"), PLEDGE, pid)?;
        if p.plan_id != c.plan_id {
            return Err(Error::precondition(
                format!("pledge_ids[{i}]"),
                format!("pledge {pid} is in plan {}", p.plan_id),
            ));
        }
        if c.condition_type != "co_financing" && p.party_id != c.party_id {
            return Err(Error::precondition(
                format!("pledge_ids[{i}]"),
                format!("pledge {pid} is {}'s money; a condition is set by the party whose money it gates", p.party_id),
            ));
        }
    }
    if let Some(r) = &c.co_financing {
        for (i, pid) in r.party_ids.iter().enumerate() {
            ctx.party(&format!("co_financing.party_ids[{i}]"), pid)?;
        }
    }
    if let Some(p) = prev {
        let old: pb::ConditionDefined = p.decode()?;
        immutable("party_id", &old.party_id, &c.party_id)?;
        immutable("condition_type", &old.condition_type, &c.condition_type)?;
    } else {
        out.fresh("condition_id", CONDITION, &c.condition_id)?;
    }
    let mut s = versioned(out, prev, CONDITION, &c.condition_id, &c.plan_id, &c.party_id, c.encode_to_vec());
    s.signers = vec![c.party_id.clone()];
    s.status = condition_status(&s.tally);
    out.put(s, if prev.is_some() { "amended" } else { "created" });
    Ok(())
}

/// Add (or with `sign = -1` remove) a commitment's allocations to its pledges, checking the pledge limit.
fn allocate(out: &mut Out<'_>, c: &pb::CommitmentSigned, sign: i32, field: &str) -> Result<()> {
    let today = out.ctx.today;
    for (i, a) in c.allocations.iter().enumerate() {
        let f = format!("{field}allocations[{i}]");
        let mut p = out.need(&format!("{f}.pledge_id"), PLEDGE, &a.pledge_id)?;
        let pb_: pb::PledgeAnnounced = p.decode()?;
        let amt = parse_money(&format!("{f}.amount"), a.amount.as_ref())?;
        if sign > 0 {
            if pb_.pledger_id != c.provider_id {
                return Err(Error::precondition(
                    format!("{f}.pledge_id"),
                    format!("pledge {} is {}'s; a party commits only its own pledges", a.pledge_id, pb_.pledger_id),
                ));
            }
            if pb_.plan_id != c.plan_id {
                return Err(Error::precondition(
                    format!("{f}.pledge_id"),
                    format!("pledge {} is in plan {}", a.pledge_id, pb_.plan_id),
                ));
            }
            if p.tally.withdrawn {
                return Err(Error::precondition(
                    format!("{f}.pledge_id"),
                    format!("pledge {} was withdrawn", a.pledge_id),
                ));
            }
            let pa = amount_of(pb_.amount.as_ref())
                .ok_or_else(|| Error::precondition(format!("{f}.pledge_id"), "the pledge has no amount to commit"))?;
            if amt.currency != pa.currency {
                return Err(Error::invalid(
                    format!("{f}.amount.currency"),
                    format!(
                        "is {}, but pledge {} is in {} (allocations are in the pledge's currency)",
                        amt.currency, a.pledge_id, pa.currency
                    ),
                ));
            }
            let committed = money::add(&format!("{f}.amount.value"), p.tally.committed, amt.value)?;
            if committed > pa.value {
                return Err(Error::precondition(
                    format!("{f}.amount.value"),
                    format!(
                        "allocating {} {} to pledge {} would commit {} of a {} pledge (Σ allocations ≤ the pledge; amend the pledge first)",
                        amt.value,
                        amt.currency,
                        a.pledge_id,
                        committed,
                        pa.value
                    ),
                ));
            }
            p.tally.committed = committed;
        } else {
            p.tally.committed = money::sub(&format!("{f}.amount.value"), p.tally.committed, amt.value)?;
        }
        p.status = pledge_status(&p, &pb_, today).into();
        out.put(p, if sign > 0 { "committed" } else { "uncommitted" });
    }
    Ok(())
}

fn commitment(out: &mut Out<'_>, c: &pb::CommitmentSigned, prev: Option<&Subject>) -> Result<()> {
    let ctx = out.ctx;
    ctx.party("provider_id", &c.provider_id)?;
    ctx.party("recipient_id", &c.recipient_id)?;
    ctx.signed_by("provider_id", &c.provider_id, "a commitment")?;
    ctx.signed_by("recipient_id", &c.recipient_id, "a commitment")?;
    out.need("plan_id", PLAN, &c.plan_id)?;
    let amount = parse_money("amount", c.amount.as_ref())?;
    let mut old_tranches = BTreeMap::new();
    if let Some(p) = prev {
        let old: pb::CommitmentSigned = p.decode()?;
        immutable("provider_id", &old.provider_id, &c.provider_id)?;
        immutable("recipient_id", &old.recipient_id, &c.recipient_id)?;
        immutable("plan_id", &old.plan_id, &c.plan_id)?;
        let old_amount = parse_money("amount", old.amount.as_ref())?;
        immutable("amount.currency", &old_amount.currency, &amount.currency)?;
        if amount.value < p.tally.disbursed {
            return Err(Error::precondition(
                "amount.value",
                format!("{} is below the {} already disbursed", amount.value, p.tally.disbursed),
            ));
        }
        allocate(out, &old, -1, "")?;
        for t in &old.tranches {
            old_tranches.insert(t.tranche_id.clone(), t.clone());
        }
    } else {
        out.fresh("commitment_id", COMMITMENT, &c.commitment_id)?;
    }
    allocate(out, c, 1, "")?;
    for (i, t) in c.tranches.iter().enumerate() {
        let f = format!("tranches[{i}]");
        for (j, cid) in t.condition_ids.iter().enumerate() {
            let cond = out.need(&format!("{f}.condition_ids[{j}]"), CONDITION, cid)?;
            if cond.tally.withdrawn {
                return Err(Error::precondition(
                    format!("{f}.condition_ids[{j}]"),
                    format!("condition {cid} was withdrawn"),
                ));
            }
            if cond.plan_id != c.plan_id {
                return Err(Error::precondition(
                    format!("{f}.condition_ids[{j}]"),
                    format!("condition {cid} is in plan {}", cond.plan_id),
                ));
            }
        }
        let value = dec(&t.value);
        let mut ts = match (old_tranches.remove(&t.tranche_id), out.get(TRANCHE, &t.tranche_id)?) {
            (Some(_), Some(existing)) => existing,
            (None, Some(existing)) => {
                return Err(Error::precondition(
                    format!("{f}.tranche_id"),
                    format!("tranche {} already exists in commitment {}", t.tranche_id, existing.tally.commitment_id),
                ))
            }
            (_, None) => {
                let mut s = out.new_subject(TRANCHE, &t.tranche_id, &c.plan_id, &c.provider_id, Vec::new());
                s.tally.commitment_id = c.commitment_id.clone();
                s
            }
        };
        if value < ts.tally.disbursed {
            return Err(Error::precondition(
                format!("{f}.value"),
                format!("{value} is below the {} already disbursed", ts.tally.disbursed),
            ));
        }
        ts.tally.value = value;
        ts.tally.conditions = t.condition_ids.clone();
        ts.version = ts.version.saturating_add(u32::from(prev.is_some() && ts.created_at != ctx.index));
        for cid in &t.condition_ids {
            out.touch(CONDITION, cid, "gates");
        }
        out.put(ts, if prev.is_some() { "amended" } else { "created" });
    }
    if let Some((id, t)) = old_tranches.into_iter().next() {
        let _ = t;
        return Err(Error::precondition(
            "tranches",
            format!("tranche {id} cannot be dropped in an amendment (set its value instead)"),
        ));
    }
    let mut s = versioned(out, prev, COMMITMENT, &c.commitment_id, &c.plan_id, &c.provider_id, c.encode_to_vec());
    s.signers = vec![c.provider_id.clone(), c.recipient_id.clone()];
    s.status = if s.tally.disbursed >= amount.value { "disbursed".into() } else { "active".into() };
    out.put(s, if prev.is_some() { "amended" } else { "created" });
    Ok(())
}

/// Move a disbursement (positive) or its reversal (negative) through the commitment, its tranche and the
/// pledges it draws on. Pledges get their allocation's share, in the pledge's currency.
fn post_disbursement(out: &mut Out<'_>, t: &pb::TransactionRecorded, value: Decimal) -> Result<()> {
    let today = out.ctx.today;
    let mut cs = out.need("commitment_id", COMMITMENT, &t.commitment_id)?;
    let c: pb::CommitmentSigned = cs.decode()?;
    let total = parse_money("amount", c.amount.as_ref())?.value;
    cs.tally.disbursed = money::add("amount.value", cs.tally.disbursed, value)?;
    cs.status = if cs.tally.disbursed >= total { "disbursed".into() } else { "active".into() };
    if !t.tranche_id.is_empty() {
        let mut tr = out.need("tranche_id", TRANCHE, &t.tranche_id)?;
        tr.tally.disbursed = money::add("amount.value", tr.tally.disbursed, value)?;
        out.put(tr, if value > Decimal::ZERO { "disbursed" } else { "reversed" });
    }
    for a in &c.allocations {
        let mut p = out.need("commitment_id", PLEDGE, &a.pledge_id)?;
        let pbody: pb::PledgeAnnounced = p.decode()?;
        let share = money::div("amount.value", dec(a.amount.as_ref().map_or("0", |m| m.value.as_str())), total)?;
        let part = money::mul("amount.value", value, share)?;
        p.tally.disbursed = money::add("amount.value", p.tally.disbursed, part)?;
        p.status = pledge_status(&p, &pbody, today).into();
        out.put(p, if value > Decimal::ZERO { "disbursed" } else { "reversed" });
    }
    out.put(cs, if value > Decimal::ZERO { "disbursed" } else { "reversed" });
    Ok(())
}

fn transaction(out: &mut Out<'_>, t: &pb::TransactionRecorded) -> Result<()> {
    let ctx = out.ctx;
    out.fresh("txn_id", TRANSACTION, &t.txn_id)?;
    ctx.party("provider_id", &t.provider_id)?;
    if t.transaction_type != 4 {
        ctx.party("receiver_id", &t.receiver_id)?;
    }
    // The recording party: the receiver for incoming funds, the provider otherwise.
    let (recorder, other) =
        if t.transaction_type == 1 { (&t.receiver_id, &t.provider_id) } else { (&t.provider_id, &t.receiver_id) };
    ctx.signed_by(if t.transaction_type == 1 { "receiver_id" } else { "provider_id" }, recorder, "this transaction")?;
    let amount = parse_money("amount", t.amount.as_ref())?;
    // A transaction records money that moved: never dated after the day it is integrated (IATI Standard
    // Ruleset: transaction-date and value-date ≤ now).
    for (field, day) in [("date", date::parse_date(&t.date)), ("amount.value_date", Some(amount.value_date))] {
        if day.is_some_and(|d| d > ctx.today) {
            return Err(Error::precondition(
                field,
                format!(
                    "{} is after the integration date {}: a transaction records money that has moved",
                    day.map(date::format_date).unwrap_or_default(),
                    date::format_date(ctx.today)
                ),
            ));
        }
    }
    let mut plan_id = String::new();
    if !t.commitment_id.is_empty() {
        let cs = out.need("commitment_id", COMMITMENT, &t.commitment_id)?;
        let c: pb::CommitmentSigned = cs.decode()?;
        plan_id = c.plan_id.clone();
        if cs.tally.withdrawn {
            return Err(Error::precondition("commitment_id", format!("commitment {} was withdrawn", t.commitment_id)));
        }
        if t.transaction_type != 4 {
            if t.provider_id != c.provider_id {
                return Err(Error::precondition(
                    "provider_id",
                    format!("commitment {} is provided by {}", t.commitment_id, c.provider_id),
                ));
            }
            if t.receiver_id != c.recipient_id {
                return Err(Error::precondition(
                    "receiver_id",
                    format!("commitment {} is to {}", t.commitment_id, c.recipient_id),
                ));
            }
        }
        let ca = parse_money("amount", c.amount.as_ref())?;
        if amount.currency != ca.currency {
            return Err(Error::invalid(
                "amount.currency",
                format!("is {}, but commitment {} is in {}", amount.currency, t.commitment_id, ca.currency),
            ));
        }
        if matches!(t.transaction_type, 3 | 7) {
            let disbursed = money::add("amount.value", cs.tally.disbursed, amount.value)?;
            if disbursed > ca.value {
                return Err(Error::precondition(
                    "amount.value",
                    format!(
                        "disbursing {} would bring commitment {} to {} of {} (Σ disbursements − reversals ≤ the commitment)",
                        amount.value,
                        t.commitment_id,
                        disbursed,
                        ca.value
                    ),
                ));
            }
            if !c.tranches.is_empty() && t.tranche_id.is_empty() {
                return Err(Error::invalid(
                    "tranche_id",
                    format!("commitment {} has tranches: name the one disbursed", t.commitment_id),
                ));
            }
            if !t.tranche_id.is_empty() {
                let tr = out.need("tranche_id", TRANCHE, &t.tranche_id)?;
                if tr.tally.commitment_id != t.commitment_id {
                    return Err(Error::precondition(
                        "tranche_id",
                        format!("tranche {} belongs to commitment {}", t.tranche_id, tr.tally.commitment_id),
                    ));
                }
                let tranche_disbursed = money::add("amount.value", tr.tally.disbursed, amount.value)?;
                if tranche_disbursed > tr.tally.value {
                    return Err(Error::precondition(
                        "amount.value",
                        format!(
                            "disbursing {} would bring tranche {} to {} of {}",
                            amount.value, t.tranche_id, tranche_disbursed, tr.tally.value
                        ),
                    ));
                }
                let gate = tranche_gate(ctx.view, &tr)?;
                if gate.status == "withheld" || gate.status == "pending" {
                    let (cid, outcome, day) = gate
                        .conditions
                        .iter()
                        .find(|(_, o, _)| o != "met" && o != "waived" && o != "withdrawn")
                        .cloned()
                        .unwrap_or_default();
                    let how = if outcome == "pending" {
                        "not yet assessed".to_string()
                    } else {
                        format!("assessed {outcome} on {day}")
                    };
                    return Err(Error::precondition(
                        "tranche_id",
                        format!(
                            "tranche {} is gated by condition {cid}, {how}: a gated tranche is disbursed only when all its conditions are met or waived",
                            t.tranche_id
                        ),
                    ));
                }
            }
        }
    } else if !t.tranche_id.is_empty() {
        return Err(Error::invalid("tranche_id", "a tranche is disbursed against its commitment: set commitment_id"));
    }
    if !t.corrects.is_empty() {
        correct(out, t)?;
    }
    if matches!(t.transaction_type, 3 | 7) {
        post_disbursement(out, t, amount.value)?;
    }
    let mut s = out.new_subject(TRANSACTION, &t.txn_id, &plan_id, recorder, t.encode_to_vec());
    s.signers = vec![recorder.clone()];
    s.tally.confirmed = !other.is_empty() && ctx.signers.contains(other.as_str());
    s.status = if s.tally.confirmed { "confirmed".into() } else { "recorded".into() };
    out.put(s, "created");
    if !t.commitment_id.is_empty() && !matches!(t.transaction_type, 3 | 7) {
        out.touch(COMMITMENT, &t.commitment_id, "flow");
    }
    Ok(())
}

/// A corrected re-entry (DOMAIN.md §7): it replaces a transaction of the same type that is already reversed
/// and not yet corrected; the original is marked corrected by it.
fn correct(out: &mut Out<'_>, t: &pb::TransactionRecorded) -> Result<()> {
    let mut orig = out.need("corrects", TRANSACTION, &t.corrects)?;
    if !orig.tally.reversed {
        return Err(Error::precondition(
            "corrects",
            format!(
                "transaction {} is not reversed: a correction replaces a reversed transaction (reverse it first)",
                t.corrects
            ),
        ));
    }
    if !orig.tally.corrected_by.is_empty() {
        return Err(Error::precondition(
            "corrects",
            format!(
                "transaction {} is already corrected by {}: a transaction is corrected once",
                t.corrects, orig.tally.corrected_by
            ),
        ));
    }
    let o: pb::TransactionRecorded = orig.decode()?;
    if o.transaction_type != t.transaction_type {
        return Err(Error::precondition(
            "transaction_type",
            format!(
                "is {}, but transaction {} that it corrects is of type {}: a correction keeps the type",
                t.transaction_type, t.corrects, o.transaction_type
            ),
        ));
    }
    orig.tally.corrected_by = t.txn_id.clone();
    out.put(orig, "corrected");
    Ok(())
}

fn reversal(out: &mut Out<'_>, r: &pb::TransactionReversed) -> Result<()> {
    let mut s = out.need("txn_id", TRANSACTION, &r.txn_id)?;
    if s.tally.reversed {
        return Err(Error::precondition("txn_id", format!("transaction {} is already reversed", r.txn_id)));
    }
    out.ctx.original_signers(&s, "a reversal")?;
    let t: pb::TransactionRecorded = s.decode()?;
    if let Some(m) = r.amount.as_ref() {
        let (given, whole) = (parse_money("amount", Some(m))?, parse_money("amount", t.amount.as_ref())?);
        if given.currency != whole.currency || given.value != whole.value {
            return Err(Error::precondition(
                "amount",
                format!(
                    "is {} {}, but transaction {} is {} {}: a reversal takes back the whole amount",
                    given.value, given.currency, r.txn_id, whole.value, whole.currency
                ),
            ));
        }
    }
    if matches!(t.transaction_type, 3 | 7) {
        let amount = parse_money("amount", t.amount.as_ref())?;
        post_disbursement(out, &t, money::sub("amount.value", Decimal::ZERO, amount.value)?)?;
    }
    s.tally.reversed = true;
    s.status = "reversed".into();
    out.put(s, "reversed");
    Ok(())
}

fn delivery(out: &mut Out<'_>, d: &pb::InkindDelivered) -> Result<()> {
    let ctx = out.ctx;
    out.fresh("delivery_id", DELIVERY, &d.delivery_id)?;
    let mut p = out.need("pledge_id", PLEDGE, &d.pledge_id)?;
    let pbody: pb::PledgeAnnounced = p.decode()?;
    if pbody.pledge_kind != "in_kind" {
        return Err(Error::precondition(
            "pledge_id",
            format!("pledge {} is a {} pledge, not in_kind", d.pledge_id, pbody.pledge_kind),
        ));
    }
    ctx.signed_by("pledge_id", &pbody.pledger_id, "a delivery")?;
    ctx.party("receiver_id", &d.receiver_id)?;
    if !d.item_id.is_empty() && !pbody.items.iter().any(|i| i.item_id == d.item_id) {
        return Err(Error::precondition("item_id", format!("pledge {} has no item {}", d.pledge_id, d.item_id)));
    }
    let v = parse_money("value", d.value.as_ref())?;
    let pa = amount_of(pbody.amount.as_ref()).map(|a| a.currency).unwrap_or_default();
    if v.currency != pa {
        return Err(Error::invalid(
            "value.currency",
            format!("is {}, but pledge {} is in {pa}", v.currency, d.pledge_id),
        ));
    }
    p.tally.delivered = money::add("value.value", p.tally.delivered, v.value)?;
    p.status = pledge_status(&p, &pbody, ctx.today).into();
    out.put(p, "delivered");
    let mut s = out.new_subject(DELIVERY, &d.delivery_id, &pbody.plan_id, &pbody.pledger_id, d.encode_to_vec());
    s.signers = vec![pbody.pledger_id.clone()];
    s.tally.confirmed = ctx.signers.contains(&d.receiver_id);
    s.status = if s.tally.confirmed { "confirmed".into() } else { "recorded".into() };
    out.put(s, "created");
    Ok(())
}

/// The receiver confirms a delivery recorded without its countersignature (DOMAIN.md §7).
fn confirmation(out: &mut Out<'_>, c: &pb::DeliveryConfirmed) -> Result<()> {
    let mut s = out.need("delivery_id", DELIVERY, &c.delivery_id)?;
    let d: pb::InkindDelivered = s.decode()?;
    out.ctx.signed_by("delivery_id", &d.receiver_id, "the confirmation of a delivery")?;
    if s.tally.confirmed {
        return Err(Error::precondition("delivery_id", format!("delivery {} is already confirmed", c.delivery_id)));
    }
    let (given, delivered) = (date::parse_date(&c.date), date::parse_date(&d.date));
    if given < delivered {
        return Err(Error::precondition(
            "date",
            format!("{} is before the delivery's date {}: goods are received after they are delivered", c.date, d.date),
        ));
    }
    s.tally.confirmed = true;
    s.status = "confirmed".into();
    out.put(s, "confirmed");
    Ok(())
}

fn milestone(out: &mut Out<'_>, m: &pb::MilestoneUpdated) -> Result<()> {
    let ctx = out.ctx;
    let mut p = out.need("pledge_id", PLEDGE, &m.pledge_id)?;
    let pbody: pb::PledgeAnnounced = p.decode()?;
    if pbody.pledge_kind != "policy_action" {
        return Err(Error::precondition(
            "pledge_id",
            format!("pledge {} is a {} pledge, not policy_action", m.pledge_id, pbody.pledge_kind),
        ));
    }
    ctx.signed_by("pledge_id", &pbody.pledger_id, "a milestone update")?;
    if !pbody.milestones.iter().any(|x| x.milestone_id == m.milestone_id) {
        return Err(Error::precondition(
            "milestone_id",
            format!("pledge {} has no milestone {}", m.pledge_id, m.milestone_id),
        ));
    }
    p.tally.milestones.insert(
        m.milestone_id.clone(),
        MilestoneState {
            status: m.status.clone(),
            date: m.date.clone(),
            index: ctx.index,
            quantity_done: m.quantity_done.clone(),
        },
    );
    p.status = pledge_status(&p, &pbody, ctx.today).into();
    out.put(p, "milestone");
    Ok(())
}

fn assessment(out: &mut Out<'_>, a: &pb::ConditionAssessed) -> Result<()> {
    let ctx = out.ctx;
    let mut c = out.need("condition_id", CONDITION, &a.condition_id)?;
    if c.tally.withdrawn {
        return Err(Error::precondition("condition_id", format!("condition {} was withdrawn", a.condition_id)));
    }
    let body: pb::ConditionDefined = c.decode()?;
    if body.assessor_id.is_empty() {
        return Err(Error::precondition(
            "condition_id",
            format!("condition {} has no designated assessor", a.condition_id),
        ));
    }
    ctx.signed_by("condition_id", &body.assessor_id, "an assessment (by the designated assessor)")?;
    if !a.tranche_id.is_empty() {
        let tr = out.need("tranche_id", TRANCHE, &a.tranche_id)?;
        if !tr.tally.conditions.contains(&a.condition_id) {
            return Err(Error::precondition(
                "tranche_id",
                format!("tranche {} is not gated by condition {}", a.tranche_id, a.condition_id),
            ));
        }
        out.touch(TRANCHE, &a.tranche_id, "assessed");
    }
    c.tally.outcomes.insert(
        a.tranche_id.clone(),
        Assessment { outcome: a.outcome.clone(), date: a.date.clone(), index: ctx.index },
    );
    c.status = condition_status(&c.tally);
    out.put(c, "assessed");
    Ok(())
}

fn progress(out: &mut Out<'_>, r: &pb::ProgressReported) -> Result<()> {
    let ctx = out.ctx;
    out.fresh("report_id", REPORT, &r.report_id)?;
    ctx.party("reporter_id", &r.reporter_id)?;
    ctx.signed_by("reporter_id", &r.reporter_id, "a progress report")?;
    out.need("plan_id", PLAN, &r.plan_id)?;
    for (i, v) in r.indicator_values.iter().enumerate() {
        let ind = out.need(&format!("indicator_values[{i}].indicator_id"), INDICATOR, &v.indicator_id)?;
        if ind.plan_id != r.plan_id {
            return Err(Error::precondition(
                format!("indicator_values[{i}].indicator_id"),
                format!("indicator {} is in plan {}", v.indicator_id, ind.plan_id),
            ));
        }
    }
    let mut s = out.new_subject(REPORT, &r.report_id, &r.plan_id, &r.reporter_id, r.encode_to_vec());
    s.signers = vec![r.reporter_id.clone()];
    s.status = "reported".into();
    out.put(s, "created");
    Ok(())
}

fn attestation(out: &mut Out<'_>, a: &pb::AttestationIssued) -> Result<()> {
    let ctx = out.ctx;
    out.fresh("attestation_id", ATTESTATION, &a.attestation_id)?;
    // The auditor acts (signs): lacking the role is an authorisation failure, like a missing signature.
    ctx.party("auditor_id", &a.auditor_id)?;
    if !ctx.has_role(&a.auditor_id, "auditor") {
        return Err(Error::denied(
            "auditor_id",
            format!("party {:?} does not hold the auditor role (an attestation is signed by an auditor)", a.auditor_id),
        ));
    }
    ctx.signed_by("auditor_id", &a.auditor_id, "an attestation")?;
    let mut covered = Vec::new();
    for (i, id) in a.covered_entries.iter().enumerate() {
        let idx = ctx.view.entry_index(id)?.ok_or_else(|| {
            Error::precondition(
                format!("covered_entries[{i}]"),
                format!("no entry in the log has identity {}", hex::encode(id)),
            )
        })?;
        covered.push(idx);
    }
    let mut s = out.new_subject(ATTESTATION, &a.attestation_id, "", &a.auditor_id, a.encode_to_vec());
    s.signers = vec![a.auditor_id.clone()];
    s.status = a.opinion.clone();
    s.tally.covered = covered;
    out.put(s, "created");
    Ok(())
}

fn amendment(out: &mut Out<'_>, a: &pb::Amended) -> Result<()> {
    let v = a.version.as_ref().ok_or_else(|| Error::invalid("version", "the new version is required"))?;
    let kind = version_kind(v);
    let prev = out.need("subject_id", kind, &a.subject_id)?;
    if prev.tally.withdrawn {
        return Err(Error::precondition("subject_id", format!("{kind} {} was withdrawn", a.subject_id)));
    }
    out.ctx.original_signers(&prev, "an amendment")?;
    match v {
        Version::Plan(p) => plan(out, p, Some(&prev)).map_err(sc("plan")),
        Version::Goal(g) => goal(out, g, Some(&prev)).map_err(sc("goal")),
        Version::Indicator(x) => indicator(out, x, Some(&prev)).map_err(sc("indicator")),
        Version::Pledge(p) => pledge(out, p, Some(&prev)).map_err(sc("pledge")),
        Version::Condition(c) => condition(out, c, Some(&prev)).map_err(sc("condition")),
        Version::Commitment(c) => commitment(out, c, Some(&prev)).map_err(sc("commitment")),
    }
}

fn withdrawal(out: &mut Out<'_>, w: &pb::Withdrawn) -> Result<()> {
    let mut s = out.need("subject_id", &w.subject_kind, &w.subject_id)?;
    if s.tally.withdrawn {
        return Err(Error::precondition(
            "subject_id",
            format!("{} {} is already withdrawn", w.subject_kind, w.subject_id),
        ));
    }
    out.ctx.original_signers(&s, "a withdrawal")?;
    match w.subject_kind.as_str() {
        PLEDGE if !s.tally.committed.is_zero() || !s.tally.delivered.is_zero() => {
            return Err(Error::precondition(
                "subject_id",
                format!("pledge {} is already committed or delivered in part; amend it down instead", w.subject_id),
            ))
        }
        PLEDGE => {
            // A restatement counts only while the restating pledge is effective (DOMAIN.md §7): release it.
            let p: pb::PledgeAnnounced = s.decode()?;
            release_restatements(out, &p)?;
        }
        COMMITMENT => {
            if !s.tally.disbursed.is_zero() {
                return Err(Error::precondition(
                    "subject_id",
                    format!("commitment {} has disbursements; amend it down instead", w.subject_id),
                ));
            }
            let c: pb::CommitmentSigned = s.decode()?;
            allocate(out, &c, -1, "")?;
            s = out.need("subject_id", COMMITMENT, &w.subject_id)?;
        }
        _ => {}
    }
    s.tally.withdrawn = true;
    s.status = "withdrawn".into();
    out.put(s, "withdrawn");
    Ok(())
}

fn fx_rate(out: &mut Out<'_>, f: &pb::FxRateRecorded) -> Result<()> {
    let ctx = out.ctx;
    let Some(publisher) = ctx.signers.iter().find(|p| ctx.has_role(p, "rate_publisher")) else {
        return Err(Error::denied(
            "envelope.signatures",
            "fx_rate.recorded is signed by a party with the rate_publisher role",
        ));
    };
    let id = fx_id(&f.from_currency, &f.to_currency, &f.rate_date);
    out.fresh("rate_date", FX_RATE, &id)?;
    let mut s = out.new_subject(FX_RATE, &id, "", publisher, f.encode_to_vec());
    s.signers = vec![publisher.clone()];
    s.status = "recorded".into();
    out.put(s, "created");
    Ok(())
}
