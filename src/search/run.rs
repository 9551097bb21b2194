//! The run driver of `lpzero evolve`: a search over a [`Source`] as files in a run directory, so
//! that it can be stopped, resumed, inspected and reported on.
//!
//! Files of a run directory:
//! * `checkpoint.json`: the run's settings (what determines its result) and the search state,
//!   written at the start, every few seconds, and when the run stops; `--resume DIR` continues
//!   from it and ends exactly as an uninterrupted run would.
//! * `history.jsonl`: one [`Record`] per iteration (0 = the initial population).
//! * `best.proxy`: the best candidate on the search set, as a proxy file whose header comments say
//!   how it was found and how it did on the held-out architectures.
//! * `convergence.svg` (and `.png`): the best search-set ρ against the iteration (other runs
//!   overlaid).
//! * `summary.json`: the [`Summary`] (the held-out report in full included).
//!
//! The driver splits the source's architectures into a search set and a held-out rest with the
//! run's seed ([`super::split`]), keeps the search set's inputs in memory, runs the steady-state
//! loop, and scores the best proxy (and the paper's, when the source has one) on the held-out
//! architectures beside the baselines.

use super::fitness::SearchSet;
use super::{load_set, split, Counters, Record, Search, SearchConfig, SearchError, SearchState};
use crate::lang::table;
use crate::lang::Proxy;
use crate::progress::Progress;
use crate::rank::{rank, RankReport};
use crate::source::{Source, SourceError, SourceInfo, Subset};
use crate::stop::Stop;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a run must remember besides the search state: the settings that decide its result.
/// `S` describes how to make the source again (the front end's own settings, flattened into the
/// same JSON object).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSettings<S> {
    /// How the source is made.
    #[serde(flatten)]
    pub source: S,
    /// How the other benchmarks searched on at once are made (`evolve --bench A --bench B`).
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<S>,
    /// Architectures in the search set (`None`: the default for the source's size).
    #[serde(default)]
    pub search_archs: Option<usize>,
    /// At most this many held-out architectures (a seeded sample), or all.
    pub heldout_archs: Option<usize>,
    /// The seed of the split, the sample and the search (and, for gathered sources, of the
    /// parameters and masking).
    pub seed: u64,
    /// Other runs to overlay on the convergence plot.
    pub compare: Vec<PathBuf>,
    /// The lpzero version that started the run.
    pub version: String,
}

/// The checkpoint file.
#[derive(Serialize, Deserialize)]
struct Checkpoint<S> {
    settings: RunSettings<S>,
    state: SearchState,
}

/// A run that cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A run file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A checkpoint or history file is not what a run writes.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Inputs could not be fetched.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The search could not start.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// A setting is out of range.
    #[error("{0}")]
    Config(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io { path: path.to_owned(), source }
}

/// Reads a run directory's checkpoint.
pub fn read_checkpoint<S: DeserializeOwned>(dir: &Path) -> Result<(RunSettings<S>, SearchState), RunError> {
    let path = dir.join("checkpoint.json");
    let text = std::fs::read_to_string(&path).map_err(|source| RunError::Io { path: path.clone(), source })?;
    let cp: Checkpoint<S> = serde_json::from_str(&text).map_err(|e| RunError::Invalid { path: path.clone(), message: format!("not an evolve checkpoint: {e}") })?;
    Ok((cp.settings, cp.state))
}

/// Reads a run directory's history.
pub fn read_history(dir: &Path) -> Result<Vec<Record>, RunError> {
    let path = dir.join("history.jsonl");
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| serde_json::from_str(l).map_err(|e| RunError::Invalid { path: path.clone(), message: format!("line {}: not a history record: {e}", n + 1) }))
        .collect()
}

/// How a run is called in reports and legends.
pub fn mode_label(rps: bool, random: bool) -> String {
    match (random, rps) {
        (true, true) => "random search".into(),
        (true, false) => "random search, no RPS".into(),
        (false, true) => "evolution".into(),
        (false, false) => "evolution, no RPS".into(),
    }
}

/// How the run starts: afresh with a configuration, or from a checkpoint's state.
pub enum Start {
    /// A new run.
    New(SearchConfig),
    /// A resumed run (its configuration is the state's).
    Resume(SearchState),
}

/// Knobs that change how a run is driven, never its result.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Stop after this many iterations in all, as a stop signal would (checkpoint written).
    pub stop_after: Option<usize>,
    /// How often the checkpoint is rewritten while searching.
    pub save_every: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { stop_after: None, save_every: Duration::from_secs(10) }
    }
}

/// The best candidate of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Best {
    /// Its canonical text.
    pub text: String,
    /// Its Spearman ρ on the search set.
    pub search_spearman: Option<f64>,
    /// Its fitness, when the objective is not Spearman ρ ([`super::fitness::Objective`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_fitness: Option<f64>,
}

/// One row of the held-out table: a proxy or a baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeldoutRow {
    /// The proxy's or baseline's name (`evolved` for the run's best).
    pub name: String,
    /// The proxy's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// True for an architecture-only baseline.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub baseline: bool,
    /// Spearman ρ on the held-out architectures.
    pub spearman: Option<f64>,
    /// Kendall τ-b.
    pub kendall: Option<f64>,
    /// Architectures where it is valid.
    pub valid: usize,
    /// Architectures in all.
    #[serde(default)]
    pub total: usize,
}

/// Where the seconds went.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Seconds {
    /// Fetching the search set.
    pub gather_search_set: f64,
    /// The search.
    pub search: f64,
    /// Scoring the held-out architectures.
    pub heldout: f64,
}

/// A finished run: `summary.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// What was searched on.
    pub source: SourceInfo,
    /// Evolution or random search, with or without RPS.
    pub mode: String,
    /// The search's configuration.
    pub config: SearchConfig,
    /// Architectures in the search set.
    pub search_archs: usize,
    /// Held-out architectures scored.
    pub heldout_archs: usize,
    /// True when the held-out scoring was stopped early.
    pub heldout_interrupted: bool,
    /// The best candidate.
    pub best: Best,
    /// The evolved proxy, the paper's, and the baselines on the held-out architectures.
    pub heldout: Vec<HeldoutRow>,
    /// What the search did.
    pub counters: Counters,
    /// Where the time went.
    pub seconds: Seconds,
    /// Bytes of the search set's inputs in memory.
    pub search_set_input_bytes: usize,
    /// Peak resident memory of the process (Linux).
    pub peak_memory_bytes: Option<u64>,
    /// The held-out ranking in full (per-architecture scores included).
    pub heldout_report: RankReport,
    /// The other benchmarks searched on at once, when there were several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<AlsoBench>,
}

/// Another benchmark a run searched on (`evolve --bench A --bench B`): its search set and how the
/// best proxy did on its held-out architectures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlsoBench {
    /// The benchmark.
    pub source: SourceInfo,
    /// Architectures in its search set.
    pub search_archs: usize,
    /// The best proxy's Spearman ρ on its search set.
    pub search_spearman: Option<f64>,
    /// The evolved proxy, its family's paper proxy, and its baselines on its held-out architectures.
    pub heldout: Vec<HeldoutRow>,
    /// Its held-out ranking in full.
    pub heldout_report: RankReport,
}

/// How a run ended.
pub enum Outcome {
    /// Stopped (by the stop signal or `stop_after`) with a checkpoint written after `iteration`
    /// iterations; `gathering` when it stopped before the search began (nothing to resume).
    Stopped {
        /// Iterations done.
        iteration: usize,
        /// Whether it stopped while fetching the search set.
        gathering: bool,
    },
    /// Finished: the files are written.
    Finished(Box<Summary>),
}

/// The default size of the search set: 50, or half a source of fewer than 100 architectures.
pub fn default_search_archs(total: usize) -> usize {
    50.min(total / 2)
}

/// The split of a run: search-set and held-out positions in the source.
pub fn split_of<S>(settings: &RunSettings<S>, total: usize) -> (Vec<usize>, Vec<usize>) {
    let n = settings.search_archs.unwrap_or_else(|| default_search_archs(total));
    let (search, mut held) = split(total, n, settings.seed);
    if let Some(n) = settings.heldout_archs {
        let keep = crate::source::sample(held.len(), Some(n), settings.seed);
        held = keep.into_iter().map(|k| held[k]).collect();
    }
    (search, held)
}

/// The held-out table of a report: its proxies, then its baselines.
fn heldout_rows(report: &RankReport) -> Vec<HeldoutRow> {
    report
        .proxies
        .iter()
        .map(|p| HeldoutRow {
            name: p.proxy.clone(),
            text: Some(p.text.clone()),
            baseline: false,
            spearman: p.correlation.spearman,
            kendall: p.correlation.kendall,
            valid: p.correlation.valid,
            total: p.correlation.total,
        })
        .chain(report.baselines.iter().map(|b| HeldoutRow {
            name: b.baseline.clone(),
            text: None,
            baseline: true,
            spearman: b.correlation.spearman,
            kendall: b.correlation.kendall,
            valid: b.correlation.valid,
            total: b.correlation.total,
        }))
        .collect()
}

fn write(path: &Path, text: &str) -> Result<(), RunError> {
    crate::fsutil::write_atomic(path, text.as_bytes()).map_err(io(path))
}

/// Runs (or resumes) a search over `sources` with its files in `dir`: the first is the run's
/// benchmark; with more (`evolve --bench A --bench B`), each is split the same way, the fitness
/// combines the benchmarks' search sets ([`super::fitness::Objective::combine`]), and the best
/// proxy is scored on every benchmark's held-out architectures.
#[allow(clippy::too_many_arguments)]
pub fn evolve<S: Serialize + Clone>(
    dir: &Path,
    settings: &RunSettings<S>,
    start: Start,
    sources: &[&dyn Source],
    stop: &Stop,
    progress: &dyn Progress,
    opts: &RunOptions,
) -> Result<Outcome, RunError> {
    let config = match &start {
        Start::New(c) => c.clone(),
        Start::Resume(s) => s.config.clone(),
    };
    let source = sources[0];
    let splits: Vec<(Vec<usize>, Vec<usize>)> = sources.iter().map(|s| split_of(settings, s.len())).collect();
    for (s, (search_idx, _)) in sources.iter().zip(&splits) {
        if search_idx.len() < 3 {
            return Err(RunError::Config(format!("the search set needs at least 3 architectures (--search-archs), and {} has {}", s.info().bench, s.len())));
        }
    }
    let (search_idx, held_idx) = splits[0].clone();
    config.objective.check(&splits.iter().map(|s| s.0.len()).collect::<Vec<_>>()).map_err(RunError::Config)?;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let info = source.info();
    let label = mode_label(config.space.rps, config.random_search);
    // 1. The search sets, fetched once, one after another in memory.
    let mut loaded: Option<super::LoadedSet> = None;
    let mut sizes = vec![];
    for (s, (idx, _)) in sources.iter().zip(&splits) {
        let Some(part) = load_set(&Subset::new(*s, idx.clone()), &config.space.inputs, stop, progress)? else {
            return Ok(Outcome::Stopped { iteration: 0, gathering: true });
        };
        sizes.push(part.ids.len());
        loaded = Some(match loaded {
            None => part,
            Some(mut all) => {
                all.append(part);
                all
            }
        });
    }
    let loaded = loaded.expect("at least one source");
    let memory = loaded.bytes();
    progress.note(&format!(
        "search set gathered in {:.1} s; its inputs ({}) hold {:.2} GiB",
        loaded.seconds,
        config.space.inputs.iter().map(|i| table::input(*i).name).collect::<Vec<_>>().join(" "),
        memory as f64 / (1u64 << 30) as f64
    ));
    let gather_seconds = loaded.seconds;
    let mut set = SearchSet::new(&loaded.inputs, loaded.ids.clone(), loaded.truth.clone()).with_groups(&sizes).with_objective(config.objective, config.seed);
    // 2. The search.
    let history_path = dir.join("history.jsonl");
    let (mut search, mut history) = match start {
        Start::Resume(state) => {
            let done = state.iteration;
            let history: Vec<Record> = read_history(dir)?.into_iter().filter(|r| r.iteration <= done).collect();
            (Search::resume(state, &mut set), history)
        }
        Start::New(config) => {
            progress.note(&format!("evaluating the initial population of {} candidates on {} architectures", config.population, loaded.ids.len()));
            let (s, first) = Search::start(config, &mut set)?;
            (s, vec![first])
        }
    };
    let save = |search: &Search<'_, '_>, history: &[Record]| -> Result<(), RunError> {
        let mut lines = String::new();
        for r in history {
            lines.push_str(&serde_json::to_string(r).expect("a record serialises"));
            lines.push('\n');
        }
        write(&history_path, &lines)?;
        let cp = Checkpoint { settings: settings.clone(), state: search.state.clone() };
        write(&dir.join("checkpoint.json"), &serde_json::to_string(&cp).expect("a checkpoint serialises"))
    };
    save(&search, &history)?;
    progress.start("iterations", config.iterations);
    progress.advance(search.state.iteration, "");
    let mut last_save = Instant::now();
    while !search.finished() {
        if stop.requested() || opts.stop_after.is_some_and(|n| search.state.iteration >= n) {
            progress.finish();
            save(&search, &history)?;
            return Ok(Outcome::Stopped { iteration: search.state.iteration, gathering: false });
        }
        let r = search.step();
        progress.advance(r.iteration, &format!("best ρ {:.4}: {}", r.best.unwrap_or(f64::NAN), r.best_text));
        history.push(r);
        if last_save.elapsed() >= opts.save_every {
            save(&search, &history)?;
            last_save = Instant::now();
        }
    }
    progress.finish();
    save(&search, &history)?;
    let best = search.best().clone();
    // The fitness is the search set's Spearman ρ only for the paper's objective on one benchmark;
    // otherwise reports give both.
    let fitness_is_rho = sources.len() == 1 && config.objective.is_default();
    let by_bench: Vec<Option<f64>> = match Proxy::parse(&best.text) {
        Ok(p) if !fitness_is_rho => search.set_mut().spearman(&p.typed),
        _ => vec![best.fitness.rho()],
    };
    let best_spearman = by_bench[0];
    let counters = search.state.counters.clone();
    let search_seconds = search.state.seconds;
    drop(search);
    drop(set);
    drop(loaded);
    // 3. The held-out set, never seen by the search.
    let evolved = Proxy::parse(&best.text).map_err(|_| RunError::Config(format!("the best candidate `{}` does not check (a bug)", best.text)))?;
    let mut proxies = vec![Proxy { name: "evolved".into(), ..evolved }];
    if let Some(paper) = source.paper_proxy() {
        proxies.extend(crate::lang::stdlib::definitions().into_iter().filter(|d| d.name == paper).map(Proxy::from));
    }
    let held_start = Instant::now();
    let heldout = Subset::new(source, held_idx);
    let report = rank(&heldout, &proxies, stop, progress)?;
    let mut also = vec![];
    for (k, s) in sources.iter().enumerate().skip(1) {
        let mut theirs = vec![proxies[0].clone()];
        if let Some(paper) = s.paper_proxy() {
            theirs.extend(crate::lang::stdlib::definitions().into_iter().filter(|d| d.name == paper).map(Proxy::from));
        }
        let r = rank(&Subset::new(*s, splits[k].1.clone()), &theirs, stop, progress)?;
        also.push(AlsoBench { source: s.info(), search_archs: splits[k].0.len(), search_spearman: by_bench[k], heldout: heldout_rows(&r), heldout_report: r });
    }
    let held_seconds = held_start.elapsed().as_secs_f64();
    // 4. Files.
    let evolved = &report.proxies[0].correlation;
    let f4 = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
    let settings_text = info.settings.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
    let header = format!(
        "# Evolved by lpzero {} `evolve` ({label}).\n# benchmark: {} ({}); {settings_text}\n\
         # seed {}; population {}, iterations {}, crossover {}, mutation {}, parent pool {}, {:?}, inputs {}, RPS {}\n\
         # search set: {} architectures, Spearman {}{}\n# held-out: {} of {} architectures valid, Spearman {}, Kendall {}{}\n",
        env!("CARGO_PKG_VERSION"),
        info.bench,
        info.family.as_deref().unwrap_or("inputs"),
        config.seed,
        config.population,
        config.iterations,
        config.crossover,
        config.mutation,
        config.parent_pool,
        config.space.shape,
        config.space.inputs.iter().map(|i| table::input(*i).name).collect::<Vec<_>>().join(" "),
        if config.space.rps { "on" } else { "off" },
        search_idx.len(),
        f4(best_spearman),
        if fitness_is_rho { String::new() } else { format!(" (fitness: {} = {})", config.objective.describe(sources.len()), f4(best.fitness.rho())) },
        evolved.valid,
        evolved.total,
        f4(evolved.spearman),
        f4(evolved.kendall),
        if report.interrupted { " (interrupted: partial held-out set)" } else { "" },
    );
    let also_text: String = also
        .iter()
        .map(|a| {
            let e = &a.heldout_report.proxies[0].correlation;
            format!(
                "# also searched on: {} ({}): {} search architectures, Spearman {}; held-out: {} of {} valid, Spearman {}, Kendall {}\n",
                a.source.bench,
                a.source.family.as_deref().unwrap_or("inputs"),
                a.search_archs,
                f4(a.search_spearman),
                e.valid,
                e.total,
                f4(e.spearman),
                f4(e.kendall)
            )
        })
        .collect();
    write(&dir.join("best.proxy"), &format!("{header}{also_text}evolved = {}\n", best.text))?;
    // The plot says what its curve is: Spearman ρ on one search set, or the fitness (the worst
    // or mean over several benchmarks, folds, parsimony), and on which benchmark the held-out ρ is.
    let curve = if fitness_is_rho { label.clone() } else { format!("{label} (fitness: {})", config.objective.describe(sources.len())) };
    let mut series = vec![(curve, history.iter().map(|r| r.best).collect::<Vec<_>>())];
    for other in &settings.compare {
        let h = read_history(other)?;
        let name = read_checkpoint::<serde_json::Value>(other)
            .map(|(_, state)| mode_label(state.config.space.rps, state.config.random_search))
            .unwrap_or_else(|_| other.display().to_string());
        series.push((name, h.iter().map(|r| r.best).collect()));
    }
    let heldout_rho = report.proxies[0].correlation.spearman;
    let first = crate::plot::short_name(&info.bench);
    let names: Vec<String> = std::iter::once(first.clone()).chain(also.iter().map(|a| crate::plot::short_name(&a.source.bench))).collect();
    let sizes: Vec<String> = std::iter::once(search_idx.len()).chain(also.iter().map(|a| a.search_archs)).map(|n| n.to_string()).collect();
    let sets = if also.is_empty() { "set" } else { "sets" };
    let title = format!("{}: search {sets} of {} architectures, seed {}", names.join(" + "), sizes.join(" + "), config.seed);
    let axis = if fitness_is_rho { "best Spearman ρ on the search set".to_owned() } else { format!("best fitness on the search {sets}") };
    let heldout_of = if also.is_empty() { format!("{label}'s best proxy") } else { format!("{label}'s best proxy on {first}") };
    let stem = dir.join("convergence");
    let plot = super::plot::convergence(&title, &axis, &series, heldout_rho.map(|r| (r, heldout_of.as_str())));
    crate::plot::write_svg_and_png(&stem, &plot).map_err(io(&stem.with_extension("png")))?;
    let rows = heldout_rows(&report);
    let search_fitness = (!fitness_is_rho).then(|| best.fitness.rho()).flatten();
    let summary = Summary {
        source: info,
        mode: label,
        config,
        search_archs: search_idx.len(),
        heldout_archs: report.ids.len(),
        heldout_interrupted: report.interrupted,
        best: Best { text: best.text.clone(), search_spearman: best_spearman, search_fitness },
        heldout: rows,
        counters,
        seconds: Seconds { gather_search_set: gather_seconds, search: search_seconds, heldout: held_seconds },
        search_set_input_bytes: memory,
        peak_memory_bytes: super::peak_memory_bytes(),
        also,
        heldout_report: report,
    };
    write(&dir.join("summary.json"), &serde_json::to_string_pretty(&summary).expect("the summary serialises"))?;
    Ok(Outcome::Finished(Box::new(summary)))
}
