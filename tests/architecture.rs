//! Architecture fence: the module map of `src/lib.rs` stays true because a test reads the import graph.
//!
//! Every `.rs` file under `src/` is lexed (comments, strings and character literals removed), and every
//! path it names is resolved to its first segment: `crate::ledger::Ledger` and `use crate::{ledger, query}` are
//! arrows to the top-level modules `ledger` and `query`; `rusqlite::params` is an arrow to the external
//! crate `rusqlite`. The test fails on an arrow the map below does not allow, names the file, and fails
//! if the map itself has a cycle. The pure layers (`crates/accord-tlog`, `accord-domain`, `accord-views`) are fenced by Cargo instead:
//! their manifests do not list protobuf, SQL or async crates at all.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Which modules of `src/` each module may name. `main` is `src/main.rs`. Items defined in
/// `lib.rs` itself (`PAYLOAD_TYPE`) and the re-exported `merkle` (the `accord-tlog` crate) sit at the
/// bottom with `error`, `sync` and `pb`. The edge, `src/server/`, is one folder with a fence per part:
/// `server` is its own files (transport, health, shutdown, HTTP ports), `server/api` the gRPC services,
/// `server/web` the public page, `server/witness` the tlog-witness server and client; a file under
/// `src/server/X/` (or `src/server/X.rs`) is `server/X`, and `crate::server::X::...` is an arrow to it.
/// No part of the edge names `store`: it reads through the ledger ([`the_edge_does_not_name_the_store`]).
const MAP: &[(&str, &[&str])] = &[
    ("sync", &[]),
    ("error", &[]),
    ("pb", &[]),
    ("metrics", &["sync"]),
    ("crypto", &["error", "pb", "PAYLOAD_TYPE"]),
    ("json", &["error", "pb"]),
    ("proto", &["crypto", "error", "json", "pb"]),
    ("domain", &["crypto", "error", "json", "pb", "proto"]),
    // Who signs what: the signer rules as a table, and the signatures one statement needs.
    ("signing", &["crypto", "pb", "proto"]),
    ("store", &["crypto", "domain", "error", "merkle", "proto", "sync"]),
    // The verifiable index (docs/INDEX.md): the map kept beside the log, and the reader's check of a
    // complete answer. It reads the log through its own `Log` trait, which the ledger and the replay implement.
    ("vindex", &["domain", "error", "merkle", "pb", "proto", "store", "sync"]),
    (
        "ledger",
        &[
            "crypto",
            "domain",
            "error",
            "merkle",
            "metrics",
            "pb",
            "proto",
            "signing",
            "store",
            "sync",
            "vindex",
            "PAYLOAD_TYPE",
        ],
    ),
    ("query", &["domain", "error", "ledger", "merkle", "pb", "proto", "store", "vindex"]),
    ("report", &["crypto", "domain", "error", "ledger", "pb", "proto", "query", "store", "vindex"]),
    ("audit", &["crypto", "domain", "error", "merkle", "pb", "proto", "report", "store", "vindex"]),
    ("server/witness", &["crypto", "error", "ledger", "merkle", "metrics"]),
    // Reading and writing tlog-tiles (client side, static directories).
    ("tiles", &["crypto", "error", "merkle"]),
    // The tlog-tiles HTTP API: the live ledger's tiles, or a directory's.
    ("server/tiles", &["crypto", "error", "ledger", "tiles"]),
    ("server/api", &["domain", "error", "ledger", "pb", "query", "report", "sync", "PAYLOAD_TYPE"]),
    ("server", &["server/api", "ledger", "metrics", "pb"]),
    (
        "server/web",
        &[
            "domain",
            "error",
            "ledger",
            "metrics",
            "pb",
            "proto",
            "query",
            "report",
            "server",
            "server/tiles",
            "server/rest",
            "sync",
            "merkle",
        ],
    ),
    // The read-only JSON API over HTTP (CoalitionService and GetReport for non-gRPC readers).
    ("server/rest", &["domain", "error", "json", "ledger", "pb", "query", "report"]),
    ("config", &["domain", "error", "ledger", "server", "server/witness"]),
    ("client", &["crypto", "domain", "error", "ledger", "merkle", "pb", "query", "server", "store", "vindex"]),
    (
        "cmd",
        &[
            "audit",
            "client",
            "config",
            "crypto",
            "domain",
            "error",
            "json",
            "ledger",
            "merkle",
            "pb",
            "proto",
            "query",
            "report",
            "server",
            "server/api",
            "server/web",
            "server/witness",
            "server/tiles",
            "signing",
            "store",
            "sync",
            "tiles",
        ],
    ),
    ("main", &["cmd"]),
    // The benchmark workloads (hidden, not part of the product).
    ("workload", &["crypto", "domain", "pb"]),
    // src/bin/*: binaries beside the product, using the library's public API only (`accord::...`).
    ("bin", &["client", "crypto", "pb", "sync", "workload"]),
];

/// External crates that only some modules may name.
const EXTERNAL: &[(&str, &[&str])] = &[
    // SQLite only in the storage layer.
    ("rusqlite", &["store"]),
    // gRPC only at the transport edge.
    ("tonic", &["server/api", "server", "client", "cmd", "pb", "bin"]),
    ("tonic_health", &["server", "cmd"]),
    // Rich error details: written by the one error mapping, read back by the client.
    ("tonic_types", &["server/api", "client"]),
    ("tonic_reflection", &["server"]),
    // The HTTP framework only where HTTP is served.
    ("axum", &["server", "server/web", "server/witness", "server/tiles", "server/rest", "cmd"]),
    // The HTTP client of tile readers and of the ledger's witness sender.
    ("reqwest", &["tiles", "server/witness"]),
    // The async runtime stays out of the pure and storage layers.
    (
        "tokio",
        &[
            "server/api",
            "server",
            "server/web",
            "server/witness",
            "server/tiles",
            "server/rest",
            "tiles",
            "ledger",
            "client",
            "cmd",
            "main",
            "bin",
        ],
    ),
    // Renderers and exporters only in the report layer (and the CLI's CSV writer).
    ("maud", &["report", "server/web"]),
    ("quick_xml", &["report"]),
    ("csv", &["report", "cmd"]),
    // Each layer has its own error enum (thiserror, with sources); anyhow only where errors are reported.
    ("anyhow", &["cmd", "main", "bin"]),
    // Signed notes and tlog hashing live in crates/accord-tlog; the root crate names them through it.
    ("signed_note", &[]),
    ("tlog_tiles", &[]),
];

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
    out.sort();
    out
}

/// The source with comments, string literals and character literals replaced by spaces; lifetimes kept.
fn code_only(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    let at = |i: usize| b.get(i).copied().unwrap_or('\0');
    while i < b.len() {
        let c = b[i];
        if c == '/' && at(i + 1) == '/' {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r'
            && (at(i + 1) == '"' || (at(i + 1) == '#' && (at(i + 2) == '"' || at(i + 2) == '#')))
            && !at(i.wrapping_sub(1)).is_alphanumeric()
        {
            // Raw string r#"..."#: skip to the closing quote followed by as many hashes.
            let mut j = i + 1;
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (1..=hashes).all(|k| at(j + k) == '#') {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            i = j;
            out.push(' ');
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push(' ');
        } else if c == '\'' && (at(i + 2) == '\'' || at(i + 1) == '\\') {
            // A character literal ('x', '\n', '\u{..}'); a lifetime ('a) has no closing quote after one char.
            i += 1;
            while i < b.len() && b[i] != '\'' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push(' ');
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Identifier and punctuation tokens of code without comments and strings.
fn tokens(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            cur.push(c);
        } else {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            if c == ':' && chars.get(i + 1) == Some(&':') {
                out.push("::".into());
                i += 1;
            } else if !c.is_whitespace() {
                out.push(c.to_string());
            }
        }
        i += 1;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The first segments of every path in the file: `crate::X` gives `X` (each item of `crate::{X, Y}`
/// too; binaries name the library `accord::X`, read the same way), and a path `x::...` that does not start after `::` gives `x` (external crates, `std`, local
/// modules and types alike; the caller keeps those it knows).
fn path_roots(toks: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let is_ident = |t: &str| t.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_');
    for (i, t) in toks.iter().enumerate() {
        let next = toks.get(i + 1).map(String::as_str);
        let prev = i.checked_sub(1).and_then(|p| toks.get(p)).map(String::as_str);
        if (t == "crate" || t == "accord") && next == Some("::") {
            match toks.get(i + 2).map(String::as_str) {
                Some("{") => {
                    // `crate::{a, b::c, d::{e, f}}`: the first identifier of each top-level item.
                    let mut depth = 0;
                    let mut expect = true;
                    for t in &toks[i + 2..] {
                        match t.as_str() {
                            "{" => {
                                depth += 1;
                                if depth > 1 {
                                    expect = false;
                                }
                            }
                            "}" => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            "," if depth == 1 => expect = true,
                            s if expect && depth == 1 && is_ident(s) => {
                                out.insert(s.to_string());
                                expect = false;
                            }
                            _ => {}
                        }
                    }
                }
                Some(s) if is_ident(s) => {
                    // `crate::server::api::...` names the part `server/api` when the map fences it apart.
                    let part = match (toks.get(i + 3).map(String::as_str), toks.get(i + 4)) {
                        (Some("::"), Some(sub)) if is_ident(sub) => Some(format!("{s}/{sub}")),
                        _ => None,
                    };
                    match part.filter(|p| is_part(p)) {
                        Some(p) => out.insert(p),
                        None => out.insert(s.to_string()),
                    };
                }
                _ => {}
            }
        } else if is_ident(t)
            && t != "crate"
            && t != "accord"
            && ((next == Some("::") && prev != Some("::")) || prev == Some("use"))
        {
            out.insert(t.clone());
        }
    }
    out
}

/// Whether `name` (`server/api`) is a part of a module that the map fences on its own.
fn is_part(name: &str) -> bool {
    name.contains('/') && MAP.iter().any(|(m, _)| *m == name)
}

/// Module of a file under `src/` on the map: `log/sequencer.rs` → `log`, `server.rs` → `server`, and for a
/// part the map fences on its own, `server/api/limits.rs` and `server/web.rs` → `server/api`, `server/web`.
fn top_module(rel: &Path) -> String {
    let mut parts = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned());
    let strip = |s: String| s.strip_suffix(".rs").map(str::to_string).unwrap_or(s);
    let first = strip(parts.next().unwrap());
    match parts.next().map(strip) {
        Some(second) if is_part(&format!("{first}/{second}")) => format!("{first}/{second}"),
        _ => first,
    }
}

/// (module, file, name) for every arrow out of every file of `src/` (lib.rs, which only declares the
/// modules, excepted).
fn arrows() -> Vec<(String, String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    for p in rust_files(&src) {
        let rel = p.strip_prefix(&src).unwrap().to_path_buf();
        if rel == Path::new("lib.rs") {
            continue;
        }
        let module = top_module(&rel);
        let text = std::fs::read_to_string(&p).unwrap();
        for root in path_roots(&tokens(&code_only(&text))) {
            out.push((module.clone(), rel.display().to_string(), root));
        }
    }
    out
}

fn modules() -> BTreeSet<&'static str> {
    MAP.iter().map(|(m, _)| *m).chain(["merkle", "PAYLOAD_TYPE"]).collect()
}

#[test]
fn every_arrow_between_modules_is_on_the_map() {
    let map: BTreeMap<&str, &[&str]> = MAP.iter().copied().collect();
    let known = modules();
    let mut bad = Vec::new();
    for (module, file, to) in arrows() {
        let Some(allowed) = map.get(module.as_str()) else {
            bad.push(format!("{file}: module {module} is not on the map in tests/architecture.rs"));
            continue;
        };
        if to != module && known.contains(to.as_str()) && !allowed.contains(&to.as_str()) {
            bad.push(format!("{file}: {module} -> {to} is not allowed"));
        }
    }
    assert!(bad.is_empty(), "arrows the map forbids:\n{}", bad.join("\n"));
}

#[test]
fn external_crates_stay_in_their_layers() {
    let mut bad = Vec::new();
    for (module, file, to) in arrows() {
        if let Some((_, allowed)) = EXTERNAL.iter().find(|(c, _)| *c == to) {
            if !allowed.contains(&module.as_str()) {
                bad.push(format!("{file}: {module} names {to}"));
            }
        }
    }
    assert!(bad.is_empty(), "external crates outside their layers:\n{}", bad.join("\n"));
}

#[test]
fn the_map_has_no_cycle() {
    let map: BTreeMap<&str, &[&str]> = MAP.iter().copied().collect();
    // Depth-first search; a module met again while still on the stack closes a cycle.
    fn visit<'a>(
        m: &'a str,
        map: &BTreeMap<&'a str, &'a [&'a str]>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if done.contains(m) {
            return;
        }
        assert!(!stack.contains(&m), "cycle in the module map: {} -> {m}", stack.join(" -> "));
        stack.push(m);
        for d in map.get(m).copied().unwrap_or_default() {
            visit(d, map, stack, done);
        }
        stack.pop();
        done.insert(m);
    }
    let mut done = BTreeSet::new();
    for (m, _) in MAP {
        visit(m, &map, &mut Vec::new(), &mut done);
    }
}

#[test]
fn the_domain_reads_no_clock_file_or_network() {
    let mut bad = Vec::new();
    for (module, file, to) in arrows() {
        if module == "domain" && ["tokio", "tonic", "rusqlite", "axum", "hyper"].contains(&to.as_str()) {
            bad.push(format!("{file}: names {to}"));
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
    for p in rust_files(&src) {
        let toks = tokens(&code_only(&std::fs::read_to_string(&p).unwrap()));
        for w in toks.windows(3) {
            let path = format!("{}{}{}", w[0], w[1], w[2]);
            if ["std::fs", "std::net", "SystemTime::now", "Instant::now"].contains(&path.as_str()) {
                bad.push(format!("{}: {path}", p.display()));
            }
        }
    }
    assert!(bad.is_empty(), "the domain must stay pure:\n{}", bad.join("\n"));
}

/// The edge (`src/server`, every part of it) reads the ledger through `Ledger::read`/`Ledger::snapshot` and
/// their `ReadView`, never through the store: the map gives no part of it `store`, no file of it names
/// `store` or `rusqlite`, and none calls the two doors the read models use (`store_reader`, `readers`).
#[test]
fn the_edge_does_not_name_the_store() {
    let mut bad = Vec::new();
    for (m, allowed) in MAP {
        if (*m == "server" || m.starts_with("server/")) && allowed.contains(&"store") {
            bad.push(format!("the map lets {m} name store"));
        }
    }
    for (module, file, to) in arrows() {
        if module.starts_with("server") && (to == "store" || to == "rusqlite") {
            bad.push(format!("{file}: {module} -> {to}"));
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for p in rust_files(&src.join("server")) {
        let toks = tokens(&code_only(&std::fs::read_to_string(&p).unwrap()));
        for w in toks.windows(2) {
            if w[0] == "." && ["store_reader", "readers"].contains(&w[1].as_str()) {
                bad.push(format!("{}: .{}", p.display(), w[1]));
            }
        }
    }
    assert!(bad.is_empty(), "the edge must read through the ledger, not the store:\n{}", bad.join("\n"));
}

/// The lexer itself: a fence that cannot see an arrow cannot fail.
#[test]
fn the_lexer_sees_paths_and_skips_comments_and_strings() {
    let src = r##"
        use crate::{ledger::Ledger, query, domain::{a, b}};
        // use crate::web;
        /* crate::audit */
        let s = "crate::report"; let r = r#"crate::cmd"#; let c = '"'; fn f<'a>(x: &'a str) {}
        fn g() { crate::store::open(); rusqlite::params![]; }
    "##;
    let roots = path_roots(&tokens(&code_only(src)));
    for want in ["ledger", "query", "domain", "store", "rusqlite"] {
        assert!(roots.contains(want), "{want} missing from {roots:?}");
    }
    for not in ["web", "audit", "report", "cmd", "a", "b", "Ledger"] {
        assert!(!roots.contains(not), "{not} wrongly found in {roots:?}");
    }
    // The edge's parts: a path names the part, a file belongs to it.
    let roots = path_roots(&tokens(&code_only(
        "use crate::server::api::status; crate::server::serve_http(); crate::server::nope::x();",
    )));
    assert_eq!(roots, ["server", "server/api"].into_iter().map(String::from).collect());
    assert_eq!(top_module(Path::new("server/web.rs")), "server/web");
    assert_eq!(top_module(Path::new("server/witness/sender.rs")), "server/witness");
    assert_eq!(top_module(Path::new("server/shutdown.rs")), "server");
    assert_eq!(top_module(Path::new("ledger/reads.rs")), "ledger");
}
