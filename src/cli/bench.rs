//! `lpzero bench build`: flags into a [`BuildConfig`], the library's build run with progress,
//! its summary printed. (How every command resolves `--bench` is the library's,
//! [`crate::bench::resolve`].)

use super::progress::Reporter;
use super::LintFormat;
use crate::family::FamilyRef;
use crate::gather::text::Corpus;
use crate::progress::Progress;
use crate::stop::Stop;
use crate::train::config::{BuildConfig, CorpusSpec, PlanSource};
use crate::train::optim::OptimConfig;
use crate::train::result::ArchResult;
use crate::train::space::SpaceSpec;
use crate::train::trainer::StepReport;
use anyhow::Context;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    /// Build a benchmark: sample architectures, train each for K steps, write the layout the
    /// family's loader reads.
    Build(BuildArgs),
    /// Measure speed per device: gather, stdlib scoring and proxy evaluations per second on
    /// real benchmark architectures; prints a table and writes JSON.
    Speed(super::speed::SpeedArgs),
}

/// Arguments of `lpzero bench build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Model family [default: the space's or the benchmark's; when given, it must match].
    #[arg(long, value_enum)]
    pub family: Option<FamilyRef>,
    /// Search space: a shipped one by name (`tiny`, `gpt2-wt103`, `flexibert`, …: `lpzero bench
    /// build --space help` lists them), or a space YAML file (its `family:` says which models).
    #[arg(long, conflicts_with = "from_bench", required_unless_present = "from_bench")]
    pub space: Option<String>,
    /// Train a seeded sample of a published benchmark's architectures instead, and report how
    /// the K-step perplexity ranks them against the published ground truth.
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
    /// Training text (tokenised as the family does; its last 10% validates) [default: lpzero's
    /// built-in grammar, for spaces whose vocabulary fits it].
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
    /// Train only shard I of N of the plan (`I/N`, or `N`/`auto` from a Slurm job array's or a
    /// Kubernetes indexed job's index): several tasks build one benchmark in one `--out`, and
    /// `lpzero merge DIR` rewrites its files once all are done.
    #[arg(long, value_name = "I/N", num_args = 0..=1, default_missing_value = "auto")]
    pub shard: Option<String>,
    /// Output directory (an existing build with the same settings is resumed).
    #[arg(long, required_unless_present = "space")]
    pub out: Option<PathBuf>,
    /// Output format of the final summary.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
}

/// The build's settings from the flags.
fn config(args: &BuildArgs) -> anyhow::Result<BuildConfig> {
    let source = match (&args.space, &args.from_bench) {
        (Some(s), _) => PlanSource::Space { space: SpaceSpec::load(s)? },
        (None, Some(p)) => PlanSource::Benchmark { path: p.clone(), family: args.family },
        (None, None) => unreachable!("clap requires one"),
    };
    if let (Some(want), PlanSource::Space { space }) = (args.family, &source) {
        if want != space.family() {
            anyhow::bail!("--family {want} does not match the space given, which is {}", space.family());
        }
    }
    let corpus = match &args.corpus {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read corpus {}", p.display()))?;
            CorpusSpec::File { path: std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()), fnv64: format!("{:016x}", Corpus::new(text, "").hash), valid_fraction: 0.1 }
        }
        None => CorpusSpec::Grammar {
            train_seed: 1,
            valid_seed: 2,
            proxy_seed: 3,
            train_tokens: 200_000.max(args.batch * (args.seq_len + 1) * 4),
            valid_tokens: args.valid_sequences * (args.seq_len + 1) + 64,
        },
    };
    Ok(BuildConfig {
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
    })
}

/// `lpzero bench build`.
pub fn build(args: &BuildArgs) -> anyhow::Result<()> {
    if args.space.as_deref() == Some("help") {
        println!("shipped spaces: {}", SpaceSpec::shipped_names());
        return Ok(());
    }
    let Some(out) = &args.out else { anyhow::bail!("--out DIR is required: where the benchmark is written") };
    let cfg = config(args)?;
    eprintln!(
        "building {} architectures × {} steps (batch {} × {}, lr {}, seed {}) into {}; Ctrl-C stops after the architectures in training, and running again resumes",
        cfg.archs, cfg.steps, cfg.batch, cfg.seq_len, cfg.optim.lr, cfg.seed, out.display()
    );
    let reporter = if args.format == LintFormat::Json { Reporter::quiet() } else { Reporter::new() };
    let done_before = crate::train::layout::finished(out, &crate::train::build::plan(&cfg)?.archs).len();
    reporter.start("training steps", cfg.archs.saturating_sub(done_before) * cfg.steps);
    let steps = AtomicUsize::new(0);
    let finished = AtomicUsize::new(done_before);
    let on_step = |r: StepReport<'_>| {
        let n = steps.fetch_add(1, Ordering::Relaxed) + 1;
        reporter.advance(n, &format!("{} step {} loss {:.3}", r.key, r.step, r.loss));
    };
    let on_arch = |r: &ArchResult| {
        let n = finished.fetch_add(1, Ordering::Relaxed) + 1;
        if args.format == LintFormat::Json {
            return;
        }
        reporter.note(&if r.diverged {
            format!("{n}/{} {}: diverged", cfg.archs, r.key)
        } else {
            format!("{n}/{} {}: {} parameters, valid ppl {:.2} ({:.1} s)", cfg.archs, r.key, r.params, r.valid_ppl, r.seconds)
        });
    };
    let device = cfg.device.open()?;
    let shard = super::shard_of(args.shard.as_deref())?;
    if let Some(s) = shard {
        eprintln!("shard {s}: training this shard's part of the plan");
    }
    let report = crate::train::build::build(&cfg, out, shard, args.jobs, &device, &Stop::process(), &on_step, &on_arch);
    reporter.finish();
    let summary = report?.summary();
    if args.format == LintFormat::Json {
        let mut doc = serde_json::to_value(&summary)?;
        doc["out"] = out.display().to_string().into();
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return if summary.interrupted { Err(super::Interrupted.into()) } else { Ok(()) };
    }
    let f = |x: Option<f64>| x.map_or("n/a".to_owned(), |v| format!("{v:.3}"));
    println!("{:<18} {:>12} {:>12} {:>10} {:>9}", "architecture", "parameters", "non-emb", "valid ppl", "seconds");
    for r in &summary.results {
        let ppl = if r.diverged { "diverged".to_owned() } else { format!("{:.2}", r.valid_ppl) };
        println!("{:<18} {:>12} {:>12} {:>10} {:>9.1}", r.key, r.params, r.nonembedding, ppl, r.seconds);
    }
    println!(
        "\n{} of {} architectures finished ({} trained now, {} diverged), {:.1} s of training in all{}",
        summary.archs, summary.planned, summary.trained_now, summary.diverged, summary.train_seconds,
        if summary.interrupted { "; interrupted: run the same command again to resume" } else { "" }
    );
    println!(
        "K-step ground truth vs parameters: ρ {} τ {}; vs non-embedding parameters: ρ {} τ {}",
        f(summary.spearman_vs_params), f(summary.kendall_vs_params), f(summary.spearman_vs_nonembedding), f(summary.kendall_vs_nonembedding)
    );
    if let Some(a) = &summary.published {
        println!("{}-step ranking vs the published {} ({} architectures, both higher-is-better): Spearman ρ {} Kendall τ {}", cfg.steps, a.name, a.n, f(a.spearman), f(a.kendall));
    }
    println!("benchmark written to {} (load it with --bench {})", out.display(), out.display());
    if summary.interrupted {
        return Err(super::Interrupted.into());
    }
    Ok(())
}
