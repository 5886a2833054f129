// Small, short-lived allocations dominate the host's work (JSON, rows,
// HTTP); mimalloc serves them markedly cheaper than glibc's malloc (see
// docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    provisio_host::cli::main()
}
