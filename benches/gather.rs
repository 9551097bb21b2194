//! Speed of the gather and of scoring the stdlib, per architecture, for both families at the
//! default minibatch sizes (and, with `LPZERO_BENCH_PAPER=1`, at the paper's).
//!
//! `cargo bench --bench gather` — uses the first `LPZERO_BENCH_ARCHS` (default 5) architectures
//! of each benchmark in `../shared/data` (or `$LPZERO_DATA`); prints a table and writes
//! `target/lpzero-bench-gather.json`. Peak memory is read from /proc (Linux).

use burn::tensor::Device;
use lpzero::bench::{shared_data_dir, Benchmark};
use lpzero::eval::Interpreter;
use lpzero::gather::{gather, text::Corpus, GatherOptions};
use lpzero::lang::stdlib;
use lpzero::models;
use std::time::Instant;

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let Some(dir) = shared_data_dir() else {
        eprintln!("no benchmark data: set LPZERO_DATA or place ../shared/data beside the crate");
        return;
    };
    let n: usize = std::env::var("LPZERO_BENCH_ARCHS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let paper = std::env::var("LPZERO_BENCH_PAPER").is_ok_and(|v| v == "1");
    let corpus_path = dir.join("corpus/wikitext-2-valid.txt");
    let corpus = std::fs::read_to_string(&corpus_path).map(|t| Corpus::new(t, corpus_path.display().to_string())).unwrap_or_else(|_| Corpus::builtin());
    let device = Device::flex();
    let defs = stdlib::definitions();
    let mut rows = vec![];
    println!("{:<10} {:>8} {:>6} {:>14} {:>14} {:>16}", "family", "batch", "len", "gather s/arch", "stdlib s/arch", "stdlib w/o nuc");
    for (family, path) in [("flexibert", "benchmarks/flexibert/BERT_benchmark.json"), ("gpt2", "benchmarks/gpt2-wt103")] {
        let bench = Benchmark::load(&dir.join(path)).expect("the benchmark loads");
        let mut sizes = vec![GatherOptions::defaults(bench.family())];
        if paper {
            let (b, t) = if family == "gpt2" { (16, 192) } else { (128, 512) };
            sizes.push(GatherOptions { batch: b, seq_len: t, ..GatherOptions::defaults(bench.family()) });
        }
        for opts in sizes {
            let (mut gather_s, mut score_s, mut score_no_nuc_s) = (0.0, 0.0, 0.0);
            let archs = models::archs(&bench);
            for arch in archs.iter().take(n) {
                let t0 = Instant::now();
                let g = gather(*arch, &corpus, &opts, &device).expect("gather works");
                gather_s += t0.elapsed().as_secs_f64();
                let mut interp = Interpreter::new(&g.inputs);
                let t1 = Instant::now();
                for d in defs.iter().filter(|d| d.name != "synaptic_diversity") {
                    let _ = interp.score(&d.typed);
                }
                score_no_nuc_s += t1.elapsed().as_secs_f64();
                for d in defs.iter().filter(|d| d.name == "synaptic_diversity") {
                    let _ = interp.score(&d.typed);
                }
                score_s += t1.elapsed().as_secs_f64();
            }
            let k = n.min(archs.len()) as f64;
            println!(
                "{family:<10} {:>8} {:>6} {:>14.3} {:>14.3} {:>16.3}",
                opts.batch, opts.seq_len, gather_s / k, score_s / k, score_no_nuc_s / k
            );
            rows.push(serde_json::json!({
                "family": family, "batch": opts.batch, "seq_len": opts.seq_len, "archs": k,
                "gather_seconds_per_arch": gather_s / k, "stdlib_seconds_per_arch": score_s / k,
                "stdlib_without_nuc_seconds_per_arch": score_no_nuc_s / k,
            }));
        }
    }
    let peak = peak_rss_mib();
    if let Some(p) = peak {
        println!("peak resident memory: {p:.0} MiB");
    }
    let doc = serde_json::json!({ "device": "flex (CPU)", "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), "corpus": corpus.source, "rows": rows, "peak_rss_mib": peak });
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/lpzero-bench-gather.json");
    let _ = std::fs::write(&out, serde_json::to_string_pretty(&doc).expect("serialises"));
    println!("wrote {}", out.display());
}
