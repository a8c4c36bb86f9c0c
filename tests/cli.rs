//! The README walk-through through the real `accord` binary: two founders sign a charter separately,
//! the signatures are combined, the secretariat submits a statement, and anyone verifies it offline.
//! Exit codes are part of the contract.
// Scenario tests read top to bottom as one story (setup, statements, checks); split, they would scatter it (issue 12).
#![allow(clippy::too_many_lines)]
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_accord");
const ORIGIN: &str = "cli.accord.example/ledger";

fn accord(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN).current_dir(dir).args(args).output().expect("run accord")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = accord(dir, args);
    assert!(
        out.status.success(),
        "accord {args:?} failed ({:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path) -> (Server, String, String) {
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .args([
            "--json",
            "--log",
            "warn",
            "serve",
            "--data-dir",
            "ledger",
            "--listen",
            "127.0.0.1:0",
            "--origin",
            ORIGIN,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let url = format!("http://{}", v["listening"].as_str().unwrap());
    let vkey = v["verifier_key"].as_str().unwrap().to_string();
    (Server(child), url, vkey)
}

#[test]
fn readme_walkthrough() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (_server, url, vkey) = serve(d);
    let s = ["--server", url.as_str(), "--log-key", vkey.as_str()];

    ok(d, &["key", "generate", "--name", "GT-GOV-1", "--out", "guatemala"]);
    let undp: serde_json::Value =
        serde_json::from_str(&ok(d, &["--json", "key", "generate", "--name", "XM-DAC-41114", "--out", "undp"]))
            .unwrap();
    assert_eq!(undp["keyid"].as_str().unwrap().len(), 64);
    ok(
        d,
        &[
            "charter",
            "propose",
            "--origin",
            ORIGIN,
            "--name",
            "Central America Compact",
            "--k",
            "2",
            "--founder",
            "GT-GOV-1;Government of Guatemala;partner_government;guatemala.pub;10;GT",
            "--founder",
            "XM-DAC-41114;UNDP;implementer,secretariat;undp.pub;40",
            "-o",
            "charter.json",
        ],
    );
    ok(d, &["charter", "sign", "--key", "guatemala.key", "charter.json", "-o", "charter.gt.json"]);
    ok(d, &["charter", "sign", "--key", "undp.key", "charter.json", "-o", "charter.undp.json"]);

    // One founder's signature alone is rejected with the rule named, exit 1, nothing written.
    let out = accord(d, &[&["submit"], &s[..], &["charter.gt.json"]].concat());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has not signed the charter"));

    ok(d, &["charter", "combine", "charter.gt.json", "charter.undp.json", "-o", "charter.env.json"]);
    let receipt: serde_json::Value =
        serde_json::from_str(&ok(d, &[&["--json"], &["submit"], &s[..], &["charter.env.json"]].concat())).unwrap();
    assert_eq!(receipt["receipts"][0]["index"], 0);
    assert!(d.join("charter.env.tlog-proof").exists());

    std::fs::write(
        d.join("plan.json"),
        format!(
            r#"{{ "ledger": "{ORIGIN}", "statementId": "plan-2026", "issuedAt": "2026-03-01T00:00:00Z",
  "effectiveDate": "2026-03-01",
  "planCreated": {{ "planId": "CA-2026", "title": "Regional security and inclusive growth 2026-2028",
    "period": {{ "start": "2026-01-01", "end": "2028-12-31" }}, "reportingCurrency": "USD" }} }}"#
        ),
    )
    .unwrap();
    ok(d, &["sign", "--key", "undp.key", "plan.json", "-o", "plan.env.json"]);
    ok(d, &[&["submit"], &s[..], &["plan.env.json"]].concat());
    ok(d, &[&["checkpoint"], &s[..], &["-o", "old.checkpoint"]].concat());

    // Offline verification: exit 0 with the right keys, 1 without the signer or with a tampered bundle.
    let v: serde_json::Value = serde_json::from_str(&ok(
        d,
        &["--json", "verify", "--log-key", &vkey, "--signer", "undp.pub", "plan.env.tlog-proof"],
    ))
    .unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["kind"], "plan.created");
    ok(d, &["verify", "--log-key", &vkey, "charter.env.tlog-proof"]);
    let out = accord(d, &["verify", "--log-key", &vkey, "plan.env.tlog-proof"]);
    assert_eq!(out.status.code(), Some(1), "no signer key given must fail");
    let out = accord(d, &["verify", "--log-key", &vkey, "--signer", "guatemala.pub", "plan.env.tlog-proof"]);
    assert_eq!(out.status.code(), Some(1), "the wrong signer key must fail");
    let bundle = std::fs::read_to_string(d.join("plan.env.tlog-proof")).unwrap();
    std::fs::write(d.join("tampered.tlog-proof"), bundle.replacen("index 1", "index 0", 1)).unwrap();
    let out = accord(d, &["verify", "--log-key", &vkey, "--signer", "undp.pub", "tampered.tlog-proof"]);
    assert_eq!(out.status.code(), Some(1));

    // The log grows; consistency with the old checkpoint holds.
    std::fs::write(
        d.join("plan2.json"),
        std::fs::read_to_string(d.join("plan.json"))
            .unwrap()
            .replace("2026\"", "2027\"")
            .replace("plan-2026", "plan-2027"),
    )
    .unwrap();
    ok(d, &["sign", "--key", "undp.key", "plan2.json", "-o", "plan2.env.json"]);
    ok(d, &[&["submit"], &s[..], &["plan2.env.json"]].concat());
    let c: serde_json::Value =
        serde_json::from_str(&ok(d, &[&["--json"], &["consistency"], &s[..], &["old.checkpoint"]].concat())).unwrap();
    assert_eq!(c["ok"], true);
    assert_eq!(c["from_size"], 2);
    assert_eq!(c["to_size"], 3);

    // get by statement id, info, and usage errors exit 2; an unreachable server exits 3.
    let g: serde_json::Value =
        serde_json::from_str(&ok(d, &[&["--json"], &["get"], &s[..], &["--statement-id", "plan-2026"]].concat()))
            .unwrap();
    assert_eq!(g["index"], 1);
    assert_eq!(g["statement"]["planCreated"]["planId"], "CA-2026");
    ok(d, &[&["info"], &s[..], &[]].concat());
    assert_eq!(accord(d, &["submit"]).status.code(), Some(2));
    let out = accord(d, &["info", "--server", "http://127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(3));
}

/// The book through the binary: templates for a kind, sign and submit, queries as tables and JSON (with
/// proofs), a refused statement showing the rule, and a rebuild of the stopped ledger.
#[test]
fn book_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (server, url, vkey) = serve(d);
    let s = ["--server", url.as_str(), "--log-key", vkey.as_str()];
    ok(d, &["key", "generate", "--name", "S", "--out", "s"]);
    ok(
        d,
        &[
            "charter",
            "propose",
            "--origin",
            ORIGIN,
            "--name",
            "Compact",
            "--k",
            "1",
            "--founder",
            "S;Secretariat;secretariat,funder;s.pub",
            "-o",
            "charter.json",
        ],
    );
    ok(d, &["sign", "--key", "s.key", "charter.json", "-o", "charter.env.json"]);
    ok(d, &[&["submit"], &s[..], &["charter.env.json"]].concat());

    // A template per kind, every field explained; filled in and signed as it is.
    let kinds = ok(d, &["statement", "kinds"]);
    assert!(kinds.lines().any(|k| k == "pledge.announced"), "{kinds}");
    let fill = |kind: &str, name: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let t = ok(d, &["statement", "new", kind, "--ledger", ORIGIN, "--statement-id", name]);
        assert!(t.contains("// "), "the template explains its fields:\n{t}");
        let mut v: serde_json::Value = serde_json::from_str(&accord::json::strip_comments(&t)).unwrap();
        v["effectiveDate"] = "2026-01-20".into();
        edit(&mut v);
        std::fs::write(d.join(format!("{name}.json")), serde_json::to_string_pretty(&v).unwrap()).unwrap();
        ok(d, &["sign", "--key", "s.key", &format!("{name}.json"), "-o", &format!("{name}.env.json")]);
    };
    fill("plan.created", "plan", &|v| {
        let p = &mut v["planCreated"];
        p["planId"] = "PL".into();
        p["title"] = "Plan".into();
        p["period"] = serde_json::json!({"start": "2026-01-01", "end": "2027-12-31"});
        p["signatories"] = serde_json::json!([]);
        p["expectedReporters"] = serde_json::json!([{"partyId": "S", "schedule": null}]);
        p["reportSchedule"] = serde_json::json!({"frequency": "annual", "daysAfterPeriodEnd": 60});
        p["requirement"] = serde_json::Value::Null;
    });
    fill("goal.defined", "goal", &|v| {
        let g = &mut v["goalDefined"];
        g["goalId"] = "G1".into();
        g["planId"] = "PL".into();
        g["title"] = "Goal".into();
        g["classifications"] = serde_json::json!([{"vocabulary": "dac5", "code": "15113", "share": "100"}]);
    });
    fill("pledge.announced", "pledge", &|v| {
        let mut p = serde_json::json!({
            "pledgeId": "P1", "planId": "PL", "pledgerId": "S", "pledgeKind": "money",
            "amount": {"value": "1000000.00", "currency": "EUR", "valueDate": "2026-01-20"},
            "goals": [{"goalId": "G1", "share": "100"}], "fundingSource": "external", "newMoney": true
        });
        std::mem::swap(&mut v["pledgeAnnounced"], &mut p);
    });
    ok(d, &[&["submit"], &s[..], &["plan.env.json", "goal.env.json", "pledge.env.json"]].concat());

    // A refused statement: exit 1, the field and the rule on stderr.
    let bad = std::fs::read_to_string(d.join("pledge.json"))
        .unwrap()
        .replace("1000000.00", "1e6")
        .replace("\"P1\"", "\"P2\"");
    std::fs::write(d.join("bad.json"), bad.replace("\"pledge\"", "\"pledge-bad\"")).unwrap();
    ok(d, &["sign", "--key", "s.key", "bad.json", "-o", "bad.env.json"]);
    let out = accord(d, &[&["submit"], &s[..], &["bad.env.json"]].concat());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("statement.pledgeAnnounced.amount.value") && err.contains("not a decimal"), "{err}");

    // Queries: a readable table, JSON, and history verified against the checkpoint.
    let table = ok(d, &[&["query", "pledges"], &s[..], &["--with-proofs"]].concat());
    assert!(table.contains("P1") && table.contains("announced") && table.contains("1000000.00 EUR"), "{table}");
    assert!(table.contains("verified against the signed checkpoint"), "{table}");
    let j: serde_json::Value =
        serde_json::from_str(&ok(d, &[&["--json", "query", "pledges"], &s[..], &["--status", "announced"]].concat()))
            .unwrap();
    assert_eq!(j["items"][0]["id"], "P1");
    assert_eq!(j["readAt"]["treeSize"], 4);
    let h = ok(d, &[&["query", "history", "pledge", "P1"], &s[..], &["--with-proofs"]].concat());
    assert!(h.contains("pledge.announced") && h.contains("1 history entries verified"), "{h}");
    let out = accord(d, &[&["query", "pledges"], &s[..], &["--transaction-type", "3"]].concat());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("transactionType: is not a filter of pledge queries"));

    // Rebuild the stopped ledger from its log.
    drop(server);
    let r: serde_json::Value = serde_json::from_str(&ok(d, &["--json", "rebuild", "--data-dir", "ledger"])).unwrap();
    assert_eq!(r["entries"], 4);
}

/// Logs piped to a file or a collector carry no ANSI colour codes (they did: tracing's default colours
/// whatever stderr is).
#[test]
fn logs_have_no_colour_when_stderr_is_not_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let out = accord(tmp.path(), &["--log", "info", "init", "--data-dir", "ledger", "--origin", ORIGIN]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ledger open"), "the log is on stderr: {err}");
    assert!(!err.contains("\x1b["), "ANSI escape codes in piped logs: {err:?}");
}

/// Shell completions come from the clap definitions: the bash script knows the subcommands.
#[test]
fn bash_completion_knows_the_subcommands() {
    let tmp = tempfile::tempdir().unwrap();
    let script = ok(tmp.path(), &["completions", "bash"]);
    assert!(script.contains("accord"), "{script}");
    for sub in ["serve", "audit", "statement", "completions"] {
        assert!(script.contains(sub), "bash completion lacks {sub}");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        assert!(ok(tmp.path(), &["completions", shell]).contains("serve"), "{shell} completion lacks serve");
    }
}

/// `accord man DIR` writes roff pages: accord.1 and one per subcommand, nested ones included. Each
/// page is roff whose title macro (`.TH NAME 1`) comes before any section.
#[test]
fn man_writes_a_roff_page_per_command() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man");
    ok(tmp.path(), &["man", dir.to_str().unwrap()]);
    for (file, name) in
        [("accord.1", "accord"), ("accord-serve.1", "accord-serve"), ("accord-key-generate.1", "accord-key-generate")]
    {
        let page = std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let first_macro = page.lines().position(|l| l.starts_with(".TH ") || l.starts_with(".SH "));
        let th = first_macro.and_then(|i| page.lines().nth(i)).unwrap_or_else(|| panic!("{file} is not roff: {page}"));
        assert!(th.starts_with(&format!(".TH {name} 1")), "{file} must open with its .TH: {th}");
        assert!(page.contains(".SH NAME"), "{file}");
    }
}
