//! The `tollgate` command-line program: see `tollgate --help`.

fn main() -> std::process::ExitCode {
    tollgate_tokio::cli::main()
}
