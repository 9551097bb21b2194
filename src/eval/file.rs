//! Proxy inputs as files: one architecture's inputs in one safetensors file, the format lpzero's
//! input cache, `lpzero gather`, the Python package's `lpzero.torch.gather` and `rank --inputs`
//! all use (version [`VERSION`]).
//!
//! * Tensors are named `<input>.<entry>`: `W.0 … W.n`, `G.0 …`, `A.0 …`, `H.0 …`, `S.0 …`,
//!   `J.0`, `P.0 …` (any of [`crate::lang::table::INPUTS`]), entries numbered from 0 without
//!   gaps, in forward order. Shapes are the entries' logical shapes (`W` is `[out, in]`). F32 is
//!   written; F32, F64, F16 and BF16 are read (converted to f32).
//! * The `__metadata__` strings: `format` = `lpzero-inputs`, `format_version` = `1`, `arch` (the
//!   architecture id), and optionally `family`, `framework` (what wrote it, e.g. `lpzero 0.2.0
//!   (burn flex)` or `torch 2.9.0`), `batch`, `seq_len`, `seed`, `loss`, `params` (the model's
//!   parameter count), `gather_seconds`, `modules` (a JSON object: input name → the module name
//!   of each entry, e.g. `{"W": ["h.0.attn.c_attn", …]}`), `minibatch` (a JSON object of the
//!   minibatch's integer arrays, [`InputsMeta::minibatch`]); other keys are kept as they are.
//!   A file without `format` (numpy's or torch's `safetensors` writer with no metadata) is read
//!   too; its architecture id is the file's stem.
//!
//! Reading checks everything a proxy relies on and says what is wrong: not a safetensors file or
//! truncated, a tensor name that is no input, entries with gaps, ranks and per-alignment counts
//! ([`ProxyInputs::insert`]), a gradient without its tensor (`G` without `W`, `GA` without `A`,
//! `GH` without `H`) or of another shape, and (when asked, as `rank --inputs` does) NaN or inf.

use super::inputs::{InputError, ProxyInputs, TensorEntry, GRADIENT_PAIRS};
use crate::lang::table::{self, InputId};
use safetensors::tensor::{Dtype, SafeTensors, View};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The `format` metadata value.
pub const FORMAT: &str = "lpzero-inputs";
/// The format version this code writes and reads.
pub const VERSION: u32 = 1;

/// What an inputs file says about where its inputs came from.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputsMeta {
    /// The architecture id.
    pub arch: String,
    /// The model family, if the writer knew it.
    pub family: Option<String>,
    /// What wrote the file.
    pub framework: Option<String>,
    /// Sequences per minibatch.
    pub batch: Option<usize>,
    /// Tokens per sequence.
    pub seq_len: Option<usize>,
    /// The seed of parameters and minibatch.
    pub seed: Option<u64>,
    /// The loss of the forward pass.
    pub loss: Option<f64>,
    /// The model's parameter count.
    pub params: Option<u64>,
    /// Seconds the gather took.
    pub gather_seconds: Option<f64>,
    /// Per input, the module name of each entry.
    pub modules: BTreeMap<String, Vec<String>>,
    /// The minibatch the inputs were gathered on, as named integer arrays, row-major
    /// `[batch·seq_len]`: `ids` and `targets` for next-token prediction; `ids`, `attention` (1 for
    /// a real token), `masked` (flat positions the loss predicts) and `targets` (their tokens)
    /// for masked-token prediction.
    pub minibatch: BTreeMap<String, Vec<i64>>,
    /// Any other metadata.
    pub extra: BTreeMap<String, String>,
}

/// What is wrong with an inputs file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The bytes are not a (whole) safetensors file.
    #[error("{path}: not a safetensors file or truncated ({message})")]
    Format {
        /// The file.
        path: String,
        /// What the reader said.
        message: String,
    },
    /// The content is not proxy inputs.
    #[error("{path}: {message}")]
    Content {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The entries are inconsistent.
    #[error("{path}: {source}")]
    Inputs {
        /// The file.
        path: String,
        /// What is inconsistent.
        source: InputError,
    },
}

/// How strictly to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Structure only (the cache: NaN inputs are legitimate gathers, the interpreter marks the
    /// proxies that read them invalid).
    Structure,
    /// Structure, and every value finite (files handed to lpzero by users).
    Finite,
}

struct F32View<'a>(&'a TensorEntry);

impl View for F32View<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.0.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        let mut bytes = Vec::with_capacity(self.0.data.len() * 4);
        for v in self.0.data.iter() {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        Cow::Owned(bytes)
    }
    fn data_len(&self) -> usize {
        self.0.data.len() * 4
    }
}

fn metadata(meta: &InputsMeta) -> HashMap<String, String> {
    let mut m: HashMap<String, String> = meta.extra.clone().into_iter().collect();
    m.insert("format".into(), FORMAT.into());
    m.insert("format_version".into(), VERSION.to_string());
    m.insert("arch".into(), meta.arch.clone());
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            m.insert(k.into(), v);
        }
    };
    put("family", meta.family.clone());
    put("framework", meta.framework.clone());
    put("batch", meta.batch.map(|v| v.to_string()));
    put("seq_len", meta.seq_len.map(|v| v.to_string()));
    put("seed", meta.seed.map(|v| v.to_string()));
    put("loss", meta.loss.map(|v| format!("{v:e}")));
    put("params", meta.params.map(|v| v.to_string()));
    put("gather_seconds", meta.gather_seconds.map(|v| format!("{v:e}")));
    if !meta.modules.is_empty() {
        put("modules", Some(serde_json::to_string(&meta.modules).expect("plain JSON")));
    }
    if !meta.minibatch.is_empty() {
        put("minibatch", Some(serde_json::to_string(&meta.minibatch).expect("plain JSON")));
    }
    m
}

fn tensors(inputs: &ProxyInputs) -> Vec<(String, F32View<'_>)> {
    let mut out = vec![];
    for id in inputs.present() {
        let name = table::input(id).name;
        for (i, e) in inputs.get(id).unwrap_or_default().iter().enumerate() {
            out.push((format!("{name}.{i}"), F32View(e)));
        }
    }
    out
}

/// The file's bytes.
pub fn to_bytes(inputs: &ProxyInputs, meta: &InputsMeta) -> Vec<u8> {
    safetensors::serialize(tensors(inputs), Some(metadata(meta))).expect("f32 views of consistent shapes serialise")
}

/// Why inputs cannot be written as a file its readers accept: a gradient without the tensor it
/// belongs to (`G` without `W`, ...).
pub fn unpaired_gradient(inputs: &ProxyInputs) -> Option<String> {
    GRADIENT_PAIRS.iter().find(|&&(tensor, grad)| inputs.get(grad).is_some() && inputs.get(tensor).is_none()).map(|&(tensor, grad)| {
        format!("{} (a gradient) is present without {}, the tensor it belongs to", table::input(grad).name, table::input(tensor).name)
    })
}

/// Writes an inputs file atomically (a temporary file renamed into place); refuses inputs with
/// a gradient but not its tensor ([`unpaired_gradient`]), which no reader accepts.
pub fn write(path: &Path, inputs: &ProxyInputs, meta: &InputsMeta) -> std::io::Result<()> {
    if let Some(why) = unpaired_gradient(inputs) {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, why));
    }
    crate::fsutil::write_atomic_path(path, |tmp| {
        safetensors::serialize_to_file(tensors(inputs), Some(metadata(meta)), tmp).map_err(std::io::Error::other)
    })
}

/// Reads an inputs file.
pub fn read(path: &Path, check: Check) -> Result<(ProxyInputs, InputsMeta), FileError> {
    let bytes = std::fs::read(path).map_err(|source| FileError::Io { path: path.display().to_string(), source })?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    from_bytes(&bytes, &path.display().to_string(), &stem, check)
}

fn f32s(dtype: Dtype, data: &[u8]) -> Option<Vec<f32>> {
    Some(match dtype {
        Dtype::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        Dtype::F64 => data.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32).collect(),
        Dtype::F16 => data.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        Dtype::BF16 => data.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        _ => return None,
    })
}

fn parse_meta(mut m: HashMap<String, String>, origin: &str, default_arch: &str) -> Result<InputsMeta, FileError> {
    let content = |message: String| FileError::Content { path: origin.to_owned(), message };
    if let Some(f) = m.remove("format") {
        if f != FORMAT {
            return Err(content(format!("format `{f}` is not `{FORMAT}`")));
        }
        let v = m.remove("format_version").unwrap_or_default();
        if v != VERSION.to_string() {
            return Err(content(format!("format version `{v}`; this lpzero reads version {VERSION}")));
        }
    }
    let num = |m: &mut HashMap<String, String>, k: &str| -> Result<Option<f64>, FileError> {
        m.remove(k).map(|v| v.parse::<f64>().map_err(|_| content(format!("metadata `{k}` = `{v}` is not a number")))).transpose()
    };
    let int = |m: &mut HashMap<String, String>, k: &str| -> Result<Option<u64>, FileError> {
        m.remove(k).map(|v| v.parse::<u64>().map_err(|_| content(format!("metadata `{k}` = `{v}` is not a whole number")))).transpose()
    };
    Ok(InputsMeta {
        arch: m.remove("arch").unwrap_or_else(|| default_arch.to_owned()),
        family: m.remove("family"),
        framework: m.remove("framework"),
        batch: int(&mut m, "batch")?.map(|v| v as usize),
        seq_len: int(&mut m, "seq_len")?.map(|v| v as usize),
        seed: int(&mut m, "seed")?,
        loss: num(&mut m, "loss")?,
        params: int(&mut m, "params")?,
        gather_seconds: num(&mut m, "gather_seconds")?,
        modules: match m.remove("modules") {
            Some(j) => serde_json::from_str(&j).map_err(|e| content(format!("metadata `modules` is not a JSON object of name lists: {e}")))?,
            None => BTreeMap::new(),
        },
        minibatch: match m.remove("minibatch") {
            Some(j) => serde_json::from_str(&j).map_err(|e| content(format!("metadata `minibatch` is not a JSON object of integer arrays: {e}")))?,
            None => BTreeMap::new(),
        },
        extra: m.into_iter().collect(),
    })
}

/// Reads only the metadata of an inputs file (its header; the tensors are not read).
pub fn read_meta(path: &Path) -> Result<InputsMeta, FileError> {
    use std::io::Read;
    let origin = path.display().to_string();
    let io = |source| FileError::Io { path: origin.clone(), source };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut len = [0u8; 8];
    f.read_exact(&mut len).map_err(|_| FileError::Format { path: origin.clone(), message: "shorter than a header".into() })?;
    let n = u64::from_le_bytes(len);
    if n > 100 << 20 {
        return Err(FileError::Format { path: origin, message: format!("a header of {n} bytes") });
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header).map_err(|_| FileError::Format { path: origin.clone(), message: "the header is cut short".into() })?;
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "__metadata__", default)]
        metadata: HashMap<String, String>,
    }
    let head: Head = serde_json::from_slice(&header).map_err(|e| FileError::Format { path: origin.clone(), message: e.to_string() })?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    parse_meta(head.metadata, &origin, &stem)
}

/// Reads an inputs file from its bytes; `origin` names it in errors, `default_arch` is the id
/// when the metadata has none.
pub fn from_bytes(bytes: &[u8], origin: &str, default_arch: &str, check: Check) -> Result<(ProxyInputs, InputsMeta), FileError> {
    let format = |e: safetensors::SafeTensorError| FileError::Format { path: origin.to_owned(), message: e.to_string() };
    let content = |message: String| FileError::Content { path: origin.to_owned(), message };
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(format)?;
    let st = SafeTensors::deserialize(bytes).map_err(format)?;
    let meta = parse_meta(header.metadata().clone().unwrap_or_default(), origin, default_arch)?;
    let mut by_input: BTreeMap<InputId, BTreeMap<usize, TensorEntry>> = BTreeMap::new();
    for (name, view) in st.tensors() {
        let (input, index) = name.rsplit_once('.').ok_or_else(|| content(format!("tensor `{name}` is not named <input>.<entry> (e.g. W.0)")))?;
        let spec = table::input_by_name(input)
            .ok_or_else(|| content(format!("tensor `{name}`: `{input}` is not an input (inputs are {})", table::INPUTS.iter().map(|i| i.name).collect::<Vec<_>>().join(", "))))?;
        let index: usize = index.parse().map_err(|_| content(format!("tensor `{name}`: `{index}` is not an entry number")))?;
        let values = f32s(view.dtype(), view.data()).ok_or_else(|| content(format!("tensor `{name}` has dtype {:?}; inputs are F32, F64, F16 or BF16", view.dtype())))?;
        if check == Check::Finite {
            if let Some(p) = values.iter().position(|v| !v.is_finite()) {
                return Err(content(format!("tensor `{name}` holds {} at element {p}", values[p])));
            }
        }
        let entry = TensorEntry::from_f32(view.shape(), &values).map_err(|source| FileError::Inputs { path: origin.to_owned(), source })?;
        by_input.entry(spec.id).or_default().insert(index, entry);
    }
    for &(tensor, grad) in GRADIENT_PAIRS {
        if by_input.contains_key(&grad) && !by_input.contains_key(&tensor) {
            return Err(content(format!("{} (a gradient) is present without {}, the tensor it belongs to", table::input(grad).name, table::input(tensor).name)));
        }
    }
    let mut inputs = ProxyInputs::new();
    for (id, entries) in by_input {
        let name = table::input(id).name;
        if let Some((k, _)) = entries.iter().enumerate().find(|(k, (i, _))| k != *i) {
            return Err(content(format!("{name} has entries numbered with a gap: {name}.{k} is missing")));
        }
        inputs.insert(id, entries.into_values().collect()).map_err(|source| FileError::Inputs { path: origin.to_owned(), source })?;
    }
    Ok((inputs, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ProxyInputs {
        let mut i = ProxyInputs::new();
        let w = vec![TensorEntry::from_f32(&[2, 3], &[1.0, -2.0, 3.5, 0.0, 1e-30, -7.25]).unwrap(), TensorEntry::from_f32(&[1, 2], &[0.5, f32::MAX]).unwrap()];
        let g = vec![TensorEntry::from_f32(&[2, 3], &[0.1; 6]).unwrap(), TensorEntry::from_f32(&[1, 2], &[-0.0, 2.0]).unwrap()];
        i.insert(InputId::W, w).unwrap();
        i.insert(InputId::G, g).unwrap();
        i.insert(InputId::J, vec![TensorEntry::from_f32(&[1, 2, 2], &[1.0, 2.0, 3.0, 4.0]).unwrap()]).unwrap();
        i
    }

    fn bits(i: &ProxyInputs) -> Vec<(InputId, Vec<usize>, Vec<u32>)> {
        i.present().flat_map(|id| i.get(id).unwrap().iter().map(move |e| (id, e.shape.clone(), e.data.iter().map(|v| v.to_bits()).collect()))).collect()
    }

    #[test]
    fn a_round_trip_is_bit_identical_and_keeps_the_metadata() {
        let meta = InputsMeta { arch: "config_0_j0".into(), family: Some("gpt2".into()), loss: Some(3.25), params: Some(1234), modules: [("W".to_string(), vec!["a".to_string(), "b".to_string()])].into(), minibatch: [("ids".to_string(), vec![3, 1, 4]), ("targets".to_string(), vec![1, 4, 1])].into(), extra: [("note".to_string(), "x".to_string())].into(), ..InputsMeta::default() };
        let bytes = to_bytes(&sample(), &meta);
        let (back, m) = from_bytes(&bytes, "t", "stem", Check::Structure).unwrap();
        assert_eq!(bits(&back), bits(&sample()));
        assert_eq!(m, meta);
    }

    #[test]
    fn broken_files_are_clear_errors() {
        let meta = InputsMeta { arch: "a".into(), ..InputsMeta::default() };
        let bytes = to_bytes(&sample(), &meta);
        for cut in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
            let e = from_bytes(&bytes[..cut], "t.safetensors", "a", Check::Structure).unwrap_err().to_string();
            assert!(e.contains("t.safetensors") && e.contains("not a safetensors file or truncated"), "cut {cut}: {e}");
        }
        // A gradient without its weight.
        let mut g_only = ProxyInputs::new();
        g_only.insert(InputId::G, vec![TensorEntry::from_f32(&[1, 1], &[1.0]).unwrap()]).unwrap();
        let e = from_bytes(&to_bytes(&g_only, &meta), "t", "a", Check::Structure).unwrap_err().to_string();
        assert!(e.contains("G (a gradient) is present without W"), "{e}");
        // NaN is refused only when asked.
        let mut nan = ProxyInputs::new();
        nan.insert(InputId::W, vec![TensorEntry::from_f32(&[1, 2], &[1.0, f32::NAN]).unwrap()]).unwrap();
        let b = to_bytes(&nan, &meta);
        assert!(from_bytes(&b, "t", "a", Check::Structure).is_ok());
        assert!(from_bytes(&b, "t", "a", Check::Finite).unwrap_err().to_string().contains("NaN at element 1"));
    }

    #[test]
    fn foreign_files_wrong_names_shapes_and_gaps_are_reported() {
        let raw = |tensors: Vec<(&str, Vec<usize>, Vec<f32>)>| {
            let entries: Vec<(String, TensorEntry)> = tensors.into_iter().map(|(n, s, v)| (n.to_owned(), TensorEntry::from_f32(&s, &v).unwrap())).collect();
            safetensors::serialize(entries.iter().map(|(n, e)| (n.clone(), F32View(e))), None).unwrap()
        };
        // No metadata at all (numpy's writer): read, the id from the file name.
        let (i, m) = from_bytes(&raw(vec![("W.0", vec![1, 2], vec![1.0, 2.0])]), "x/arch7.safetensors", "arch7", Check::Finite).unwrap();
        assert_eq!((m.arch.as_str(), i.get(InputId::W).unwrap().len()), ("arch7", 1));
        let e = from_bytes(&raw(vec![("Q.0", vec![1], vec![1.0])]), "t", "a", Check::Structure).unwrap_err().to_string();
        assert!(e.contains("`Q` is not an input"), "{e}");
        let e = from_bytes(&raw(vec![("W.0", vec![2], vec![1.0, 2.0])]), "t", "a", Check::Structure).unwrap_err().to_string();
        assert!(e.contains("W entries have 2 (out, in)"), "{e}");
        let e = from_bytes(&raw(vec![("W.0", vec![1, 1], vec![1.0]), ("W.2", vec![1, 1], vec![1.0])]), "t", "a", Check::Structure).unwrap_err().to_string();
        assert!(e.contains("W.1 is missing"), "{e}");
        let e = from_bytes(&raw(vec![("W.0", vec![1, 2], vec![1.0, 2.0]), ("G.0", vec![2, 1], vec![1.0, 2.0])]), "t", "a", Check::Structure).unwrap_err().to_string();
        assert!(e.contains("G is the gradient of W"), "{e}");
    }
}
