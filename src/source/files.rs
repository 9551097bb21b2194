//! A folder of proxy-input files ([`crate::eval::file`]) and a ground-truth table as a
//! [`Source`]: how inputs gathered by any framework (the Python package's PyTorch hooks, or
//! `lpzero gather`) are ranked and searched on.
//!
//! The ground-truth table is a CSV file with a header: a column `id` (the architectures' ids, as
//! the files' `arch` metadata or file names give them), the ground truth (the column named
//! `--truth-column`, else `quality`, else the second column), and optionally more numeric columns,
//! which become architecture-only baselines (higher predicts better, as given). With
//! `lower_is_better` the ground truth is negated (a perplexity). Architectures with a file but no
//! ground truth (or an empty cell) are skipped and named; an id of the table without a file is
//! an error.

use super::{Fetched, Source, SourceError, SourceInfo};
use crate::eval::file::{self, Check, FileError};
use crate::lang::table::InputId;
use crate::rank::Baseline;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a folder source's files are, as the command line and a checkpoint describe it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputsSpec {
    /// The folder of `*.safetensors` inputs files.
    pub inputs: PathBuf,
    /// The ground-truth CSV [default: `truth.csv` in the folder].
    #[serde(default)]
    pub truth: Option<PathBuf>,
    /// Its ground-truth column [default: `quality`, else the second column].
    #[serde(default)]
    pub truth_column: Option<String>,
    /// Whether a lower ground truth is better (it is negated).
    #[serde(default)]
    pub lower_is_better: bool,
}

/// A problem with an inputs folder or its table.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// A file.
    #[error(transparent)]
    File(#[from] FileError),
    /// The folder or the table cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The table or the folder's content is inconsistent.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A ground-truth table.
#[derive(Clone, Debug)]
pub struct TruthTable {
    /// The ground truth's column name.
    pub name: String,
    /// The ids in the table's order.
    pub ids: Vec<String>,
    /// Ground truth per id (higher is better after orientation; `None`: empty cell).
    pub truth: BTreeMap<String, Option<f64>>,
    /// The other numeric columns, per id.
    pub baselines: Vec<(String, BTreeMap<String, f64>)>,
}

impl TruthTable {
    /// Reads a ground-truth CSV.
    pub fn read(path: &Path, column: Option<&str>, lower_is_better: bool) -> Result<TruthTable, FolderError> {
        let invalid = |message: String| FolderError::Invalid { path: path.to_owned(), message };
        let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_path(path).map_err(|e| invalid(e.to_string()))?;
        let header: Vec<String> = reader.headers().map_err(|e| invalid(e.to_string()))?.iter().map(str::to_owned).collect();
        if header.is_empty() || header.iter().all(String::is_empty) {
            return Err(invalid("empty: a header `id,<truth>,...` is needed".into()));
        }
        let id_col = header.iter().position(|h| h == "id").ok_or_else(|| invalid(format!("no `id` column (columns: {})", header.join(", "))))?;
        let truth_col = match column {
            Some(c) => header.iter().position(|h| h == c).ok_or_else(|| invalid(format!("no column `{c}` (columns: {})", header.join(", "))))?,
            None => header.iter().position(|h| h == "quality").or_else(|| (0..header.len()).find(|&i| i != id_col)).ok_or_else(|| invalid("no ground-truth column".into()))?,
        };
        let mut truth = BTreeMap::new();
        let mut ids = vec![];
        let mut others: Vec<(String, BTreeMap<String, f64>)> = header.iter().enumerate().filter(|(i, _)| *i != id_col && *i != truth_col).map(|(_, h)| (h.clone(), BTreeMap::new())).collect();
        let mut numeric = vec![true; others.len()];
        for (n, record) in reader.records().enumerate() {
            let record = record.map_err(|e| invalid(format!("line {}: {e}", n + 2)))?;
            let cells: Vec<&str> = record.iter().collect();
            let id = cells[id_col].to_owned();
            let value = match cells[truth_col] {
                "" => None,
                v => Some(v.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| invalid(format!("line {}: `{v}` is not a finite number", n + 2)))?),
            };
            if truth.insert(id.clone(), value.map(|v| if lower_is_better { -v } else { v })).is_some() {
                return Err(invalid(format!("id `{id}` appears twice")));
            }
            ids.push(id.clone());
            let mut k = 0;
            for (i, c) in cells.iter().enumerate() {
                if i == id_col || i == truth_col {
                    continue;
                }
                match c.parse::<f64>() {
                    Ok(v) if v.is_finite() => {
                        others[k].1.insert(id.clone(), v);
                    }
                    _ => numeric[k] = false,
                }
                k += 1;
            }
        }
        let baselines = others.into_iter().zip(numeric).filter(|(_, ok)| *ok).map(|(b, _)| b).collect();
        Ok(TruthTable { name: header[truth_col].clone(), ids, truth, baselines })
    }
}

/// The architectures of `dir/truth.csv` that have no inputs file in `dir` yet (what sharded
/// `gather` tasks have still to write), in the table's order.
pub fn missing_files(dir: &Path) -> Result<Vec<String>, FolderError> {
    let table = TruthTable::read(&dir.join("truth.csv"), None, false)?;
    let entries = std::fs::read_dir(dir).map_err(|source| FolderError::Io { path: dir.to_owned(), source })?;
    let mut have = std::collections::BTreeSet::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "safetensors") && !crate::fsutil::is_temporary(&e.file_name().to_string_lossy()) {
            have.insert(file::read_meta(&p)?.arch);
        }
    }
    Ok(table.ids.iter().filter(|id| !have.contains(*id)).cloned().collect())
}

/// A folder of inputs files with their ground truth.
pub struct InputsDir {
    spec: InputsSpec,
    table: TruthTable,
    files: Vec<(String, PathBuf)>,
    skipped: Vec<String>,
    common: SourceInfo,
}

impl InputsDir {
    /// Opens a folder: every `*.safetensors` file's metadata is read (not its tensors) and matched
    /// with the table by architecture id.
    pub fn open(spec: &InputsSpec) -> Result<InputsDir, FolderError> {
        let dir = &spec.inputs;
        let truth_path = spec.truth.clone().unwrap_or_else(|| dir.join("truth.csv"));
        let table = TruthTable::read(&truth_path, spec.truth_column.as_deref(), spec.lower_is_better)?;
        let entries = std::fs::read_dir(dir).map_err(|source| FolderError::Io { path: dir.clone(), source })?;
        let mut by_id: BTreeMap<String, PathBuf> = BTreeMap::new();
        let mut metas = vec![];
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_none_or(|x| x != "safetensors") || crate::fsutil::is_temporary(&e.file_name().to_string_lossy()) {
                continue;
            }
            let meta = file::read_meta(&p)?;
            if let Some(other) = by_id.insert(meta.arch.clone(), p.clone()) {
                return Err(FolderError::Invalid { path: dir.clone(), message: format!("two files hold architecture `{}`: {} and {}", meta.arch, other.display(), p.display()) });
            }
            metas.push(meta);
        }
        let missing: Vec<&String> = table.truth.keys().filter(|id| !by_id.contains_key(*id)).collect();
        if !missing.is_empty() {
            return Err(FolderError::Invalid {
                path: dir.clone(),
                message: format!("{} architectures of {} have no inputs file: {}", missing.len(), truth_path.display(), missing.iter().take(10).map(|s| s.as_str()).collect::<Vec<_>>().join(", ")),
            });
        }
        // In the table's order, those with ground truth; files the table does not list, or lists
        // without a value, are skipped.
        let files: Vec<(String, PathBuf)> = table.ids.iter().filter(|id| table.truth[*id].is_some()).map(|id| (id.clone(), by_id[id].clone())).collect();
        let skipped: Vec<String> = by_id.keys().filter(|id| !matches!(table.truth.get(*id), Some(Some(_)))).cloned().collect();
        let same = |f: &dyn Fn(&file::InputsMeta) -> Option<String>| {
            let vals: Vec<Option<String>> = metas.iter().map(f).collect();
            vals.first().cloned().flatten().filter(|v| vals.iter().all(|x| x.as_deref() == Some(v.as_str())))
        };
        let mut settings = vec![];
        for (k, f) in [
            ("batch", &(|m: &file::InputsMeta| m.batch.map(|v| v.to_string())) as &dyn Fn(&file::InputsMeta) -> Option<String>),
            ("seq_len", &|m: &file::InputsMeta| m.seq_len.map(|v| v.to_string())),
            ("seed", &|m: &file::InputsMeta| m.seed.map(|v| v.to_string())),
            ("framework", &|m: &file::InputsMeta| m.framework.clone()),
        ] {
            if let Some(v) = same(f) {
                settings.push((k.to_owned(), v));
            }
        }
        let common = SourceInfo { bench: dir.display().to_string(), family: same(&|m| m.family.clone()), truth: table.name.clone(), settings };
        Ok(InputsDir { spec: spec.clone(), table, files, skipped, common })
    }

    /// Architectures with a file but no ground truth, skipped.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// How it was opened.
    pub fn spec(&self) -> &InputsSpec {
        &self.spec
    }
}

impl Source for InputsDir {
    fn len(&self) -> usize {
        self.files.len()
    }

    fn id(&self, k: usize) -> String {
        self.files[k].0.clone()
    }

    fn truth(&self, k: usize) -> f64 {
        self.table.truth[&self.files[k].0].expect("only architectures with ground truth are listed")
    }

    fn fetch(&self, k: usize, _need: &[InputId]) -> Result<Fetched, SourceError> {
        let start = std::time::Instant::now();
        let (id, path) = &self.files[k];
        let (inputs, _) = file::read(path, Check::Finite).map_err(|e| SourceError::of(id.clone(), &e))?;
        Ok(Fetched { inputs, seconds: start.elapsed().as_secs_f64(), cached: false })
    }

    fn parallelism(&self) -> usize {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    }

    /// The table's other numeric columns, where they cover every architecture.
    fn baselines(&self) -> Vec<Baseline> {
        self.table
            .baselines
            .iter()
            .filter_map(|(name, values)| Some(Baseline { name: name.clone(), scores: self.files.iter().map(|(id, _)| values.get(id).copied()).collect::<Option<Vec<f64>>>()? }))
            .collect()
    }

    fn info(&self) -> SourceInfo {
        self.common.clone()
    }
}
