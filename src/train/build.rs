//! `lpzero bench build`: train each architecture of a plan for K steps and write a benchmark the
//! loaders read: the GPT-2 directory layout, or for FlexiBERT a `benchmark.json` in the
//! published file's format with `scores.mlm_ppl` (masked-LM validation perplexity) as ground
//! truth.
//!
//! Layout of `DIR` (GPT-2; FlexiBERT keeps `arch_<id>/` folders and `benchmark.json` instead of
//! the config folders and summaries):
//! * `bench.yaml`: the manifest: every setting that determines the numbers (space or source
//!   benchmark, steps, seed, minibatch, optimiser, corpus and its hash, lpzero version). A
//!   resumed build must match it.
//! * `config_<c>/j<j>/model_config.yaml`, `train.csv` (step, loss, learning rate, gradient
//!   norm), `result.yaml` (validation loss and perplexity, seconds, parameters). A folder appears
//!   only when its architecture has finished (it is written under a temporary name and renamed),
//!   so an interrupted build leaves only whole results, and resuming trains only what is missing.
//! * `ppl_summary.yaml` (`valid_ppl`, `valid_loss`, `steps`, `train_seconds` per key) and
//!   `params_summary.yaml` (the five counts of the published benchmark), rewritten after each
//!   architecture.
//!
//! An architecture whose training loss becomes NaN or infinite is recorded as diverged
//! (`result.yaml` only, no `model_config.yaml`), so the loader leaves it out; the summary says so.
//!
//! Training: every architecture sees the same minibatches (step `s` draws `batch` random windows
//! of `seq_len + 1` tokens from the training tokens with a generator seeded by (seed, s); for
//! FlexiBERT, windows of `seq_len − 2` tokens wrapped in `[CLS] … [SEP]` with 15% masked),
//! parameters are drawn as the gather draws them (seed and key), dropout is off, and the update is
//! AdamW ([`super::optim`]). Validation: the mean next-token loss over the first
//! `valid_sequences` consecutive windows of the validation tokens; perplexity is its exponential.

use super::optim::{learning_rate, AdamW, OptimConfig};
use super::space::{model_config_yaml, AnySpace, FlexiSpace, Space};
use crate::bench::{Benchmark, FlexiArch, Gpt2Arch, LayerOp};
use crate::gather::arch_seed;
use crate::gather::text::{self, Corpus, TextError};
use crate::models::flexibert::{self, MlmBatch};
use crate::models::gpt2::{self, LmBatch};
use crate::models::nn::Recorder;
use crate::models::params::ParamStore;
use crate::models::{self, ArchRef, Fidelity};
use crate::device::DeviceKind;
use burn::tensor::Device;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

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
    /// A text file, BPE-tokenised: the last `valid_fraction` of its tokens validate, the rest
    /// train.
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
    /// The corpus that proxies should gather their minibatch from for a benchmark built with
    /// this spec (the same text the models were trained on, or the grammar's proxy stream).
    pub fn proxy_corpus(&self, family: crate::bench::Family) -> anyhow::Result<Corpus> {
        match self {
            CorpusSpec::Grammar { proxy_seed, .. } => Ok(match family {
                crate::bench::Family::Gpt2 => Corpus::grammar(*proxy_seed, 20_000),
                // FlexiBERT reads BPE text: the grammar's words, BPE-tokenised.
                crate::bench::Family::Flexibert => Corpus::new(crate::gather::synthetic::text(*proxy_seed, 20_000), format!("grammar:{proxy_seed}")),
            }),
            CorpusSpec::File { path, .. } => {
                let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read the benchmark's corpus {}: {e}", path.display()))?;
                Ok(Corpus::new(text, path.display().to_string()))
            }
        }
    }
}

/// Where the architectures come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PlanSource {
    /// A seeded sample of a GPT-2 search space.
    Space {
        /// The space.
        space: Box<Space>,
    },
    /// A seeded sample of a FlexiBERT search space.
    FlexiSpace {
        /// The space.
        space: Box<FlexiSpace>,
    },
    /// A seeded sample of a published benchmark's architectures (to compare short training with
    /// the published full training).
    Benchmark {
        /// The benchmark directory.
        path: PathBuf,
    },
}

impl PlanSource {
    /// The source of a space file or shipped space name.
    pub fn from_space(spec: &str) -> Result<PlanSource, super::space::SpaceError> {
        Ok(match AnySpace::load(spec)? {
            AnySpace::Gpt2(space) => PlanSource::Space { space: Box::new(space) },
            AnySpace::Flexibert(space) => PlanSource::FlexiSpace { space: Box::new(space) },
        })
    }
}

/// An architecture of a build, of either family.
#[derive(Clone, Debug)]
pub enum Planned {
    /// A GPT-2 flex decoder.
    Gpt2(Gpt2Arch),
    /// A FlexiBERT encoder (networks as trained).
    Flexi(FlexiArch),
}

impl Planned {
    /// The key of its results: `config_<c>_j<j>`, or `arch_<id>` for FlexiBERT.
    pub fn key(&self) -> String {
        match self {
            Planned::Gpt2(a) => a.key.clone(),
            Planned::Flexi(a) => format!("arch_{}", a.id),
        }
    }

    /// The architecture as the models take it.
    pub fn arch(&self) -> ArchRef<'_> {
        match self {
            Planned::Gpt2(a) => ArchRef::Gpt2(a),
            Planned::Flexi(a) => ArchRef::Flexi(a),
        }
    }

    /// The published ground truth, for architectures taken from a benchmark: GPT-2 validation
    /// perplexity or FlexiBERT GLUE.
    pub fn published(&self) -> Option<f64> {
        let v = match self {
            Planned::Gpt2(a) => a.valid_ppl,
            Planned::Flexi(a) => a.glue,
        };
        v.is_finite().then_some(v)
    }

    /// The family.
    pub fn family(&self) -> crate::bench::Family {
        match self {
            Planned::Gpt2(_) => crate::bench::Family::Gpt2,
            Planned::Flexi(_) => crate::bench::Family::Flexibert,
        }
    }

    fn positions(&self) -> usize {
        match self {
            Planned::Gpt2(a) => a.tgt_len,
            Planned::Flexi(_) => flexibert::MAX_POSITIONS,
        }
    }

    fn parameters(&self) -> u64 {
        models::count(self.arch(), Fidelity::Trained).map_or(0, |c| c.fields.iter().map(|f| f.1).max().unwrap_or(0))
    }
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
    /// Validation windows of `seq_len + 1` tokens.
    pub valid_sequences: usize,
    /// Optimiser and schedule.
    pub optim: OptimConfig,
    /// The text.
    pub corpus: CorpusSpec,
    /// Where the architectures are trained (not written when `flex`, so the manifests and the
    /// built-in benchmarks' folder names from before devices existed stay valid).
    #[serde(default = "crate::train::build::flex", skip_serializing_if = "crate::train::build::is_flex")]
    pub device: DeviceKind,
}

/// `flex`, the default device of a manifest.
pub fn flex() -> DeviceKind {
    DeviceKind::Flex
}

/// Whether a device is `flex` (left out of manifests).
pub fn is_flex(d: &DeviceKind) -> bool {
    *d == DeviceKind::Flex
}

/// The manifest written as `bench.yaml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// What wrote it.
    pub lpzero: String,
    /// `gpt2` or `flexibert`.
    pub family: String,
    /// The settings.
    pub config: BuildConfig,
}

/// The result of one trained architecture (`result.yaml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchResult {
    /// `config_<c>_j<j>`.
    pub key: String,
    /// Mean validation next-token loss (nats), or NaN when diverged.
    pub valid_loss: f64,
    /// `exp(valid_loss)`.
    pub valid_ppl: f64,
    /// Training loss of the last step.
    pub final_train_loss: f64,
    /// Steps completed.
    pub steps: usize,
    /// Wall-clock seconds of training and validation.
    pub seconds: f64,
    /// Parameters (every unique tensor).
    pub params: u64,
    /// Non-embedding parameters.
    pub nonembedding: u64,
    /// Whether the training loss became NaN or infinite.
    pub diverged: bool,
    /// The published ground truth, for architectures taken from a benchmark (GPT-2: validation
    /// perplexity, lower is better; FlexiBERT: GLUE, higher is better).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_ppl: Option<f64>,
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
    Text(#[from] TextError),
    /// The model cannot be built.
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io { path: path.to_owned(), source }
}

/// The directory of a key: `config_<c>_j<j>` → `config_<c>/j<j>`.
pub fn key_dir(root: &Path, key: &str) -> PathBuf {
    match key.rsplit_once("_j") {
        Some((config, job)) => root.join(config).join(format!("j{job}")),
        None => root.join(key),
    }
}

/// Training and validation tokens.
pub struct Tokens {
    /// Training stream.
    pub train: Vec<u32>,
    /// Validation stream.
    pub valid: Vec<u32>,
    /// Vocabulary size the tokenizer can produce.
    pub vocab: usize,
}

impl Tokens {
    /// Tokenises the corpus of a build for a family (FlexiBERT: BERT ids, see
    /// [`text::bert_stream`]).
    pub fn of(spec: &CorpusSpec, family: crate::bench::Family) -> Result<Tokens, BuildError> {
        let flexi = family == crate::bench::Family::Flexibert;
        let ids = |c: &Corpus| -> Result<Vec<u32>, TextError> { if flexi { Ok(text::bert_stream(c)) } else { c.tokens() } };
        let vocab = |c: &Corpus| if flexi { flexibert::VOCAB } else { c.vocab_size() };
        match spec {
            CorpusSpec::Grammar { train_seed, valid_seed, train_tokens, valid_tokens, .. } => {
                let make = |seed: u64, n: usize| {
                    if flexi {
                        Corpus::new(crate::gather::synthetic::text(seed, n), format!("grammar:{seed}"))
                    } else {
                        Corpus::grammar(seed, n)
                    }
                };
                let (train, valid) = (make(*train_seed, *train_tokens), make(*valid_seed, *valid_tokens));
                Ok(Tokens { train: ids(&train)?, valid: ids(&valid)?, vocab: vocab(&train) })
            }
            CorpusSpec::File { path, valid_fraction, .. } => {
                let content = std::fs::read_to_string(path).map_err(io(path))?;
                let corpus = Corpus::new(content, path.display().to_string());
                let mut all = ids(&corpus)?;
                let cut = ((all.len() as f64) * (1.0 - valid_fraction)).round() as usize;
                let valid = all.split_off(cut.min(all.len()));
                Ok(Tokens { train: all, valid, vocab: vocab(&corpus) })
            }
        }
    }
}

/// The training minibatch of step `step`: `batch` windows at offsets drawn from (seed, step).
pub fn train_batch(tokens: &[u32], batch: usize, len: usize, seed: u64, step: usize) -> LmBatch {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x2545F4914F6CDD1D) ^ (step as u64 + 1).wrapping_mul(0x9E3779B97F4A7C15));
    let last = tokens.len() - (len + 1);
    let (mut ids, mut targets) = (Vec::with_capacity(batch * len), Vec::with_capacity(batch * len));
    for _ in 0..batch {
        let o = rng.random_range(0..=last);
        ids.extend_from_slice(&tokens[o..o + len]);
        targets.extend_from_slice(&tokens[o + 1..o + len + 1]);
    }
    LmBatch { batch, len, ids, targets }
}

/// The validation minibatches: consecutive windows, `batch` per minibatch.
pub fn valid_batches(tokens: &[u32], sequences: usize, batch: usize, len: usize) -> Vec<LmBatch> {
    let windows: Vec<&[u32]> = tokens.chunks_exact(len + 1).take(sequences).collect();
    windows
        .chunks(batch.max(1))
        .map(|group| LmBatch {
            batch: group.len(),
            len,
            ids: group.iter().flat_map(|w| w[..len].iter().copied()).collect(),
            targets: group.iter().flat_map(|w| w[1..].iter().copied()).collect(),
        })
        .collect()
}

/// The FlexiBERT training minibatch of step `step`: `batch` windows of `len − 2` BERT ids at
/// offsets drawn from (seed, step), masked by a generator seeded from the same.
pub fn train_mlm_batch(tokens: &[u32], batch: usize, len: usize, seed: u64, step: usize) -> Result<MlmBatch, TextError> {
    let n = len.saturating_sub(2).max(1);
    let step_seed = seed.wrapping_mul(0x2545F4914F6CDD1D) ^ (step as u64 + 1).wrapping_mul(0x9E3779B97F4A7C15);
    let mut rng = ChaCha8Rng::seed_from_u64(step_seed);
    let last = tokens.len().saturating_sub(n);
    let rows: Vec<Vec<u32>> = (0..batch)
        .map(|_| {
            let o = rng.random_range(0..=last);
            tokens[o..o + n].to_vec()
        })
        .collect();
    text::mlm_rows(&rows, len, step_seed ^ 0x6d61_736b)
}

/// The FlexiBERT validation minibatches: consecutive windows of `len − 2` ids, `batch` per
/// minibatch, masks seeded by `seed` and the minibatch's index.
pub fn valid_mlm_batches(tokens: &[u32], sequences: usize, batch: usize, len: usize, seed: u64) -> Result<Vec<MlmBatch>, TextError> {
    let n = len.saturating_sub(2).max(1);
    let windows: Vec<Vec<u32>> = tokens.chunks_exact(n).take(sequences).map(<[u32]>::to_vec).collect();
    windows.chunks(batch.max(1)).enumerate().map(|(i, rows)| text::mlm_rows(rows, len, seed ^ (0x7a11d ^ i as u64))).collect()
}

/// What [`train_arch`] reports after each step.
pub struct StepReport<'a> {
    /// The architecture.
    pub key: &'a str,
    /// Steps done.
    pub step: usize,
    /// This step's training loss.
    pub loss: f64,
}

/// One trained architecture: its result and its training curve (step, loss, learning rate,
/// gradient norm).
pub type Trained = (ArchResult, Vec<[f64; 4]>);

/// Trains one architecture; `None` when `stop` was raised before it finished.
pub fn train_arch(
    planned: &Planned,
    cfg: &BuildConfig,
    tokens: &Tokens,
    device: &Device,
    stop: &AtomicBool,
    on_step: &(dyn Fn(StepReport<'_>) + Sync),
) -> Result<Option<Trained>, BuildError> {
    let start = Instant::now();
    let key = planned.key();
    let arch = planned.arch();
    let specs = models::spec(arch, Fidelity::Trained)?;
    let counts = models::count(arch, Fidelity::Trained)?;
    let field = |name: &str| counts.fields.iter().find(|(f, _)| *f == name).map_or(0, |(_, v)| *v);
    let ad = device.clone().autodiff();
    let mut store = ParamStore::build(&specs, arch_seed(cfg.seed, &arch.id()), &ad);
    let mut optim = AdamW::new(cfg.optim.clone());
    let mut curve = Vec::with_capacity(cfg.steps);
    let mut diverged = false;
    let mut last = f64::NAN;
    let forward = |store: &ParamStore, step: usize| -> Result<burn::tensor::Tensor<1>, BuildError> {
        Ok(match planned {
            Planned::Gpt2(a) => gpt2::forward(store, a, &train_batch(&tokens.train, cfg.batch, cfg.seq_len, cfg.seed, step), &mut Recorder::default()),
            Planned::Flexi(a) => flexibert::forward(store, a, &train_mlm_batch(&tokens.train, cfg.batch, cfg.seq_len, cfg.seed, step)?, &mut Recorder::default()),
        })
    };
    for step in 0..cfg.steps {
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let loss = forward(&store, step)?;
        let grads = loss.backward();
        last = loss.inner().into_scalar::<f64>();
        if !last.is_finite() {
            diverged = true;
            break;
        }
        let lr = learning_rate(&cfg.optim, step, cfg.steps);
        let norm = optim.step(&mut store, &grads, lr);
        curve.push([step as f64, last, lr, norm]);
        on_step(StepReport { key: &key, step: step + 1, loss: last });
    }
    let valid_loss = if diverged { f64::NAN } else { validate(planned, &store.detached(), cfg, tokens)? };
    diverged |= !valid_loss.is_finite();
    let result = ArchResult {
        key,
        valid_loss,
        valid_ppl: valid_loss.exp(),
        final_train_loss: last,
        steps: curve.len(),
        seconds: start.elapsed().as_secs_f64(),
        params: field("total"),
        nonembedding: field("nonembedding"),
        diverged,
        published_ppl: planned.published(),
    };
    Ok(Some((result, curve)))
}

/// Mean validation loss per predicted token (next tokens, or masked tokens for FlexiBERT).
fn validate(planned: &Planned, store: &ParamStore, cfg: &BuildConfig, tokens: &Tokens) -> Result<f64, BuildError> {
    let (mut total, mut count) = (0.0, 0usize);
    match planned {
        Planned::Gpt2(a) => {
            for b in valid_batches(&tokens.valid, cfg.valid_sequences, cfg.batch, cfg.seq_len) {
                let n = b.batch * b.len;
                total += gpt2::forward(store, a, &b, &mut Recorder::default()).into_scalar::<f64>() * n as f64;
                count += n;
            }
        }
        Planned::Flexi(a) => {
            for b in valid_mlm_batches(&tokens.valid, cfg.valid_sequences, cfg.batch, cfg.seq_len, cfg.seed)? {
                let n = b.masked.len();
                total += flexibert::forward(store, a, &b, &mut Recorder::default()).into_scalar::<f64>() * n as f64;
                count += n;
            }
        }
    }
    Ok(total / count.max(1) as f64)
}

/// The architectures a build trains, in order.
pub fn plan(cfg: &BuildConfig) -> anyhow::Result<Vec<Planned>> {
    match &cfg.source {
        PlanSource::Space { space } => Ok(space.sample(cfg.archs, cfg.seed)?.into_iter().map(Planned::Gpt2).collect()),
        PlanSource::FlexiSpace { space } => Ok(space.sample(cfg.archs, cfg.seed)?.into_iter().map(Planned::Flexi).collect()),
        PlanSource::Benchmark { path } => {
            let all: Vec<Planned> = match Benchmark::load(path)? {
                Benchmark::Gpt2 { archs, .. } => archs.into_iter().map(Planned::Gpt2).collect(),
                Benchmark::Flexibert { archs, .. } => archs.into_iter().map(Planned::Flexi).collect(),
            };
            if cfg.archs > all.len() {
                anyhow::bail!("{} has {} architectures; --archs {} asks for more", path.display(), all.len(), cfg.archs);
            }
            // A seeded shuffle; its first n are the sample (prefix-stable as --archs grows).
            let mut idx: Vec<usize> = (0..all.len()).collect();
            let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0xbe7c_4a11);
            for i in (1..idx.len()).rev() {
                idx.swap(i, rng.random_range(0..=i));
            }
            Ok(idx[..cfg.archs].iter().map(|&i| all[i].clone()).collect())
        }
    }
}

fn write_atomic(path: &Path, text: &str) -> Result<(), BuildError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Reads the finished results under `dir` (every `config_*/j*/result.yaml`).
pub fn finished(dir: &Path, plan: &[Planned]) -> BTreeMap<String, ArchResult> {
    plan.iter()
        .filter_map(|a| {
            let key = a.key();
            let text = std::fs::read_to_string(key_dir(dir, &key).join("result.yaml")).ok()?;
            let r: ArchResult = serde_norway::from_str(&text).ok()?;
            (r.key == key).then_some((key, r))
        })
        .collect()
}

/// Rewrites the benchmark files from the finished results: `ppl_summary.yaml` and
/// `params_summary.yaml` (GPT-2), or `benchmark.json` (FlexiBERT).
fn write_summaries(dir: &Path, plan: &[Planned], results: &BTreeMap<String, ArchResult>) -> Result<(), BuildError> {
    #[derive(Serialize)]
    struct Ppl {
        valid_ppl: f64,
        valid_loss: f64,
        steps: usize,
        train_seconds: f64,
    }
    let done = || plan.iter().filter_map(|a| results.get(&a.key()).filter(|r| !r.diverged).map(|r| (a, r)));
    if plan.first().is_some_and(|a| a.family() == crate::bench::Family::Flexibert) {
        let entries: Vec<serde_json::Value> = done()
            .filter_map(|(a, r)| match a {
                Planned::Flexi(f) => Some(flexi_entry(f, r)),
                Planned::Gpt2(_) => None,
            })
            .collect();
        return write_atomic(&dir.join(crate::bench::flexibert::BUILT_FILE), &serde_json::to_string_pretty(&entries).expect("plain JSON"));
    }
    let mut ppl = BTreeMap::new();
    let mut params = BTreeMap::new();
    for (a, r) in done() {
        ppl.insert(a.key(), Ppl { valid_ppl: r.valid_ppl, valid_loss: r.valid_loss, steps: r.steps, train_seconds: r.seconds });
        let counts = models::count(a.arch(), Fidelity::Trained)?;
        let fields: BTreeMap<&str, u64> = counts.fields.into_iter().collect();
        params.insert(a.key(), fields);
    }
    write_atomic(&dir.join("ppl_summary.yaml"), &serde_norway::to_string(&ppl).expect("a plain map"))?;
    write_atomic(&dir.join("params_summary.yaml"), &serde_norway::to_string(&params).expect("a plain map"))
}

/// One entry of a built FlexiBERT benchmark, in the published file's format with the MLM
/// perplexity as its score (and the published GLUE, when the architecture came from there).
fn flexi_entry(a: &FlexiArch, r: &ArchResult) -> serde_json::Value {
    let layers: Vec<serde_json::Value> = a
        .layers
        .iter()
        .map(|l| {
            let (t, p) = match l.op {
                LayerOp::SaSdp => ("SA", serde_json::json!("SDP")),
                LayerOp::SaWma => ("SA", serde_json::json!("WMA")),
                LayerOp::LtDft => ("LT", serde_json::json!("DFT")),
                LayerOp::LtDct => ("LT", serde_json::json!("DCT")),
                LayerOp::Dsc(k) => ("DSC", serde_json::json!(k)),
            };
            serde_json::json!({"operation_type": t, "operation_parameter": p, "num_operation_heads": l.heads,
                "feed_forward_dimension": l.ffn_dim, "num_feed_forward": l.num_ffn})
        })
        .collect();
    let mut scores = serde_json::json!({"mlm_ppl": r.valid_ppl, "mlm_loss": r.valid_loss});
    if let Some(g) = r.published_ppl {
        scores["published_glue"] = serde_json::json!(g);
    }
    serde_json::json!({"id": a.id, "scores": scores,
        "hparams": {"model_hparam_overrides": {"hidden_size": a.hidden_size, "nas_config": {"encoder_layers": layers}}}})
}

/// Writes one finished architecture: `config_<c>.tmp-<j>/` renamed into place.
fn write_arch(dir: &Path, planned: &Planned, result: &ArchResult, curve: &[[f64; 4]]) -> Result<(), BuildError> {
    let final_dir = key_dir(dir, &planned.key());
    let parent = final_dir.parent().expect("a key directory has a parent");
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let tmp = parent.join(format!(".{}.tmp", final_dir.file_name().expect("named").to_string_lossy()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    match planned {
        Planned::Gpt2(arch) if !result.diverged => std::fs::write(tmp.join("model_config.yaml"), model_config_yaml(arch)).map_err(io(&tmp))?,
        Planned::Flexi(arch) => {
            std::fs::write(tmp.join("arch.json"), serde_json::to_string_pretty(&flexi_entry(arch, result)).expect("plain JSON")).map_err(io(&tmp))?
        }
        Planned::Gpt2(_) => {}
    }
    let mut csv = String::from("step,loss,lr,grad_norm\n");
    for [s, l, lr, n] in curve {
        csv.push_str(&format!("{s},{l},{lr},{n}\n"));
    }
    std::fs::write(tmp.join("train.csv"), csv).map_err(io(&tmp))?;
    std::fs::write(tmp.join("result.yaml"), serde_norway::to_string(result).expect("a plain struct")).map_err(io(&tmp))?;
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(io(&final_dir))?;
    }
    std::fs::rename(&tmp, &final_dir).map_err(io(&final_dir))
}

/// Checks a resumed build's manifest against the requested settings (`archs` may differ: a
/// build can be extended).
fn check_manifest(dir: &Path, cfg: &BuildConfig) -> Result<(), BuildError> {
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

/// What a build did.
pub struct BuildReport {
    /// Results of every finished architecture (earlier runs included), by key.
    pub results: BTreeMap<String, ArchResult>,
    /// Architectures trained by this run.
    pub trained: usize,
    /// Whether it stopped before finishing.
    pub interrupted: bool,
    /// The plan.
    pub plan: Vec<Planned>,
}

/// Builds (or resumes) a benchmark in `dir`, training `jobs` architectures at a time.
#[allow(clippy::too_many_arguments)]
pub fn build(
    cfg: &BuildConfig,
    dir: &Path,
    jobs: usize,
    device: &Device,
    stop: &AtomicBool,
    on_step: &(dyn Fn(StepReport<'_>) + Sync),
    on_arch: &(dyn Fn(&ArchResult) + Sync),
) -> anyhow::Result<BuildReport> {
    if cfg.archs == 0 || cfg.steps == 0 || cfg.batch == 0 || cfg.seq_len == 0 || cfg.valid_sequences == 0 {
        return Err(BuildError::Config("--archs, --steps, --batch, --seq-len and the validation size must be positive".into()).into());
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    check_manifest(dir, cfg)?;
    let plan = plan(cfg)?;
    let Some(family) = plan.first().map(Planned::family) else {
        return Err(BuildError::Config("the plan is empty".into()).into());
    };
    if let Some(a) = plan.iter().find(|a| cfg.seq_len > a.positions()) {
        return Err(BuildError::Config(format!("--seq-len {} exceeds {}'s {} learned positions", cfg.seq_len, a.key(), a.positions())).into());
    }
    if family == crate::bench::Family::Flexibert && cfg.seq_len < 3 {
        return Err(BuildError::Config("FlexiBERT needs --seq-len of at least 3 ([CLS] token [SEP])".into()).into());
    }
    let tokens = Tokens::of(&cfg.corpus, family)?;
    let vocab_of = |a: &Planned| match a {
        Planned::Gpt2(g) => g.n_token,
        Planned::Flexi(_) => flexibert::VOCAB,
    };
    if let Some(a) = plan.iter().find(|a| vocab_of(a) < tokens.vocab) {
        return Err(BuildError::Config(format!("the corpus's tokenizer gives ids up to {} but {} has a vocabulary of {}", tokens.vocab, a.key(), vocab_of(a))).into());
    }
    for (what, stream, need) in [("training", &tokens.train, cfg.seq_len + 1), ("validation", &tokens.valid, cfg.valid_sequences * (cfg.seq_len + 1))] {
        if stream.len() < need {
            return Err(BuildError::Config(format!("the {what} text has {} tokens; {need} are needed (a longer --corpus or a smaller --seq-len)", stream.len())).into());
        }
    }
    let family_name = match family {
        crate::bench::Family::Gpt2 => "gpt2",
        crate::bench::Family::Flexibert => "flexibert",
    };
    let manifest = Manifest { lpzero: env!("CARGO_PKG_VERSION").into(), family: family_name.into(), config: cfg.clone() };
    write_atomic(&dir.join("bench.yaml"), &serde_norway::to_string(&manifest).expect("a plain struct"))?;
    let results = Mutex::new(finished(dir, &plan));
    let mut pending: Vec<&Planned> = plan.iter().filter(|a| !results.lock().expect("not poisoned").contains_key(&a.key())).collect();
    if jobs > 1 {
        // Largest first, so that the last architectures to finish are small ones (results do
        // not depend on the order).
        pending.sort_by_key(|a| std::cmp::Reverse(a.parameters()));
    }
    let trained = std::sync::atomic::AtomicUsize::new(0);
    let run_one = |arch: &Planned| -> anyhow::Result<()> {
        if let Some((result, curve)) = train_arch(arch, cfg, &tokens, device, stop, on_step)? {
            write_arch(dir, arch, &result, &curve)?;
            let mut all = results.lock().expect("not poisoned");
            all.insert(arch.key(), result.clone());
            write_summaries(dir, &plan, &all)?;
            trained.fetch_add(1, Ordering::Relaxed);
            on_arch(&result);
        }
        Ok(())
    };
    if jobs <= 1 {
        for arch in &pending {
            run_one(arch)?;
        }
    } else {
        use rayon::prelude::*;
        let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build().map_err(|e| anyhow::anyhow!("cannot start {jobs} workers: {e}"))?;
        pool.install(|| pending.par_iter().with_max_len(1).try_for_each(|a| run_one(a)))?;
    }
    let results = results.into_inner().expect("not poisoned");
    write_summaries(dir, &plan, &results)?;
    let interrupted = plan.iter().any(|a| !results.contains_key(&a.key()));
    Ok(BuildReport { results, trained: trained.into_inner(), interrupted, plan })
}
