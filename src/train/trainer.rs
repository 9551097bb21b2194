//! Training one architecture: K AdamW steps on the build's minibatches, then the validation loss.
//!
//! Every architecture sees the same minibatches (the family's training batch of step `s`, drawn
//! from a generator seeded by (seed, s)), parameters are drawn as the gather draws them (the
//! build's seed and the architecture's id), dropout is off, and the update is AdamW
//! ([`super::optim`]). Validation: the mean loss per predicted token over the first
//! `valid_sequences` windows of the validation tokens; perplexity is its exponential. A training
//! loss that becomes NaN or infinite marks the architecture as diverged.

use super::config::{BuildConfig, BuildError};
use super::data::Tokens;
use super::optim::{learning_rate, AdamW};
use super::result::ArchResult;
use crate::family::Arch;
use crate::gather::arch_seed;
use crate::models::nn::Recorder;
use crate::models::params::ParamStore;
use crate::models::Fidelity;
use crate::stop::Stop;
use burn::tensor::Device;
use std::time::Instant;

/// What [`train_arch`] reports after each step.
pub struct StepReport<'a> {
    /// The architecture's key.
    pub key: &'a str,
    /// Steps done.
    pub step: usize,
    /// This step's training loss.
    pub loss: f64,
}

/// One trained architecture: its result and its training curve (step, loss, learning rate,
/// gradient norm).
pub type Trained = (ArchResult, Vec<[f64; 4]>);

/// Trains one architecture; `None` when `stop` was raised before it finished. `published` is its
/// ground truth in the benchmark it came from, if any.
pub fn train_arch(
    arch: &dyn Arch,
    published: Option<f64>,
    cfg: &BuildConfig,
    tokens: &Tokens,
    device: &Device,
    stop: &Stop,
    on_step: &(dyn Fn(StepReport<'_>) + Sync),
) -> Result<Option<Trained>, BuildError> {
    let start = Instant::now();
    let family = arch.family();
    let key = family.result_key(arch);
    let specs = arch.spec(Fidelity::Trained)?;
    let counts = arch.counts(Fidelity::Trained)?;
    let field = |name: &str| counts.iter().find(|(f, _)| *f == name).map_or(0, |(_, v)| *v);
    let ad = device.clone().autodiff();
    let mut store = ParamStore::build(&specs, arch_seed(cfg.seed, &arch.id()), &ad);
    let mut optim = AdamW::new(cfg.optim.clone());
    let mut curve = Vec::with_capacity(cfg.steps);
    let mut diverged = false;
    let mut last = f64::NAN;
    for step in 0..cfg.steps {
        if stop.requested() {
            return Ok(None);
        }
        let batch = family.train_batch(&tokens.train, cfg.batch, cfg.seq_len, cfg.seed, step)?;
        let loss = arch.loss(&store, &batch, &mut Recorder::default(), Fidelity::Trained)?;
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
    let valid_loss = if diverged { f64::NAN } else { validate(arch, &store.detached(), cfg, tokens)? };
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
        published_ppl: published,
    };
    Ok(Some((result, curve)))
}

/// Mean validation loss per predicted token.
fn validate(arch: &dyn Arch, store: &ParamStore, cfg: &BuildConfig, tokens: &Tokens) -> Result<f64, BuildError> {
    let (mut total, mut count) = (0.0, 0usize);
    for b in arch.family().valid_batches(&tokens.valid, cfg.valid_sequences, cfg.batch, cfg.seq_len, cfg.seed)? {
        let n = b.predictions();
        total += arch.loss(store, &b, &mut Recorder::default(), Fidelity::Trained)?.into_scalar::<f64>() * n as f64;
        count += n;
    }
    Ok(total / count.max(1) as f64)
}
