//! The GPT-2 benchmark: `config_<c>/j<j>/model_config.yaml` per architecture, with
//! `ppl_summary.yaml` (ground truth) and `params_summary.yaml` (parameter counts) keyed
//! `config_<c>_j<j>`.

use super::BenchError;
use serde::Deserialize;
use std::collections::BTreeMap;
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
    /// Cutoffs as stored (cleaned by the model, see `models::gpt2::clean_cutoffs`).
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
    /// Validation perplexity after training (lower is better).
    pub valid_ppl: f64,
    /// The benchmark's own parameter counts.
    pub params: ParamsSummary,
}

/// The five fields of `params_summary.yaml`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize, serde::Serialize)]
pub struct ParamsSummary {
    /// Adaptive embedding tables, their projections and the position table.
    #[serde(rename = "AdaEmb")]
    pub ada_emb: f64,
    /// Attention (c_attn, c_proj) weights and biases.
    #[serde(rename = "Attn")]
    pub attn: f64,
    /// FFN (c_fc, c_proj) weights and biases.
    #[serde(rename = "FFN")]
    pub ffn: f64,
    /// Attention + FFN + LayerNorms.
    pub nonembedding: f64,
    /// Every unique parameter.
    pub total: f64,
}

#[derive(Deserialize)]
struct RawConfig {
    n_token: usize,
    n_layer: usize,
    d_model: usize,
    d_embed: usize,
    d_inner: OneOrMany,
    n_head: OneOrMany,
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

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(usize),
    Many(Vec<usize>),
}

impl OneOrMany {
    fn per_layer(self, n: usize) -> Vec<usize> {
        match self {
            OneOrMany::One(v) => vec![v; n],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
struct RawPpl {
    valid_ppl: f64,
}

fn read(path: &Path) -> Result<String, BenchError> {
    std::fs::read_to_string(path).map_err(|source| BenchError::Io { path: path.to_owned(), source })
}

fn yaml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, BenchError> {
    serde_norway::from_str(&read(path)?).map_err(|e| BenchError::Parse { path: path.to_owned(), message: e.to_string() })
}

/// Parses one `model_config.yaml`.
pub fn parse_config(path: &Path, key: &str, text: &str) -> Result<Gpt2Arch, BenchError> {
    let raw: RawConfig =
        serde_norway::from_str(text).map_err(|e| BenchError::Parse { path: path.to_owned(), message: e.to_string() })?;
    let err = |message: String| BenchError::Entry { path: path.to_owned(), entry: key.to_owned(), message };
    let d_inner = raw.d_inner.per_layer(raw.n_layer);
    let n_head = raw.n_head.per_layer(raw.n_layer);
    if raw.n_layer == 0 || d_inner.len() != raw.n_layer || n_head.len() != raw.n_layer {
        return Err(err(format!("n_layer is {} but d_inner has {} and n_head {} entries", raw.n_layer, d_inner.len(), n_head.len())));
    }
    if let Some(h) = n_head.iter().find(|&&h| h == 0 || raw.d_model % h != 0) {
        return Err(err(format!("{h} heads do not divide d_model {}", raw.d_model)));
    }
    if raw.div_val == 0 || raw.d_model == 0 || raw.d_embed == 0 || raw.n_token == 0 || raw.tgt_len == 0 {
        return Err(err("n_token, d_model, d_embed, div_val and tgt_len must be positive".into()));
    }
    Ok(Gpt2Arch {
        key: key.to_owned(),
        n_token: raw.n_token,
        n_layer: raw.n_layer,
        d_model: raw.d_model,
        d_embed: raw.d_embed,
        d_inner,
        n_head,
        div_val: raw.div_val,
        cutoffs: raw.cutoffs,
        tgt_len: raw.tgt_len,
        tie_weight: raw.tie_weight,
        tie_projs: raw.tie_projs,
        weight_init_std: raw.weight_init_std,
        proj_init_std: raw.proj_init_std,
        valid_ppl: f64::NAN,
        params: ParamsSummary::default(),
    })
}

/// `(config, job)` from `config_<c>` and `j<j>` folder names.
fn numbered(name: &str, prefix: &str) -> Option<usize> {
    name.strip_prefix(prefix)?.parse().ok()
}

/// Loads the whole benchmark directory.
pub fn load(dir: &Path) -> Result<Vec<Gpt2Arch>, BenchError> {
    let ppl_path = dir.join("ppl_summary.yaml");
    let ppl: BTreeMap<String, RawPpl> = yaml(&ppl_path)?;
    let params_path = dir.join("params_summary.yaml");
    let params: BTreeMap<String, ParamsSummary> = if params_path.exists() { yaml(&params_path)? } else { BTreeMap::new() };
    let mut found = vec![];
    let entries = std::fs::read_dir(dir).map_err(|source| BenchError::Io { path: dir.to_owned(), source })?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(c) = numbered(&name, "config_") else { continue };
        let jobs = std::fs::read_dir(e.path()).map_err(|source| BenchError::Io { path: e.path(), source })?;
        for j in jobs.flatten() {
            let jname = j.file_name().to_string_lossy().into_owned();
            let Some(jn) = numbered(&jname, "j") else { continue };
            let cfg = j.path().join("model_config.yaml");
            if cfg.exists() {
                found.push((c, jn, cfg));
            }
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(BenchError::Unknown { path: dir.to_owned() });
    }
    let mut archs = Vec::with_capacity(found.len());
    for (c, j, cfg) in found {
        let key = format!("config_{c}_j{j}");
        let mut arch = parse_config(&cfg, &key, &read(&cfg)?)?;
        let p = ppl.get(&key).ok_or_else(|| BenchError::Entry {
            path: ppl_path.clone(),
            entry: key.clone(),
            message: "no valid_ppl for this architecture".into(),
        })?;
        if !(p.valid_ppl.is_finite() && p.valid_ppl > 0.0) {
            return Err(BenchError::Entry { path: ppl_path.clone(), entry: key, message: format!("valid_ppl {} is not a positive number", p.valid_ppl) });
        }
        arch.valid_ppl = p.valid_ppl;
        arch.params = params.get(&key).copied().unwrap_or_default();
        archs.push(arch);
    }
    Ok(archs)
}
