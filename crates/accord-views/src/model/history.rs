//! The record-keeping views of the report model: verification, the amendment log and the correction log of
//! reversed transactions.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One step of a transaction's correction: the original, its reversal or the corrected re-entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionStep {
    /// `original`, `reversal` or `correction`.
    pub step: String,
    /// The reversed transaction's id for the original and the reversal; the re-entry's own id for the
    /// correction.
    pub txn_id: String,
    /// Index of the log entry that recorded the step.
    pub entry: u64,
    /// The effective date of the step's statement (`YYYY-MM-DD`).
    pub date: String,
    /// The amount's value date, `YYYY-MM-DD` (the reversal's is the original's).
    pub value_date: String,
    /// Party ids whose keys signed the step's entry, sorted and distinct.
    pub signers: Vec<String>,
    /// Exact decimal in `currency`, signed: the reversal's is the negative of the original.
    pub amount: String,
    /// Currency of `amount` (ISO 4217), as recorded.
    pub currency: String,
    /// The reversal's rationale, or the transaction's description for the original and the correction.
    pub rationale: String,
}

/// The correction log of one reversed transaction (DOMAIN.md §7): original, reversal, corrected re-entry,
/// and the net change (re-entry − original, or − original when nothing was re-entered).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnCorrection {
    /// The reversed transaction's id.
    pub txn_id: String,
    /// Its IATI TransactionType code (3 disbursement, 7 reimbursement …), which the re-entry keeps.
    pub transaction_type: u32,
    /// The original, the reversal and, when there is one, the corrected re-entry, in that order.
    pub steps: Vec<CorrectionStep>,
    /// The re-entry's txn_id (the transaction whose `corrects` names this one); empty when none.
    pub corrected_by: String,
    /// Re-entry − original, or − original when nothing was re-entered, as an exact decimal in `currency`;
    /// empty when the re-entry is in another currency than the original.
    pub net_change: String,
    /// The original transaction's currency (ISO 4217), in which `net_change` is stated.
    pub currency: String,
}

/// Verification coverage over the whole plan (DOMAIN.md §5): co-financing reported against verified, the
/// progress reports attested, the attestation lag and the auditors' opinions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Σ co-financing realised as stated in the plan's progress reports, each converted at its value
    /// date's recorded rate.
    pub reported_amount: String,
    /// Σ co-financing realised of the attested reports as verified: an auditor's adjustment replaces the
    /// reported value, otherwise the reported value counts as verified.
    pub verified_amount: String,
    /// `verified_amount` / `reported_amount` in percent; empty when nothing is reported.
    pub verified_share: String,
    /// Number of progress reports filed in the plan.
    pub reports: u32,
    /// Those covered by an attestation with opinion `verified` or `verified_with_exceptions`.
    pub reports_attested: u32,
    /// `reports_attested` / `reports` in percent; empty when no report is filed.
    pub attested_share: String,
    /// Median of attestation integration day − report integration day over the attested reports, in days
    /// (a decimal string, `.5` when the middle falls between two); empty when none is attested.
    pub median_attestation_lag_days: String,
    /// Opinion → number of attestations that cover at least one of the plan's reports.
    pub opinions: BTreeMap<String, u32>,
}

/// One amendment, withdrawal or reversal of a subject in the amendment log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    /// Index of the log entry that made the change.
    pub index: u64,
    /// The effective date of that entry's statement (`YYYY-MM-DD`).
    pub date: String,
    /// `amended`, `withdrawn` or `reversed`.
    pub action: String,
    /// The rationale the statement gives.
    pub rationale: String,
    /// Party ids whose keys signed the entry, sorted and distinct.
    pub signers: Vec<String>,
    /// For an amendment or withdrawal of a pledge or commitment: the amount before it, as written in the
    /// subject's currency. Empty for other subjects.
    #[serde(default)]
    pub old_amount: String,
    /// The amount after it, as written in the subject's currency (a withdrawal takes it to `0`). Empty
    /// for other subjects.
    #[serde(default)]
    pub new_amount: String,
}

/// The amendment and correction log of one subject that was amended, withdrawn or (a transaction)
/// reversed (DOMAIN.md §5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmendmentLog {
    /// The subject's kind: `plan`, `goal`, `indicator`, `pledge`, `condition`, `commitment` or `transaction`.
    pub kind: String,
    /// The subject's id.
    pub id: String,
    /// Its amendments, withdrawals and reversal, in entry order.
    pub corrections: Vec<Correction>,
    /// Current amount − original amount as an exact decimal in `currency` (− original when withdrawn);
    /// empty except for pledges and commitments with an amount.
    pub net_change: String,
    /// The subject's current currency (ISO 4217); empty when `net_change` is.
    pub currency: String,
}
