//! Gather: one forward and one backward pass of one architecture on one minibatch, turned into
//! [`ProxyInputs`].
//!
//! What each input holds (both families):
//! * `W`, `G`: the weight `[out, in]` of every linear layer of the blocks, in forward order
//!   (FlexiBERT: query, key, value, attention output, the FFN layers; GPT-2: `c_attn` (q, k and v
//!   fused), attention `c_proj`, `c_fc`, MLP `c_proj`), and its gradient.
//! * `A`, `GA`: the output of every FFN non-linearity `[batch, token, unit]` and the gradient of
//!   the loss with respect to it.
//! * `H`, `GH`: the per-head attention outputs (context before the output projection)
//!   `[batch, head, token, dim]` of every attention layer, and their gradients.
//! * `S`: the attention probabilities `[batch, head, query, key]` (after masking).
//! * `J`: the gradient of the loss with respect to the input embeddings (the sum of token,
//!   position and, for FlexiBERT, type embeddings, before anything else), one entry
//!   `[batch, token, dim]`.
//! * `P`: every parameter tensor, in name order.
//!
//! FlexiBERT at `--fidelity reference` (`models::flexibert_reference`) has layers that are not
//! attention; every layer still gives one entry of `H`, `GH` and `S`, so the counts per
//! alignment hold:
//! * SA-SDP, SA-WMA: as above (`H` the per-head context, `S` the probabilities, no mask).
//! * LT-DFT, LT-DCT: `H` is the per-head transform `[batch, head, token, dim]`, the mixer's
//!   output before the heads are merged (it is the layer's `m`, as LT has no output block);
//!   `S` is the softmax over `dim` of that transform, `[batch, head, token, dim]`, which the
//!   reference computed, discarded, and hooked as its `softmax` input. (The reference's `head`
//!   input hooked the input projection instead of the transform.)
//! * DSC: `H` is what enters the output dense, split per head `[batch, 2h', token, dim]`: the h'
//!   attention heads, then the h' dynamic-convolution heads; `S` is the attention branch's
//!   probabilities `[batch, h', query, key]` (the dynamic kernels' softmax is not included, as in
//!   the reference).
//! * `W`/`G` hold every dense layer of the blocks in forward order: the mixer's (query, key,
//!   value and WMA's square matrix; LT's input projection; DSC's query, key, value,
//!   `conv_kernel`, `conv_out`), the output dense of SA and DSC, then the FFN layers. DSC's
//!   depthwise and pointwise convolution kernels are not dense layers and appear only in `P`.
//!
//! The loss: GPT-2, mean next-token cross entropy through the adaptive softmax; FlexiBERT (both
//! fidelities), mean masked-language-model cross entropy through a head tied to the word
//! embeddings. (The reference back-propagated the sum of FlexiBERT's last hidden states, which
//! the final LayerNorm makes exactly zero.) Dropout is
//! off; parameters are drawn from a seed derived from the run's seed and the architecture id,
//! so gathering is deterministic.

pub mod cache;
pub mod parallel;
pub mod synthetic;
pub mod text;

use crate::device::DeviceKind;
use crate::eval::{InputError, ProxyInputs, TensorEntry};
use crate::lang::table::InputId;
use crate::models::nn::Recorder;
use crate::models::params::ParamStore;
use crate::models::{self, flexibert, flexibert_reference, gpt2, ArchRef, Fidelity, ModelError};
use burn::tensor::{Device, Tensor};
use std::time::Instant;
use text::{Corpus, TextError};

/// How to gather.
#[derive(Clone, Debug)]
pub struct GatherOptions {
    /// Sequences per minibatch.
    pub batch: usize,
    /// Tokens per sequence.
    pub seq_len: usize,
    /// The run's seed (parameters and MLM masking).
    pub seed: u64,
    /// Which FlexiBERT networks.
    pub fidelity: Fidelity,
    /// The device the models run on (the `&Device` given to [`gather`] is this one, opened);
    /// part of the cache key, since backends round differently.
    pub device: DeviceKind,
}

impl GatherOptions {
    /// The defaults for a family: small enough for a few seconds per architecture on 2 CPU
    /// cores. The paper used 128 × 512 (FlexiBERT) and 16 × 192 (GPT-2).
    pub fn defaults(family: crate::bench::Family) -> Self {
        let (batch, seq_len) = match family {
            crate::bench::Family::Flexibert => (8, 128),
            crate::bench::Family::Gpt2 => (4, 128),
        };
        GatherOptions { batch, seq_len, seed: 0, fidelity: Fidelity::Trained, device: DeviceKind::DEFAULT }
    }
}

/// A problem gathering inputs.
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    /// The model cannot be built.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The minibatch cannot be built.
    #[error(transparent)]
    Text(#[from] TextError),
    /// The gathered tensors are inconsistent (a bug).
    #[error("gathered inputs are inconsistent: {0}")]
    Inputs(#[from] InputError),
    /// A configuration value is out of range.
    #[error("{0}")]
    Config(String),
}

/// What one gather produced.
pub struct Gathered {
    /// The inputs.
    pub inputs: ProxyInputs,
    /// The loss of the forward pass.
    pub loss: f64,
    /// Number of parameters of the model (without FlexiBERT's MLM loss head).
    pub params: usize,
    /// Seconds spent.
    pub seconds: f64,
    /// Where the seconds went.
    pub phases: GatherPhases,
}

/// Seconds per phase of one gather (the speed benchmark reports them).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GatherPhases {
    /// Drawing the parameters and moving them to the device.
    pub init: f64,
    /// The minibatch and the forward pass to the loss.
    pub forward: f64,
    /// The backward pass.
    pub backward: f64,
    /// Copying values and gradients to the host as proxy inputs.
    pub extract: f64,
}

impl GatherPhases {
    /// Adds another gather's phases.
    pub fn add(&mut self, other: &GatherPhases) {
        self.init += other.init;
        self.forward += other.forward;
        self.backward += other.backward;
        self.extract += other.extract;
    }

    /// Every phase divided by `k`.
    pub fn scaled(&self, k: f64) -> GatherPhases {
        GatherPhases { init: self.init / k, forward: self.forward / k, backward: self.backward / k, extract: self.extract / k }
    }
}

/// The parameter seed of one architecture: the run's seed mixed with the architecture id.
pub fn arch_seed(seed: u64, id: &str) -> u64 {
    text::hash_str(id) ^ seed.wrapping_mul(0x9E3779B97F4A7C15)
}

fn entry<const D: usize>(t: Tensor<D>) -> TensorEntry {
    TensorEntry::new(t.inner())
}

/// Recorded activations and the gradients their probes received (zeros where none arrived).
fn values_and_gradients<const D: usize>(
    recorded: &[(Tensor<D>, Option<Tensor<D>>)],
    grads: &burn::tensor::Gradients,
) -> (Vec<TensorEntry>, Vec<TensorEntry>) {
    recorded
        .iter()
        .map(|(value, probe)| {
            let grad = probe.as_ref().and_then(|p| p.grad(grads)).unwrap_or_else(|| value.clone().inner().zeros_like());
            (entry(value.clone()), TensorEntry::new(grad))
        })
        .unzip()
}

/// Gathers the proxy inputs of one architecture on a device (an autodiff device is derived
/// from it).
pub fn gather(arch: ArchRef<'_>, corpus: &Corpus, opts: &GatherOptions, device: &Device) -> Result<Gathered, GatherError> {
    let start = Instant::now();
    let specs = models::spec(arch, opts.fidelity)?;
    let ad = device.clone().autodiff();
    let store = ParamStore::build(&specs, arch_seed(opts.seed, &arch.id()), &ad);
    let mut phases = GatherPhases { init: start.elapsed().as_secs_f64(), ..GatherPhases::default() };
    let mut lap = Instant::now();
    let mut rec = Recorder::on();
    let loss = match arch {
        ArchRef::Flexi(a) => {
            if opts.seq_len > flexibert::MAX_POSITIONS {
                return Err(GatherError::Config(format!("--seq-len {} exceeds FlexiBERT's {} positions", opts.seq_len, flexibert::MAX_POSITIONS)));
            }
            let batch = text::mlm_batch(corpus, opts.batch, opts.seq_len, opts.seed)?;
            match opts.fidelity {
                Fidelity::Trained => flexibert::forward(&store, a, &batch, &mut rec),
                Fidelity::Reference => flexibert_reference::forward(&store, a, &batch, &mut rec)?,
            }
        }
        ArchRef::Gpt2(a) => {
            if opts.seq_len > a.tgt_len {
                return Err(GatherError::Config(format!("--seq-len {} exceeds the model's {} positions", opts.seq_len, a.tgt_len)));
            }
            let batch = text::lm_batch(corpus, opts.batch, opts.seq_len)?;
            if let Some(&id) = batch.ids.iter().chain(&batch.targets).find(|&&id| id as usize >= a.n_token) {
                return Err(TextError::OutOfVocabulary { id, vocab: a.n_token }.into());
            }
            gpt2::forward(&store, a, &batch, &mut rec)
        }
    };
    let loss_value = loss.clone().inner().into_scalar::<f64>();
    phases.forward = lap.elapsed().as_secs_f64();
    lap = Instant::now();
    let grads = loss.backward();
    phases.backward = lap.elapsed().as_secs_f64();
    lap = Instant::now();
    let inner = device.clone();
    let mut inputs = ProxyInputs::new(inner);
    let (mut w, mut g) = (vec![], vec![]);
    for name in &rec.linear {
        let t = store.matrix(name);
        let grad = t.grad(&grads).unwrap_or_else(|| t.clone().inner().zeros_like());
        w.push(entry(t));
        g.push(TensorEntry::new(grad));
    }
    inputs.insert(InputId::W, w)?;
    inputs.insert(InputId::G, g)?;
    let (a, ga) = values_and_gradients(&rec.ffn_act, &grads);
    inputs.insert(InputId::A, a)?;
    inputs.insert(InputId::GA, ga)?;
    let (h, gh) = values_and_gradients(&rec.heads, &grads);
    inputs.insert(InputId::H, h)?;
    inputs.insert(InputId::GH, gh)?;
    inputs.insert(InputId::S, rec.attn_probs.iter().cloned().map(entry).collect())?;
    if let Some(recorded) = &rec.embeddings {
        let (_, j) = values_and_gradients(std::slice::from_ref(recorded), &grads);
        inputs.insert(InputId::J, j)?;
    }
    // P: the model's own parameters; the MLM loss head of FlexiBERT is not part of the encoder.
    let own: std::collections::HashSet<&str> = specs.iter().filter(|s| s.group != "head").map(|s| s.name.as_str()).collect();
    let params: Vec<TensorEntry> = store
        .iter()
        .filter(|(name, _, _)| own.contains(name))
        .map(|(_, t, shape)| {
            let n: usize = shape.iter().product();
            TensorEntry { data: TensorEntry::new(t.clone().inner().reshape([n])).data, shape: shape.to_vec() }
        })
        .collect();
    let numel = params.iter().map(TensorEntry::numel).sum();
    inputs.insert(InputId::P, params)?;
    phases.extract = lap.elapsed().as_secs_f64();
    Ok(Gathered { inputs, loss: loss_value, params: numel, seconds: start.elapsed().as_secs_f64(), phases })
}
