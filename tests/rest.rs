//! The public HTTP port's read-only JSON API (`/api/v1`, docs/openapi.json) and its page cache, on
//! scenario A: every documented path answered by the real server and validated against the OpenAPI file
//! (`scripts/openapi_validate.py`); answers equal the gRPC ones; pages and answers computed once per
//! checkpoint, with an ETag of the root, 304 on If-None-Match, a new answer once the log grows.
mod common;

use std::path::Path;

use common::scenario::{self, Coalition};
use serde_json::{json, Value};

struct Web {
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn web(c: &Coalition) -> Web {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(accord::server::web::serve(listener, c.server.ledger.clone(), async move {
        let _ = rx.await;
    }));
    Web { base, stop, task }
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn get(url: &str, etag: Option<&str>) -> Answer {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let mut req = reqwest::Client::new().get(url);
    if let Some(e) = etag {
        req = req.header("if-none-match", e);
    }
    let r = req.send().await.expect("GET");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    Answer { status, headers, body: r.text().await.unwrap() }
}

fn header<'a>(a: &'a Answer, name: &str) -> &'a str {
    a.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

/// Validate real answers against docs/openapi.json with a JSON Schema validator we did not write.
fn validate_against_openapi(cases: &[Value]) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("cases.json");
    std::fs::write(&file, serde_json::to_vec(&cases).unwrap()).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("python3")
        .arg(root.join("scripts/openapi_validate.py"))
        .arg(root.join("docs/openapi.json"))
        .arg(&file)
        .output()
        .expect("python3 (scripts/test.sh installs jsonschema)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{text}");
    assert!(out.status.success(), "the answers do not match docs/openapi.json:\n{text}");
    assert!(text.contains("5/5 paths"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_api_matches_its_openapi_file_and_the_grpc_answers() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let w = web(&c).await;
    let plan = scenario::PLAN;
    let mut paths: Vec<String> = [
        "/api/v1/parties",
        "/api/v1/parties?withProofs=true&pageSize=2",
        "/api/v1/plans",
        "/api/v1/goals",
        "/api/v1/indicators",
        "/api/v1/conditions",
        "/api/v1/commitments",
        "/api/v1/transactions?pageSize=3",
        "/api/v1/transactions?transaction_type=3&currency=USD",
        "/api/v1/subjects?kind=tranche",
        "/api/v1/pledges/P1",
        "/api/v1/subjects/pledge/P1?withProofs=true",
        "/api/v1/subjects/commitment/BC-GT?currency=EUR",
        // Complete answers (the verifiable index): the proof rides in `completeness`.
        "/api/v1/pledges?partyId=DA&complete=true",
        "/api/v1/subjects/commitment/DA-SV?complete=true",
    ]
    .map(String::from)
    .to_vec();
    paths.push(format!("/api/v1/pledges?planId={plan}&status=partially_disbursed"));
    paths.push(format!("/api/v1/reports/{plan}"));
    paths.push(format!("/api/v1/reports/{plan}?format=csv&hxl=true"));
    // Refusals: each names the parameter and the rule.
    let refusals = [
        ("/api/v1/pledges/NO-SUCH-PLEDGE", 404, "NOT_FOUND"),
        ("/api/v1/plans?bogus=1", 400, "INVALID_ARGUMENT"),
        ("/api/v1/plans?pageSize=many", 400, "INVALID_ARGUMENT"),
        ("/api/v1/plans?planId=a&planId=b", 400, "INVALID_ARGUMENT"),
        ("/api/v1/subjects?kind=nonsense", 400, "INVALID_ARGUMENT"),
        ("/api/v1/nothing-here", 404, "NOT_FOUND"),
        ("/api/v1/reports/NO-SUCH-PLAN", 404, "NOT_FOUND"),
    ];
    let mut cases = Vec::new();
    for p in &paths {
        let a = get(&format!("{}{p}", w.base), None).await;
        assert_eq!(a.status, 200, "{p}: {}", a.body);
        assert_eq!(header(&a, "content-type"), "application/json", "{p}");
        let body: Value = serde_json::from_str(&a.body).unwrap();
        assert!(body["readAt"]["checkpoint"].as_str().is_some_and(|c| !c.is_empty()), "{p}: {body}");
        let headers: serde_json::Map<String, Value> =
            a.headers.iter().map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or("")))).collect();
        assert_eq!(p.contains("complete=true"), body.get("completeness").is_some(), "{p}: {body}");
        cases.push(json!({"path": p, "status": 200, "headers": headers, "body": body}));
    }
    for (p, status, code) in refusals {
        let a = get(&format!("{}{p}", w.base), None).await;
        assert_eq!(a.status, status, "{p}: {}", a.body);
        let body: Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(body["code"], code, "{p}: {body}");
        assert!(!body["message"].as_str().unwrap().is_empty());
        cases.push(json!({"path": p, "status": status, "headers": {}, "body": body}));
    }
    let refused: Value =
        serde_json::from_str(&get(&format!("{}/api/v1/plans?bogus=1", w.base), None).await.body).unwrap();
    assert!(refused["message"].as_str().unwrap().contains("bogus"), "the refusal names the parameter: {refused}");
    // The field as the request wrote it (the JSON mapping's name); the message is the rule alone.
    let over: Value =
        serde_json::from_str(&get(&format!("{}/api/v1/plans?pageSize=5000", w.base), None).await.body).unwrap();
    assert_eq!(over["field"], "pageSize", "{over}");
    assert_eq!(over["message"], "5000 is above the limit of 1000", "{over}");

    validate_against_openapi(&cases);

    // The same answer as gRPC's GetPledge, field for field.
    let req = accord::pb::GetSubjectRequest {
        kind: String::new(),
        id: "P1".into(),
        with_proofs: false,
        ..Default::default()
    };
    let grpc = c.client.coalition().get_pledge(req).await.unwrap().into_inner();
    let grpc: Value =
        serde_json::from_str(&accord::json::message_to_json("accord.v1.GetSubjectResponse", &grpc).unwrap()).unwrap();
    let http: Value = serde_json::from_str(&get(&format!("{}/api/v1/pledges/P1", w.base), None).await.body).unwrap();
    assert_eq!(http, grpc);
    let _ = w.stop.send(());
    w.task.await.unwrap().unwrap();
    c.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_computed_once_per_checkpoint_with_an_etag_of_the_root() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let w = web(&c).await;
    for path in ["/".to_string(), format!("/plan/{}", scenario::PLAN), "/api/v1/plans".to_string()] {
        let url = format!("{}{path}", w.base);
        let first = get(&url, None).await;
        assert_eq!(first.status, 200, "{path}");
        let root = hex::encode(c.server.ledger.latest().root);
        assert_eq!(header(&first, "etag"), format!("\"{root}\""), "{path}");
        assert_eq!(header(&first, "x-accord-cache"), "miss", "{path}");
        assert_eq!(header(&first, "cache-control"), "public, max-age=5", "{path}");
        let second = get(&url, None).await;
        assert_eq!((header(&second, "x-accord-cache"), second.body.as_str()), ("hit", first.body.as_str()), "{path}");
        let revalidated = get(&url, Some(&format!("\"{root}\""))).await;
        assert_eq!((revalidated.status, revalidated.body.as_str()), (304, ""), "{path}");
        assert!(get(&url, Some("\"stale\"")).await.status == 200, "{path}");
    }
    // The log grows: a new root, a new answer.
    let url = format!("{}/plan/{}", w.base, scenario::PLAN);
    let before = get(&url, None).await;
    c.submit(&["R"], "2027-01-15", scenario::fx("EUR", "1.11", "2027-01-15")).await.expect("fx rate");
    let after = get(&url, None).await;
    assert_ne!(header(&after, "etag"), header(&before, "etag"));
    assert_eq!(header(&after, "x-accord-cache"), "miss");
    let _ = w.stop.send(());
    w.task.await.unwrap().unwrap();
    c.server.stop().await;
}

/// Every page offers downloads, each stamped with the checkpoint: the plan's report in six formats (the
/// JSON byte-identical to GetReport's, the CSV views in a ZIP that Python's zipfile reads), and each
/// history entry as a C2SP tlog-proof that `accord verify` accepts offline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_offer_downloads_stamped_with_the_checkpoint() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let w = web(&c).await;
    let plan = scenario::PLAN;
    let size = c.server.ledger.latest().size;
    let root = hex::encode(c.server.ledger.latest().root);
    let page = get(&format!("{}/plan/{plan}", w.base), None).await.body;
    for f in ["report.json", "report.html", "report.md", "report-csv.zip", "iati.xml", "ocds.json"] {
        assert!(page.contains(&format!("/plan/{plan}/{f}")), "the plan page links {f}");
        let a = get(&format!("{}/plan/{plan}/{f}", w.base), None).await;
        assert_eq!(a.status, 200, "{f}: {}", a.body);
        assert_eq!(header(&a, "x-accord-root"), root, "{f}");
        assert!(header(&a, "content-disposition").contains(&format!("{plan}-{size}-{f}")), "{f}");
    }
    let req = accord::pb::GetReportRequest { plan_id: plan.into(), format: "csv".into(), hxl: false };
    let (grpc, _) = c.client.report(req).await.unwrap();
    let json = get(&format!("{}/plan/{plan}/report.json", w.base), None).await.body;
    assert_eq!(json, grpc.canonical_json, "the download is GetReport's canonical JSON");
    // The ZIP, read by Python's zipfile (CRCs checked), holds exactly GetReport's CSV files.
    let zip = reqwest::get(format!("{}/plan/{plan}/report-csv.zip", w.base)).await.unwrap().bytes().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let zpath = tmp.path().join("views.zip");
    std::fs::write(&zpath, &zip).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys, zipfile, json; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(json.dumps({n: z.read(n).decode() for n in z.namelist()}))"])
        .arg(&zpath)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let files: serde_json::Map<String, Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(files.len(), grpc.files.len());
    for f in &grpc.files {
        assert_eq!(files[&f.name], String::from_utf8(f.content.clone()).unwrap(), "{}", f.name);
    }
    // A history entry's tlog-proof, verified offline by the CLI with the log key alone (entry 0, the
    // charter, introduces its own signers' keys).
    let pledge = get(&format!("{}/pledge/P1", w.base), None).await.body;
    assert!(pledge.contains(".tlog-proof"), "the pledge page links its entries' proofs");
    let a = get(&format!("{}/entry/0.tlog-proof", w.base), None).await;
    assert_eq!(a.status, 200);
    assert!(header(&a, "content-disposition").contains(&format!("entry-0-at-{size}.tlog-proof")));
    let bundle = tmp.path().join("entry0.tlog-proof");
    std::fs::write(&bundle, &a.body).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(["verify", "--log-key", &c.server.verifier_key])
        .arg(&bundle)
        .env_remove("ACCORD_LOG_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "accord verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(get(&format!("{}/entry/{size}.tlog-proof", w.base), None).await.status, 404);
    // Plan, party, pledge and commitment pages link to each other, with party names.
    assert!(
        page.contains("href=\"/party/DA\"") && page.contains(">Donor A<"),
        "the plan page names and links pledgers"
    );
    let party = get(&format!("{}/party/BC", w.base), None).await;
    assert_eq!(party.status, 200);
    assert!(
        party.body.contains("href=\"/pledge/P3\"") && party.body.contains("href=\"/commitment/BC-GT\""),
        "{}",
        party.body
    );
    let commitment = get(&format!("{}/commitment/BC-GT", w.base), None).await.body;
    for link in ["/pledge/P3", "/party/BC", "/party/GT", &format!("/plan/{plan}")] {
        assert!(commitment.contains(&format!("href=\"{link}\"")), "the commitment page links {link}");
    }
    assert!(pledge.contains("href=\"/party/DA\""), "the pledge page links its pledger");
    assert_eq!(get(&format!("{}/party/NOBODY", w.base), None).await.status, 404);
    assert_eq!(get(&format!("{}/plan/{plan}/secrets.txt", w.base), None).await.status, 404);
    let _ = w.stop.send(());
    w.task.await.unwrap().unwrap();
    c.server.stop().await;
}
