//! GGUF files (llama.cpp's format), versions 2 and 3, little-endian.
//!
//! Layout: magic `GGUF`, version (u32), tensor count (u64), metadata count (u64); the metadata
//! key/value pairs (key: u64 length + UTF-8; value: u32 type + value; strings length-prefixed,
//! arrays an element type u32, a count u64 and the elements, possibly arrays themselves); one
//! record per tensor (name, number of dimensions u32, the dimensions as u64 **fastest-varying
//! first**, ggml type u32, data offset u64); then, aligned to `general.alignment` (default 32),
//! the data, each tensor at its offset from the start of the data (a multiple of the
//! alignment).
//!
//! Tensors are listed under Hugging Face names ([`gguf_to_hf_name`]) with PyTorch shapes (the
//! dimensions reversed: GGUF `[in, out]` is `[out, in]`). De-quantised types: F32, F16, BF16,
//! F64, Q8_0, Q4_0, Q4_1; any other ggml type is listed and reading it is an
//! [`WeightsError::UnsupportedDtype`] error naming the type.
//!
//! **RoPE row order.** llama.cpp's converter reorders the rows of `attn_q` and `attn_k` (LLaMA
//! architecture) within each head from Hugging Face's rotate-half layout to the interleaved-pair
//! layout of the original LLaMA code: with head width `D`, GGUF row `h·D + 2i + s` holds
//! Hugging Face row `h·D + (D/2)·s + i` (`i < D/2`, `s ∈ {0, 1}`). By default
//! ([`RowOrder::HuggingFace`]) reads undo this, so `q_proj` / `k_proj` come out exactly as in
//! the Hugging Face checkpoint and a rotate-half RoPE forward pass can use them; a row-range
//! read then selects Hugging Face rows. [`RowOrder::Stored`] gives the rows as stored (for an
//! interleaved-pair RoPE). Order-free statistics (mean |W|, a softmax over all rows of a
//! column) are the same either way.

use super::config::LlamaConfig;
use super::convert::{decode_rows, Encoding, MappedFile, Stored};
use super::error::{Result, WeightsError};
use super::tokenizer::BpeTokenizer;
use super::{check_region, DType, TensorInfo, TensorSource};
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

const SUPPORTED: &str = "F32, F16, BF16, F64, Q8_0, Q4_0, Q4_1";
/// Deepest nesting of arrays accepted in metadata.
const MAX_DEPTH: usize = 8;
/// ggml's limit on dimensions.
const MAX_DIMS: u32 = 4;

/// One metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum GgufValue {
    /// Type 0.
    U8(u8),
    /// Type 1.
    I8(i8),
    /// Type 2.
    U16(u16),
    /// Type 3.
    I16(i16),
    /// Type 4.
    U32(u32),
    /// Type 5.
    I32(i32),
    /// Type 6.
    F32(f32),
    /// Type 7 (one byte, 0 or 1).
    Bool(bool),
    /// Type 8 (u64 length + UTF-8 bytes; invalid UTF-8 is replaced by U+FFFD).
    String(String),
    /// Type 9: elements of one type (which may be arrays).
    Array(Vec<GgufValue>),
    /// Type 10.
    U64(u64),
    /// Type 11.
    I64(i64),
    /// Type 12.
    F64(f64),
}

impl GgufValue {
    /// The GGUF name of the value's type (`u32`, `string`, `array`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            GgufValue::U8(_) => "u8",
            GgufValue::I8(_) => "i8",
            GgufValue::U16(_) => "u16",
            GgufValue::I16(_) => "i16",
            GgufValue::U32(_) => "u32",
            GgufValue::I32(_) => "i32",
            GgufValue::F32(_) => "f32",
            GgufValue::Bool(_) => "bool",
            GgufValue::String(_) => "string",
            GgufValue::Array(_) => "array",
            GgufValue::U64(_) => "u64",
            GgufValue::I64(_) => "i64",
            GgufValue::F64(_) => "f64",
        }
    }

    /// Any integer that is non-negative, as u64.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            GgufValue::U8(v) => Some(v as u64),
            GgufValue::U16(v) => Some(v as u64),
            GgufValue::U32(v) => Some(v as u64),
            GgufValue::U64(v) => Some(v),
            GgufValue::I8(v) => u64::try_from(v).ok(),
            GgufValue::I16(v) => u64::try_from(v).ok(),
            GgufValue::I32(v) => u64::try_from(v).ok(),
            GgufValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// Any integer that fits, as i64.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            GgufValue::U64(v) => i64::try_from(v).ok(),
            GgufValue::I8(v) => Some(v as i64),
            GgufValue::I16(v) => Some(v as i64),
            GgufValue::I32(v) => Some(v as i64),
            GgufValue::I64(v) => Some(v),
            _ => self.as_u64().map(|v| v as i64),
        }
    }

    /// Any number (floats and integers), as f64.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            GgufValue::F32(v) => Some(v as f64),
            GgufValue::F64(v) => Some(v),
            _ => self.as_i64().map(|v| v as f64),
        }
    }

    /// A boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            GgufValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// A string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            GgufValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// An array's elements.
    pub fn as_array(&self) -> Option<&[GgufValue]> {
        match self {
            GgufValue::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// Which order the rows of `q_proj` / `k_proj` are read in (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RowOrder {
    /// Hugging Face's rotate-half order: llama.cpp's permutation undone (the default).
    #[default]
    HuggingFace,
    /// As stored in the file (interleaved pairs).
    Stored,
}

/// The GGUF-specific facts of one tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GgufTensor {
    /// The name in the file (`blk.0.attn_q.weight`).
    pub name: String,
    /// The dimensions as stored, fastest-varying first.
    pub dims: Vec<u64>,
    /// The ggml type number.
    pub ggml_type: u32,
    /// The offset from the start of the data section.
    pub offset: u64,
}

/// The name of a ggml type and, when lpzero knows it, its block geometry
/// (elements per block, bytes per block).
pub fn ggml_type(t: u32) -> Option<(&'static str, Option<(usize, usize)>)> {
    let (name, geometry) = match t {
        0 => ("F32", Some((1, 4))),
        1 => ("F16", Some((1, 2))),
        2 => ("Q4_0", Some((32, 18))),
        3 => ("Q4_1", Some((32, 20))),
        6 => ("Q5_0", Some((32, 22))),
        7 => ("Q5_1", Some((32, 24))),
        8 => ("Q8_0", Some((32, 34))),
        9 => ("Q8_1", Some((32, 36))),
        10 => ("Q2_K", Some((256, 84))),
        11 => ("Q3_K", Some((256, 110))),
        12 => ("Q4_K", Some((256, 144))),
        13 => ("Q5_K", Some((256, 176))),
        14 => ("Q6_K", Some((256, 210))),
        15 => ("Q8_K", Some((256, 292))),
        16 => ("IQ2_XXS", None),
        17 => ("IQ2_XS", None),
        18 => ("IQ3_XXS", None),
        19 => ("IQ1_S", None),
        20 => ("IQ4_NL", None),
        21 => ("IQ3_S", None),
        22 => ("IQ2_S", None),
        23 => ("IQ4_XS", None),
        24 => ("I8", Some((1, 1))),
        25 => ("I16", Some((1, 2))),
        26 => ("I32", Some((1, 4))),
        27 => ("I64", Some((1, 8))),
        28 => ("F64", Some((1, 8))),
        29 => ("IQ1_M", None),
        30 => ("BF16", Some((1, 2))),
        34 => ("TQ1_0", None),
        35 => ("TQ2_0", None),
        39 => ("MXFP4", None),
        _ => return None,
    };
    Some((name, geometry))
}

fn encoding_of(t: u32) -> Option<Encoding> {
    Some(match t {
        0 => Encoding::F32,
        1 => Encoding::F16,
        2 => Encoding::Q4_0,
        3 => Encoding::Q4_1,
        8 => Encoding::Q8_0,
        28 => Encoding::F64,
        30 => Encoding::BF16,
        _ => return None,
    })
}

fn dtype_of(t: u32) -> DType {
    match t {
        0 => DType::F32,
        1 => DType::F16,
        2 => DType::Q4_0,
        3 => DType::Q4_1,
        8 => DType::Q8_0,
        28 => DType::F64,
        30 => DType::BF16,
        _ => DType::Other(match ggml_type(t) {
            Some((name, _)) => name.to_string(),
            None => format!("ggml type {t}"),
        }),
    }
}

/// Per-block tensor names: llama.cpp's and Hugging Face's.
const BLOCK_NAMES: [(&str, &str); 9] = [
    ("attn_norm", "input_layernorm"),
    ("attn_q", "self_attn.q_proj"),
    ("attn_k", "self_attn.k_proj"),
    ("attn_v", "self_attn.v_proj"),
    ("attn_output", "self_attn.o_proj"),
    ("ffn_norm", "post_attention_layernorm"),
    ("ffn_gate", "mlp.gate_proj"),
    ("ffn_up", "mlp.up_proj"),
    ("ffn_down", "mlp.down_proj"),
];
const TOP_NAMES: [(&str, &str); 3] =
    [("token_embd", "model.embed_tokens"), ("output_norm", "model.norm"), ("output", "lm_head")];

fn split_suffix(name: &str) -> Option<(&str, &str)> {
    ["weight", "bias"].iter().find_map(|s| name.strip_suffix(s)?.strip_suffix('.').map(|stem| (stem, *s)))
}

/// The Hugging Face name of a llama.cpp tensor name (`blk.3.ffn_down.weight` →
/// `model.layers.3.mlp.down_proj.weight`, `token_embd.weight` → `model.embed_tokens.weight`,
/// `output_norm.weight` → `model.norm.weight`, `output.weight` → `lm_head.weight`); `None` for a
/// name outside the LLaMA set.
pub fn gguf_to_hf_name(name: &str) -> Option<String> {
    let (stem, suffix) = split_suffix(name)?;
    if let Some(rest) = stem.strip_prefix("blk.") {
        let (layer, part) = rest.split_once('.')?;
        layer.parse::<usize>().ok()?;
        let hf = BLOCK_NAMES.iter().find(|(g, _)| *g == part)?.1;
        return Some(format!("model.layers.{layer}.{hf}.{suffix}"));
    }
    TOP_NAMES.iter().find(|(g, _)| *g == stem).map(|(_, hf)| format!("{hf}.{suffix}"))
}

/// The llama.cpp name of a Hugging Face LLaMA tensor name (the inverse of [`gguf_to_hf_name`]).
pub fn hf_to_gguf_name(name: &str) -> Option<String> {
    let (stem, suffix) = split_suffix(name)?;
    if let Some(rest) = stem.strip_prefix("model.layers.") {
        let (layer, part) = rest.split_once('.')?;
        layer.parse::<usize>().ok()?;
        let g = BLOCK_NAMES.iter().find(|(_, hf)| *hf == part)?.0;
        return Some(format!("blk.{layer}.{g}.{suffix}"));
    }
    TOP_NAMES.iter().find(|(_, hf)| *hf == stem).map(|(g, _)| format!("{g}.{suffix}"))
}

/// The stored (GGUF) row that holds Hugging Face row `row` of a q/k weight with heads of width
/// `head_dim` (even): for `row = h·D + (D/2)·s + i` it is `h·D + 2i + s`.
pub fn gguf_row_of_hf_row(row: usize, head_dim: usize) -> usize {
    let half = head_dim / 2;
    let (h, within) = (row / head_dim, row % head_dim);
    let (s, i) = (within / half, within % half);
    h * head_dim + 2 * i + s
}

fn permutation_fits(len: usize, cols: usize, n_head: usize) -> Option<usize> {
    if cols == 0 || n_head == 0 || len % cols != 0 {
        return None;
    }
    let rows = len / cols;
    let d = rows / n_head;
    (rows % n_head == 0 && d % 2 == 0 && d > 0).then_some(rows)
}

/// Undoes llama.cpp's q/k row permutation on a row-major `[rows, cols]` matrix in stored order
/// with `n_head` heads: the result is in Hugging Face (rotate-half) order. `None` when the
/// length is not a whole number of rows of `cols`, or the rows do not split into `n_head`
/// heads of even width.
pub fn unpermute_rope_rows(values: &[f32], cols: usize, n_head: usize) -> Option<Vec<f32>> {
    let rows = permutation_fits(values.len(), cols, n_head)?;
    let d = rows / n_head;
    let mut out = Vec::with_capacity(values.len());
    for r in 0..rows {
        let g = gguf_row_of_hf_row(r, d);
        out.extend_from_slice(&values[g * cols..(g + 1) * cols]);
    }
    Some(out)
}

/// llama.cpp's converter permutation (Hugging Face order → stored order), the inverse of
/// [`unpermute_rope_rows`]; for writing test files and checking.
pub fn permute_rope_rows(values: &[f32], cols: usize, n_head: usize) -> Option<Vec<f32>> {
    let rows = permutation_fits(values.len(), cols, n_head)?;
    let d = rows / n_head;
    let mut out = vec![0f32; values.len()];
    for r in 0..rows {
        let g = gguf_row_of_hf_row(r, d);
        out[g * cols..(g + 1) * cols].copy_from_slice(&values[r * cols..(r + 1) * cols]);
    }
    Some(out)
}

/// A reading position in the header, with errors that say where the file ended.
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &dyn Fn() -> String) -> Result<&'a [u8]> {
        match self.pos.checked_add(n).and_then(|end| self.b.get(self.pos..end)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(WeightsError::Truncated {
                path: self.path.to_path_buf(),
                what: format!(
                    "the file ends (at byte {}) inside {} starting at byte {} ({n} bytes needed)",
                    self.b.len(),
                    what(),
                    self.pos
                ),
            }),
        }
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N]> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn bad(&self, at: usize, what: String) -> WeightsError {
        WeightsError::Gguf { path: self.path.to_path_buf(), offset: at as u64, what }
    }

    /// A length-prefixed string's bytes.
    fn string_bytes(&mut self, what: &dyn Fn() -> String) -> Result<&'a [u8]> {
        let len = self.u64(&|| format!("the length of {}", what()))?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.take(len, what)
    }

    fn value(&mut self, ty: u32, depth: usize, key: &str) -> Result<GgufValue> {
        let w = || format!("the value of `{key}`");
        Ok(match ty {
            0 => GgufValue::U8(self.array::<1>(&w)?[0]),
            1 => GgufValue::I8(self.array::<1>(&w)?[0] as i8),
            2 => GgufValue::U16(u16::from_le_bytes(self.array(&w)?)),
            3 => GgufValue::I16(i16::from_le_bytes(self.array(&w)?)),
            4 => GgufValue::U32(u32::from_le_bytes(self.array(&w)?)),
            5 => GgufValue::I32(i32::from_le_bytes(self.array(&w)?)),
            6 => GgufValue::F32(f32::from_le_bytes(self.array(&w)?)),
            7 => {
                let at = self.pos;
                match self.array::<1>(&w)?[0] {
                    0 => GgufValue::Bool(false),
                    1 => GgufValue::Bool(true),
                    b => return Err(self.bad(at, format!("boolean `{key}` has byte {b}, not 0 or 1"))),
                }
            }
            8 => GgufValue::String(String::from_utf8_lossy(self.string_bytes(&w)?).into_owned()),
            9 => {
                let at = self.pos;
                if depth >= MAX_DEPTH {
                    return Err(self.bad(at, format!("`{key}` nests arrays deeper than {MAX_DEPTH}")));
                }
                let elem = self.u32(&|| format!("the element type of `{key}`"))?;
                let count = self.u64(&|| format!("the element count of `{key}`"))?;
                if elem > 12 {
                    return Err(self.bad(at, format!("array `{key}` has unknown element type {elem}")));
                }
                // Every element takes at least one byte: never reserve beyond what is left.
                let left = (self.b.len() - self.pos) as u64;
                let mut items = Vec::with_capacity(count.min(left) as usize);
                for _ in 0..count {
                    items.push(self.value(elem, depth + 1, key)?);
                }
                GgufValue::Array(items)
            }
            10 => GgufValue::U64(u64::from_le_bytes(self.array(&w)?)),
            11 => GgufValue::I64(i64::from_le_bytes(self.array(&w)?)),
            12 => GgufValue::F64(f64::from_le_bytes(self.array(&w)?)),
            t => return Err(self.bad(self.pos.saturating_sub(4), format!("`{key}` has unknown value type {t}"))),
        })
    }
}

/// A GGUF file, memory-mapped, read tensor by tensor.
#[derive(Debug)]
pub struct GgufFile {
    path: PathBuf,
    file: MappedFile,
    version: u32,
    metadata: Vec<(String, GgufValue)>,
    meta_index: HashMap<String, usize>,
    alignment: u64,
    data_offset: u64,
    infos: Vec<TensorInfo>,
    raw: Vec<GgufTensor>,
    stored: Vec<Stored>,
    index: HashMap<String, usize>,
    row_order: RowOrder,
    /// Heads of q and of k for undoing the RoPE permutation (LLaMA architecture only).
    rope_heads: Option<(Option<usize>, Option<usize>)>,
}

impl GgufFile {
    /// Opens and parses a GGUF file (header, metadata, tensor table); checks every tensor's
    /// data against the file's length. Reads are in [`RowOrder::HuggingFace`].
    pub fn open(path: impl AsRef<Path>) -> Result<GgufFile> {
        let path = path.as_ref();
        let file = MappedFile::open(path)?;
        let b = file.bytes();
        let mut c = Cursor { b, pos: 0, path };
        let magic = c.array::<4>(&|| "the magic number".into())?;
        if &magic != b"GGUF" {
            return Err(c.bad(0, format!("the magic number is {magic:02x?}, not `GGUF`")));
        }
        let version = c.u32(&|| "the version".into())?;
        match version {
            2 | 3 => {}
            1 => return Err(c.bad(4, "GGUF version 1 (32-bit counts) is not supported; convert the file to v3".into())),
            v if v.swap_bytes() == 2 || v.swap_bytes() == 3 => {
                return Err(c.bad(4, "big-endian GGUF files are not supported".into()))
            }
            v => return Err(c.bad(4, format!("unknown GGUF version {v} (supported: 2, 3)"))),
        }
        let n_tensors = c.u64(&|| "the tensor count".into())?;
        let n_kv = c.u64(&|| "the metadata count".into())?;
        let mut metadata = Vec::new();
        let mut meta_index = HashMap::new();
        for k in 0..n_kv {
            let at = c.pos;
            let key = c.string_bytes(&|| format!("metadata key {k}"))?;
            let key = std::str::from_utf8(key).map_err(|_| c.bad(at, format!("metadata key {k} is not UTF-8")))?.to_string();
            let ty = c.u32(&|| format!("the value type of `{key}`"))?;
            let value = c.value(ty, 0, &key)?;
            if meta_index.insert(key.clone(), metadata.len()).is_some() {
                return Err(c.bad(at, format!("duplicate metadata key `{key}`")));
            }
            metadata.push((key, value));
        }
        let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
            None => 32,
            Some((_, GgufValue::U32(a))) if a.is_power_of_two() => *a as u64,
            Some((_, v)) => {
                return Err(c.bad(0, format!("`general.alignment` must be a u32 power of two, not {v:?}")));
            }
        };
        let mut raw = Vec::new();
        for t in 0..n_tensors {
            let at = c.pos;
            let name = c.string_bytes(&|| format!("the name of tensor {t}"))?;
            let name = std::str::from_utf8(name).map_err(|_| c.bad(at, format!("the name of tensor {t} is not UTF-8")))?.to_string();
            let n_dims = c.u32(&|| format!("the dimension count of `{name}`"))?;
            if n_dims > MAX_DIMS {
                return Err(c.bad(c.pos - 4, format!("tensor `{name}` has {n_dims} dimensions (at most {MAX_DIMS})")));
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                dims.push(c.u64(&|| format!("the dimensions of `{name}`"))?);
            }
            let ggml_type = c.u32(&|| format!("the type of `{name}`"))?;
            let offset = c.u64(&|| format!("the data offset of `{name}`"))?;
            raw.push((at, GgufTensor { name, dims, ggml_type, offset }));
        }
        let data_offset = (c.pos as u64).div_ceil(alignment) * alignment;
        let len = b.len() as u64;

        // Starts, sizes where the type's geometry is known, names.
        let mut starts = Vec::with_capacity(raw.len());
        for (at, t) in &raw {
            let bad = |what: String| WeightsError::Gguf { path: path.to_path_buf(), offset: *at as u64, what };
            if t.offset % alignment != 0 {
                return Err(bad(format!("tensor `{}` has offset {}, not a multiple of the alignment {alignment}", t.name, t.offset)));
            }
            let start = data_offset.checked_add(t.offset).ok_or_else(|| bad(format!("tensor `{}`'s offset overflows", t.name)))?;
            starts.push(start);
        }
        let mut sorted: Vec<u64> = starts.clone();
        sorted.sort_unstable();
        let mut seen = HashMap::new();
        let mut infos = Vec::with_capacity(raw.len());
        let mut stored = Vec::with_capacity(raw.len());
        let mut index = HashMap::new();
        for (i, ((at, t), &start)) in raw.iter().zip(&starts).enumerate() {
            let bad = |what: String| WeightsError::Gguf { path: path.to_path_buf(), offset: *at as u64, what };
            if seen.insert(t.name.clone(), i).is_some() {
                return Err(bad(format!("duplicate tensor name `{}`", t.name)));
            }
            let shape: Vec<usize> = t.dims.iter().rev().map(|&d| usize::try_from(d).unwrap_or(usize::MAX)).collect();
            let numel = shape
                .iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .filter(|&n| n <= i64::MAX as usize)
                .ok_or_else(|| bad(format!("tensor `{}`'s dimensions {:?} overflow", t.name, t.dims)))?;
            let bytes = match ggml_type(t.ggml_type).and_then(|(_, g)| g) {
                Some((blk, bb)) => {
                    let ne0 = t.dims.first().copied().unwrap_or(1);
                    if ne0 % blk as u64 != 0 {
                        return Err(bad(format!(
                            "tensor `{}`: {ne0} elements per row is not a multiple of the {} block size {blk}",
                            t.name,
                            dtype_of(t.ggml_type)
                        )));
                    }
                    (numel / blk)
                        .checked_mul(bb)
                        .ok_or_else(|| bad(format!("tensor `{}`'s size overflows", t.name)))? as u64
                }
                // Unknown geometry: up to the next tensor or the end of the file.
                None => {
                    let next = sorted.iter().copied().find(|&s| s > start).unwrap_or(len);
                    next.saturating_sub(start)
                }
            };
            let end = start.checked_add(bytes).ok_or_else(|| bad(format!("tensor `{}`'s size overflows", t.name)))?;
            if end > len {
                return Err(WeightsError::Truncated {
                    path: path.to_path_buf(),
                    what: format!(
                        "tensor `{}` ({} bytes at byte {start}) ends at byte {end}, but the file has {len} bytes",
                        t.name, bytes
                    ),
                });
            }
            let hf = gguf_to_hf_name(&t.name).unwrap_or_else(|| t.name.clone());
            if index.contains_key(&hf) {
                return Err(bad(format!("tensor `{}` maps to `{hf}`, which another tensor already has", t.name)));
            }
            index.insert(hf.clone(), i);
            infos.push(TensorInfo {
                name: hf,
                stored_name: t.name.clone(),
                shape,
                dtype: dtype_of(t.ggml_type),
                bytes: bytes as usize,
            });
            stored.push(Stored {
                file: 0,
                start: start as usize,
                encoding: encoding_of(t.ggml_type).ok_or_else(|| dtype_of(t.ggml_type).to_string()),
            });
        }
        // Stored names answer too, unless they clash with a Hugging Face name.
        for (i, t) in raw.iter().enumerate() {
            index.entry(t.1.name.clone()).or_insert(i);
        }
        // Storage order: by data offset.
        let mut order: Vec<usize> = (0..infos.len()).collect();
        order.sort_by_key(|&i| stored[i].start);
        let infos: Vec<TensorInfo> = order.iter().map(|&i| infos[i].clone()).collect();
        let stored: Vec<Stored> = order.iter().map(|&i| stored[i].clone()).collect();
        let raw: Vec<GgufTensor> = order.iter().map(|&i| raw[i].1.clone()).collect();
        let position: HashMap<usize, usize> = order.iter().enumerate().map(|(new, &old)| (old, new)).collect();
        let index = index.into_iter().map(|(k, old)| (k, position[&old])).collect();

        let mut g = GgufFile {
            path: path.to_path_buf(),
            file,
            version,
            metadata,
            meta_index,
            alignment,
            data_offset,
            infos,
            raw,
            stored,
            index,
            row_order: RowOrder::HuggingFace,
            rope_heads: None,
        };
        if g.get("general.architecture").and_then(GgufValue::as_str) == Some("llama") {
            let heads = g.get("llama.attention.head_count").and_then(GgufValue::as_u64).map(|h| h as usize);
            let kv = g.get("llama.attention.head_count_kv").and_then(GgufValue::as_u64).map(|h| h as usize).or(heads);
            g.rope_heads = Some((heads, kv));
        }
        Ok(g)
    }

    /// The same file read in another row order.
    pub fn with_row_order(mut self, order: RowOrder) -> GgufFile {
        self.row_order = order;
        self
    }

    /// Sets the row order of later reads.
    pub fn set_row_order(&mut self, order: RowOrder) {
        self.row_order = order;
    }

    /// The row order reads use.
    pub fn row_order(&self) -> RowOrder {
        self.row_order
    }

    /// The format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Every metadata pair, in file order.
    pub fn metadata(&self) -> &[(String, GgufValue)] {
        &self.metadata
    }

    /// One metadata value.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.meta_index.get(key).map(|&i| &self.metadata[i].1)
    }

    /// The data alignment (`general.alignment`, default 32).
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// The byte offset where the tensor data starts.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// The GGUF records of the tensors, in the order of [`TensorSource::tensors`].
    pub fn gguf_tensors(&self) -> &[GgufTensor] {
        &self.raw
    }

    /// The LLaMA configuration from the metadata ([`LlamaConfig::from_gguf`]).
    pub fn llama_config(&self) -> Result<LlamaConfig> {
        LlamaConfig::from_gguf(self)
    }

    /// The tokenizer in the metadata ([`BpeTokenizer::from_gguf`]).
    pub fn tokenizer(&self) -> Result<BpeTokenizer> {
        BpeTokenizer::from_gguf(self)
    }

    /// The heads whose rows llama.cpp permuted, for a tensor, when reads must undo it.
    fn permuted_heads(&self, stored_name: &str) -> Option<std::result::Result<usize, String>> {
        if self.row_order != RowOrder::HuggingFace {
            return None;
        }
        let (q, k) = self.rope_heads?;
        let (stem, suffix) = split_suffix(stored_name)?;
        if suffix != "weight" || !stem.starts_with("blk.") {
            return None;
        }
        let (heads, key) = if stem.ends_with(".attn_q") {
            (q, "llama.attention.head_count")
        } else if stem.ends_with(".attn_k") {
            (k, "llama.attention.head_count_kv")
        } else {
            return None;
        };
        Some(heads.ok_or_else(|| format!("`{key}` is needed to undo the RoPE row permutation")))
    }
}

impl TensorSource for GgufFile {
    fn path(&self) -> &Path {
        &self.path
    }

    fn tensors(&self) -> &[TensorInfo] {
        &self.infos
    }

    fn info(&self, name: &str) -> Option<&TensorInfo> {
        self.index.get(name).map(|&i| &self.infos[i])
    }

    fn read_region(&self, name: &str, rows: Range<usize>, cols: usize) -> Result<Vec<f32>> {
        let i = *self
            .index
            .get(name)
            .ok_or_else(|| WeightsError::TensorNotFound { path: self.path.clone(), name: name.to_string() })?;
        let (info, stored) = (&self.infos[i], &self.stored[i]);
        check_region(&self.path, info, &rows, cols)?;
        let encoding = stored.encoding.clone().map_err(|dtype| WeightsError::UnsupportedDtype {
            path: self.path.clone(),
            tensor: info.stored_name.clone(),
            dtype,
            supported: SUPPORTED,
        })?;
        let (n_rows, total_cols) = info.matrix_dims();
        match self.permuted_heads(&info.stored_name) {
            None => decode_rows(&self.file, stored.start, encoding, total_cols, rows, cols, &info.stored_name),
            Some(heads) => {
                let bad = |what: String| WeightsError::InvalidConfig { path: self.path.clone(), what };
                let heads = heads.map_err(bad)?;
                if heads == 0 || n_rows % heads != 0 || (n_rows / heads) % 2 != 0 {
                    return Err(bad(format!(
                        "cannot undo the RoPE row permutation of `{}`: {n_rows} rows do not split into {heads} heads of even width",
                        info.stored_name
                    )));
                }
                let d = n_rows / heads;
                let stored_rows = rows.map(|r| gguf_row_of_hf_row(r, d));
                decode_rows(&self.file, stored.start, encoding, total_cols, stored_rows, cols, &info.stored_name)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (g, hf) in [
            ("token_embd.weight", "model.embed_tokens.weight"),
            ("blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight"),
            ("blk.12.ffn_down.weight", "model.layers.12.mlp.down_proj.weight"),
            ("blk.3.attn_norm.weight", "model.layers.3.input_layernorm.weight"),
            ("blk.3.ffn_norm.weight", "model.layers.3.post_attention_layernorm.weight"),
            ("blk.1.attn_output.bias", "model.layers.1.self_attn.o_proj.bias"),
            ("output_norm.weight", "model.norm.weight"),
            ("output.weight", "lm_head.weight"),
        ] {
            assert_eq!(gguf_to_hf_name(g).as_deref(), Some(hf));
            assert_eq!(hf_to_gguf_name(hf).as_deref(), Some(g));
        }
        assert_eq!(gguf_to_hf_name("rope_freqs.weight"), None);
        assert_eq!(gguf_to_hf_name("blk.x.attn_q.weight"), None);
        assert_eq!(gguf_to_hf_name("blk.0.attn_q"), None);
    }

    #[test]
    fn rope_permutation_by_hand() {
        // One head of width 4, one column: GGUF rows 0, 1, 2, 3 hold HF rows 0, 2, 1, 3.
        assert_eq!(permute_rope_rows(&[10., 11., 12., 13.], 1, 1).unwrap(), vec![10., 12., 11., 13.]);
        assert_eq!(unpermute_rope_rows(&[10., 12., 11., 13.], 1, 1).unwrap(), vec![10., 11., 12., 13.]);
        // Two heads of width 6, two columns: a round trip, and the map of §7 row by row.
        let hf: Vec<f32> = (0..24).map(|x| x as f32).collect();
        let g = permute_rope_rows(&hf, 2, 2).unwrap();
        assert_eq!(unpermute_rope_rows(&g, 2, 2).unwrap(), hf);
        for h in 0..2 {
            for i in 0..3 {
                for s in 0..2 {
                    let (grow, hrow) = (h * 6 + 2 * i + s, h * 6 + 3 * s + i);
                    assert_eq!(g[grow * 2], hf[hrow * 2]);
                }
            }
        }
        assert!(unpermute_rope_rows(&hf, 2, 5).is_none());
        assert!(unpermute_rope_rows(&hf[..3], 2, 1).is_none());
    }
}
