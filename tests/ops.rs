//! Operating the service through the real binary: configuration precedence and validation, Prometheus
//! metrics, per-key rate limits, and backups taken under load.
// Scenario tests read top to bottom as one story (setup, statements, checks); split, they would scatter it (issue 12).
#![allow(clippy::too_many_lines)]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accord::client::Client;
use accord::crypto;
use accord::error::Kind;
use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_accord");

use common::ChildGuard as Server;

fn serve(dir: &std::path::Path, extra: &[&str]) -> (Server, serde_json::Value) {
    let mut child = Command::new(BIN)
        .args(["--json", "--log", "warn", "serve", "--listen", "127.0.0.1:0", "--origin", ORIGIN])
        .arg("--data-dir")
        .arg(dir)
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (Server(child), serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")))
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn config_precedence_and_validation() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("accord.toml");
    std::fs::write(&cfg, "readers = 4\nlisten = \"127.0.0.1:7000\"\nrate_per_key = 50\n[party_rates]\nXM-SEC = 500\n")
        .unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let out = Command::new(BIN).args(args).envs(env.iter().copied()).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let c = cfg.to_str().unwrap();
    // flag > environment > file > default.
    let (code, out, err) =
        run(&["serve", "--config", c, "--readers", "16", "--print-config"], &[("ACCORD_READERS", "12")]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["readers"], 16);
    assert_eq!(v["listen"], "127.0.0.1:7000");
    assert_eq!(v["sync"], "full");
    assert_eq!(v["rate_per_key"], 50);
    assert_eq!(v["party_rates"]["XM-SEC"], 500);
    let (_, out, _) = run(&["serve", "--config", c, "--print-config"], &[("ACCORD_READERS", "12")]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["readers"], 12);
    // Errors name the setting.
    std::fs::write(&cfg, "readrs = 4\n").unwrap();
    let (code, _, err) = run(&["serve", "--config", c, "--print-config"], &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("readrs"), "{err}");
    let (code, _, err) = run(&["serve", "--listen", "nowhere", "--print-config"], &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("listen") && err.contains("HOST:PORT"), "{err}");
    let (code, _, err) = run(&["serve", "--readers", "0", "--print-config"], &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("readers"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_rate_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let (_server, info) = serve(tmp.path(), &["--metrics", "127.0.0.1:0", "--rate-per-key", "2", "--rate-burst", "3"]);
    let url = format!("http://{}", info["listening"].as_str().unwrap());
    let metrics = info["metrics"].as_str().unwrap().to_string();
    let mut c = Client::connect(&url, None).await.unwrap();
    let sec = Founder::new("XM-SEC", &["secretariat"]);
    let fun = Founder::new("XM-DAC-1", &["funder"]);
    c.submit(charter_envelope(&[&sec, &fun], 1)).await.unwrap();
    // The secretariat's key: burst 3 (the charter used one token), then refused with a retry hint.
    c.submit(crypto::seal(&plan("a"), &[&sec.key])).await.unwrap();
    c.submit(crypto::seal(&plan("b"), &[&sec.key])).await.unwrap();
    let size = c.checkpoint(None).await.unwrap().size;
    let e = c.submit(crypto::seal(&plan("c"), &[&sec.key])).await.unwrap_err();
    assert_eq!(e.kind, Kind::ResourceExhausted, "{e}");
    assert!(e.message.contains("retry in") && e.message.contains("XM-SEC"), "{e}");
    assert_eq!(c.checkpoint(None).await.unwrap().size, size, "a limited submission wrote nothing");
    // Wall time must pass for the running server's bucket to refill (the bucket takes its clock as an
    // argument and is tested in-process in src/server/api/limits.rs): wait exactly what the refusal named.
    tokio::time::sleep(retry_hint(&e.message)).await;
    c.submit(crypto::seal(&plan("c"), &[&sec.key])).await.expect("tokens refill at the rate");
    // A rule violation, for the rejection counter.
    let _ = c.submit(crypto::seal(&plan("a"), &[&fun.key])).await.unwrap_err();

    let m = tokio::task::spawn_blocking(move || http_get(&metrics, "/metrics")).await.unwrap();
    assert!(m.contains("accord_tree_size 4"), "{m}");
    assert!(m.contains("accord_entries_total{kind=\"charter\"} 1"), "{m}");
    assert!(m.contains("accord_entries_total{kind=\"plan.created\"} 3"), "{m}");
    assert!(
        m.contains("accord_rejections_total{method=\"/accord.v1.LedgerService/Submit\",code=\"RESOURCE_EXHAUSTED\"} 1"),
        "{m}"
    );
    // The rule violation, counted under its canonical code (the series of every code start at 0).
    let rule_refusals: u64 = ["ALREADY_EXISTS", "FAILED_PRECONDITION", "PERMISSION_DENIED"]
        .iter()
        .filter_map(|code| {
            sample(
                &m,
                &format!("accord_rejections_total{{method=\"/accord.v1.LedgerService/Submit\",code=\"{code}\"}}"),
            )
        })
        .sum::<f64>() as u64;
    assert_eq!(rule_refusals, 1, "{m}");
    assert!(m.contains("accord_request_seconds_bucket{method=\"/accord.v1.LedgerService/Submit\",le=\"+Inf\"}"), "{m}");
    assert!(m.contains("accord_commit_batch_entries_count 4") && m.contains("accord_checkpoint_age_seconds"), "{m}");
    assert!(m.contains("accord_reader_connections_open"), "{m}");
    check_exposition(exposition(&m)).unwrap_or_else(|e| panic!("{e}\n{m}"));
}

/// The value of the sample whose name and labels are exactly `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The body of an HTTP answer.
fn exposition(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or(answer, |(_, body)| body)
}

/// Check a Prometheus text exposition (format 0.0.4) the way a scraper and `promtool check metrics` read
/// it: every line is a `# HELP`, a `# TYPE` or a sample; every sample belongs to a family announced with
/// HELP and TYPE before it, and each family's samples are together; names and label names are valid,
/// label values properly escaped and values numbers; no series appears twice; counters end in `_total`;
/// histogram buckets are cumulative and end at `+Inf` equal to `_count`.
fn check_exposition(text: &str) -> Result<(), String> {
    use std::collections::{BTreeMap, BTreeSet};
    let valid_name = |n: &str, colon: bool| {
        let mut cs = n.chars();
        cs.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
            && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
    };
    let (mut help, mut types) = (BTreeMap::<String, String>::new(), BTreeMap::<String, String>::new());
    let (mut series, mut done) = (BTreeSet::<String>::new(), BTreeSet::<String>::new());
    let mut current = String::new();
    // Histogram state: the last bucket count of the series being read.
    let mut buckets: BTreeMap<String, (f64, Option<f64>)> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let at = |what: String| format!("line {}: {what}: {line:?}", i + 1);
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, doc) = rest.split_once(' ').ok_or_else(|| at("HELP without text".into()))?;
            if !valid_name(name, true) || doc.trim().is_empty() || help.insert(name.into(), doc.into()).is_some() {
                return Err(at("bad or repeated HELP".into()));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or_else(|| at("TYPE without type".into()))?;
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(at(format!("unknown type {kind}")));
            }
            if !help.contains_key(name) {
                return Err(at("TYPE before HELP".into()));
            }
            if types.insert(name.into(), kind.into()).is_some() {
                return Err(at("repeated TYPE".into()));
            }
            if kind == "counter" && !name.ends_with("_total") {
                return Err(at("a counter's name must end in _total".into()));
            }
            if kind != "counter" && name.ends_with("_total") {
                return Err(at("only counters end in _total".into()));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        // name{labels} value [timestamp]
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
        let name = &line[..name_end];
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            let close = loop {
                let Some((s, c)) = chars.next() else { return Err(at("unclosed labels".into())) };
                if c == '}' {
                    break s;
                }
                let eq = body[s..].find('=').ok_or_else(|| at("label without =".into()))? + s;
                let lname = &body[s..eq];
                if !valid_name(lname, false) {
                    return Err(at(format!("bad label name {lname:?}")));
                }
                while chars.peek().is_some_and(|(p, _)| *p <= eq) {
                    chars.next();
                }
                if chars.next().map(|(_, c)| c) != Some('"') {
                    return Err(at("label value not quoted".into()));
                }
                let mut value = String::new();
                loop {
                    match chars.next().map(|(_, c)| c) {
                        Some('"') => break,
                        Some('\\') => match chars.next().map(|(_, c)| c) {
                            Some('\\') => value.push('\\'),
                            Some('"') => value.push('"'),
                            Some('n') => value.push('\n'),
                            _ => return Err(at("bad escape in a label value".into())),
                        },
                        Some(c) => value.push(c),
                        None => return Err(at("unterminated label value".into())),
                    }
                }
                if labels.insert(lname.to_string(), value).is_some() {
                    return Err(at(format!("label {lname} twice")));
                }
                if chars.peek().map(|(_, c)| *c) == Some(',') {
                    chars.next();
                }
            };
            rest = &body[close + 1..];
        }
        let mut parts = rest.split(' ');
        if parts.next() != Some("") {
            return Err(at("no space before the value".into()));
        }
        let value = parts.next().ok_or_else(|| at("no value".into()))?;
        let v: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().map_err(|_| at(format!("value {v:?} is not a number")))?,
        };
        if let Some(ts) = parts.next() {
            ts.parse::<i64>().map_err(|_| at("bad timestamp".into()))?;
        }
        if parts.next().is_some() || !valid_name(name, true) {
            return Err(at("bad sample".into()));
        }
        // The family: the name itself, or a histogram's or summary's _bucket/_sum/_count.
        let family = if types.contains_key(name) {
            name.to_string()
        } else {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s).filter(|b| types.get(*b).is_some_and(|t| t == "histogram" || t == "summary"))
                })
                .ok_or_else(|| at("sample of a family without TYPE".into()))?
                .to_string()
        };
        if !help.contains_key(&family) {
            return Err(at("sample of a family without HELP".into()));
        }
        if family != current {
            if !done.insert(current.clone()) || done.contains(&family) {
                return Err(at(format!("samples of {family} are not together")));
            }
            current = family.clone();
        }
        let mut key_labels = labels.clone();
        let le = key_labels.remove("le");
        let key = format!("{name}{key_labels:?}{le:?}");
        if !series.insert(key) {
            return Err(at("duplicate series".into()));
        }
        if types[&family] == "histogram" {
            let id = format!("{family}{key_labels:?}");
            let state = buckets.entry(id).or_insert((0.0, None));
            if name.ends_with("_bucket") {
                let le = le.ok_or_else(|| at("bucket without le".into()))?;
                if v < state.0 {
                    return Err(at("buckets are not cumulative".into()));
                }
                state.0 = v;
                if le == "+Inf" {
                    state.1 = Some(v);
                }
            } else if name.ends_with("_count") && state.1 != Some(v) {
                return Err(at("_count differs from the +Inf bucket (or no +Inf bucket)".into()));
            }
        }
    }
    Ok(())
}

/// Every family has HELP and TYPE and the known series exist before anything happened (pre-initialised):
/// a request counter per served method, an entry counter per statement kind, the rejection codes of
/// Submit, a failure counter per witness reason; `accord_build_info` and the process metrics are there;
/// status codes are labelled in canonical form. A witness that cannot be reached is logged at warn and
/// counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_valid_preinitialised_and_count_witness_failures() {
    let tmp = tempfile::tempdir().unwrap();
    // A witness address nothing listens on.
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let witness = accord::crypto::cosign::Cosigner::new("gone.example/w", crypto::generate_key());
    let witness_url = format!("http://{gone}");
    let mut child = Command::new(BIN)
        .args(["--json", "--log", "warn", "serve", "--listen", "127.0.0.1:0", "--origin", ORIGIN])
        .args(["--metrics", "127.0.0.1:0", "--witness", &format!("{witness_url}={}", witness.verifier_key())])
        .arg("--data-dir")
        .arg(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let stderr = child.stderr.take().unwrap();
    let _server = Server(child);
    let info: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let metrics = info["metrics"].as_str().unwrap().to_string();
    let get = || {
        let metrics = metrics.clone();
        async move {
            let answer = tokio::task::spawn_blocking(move || http_get(&metrics, "/metrics")).await.unwrap();
            exposition(&answer).to_string()
        }
    };
    let m = get().await;
    check_exposition(&m).unwrap_or_else(|e| panic!("{e}\n{m}"));
    for series in [
        "accord_requests_total{method=\"/accord.v1.LedgerService/Submit\",code=\"OK\"} 0",
        "accord_requests_total{method=\"/accord.v1.CoalitionService/ListPlans\",code=\"OK\"} 0",
        "accord_rejections_total{method=\"/accord.v1.LedgerService/Submit\",code=\"INVALID_ARGUMENT\"} 0",
        "accord_entries_total{kind=\"pledge.announced\"} 0",
        "accord_entries_total{kind=\"fx_rate.recorded\"} 0",
        "accord_connections_refused_total{port=\"grpc\"} 0",
        "accord_cosignature_store_failures_total 0",
        "accord_commit_seconds_count 0",
        &format!("accord_build_info{{version=\"{}\",rustc=\"rustc ", env!("CARGO_PKG_VERSION")),
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "process_start_time_seconds ",
    ] {
        assert!(m.contains(series), "{series} missing:\n{m}");
    }
    let started = sample(&m, "process_start_time_seconds").unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((now - started).abs() < 120.0, "process start {started} vs now {now}");
    assert!(sample(&m, "process_resident_memory_bytes").unwrap() > 1e6);
    // Requests are counted under canonical codes: one OK, one NOT_FOUND.
    let mut c = Client::connect(&format!("http://{}", info["listening"].as_str().unwrap()), None).await.unwrap();
    c.checkpoint(None).await.unwrap();
    assert_eq!(c.checkpoint(Some(99)).await.unwrap_err().kind, Kind::NotFound);
    let failures = format!("accord_witness_failures_total{{witness=\"{witness_url}\",reason=\"unreachable\"}}");
    let m = wait_until("a witness failure counted", Duration::from_secs(20), async || {
        let m = get().await;
        (sample(&m, &failures)? >= 1.0).then_some(m)
    })
    .await;
    check_exposition(&m).unwrap_or_else(|e| panic!("{e}\n{m}"));
    let cp = "accord_requests_total{method=\"/accord.v1.LedgerService/GetCheckpoint\",code=";
    assert_eq!(sample(&m, &format!("{cp}\"OK\"}}")), Some(1.0), "{m}");
    assert_eq!(sample(&m, &format!("{cp}\"NOT_FOUND\"}}")), Some(1.0), "{m}");
    assert!(!m.contains("code=\"Ok\"") && !m.contains("code=\"NotFound\""), "{m}");
    assert!(
        m.contains(&format!("accord_witness_failures_total{{witness=\"{witness_url}\",reason=\"refused\"}} 0")),
        "{m}"
    );
    // ... and logged at warn (the server runs with --log warn).
    drop(_server);
    let mut log = String::new();
    BufReader::new(stderr).read_to_string(&mut log).unwrap();
    assert!(
        log.lines().any(|l| l.contains("WARN") && l.contains("witness unreachable") && l.contains(&witness_url)),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_under_load_has_everything_acknowledged_before_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (_server, info) = serve(&data, &[]);
    let url = format!("http://{}", info["listening"].as_str().unwrap());
    let mut c = Client::connect(&url, None).await.unwrap();
    let sec = Founder::new("XM-SEC", &["secretariat"]);
    let fun = Founder::new("XM-DAC-1", &["funder"]);
    c.submit(charter_envelope(&[&sec, &fun], 1)).await.unwrap();
    let acked: Arc<Mutex<Vec<u64>>> = Arc::default();
    // How many receipts the writers hold, announced after each one: the backup starts once 300 are in.
    let (count_tx, mut count_rx) = tokio::sync::watch::channel(0usize);
    let count_tx = Arc::new(count_tx);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..4 {
        let (url, key, acked, stop, count_tx) =
            (url.clone(), sec.key.clone(), acked.clone(), stop.clone(), count_tx.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(&url, None).await.unwrap();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = c.submit(crypto::seal(&plan(&format!("w{w}-{i}")), &[&key])).await.unwrap();
                let n = {
                    let mut a = acked.lock().unwrap();
                    a.push(r.receipt.index);
                    a.len()
                };
                count_tx.send_replace(n);
                i += 1;
            }
        }));
    }
    tokio::time::timeout(Duration::from_secs(60), count_rx.wait_for(|n| *n >= 300))
        .await
        .expect("300 submissions acknowledged within 60 s")
        .expect("the writers run");
    let before: Vec<u64> = acked.lock().unwrap().clone();
    let out_dir = tmp.path().join("backup");
    let (d, o) = (data.clone(), out_dir.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN).args(["--json", "backup", "--data-dir"]).arg(&d).arg("--out").arg(&o).output().unwrap()
    })
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let size = m["tree_size"].as_u64().unwrap();
    assert!(before.iter().all(|i| *i < size), "an entry acknowledged before the backup is missing");
    assert!(acked.lock().unwrap().len() > before.len(), "the server kept serving during the backup");
    // The copy is a complete ledger: it opens, its last checkpoint covers its entries, the projections
    // rebuild from its log, and its key file is private.
    let r = accord::store::open_read_only(&out_dir.join(accord::ledger::DB_FILE)).unwrap();
    assert_eq!(r.latest_checkpoint().unwrap().unwrap().size, size);
    assert!(r.entry_by_index(size).unwrap().is_none());
    drop(r);
    assert_eq!(accord::ledger::rebuild(&out_dir, |_, _| {}).unwrap().entries, size);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out_dir.join(accord::ledger::KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "log.key must not be readable by others");
    }
    // Restore: the copy is audited, then installed; a server starts on it with the same size and root.
    let restored = tmp.path().join("restored");
    let out = Command::new(BIN)
        .args(["--json", "restore", "--from"])
        .arg(&out_dir)
        .arg("--data-dir")
        .arg(&restored)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["entries"].as_u64().unwrap(), size);
    let (_s2, info2) = serve(&restored, &[]);
    let mut c2 = Client::connect(&format!("http://{}", info2["listening"].as_str().unwrap()), None).await.unwrap();
    assert_eq!(c2.checkpoint(None).await.unwrap().size, size);
    // A tampered backup is refused and nothing is installed.
    let db = out_dir.join(accord::ledger::DB_FILE);
    accord::store::raw_execute(&db, "DROP TRIGGER entries_no_update").unwrap();
    accord::store::raw_execute(
        &db,
        "UPDATE entries SET leaf = unhex(substr(hex(leaf), 1, 80) || 'EE' || substr(hex(leaf), 83)) WHERE idx = 5",
    )
    .unwrap();
    let bad_target = tmp.path().join("refused");
    let out = Command::new(BIN)
        .args(["restore", "--from"])
        .arg(&out_dir)
        .arg("--data-dir")
        .arg(&bad_target)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!bad_target.join(accord::ledger::DB_FILE).exists());
}

/// The load generator's soak works end to end (the real 10-minute soak is run by hand; see docs/OPERATIONS.md).
#[test]
fn soak_command_reports_windows() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_accord-bench"))
        .args(["--json", "--soak", "2", "--soak-window", "1", "--rate", "50", "--accord", BIN, "--data-dir"])
        .arg(tmp.path().join("d"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["errors"], 0);
    assert_eq!(v["windows"].as_array().unwrap().len(), 2);
    assert!(v["windows"][0]["achieved_per_s"].as_f64().unwrap() > 30.0, "{v}");
}

/// One signal stops the whole process in the drain order: with the gRPC, public-page and metrics ports
/// open, one SIGTERM is handled once (one shutdown token, not one signal handler per listener), every port
/// closes, the ledger closes once, and a clean stop logs no error.
#[test]
fn one_sigterm_stops_every_port_once_and_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["--json", "--log", "info", "serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .args(["--metrics", "127.0.0.1:0", "--origin", "stop.example/ledger", "--data-dir"])
        .arg(tmp.path().join("d"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let ports: Vec<String> =
        ["listening", "http", "metrics"].iter().map(|k| v[k].as_str().unwrap().to_string()).collect();
    for p in &ports {
        assert!(std::net::TcpStream::connect(p).is_ok(), "{p} is not open");
    }
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(child.wait().unwrap().success(), "{stderr}");
    assert_eq!(stderr.matches("shutdown requested").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("server stopped").count(), 1, "{stderr}");
    assert!(!stderr.contains("ERROR"), "a clean stop logged an error:\n{stderr}");
    for p in &ports {
        assert!(std::net::TcpStream::connect(p).is_err(), "{p} is still open");
    }
}

/// A client following the entry stream does not hold the shutdown open: the stream's task holds a child of
/// the shutdown token, so SIGTERM ends the stream with UNAVAILABLE and the process drains and exits cleanly
/// at once, not after the grace period (nor never, as when the stream kept its connection open).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_a_followed_entry_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["--json", "--log", "info", "serve", "--listen", "127.0.0.1:0", "--origin", ORIGIN, "--data-dir"])
        .arg(tmp.path().join("d"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let url = format!("http://{}", v["listening"].as_str().unwrap());
    let mut raw = accord::pb::ledger_service_client::LedgerServiceClient::connect(url).await.unwrap();
    let req = accord::pb::StreamEntriesRequest { start_index: 0, end_index: 0, follow: true };
    let mut stream = raw.stream_entries(req).await.unwrap().into_inner();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let end = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("the followed stream was still open 10 s after SIGTERM");
    match end {
        Err(s) => assert_eq!(s.code(), tonic::Code::Unavailable, "{s:?}"),
        Ok(m) => panic!("the stream ended without saying why: {m:?}"),
    }
    let exited = tokio::task::spawn_blocking(move || {
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        (child.wait().unwrap(), stderr)
    });
    let (status, stderr) = tokio::time::timeout(Duration::from_secs(10), exited)
        .await
        .expect("the server did not stop within 10 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "{stderr}");
    assert_eq!(stderr.matches("server stopped").count(), 1, "{stderr}");
    assert!(!stderr.contains("ERROR") && !stderr.contains("grace"), "an unclean stop:\n{stderr}");
}

/// The checkpoint age in /metrics is measured on the ledger's integration clock, the clock that dates the
/// checkpoints, not on the host's wall clock: a ledger whose clock runs at 2020-01-01 reports an age of
/// seconds, where reading the wall clock would have made it six years.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_age_is_measured_on_the_ledger_clock() {
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = accord::ledger::Options::new(tmp.path());
    opts.origin = Some(ORIGIN.to_string());
    opts.clock = accord::ledger::Clock::starting_at(1_577_836_800_000); // 2020-01-01
    let ledger =
        Arc::new(tokio::task::spawn_blocking(move || accord::ledger::Ledger::open(opts)).await.unwrap().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move { axum::serve(listener, accord::server::web::metrics_router(ledger)).await });
    let m = tokio::task::spawn_blocking(move || http_get(&addr, "/metrics")).await.unwrap();
    let age: f64 = m
        .lines()
        .find_map(|l| l.strip_prefix("accord_checkpoint_age_seconds "))
        .unwrap_or_else(|| panic!("no checkpoint age in {m}"))
        .trim()
        .parse()
        .unwrap();
    assert!((0.0..60.0).contains(&age), "checkpoint age {age} s on a ledger opened just now:\n{m}");
    server.abort();
}

/// The exposition check refuses what a scraper or `promtool check metrics` would flag.
#[test]
fn the_exposition_check_refuses_bad_text() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 0\n";
    check_exposition(good).unwrap();
    for (bad, why) in [
        ("# TYPE a_total counter\na_total 0\n", "no HELP"),
        ("# HELP a_total A.\na_total 0\n", "no TYPE"),
        ("# HELP a A.\n# TYPE a counter\na 0\n", "counter without _total"),
        ("# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 0\na_total{x=\"1\"} 1\n", "duplicate"),
        ("# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1} 0\n", "unterminated"),
        ("# HELP a_total A.\n# TYPE a_total counter\na_total one\n", "not a number"),
        (
            "# HELP h_seconds H.\n# TYPE h_seconds histogram\nh_seconds_bucket{le=\"1\"} 2\nh_seconds_bucket{le=\"+Inf\"} 1\nh_seconds_count 1\n",
            "not cumulative",
        ),
        (
            "# HELP a_total A.\n# TYPE a_total counter\n# HELP b B.\n# TYPE b gauge\na_total 1\nb 1\na_total{x=\"2\"} 1\n",
            "family split",
        ),
    ] {
        assert!(check_exposition(bad).is_err(), "{why} accepted: {bad}");
    }
}
