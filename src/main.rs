//! The `lpzero` binary: a thin front over the library (see `lpzero::cli`), run after telling
//! glibc's allocator to keep freed memory for the next tensors ([`lpzero::alloc`]).

fn main() -> std::process::ExitCode {
    lpzero::alloc::keep_freed_memory();
    lpzero::cli::main()
}
