//! FlexiBERT as the benchmark's networks were trained (`--fidelity trained`).
//!
//! The TensorFlow code that produced the GLUE scores built every layer as plain scaled
//! dot-product self-attention with the layer's head count, at the architecture's own hidden size
//! H, whatever the layer's label (`FLEXIBERT_TRAINED.md`). Embeddings are 128 wide, projected to
//! H only when H = 256; the FFN is H→4H, then `num_feed_forward − 1` layers of width F, then →H;
//! padded keys are masked. Initialisers: truncated N(0, 0.02) for tables and dense kernels,
//! Glorot-uniform for the projection, zero biases, LayerNorm (1, 0), ε = 1e-12.
//!
//! The loss that drives the gradients is masked-language-model cross entropy through a head
//! tied to the word embeddings (ELECTRA's generator head: dense H→128, GELU, LayerNorm, logits
//! against the word table plus a bias). The reference back-propagated the sum of the final
//! hidden states, which a LayerNorm makes exactly zero; a real objective gives real gradients.

use super::bench::FlexiArch;
use crate::models::batch::MlmBatch;
use crate::models::nn::{self, AttnMask, Recorder};
use crate::models::params::{Init, ParamSpec, ParamStore};
use burn::tensor::{activation, Int, Tensor, TensorData};

/// Vocabulary size (BERT uncased WordPiece).
pub const VOCAB: usize = 30522;
/// Embedding width (ELECTRA-small).
pub const EMBED: usize = 128;
/// Learned positions.
pub const MAX_POSITIONS: usize = 512;
/// LayerNorm epsilon.
pub const LN_EPS: f64 = 1e-12;
/// Init std.
pub const INIT_STD: f64 = 0.02;

/// Parameter groups: `embedding` (tables and their LayerNorm), `projection` (128→H),
/// `mixer` (attention and its output block), `ffn` (the FFN stack and its LayerNorm), and
/// `head` (the MLM loss head, not part of the encoder).
pub const GROUPS: [&str; 5] = ["embedding", "projection", "mixer", "ffn", "head"];

/// The parameter declarations of an architecture as trained.
pub fn spec(arch: &FlexiArch) -> Vec<ParamSpec> {
    let h = arch.hidden_size;
    let tn = Init::TruncatedNormal(INIT_STD);
    let mut s = vec![
        ParamSpec::new("emb.word", &[VOCAB, EMBED], tn, "embedding"),
        ParamSpec::new("emb.position", &[MAX_POSITIONS, EMBED], tn, "embedding"),
        ParamSpec::new("emb.type", &[2, EMBED], tn, "embedding"),
        ParamSpec::new("emb.ln.weight", &[EMBED], Init::Ones, "embedding"),
        ParamSpec::new("emb.ln.bias", &[EMBED], Init::Zeros, "embedding"),
    ];
    if h != EMBED {
        s.push(ParamSpec::new("emb.project.weight", &[h, EMBED], Init::GlorotUniform, "projection"));
        s.push(ParamSpec::new("emb.project.bias", &[h], Init::Zeros, "projection"));
    }
    let dense = |s: &mut Vec<ParamSpec>, name: String, out: usize, inp: usize, group: &'static str| {
        s.push(ParamSpec::new(format!("{name}.weight"), &[out, inp], tn, group));
        s.push(ParamSpec::new(format!("{name}.bias"), &[out], Init::Zeros, group));
    };
    let norm = |s: &mut Vec<ParamSpec>, name: String, n: usize, group: &'static str| {
        s.push(ParamSpec::new(format!("{name}.weight"), &[n], Init::Ones, group));
        s.push(ParamSpec::new(format!("{name}.bias"), &[n], Init::Zeros, group));
    };
    for (l, layer) in arch.layers.iter().enumerate() {
        for part in ["query", "key", "value", "output"] {
            dense(&mut s, format!("layer.{l}.attn.{part}"), h, h, "mixer");
        }
        norm(&mut s, format!("layer.{l}.attn.ln"), h, "mixer");
        let mut width = 4 * h;
        dense(&mut s, format!("layer.{l}.ffn.0"), width, h, "ffn");
        for j in 1..layer.num_ffn {
            dense(&mut s, format!("layer.{l}.ffn.{j}"), layer.ffn_dim, width, "ffn");
            width = layer.ffn_dim;
        }
        dense(&mut s, format!("layer.{l}.ffn.out"), h, width, "ffn");
        norm(&mut s, format!("layer.{l}.ffn.ln"), h, "ffn");
    }
    dense(&mut s, "head.dense".into(), EMBED, h, "head");
    norm(&mut s, "head.ln".into(), EMBED, "head");
    s.push(ParamSpec::new("head.bias", &[VOCAB], Init::Zeros, "head"));
    s
}

/// The forward pass: returns the mean MLM loss (a one-element tensor) and records inputs.
pub fn forward(p: &ParamStore, arch: &FlexiArch, batch: &MlmBatch, rec: &mut Recorder) -> Tensor<1> {
    let (b, t) = (batch.batch, batch.len);
    assert!(t <= MAX_POSITIONS, "sequence length {t} exceeds {MAX_POSITIONS} positions");
    let device = p.matrix("emb.word").device();
    let mut x = embed(p, batch, rec);
    let pad: Vec<f32> = batch.attention.iter().map(|&m| if m == 0 { -10000.0 } else { 0.0 }).collect();
    let mask = AttnMask::Padding(Tensor::<4>::from_data(TensorData::new(pad, [b, 1, 1, t]), &device));
    for (l, layer) in arch.layers.iter().enumerate() {
        let name = |part: &str| format!("layer.{l}.{part}");
        let q = linear_rec(p, &name("attn.query"), x.clone(), rec);
        let k = linear_rec(p, &name("attn.key"), x.clone(), rec);
        let v = linear_rec(p, &name("attn.value"), x.clone(), rec);
        let ctx = nn::attention(q, k, v, layer.heads, &mask, rec);
        let o = linear_rec(p, &name("attn.output"), nn::merge_heads(ctx), rec);
        let m = nn::layer_norm(p, &name("attn.ln"), x + o, LN_EPS);
        x = ffn_block(p, l, layer.num_ffn, m, rec);
    }
    rec.logit_sum(|| mlm_logit_sum(p, x.clone()));
    mlm_loss(p, x, batch)
}

/// The embeddings: word + position + type (type 0) → recorded as `J`'s point → LayerNorm →
/// the projection `emb.project` when the model declares one. Shared by both fidelities.
pub(crate) fn embed(p: &ParamStore, batch: &MlmBatch, rec: &mut Recorder) -> Tensor<3> {
    let device = p.matrix("emb.word").device();
    let (b, t) = (batch.batch, batch.len);
    let ids = Tensor::<1, Int>::from_data(TensorData::new(batch.ids.iter().map(|&i| i as i64).collect::<Vec<_>>(), [b * t]), &device);
    let word = rec.tokens(p.matrix("emb.word").select(0, ids).reshape([b, t, EMBED]));
    let pos = p.matrix("emb.position").slice([0..t]).reshape([1, t, EMBED]);
    let typ = p.matrix("emb.type").slice([0..1]).reshape([1, 1, EMBED]);
    let emb = rec.embeddings(word + pos + typ);
    let x = nn::layer_norm(p, "emb.ln", emb, LN_EPS);
    if p.has("emb.project.weight") {
        nn::linear(p, "emb.project", x)
    } else {
        x
    }
}

/// Layer `l`'s FFN stack on the mixer output `m`: `ffn.0`, GELU, then `ffn.1 … ffn.{n−1}` each
/// followed by GELU (every GELU output recorded as `A`), `ffn.out`, and `LayerNorm(· + m)` with
/// `ffn.ln`. Shared by both fidelities.
pub(crate) fn ffn_block(p: &ParamStore, l: usize, num_ffn: usize, m: Tensor<3>, rec: &mut Recorder) -> Tensor<3> {
    let name = |part: &str| format!("layer.{l}.{part}");
    let pre = linear_rec(p, &name("ffn.0"), m.clone(), rec);
    let pre = rec.ffn_pre(pre);
    let mut a = rec.ffn_act(nn::gelu(pre));
    for j in 1..num_ffn {
        let pre = linear_rec(p, &name(&format!("ffn.{j}")), a, rec);
        let pre = rec.ffn_pre(pre);
        a = rec.ffn_act(nn::gelu(pre));
    }
    let y = linear_rec(p, &name("ffn.out"), a, rec);
    nn::layer_norm(p, &name("ffn.ln"), m + y, LN_EPS)
}

/// A linear layer whose weight is recorded (for `W` and `G`).
pub(crate) fn linear_rec(p: &ParamStore, name: &str, x: Tensor<3>, rec: &mut Recorder) -> Tensor<3> {
    rec.linear(&format!("{name}.weight"));
    nn::linear(p, name, x)
}

/// Mean cross entropy of the original tokens at the masked positions, through the tied head.
/// The sum of the masked-LM head's logits over every position (masked or not) and every
/// vocabulary entry, without forming them: `z·Σ_v e_v + Σ_v b_v` per position.
pub(crate) fn mlm_logit_sum(p: &ParamStore, x: Tensor<3>) -> Tensor<1> {
    let [b, t, _] = x.dims();
    let z = nn::layer_norm(p, "head.ln", nn::gelu(nn::linear(p, "head.dense", x)), LN_EPS).reshape([b * t, EMBED]);
    (z * p.matrix("emb.word").sum_dim(0)).sum() + p.vector("head.bias").sum() * (b * t) as f64
}

pub(crate) fn mlm_loss(p: &ParamStore, x: Tensor<3>, batch: &MlmBatch) -> Tensor<1> {
    let device = x.device();
    let [b, t, _] = x.dims();
    let z = nn::layer_norm(p, "head.ln", nn::gelu(nn::linear(p, "head.dense", x)), LN_EPS).reshape([b * t, EMBED]);
    let m = batch.masked.len();
    let rows = Tensor::<1, Int>::from_data(TensorData::new(batch.masked.iter().map(|&i| i as i64).collect::<Vec<_>>(), [m]), &device);
    let z = z.select(0, rows);
    let logits = z.matmul(p.matrix("emb.word").transpose()) + p.vector("head.bias").reshape([1, VOCAB]);
    let logp = activation::log_softmax(logits, 1);
    let targets = Tensor::<2, Int>::from_data(TensorData::new(batch.targets.iter().map(|&i| i as i64).collect::<Vec<_>>(), [m, 1]), &device);
    logp.gather(1, targets).mean().neg()
}
