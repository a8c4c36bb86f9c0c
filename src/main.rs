//! `accord`: wiring only. See `accord --help`.

/// The allocator: mimalloc's per-thread free lists instead of glibc's arenas, whose locks the write path
/// contended on (issue 14: 12 % of its samples were malloc/free).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    accord::cmd::main()
}
