//! Where ranking and search get their architectures: a [`Source`] gives each architecture's id,
//! ground truth and proxy inputs, and the architecture-only baselines to show beside a proxy.
//! Rank ([`crate::rank`]) and evolve ([`crate::search`]) see only this trait, so the same code
//! ranks a benchmark whose inputs are gathered from lpzero's own models (`crate::gather::source`),
//! a folder of input files written by any framework ([`files`]), or inputs handed over by the
//! Python package.

pub mod files;
pub mod memory;
pub mod shard;

use crate::eval::ProxyInputs;
use crate::lang::table::InputId;
use crate::rank::reference::ReferenceScores;
use crate::rank::Baseline;
use serde::{Deserialize, Serialize};

/// Why an architecture's inputs could not be had.
#[derive(Debug, thiserror::Error)]
#[error("{id}: {message}")]
pub struct SourceError {
    /// The architecture.
    pub id: String,
    /// What went wrong, with its causes.
    pub message: String,
}

impl SourceError {
    /// An error of architecture `id` from any error (its whole chain of causes kept).
    pub fn of(id: impl Into<String>, e: &(dyn std::error::Error + 'static)) -> SourceError {
        let mut message = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            message.push_str(": ");
            message.push_str(&c.to_string());
            cause = c.source();
        }
        SourceError { id: id.into(), message }
    }
}

/// Which of several minibatches and parameter initialisations a gather uses (`rank
/// --minibatches K --inits L`). The first of each, `Variant::default()`, is the one gather of a
/// run without them, so adding variants never changes the first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Variant {
    /// The minibatch: the `minibatch`-th one of the text, counting from 0.
    pub minibatch: usize,
    /// The initialisation: parameters drawn from the `init`-th seed of the architecture.
    pub init: usize,
}

impl Variant {
    /// Every variant of `minibatches` minibatches × `inits` initialisations, minibatch-major,
    /// the first first.
    pub fn grid(minibatches: usize, inits: usize) -> Vec<Variant> {
        (0..minibatches.max(1)).flat_map(|minibatch| (0..inits.max(1)).map(move |init| Variant { minibatch, init })).collect()
    }

    /// True for the default variant (the first minibatch and initialisation).
    pub fn is_first(&self) -> bool {
        *self == Variant::default()
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "minibatch {}, init {}", self.minibatch, self.init)
    }
}

/// One architecture's inputs, and where they came from.
pub struct Fetched {
    /// The inputs (at least those asked for, when the source has them).
    pub inputs: ProxyInputs,
    /// Seconds spent gathering or reading them.
    pub seconds: f64,
    /// Whether they were read from a cache rather than computed.
    pub cached: bool,
}

/// What a source is, for reports: everything a reader needs to know how the numbers were made.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// The benchmark (a path, `builtin:tiny`) or the input folder.
    pub bench: String,
    /// The model family, when known.
    pub family: Option<String>,
    /// What the ground truth is (`GLUE`, `valid_ppl`).
    pub truth: String,
    /// How the inputs were made (minibatch, seed, corpus, device, fidelity ...), as `key: value`
    /// pairs in a fixed order.
    pub settings: Vec<(String, String)>,
}

/// Labels that group architectures, for statistics within groups and noise ceilings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Groups {
    /// Depth of each architecture.
    pub depth: Vec<u64>,
    /// Width (hidden size) of each architecture.
    pub width: Vec<u64>,
    /// The trained network each architecture is (equal labels: the same network).
    pub network: Vec<String>,
}

/// A set of architectures with ground truth and inputs.
pub trait Source: Sync {
    /// Number of architectures.
    fn len(&self) -> usize;
    /// True when there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The id of architecture `k`.
    fn id(&self, k: usize) -> String;
    /// Its ground truth, higher is better.
    fn truth(&self, k: usize) -> f64;
    /// Its inputs; `need` lists the inputs the caller will read (a source may skip the rest).
    fn fetch(&self, k: usize, need: &[InputId]) -> Result<Fetched, SourceError>;
    /// How many architectures to fetch at once (one per core for CPU gathers).
    fn parallelism(&self) -> usize {
        1
    }
    /// The expected cost of fetching architecture `k`, relative to the others (what sharding
    /// balances; a parameter count for models lpzero gathers).
    fn cost(&self, _k: usize) -> f64 {
        1.0
    }
    /// The architecture-only baselines, each with a value per architecture.
    fn baselines(&self) -> Vec<Baseline> {
        vec![]
    }
    /// The name of the best architecture-only ordering among the baselines.
    fn best_baseline(&self) -> Option<&str> {
        None
    }
    /// Group labels, when the source knows the architectures.
    fn groups(&self) -> Option<Groups> {
        None
    }
    /// The reference implementation's values for these architectures, if published.
    fn reference(&self) -> Option<&ReferenceScores> {
        None
    }
    /// The stdlib name of the paper's proxy for these architectures, if there is one.
    fn paper_proxy(&self) -> Option<&str> {
        None
    }
    /// What the source is.
    fn info(&self) -> SourceInfo;
    /// The same architectures gathered with another minibatch or initialisation; `None` when the
    /// source cannot gather (a folder of inputs files holds one gather per architecture).
    fn variant(&self, _variant: Variant) -> Option<Result<Box<dyn Source>, SourceError>> {
        None
    }
}

/// Some architectures of another source, in the order given.
pub struct Subset<'a> {
    source: &'a dyn Source,
    indices: Vec<usize>,
}

impl<'a> Subset<'a> {
    /// Architectures `indices` of `source`.
    pub fn new(source: &'a dyn Source, indices: Vec<usize>) -> Subset<'a> {
        Subset { source, indices }
    }

    /// The positions in the underlying source.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }
}

impl Source for Subset<'_> {
    fn len(&self) -> usize {
        self.indices.len()
    }
    fn id(&self, k: usize) -> String {
        self.source.id(self.indices[k])
    }
    fn truth(&self, k: usize) -> f64 {
        self.source.truth(self.indices[k])
    }
    fn fetch(&self, k: usize, need: &[InputId]) -> Result<Fetched, SourceError> {
        self.source.fetch(self.indices[k], need)
    }
    fn parallelism(&self) -> usize {
        self.source.parallelism()
    }
    fn cost(&self, k: usize) -> f64 {
        self.source.cost(self.indices[k])
    }
    fn baselines(&self) -> Vec<Baseline> {
        self.source.baselines().into_iter().map(|b| Baseline { name: b.name, scores: self.indices.iter().map(|&i| b.scores[i]).collect() }).collect()
    }
    fn best_baseline(&self) -> Option<&str> {
        self.source.best_baseline()
    }
    fn groups(&self) -> Option<Groups> {
        let g = self.source.groups()?;
        let pick = |v: &[u64]| self.indices.iter().map(|&i| v[i]).collect();
        Some(Groups { depth: pick(&g.depth), width: pick(&g.width), network: self.indices.iter().map(|&i| g.network[i].clone()).collect() })
    }
    fn reference(&self) -> Option<&ReferenceScores> {
        self.source.reference()
    }
    fn paper_proxy(&self) -> Option<&str> {
        self.source.paper_proxy()
    }
    fn info(&self) -> SourceInfo {
        self.source.info()
    }
}

/// Which architectures to use: all `total`, or a seeded sample of `n` in index order.
pub fn sample(total: usize, n: Option<usize>, seed: u64) -> Vec<usize> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut idx: Vec<usize> = (0..total).collect();
    if let Some(n) = n.filter(|&n| n < total) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        idx.shuffle(&mut rng);
        idx.truncate(n);
        idx.sort_unstable();
    }
    idx
}
