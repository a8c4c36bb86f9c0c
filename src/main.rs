//! `accord`: wiring only. See `accord --help`.
fn main() -> std::process::ExitCode {
    accord::cli::main()
}
