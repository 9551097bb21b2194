//! FlexiBERT as the reference implementation built it (`--fidelity reference`).
//!
//! The reference (LPZero's runners) built an `ElectraModel` from each architecture's
//! `nas_config` and left every other setting at its default (`ARCHITECTURES.md` §A): hidden size
//! [`HIDDEN`] = 256 and FFN width [`INTERMEDIATE`] = 1024 for every architecture, whatever the
//! benchmark's `hidden_size` and `feed_forward_dimension` say. What changes from one
//! architecture to the next is the number of layers and, per layer, the labelled token mixer, its
//! head count and `num_feed_forward`. The six mixers:
//!
//! * **SA-SDP**: query, key, value (256→256), scaled dot-product attention over `h` heads, then the
//!   output block `LayerNorm(dense(ctx) + x)`.
//! * **SA-WMA**: the same with a bias-free square matrix applied to the projected query before
//!   the head split ([`wma_attention`]).
//! * **LT-DFT**: an input projection 256→256 split into `h` heads, then the real part of the
//!   unnormalised 2-D DFT over (token, head dim) ([`dft_mix`]). No output block, no residual, no
//!   LayerNorm: the merged transform is the mixer's output.
//! * **LT-DCT**: the same with the unnormalised 2-D DCT-II (factor 2) ([`dct_mix`]).
//! * **DSC-k** (k = 5, 9): ConvBERT's span-based dynamic convolution beside attention, with
//!   `h' = max(h/2, 1)` heads of the original head size `d = 256/h` in each branch
//!   ([`dsc_conv_branch`]); the two branches are concatenated (attention heads first) and go
//!   through the output block.
//!
//! Every layer then runs the FFN stack 256→1024 (→1024 × (`num_feed_forward` − 1)) →256 with
//! exact GELU after every dense, and `LayerNorm(· + m)` with the residual from the mixer output
//! `m`. Initialisers follow HF's `_init_weights`: plain N(0, 0.02) for every dense, embedding and
//! conv weight, the padding row (id 0) of the word table zeroed, zero biases, LayerNorm (1, 0),
//! ε = 1e-12. The parameter count of these declarations equals the benchmark CSV's
//! `Number of Parameters` (a test checks all 500 architectures).
//!
//! Deliberate differences from the reference run, as in the trained fidelity: dropout is off (the
//! reference left it on, so its values were stochastic), and the LT layers' softmax, which the
//! reference computed and discarded, is only recorded (as `S`). Like the reference, no layer
//! applies the attention mask: padded positions are attended to.
//!
//! **The loss** is masked-language-model cross entropy through a head tied to the word
//! embeddings (dense 256→128, GELU, LayerNorm, logits against the word table plus a bias), the
//! same objective as the trained fidelity. The reference instead back-propagated the sum of the
//! last hidden states, which the final LayerNorm makes exactly zero (its gradients were rounding
//! noise); a real objective gives real gradients.

use super::bench::{FlexiArch, FlexiLayer, LayerOp};
use super::model::{embed, ffn_block, linear_rec, mlm_logit_sum, mlm_loss, EMBED, INIT_STD, LN_EPS, MAX_POSITIONS, VOCAB};
use crate::models::batch::MlmBatch;
use crate::models::nn::{self, AttnMask, Recorder};
use crate::models::params::{Init, ParamSpec, ParamStore};
use crate::models::ModelError;
use burn::tensor::{Device, Tensor, TensorData};
use std::f64::consts::PI;

/// The hidden size of every reference network (ElectraConfig's default).
pub const HIDDEN: usize = 256;
/// The FFN width of every layer of every reference network (ElectraConfig's default).
pub const INTERMEDIATE: usize = 1024;
/// ConvBERT's `conv_head_ratio`: a DSC layer with `h` heads runs `max(h / 2, 1)` heads in each
/// branch.
pub const CONV_HEAD_RATIO: usize = 2;

/// The head layout of one layer's mixer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MixerShape {
    /// Heads the mixer runs (per branch, for DSC).
    pub heads: usize,
    /// Width of one head, `256 / h` with the layer's labelled `h`.
    pub head_dim: usize,
    /// Width of the query/key/value (or input) projection, `heads · head_dim`.
    pub width: usize,
}

/// The head layout of a layer, or why the reference network cannot be built: the heads must
/// divide 256, a DSC layer needs an even head count (so that its two branches together are 256
/// wide) and an odd kernel (so that the zero-padded convolutions keep the sequence length).
pub fn mixer_shape(layer: &FlexiLayer) -> Result<MixerShape, ModelError> {
    let h = layer.heads;
    if h == 0 || HIDDEN % h != 0 {
        return Err(ModelError::Unsupported(format!("{h} heads do not divide the reference hidden size {HIDDEN}")));
    }
    let head_dim = HIDDEN / h;
    match layer.op {
        LayerOp::SaSdp | LayerOp::SaWma | LayerOp::LtDft | LayerOp::LtDct => Ok(MixerShape { heads: h, head_dim, width: HIDDEN }),
        LayerOp::Dsc(k) => {
            let heads = (h / CONV_HEAD_RATIO).max(1);
            if 2 * heads * head_dim != HIDDEN {
                return Err(ModelError::Unsupported(format!(
                    "a DSC layer with {h} heads concatenates {} values per token, not {HIDDEN}",
                    2 * heads * head_dim
                )));
            }
            if k % 2 == 0 {
                return Err(ModelError::Unsupported(format!("DSC kernel size {k} is even; the reference's padding needs an odd kernel")));
            }
            Ok(MixerShape { heads, head_dim, width: heads * head_dim })
        }
    }
}

fn dense(s: &mut Vec<ParamSpec>, name: &str, out: usize, inp: usize, bias: bool, group: &'static str) {
    s.push(ParamSpec::new(format!("{name}.weight"), &[out, inp], Init::Normal(INIT_STD), group));
    if bias {
        s.push(ParamSpec::new(format!("{name}.bias"), &[out], Init::Zeros, group));
    }
}

fn norm(s: &mut Vec<ParamSpec>, name: &str, n: usize, group: &'static str) {
    s.push(ParamSpec::new(format!("{name}.weight"), &[n], Init::Ones, group));
    s.push(ParamSpec::new(format!("{name}.bias"), &[n], Init::Zeros, group));
}

/// The declarations of one layer's mixer (group `mixer`), prefix `layer.{l}.op`:
/// `query`, `key`, `value` (SA, DSC), `wma` (WMA, no bias), `input` (LT),
/// `conv.depthwise.weight` `[256, 1, k]`, `conv.pointwise.weight` `[A, 256, 1]`, `conv.bias`
/// `[A, 1]`, `conv_kernel` (A → h'·k), `conv_out` (256 → A) (DSC), and the output block
/// `output` (256 → 256) + `ln` (SA, DSC).
pub fn mixer_spec(l: usize, layer: &FlexiLayer) -> Result<Vec<ParamSpec>, ModelError> {
    let shape = mixer_shape(layer)?;
    let a = shape.width;
    let name = |part: &str| format!("layer.{l}.op.{part}");
    let mut s = vec![];
    match layer.op {
        LayerOp::SaSdp | LayerOp::SaWma => {
            for part in ["query", "key", "value"] {
                dense(&mut s, &name(part), a, HIDDEN, true, "mixer");
            }
            if layer.op == LayerOp::SaWma {
                dense(&mut s, &name("wma"), a, a, false, "mixer");
            }
        }
        LayerOp::LtDft | LayerOp::LtDct => dense(&mut s, &name("input"), a, HIDDEN, true, "mixer"),
        LayerOp::Dsc(k) => {
            for part in ["query", "key", "value"] {
                dense(&mut s, &name(part), a, HIDDEN, true, "mixer");
            }
            let n = Init::Normal(INIT_STD);
            s.push(ParamSpec::new(name("conv.depthwise.weight"), &[HIDDEN, 1, k], n, "mixer"));
            s.push(ParamSpec::new(name("conv.pointwise.weight"), &[a, HIDDEN, 1], n, "mixer"));
            s.push(ParamSpec::new(name("conv.bias"), &[a, 1], Init::Zeros, "mixer"));
            dense(&mut s, &name("conv_kernel"), shape.heads * k, a, true, "mixer");
            dense(&mut s, &name("conv_out"), a, HIDDEN, true, "mixer");
        }
    }
    if !matches!(layer.op, LayerOp::LtDft | LayerOp::LtDct) {
        dense(&mut s, &name("output"), HIDDEN, HIDDEN, true, "mixer");
        norm(&mut s, &name("ln"), HIDDEN, "mixer");
    }
    Ok(s)
}

/// The parameter declarations of an architecture as the reference built it. Groups as in the
/// trained fidelity: `embedding`, `projection` (128 → 256), `mixer`, `ffn`, and `head` (the MLM
/// loss head, not part of the encoder and not counted).
pub fn spec(arch: &FlexiArch) -> Result<Vec<ParamSpec>, ModelError> {
    let n = Init::Normal(INIT_STD);
    let mut word = ParamSpec::new("emb.word", &[VOCAB, EMBED], n, "embedding");
    word.zero_row = Some(0);
    let mut s = vec![
        word,
        ParamSpec::new("emb.position", &[MAX_POSITIONS, EMBED], n, "embedding"),
        ParamSpec::new("emb.type", &[2, EMBED], n, "embedding"),
    ];
    norm(&mut s, "emb.ln", EMBED, "embedding");
    dense(&mut s, "emb.project", HIDDEN, EMBED, true, "projection");
    for (l, layer) in arch.layers.iter().enumerate() {
        if layer.num_ffn == 0 {
            return Err(ModelError::Unsupported(format!("layer {l}: num_feed_forward is 0")));
        }
        s.extend(mixer_spec(l, layer).map_err(|e| ModelError::Unsupported(format!("architecture {}, layer {l}: {e}", arch.id)))?);
        dense(&mut s, &format!("layer.{l}.ffn.0"), INTERMEDIATE, HIDDEN, true, "ffn");
        for j in 1..layer.num_ffn {
            dense(&mut s, &format!("layer.{l}.ffn.{j}"), INTERMEDIATE, INTERMEDIATE, true, "ffn");
        }
        dense(&mut s, &format!("layer.{l}.ffn.out"), HIDDEN, INTERMEDIATE, true, "ffn");
        norm(&mut s, &format!("layer.{l}.ffn.ln"), HIDDEN, "ffn");
    }
    dense(&mut s, "head.dense", EMBED, HIDDEN, true, "head");
    norm(&mut s, "head.ln", EMBED, "head");
    s.push(ParamSpec::new("head.bias", &[VOCAB], Init::Zeros, "head"));
    Ok(s)
}

/// `[n, n]` matrix `M[k, i] = f(k, i)`, as a tensor.
fn matrix(n: usize, device: &Device, f: impl Fn(usize, usize) -> f64) -> Tensor<2> {
    let v: Vec<f32> = (0..n * n).map(|x| f(x / n, x % n) as f32).collect();
    Tensor::<2>::from_data(TensorData::new(v, [n, n]), device)
}

/// `Σ_i M[k, i] · x[…, i]` along the last axis of `x`.
fn along_last(x: Tensor<4>, m: Tensor<2>) -> Tensor<4> {
    let [b, h, t, d] = x.dims();
    x.reshape([b * h * t, d]).matmul(m.transpose()).reshape([b, h, t, d])
}

/// `Σ_i M[k, i] · x[…, i, :]` along the second-to-last axis of `x`.
fn along_tokens(x: Tensor<4>, m: Tensor<2>) -> Tensor<4> {
    along_last(x.swap_dims(2, 3), m).swap_dims(2, 3)
}

/// LT-DFT's mixing: the real part of the unnormalised 2-D DFT over the last two axes of
/// `u` `[batch, head, token, dim]`,
/// `X[k, l] = Σ_t Σ_j u[t, j] · cos(2π(kt/T + lj/d))` (torch's `fft2(...).real`, "backward"
/// norm). Computed as `C_T·u·C_d − S_T·u·S_d` with cosine and sine matrices, which is linear in
/// `u` and differentiable.
pub fn dft_mix(u: Tensor<4>) -> Tensor<4> {
    let [_, _, t, d] = u.dims();
    let device = u.device();
    let cos = |n: usize| matrix(n, &device, move |k, i| (2.0 * PI * ((k * i) % n) as f64 / n as f64).cos());
    let sin = |n: usize| matrix(n, &device, move |k, i| (2.0 * PI * ((k * i) % n) as f64 / n as f64).sin());
    let cc = along_tokens(along_last(u.clone(), cos(d)), cos(t));
    let ss = along_tokens(along_last(u, sin(d)), sin(t));
    cc - ss
}

/// LT-DCT's mixing: the unnormalised 2-D DCT-II (scipy `dct(type=2, norm=None)`, with the
/// factor 2) over the last two axes of `u` `[batch, head, token, dim]`:
/// `X[k] = 2 Σ_n x[n] cos(πk(2n+1) / (2N))`, first along the head dim, then along the tokens.
pub fn dct_mix(u: Tensor<4>) -> Tensor<4> {
    let [_, _, t, d] = u.dims();
    let device = u.device();
    let dct = |n: usize| matrix(n, &device, move |k, i| 2.0 * (PI * (k * (2 * i + 1)) as f64 / (2 * n) as f64).cos());
    along_tokens(along_last(u, dct(d)), dct(t))
}

/// SA-WMA's attention on projected `q, k, v` `[batch, token, width]`: the query is first
/// multiplied by the bias-free square `weight` (`q' = q · weightᵀ`, `weight` stored
/// `[out, in]`), then scaled dot-product attention over `heads` heads with scores
/// `q' kᵀ / sqrt(d)` and no mask. Returns the probabilities `[batch, head, query, key]` and the
/// per-head outputs `[batch, head, token, d]`.
pub fn wma_attention(q: Tensor<3>, k: Tensor<3>, v: Tensor<3>, weight: Tensor<2>, heads: usize) -> (Tensor<4>, Tensor<4>) {
    let [b, t, width] = q.dims();
    let q = q.reshape([b * t, width]).matmul(weight.transpose()).reshape([b, t, width]);
    nn::attention_parts(q, k, v, heads, &AttnMask::None)
}

/// `x` `[batch, token, channel]` zero-padded by `before` and `after` positions along the tokens.
fn pad_tokens(x: Tensor<3>, before: usize, after: usize) -> Tensor<3> {
    let [b, _, c] = x.dims();
    let device = x.device();
    let mut parts = vec![];
    if before > 0 {
        parts.push(Tensor::<3>::zeros([b, before, c], &device));
    }
    parts.push(x);
    if after > 0 {
        parts.push(Tensor::<3>::zeros([b, after, c], &device));
    }
    Tensor::cat(parts, 1)
}

/// A depthwise convolution over the tokens, as PyTorch's `Conv1d(groups = channels,
/// padding = k/2, bias = False)`: `y[b, t, c] = Σ_r x[b, t + r − k/2, c] · weight[c, r]` with
/// zeros outside the sequence. `x` is `[batch, token, channel]`, `weight` `[channel, k]`
/// (k odd).
pub fn depthwise_conv(x: Tensor<3>, weight: Tensor<2>) -> Tensor<3> {
    let [_, t, c] = x.dims();
    let k = weight.dims()[1];
    let xp = pad_tokens(x, k / 2, k / 2);
    let mut y: Option<Tensor<3>> = None;
    for r in 0..k {
        let tap = xp.clone().narrow(1, r, t) * weight.clone().narrow(1, r, 1).reshape([1, 1, c]);
        y = Some(match y {
            Some(acc) => acc + tap,
            None => tap,
        });
    }
    y.unwrap_or_else(|| xp.narrow(1, 0, t).zeros_like())
}

/// ConvBERT's dynamic convolution: every token mixes a window of `k` positions of `u`
/// `[batch, token, heads·d]` with its own per-head kernel `kernels` `[batch, token, heads, k]`:
/// `out[b, t, j, i] = Σ_r u[b, t + r − (k−1)/2, j·d + i] · kernels[b, t, j, r]`, zero outside the
/// sequence. Returns `[batch, token, heads, d]`. `k` is odd and `heads` divides the width of `u`
/// (as [`mixer_shape`] ensures).
pub fn dynamic_conv(u: Tensor<3>, kernels: Tensor<4>) -> Tensor<4> {
    let [b, t, width] = u.dims();
    let [_, _, heads, k] = kernels.dims();
    let d = width / heads;
    let half = k.saturating_sub(1) / 2;
    let up = pad_tokens(u, half, half);
    let mut out: Option<Tensor<4>> = None;
    for r in 0..k {
        let window = up.clone().narrow(1, r, t).reshape([b, t, heads, d]);
        let tap = window * kernels.clone().narrow(3, r, 1);
        out = Some(match out {
            Some(acc) => acc + tap,
            None => tap,
        });
    }
    out.unwrap_or_else(|| Tensor::<4>::zeros([b, t, heads, d], &kernels.device()))
}

/// The weights of a DSC layer's convolution branch, as plain tensors (`[out, in]` for dense
/// layers).
#[derive(Clone, Debug)]
pub struct DscConv {
    /// Depthwise kernel `[256, k]`.
    pub depthwise: Tensor<2>,
    /// Pointwise (1×1) convolution `[A, 256]`.
    pub pointwise: Tensor<2>,
    /// Bias added after the pointwise convolution `[A]`.
    pub bias: Tensor<1>,
    /// `conv_kernel_layer` weight `[h'·k, A]`.
    pub kernel_weight: Tensor<2>,
    /// `conv_kernel_layer` bias `[h'·k]`.
    pub kernel_bias: Tensor<1>,
    /// `conv_out_layer` weight `[A, 256]`.
    pub out_weight: Tensor<2>,
    /// `conv_out_layer` bias `[A]`.
    pub out_bias: Tensor<1>,
    /// Heads `h'`.
    pub heads: usize,
}

fn affine(x: Tensor<3>, w: Tensor<2>, bias: Tensor<1>) -> Tensor<3> {
    let [b, t, i] = x.dims();
    let o = w.dims()[0];
    (x.reshape([b * t, i]).matmul(w.transpose()) + bias.reshape([1, o])).reshape([b, t, o])
}

/// DSC's convolution branch on the layer input `x` `[batch, token, 256]` and its projected query
/// `q` `[batch, token, A]`:
/// 1. `ks = pointwise(depthwise(x)) + bias` (the separable key convolution),
/// 2. per token and head, a kernel `softmax_r(conv_kernel(ks ⊙ q))` over the `k` taps,
/// 3. [`dynamic_conv`] of `conv_out(x)` with those kernels.
///
/// Returns `[batch, token, h', d]`.
pub fn dsc_conv_branch(x: Tensor<3>, q: Tensor<3>, c: &DscConv) -> Tensor<4> {
    let [b, t, _] = x.dims();
    let k = c.depthwise.dims()[1];
    let dw = depthwise_conv(x.clone(), c.depthwise.clone());
    let ks = affine(dw, c.pointwise.clone(), c.bias.clone());
    let logits = affine(ks * q, c.kernel_weight.clone(), c.kernel_bias.clone()).reshape([b, t, c.heads, k]);
    let kernels = nn::softmax(logits, 3);
    let u = affine(x, c.out_weight.clone(), c.out_bias.clone());
    dynamic_conv(u, kernels)
}

/// One layer's mixer on `x` `[batch, token, 256]`: returns its output `m` `[batch, token, 256]`,
/// recording the mixer's dense weights (`W`), its per-head output before merging (`H`) and its
/// softmax (`S`) as described in `crate::gather`.
fn mixer(p: &ParamStore, l: usize, layer: &FlexiLayer, x: Tensor<3>, rec: &mut Recorder) -> Result<Tensor<3>, ModelError> {
    let shape = mixer_shape(layer)?;
    let name = |part: &str| format!("layer.{l}.op.{part}");
    let output = |ctx: Tensor<4>, x: Tensor<3>, rec: &mut Recorder| {
        let o = linear_rec(p, &name("output"), nn::merge_heads(ctx), rec);
        nn::layer_norm(p, &name("ln"), o + x, LN_EPS)
    };
    Ok(match layer.op {
        LayerOp::SaSdp | LayerOp::SaWma => {
            let q = linear_rec(p, &name("query"), x.clone(), rec);
            let k = linear_rec(p, &name("key"), x.clone(), rec);
            let v = linear_rec(p, &name("value"), x.clone(), rec);
            let (probs, ctx) = if layer.op == LayerOp::SaWma {
                rec.linear(&name("wma.weight"));
                wma_attention(q, k, v, p.matrix(&name("wma.weight")), shape.heads)
            } else {
                nn::attention_parts(q, k, v, shape.heads, &AttnMask::None)
            };
            rec.attn_probs(&probs);
            let ctx = rec.heads(ctx);
            output(ctx, x, rec)
        }
        LayerOp::LtDft | LayerOp::LtDct => {
            let u = nn::split_heads(linear_rec(p, &name("input"), x, rec), shape.heads);
            let z = if layer.op == LayerOp::LtDft { dft_mix(u) } else { dct_mix(u) };
            rec.attn_probs(&nn::softmax(z.clone(), 3));
            nn::merge_heads(rec.heads(z))
        }
        LayerOp::Dsc(k) => {
            let q = linear_rec(p, &name("query"), x.clone(), rec);
            let key = linear_rec(p, &name("key"), x.clone(), rec);
            let v = linear_rec(p, &name("value"), x.clone(), rec);
            rec.linear(&name("conv_kernel.weight"));
            rec.linear(&name("conv_out.weight"));
            let a = shape.width;
            let conv = DscConv {
                depthwise: p.matrix(&name("conv.depthwise.weight")).reshape([HIDDEN, k]),
                pointwise: p.matrix(&name("conv.pointwise.weight")).reshape([a, HIDDEN]),
                bias: p.vector(&name("conv.bias")),
                kernel_weight: p.matrix(&name("conv_kernel.weight")),
                kernel_bias: p.vector(&name("conv_kernel.bias")),
                out_weight: p.matrix(&name("conv_out.weight")),
                out_bias: p.vector(&name("conv_out.bias")),
                heads: shape.heads,
            };
            let conv_heads = dsc_conv_branch(x.clone(), q.clone(), &conv).swap_dims(1, 2);
            let (probs, ctx) = nn::attention_parts(q, key, v, shape.heads, &AttnMask::None);
            rec.attn_probs(&probs);
            let both = rec.heads(Tensor::cat(vec![ctx, conv_heads], 1));
            output(both, x, rec)
        }
    })
}

/// The forward pass: returns the mean MLM loss (a one-element tensor: cross entropy of the
/// original tokens at the masked positions, through the tied head) and records the inputs. The
/// reference back-propagated the sum of the last hidden states instead, which the final
/// LayerNorm makes exactly zero. Errors when a layer cannot be built (see [`mixer_shape`]) or the batch is longer than the
/// 512 learned positions.
pub fn forward(p: &ParamStore, arch: &FlexiArch, batch: &MlmBatch, rec: &mut Recorder) -> Result<Tensor<1>, ModelError> {
    if batch.len > MAX_POSITIONS {
        return Err(ModelError::Unsupported(format!("sequence length {} exceeds {MAX_POSITIONS} positions", batch.len)));
    }
    let mut x = embed(p, batch, rec);
    for (l, layer) in arch.layers.iter().enumerate() {
        let m = mixer(p, l, layer, x, rec)?;
        x = ffn_block(p, l, layer.num_ffn, m, rec);
    }
    rec.logit_sum(|| mlm_logit_sum(p, x.clone()));
    Ok(mlm_loss(p, x, batch))
}
