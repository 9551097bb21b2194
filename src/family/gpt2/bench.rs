//! The GPT-2 benchmark: `config_<c>/j<j>/model_config.yaml` per architecture, with
//! `ppl_summary.yaml` (ground truth) and `params_summary.yaml` (parameter counts) keyed
//! `config_<c>_j<j>` (the layout of the Lightweight Transformer Search, [`crate::bench::lts`]).
//!
//! Configs follow archai's conventions: a negative `d_embed` means `d_model`; a negative `d_head`
//! means `d_model / n_head` (the only head size GPT-2 flex has); per-layer lists (`n_head`,
//! `d_inner`) may be one number (repeated), or longer than `n_layer` (cut) or shorter (padded
//! with copies of their first element); cut-offs beyond the vocabulary are cleaned by the model
//! ([`super::model::clean_cutoffs`]).

use crate::bench::lts::{self, PerLayer};
use crate::bench::error::BenchError;
use serde::Deserialize;
use std::path::Path;

/// One GPT-2 flex architecture (the fields of `model_config.yaml` the model uses).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Gpt2Arch {
    /// `config_<c>_j<j>`.
    pub key: String,
    /// Vocabulary size.
    pub n_token: usize,
    /// Number of blocks.
    pub n_layer: usize,
    /// Hidden size.
    pub d_model: usize,
    /// Embedding width of the head cluster.
    pub d_embed: usize,
    /// Inner (FFN) width per block.
    pub d_inner: Vec<usize>,
    /// Attention heads per block.
    pub n_head: Vec<usize>,
    /// Adaptive embedding divisor.
    pub div_val: usize,
    /// Cutoffs as stored (cleaned by the model, see [`super::model::clean_cutoffs`]).
    pub cutoffs: Vec<usize>,
    /// Maximum sequence length (learned positions).
    pub tgt_len: usize,
    /// Whether output weights are tied to the embedding tables.
    pub tie_weight: bool,
    /// Per-cluster projection tying, as stored.
    pub tie_projs: Vec<bool>,
    /// Init std of weights.
    pub weight_init_std: f64,
    /// Init std of projections.
    pub proj_init_std: f64,
}

#[derive(Deserialize)]
struct RawConfig {
    n_token: usize,
    n_layer: usize,
    d_model: usize,
    d_embed: i64,
    #[serde(default = "minus_one")]
    d_head: PerLayer<i64>,
    d_inner: PerLayer<usize>,
    n_head: PerLayer<usize>,
    div_val: usize,
    cutoffs: Vec<usize>,
    tgt_len: usize,
    #[serde(default = "yes")]
    tie_weight: bool,
    #[serde(default)]
    tie_projs: Vec<bool>,
    #[serde(default = "std_init")]
    weight_init_std: f64,
    #[serde(default = "proj_init")]
    proj_init_std: f64,
}

fn yes() -> bool {
    true
}
fn std_init() -> f64 {
    0.02
}
fn proj_init() -> f64 {
    0.01
}
fn minus_one() -> PerLayer<i64> {
    PerLayer::One(-1)
}

/// Parses one `model_config.yaml`.
pub fn parse_config(path: &Path, key: &str, text: &str) -> Result<Gpt2Arch, BenchError> {
    let raw: RawConfig =
        serde_norway::from_str(text).map_err(|e| BenchError::Parse { path: path.to_owned(), message: e.to_string() })?;
    let err = |message: String| BenchError::Entry { path: path.to_owned(), entry: key.to_owned(), message };
    if raw.n_layer == 0 {
        return Err(err("n_layer must be positive".into()));
    }
    let d_inner = raw.d_inner.per_layer(raw.n_layer).map_err(|m| err(format!("d_inner: {m}")))?;
    let n_head = raw.n_head.per_layer(raw.n_layer).map_err(|m| err(format!("n_head: {m}")))?;
    if let Some(h) = n_head.iter().find(|&&h| h == 0 || raw.d_model % h != 0) {
        return Err(err(format!("{h} heads do not divide d_model {}", raw.d_model)));
    }
    let d_head = raw.d_head.per_layer(raw.n_layer).map_err(|m| err(format!("d_head: {m}")))?;
    for (l, (&d, &h)) in d_head.iter().zip(&n_head).enumerate() {
        if d >= 0 && d as usize * h != raw.d_model {
            return Err(err(format!("layer {l}: d_head {d} × {h} heads ≠ d_model {} (GPT-2 flex splits d_model among its heads; use d_head: -1)", raw.d_model)));
        }
    }
    let d_embed = if raw.d_embed < 0 { raw.d_model } else { raw.d_embed as usize };
    if raw.div_val == 0 || raw.d_model == 0 || d_embed == 0 || raw.n_token == 0 || raw.tgt_len == 0 {
        return Err(err("n_token, d_model, d_embed, div_val and tgt_len must be positive".into()));
    }
    lts::check_cutoffs(&raw.cutoffs, raw.n_token).map_err(err)?;
    Ok(Gpt2Arch {
        key: key.to_owned(),
        n_token: raw.n_token,
        n_layer: raw.n_layer,
        d_model: raw.d_model,
        d_embed,
        d_inner,
        n_head,
        div_val: raw.div_val,
        cutoffs: raw.cutoffs,
        tgt_len: raw.tgt_len,
        tie_weight: raw.tie_weight,
        tie_projs: raw.tie_projs,
        weight_init_std: raw.weight_init_std,
        proj_init_std: raw.proj_init_std,
    })
}

/// The parameter-count fields of `params_summary.yaml`, in its order.
pub const COUNT_FIELDS: [&str; 5] = ["AdaEmb", "Attn", "FFN", "nonembedding", "total"];

/// Loads the whole benchmark directory: architectures with their `valid_ppl` (`None` when the
/// run has no complete entry) and published counts.
pub fn load(dir: &Path) -> Result<crate::family::BenchData, BenchError> {
    let runs = lts::load(dir, &COUNT_FIELDS)?;
    let mut data = crate::family::BenchData { archs: vec![], truth: vec![], truth_name: "valid_ppl", lower_is_better: true, published_counts: vec![] };
    for run in runs {
        let arch = parse_config(&run.config_path, &run.key, &run.config_text)?;
        data.archs.push(std::sync::Arc::new(arch));
        data.truth.push(run.valid_ppl);
        data.published_counts.push(run.counts);
    }
    Ok(data)
}
