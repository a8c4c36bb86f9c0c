//! Authoring statements with the real `accord` binary (issue 15, "Authoring"): templates with the
//! required fields only or every optional block (`--full`), correct comments, every variant of a oneof;
//! quiet exit when the reader of stdout goes away; result lines (and JSON objects) from `sign`,
//! `charter sign` and `export`; `--json` never changing what `report --format X -o FILE` writes.
mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use accord::crypto;
use accord::pb;
use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_accord");

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

/// The line after the comment line(s) that explain `"key":` in a template: the comment just above it.
fn comment_above(t: &str, key: &str) -> String {
    let lines: Vec<&str> = t.lines().map(str::trim).collect();
    let i = lines.iter().position(|l| l.starts_with(&format!("\"{key}\":"))).unwrap_or_else(|| panic!("{key} in\n{t}"));
    lines[i - 1].to_string()
}

#[test]
fn templates_show_required_fields_or_every_block_with_correct_comments() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Required fields only: a goal's id, plan and title; no description or classifications.
    let goal = ok(d, &["statement", "new", "goal.defined"]);
    assert!(goal.contains("\"goalId\""), "{goal}");
    assert!(!goal.contains("\"description\"") && !goal.contains("\"classifications\""), "{goal}");
    // goal.defined.goalId is the new goal's id, not a reference to an earlier goal.defined.
    let c = comment_above(&goal, "goalId");
    assert!(!c.contains("earlier"), "goal.defined.goalId: {c}");
    assert!(c.contains("new goal"), "goal.defined.goalId: {c}");
    // --full: every optional block, each commented and marked optional.
    let full = ok(d, &["statement", "new", "goal.defined", "--full"]);
    assert!(comment_above(&full, "description").contains("ptional"), "{full}");
    assert!(comment_above(&full, "classifications").contains("ptional"), "{full}");
    let pledge = ok(d, &["statement", "new", "pledge.announced"]);
    assert!(!pledge.contains("\"restates\"") && !pledge.contains("\"expiresOn\""), "{pledge}");
    let pledge_full = ok(d, &["statement", "new", "pledge.announced", "--full"]);
    assert!(pledge_full.contains("\"restates\"") && pledge_full.contains("\"expiresOn\""), "{pledge_full}");
    // delivery.confirmed names an earlier delivery; it does not create one.
    let conf = ok(d, &["statement", "new", "delivery.confirmed"]);
    assert!(comment_above(&conf, "deliveryId").contains("earlier inkind.delivered"), "{conf}");
    // amended: every variant of the new version, not only the plan one; the variant is the complete new
    // version, and its id is the amended subject's.
    let amended = ok(d, &["statement", "new", "amended", "--full"]);
    for v in ["plan", "goal", "indicator", "pledge", "condition", "commitment"] {
        assert!(amended.contains(&format!("\"{v}\": {{")), "amended lacks the {v} variant:\n{amended}");
    }
    assert!(!comment_above(&amended, "plan").contains("earlier plan.created"), "{amended}");
    assert!(comment_above(&amended, "planId").contains("subjectId"), "{amended}");
    // Every template, minimal and full, is a statement `accord sign` accepts as it is.
    std::fs::write(d.join("k.key"), crypto::private_key_string("k", &crypto::generate_key())).unwrap();
    for kind in ["amended", "pledge.announced", "goal.defined", "commitment.signed"] {
        for full in [false, true] {
            let mut args = vec!["statement", "new", kind, "-o", "t.json"];
            if full {
                args.push("--full");
            }
            ok(d, &args);
            ok(d, &["sign", "--key", "k.key", "t.json", "-o", "t.env.json"]);
        }
    }
}

/// `accord statement new … | head`: the reader goes away before the template is written; the command
/// exits quietly (status 0, no panic message) instead of panicking on EPIPE.
#[test]
fn a_closed_stdout_ends_the_output_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(BIN)
        .args(["statement", "new", "pledge.announced", "--full"])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
    // The same for a command printing with println! (the kinds list).
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(BIN)
        .args(["statement", "kinds"])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

#[test]
fn sign_and_charter_sign_print_a_result() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["key", "generate", "--name", "XM-A", "--out", "a"]);
    ok(d, &["statement", "new", "goal.defined", "-o", "goal.json"]);
    let line = ok(d, &["sign", "--key", "a.key", "goal.json", "-o", "goal.env.json"]);
    assert!(line.contains("goal.env.json") && line.contains("XM-A"), "sign printed {line:?}");
    let v: serde_json::Value =
        serde_json::from_str(&ok(d, &["--json", "charter", "sign", "--key", "a.key", "goal.json", "-o", "g2.json"]))
            .unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["signer"], "XM-A");
    assert_eq!(v["signatures"], 1);
    assert_eq!(v["keyid"].as_str().unwrap().len(), 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_never_changes_what_report_writes_and_export_prints_a_result() {
    let (s, sec, _fun) = chartered().await;
    let mut c = s.client().await;
    c.submit(crypto::seal(&plan("p1"), &[&sec.key])).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let srv = ["--server", s.url.as_str(), "--log-key", s.verifier_key.as_str()];
    let run = |args: &[&str]| {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(srv);
        let d = d.to_path_buf();
        let a: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        async move {
            tokio::task::spawn_blocking(move || ok(&d, &a.iter().map(String::as_str).collect::<Vec<_>>()))
                .await
                .unwrap()
        }
    };
    run(&["report", "--plan", "plan-p1", "--format", "markdown", "-o", "plain.md"]).await;
    let line = run(&["--json", "report", "--plan", "plan-p1", "--format", "markdown", "-o", "json.md"]).await;
    let plain = std::fs::read_to_string(d.join("plain.md")).unwrap();
    let with_json = std::fs::read_to_string(d.join("json.md")).unwrap();
    assert!(!with_json.trim_start().starts_with('{'), "--json wrote JSON into a markdown report:\n{with_json}");
    assert_eq!(plain, with_json);
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["format"], "markdown");
    // export: a result line, and a JSON object with --json.
    let line = run(&["export", "iati", "--plan", "plan-p1", "-o", "p.xml"]).await;
    assert!(line.contains("p.xml") && line.contains("plan-p1"), "export printed {line:?}");
    let v: serde_json::Value =
        serde_json::from_str(&run(&["--json", "export", "iati", "--plan", "plan-p1", "-o", "q.xml"]).await).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["format"], "iati");
    assert!(std::fs::read_to_string(d.join("q.xml")).unwrap().contains("iati-activities"));
}

/// One key form users can paste: `publicKeys` takes the `.pub` verifier key and the hex `key show` prints
/// (as well as base64), and the statement signed carries the same 32 bytes; `key show` labels every form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_keys_accept_the_pub_form_and_hex() {
    // (async only to share the helpers' style; the steps run the binary in blocking tasks)
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_path_buf();
    let dd = d.clone();
    let shown = tokio::task::spawn_blocking(move || {
        ok(&dd, &["key", "generate", "--name", "XM-NEW", "--out", "new"]);
        ok(&dd, &["key", "show", "new.pub"])
    })
    .await
    .unwrap();
    for label in ["verifier key", "public key (hex)", "public key (base64)", "keyid"] {
        assert!(shown.contains(label), "key show lacks {label}:\n{shown}");
    }
    let vk = std::fs::read_to_string(d.join("new.pub")).unwrap().trim().to_string();
    let hex_line = shown.lines().find(|l| l.starts_with("public key (hex)")).unwrap();
    let hexkey = hex_line.split_whitespace().last().unwrap().to_string();
    let raw = hex::decode(&hexkey).unwrap();
    let sec = crypto::generate_key();
    for (i, form) in [vk.as_str(), hexkey.as_str()].into_iter().enumerate() {
        let mut st = accord::json::statement_template("party.admitted", ORIGIN, &format!("adm-{i}"), "2026-01-15")
            .unwrap()
            .replace("\"publicKeys\": []", &format!("\"publicKeys\": [\"{form}\"]"));
        st = st.replace("\"partyId\": \"\"", &format!("\"partyId\": \"XM-NEW-{i}\""));
        let parsed = accord::json::statement_from_json(&st).unwrap_or_else(|e| panic!("{form}: {e}"));
        let Some(pb::statement::Body::PartyAdmitted(p)) = &parsed.body else { panic!("not party.admitted") };
        assert_eq!(p.party.as_ref().unwrap().public_keys, vec![raw.clone()], "{form}");
        // Through the binary too: `accord sign` takes the pasted form.
        std::fs::write(d.join("adm.json"), &st).unwrap();
        std::fs::write(d.join("sec.key"), crypto::private_key_string("XM-SEC", &sec)).unwrap();
        let dd = d.clone();
        let env =
            tokio::task::spawn_blocking(move || ok(&dd, &["sign", "--key", "sec.key", "adm.json"])).await.unwrap();
        assert!(env.contains("payloadType"), "{env}");
    }
}

/// docs/SIGNING.md is the signer table of the code (`accord::signing::RULES`), and it covers every
/// statement kind. `ACCORD_BLESS=1` rewrites the table in the document.
#[test]
fn signing_doc_is_the_table_of_the_rules() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/SIGNING.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let table = accord::signing::markdown_table();
    for (kind, _) in accord::json::statement_kinds() {
        assert!(accord::signing::rule(&kind).is_some(), "no signer rule for {kind}");
        assert!(table.contains(&format!("| `{kind}` |")), "{kind} missing from the table");
    }
    if std::env::var_os("ACCORD_BLESS").is_some() {
        let start = doc.find("<!-- table: generated from accord::signing::RULES -->\n").unwrap();
        let end = doc.find("<!-- end of table -->").unwrap();
        let head = &doc[..start + "<!-- table: generated from accord::signing::RULES -->\n".len()];
        std::fs::write(&path, format!("{head}{table}{}", &doc[end..])).unwrap();
        return;
    }
    assert!(doc.contains(&table), "docs/SIGNING.md differs from accord::signing::RULES; rerun with ACCORD_BLESS=1");
    // The README sends users to SIGNING.md and to nothing outside the repository.
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(readme.contains("docs/SIGNING.md"), "README does not link docs/SIGNING.md");
    assert!(!readme.contains("../shared"), "README links files outside the repository");
}

/// Run the binary off the async threads.
async fn run_in(d: &Path, args: Vec<String>) -> Output {
    let d = d.to_path_buf();
    tokio::task::spawn_blocking(move || accord(&d, &args.iter().map(String::as_str).collect::<Vec<_>>())).await.unwrap()
}

fn pledge_json(id: &str, plan: &str, kind: &str) -> String {
    format!(
        r#"{{"ledger":"{ORIGIN}","statementId":"{id}","issuedAt":"2026-01-15T00:00:00Z","effectiveDate":"2026-01-15",
 // a comment, as in templates
 "pledgeAnnounced":{{"pledgeId":"PL-{id}","planId":"{plan}","pledgerId":"XM-DAC-1","pledgeKind":"{kind}",
  "amount":{{"value":"100.00","currency":"USD","valueDate":"2026-01-15"}},"financeType":"110","fundingSource":"external"}}}}"#
    )
}

fn json_of(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    })
}

/// `accord statement check`: the shape rules locally, and with --server a dry run of every rule against
/// the ledger's state through `LedgerService.Check`, which answers as Submit would and writes nothing;
/// `accord envelope show` names who signed and who still must.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_check_and_envelope_show() {
    let (s, sec, fun) = chartered().await;
    let mut c = s.client().await;
    c.submit(crypto::seal(&plan("p1"), &[&sec.key])).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("sec.key"), crypto::private_key_string("XM-SEC", &sec.key)).unwrap();
    std::fs::write(d.join("fun.key"), crypto::private_key_string("XM-DAC-1", &fun.key)).unwrap();
    std::fs::write(d.join("p.json"), pledge_json("pl-1", "plan-p1", "money")).unwrap();
    std::fs::write(d.join("bad.json"), pledge_json("pl-2", "plan-p1", "bogus")).unwrap();
    std::fs::write(d.join("noplan.json"), pledge_json("pl-3", "plan-nope", "money")).unwrap();
    let srv = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        v.extend(["--server".into(), s.url.clone(), "--log-key".into(), s.verifier_key.clone()]);
        v
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    // Locally: the shape rules; a bad pledge kind is refused with the field named, exit 1.
    let o = run_in(d, args(&["--json", "statement", "check", "bad.json"])).await;
    assert_eq!(o.status.code(), Some(1));
    let v = json_of(&o);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["code"], "INVALID_ARGUMENT");
    assert!(v["error"]["field"].as_str().unwrap().contains("pledgeKind"), "{v}");
    // The field as the user wrote it in the JSON (camelCase, from the statement's root).
    assert_eq!(v["error"]["field_json"], "pledgeAnnounced.pledgeKind", "{v}");
    // A pledge to a plan that does not exist passes locally, and the dry run refuses it.
    let o = run_in(d, args(&["--json", "statement", "check", "noplan.json"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    ok(d, &["sign", "--key", "fun.key", "noplan.json", "-o", "noplan.env.json"]);
    let o = run_in(d, srv(&["--json", "statement", "check", "noplan.env.json"])).await;
    assert_eq!(o.status.code(), Some(1));
    let v = json_of(&o);
    assert_eq!(v["checked"], "server");
    assert_eq!(v["error"]["code"], "FAILED_PRECONDITION", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("plan-nope"), "{v}");

    // A bare statement: who must sign.
    let o = run_in(d, srv(&["--json", "statement", "check", "p.json"])).await;
    let v = json_of(&o);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["code"], "PERMISSION_DENIED", "{v}");
    assert!(v["missing"].to_string().contains("XM-DAC-1"), "{v}");
    assert_eq!(v["must_sign"], "the pledger (pledgerId)");

    // Signed by the wrong party: refused as Submit would; who signed and who is missing are named.
    ok(d, &["sign", "--key", "sec.key", "p.json", "-o", "wrong.env.json"]);
    let o = run_in(d, srv(&["--json", "statement", "check", "wrong.env.json"])).await;
    let v = json_of(&o);
    assert_eq!(v["error"]["code"], "PERMISSION_DENIED", "{v}");
    assert_eq!(v["signed_by"], serde_json::json!(["XM-SEC"]));
    assert!(v["missing"].to_string().contains("XM-DAC-1"), "{v}");
    let wrong = crypto::seal(
        &accord::json::statement_from_json(&pledge_json("pl-1", "plan-p1", "money")).unwrap(),
        &[&sec.key],
    );
    let submitted = c.submit(wrong).await.unwrap_err().to_string();
    assert!(submitted.contains("XM-DAC-1"), "Submit says {submitted}");
    let shown = run_in(d, srv(&["envelope", "show", "wrong.env.json"])).await;
    let text = String::from_utf8_lossy(&shown.stdout).to_string();
    assert!(text.contains(&format!("{} (XM-SEC)", sec.keyid())), "{text}");
    assert!(text.contains("the pledger XM-DAC-1 (pledgerId): NOT SIGNED"), "{text}");
    assert!(text.contains("\"pledgeId\": \"PL-pl-1\""), "{text}");

    // Signed by the pledger: OK, and the dry run wrote nothing (same size; the statement id is still free).
    ok(d, &["sign", "--key", "fun.key", "p.json", "-o", "good.env.json"]);
    let before = s.ledger.latest().size;
    let o = run_in(d, srv(&["--json", "statement", "check", "good.env.json"])).await;
    assert_eq!(o.status.code(), Some(0));
    let v = json_of(&o);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["signed_by"], serde_json::json!(["XM-DAC-1"]));
    assert_eq!(s.ledger.latest().size, before, "the dry run appended an entry");
    let o = run_in(d, srv(&["--json", "envelope", "show", "good.env.json"])).await;
    let v = json_of(&o);
    assert_eq!(v["signatures"][0]["party"], "XM-DAC-1", "{v}");
    assert_eq!(v["statement"]["pledgeAnnounced"]["pledgerId"], "XM-DAC-1");
    let good = std::fs::read_to_string(d.join("good.env.json")).unwrap();
    let r = c.submit(accord::json::envelope_from_json(&good).unwrap()).await.unwrap();
    assert!(!r.receipt.duplicate);
    // Now it is in the log: the dry run says so.
    let v = json_of(&run_in(d, srv(&["--json", "statement", "check", "good.env.json"])).await);
    assert_eq!(v["duplicate"], true, "{v}");
}

/// The charter's k-of-n: `envelope show` names each founder by the keys the charter lists, signed or
/// not, without a server.
#[test]
fn envelope_show_names_the_founders_still_to_sign() {
    let a = Founder::new("XM-A", &["secretariat"]);
    let b = Founder::new("XM-B", &["funder"]);
    let env = crypto::seal(&charter(&[&a, &b], 1), &[&a.key]);
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("c.env.json"), accord::json::envelope_to_json(&env)).unwrap();
    let out = accord(tmp.path(), &["envelope", "show", "c.env.json"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("founder XM-A (one of its keys): signed"), "{text}");
    assert!(text.contains("founder XM-B (one of its keys): NOT SIGNED"), "{text}");
    assert!(text.contains(&format!("{} (XM-A)", a.keyid())), "{text}");
}
