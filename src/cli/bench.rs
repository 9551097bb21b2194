//! `lpzero bench build`, and how every command resolves its `--bench` argument: a published
//! benchmark path, a benchmark built by `bench build` (whose `bench.yaml` supplies the default
//! minibatch and corpus), or `builtin:NAME`, built and cached on first use.

use super::{CacheArgs, LintFormat, ModelArgs};
use crate::gather::text::Corpus;
use crate::gather::GatherOptions;
use crate::train::build::{self, ArchResult, BuildConfig, CorpusSpec, Manifest, PlanSource, StepReport};
use crate::train::builtin;
use crate::train::optim::OptimConfig;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Arguments of `lpzero bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: BenchCommand,
}

/// The `bench` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Build a benchmark: sample architectures, train each for K steps, write the GPT-2 layout.
    Build(BuildArgs),
    /// Measure speed per device: gather, stdlib scoring and proxy evaluations per second on
    /// real benchmark architectures; prints a table and writes JSON.
    Speed(super::speed::SpeedArgs),
}

/// Model family of `bench build`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FamilyArg {
    /// GPT-2 flex decoders (ground truth: next-token validation perplexity).
    Gpt2,
    /// FlexiBERT encoders as trained (ground truth: masked-LM validation perplexity).
    Flexibert,
}

/// Arguments of `lpzero bench build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Model family [default: the space's or the benchmark's; when given, it must match].
    #[arg(long, value_enum)]
    pub family: Option<FamilyArg>,
    /// Search space: `tiny`, `gpt2-wt103`, `flexibert` (shipped in spaces/), or a space YAML
    /// file (its `family:` says which models).
    #[arg(long, conflicts_with = "from_bench", required_unless_present = "from_bench")]
    pub space: Option<String>,
    /// Train a seeded sample of a published benchmark's architectures instead (GPT-2 directory
    /// or FlexiBERT JSON), and report how the K-step perplexity ranks them against the
    /// published ground truth.
    #[arg(long, value_name = "DIR")]
    pub from_bench: Option<PathBuf>,
    /// Architectures to sample.
    #[arg(long, default_value_t = 20)]
    pub archs: usize,
    /// Training steps per architecture.
    #[arg(long, default_value_t = 200)]
    pub steps: usize,
    /// Seed of the sample, the parameters and the data order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Training text (BPE-tokenised; its last 10% validates) [default: lpzero's built-in
    /// grammar, only for spaces whose vocabulary fits its 472 words].
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Sequences per training minibatch.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 64)]
    pub seq_len: usize,
    /// Validation windows of `seq-len + 1` tokens.
    #[arg(long, default_value_t = 64)]
    pub valid_sequences: usize,
    /// Peak learning rate (AdamW; linear warm-up over the first 10% of steps, cosine to 10%).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Architectures trained at once.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Where to train (see `--device` of the other commands).
    #[arg(long, value_enum, default_value_t = crate::device::DeviceKind::DEFAULT)]
    pub device: crate::device::DeviceKind,
    /// Output directory (an existing build with the same settings is resumed).
    #[arg(long)]
    pub out: PathBuf,
    /// Output format of the final summary.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
}

/// A `--bench` argument resolved to a path, with the manifest of a built benchmark.
pub struct ResolvedBench {
    /// The benchmark file or directory.
    pub path: PathBuf,
    /// The `bench.yaml` of a benchmark built by lpzero.
    pub manifest: Option<Manifest>,
}

/// Reads `bench.yaml` of a built benchmark directory, if there is one.
pub fn read_manifest(dir: &Path) -> anyhow::Result<Option<Manifest>> {
    let path = dir.join("bench.yaml");
    if !dir.is_dir() || !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let m = serde_norway::from_str(&text).with_context(|| format!("{} is not an lpzero benchmark manifest", path.display()))?;
    Ok(Some(m))
}

/// Resolves `--bench`: `builtin:NAME` is built under the cache root on first use (progress on
/// stderr); anything else is a path.
pub fn resolve(arg: &Path, cache: &CacheArgs) -> anyhow::Result<ResolvedBench> {
    let Some(name) = builtin::name_of(arg) else {
        return Ok(ResolvedBench { path: arg.to_owned(), manifest: read_manifest(arg)? });
    };
    let cfg = builtin::config(name)?;
    let root = cache.cache.clone().or_else(crate::gather::cache::default_root).context("no place for the built-in benchmark: set --cache or $LPZERO_CACHE")?;
    let dir = builtin::dir(&root, name, &cfg);
    let done = build::finished(&dir, &build::plan(&cfg)?).len();
    if done < cfg.archs {
        eprintln!(
            "building builtin:{name} in {} ({} architectures × {} steps of the tiny space on lpzero's built-in grammar; {done} done before; once per machine)",
            dir.display(), cfg.archs, cfg.steps
        );
        let report = run_build(&cfg, &dir, 2, true)?;
        if report.interrupted {
            anyhow::bail!("interrupted while building builtin:{name}; run the command again to continue");
        }
    }
    Ok(ResolvedBench { manifest: read_manifest(&dir)?, path: dir })
}

impl ResolvedBench {
    /// Gather options: flags first, then the built benchmark's training minibatch, then the
    /// family's defaults.
    pub fn options(&self, model: &ModelArgs, family: crate::bench::Family) -> GatherOptions {
        let mut o = model.options(family);
        if let Some(m) = &self.manifest {
            o.batch = model.batch.unwrap_or(m.config.batch);
            o.seq_len = model.seq_len.unwrap_or(m.config.seq_len);
        }
        o
    }

    /// The corpus: `--corpus`, else the built benchmark's, else the built-in text.
    pub fn corpus(&self, model: &ModelArgs) -> anyhow::Result<Corpus> {
        match (&model.corpus, &self.manifest) {
            (None, Some(m)) => m.config.corpus.proxy_corpus(if m.family == "flexibert" { crate::bench::Family::Flexibert } else { crate::bench::Family::Gpt2 }),
            _ => model.corpus(),
        }
    }
}

fn stop_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let _ = ctrlc::set_handler(move || {
        if s.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    stop
}

/// Runs a build with a progress bar (steps of all architectures).
fn run_build(cfg: &BuildConfig, dir: &Path, jobs: usize, quiet_archs: bool) -> anyhow::Result<build::BuildReport> {
    let stop = stop_flag();
    let plan = build::plan(cfg)?;
    let done = build::finished(dir, &plan);
    let bar = indicatif::ProgressBar::new(((cfg.archs - done.len().min(cfg.archs)) * cfg.steps) as u64);
    bar.set_style(indicatif::ProgressStyle::with_template("{spinner} training [{elapsed_precise} < {eta_precise}] {wide_bar} {msg}").expect("a valid template"));
    let finished_now = std::sync::atomic::AtomicUsize::new(done.len());
    let on_step = |r: StepReport<'_>| {
        bar.inc(1);
        if r.step % 10 == 0 {
            bar.set_message(format!("{} step {} loss {:.3}", r.key, r.step, r.loss));
        }
    };
    let on_arch = |r: &ArchResult| {
        let n = finished_now.fetch_add(1, Ordering::Relaxed) + 1;
        let line = if r.diverged {
            format!("{}/{} {}: diverged", n, cfg.archs, r.key)
        } else {
            format!("{}/{} {}: {} parameters, valid ppl {:.2} ({:.1} s)", n, cfg.archs, r.key, r.params, r.valid_ppl, r.seconds)
        };
        if !quiet_archs {
            if bar.is_hidden() {
                // Not a terminal (a log file): one line per architecture instead of the bar.
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        }
    };
    let device = cfg.device.open()?;
    let report = build::build(cfg, dir, jobs, &device, &stop, &on_step, &on_arch);
    bar.finish_and_clear();
    report
}

fn name(f: FamilyArg) -> &'static str {
    match f {
        FamilyArg::Gpt2 => "gpt2",
        FamilyArg::Flexibert => "flexibert",
    }
}

/// `lpzero bench build`.
pub fn build_cmd(args: &BuildArgs) -> anyhow::Result<()> {
    let source = match (&args.space, &args.from_bench) {
        (Some(s), _) => PlanSource::from_space(s)?,
        (None, Some(p)) => PlanSource::Benchmark { path: p.clone() },
        (None, None) => unreachable!("clap requires one"),
    };
    let family = match &source {
        PlanSource::Space { .. } => FamilyArg::Gpt2,
        PlanSource::FlexiSpace { .. } => FamilyArg::Flexibert,
        PlanSource::Benchmark { path } => match crate::bench::Benchmark::load(path)?.family() {
            crate::bench::Family::Gpt2 => FamilyArg::Gpt2,
            crate::bench::Family::Flexibert => FamilyArg::Flexibert,
        },
    };
    if let Some(want) = args.family.filter(|&w| w != family) {
        let what = if args.space.is_some() { "space" } else { "benchmark" };
        anyhow::bail!("--family {} does not match the {what} given, which is {}", name(want), name(family));
    }
    let corpus = match &args.corpus {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read corpus {}", p.display()))?;
            CorpusSpec::File { path: std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()), fnv64: format!("{:016x}", Corpus::new(text, "").hash), valid_fraction: 0.1 }
        }
        None => CorpusSpec::Grammar { train_seed: 1, valid_seed: 2, proxy_seed: 3, train_tokens: 200_000.max(args.batch * (args.seq_len + 1) * 4), valid_tokens: args.valid_sequences * (args.seq_len + 1) + 64 },
    };
    let cfg = BuildConfig {
        source,
        archs: args.archs,
        steps: args.steps,
        seed: args.seed,
        batch: args.batch,
        seq_len: args.seq_len,
        valid_sequences: args.valid_sequences,
        optim: OptimConfig { lr: args.lr, warmup: (args.steps / 10).max(1), ..OptimConfig::default() },
        corpus,
        device: args.device,
    };
    eprintln!(
        "building {} architectures × {} steps (batch {} × {}, lr {}, seed {}) into {}; Ctrl-C stops after the architectures in training, and running again resumes",
        cfg.archs, cfg.steps, cfg.batch, cfg.seq_len, cfg.optim.lr, cfg.seed, args.out.display()
    );
    let report = run_build(&cfg, &args.out, args.jobs, args.format == LintFormat::Json)?;
    let results: Vec<&ArchResult> = report.plan.iter().filter_map(|a| report.results.get(&a.key())).collect();
    let ok: Vec<&&ArchResult> = results.iter().filter(|r| !r.diverged).collect();
    let neg_ppl: Vec<f64> = ok.iter().map(|r| -r.valid_ppl).collect();
    let corr = |x: Vec<f64>| (crate::stats::spearman(&x, &neg_ppl), crate::stats::kendall_tau_b(&x, &neg_ppl));
    let vs_params = corr(ok.iter().map(|r| r.params as f64).collect());
    let vs_nonemb = corr(ok.iter().map(|r| r.nonembedding as f64).collect());
    // Agreement with the published ground truth, both oriented higher-is-better: minus the
    // K-step perplexity against minus the published perplexity (GPT-2) or GLUE (FlexiBERT).
    let published: Vec<(f64, f64)> = ok
        .iter()
        .filter_map(|r| r.published_ppl.map(|p| (-r.valid_ppl, if family == FamilyArg::Flexibert { p } else { -p })))
        .collect();
    let vs_published = (published.len() >= 3).then(|| {
        let (k, p): (Vec<f64>, Vec<f64>) = published.iter().copied().unzip();
        (crate::stats::spearman(&k, &p), crate::stats::kendall_tau_b(&k, &p))
    });
    let seconds: f64 = results.iter().map(|r| r.seconds).sum();
    if args.format == LintFormat::Json {
        let json = serde_json::json!({
            "out": args.out, "archs": results.len(), "planned": cfg.archs, "trained_now": report.trained,
            "interrupted": report.interrupted, "diverged": results.len() - ok.len(), "train_seconds": seconds,
            "results": results,
            "spearman_vs_params": vs_params.0, "spearman_vs_nonembedding": vs_nonemb.0,
            "family": name(family),
            "published": vs_published.map(|(r, t)| serde_json::json!({"n": published.len(), "spearman": r, "kendall": t})),
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    let f = |x: Option<f64>| x.map_or("n/a".to_owned(), |v| format!("{v:.3}"));
    println!("{:<18} {:>12} {:>12} {:>10} {:>9}", "architecture", "parameters", "non-emb", "valid ppl", "seconds");
    for r in &results {
        let ppl = if r.diverged { "diverged".to_owned() } else { format!("{:.2}", r.valid_ppl) };
        println!("{:<18} {:>12} {:>12} {:>10} {:>9.1}", r.key, r.params, r.nonembedding, ppl, r.seconds);
    }
    println!(
        "\n{} of {} architectures finished ({} trained now, {} diverged), {:.1} s of training in all{}",
        results.len(), cfg.archs, report.trained, results.len() - ok.len(), seconds,
        if report.interrupted { "; interrupted: run the same command again to resume" } else { "" }
    );
    println!("K-step ground truth vs parameters: ρ {} τ {}; vs non-embedding parameters: ρ {} τ {}", f(vs_params.0), f(vs_params.1), f(vs_nonemb.0), f(vs_nonemb.1));
    if let Some((r, t)) = vs_published {
        let truth = if family == FamilyArg::Flexibert { "the published GLUE score" } else { "the published perplexity" };
        println!(
            "{}-step ranking vs {truth} ({} architectures, both higher-is-better): Spearman ρ {} Kendall τ {}",
            cfg.steps, published.len(), f(r), f(t)
        );
    }
    println!("benchmark written to {} (load it with --bench {})", args.out.display(), args.out.display());
    Ok(())
}
