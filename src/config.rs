//! Server configuration: one precedence order for every setting — command-line flag, then environment
//! variable, then the TOML config file (`--config`), then the built-in default — validated at start with
//! messages that name the setting. `accord serve --print-config` shows the result.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Every setting of `accord serve`, each optional, in one place: the same struct is the command line (with
/// its environment variables) and the TOML config file (the same key names; unknown keys refused).
/// [`resolve`] applies the precedence flag > environment > file > [`ServeConfig::default`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Directory holding ledger.db and log.key [default: ./accord-data].
    #[arg(long, env = "ACCORD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// gRPC address to listen on [default: 127.0.0.1:50051].
    #[arg(long, env = "ACCORD_LISTEN")]
    pub listen: Option<String>,
    /// Also serve the public, read-only transparency page over HTTP on this address [default: off].
    #[arg(long, env = "ACCORD_HTTP")]
    pub http: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics [default: off].
    #[arg(long, env = "ACCORD_METRICS")]
    pub metrics: Option<String>,
    /// Origin (checkpoint origin line and log key name) of a new ledger [default: accord.localhost/ledger].
    #[arg(long, env = "ACCORD_ORIGIN")]
    pub origin: Option<String>,
    /// SQLite synchronous mode: full (an acknowledged entry survives power loss) or normal [default: full].
    #[arg(long, env = "ACCORD_SYNC", value_parser = ["full", "normal"])]
    pub sync: Option<String>,
    /// Read-only connections in the pool [default: 8].
    #[arg(long, env = "ACCORD_READERS")]
    pub readers: Option<usize>,
    /// Largest statement (envelope payload) in bytes, at most 61440 so that every log entry fits a tlog-tiles
    /// entry bundle [default: 61440].
    #[arg(long, env = "ACCORD_MAX_PAYLOAD_BYTES")]
    pub max_payload_bytes: Option<usize>,
    /// Most signatures on one envelope [default: 32].
    #[arg(long, env = "ACCORD_MAX_SIGNATURES")]
    pub max_signatures: Option<usize>,
    /// Most envelopes in one SubmitBatch [default: 1024].
    #[arg(long, env = "ACCORD_MAX_BATCH")]
    pub max_batch: Option<usize>,
    /// Submissions waiting for the sequencer before new ones get UNAVAILABLE [default: 1024].
    #[arg(long, env = "ACCORD_QUEUE_DEPTH")]
    pub queue_depth: Option<usize>,
    /// Requests handled at once across all connections; more wait [default: 512].
    #[arg(long, env = "ACCORD_MAX_CONCURRENT_REQUESTS")]
    pub max_concurrent_requests: Option<usize>,
    /// Per-request deadline in milliseconds (DEADLINE_EXCEEDED after) [default: 30000].
    #[arg(long, env = "ACCORD_REQUEST_TIMEOUT_MS")]
    pub request_timeout_ms: Option<u64>,
    /// Submissions per second allowed per signing key, 0 = unlimited (token bucket; RESOURCE_EXHAUSTED with a
    /// retry hint beyond it) [default: 0].
    #[arg(long, env = "ACCORD_RATE_PER_KEY")]
    pub rate_per_key: Option<u32>,
    /// Token-bucket burst per key [default: 2 × the rate].
    #[arg(long, env = "ACCORD_RATE_BURST")]
    pub rate_burst: Option<u32>,
    /// Envelopes per second per client (TLS client certificate, else remote IP), checked before any
    /// signature work, 0 = unlimited [default: 0].
    #[arg(long, env = "ACCORD_RATE_PER_CLIENT")]
    pub rate_per_client: Option<u32>,
    /// Open connections per port (gRPC, public page, metrics); more are closed at once [default: 1024].
    #[arg(long, env = "ACCORD_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Concurrent HTTP/2 streams per gRPC connection [default: 100].
    #[arg(long, env = "ACCORD_MAX_STREAMS_PER_CONNECTION")]
    pub max_streams_per_connection: Option<u32>,
    /// A request body must arrive within this many ms before the request takes a slot [default: 10000].
    #[arg(long, env = "ACCORD_REQUEST_BODY_TIMEOUT_MS")]
    pub request_body_timeout_ms: Option<u64>,
    /// HTTP ports: request headers and TLS handshakes must arrive within this many ms [default: 10000].
    #[arg(long, env = "ACCORD_HEADER_READ_TIMEOUT_MS")]
    pub header_read_timeout_ms: Option<u64>,
    /// Per-party submissions per second for each of the party's keys (overrides rate_per_key); config
    /// file only, as a table.
    #[arg(skip)]
    pub party_rates: Option<BTreeMap<String, u32>>,
    /// PEM certificate chain: serve gRPC and HTTP over TLS (with --tls-key) [default: plain text].
    #[arg(long, env = "ACCORD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert [default: none].
    #[arg(long, env = "ACCORD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA that client certificates must chain to (mutual TLS) [default: none].
    #[arg(long, env = "ACCORD_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,
    /// Submissions need a client certificate from --tls-client-ca; reads stay public [default: false].
    #[arg(long, env = "ACCORD_REQUIRE_CLIENT_CERT")]
    pub require_client_cert: Option<bool>,
    /// A witness to send every new checkpoint to, as URL=COSIGNER_KEY (repeat) [default: none].
    #[arg(long = "witness")]
    pub witnesses: Option<Vec<String>>,
    /// The high-water record: the latest signed checkpoint, kept outside the database so that a lost or
    /// rolled-back database is refused instead of forking the log [default: DATA_DIR/high-water].
    #[arg(long, env = "ACCORD_HIGH_WATER")]
    pub high_water: Option<PathBuf>,
    /// Keep a static C2SP tlog-tiles copy of the log in this directory (checkpoint, hash tiles, entry
    /// bundles), updated after every checkpoint, for any web server to publish [default: none].
    #[arg(long, env = "ACCORD_TILES_DIR")]
    pub tiles_dir: Option<PathBuf>,
    /// PEM CA certificate(s) trusted for https:// witnesses besides the system's roots (a private CA)
    /// [default: none].
    #[arg(long, env = "ACCORD_WITNESS_CA")]
    pub witness_ca: Option<PathBuf>,
}

/// Values given on the command line or in the environment (clap merges those two, flag first).
pub type Overrides = FileConfig;

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServeConfig {
    /// Directory holding `ledger.db` and `log.key`.
    pub data_dir: PathBuf,
    /// gRPC listen address (`HOST:PORT`).
    pub listen: String,
    /// Address of the public, read-only transparency page; None = not served.
    pub http: Option<String>,
    /// Address of the Prometheus metrics endpoint (`/metrics`); None = not served.
    pub metrics: Option<String>,
    /// Origin of a new ledger (checkpoint origin line and log key name): non-empty, no spaces or `+`.
    pub origin: String,
    /// SQLite synchronous mode: `full` (an acknowledged entry survives power loss) or `normal`.
    pub sync: String,
    /// Read-only connections in the pool (1..=256).
    pub readers: usize,
    /// Largest envelope payload in bytes (1 KiB..=60 KiB).
    pub max_payload_bytes: usize,
    /// Most signatures on one envelope (1..=1024).
    pub max_signatures: usize,
    /// Most envelopes in one SubmitBatch (1..=[`crate::ledger::MAX_GROUP`]).
    pub max_batch: usize,
    /// Submissions waiting for the sequencer before new ones get UNAVAILABLE.
    pub queue_depth: usize,
    /// Requests handled at once across all connections; more wait.
    pub max_concurrent_requests: usize,
    /// Per-request deadline in milliseconds (100..=3 600 000).
    pub request_timeout_ms: u64,
    /// 0 = unlimited.
    pub rate_per_key: u32,
    /// Token-bucket size per key; 0 = twice the rate. Set only together with a rate.
    pub rate_burst: u32,
    /// Envelopes per second per client (TLS client certificate or remote IP), before signature work; 0 = unlimited.
    pub rate_per_client: u32,
    /// Open connections per port.
    pub max_connections: usize,
    /// Concurrent HTTP/2 streams per gRPC connection.
    pub max_streams_per_connection: u32,
    /// A request body must arrive within this before the request takes a slot.
    pub request_body_timeout_ms: u64,
    /// HTTP ports: request headers (and TLS handshakes) must arrive within this.
    pub header_read_timeout_ms: u64,
    /// Submissions per second for each key of a party (party id → rate, 1..=1 000 000); overrides
    /// `rate_per_key` for that party's keys.
    pub party_rates: BTreeMap<String, u32>,
    /// PEM certificate chain and key: TLS on the gRPC and HTTP ports when both are set.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`; set exactly when `tls_cert` is.
    pub tls_key: Option<PathBuf>,
    /// PEM CA that client certificates must chain to (mutual TLS).
    pub tls_client_ca: Option<PathBuf>,
    /// Submissions need a client certificate from tls_client_ca; reads stay public.
    pub require_client_cert: bool,
    /// Witnesses every new checkpoint is sent to (URL=COSIGNER_KEY).
    pub witnesses: Vec<String>,
    /// The high-water record of the latest signed checkpoint; None = DATA_DIR/high-water.
    pub high_water: Option<PathBuf>,
    /// A static tlog-tiles directory kept up to date with the log.
    pub tiles_dir: Option<PathBuf>,
    /// Extra CA certificates (PEM) trusted for https:// witnesses.
    pub witness_ca: Option<PathBuf>,
}

/// Where a new server keeps its data unless told otherwise.
const DEFAULT_DATA_DIR: &str = "./accord-data";

impl Default for ServeConfig {
    /// The built-in defaults. Each is written once, by the layer that uses it — the ledger's in
    /// [`crate::ledger::Options::new`] and [`crate::ledger::Limits`], the transport's in
    /// [`crate::server::Settings`] — and read from there; only the settings no lower layer knows (addresses,
    /// origin, files) are spelled here. The help text, the TOML file and docs/OPERATIONS.md are checked
    /// against this (tests below).
    fn default() -> Self {
        let ledger = crate::ledger::Options::new(DEFAULT_DATA_DIR);
        let server = crate::server::Settings::default();
        Self {
            data_dir: ledger.data_dir.clone(),
            listen: "127.0.0.1:50051".into(),
            http: None,
            metrics: None,
            origin: "accord.localhost/ledger".into(),
            sync: if ledger.synchronous_full { "full" } else { "normal" }.into(),
            readers: ledger.readers,
            max_payload_bytes: ledger.limits.max_payload_bytes,
            max_signatures: ledger.limits.max_signatures,
            max_batch: ledger.limits.max_batch,
            queue_depth: ledger.limits.queue_depth,
            max_concurrent_requests: server.max_concurrent_requests,
            request_timeout_ms: millis(server.request_timeout),
            rate_per_key: server.rates.per_key,
            rate_burst: server.rates.burst,
            rate_per_client: server.rates.per_client,
            max_connections: server.max_connections,
            max_streams_per_connection: server.max_streams_per_connection,
            request_body_timeout_ms: millis(server.request_body_timeout),
            header_read_timeout_ms: millis(server.header_read_timeout),
            party_rates: server.rates.parties.clone(),
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            require_client_cert: false,
            witnesses: Vec::new(),
            high_water: ledger.high_water.clone(),
            tiles_dir: None,
            witness_ca: None,
        }
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl ServeConfig {
    /// How to open the ledger with these settings (the caller decides the origin of an existing ledger).
    pub fn ledger_options(&self) -> crate::ledger::Options {
        let mut o = crate::ledger::Options::new(&self.data_dir);
        o.high_water = self.high_water.clone();
        o.origin = Some(self.origin.clone());
        o.synchronous_full = self.sync == "full";
        o.readers = self.readers;
        o.limits.max_payload_bytes = self.max_payload_bytes;
        o.limits.max_signatures = self.max_signatures;
        o.limits.max_batch = self.max_batch;
        o.limits.queue_depth = self.queue_depth;
        o
    }

    /// The transport settings, without TLS (whose files the caller reads).
    pub fn server_settings(&self) -> crate::server::Settings {
        let defaults = crate::server::Settings::default();
        let mut rates = defaults.rates.clone();
        rates.per_key = self.rate_per_key;
        rates.burst = self.rate_burst;
        rates.parties = self.party_rates.clone();
        rates.per_client = self.rate_per_client;
        crate::server::Settings {
            max_concurrent_requests: self.max_concurrent_requests,
            request_timeout: std::time::Duration::from_millis(self.request_timeout_ms),
            max_connections: self.max_connections,
            max_streams_per_connection: self.max_streams_per_connection,
            request_body_timeout: std::time::Duration::from_millis(self.request_body_timeout_ms),
            header_read_timeout: std::time::Duration::from_millis(self.header_read_timeout_ms),
            rates,
            ..defaults
        }
    }
}

/// Read and parse a config file.
pub fn read_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::invalid("config", format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| Error::invalid("config", format!("{}: {}", path.display(), e.message())))
}

/// Apply the precedence: overrides (flags, environment) > file > defaults; then validate.
pub fn resolve(over: &Overrides, file: &FileConfig) -> Result<ServeConfig> {
    let d = ServeConfig::default();
    macro_rules! pick {
        ($f:ident) => {
            over.$f.clone().or_else(|| file.$f.clone()).unwrap_or(d.$f)
        };
    }
    let c = ServeConfig {
        data_dir: pick!(data_dir),
        listen: pick!(listen),
        http: over.http.clone().or_else(|| file.http.clone()),
        metrics: over.metrics.clone().or_else(|| file.metrics.clone()),
        origin: pick!(origin),
        sync: pick!(sync),
        readers: pick!(readers),
        max_payload_bytes: pick!(max_payload_bytes),
        max_signatures: pick!(max_signatures),
        max_batch: pick!(max_batch),
        queue_depth: pick!(queue_depth),
        max_concurrent_requests: pick!(max_concurrent_requests),
        request_timeout_ms: pick!(request_timeout_ms),
        rate_per_key: pick!(rate_per_key),
        rate_burst: pick!(rate_burst),
        rate_per_client: pick!(rate_per_client),
        max_connections: pick!(max_connections),
        max_streams_per_connection: pick!(max_streams_per_connection),
        request_body_timeout_ms: pick!(request_body_timeout_ms),
        header_read_timeout_ms: pick!(header_read_timeout_ms),
        party_rates: over.party_rates.clone().or_else(|| file.party_rates.clone()).unwrap_or_default(),
        tls_cert: over.tls_cert.clone().or_else(|| file.tls_cert.clone()),
        tls_key: over.tls_key.clone().or_else(|| file.tls_key.clone()),
        tls_client_ca: over.tls_client_ca.clone().or_else(|| file.tls_client_ca.clone()),
        require_client_cert: pick!(require_client_cert),
        witnesses: pick!(witnesses),
        high_water: over.high_water.clone().or_else(|| file.high_water.clone()),
        tiles_dir: over.tiles_dir.clone().or_else(|| file.tiles_dir.clone()),
        witness_ca: over.witness_ca.clone().or_else(|| file.witness_ca.clone()),
    };
    validate(&c)?;
    Ok(c)
}

fn addr(field: &str, s: &str) -> Result<()> {
    s.parse::<std::net::SocketAddr>().map(|_| ()).map_err(|_| {
        Error::invalid(field, format!("{s:?} is not an address of the form HOST:PORT (e.g. 127.0.0.1:50051)"))
    })
}

fn range(field: &str, v: u64, lo: u64, hi: u64) -> Result<()> {
    if v < lo || v > hi {
        return Err(Error::invalid(field, format!("{v} is outside {lo}..={hi}")));
    }
    Ok(())
}

fn validate(c: &ServeConfig) -> Result<()> {
    addr("listen", &c.listen)?;
    if let Some(h) = &c.http {
        addr("http", h)?;
    }
    if let Some(m) = &c.metrics {
        addr("metrics", m)?;
    }
    if !["full", "normal"].contains(&c.sync.as_str()) {
        return Err(Error::invalid("sync", format!("{:?} is not full or normal", c.sync)));
    }
    if c.origin.is_empty() || c.origin.contains(char::is_whitespace) || c.origin.contains('+') {
        return Err(Error::invalid(
            "origin",
            "must be non-empty, without spaces or '+' (e.g. coalition.example/ledger)",
        ));
    }
    range("readers", c.readers as u64, 1, 256)?;
    range("max_payload_bytes", c.max_payload_bytes as u64, 1024, crate::ledger::MAX_PAYLOAD_BYTES as u64)?;
    range("max_signatures", c.max_signatures as u64, 1, 1024)?;
    range("max_batch", c.max_batch as u64, 1, crate::ledger::MAX_GROUP as u64)?;
    range("queue_depth", c.queue_depth as u64, 1, 1 << 20)?;
    range("max_concurrent_requests", c.max_concurrent_requests as u64, 1, 1 << 20)?;
    range("request_timeout_ms", c.request_timeout_ms, 100, 3_600_000)?;
    range("rate_per_client", u64::from(c.rate_per_client), 0, 1_000_000)?;
    range("max_connections", c.max_connections as u64, 1, 1 << 20)?;
    range("max_streams_per_connection", u64::from(c.max_streams_per_connection), 1, 10_000)?;
    range("request_body_timeout_ms", c.request_body_timeout_ms, 100, 3_600_000)?;
    range("header_read_timeout_ms", c.header_read_timeout_ms, 100, 3_600_000)?;
    if c.rate_burst != 0 && c.rate_per_key == 0 && c.party_rates.is_empty() {
        return Err(Error::invalid("rate_burst", "is set but no rate is (set rate_per_key or party_rates)"));
    }
    for (p, r) in &c.party_rates {
        crate::domain::check_id(&format!("party_rates.{p}"), p)?;
        range(&format!("party_rates.{p}"), u64::from(*r), 1, 1_000_000)?;
    }
    if c.tls_cert.is_some() != c.tls_key.is_some() {
        return Err(Error::invalid("tls_cert", "tls_cert and tls_key go together"));
    }
    for (f, p) in [("tls_cert", &c.tls_cert), ("tls_key", &c.tls_key), ("tls_client_ca", &c.tls_client_ca)] {
        if let Some(p) = p {
            if !p.is_file() {
                return Err(Error::invalid(f, format!("{} is not a readable file", p.display())));
            }
        }
    }
    if c.tls_client_ca.is_some() && c.tls_cert.is_none() {
        return Err(Error::invalid("tls_client_ca", "client certificates need TLS: set tls_cert and tls_key"));
    }
    if c.require_client_cert && c.tls_client_ca.is_none() {
        return Err(Error::invalid("require_client_cert", "needs tls_client_ca (the CA client certificates chain to)"));
    }
    for (i, w) in c.witnesses.iter().enumerate() {
        crate::server::witness::WitnessTarget::parse(w)
            .map_err(|e| Error::invalid(format!("witnesses[{i}]"), e.message))?;
    }
    if c.max_payload_bytes.saturating_mul(c.max_batch) > crate::server::MAX_MESSAGE_BYTES {
        return Err(Error::invalid(
            "max_batch",
            format!(
                "max_batch × max_payload_bytes ({}) exceeds the largest gRPC message ({} bytes)",
                c.max_payload_bytes.saturating_mul(c.max_batch),
                crate::server::MAX_MESSAGE_BYTES
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_flag_then_file_then_default() {
        let file: FileConfig = toml::from_str("listen = \"0.0.0.0:1\"\nreaders = 4\n[party_rates]\nDA = 5\n").unwrap();
        let over = Overrides { readers: Some(16), ..Default::default() };
        let c = resolve(&over, &file).unwrap();
        assert_eq!((c.listen.as_str(), c.readers, c.sync.as_str()), ("0.0.0.0:1", 16, "full"));
        assert_eq!(c.party_rates["DA"], 5);
    }

    /// The defaults the help text states are the defaults [`resolve`] applies: one truth, checked.
    #[test]
    fn stated_defaults_are_the_real_ones() {
        use clap::Args as _;
        let defaults = serde_json::to_value(ServeConfig::default()).unwrap();
        let cmd = FileConfig::augment_args(clap::Command::new("serve"));
        let mut checked = 0;
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let stated = help.rsplit_once("[default: ").and_then(|(_, d)| d.strip_suffix(']'));
            let Some(stated) = stated else { panic!("--{id}: the help states no [default: ...]") };
            let real = &defaults[id];
            match real {
                // Off by default: the text says what that means (off, none, plain text, DATA_DIR/...).
                serde_json::Value::Null => {}
                serde_json::Value::Array(a) if a.is_empty() => {}
                // 0 = a burst of twice the rate.
                _ if id == "rate_burst" => assert_eq!(real, 0),
                serde_json::Value::String(s) => assert_eq!(stated, s, "--{id}"),
                other => assert_eq!(stated, other.to_string(), "--{id}"),
            }
            checked += 1;
        }
        assert!(checked >= 25, "only {checked} settings seen");
    }

    /// One set of defaults: no flags and no environment, or an empty TOML file, resolve to
    /// [`ServeConfig::default`]; and that, handed to the layers, gives exactly their own defaults (which it
    /// is read from), so a mis-wired setting shows here.
    #[test]
    fn clap_toml_and_layer_defaults_agree() {
        use clap::{Args as _, FromArgMatches as _};
        let cmd = FileConfig::augment_args(clap::Command::new("serve").no_binary_name(true));
        let none: [&str; 0] = [];
        let flags = FileConfig::from_arg_matches(&cmd.try_get_matches_from(none).unwrap()).unwrap();
        let file: FileConfig = toml::from_str("").unwrap();
        let d = ServeConfig::default();
        assert_eq!(resolve(&flags, &FileConfig::default()).unwrap(), d, "clap");
        assert_eq!(resolve(&Overrides::default(), &file).unwrap(), d, "toml");
        assert_eq!(format!("{:?}", d.server_settings()), format!("{:?}", crate::server::Settings::default()));
        let (o, want) = (d.ledger_options(), crate::ledger::Options::new("./accord-data"));
        assert_eq!(format!("{:?}", o.limits), format!("{:?}", want.limits));
        assert_eq!(
            (o.readers, o.synchronous_full, &o.data_dir, &o.high_water),
            (want.readers, want.synchronous_full, &want.data_dir, &want.high_water)
        );
    }

    /// The configuration table of docs/OPERATIONS.md states the defaults [`ServeConfig::default`] has.
    #[test]
    fn documented_defaults_are_the_real_ones() {
        let doc = include_str!("../docs/OPERATIONS.md");
        let defaults = serde_json::to_value(ServeConfig::default()).unwrap();
        let mut checked = 0;
        for row in doc.lines().filter(|l| l.starts_with("| `")) {
            // | key (TOML) | flag | environment | default | meaning |
            let cols: Vec<&str> = row.split('|').map(str::trim).collect();
            let (Some(key), Some(stated)) = (cols.get(1), cols.get(4)) else { continue };
            let Some(real) = key.strip_prefix('`').and_then(|k| k.strip_suffix('`')).and_then(|k| defaults.get(k))
            else {
                continue; // another table, or a row for several keys
            };
            // `0` (off) states 0; off, none, 2 × rate are words for an unset value.
            let (Some(stated), false) = (stated.split('`').nth(1), real.is_null()) else { continue };
            match real {
                serde_json::Value::String(r) => assert_eq!(stated, r, "{key}"),
                r => assert_eq!(stated, r.to_string(), "{key}"),
            }
            checked += 1;
        }
        assert!(checked >= 18, "only {checked} documented defaults seen");
    }

    #[test]
    fn bad_settings_are_named() {
        let e = toml::from_str::<FileConfig>("lisen = \"x\"").unwrap_err();
        assert!(e.message().contains("lisen"), "{e}");
        let over = Overrides { readers: Some(0), ..Default::default() };
        assert_eq!(resolve(&over, &FileConfig::default()).unwrap_err().field, "readers");
        let over = Overrides { listen: Some("nowhere".into()), ..Default::default() };
        assert_eq!(resolve(&over, &FileConfig::default()).unwrap_err().field, "listen");
    }
}
