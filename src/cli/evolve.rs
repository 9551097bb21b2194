//! `lpzero evolve`: flags into the library's search configuration and run settings, the run
//! driver ([`crate::search::run`]) called, the summary printed.

use super::progress::Reporter;
use super::{settings_line, CacheArgs, LintFormat, ModelArgs, SourceSel};
use crate::gather::source::SourceSpec;
use crate::lang::syntax::BinOp;
use crate::lang::table::InputId;
use crate::search::candidate::{paper_unary_ops, SearchSpace, ShapeKind};
use crate::search::run::{self, Outcome, RunOptions, RunSettings, Start};
use crate::search::fitness::{Combine, Objective, RankCorrelation};
use crate::search::SearchConfig;
use crate::stop::Stop;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;

/// Candidate shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShapeArg {
    /// The paper's template: two inputs, `--n-unary` ops per branch, one binary op.
    Template,
    /// Any well-typed tree up to `--max-size` nodes.
    Free,
}

/// The correlation `evolve` maximises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FitnessArg {
    /// Spearman ρ (the paper's).
    Spearman,
    /// Kendall τ-b.
    Kendall,
}

/// How `evolve` combines several benchmarks' fitness.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CombineArg {
    /// The worst benchmark's.
    Worst,
    /// The mean over the benchmarks.
    Mean,
}

/// Arguments of `lpzero evolve`.
#[derive(Debug, clap::Args)]
pub struct EvolveArgs {
    /// What to search on: a benchmark or a folder of inputs files (not with `--resume`).
    #[command(flatten)]
    pub source: SourceSel,
    /// Where the run's files go (best.proxy, history.jsonl, checkpoint.json, convergence.svg and .png,
    /// summary.json).
    #[arg(long, required_unless_present = "resume")]
    pub out: Option<PathBuf>,
    /// Continue the run in this directory from its checkpoint (its settings are used; other
    /// flags are ignored, except `--iterations`, `--stop-after`, `--format` and the cache flags).
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Architectures in the search set (the rest are held out).
    /// [default: 50, or half the benchmark when it has fewer than 100]
    #[arg(long)]
    pub search_archs: Option<usize>,
    /// Score at most this many held-out architectures (a seeded sample) [default: all].
    #[arg(long)]
    pub heldout_archs: Option<usize>,
    /// Population size.
    #[arg(long, default_value_t = 80)]
    pub population: usize,
    /// Iterations (one offspring each) [default: 1000]. With `--resume`, lengthens or shortens
    /// the run: iteration i draws from a generator seeded by (seed, i) alone, so the result is
    /// the same as a run started with this many iterations.
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Crossover probability.
    #[arg(long, default_value_t = 0.5)]
    pub crossover: f64,
    /// Mutation probability.
    #[arg(long, default_value_t = 0.5)]
    pub mutation: f64,
    /// Fraction of the population, the best, that parents are drawn from.
    #[arg(long, default_value_t = 0.1)]
    pub parent_pool: f64,
    /// Candidate shape.
    #[arg(long, value_enum, default_value_t = ShapeArg::Template)]
    pub shape: ShapeArg,
    /// Unary ops per branch (template shape).
    #[arg(long, default_value_t = 2)]
    pub n_unary: usize,
    /// Largest tree in nodes (free shape).
    #[arg(long, default_value_t = 12)]
    pub max_size: usize,
    /// Inputs the candidates may read, comma-separated [default: the paper's six, A H S W G J;
    /// GA, GH and P are allowed but cost memory: the search keeps every search architecture's
    /// inputs in memory; L, D and N, the architecture's depth, width and block weight count,
    /// let a search find "size times something"]. (Called `--inputs` before `--inputs DIR` named
    /// input files.)
    #[arg(long, value_delimiter = ',', value_name = "A,H,...")]
    pub read: Vec<String>,
    /// Turn the Rule-based Pruning Strategy off (the ablation).
    #[arg(long)]
    pub no_rps: bool,
    /// Random search with the same number of offspring, instead of evolution.
    #[arg(long)]
    pub random_search: bool,
    /// Other runs' directories to overlay on the convergence plot (repeatable).
    #[arg(long, value_name = "DIR")]
    pub compare: Vec<PathBuf>,
    /// Stop after this many iterations in all, as Ctrl-C would (checkpoint written; continue
    /// with `--resume`): splits a long search into sessions.
    #[arg(long, value_name = "N")]
    pub stop_after: Option<usize>,
    /// The correlation the search maximises.
    #[arg(long, value_enum, default_value_t = FitnessArg::Spearman)]
    pub fitness: FitnessArg,
    /// Maximise the mean correlation over K seeded folds of the search set instead of the
    /// correlation on all of it (a proxy must rank every fold well).
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub folds: usize,
    /// Subtract this much per node of the candidate's syntax tree from its fitness.
    #[arg(long, value_name = "λ", default_value_t = 0.0)]
    pub parsimony: f64,
    /// With several --bench: the fitness is the worst benchmark's, or the mean over them.
    #[arg(long, value_enum, default_value_t = CombineArg::Worst)]
    pub combine: CombineArg,
    /// Output format of the final summary.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    /// Model and minibatch options; `--seed` also seeds the split and the search.
    #[command(flatten)]
    pub model: ModelArgs,
    /// The input cache (it changes no result, so a resumed run may use another).
    #[command(flatten)]
    pub cache: CacheArgs,
}

fn parse_inputs(names: &[String]) -> anyhow::Result<Vec<InputId>> {
    if names.is_empty() {
        return Ok(crate::search::candidate::PAPER_INPUTS.to_vec());
    }
    crate::search::candidate::parse_inputs(names).map_err(anyhow::Error::msg)
}

/// The search configuration the flags describe.
fn config(args: &EvolveArgs) -> anyhow::Result<SearchConfig> {
    Ok(SearchConfig {
        space: SearchSpace {
            shape: match args.shape {
                ShapeArg::Template => ShapeKind::Template { n_unary: args.n_unary },
                ShapeArg::Free => ShapeKind::Free { max_size: args.max_size },
            },
            inputs: parse_inputs(&args.read)?,
            unary: paper_unary_ops(),
            binary: BinOp::ALL.to_vec(),
            rps: !args.no_rps,
        },
        population: args.population,
        iterations: args.iterations.unwrap_or(1000),
        crossover: args.crossover,
        mutation: args.mutation,
        parent_pool: args.parent_pool,
        seed: args.model.seed,
        random_search: args.random_search,
        objective: Objective {
            correlation: match args.fitness {
                FitnessArg::Spearman => RankCorrelation::Spearman,
                FitnessArg::Kendall => RankCorrelation::Kendall,
            },
            folds: args.folds,
            parsimony: args.parsimony,
            combine: match args.combine {
                CombineArg::Worst => Combine::Worst,
                CombineArg::Mean => Combine::Mean,
            },
        },
    })
}

/// `lpzero evolve`.
pub fn evolve(args: &EvolveArgs) -> anyhow::Result<()> {
    let (dir, settings, start) = match &args.resume {
        Some(dir) => {
            let (settings, mut state) = run::read_checkpoint::<SourceSpec>(dir).map_err(|e| anyhow::anyhow!("{e} (is {} an evolve run?)", dir.display()))?;
            if let Some(n) = args.iterations {
                if n < state.iteration {
                    anyhow::bail!("the run in {} has done {} iterations already; --iterations must be at least that", dir.display(), state.iteration);
                }
                state.config.iterations = n;
            }
            (dir.clone(), settings, Start::Resume(state))
        }
        None => {
            let dir = args.out.clone().expect("clap requires --out without --resume");
            let mut specs = args.source.specs(&args.model)?;
            let first = specs.remove(0);
            let settings = RunSettings {
                source: first,
                also: specs,
                search_archs: args.search_archs,
                heldout_archs: args.heldout_archs,
                seed: args.model.seed,
                compare: args.compare.clone(),
                version: env!("CARGO_PKG_VERSION").into(),
            };
            (dir, settings, Start::New(config(args)?))
        }
    };
    let reporter = Reporter::new();
    let stop = Stop::process();
    let source = settings.source.open(settings.seed, &args.cache.settings(), &stop, &reporter)?;
    let others = settings.also.iter().map(|s| s.open(settings.seed, &args.cache.settings(), &stop, &reporter)).collect::<Result<Vec<_>, _>>()?;
    let sources: Vec<&dyn crate::source::Source> = std::iter::once(&*source).chain(others.iter().map(|s| &**s)).collect();
    let (search, held) = run::split_of(&settings, source.len());
    let (rps, random) = match &start {
        Start::New(c) => (c.space.rps, c.random_search),
        Start::Resume(s) => (s.config.space.rps, s.config.random_search),
    };
    eprintln!(
        "{} {} on {} ({} search / {} held-out architectures; {}); Ctrl-C stops after writing a checkpoint",
        if matches!(start, Start::Resume(_)) { "resuming" } else { "evolving" },
        run::mode_label(rps, random),
        settings.source.label(), search.len(), held.len(), settings_line(&source.info())
    );
    for (spec, s) in settings.also.iter().zip(&others) {
        let (search, held) = run::split_of(&settings, s.len());
        eprintln!("  and on {} ({} search / {} held-out architectures; {})", spec.label(), search.len(), held.len(), settings_line(&s.info()));
    }
    let opts = RunOptions { stop_after: args.stop_after, ..RunOptions::default() };
    let summary = match run::evolve(&dir, &settings, start, &sources, &stop, &reporter, &opts)? {
        Outcome::Stopped { gathering: true, .. } => {
            eprintln!("interrupted while gathering the search set; nothing to resume yet (gathered inputs are in the cache)");
            return Err(super::Interrupted.into());
        }
        Outcome::Stopped { iteration, .. } => {
            eprintln!("stopped after iteration {iteration}; continue with `lpzero evolve --resume {}`", dir.display());
            return if stop.requested() { Err(super::Interrupted.into()) } else { Ok(()) };
        }
        Outcome::Finished(s) => s,
    };
    if summary.heldout_interrupted {
        eprintln!("interrupted while scoring the held-out architectures: the held-out numbers are partial; run `lpzero evolve --resume {}` to score them all", dir.display());
    }
    match args.format {
        LintFormat::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        LintFormat::Text => {
            let f3 = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
            let c = &summary.counters;
            let mut out = std::io::stdout().lock();
            match summary.best.search_fitness {
                Some(f) => writeln!(
                    out,
                    "best on the search set ({} architectures{}): {} = {}, ρ{} = {}",
                    summary.search_archs,
                    if summary.also.is_empty() { String::new() } else { format!(" of each of {} benchmarks", 1 + summary.also.len()) },
                    summary.config.objective.describe(1 + summary.also.len()),
                    f3(Some(f)),
                    if summary.also.is_empty() { String::new() } else { format!(" on {}", crate::plot::short_name(&summary.source.bench)) },
                    f3(summary.best.search_spearman)
                )?,
                None => writeln!(out, "best on the search set ({} architectures): ρ = {}", summary.search_archs, f3(summary.best.search_spearman))?,
            }
            writeln!(out, "  {}", summary.best.text)?;
            writeln!(
                out,
                "evaluations {}, valid {}, reused {}, RPS rejections {}, type rejections {}, duplicates {}; search {:.1} s",
                c.evaluations, c.valid, c.reused, c.rps_rejections, c.type_rejections, c.duplicates, summary.seconds.search
            )?;
            writeln!(out, "\nheld-out set ({} architectures{}):", summary.heldout_archs, if summary.heldout_interrupted { ", interrupted" } else { "" })?;
            writeln!(out, "{:<36} {:>8} {:>8} {:>9}", "", "ρ", "τ", "valid")?;
            for r in &summary.heldout {
                writeln!(out, "{:<36} {:>8} {:>8} {:>9}", r.name, f3(r.spearman), f3(r.kendall), format!("{}/{}", r.valid, r.total))?;
            }
            for a in &summary.also {
                writeln!(out, "\nalso searched on {} (search ρ {}); held-out set ({} architectures):", a.source.bench, f3(a.search_spearman), a.heldout_report.ids.len())?;
                writeln!(out, "{:<36} {:>8} {:>8} {:>9}", "", "ρ", "τ", "valid")?;
                for r in &a.heldout {
                    writeln!(out, "{:<36} {:>8} {:>8} {:>9}", r.name, f3(r.spearman), f3(r.kendall), format!("{}/{}", r.valid, r.total))?;
                }
            }
            writeln!(out, "\nwrote {}/{{best.proxy, history.jsonl, convergence.svg, convergence.png, summary.json}}", dir.display())?;
            if let Some(p) = summary.peak_memory_bytes {
                writeln!(out, "peak memory {:.2} GiB", p as f64 / (1u64 << 30) as f64)?;
            }
        }
    }
    if summary.heldout_interrupted {
        return Err(super::Interrupted.into());
    }
    Ok(())
}
