//! Gather: one forward and one backward pass of one architecture on one minibatch, turned into
//! [`ProxyInputs`]. The architecture's family ([`crate::family`]) supplies the parameter
//! declarations, the minibatch and the forward pass; this stage runs them and reads out what the
//! forward pass recorded. What each input holds for each family is documented with the family's
//! model (`crate::family::<name>::model`); in general:
//!
//! * `W`, `G`: the weight `[out, in]` of every linear layer of the blocks, in forward order, and
//!   its gradient.
//! * `A`, `GA`: the output of every FFN non-linearity `[batch, token, unit]` and the gradient of
//!   the loss with respect to it.
//! * `H`, `GH`: the per-head attention outputs (context before the output projection)
//!   `[batch, head, token, dim]` of every attention layer, and their gradients.
//! * `S`: the attention probabilities `[batch, head, query, key]` (after masking).
//! * `J`: the gradient of the loss with respect to the input embeddings (what enters the first
//!   block, before anything else), one entry `[batch, token, dim]`.
//! * `P`: every parameter tensor of the model, in name order (a family's loss head, group
//!   `head`, is not part of the model).
//!
//! The loss is the family's training objective (next-token or masked-token cross entropy).
//! Dropout is off; parameters are drawn from a seed derived from the run's seed and the
//! architecture id, so gathering is deterministic.

pub mod cache;
pub mod export;
pub mod score;
pub mod source;

pub mod synthetic;
pub mod text;

use crate::device::DeviceKind;
use crate::eval::{InputError, ProxyInputs, TensorEntry};
use crate::family::Arch;
pub use crate::lang::table::all_inputs;
use crate::lang::table::{InputId, Pass};
use crate::models::nn::Recorder;
use crate::models::params::ParamStore;
use crate::models::{Fidelity, ModelError};
use crate::source::Variant;
use burn::tensor::{Device, Tensor};
use std::time::Instant;
use text::{Corpus, TextError};

/// The version of what a gather computes. Bump it with every change that can alter gathered
/// numbers (a model, the minibatch, the tokenizer, the recorder, initialisation): the input
/// cache keys on it, so inputs gathered before the change are never read back after it, and
/// `tests/gather_fingerprint.rs` fails when a fingerprint moves without a bump. 3: GPT-2's tanh
/// GELU cubes by products, as PyTorch does, instead of `powf`, and flex's reductions and
/// element-wise ops run its vector kernels (values a few roundings apart). 4: GPT-2's GELU takes
/// its `tanh` from [`crate::libm32`] (fdlibm's `tanhf`) instead of the platform's C library (the
/// same bits where that library is glibc, not everywhere), and GPT-2's and Transformer-XL's
/// losses read their output layers through [`crate::models::nn::log_softmax_pick`] (gradients a
/// few roundings apart, about 2e-8 relative in the fixture; the losses unchanged there).
pub const GATHER_VERSION: u32 = 4;

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
    /// Which minibatch of the text and which initialisation (the first of each by default).
    pub variant: Variant,
}

impl GatherOptions {
    /// The defaults for a family ([`crate::family::Family::default_minibatch`]): small enough
    /// for a few seconds per architecture on 2 CPU cores.
    pub fn defaults(family: crate::family::FamilyRef) -> Self {
        let (batch, seq_len) = family.default_minibatch();
        GatherOptions { batch, seq_len, seed: 0, fidelity: Fidelity::Trained, device: DeviceKind::DEFAULT, variant: Variant::default() }
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
    /// The loss of the forward pass over the minibatch (`None` when only weights were read).
    pub loss: Option<f64>,
    /// Number of parameters of the model (without a loss head).
    pub params: usize,
    /// Seconds spent.
    pub seconds: f64,
    /// Where the seconds went.
    pub phases: GatherPhases,
    /// The parameter name of each entry of the inputs that hold parameters (`W`, `G`, `P`).
    pub modules: std::collections::BTreeMap<String, Vec<String>>,
    /// The minibatch as named integer arrays ([`crate::models::batch::Minibatch::arrays`]).
    pub minibatch: std::collections::BTreeMap<String, Vec<i64>>,
}

impl Gathered {
    /// These inputs joined by those of an earlier gather of the same architecture and options
    /// (a cached file): inputs, loss, minibatch and module names this gather lacks come from it.
    pub fn absorb(mut self, earlier: Gathered) -> Result<Gathered, GatherError> {
        self.inputs.absorb(earlier.inputs)?;
        self.loss = self.loss.or(earlier.loss);
        if self.minibatch.is_empty() {
            self.minibatch = earlier.minibatch;
        }
        for (k, v) in earlier.modules {
            self.modules.entry(k).or_insert(v);
        }
        Ok(self)
    }
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

/// The parameter seed of initialisation `init` of an architecture: [`arch_seed`] for the first,
/// the index mixed in for the others.
pub fn init_seed(seed: u64, id: &str, init: usize) -> u64 {
    match init {
        0 => arch_seed(seed, id),
        i => text::step_seed(arch_seed(seed, id), i),
    }
}

/// Copies a tensor of any rank to the host as a proxy-input entry.
pub fn host_entry<const D: usize>(t: Tensor<D>) -> TensorEntry {
    let shape = t.dims().to_vec();
    let data: Vec<f32> = t.into_data().convert::<f32>().try_into_vec::<f32>().expect("converted to f32 just before");
    TensorEntry { data: data.into(), shape }
}

fn entry<const D: usize>(t: Tensor<D>) -> TensorEntry {
    host_entry(t.inner())
}

/// Inserts recorded activations as `value` and the gradients their probes received as `grad`,
/// each when `need` asks for it (zeros where no gradient arrived). Consumes the recordings, so
/// each is freed on the device as soon as it is on the host.
fn recorded_into<const D: usize>(
    inputs: &mut ProxyInputs,
    recorded: Vec<(Tensor<D>, Option<Tensor<D>>)>,
    (value, grad): (Option<InputId>, InputId),
    need: &[InputId],
    grads: Option<&burn::tensor::Gradients>,
) -> Result<(), InputError> {
    if need.contains(&grad) {
        let grads = grads.expect("a gradient input makes the pass a backward pass");
        let of = |(x, probe): &(Tensor<D>, Option<Tensor<D>>)| probe.as_ref().and_then(|p| p.grad(grads)).unwrap_or_else(|| x.clone().inner().zeros_like());
        inputs.insert(grad, recorded.iter().map(|r| host_entry(of(r))).collect())?;
    }
    if let Some(value) = value.filter(|v| need.contains(v)) {
        inputs.insert(value, recorded.into_iter().map(|(x, _)| entry(x)).collect())?;
    }
    Ok(())
}

/// `need` with, for every gradient it asks for, what that is the gradient of (an inputs file
/// holds them in pairs, [`crate::eval::inputs::GRADIENT_PAIRS`]).
pub fn with_gradient_values(need: &[InputId]) -> Vec<InputId> {
    let mut need = need.to_vec();
    for &(value, grad) in crate::eval::inputs::GRADIENT_PAIRS {
        if need.contains(&grad) && !need.contains(&value) {
            need.push(value);
        }
    }
    need
}

/// GraSP's direction for [`hessian_gradient`]: the gradient each linear weight `names` received
/// in a finished backward pass (zeros where none arrived).
pub fn gradients_of(store: &ParamStore, names: &[String], grads: Option<&burn::tensor::Gradients>) -> Vec<Tensor<2>> {
    names.iter().map(|name| grad_or_zeros(&store.matrix(name), grads)).collect()
}

/// The gradient a parameter received in `grads` (zeros where none arrived).
fn grad_or_zeros(t: &Tensor<2>, grads: Option<&burn::tensor::Gradients>) -> Tensor<2> {
    let grads = grads.expect("a gradient input makes the pass a backward pass");
    t.grad(grads).unwrap_or_else(|| t.clone().inner().zeros_like())
}

/// What an architecture states of itself, for the inputs `L` and `D` (`N` is counted from the
/// linear weights the pass used).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArchNumbers {
    /// Its number of blocks.
    pub layers: usize,
    /// Its hidden size.
    pub width: usize,
}

/// Reads the inputs `need` asks for out of a finished pass into `inputs`: `W`/`G` over the
/// linear weights the recorder saw (in forward order), the recorded activations and their
/// probes' gradients (`A`/`GA`, `H`/`GH`, `J`), `S`, `Z`, `P` over the parameters named in
/// `own`, and the architecture scalars `L`, `D` (from `numbers`) and `N` (the elements of those
/// linear weights). `grads` are the backward pass's gradients (when a gradient input is needed).
/// The recordings are consumed. `GS` and `HG` take passes of their own and are not read here.
pub fn read_out(inputs: &mut ProxyInputs, store: &ParamStore, rec: &mut Recorder, grads: Option<&burn::tensor::Gradients>, need: &[InputId], own: &[&str], numbers: ArchNumbers) -> Result<(), InputError> {
    let wants = |id: InputId| need.contains(&id);
    // One number each, as a rank-0 entry (f32: exact up to 2^24, then within 6e-8 relative).
    let number = |x: usize| vec![TensorEntry { data: std::sync::Arc::from([x as f32]), shape: vec![] }];
    if wants(InputId::L) {
        inputs.insert(InputId::L, number(numbers.layers))?;
    }
    if wants(InputId::D) {
        inputs.insert(InputId::D, number(numbers.width))?;
    }
    if wants(InputId::N) {
        inputs.insert(InputId::N, number(rec.linear.iter().map(|name| store.matrix(name).dims().iter().product::<usize>()).sum()))?;
    }
    if wants(InputId::W) {
        inputs.insert(InputId::W, rec.linear.iter().map(|name| entry(store.matrix(name))).collect())?;
    }
    if wants(InputId::G) {
        inputs.insert(InputId::G, rec.linear.iter().map(|name| host_entry(grad_or_zeros(&store.matrix(name), grads))).collect())?;
    }
    recorded_into(inputs, std::mem::take(&mut rec.ffn_act), (Some(InputId::A), InputId::GA), need, grads)?;
    recorded_into(inputs, std::mem::take(&mut rec.heads), (Some(InputId::H), InputId::GH), need, grads)?;
    recorded_into(inputs, rec.embeddings.take().into_iter().collect(), (None, InputId::J), need, grads)?;
    if wants(InputId::S) {
        inputs.insert(InputId::S, std::mem::take(&mut rec.attn_probs).into_iter().map(entry).collect())?;
    }
    if wants(InputId::Z) {
        inputs.insert(InputId::Z, std::mem::take(&mut rec.ffn_pre).into_iter().map(entry).collect())?;
    }
    // P: the model's own parameters.
    if wants(InputId::P) {
        let params = store
            .iter()
            .filter(|(name, _, _)| own.contains(name))
            .map(|(_, t, shape)| {
                let n: usize = shape.iter().product();
                TensorEntry { data: host_entry(t.clone().inner().reshape([n])).data, shape: shape.to_vec() }
            })
            .collect();
        inputs.insert(InputId::P, params)?;
    }
    Ok(())
}

/// Gathers the proxy inputs `need` lists (every input: [`all_inputs`]) of one architecture on
/// a device, running no more of the model than they need ([`Pass::needed`]): a backward pass
/// only when a gradient is read, a forward pass over the minibatch (tracking no gradient) only
/// when an activation is read, and for weights alone only a pass over a few tokens of one
/// sequence, for the forward order of the linear layers. Whatever the pass, the numbers are
/// those of the full gather, bit for bit (the probes of the backward pass add zeros);
/// `tests/gather_need.rs` checks it for every family.
pub fn gather(arch: &dyn Arch, corpus: &Corpus, opts: &GatherOptions, device: &Device, need: &[InputId]) -> Result<Gathered, GatherError> {
    let start = Instant::now();
    let family = arch.family();
    if !family.supports(opts.fidelity) {
        return Err(GatherError::Config(format!("--fidelity reference: {} has one kind of network (trained)", family.title())));
    }
    if opts.seq_len > arch.positions() {
        return Err(GatherError::Config(format!("--seq-len {} exceeds the model's {} positions", opts.seq_len, arch.positions())));
    }
    let need = with_gradient_values(need);
    let need = need.as_slice();
    let pass = Pass::needed(need);
    let specs = arch.spec(opts.fidelity)?;
    // Only a backward pass needs autodiff: without it the plain device computes the same bits
    // (the models avoid the one kernel that rounds differently, `nn::softmax`) and frees each
    // intermediate as soon as it is used, where burn's autodiff keeps untracked ones registered.
    // The backward pass recomputes element-wise intermediates instead of keeping them (burn's
    // gradient checkpointing; the same kernels again, so the same bits): FlexiBERT at 128 × 512
    // went from 16.8 to 7.4 GiB, and a little faster.
    let run_on = if pass == Pass::Backward { device.clone().autodiff().gradient_checkpointing() } else { device.clone().inner() };
    let seed = init_seed(opts.seed, &arch.id(), opts.variant.init);
    let in_vocabulary = |batch: &crate::models::batch::Minibatch| match batch.ids().find(|&id| id as usize >= arch.vocab()) {
        Some(id) => Err(TextError::OutOfVocabulary { id, vocab: arch.vocab() }),
        None => Ok(()),
    };
    // One short sequence: all a pass needs to record the forward order of the linear layers.
    let few_tokens = || family.gather_batch(corpus, 1, family.min_seq_len().max(2).min(opts.seq_len), opts.seed, 0);
    let store = if pass == Pass::Backward {
        // Gradients are read only for the linear weights (and for activations, through probes
        // that are leaves of their own): every other parameter is a constant of the backward
        // pass, which then skips its gradient (GPT-2's tied output head: a product with the
        // whole vocabulary). Which parameters are linear weights, a forward pass over a few
        // tokens on the plain device records. The gradients read are the same, bit for bit.
        let values = ParamStore::initial(&specs, seed);
        let plain = ParamStore::from_values(values.clone(), &device.clone().inner());
        let few = few_tokens()?;
        in_vocabulary(&few)?;
        let mut order = Recorder::keeping(&[InputId::W]);
        arch.loss(&plain, &few, &mut order, opts.fidelity)?;
        drop(plain);
        ParamStore::from_values_tracking(values, &run_on, |name| order.linear.iter().any(|l| l == name))
    } else {
        ParamStore::build(&specs, seed, &run_on)
    };
    let mut phases = GatherPhases { init: start.elapsed().as_secs_f64(), ..GatherPhases::default() };
    let mut lap = Instant::now();
    let mut rec = Recorder::keeping(need);
    let batch = match pass {
        Pass::Weights => few_tokens()?,
        Pass::Forward | Pass::Backward => family.gather_batch(corpus, opts.batch, opts.seq_len, opts.seed, opts.variant.minibatch)?,
    };
    in_vocabulary(&batch)?;
    let loss = arch.loss(&store, &batch, &mut rec, opts.fidelity)?;
    let loss_value = (pass != Pass::Weights).then(|| loss.clone().inner().into_scalar::<f64>());
    phases.forward = lap.elapsed().as_secs_f64();
    lap = Instant::now();
    let grads = if pass == Pass::Backward { Some(loss.backward()) } else { None };
    phases.backward = lap.elapsed().as_secs_f64();
    lap = Instant::now();
    let wants = |id: InputId| need.contains(&id);
    let mut inputs = ProxyInputs::new();
    // GraSP's direction: the gradient itself (kept until the main pass's gradients are freed).
    let hg_direction = wants(InputId::HG).then(|| gradients_of(&store, &rec.linear, grads.as_ref()));
    // P: the model's own parameters; a loss head (group `head`) is not part of the model.
    let own: Vec<&str> = specs.iter().filter(|s| s.group != "head").map(|s| s.name.as_str()).collect();
    let numel = specs.iter().filter(|s| s.group != "head").map(|s| s.numel()).sum();
    read_out(&mut inputs, &store, &mut rec, grads.as_ref(), need, &own, ArchNumbers { layers: arch.layers(), width: arch.width() })?;
    phases.extract = lap.elapsed().as_secs_f64();
    if let Some(direction) = hg_direction {
        drop(grads);
        lap = Instant::now();
        inputs.insert(InputId::HG, hessian_gradient(&store, &rec.linear, direction, |s| Ok(arch.loss(s, &batch, &mut Recorder::default(), opts.fidelity)?))?)?;
        phases.backward += lap.elapsed().as_secs_f64();
    }
    if wants(InputId::GS) {
        lap = Instant::now();
        let one = family.gather_batch(corpus, 1, opts.seq_len, opts.seed, 0)?;
        // GS makes the pass a backward pass, so the store is on a device that tracks gradients.
        let gs = synflow_gradient(&store, &rec.linear, |s, r| Ok(arch.loss(s, &one, r, opts.fidelity).map(drop)?))?;
        inputs.insert(InputId::GS, gs)?;
        phases.backward += lap.elapsed().as_secs_f64();
    }
    let param_names: Vec<String> = store.iter().filter(|(name, _, _)| own.contains(name)).map(|(name, _, _)| name.to_owned()).collect();
    let modules = [("W", rec.linear.clone()), ("G", rec.linear.clone()), ("P", param_names)]
        .into_iter()
        .filter(|(k, _)| inputs.present().any(|id| crate::lang::table::input(id).name == *k))
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let minibatch = if pass == Pass::Weights { Default::default() } else { batch.arrays() };
    Ok(Gathered { inputs, loss: loss_value, params: numel, seconds: start.elapsed().as_secs_f64(), phases, modules, minibatch })
}

/// The step of GraSP's central difference, relative: the linear weights move by this fraction of
/// their joint norm along the gradient.
pub const HESSIAN_STEP: f64 = 1e-3;

fn squared_norm(t: Tensor<2>) -> f64 {
    (t.clone() * t).sum().into_scalar::<f64>()
}

/// `H·g` over the linear weights `names` of `store`, `g` their gradient (`direction`): the
/// central difference `(∇L(W + r·g) − ∇L(W − r·g)) / 2r` of the gradients, with
/// `r = HESSIAN_STEP · |W| / |g|` (norms over all those weights together; the other parameters
/// stay put), `loss` the forward pass to the loss on a store (on a device that tracks
/// gradients). burn has no second derivatives; this is what GraSP's double backward computes,
/// up to `O(r²)`. Every family's gather and the pretrained sub-networks' pass their own loss.
pub fn hessian_gradient(store: &ParamStore, names: &[String], direction: Vec<Tensor<2>>, loss: impl Fn(&ParamStore) -> Result<Tensor<1>, GatherError>) -> Result<Vec<TensorEntry>, GatherError> {
    let weight_norm = names.iter().map(|n| squared_norm(store.matrix(n).inner())).sum::<f64>().sqrt();
    let grad_norm = direction.iter().map(|g| squared_norm(g.clone())).sum::<f64>().sqrt();
    if grad_norm == 0.0 || !grad_norm.is_finite() {
        return Ok(direction.into_iter().map(|g| host_entry(g.zeros_like())).collect());
    }
    let r = HESSIAN_STEP * weight_norm / grad_norm;
    let gradients_at = |step: f64| -> Result<Vec<Tensor<2>>, GatherError> {
        let mut shifted = store.clone();
        for (name, g) in names.iter().zip(&direction) {
            shifted.replace(name, store.matrix(name).inner() + g.clone() * step);
        }
        let grads = loss(&shifted)?.backward();
        Ok(names.iter().map(|n| {
            let t = shifted.matrix(n);
            t.grad(&grads).unwrap_or_else(|| t.inner().zeros_like())
        }).collect())
    };
    let plus = gradients_at(r)?;
    let minus = gradients_at(-r)?;
    Ok(plus.into_iter().zip(minus).map(|(p, m)| host_entry((p - m) / (2.0 * r))).collect())
}

/// Synflow's gradients: every parameter of `store` (on a device that tracks gradients) replaced
/// by its magnitude, the token embeddings of one sequence by ones (positions and the rest of the
/// model as they are), and the gradient of the sum of every output logit (every position, every
/// vocabulary entry) with respect to each linear weight `names`, as the reference computed it
/// for GPT-2. `forward` runs the model on the magnitudes with a [`Recorder::synflow`], which
/// gives it ones for the token embeddings and keeps its summed logits
/// ([`Recorder::logit_sum`]). The final norm before the output head bounds that sum, so f32
/// does not overflow.
pub fn synflow_gradient(store: &ParamStore, names: &[String], forward: impl FnOnce(&ParamStore, &mut Recorder) -> Result<(), GatherError>) -> Result<Vec<TensorEntry>, GatherError> {
    let store = store.absolute();
    let mut rec = Recorder::synflow();
    forward(&store, &mut rec)?;
    let objective = rec.logit_sum.take().ok_or_else(|| GatherError::Config("the forward pass does not report its summed logits (Recorder::logit_sum), which Synflow needs".into()))?;
    let grads = objective.backward();
    Ok(names.iter().map(|n| {
        let t = store.matrix(n);
        host_entry(t.grad(&grads).unwrap_or_else(|| t.inner().zeros_like()))
    }).collect())
}

/// The metadata an inputs file of a gather carries ([`crate::eval::file`]).
pub fn meta(arch: &dyn Arch, opts: &GatherOptions, corpus: &Corpus, g: &Gathered) -> crate::eval::file::InputsMeta {
    crate::eval::file::InputsMeta {
        arch: arch.id(),
        family: Some(arch.family().name().to_owned()),
        framework: Some(format!("lpzero {} ({})", env!("CARGO_PKG_VERSION"), opts.device.name())),
        batch: Some(opts.batch),
        seq_len: Some(opts.seq_len),
        seed: Some(opts.seed),
        loss: g.loss,
        params: Some(g.params as u64),
        gather_seconds: Some(g.seconds),
        modules: g.modules.clone(),
        minibatch: g.minibatch.clone(),
        extra: [("corpus".to_owned(), corpus.source.clone())]
            .into_iter()
            .chain((!opts.variant.is_first()).then(|| ("variant".to_owned(), opts.variant.to_string())))
            .collect(),
    }
}
