//! Every route of the public page and the metrics endpoint (`accord::web`), with the request target (path
//! and query) fuzzed, against a real ledger holding a small coalition's plan, pledges, commitment and
//! transaction. The ledger is opened once, in a temporary directory.
#![no_main]
mod common;

use std::sync::{Arc, OnceLock};

use accord::ledger::{Clock, Ledger, Options};
use axum::body::Body;
use axum::Router;
use http::Request;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

struct Fixed {
    rt: tokio::runtime::Runtime,
    app: Router,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
        // Removed by scripts/fuzz.sh, which points TMPDIR at a directory of its own.
        let dir = tempfile::tempdir().expect("temp dir").keep();
        let mut opts = Options::new(dir.join("ledger"));
        opts.origin = Some(common::ORIGIN.into());
        opts.synchronous_full = false;
        opts.readers = 2;
        opts.clock = Clock(Arc::new(|| common::CLOCK_MS));
        let ledger = Arc::new(Ledger::open(opts).expect("open the ledger"));
        rt.block_on(async {
            for env in common::envelopes() {
                let p = ledger.prepare(&env).expect("seed statement passes the stateless stage");
                ledger.submit(vec![p]).await.expect("seed statement accepted");
            }
        });
        let app = accord::server::web::router(ledger.clone()).merge(accord::server::web::metrics_router(ledger));
        Fixed { rt, app }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixed();
    // Any request target that http accepts; the method is GET (the only one routed) unless the input
    // starts with "HEAD " or "POST ".
    let (method, target) = match data {
        [b'H', b'E', b'A', b'D', b' ', rest @ ..] => ("HEAD", rest),
        [b'P', b'O', b'S', b'T', b' ', rest @ ..] => ("POST", rest),
        _ => ("GET", data),
    };
    let Ok(uri) = http::Uri::try_from(target) else { return };
    let Ok(req) = Request::builder().method(method).uri(uri).body(Body::empty()) else { return };
    let resp = f.rt.block_on(f.app.clone().oneshot(req)).expect("infallible");
    let code = resp.status().as_u16();
    assert!(code != 500, "the public page answered 500 for {:?}", String::from_utf8_lossy(data));
});
