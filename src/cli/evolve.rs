//! `lpzero evolve`: flags, checkpoint files, progress and the final report. The search itself
//! is `crate::search`.

use super::{LintFormat, ModelArgs};
use crate::bench::Benchmark;
use crate::device::DeviceKind;
use crate::lang::syntax::BinOp;
use crate::lang::table::{self, InputId};
use crate::lang::Proxy;
use crate::search::candidate::{paper_unary_ops, SearchSpace, ShapeKind};
use crate::search::fitness::SearchSet;
use crate::search::{self, Record, Search, SearchConfig, SearchState};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Candidate shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShapeArg {
    /// The paper's template: two inputs, `--n-unary` ops per branch, one binary op.
    Template,
    /// Any well-typed tree up to `--max-size` nodes.
    Free,
}

/// Arguments of `lpzero evolve`.
#[derive(Debug, clap::Args)]
pub struct EvolveArgs {
    /// A FlexiBERT JSON file or a GPT-2 benchmark directory.
    #[arg(long, required_unless_present = "resume")]
    pub bench: Option<PathBuf>,
    /// Where the run's files go (best.proxy, history.jsonl, checkpoint.json, convergence.svg,
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
    /// inputs in memory].
    #[arg(long, value_delimiter = ',')]
    pub inputs: Vec<String>,
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
    /// Output format of the final summary.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    /// Model and minibatch options; `--seed` also seeds the split and the search.
    #[command(flatten)]
    pub model: ModelArgs,
    /// The input cache (it changes no result, so a resumed run may use another).
    #[command(flatten)]
    pub cache: super::CacheArgs,
}

/// What a checkpoint must remember besides the search state.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Settings {
    bench: PathBuf,
    /// `None`: the default for the benchmark's size.
    #[serde(default)]
    search_archs: Option<usize>,
    heldout_archs: Option<usize>,
    batch: Option<usize>,
    seq_len: Option<usize>,
    seed: u64,
    corpus: Option<PathBuf>,
    fidelity: crate::models::Fidelity,
    /// Checkpoints written before devices existed ran on flex.
    #[serde(default = "flex")]
    device: DeviceKind,
    compare: Vec<PathBuf>,
    version: String,
}

fn flex() -> DeviceKind {
    DeviceKind::Flex
}

#[derive(Serialize, Deserialize)]
struct Checkpoint {
    settings: Settings,
    state: SearchState,
}

fn parse_inputs(names: &[String]) -> anyhow::Result<Vec<InputId>> {
    if names.is_empty() {
        return Ok(crate::search::candidate::PAPER_INPUTS.to_vec());
    }
    names
        .iter()
        .map(|n| {
            table::input_by_name(n.trim()).map(|i| i.id).ok_or_else(|| {
                anyhow::anyhow!("unknown input `{n}` (inputs are {})", table::INPUTS.iter().map(|i| i.name).collect::<Vec<_>>().join(", "))
            })
        })
        .collect()
}

fn write_atomic(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn read_history(dir: &Path) -> anyhow::Result<Vec<Record>> {
    let path = dir.join("history.jsonl");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| serde_json::from_str(l).with_context(|| format!("{}:{}: not a history record", path.display(), n + 1)))
        .collect()
}

fn best_curve(history: &[Record]) -> Vec<Option<f64>> {
    history.iter().map(|r| r.best).collect()
}

fn label(settings_rps: bool, random: bool) -> String {
    match (random, settings_rps) {
        (true, true) => "random search".into(),
        (true, false) => "random search, no RPS".into(),
        (false, true) => "evolution".into(),
        (false, false) => "evolution, no RPS".into(),
    }
}

/// `lpzero evolve`.
pub fn evolve(args: &EvolveArgs) -> anyhow::Result<()> {
    let (dir, settings, resumed) = match &args.resume {
        Some(dir) => {
            let path = dir.join("checkpoint.json");
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {} (is {} an evolve run?)", path.display(), dir.display()))?;
            let cp: Checkpoint = serde_json::from_str(&text).with_context(|| format!("{} is not a valid checkpoint", path.display()))?;
            (dir.clone(), cp.settings, Some(cp.state))
        }
        None => {
            let dir = args.out.clone().expect("clap requires --out without --resume");
            let given = args.bench.clone().expect("clap requires --bench without --resume");
            let settings = Settings {
                bench: super::bench::resolve(&given, &args.cache)?.path,
                search_archs: args.search_archs,
                heldout_archs: args.heldout_archs,
                batch: args.model.batch,
                seq_len: args.model.seq_len,
                seed: args.model.seed,
                corpus: args.model.corpus.clone(),
                fidelity: args.model.fidelity,
                device: args.model.device,
                compare: args.compare.clone(),
                version: env!("CARGO_PKG_VERSION").into(),
            };
            (dir, settings, None)
        }
    };
    let mut resumed = resumed;
    if let (Some(state), Some(n)) = (&mut resumed, args.iterations) {
        if n < state.iteration {
            anyhow::bail!("the run in {} has done {} iterations already; --iterations must be at least that", dir.display(), state.iteration);
        }
        state.config.iterations = n;
    }
    let config = match &resumed {
        Some(s) => s.config.clone(),
        None => SearchConfig {
            space: SearchSpace {
                shape: match args.shape {
                    ShapeArg::Template => ShapeKind::Template { n_unary: args.n_unary },
                    ShapeArg::Free => ShapeKind::Free { max_size: args.max_size },
                },
                inputs: parse_inputs(&args.inputs)?,
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
        },
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let model = ModelArgs {
        seed: settings.seed,
        batch: settings.batch,
        seq_len: settings.seq_len,
        corpus: settings.corpus.clone(),
        fidelity: settings.fidelity,
        device: settings.device,
    };
    let resolved = super::bench::resolve(&settings.bench, &args.cache)?;
    let bench = Benchmark::load(&resolved.path)?;
    let opts = resolved.options(&model, bench.family());
    let corpus = resolved.corpus(&model)?;
    let search_archs = settings.search_archs.unwrap_or(50.min(bench.len() / 2));
    let (search_idx, mut held_idx) = search::split(bench.len(), search_archs, settings.seed);
    if let Some(n) = settings.heldout_archs {
        let keep = crate::rank::select(held_idx.len(), Some(n), settings.seed);
        held_idx = keep.into_iter().map(|k| held_idx[k]).collect();
    }
    if search_idx.len() < 3 {
        anyhow::bail!("the search set needs at least 3 architectures (--search-archs), {} has {}", settings.bench.display(), bench.len());
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
    }
    let device = opts.device.open()?;
    let cache = args.cache.open(bench.family(), &opts, &corpus);
    let text = args.format == LintFormat::Text;
    eprintln!(
        "{} {} on {} ({} search / {} held-out architectures; batch {} × {}, seed {}, corpus {}, device {}); Ctrl-C stops after writing a checkpoint",
        if resumed.is_some() { "resuming" } else { "evolving" },
        label(config.space.rps, config.random_search),
        settings.bench.display(), search_idx.len(), held_idx.len(), opts.batch, opts.seq_len, settings.seed, corpus.source, opts.device
    );
    // 1. The search set, gathered once.
    let bar = indicatif::ProgressBar::new(search_idx.len() as u64);
    bar.set_style(indicatif::ProgressStyle::with_template("{spinner} gathering {pos}/{len} [{elapsed_precise} < {eta_precise}] {msg}").expect("a valid template"));
    let gathered = search::gather_set(&bench, &search_idx, &config.space.inputs, &corpus, &opts, &device, cache.as_ref(), &stop, |_, id| {
        bar.set_message(id.to_owned());
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    let Some(search::GatheredSet { inputs, ids, truth, seconds: gather_seconds }) = gathered else {
        eprintln!("interrupted while gathering the search set; nothing to resume yet");
        return Ok(());
    };
    let memory: usize = inputs.iter().map(|i| i.numel() * 4).sum();
    if text {
        eprintln!(
            "search set gathered in {gather_seconds:.1} s; its inputs ({}) hold {:.2} GiB",
            config.space.inputs.iter().map(|i| table::input(*i).name).collect::<Vec<_>>().join(" "),
            memory as f64 / (1u64 << 30) as f64
        );
    }
    let mut set = SearchSet::new(&inputs, ids, truth);
    // 2. The search.
    let history_path = dir.join("history.jsonl");
    let (mut search, mut history) = match resumed {
        Some(state) => {
            let done = state.iteration;
            let history: Vec<Record> = read_history(&dir)?.into_iter().filter(|r| r.iteration <= done).collect();
            (Search::resume(state, &mut set), history)
        }
        None => {
            let (s, first) = Search::start(config.clone(), &mut set)?;
            (s, vec![first])
        }
    };
    let save = |search: &Search<'_, '_>, history: &[Record]| -> anyhow::Result<()> {
        let mut lines = String::new();
        for r in history {
            lines.push_str(&serde_json::to_string(r)?);
            lines.push('\n');
        }
        write_atomic(&history_path, &lines)?;
        let cp = Checkpoint { settings: settings.clone(), state: search.state.clone() };
        write_atomic(&dir.join("checkpoint.json"), &serde_json::to_string(&cp)?)
    };
    save(&search, &history)?;
    let bar = indicatif::ProgressBar::new(config.iterations as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} iteration {pos}/{len} [{elapsed_precise} < {eta_precise}] {msg}").expect("a valid template"),
    );
    bar.set_position(search.state.iteration as u64);
    let mut last_save = std::time::Instant::now();
    while !search.finished() {
        if stop.load(Ordering::SeqCst) || args.stop_after.is_some_and(|n| search.state.iteration >= n) {
            bar.finish_and_clear();
            save(&search, &history)?;
            eprintln!("stopped after iteration {}; continue with `lpzero evolve --resume {}`", search.state.iteration, dir.display());
            return Ok(());
        }
        let r = search.step();
        bar.set_message(format!("best ρ {:.4}: {}", r.best.unwrap_or(f64::NAN), r.best_text));
        bar.inc(1);
        history.push(r);
        if last_save.elapsed().as_secs() >= 10 {
            save(&search, &history)?;
            last_save = std::time::Instant::now();
        }
    }
    bar.finish_and_clear();
    save(&search, &history)?;
    let best = search.best().clone();
    let counters = search.state.counters.clone();
    let search_seconds = search.state.seconds;
    drop(search);
    drop(set);
    drop(inputs);
    // 3. The held-out set, never seen by the search, architecture by architecture.
    let paper = match bench.family() {
        crate::bench::Family::Flexibert => "lpzero_flexibert",
        crate::bench::Family::Gpt2 => "lpzero_gpt2",
    };
    let evolved = Proxy::parse(&best.text).map_err(|_| anyhow::anyhow!("the best candidate `{}` does not check (a bug)", best.text))?;
    let mut proxies = vec![Proxy { name: "evolved".into(), ..evolved }];
    proxies.extend(crate::lang::stdlib::definitions().into_iter().filter(|d| d.name == paper).map(Proxy::from));
    let bar = indicatif::ProgressBar::new(held_idx.len() as u64);
    bar.set_style(indicatif::ProgressStyle::with_template("{spinner} held-out {pos}/{len} [{elapsed_precise} < {eta_precise}] {msg}").expect("a valid template"));
    let held_start = std::time::Instant::now();
    let result = crate::rank::rank(&bench, &proxies, &held_idx, &corpus, &opts, &device, cache.as_ref(), &stop, |_, id| {
        bar.set_message(id.to_owned());
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    let held_seconds = held_start.elapsed().as_secs_f64();
    // 4. Files and the report.
    let evolved = &result.proxies[0].correlation;
    let f3 = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
    let header = format!(
        "# Evolved by lpzero {} `evolve` ({}).\n# benchmark: {} ({}, fidelity {}); batch {} x {}, corpus {}, device {}\n\
         # seed {}; population {}, iterations {}, crossover {}, mutation {}, parent pool {}, {:?}, inputs {}, RPS {}\n\
         # search set: {} architectures, Spearman {}\n# held-out: {} of {} architectures valid, Spearman {}, Kendall {}{}\n",
        env!("CARGO_PKG_VERSION"), label(config.space.rps, config.random_search),
        settings.bench.display(), name_of(&bench.family()), name_of(&settings.fidelity), opts.batch, opts.seq_len, corpus.source, opts.device,
        config.seed, config.population, config.iterations, config.crossover, config.mutation, config.parent_pool,
        config.space.shape, config.space.inputs.iter().map(|i| table::input(*i).name).collect::<Vec<_>>().join(" "),
        if config.space.rps { "on" } else { "off" },
        search_idx.len(), f3(best.fitness.rho()), evolved.valid, evolved.total, f3(evolved.spearman), f3(evolved.kendall),
        if result.interrupted { " (interrupted: partial held-out set)" } else { "" },
    );
    write_atomic(&dir.join("best.proxy"), &format!("{header}evolved = {}\n", best.text))?;
    let mut series = vec![(label(config.space.rps, config.random_search), best_curve(&history))];
    for other in &settings.compare {
        let h = read_history(other)?;
        let name = std::fs::read_to_string(other.join("checkpoint.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Checkpoint>(&t).ok())
            .map(|c| label(c.state.config.space.rps, c.state.config.random_search))
            .unwrap_or_else(|| other.display().to_string());
        series.push((name, best_curve(&h)));
    }
    let title = format!("{} search set ({} architectures), seed {}", settings.bench.display(), search_idx.len(), config.seed);
    write_atomic(&dir.join("convergence.svg"), &crate::search::plot::convergence(&title, &series))?;
    let rows: Vec<serde_json::Value> = result
        .proxies
        .iter()
        .map(|p| serde_json::json!({"name": p.name, "text": p.text, "spearman": p.correlation.spearman, "kendall": p.correlation.kendall, "valid": p.correlation.valid}))
        .chain(result.baselines.iter().map(|(b, c)| serde_json::json!({"name": b.name, "baseline": true, "spearman": c.spearman, "kendall": c.kendall, "valid": c.valid})))
        .collect();
    let summary = serde_json::json!({
        "bench": settings.bench.display().to_string(), "family": bench.family(), "fidelity": settings.fidelity,
        "mode": label(config.space.rps, config.random_search), "config": config,
        "batch": opts.batch, "seq_len": opts.seq_len, "corpus": corpus.source, "device": opts.device,
        "search_archs": search_idx.len(), "heldout_archs": result.ids.len(), "heldout_interrupted": result.interrupted,
        "best": {"text": best.text, "search_spearman": best.fitness.rho()},
        "heldout": rows,
        "counters": counters,
        "seconds": {"gather_search_set": gather_seconds, "search": search_seconds, "heldout": held_seconds},
        "search_set_input_bytes": memory,
        "peak_memory_bytes": search::peak_memory_bytes(),
    });
    write_atomic(&dir.join("summary.json"), &serde_json::to_string_pretty(&summary)?)?;
    match args.format {
        LintFormat::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        LintFormat::Text => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "best on the search set ({} architectures): ρ = {}", search_idx.len(), f3(best.fitness.rho()))?;
            writeln!(out, "  {}", best.text)?;
            writeln!(
                out,
                "evaluations {}, valid {}, reused {}, RPS rejections {}, type rejections {}, duplicates {}; search {:.1} s",
                counters.evaluations, counters.valid, counters.reused, counters.rps_rejections, counters.type_rejections, counters.duplicates, search_seconds
            )?;
            writeln!(out, "\nheld-out set ({} architectures{}):", result.ids.len(), if result.interrupted { ", interrupted" } else { "" })?;
            writeln!(out, "{:<36} {:>8} {:>8} {:>9}", "", "ρ", "τ", "valid")?;
            for p in &result.proxies {
                writeln!(out, "{:<36} {:>8} {:>8} {:>9}", p.name, f3(p.correlation.spearman), f3(p.correlation.kendall), format!("{}/{}", p.correlation.valid, p.correlation.total))?;
            }
            for (b, c) in &result.baselines {
                writeln!(out, "{:<36} {:>8} {:>8} {:>9}", b.name, f3(c.spearman), f3(c.kendall), format!("{}/{}", c.valid, c.total))?;
            }
            writeln!(out, "\nwrote {}/{{best.proxy, history.jsonl, convergence.svg, summary.json}}", dir.display())?;
            if let Some(p) = search::peak_memory_bytes() {
                writeln!(out, "peak memory {:.2} GiB", p as f64 / (1u64 << 30) as f64)?;
            }
        }
    }
    Ok(())
}

/// The serde name of a unit enum value (`flexibert`, `trained`).
fn name_of(v: &impl Serialize) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}
