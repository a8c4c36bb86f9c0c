//! Amendments and withdrawals: new versions of a subject, and taking one back.

use crate::codes::Withdrawable;

use super::*;

pub(super) fn amendment(out: &mut Out<'_>, a: &d::Amended) -> Result<()> {
    let v = &a.version;
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

pub(super) fn withdrawal(out: &mut Out<'_>, w: &d::Withdrawn) -> Result<()> {
    let mut s = out.need("subject_id", w.subject_kind.into(), &w.subject_id)?;
    if s.tally.withdrawn {
        return Err(Error::precondition(
            "subject_id",
            format!("{} {} is already withdrawn", w.subject_kind, w.subject_id),
        ));
    }
    out.ctx.original_signers(&s, "a withdrawal")?;
    match w.subject_kind {
        Withdrawable::Pledge if !s.tally.committed.is_zero() || !s.tally.delivered.is_zero() => {
            return Err(Error::precondition(
                "subject_id",
                format!("pledge {} is already committed or delivered in part; amend it down instead", w.subject_id),
            ))
        }
        Withdrawable::Pledge => {
            // A restatement counts only while the restating pledge is effective (DOMAIN.md §7): release it.
            let p: d::PledgeAnnounced = s.parsed()?;
            release_restatements(out, &p)?;
        }
        Withdrawable::Commitment => {
            if !s.tally.disbursed.is_zero() {
                return Err(Error::precondition(
                    "subject_id",
                    format!("commitment {} has disbursements; amend it down instead", w.subject_id),
                ));
            }
            let c: d::CommitmentSigned = s.parsed()?;
            allocate(out, &c, -1, "")?;
            s = out.need("subject_id", COMMITMENT, &w.subject_id)?;
        }
        Withdrawable::Condition => {}
    }
    s.tally.withdrawn = true;
    s.status = SubjectStatus::Withdrawn;
    out.put(s, Action::Withdrawn);
    Ok(())
}
