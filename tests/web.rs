//! The public transparency page end to end in headless Chromium: a server holding scenario A, the pages
//! loaded by a real browser, the figures shown asserted, and a screenshot saved.
mod common;

use std::process::Command;

use common::scenario::{self, Coalition};

fn chromium() -> &'static str {
    for c in ["chromium", "chromium-browser"] {
        if Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return c;
        }
    }
    panic!("headless Chromium is required for this test: run scripts/test.sh (it installs Debian's chromium)");
}

/// The DOM after Chromium loaded and rendered the page.
fn dom(url: &str) -> String {
    let out = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--dump-dom", url])
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_page_in_headless_chromium() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let ledger = c.server.ledger.clone();
    tokio::spawn(accord::server::web::serve(listener, ledger, std::future::pending()));
    let size = c.client.checkpoint(None).await.unwrap().size;

    let page = |path: &str| {
        let url = format!("{base}{path}");
        tokio::task::spawn_blocking(move || dom(&url))
    };
    let overview = page("/").await.unwrap();
    assert!(overview.contains("Four-year Central America plan"), "{overview}");
    assert!(overview.contains("630,200,000.00 USD") && overview.contains("170,075,000.00 USD"), "{overview}");
    assert!(overview.contains("Assessor X") && overview.contains(&format!("tree size <b>{size}</b>")));

    let plan = page(&format!("/plan/{}", scenario::PLAN)).await.unwrap();
    for fig in [
        "130,200,000.00",
        "32,400,000.00",
        "30,075,000.00",
        "24.9%",
        "92.8%",
        "67.4%",
        "120,000,000.00",
        "91.7%",
        "12,731,250.00",
        "102.1%",
        "not_met, unverified",
        "2,500,000.00 EUR",
        "withheld",
        "100,000,000.00 USD",
        "pending",
    ] {
        assert!(plan.contains(fig), "the plan page does not show {fig}");
    }
    assert!(plan.contains("<svg") && plan.contains("href=\"/pledge/P1\""));

    let p1 = page("/pledge/P1").await.unwrap();
    assert!(
        p1.contains("partially_disbursed") && p1.contains("120,000,000.00 EUR") && p1.contains("27,500,000.00"),
        "{p1}"
    );
    assert!(p1.contains("commitment.signed") && p1.contains("transaction.recorded"), "{p1}");

    let cp = page("/checkpoint.html").await.unwrap();
    assert!(cp.contains(&c.server.verifier_key) && cp.contains("accord report verify"), "{cp}");
    let missing = page("/pledge/NOPE").await.unwrap();
    assert!(missing.contains("404"), "{missing}");

    // A screenshot of the plan's report, for people to look at.
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join("plan-report.png");
    let url = format!("{base}/plan/{}", scenario::PLAN);
    let png2 = png.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--window-size=1100,2400",
            ])
            .arg(format!("--screenshot={}", png2.display()))
            .arg(url)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000, "screenshot at {}", png.display());
    eprintln!("screenshot: {}", png.display());
}
