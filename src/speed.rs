//! The speed benchmark (`lpzero bench speed`, `cargo bench --bench gather`): how long the
//! pipeline's two costly steps take on one device, on real benchmark architectures.
//!
//! For each family (FlexiBERT, GPT-2) and minibatch size (the defaults and, when asked, the
//! paper's), a seeded sample of the published benchmark's architectures is gathered on the
//! device (seconds per architecture, split into its phases), the whole stdlib is scored on each
//! (seconds per architecture), and a fixed set of random valid template candidates, the kind
//! `evolve` evaluates, is scored on the gathered set as the search does (evaluations per
//! second, one evaluation = one candidate on one architecture, and the GB/s of inputs they
//! read). Two references are measured beside them: the machine's read bandwidth
//! ([`read_bandwidth_gbs`]) and the device's matrix product ([`matmul_gflops`]). Proxy
//! evaluation runs on the host whatever the device (`crate::eval`); only the gather depends on it.

use crate::bench::Benchmark;
use crate::device::DeviceKind;
use crate::eval::{Interpreter, ProxyInputs};
use crate::family::{FamilyRef, REGISTRY};
use crate::gather::text::Corpus;
use crate::gather::{gather, GatherOptions, GatherPhases};
use crate::lang::stdlib;
use crate::lang::table::InputId;
use crate::search::candidate::{paper_unary_ops, SearchSpace, ShapeKind};
use crate::search::fitness::SearchSet;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// What to measure.
#[derive(Clone, Debug)]
pub struct SpeedConfig {
    /// Architectures per family (a seeded sample of the benchmark).
    pub archs: usize,
    /// Also measure the paper's minibatch sizes (FlexiBERT 128 × 512, GPT-2 16 × 192).
    pub paper: bool,
    /// Random template candidates scored for the evaluation rate.
    pub candidates: usize,
    /// Which family (`None`: every family with a published benchmark).
    pub family: Option<FamilyRef>,
}

/// Why a measurement failed.
#[derive(Debug, thiserror::Error)]
pub enum SpeedError {
    /// The device.
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
    /// A benchmark.
    #[error(transparent)]
    Bench(#[from] crate::bench::BenchError),
    /// A gather.
    #[error(transparent)]
    Gather(#[from] crate::gather::GatherError),
    /// The measuring child process.
    #[error("measuring device {device} failed: {message}")]
    Child {
        /// The device.
        device: DeviceKind,
        /// What happened.
        message: String,
    },
}

/// One family at one minibatch size on one device.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SpeedRow {
    /// `flexibert` or `gpt2`.
    pub family: String,
    /// Sequences per minibatch.
    pub batch: usize,
    /// Tokens per sequence.
    pub seq_len: usize,
    /// Architectures measured.
    pub archs: usize,
    /// Mean parameters of those architectures.
    pub mean_params: f64,
    /// Gather of every input, seconds per architecture.
    pub gather_seconds_per_arch: f64,
    /// Gathers of fewer inputs (what `rank` and `evolve` run for proxies that read only those),
    /// seconds per architecture.
    #[serde(default)]
    pub partial_gather_seconds: PartialGathers,
    /// The gather's phases, seconds per architecture.
    pub gather_phases: GatherPhases,
    /// Architectures gathered at once by `rank`, `evolve` and `repl` on this device
    /// ([`DeviceKind::gather_jobs`]).
    pub gather_jobs: usize,
    /// Wall seconds per architecture when gathering that many at once (the throughput those
    /// commands see; equal to a sequential gather when `gather_jobs` is 1).
    pub gather_wall_seconds_per_arch: f64,
    /// Scoring every stdlib proxy, seconds per architecture.
    pub stdlib_seconds_per_arch: f64,
    /// Candidate × architecture evaluations per second on the gathered (in-memory) inputs.
    pub evaluations_per_second: f64,
    /// GB/s of inputs those evaluations read: the bytes of the inputs each candidate valid on
    /// every architecture reads, per second of scoring it (compare [`DeviceReport::read_gbs`]).
    #[serde(default)]
    pub evaluation_read_gbs: f64,
    /// GFLOP/s of the gather's forward pass, counting the matrix products of the blocks' linear
    /// layers only (`2 · N · tokens`, `N` their weights): a lower bound of what it reaches
    /// (attention scores and the output head are not counted); compare
    /// [`DeviceReport::matmul_gflops`].
    #[serde(default)]
    pub forward_gflops: f64,
    /// Bytes of gathered inputs per architecture.
    pub input_bytes_per_arch: f64,
    /// Mean loss of the gathers (a check that devices computed the same thing).
    pub mean_loss: f64,
}

/// Seconds per architecture of gathers that run less of the model ([`crate::gather::gather`]).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct PartialGathers {
    /// Weights alone (`W`, `P`): no pass over the minibatch.
    pub weights: f64,
    /// Activations and weights (`A`, `H`, `S`, `W`, `P`): a forward pass, no backward.
    pub forward: f64,
}

impl PartialGathers {
    /// The inputs of each measured gather.
    pub const WEIGHTS: &[InputId] = &[InputId::W, InputId::P];
    /// See [`PartialGathers::WEIGHTS`].
    pub const FORWARD: &[InputId] = &[InputId::A, InputId::H, InputId::S, InputId::W, InputId::P];
}

/// One device's measurements.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeviceReport {
    /// The device.
    pub device: DeviceKind,
    /// Threads available to the process.
    pub threads: usize,
    /// The minibatch text.
    pub corpus: String,
    /// One row per family and size.
    pub rows: Vec<SpeedRow>,
    /// Peak resident memory of the process (Linux), MiB.
    pub peak_rss_mib: Option<f64>,
    /// This machine's read bandwidth, GB/s ([`read_bandwidth_gbs`]).
    #[serde(default)]
    pub read_gbs: f64,
    /// The device's f32 matrix product, GFLOP/s ([`matmul_gflops`]).
    #[serde(default)]
    pub matmul_gflops: f64,
}

/// The read bandwidth of this machine in GB/s: every thread sums its share of a 1 GiB buffer
/// (eight running sums, so the adds keep up with memory), the best of three passes. The
/// evaluation of candidates reads its inputs once per op chain, so this bounds its speed.
pub fn read_bandwidth_gbs() -> f64 {
    use rayon::prelude::*;
    const N: usize = 1 << 28;
    let data: Vec<f32> = (0..N).into_par_iter().map(|i| (i % 1000) as f32).collect();
    let chunk = N / rayon::current_num_threads().max(1) / 16;
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        let total: f32 = data
            .par_chunks(chunk.max(1 << 16))
            .map(|c| {
                let mut lanes = [0f32; 8];
                for g in c.chunks_exact(8) {
                    for (s, &x) in lanes.iter_mut().zip(g) {
                        *s += x;
                    }
                }
                lanes.iter().sum::<f32>()
            })
            .sum();
        std::hint::black_box(total);
        best = best.min(t.elapsed().as_secs_f64());
    }
    (N * 4) as f64 / best / 1e9
}

/// The device's f32 matrix product in GFLOP/s: two 1024 × 1024 matrices (the size of a large
/// model's projection over a minibatch), `2n³` operations, the best of five after one to warm
/// up; a reference for the GFLOP/s a gather reaches.
pub fn matmul_gflops(device: &burn::tensor::Device) -> f64 {
    use burn::tensor::{Distribution, Tensor};
    const N: usize = 1024;
    let a = Tensor::<2>::random([N, N], Distribution::Normal(0.0, 1.0), device);
    let b = Tensor::<2>::random([N, N], Distribution::Normal(0.0, 1.0), device);
    let mut best = f64::INFINITY;
    for k in 0..6 {
        let t = Instant::now();
        let c = a.clone().matmul(b.clone());
        std::hint::black_box(c.sum().into_scalar::<f64>());
        if k > 0 {
            best = best.min(t.elapsed().as_secs_f64());
        }
    }
    2.0 * (N as f64).powi(3) / best / 1e9
}

/// The process's peak resident memory in MiB (Linux `/proc/self/status`, `VmHWM`).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Measures one device on the shared benchmarks under `data` (the `../shared/data` layout).
/// `progress` receives a line per finished step.
pub fn measure(device: DeviceKind, data: &Path, cfg: &SpeedConfig, mut progress: impl FnMut(&str)) -> Result<DeviceReport, SpeedError> {
    let burn_device = device.open()?;
    let corpus_path = data.join("corpus/wikitext-2-valid.txt");
    let corpus = match std::fs::read_to_string(&corpus_path) {
        Ok(t) => Corpus::new(t, corpus_path.display().to_string()),
        Err(_) => Corpus::builtin(),
    };
    let defs = stdlib::definitions();
    let every = crate::gather::all_inputs();
    let mut rows = vec![];
    let families = REGISTRY.iter().filter_map(|f| f.shared_benchmark().map(|rel| (*f, rel)));
    for (family, rel) in families.filter(|(f, _)| cfg.family.is_none_or(|want| want == *f)) {
        let path = data.join(rel);
        if !path.exists() {
            progress(&format!("{family}: {} is not there; skipped", path.display()));
            continue;
        }
        let bench = Benchmark::load(&path, Some(family))?;
        let all = &bench.archs;
        let picked = crate::source::sample(all.len(), Some(cfg.archs), 0);
        let mut sizes = vec![GatherOptions { device, ..GatherOptions::defaults(family) }];
        if cfg.paper {
            let (batch, seq_len) = family.paper_minibatch();
            sizes.push(GatherOptions { batch, seq_len, ..sizes[0].clone() });
        }
        let name = family.name();
        for opts in sizes {
            let (mut gather_s, mut stdlib_s, mut loss, mut params, mut bytes) = (0.0, 0.0, 0.0, 0.0, 0.0);
            let mut linear_flops = 0.0;
            let mut phases = GatherPhases::default();
            let mut partial = PartialGathers::default();
            let mut inputs: Vec<ProxyInputs> = vec![];
            for &i in &picked {
                let g = gather(&*all[i], &corpus, &opts, &burn_device, &every)?;
                gather_s += g.seconds;
                phases.add(&g.phases);
                loss += g.loss.unwrap_or(f64::NAN);
                params += g.params as f64;
                bytes += (g.inputs.numel() * 4) as f64;
                let linear: usize = g.inputs.get(InputId::W).unwrap_or_default().iter().map(|e| e.numel()).sum();
                linear_flops += 2.0 * linear as f64 * (opts.batch * opts.seq_len) as f64;
                let t = Instant::now();
                let mut interp = Interpreter::new(&g.inputs);
                for d in &defs {
                    let _ = interp.score(&d.typed);
                }
                stdlib_s += t.elapsed().as_secs_f64();
                progress(&format!("{device} {name} {}×{} {}: gather {:.2} s", opts.batch, opts.seq_len, all[i].id(), g.seconds));
                inputs.push(g.inputs);
                partial.weights += gather(&*all[i], &corpus, &opts, &burn_device, PartialGathers::WEIGHTS)?.seconds;
                partial.forward += gather(&*all[i], &corpus, &opts, &burn_device, PartialGathers::FORWARD)?.seconds;
            }
            let k = picked.len().max(1) as f64;
            let jobs = device.gather_jobs();
            let wall = if jobs > 1 {
                let never = std::sync::atomic::AtomicBool::new(false);
                let t = Instant::now();
                crate::parallel::ordered(picked.len(), jobs, &never, |j| gather(&*all[picked[j]], &corpus, &opts, &burn_device, &every).map(|_| ()), |_, r| r)?;
                progress(&format!("{device} {name} {}×{}: {} architectures, {jobs} at a time, in {:.2} s", opts.batch, opts.seq_len, picked.len(), t.elapsed().as_secs_f64()));
                t.elapsed().as_secs_f64() / k
            } else {
                gather_s / k
            };
            let (rate, read_gbs) = evaluation_rate(&inputs, cfg.candidates);
            rows.push(SpeedRow {
                family: name.into(),
                batch: opts.batch,
                seq_len: opts.seq_len,
                archs: picked.len(),
                mean_params: params / k,
                gather_seconds_per_arch: gather_s / k,
                partial_gather_seconds: PartialGathers { weights: partial.weights / k, forward: partial.forward / k },
                gather_phases: phases.scaled(k),
                gather_jobs: jobs,
                gather_wall_seconds_per_arch: wall,
                stdlib_seconds_per_arch: stdlib_s / k,
                evaluations_per_second: rate,
                evaluation_read_gbs: read_gbs,
                forward_gflops: linear_flops / phases.forward.max(1e-9) / 1e9,
                input_bytes_per_arch: bytes / k,
                mean_loss: loss / k,
            });
        }
    }
    Ok(DeviceReport {
        device,
        threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        corpus: corpus.source.clone(),
        rows,
        peak_rss_mib: peak_rss_mib(),
        read_gbs: read_bandwidth_gbs(),
        matmul_gflops: matmul_gflops(&burn_device),
    })
}

/// Candidate × architecture evaluations per second: `n` random valid template candidates (the
/// paper's shape and inputs, seed 0) scored on every architecture through a [`SearchSet`], as
/// `evolve` scores them; and the GB/s of inputs read by those valid on every architecture (the
/// bytes of every input they read, each once per architecture, per second of their scoring).
pub fn evaluation_rate(inputs: &[ProxyInputs], n: usize) -> (f64, f64) {
    if inputs.is_empty() || n == 0 {
        return (0.0, 0.0);
    }
    let space = SearchSpace {
        shape: ShapeKind::Template { n_unary: 2 },
        inputs: crate::search::candidate::PAPER_INPUTS.to_vec(),
        unary: paper_unary_ops(),
        binary: crate::lang::syntax::BinOp::ALL.to_vec(),
        rps: true,
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut typed = vec![];
    while typed.len() < n {
        if let Ok(e) = space.express(&space.random(&mut rng)) {
            typed.push(e.typed);
        }
    }
    let truth: Vec<f64> = (0..inputs.len()).map(|i| i as f64).collect();
    let ids: Vec<String> = (0..inputs.len()).map(|i| i.to_string()).collect();
    let mut set = SearchSet::new(inputs, ids, truth);
    let (mut all, mut valid, mut bytes) = (0.0, 0.0, 0.0);
    for c in &typed {
        let t = Instant::now();
        let ok = set.fitness(c).rho().is_some();
        let seconds = t.elapsed().as_secs_f64();
        all += seconds;
        if ok {
            valid += seconds;
            bytes += inputs.iter().map(|i| i.bytes_of(&c.inputs())).sum::<usize>() as f64;
        }
    }
    ((n * inputs.len()) as f64 / all.max(1e-9), if valid > 0.0 { bytes / valid / 1e9 } else { 0.0 })
}

/// The report as a table, one line per device, family and size.
pub fn table(reports: &[DeviceReport]) -> String {
    let mut out = format!(
        "{:<9} {:<10} {:>9} {:>5} {:>9} {:>9} {:>7} {:>7} {:>7} {:>7} {:>11} {:>9} {:>9} {:>9} {:>10} {:>9} {:>11} {:>9}\n",
        "device", "family", "minibatch", "archs", "params M", "gather s", "init", "fwd", "bwd", "extract", "wall s (×j)", "W,P s", "fwd-only", "stdlib s", "evals/s", "eval GB/s", "fwd GFLOP/s", "peak MiB"
    );
    for r in reports {
        for row in &r.rows {
            out.push_str(&format!(
                "{:<9} {:<10} {:>9} {:>5} {:>9.1} {:>9.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>11} {:>9.3} {:>9.3} {:>9.3} {:>10.0} {:>9.2} {:>11.1} {:>9}\n",
                r.device.name(),
                row.family,
                format!("{}×{}", row.batch, row.seq_len),
                row.archs,
                row.mean_params / 1e6,
                row.gather_seconds_per_arch,
                row.gather_phases.init,
                row.gather_phases.forward,
                row.gather_phases.backward,
                row.gather_phases.extract,
                format!("{:.3} (×{})", row.gather_wall_seconds_per_arch, row.gather_jobs),
                row.partial_gather_seconds.weights,
                row.partial_gather_seconds.forward,
                row.stdlib_seconds_per_arch,
                row.evaluations_per_second,
                row.evaluation_read_gbs,
                row.forward_gflops,
                r.peak_rss_mib.map(|m| format!("{m:.0}")).unwrap_or_else(|| "-".into()),
            ));
        }
    }
    for r in reports {
        out.push_str(&format!("{}: read bandwidth {:.1} GB/s ({} threads), f32 matmul 1024³ {:.1} GFLOP/s\n", r.device.name(), r.read_gbs, r.threads, r.matmul_gflops));
    }
    out
}

/// Measures `device` in a child process of the binary `exe` (`lpzero bench speed --child`), so
/// that each device's peak memory is its own; the child's progress goes to this process's stderr.
pub fn measure_in_child(exe: &Path, device: DeviceKind, data: &Path, cfg: &SpeedConfig) -> Result<DeviceReport, SpeedError> {
    let fail = |message: String| SpeedError::Child { device, message };
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["bench", "speed", "--child", "--device", device.name(), "--archs", &cfg.archs.to_string(), "--candidates", &cfg.candidates.to_string()]);
    cmd.arg("--data").arg(data);
    if cfg.paper {
        cmd.arg("--paper");
    }
    if let Some(f) = cfg.family {
        cmd.args(["--family", f.name()]);
    }
    let out = cmd.stderr(std::process::Stdio::inherit()).output().map_err(|e| fail(format!("cannot start the measuring process: {e}")))?;
    if !out.status.success() {
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            if out.status.signal() == Some(9) {
                return Err(fail("the process was killed (SIGKILL), which usually means the machine ran out of memory; try fewer --archs or without --paper".into()));
            }
        }
        return Err(fail(format!("{}", out.status)));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).map_err(|e| fail(format!("the measuring process printed no report ({e})")))
}

/// The CPU model, thread count and OS, for reports.
pub fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| t.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|s| s.trim().to_owned()));
    serde_json::json!({
        "cpu": cpu,
        "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "os": std::env::consts::OS,
    })
}
