//! The network edge under abuse (issue 11, findings 5–7), each against a real server on 127.0.0.1 with a
//! bounded local flood that stops by itself:
//! - stalled HTTP/2 streams hold no request slot; health and genuine submissions still answer at once;
//! - connection caps and read deadlines on the gRPC and HTTP ports (slowloris);
//! - unknown request paths do not grow the metrics;
//! - replayed envelopes are answered from the log without spending the party's rate budget;
//! - the per-client limit is taken before any signature work.
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use accord::client::Client;
use accord::crypto;
use accord::error::Kind;
use accord::ledger::{Ledger, Options};
use accord::server::{HttpLimits, Settings};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// A server with chosen settings; stops when dropped (the test runtime ends).
struct Served {
    url: String,
    addr: std::net::SocketAddr,
    ledger: Arc<Ledger>,
    _stop: oneshot::Sender<()>,
    _tmp: tempfile::TempDir,
}

async fn serve_with(settings: Settings) -> Served {
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = Options::new(tmp.path());
    opts.origin = Some(ORIGIN.to_string());
    let ledger = Arc::new(tokio::task::spawn_blocking(move || Ledger::open(opts)).await.unwrap().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let l = ledger.clone();
    tokio::spawn(async move {
        let _ = accord::server::run_with(listener, l, settings, async move {
            let _ = rx.await;
        })
        .await;
    });
    Served { url: format!("http://{addr}"), addr, ledger, _stop: tx, _tmp: tmp }
}

async fn health_serving(url: &str) -> bool {
    let Ok(ch) = accord::client::channel(url).await else { return false };
    let mut h = tonic_health::pb::health_client::HealthClient::new(ch);
    matches!(
        h.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await,
        Ok(r) if r.get_ref().status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    )
}

/// A raw HTTP/2 connection (prior knowledge, as gRPC uses) driven in the background.
async fn h2_connect(addr: std::net::SocketAddr) -> h2::client::SendRequest<bytes::Bytes> {
    h2_connect_pinged(addr).await.0
}

/// [`h2_connect`] with the connection's PING handle: a PONG proves the server has read every frame sent
/// before the PING on that connection (frames are read in order), which is the notification a test awaits
/// instead of sleeping.
async fn h2_connect_pinged(addr: std::net::SocketAddr) -> (h2::client::SendRequest<bytes::Bytes>, h2::PingPong) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (send, mut conn) = h2::client::handshake(tcp).await.unwrap();
    let ping = conn.ping_pong().expect("the PING handle is taken once");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    (send, ping)
}

/// Wait for the server's PONG on each connection (see [`h2_connect_pinged`]).
async fn pinged(pings: &mut [h2::PingPong]) {
    for p in pings {
        tokio::time::timeout(Duration::from_secs(5), p.ping(h2::Ping::opaque()))
            .await
            .expect("the server answers a PING")
            .expect("PONG");
    }
}

fn grpc_request(path: &str) -> http::Request<()> {
    http::Request::builder()
        .method("POST")
        .uri(format!("http://localhost{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap()
}

/// The grpc-status of an h2 response (headers for trailers-only answers, else the trailers).
async fn grpc_status(resp: h2::client::ResponseFuture) -> Option<String> {
    let resp = resp.await.ok()?;
    if let Some(s) = resp.headers().get("grpc-status") {
        return s.to_str().ok().map(str::to_string);
    }
    let mut body = resp.into_body();
    while let Some(chunk) = body.data().await {
        let _ = chunk.ok()?;
    }
    let trailers = body.trailers().await.ok()??;
    trailers.get("grpc-status").and_then(|s| s.to_str().ok()).map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stalled_streams_hold_no_request_slot() {
    const SLOTS: usize = 16;
    let s = serve_with(Settings {
        max_concurrent_requests: SLOTS,
        request_body_timeout: Duration::from_secs(4),
        ..Default::default()
    })
    .await;
    let sec = Founder::new("XM-SEC", &["secretariat"]);
    let fun = Founder::new("XM-DAC-1", &["funder"]);
    let mut c = Client::connect(&s.url, None).await.unwrap();
    c.submit(charter_envelope(&[&sec, &fun], 1)).await.unwrap();
    let size_before = s.ledger.latest().size;

    // The flood: 8 connections × 12 Submit streams = 96 > 16 slots, each sending its headers and the start of
    // a gRPC frame, then nothing.
    let mut stalled = Vec::new();
    let mut pings = Vec::new();
    for _ in 0..8 {
        let (mut send, ping) = h2_connect_pinged(s.addr).await;
        pings.push(ping);
        for _ in 0..12 {
            send = send.ready().await.unwrap();
            let (resp, mut body) = send.send_request(grpc_request("/accord.v1.LedgerService/Submit"), false).unwrap();
            body.send_data(bytes::Bytes::from_static(&[0, 0, 0, 1, 0]), false).unwrap();
            stalled.push((resp, body));
        }
    }
    // The server has read all 96 stalled streams (their HEADERS and DATA precede each PING).
    pinged(&mut pings).await;

    let t = Instant::now();
    assert!(health_serving(&s.url).await, "health answers SERVING during the flood");
    assert!(t.elapsed() < Duration::from_secs(1), "health took {:?} during the flood", t.elapsed());
    let t = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(2), c.submit(crypto::seal(&plan("a"), &[&sec.key])))
        .await
        .expect("a genuine Submit is answered during the flood")
        .expect("and accepted");
    assert!(!r.receipt.duplicate);
    assert!(t.elapsed() < Duration::from_secs(2), "Submit took {:?}", t.elapsed());
    assert_eq!(s.ledger.latest().size, size_before + 1, "the flood wrote nothing");

    // Past the body deadline every stalled stream is answered DEADLINE_EXCEEDED (4) by itself.
    let codes = tokio::time::timeout(
        Duration::from_secs(15),
        futures::future::join_all(stalled.into_iter().map(|(resp, _body)| async move {
            let code = grpc_status(resp).await;
            drop(_body);
            code
        })),
    )
    .await
    .expect("stalled streams are cut at the body deadline");
    assert!(codes.iter().all(|c| c.as_deref() == Some("4")), "{codes:?}");
    assert_eq!(s.ledger.latest().size, size_before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_connections_are_capped_and_silent_ones_cut() {
    let s = serve_with(Settings {
        max_connections: 4,
        request_body_timeout: Duration::from_millis(800),
        ..Default::default()
    })
    .await;
    // Four live HTTP/2 connections take every permit ...
    let mut live = Vec::new();
    let mut pings = Vec::new();
    for _ in 0..4 {
        let (send, ping) = h2_connect_pinged(s.addr).await;
        live.push(send);
        pings.push(ping);
    }
    // Each connection is being served (its PONG came back), so each holds its permit.
    pinged(&mut pings).await;
    // ... so a fifth is closed at once.
    let mut extra = TcpStream::connect(s.addr).await.unwrap();
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_millis(500), extra.read_to_end(&mut buf))
        .await
        .expect("a connection beyond max_connections is closed at once");
    assert!(n.map_or(true, |n| n == 0), "closed without an answer");
    drop((live, pings));
    // The server frees a permit when it sees the connection close, and announces nothing: retry (bounded
    // backoff) until a new connection is served; a permit never freed fails at the deadline.
    wait_until("closing connections frees their permits", Duration::from_secs(5), async || {
        health_serving(&s.url).await.then_some(())
    })
    .await;

    // A connection that never sends the HTTP/2 preface is cut at the deadline.
    let mut silent = TcpStream::connect(s.addr).await.unwrap();
    let t = Instant::now();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), silent.read_to_end(&mut buf))
        .await
        .expect("a silent connection is closed");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_port_cuts_slowloris_and_caps_connections() {
    let s = TestServer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits =
        HttpLimits { max_connections: 8, header_read_timeout: Duration::from_millis(700), ..Default::default() };
    tokio::spawn(accord::server::serve_http(
        listener,
        accord::server::web::router(s.ledger.clone()),
        None,
        limits,
        std::future::pending(),
    ));
    // A normal request works.
    let mut ok = TcpStream::connect(addr).await.unwrap();
    ok.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut resp = String::new();
    tokio::time::timeout(Duration::from_secs(5), ok.read_to_string(&mut resp)).await.unwrap().unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");

    // Slowloris: headers that never end are cut at the header-read deadline.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n").await.unwrap();
    let t = Instant::now();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut buf))
        .await
        .expect("a connection that never finishes its headers is closed");
    assert!(t.elapsed() < Duration::from_secs(3), "cut after {:?}", t.elapsed());

    // The connection cap: 8 open connections, the ninth is closed at once (before any header deadline).
    // Each is proven served (and so holding its permit) by one keep-alive request answered on it.
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut head = [0u8; 12];
        tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut head)).await.unwrap().unwrap();
        assert_eq!(&head, b"HTTP/1.1 200", "a held connection is served");
        held.push(c);
    }
    let mut ninth = TcpStream::connect(addr).await.unwrap();
    let mut buf = Vec::new();
    let t = Instant::now();
    let _ = tokio::time::timeout(Duration::from_secs(5), ninth.read_to_end(&mut buf)).await.unwrap();
    assert!(t.elapsed() < Duration::from_millis(500), "the ninth connection waited {:?}", t.elapsed());
    assert!(buf.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_paths_do_not_grow_the_metrics() {
    let s = TestServer::start().await;
    let addr: std::net::SocketAddr = s.url.trim_start_matches("http://").parse().unwrap();
    // One request of a known method first, so its series exist before the baseline.
    let send = h2_connect(addr).await;
    let (resp, _) = send.clone().ready().await.unwrap().send_request(grpc_request("/no.Such/Warmup"), true).unwrap();
    let _ = grpc_status(resp).await;
    let before = accord::metrics::metrics().render(&[]).len();
    // 10,000 distinct unknown paths over 4 connections, 50 in flight per connection.
    let mut tasks = Vec::new();
    for w in 0..4 {
        let send = h2_connect(addr).await;
        tasks.push(tokio::spawn(async move {
            use futures::StreamExt;
            futures::stream::iter(0..2500)
                .map(|i| {
                    let mut send = send.clone();
                    async move {
                        send = send.ready().await.unwrap();
                        let (resp, _) =
                            send.send_request(grpc_request(&format!("/x{w}.Junk{i}/Path{i}")), true).unwrap();
                        grpc_status(resp).await
                    }
                })
                .buffer_unordered(50)
                .collect::<Vec<_>>()
                .await
        }));
    }
    let mut unimplemented = 0;
    for t in tasks {
        unimplemented += t.await.unwrap().iter().filter(|c| c.as_deref() == Some("12")).count();
    }
    assert_eq!(unimplemented, 10_000, "every unknown path is answered UNIMPLEMENTED");
    let text = accord::metrics::metrics().render(&[]);
    assert!(text.len() < before + 64 * 1024, "/metrics grew from {before} to {} bytes", text.len());
    assert!(text.contains("method=\"other\""), "unknown paths are counted as other");
    assert!(!text.contains("Junk"), "no request path becomes a label");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replays_do_not_spend_the_partys_budget() {
    let mut settings = Settings::default();
    settings.rates.per_key = 2;
    settings.rates.burst = 3;
    let s = serve_with(settings).await;
    let sec = Founder::new("XM-SEC", &["secretariat"]);
    let fun = Founder::new("XM-DAC-1", &["funder"]);
    let mut c = Client::connect(&s.url, None).await.unwrap();
    c.submit(charter_envelope(&[&sec, &fun], 1)).await.unwrap();
    let public = crypto::seal(&plan("a"), &[&sec.key]);
    let first = c.submit(public.clone()).await.unwrap();
    let size = s.ledger.latest().size;
    // Anyone replays the party's public envelope 200 times, on its own connection.
    let mut attacker = Client::connect(&s.url, None).await.unwrap();
    for i in 0..200 {
        let r = attacker.submit(public.clone()).await.unwrap_or_else(|e| panic!("replay {i}: {e}"));
        assert!(r.receipt.duplicate, "replay {i} is answered from the log");
        assert_eq!(r.receipt.index, first.receipt.index);
    }
    // ... and in batches.
    let rs = attacker.submit_batch(vec![public.clone(); 8]).await.unwrap();
    assert!(rs.iter().all(|r| r.receipt.duplicate && r.receipt.index == first.receipt.index));
    assert_eq!(s.ledger.latest().size, size, "replays write nothing");
    // The party's genuine new submissions are still accepted.
    within_rate(async || c.submit(crypto::seal(&plan("b"), &[&sec.key])).await).await;
    within_rate(async || c.submit(crypto::seal(&plan("c"), &[&sec.key])).await).await;
    // A batch mixing a replay and a new envelope: only the new one is charged and written.
    let d = crypto::seal(&plan("d"), &[&sec.key]);
    let rs = within_rate(async || c.submit_batch(vec![public.clone(), d.clone()]).await).await;
    assert!(rs[0].receipt.duplicate && !rs[1].receipt.duplicate);
    assert_eq!(rs[0].checkpoint.size, rs[1].checkpoint.size, "one checkpoint covers the whole answer");
    // The per-key limit still holds for new envelopes.
    let mut refused = false;
    for i in 0..5 {
        if let Err(e) = c.submit(crypto::seal(&plan(&format!("e{i}")), &[&sec.key])).await {
            assert_eq!(e.kind, Kind::ResourceExhausted, "{e}");
            refused = true;
            break;
        }
    }
    assert!(refused, "new envelopes beyond the burst are limited");
    // Even with the party's bucket empty, a replay is answered.
    assert!(c.submit(public.clone()).await.unwrap().receipt.duplicate);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_limit_comes_before_signature_work() {
    let mut settings = Settings::default();
    settings.rates.per_client = 2; // burst 4 envelopes
    let s = serve_with(settings).await;
    let sec = Founder::new("XM-SEC", &["secretariat"]);
    let fun = Founder::new("XM-DAC-1", &["funder"]);
    let mut c = Client::connect(&s.url, None).await.unwrap();
    c.submit(charter_envelope(&[&sec, &fun], 1)).await.unwrap();
    // Envelopes whose signature does not verify: each costs the client a token although it is refused.
    let mut kinds = Vec::new();
    for i in 0..6 {
        let mut env = crypto::seal(&plan(&format!("forged{i}")), &[&sec.key]);
        if let Some(b) = env.signatures[0].sig.first_mut() {
            *b ^= 1;
        }
        let e = c.submit(env).await.unwrap_err();
        kinds.push(e.kind);
        if e.kind == Kind::ResourceExhausted {
            assert!(e.message.contains("client 127.0.0.1") && e.message.contains("retry in"), "{e}");
            break;
        }
        assert_eq!(e.kind, Kind::PermissionDenied, "{e}");
    }
    assert_eq!(kinds.last(), Some(&Kind::ResourceExhausted), "{kinds:?}");
    assert!(kinds.len() <= 5, "the limit came after {} forged envelopes", kinds.len());
    // A batch is counted per envelope: once the bucket holds a token again (wall time must pass for the
    // running server's bucket; the wait is the one the refusal named), a batch of 5 is still refused. A
    // batch counted as one request would pass here.
    let hint = c.submit(crypto::seal(&plan("probe"), &[&sec.key])).await.unwrap_err();
    assert_eq!(hint.kind, Kind::ResourceExhausted, "{hint}");
    tokio::time::sleep(retry_hint(&hint.message)).await;
    let batch: Vec<_> = (0..5).map(|i| crypto::seal(&plan(&format!("b{i}")), &[&sec.key])).collect();
    let e = c.submit_batch(batch).await.unwrap_err();
    assert_eq!(e.kind, Kind::ResourceExhausted, "{e}");
    // Reads are not limited.
    c.checkpoint(None).await.unwrap();
}

/// Run a submission within the party's rate: when its bucket is empty, wait the time the refusal names
/// and try once more. Wall time must pass for a running server's bucket to refill (the bucket itself takes
/// its clock as an argument and is tested in-process in src/server/api/limits.rs); the wait is the server's own
/// hint, not a guess. A second refusal fails the test.
async fn within_rate<T>(mut f: impl AsyncFnMut() -> Result<T, accord::error::Error>) -> T {
    match f().await {
        Err(e) if e.kind == Kind::ResourceExhausted => {
            tokio::time::sleep(retry_hint(&e.message)).await;
            f().await.unwrap_or_else(|e| panic!("refused again after the wait the server named: {e}"))
        }
        r => r.unwrap_or_else(|e| panic!("the party is not locked out: {e}")),
    }
}
