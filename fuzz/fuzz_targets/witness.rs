//! The witness's add-checkpoint endpoint through its axum router (`POST /add-checkpoint`), with the body
//! fuzzed. Every input starts from the same state: the witness has cosigned the fixed log's checkpoint of
//! size 3, so consistency proofs from 3 to larger checkpoints are checked for real.
#![no_main]
mod common;

use std::sync::{Arc, OnceLock};

use accord::server::witness::{router, Witness};
use axum::body::Body;
use http::Request;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

struct Fixed {
    rt: tokio::runtime::Runtime,
    path: std::path::PathBuf,
    state: String,
    cosigner: accord::crypto::cosign::Cosigner,
    log: accord::crypto::StrictNoteVerifier,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| {
        // Removed by scripts/fuzz.sh, which points TMPDIR at a directory of its own.
        let dir = tempfile::tempdir().expect("temp dir").keep();
        let (path, state) = (dir.join("witness.state"), common::witness_state_json());
        std::fs::write(&path, &state).expect("write the witness state");
        Fixed {
            rt: tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime"),
            path,
            state,
            cosigner: common::cosigner(),
            log: common::log_verifier(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixed();
    let w = Witness::open(f.cosigner.clone(), vec![f.log.clone()], &f.path).expect("open the witness");
    let app = router(Arc::new(w));
    let req = Request::post("/add-checkpoint")
        .header("content-type", "text/plain")
        .body(Body::from(data.to_vec()))
        .expect("request");
    let resp = f.rt.block_on(app.oneshot(req)).expect("infallible");
    let code = resp.status().as_u16();
    assert!(code != 500, "the witness answered 500");
    if code == 200 {
        // A cosignature was issued: the request must have carried a checkpoint signed by the log key.
        let body = String::from_utf8_lossy(data);
        assert!(body.contains(common::ORIGIN), "cosigned something that is not the log's checkpoint");
        // The witness persisted a new state: put the starting state back for the next input.
        std::fs::write(&f.path, &f.state).expect("write the witness state");
    }
});
