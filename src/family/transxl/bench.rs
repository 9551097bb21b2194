//! The Transformer-XL benchmark (`transxl-wt103`, archai's `MemTransformerLM` as the Lightweight
//! Transformer Search trained it): `config_<c>/j<j>/model_config.yaml` per architecture (a full
//! training-argument dump), with `ppl_summary.yaml` (ground truth, `valid_ppl`) and
//! `params_summary.yaml` (published parameter counts) keyed `config_<c>_j<j>`.
//!
//! The configuration conventions are archai's (`docs/reference/TRANSFORMER_XL.md` §1–§2):
//! a negative `d_embed` means `d_model`; a negative `d_head` means `d_model / n_head[i]`;
//! per-layer lists (`n_head`, `d_inner`, `d_head`) may be a scalar (repeated), a longer list
//! (cut to `n_layer`) or a shorter one (padded with copies of its **first** element); the
//! cut-offs are cleaned as the model cleans them ([`clean_cutoffs`]).
//!
//! Only the variant the benchmark uses can be built (`attn_type` 0, post-LayerNorm, `ext_len` 0,
//! `same_length` false, no `clamp_len`, no sampled softmax, normal initialisation, no Primer
//! options); a configuration asking for anything else is rejected with an error, never
//! silently computed as something else. Every problem with a configuration is a
//! [`BenchError`] naming the file and the key; parsing never panics.

use crate::bench::error::BenchError;
use serde_norway::{Mapping, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// One Transformer-XL architecture: the fields of `model_config.yaml` the model uses, resolved
/// (per-layer lists have `n_layer` entries, `d_embed` and `d_head` are positive), and the
/// derived cluster layout.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TxlArch {
    /// `config_<c>_j<j>`.
    pub key: String,
    /// Vocabulary size.
    pub n_token: usize,
    /// Number of decoder layers.
    pub n_layer: usize,
    /// Hidden size.
    pub d_model: usize,
    /// Embedding width of the head cluster (`d_model` when the config gives a negative value).
    pub d_embed: usize,
    /// Attention heads per layer.
    pub n_head: Vec<usize>,
    /// Width of one head per layer (`d_model / n_head[i]` when the config gives a negative value).
    pub d_head: Vec<usize>,
    /// Inner (FFN) width per layer.
    pub d_inner: Vec<usize>,
    /// Adaptive embedding divisor.
    pub div_val: usize,
    /// The cut-offs as stored (see [`TxlArch::ends`] for what the model uses).
    pub cutoffs: Vec<usize>,
    /// Segment length of training.
    pub tgt_len: usize,
    /// Memory length (positions kept from earlier segments).
    pub mem_len: usize,
    /// Whether the softmax's output weights are the embedding tables (`tie_weight`, or
    /// `not not_tied`).
    pub tie_weight: bool,
    /// Per cluster, whether the softmax reuses the embedding's projection: the stored list cut to
    /// the number of clusters, missing entries false; when absent, `[not adaptive, true, …]`.
    pub tie_projs: Vec<bool>,
    /// Std of the normal initialisation of weights, tables and biases `r_w_bias`/`r_r_bias`
    /// (`init_std`, else `weight_init_std`, else 0.02).
    pub init_std: f64,
    /// Std of the normal initialisation of projections (`proj_init_std`, else 0.01).
    pub proj_init_std: f64,
    /// The training run's logged `n_all_param`, if stored.
    pub n_all_param: Option<u64>,
    /// The training run's logged `n_nonemb_param`, if stored.
    pub n_nonemb_param: Option<u64>,
    /// Derived: cluster boundaries `[0, e_1, …, n_token]`; cluster `c` holds ids `[e_c, e_{c+1})`.
    pub ends: Vec<usize>,
    /// Derived: embedding width of each cluster (`d_embed` for all when `div_val` is 1, else
    /// `d_embed / div_val^c`).
    pub widths: Vec<usize>,
}

impl TxlArch {
    /// Number of clusters (head and tails).
    pub fn clusters(&self) -> usize {
        self.ends.len() - 1
    }

    /// Number of token ids in cluster `c`.
    pub fn cluster_size(&self, c: usize) -> usize {
        self.ends[c + 1] - self.ends[c]
    }

    /// The cluster of a token id (the last one for ids at or beyond `n_token`).
    pub fn cluster_of(&self, id: usize) -> usize {
        (0..self.clusters()).find(|&c| id < self.ends[c + 1]).unwrap_or(self.clusters() - 1)
    }

    /// Whether cluster `c` of the softmax reuses the embedding's projection.
    pub fn tied_proj(&self, c: usize) -> bool {
        self.tie_projs.get(c).copied().unwrap_or(false)
    }
}

/// The largest model [`parse_config`] accepts, in parameters (2^40): beyond it no tensor could
/// be built, and the bound keeps every later shape and count computation from overflowing.
pub const MAX_PARAMS: u64 = 1 << 40;

/// The most decoder layers [`parse_config`] accepts.
pub const MAX_LAYERS: usize = 10_000;

/// The fields of `params_summary.yaml`, in the order of [`published_counts`]' arrays.
pub const PUBLISHED_FIELDS: [&str; 5] = ["AdaEmb", "Attn", "FFN", "nonembedding", "total"];

/// Cleans a cut-off list as the model does (`TRANSFORMER_XL.md` §2) and returns the cluster
/// boundaries `[0, e_1, …, n_token]`:
/// 1. from the second entry on, each entry must be larger than the one before (else an error);
/// 2. at the first entry (from the second on) above `n_token` the list is cut: that entry and
///    all later ones are dropped (the first entry is never compared with `n_token` here);
/// 3. a last entry above `n_token` becomes `n_token`; one below gets `n_token` appended.
///
/// An empty list gives one cluster. A first entry of 0 (an empty head cluster) is an error.
pub fn clean_cutoffs(cutoffs: &[usize], n_token: usize) -> Result<Vec<usize>, String> {
    let mut kept = cutoffs.to_vec();
    for i in 1..kept.len() {
        if kept[i] <= kept[i - 1] {
            return Err(format!("cutoffs must increase, but entry {i} ({}) follows {}", kept[i], kept[i - 1]));
        }
        if kept[i] > n_token {
            kept.truncate(i);
            break;
        }
    }
    match kept.last().copied() {
        None => kept.push(n_token),
        Some(l) if l > n_token => *kept.last_mut().expect("a non-empty list") = n_token,
        Some(l) if l < n_token => kept.push(n_token),
        Some(_) => {}
    }
    if kept[0] == 0 {
        return Err("the first cutoff is 0: the head cluster would be empty".into());
    }
    let mut ends = vec![0];
    ends.extend(kept);
    Ok(ends)
}

/// Reads typed fields of one configuration mapping, with errors naming the file and the key.
struct Fields<'a> {
    map: &'a Mapping,
    path: &'a Path,
    key: &'a str,
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(_) => "a tagged value".into(),
    }
}

/// An integer, also when written as an integral float (`512.0`).
fn as_int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64))
}

impl Fields<'_> {
    fn err(&self, message: String) -> BenchError {
        BenchError::Entry { path: self.path.to_owned(), entry: self.key.to_owned(), message }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn int(&self, name: &str) -> Result<Option<i64>, BenchError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => as_int(v).map(Some).ok_or_else(|| self.err(format!("`{name}` must be an integer, found {}", describe(v)))),
        }
    }

    fn required_int(&self, name: &str) -> Result<i64, BenchError> {
        self.int(name)?.ok_or_else(|| self.err(format!("the field `{name}` is missing")))
    }

    fn positive(&self, name: &str) -> Result<usize, BenchError> {
        let v = self.required_int(name)?;
        if v <= 0 {
            return Err(self.err(format!("`{name}` must be positive, found {v}")));
        }
        Ok(v as usize)
    }

    fn float(&self, name: &str) -> Result<Option<f64>, BenchError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| self.err(format!("`{name}` must be a number, found {}", describe(v)))),
        }
    }

    fn bool(&self, name: &str) -> Result<Option<bool>, BenchError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.as_bool().map(Some).ok_or_else(|| self.err(format!("`{name}` must be true or false, found {}", describe(v)))),
        }
    }

    fn str(&self, name: &str) -> Result<Option<&str>, BenchError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.as_str().map(Some).ok_or_else(|| self.err(format!("`{name}` must be a string, found {}", describe(v)))),
        }
    }

    /// A scalar or a list of integers (elements as written).
    fn int_list(&self, name: &str) -> Result<Option<Vec<i64>>, BenchError> {
        let Some(v) = self.get(name) else { return Ok(None) };
        if let Some(seq) = v.as_sequence() {
            let items = seq
                .iter()
                .enumerate()
                .map(|(i, x)| as_int(x).ok_or_else(|| self.err(format!("`{name}` must be a list of integers, but entry {i} is {}", describe(x)))))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Some(items));
        }
        as_int(v).map(|x| Some(vec![x])).ok_or_else(|| self.err(format!("`{name}` must be an integer or a list of integers, found {}", describe(v))))
    }

    /// A per-layer list: a scalar is repeated, a longer list cut to `n`, a shorter one padded
    /// with copies of its first element.
    fn per_layer(&self, name: &str, n: usize) -> Result<Option<Vec<i64>>, BenchError> {
        let Some(mut v) = self.int_list(name)? else { return Ok(None) };
        let Some(&first) = v.first() else { return Err(self.err(format!("`{name}` is an empty list"))) };
        v.truncate(n);
        v.resize(n, first);
        Ok(Some(v))
    }

    fn bool_list(&self, name: &str) -> Result<Option<Vec<bool>>, BenchError> {
        let Some(v) = self.get(name) else { return Ok(None) };
        if let Some(b) = v.as_bool() {
            return Ok(Some(vec![b]));
        }
        let Some(seq) = v.as_sequence() else {
            return Err(self.err(format!("`{name}` must be a list of booleans, found {}", describe(v))));
        };
        seq.iter()
            .enumerate()
            .map(|(i, x)| x.as_bool().ok_or_else(|| self.err(format!("`{name}` must be a list of booleans, but entry {i} is {}", describe(x)))))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// Rejects a value of an option lpzero does not implement.
    fn only(&self, name: &str, ok: bool, what: &str) -> Result<(), BenchError> {
        if ok {
            Ok(())
        } else {
            Err(self.err(format!("`{name}`: lpzero builds only {what}")))
        }
    }
}

fn parse_error(path: &Path, message: String) -> BenchError {
    BenchError::Parse { path: path.to_owned(), message }
}

/// Parses one `model_config.yaml` (archai's training-argument dump, or the smaller file lpzero
/// writes for a built benchmark) into an architecture named `key`.
///
/// Required: `n_token`, `n_layer`, `d_model`, `n_head`, `d_inner`, `div_val`, `cutoffs` (unless
/// `adaptive: false`, which means one cluster), `tgt_len`, `mem_len`. Optional with archai's
/// defaults: `d_embed` and `d_head` (−1), `tie_weight`/`not_tied` (tied), `tie_projs`,
/// `init_std`/`weight_init_std` (0.02), `proj_init_std` (0.01), `n_all_param` and
/// `n_nonemb_param` (absent).
pub fn parse_config(path: &Path, key: &str, text: &str) -> Result<TxlArch, BenchError> {
    let value: Value = serde_norway::from_str(text).map_err(|e| parse_error(path, e.to_string()))?;
    let Some(map) = value.as_mapping() else {
        return Err(parse_error(path, format!("a model configuration must be a mapping of fields, found {}", describe(&value))));
    };
    let f = Fields { map, path, key };

    // Options whose other values would need another model.
    f.only("attn_type", f.int("attn_type")?.unwrap_or(0) == 0, "relative partial-learnable attention (attn_type 0)")?;
    f.only("pre_lnorm", !f.bool("pre_lnorm")?.unwrap_or(false), "post-LayerNorm layers (pre_lnorm false)")?;
    f.only("same_length", !f.bool("same_length")?.unwrap_or(false), "same_length false")?;
    f.only("ext_len", f.int("ext_len")?.unwrap_or(0) == 0, "ext_len 0")?;
    f.only("clamp_len", f.int("clamp_len")?.unwrap_or(-1) <= 0, "unclamped relative positions (clamp_len ≤ 0)")?;
    f.only("sample_softmax", f.int("sample_softmax")?.unwrap_or(-1) <= 0, "the full adaptive softmax (sample_softmax ≤ 0)")?;
    f.only("primer_conv", !f.bool("primer_conv")?.unwrap_or(false), "primer_conv false")?;
    f.only("primer_square", !f.bool("primer_square")?.unwrap_or(false), "primer_square false")?;
    f.only("weight_init_type", f.str("weight_init_type")?.unwrap_or("normal") == "normal", "normal initialisation (weight_init_type normal)")?;
    if let Some(t) = f.str("model_type")? {
        f.only("model_type", t == "transxl", "model_type transxl in a Transformer-XL configuration")?;
    }

    let n_token = f.positive("n_token")?;
    let n_layer = f.positive("n_layer")?;
    if n_layer > MAX_LAYERS {
        return Err(f.err(format!("`n_layer` {n_layer} is more than the {MAX_LAYERS} lpzero builds")));
    }
    let d_model = f.positive("d_model")?;
    if d_model % 2 != 0 {
        return Err(f.err(format!("d_model {d_model} is odd: the sinusoidal positions need an even width")));
    }
    let d_embed = match f.int("d_embed")?.unwrap_or(-1) {
        e if e < 0 => d_model,
        0 => return Err(f.err("`d_embed` must not be 0".into())),
        e => e as usize,
    };
    let required_list = |name: &str| f.per_layer(name, n_layer)?.ok_or_else(|| f.err(format!("the field `{name}` is missing")));
    let n_head = required_list("n_head")?;
    let d_inner = required_list("d_inner")?;
    let d_head_raw = f.per_layer("d_head", n_layer)?.unwrap_or_else(|| vec![-1; n_layer]);
    let mut heads = Vec::with_capacity(n_layer);
    let mut d_head = Vec::with_capacity(n_layer);
    for i in 0..n_layer {
        let h = n_head[i];
        if h <= 0 {
            return Err(f.err(format!("`n_head` entry {i} must be positive, found {h}")));
        }
        let h = h as usize;
        let dh = match d_head_raw[i] {
            dh if dh < 0 => {
                if d_model % h != 0 {
                    return Err(f.err(format!("layer {i}: {h} heads do not divide d_model {d_model}")));
                }
                d_model / h
            }
            0 => return Err(f.err(format!("`d_head` entry {i} must not be 0"))),
            dh => dh as usize,
        };
        heads.push(h);
        d_head.push(dh);
    }
    let d_inner = d_inner
        .iter()
        .enumerate()
        .map(|(i, &v)| if v > 0 { Ok(v as usize) } else { Err(f.err(format!("`d_inner` entry {i} must be positive, found {v}"))) })
        .collect::<Result<Vec<_>, _>>()?;
    let div_val = f.positive("div_val")?;
    let tgt_len = f.positive("tgt_len")?;
    let mem_len = f.required_int("mem_len")?;
    if mem_len < 0 {
        return Err(f.err(format!("`mem_len` must not be negative, found {mem_len}")));
    }

    let adaptive = f.bool("adaptive")?.unwrap_or(true);
    let cutoffs: Vec<usize> = if adaptive {
        let raw = f.int_list("cutoffs")?.ok_or_else(|| f.err("the field `cutoffs` is missing".into()))?;
        raw.iter()
            .enumerate()
            .map(|(i, &c)| if c >= 0 { Ok(c as usize) } else { Err(f.err(format!("`cutoffs` entry {i} is negative ({c})"))) })
            .collect::<Result<_, _>>()?
    } else {
        vec![]
    };
    let ends = clean_cutoffs(&cutoffs, n_token).map_err(|m| f.err(m))?;
    let clusters = ends.len() - 1;
    let widths = (0..clusters)
        .map(|c| if div_val == 1 { d_embed } else { div_val.checked_pow(c as u32).map_or(0, |q| d_embed / q) })
        .collect::<Vec<_>>();
    if let Some(c) = widths.iter().position(|&w| w == 0) {
        return Err(f.err(format!("cluster {c} would have width 0 (d_embed {d_embed} / div_val {div_val}^{c})")));
    }

    // Bound the model's size, so that no count or shape computed later can overflow.
    let mul = |xs: &[u128]| xs.iter().fold(1u128, |a, &b| a.saturating_mul(b));
    let (dm, de, v, nc) = (d_model as u128, d_embed as u128, n_token as u128, clusters as u128);
    let bound = (0..n_layer)
        .map(|i| {
            let (hd, ff) = (mul(&[heads[i] as u128, d_head[i] as u128]), d_inner[i] as u128);
            [mul(&[5, hd, dm]), mul(&[2, ff, dm]), ff, mul(&[7, dm]), mul(&[2, hd])].into_iter().fold(0u128, u128::saturating_add)
        })
        .chain([mul(&[2, v, de + 1]), mul(&[2, nc, dm + 1, de + 1])])
        .fold(0u128, u128::saturating_add);
    if bound > MAX_PARAMS as u128 {
        return Err(f.err(format!("the model would have about {bound} parameters; lpzero builds models of up to {MAX_PARAMS}")));
    }

    let mut tie_projs = f.bool_list("tie_projs")?.unwrap_or_else(|| std::iter::once(!adaptive).chain(std::iter::repeat(true)).take(clusters).collect());
    tie_projs.truncate(clusters);
    tie_projs.resize(clusters, false);

    let tie_weight = match (f.bool("tie_weight")?, f.bool("not_tied")?) {
        (Some(t), Some(n)) if t == n => return Err(f.err(format!("`tie_weight: {t}` contradicts `not_tied: {n}`"))),
        (Some(t), _) => t,
        (None, Some(n)) => !n,
        (None, None) => true,
    };
    let std_field = |name: &str| -> Result<Option<f64>, BenchError> {
        match f.float(name)? {
            Some(s) if !(s.is_finite() && s > 0.0) => Err(f.err(format!("`{name}` must be a positive number, found {s}"))),
            other => Ok(other),
        }
    };
    let init_std = match std_field("init_std")? {
        Some(s) => s,
        None => std_field("weight_init_std")?.unwrap_or(0.02),
    };
    let proj_init_std = std_field("proj_init_std")?.unwrap_or(0.01);
    let count = |name: &str| -> Result<Option<u64>, BenchError> {
        match f.int(name)? {
            Some(v) if v < 0 => Err(f.err(format!("`{name}` must not be negative, found {v}"))),
            v => Ok(v.map(|v| v as u64)),
        }
    };
    Ok(TxlArch {
        key: key.to_owned(),
        n_token,
        n_layer,
        d_model,
        d_embed,
        n_head: heads,
        d_head,
        d_inner,
        div_val,
        cutoffs,
        tgt_len,
        mem_len: mem_len as usize,
        tie_weight,
        tie_projs,
        init_std,
        proj_init_std,
        n_all_param: count("n_all_param")?,
        n_nonemb_param: count("n_nonemb_param")?,
        ends,
        widths,
    })
}

/// Whether a `model_config.yaml` text is a Transformer-XL configuration: it has a field that
/// GPT-2 configurations lack (`n_all_param`, `n_nonemb_param`, `init_std`, `not_tied`), or says
/// `model_type: transxl` (as lpzero writes in the benchmarks it builds). Text that does not
/// parse as a mapping is not.
pub fn looks_like_transxl(config_text: &str) -> bool {
    let Ok(value) = serde_norway::from_str::<Value>(config_text) else { return false };
    let Some(map) = value.as_mapping() else { return false };
    if map.get("model_type").and_then(Value::as_str) == Some("transxl") {
        return true;
    }
    ["n_all_param", "n_nonemb_param", "init_std", "not_tied"].iter().any(|k| map.contains_key(*k))
}

fn read(path: &Path) -> Result<String, BenchError> {
    std::fs::read_to_string(path).map_err(|source| BenchError::Io { path: path.to_owned(), source })
}

fn yaml_map(path: &Path) -> Result<Mapping, BenchError> {
    let value: Value = serde_norway::from_str(&read(path)?).map_err(|e| parse_error(path, e.to_string()))?;
    match value {
        Value::Mapping(m) => Ok(m),
        Value::Null => Ok(Mapping::new()),
        other => Err(parse_error(path, format!("expected a mapping keyed config_<c>_j<j>, found {}", describe(&other)))),
    }
}

/// Loads a Transformer-XL benchmark directory ([`crate::bench::lts`]): every architecture with
/// its `valid_ppl`, sorted by (config, job) numerically. The perplexity is `None` when
/// `ppl_summary.yaml` has no entry for the key, or the entry has no finite positive `valid_ppl`
/// (a run that never finished); that is not an error. A missing `ppl_summary.yaml` file, a
/// configuration that does not parse, or a directory without configurations is.
pub fn load(dir: &Path) -> Result<Vec<(TxlArch, Option<f64>)>, BenchError> {
    crate::bench::lts::load(dir, &[])?.into_iter().map(|run| Ok((parse_config(&run.config_path, &run.key, &run.config_text)?, run.valid_ppl))).collect()
}

/// Reads `params_summary.yaml` of a benchmark directory: per key, the fields
/// [`PUBLISHED_FIELDS`] (`AdaEmb`, `Attn`, `FFN`, `nonembedding`, `total`) in that order. An entry
/// without one of them, or with a non-numeric value, is an error naming the entry.
pub fn published_counts(dir: &Path) -> Result<BTreeMap<String, [f64; 5]>, BenchError> {
    let path = dir.join("params_summary.yaml");
    let map = yaml_map(&path)?;
    let mut out = BTreeMap::new();
    for (k, v) in &map {
        let key = match k {
            Value::String(s) => s.clone(),
            other => return Err(parse_error(&path, format!("keys must be strings like config_0_j0, found {}", describe(other)))),
        };
        let mut fields = [0.0; 5];
        for (slot, name) in fields.iter_mut().zip(PUBLISHED_FIELDS) {
            *slot = v.get(name).and_then(Value::as_f64).ok_or_else(|| BenchError::Entry {
                path: path.clone(),
                entry: key.clone(),
                message: format!("no numeric `{name}`"),
            })?;
        }
        out.insert(key, fields);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_are_cleaned_as_the_model_cleans_them() {
        assert_eq!(clean_cutoffs(&[19997, 39997, 199997, 267736], 267736).unwrap(), vec![0, 19997, 39997, 199997, 267736]);
        assert_eq!(clean_cutoffs(&[19997, 39997, 199997, 50264], 50264).unwrap(), vec![0, 19997, 39997, 50264]);
        assert_eq!(clean_cutoffs(&[10, 20], 50).unwrap(), vec![0, 10, 20, 50]);
        assert_eq!(clean_cutoffs(&[], 50).unwrap(), vec![0, 50]);
        // The first entry is not compared with n_token while walking; a lone one is clamped.
        assert_eq!(clean_cutoffs(&[80], 50).unwrap(), vec![0, 50]);
        assert_eq!(clean_cutoffs(&[80, 90], 50).unwrap(), vec![0, 50]);
        // Entries after the cut are not looked at.
        assert_eq!(clean_cutoffs(&[10, 60, 30], 50).unwrap(), vec![0, 10, 50]);
        assert!(clean_cutoffs(&[10, 5, 20], 50).unwrap_err().contains("increase"));
        assert!(clean_cutoffs(&[10, 10], 50).is_err());
        assert!(clean_cutoffs(&[0, 10], 50).is_err());
    }
}
