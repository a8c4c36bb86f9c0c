//! Condition assessments, progress reports and attestations.

use crate::codes::Role;

use super::*;

pub(super) fn assessment(out: &mut Out<'_>, a: &d::ConditionAssessed) -> Result<()> {
    let ctx = out.ctx;
    let mut c = out.need("condition_id", CONDITION, &a.condition_id)?;
    if c.tally.withdrawn {
        return Err(Error::precondition("condition_id", format!("condition {} was withdrawn", a.condition_id)));
    }
    let body: d::ConditionDefined = c.parsed()?;
    let Some(assessor) = &body.assessor_id else {
        return Err(Error::precondition(
            "condition_id",
            format!("condition {} has no designated assessor", a.condition_id),
        ));
    };
    ctx.signed_by("condition_id", assessor, "an assessment (by the designated assessor)")?;
    if let Some(tranche_id) = &a.tranche_id {
        let tr = out.need("tranche_id", TRANCHE, tranche_id)?;
        if !tr.tally.conditions.iter().any(|x| *x == a.condition_id) {
            return Err(Error::precondition(
                "tranche_id",
                format!("tranche {tranche_id} is not gated by condition {}", a.condition_id),
            ));
        }
        out.touch(TRANCHE, tranche_id, Action::Assessed);
    }
    c.tally.outcomes.insert(
        a.tranche_id.as_ref().map(ToString::to_string).unwrap_or_default(),
        Assessment { outcome: a.outcome, date: a.date, index: ctx.index },
    );
    c.status = condition_status(&c.tally);
    out.put(c, Action::Assessed);
    Ok(())
}

pub(super) fn progress(out: &mut Out<'_>, r: &d::ProgressReported) -> Result<()> {
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
    let mut s = out.new_subject(REPORT, &r.report_id, &r.plan_id, &r.reporter_id);
    s.signers = vec![r.reporter_id.to_string()];
    s.status = SubjectStatus::Reported;
    out.put(s, Action::Created);
    Ok(())
}

pub(super) fn attestation(out: &mut Out<'_>, a: &d::AttestationIssued) -> Result<()> {
    let ctx = out.ctx;
    out.fresh("attestation_id", ATTESTATION, &a.attestation_id)?;
    // The auditor acts (signs): lacking the role is an authorisation failure, like a missing signature.
    ctx.party("auditor_id", &a.auditor_id)?;
    if !ctx.has_role(&a.auditor_id, Role::Auditor) {
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
    let mut s = out.new_subject(ATTESTATION, &a.attestation_id, "", &a.auditor_id);
    s.signers = vec![a.auditor_id.to_string()];
    s.status = a.opinion.into();
    s.tally.covered = covered;
    out.put(s, Action::Created);
    Ok(())
}
