//! Readers for pretrained weight files: Hugging Face safetensors (single or sharded) with
//! `config.json`, PEFT LoRA adapters, and GGUF (llama.cpp) files with their BPE tokenizer.
//!
//! Every reader implements [`TensorSource`]: it lists [`TensorInfo`]s (names and shapes in
//! Hugging Face / PyTorch order, `[out, in]` for linear weights) and converts **one tensor at a
//! time** to `Vec<f32>` (row-major), or only a region of it — a row range and a column prefix,
//! which is what the prefix blocks `W[:R, :C]` of LoNAS-style sub-networks need — without
//! converting the rest. Files are memory-mapped, never read whole; the pages of a converted
//! tensor are handed back to the kernel after the read, so streaming over a model holds about
//! one tensor's f32 values at a time ([`stream_stats`]).
//!
//! * [`SafetensorsModel`]: `model.safetensors` or `model.safetensors.index.json` + shards;
//!   F32, F16, BF16 (and F64) tensors.
//! * [`LlamaConfig`]: the LLaMA architecture numbers, from `config.json` or GGUF metadata.
//! * [`LoraAdapter`]: `adapter_config.json` + `adapter_model.safetensors`, the `lora_A` /
//!   `lora_B` pairs mapped to the base tensors they adapt, and the scale `lora_alpha / r`.
//! * [`GgufFile`]: GGUF v2/v3 metadata and tensors (F32, F16, BF16, F64, Q8_0, Q4_0, Q4_1),
//!   llama.cpp names mapped to Hugging Face names, and the q/k RoPE row order undone
//!   ([`RowOrder`]).
//! * [`BpeTokenizer`]: the byte-level BPE of a GGUF file (`tokenizer.ggml.model == "gpt2"`) or of a
//!   Hugging Face folder (`tokenizer.json`), and SentencePiece BPE (LLaMA-1/2's): GGUF
//!   `tokenizer.ggml.model == "llama"`, a `tokenizer.json` with `byte_fallback`, or a
//!   `tokenizer.model` ([`sentencepiece`]).
//!
//! Errors are one enum, [`WeightsError`]; no file content can make a reader panic.

pub mod config;
mod convert;
pub mod error;
pub mod gguf;
pub mod lora;
pub mod safetensors;
pub mod sentencepiece;
pub mod tokenizer;

pub use config::LlamaConfig;
pub use error::{Result, WeightsError};
pub use gguf::{GgufFile, GgufValue, RowOrder};
pub use lora::{LoraAdapter, LoraConfig, LoraPair};
pub use safetensors::SafetensorsModel;
pub use tokenizer::{BpeTokenizer, PieceKind, PreTokenizer, SpecialTokens};

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The stored data type of a tensor.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// IEEE single precision.
    F32,
    /// IEEE half precision.
    F16,
    /// bfloat16.
    BF16,
    /// IEEE double precision (converted to f32).
    F64,
    /// ggml Q8_0: blocks of 32, an f16 scale and 32 signed bytes.
    Q8_0,
    /// ggml Q4_0: blocks of 32, an f16 scale and 32 four-bit quants, offset 8.
    Q4_0,
    /// ggml Q4_1: blocks of 32, an f16 scale, an f16 minimum and 32 four-bit quants.
    Q4_1,
    /// Any other type, by name (`I64`, `F8_E4M3`, `Q4_K`, `ggml type 99`, ...): listed, but
    /// reading it is an [`WeightsError::UnsupportedDtype`] error.
    Other(String),
}

impl DType {
    /// Whether the readers can convert this type to f32.
    pub fn is_supported(&self) -> bool {
        !matches!(self, DType::Other(_))
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DType::F32 => f.write_str("F32"),
            DType::F16 => f.write_str("F16"),
            DType::BF16 => f.write_str("BF16"),
            DType::F64 => f.write_str("F64"),
            DType::Q8_0 => f.write_str("Q8_0"),
            DType::Q4_0 => f.write_str("Q4_0"),
            DType::Q4_1 => f.write_str("Q4_1"),
            DType::Other(s) => f.write_str(s),
        }
    }
}

/// One tensor of a weight file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// The name readers answer to: the Hugging Face name (`model.layers.0.self_attn.q_proj.weight`).
    pub name: String,
    /// The name as stored in the file (differs for GGUF: `blk.0.attn_q.weight`).
    pub stored_name: String,
    /// The shape in PyTorch order (`[out, in]` for linear weights; GGUF's fastest-first
    /// dimensions reversed).
    pub shape: Vec<usize>,
    /// The stored data type.
    pub dtype: DType,
    /// Bytes the tensor occupies in its file.
    pub bytes: usize,
}

impl TensorInfo {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The matrix view region reads work on: `[n]` is `1 × n`, `[r, c]` is `r × c`, and more
    /// axes are `prod(leading) × last` (the same 2-D convention as `ParamStore`). A scalar is
    /// `1 × 1`.
    pub fn matrix_dims(&self) -> (usize, usize) {
        match self.shape[..] {
            [] => (1, 1),
            [n] => (1, n),
            [r, c] => (r, c),
            _ => (self.shape[..self.shape.len() - 1].iter().product(), *self.shape.last().unwrap_or(&1)),
        }
    }
}

/// A file (or set of files) of named tensors that converts one tensor at a time to f32.
pub trait TensorSource: Send + Sync {
    /// The file or folder, for messages.
    fn path(&self) -> &Path;

    /// Every tensor, in storage order (the order that reads the file front to back).
    fn tensors(&self) -> &[TensorInfo];

    /// The tensor called `name` (its [`TensorInfo::name`]; GGUF files also answer to the
    /// stored name).
    fn info(&self, name: &str) -> Option<&TensorInfo>;

    /// Rows `rows` of the tensor's matrix view ([`TensorInfo::matrix_dims`]), the first `cols`
    /// values of each, row-major: `rows.len() × cols` values. Only those rows, and within each
    /// row only the bytes (or quantisation blocks) that cover the first `cols` columns, are
    /// converted.
    fn read_region(&self, name: &str, rows: Range<usize>, cols: usize) -> Result<Vec<f32>>;

    /// The whole tensor, row-major.
    fn read(&self, name: &str) -> Result<Vec<f32>> {
        let (r, c) = self.require(name)?.matrix_dims();
        self.read_region(name, 0..r, c)
    }

    /// The prefix block `W[..rows, ..cols]` of a 2-D tensor, row-major (`rows × cols` values):
    /// the active part of an elastic width (rows `[:w]` of `gate_proj`, columns `[:w]` of
    /// `down_proj`, ...).
    fn read_block(&self, name: &str, rows: usize, cols: usize) -> Result<Vec<f32>> {
        let info = self.require(name)?;
        if info.shape.len() != 2 {
            return Err(WeightsError::BadRegion {
                path: self.path().to_path_buf(),
                tensor: name.to_string(),
                shape: info.shape.clone(),
                what: "a prefix block needs a 2-D tensor".into(),
            });
        }
        self.read_region(name, 0..rows, cols)
    }

    /// [`TensorSource::info`], or a [`WeightsError::TensorNotFound`] error.
    fn require(&self, name: &str) -> Result<&TensorInfo> {
        self.info(name)
            .ok_or_else(|| WeightsError::TensorNotFound { path: self.path().to_path_buf(), name: name.to_string() })
    }
}

/// Checks a region request against a tensor's matrix view.
pub(crate) fn check_region(path: &Path, info: &TensorInfo, rows: &Range<usize>, cols: usize) -> Result<()> {
    let (r, c) = info.matrix_dims();
    if rows.start > rows.end || rows.end > r || cols > c {
        return Err(WeightsError::BadRegion {
            path: path.to_path_buf(),
            tensor: info.name.clone(),
            shape: info.shape.clone(),
            what: format!("rows {}..{} × columns ..{} lie outside its {r} × {c} matrix view", rows.start, rows.end, cols),
        });
    }
    Ok(())
}

/// Summary statistics of one tensor's values (f64 accumulation).
#[derive(Clone, Debug, PartialEq)]
pub struct TensorStats {
    /// The tensor's name.
    pub name: String,
    /// Number of values.
    pub numel: usize,
    /// Mean.
    pub mean: f64,
    /// Mean of absolute values.
    pub mean_abs: f64,
    /// Population standard deviation (divides by n).
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

/// Statistics of a slice of values (`name` is only carried along). An empty slice gives zeros.
pub fn tensor_stats(name: &str, values: &[f32]) -> TensorStats {
    let n = values.len();
    let (mut sum, mut sum_abs, mut min, mut max) = (0f64, 0f64, f64::INFINITY, f64::NEG_INFINITY);
    for &v in values {
        let v = v as f64;
        sum += v;
        sum_abs += v.abs();
        min = min.min(v);
        max = max.max(v);
    }
    let mean = if n > 0 { sum / n as f64 } else { 0.0 };
    let var = if n > 0 { values.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64 } else { 0.0 };
    TensorStats {
        name: name.to_string(),
        numel: n,
        mean,
        mean_abs: if n > 0 { sum_abs / n as f64 } else { 0.0 },
        std: var.sqrt(),
        min: if n > 0 { min } else { 0.0 },
        max: if n > 0 { max } else { 0.0 },
    }
}

/// Calls `f` with every tensor's info and values, in storage order, converting one tensor at a
/// time: the values of one call are dropped before the next tensor is read.
pub fn for_each_tensor(source: &dyn TensorSource, mut f: impl FnMut(&TensorInfo, &[f32])) -> Result<()> {
    for info in source.tensors() {
        let values = source.read(&info.name)?;
        f(info, &values);
    }
    Ok(())
}

/// [`tensor_stats`] of every tensor, streaming ([`for_each_tensor`]): peak memory is about the
/// largest tensor in f32.
pub fn stream_stats(source: &dyn TensorSource) -> Result<Vec<TensorStats>> {
    let mut out = Vec::with_capacity(source.tensors().len());
    for_each_tensor(source, |info, values| out.push(tensor_stats(&info.name, values)))?;
    Ok(out)
}

/// Values read from a source as a burn matrix of the tensor's [`TensorInfo::matrix_dims`], the
/// layout `ParamStore` holds its parameters in.
pub fn to_matrix(info: &TensorInfo, values: Vec<f32>, device: &burn::tensor::Device) -> burn::tensor::Tensor<2> {
    let (r, c) = info.matrix_dims();
    burn::tensor::Tensor::<2>::from_data(burn::tensor::TensorData::new(values, [r, c]), device)
}

/// A pretrained model: its configuration, its tensors and its tokenizer, when it has one.
pub struct Checkpoint {
    /// The architecture numbers.
    pub config: LlamaConfig,
    /// The tensors, by Hugging Face name.
    pub source: Box<dyn TensorSource>,
    /// The tokenizer, when the model carries one (GGUF metadata, or a Hugging Face folder's
    /// `tokenizer.json`, else its SentencePiece `tokenizer.model`).
    pub tokenizer: Option<BpeTokenizer>,
}

impl Checkpoint {
    /// Opens a `.gguf` file, or a Hugging Face folder with `config.json` and `model.safetensors`
    /// or `model.safetensors.index.json` (or the path of either of those files, `config.json`
    /// being looked for beside it). A GGUF file's q/k rows are read in Hugging Face order
    /// ([`RowOrder::HuggingFace`]); its tokenizer is loaded when it has a `gpt2` or `llama` one.
    pub fn open(path: impl AsRef<Path>) -> Result<Checkpoint> {
        let path = path.as_ref();
        if path.is_file() && path.extension().is_some_and(|e| e == "gguf") {
            let g = GgufFile::open(path)?;
            let config = g.llama_config()?;
            let tokenizer = match g.get("tokenizer.ggml.model").and_then(GgufValue::as_str) {
                Some("gpt2") | Some("llama") => Some(BpeTokenizer::from_gguf(&g)?),
                _ => None,
            };
            return Ok(Checkpoint { config, source: Box::new(g), tokenizer });
        }
        let dir: PathBuf = if path.is_dir() { path.to_path_buf() } else { path.parent().unwrap_or(Path::new(".")).to_path_buf() };
        let config = LlamaConfig::from_json_file(dir.join("config.json"))?;
        let model = SafetensorsModel::open(path)?;
        let tokenizer = match BpeTokenizer::from_hf_folder(&dir)? {
            Some(t) => Some(t),
            None if dir.join("tokenizer.model").is_file() => Some(BpeTokenizer::from_sentencepiece_model(&dir.join("tokenizer.model"), hf_add_bos(&dir)?)?),
            None => None,
        };
        Ok(Checkpoint { config, source: Box::new(model), tokenizer })
    }
}

/// Whether a Hugging Face folder's sequences start with BOS: `add_bos_token` of its
/// `tokenizer_config.json`, true when absent (LLaMA's `LlamaTokenizer` default).
fn hf_add_bos(dir: &Path) -> Result<bool> {
    let path = dir.join("tokenizer_config.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|source| WeightsError::Json { path: path.clone(), source })?;
            Ok(v.get("add_bos_token").and_then(|b| b.as_bool()).unwrap_or(true))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(source) => Err(WeightsError::Io { path, source }),
    }
}
