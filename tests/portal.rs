//! The public portal in headless Chromium, driven by playwright-core (tests/browser/portal.mjs): every page
//! of scenario A at 390 px (a phone) and 1280 px, screenshots kept under the target directory, no
//! horizontal overflow at 390 px (`document.documentElement.scrollWidth ≤ viewport`), no text under 10 px,
//! `lang` set, and no violation of axe-core's WCAG 2 A/AA rules.
//!
//! Needs Node.js, Debian's chromium and `npm install` in tests/browser (scripts/test.sh does all three);
//! it fails, never skips, when they are missing.
mod common;

use std::path::Path;

use common::scenario::{self, Coalition};
use serde_json::Value;

const HINT: &str = "run scripts/test.sh (it installs chromium, Node.js and tests/browser's npm packages)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_reads_well_on_a_phone_and_passes_axe() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir() && browser_dir.join("node_modules/axe-core").is_dir(),
        "tests/browser/node_modules is missing: {HINT}"
    );
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let web = tokio::spawn(accord::server::web::serve(listener, c.server.ledger.clone(), async move {
        let _ = rx.await;
    }));
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("portal-screenshots");
    std::fs::create_dir_all(&out_dir).unwrap();
    let paths = [
        "/".to_string(),
        format!("/plan/{}", scenario::PLAN),
        "/pledge/P1".into(),
        "/party/DA".into(),
        "/commitment/BC-GT".into(),
        "/checkpoint.html".into(),
    ];
    let out = tokio::process::Command::new("node")
        .arg(browser_dir.join("portal.mjs"))
        .arg(&base)
        .arg(&out_dir)
        .args(&paths)
        .output()
        .await
        .unwrap_or_else(|e| panic!("node: {e}; {HINT}"));
    assert!(
        out.status.success(),
        "portal.mjs failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).expect("portal.mjs prints JSON");
    assert_eq!(results.len(), paths.len() * 2);
    let mut problems = Vec::new();
    for r in &results {
        let at = format!("{} at {} px", r["path"].as_str().unwrap(), r["width"]);
        if r["status"] != 200 {
            problems.push(format!("{at}: HTTP {}", r["status"]));
        }
        if r["scrollWidth"].as_u64() > r["innerWidth"].as_u64() {
            problems.push(format!("{at}: scrollWidth {} > viewport {}", r["scrollWidth"], r["innerWidth"]));
        }
        if r["smallestFontPx"].as_f64().unwrap_or(0.0) < 10.0 {
            problems.push(format!(
                "{at}: text at {:.1} px ({})",
                r["smallestFontPx"].as_f64().unwrap_or(0.0),
                r["smallestText"]
            ));
        }
        if r["lang"] != "en" {
            problems.push(format!("{at}: <html lang> is {}", r["lang"]));
        }
        for v in r["axe"].as_array().unwrap() {
            problems.push(format!("{at}: axe {} ({}): {} at {}", v["id"], v["impact"], v["help"], v["nodes"]));
        }
    }
    println!("screenshots in {}", out_dir.display());
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
    let _ = stop.send(());
    web.await.unwrap().unwrap();
    c.server.stop().await;
}
