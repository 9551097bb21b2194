//! Hugging Face safetensors checkpoints: one `model.safetensors`, or a sharded
//! `model.safetensors.index.json` whose `weight_map` names each tensor's shard.
//!
//! The header of each file is parsed and validated by Hugging Face's `safetensors` crate
//! (offsets contiguous, sizes matching shapes and dtypes, the data covering the file exactly);
//! the data is memory-mapped and converted per tensor (F32, F16, BF16, F64 → f32).

use super::convert::{decode_rows, Encoding, MappedFile, Stored};
use super::error::{Result, WeightsError};
use super::{check_region, DType, TensorInfo, TensorSource};
use ::safetensors::tensor::{Dtype, SafeTensorError, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The supported dtypes, for messages.
const SUPPORTED: &str = "F32, F16, BF16, F64";

/// A safetensors checkpoint (one file or a sharded set), read tensor by tensor.
#[derive(Debug)]
pub struct SafetensorsModel {
    path: PathBuf,
    files: Vec<MappedFile>,
    infos: Vec<TensorInfo>,
    stored: Vec<Stored>,
    index: HashMap<String, usize>,
    metadata: BTreeMap<String, String>,
}

impl SafetensorsModel {
    /// Opens a `.safetensors` file, a `*.safetensors.index.json` index, or a folder holding
    /// `model.safetensors.index.json` or `model.safetensors` (the index is preferred).
    pub fn open(path: impl AsRef<Path>) -> Result<SafetensorsModel> {
        let path = path.as_ref();
        if path.is_dir() {
            let index = path.join("model.safetensors.index.json");
            if index.is_file() {
                return Self::open_index(index);
            }
            let single = path.join("model.safetensors");
            if single.is_file() {
                return Self::open_file(single);
            }
            return Err(WeightsError::NotAModel {
                path: path.to_path_buf(),
                what: "no `model.safetensors.index.json` or `model.safetensors` in this folder".into(),
            });
        }
        if path.extension().is_some_and(|e| e == "json") {
            Self::open_index(path)
        } else {
            Self::open_file(path)
        }
    }

    /// Opens one `.safetensors` file.
    pub fn open_file(path: impl AsRef<Path>) -> Result<SafetensorsModel> {
        let path = path.as_ref();
        let file = MappedFile::open(path)?;
        let mut model = SafetensorsModel {
            path: path.to_path_buf(),
            files: Vec::new(),
            infos: Vec::new(),
            stored: Vec::new(),
            index: HashMap::new(),
            metadata: BTreeMap::new(),
        };
        let (entries, metadata) = parse_header(&file)?;
        model.metadata = metadata;
        model.files.push(file);
        for (info, start) in entries {
            model.push(info, 0, start);
        }
        Ok(model)
    }

    /// Opens a sharded checkpoint from its index (`{"weight_map": {tensor: shard file}}`,
    /// shards named relative to the index's folder). Every shard the index names must exist
    /// and hold the tensors mapped to it; tensors a shard holds beyond its share of the map are
    /// not listed.
    pub fn open_index(index_path: impl AsRef<Path>) -> Result<SafetensorsModel> {
        let index_path = index_path.as_ref();
        let text = std::fs::read_to_string(index_path).map_err(|e| WeightsError::io(index_path, e))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| WeightsError::Json { path: index_path.to_path_buf(), source: e })?;
        let map = json.get("weight_map").ok_or_else(|| WeightsError::MissingField {
            path: index_path.to_path_buf(),
            field: "weight_map".into(),
        })?;
        let map = map.as_object().ok_or_else(|| WeightsError::InvalidConfig {
            path: index_path.to_path_buf(),
            what: "`weight_map` is not an object of tensor name → shard file".into(),
        })?;
        // Shards in order of first appearance in the sorted file names, tensors per shard.
        let mut by_shard: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (tensor, shard) in map {
            let shard = shard.as_str().ok_or_else(|| WeightsError::InvalidConfig {
                path: index_path.to_path_buf(),
                what: format!("the shard of `{tensor}` in `weight_map` is not a string"),
            })?;
            by_shard.entry(shard.to_string()).or_default().push(tensor.clone());
        }
        let dir = index_path.parent().unwrap_or(Path::new("."));
        let mut model = SafetensorsModel {
            path: index_path.to_path_buf(),
            files: Vec::new(),
            infos: Vec::new(),
            stored: Vec::new(),
            index: HashMap::new(),
            metadata: BTreeMap::new(),
        };
        for (shard, tensors) in by_shard {
            let shard_path = dir.join(&shard);
            let missing = |problem: String| WeightsError::MissingShard {
                path: index_path.to_path_buf(),
                tensor: tensors[0].clone(),
                shard: shard.clone(),
                problem,
            };
            if Path::new(&shard).is_absolute() || shard.split(['/', '\\']).any(|c| c == "..") {
                return Err(missing("which is not a file name inside the index's folder".into()));
            }
            if !shard_path.is_file() {
                return Err(missing(format!("which does not exist ({})", shard_path.display())));
            }
            let file = MappedFile::open(&shard_path)?;
            let (entries, metadata) = parse_header(&file)?;
            if model.metadata.is_empty() {
                model.metadata = metadata;
            }
            let mut entries: HashMap<String, (TensorInfo, usize)> =
                entries.into_iter().map(|(i, s)| (i.name.clone(), (i, s))).collect();
            let f = model.files.len();
            model.files.push(file);
            let mut mine = Vec::new();
            for t in &tensors {
                match entries.remove(t) {
                    Some(e) => mine.push(e),
                    None => {
                        return Err(WeightsError::MissingShard {
                            path: index_path.to_path_buf(),
                            tensor: t.clone(),
                            shard: shard.clone(),
                            problem: "which does not contain it".into(),
                        })
                    }
                }
            }
            mine.sort_by_key(|(_, s)| *s);
            for (info, start) in mine {
                model.push(info, f, start);
            }
        }
        Ok(model)
    }

    fn push(&mut self, info: TensorInfo, file: usize, start: usize) {
        let encoding = match info.dtype {
            DType::F32 => Ok(Encoding::F32),
            DType::F16 => Ok(Encoding::F16),
            DType::BF16 => Ok(Encoding::BF16),
            DType::F64 => Ok(Encoding::F64),
            ref other => Err(other.to_string()),
        };
        self.index.insert(info.name.clone(), self.infos.len());
        self.infos.push(info);
        self.stored.push(Stored { file, start, encoding });
    }

    /// The `__metadata__` string map of the (first) file's header (e.g. `{"format": "pt"}`).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The files mapped (one, or the shards in file-name order).
    pub fn files(&self) -> Vec<&Path> {
        self.files.iter().map(|f| f.path.as_path()).collect()
    }
}

/// Parses and validates one file's header: its tensors in offset order with absolute data
/// offsets, and its `__metadata__`.
#[allow(clippy::type_complexity)]
fn parse_header(file: &MappedFile) -> Result<(Vec<(TensorInfo, usize)>, BTreeMap<String, String>)> {
    let path = &file.path;
    let bytes = file.bytes();
    // Clearer messages than the crate's for the two ways a file can be cut short.
    if bytes.len() < 8 {
        return Err(WeightsError::Truncated {
            path: path.clone(),
            what: format!("{} bytes, less than the 8-byte header length", bytes.len()),
        });
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0; 8]));
    if n > (bytes.len() - 8) as u64 {
        return Err(WeightsError::Truncated {
            path: path.clone(),
            what: format!("the header is {n} bytes long but the file has only {} bytes after the length", bytes.len() - 8),
        });
    }
    let (n, meta) = SafeTensors::read_metadata(bytes).map_err(|e| match e {
        SafeTensorError::MetadataIncompleteBuffer => {
            let declared = (|| {
                let header: serde_json::Value = serde_json::from_slice(bytes.get(8..8 + n as usize)?).ok()?;
                header.as_object()?.values().filter_map(|t| t.get("data_offsets")?.get(1)?.as_u64()).max()
            })();
            let what = match declared {
                Some(d) if d.saturating_add(8 + n) > bytes.len() as u64 => format!(
                    "the header's data ends at byte {} but the file has {} bytes",
                    d.saturating_add(8 + n),
                    bytes.len()
                ),
                Some(d) => format!(
                    "the header's data ends at byte {} but the file has {} bytes (trailing bytes)",
                    d.saturating_add(8 + n),
                    bytes.len()
                ),
                None => "the tensors' data does not cover the file exactly".into(),
            };
            WeightsError::Truncated { path: path.clone(), what }
        }
        other => WeightsError::Safetensors { path: path.clone(), what: describe(&other) },
    })?;
    let data_start = 8 + n;
    let mut out = Vec::new();
    for name in meta.offset_keys() {
        let Some(t) = meta.info(&name) else { continue };
        let dtype = match t.dtype {
            Dtype::F32 => DType::F32,
            Dtype::F16 => DType::F16,
            Dtype::BF16 => DType::BF16,
            Dtype::F64 => DType::F64,
            other => DType::Other(other.to_string()),
        };
        let (s, e) = t.data_offsets;
        out.push((
            TensorInfo { name: name.clone(), stored_name: name, shape: t.shape.clone(), dtype, bytes: e - s },
            data_start + s,
        ));
    }
    let metadata = meta.metadata().as_ref().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
    Ok((out, metadata))
}

/// The crate's errors, worded for a reader of the message.
fn describe(e: &SafeTensorError) -> String {
    match e {
        SafeTensorError::InvalidHeader(u) => format!("the header is not UTF-8 ({u})"),
        SafeTensorError::InvalidHeaderDeserialization(j) => format!("the header is not a valid tensor table ({j})"),
        SafeTensorError::HeaderTooLarge => "the header length is over the 100 MB limit".into(),
        SafeTensorError::InvalidOffset(t) => format!("tensor `{t}` does not start where the previous one ends"),
        SafeTensorError::TensorInvalidInfo => "a tensor's byte range does not match its shape and dtype".into(),
        SafeTensorError::ValidationOverflow => "a tensor's size overflows".into(),
        other => other.to_string(),
    }
}

impl TensorSource for SafetensorsModel {
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
        let file = &self.files[stored.file];
        check_region(&file.path, info, &rows, cols)?;
        let encoding = stored.encoding.clone().map_err(|dtype| WeightsError::UnsupportedDtype {
            path: file.path.clone(),
            tensor: name.to_string(),
            dtype,
            supported: SUPPORTED,
        })?;
        decode_rows(file, stored.start, encoding, info.matrix_dims().1, rows, cols, name)
    }
}
