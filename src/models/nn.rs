//! Building blocks shared by the model families, written on plain burn tensors, and the
//! [`Recorder`] through which a forward pass exposes what the proxy inputs need.

use super::params::ParamStore;
use crate::lang::table::InputId;
use burn::tensor::{Device, Tensor, TensorData};

/// What a forward pass records for the proxy inputs: only what the inputs it was made for
/// ([`Recorder::keeping`]) read. Each recorded activation whose gradient is wanted passes through
/// a zero "probe" leaf (`x + 0`, which changes no value), whose gradient after the backward pass
/// is the gradient of the loss with respect to that activation.
#[derive(Default)]
pub struct Recorder {
    /// The inputs to record (none: training, or only the loss wanted).
    keep: Vec<InputId>,
    /// FFN non-linearity outputs `[batch, token, unit]` with their probes (when `GA` is kept
    /// and the pass has autodiff).
    pub ffn_act: Vec<(Tensor<3>, Option<Tensor<3>>)>,
    /// Per-head attention outputs `[batch, head, token, dim]` with their probes (when `GH` is
    /// kept and the pass has autodiff).
    pub heads: Vec<(Tensor<4>, Option<Tensor<4>>)>,
    /// Attention probabilities `[batch, head, query, key]` (when `S` is kept).
    pub attn_probs: Vec<Tensor<4>>,
    /// The input embeddings `[batch, token, dim]` with their probe (when `J` is kept).
    pub embeddings: Option<(Tensor<3>, Option<Tensor<3>>)>,
    /// FFN pre-activations `[batch, token, unit]`, the inputs of the non-linearities (when `Z`
    /// is kept).
    pub ffn_pre: Vec<Tensor<3>>,
    /// The sum of the output logits over every position and vocabulary entry (in a
    /// [`Recorder::synflow`] pass, whose objective it is).
    pub logit_sum: Option<Tensor<1>>,
    /// Names of the block linear weights, in forward order (whenever anything is kept).
    pub linear: Vec<String>,
    /// A Synflow pass: token embeddings are replaced by ones and the output is kept.
    synflow: bool,
}

impl Recorder {
    /// A recorder that records everything.
    pub fn on() -> Self {
        Self::keeping(&crate::lang::table::all_inputs())
    }

    /// A recorder that records what `inputs` read, and the forward order of the linear weights.
    pub fn keeping(inputs: &[InputId]) -> Self {
        Recorder { keep: inputs.to_vec(), ..Recorder::default() }
    }

    /// The recorder of a Synflow pass ([`InputId::GS`]): [`Recorder::tokens`] gives ones,
    /// [`Recorder::logit_sum`] keeps the summed output logits, and the linear order is recorded.
    pub fn synflow() -> Self {
        Recorder { keep: vec![InputId::GS], synflow: true, ..Recorder::default() }
    }

    fn keeps(&self, id: InputId) -> bool {
        self.keep.contains(&id)
    }

    /// Passes `x` through a new probe when its gradient (`grad`) is kept and the pass has
    /// autodiff; records it when its value or its gradient is kept.
    fn record<const D: usize>(&self, x: Tensor<D>, value: Option<InputId>, grad: InputId) -> (Tensor<D>, Option<(Tensor<D>, Option<Tensor<D>>)>) {
        let want_grad = self.keeps(grad) && x.is_autodiff();
        if !want_grad && !value.is_some_and(|v| self.keeps(v)) {
            return (x, None);
        }
        if !want_grad {
            return (x.clone(), Some((x.detach(), None)));
        }
        let p = Tensor::<D>::zeros(x.shape(), &x.device()).require_grad();
        (x.clone() + p.clone(), Some((x.detach(), Some(p))))
    }

    /// Records an FFN activation and returns it (through its probe).
    pub fn ffn_act(&mut self, x: Tensor<3>) -> Tensor<3> {
        let (out, rec) = self.record(x, Some(InputId::A), InputId::GA);
        self.ffn_act.extend(rec);
        out
    }

    /// Records an FFN pre-activation (the input of the non-linearity) and returns it.
    pub fn ffn_pre(&mut self, x: Tensor<3>) -> Tensor<3> {
        if self.keeps(InputId::Z) {
            self.ffn_pre.push(x.clone().detach());
        }
        x
    }

    /// The token embeddings `[batch, token, dim]` (before positions or anything else is added):
    /// returned as they are, or as ones in a Synflow pass.
    pub fn tokens(&mut self, x: Tensor<3>) -> Tensor<3> {
        if self.synflow {
            x.ones_like()
        } else {
            x
        }
    }

    /// Reports the sum of the model's output logits over every position and every vocabulary
    /// entry; `sum` is called only in a Synflow pass, whose objective it is (a sum of normalised
    /// hidden states would be 0: LayerNorm centres them).
    pub fn logit_sum(&mut self, sum: impl FnOnce() -> Tensor<1>) {
        if self.synflow {
            self.logit_sum = Some(sum());
        }
    }

    /// Records per-head attention outputs and returns them (through the probe).
    pub fn heads(&mut self, x: Tensor<4>) -> Tensor<4> {
        let (out, rec) = self.record(x, Some(InputId::H), InputId::GH);
        self.heads.extend(rec);
        out
    }

    /// Records attention probabilities.
    pub fn attn_probs(&mut self, p: &Tensor<4>) {
        if self.keeps(InputId::S) {
            self.attn_probs.push(p.clone().detach());
        }
    }

    /// Records the input embeddings and returns them (through the probe).
    pub fn embeddings(&mut self, x: Tensor<3>) -> Tensor<3> {
        let (out, rec) = self.record(x, None, InputId::J);
        if rec.is_some() {
            self.embeddings = rec;
        }
        out
    }

    /// Records that a block linear layer's weight was used.
    pub fn linear(&mut self, name: &str) {
        if !self.keep.is_empty() {
            self.linear.push(name.to_owned());
        }
    }
}

/// `x · Wᵀ + b` on the last axis, with `W` stored `[out, in]` under `{name}.weight` and the bias
/// under `{name}.bias` (if declared).
pub fn linear(p: &ParamStore, name: &str, x: Tensor<3>) -> Tensor<3> {
    let [b, t, i] = x.dims();
    let w = p.matrix(&format!("{name}.weight"));
    let out = w.dims()[0];
    let mut y = x.reshape([b * t, i]).matmul(w.transpose());
    let bias = format!("{name}.bias");
    if p.has(&bias) {
        y = y + p.vector(&bias).reshape([1, out]);
    }
    y.reshape([b, t, out])
}

/// LayerNorm over the last axis with `{name}.weight` (γ) and `{name}.bias` (β).
pub fn layer_norm(p: &ParamStore, name: &str, x: Tensor<3>, eps: f64) -> Tensor<3> {
    let n = x.dims()[2];
    let mean = x.clone().mean_dim(2);
    let centered = x - mean;
    let var = (centered.clone() * centered.clone()).mean_dim(2);
    let normed = centered / (var + eps).sqrt();
    normed * p.vector(&format!("{name}.weight")).reshape([1, 1, n]) + p.vector(&format!("{name}.bias")).reshape([1, 1, n])
}

/// Exact GELU, `x·Φ(x)` with the error function.
pub fn gelu(x: Tensor<3>) -> Tensor<3> {
    let erf = (x.clone() * std::f64::consts::FRAC_1_SQRT_2).erf();
    x * (erf + 1.0) * 0.5
}

/// GPT-2's `gelu_new`, the tanh approximation, `½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`,
/// with the cube as two products, as PyTorch computes `torch.pow(x, 3.0)` (its kernel turns the
/// exponents 2 and 3 into products). burn's `gelu_approximate` calls `powf` per element, and
/// its gradient another: a tenth of a GPT-2 gather's time, for a value one rounding away.
pub fn gelu_tanh(x: Tensor<3>) -> Tensor<3> {
    /// √(2/π).
    const SQRT_2_OVER_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2;
    let cube = x.clone() * x.clone() * x.clone();
    let inner = (x.clone() + cube * 0.044715) * SQRT_2_OVER_PI;
    (x * (tanh(inner) + 1)) * 0.5
}

/// `tanh`, element by element, with the values of [`crate::libm32::tanh_in_place`] on the flex
/// device (fdlibm's `tanhf`, glibc 2.36's bit for bit, over whole blocks, instead of one `tanhf`
/// call per element in the forward pass and another in the backward) and the gradient burn's
/// autodiff gives, `grad · (1 − y²)`; other devices, and inputs with a NaN or ±inf, use the
/// backend's. Under autodiff the values enter as a constant y plus `(x − detach(x)) · (1 − y²)`,
/// which is y exactly (finite x) and whose gradient with respect to x is that product.
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    if device.clone().without_autodiff() != Device::flex() {
        return x.tanh();
    }
    let shape = x.shape();
    let Ok(mut values) = x.clone().into_data().try_into_vec::<f32>() else {
        return x.tanh();
    };
    if !values.iter().all(|v| v.is_finite()) {
        return x.tanh();
    }
    crate::libm32::tanh_in_place(&mut values);
    if !x.is_tracked() {
        return Tensor::from_data(TensorData::new(values, shape), &device);
    }
    let slope: Vec<f32> = values.iter().map(|&y| 1.0 - y * y).collect();
    let y = Tensor::from_data(TensorData::new(values, shape.clone()), &device);
    let slope = Tensor::from_data(TensorData::new(slope, shape), &device);
    y + (x.clone() - x.detach()) * slope
}

/// `log_softmax(logits, 1)` read at one column per row, `out[r] = log p(idx[r] | row r)`, `[rows]`:
/// what a language model's loss takes of its output layer. On the flex device it is computed in
/// one pass per row on the host: the row's max m, `e_j = exp(x_j − m)` with
/// [`crate::libm32::exp_in_place`] (glibc's `expf`, bit for bit, over whole blocks), their sum s in
/// f64, and `out[r] = (x_idx − m) − ln s`. Under autodiff the values enter as a constant plus
/// `Σ_j (x − detach(x))_j · S_j` over each row, with `S_j = δ(j = idx) − e_j / s`, which is the
/// value exactly (finite logits) and whose gradient with respect to the logits is `g_r · S`, the
/// derivative of log-softmax at the picked column. burn's `log_softmax` with a `gather` gives the
/// same numbers up to roundings, with a scalar `expf` per logit and about twice as many passes
/// over the logits, forward and backward (for GPT-2's 50,257-word head these are its largest
/// tensors). Other devices, and logits with a NaN or ±inf, use that composition.
pub fn log_softmax_pick(logits: Tensor<2>, idx: Vec<i64>) -> Tensor<1> {
    let device = logits.device();
    let [rows, width] = logits.dims();
    assert_eq!(idx.len(), rows, "one picked column per row");
    let composed = |logits: Tensor<2>, idx: Vec<i64>| {
        let idx = Tensor::<2, burn::tensor::Int>::from_data(TensorData::new(idx, [rows, 1]), &device);
        burn::tensor::activation::log_softmax(logits, 1).gather(1, idx).reshape([rows])
    };
    if device.clone().without_autodiff() != Device::flex() || width == 0 || idx.iter().any(|&c| c < 0 || c as usize >= width) {
        return composed(logits, idx);
    }
    let Ok(mut slope) = logits.clone().into_data().try_into_vec::<f32>() else {
        return composed(logits, idx);
    };
    if !slope.iter().all(|v| v.is_finite()) {
        return composed(logits, idx);
    }
    let mut picked = Vec::with_capacity(rows);
    for (row, &col) in slope.chunks_exact_mut(width).zip(&idx) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let x_picked = row[col as usize];
        row.iter_mut().for_each(|x| *x -= max);
        crate::libm32::exp_in_place(row);
        let sum: f64 = row.iter().map(|&e| e as f64).sum();
        picked.push(((x_picked - max) as f64 - sum.ln()) as f32);
        let inv = sum as f32;
        row.iter_mut().for_each(|e| *e = -(*e / inv));
        row[col as usize] += 1.0;
    }
    let values = Tensor::<1>::from_data(TensorData::new(picked, [rows]), &device);
    if !logits.is_tracked() {
        return values;
    }
    let slope = Tensor::<2>::from_data(TensorData::new(slope, [rows, width]), &device);
    values + ((logits.clone() - logits.detach()) * slope).sum_dim(1).reshape([rows])
}

/// Softmax along `dim`, written as burn's autodiff backend computes it (a detached max shift,
/// `exp`, a sum, a division), so that a pass with autodiff and one without give the same bits:
/// the plain CPU backend's fused softmax multiplies by the reciprocal of the sum and rounds
/// differently. Gathers without gradients run on the plain backend and must equal the full
/// gather ([`crate::gather::gather`]).
pub fn softmax<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let max = x.clone().detach().max_dim(dim);
    let exp = (x - max).exp();
    let sum = exp.clone().sum_dim(dim);
    exp / sum
}

/// How attention scores are masked.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum AttnMask {
    /// Keys at padded positions get −10000 added (`[batch, 1, 1, key]` additive mask).
    Padding(Tensor<4>),
    /// Scores of future keys are replaced by −10000 (GPT-2's causal mask).
    Causal,
    /// No mask: every query sees every key, padding included (the reference FlexiBERT accepted
    /// an attention mask and ignored it).
    None,
}

/// Multi-head scaled dot-product attention on projected `q, k, v` (`[batch, token, heads·d]`):
/// returns the per-head outputs `[batch, head, token, d]` and records them and the probabilities.
pub fn attention(q: Tensor<3>, k: Tensor<3>, v: Tensor<3>, heads: usize, mask: &AttnMask, rec: &mut Recorder) -> Tensor<4> {
    let (probs, ctx) = attention_parts(q, k, v, heads, mask);
    rec.attn_probs(&probs);
    rec.heads(ctx)
}

/// Multi-head scaled dot-product attention without recording: returns the probabilities
/// `[batch, head, query, key]` and the per-head outputs `[batch, head, token, d]`.
pub fn attention_parts(q: Tensor<3>, k: Tensor<3>, v: Tensor<3>, heads: usize, mask: &AttnMask) -> (Tensor<4>, Tensor<4>) {
    let [b, t, width] = q.dims();
    let d = width / heads;
    let split = |x: Tensor<3>| x.reshape([b, t, heads, d]).swap_dims(1, 2);
    let (q, k, v) = (split(q), split(k), split(v));
    let mut scores = q.matmul(k.swap_dims(2, 3)) / (d as f64).sqrt();
    match mask {
        AttnMask::Padding(add) => scores = scores + add.clone(),
        AttnMask::Causal => {
            let keep = causal_keep(t, &scores.device());
            scores = scores * keep.clone() + (keep.neg() + 1.0) * -10000.0;
        }
        AttnMask::None => {}
    }
    let probs = softmax(scores, 3);
    let ctx = probs.clone().matmul(v);
    (probs, ctx)
}

/// Splits `[batch, token, heads·d]` into `[batch, head, token, d]`.
pub fn split_heads(x: Tensor<3>, heads: usize) -> Tensor<4> {
    let [b, t, width] = x.dims();
    x.reshape([b, t, heads, width / heads]).swap_dims(1, 2)
}

/// `[1, 1, t, t]` with 1 where a query may see a key (key ≤ query), else 0.
pub fn causal_keep(t: usize, device: &Device) -> Tensor<4> {
    let mut v = vec![0f32; t * t];
    for q in 0..t {
        for k in 0..=q {
            v[q * t + k] = 1.0;
        }
    }
    Tensor::<4>::from_data(burn::tensor::TensorData::new(v, [1, 1, t, t]), device)
}

/// Merges per-head outputs `[batch, head, token, d]` back to `[batch, token, head·d]`.
pub fn merge_heads(x: Tensor<4>) -> Tensor<3> {
    let [b, h, t, d] = x.dims();
    x.swap_dims(1, 2).reshape([b, t, h * d])
}
