//! Envelope decoding and the whole stateless stage (`accord::ledger::prepare_with`), as the server runs it on
//! every Submit: the fixed parties' keys are "registered", so signatures of mutated seeds still verify
//! and the fuzzer reaches the statement rules. The same bytes are also tried as a stored leaf.
#![no_main]
mod common;

use std::sync::OnceLock;

use accord::crypto::{self, PublicKey};
use accord::ledger::{prepare_with, Limits};
use accord::pb;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fn keys() -> &'static std::collections::HashMap<String, PublicKey> {
    static KEYS: OnceLock<std::collections::HashMap<String, PublicKey>> = OnceLock::new();
    KEYS.get_or_init(common::party_keys)
}

fn stage(env: &pb::Envelope) {
    let keys = keys();
    if let Ok(p) = prepare_with(env, common::ORIGIN, &Limits::default(), |kid| keys.get(kid).copied()) {
        // What the sequencer and the read side do next with an accepted statement.
        let _ = accord::proto::compiled_body(&p.statement);
        let _ = accord::json::statement_to_json(&p.statement);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = pb::Envelope::decode(data) {
        stage(&env);
    }
    if let Ok(entry) = pb::LogEntry::decode(data) {
        let _ = crypto::leaf_identity(data);
        let _ = accord::proto::statement_of_leaf(data);
        if let Some(env) = &entry.envelope {
            stage(env);
        }
    }
});
