//! Compiles `proto/accord/v1/*.proto` with `protox` (a pure-Rust protobuf compiler), so building needs no
//! system `protoc`. The encoded descriptor set is kept for gRPC reflection and for the protobuf JSON mapping.
use std::{env, path::PathBuf};

const PROTOS: &[&str] = &[
    "proto/accord/v1/envelope.proto",
    "proto/accord/v1/statement.proto",
    "proto/accord/v1/ledger.proto",
    "proto/accord/v1/coalition.proto",
    "proto/accord/v1/report.proto",
    "proto/accord/v1/audit.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for p in PROTOS {
        println!("cargo:rerun-if-changed={p}");
    }
    // The compiler's version for the `accord_build_info` metric.
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    if let Ok(o) = std::process::Command::new(rustc).arg("--version").output() {
        println!("cargo:rustc-env=ACCORD_RUSTC_VERSION={}", String::from_utf8_lossy(&o.stdout).trim());
    }
    let out = PathBuf::from(env::var("OUT_DIR")?);
    let fds = protox::compile(PROTOS, ["proto"])?;
    let descriptor_path = out.join("accord_descriptor.bin");
    std::fs::write(&descriptor_path, prost::Message::encode_to_vec(&fds))?;
    tonic_prost_build::configure().file_descriptor_set_path(&descriptor_path).skip_protoc_run().compile_fds(fds)?;
    Ok(())
}
