//! The REPL's loaded benchmark: a seeded sample of architectures gathered once (through the disk
//! cache) and kept in memory, so a new expression is scored on all of them in seconds.

use crate::bench::{Benchmark, Family};
use crate::eval::{Interpreter, Invalid, ProxyInputs};
use crate::gather::{cache::Cache, text::Corpus, GatherOptions};
use crate::lang::check::Typed;
use crate::rank::Baseline;
use crate::stats::{correlate, Correlation};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Opens the input cache for a benchmark family, gather options and corpus (`None` when off).
pub type OpenCache = Box<dyn Fn(Family, &GatherOptions, &Corpus) -> Option<Cache>>;

/// How the REPL gathers a benchmark's inputs: the model and minibatch settings and the cache.
/// The command line fills it from its flags.
pub struct GatherSettings {
    /// Seed for parameters and masking, and for the sample of architectures.
    pub seed: u64,
    /// The minibatch text.
    pub corpus: Corpus,
    /// The gather options of a benchmark family.
    pub options: Box<dyn Fn(Family) -> GatherOptions>,
    /// Opens the input cache for a family and gather options (`None` when it is off).
    pub cache: OpenCache,
}

/// A benchmark sample in memory: every selected architecture's inputs, ground truth and the
/// baselines on the same architectures.
pub struct Loaded {
    /// Where it came from.
    pub path: PathBuf,
    /// Architecture ids, in the order gathered.
    pub ids: Vec<String>,
    /// Ground truth (higher is better) for those ids.
    pub truth: Vec<f64>,
    /// Each architecture's gathered inputs.
    pub inputs: Vec<ProxyInputs>,
    /// The baselines on the same architectures, with their correlations.
    pub baselines: Vec<(Baseline, Correlation)>,
    /// Seconds spent gathering or reading the cache.
    pub gather_seconds: f64,
    /// How many architectures came from the cache.
    pub cached: usize,
    /// The gather options used.
    pub options: GatherOptions,
}

/// A proxy's result on the loaded architectures.
pub struct Ranked {
    /// Score (or why it has none) per architecture, in the order of [`Loaded::ids`].
    pub scores: Vec<Result<f64, Invalid>>,
    /// Correlation with ground truth over the valid architectures.
    pub correlation: Correlation,
    /// Seconds spent evaluating.
    pub seconds: f64,
}

impl Loaded {
    /// Loads a benchmark and gathers a seeded sample of `archs` architectures (all when `None`
    /// or larger than the benchmark). `progress(done, total, id)` is called after each one.
    pub fn load(path: &Path, archs: Option<usize>, settings: &GatherSettings, mut progress: impl FnMut(usize, usize, &str)) -> anyhow::Result<Loaded> {
        let bench = Benchmark::load(path)?;
        let options = (settings.options)(bench.family());
        let selected = crate::rank::select(bench.len(), archs, settings.seed);
        let cache = (settings.cache)(bench.family(), &options, &settings.corpus);
        let device = options.device.open()?;
        let all = crate::models::archs(&bench);
        let quality = bench.quality();
        let (mut ids, mut truth, mut inputs, mut gather_seconds, mut cached) = (vec![], vec![], vec![], 0.0, 0);
        let never = std::sync::atomic::AtomicBool::new(false);
        let (corpus, cache, opts) = (&settings.corpus, cache.as_ref(), &options);
        let work = |k: usize| crate::gather::cache::gather_cached(all[selected[k]], corpus, opts, &device, cache);
        crate::gather::parallel::ordered(selected.len(), options.device.gather_jobs(), &never, work, |done, r| {
            let (g, hit) = r?;
            let i = selected[done];
            gather_seconds += g.seconds;
            cached += hit as usize;
            inputs.push(g.inputs);
            ids.push(all[i].id());
            truth.push(quality[i]);
            progress(done + 1, selected.len(), &all[i].id());
            Ok::<(), crate::gather::GatherError>(())
        })?;
        let baselines = crate::rank::baselines(&bench, options.fidelity)?
            .into_iter()
            .map(|b| {
                let s: Vec<f64> = selected.iter().map(|&i| b.scores[i]).collect();
                let c = correlate(&s.iter().map(|&v| Some(v)).collect::<Vec<_>>(), &truth);
                (Baseline { name: b.name, scores: s }, c)
            })
            .collect();
        Ok(Loaded { path: path.to_owned(), ids, truth, inputs, baselines, gather_seconds, cached, options })
    }

    /// Number of architectures.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when none are loaded.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The position of an architecture id.
    pub fn index(&self, id: &str) -> Option<usize> {
        self.ids.iter().position(|i| i == id)
    }

    /// Scores a proxy (a tree of type one number) on every architecture in parallel and
    /// correlates the valid scores with ground truth.
    pub fn rank(&self, typed: &Typed) -> Ranked {
        let start = Instant::now();
        let scores: Vec<Result<f64, Invalid>> = self.inputs.par_iter().map(|i| Interpreter::new(i).score(typed)).collect();
        let seconds = start.elapsed().as_secs_f64();
        let opt: Vec<Option<f64>> = scores.iter().map(|r| r.as_ref().ok().copied()).collect();
        Ranked { correlation: correlate(&opt, &self.truth), scores, seconds }
    }
}
