//! GPT-2 flex (HfGPT2Flex) as in the benchmark: pre-LayerNorm blocks with per-layer heads and
//! inner width, tanh GELU, learned positions, an adaptive input embedding with projections, and a
//! projected adaptive log-softmax output whose weights and tail projections are tied to the
//! embedding's (`ARCHITECTURES.md` (b)).

use super::bench::Gpt2Arch;
use crate::models::batch::LmBatch;
use crate::models::nn::{self, AttnMask, Recorder};
use crate::models::params::{Init, ParamSpec, ParamStore};
use burn::tensor::{IndexingUpdateOp, Int, Tensor, TensorData};

/// LayerNorm epsilon.
pub const LN_EPS: f64 = 1e-5;

/// Parameter groups, as `params_summary.yaml` counts them: `ada_emb` (embedding tables, their
/// projections, positions), `attn`, `ffn`, `ln` (LayerNorms), `softmax` (what the output layer
/// owns beyond the tied tensors).
pub const GROUPS: [&str; 5] = ["ada_emb", "attn", "ffn", "ln", "softmax"];

/// The cutoffs as the model uses them: walk while strictly increasing, drop the first entry
/// above `n_token` and everything after it, and make the last entry `n_token`. Returns the
/// cluster boundaries `[0, c1, ..., n_token]`.
pub fn clean_cutoffs(cutoffs: &[usize], n_token: usize) -> Vec<usize> {
    let mut out: Vec<usize> = vec![];
    for &c in cutoffs {
        if out.last().is_some_and(|&l| c <= l) || c > n_token {
            break;
        }
        out.push(c);
    }
    match out.last() {
        Some(&l) if l == n_token => {}
        Some(&l) if l > n_token => *out.last_mut().expect("non-empty") = n_token,
        _ => out.push(n_token),
    }
    let mut ends = vec![0];
    ends.extend(out);
    ends
}

/// Facts derived from the configuration that both the declaration and the forward pass use.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// Cluster boundaries `[0, c1, ..., n_token]`.
    pub ends: Vec<usize>,
    /// Embedding width of each cluster.
    pub widths: Vec<usize>,
}

impl Layout {
    /// The layout of an architecture.
    pub fn of(arch: &Gpt2Arch) -> Layout {
        let ends = clean_cutoffs(&arch.cutoffs, arch.n_token);
        let clusters = ends.len() - 1;
        let widths = (0..clusters)
            .map(|i| if arch.div_val == 1 { arch.d_embed } else { arch.d_embed / arch.div_val.pow(i as u32) })
            .collect();
        Layout { ends, widths }
    }

    /// Number of clusters (head + tails).
    pub fn clusters(&self) -> usize {
        self.ends.len() - 1
    }

    /// Tokens in cluster `i`.
    pub fn size(&self, i: usize) -> usize {
        self.ends[i + 1] - self.ends[i]
    }
}

/// Whether cluster `i` of the output reuses the embedding's projection.
fn tied_proj(arch: &Gpt2Arch, i: usize) -> bool {
    arch.tie_projs.get(i).copied().unwrap_or(false)
}

/// Name of the embedding projection of cluster `i`, if it exists.
fn emb_proj_name(arch: &Gpt2Arch, i: usize) -> Option<String> {
    if arch.div_val == 1 {
        (arch.d_embed != arch.d_model).then(|| "wte.proj.0".to_owned())
    } else {
        Some(format!("wte.proj.{i}"))
    }
}

/// The parameter declarations of an architecture.
pub fn spec(arch: &Gpt2Arch) -> Vec<ParamSpec> {
    let layout = Layout::of(arch);
    let (dm, std, pstd) = (arch.d_model, arch.weight_init_std, arch.proj_init_std);
    let mut s = vec![];
    if arch.div_val == 1 {
        s.push(ParamSpec::new("wte.emb.0", &[arch.n_token, arch.d_embed], Init::Normal(std), "ada_emb"));
        if arch.d_embed != dm {
            s.push(ParamSpec::new("wte.proj.0", &[dm, arch.d_embed], Init::Normal(pstd), "ada_emb"));
        }
    } else {
        for i in 0..layout.clusters() {
            s.push(ParamSpec::new(format!("wte.emb.{i}"), &[layout.size(i), layout.widths[i]], Init::Normal(std), "ada_emb"));
            s.push(ParamSpec::new(format!("wte.proj.{i}"), &[dm, layout.widths[i]], Init::Normal(pstd), "ada_emb"));
        }
    }
    s.push(ParamSpec::new("wpe", &[arch.tgt_len, dm], Init::Normal(std), "ada_emb"));
    let proj_std = std / (2.0 * arch.n_layer as f64).sqrt();
    for l in 0..arch.n_layer {
        let di = arch.d_inner[l];
        let mut dense = |name: String, out: usize, inp: usize, init: Init, group: &'static str| {
            s.push(ParamSpec::new(format!("{name}.weight"), &[out, inp], init, group));
            s.push(ParamSpec::new(format!("{name}.bias"), &[out], Init::Zeros, group));
        };
        dense(format!("h.{l}.attn.c_attn"), 3 * dm, dm, Init::Normal(std), "attn");
        dense(format!("h.{l}.attn.c_proj"), dm, dm, Init::Normal(proj_std), "attn");
        dense(format!("h.{l}.mlp.c_fc"), di, dm, Init::Normal(std), "ffn");
        dense(format!("h.{l}.mlp.c_proj"), dm, di, Init::Normal(proj_std), "ffn");
        for ln in ["ln_1", "ln_2"] {
            s.push(ParamSpec::new(format!("h.{l}.{ln}.weight"), &[dm], Init::Ones, "ln"));
            s.push(ParamSpec::new(format!("h.{l}.{ln}.bias"), &[dm], Init::Zeros, "ln"));
        }
    }
    s.push(ParamSpec::new("ln_f.weight", &[dm], Init::Ones, "ln"));
    s.push(ParamSpec::new("ln_f.bias", &[dm], Init::Zeros, "ln"));
    let tails = layout.clusters() - 1;
    if tails > 0 {
        s.push(ParamSpec::new("crit.cluster_weight", &[tails, arch.d_embed], Init::Normal(std), "softmax"));
        s.push(ParamSpec::new("crit.cluster_bias", &[tails], Init::Zeros, "softmax"));
    }
    if arch.div_val == 1 {
        s.push(ParamSpec::new("crit.bias.0", &[arch.n_token], Init::Zeros, "softmax"));
    } else {
        for i in 0..layout.clusters() {
            s.push(ParamSpec::new(format!("crit.bias.{i}"), &[layout.size(i)], Init::Zeros, "softmax"));
        }
    }
    for i in 0..layout.clusters() {
        let owns = !tied_proj(arch, i) && (arch.div_val != 1 || arch.d_embed != dm);
        if owns {
            s.push(ParamSpec::new(format!("crit.out_proj.{i}"), &[dm, layout.widths[i]], Init::Normal(pstd), "softmax"));
        }
    }
    s
}

fn int1(values: impl Iterator<Item = i64>, n: usize, device: &burn::tensor::Device) -> Tensor<1, Int> {
    Tensor::<1, Int>::from_data(TensorData::new(values.collect::<Vec<_>>(), [n]), device)
}

fn column(values: Vec<f32>, n: usize, device: &burn::tensor::Device) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(values, [n, 1]), device)
}

/// The output table of cluster `i` (tied to the embedding).
fn out_table(p: &ParamStore, arch: &Gpt2Arch, layout: &Layout, i: usize) -> Tensor<2> {
    if arch.div_val == 1 {
        p.matrix("wte.emb.0").slice([layout.ends[i]..layout.ends[i + 1]])
    } else {
        p.matrix(&format!("wte.emb.{i}"))
    }
}

/// The projection `[d_model, d_i]` the output uses for cluster `i`, if any.
fn out_proj(p: &ParamStore, arch: &Gpt2Arch, i: usize) -> Option<Tensor<2>> {
    if tied_proj(arch, i) {
        emb_proj_name(arch, i).map(|n| p.matrix(&n))
    } else {
        let own = format!("crit.out_proj.{i}");
        p.has(&own).then(|| p.matrix(&own))
    }
}

/// The adaptive input embedding of `ids` (`[n]`), `[n, d_model]`, before the √d_model scale.
pub fn adaptive_embedding(p: &ParamStore, arch: &Gpt2Arch, ids: &[u32]) -> Tensor<2> {
    let layout = Layout::of(arch);
    let device = p.matrix("wpe").device();
    let n = ids.len();
    if arch.div_val == 1 {
        let e = p.matrix("wte.emb.0").select(0, int1(ids.iter().map(|&i| i as i64), n, &device));
        return match emb_proj_name(arch, 0) {
            Some(name) => e.matmul(p.matrix(&name).transpose()),
            None => e,
        };
    }
    let mut out: Option<Tensor<2>> = None;
    for i in 0..layout.clusters() {
        let (lo, hi) = (layout.ends[i], layout.ends[i + 1]);
        let local = ids.iter().map(|&id| (id as usize).clamp(lo, hi - 1) as i64 - lo as i64);
        let inside: Vec<f32> = ids.iter().map(|&id| if (lo..hi).contains(&(id as usize)) { 1.0 } else { 0.0 }).collect();
        let e = p.matrix(&format!("wte.emb.{i}")).select(0, int1(local, n, &device));
        let e = e.matmul(p.matrix(&format!("wte.proj.{i}")).transpose()) * column(inside, n, &device);
        out = Some(match out {
            Some(acc) => acc + e,
            None => e,
        });
    }
    out.expect("at least one cluster")
}

/// The sum of the adaptive softmax's logits over every row of `hidden` (`[n, d_model]`) and
/// every vocabulary entry (the clusters' own scores, not the head's cluster slots), without
/// forming them: per cluster, `Σ_v (h P)·e_v + b_v = (h P)·Σ_v e_v + Σ_v b_v`.
pub fn adaptive_logit_sum(p: &ParamStore, arch: &Gpt2Arch, hidden: Tensor<2>) -> Tensor<1> {
    let layout = Layout::of(arch);
    let n = hidden.dims()[0];
    let mut total: Option<Tensor<1>> = None;
    for i in 0..layout.clusters() {
        let h = match out_proj(p, arch, i) {
            Some(pr) => hidden.clone().matmul(pr),
            None => hidden.clone(),
        };
        let table_sum = out_table(p, arch, &layout, i).sum_dim(0);
        let bias = if arch.div_val == 1 { p.vector("crit.bias.0").slice([layout.ends[i]..layout.ends[i + 1]]) } else { p.vector(&format!("crit.bias.{i}")) };
        let part = (h * table_sum).sum() + bias.sum() * n as f64;
        total = Some(match total {
            Some(t) => t + part,
            None => part,
        });
    }
    total.expect("at least one cluster")
}

/// Per-token negative log-likelihood of `targets` under the projected adaptive softmax, `[n]`.
pub fn adaptive_nll(p: &ParamStore, arch: &Gpt2Arch, hidden: Tensor<2>, targets: &[u32]) -> Tensor<1> {
    let layout = Layout::of(arch);
    let device = hidden.device();
    let n = targets.len();
    let project = |i: usize| match out_proj(p, arch, i) {
        Some(pr) => hidden.clone().matmul(pr),
        None => hidden.clone(),
    };
    let c1 = layout.size(0);
    let tails = layout.clusters() - 1;
    let bias = |i: usize| {
        if arch.div_val == 1 {
            p.vector("crit.bias.0").slice([layout.ends[i]..layout.ends[i + 1]])
        } else {
            p.vector(&format!("crit.bias.{i}"))
        }
    };
    let mut head_w = out_table(p, arch, &layout, 0);
    let mut head_b = bias(0);
    if tails > 0 {
        head_w = Tensor::cat(vec![head_w, p.matrix("crit.cluster_weight")], 0);
        head_b = Tensor::cat(vec![head_b, p.vector("crit.cluster_bias")], 0);
    }
    let head_logits = project(0).matmul(head_w.transpose()) + head_b.reshape([1, c1 + tails]);
    let cluster_of = |id: u32| (0..layout.clusters()).find(|&i| (id as usize) < layout.ends[i + 1]).unwrap_or(0);
    // Head-cluster tokens: −log p_head[id]; tail tokens: −(log p_head[cluster slot] + log p_tail[local id]).
    let head_idx = targets.iter().map(|&id| match cluster_of(id) {
        0 => id as i64,
        i => (c1 + i - 1) as i64,
    });
    let mut logp = nn::log_softmax_pick(head_logits, head_idx.collect());
    // Each tail is evaluated only on the tokens whose target lies in it (as the reference's
    // adaptive softmax does): the other rows would be multiplied by zero.
    for i in 1..layout.clusters() {
        let rows: Vec<i64> = (0..n).filter(|&r| cluster_of(targets[r]) == i).map(|r| r as i64).collect();
        if rows.is_empty() {
            continue;
        }
        let m = rows.len();
        let lo = layout.ends[i];
        let local: Vec<i64> = rows.iter().map(|&r| targets[r as usize] as i64 - lo as i64).collect();
        let rows = Tensor::<1, Int>::from_data(TensorData::new(rows, [m]), &device);
        let h = hidden.clone().select(0, rows.clone());
        let h = match out_proj(p, arch, i) {
            Some(pr) => h.matmul(pr),
            None => h,
        };
        let tail_logits = h.matmul(out_table(p, arch, &layout, i).transpose()) + bias(i).reshape([1, layout.size(i)]);
        let picked = nn::log_softmax_pick(tail_logits, local);
        logp = logp.select_assign(0, rows, picked, IndexingUpdateOp::Add);
    }
    logp.neg()
}

/// The forward pass: returns the mean next-token NLL (a one-element tensor) and records inputs.
pub fn forward(p: &ParamStore, arch: &Gpt2Arch, batch: &LmBatch, rec: &mut Recorder) -> Tensor<1> {
    let (b, t, dm) = (batch.batch, batch.len, arch.d_model);
    assert!(t <= arch.tgt_len, "sequence length {t} exceeds the {} learned positions", arch.tgt_len);
    let emb = rec.tokens((adaptive_embedding(p, arch, &batch.ids) * (dm as f64).sqrt()).reshape([b, t, dm]));
    let pos = p.matrix("wpe").slice([0..t]).reshape([1, t, dm]);
    let mut x = rec.embeddings(emb + pos);
    for l in 0..arch.n_layer {
        let name = |part: &str| format!("h.{l}.{part}");
        let qkv = linear_rec(p, &name("attn.c_attn"), nn::layer_norm(p, &name("ln_1"), x.clone(), LN_EPS), rec);
        let q = qkv.clone().slice([0..b, 0..t, 0..dm]);
        let k = qkv.clone().slice([0..b, 0..t, dm..2 * dm]);
        let v = qkv.slice([0..b, 0..t, 2 * dm..3 * dm]);
        let ctx = nn::attention(q, k, v, arch.n_head[l], &AttnMask::Causal, rec);
        let a = x + linear_rec(p, &name("attn.c_proj"), nn::merge_heads(ctx), rec);
        let pre = linear_rec(p, &name("mlp.c_fc"), nn::layer_norm(p, &name("ln_2"), a.clone(), LN_EPS), rec);
        let pre = rec.ffn_pre(pre);
        let hidden = rec.ffn_act(nn::gelu_tanh(pre));
        x = a + linear_rec(p, &name("mlp.c_proj"), hidden, rec);
    }
    let x = nn::layer_norm(p, "ln_f", x, LN_EPS).reshape([b * t, dm]);
    rec.logit_sum(|| adaptive_logit_sum(p, arch, x.clone()));
    adaptive_nll(p, arch, x, &batch.targets).mean()
}

fn linear_rec(p: &ParamStore, name: &str, x: Tensor<3>, rec: &mut Recorder) -> Tensor<3> {
    rec.linear(&format!("{name}.weight"));
    nn::linear(p, name, x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_are_cleaned_as_the_model_does() {
        assert_eq!(clean_cutoffs(&[19997, 39997, 199997, 50264], 50264), vec![0, 19997, 39997, 50264]);
        assert_eq!(clean_cutoffs(&[10, 20], 50), vec![0, 10, 20, 50]);
        assert_eq!(clean_cutoffs(&[10, 5, 20], 50), vec![0, 10, 50]);
        assert_eq!(clean_cutoffs(&[], 50), vec![0, 50]);
    }
}
