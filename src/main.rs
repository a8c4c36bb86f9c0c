//! `accord`: wiring only. See `accord --help`.
fn main() -> std::process::ExitCode {
    accord::cmd::main()
}
