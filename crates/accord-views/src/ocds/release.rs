//! One release of the OCDS package: the contracting process of a commitment, stage by stage (parties,
//! planning, tender, award, contract with its payments and amendments).
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::{amendment, datetime, milestone_status, ocid_prefix, put, value, Ctx};
use crate::Result;
use accord_domain::book::{self, Subject};
use accord_domain::money::Amount;
use accord_domain::statement as ds;

/// A pledge a commitment draws on: its id, the pledge (None when not found) and the amount allocated.
type Drawn = (String, Option<ds::PledgeAnnounced>, Amount);

impl Ctx<'_> {
    /// The contracting process of one commitment.
    pub(super) fn release(&self, s: &Subject, c: &ds::CommitmentSigned) -> Result<Value> {
        let withdrawn = s.tally.withdrawn;
        let pledges = self.drawn_pledges(c)?;
        let txns: Vec<&(Subject, ds::TransactionRecorded)> = self
            .transactions
            .iter()
            .filter(|(_, t)| t.commitment_id.as_deref() == Some(s.id.as_str()) && t.transaction_type.pays_out())
            .collect();
        let parties = self.parties(c, &pledges, &txns);
        let planning = self.planning(s, &pledges);
        let tender = self.tender();
        let (a, mut k) = self.award_and_contract(s, c, withdrawn);

        // Amendments: of the commitment, then the corrections of its payments.
        let mut amendments = Vec::new();
        let mut amended = false;
        for corr in self.corrections(book::COMMITMENT.as_str(), &s.id) {
            amended |= corr.action == "amended";
            amendments.push(amendment(&format!("{}-{}", s.id, corr.index), corr, &format!("commitment {}", s.id)));
        }
        let (payments, update) = self.payments(&txns, &mut amendments);
        let any_payment = !payments.is_empty();
        if any_payment {
            k.insert("implementation".into(), json!({ "transactions": payments }));
        }
        put(&mut k, "amendments", amendments);

        let mut tag = vec!["planning", "tender", "award", "contract"];
        if amended {
            tag.push("contractAmendment");
        }
        if any_payment {
            tag.push("implementation");
        }
        if update {
            tag.push("implementationUpdate");
        }
        if withdrawn {
            tag.extend(["awardCancellation", "contractTermination"]);
        }
        let mut release = Map::new();
        release.insert("ocid".into(), format!("{}-{}", ocid_prefix(self.origin), s.id).into());
        release.insert("id".into(), format!("{}-{}", s.id, self.tree_size).into());
        release.insert("date".into(), self.date.clone().into());
        release.insert("tag".into(), tag.into());
        release.insert("initiationType".into(), "tender".into());
        release.insert("parties".into(), parties.into());
        release.insert("buyer".into(), self.org(self.secretariat));
        release.insert("planning".into(), Value::Object(planning));
        release.insert("tender".into(), Value::Object(tender));
        release.insert("awards".into(), json!([Value::Object(a)]));
        release.insert("contracts".into(), json!([Value::Object(k)]));
        release.insert("language".into(), "en".into());
        Ok(Value::Object(release))
    }

    /// The pledges a commitment draws on, with the amount allocated from each (a pledge not found is named
    /// by its id alone).
    fn drawn_pledges(&self, c: &ds::CommitmentSigned) -> Result<Vec<Drawn>> {
        let mut pledges: Vec<Drawn> = Vec::new();
        for a in &c.allocations {
            let p: Option<ds::PledgeAnnounced> = match self.r.subject(book::PLEDGE, &a.pledge_id)? {
                Some(ps) => Some(ps.parsed()?),
                None => None,
            };
            pledges.push((a.pledge_id.to_string(), p, a.amount.clone()));
        }

        Ok(pledges)
    }

    /// The parties of the process and their roles: the secretariat as buyer and procuring entity, pledgers
    /// and the provider as funders (with the report's figures of each donor), the recipient as supplier,
    /// payers and payees of the payments not reversed.
    fn parties(
        &self,
        c: &ds::CommitmentSigned,
        pledges: &[Drawn],
        txns: &[&(Subject, ds::TransactionRecorded)],
    ) -> Vec<Value> {
        let rep = self.rep;
        let mut roles: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
        roles.entry(self.secretariat.to_string()).or_default().extend(["buyer", "procuringEntity"]);
        for (_, p, _) in pledges {
            if let Some(p) = p {
                roles.entry(p.pledger_id.to_string()).or_default().insert("funder");
            }
        }
        roles.entry(c.provider_id.to_string()).or_default().insert("funder");
        roles.entry(c.recipient_id.to_string()).or_default().insert("supplier");
        for (ts, t) in txns {
            if !ts.tally.reversed {
                roles.entry(t.provider_id.to_string()).or_default().insert("payer");
                roles.entry(t.receiver_id.as_deref().unwrap_or_default().to_string()).or_default().insert("payee");
            }
        }
        let donors: BTreeMap<&str, &crate::FlowRow> =
            rep.funding.by_donor.iter().map(|row| (row.key.as_str(), row)).collect();
        roles
            .iter()
            .map(|(id, rs)| {
                let mut o = Map::new();
                o.insert("id".into(), id.as_str().into());
                o.insert("name".into(), self.name_of(id).into());
                o.insert("roles".into(), rs.iter().copied().collect::<Vec<_>>().into());
                if let Some(country) = self.gov.parties.get(id).map(|p| p.country.clone()).filter(|c| !c.is_empty()) {
                    o.insert("address".into(), json!({ "countryName": country }));
                }
                if let Some(row) = donors.get(id.as_str()) {
                    // The report's figures for this funder across the plan, in the reporting currency.
                    o.insert(
                        "details".into(),
                        json!({
                            "accordFunding": {
                                "currency": rep.funding.currency,
                                "pledged": row.pledged,
                                "committed": row.committed,
                                "disbursed": row.disbursed,
                            }
                        }),
                    );
                }
                Value::Object(o)
            })
            .collect()
    }

    /// Planning: the allocations from the pledges are the budget of this process; their milestones.
    fn planning(&self, s: &Subject, pledges: &[Drawn]) -> Map<String, Value> {
        let rep = self.rep;
        let plan_id = rep.plan.plan_id.as_str();
        let currency = rep.funding.currency.as_str();
        let alloc_currencies: BTreeSet<&str> = pledges.iter().map(|(_, _, m)| m.currency.as_str()).collect();
        let mut budget = Map::new();
        budget.insert("id".into(), pledges.iter().map(|(id, _, _)| id.as_str()).collect::<Vec<_>>().join("+").into());
        let lines: Vec<String> = pledges
            .iter()
            .map(|(id, p, m)| {
                let (own_value, own_currency) = p
                    .as_ref()
                    .and_then(|p| p.amount.as_ref())
                    .map(|a| (a.value.to_string(), a.currency.to_string()))
                    .unwrap_or_default();
                let pledger = p.as_ref().map(|p| p.pledger_id.to_string()).unwrap_or_default();
                let counted = rep
                    .new_money
                    .by_pledge
                    .iter()
                    .find(|n| &n.pledge_id == id)
                    .map(|n| format!(", counted {} {currency} in P", n.pledged))
                    .unwrap_or_default();
                format!(
                    "pledge {id} by {} ({} {} pledged{counted}): {} {} allocated",
                    self.name_of(&pledger),
                    own_value,
                    own_currency,
                    m.value,
                    m.currency
                )
            })
            .collect();
        budget.insert(
            "description".into(),
            format!(
                "Commitment {} draws on {}. Plan {plan_id}: total external pledged (P) {} {currency}",
                s.id,
                lines.join("; "),
                rep.funding.total_external.pledged
            )
            .into(),
        );
        if let [cur] = alloc_currencies.iter().copied().collect::<Vec<_>>().as_slice() {
            let sum = pledges
                .iter()
                .map(|(_, _, m)| Some(m.value))
                .try_fold(rust_decimal::Decimal::ZERO, |acc, v| v.and_then(|v| acc.checked_add(v)));
            if let Some(v) = sum.and_then(|x| value(&x.normalize().to_string(), cur)) {
                budget.insert("amount".into(), v);
            }
        }
        budget.insert("projectID".into(), plan_id.into());
        put(&mut budget, "project", self.plan.title.as_str());
        let pledge_ids: BTreeSet<&str> = pledges.iter().map(|(id, _, _)| id.as_str()).collect();
        let milestones: Vec<Value> = rep
            .delivery
            .milestones
            .iter()
            .filter(|m| pledge_ids.contains(m.pledge_id.as_str()))
            .map(|m| {
                let mut o = Map::new();
                o.insert("id".into(), format!("{}-{}", m.pledge_id, m.milestone_id).into());
                put(&mut o, "title", m.title.as_str());
                o.insert("type".into(), "delivery".into());
                put(&mut o, "description", format!("Milestone {} of pledge {}", m.milestone_id, m.pledge_id));
                put(&mut o, "dueDate", datetime(&m.due_date));
                let status = milestone_status(&m.status);
                if status == "met" {
                    put(&mut o, "dateMet", datetime(&m.date));
                }
                o.insert("status".into(), status.into());
                Value::Object(o)
            })
            .collect();
        let mut planning = Map::new();
        put(&mut planning, "rationale", self.plan.description.as_str());
        planning.insert("budget".into(), Value::Object(budget));
        put(&mut planning, "milestones", milestones);
        planning
    }

    /// Tender: the plan's call for funding, which this commitment answers (its requirement R is the plan's,
    /// so it is stated, not given as this process's value).
    fn tender(&self) -> Map<String, Value> {
        let rep = self.rep;
        let plan_id = rep.plan.plan_id.as_str();
        let currency = rep.funding.currency.as_str();
        let period = self.plan.period;
        let mut tender = Map::new();
        tender.insert("id".into(), plan_id.into());
        put(&mut tender, "title", self.plan.title.as_str());
        let requirement = if rep.coverage.requirement.is_empty() {
            String::new()
        } else {
            format!(", requirement (R) {} {currency}", rep.coverage.requirement)
        };
        tender.insert("description".into(), format!("The call for funding of plan {plan_id}{requirement}").into());
        tender.insert("status".into(), "complete".into());
        tender.insert("procuringEntity".into(), self.org(self.secretariat));
        tender.insert(
            "contractPeriod".into(),
            json!({ "startDate": datetime(&period.start.to_string()), "endDate": datetime(&period.end.to_string()) }),
        );
        tender
    }

    /// Award and contract: the commitment, with its tranches as the contract's milestones.
    fn award_and_contract(
        &self,
        s: &Subject,
        c: &ds::CommitmentSigned,
        withdrawn: bool,
    ) -> (Map<String, Value>, Map<String, Value>) {
        let rep = self.rep;
        let money = &c.amount;
        let signed = c.signed_date.to_string();
        let award_id = format!("{}-award", s.id);
        let title =
            format!("Commitment {} from {} to {}", s.id, self.name_of(&c.provider_id), self.name_of(&c.recipient_id));
        let mut a = Map::new();
        a.insert("id".into(), award_id.clone().into());
        a.insert("title".into(), title.clone().into());
        a.insert("status".into(), if withdrawn { "cancelled" } else { "active" }.into());
        put(&mut a, "date", datetime(&signed));
        if let Some(v) = value(&money.value.to_string(), money.currency.as_str()) {
            a.insert("value".into(), v);
        }
        a.insert("suppliers".into(), json!([self.org(&c.recipient_id)]));

        let mut k = Map::new();
        k.insert("id".into(), s.id.clone().into());
        k.insert("awardID".into(), award_id.into());
        k.insert("title".into(), title.into());
        if let Some(finance_type) = &c.finance_type {
            put(&mut k, "description", format!("Finance type {finance_type} (IATI FinanceType)"));
        }
        k.insert("status".into(), if withdrawn { "terminated" } else { "active" }.into());
        let years: Vec<u32> = c.usage_years.iter().map(|u| u.year).collect();
        if let (Some(first), Some(last)) = (years.iter().min(), years.iter().max()) {
            k.insert(
                "period".into(),
                json!({ "startDate": format!("{first:04}-01-01T00:00:00Z"), "endDate": format!("{last:04}-12-31T00:00:00Z") }),
            );
        }
        if let Some(v) = value(&money.value.to_string(), money.currency.as_str()) {
            k.insert("value".into(), v);
        }
        put(&mut k, "dateSigned", datetime(&signed));
        let tranche_ms: Vec<Value> = rep
            .tranches
            .conditions
            .iter()
            .flat_map(|cv| cv.tranches.iter())
            .filter(|t| t.commitment_id == s.id)
            .map(|t| {
                let mut o = Map::new();
                o.insert("id".into(), t.tranche_id.to_string().into());
                o.insert("title".into(), format!("Tranche {} ({} {})", t.tranche_id, t.value, t.currency).into());
                o.insert("type".into(), "financing".into());
                put(
                    &mut o,
                    "description",
                    if t.outcome.is_empty() { t.status.clone() } else { format!("{}: {}", t.status, t.outcome) },
                );
                let status = milestone_status(&t.status);
                if status == "met" {
                    put(&mut o, "dateMet", datetime(&t.date));
                }
                o.insert("status".into(), status.into());
                Value::Object(o)
            })
            .collect();
        put(&mut k, "milestones", tranche_ms);
        (a, k)
    }

    /// The payments of the process (its transactions not reversed), and whether any transaction was
    /// reversed or re-enters one of another commitment (an implementation update); the amendments of
    /// reversed transactions and the re-entries are added to `amendments`.
    fn payments(
        &self,
        txns: &[&(Subject, ds::TransactionRecorded)],
        amendments: &mut Vec<Value>,
    ) -> (Vec<Value>, bool) {
        let mut payments = Vec::new();
        let mut update = false;
        for (ts, t) in txns {
            if ts.tally.reversed {
                update = true;
                // DOMAIN.md §7: a corrected re-entry names the transaction it replaces.
                let what = if ts.tally.corrected_by.is_empty() {
                    format!("transaction {}", ts.id)
                } else {
                    format!("transaction {} (corrected by {})", ts.id, ts.tally.corrected_by)
                };
                for corr in self.corrections(book::TRANSACTION.as_str(), &ts.id) {
                    let mut am = amendment(&format!("{}-{}", ts.id, corr.index), corr, &what);
                    if let Some(Value::String(d)) = am.get_mut("description") {
                        d.push_str(&self.net_change(&ts.id));
                    }
                    amendments.push(am);
                }
                continue;
            }
            let corrects = t.corrects.as_deref().unwrap_or_default();
            let date = t.date.to_string();
            if !corrects.is_empty() && !txns.iter().any(|(o, _)| o.id == corrects) {
                // The re-entry of a transaction of another commitment: named here too.
                update = true;
                let mut o = Map::new();
                o.insert("id".into(), format!("{}-corrects", ts.id).into());
                // Dated when the re-entry was recorded (the report's correction log), else its value date.
                let recorded = self
                    .rep
                    .corrections
                    .iter()
                    .filter(|x| x.txn_id == corrects)
                    .flat_map(|x| x.steps.iter())
                    .find(|step| step.step == "correction" && step.txn_id == ts.id)
                    .map_or(date.as_str(), |step| step.date.as_str());
                put(&mut o, "date", datetime(recorded));
                let of = self
                    .transactions
                    .iter()
                    .find(|(o, _)| o.id == corrects)
                    .map(|(_, x)| format!(" of commitment {}", x.commitment_id.as_deref().unwrap_or_default()))
                    .unwrap_or_default();
                o.insert(
                    "description".into(),
                    format!("transaction {} corrects transaction {corrects}{of} (reversed)", ts.id).into(),
                );
                amendments.push(Value::Object(o));
            }
            let m = &t.amount;
            let mut o = Map::new();
            o.insert("id".into(), ts.id.clone().into());
            put(&mut o, "date", datetime(&date));
            if let Some(v) = value(&m.value.to_string(), m.currency.as_str()) {
                o.insert("value".into(), v);
            }
            o.insert("payer".into(), self.org(&t.provider_id));
            o.insert("payee".into(), self.org(t.receiver_id.as_deref().unwrap_or_default()));
            payments.push(Value::Object(o));
        }
        (payments, update)
    }
}
