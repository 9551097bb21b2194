//! Transformer-XL (archai's `MemTransformerLM`, as the Lightweight Transformer Search benchmark
//! `transxl-wt103` trained it), specified in `docs/reference/TRANSFORMER_XL.md`: post-LayerNorm
//! decoder layers with per-layer heads and FFN widths, relative partial-learnable attention with
//! one `r_w_bias`/`r_r_bias` pair per layer, sinusoidal relative positions (`[sin | cos]` halves,
//! descending positions), a segment-level memory of layer inputs, an adaptive input embedding
//! and a projected adaptive log-softmax whose tables (and, per `tie_projs`, projections) are
//! tied to the embedding's.
//!
//! Tensors are batch-major here (`[batch, time, feature]`; the reference is time-major), which
//! changes no value: the loss is a mean over all tokens. Dropout is off (the forward pass is
//! deterministic). Memories are `[batch, mem, d_model]`, one per layer.
//!
//! The module also holds the family's word-level tokenizer ([`WordVocab`]): ids are frequency
//! ranks within the given text (§10).

use crate::models::nn::{self, Recorder};
use crate::models::params::{count_by_group, Init, ParamSpec, ParamStore};
use super::bench::TxlArch;
use crate::models::batch::LmBatch;
use burn::tensor::{activation, Bool, Device, IndexingUpdateOp, Int, Tensor, TensorData};
use std::collections::HashMap;

/// LayerNorm epsilon.
pub const LN_EPS: f64 = 1e-5;

/// Parameter groups, chosen so that every published count is a sum of groups ([`count`]):
/// `ada_emb` (embedding tables and projections), `attn` (`qkv_net`, `o_net`, `r_net`), `attn_ln`
/// (the attention LayerNorm), `ffn` (`CoreNet`), `ffn_ln` (the FFN LayerNorm), `rel_bias`
/// (`r_w_bias_i`, `r_r_bias_i`), `softmax` (what the softmax owns beyond the tied tensors).
pub const GROUPS: [&str; 7] = ["ada_emb", "attn", "attn_ln", "ffn", "ffn_ln", "rel_bias", "softmax"];

/// The counts [`count`] reports: the five fields of `params_summary.yaml`, then the two
/// training-time counts of `model_config.yaml`.
pub const COUNT_FIELDS: [&str; 7] = ["AdaEmb", "Attn", "FFN", "nonembedding", "total", "n_all_param", "n_nonemb_param"];

/// The value masked attention scores get. The reference writes −∞; burn's softmax gives exact
/// zeros for it (and `mask_fill` passes no gradient to the masked entries), and every query row
/// attends to at least key 0, so no row is all −∞ and no NaN arises.
pub const MASKED_SCORE: f32 = f32::NEG_INFINITY;

/// Name of the embedding table of cluster `c` (`c` = 0 for the single table of `div_val` 1).
pub fn emb_table_name(c: usize) -> String {
    format!("word_emb.emb_layers.{c}.weight")
}

/// Name of the embedding projection `[d_model, d_c]` cluster `c` uses, if it has one.
pub fn emb_proj_name(arch: &TxlArch, c: usize) -> Option<String> {
    if arch.div_val == 1 {
        (arch.d_embed != arch.d_model).then(|| "word_emb.emb_projs.0".to_owned())
    } else {
        Some(format!("word_emb.emb_projs.{c}"))
    }
}

/// Name of the projection `[d_model, d_c]` the softmax uses for cluster `c`, if any: the
/// embedding's when `tie_projs[c]`, else its own `crit.out_projs.{c}` (none when `div_val` is 1
/// and `d_embed = d_model`).
pub fn out_proj_name(arch: &TxlArch, c: usize) -> Option<String> {
    if arch.tied_proj(c) {
        emb_proj_name(arch, c)
    } else {
        (arch.div_val != 1 || arch.d_embed != arch.d_model).then(|| format!("crit.out_projs.{c}"))
    }
}

/// The tensor holding cluster `c`'s output weights: the embedding table when tied, else the
/// softmax's own (with `div_val` 1 one matrix for all clusters, sliced by rows).
fn out_weight_name(arch: &TxlArch, c: usize) -> String {
    let c = if arch.div_val == 1 { 0 } else { c };
    if arch.tie_weight {
        emb_table_name(c)
    } else {
        format!("crit.out_layers_weights.{c}")
    }
}

fn out_bias_name(arch: &TxlArch, c: usize) -> String {
    format!("crit.out_layers_biases.{}", if arch.div_val == 1 { 0 } else { c })
}

/// The parameter declarations of an architecture (§3), with the initialisers of §5, named as the
/// reference names them, in the reference's `named_parameters` order (§7); tied tensors are
/// declared once.
pub fn spec(arch: &TxlArch) -> Vec<ParamSpec> {
    let (d, std, pstd) = (arch.d_model, arch.init_std, arch.proj_init_std);
    let mut s = vec![];
    for i in 0..arch.n_layer {
        let shape = [arch.n_head[i], arch.d_head[i]];
        s.push(ParamSpec::new(format!("r_w_bias_{i}"), &shape, Init::Normal(std), "rel_bias"));
        s.push(ParamSpec::new(format!("r_r_bias_{i}"), &shape, Init::Normal(std), "rel_bias"));
    }
    if arch.div_val == 1 {
        s.push(ParamSpec::new(emb_table_name(0), &[arch.n_token, arch.d_embed], Init::Normal(std), "ada_emb"));
        if let Some(name) = emb_proj_name(arch, 0) {
            s.push(ParamSpec::new(name, &[d, arch.d_embed], Init::Normal(pstd), "ada_emb"));
        }
    } else {
        for c in 0..arch.clusters() {
            s.push(ParamSpec::new(emb_table_name(c), &[arch.cluster_size(c), arch.widths[c]], Init::Normal(std), "ada_emb"));
        }
        for c in 0..arch.clusters() {
            s.push(ParamSpec::new(format!("word_emb.emb_projs.{c}"), &[d, arch.widths[c]], Init::Normal(pstd), "ada_emb"));
        }
    }
    let ln = |s: &mut Vec<ParamSpec>, name: String, group: &'static str| {
        s.push(ParamSpec::new(format!("{name}.weight"), &[d], Init::NormalAround { mean: 1.0, std }, group));
        s.push(ParamSpec::new(format!("{name}.bias"), &[d], Init::Zeros, group));
    };
    for i in 0..arch.n_layer {
        let (hd, f) = (arch.n_head[i] * arch.d_head[i], arch.d_inner[i]);
        let attn = format!("layers.{i}.dec_attn");
        let ff = format!("layers.{i}.pos_ff");
        s.push(ParamSpec::new(format!("{attn}.qkv_net.weight"), &[3 * hd, d], Init::Normal(std), "attn"));
        s.push(ParamSpec::new(format!("{attn}.o_net.weight"), &[d, hd], Init::Normal(std), "attn"));
        ln(&mut s, format!("{attn}.layer_norm"), "attn_ln");
        s.push(ParamSpec::new(format!("{attn}.r_net.weight"), &[hd, d], Init::Normal(std), "attn"));
        s.push(ParamSpec::new(format!("{ff}.CoreNet.0.weight"), &[f, d], Init::Normal(std), "ffn"));
        s.push(ParamSpec::new(format!("{ff}.CoreNet.0.bias"), &[f], Init::Zeros, "ffn"));
        s.push(ParamSpec::new(format!("{ff}.CoreNet.3.weight"), &[d, f], Init::Normal(std), "ffn"));
        s.push(ParamSpec::new(format!("{ff}.CoreNet.3.bias"), &[d], Init::Zeros, "ffn"));
        ln(&mut s, format!("{ff}.layer_norm"), "ffn_ln");
    }
    let tails = arch.clusters() - 1;
    if tails > 0 {
        s.push(ParamSpec::new("crit.cluster_weight", &[tails, arch.d_embed], Init::Normal(std), "softmax"));
        s.push(ParamSpec::new("crit.cluster_bias", &[tails], Init::Zeros, "softmax"));
    }
    if arch.div_val == 1 {
        if !arch.tie_weight {
            s.push(ParamSpec::new(out_weight_name(arch, 0), &[arch.n_token, arch.d_embed], Init::Normal(std), "softmax"));
        }
        s.push(ParamSpec::new(out_bias_name(arch, 0), &[arch.n_token], Init::Zeros, "softmax"));
    } else {
        for c in 0..arch.clusters() {
            if !arch.tie_weight {
                s.push(ParamSpec::new(out_weight_name(arch, c), &[arch.cluster_size(c), arch.widths[c]], Init::Normal(std), "softmax"));
            }
            s.push(ParamSpec::new(out_bias_name(arch, c), &[arch.cluster_size(c)], Init::Zeros, "softmax"));
        }
    }
    for c in 0..arch.clusters() {
        if !arch.tied_proj(c) {
            if let Some(name) = out_proj_name(arch, c) {
                s.push(ParamSpec::new(name, &[d, arch.widths[c]], Init::Normal(pstd), "softmax"));
            }
        }
    }
    s
}

/// The counts of [`COUNT_FIELDS`], summed from the groups of [`spec`] (§4):
/// `AdaEmb` = `ada_emb`; `Attn` = `attn + attn_ln` (the attention module with its LayerNorm);
/// `FFN` = `ffn` (`CoreNet` only); `nonembedding` = `attn + 2·attn_ln + ffn + ffn_ln` (the
/// attention LayerNorm counted twice, as `params_summary.yaml` does); `total` = every tensor once;
/// `n_all_param` = `total − rel_bias`; `n_nonemb_param` = the decoder-layer tensors,
/// `attn + attn_ln + ffn + ffn_ln`.
pub fn count(arch: &TxlArch) -> Vec<(&'static str, u64)> {
    let groups = count_by_group(&spec(arch));
    let g = |name: &str| groups.get(name).copied().unwrap_or(0);
    let total: u64 = groups.values().sum();
    let layers = g("attn") + g("attn_ln") + g("ffn") + g("ffn_ln");
    let values = [
        g("ada_emb"),
        g("attn") + g("attn_ln"),
        g("ffn"),
        layers + g("attn_ln"),
        total,
        total - g("rel_bias"),
        layers,
    ];
    COUNT_FIELDS.iter().copied().zip(values).collect()
}

fn int1(values: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = values.len();
    Tensor::<1, Int>::from_data(TensorData::new(values, [n]), device)
}

/// The output table `[cluster size, d_c]` of cluster `c`.
fn out_weight(p: &ParamStore, arch: &TxlArch, c: usize) -> Tensor<2> {
    let w = p.matrix(&out_weight_name(arch, c));
    if arch.div_val == 1 {
        w.slice([arch.ends[c]..arch.ends[c + 1]])
    } else {
        w
    }
}

/// The output bias `[cluster size]` of cluster `c`.
fn out_bias(p: &ParamStore, arch: &TxlArch, c: usize) -> Tensor<1> {
    let b = p.vector(&out_bias_name(arch, c));
    if arch.div_val == 1 {
        b.slice([arch.ends[c]..arch.ends[c + 1]])
    } else {
        b
    }
}

/// The positions (rows of `ids`) whose id lies in cluster `c`, and the ids local to the cluster.
fn rows_in(arch: &TxlArch, ids: &[u32], c: usize) -> (Vec<i64>, Vec<i64>) {
    let (lo, hi) = (arch.ends[c], arch.ends[c + 1]);
    ids.iter()
        .enumerate()
        .filter(|(_, &id)| (lo..hi).contains(&(id as usize)))
        .map(|(r, &id)| (r as i64, id as i64 - lo as i64))
        .unzip()
}

/// The adaptive input embedding of `ids` (`[n]`, each below `n_token`), `[n, d_model]`, before
/// the √d_model scale: row `id − e_c` of cluster `c`'s table, times the cluster's projection
/// transposed (none with `div_val` 1 and `d_embed = d_model`). Each table is looked up only for
/// the ids in its cluster.
pub fn adaptive_embedding(p: &ParamStore, arch: &TxlArch, ids: &[u32]) -> Tensor<2> {
    let table0 = p.matrix(&emb_table_name(0));
    let device = table0.device();
    let n = ids.len();
    if arch.div_val == 1 {
        let e = table0.select(0, int1(ids.iter().map(|&i| i as i64).collect(), &device));
        return match emb_proj_name(arch, 0) {
            Some(name) => e.matmul(p.matrix(&name).transpose()),
            None => e,
        };
    }
    let mut out = Tensor::<2>::zeros([n, arch.d_model], &device);
    for c in 0..arch.clusters() {
        let (rows, local) = rows_in(arch, ids, c);
        if rows.is_empty() {
            continue;
        }
        let proj = p.matrix(&emb_proj_name(arch, c).expect("div_val > 1 projects every cluster"));
        let e = p.matrix(&emb_table_name(c)).select(0, int1(local, &device)).matmul(proj.transpose());
        out = out.select_assign(0, int1(rows, &device), e, IndexingUpdateOp::Add);
    }
    out
}

/// The sum of the adaptive softmax's logits over every row of `hidden` and every vocabulary
/// entry (the clusters' own scores), without forming them: `(h P)·Σ_v w_v + Σ_v b_v` per cluster.
pub fn adaptive_logit_sum(p: &ParamStore, arch: &TxlArch, hidden: Tensor<2>) -> Tensor<1> {
    let n = hidden.dims()[0];
    let mut total: Option<Tensor<1>> = None;
    for c in 0..arch.clusters() {
        let h = match out_proj_name(arch, c) {
            Some(name) => hidden.clone().matmul(p.matrix(&name)),
            None => hidden.clone(),
        };
        let part = (h * out_weight(p, arch, c).sum_dim(0)).sum() + out_bias(p, arch, c).sum() * n as f64;
        total = Some(match total {
            Some(t) => t + part,
            None => part,
        });
    }
    total.expect("at least one cluster")
}

/// Per-token negative log-likelihood of `targets` under the projected adaptive log-softmax
/// (§6.8), `[n]`, for hidden states `[n, d_model]`. The head scores the `e_1` head tokens and
/// one column per tail cluster (cluster `c`'s at column `e_1 + c − 1`); a tail cluster's logits
/// are computed only for the tokens whose target lies in it.
pub fn adaptive_nll(p: &ParamStore, arch: &TxlArch, hidden: Tensor<2>, targets: &[u32]) -> Tensor<1> {
    let device = hidden.device();
    let n = targets.len();
    let project = |h: Tensor<2>, c: usize| match out_proj_name(arch, c) {
        Some(name) => h.matmul(p.matrix(&name)),
        None => h,
    };
    let (e1, tails) = (arch.cluster_size(0), arch.clusters() - 1);
    let mut head_w = out_weight(p, arch, 0);
    let mut head_b = out_bias(p, arch, 0);
    if tails > 0 {
        head_w = Tensor::cat(vec![head_w, p.matrix("crit.cluster_weight")], 0);
        head_b = Tensor::cat(vec![head_b, p.vector("crit.cluster_bias")], 0);
    }
    let head_logits = project(hidden.clone(), 0).matmul(head_w.transpose()) + head_b.reshape([1, e1 + tails]);
    let head_idx = targets
        .iter()
        .map(|&y| match arch.cluster_of(y as usize) {
            0 => y as i64,
            c => (e1 + c - 1) as i64,
        })
        .collect();
    let mut logp = nn::log_softmax_pick(head_logits, head_idx);
    for c in 1..arch.clusters() {
        let (rows, local) = rows_in(arch, targets, c);
        if rows.is_empty() {
            continue;
        }
        let rows = int1(rows, &device);
        let h = project(hidden.clone().select(0, rows.clone()), c);
        let logits = h.matmul(out_weight(p, arch, c).transpose()) + out_bias(p, arch, c).reshape([1, arch.cluster_size(c)]);
        let picked = nn::log_softmax_pick(logits, local);
        logp = logp.select_assign(0, rows, picked, IndexingUpdateOp::Add);
    }
    debug_assert_eq!(logp.dims(), [n]);
    logp.neg()
}

/// The sinusoidal relative-position encodings `[klen, d]` (§6.3): row `j` is for position
/// `p_j = klen − 1 − j` (descending), `[sin(p ω_0) … sin(p ω_{d/2−1}) | cos(p ω_0) … cos(p ω_{d/2−1})]`
/// with `ω_m = 10000^(−2m/d)`; not scaled.
pub fn positional_encoding(klen: usize, d: usize, device: &Device) -> Tensor<2> {
    let half = d / 2;
    let mut v = vec![0f32; klen * d];
    for j in 0..klen {
        let pos = (klen - 1 - j) as f64;
        for m in 0..half {
            let w = 10000f64.powf(-(2.0 * m as f64) / d as f64);
            v[j * d + m] = (pos * w).sin() as f32;
            v[j * d + half + m] = (pos * w).cos() as f32;
        }
    }
    Tensor::<2>::from_data(TensorData::new(v, [klen, d]), device)
}

/// The relative shift of §6.5 on `[batch, head, q, k]`, by the reference's own procedure: put a
/// zero column in front, read the `q·(k+1)` numbers as `(k+1) × q`, drop the first row, and read
/// the rest as `q × k`. For attended pairs (`j ≤ i + M`, `M = k − q`) the result is
/// `x[i, j + q − 1 − i]`; for `j = i + M + 1` it is 0; beyond, values of the next row (masked).
pub fn rel_shift(x: Tensor<4>) -> Tensor<4> {
    let [b, h, q, k] = x.dims();
    let zeros = Tensor::<4>::zeros([b, h, q, 1], &x.device());
    Tensor::cat(vec![zeros, x], 3).reshape([b, h, k + 1, q]).narrow(2, 1, k).reshape([b, h, q, k])
}

/// The attention mask `[1, 1, q, q + mem]`: true (not attended) where key `j > i + mem`.
pub fn attention_mask(q: usize, mem: usize, device: &Device) -> Tensor<4, Bool> {
    let k = q + mem;
    let v: Vec<bool> = (0..q).flat_map(|i| (0..k).map(move |j| j > i + mem)).collect();
    Tensor::<4, Bool>::from_data(TensorData::new(v, [1, 1, q, k]), device)
}

/// Relative partial-learnable attention (§6.5) on projected heads: `q [batch, head, qlen, d]`,
/// `k`, `v [batch, head, klen, d]` (the memory first, then the segment), the projected
/// positional encodings `r [klen, head, d]` (row `j` for position `klen − 1 − j`), and the biases
/// `u = r_w_bias`, `v_bias = r_r_bias` (`[head, d]`). Scores are
/// `(AC + shift(BD)) / √d` with `AC[i,j] = (q_i + u)·k_j` and `BD[i,r] = (q_i + v_bias)·r_r`,
/// masked where key `j > i + (klen − qlen)`. Returns the probabilities `[batch, head, qlen, klen]`
/// and the per-head context `[batch, head, qlen, d]`.
pub fn rel_attention(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    r: Tensor<3>,
    u: Tensor<2>,
    v_bias: Tensor<2>,
) -> (Tensor<4>, Tensor<4>) {
    let [b, h, ql, d] = q.dims();
    let kl = k.dims()[2];
    assert!(kl >= ql, "keys ({kl}) include the {ql} queries");
    let ac = (q.clone() + u.reshape([1, h, 1, d])).matmul(k.swap_dims(2, 3));
    // BD_raw per head: [head, batch·qlen, d] × [head, d, klen].
    let qv = (q + v_bias.reshape([1, h, 1, d])).swap_dims(0, 1).reshape([h, b * ql, d]);
    let rk = r.swap_dims(0, 1).swap_dims(1, 2);
    let bd_raw = qv.matmul(rk).reshape([h, b, ql, kl]).swap_dims(0, 1);
    let scores = (ac + rel_shift(bd_raw)) * (1.0 / (d as f64).sqrt());
    let mask = attention_mask(ql, kl - ql, &scores.device()).expand([b, h, ql, kl]);
    let probs = nn::softmax(scores.mask_fill(mask, MASKED_SCORE), 3);
    let ctx = probs.clone().matmul(v);
    (probs, ctx)
}

/// The forward pass on one segment (§6): returns the mean next-token NLL (a one-element tensor)
/// and the new memory (one detached `[batch, M', d_model]` per layer: the layer inputs of the old
/// memory and this segment, the last `M' = min(mem_len, M + len)` positions; empty when
/// `mem_len` is 0).
///
/// `mems`: `None` (or an empty slice) for an empty memory, else one `[batch, M, d_model]` per
/// layer, as returned by an earlier call. Records, per layer, the linear weights `qkv_net`,
/// `o_net`, `r_net`, `CoreNet.0`, `CoreNet.3` (the reference's `modules()` order), the ReLU
/// output, the per-head context before `o_net` and the attention probabilities; and the scaled
/// input embedding.
///
/// Panics (a caller's bug, not a configuration problem) when a token id is not below `n_token`,
/// the batch is inconsistent, or the memories do not match the model.
pub fn forward(p: &ParamStore, arch: &TxlArch, batch: &LmBatch, mems: Option<&[Tensor<3>]>, rec: &mut Recorder) -> (Tensor<1>, Vec<Tensor<3>>) {
    let (b, t, d) = (batch.batch, batch.len, arch.d_model);
    assert!(b * t > 0 && batch.ids.len() == b * t && batch.targets.len() == b * t, "a batch of {b} × {t} tokens");
    assert!(
        batch.ids.iter().chain(&batch.targets).all(|&id| (id as usize) < arch.n_token),
        "token ids must be below n_token {}",
        arch.n_token
    );
    let mems = mems.filter(|m| !m.is_empty());
    let m = mems.map_or(0, |ms| ms[0].dims()[1]);
    if let Some(ms) = mems {
        assert_eq!(ms.len(), arch.n_layer, "one memory per layer");
        assert!(ms.iter().all(|x| x.dims() == [b, m, d]), "memories are [{b}, {m}, {d}]");
    }
    let kl = m + t;
    let emb = adaptive_embedding(p, arch, &batch.ids) * (d as f64).sqrt();
    let emb = rec.tokens(emb.reshape([b, t, d]));
    let mut h = rec.embeddings(emb);
    let device = h.device();
    let r = positional_encoding(kl, d, &device);
    let mut inputs = Vec::with_capacity(arch.n_layer);
    for i in 0..arch.n_layer {
        let (heads, dh) = (arch.n_head[i], arch.d_head[i]);
        let hd = heads * dh;
        let attn = format!("layers.{i}.dec_attn");
        let ff = format!("layers.{i}.pos_ff");
        inputs.push(h.clone().detach());
        let cat = match mems {
            Some(ms) => Tensor::cat(vec![ms[i].clone(), h.clone()], 1),
            None => h.clone(),
        };
        let qkv = nn::linear(p, &format!("{attn}.qkv_net"), cat);
        let split = |x: Tensor<3>| {
            let len = x.dims()[1];
            x.reshape([b, len, heads, dh]).swap_dims(1, 2)
        };
        let q = split(qkv.clone().narrow(1, m, t).narrow(2, 0, hd));
        let k = split(qkv.clone().narrow(2, hd, hd));
        let v = split(qkv.narrow(2, 2 * hd, hd));
        let rk = r.clone().matmul(p.matrix(&format!("{attn}.r_net.weight")).transpose()).reshape([kl, heads, dh]);
        let (probs, ctx) = rel_attention(q, k, v, rk, p.matrix(&format!("r_w_bias_{i}")), p.matrix(&format!("r_r_bias_{i}")));
        rec.attn_probs(&probs);
        let ctx = rec.heads(ctx);
        let a = nn::linear(p, &format!("{attn}.o_net"), nn::merge_heads(ctx));
        for part in ["qkv_net", "o_net", "r_net"] {
            rec.linear(&format!("{attn}.{part}.weight"));
        }
        let x = nn::layer_norm(p, &format!("{attn}.layer_norm"), h + a, LN_EPS);
        rec.linear(&format!("{ff}.CoreNet.0.weight"));
        let pre = rec.ffn_pre(nn::linear(p, &format!("{ff}.CoreNet.0"), x.clone()));
        let act = rec.ffn_act(activation::relu(pre));
        rec.linear(&format!("{ff}.CoreNet.3.weight"));
        let y = nn::linear(p, &format!("{ff}.CoreNet.3"), act);
        h = nn::layer_norm(p, &format!("{ff}.layer_norm"), x + y, LN_EPS);
    }
    rec.logit_sum(|| adaptive_logit_sum(p, arch, h.clone().reshape([b * t, d])));
    let loss = adaptive_nll(p, arch, h.reshape([b * t, d]), &batch.targets).mean();
    let keep = arch.mem_len.min(kl);
    let new_mems = if keep == 0 {
        vec![]
    } else {
        inputs
            .into_iter()
            .enumerate()
            .map(|(i, x)| {
                let all = match mems {
                    Some(ms) => Tensor::cat(vec![ms[i].clone(), x], 1),
                    None => x,
                };
                all.narrow(1, kl - keep, keep).detach()
            })
            .collect()
    };
    (loss, new_mems)
}

/// A word vocabulary built from a text (§10): ids are frequency ranks within that text.
///
/// * `<unk>` is id 0 (the literal `<unk>` of the text maps to it, as do words the vocabulary has
///   not seen), `<eos>` is id 1 and ends every line;
/// * every other word gets an id from 2 on, in decreasing order of its count in the text, ties
///   broken by first occurrence.
///
/// Words are the whitespace-separated pieces of each line, case kept; every line, blank ones
/// included, gives its words and one `<eos>` (the reference's corpus reader). The mapping is
/// deterministic. With the benchmark's cut-offs, the frequent words of the text fall in the head
/// cluster, as the trained vocabulary's frequent words do.
#[derive(Clone, Debug, PartialEq)]
pub struct WordVocab {
    words: Vec<String>,
    ids: HashMap<String, u32>,
}

/// A problem turning text into word ids.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WordError {
    /// A word's id is not below the model's vocabulary size.
    #[error("word {word:?} has id {id}, outside the model's vocabulary of {n_token}: the text has more distinct words than the model")]
    OutOfVocabulary {
        /// The word.
        word: String,
        /// Its id.
        id: u32,
        /// The model's vocabulary size.
        n_token: usize,
    },
    /// The text is too short for the requested batch.
    #[error("the text has {have} tokens, but a batch of {batch} × {len} needs {need}")]
    TooShort {
        /// Tokens available.
        have: usize,
        /// Tokens needed.
        need: usize,
        /// Sequences.
        batch: usize,
        /// Tokens per sequence.
        len: usize,
    },
    /// Batch size or sequence length is zero.
    #[error("batch size and sequence length must be positive")]
    Empty,
}

impl WordVocab {
    /// Id of `<unk>`.
    pub const UNK: u32 = 0;
    /// Id of `<eos>`.
    pub const EOS: u32 = 1;

    /// Ranks the words of `text` (see the type's documentation).
    pub fn from_text(text: &str) -> WordVocab {
        let mut counts: HashMap<&str, (usize, usize)> = HashMap::new();
        for (order, w) in text.lines().flat_map(str::split_whitespace).filter(|w| *w != "<unk>" && *w != "<eos>").enumerate() {
            counts.entry(w).or_insert((0, order)).0 += 1;
        }
        let mut ranked: Vec<(&str, (usize, usize))> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.1 .1.cmp(&b.1 .1)));
        let words: Vec<String> = ["<unk>", "<eos>"].into_iter().chain(ranked.into_iter().map(|(w, _)| w)).map(str::to_owned).collect();
        let ids = words.iter().enumerate().map(|(i, w)| (w.clone(), i as u32)).collect();
        WordVocab { words, ids }
    }

    /// Number of ids (`<unk>` and `<eos>` included).
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Always false: `<unk>` and `<eos>` are always there.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The id of a word (`<unk>`'s for a word not in the vocabulary).
    pub fn id(&self, word: &str) -> u32 {
        self.ids.get(word).copied().unwrap_or(Self::UNK)
    }

    /// The word of an id.
    pub fn word(&self, id: u32) -> Option<&str> {
        self.words.get(id as usize).map(String::as_str)
    }

    /// The ids of `text`: each line's words, then `<eos>`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        text.lines().flat_map(|line| line.split_whitespace().map(|w| self.id(w)).chain(std::iter::once(Self::EOS))).collect()
    }

    /// [`WordVocab::encode`], with every id checked to be below `n_token`.
    pub fn encode_for(&self, text: &str, n_token: usize) -> Result<Vec<u32>, WordError> {
        let ids = self.encode(text);
        match ids.iter().find(|&&id| id as usize >= n_token) {
            Some(&id) => Err(WordError::OutOfVocabulary { word: self.word(id).unwrap_or("?").to_owned(), id, n_token }),
            None => Ok(ids),
        }
    }
}

/// The word ids of `text` under its own frequency-rank vocabulary ([`WordVocab`]), checked to be
/// below `n_token`.
pub fn word_tokens(text: &str, n_token: usize) -> Result<Vec<u32>, WordError> {
    WordVocab::from_text(text).encode_for(text, n_token)
}

/// A next-token minibatch from a token stream ([`crate::gather::text::lm_batch`]: `batch`
/// consecutive segments of `len + 1` tokens from the start).
pub fn lm_batch(tokens: &[u32], batch: usize, len: usize) -> Result<LmBatch, WordError> {
    crate::gather::text::lm_batch(tokens, batch, len).map_err(|e| match e {
        crate::gather::text::TextError::TooShort { have, need, batch, len } => WordError::TooShort { have, need, batch, len },
        _ => WordError::Empty,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_ranked_by_frequency_then_first_occurrence() {
        let text = "b a <unk> c\na b\n\nc d a\n";
        let v = WordVocab::from_text(text);
        // a ×3, b ×2, c ×2 (b first), d ×1.
        assert_eq!((0..v.len() as u32).map(|i| v.word(i).unwrap()).collect::<Vec<_>>(), ["<unk>", "<eos>", "a", "b", "c", "d"]);
        assert_eq!(v.encode(text), vec![3, 2, 0, 4, 1, 2, 3, 1, 1, 4, 5, 2, 1]);
        assert_eq!(v.id("never"), WordVocab::UNK);
        assert_eq!(word_tokens(text, 6).unwrap().len(), 13);
        assert!(matches!(word_tokens(text, 5), Err(WordError::OutOfVocabulary { id: 5, .. })));
    }

    #[test]
    fn batches_are_consecutive_shifted_segments() {
        let tokens: Vec<u32> = (0..20).collect();
        let b = lm_batch(&tokens, 2, 4).unwrap();
        assert_eq!(b.ids, vec![0, 1, 2, 3, 5, 6, 7, 8]);
        assert_eq!(b.targets, vec![1, 2, 3, 4, 6, 7, 8, 9]);
        assert!(lm_batch(&tokens, 4, 4).is_ok());
        assert!(matches!(lm_batch(&tokens, 5, 4), Err(WordError::TooShort { need: 25, .. })));
        assert_eq!(lm_batch(&tokens, 0, 4), Err(WordError::Empty));
    }
}
