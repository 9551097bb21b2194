//! PEFT LoRA adapters: `adapter_config.json` + `adapter_model.safetensors`.
//!
//! PEFT stores the adapter of a module `M` (e.g. `model.layers.0.self_attn.q_proj`) as
//! `base_model.model.M.lora_A.weight` `[r, in]` and `base_model.model.M.lora_B.weight`
//! `[out, r]` (some writers keep the adapter name: `...lora_A.default.weight`). The adapted
//! layer computes `y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ` with `W` the base tensor `M.weight` `[out, in]` and
//! the scale `s = lora_alpha / r` (`lora_alpha / √r` with `use_rslora`).

use super::error::{Result, WeightsError};
use super::safetensors::SafetensorsModel;
use super::{TensorInfo, TensorSource};
use serde_json::Value;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The fields of `adapter_config.json` that matter here.
#[derive(Clone, Debug, PartialEq)]
pub struct LoraConfig {
    /// The rank `r` (required).
    pub r: usize,
    /// `lora_alpha` (required).
    pub lora_alpha: f64,
    /// `target_modules`: module names (a single string, which PEFT reads as a regular
    /// expression, is kept as one element); empty when absent or null.
    pub target_modules: Vec<String>,
    /// `lora_dropout` (default 0).
    pub lora_dropout: f64,
    /// `base_model_name_or_path`, when given.
    pub base_model_name_or_path: Option<String>,
    /// `bias` (`"none"`, `"all"`, `"lora_only"`; default `"none"`).
    pub bias: String,
    /// `fan_in_fan_out` (default false): the base weights are stored `[in, out]` (GPT-2 Conv1D).
    pub fan_in_fan_out: bool,
    /// `use_rslora` (default false): scale `lora_alpha / √r`.
    pub use_rslora: bool,
    /// `rank_pattern`: per-module ranks overriding `r` (keys matched as module-name suffixes).
    pub rank_pattern: BTreeMap<String, usize>,
    /// `alpha_pattern`: per-module alphas overriding `lora_alpha` (keys as for `rank_pattern`).
    pub alpha_pattern: BTreeMap<String, f64>,
    /// `peft_type`, when given (`"LORA"`).
    pub peft_type: Option<String>,
}

/// Whether a PEFT pattern key names `module` (the whole name, or a dotted suffix of it).
fn pattern_matches(key: &str, module: &str) -> bool {
    module == key || module.strip_suffix(key).is_some_and(|rest| rest.ends_with('.'))
}

impl LoraConfig {
    /// Reads `adapter_config.json`.
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<LoraConfig> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| WeightsError::io(path, e))?;
        Self::from_json_str(&text, path)
    }

    /// Parses the text of an `adapter_config.json`; `path` is for messages.
    pub fn from_json_str(text: &str, path: impl AsRef<Path>) -> Result<LoraConfig> {
        let path = path.as_ref();
        let json: Value = serde_json::from_str(text).map_err(|e| WeightsError::Json { path: path.to_path_buf(), source: e })?;
        let invalid = |what: String| WeightsError::InvalidConfig { path: path.to_path_buf(), what };
        let obj = json.as_object().ok_or_else(|| invalid("the adapter configuration is not a JSON object".into()))?;
        let missing = |f: &str| WeightsError::MissingField { path: path.to_path_buf(), field: f.into() };
        let r = obj.get("r").ok_or_else(|| missing("r"))?;
        let r = r.as_u64().filter(|&r| r > 0).ok_or_else(|| invalid(format!("`r` is {r}, not a positive integer")))? as usize;
        let alpha = obj.get("lora_alpha").ok_or_else(|| missing("lora_alpha"))?;
        let lora_alpha = alpha.as_f64().ok_or_else(|| invalid(format!("`lora_alpha` is {alpha}, not a number")))?;
        let target_modules = match obj.get("target_modules") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(|| invalid(format!("`target_modules` holds {v}, not a string"))))
                .collect::<Result<_>>()?,
            Some(v) => return Err(invalid(format!("`target_modules` is {v}, not a list of names"))),
        };
        let num = |k: &str, default: f64| -> Result<f64> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(default),
                Some(v) => v.as_f64().ok_or_else(|| invalid(format!("`{k}` is {v}, not a number"))),
            }
        };
        let flag = |k: &str| -> Result<bool> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(v) => Err(invalid(format!("`{k}` is {v}, not a boolean"))),
            }
        };
        let string = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
        let mut rank_pattern = BTreeMap::new();
        if let Some(Value::Object(m)) = obj.get("rank_pattern") {
            for (k, v) in m {
                let rank = v.as_u64().filter(|&r| r > 0).ok_or_else(|| invalid(format!("`rank_pattern.{k}` is {v}, not a positive integer")))?;
                rank_pattern.insert(k.clone(), rank as usize);
            }
        }
        let mut alpha_pattern = BTreeMap::new();
        if let Some(Value::Object(m)) = obj.get("alpha_pattern") {
            for (k, v) in m {
                alpha_pattern.insert(k.clone(), v.as_f64().ok_or_else(|| invalid(format!("`alpha_pattern.{k}` is {v}, not a number")))?);
            }
        }
        Ok(LoraConfig {
            r,
            lora_alpha,
            target_modules,
            lora_dropout: num("lora_dropout", 0.0)?,
            base_model_name_or_path: string("base_model_name_or_path"),
            bias: string("bias").unwrap_or_else(|| "none".into()),
            fan_in_fan_out: flag("fan_in_fan_out")?,
            use_rslora: flag("use_rslora")?,
            rank_pattern,
            alpha_pattern,
            peft_type: string("peft_type"),
        })
    }

    /// The scale `lora_alpha / r` (or `lora_alpha / √r` with `use_rslora`).
    pub fn scale(&self) -> f64 {
        self.scale_of(self.lora_alpha, self.r)
    }

    fn scale_of(&self, alpha: f64, r: usize) -> f64 {
        if self.use_rslora {
            alpha / (r as f64).sqrt()
        } else {
            alpha / r as f64
        }
    }

    /// The rank configured for one module (`rank_pattern`, else `r`).
    pub fn rank_for(&self, module: &str) -> usize {
        self.rank_pattern.iter().find(|(k, _)| pattern_matches(k, module)).map(|(_, &r)| r).unwrap_or(self.r)
    }

    /// The scale of one module, with `rank_pattern` / `alpha_pattern` applied.
    pub fn scale_for(&self, module: &str) -> f64 {
        let alpha = self.alpha_pattern.iter().find(|(k, _)| pattern_matches(k, module)).map(|(_, &a)| a).unwrap_or(self.lora_alpha);
        self.scale_of(alpha, self.rank_for(module))
    }
}

/// The two factors of one adapted module.
#[derive(Clone, Debug, PartialEq)]
pub struct LoraPair {
    /// The module, Hugging Face name without `.weight` (`model.layers.0.self_attn.q_proj`).
    pub module: String,
    /// The base tensor it adapts (`model.layers.0.self_attn.q_proj.weight`).
    pub base: String,
    /// The stored name of `lora_A` (`[rank, in_features]`).
    pub a: String,
    /// The stored name of `lora_B` (`[out_features, rank]`).
    pub b: String,
    /// The rank (rows of A, columns of B).
    pub rank: usize,
    /// Input width of the module (columns of A and of the base).
    pub in_features: usize,
    /// Output width of the module (rows of B and of the base).
    pub out_features: usize,
    /// The scale `s` of `y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ`.
    pub scale: f64,
}

/// A PEFT LoRA adapter: its configuration and its tensors, paired by module.
#[derive(Debug)]
pub struct LoraAdapter {
    path: PathBuf,
    /// The adapter configuration.
    pub config: LoraConfig,
    tensors: SafetensorsModel,
    pairs: Vec<LoraPair>,
    unpaired: Vec<String>,
}

/// Splits a PEFT tensor name into (module, `'A'` / `'B'`); `None` for other tensors.
fn parse_lora_name(name: &str) -> Option<(String, char)> {
    let body = name.strip_prefix("base_model.model.").unwrap_or(name);
    for (tag, ab) in [(".lora_A.", 'A'), (".lora_B.", 'B')] {
        if let Some(at) = body.find(tag) {
            let rest = &body[at + tag.len()..];
            // `weight`, or `<adapter name>.weight`.
            if rest == "weight" || rest.strip_suffix(".weight").is_some_and(|n| !n.is_empty() && !n.contains('.')) {
                return Some((body[..at].to_string(), ab));
            }
        }
    }
    None
}

impl LoraAdapter {
    /// Opens a folder with `adapter_config.json` and `adapter_model.safetensors`.
    pub fn open(dir: impl AsRef<Path>) -> Result<LoraAdapter> {
        let dir = dir.as_ref();
        let config = LoraConfig::from_json_file(dir.join("adapter_config.json"))?;
        let file = dir.join("adapter_model.safetensors");
        if !file.is_file() {
            let what = if dir.join("adapter_model.bin").is_file() {
                "only `adapter_model.bin` (a pickle) is present; lpzero reads `adapter_model.safetensors`"
            } else {
                "no `adapter_model.safetensors` in this folder"
            };
            return Err(WeightsError::NotAModel { path: dir.to_path_buf(), what: what.into() });
        }
        Self::from_parts(config, SafetensorsModel::open_file(&file)?)
    }

    /// Pairs the `lora_A` / `lora_B` tensors of an opened file under a configuration.
    pub fn from_parts(config: LoraConfig, tensors: SafetensorsModel) -> Result<LoraAdapter> {
        let path = tensors.path().to_path_buf();
        let bad = |what: String| WeightsError::Adapter { path: path.clone(), what };
        let mut halves: BTreeMap<String, (Option<&TensorInfo>, Option<&TensorInfo>)> = BTreeMap::new();
        let mut unpaired = Vec::new();
        for info in tensors.tensors() {
            match parse_lora_name(&info.name) {
                Some((module, ab)) => {
                    let e = halves.entry(module).or_default();
                    let slot = if ab == 'A' { &mut e.0 } else { &mut e.1 };
                    if slot.is_some() {
                        return Err(bad(format!("two lora_{ab} tensors for one module (`{}`)", info.name)));
                    }
                    *slot = Some(info);
                }
                None => unpaired.push(info.name.clone()),
            }
        }
        let mut pairs = Vec::new();
        for (module, (a, b)) in &halves {
            let (a, b) = match (a, b) {
                (Some(a), Some(b)) => (a, b),
                (Some(a), None) => return Err(bad(format!("`{}` has no lora_B partner", a.name))),
                (None, Some(b)) => return Err(bad(format!("`{}` has no lora_A partner", b.name))),
                (None, None) => continue,
            };
            let (&[rank, in_features], &[out_features, rank_b]) = (&a.shape[..], &b.shape[..]) else {
                return Err(bad(format!("`{}` {:?} and `{}` {:?} are not both matrices", a.name, a.shape, b.name, b.shape)));
            };
            if rank != rank_b {
                return Err(bad(format!(
                    "`{}` has rank {rank} (rows) but `{}` has rank {rank_b} (columns)",
                    a.name, b.name
                )));
            }
            pairs.push(LoraPair {
                module: module.clone(),
                base: format!("{module}.weight"),
                a: a.name.clone(),
                b: b.name.clone(),
                rank,
                in_features,
                out_features,
                scale: config.scale_for(module),
            });
        }
        // Storage order of the A tensors.
        let order: std::collections::HashMap<&str, usize> =
            tensors.tensors().iter().enumerate().map(|(i, t)| (t.name.as_str(), i)).collect();
        pairs.sort_by_key(|p| order.get(p.a.as_str()).copied().unwrap_or(usize::MAX));
        Ok(LoraAdapter { path, config, tensors, pairs, unpaired })
    }

    /// Every adapted module, in the storage order of its `lora_A`.
    pub fn pairs(&self) -> &[LoraPair] {
        &self.pairs
    }

    /// The pair adapting a base tensor (`model.layers.0.self_attn.q_proj.weight`) or module.
    pub fn pair(&self, base_or_module: &str) -> Option<&LoraPair> {
        self.pairs.iter().find(|p| p.base == base_or_module || p.module == base_or_module)
    }

    /// Tensors of the file that are not LoRA factors (`lora_embedding_A`, DoRA magnitudes,
    /// saved modules, ...).
    pub fn unpaired(&self) -> &[String] {
        &self.unpaired
    }

    /// Checks every pair against the base model: the base tensor exists and is
    /// `[out_features, in_features]` (`[in, out]` with `fan_in_fan_out`).
    pub fn check_against(&self, base: &dyn TensorSource) -> Result<()> {
        for p in &self.pairs {
            let info = base.require(&p.base)?;
            let want =
                if self.config.fan_in_fan_out { [p.in_features, p.out_features] } else { [p.out_features, p.in_features] };
            if info.shape[..] != want {
                return Err(WeightsError::Adapter {
                    path: self.path.clone(),
                    what: format!(
                        "`{}` implies a base `{}` of shape {want:?}, but the base model's is {:?}",
                        p.a, p.base, info.shape
                    ),
                });
            }
        }
        Ok(())
    }
}

impl TensorSource for LoraAdapter {
    fn path(&self) -> &Path {
        &self.path
    }

    fn tensors(&self) -> &[TensorInfo] {
        self.tensors.tensors()
    }

    fn info(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.info(name)
    }

    fn read_region(&self, name: &str, rows: Range<usize>, cols: usize) -> Result<Vec<f32>> {
        self.tensors.read_region(name, rows, cols)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peft_names() {
        assert_eq!(
            parse_lora_name("base_model.model.model.layers.3.mlp.up_proj.lora_B.weight"),
            Some(("model.layers.3.mlp.up_proj".into(), 'B'))
        );
        assert_eq!(
            parse_lora_name("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight"),
            Some(("model.layers.0.self_attn.q_proj".into(), 'A'))
        );
        assert_eq!(parse_lora_name("base_model.model.model.embed_tokens.lora_embedding_A"), None);
        assert_eq!(parse_lora_name("base_model.model.lm_head.weight"), None);
    }

    #[test]
    fn patterns() {
        assert!(pattern_matches("q_proj", "model.layers.0.self_attn.q_proj"));
        assert!(pattern_matches("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.q_proj"));
        assert!(!pattern_matches("q_proj", "model.layers.0.self_attn.xq_proj"));
    }
}
