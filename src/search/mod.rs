//! `lpzero evolve`: genetic programming on proxy syntax trees (and random search, its control).
//!
//! The loop is the reference's steady state (`../shared/docs/reference/GP.md` §4), made
//! deterministic: a population of `P` valid candidates; each iteration draws two parents from
//! the best `parent_pool` fraction, crosses them with probability `crossover`, mutates the child
//! with probability `mutation`, type-checks it and (with RPS) lints it, and draws again when it
//! fails or is already in the population; the child replaces the worst member. Every random draw
//! of iteration `i` comes from a generator seeded by `(seed, i)`, and fitness is a pure function
//! of the candidate, so a run stopped after iteration `i` and resumed from its checkpoint ends
//! exactly as an uninterrupted run. A candidate met before is not evaluated again: its fitness is
//! kept by canonical text.

pub mod candidate;
pub mod fitness;
pub mod plot;
pub mod run;

use candidate::{Candidate, Rejection, SearchSpace};
use fitness::{Fitness, SearchSet};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// How the search runs (everything that decides its result besides the search set).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchConfig {
    /// What candidates are made of.
    pub space: SearchSpace,
    /// Population size.
    pub population: usize,
    /// Iterations (one offspring each).
    pub iterations: usize,
    /// Probability of crossover.
    pub crossover: f64,
    /// Probability of mutation.
    pub mutation: f64,
    /// Fraction of the population (the best) that parents are drawn from.
    pub parent_pool: f64,
    /// Seed of every random draw.
    pub seed: u64,
    /// Random search: each offspring is a fresh random candidate instead.
    pub random_search: bool,
    /// What is maximised (the paper's Spearman ρ unless set; absent in older checkpoints).
    #[serde(default, skip_serializing_if = "fitness::Objective::is_default")]
    pub objective: fitness::Objective,
}

/// One member of the population.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Individual {
    /// The candidate (genome or tree).
    pub candidate: Candidate,
    /// Its canonical text.
    pub text: String,
    /// Its fitness on the search set.
    pub fitness: Fitness,
}

/// Counters over the whole run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Counters {
    /// Candidates evaluated on the search set (each canonical text once).
    pub evaluations: usize,
    /// Offspring rejected by the Rule-based Pruning Strategy.
    pub rps_rejections: usize,
    /// Offspring that did not type-check or were too large.
    pub type_rejections: usize,
    /// Offspring already in the population.
    pub duplicates: usize,
    /// Offspring met before and not evaluated again.
    pub reused: usize,
    /// Valid candidates evaluated.
    pub valid: usize,
}

/// Everything needed to continue a search: written as the checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchState {
    /// The settings.
    pub config: SearchConfig,
    /// Iterations done.
    pub iteration: usize,
    /// The population.
    pub population: Vec<Individual>,
    /// Fitness of every candidate met, by canonical text.
    pub seen: HashMap<String, Fitness>,
    /// Counters.
    pub counters: Counters,
    /// Seconds spent searching so far.
    pub seconds: f64,
}

/// What one iteration did (one line of `history.jsonl`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    /// Iteration, from 1 (0 is the initial population).
    pub iteration: usize,
    /// Best fitness in the population after it.
    pub best: Option<f64>,
    /// The best candidate's text.
    pub best_text: String,
    /// Mean fitness of the valid members.
    pub mean: Option<f64>,
    /// The offspring.
    pub candidate: String,
    /// Its ρ on the search set.
    pub fitness: Option<f64>,
    /// Why it is invalid, if it is.
    pub invalid: Option<String>,
    /// True when its fitness was known already.
    pub reused: bool,
    /// RPS rejections while producing it.
    pub rps_rejections: usize,
    /// Type (or size) rejections while producing it.
    pub type_rejections: usize,
    /// Evaluations so far.
    pub evaluations: usize,
    /// Seconds since the search started.
    pub seconds: f64,
}

/// The search could not start.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// No valid initial candidate was found.
    #[error("after {0} random candidates, fewer than two were valid on the search set; try more inputs or ops, or --no-rps")]
    NoValidCandidates(usize),
    /// A setting is out of range.
    #[error("{0}")]
    Config(String),
}

/// The generator of iteration `i` (0 = initial population).
fn rng_for(seed: u64, iteration: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (iteration as u64).wrapping_mul(0xD1B5_4A32_D192_ED03) ^ 0x1f0)
}

/// The search, over a search set.
pub struct Search<'s, 'a> {
    /// Where it stands.
    pub state: SearchState,
    set: &'s mut SearchSet<'a>,
    start: Instant,
    seconds_before: f64,
}

impl<'s, 'a> Search<'s, 'a> {
    /// Validates the settings and draws the initial population: random candidates that pass the
    /// checks and are valid on the search set, until there are `population` of them. `record`
    /// receives the iteration-0 line.
    pub fn start(config: SearchConfig, set: &'s mut SearchSet<'a>) -> Result<(Self, Record), SearchError> {
        if config.population < 2 {
            return Err(SearchError::Config("the population needs at least 2 members".into()));
        }
        if config.space.inputs.is_empty() || config.space.unary.is_empty() || config.space.binary.is_empty() {
            return Err(SearchError::Config("the search space needs inputs, unary ops and binary ops".into()));
        }
        for p in [config.crossover, config.mutation, config.parent_pool] {
            if !(0.0..=1.0).contains(&p) {
                return Err(SearchError::Config(format!("probabilities and fractions must be in [0, 1], got {p}")));
            }
        }
        let state = SearchState { config, iteration: 0, population: vec![], seen: HashMap::new(), counters: Counters::default(), seconds: 0.0 };
        let mut search = Search { state, set, start: Instant::now(), seconds_before: 0.0 };
        let mut rng = rng_for(search.state.config.seed, 0);
        let want = search.state.config.population;
        let max_draws = want * 200;
        let mut draws = 0;
        while search.state.population.len() < want && draws < max_draws {
            draws += 1;
            let c = search.state.config.space.random(&mut rng);
            let Ok(e) = search.admit(&c) else { continue };
            if search.state.population.iter().any(|i| i.text == e.text) {
                continue;
            }
            let (fitness, _) = search.evaluate(&e);
            if fitness.rho().is_some() {
                search.state.population.push(Individual { candidate: c, text: e.text, fitness });
            }
        }
        if search.state.population.len() < 2 {
            return Err(SearchError::NoValidCandidates(draws));
        }
        search.sort();
        let best = &search.state.population[0];
        let record = Record {
            iteration: 0,
            best: best.fitness.rho(),
            best_text: best.text.clone(),
            mean: search.mean(),
            candidate: best.text.clone(),
            fitness: best.fitness.rho(),
            invalid: None,
            reused: false,
            rps_rejections: search.state.counters.rps_rejections,
            type_rejections: search.state.counters.type_rejections,
            evaluations: search.state.counters.evaluations,
            seconds: search.seconds(),
        };
        Ok((search, record))
    }

    /// Continues from a checkpoint.
    pub fn resume(state: SearchState, set: &'s mut SearchSet<'a>) -> Self {
        let seconds_before = state.seconds;
        Search { state, set, start: Instant::now(), seconds_before }
    }

    fn seconds(&self) -> f64 {
        self.seconds_before + self.start.elapsed().as_secs_f64()
    }

    /// True when all iterations are done.
    pub fn finished(&self) -> bool {
        self.state.iteration >= self.state.config.iterations
    }

    fn admit(&mut self, c: &Candidate) -> Result<candidate::Expressed, Rejection> {
        let r = self.state.config.space.express(c);
        match &r {
            Err(Rejection::Rps(_)) => self.state.counters.rps_rejections += 1,
            Err(_) => self.state.counters.type_rejections += 1,
            Ok(_) => {}
        }
        r
    }

    /// Fitness of an admitted candidate, from memory when it was met before.
    fn evaluate(&mut self, e: &candidate::Expressed) -> (Fitness, bool) {
        if let Some(f) = self.state.seen.get(&e.text) {
            self.state.counters.reused += 1;
            return (f.clone(), true);
        }
        let parsimony = self.state.config.objective.parsimony;
        let f = match self.set.fitness(&e.typed) {
            Fitness::Rho(r) if parsimony != 0.0 => Fitness::Rho(r - parsimony * e.expr.size() as f64),
            f => f,
        };
        self.state.counters.evaluations += 1;
        if f.rho().is_some() {
            self.state.counters.valid += 1;
        }
        self.state.seen.insert(e.text.clone(), f.clone());
        (f, false)
    }

    /// Best first; ties by text, so the order never depends on insertion history.
    fn sort(&mut self) {
        self.state.population.sort_by(|a, b| b.fitness.value().total_cmp(&a.fitness.value()).then_with(|| a.text.cmp(&b.text)));
    }

    fn mean(&self) -> Option<f64> {
        let v: Vec<f64> = self.state.population.iter().filter_map(|i| i.fitness.rho()).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }

    /// The search set.
    pub fn set_mut(&mut self) -> &mut SearchSet<'a> {
        self.set
    }

    /// The best member.
    pub fn best(&self) -> &Individual {
        &self.state.population[0]
    }

    /// One iteration: produce an admitted offspring not in the population, evaluate it, and
    /// let it replace the worst member.
    pub fn step(&mut self) -> Record {
        let it = self.state.iteration + 1;
        let mut rng = rng_for(self.state.config.seed, it);
        let (rps0, type0) = (self.state.counters.rps_rejections, self.state.counters.type_rejections);
        let cfg = self.state.config.clone();
        let pool = ((cfg.parent_pool * cfg.population as f64).ceil() as usize).clamp(1, self.state.population.len());
        let members: HashSet<String> = self.state.population.iter().map(|i| i.text.clone()).collect();
        let mut chosen = None;
        for attempt in 0..1000 {
            let child = if cfg.random_search || attempt >= 200 {
                cfg.space.random(&mut rng)
            } else {
                let p1 = &self.state.population[rng.random_range(0..pool)].candidate;
                let p2 = &self.state.population[rng.random_range(0..pool)].candidate;
                let mut child = if rng.random_bool(cfg.crossover) { cfg.space.crossover(p1, p2, &mut rng) } else { p1.clone() };
                if rng.random_bool(cfg.mutation) {
                    child = cfg.space.mutate(&child, &mut rng);
                }
                child
            };
            let Ok(e) = self.admit(&child) else { continue };
            if members.contains(&e.text) {
                self.state.counters.duplicates += 1;
                continue;
            }
            chosen = Some((child, e));
            break;
        }
        let record_base = |s: &Self, candidate: String, fitness: &Fitness, reused: bool| Record {
            iteration: it,
            best: s.state.population[0].fitness.rho(),
            best_text: s.state.population[0].text.clone(),
            mean: s.mean(),
            candidate,
            fitness: fitness.rho(),
            invalid: match fitness {
                Fitness::Invalid(r) => Some(r.clone()),
                Fitness::Rho(_) => None,
            },
            reused,
            rps_rejections: s.state.counters.rps_rejections - rps0,
            type_rejections: s.state.counters.type_rejections - type0,
            evaluations: s.state.counters.evaluations,
            seconds: s.seconds(),
        };
        self.state.iteration = it;
        let Some((child, e)) = chosen else {
            let f = Fitness::Invalid("no admissible offspring in 1000 draws".into());
            return record_base(self, String::new(), &f, false);
        };
        let (fitness, reused) = self.evaluate(&e);
        self.state.population.pop();
        self.state.population.push(Individual { candidate: child, text: e.text.clone(), fitness: fitness.clone() });
        self.sort();
        self.state.seconds = self.seconds();
        record_base(self, e.text, &fitness, reused)
    }
}

/// The seeded split of a benchmark into a search set of `n` architectures and the held-out
/// rest, both in benchmark order.
pub fn split(total: usize, n: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    use rand::seq::SliceRandom;
    let mut idx: Vec<usize> = (0..total).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x5a17));
    let n = n.min(total);
    let (mut search, mut held) = (idx[..n].to_vec(), idx[n..].to_vec());
    search.sort_unstable();
    held.sort_unstable();
    (search, held)
}

/// Peak resident memory of this process so far, in bytes (Linux; `None` elsewhere).
pub fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The search set in memory, architecture by architecture in the source's order.
pub struct LoadedSet {
    /// Each architecture's inputs (only those the search reads).
    pub inputs: Vec<crate::eval::ProxyInputs>,
    /// Each architecture's id.
    pub ids: Vec<String>,
    /// Each architecture's ground truth (higher is better).
    pub truth: Vec<f64>,
    /// Seconds spent gathering (or reading from a cache).
    pub seconds: f64,
    /// Architectures whose inputs came from a cache.
    pub cached: usize,
}

impl LoadedSet {
    /// Appends another set's architectures after these.
    pub fn append(&mut self, other: LoadedSet) {
        self.inputs.extend(other.inputs);
        self.ids.extend(other.ids);
        self.truth.extend(other.truth);
        self.seconds += other.seconds;
        self.cached += other.cached;
    }

    /// Bytes the inputs hold.
    pub fn bytes(&self) -> usize {
        self.inputs.iter().map(|i| i.numel() * 4).sum()
    }
}

/// Fetches every architecture of `source` once, keeping only the inputs the search reads;
/// `None` when `stop` was raised first.
pub fn load_set(
    source: &dyn crate::source::Source,
    keep: &[crate::lang::table::InputId],
    stop: &crate::stop::Stop,
    progress: &dyn crate::progress::Progress,
) -> Result<Option<LoadedSet>, crate::source::SourceError> {
    let start = std::time::Instant::now();
    let (mut inputs, mut ids, mut truth, mut cached) = (vec![], vec![], vec![], 0);
    let work = |k: usize| {
        source.fetch(k, keep).map(|mut f| {
            f.inputs.retain(keep);
            f
        })
    };
    progress.start("gathering", source.len());
    let done = crate::parallel::ordered(source.len(), source.parallelism(), stop.flag(), work, |k, f| {
        let f = f?;
        cached += usize::from(f.cached);
        inputs.push(f.inputs);
        let id = source.id(k);
        progress.advance(k + 1, &id);
        ids.push(id);
        truth.push(source.truth(k));
        Ok::<(), crate::source::SourceError>(())
    });
    progress.finish();
    if done? < source.len() {
        return Ok(None);
    }
    Ok(Some(LoadedSet { inputs, ids, truth, seconds: start.elapsed().as_secs_f64(), cached }))
}
