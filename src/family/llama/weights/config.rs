//! The LLaMA architecture numbers, from a Hugging Face `config.json` or from GGUF metadata.

use super::error::{Result, WeightsError};
use super::gguf::{GgufFile, GgufValue};
use super::TensorSource;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The numbers that define a LLaMA-family model (Hugging Face `LlamaConfig` semantics).
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaConfig {
    /// Vocabulary size (rows of the embedding).
    pub vocab_size: usize,
    /// Model width.
    pub hidden_size: usize,
    /// FFN width (`gate_proj` / `up_proj` outputs).
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (grouped-query attention); defaults to `num_attention_heads`.
    pub num_key_value_heads: usize,
    /// Per-head width; defaults to `hidden_size / num_attention_heads`.
    pub head_dim: usize,
    /// RoPE base; defaults to 10000.
    pub rope_theta: f64,
    /// RMSNorm epsilon; defaults to 1e-6 (transformers' default).
    pub rms_norm_eps: f64,
    /// Whether `lm_head` shares the embedding's weights; defaults to false.
    pub tie_word_embeddings: bool,
    /// Longest context trained for; defaults to 2048 (transformers' default).
    pub max_position_embeddings: usize,
    /// `model_type` of `config.json`, or `general.architecture` of a GGUF file.
    pub model_type: Option<String>,
}

/// Reads an integer field; `Ok(None)` when absent or null.
fn opt_usize(obj: &serde_json::Map<String, Value>, key: &str, path: &Path) -> Result<Option<usize>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().and_then(|n| usize::try_from(n).ok()).map(Some).ok_or_else(|| WeightsError::InvalidConfig {
            path: path.to_path_buf(),
            what: format!("`{key}` is {v}, not a non-negative integer"),
        }),
    }
}

fn opt_f64(obj: &serde_json::Map<String, Value>, key: &str, path: &Path) -> Result<Option<f64>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or_else(|| WeightsError::InvalidConfig {
            path: path.to_path_buf(),
            what: format!("`{key}` is {v}, not a number"),
        }),
    }
}

fn required<T>(v: Option<T>, key: &str, path: &Path) -> Result<T> {
    v.ok_or_else(|| WeightsError::MissingField { path: path.to_path_buf(), field: key.to_string() })
}

impl LlamaConfig {
    /// Reads a Hugging Face `config.json`.
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<LlamaConfig> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| WeightsError::io(path, e))?;
        Self::from_json_str(&text, path)
    }

    /// Parses the text of a `config.json`; `path` is only used in messages. Required:
    /// `vocab_size`, `hidden_size`, `intermediate_size`, `num_hidden_layers`,
    /// `num_attention_heads`. `rope_theta` is also looked for in `rope_parameters` (newer
    /// transformers).
    pub fn from_json_str(text: &str, path: impl AsRef<Path>) -> Result<LlamaConfig> {
        let path = path.as_ref();
        let json: Value = serde_json::from_str(text).map_err(|e| WeightsError::Json { path: path.to_path_buf(), source: e })?;
        let obj = json.as_object().ok_or_else(|| WeightsError::InvalidConfig {
            path: path.to_path_buf(),
            what: "the configuration is not a JSON object".into(),
        })?;
        let u = |k: &str| opt_usize(obj, k, path);
        let hidden_size = required(u("hidden_size")?, "hidden_size", path)?;
        let num_attention_heads = required(u("num_attention_heads")?, "num_attention_heads", path)?;
        let rope_theta = match opt_f64(obj, "rope_theta", path)? {
            Some(t) => Some(t),
            None => match obj.get("rope_parameters").and_then(Value::as_object) {
                Some(p) => opt_f64(p, "rope_theta", path)?,
                None => None,
            },
        };
        let tie_word_embeddings = match obj.get("tie_word_embeddings") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                return Err(WeightsError::InvalidConfig {
                    path: path.to_path_buf(),
                    what: format!("`tie_word_embeddings` is {v}, not a boolean"),
                })
            }
        };
        let head_dim = match u("head_dim")? {
            Some(d) => d,
            None if num_attention_heads > 0 && hidden_size % num_attention_heads == 0 => hidden_size / num_attention_heads,
            None => {
                return Err(WeightsError::InvalidConfig {
                    path: path.to_path_buf(),
                    what: format!(
                        "no `head_dim`, and `hidden_size` {hidden_size} is not a multiple of `num_attention_heads` {num_attention_heads}"
                    ),
                })
            }
        };
        let config = LlamaConfig {
            vocab_size: required(u("vocab_size")?, "vocab_size", path)?,
            hidden_size,
            intermediate_size: required(u("intermediate_size")?, "intermediate_size", path)?,
            num_hidden_layers: required(u("num_hidden_layers")?, "num_hidden_layers", path)?,
            num_attention_heads,
            num_key_value_heads: u("num_key_value_heads")?.unwrap_or(num_attention_heads),
            head_dim,
            rope_theta: rope_theta.unwrap_or(10000.0),
            rms_norm_eps: opt_f64(obj, "rms_norm_eps", path)?.unwrap_or(1e-6),
            tie_word_embeddings,
            max_position_embeddings: u("max_position_embeddings")?.unwrap_or(2048),
            model_type: obj.get("model_type").and_then(Value::as_str).map(str::to_string),
        };
        config.validate(path)?;
        Ok(config)
    }

    /// Builds the configuration from a GGUF file's `{arch}.*` metadata (`arch` =
    /// `general.architecture`): `block_count`, `embedding_length`, `feed_forward_length`,
    /// `attention.head_count`, `attention.head_count_kv` (default: head count),
    /// `attention.key_length` (default: width / heads), `rope.freq_base` (default 10000),
    /// `attention.layer_norm_rms_epsilon`, `context_length`; the vocabulary is `vocab_size`, or
    /// else the length of `tokenizer.ggml.tokens`, or else the embedding's rows. Embeddings are
    /// tied when the file has no `output.weight`. f32 metadata is widened through its shortest
    /// decimal form (1e-5 stays 1e-5, not 9.99999974e-6).
    pub fn from_gguf(g: &GgufFile) -> Result<LlamaConfig> {
        let path = g.path().to_path_buf();
        let arch = g
            .get("general.architecture")
            .ok_or_else(|| WeightsError::MissingField { path: path.clone(), field: "general.architecture".into() })?
            .as_str()
            .ok_or_else(|| invalid(&path, "`general.architecture` is not a string"))?
            .to_string();
        let int = |key: &str| -> Result<Option<usize>> {
            let k = format!("{arch}.{key}");
            match g.get(&k) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .map(Some)
                    .ok_or_else(|| invalid(&path, &format!("`{k}` is {}, not a non-negative integer", v.type_name()))),
            }
        };
        let float = |key: &str| -> Result<Option<f64>> {
            let k = format!("{arch}.{key}");
            match g.get(&k) {
                None => Ok(None),
                Some(GgufValue::F32(x)) => Ok(Some(format!("{x}").parse::<f64>().unwrap_or(*x as f64))),
                Some(v) => v.as_f64().map(Some).ok_or_else(|| invalid(&path, &format!("`{k}` is {}, not a number", v.type_name()))),
            }
        };
        let need = |v: Option<usize>, key: &str| -> Result<usize> {
            v.ok_or_else(|| WeightsError::MissingField { path: path.clone(), field: format!("{arch}.{key}") })
        };
        let hidden_size = need(int("embedding_length")?, "embedding_length")?;
        let heads = need(int("attention.head_count")?, "attention.head_count")?;
        let head_dim = match int("attention.key_length")? {
            Some(d) => d,
            None if heads > 0 && hidden_size % heads == 0 => hidden_size / heads,
            None => return Err(invalid(&path, &format!("`{arch}.embedding_length` {hidden_size} is not a multiple of the head count {heads}"))),
        };
        let vocab_size = match int("vocab_size")? {
            Some(v) => v,
            None => match g.get("tokenizer.ggml.tokens").and_then(GgufValue::as_array) {
                Some(tokens) => tokens.len(),
                None => match g.info("model.embed_tokens.weight") {
                    Some(info) => info.shape[0],
                    None => {
                        return Err(WeightsError::MissingField { path: path.clone(), field: format!("{arch}.vocab_size") })
                    }
                },
            },
        };
        let rms_norm_eps = float("attention.layer_norm_rms_epsilon")?
            .ok_or_else(|| WeightsError::MissingField { path: path.clone(), field: format!("{arch}.attention.layer_norm_rms_epsilon") })?;
        let config = LlamaConfig {
            vocab_size,
            hidden_size,
            intermediate_size: need(int("feed_forward_length")?, "feed_forward_length")?,
            num_hidden_layers: need(int("block_count")?, "block_count")?,
            num_attention_heads: heads,
            num_key_value_heads: int("attention.head_count_kv")?.unwrap_or(heads),
            head_dim,
            rope_theta: float("rope.freq_base")?.unwrap_or(10000.0),
            rms_norm_eps,
            tie_word_embeddings: g.info("lm_head.weight").is_none(),
            max_position_embeddings: need(int("context_length")?, "context_length")?,
            model_type: Some(arch.clone()),
        };
        config.validate(&path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let zero = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_key_value_heads),
            ("head_dim", self.head_dim),
        ];
        if let Some((k, _)) = zero.iter().find(|(_, v)| *v == 0) {
            return Err(invalid(path, &format!("`{k}` is 0")));
        }
        if self.num_attention_heads % self.num_key_value_heads != 0 {
            return Err(invalid(
                path,
                &format!(
                    "{} attention heads are not a multiple of {} key/value heads",
                    self.num_attention_heads, self.num_key_value_heads
                ),
            ));
        }
        if !(self.rope_theta > 0.0 && self.rms_norm_eps >= 0.0) {
            return Err(invalid(path, "`rope_theta` must be positive and `rms_norm_eps` non-negative"));
        }
        Ok(())
    }

    /// Rows of `q_proj` (`num_attention_heads · head_dim`).
    pub fn q_dim(&self) -> usize {
        self.num_attention_heads * self.head_dim
    }

    /// Rows of `k_proj` and `v_proj` (`num_key_value_heads · head_dim`).
    pub fn kv_dim(&self) -> usize {
        self.num_key_value_heads * self.head_dim
    }

    /// The Hugging Face tensor names and `[out, in]` shapes this configuration implies, in
    /// layer order (with `lm_head.weight` only when embeddings are untied).
    pub fn expected_tensors(&self) -> Vec<(String, Vec<usize>)> {
        let (h, f) = (self.hidden_size, self.intermediate_size);
        let mut out = vec![("model.embed_tokens.weight".to_string(), vec![self.vocab_size, h])];
        for i in 0..self.num_hidden_layers {
            let p = format!("model.layers.{i}");
            out.push((format!("{p}.input_layernorm.weight"), vec![h]));
            out.push((format!("{p}.self_attn.q_proj.weight"), vec![self.q_dim(), h]));
            out.push((format!("{p}.self_attn.k_proj.weight"), vec![self.kv_dim(), h]));
            out.push((format!("{p}.self_attn.v_proj.weight"), vec![self.kv_dim(), h]));
            out.push((format!("{p}.self_attn.o_proj.weight"), vec![h, self.q_dim()]));
            out.push((format!("{p}.post_attention_layernorm.weight"), vec![h]));
            out.push((format!("{p}.mlp.gate_proj.weight"), vec![f, h]));
            out.push((format!("{p}.mlp.up_proj.weight"), vec![f, h]));
            out.push((format!("{p}.mlp.down_proj.weight"), vec![h, f]));
        }
        out.push(("model.norm.weight".to_string(), vec![h]));
        if !self.tie_word_embeddings {
            out.push(("lm_head.weight".to_string(), vec![self.vocab_size, h]));
        }
        out
    }

    /// Checks that `source` has every tensor of [`LlamaConfig::expected_tensors`] with that
    /// shape; the error names the first one missing or misshapen.
    pub fn check_tensors(&self, source: &dyn TensorSource) -> Result<()> {
        for (name, shape) in self.expected_tensors() {
            let info = source.require(&name)?;
            if info.shape != shape {
                return Err(invalid(
                    source.path(),
                    &format!("tensor `{name}` has shape {:?}; the configuration implies {shape:?}", info.shape),
                ));
            }
        }
        Ok(())
    }
}

fn invalid(path: &Path, what: &str) -> WeightsError {
    WeightsError::InvalidConfig { path: PathBuf::from(path), what: what.to_string() }
}
