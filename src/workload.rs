//! Benchmark workloads shared by the load generator (`accord-bench --workload`), the sequencer benchmark
//! (`benches/sequencer.rs`) and the report benchmark (`benches/reports.rs`): one generator, so every
//! benchmark measures the same statements.
//!
//! - [`plan_statement`]: a `plan.created` padded to a given size, signed by one secretariat key (the
//!   `plan` workload: one effect per entry, no dependencies between entries).
//! - [`generate`]: the statement mix of a real coalition (the `mixed` workload): a charter, 23 parties
//!   admitted (governments, an assessor, an auditor, a rate publisher), an FX rate for every day, 5 plans
//!   with 4 goals each, 110 pledges that restate each other, conditions, 2,000 commitments with two
//!   tranches each (the second gated by a condition, assessed met), disbursements alternating tranches
//!   and quarterly progress reports, every one correctly signed so the ledger accepts it. It scales with
//!   the disbursements per commitment (2 to 1,000): about 100,000 statements give 49 per commitment,
//!   1,000,000 give 499; every tranche has room for exactly its disbursements.
//!
//! Not part of the product: hidden from the documentation.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    reason = "a benchmark generator: its counters and indexes are its own, never input"
)]

use rayon::prelude::*;

use crate::crypto::{self, PrivateKey};
use crate::pb::{self, statement::Body, Statement};

/// The plan the mixed workload's pledges, commitments and disbursements belong to (the one to report on).
pub const PLAN: &str = "BIG";

/// Statement `i` of a run: a `plan.created` (id `{prefix}-{i}`) padded to about `size` bytes, signed by
/// `key` (a secretariat's).
pub fn plan_statement(origin: &str, prefix: &str, i: u64, size: usize, key: &PrivateKey) -> pb::Envelope {
    let mut st = Statement {
        ledger: origin.to_string(),
        statement_id: format!("{prefix}-{i:010}"),
        issued_at: Some(prost_types::Timestamp { seconds: 1_780_000_000, nanos: 0 }),
        effective_date: "2026-01-01".into(),
        body: Some(Body::PlanCreated(pb::PlanCreated {
            plan_id: format!("{prefix}-plan-{i:010}"),
            title: "Regional security and inclusive growth plan".into(),
            period: Some(pb::Period { start: "2026-01-01".into(), end: "2028-12-31".into() }),
            reporting_currency: "USD".into(),
            signatories: vec![],
            report_schedule: Some(pb::ReportSchedule { frequency: "quarterly".into(), days_after_period_end: 45 }),
            requirement: Some(pb::Money {
                value: "125000000.00".into(),
                currency: "USD".into(),
                value_date: "2026-01-01".into(),
            }),
            description: String::new(),
            ..Default::default()
        })),
    };
    let len = prost::Message::encoded_len(&st);
    if let Some(Body::PlanCreated(p)) = &mut st.body {
        p.description = "x".repeat(size.saturating_sub(len + 3));
    }
    crypto::seal(&st, &[key])
}

/// `n` plan statements (see [`plan_statement`]), signed in parallel.
pub fn plan_statements(origin: &str, prefix: &str, n: u64, size: usize, key: &PrivateKey) -> Vec<pb::Envelope> {
    (0..n).into_par_iter().map(|i| plan_statement(origin, prefix, i, size, key)).collect()
}

/// The charter of the `plan` workload: one founder, the secretariat `key`, admission by 1.
pub fn plan_charter(origin: &str, key: &PrivateKey) -> pb::Envelope {
    let charter = Statement {
        ledger: origin.into(),
        statement_id: "charter".into(),
        issued_at: Some(prost_types::Timestamp { seconds: 1_780_000_000, nanos: 0 }),
        effective_date: "2026-01-01".into(),
        body: Some(Body::Charter(pb::Charter {
            name: "Benchmark coalition".into(),
            founders: vec![pb::Party {
                party_id: "XM-BENCH-SEC".into(),
                name: "Bench secretariat".into(),
                roles: vec!["secretariat".into()],
                public_keys: vec![key.verifying_key().as_bytes().to_vec()],
                organisation_type: String::new(),
                country: String::new(),
            }],
            admission: Some(pb::AdmissionRule { k: 1 }),
            purpose: String::new(),
        })),
    };
    crypto::seal(&charter, &[key])
}

/// A generated coalition ledger: its statements in dependency order, and the secretariat's key (which
/// may sign further plan statements on it).
#[derive(Debug)]
pub struct Workload {
    /// The statements, group by group: a group needs every group before it committed.
    pub groups: Vec<Group>,
    /// The secretariat's key (a founder of the charter).
    pub secretariat: PrivateKey,
}

impl Workload {
    /// Statements in all groups.
    pub fn len(&self) -> usize {
        self.groups.iter().map(|g| g.envelopes.len()).sum()
    }
    /// True when there are no statements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One group of a [`Workload`].
#[derive(Debug)]
pub struct Group {
    /// The signed statements.
    pub envelopes: Vec<pb::Envelope>,
    /// True when a statement may depend on an earlier one of the same group: submit them in order, one
    /// batch at a time. False when the group's statements depend only on earlier groups (any order, any
    /// batches in flight).
    pub ordered: bool,
}

struct Party {
    id: String,
    key: PrivateKey,
    roles: Vec<&'static str>,
}

fn money(v: u64, cur: &str, day: &str) -> Option<pb::Money> {
    Some(pb::Money { value: v.to_string(), currency: cur.into(), value_date: day.into() })
}

/// The statements of the group being generated, signed in parallel when the group is closed.
struct Gen<'o> {
    origin: &'o str,
    /// The year the statements are dated in (progress reports: early the next year).
    year: u32,
    n: u64,
    pending: Vec<(Statement, Vec<PrivateKey>)>,
    groups: Vec<Group>,
}

impl Gen<'_> {
    /// `MM-DD` of the workload's year.
    fn on(&self, mmdd: &str) -> String {
        format!("{}-{mmdd}", self.year)
    }

    /// Day `n % 365` of the workload's year.
    fn day(&self, n: u32) -> String {
        let jan1 = crate::domain::date::parse_date(&self.on("01-01")).unwrap_or(20_454);
        crate::domain::date::format_date(jan1 + i64::from(n % 365))
    }

    fn add(&mut self, signers: &[&PrivateKey], date: &str, body: Body) {
        self.n += 1;
        let st = Statement {
            ledger: self.origin.into(),
            statement_id: format!("s{:07}", self.n),
            issued_at: Some(prost_types::Timestamp { seconds: 1_780_000_000, nanos: 0 }),
            effective_date: date.into(),
            body: Some(body),
        };
        self.pending.push((st, signers.iter().map(|k| (*k).clone()).collect()));
    }

    /// Sign the pending statements (in parallel) and close them as a group.
    fn close(&mut self, ordered: bool) {
        let envelopes = std::mem::take(&mut self.pending)
            .into_par_iter()
            .map(|(st, keys)| crypto::seal(&st, &keys.iter().collect::<Vec<_>>()))
            .collect();
        self.groups.push(Group { envelopes, ordered });
    }
}

fn party_pb(p: &Party) -> pb::Party {
    pb::Party {
        party_id: p.id.clone(),
        name: format!("Party {}", p.id),
        roles: p.roles.iter().map(|r| r.to_string()).collect(),
        public_keys: vec![p.key.verifying_key().as_bytes().to_vec()],
        organisation_type: "10".into(),
        country: String::new(),
    }
}

/// The parties of the generated coalition: a secretariat, 10 funders, 20 governments, an assessor, an
/// auditor and a rate publisher.
struct Cast {
    s: Party,
    funders: Vec<Party>,
    govs: Vec<Party>,
    x: Party,
    y: Party,
    r: Party,
}

impl Cast {
    fn new() -> Self {
        let mk = |id: String, roles: Vec<&'static str>| Party { id, key: crypto::generate_key(), roles };
        let s = mk("S".into(), vec!["secretariat"]);
        let funders: Vec<Party> = (0..10).map(|i| mk(format!("F{i:02}"), vec!["funder"])).collect();
        let govs: Vec<Party> = (0..20).map(|i| mk(format!("G{i:02}"), vec!["partner_government"])).collect();
        let (x, y, r) =
            (mk("X".into(), vec!["assessor"]), mk("Y".into(), vec!["auditor"]), mk("R".into(), vec!["rate_publisher"]));
        Cast { s, funders, govs, x, y, r }
    }
}

/// Funders' pledges and conditions in EUR for even funders, USD for odd ones.
fn cur(f: usize) -> &'static str {
    if f.is_multiple_of(2) {
        "EUR"
    } else {
        "USD"
    }
}

/// The mixed workload: a coalition ledger of about `target` statements (at least ~6,600) for `origin`, in
/// dependency order, dated in `year` (progress reports on `year + 1`-01-15: the ledger's clock must be past
/// that). Keys are fresh each call.
pub fn generate(origin: &str, target: usize, year: u32) -> Workload {
    let c = Cast::new();
    let mut g = Gen { origin, year, n: 0, pending: Vec::new(), groups: Vec::new() };
    let founders: Vec<&Party> = std::iter::once(&c.s).chain(c.funders.iter()).collect();
    let charter = Body::Charter(pb::Charter {
        name: "Benchmark coalition".into(),
        founders: founders.iter().map(|p| party_pb(p)).collect(),
        admission: Some(pb::AdmissionRule { k: 1 }),
        purpose: String::new(),
    });
    g.add(&founders.iter().map(|p| &p.key).collect::<Vec<_>>(), &g.on("01-01"), charter);
    g.close(true);
    for p in c.govs.iter().chain([&c.x, &c.y, &c.r]) {
        g.add(&[&p.key, &c.s.key], &g.on("01-01"), Body::PartyAdmitted(pb::PartyAdmitted { party: Some(party_pb(p)) }));
    }
    g.close(false);
    rates_plans_and_goals(&mut g, &c);
    // Each funder's commitments (200 of them, `per_commit` disbursements of 10,000 each) all draw on one of
    // its pledges: the pledges grow with the target so that every allocation fits (Σ allocations ≤ pledge).
    let pledge_value = per_commit(target).saturating_mul(10_000).saturating_mul(200).max(1_000_000_000);
    pledges_and_conditions(&mut g, &c, pledge_value);
    g.close(true);
    // Commitments need the pledges; the assessments, the conditions; disbursements need both.
    let (commits, per_commit) = commitments(&mut g, &c, target);
    g.close(false);
    disbursements(&mut g, &c, &commits, per_commit);
    progress_reports(&mut g, &c);
    g.close(false);
    Workload { groups: g.groups, secretariat: c.s.key }
}

/// A EUR→USD rate for every day of the year, then 5 plans of 4 goals each.
fn rates_plans_and_goals(g: &mut Gen, c: &Cast) {
    for n in 0..365 {
        let fx = Body::FxRateRecorded(pb::FxRateRecorded {
            from_currency: "EUR".into(),
            to_currency: "USD".into(),
            rate: format!("1.{:03}", 50 + n % 100),
            rate_date: g.day(n),
            source: "bench".into(),
            method: "daily_reference".into(),
        });
        g.add(&[&c.r.key], &g.day(n), fx);
    }
    for p in 0..5 {
        let id = if p == 0 { PLAN.to_string() } else { format!("PL{p}") };
        g.add(
            &[&c.s.key],
            &g.on("01-01"),
            Body::PlanCreated(pb::PlanCreated {
                plan_id: id.clone(),
                title: format!("Plan {id}"),
                period: Some(pb::Period { start: g.on("01-01"), end: format!("{}-12-31", g.year + 3) }),
                reporting_currency: "USD".into(),
                signatories: vec![],
                report_schedule: Some(pb::ReportSchedule { frequency: "quarterly".into(), days_after_period_end: 45 }),
                requirement: money(5_000_000_000, "USD", &g.on("01-01")),
                description: String::new(),
                ..Default::default()
            }),
        );
        for k in 1..=4 {
            g.add(
                &[&c.s.key],
                &g.on("01-01"),
                Body::GoalDefined(pb::GoalDefined {
                    goal_id: format!("{id}-G{k}"),
                    plan_id: id.clone(),
                    title: format!("Goal {k}"),
                    classifications: vec![],
                    description: String::new(),
                }),
            );
        }
    }
}

/// Pledges: 10 per funder (each with a condition on its first), a domestic pledge per government, and the
/// co-financing condition.
fn pledges_and_conditions(g: &mut Gen, c: &Cast, pledge_value: u64) {
    for (fi, f) in c.funders.iter().enumerate() {
        for k in 0..10 {
            g.add(
                &[&f.key],
                &g.on("01-20"),
                Body::PledgeAnnounced(pb::PledgeAnnounced {
                    pledge_id: format!("P-{}-{k}", f.id),
                    plan_id: PLAN.into(),
                    pledger_id: f.id.clone(),
                    pledge_kind: "money".into(),
                    amount: money(pledge_value, cur(fi), &g.on("01-20")),
                    goals: vec![
                        pb::GoalShare { goal_id: format!("{PLAN}-G{}", 1 + k % 4), share: "60".into() },
                        pb::GoalShare { goal_id: format!("{PLAN}-G{}", 1 + (k + 1) % 4), share: "40".into() },
                    ],
                    finance_type: if fi < 7 { "110".into() } else { "421".into() },
                    funding_source: "external".into(),
                    new_money: true,
                    // DOMAIN.md §7: each overlaps the funder's earlier pledges, so it restates them, by 0.
                    restates: (0..k)
                        .map(|j| pb::Restatement {
                            pledge_id: format!("P-{}-{j}", f.id),
                            amount: money(0, cur(fi), &g.on("01-20")),
                        })
                        .collect(),
                    announced: Some(pb::Announcement { event: "conference".into(), date: g.on("01-20") }),
                    ..Default::default()
                }),
            );
        }
        g.add(
            &[&f.key],
            &g.on("01-20"),
            Body::ConditionDefined(pb::ConditionDefined {
                condition_id: format!("C-{}", f.id),
                plan_id: PLAN.into(),
                party_id: f.id.clone(),
                condition_type: "policy".into(),
                text: "reform".into(),
                assessor_id: "X".into(),
                pledge_ids: vec![format!("P-{}-0", f.id)],
                amount_at_stake: None,
                co_financing: None,
            }),
        );
    }
    for gv in &c.govs {
        g.add(
            &[&gv.key],
            &g.on("01-20"),
            Body::PledgeAnnounced(pb::PledgeAnnounced {
                pledge_id: format!("P-{}", gv.id),
                plan_id: PLAN.into(),
                pledger_id: gv.id.clone(),
                pledge_kind: "money".into(),
                amount: money(50_000_000, "USD", &g.on("01-20")),
                funding_source: "domestic_own_resources".into(),
                new_money: true,
                ..Default::default()
            }),
        );
    }
    cofinancing_condition(g, c);
}

/// The secretariat's co-financing condition: governments' own resources at least a quarter of the
/// grants (finance type 110) each year.
fn cofinancing_condition(g: &mut Gen, c: &Cast) {
    g.add(
        &[&c.s.key],
        &g.on("01-20"),
        Body::ConditionDefined(pb::ConditionDefined {
            condition_id: "C-COFIN".into(),
            plan_id: PLAN.into(),
            party_id: "S".into(),
            condition_type: "co_financing".into(),
            text: "own resources".into(),
            assessor_id: "X".into(),
            pledge_ids: vec![],
            amount_at_stake: None,
            co_financing: Some(pb::CoFinancingRule {
                ratio: "0.25".into(),
                party_ids: c.govs.iter().map(|g| g.id.clone()).collect(),
                finance_types: vec!["110".into()],
                period: "year".into(),
            }),
        }),
    );
}

/// 2,000 commitments (funder → government) with two tranches each, the second gated by the funder's
/// condition, then every funder's condition assessed met. Returns each commitment (id, funder, government)
/// and the disbursements per commitment.
/// Disbursements per commitment for a workload of about `target` statements (2,000 commitments).
fn per_commit(target: usize) -> u64 {
    ((target.saturating_sub(1000)) / 2000).clamp(2, 1000) as u64
}

fn commitments(g: &mut Gen, cast: &Cast, target: usize) -> (Vec<(String, usize, usize)>, u64) {
    // Commitments with two tranches each, the second gated by the funder's condition.
    let per_commit = per_commit(target);
    let mut commits = Vec::new();
    for c in 0..2000usize {
        let fi = c % 10;
        let (f, gv) = (&cast.funders[fi], &cast.govs[(c / 10) % 20]);
        let id = format!("K{c:05}");
        // Tranche U takes the even-numbered disbursements, tranche C the odd ones.
        let half = per_commit.div_ceil(2) * 10_000;
        let total = half + (per_commit / 2) * 10_000;
        let signed = g.day(30 + (c % 60) as u32);
        g.add(
            &[&f.key, &gv.key],
            &signed,
            Body::CommitmentSigned(pb::CommitmentSigned {
                commitment_id: id.clone(),
                plan_id: PLAN.into(),
                provider_id: f.id.clone(),
                recipient_id: gv.id.clone(),
                allocations: vec![pb::PledgeAllocation {
                    pledge_id: format!("P-{}-{}", f.id, c % 10),
                    amount: money(total, cur(fi), &signed),
                }],
                amount: money(total, cur(fi), &signed),
                signed_date: signed.clone(),
                finance_type: if fi < 7 { "110".into() } else { "421".into() },
                usage_years: vec![pb::UsageYear { year: g.year, value: total.to_string() }],
                tranches: vec![
                    pb::Tranche { tranche_id: format!("{id}-U"), value: half.to_string(), condition_ids: vec![] },
                    pb::Tranche {
                        tranche_id: format!("{id}-C"),
                        value: (total - half).to_string(),
                        condition_ids: vec![format!("C-{}", f.id)],
                    },
                ],
                agreement_sha256: vec![1; 32],
            }),
        );
        commits.push((id, fi, (c / 10) % 20));
    }
    for f in &cast.funders {
        g.add(
            &[&cast.x.key],
            &g.on("03-31"),
            Body::ConditionAssessed(pb::ConditionAssessed {
                condition_id: format!("C-{}", f.id),
                tranche_id: String::new(),
                outcome: "met".into(),
                date: g.on("03-31"),
                evidence_sha256: vec![],
                rationale: String::new(),
            }),
        );
    }
    (commits, per_commit)
}

/// Disbursements, spread over April–December, alternating tranches: `per_commit` rounds over every
/// commitment. Each tranche has room for exactly its disbursements, so they may come in any order.
fn disbursements(g: &mut Gen, c: &Cast, commits: &[(String, usize, usize)], per_commit: u64) {
    for k in 0..per_commit {
        for (id, fi, gi) in commits {
            let d = g.day(95 + ((k * 7 + *fi as u64) % 270) as u32);
            let tranche = if k % 2 == 0 { "U" } else { "C" };
            g.add(
                &[&c.funders[*fi].key],
                &d,
                Body::TransactionRecorded(pb::TransactionRecorded {
                    txn_id: format!("T-{id}-{k}"),
                    commitment_id: id.clone(),
                    transaction_type: 3,
                    date: d.clone(),
                    amount: money(10_000, cur(*fi), &d),
                    provider_id: c.funders[*fi].id.clone(),
                    receiver_id: c.govs[*gi].id.clone(),
                    tranche_id: format!("{id}-{tranche}"),
                    boundary: "incoming".into(),
                    evidence_sha256: vec![],
                    description: String::new(),
                    ..Default::default()
                }),
            );
        }
    }
}

/// Four quarterly progress reports per government.
fn progress_reports(g: &mut Gen, c: &Cast) {
    for (i, gv) in c.govs.iter().enumerate() {
        for q in 0..4u32 {
            let end = g.on(["03-31", "06-30", "09-30", "12-31"][q as usize]);
            let end = end.as_str();
            let reported = format!("{}-01-15", g.year + 1);
            g.add(
                &[&gv.key],
                &reported,
                Body::ProgressReported(pb::ProgressReported {
                    report_id: format!("R-{}-{q}", gv.id),
                    reporter_id: gv.id.clone(),
                    plan_id: PLAN.into(),
                    period: Some(pb::Period { start: format!("{}-01", &end[..7]), end: end.into() }),
                    indicator_values: vec![],
                    co_financing_realised: money(1_000_000 + i as u64 * 1000, "USD", end),
                    narrative_sha256: vec![],
                }),
            );
        }
    }
}
