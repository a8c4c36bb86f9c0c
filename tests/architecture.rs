//! Architecture fence (after tessera's forbidden-function test): the module map of DESIGN.md §5 stays true
//! because a test says so.
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn offenders(needle: &str, allowed: &[&str]) -> Vec<String> {
    let root = src();
    rust_files(&root)
        .into_iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
            if allowed.iter().any(|a| rel.starts_with(a)) {
                return None;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            text.lines().any(|l| !l.trim_start().starts_with("//") && l.contains(needle)).then_some(rel)
        })
        .collect()
}

#[test]
fn rusqlite_only_in_storage() {
    assert_eq!(offenders("rusqlite", &["storage/"]), Vec::<String>::new());
}

#[test]
fn tonic_only_in_transport_layers() {
    let allowed = &["api/", "server.rs", "client.rs", "cli/", "pb.rs"];
    assert_eq!(offenders("tonic", allowed), Vec::<String>::new());
}

#[test]
fn domain_is_pure() {
    let root = src().join("domain");
    for p in rust_files(&root) {
        let text: String = std::fs::read_to_string(&p)
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for banned in ["tokio", "tonic", "rusqlite", "std::fs", "std::net", "SystemTime::now"] {
            assert!(!text.contains(banned), "{} uses {banned}", p.display());
        }
    }
}

#[test]
fn log_signing_key_stays_in_crypto() {
    // Signing with the log key happens only through crypto::LogSigner.
    assert_eq!(offenders("ed25519_dalek::Signer", &["crypto/"]), Vec::<String>::new());
    assert_eq!(offenders("signed_note::Note", &["crypto/"]), Vec::<String>::new());
}
