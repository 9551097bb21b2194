//! `cargo bench --bench ops`: how fast the interpreter evaluates single ops and search-shaped
//! proxies, in GB/s of inputs read, against this machine's read bandwidth
//! ([`lpzero::speed::read_bandwidth_gbs`]), on one thread and on every thread.
//!
//! The inputs are made here (no benchmark data needed): per thread, `W` and `G` of 16 entries of
//! 2048 × 1024 uniform values in [−0.5, 0.5) (128 MiB each, more than the last-level cache
//! holds), from a seeded generator. Each thread evaluates its own copy, as a search scores
//! architectures on parallel threads; the memo is off so that every round computes. Each line
//! is the best of `LPZERO_BENCH_ROUNDS` (default 3) rounds; `LPZERO_BENCH_PROXIES` (proxies
//! separated by `;`, reading `W` and `G`) measures those instead of the list below. This is what
//! bounds the candidate × architecture rate of `lpzero bench speed` against the read bandwidth:
//! a search's candidates are chains of these ops, and their values must stay those of the ops
//! as written (glibc's `exp`/`ln` bits, sums in one order).

use lpzero::eval::{Interpreter, ProxyInputs, TensorEntry};
use lpzero::lang::table::{self, InputId, OpKind};
use lpzero::lang::Proxy;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

const ENTRIES: usize = 16;
const ROWS: usize = 2048;
const COLS: usize = 1024;

/// One thread's inputs: `W` and `G`, drawn from the generator seeded with `seed`.
fn inputs(seed: u64) -> ProxyInputs {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut inputs = ProxyInputs::new();
    for id in [InputId::W, InputId::G] {
        let entries = (0..ENTRIES)
            .map(|_| {
                let values: Vec<f32> = (0..ROWS * COLS).map(|_| rng.random_range(-0.5f32..0.5)).collect();
                TensorEntry::from_f32(&[ROWS, COLS], &values).expect("the shape holds the values")
            })
            .collect();
        inputs.insert(id, entries).expect("one insert per input");
    }
    inputs
}

/// The proxies measured (unless `LPZERO_BENCH_PROXIES` names others): `sum(W)`, each op of the
/// search's default set that works element by element, on a whole entry or to a scalar, applied
/// to `W` and summed; a binary op; and the best proxies of the FlexiBERT and GPT-2 default
/// searches with `W` and `G` as their inputs.
fn proxies() -> Vec<String> {
    if let Ok(list) = std::env::var("LPZERO_BENCH_PROXIES") {
        return list.split(';').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect();
    }
    let mut out = vec!["sum(W)".to_owned()];
    for op in table::OPS.iter().filter(|o| o.search && matches!(o.kind, OpKind::Elementwise | OpKind::Distribution | OpKind::Reduce)) {
        out.push(format!("sum({}(W))", op.name));
    }
    out.push("sum(W * G)".to_owned());
    out.push("avg(abslog(sq(W))) + avg(neg(std(G)))".to_owned());
    out.push("avg(mean(neg(abs(W))) - mean(softmax(G)))".to_owned());
    out
}

fn main() {
    lpzero::alloc::keep_freed_memory();
    let rounds: usize = std::env::var("LPZERO_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    let sets: Vec<ProxyInputs> = (0..all as u64).map(inputs).collect();
    let bandwidth = lpzero::speed::read_bandwidth_gbs();
    // One interpreter per thread for the whole run, as a search keeps one per architecture (its
    // inputs are checked for NaN and inf once, on first use); the memo off, so each round computes.
    let mut interpreters: Vec<Interpreter> = sets.iter().map(Interpreter::without_memo).collect();
    println!("read bandwidth {bandwidth:.1} GB/s ({all} threads); inputs W and G: {ENTRIES} entries of {ROWS} x {COLS} per thread");
    println!("{:<46} {:>11} {:>7} {:>11} {:>7}", "proxy", "1 thread", "", format!("{all} threads"), "");
    for text in proxies() {
        let proxy = match Proxy::parse(&text) {
            Ok(p) => p,
            Err(d) => {
                println!("{text:<46} not measured: {d}");
                continue;
            }
        };
        let bytes = sets[0].bytes_of(&proxy.typed.inputs());
        let mut line = format!("{text:<46}");
        for threads in [1, all] {
            let mut best = f64::INFINITY;
            // One round first, not timed: the inputs' first check (on the first proxy), and the
            // allocator's pool grown to this proxy's intermediates (fresh pages are dear here).
            for round in 0..=rounds {
                let t = Instant::now();
                let scores: Vec<_> = std::thread::scope(|s| {
                    let handles: Vec<_> = interpreters[..threads].iter_mut().map(|i| s.spawn(|| i.score(&proxy.typed))).collect();
                    handles.into_iter().map(|h| h.join().expect("a scoring thread does not panic")).collect()
                });
                if round > 0 {
                    best = best.min(t.elapsed().as_secs_f64());
                }
                std::hint::black_box(scores);
            }
            let gbs = (bytes * threads) as f64 / best / 1e9;
            line.push_str(&format!(" {:>6.2} GB/s {:>5.1}%", gbs, 100.0 * gbs / bandwidth));
        }
        println!("{line}");
    }
}
