//! The record-keeping views of the report model: verification, the amendment log and the correction log of
//! reversed transactions.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One step of a transaction's correction: the original, its reversal or the corrected re-entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionStep {
    /// original, reversal or correction.
    pub step: String,
    pub txn_id: String,
    pub entry: u64,
    /// The statement's effective date.
    pub date: String,
    /// The amount's value date (the reversal's is the original's).
    pub value_date: String,
    pub signers: Vec<String>,
    /// Signed: the reversal's is the negative of the original.
    pub amount: String,
    pub currency: String,
    pub rationale: String,
}

/// The correction log of one reversed transaction (DOMAIN.md §7): original, reversal, corrected re-entry,
/// and the net change (re-entry − original, or − original when nothing was re-entered).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnCorrection {
    pub txn_id: String,
    pub transaction_type: u32,
    pub steps: Vec<CorrectionStep>,
    pub corrected_by: String,
    /// Empty when the re-entry is in another currency than the original.
    pub net_change: String,
    pub currency: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Co-financing realised, reported and verified (reporting currency).
    pub reported_amount: String,
    pub verified_amount: String,
    pub verified_share: String,
    pub reports: u32,
    pub reports_attested: u32,
    pub attested_share: String,
    pub median_attestation_lag_days: String,
    pub opinions: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    pub index: u64,
    pub date: String,
    /// amended, withdrawn or reversed.
    pub action: String,
    pub rationale: String,
    pub signers: Vec<String>,
    /// For an amendment or withdrawal of a pledge or commitment: the amount before and after (subject's
    /// currency; a withdrawal takes it to 0). Empty for other subjects.
    #[serde(default)]
    pub old_amount: String,
    #[serde(default)]
    pub new_amount: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmendmentLog {
    pub kind: String,
    pub id: String,
    pub corrections: Vec<Correction>,
    /// Current amount − original amount, in the subject's currency (money subjects only).
    pub net_change: String,
    pub currency: String,
}
