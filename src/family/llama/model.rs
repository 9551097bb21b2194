//! The LLaMA decoder with Hugging Face `LlamaForCausalLM` semantics, for whole models and for
//! LoNAS-style sub-networks of them.
//!
//! Per layer: `x += o(attention(RoPE(q), RoPE(k), v))` on `RMSNorm(x)`, then
//! `x += down(silu(gate(n)) ⊙ up(n))` on `n = RMSNorm(x)`; a final RMSNorm and the output head
//! (`lm_head`, or the embedding table when tied). Rotary positions use the rotate-half
//! convention (the first and second halves of each head's dimensions form the pairs); grouped-
//! query attention lets query head `h` read key/value head `h / (heads / kv_heads)`, as
//! `repeat_kv` does. A projection with a LoRA adapter computes `x·Wᵀ + s·(x·Aᵀ)·Bᵀ`.
//!
//! A sub-network ([`Subnet`]) keeps the first `w` channels of each layer's FFN and the first
//! `r` ranks of each adapter: its tensors are the prefix blocks of the full ones, which is what
//! [`load_params`] reads from a checkpoint without converting the rest.

use super::subnet::Subnet;
use super::weights::{LlamaConfig, LoraAdapter, TensorSource, WeightsError};
use crate::models::batch::LmBatch;
use crate::models::nn::{self, Recorder};
use crate::models::params::{Init, ParamSpec, ParamStore};
use burn::tensor::{activation, Device, Int, Tensor, TensorData};

/// Parameter groups: `embedding` (the token table), `attn` (q/k/v/o), `ffn` (gate/up/down),
/// `norm` (RMSNorm gains), `output` (an untied output layer, part of the model: not a loss
/// head), `lora` (adapter factors).
pub const GROUPS: [&str; 6] = ["embedding", "attn", "ffn", "norm", "output", "lora"];

/// The projections a LoNAS adapter may wrap, per layer, in `modules()` order.
pub const PROJECTIONS: [&str; 7] = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];

/// The LoRA factors of a model, as the sub-network sees them.
#[derive(Clone, Debug, PartialEq)]
pub struct LoraLayout {
    /// Wrapped projections (entries of [`PROJECTIONS`]).
    pub targets: Vec<&'static str>,
    /// The adapter's full rank `r`.
    pub rank: usize,
    /// The scale `s` (`lora_alpha / r`, fixed when the adapter was made: smaller elastic ranks keep it).
    pub scale: f64,
}

/// One LLaMA network: the model's numbers, the active sub-network, and its adapter if any.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaArch {
    /// The full model's configuration.
    pub config: LlamaConfig,
    /// The active widths and ranks (the maximal one for the whole model).
    pub subnet: Subnet,
    /// The adapter's layout, when the model has one.
    pub lora: Option<LoraLayout>,
}

impl LlamaArch {
    /// The whole model (every FFN channel, full ranks).
    pub fn full(config: LlamaConfig, lora: Option<LoraLayout>) -> LlamaArch {
        let rank = lora.as_ref().map_or(0, |l| l.rank);
        let subnet = Subnet::uniform(config.num_hidden_layers, config.intermediate_size, rank, rank);
        LlamaArch { config, subnet, lora }
    }

    /// The rank a wrapped projection of layer `l` is used at (`None`: not wrapped).
    pub fn rank_of(&self, l: usize, projection: &str) -> Option<usize> {
        let lora = self.lora.as_ref()?;
        if !lora.targets.contains(&projection) {
            return None;
        }
        Some(match projection {
            "self_attn.q_proj" | "self_attn.k_proj" | "self_attn.v_proj" => self.subnet.attn_rank[l],
            "mlp.gate_proj" | "mlp.up_proj" => self.subnet.ffn_rank[l],
            _ => lora.rank,
        })
    }

    /// The `[out, in]` shape of a projection of layer `l` in this sub-network.
    pub fn projection_shape(&self, l: usize, projection: &str) -> [usize; 2] {
        let c = &self.config;
        let (h, w) = (c.hidden_size, self.subnet.ffn[l]);
        match projection {
            "self_attn.q_proj" => [c.q_dim(), h],
            "self_attn.k_proj" | "self_attn.v_proj" => [c.kv_dim(), h],
            "self_attn.o_proj" => [h, c.q_dim()],
            "mlp.gate_proj" | "mlp.up_proj" => [w, h],
            _ => [h, w],
        }
    }

    /// Checks the sub-network against the model: one entry per layer, widths and ranks within
    /// the full ones.
    pub fn check(&self) -> Result<(), String> {
        let c = &self.config;
        let s = &self.subnet;
        let layers = c.num_hidden_layers;
        if s.ffn.len() != layers || s.attn_rank.len() != layers || s.ffn_rank.len() != layers {
            return Err(format!("the sub-network has {} FFN widths for a model of {layers} layers", s.ffn.len()));
        }
        if let Some((l, w)) = s.ffn.iter().enumerate().find(|(_, &w)| w == 0 || w > c.intermediate_size) {
            return Err(format!("layer {l}: FFN width {w} is not within 1..={}", c.intermediate_size));
        }
        let full = self.lora.as_ref().map_or(0, |l| l.rank);
        for (l, (&a, &f)) in s.attn_rank.iter().zip(&s.ffn_rank).enumerate() {
            if a > full || f > full || (full > 0 && (a == 0 || f == 0)) {
                return Err(format!("layer {l}: LoRA ranks {a}/{f} are not within 1..={full}"));
            }
        }
        Ok(())
    }
}

/// Hugging Face name of a projection's weight.
pub fn weight_name(l: usize, projection: &str) -> String {
    format!("model.layers.{l}.{projection}.weight")
}

/// Hugging Face (PEFT, without the `base_model.model.` prefix) name of a LoRA factor (`A` or `B`).
pub fn lora_name(l: usize, projection: &str, factor: char) -> String {
    format!("model.layers.{l}.{projection}.lora_{factor}.weight")
}

/// The parameter declarations of a (sub-)network, Hugging Face names, LLaMA's initialisation
/// (N(0, 0.02²) matrices, unit norms).
pub fn spec(arch: &LlamaArch) -> Vec<ParamSpec> {
    let c = &arch.config;
    let h = c.hidden_size;
    let std = 0.02;
    let mut s = vec![ParamSpec::new("model.embed_tokens.weight", &[c.vocab_size, h], Init::Normal(std), "embedding")];
    for l in 0..c.num_hidden_layers {
        s.push(ParamSpec::new(format!("model.layers.{l}.input_layernorm.weight"), &[h], Init::Ones, "norm"));
        s.push(ParamSpec::new(format!("model.layers.{l}.post_attention_layernorm.weight"), &[h], Init::Ones, "norm"));
        for p in PROJECTIONS {
            let [out, inp] = arch.projection_shape(l, p);
            let group = if p.starts_with("mlp") { "ffn" } else { "attn" };
            s.push(ParamSpec::new(weight_name(l, p), &[out, inp], Init::Normal(std), group));
            if let Some(r) = arch.rank_of(l, p) {
                s.push(ParamSpec::new(lora_name(l, p, 'A'), &[r, inp], Init::Normal(std), "lora"));
                s.push(ParamSpec::new(lora_name(l, p, 'B'), &[out, r], Init::Zeros, "lora"));
            }
        }
    }
    s.push(ParamSpec::new("model.norm.weight", &[h], Init::Ones, "norm"));
    if !c.tie_word_embeddings {
        s.push(ParamSpec::new("lm_head.weight", &[c.vocab_size, h], Init::Normal(std), "output"));
    }
    s
}

/// Why a checkpoint cannot be loaded as a (sub-)network.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A tensor could not be read.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// The sub-network or adapter does not fit the model.
    #[error("{0}")]
    Mismatch(String),
}

/// Where a declared tensor comes from: the base file or the adapter, and the prefix block
/// `[..rows, ..cols]` of the stored tensor (stored `[out, in]`) the sub-network keeps.
fn region(name: &str, shape: &[usize]) -> (bool, usize, usize) {
    let from_adapter = name.contains(".lora_");
    match shape {
        [r, c] => (from_adapter, *r, *c),
        [n] => (from_adapter, 1, *n),
        _ => (from_adapter, 1, shape.iter().product()),
    }
}

/// The PEFT name of an adapter factor in the adapter file (`base_model.model.` + the module).
fn adapter_tensor(adapter: &LoraAdapter, name: &str) -> Option<String> {
    let (module, factor) = name.rsplit_once(".lora_")?;
    let pair = adapter.pair(module)?;
    Some(if factor.starts_with('A') { pair.a.clone() } else { pair.b.clone() })
}

/// Reads a (sub-)network's parameters from a checkpoint (and adapter): each declared tensor is
/// the prefix block of the stored one, converted alone. The base is read without gradients
/// unless `device` is an autodiff device.
pub fn load_params(arch: &LlamaArch, base: &dyn TensorSource, adapter: Option<&LoraAdapter>, device: &Device) -> Result<ParamStore, LoadError> {
    arch.check().map_err(LoadError::Mismatch)?;
    if arch.lora.is_some() != adapter.is_some() {
        return Err(LoadError::Mismatch("the network's adapter layout and the adapter given disagree".into()));
    }
    let mut values = Vec::new();
    for s in spec(arch) {
        let (from_adapter, rows, cols) = region(&s.name, &s.shape);
        let v = if from_adapter {
            let adapter = adapter.expect("checked above");
            let stored = adapter_tensor(adapter, &s.name).ok_or_else(|| LoadError::Mismatch(format!("the adapter has no factor for `{}`", s.name)))?;
            adapter.read_block(&stored, rows, cols)?
        } else if s.shape.len() == 2 {
            base.read_block(&s.name, rows, cols)?
        } else {
            let v = base.read(&s.name)?;
            if v.len() != cols {
                return Err(LoadError::Mismatch(format!("`{}` holds {} values; the configuration implies {cols}", s.name, v.len())));
            }
            v
        };
        values.push((s, v));
    }
    Ok(ParamStore::from_values(values, device))
}

/// RoPE tables `(cos, sin)`, `[1, 1, t, d]`, for positions `0..t` (rotate-half layout: the
/// frequency of dimension `j` is `θ^(−2(j mod d/2)/d)`), computed in f64.
pub fn rope_tables(t: usize, head_dim: usize, theta: f64, device: &Device) -> (Tensor<4>, Tensor<4>) {
    let half = head_dim / 2;
    let mut cos = Vec::with_capacity(t * head_dim);
    let mut sin = Vec::with_capacity(t * head_dim);
    for m in 0..t {
        for j in 0..head_dim {
            let inv = theta.powf(-2.0 * (j % half) as f64 / head_dim as f64);
            let a = m as f64 * inv;
            cos.push(a.cos() as f32);
            sin.push(a.sin() as f32);
        }
    }
    let make = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [1, 1, t, head_dim]), device);
    (make(cos), make(sin))
}

/// Rotates `x` (`[batch, head, token, d]`) by the RoPE tables: `x·cos + rotate_half(x)·sin`,
/// `rotate_half([x1, x2]) = [−x2, x1]`.
pub fn apply_rope(x: Tensor<4>, cos: &Tensor<4>, sin: &Tensor<4>) -> Tensor<4> {
    let [b, h, t, d] = x.dims();
    let x1 = x.clone().slice([0..b, 0..h, 0..t, 0..d / 2]);
    let x2 = x.clone().slice([0..b, 0..h, 0..t, d / 2..d]);
    let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
    x * cos.clone() + rotated * sin.clone()
}

/// RMSNorm over the last axis with gain `{name}`: `x / √(mean(x²) + ε) · g`.
pub fn rms_norm(p: &ParamStore, name: &str, x: Tensor<3>, eps: f64) -> Tensor<3> {
    let n = x.dims()[2];
    let ms = (x.clone() * x.clone()).mean_dim(2);
    x / (ms + eps).sqrt() * p.vector(name).reshape([1, 1, n])
}

/// Grouped-query attention with a causal mask on `q` (`[b, heads, t, d]`) and `k, v`
/// (`[b, kv_heads, t, d]`): returns the per-head outputs and records the probabilities.
pub fn gqa_attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, rec: &mut Recorder) -> Tensor<4> {
    let [b, heads, t, d] = q.dims();
    let kv = k.dims()[1];
    let rep = heads / kv;
    let repeat = |x: Tensor<4>| if rep == 1 { x } else { x.unsqueeze_dim::<5>(2).repeat_dim(2, rep).reshape([b, heads, t, d]) };
    let (k, v) = (repeat(k), repeat(v));
    let scores = q.matmul(k.swap_dims(2, 3)) / (d as f64).sqrt();
    let keep = nn::causal_keep(t, &scores.device());
    let scores = scores * keep.clone() + (keep.neg() + 1.0) * -1e9;
    let probs = nn::softmax(scores, 3);
    rec.attn_probs(&probs);
    rec.heads(probs.matmul(v))
}

/// A projection of layer `l` (with its adapter, if wrapped), recording its weights in the
/// order LPZero's weight list has them (`lora_A`, `lora_B`, the base).
fn project(p: &ParamStore, arch: &LlamaArch, l: usize, projection: &str, x: Tensor<3>, rec: &mut Recorder) -> Tensor<3> {
    let [b, t, i] = x.dims();
    let flat = x.reshape([b * t, i]);
    let w = weight_name(l, projection);
    let mut y = flat.clone().matmul(p.matrix(&w).transpose());
    if arch.rank_of(l, projection).is_some() {
        let (a, bb) = (lora_name(l, projection, 'A'), lora_name(l, projection, 'B'));
        rec.linear(&a);
        rec.linear(&bb);
        let scale = arch.lora.as_ref().map_or(1.0, |l| l.scale);
        y = y + flat.matmul(p.matrix(&a).transpose()).matmul(p.matrix(&bb).transpose()) * scale;
    }
    rec.linear(&w);
    let out = y.dims()[1];
    y.reshape([b, t, out])
}

/// The final hidden states `[b·t, hidden]` of `ids` (`b` sequences of `t` tokens), recording
/// what the proxy inputs need. The FFN records: `Z` the gate pre-activation, `A` the gated
/// product `silu(gate)·up` (the input of `down_proj`).
pub fn hidden_states(p: &ParamStore, arch: &LlamaArch, ids: &[u32], b: usize, t: usize, rec: &mut Recorder) -> Tensor<2> {
    let c = &arch.config;
    let (h, d) = (c.hidden_size, c.head_dim);
    let table = p.matrix("model.embed_tokens.weight");
    let device = table.device();
    let index = Tensor::<1, Int>::from_data(TensorData::new(ids.iter().map(|&i| i as i64).collect::<Vec<_>>(), [b * t]), &device);
    let emb = rec.tokens(table.select(0, index).reshape([b, t, h]));
    let mut x = rec.embeddings(emb);
    let (cos, sin) = rope_tables(t, d, c.rope_theta, &device);
    let heads = |y: Tensor<3>, n: usize| y.reshape([b, t, n, d]).swap_dims(1, 2);
    for l in 0..c.num_hidden_layers {
        let n = rms_norm(p, &format!("model.layers.{l}.input_layernorm.weight"), x.clone(), c.rms_norm_eps);
        let q = apply_rope(heads(project(p, arch, l, "self_attn.q_proj", n.clone(), rec), c.num_attention_heads), &cos, &sin);
        let k = apply_rope(heads(project(p, arch, l, "self_attn.k_proj", n.clone(), rec), c.num_key_value_heads), &cos, &sin);
        let v = heads(project(p, arch, l, "self_attn.v_proj", n, rec), c.num_key_value_heads);
        let ctx = gqa_attention(q, k, v, rec);
        x = x + project(p, arch, l, "self_attn.o_proj", nn::merge_heads(ctx), rec);
        let n = rms_norm(p, &format!("model.layers.{l}.post_attention_layernorm.weight"), x.clone(), c.rms_norm_eps);
        let gate = project(p, arch, l, "mlp.gate_proj", n.clone(), rec);
        let gate = rec.ffn_pre(gate);
        let up = project(p, arch, l, "mlp.up_proj", n, rec);
        let act = rec.ffn_act(activation::silu(gate) * up);
        x = x + project(p, arch, l, "mlp.down_proj", act, rec);
    }
    rms_norm(p, "model.norm.weight", x, c.rms_norm_eps).reshape([b * t, h])
}

/// The output layer's weights `[vocab, hidden]` (the embedding table when tied).
fn head(p: &ParamStore, arch: &LlamaArch) -> Tensor<2> {
    p.matrix(if arch.config.tie_word_embeddings { "model.embed_tokens.weight" } else { "lm_head.weight" })
}

/// The logits `[b·t, vocab]` of `ids`.
pub fn logits(p: &ParamStore, arch: &LlamaArch, ids: &[u32], b: usize, t: usize) -> Tensor<2> {
    let x = hidden_states(p, arch, ids, b, t, &mut Recorder::default());
    x.matmul(head(p, arch).transpose())
}

/// The forward pass to the mean next-token NLL (a one-element tensor), recording inputs.
pub fn forward(p: &ParamStore, arch: &LlamaArch, batch: &LmBatch, rec: &mut Recorder) -> Tensor<1> {
    let (b, t) = (batch.batch, batch.len);
    let x = hidden_states(p, arch, &batch.ids, b, t, rec);
    let w = head(p, arch);
    // Σ logits = Σ_n x_n · Σ_v w_v, without forming them (Synflow's objective).
    rec.logit_sum(|| (x.clone() * w.clone().sum_dim(0)).sum());
    let logp = activation::log_softmax(x.matmul(w.transpose()), 1);
    let idx = Tensor::<2, Int>::from_data(TensorData::new(batch.targets.iter().map(|&i| i as i64).collect::<Vec<_>>(), [b * t, 1]), &logp.device());
    logp.gather(1, idx).reshape([b * t]).neg().mean()
}
