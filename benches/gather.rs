//! `cargo bench --bench gather`: the speed benchmark of `lpzero bench speed` (`lpzero::speed`)
//! on the default device, in this process (the allocator set as the `lpzero` binary sets it,
//! [`lpzero::alloc`]).
//!
//! Uses `LPZERO_BENCH_ARCHS` (default 5) architectures of each benchmark in `../shared/data` (or
//! `$LPZERO_DATA`); `LPZERO_BENCH_PAPER=1` adds the paper's minibatch sizes. Prints a table and
//! writes `target/lpzero-bench-gather.json`. For several devices, each in its own process, use
//! `lpzero bench speed --device flex --device tch`.

use lpzero::bench::shared_data_dir;
use lpzero::device::DeviceKind;
use lpzero::speed::{self, SpeedConfig};

fn main() {
    lpzero::alloc::keep_freed_memory();
    let Some(dir) = shared_data_dir() else {
        eprintln!("no benchmark data: set LPZERO_DATA or place ../shared/data beside the crate");
        return;
    };
    let cfg = SpeedConfig {
        archs: std::env::var("LPZERO_BENCH_ARCHS").ok().and_then(|v| v.parse().ok()).unwrap_or(5),
        paper: std::env::var("LPZERO_BENCH_PAPER").is_ok_and(|v| v == "1"),
        candidates: 200,
        family: None,
    };
    let report = match speed::measure(DeviceKind::DEFAULT, &dir, &cfg, |line| eprintln!("{line}")) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    };
    print!("{}", speed::table(std::slice::from_ref(&report)));
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/lpzero-bench-gather.json");
    let _ = std::fs::write(&out, serde_json::to_string_pretty(&report).expect("serialises"));
    println!("wrote {}", out.display());
}
