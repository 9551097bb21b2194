//! `lpzero gather`: a benchmark's gathered inputs written as files ([`crate::eval::file`]), one
//! per architecture (`<id>.safetensors`), with `truth.csv` (`id`, `quality` — the ground truth,
//! higher is better —, then the family's baselines): a folder that `rank --inputs`, `evolve
//! --inputs`, the Python package and any other tool read. A rerun skips the files already there;
//! each file appears whole (written to a temporary name and renamed).

use super::source::GatherSource;
use crate::eval::file;
use crate::lang::table::InputId;
use crate::progress::Progress;
use crate::source::{Source, SourceError};
use crate::stop::Stop;
use std::path::{Path, PathBuf};

/// What an export did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExportReport {
    /// The folder.
    pub dir: PathBuf,
    /// Architectures exported (files present at the end).
    pub archs: usize,
    /// Written by this run.
    pub written: usize,
    /// Already there.
    pub skipped: usize,
    /// Whether it stopped before the end.
    pub interrupted: bool,
    /// Bytes of the files written by this run.
    pub bytes: u64,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A gather.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Writing.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The file name of an architecture's inputs.
pub fn file_name(id: &str) -> String {
    let safe: String = id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' { c } else { '_' }).collect();
    format!("{safe}.safetensors")
}

/// Writes `truth.csv` for architectures `indices` of the source.
pub fn write_truth(dir: &Path, source: &dyn Source, indices: &[usize]) -> std::io::Result<()> {
    let baselines = source.baselines();
    let mut w = csv::Writer::from_writer(vec![]);
    let mut header = vec!["id".to_owned(), "quality".to_owned()];
    header.extend(baselines.iter().map(|b| b.name.clone()));
    w.write_record(&header)?;
    for &k in indices {
        let mut row = vec![source.id(k), source.truth(k).to_string()];
        row.extend(baselines.iter().map(|b| b.scores[k].to_string()));
        w.write_record(&row)?;
    }
    let bytes = w.into_inner().map_err(|e| std::io::Error::other(e.to_string()))?;
    crate::fsutil::write_atomic(&dir.join("truth.csv"), &bytes)
}

/// Gathers architectures `gather` of `source` into `dir`, keeping the inputs `keep` (all when
/// empty), with the ground truth of `indices` (all the architectures of the folder, of which
/// `gather` may be a shard's part); files already there are kept.
pub fn export(source: &GatherSource, indices: &[usize], gather: &[usize], keep: &[InputId], dir: &Path, stop: &Stop, progress: &dyn Progress) -> Result<ExportReport, ExportError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ExportError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    write_truth(dir, source, indices).map_err(io(&dir.join("truth.csv")))?;
    let path_of = |k: usize| dir.join(file_name(&source.id(k)));
    let todo: Vec<usize> = gather.iter().copied().filter(|&k| file::read_meta(&path_of(k)).map_or(true, |m| m.arch != source.id(k))).collect();
    let skipped = gather.len() - todo.len();
    let (mut written, mut bytes) = (0, 0);
    progress.start("gathering", todo.len());
    let work = |j: usize| -> Result<(), ExportError> {
        let k = todo[j];
        let id = source.id(k);
        let arch = source.arch(k);
        let need = if keep.is_empty() { super::all_inputs() } else { keep.to_vec() };
        let (mut g, _) = super::cache::gather_cached(arch, source.corpus(), source.options(), source.device(), source.cache(), &need).map_err(|e| SourceError::of(id.clone(), &e))?;
        g.inputs.retain(&need);
        let path = path_of(k);
        file::write(&path, &g.inputs, &super::meta(arch, source.options(), source.corpus(), &g)).map_err(io(&path))
    };
    let done = crate::parallel::ordered(todo.len(), source.parallelism(), stop.flag(), work, |j, r| {
        r?;
        written += 1;
        bytes += std::fs::metadata(path_of(todo[j])).map(|m| m.len()).unwrap_or(0);
        progress.advance(j + 1, &source.id(todo[j]));
        Ok::<(), ExportError>(())
    });
    progress.finish();
    let done = done?;
    Ok(ExportReport { dir: dir.to_owned(), archs: skipped + done, written, skipped, interrupted: done < todo.len(), bytes })
}
