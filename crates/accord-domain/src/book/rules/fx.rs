//! Exchange rates recorded by a rate publisher.

use super::*;

pub(super) fn fx_rate(out: &mut Out<'_>, f: &d::FxRateRecorded) -> Result<()> {
    let ctx = out.ctx;
    let Some(publisher) = ctx.signers.iter().find(|p| ctx.has_role(p, Role::RatePublisher)) else {
        return Err(Error::denied(
            "envelope.signatures",
            "fx_rate.recorded is signed by a party with the rate_publisher role",
        ));
    };
    let id = fx_id(f.from_currency, f.to_currency, &f.rate_date.to_string());
    out.fresh("rate_date", FX_RATE, &id)?;
    let mut s = out.new_subject(FX_RATE, &id, "", publisher);
    s.signers = vec![publisher.clone()];
    s.status = SubjectStatus::Recorded;
    out.put(s, Action::Created);
    Ok(())
}
