//! Condition assessments, progress reports and attestations.

use prost::Message;

use super::*;

pub(super) fn assessment(out: &mut Out<'_>, a: &pb::ConditionAssessed) -> Result<()> {
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

pub(super) fn progress(out: &mut Out<'_>, r: &pb::ProgressReported) -> Result<()> {
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

pub(super) fn attestation(out: &mut Out<'_>, a: &pb::AttestationIssued) -> Result<()> {
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
