//! Statement and envelope JSON, exactly as `accord sign` reads a file: `//` comments stripped, then an
//! envelope (when it has `payloadType`) or a statement in the protobuf JSON mapping, then the statement's
//! stateless checks and its JSON form again.
#![no_main]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let stripped = accord::json::strip_comments(text);
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&stripped) else { return };
    if value.get("payloadType").is_some() {
        if let Ok(env) = accord::json::envelope_from_json(text) {
            let _ = accord::json::envelope_to_json(&env);
        }
    } else if let Ok(st) = accord::json::statement_from_json(text) {
        let _ = accord::proto::check_statement(&st, common::ORIGIN);
        let _ = accord::json::statement_to_json(&st);
    }
});
