//! Shared test harness: a real server on 127.0.0.1:0 over a real SQLite ledger in a temp dir, a real
//! tonic client, and statement builders.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use accord::client::Client;
use accord::crypto::{self, PrivateKey};
use accord::ledger::{Ledger, Options};
use accord::pb::{self, ledger_service_client::LedgerServiceClient, statement::Body, Envelope, Statement};
use tokio::sync::oneshot;

/// A child process (a server, a witness, a monitor) that is killed and reaped when the guard drops, so a
/// failing test leaves nothing running.
pub struct ChildGuard(pub std::process::Child);
impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub mod scenario;

/// Connect to a server child that announced its address. `accord serve` prints its `listening` line only
/// once the listener is bound, so that line is the readiness notification: a connection made after it
/// waits in the listener's backlog until the server accepts it, and one attempt suffices.
pub async fn connect_when_up(url: &str) -> Client {
    Client::connect(url, None).await.unwrap_or_else(|e| panic!("server at {url} announced itself but refuses: {e}"))
}

/// Wait until `ready` yields a value, retrying with a bounded backoff (5 ms, doubling up to 100 ms) until
/// `within` has passed; panics naming `what` at the deadline. Only for states the product announces by no
/// notification a test can await (a peer's cosignature arriving, a freed connection slot); where the
/// product does announce something (a child's `listening` line, a health watch), await that instead.
pub async fn wait_until<T>(what: &str, within: Duration, mut ready: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + within;
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(v) = ready().await {
            return v;
        }
        let now = tokio::time::Instant::now();
        assert!(now < deadline, "{what}: not reached within {within:?}");
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// The wait a rate-limit refusal names (`... retry in N ms`), for tests that must let wall time pass for
/// the server's token bucket to refill. The bucket itself takes its clock as an argument and is tested
/// in-process (src/server/api/limits.rs); end to end, only real time refills a running server's bucket.
/// A field path or message fragment written in the wire (protobuf) names, as the server answers it: every
/// field in the protobuf JSON mapping's lowerCamelCase (`amount.value_date` → `amount.valueDate`). Tests
/// name fields as the code does; what a user reads is the JSON spelling.
pub fn json_names(wire: &str) -> String {
    accord::error::FieldPath::parse(wire).json().to_string()
}

pub fn retry_hint(message: &str) -> Duration {
    let ms = message
        .split("retry in ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("a rate-limit refusal names its wait: {message}"));
    Duration::from_millis(ms)
}

pub const ORIGIN: &str = "test.accord.example/ledger";

pub struct TestServer {
    pub url: String,
    pub verifier_key: String,
    pub dir: PathBuf,
    pub ledger: Arc<Ledger>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
    _tmp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A new ledger in a fresh temporary directory.
    pub async fn start() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_in(dir).await;
        s._tmp = Some(tmp);
        s
    }

    /// A new ledger whose integration clock starts at `start_ms` (for dated scenarios).
    pub async fn start_at(start_ms: i64) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_with(dir, Some(start_ms)).await;
        s._tmp = Some(tmp);
        s
    }

    /// Open (or create) the ledger in `dir` and serve it.
    pub async fn start_in(dir: PathBuf) -> Self {
        Self::start_with(dir, None).await
    }

    /// Open (or create) the ledger in `dir`, optionally with a clock starting at `start_ms`, and serve it.
    pub async fn start_with(dir: PathBuf, start_ms: Option<i64>) -> Self {
        Self::start_clocked(dir, start_ms.map(accord::ledger::Clock::starting_at)).await
    }

    /// A new ledger in a fresh temporary directory whose integration clock is `clock`.
    pub async fn start_with_clock(clock: accord::ledger::Clock) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_clocked(dir, Some(clock)).await;
        s._tmp = Some(tmp);
        s
    }

    /// Open (or create) the ledger in `dir`, with `clock` when given, and serve it.
    pub async fn start_clocked(dir: PathBuf, clock: Option<accord::ledger::Clock>) -> Self {
        let mut opts = Options::new(&dir);
        opts.origin = Some(ORIGIN.to_string());
        if let Some(clock) = clock {
            opts.clock = clock;
        }
        let ledger =
            Arc::new(tokio::task::spawn_blocking(move || Ledger::open(opts)).await.unwrap().expect("open ledger"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let l = ledger.clone();
        let handle = tokio::spawn(async move {
            accord::server::run(listener, l, async move {
                let _ = rx.await;
            })
            .await
            .expect("server run");
        });
        let verifier_key = ledger.verifier_key().to_string();
        Self { url, verifier_key, dir, ledger, stop: Some(tx), handle: Some(handle), _tmp: None }
    }

    /// Stop serving and close the ledger; keeps the directory (for restart tests) and returns it.
    pub async fn stop(mut self) -> (PathBuf, Option<tempfile::TempDir>) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap();
        }
        (self.dir.clone(), self._tmp.take())
    }

    pub async fn client(&self) -> Client {
        Client::connect(&self.url, Some(&self.verifier_key)).await.expect("connect")
    }

    pub async fn raw(&self) -> LedgerServiceClient<tonic::transport::Channel> {
        LedgerServiceClient::connect(self.url.clone()).await.expect("connect")
    }
}

/// A founder: party id, key.
pub struct Founder {
    pub party_id: String,
    pub roles: Vec<String>,
    pub key: PrivateKey,
    pub name: String,
}

impl Founder {
    pub fn new(party_id: &str, roles: &[&str]) -> Self {
        Self {
            party_id: party_id.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            key: crypto::generate_key(),
            name: format!("{party_id} (test)"),
        }
    }
    pub fn keyid(&self) -> String {
        crypto::keyid(&self.key.verifying_key())
    }
    pub fn party(&self) -> pb::Party {
        pb::Party {
            party_id: self.party_id.clone(),
            name: self.name.clone(),
            roles: self.roles.clone(),
            public_keys: vec![self.key.verifying_key().as_bytes().to_vec()],
            organisation_type: "10".into(),
            country: String::new(),
        }
    }
}

pub fn statement(id: &str, body: Body) -> Statement {
    Statement {
        ledger: ORIGIN.into(),
        statement_id: id.into(),
        issued_at: Some(prost_types::Timestamp { seconds: 1_780_000_000, nanos: 0 }),
        effective_date: "2026-01-15".into(),
        body: Some(body),
    }
}

pub fn charter(founders: &[&Founder], k: u32) -> Statement {
    statement(
        "charter",
        Body::Charter(pb::Charter {
            name: "Test coalition".into(),
            founders: founders.iter().map(|f| f.party()).collect(),
            admission: Some(pb::AdmissionRule { k }),
            purpose: "testing".into(),
        }),
    )
}

pub fn charter_envelope(founders: &[&Founder], k: u32) -> Envelope {
    let keys: Vec<&PrivateKey> = founders.iter().map(|f| &f.key).collect();
    crypto::seal(&charter(founders, k), &keys)
}

pub fn plan(id: &str) -> Statement {
    statement(
        id,
        Body::PlanCreated(pb::PlanCreated {
            plan_id: format!("plan-{id}"),
            title: "Regional plan".into(),
            period: Some(pb::Period { start: "2026-01-01".into(), end: "2027-12-31".into() }),
            reporting_currency: "USD".into(),
            signatories: vec![],
            report_schedule: Some(pb::ReportSchedule { frequency: "quarterly".into(), days_after_period_end: 45 }),
            requirement: None,
            description: String::new(),
            ..Default::default()
        }),
    )
}

/// A server with a charter founded by a secretariat (returned) and a funder.
pub async fn chartered() -> (TestServer, Founder, Founder) {
    charter_on(TestServer::start().await).await
}

/// [`chartered`] on a server the caller started.
pub async fn charter_on(s: TestServer) -> (TestServer, Founder, Founder) {
    let sec = Founder::new("XM-SEC", &["secretariat"]);
    let fun = Founder::new("XM-DAC-1", &["funder"]);
    let mut c = s.client().await;
    c.submit(charter_envelope(&[&sec, &fun], 1)).await.expect("charter accepted");
    (s, sec, fun)
}
