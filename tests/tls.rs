//! TLS through the real binary: gRPC over rustls with a certificate from a test CA; reads work for any
//! client that trusts the CA, submissions need a client certificate when the server requires one, and a
//! plain-text client cannot talk to a TLS port.
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

const BIN: &str = env!("CARGO_BIN_EXE_accord");

use common::ChildGuard as Server;

/// A test CA (ca.pem), a server certificate for localhost (server.pem, server.key) and a client certificate
/// (client.pem, client.key) signed by it, written in `d`.
fn write_test_pki(d: &std::path::Path) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "Accord test CA");
    let leaf = |name: &str| {
        let mut p = CertificateParams::new(vec![name.to_string()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        p
    };
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let write = |name: &str, text: String| std::fs::write(d.join(name), text).unwrap();
    write("ca.pem", ca.pem());
    let srv_key = KeyPair::generate().unwrap();
    let srv = leaf("localhost").signed_by(&srv_key, &ca).unwrap();
    write("server.pem", srv.pem());
    write("server.key", srv_key.serialize_pem());
    let cli_key = KeyPair::generate().unwrap();
    let cli = leaf("submitter.example").signed_by(&cli_key, &ca).unwrap();
    write("client.pem", cli.pem());
    write("client.key", cli_key.serialize_pem());
}

#[test]
fn grpc_over_tls_with_client_certificates_for_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_test_pki(d);

    let mut child = Command::new(BIN)
        .current_dir(d)
        .args(["--json", "--log", "warn", "serve", "--data-dir", "ledger", "--listen", "127.0.0.1:0"])
        .args(["--tls-cert", "server.pem", "--tls-key", "server.key", "--tls-client-ca", "ca.pem"])
        .args(["--require-client-cert", "true", "--http", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let _server = Server(child);
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let port = v["listening"].as_str().unwrap().rsplit(':').next().unwrap().to_string();
    let url = format!("https://localhost:{port}");
    let http_port = v["http"].as_str().unwrap().rsplit(':').next().unwrap().to_string();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let out = Command::new(BIN).current_dir(d).args(args).envs(env.iter().copied()).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    // Reads: any client trusting the CA.
    let (code, out) = run(&["--json", "info", "--server", &url], &[("ACCORD_TLS_CA", "ca.pem")]);
    assert_eq!(code, Some(0), "{out}");
    // A plain-text client gets nowhere.
    let (code, _) = run(&["info", "--server", &format!("http://localhost:{port}")], &[]);
    assert_ne!(code, Some(0));

    // Submissions: refused without a client certificate, accepted with one.
    run(&["key", "generate", "--name", "S", "--out", "s"], &[]);
    let (code, out) = run(
        &[
            "charter",
            "propose",
            "--origin",
            "accord.localhost/ledger",
            "--name",
            "C",
            "--k",
            "1",
            "--founder",
            "S;Sec;secretariat;s.pub",
            "-o",
            "charter.json",
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    run(&["sign", "--key", "s.key", "charter.json", "-o", "charter.env.json"], &[]);
    let (code, out) = run(&["submit", "--server", &url, "charter.env.json"], &[("ACCORD_TLS_CA", "ca.pem")]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("client certificate"), "{out}");
    let env = [("ACCORD_TLS_CA", "ca.pem"), ("ACCORD_TLS_CERT", "client.pem"), ("ACCORD_TLS_KEY", "client.key")];
    let (code, out) = run(&["submit", "--server", &url, "charter.env.json"], &env);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("entry 0"), "{out}");

    // The public page is served over TLS with the same certificate (curl trusting only the test CA).
    let page = Command::new("curl")
        .current_dir(d)
        .args(["-sS", "--fail", "--cacert", "ca.pem", &format!("https://localhost:{http_port}/checkpoint.txt")])
        .output()
        .expect("curl is needed for this test (Debian package curl)");
    assert!(page.status.success(), "{}", String::from_utf8_lossy(&page.stderr));
    assert!(String::from_utf8_lossy(&page.stdout).starts_with("accord.localhost/ledger\n1\n"));
    let plain =
        Command::new("curl").args(["-sS", &format!("http://localhost:{http_port}/checkpoint.txt")]).output().unwrap();
    assert!(!plain.status.success() || !String::from_utf8_lossy(&plain.stdout).contains("accord.localhost"));
}
