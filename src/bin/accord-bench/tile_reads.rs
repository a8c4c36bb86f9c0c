//! `--tiles`: issue 16's benchmarks, each between same-run baselines.
//!
//! 1. GetInclusionProof (the reference: what a proof costs the ledger when it computes it).
//! 2. Proof reads from the ledger's own HTTP port: the tiles a reader fetches to prove one entry itself
//!    (the ones `tlog_tiles`' TileHashReader asks for, the entry bundle, the checkpoint), 64 in flight.
//! 3. The same proof reads through a caching nginx in front of the port (when `nginx` is installed):
//!    the ledger's CPU per proof read, against its CPU per GetInclusionProof (target ≤ 0.1 ×).
//! 4. Tiles served from a static directory (`accord tiles export`) by nginx.
//! 5. Mirror catch-up: `accord mirror --once` from the port, entries verified per second, against the
//!    2-thread verify_strict baseline.
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use serde_json::{json, Value};

use accord_tlog::tiles::{Proven, TileCache, TilePath};

use crate::phase::{Against, Ctx, Figure};

/// The paths one proof read fetches, for `samples` indexes spread over the tree.
fn proof_reads(size: u64, samples: u64) -> Vec<Vec<String>> {
    let root = [0u8; 32]; // the paths do not depend on the root
    (0..samples)
        .map(|i| {
            let index = (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) % size.max(1);
            let mut paths = vec!["checkpoint".to_string()];
            if let Ok(Proven::Need(tiles)) = TileCache::default().inclusion_proof(size, &root, index, &[0; 32]) {
                paths.extend(tiles.iter().map(TilePath::path));
            }
            let bundle = index / 256;
            let width = (size - bundle * 256).min(256) as u16;
            paths.push(TilePath::Entries { index: bundle, width }.path());
            paths
        })
        .collect()
}

/// GET every path of `reads` (one read after another per connection, `conns` connections), over and over
/// until `until`; the number of proof reads completed and of requests made.
async fn read_load(addr: &str, reads: Arc<Vec<Vec<String>>>, conns: usize, until: Instant) -> Result<(u64, u64)> {
    let mut tasks = Vec::new();
    for c in 0..conns {
        let (addr, reads) = (addr.to_string(), reads.clone());
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(&addr).await?;
            stream.set_nodelay(true)?;
            let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            let (mut done, mut requests) = (0u64, 0u64);
            let mut i = c;
            while Instant::now() < until {
                for p in &reads[i % reads.len()] {
                    let req = http::Request::get(format!("/{p}")).header("host", &addr).body(Empty::<Bytes>::new())?;
                    let res = send.send_request(req).await?;
                    let status = res.status();
                    let body = res.into_body().collect().await?.to_bytes();
                    if !status.is_success() {
                        bail!("GET /{p}: {status}: {}", String::from_utf8_lossy(&body));
                    }
                    requests += 1;
                }
                done += 1;
                i += conns;
            }
            anyhow::Ok((done, requests))
        }));
    }
    let (mut done, mut requests) = (0, 0);
    for t in tasks {
        let (d, r) = t.await??;
        done += d;
        requests += r;
    }
    Ok((done, requests))
}

/// nginx, started on a config of ours in `dir`, until dropped.
struct Nginx {
    child: tokio::process::Child,
    addr: String,
}

impl Nginx {
    async fn start(dir: &Path, http_extra: &str, server_block: &str) -> Result<Self> {
        std::fs::create_dir_all(dir.join("logs"))?;
        let port = free_port()?;
        let conf = format!(
            "worker_processes 1;\nerror_log {d}/logs/error.log warn;\npid {d}/nginx.pid;\nevents {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;\n  \
             uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n  keepalive_requests 1000000;\n  {http_extra}\n  \
             server {{\n    listen 127.0.0.1:{port};\n{server_block}\n  }}\n}}\n",
            d = dir.display()
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf)?;
        let child = tokio::process::Command::new("nginx")
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&path)
            .args(["-g", "daemon off;"])
            .kill_on_drop(true)
            .spawn()
            .context("starting nginx")?;
        let addr = format!("127.0.0.1:{port}");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return Ok(Self { child, addr });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        bail!("nginx did not start (see {}/logs/error.log)", dir.display())
    }
}

impl Drop for Nginx {
    /// SIGTERM to the master, which stops its workers (a SIGKILL would orphan them).
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        }
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn has_nginx() -> bool {
    std::process::Command::new("nginx").arg("-v").output().is_ok_and(|o| o.status.success())
}

/// One measured proof-read run against `addr`.
async fn measure_reads(
    ctx: &Ctx,
    name: String,
    addr: &str,
    reads: &Arc<Vec<Vec<String>>>,
    secs: f64,
) -> Result<Figure> {
    let work = async {
        let until = Instant::now() + Duration::from_secs_f64(secs);
        let (done, requests) = read_load(addr, reads.clone(), 64, until).await?;
        Ok((
            done,
            json!({"requests": requests, "tiles_per_proof_read": requests as f64 / done.max(1) as f64, "connections": 64}),
        ))
    };
    ctx.measured(name, Against::GetLogInfo, true, work).await
}

/// The tiles figures; `http` is the ledger's public port, `size` its tree size.
pub(crate) async fn figures(
    ctx: &Ctx,
    exe: &Path,
    data_dir: &Path,
    http: &str,
    size: u64,
    work_dir: &Path,
    secs: f64,
) -> Result<(Vec<(&'static str, Figure)>, Value)> {
    let reads = Arc::new(proof_reads(size, 4096));
    let mut figures = Vec::new();
    let port = measure_reads(ctx, format!("proof reads from the port on {size}"), http, &reads, secs).await?;
    figures.push(("tiles_port", port));
    let mut notes = json!({});
    if has_nginx() {
        let cache_dir = work_dir.join("nginx-cache");
        let block = format!(
            "    location / {{\n      proxy_pass http://{http};\n      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n      \
             proxy_cache tiles;\n      proxy_cache_lock on;\n    }}"
        );
        let nginx_dir = work_dir.join("nginx-proxy");
        std::fs::create_dir_all(&nginx_dir)?;
        let cache = format!(
            "proxy_cache_path {} levels=1:2 keys_zone=tiles:64m max_size=4g inactive=1d use_temp_path=off;",
            cache_dir.display()
        );
        let proxy = Nginx::start(&nginx_dir, &cache, &block).await?;
        // Warm the cache (every tile the reads use), then measure from it.
        let warm = Instant::now() + Duration::from_secs_f64(secs.max(2.0));
        read_load(&proxy.addr, reads.clone(), 64, warm).await?;
        let cached =
            measure_reads(ctx, format!("proof reads through nginx's cache on {size}"), &proxy.addr, &reads, secs)
                .await?;
        figures.push(("tiles_cached", cached));
        drop(proxy);
        // A static directory: exported, then served by nginx as files.
        let static_dir = work_dir.join("static");
        let t = Instant::now();
        let out = tokio::process::Command::new(exe)
            .args(["--json", "tiles", "export"])
            .arg(&static_dir)
            .arg("--data-dir")
            .arg(data_dir)
            .output()
            .await?;
        if !out.status.success() {
            bail!("accord tiles export: {}", String::from_utf8_lossy(&out.stderr));
        }
        notes["tiles_export_seconds"] = json!((t.elapsed().as_secs_f64() * 10.0).round() / 10.0);
        let block = format!("    root {};\n    location / {{ try_files $uri =404; }}", static_dir.display());
        let nginx_dir = work_dir.join("nginx-static");
        std::fs::create_dir_all(&nginx_dir)?;
        let files = Nginx::start(&nginx_dir, "", &block).await?;
        let name = format!("proof reads from a static directory (nginx) on {size}");
        figures.push(("tiles_static", measure_reads(ctx, name, &files.addr, &reads, secs).await?));
    } else {
        notes["nginx"] = "not installed: the cache and static-directory figures were skipped".into();
    }
    // Mirror catch-up, against verify_strict.
    let mirror_dir = work_dir.join("mirror");
    let log_key = ledger_key(data_dir)?;
    let work = async {
        let out = tokio::process::Command::new(exe)
            .args(["--json", "mirror", "--once", "--from", &format!("http://{http}"), "--log-key", &log_key])
            .arg("--dir")
            .arg(&mirror_dir)
            .output()
            .await?;
        if !out.status.success() {
            bail!("accord mirror: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        }
        Ok((size, json!({"note": "the mirror is a child process: its CPU counts as other"})))
    };
    figures.push((
        "mirror_catch_up",
        ctx.measured(format!("mirror catch-up of {size}"), Against::VerifyStrict, true, work).await?,
    ));
    Ok((figures, notes))
}

/// The ledger's verifier key, from its data directory's log key file.
fn ledger_key(data_dir: &Path) -> Result<String> {
    let text = std::fs::read_to_string(data_dir.join("log.key")).context("reading the ledger's log.key")?;
    let (name, key) = accord::crypto::parse_private_key(&text)?;
    Ok(accord::crypto::verifier_key_string(&name, &key.verifying_key()))
}
