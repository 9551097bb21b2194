//! Model families behind one interface, and their registry.
//!
//! A family (FlexiBERT, GPT-2 flex, ...) decides everything about its networks: how an
//! architecture is read from a benchmark's files, its parameter declarations and the counts its
//! benchmarks publish, the forward pass and its loss, the minibatch and tokenizer, the
//! architecture-only baselines, the default and the paper's minibatch, the paper's proxy, the
//! benchmark layout `bench build` writes, and its search spaces. Two traits carry those
//! decisions: [`Family`] (one value per family, a `static`) and [`Arch`] (one architecture of
//! it). Every other stage — gather, the input cache, rank, evolve, the REPL, `bench build`,
//! `bench speed`, `params`, the command-line flags — asks these traits and never names a family.
//!
//! A new family is one module under `src/family/` and one line in [`REGISTRY`].
//!
//! Why traits and not a static table in the style of the op table: a family's decisions are
//! behaviour (a forward pass, a loader, a sampler) over its own architecture type, with a few
//! defaults that most families share (the causal-LM minibatches); trait objects give each family
//! its own types behind one interface, and the registry is still a single list.

pub mod flexibert;
pub mod gpt2;
pub mod llama;
/// Pretrained models and their sub-networks (LoNAS-style spaces, search, benchmarks), under the
/// name the front ends use: today the LLaMA-architecture decoders.
pub use llama as pretrained;
pub mod space;
pub mod transxl;

use crate::rank::reference::ReferenceScores;
use crate::bench::error::BenchError;
use crate::gather::text::{self, Corpus, TextError};
use crate::models::batch::Minibatch;
use crate::models::nn::Recorder;
use crate::models::params::{ParamSpec, ParamStore};
use crate::models::{Fidelity, ModelError};
use crate::rank::Baseline;
use crate::train::result::ArchResult;
use space::{ArchSpace, SpaceError};
use burn::tensor::Tensor;
use std::any::Any;
use std::path::Path;
use std::sync::Arc;

/// Every family lpzero knows, one entry each, in the order `--family` lists them. Recognising a
/// benchmark asks each in turn.
pub static REGISTRY: &[FamilyRef] = &[
    FamilyRef(&flexibert::FLEXIBERT),
    FamilyRef(&gpt2::GPT2),
    FamilyRef(&transxl::TRANSXL),
];

/// The training objective a family's loss implements; it decides the minibatch's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Objective {
    /// Next-token prediction ([`crate::models::batch::LmBatch`]).
    CausalLm,
    /// Masked-token prediction ([`crate::models::batch::MlmBatch`]).
    MaskedLm,
}

/// How sure a family is that a path holds one of its benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Recognition {
    /// Not this family's layout.
    No,
    /// This family's layout, but the content does not say which family (another family shares
    /// the layout).
    Layout,
    /// The content says it is this family's.
    Content,
}

/// A benchmark's architectures as a family's loader reads them.
pub struct BenchData {
    /// The architectures, in benchmark order.
    pub archs: Vec<Arc<dyn Arch>>,
    /// The ground truth of each, as the benchmark publishes it (`None`: the architecture's
    /// training never finished, or its entry is incomplete).
    pub truth: Vec<Option<f64>>,
    /// What the ground truth is (`GLUE`, `valid_ppl`, `mlm_ppl`).
    pub truth_name: &'static str,
    /// Whether a lower ground truth is better (perplexity).
    pub lower_is_better: bool,
    /// The parameter counts the benchmark publishes for each architecture, by field, if any.
    pub published_counts: Vec<Option<Vec<(String, u64)>>>,
}

/// A token stream for training, with the vocabulary its ids come from.
pub struct TokenStream {
    /// The ids.
    pub ids: Vec<u32>,
    /// One more than the largest id the tokenizer can give.
    pub vocab: usize,
}

/// A search space file shipped with lpzero (`spaces/*.yaml`, compiled in).
#[derive(Clone, Copy, Debug)]
pub struct ShippedSpace {
    /// Its name on the command line (`--space NAME`).
    pub name: &'static str,
    /// Its path in the repository, for messages.
    pub path: &'static str,
    /// The YAML text.
    pub text: &'static str,
}

/// One model family: everything lpzero needs to know about it that is not about a single
/// architecture.
pub trait Family: Send + Sync + 'static {
    /// The name on the command line, in files and in cache keys (`gpt2`).
    fn name(&self) -> &'static str;
    /// How people write it (`GPT-2 flex`).
    fn title(&self) -> &'static str;
    /// One line for `--family` help.
    fn about(&self) -> &'static str;
    /// What a benchmark of this family looks like, for error messages.
    fn benchmark_hint(&self) -> &'static str;

    /// How sure this family is that `path` holds one of its benchmarks (published, or written by
    /// `bench build`).
    fn recognise(&self, path: &Path) -> Recognition;
    /// Loads a benchmark.
    fn load(&self, path: &Path) -> Result<BenchData, BenchError>;

    /// The objective its loss implements.
    fn objective(&self) -> Objective;
    /// The default minibatch (sequences, tokens): small enough for a few seconds per
    /// architecture on 2 CPU cores.
    fn default_minibatch(&self) -> (usize, usize);
    /// The minibatch the LPZero paper used (or would have) for this family.
    fn paper_minibatch(&self) -> (usize, usize);
    /// The minibatch the gather scores architectures on: the same for every architecture; `index`
    /// picks the `index`-th of the text's minibatches (0: the one a run without
    /// `--minibatches` uses).
    fn gather_batch(&self, corpus: &Corpus, batch: usize, len: usize, seed: u64, index: usize) -> Result<Minibatch, TextError>;
    /// The whole corpus as token ids, for training (`bench build`).
    fn token_stream(&self, corpus: &Corpus) -> Result<TokenStream, TextError>;
    /// The training and validation streams of a build whose two texts are separate (the built-in
    /// grammar's streams): by default each tokenised on its own; a family whose vocabulary is
    /// made from the text makes it from the training text and reads both with it.
    fn token_streams(&self, train: &Corpus, valid: &Corpus) -> Result<(TokenStream, Vec<u32>), TextError> {
        Ok((self.token_stream(train)?, self.token_stream(valid)?.ids))
    }
    /// lpzero's built-in grammar as a corpus this family reads (`seed`, at least `min_tokens`
    /// words).
    fn grammar_corpus(&self, seed: u64, min_tokens: usize) -> Corpus {
        Corpus::grammar(seed, min_tokens)
    }
    /// The training minibatch of step `step`: the same for every architecture of a build.
    fn train_batch(&self, tokens: &[u32], batch: usize, len: usize, seed: u64, step: usize) -> Result<Minibatch, TextError> {
        Ok(Minibatch::Causal(text::causal_train_batch(tokens, batch, len, seed, step)))
    }
    /// The validation minibatches of a build: `sequences` windows, `batch` per minibatch.
    fn valid_batches(&self, tokens: &[u32], sequences: usize, batch: usize, len: usize, _seed: u64) -> Result<Vec<Minibatch>, TextError> {
        Ok(text::causal_valid_batches(tokens, sequences, batch, len).into_iter().map(Minibatch::Causal).collect())
    }
    /// Tokens of stream a training or validation window of `len` positions consumes.
    fn window(&self, len: usize) -> usize {
        len + 1
    }
    /// The shortest sequence a minibatch may have.
    fn min_seq_len(&self) -> usize {
        1
    }
    /// Whether `--fidelity` may ask for these networks.
    fn supports(&self, fidelity: Fidelity) -> bool {
        fidelity == Fidelity::Trained
    }

    /// The fields `lpzero params` reports, in order (the benchmark's own spelling).
    fn count_fields(&self) -> &'static [&'static str];
    /// The architecture-only predictors shown beside every proxy, per architecture (higher
    /// predicts better).
    fn baselines(&self, archs: &[&dyn Arch], fidelity: Fidelity) -> Result<Vec<Baseline>, ModelError>;
    /// The name of the best architecture-only ordering among [`Family::baselines`] (what a proxy
    /// must beat to know more than the configuration).
    fn best_baseline(&self) -> &'static str;
    /// The stdlib name of the paper's searched proxy for this family, if the paper has one.
    fn paper_proxy(&self) -> Option<&'static str>;
    /// The reference implementation's own per-architecture values stored beside a benchmark.
    fn reference_scores(&self, _path: &Path) -> Option<ReferenceScores> {
        None
    }
    /// The published benchmark of this family under the shared data folder (for `bench speed`).
    fn shared_benchmark(&self) -> Option<&'static str> {
        None
    }

    /// The search spaces lpzero ships for this family.
    fn shipped_spaces(&self) -> &'static [ShippedSpace];
    /// Parses a search space of this family from YAML text (`origin` names it in errors).
    fn parse_space(&self, text: &str, origin: &str) -> Result<Box<dyn ArchSpace>, SpaceError>;
    /// The key under which `bench build` files an architecture's results (`config_3_j0`).
    fn result_key(&self, arch: &dyn Arch) -> String {
        arch.id()
    }
    /// Writes an architecture's own files into its (temporary) result folder (`model_config.yaml`).
    fn write_arch(&self, dir: &Path, arch: &dyn Arch, result: &ArchResult) -> std::io::Result<()>;
    /// Rewrites the files that make `dir` a benchmark the loader reads, from the finished
    /// architectures (in plan order).
    fn write_benchmark(&self, dir: &Path, done: &[(&dyn Arch, &ArchResult)]) -> std::io::Result<()>;
}

/// One architecture of a family.
pub trait Arch: Send + Sync + std::fmt::Debug + 'static {
    /// Its family.
    fn family(&self) -> FamilyRef;
    /// Its id in the benchmark (`0`..`499`, `config_3_j7`).
    fn id(&self) -> String;
    /// Number of blocks.
    fn layers(&self) -> usize;
    /// Hidden size (for statistics within groups of equal width).
    fn width(&self) -> usize;
    /// The longest sequence it takes.
    fn positions(&self) -> usize;
    /// Its vocabulary size.
    fn vocab(&self) -> usize;
    /// Its parameter declarations.
    fn spec(&self, fidelity: Fidelity) -> Result<Vec<ParamSpec>, ModelError>;
    /// Its parameter counts in [`Family::count_fields`] order, summed from [`Arch::spec`].
    fn counts(&self, fidelity: Fidelity) -> Result<Vec<(&'static str, u64)>, ModelError>;
    /// The forward pass to the mean loss (a one-element tensor), recording what the proxy inputs
    /// need into `rec`.
    fn loss(&self, store: &ParamStore, batch: &Minibatch, rec: &mut Recorder, fidelity: Fidelity) -> Result<Tensor<1>, ModelError>;
    /// The whole definition as text: equal texts are the same network (cache file names, and
    /// repeated networks for noise ceilings).
    fn definition(&self) -> String {
        format!("{self:?}")
    }
    /// The trained network this architecture stands for, when the benchmark's labels say more
    /// than what was trained (FlexiBERT's op labels); by default its definition.
    fn trained_network(&self) -> String {
        self.definition()
    }
    /// Itself, for the family's own code to downcast.
    fn as_any(&self) -> &dyn Any;
}

/// A family, by reference: what the rest of lpzero holds. Compared, hashed, printed and
/// (de)serialised by name; `clap` offers every registered family.
#[derive(Clone, Copy)]
pub struct FamilyRef(pub &'static dyn Family);

impl std::ops::Deref for FamilyRef {
    type Target = dyn Family;
    fn deref(&self) -> &Self::Target {
        self.0
    }
}

impl FamilyRef {
    /// The registered family of a name.
    pub fn named(name: &str) -> Option<FamilyRef> {
        REGISTRY.iter().copied().find(|f| f.name() == name)
    }

    /// The names of every family, for messages.
    pub fn names() -> String {
        REGISTRY.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
    }
}

impl PartialEq for FamilyRef {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for FamilyRef {}

impl std::hash::Hash for FamilyRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name().hash(state)
    }
}

impl std::fmt::Debug for FamilyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for FamilyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for FamilyRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for FamilyRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        FamilyRef::named(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown model family `{name}` (families: {})", FamilyRef::names())))
    }
}

impl clap::ValueEnum for FamilyRef {
    fn value_variants<'a>() -> &'a [Self] {
        REGISTRY
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()).help(self.about()))
    }
}

/// The parameter counts of architectures as columns: `column("Attn")` is every architecture's
/// count of that field (0 where it has none), for baselines.
pub fn count_columns(archs: &[&dyn Arch], fidelity: Fidelity) -> Result<impl Fn(&str) -> Vec<f64>, ModelError> {
    let counts = archs.iter().map(|a| a.counts(fidelity)).collect::<Result<Vec<_>, _>>()?;
    Ok(move |name: &str| counts.iter().map(|c| c.iter().find(|(k, _)| *k == name).map_or(0.0, |(_, v)| *v as f64)).collect())
}

/// Counts parameter groups of a declaration list into named fields: each field is the sum of the
/// groups it lists (a group may count in several fields).
pub fn sum_groups(specs: &[ParamSpec], fields: &[(&'static str, &[&str])]) -> Vec<(&'static str, u64)> {
    let groups = crate::models::params::count_by_group(specs);
    fields.iter().map(|(name, parts)| (*name, parts.iter().map(|g| groups.get(g).copied().unwrap_or(0)).sum())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        for (i, f) in REGISTRY.iter().enumerate() {
            assert!(REGISTRY[i + 1..].iter().all(|g| g.name() != f.name()), "{} registered twice", f.name());
            assert_eq!(FamilyRef::named(f.name()), Some(*f));
            let json = serde_json::to_string(f).unwrap();
            assert_eq!(serde_json::from_str::<FamilyRef>(&json).unwrap(), *f);
            assert_eq!(<FamilyRef as clap::ValueEnum>::from_str(f.name(), false).unwrap(), *f);
            assert!(f.count_fields().contains(&"total") || !f.count_fields().is_empty());
            assert!(!f.shipped_spaces().is_empty());
        }
        assert!(serde_json::from_str::<FamilyRef>("\"nope\"").is_err());
    }
}
