//! The REPL's loaded benchmark: a seeded sample of architectures gathered once (through the disk
//! cache) and kept in memory, so a new expression is scored on all of them in seconds. It is the
//! library's source for the path ([`SourceSpec::bench`]: a benchmark lpzero gathers, so that
//! `:bench builtin:tiny` resolves and builds like `--bench`, or a sub-network benchmark of a
//! pretrained model), sampled and fetched with the library's search-set loader.

use crate::eval::{Interpreter, Invalid, ProxyInputs};
use crate::gather::cache::CacheSettings;
use crate::gather::source::{GatherSpec, SourceSpec};
use crate::lang::check::Typed;
use crate::progress::Progress;
use crate::rank::Baseline;
use crate::source::{Source, Subset};
use crate::stats::{correlate, Correlation};
use crate::stop::Stop;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How the REPL gathers a benchmark's inputs: the model and minibatch flags (its `bench` is
/// replaced by each `:bench PATH`), the seed of parameters, masking and the sample, and the
/// cache.
#[derive(Clone, Debug)]
pub struct GatherSettings {
    /// The gather flags.
    pub spec: GatherSpec,
    /// Seed for parameters and masking, and for the sample of architectures.
    pub seed: u64,
    /// The input cache.
    pub cache: CacheSettings,
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
    /// The settings the inputs were gathered with, in words (`batch 2 × 16, seed 0`).
    pub settings: String,
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

/// A source's settings in a few words: `batch B × T, seed S` for a gathered benchmark, else all
/// of them.
fn settings_words(info: &crate::source::SourceInfo) -> String {
    let get = |k: &str| info.settings.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    match (get("batch"), get("seq_len"), get("seed")) {
        (Some(b), Some(t), Some(s)) => format!("batch {b} × {t}, seed {s}"),
        _ => crate::cli::settings_line(info),
    }
}

impl Loaded {
    /// Resolves a benchmark (`builtin:NAME` too) and gathers a seeded sample of `archs` of its
    /// architectures with ground truth (all when `None` or larger). `None` when `stop` was
    /// raised first.
    pub fn load(path: &Path, archs: Option<usize>, settings: &GatherSettings, stop: &Stop, progress: &dyn Progress) -> anyhow::Result<Option<Loaded>> {
        let spec = SourceSpec::bench(GatherSpec { bench: path.to_owned(), ..settings.spec.clone() });
        let source = spec.open(settings.seed, &settings.cache, stop, progress)?;
        let selected = crate::source::sample(source.len(), archs, settings.seed);
        let sample = Subset::new(&*source, selected);
        let every = crate::lang::table::all_inputs();
        let Some(set) = crate::search::load_set(&sample, &every, stop, progress)? else { return Ok(None) };
        let baselines = sample
            .baselines()
            .into_iter()
            .map(|b| {
                let c = correlate(&b.scores.iter().map(|&v| Some(v)).collect::<Vec<_>>(), &set.truth);
                (b, c)
            })
            .collect();
        Ok(Some(Loaded { path: path.to_owned(), ids: set.ids, truth: set.truth, inputs: set.inputs, baselines, gather_seconds: set.seconds, cached: set.cached, settings: settings_words(&source.info()) }))
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
