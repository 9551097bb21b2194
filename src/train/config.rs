//! What determines a built benchmark: the [`BuildConfig`] (where the architectures come from, the
//! training and validation settings, the text), written as the manifest `bench.yaml`; a resumed
//! build must match it ([`check_manifest`]).

use super::optim::OptimConfig;
use super::space::SpaceSpec;
use crate::device::DeviceKind;
use crate::family::FamilyRef;
use crate::gather::text::Corpus;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where the training and validation text come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CorpusSpec {
    /// lpzero's built-in grammar ([`crate::gather::synthetic`]): disjoint streams for training,
    /// validation, and the proxies' minibatch.
    Grammar {
        /// Seed of the training stream.
        train_seed: u64,
        /// Seed of the validation stream.
        valid_seed: u64,
        /// Seed of the stream the proxies' minibatch comes from.
        proxy_seed: u64,
        /// Training tokens generated.
        train_tokens: usize,
        /// Validation tokens generated.
        valid_tokens: usize,
    },
    /// A text file: the last `valid_fraction` of its tokens validate, the rest train.
    File {
        /// The file.
        path: PathBuf,
        /// FNV-1a hash of its text (a resumed build must read the same text).
        fnv64: String,
        /// Fraction of the tokens held out for validation.
        valid_fraction: f64,
    },
}

impl CorpusSpec {
    /// The corpus that proxies should gather their minibatch from for a benchmark of `family`
    /// built with this spec (the same text the models were trained on, or the grammar's proxy
    /// stream).
    pub fn proxy_corpus(&self, family: FamilyRef) -> Result<Corpus, std::io::Error> {
        match self {
            CorpusSpec::Grammar { proxy_seed, .. } => Ok(family.grammar_corpus(*proxy_seed, 20_000)),
            CorpusSpec::File { path, .. } => {
                let text = std::fs::read_to_string(path).map_err(|e| std::io::Error::new(e.kind(), format!("cannot read the benchmark's corpus {}: {e}", path.display())))?;
                Ok(Corpus::new(text, path.display().to_string()))
            }
        }
    }
}

/// Where the architectures come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PlanSource {
    /// A seeded sample of a search space (its `family:` says which models).
    Space {
        /// The space.
        space: SpaceSpec,
    },
    /// A seeded sample of a published benchmark's architectures (to compare short training with
    /// the published full training).
    Benchmark {
        /// The benchmark file or directory.
        path: PathBuf,
        /// Its family, when its files do not say.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        family: Option<FamilyRef>,
    },
}

/// Everything that determines a built benchmark.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BuildConfig {
    /// Where the architectures come from.
    pub source: PlanSource,
    /// Number of architectures.
    pub archs: usize,
    /// Training steps per architecture.
    pub steps: usize,
    /// Seed of the sample, the parameters and the minibatch order.
    pub seed: u64,
    /// Sequences per training minibatch.
    pub batch: usize,
    /// Tokens per sequence.
    pub seq_len: usize,
    /// Validation windows.
    pub valid_sequences: usize,
    /// Optimiser and schedule.
    pub optim: OptimConfig,
    /// The text.
    pub corpus: CorpusSpec,
    /// Where the architectures are trained (not written when `flex`, so the manifests and the
    /// built-in benchmarks' folder names from before devices existed stay valid).
    #[serde(default = "flex", skip_serializing_if = "is_flex")]
    pub device: DeviceKind,
}

fn flex() -> DeviceKind {
    DeviceKind::Flex
}

fn is_flex(d: &DeviceKind) -> bool {
    *d == DeviceKind::Flex
}

/// The manifest written as `bench.yaml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// What wrote it.
    pub lpzero: String,
    /// The family of its architectures.
    pub family: FamilyRef,
    /// The settings.
    pub config: BuildConfig,
}

/// A problem building a benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Reading or writing files.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The output directory holds a build with other settings.
    #[error("{dir} holds a build with other settings ({what}); use another --out, or the same settings to resume")]
    Mismatch {
        /// The directory.
        dir: PathBuf,
        /// Which setting differs.
        what: String,
    },
    /// A setting is out of range or the text is unusable.
    #[error("{0}")]
    Config(String),
    /// The text cannot make minibatches.
    #[error(transparent)]
    Text(#[from] crate::gather::text::TextError),
    /// The model cannot be built.
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    /// The source benchmark cannot be read.
    #[error(transparent)]
    Bench(#[from] crate::bench::BenchError),
    /// The search space cannot sample.
    #[error(transparent)]
    Space(#[from] crate::family::space::SpaceError),
}

/// The error of an I/O failure at `path`.
pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io { path: path.to_owned(), source }
}

/// Checks a resumed build's manifest against the requested settings (`archs` may differ: a
/// build can be extended).
pub fn check_manifest(dir: &Path, cfg: &BuildConfig) -> Result<(), BuildError> {
    let path = dir.join("bench.yaml");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    let old: Manifest = serde_norway::from_str(&text).map_err(|e| BuildError::Config(format!("{}: {e}", path.display())))?;
    let mismatch = |what: &str| Err(BuildError::Mismatch { dir: dir.to_owned(), what: what.to_owned() });
    let o = &old.config;
    if o.source != cfg.source {
        return mismatch("the space or source benchmark");
    }
    if o.steps != cfg.steps {
        return mismatch(&format!("steps {} vs {}", o.steps, cfg.steps));
    }
    if o.seed != cfg.seed {
        return mismatch(&format!("seed {} vs {}", o.seed, cfg.seed));
    }
    if (o.batch, o.seq_len, o.valid_sequences) != (cfg.batch, cfg.seq_len, cfg.valid_sequences) {
        return mismatch("the minibatch or validation size");
    }
    if o.optim != cfg.optim {
        return mismatch("the optimiser settings");
    }
    if o.corpus != cfg.corpus {
        return mismatch("the corpus");
    }
    if o.device != cfg.device {
        return mismatch(&format!("device {} vs {}", o.device, cfg.device));
    }
    Ok(())
}
