//! Accord's views, pure: transparency reports (DOMAIN.md §5 and §7), a deterministic function of the ledger
//! up to a checkpoint, and their renderings and exports.
//!
//! [`plan_report`] reads the projections through a [`Source`] (the server's SQLite reader inside one read
//! transaction, or the in-memory replay of a downloaded log) and computes every view; the result's
//! canonical JSON ([`Report::canonical_json`]) is what the server serves and what `accord report verify`
//! recomputes locally from the downloaded log and compares byte for byte. Amounts stay exact decimals in
//! the JSON (normalised strings); percentages are rounded half-to-even to one decimal; renderers
//! ([`render`]) round amounts to cents (banker's rounding) only when presenting.
//!
//! No protobuf, SQL, async runtime, clock or file system: Cargo enforces it, as none is a dependency.
//! - `context.rs` loads a plan once; one file per view (`funding`, `coverage`, `new_money`, `usage`,
//!   `tranches`, `cofinancing`, `indicators`, `delivery`, `periods`, `amendments`, `corrections`);
//! - `model/` the JSON (the report, its money, progress and history views); [`tables`] the views described
//!   once for every format; [`render`] one file per format (CSV, Markdown, HTML);
//! - [`iati`] (activity, transactions, sectors, results, XML writer) and [`ocds`] (one release per
//!   commitment) the exports;
//! - [`query`] the read models of the coalition queries: list filters, the status shown on a day, a
//!   subject's figures, milestones, assessments and tranche gates (the server maps them to protobuf).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]
#![deny(missing_docs, missing_debug_implementations, unreachable_pub)]
mod amendments;
mod cofinancing;
mod context;
mod corrections;
mod coverage;
mod delivery;
mod funding;
pub mod iati;
mod indicators;
mod model;
mod new_money;
pub mod ocds;
mod periods;
pub mod query;
pub mod render;
pub mod tables;
mod tranches;
mod usage;

pub use model::*;

use std::collections::BTreeSet;

use rust_decimal::Decimal;

use accord_domain::book::{self, Subject, SubjectKind};
use accord_domain::codes::{Action, Role};
use accord_domain::money;
use accord_domain::statement::{self as ds, Body, OfBody};
use accord_domain::{date, Governance, StateView};

/// Why a view could not be computed: a refusal (a plan that does not exist, an export it cannot make),
/// or a failure of the [`Source`] it reads (storage's own error, recovered whole by the server).
pub use accord_domain::Error;

/// `Result` of computing a view.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Report format identifier (bumped on any change to the JSON shape or a definition).
pub const FORMAT: &str = "accord.report.v2";

fn d(x: Decimal) -> String {
    x.normalize().to_string()
}

fn pct(num: Decimal, den: Decimal) -> String {
    money::percent(num, den).map(|p| format!("{p:.1}")).unwrap_or_default()
}

#[derive(Debug, Clone, Default)]
struct Sums {
    p: Decimal,
    c: Decimal,
    d: Decimal,
    has_p: bool,
}

impl Sums {
    fn row(&self, key: &str, name: &str, currency: &str) -> FlowRow {
        let (p, c, dd) = (self.p, self.c, self.d);
        FlowRow {
            key: key.into(),
            name: name.into(),
            currency: currency.into(),
            pledged: if self.has_p { d(p) } else { String::new() },
            committed: d(c),
            disbursed: d(dd),
            conversion: if self.has_p { pct(c, p) } else { String::new() },
            fulfilment: if self.has_p { pct(dd, p) } else { String::new() },
            execution: pct(dd, c),
            uncommitted: if self.has_p { d(sub(p, c)) } else { String::new() },
            pipeline: d(sub(c, dd)),
        }
    }
}

/// What a report reads: the projections and the log. Implemented by the SQLite reader (the server) and by
/// the in-memory replay of a downloaded log (`accord::report::replay::MemoryBook`, `report verify`); both give the same
/// answers in the same order, so the report is the same byte for byte.
pub trait Source: StateView {
    /// Subjects of a kind in a plan ("" = any plan), in id order.
    fn scan(&self, kind: SubjectKind, plan_id: &str) -> Result<Vec<Subject>>;
    /// When entry `index` was integrated (milliseconds since the epoch); `None` past the end of the log.
    fn integrated_ms(&self, index: u64) -> Result<Option<i64>>;
    /// The typed statement of entry `index` and the keyids that signed it; `None` past the end of the log.
    /// The entry passed every rule when it was sequenced, so one that does not parse is corrupt data.
    fn statement(&self, index: u64) -> Result<Option<(ds::Statement, Vec<String>)>>;
    /// Entries that touched a subject, ordered by (index, action).
    fn history(&self, kind: SubjectKind, id: &str) -> Result<Vec<History>>;
    /// Charter, parties and keys.
    fn governance(&self) -> Result<Governance>;
}

/// One entry that touched a subject, and what it did (`created`, `amended`, `disbursed` …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    /// The entry.
    pub index: u64,
    /// What it did to the subject.
    pub action: Action,
}

/// Everything of one kind in the plan (or everywhere, for kinds without a plan).
fn all(r: &dyn Source, kind: SubjectKind, plan: &str) -> Result<Vec<Subject>> {
    r.scan(kind, plan)
}

/// The plan's subjects of one kind that are not withdrawn, with their typed bodies: what the exports list.
fn standing<T: OfBody + Clone>(r: &dyn Source, kind: SubjectKind, plan: &str) -> Result<Vec<(Subject, T)>> {
    let parsed = |s: Subject| s.parsed().map(|v| (s, v));
    r.scan(kind, plan)?.into_iter().filter(|s| !s.tally.withdrawn).map(parsed).collect()
}

/// Every subject of one kind in the plan (withdrawn ones too), with its typed body.
fn typed<T: OfBody + Clone>(r: &dyn Source, kind: SubjectKind, plan: &str) -> Result<Vec<(Subject, T)>> {
    r.scan(kind, plan)?.into_iter().map(|s| s.parsed().map(|v| (s, v))).collect()
}

/// The party that publishes an export of the plan (IATI's reporting organisation, OCDS's publisher): the
/// first of its signatories with the secretariat role, else any party with that role.
fn publisher<'a>(signatories: impl Iterator<Item = &'a str>, gov: &Governance, export: &str) -> Result<String> {
    let is_secretariat = |id: &String| gov.parties.get(id).is_some_and(|p| p.roles.contains(&Role::Secretariat));
    signatories
        .map(str::to_string)
        .chain(gov.parties.values().map(|p| p.party_id.to_string()))
        .find(is_secretariat)
        .ok_or_else(|| {
            Error::precondition(
                "plan_id",
                format!("the {export} export needs a party with the secretariat role to publish it"),
            )
        })
}

fn year_of(day: &str) -> String {
    day.get(..4).unwrap_or("").to_string()
}

fn integrated_day(r: &dyn Source, index: u64) -> Result<i64> {
    let ms = r.integrated_ms(index)?.ok_or_else(|| Error::internal(format!("entry {index} missing")))?;
    Ok(date::day_of_ms(ms))
}

/// The typed statement of an entry and the key ids that signed it.
fn entry_statement(r: &dyn Source, index: u64) -> Result<(ds::Statement, Vec<String>)> {
    r.statement(index)?.ok_or_else(|| Error::internal(format!("entry {index} missing")))
}

fn median(v: &mut [i64]) -> String {
    if v.is_empty() {
        return String::new();
    }
    v.sort_unstable();
    let mid = v.len() / 2;
    let upper = v.get(mid).copied().map(Decimal::from).unwrap_or_default();
    let m = if v.len() % 2 == 1 {
        upper
    } else {
        let lower = mid.checked_sub(1).and_then(|i| v.get(i)).copied().map(Decimal::from).unwrap_or_default();
        div(add(lower, upper), Decimal::TWO)
    };
    d(m)
}

fn p90(v: &mut [i64]) -> String {
    if v.is_empty() {
        return String::new();
    }
    v.sort_unstable();
    // Nearest-rank percentile.
    let rank = v.len().saturating_mul(90).div_ceil(100).max(1);
    v.get(rank.saturating_sub(1)).map(|x| x.to_string()).unwrap_or_default()
}

/// The signed checkpoint a report is computed at: tree size, root hash and note, and the as-of date (the
/// day its last entry was integrated, `YYYY-MM-DD`; empty for an empty log).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadAt {
    /// Entries in the tree.
    pub tree_size: u64,
    /// The tree's root hash.
    pub root_hash: Vec<u8>,
    /// The signed checkpoint note.
    pub checkpoint: String,
    /// The day of the last entry (`YYYY-MM-DD`), empty for an empty log.
    pub as_of_date: String,
}

/// Compute a plan's report at the reader's current state, naming the checkpoint `at` (the caller reads
/// both inside one snapshot, or passes the verified checkpoint when recomputing locally).
pub fn plan_report(r: &dyn Source, plan_id: &str, at: &ReadAt) -> Result<Report> {
    OVERFLOW.with(|o| o.set(false));
    let ctx = context::PlanContext::load(r, plan_id, &at.as_of_date)?;
    let (funding, total) = funding::funding(&ctx)?;
    let coverage = coverage::coverage(&ctx, &total)?;
    let (usage_years, usage_years_total) = usage::usage_years(&ctx)?;
    let filed = periods::filed(&ctx)?;
    let (timeliness, periods) = periods::timeliness(&ctx, &filed);
    let txn_subjects: Vec<&Subject> = ctx.txns.iter().map(|t| &t.s).collect();
    let plan = &ctx.plan;
    Ok(Report {
        format: FORMAT.into(),
        plan: PlanInfo {
            plan_id: plan.plan_id.to_string(),
            title: plan.title.clone(),
            period_start: plan.period.start.to_string(),
            period_end: plan.period.end.to_string(),
            reporting_currency: ctx.cur.to_string(),
        },
        read_at: CheckpointInfo {
            tree_size: at.tree_size,
            root_hash: hex::encode(&at.root_hash),
            as_of_date: at.as_of_date.clone(),
            checkpoint: at.checkpoint.clone(),
        },
        funding,
        coverage,
        new_money: new_money::new_money(&ctx)?,
        usage_years,
        usage_years_total,
        tranches: tranches::tranches(&ctx)?,
        co_financing: cofinancing::co_financing(&ctx)?,
        indicators: indicators::indicators(&ctx)?,
        delivery: delivery::view(&ctx)?,
        timeliness,
        periods,
        verification: periods::verification(&ctx, &filed)?,
        amendments: amendments::amendments(&ctx)?,
        corrections: corrections::log(r, &ctx.gov, &txn_subjects)?,
        unconverted: ctx.unconverted(),
        overflow: OVERFLOW.with(|o| o.replace(false)),
    })
}

thread_local! {
    /// Set when a figure of the report being computed left the exact decimal range.
    static OVERFLOW: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Exact report arithmetic that never panics (docs/SECURITY.md): a result that would leave the decimal
/// range is clamped and flagged, and the report then says so instead of failing. With amounts bounded at
/// the shape check this takes hundreds of thousands of maximal statements in one plan.
fn clamp(r: Option<Decimal>, positive: bool) -> Decimal {
    r.unwrap_or_else(|| {
        OVERFLOW.with(|o| o.set(true));
        if positive {
            Decimal::MAX
        } else {
            Decimal::MIN
        }
    })
}
fn add(a: Decimal, b: Decimal) -> Decimal {
    clamp(a.checked_add(b), b.is_sign_positive())
}
fn sub(a: Decimal, b: Decimal) -> Decimal {
    clamp(a.checked_sub(b), b.is_sign_negative())
}
fn mul(a: Decimal, b: Decimal) -> Decimal {
    clamp(a.checked_mul(b), a.is_sign_negative() == b.is_sign_negative())
}
fn div(a: Decimal, b: Decimal) -> Decimal {
    if b.is_zero() {
        return Decimal::ZERO;
    }
    clamp(a.checked_div(b), a.is_sign_negative() == b.is_sign_negative())
}

/// `+=` that never panics: exact (clamped and flagged) for decimals, saturating for counters.
trait Acc {
    fn acc(&mut self, x: Self);
    fn acc_sub(&mut self, x: Self);
}
impl Acc for Decimal {
    fn acc(&mut self, x: Self) {
        *self = add(*self, x);
    }
    fn acc_sub(&mut self, x: Self) {
        *self = sub(*self, x);
    }
}
macro_rules! saturating_acc {
    ($($t:ty),*) => {$(
        impl Acc for $t {
            fn acc(&mut self, x: Self) {
                *self = self.saturating_add(x);
            }
            fn acc_sub(&mut self, x: Self) {
                *self = self.saturating_sub(x);
            }
        }
    )*};
}
saturating_acc!(u32, u64, usize, i64);

/// Sum decimals exactly (clamped and flagged like [`add`]).
fn exact_sum(it: impl IntoIterator<Item = Decimal>) -> Decimal {
    it.into_iter().fold(Decimal::ZERO, add)
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap_or_default()
}

fn signer_parties(gov: &Governance, keyids: &[String]) -> Vec<String> {
    let mut v: Vec<String> = keyids.iter().filter_map(|k| gov.keys.get(k).map(|k| k.party_id.to_string())).collect();
    v.sort();
    v.dedup();
    v
}

/// Current amount − original amount of a money subject.
fn net_change(r: &dyn Source, s: &Subject) -> Result<(String, String)> {
    let current = match s.kind {
        book::PLEDGE => s.parsed::<ds::PledgeAnnounced>()?.amount,
        book::COMMITMENT => Some(s.parsed::<ds::CommitmentSigned>()?.amount),
        _ => None,
    };
    let Some(cur) = current else { return Ok((String::new(), String::new())) };
    let original = match entry_statement(r, s.created_at)?.0.body {
        Body::PledgeAnnounced(p) => p.amount,
        Body::CommitmentSigned(c) => Some(c.amount),
        _ => None,
    };
    let a = cur;
    let orig = original.map(|b| b.value).unwrap_or_default();
    // A withdrawal takes the subject to zero.
    let delta = if s.tally.withdrawn { sub(Decimal::ZERO, orig) } else { sub(a.value, orig) };
    Ok((d(delta), a.currency.to_string()))
}

/// How a third party verifies the checkpoint a report names (shown on HTML pages).
pub const VERIFY_HELP: &str = "<p>To check these figures yourself: <code>accord report verify --plan PLAN --server URL --log-key KEY</code> downloads every entry up to this checkpoint, checks them against its signature and root hash, recomputes the report and compares it byte for byte. The log key is published by the coalition; any RFC 6962 and Ed25519 implementation can check the checkpoint (see docs/FORMAT.md).</p>";

/// The formats `GetReport` serves.
pub const FORMATS: &[&str] = &["json", "markdown", "html", "csv", "iati", "ocds"];

/// Field-by-field differences between two JSON documents (`path: expected → found`).
pub fn diff_json(expected: &str, found: &str) -> Vec<String> {
    fn walk(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
        use serde_json::Value as V;
        match (a, b) {
            (V::Object(x), V::Object(y)) => {
                let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    walk(&p, x.get(k).unwrap_or(&V::Null), y.get(k).unwrap_or(&V::Null), out);
                }
            }
            (V::Array(x), V::Array(y)) => {
                for i in 0..x.len().max(y.len()) {
                    walk(&format!("{path}[{i}]"), x.get(i).unwrap_or(&V::Null), y.get(i).unwrap_or(&V::Null), out);
                }
            }
            _ if a != b => out.push(format!("{path}: {a} → {b}")),
            _ => {}
        }
    }
    let parse = |s: &str| serde_json::from_str(s).unwrap_or(serde_json::Value::String(s.to_string()));
    let mut out = Vec::new();
    walk("", &parse(expected), &parse(found), &mut out);
    out
}
