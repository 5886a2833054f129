fn main() -> std::process::ExitCode {
    provisio_host::cli::main()
}
