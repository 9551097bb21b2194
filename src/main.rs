//! The `lpzero` binary: a thin front over the library (see `lpzero::cli`).

fn main() -> std::process::ExitCode {
    lpzero::cli::main()
}
