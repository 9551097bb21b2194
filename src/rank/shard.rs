//! Ranking in shards: each task of a job array ranks its part of the architectures
//! ([`crate::source::shard`]) and writes a shard file; `lpzero merge` reads the files of every
//! shard and assembles exactly the report one process would have made ([`super::assemble`] of
//! the rows put back in order).
//!
//! A shard file (`shard-<I>-of-<N>.json`) holds the report's metadata, the ids of every
//! architecture of the whole job with the shard each belongs to (so a merge can name what is
//! missing), and this shard's [`Rows`]. It is written atomically once the shard is finished, and
//! a rerun of a finished shard with the same settings does nothing.

use super::{assemble, RankMeta, RankReport, Rows};
use crate::source::shard::Shard;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The `format` of a shard file.
pub const FORMAT: &str = "lpzero-rank-shard";
/// The version this code writes and reads.
pub const VERSION: u32 = 1;

/// One shard's part of a ranking.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardFile {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// Which shard.
    pub shard: Shard,
    /// The report's metadata (source, proxies), the same in every shard of a job.
    pub meta: RankMeta,
    /// Every architecture of the whole job, in order.
    pub ids: Vec<String>,
    /// The shard of each.
    pub owner: Vec<usize>,
    /// This shard's rows, in the order of the job.
    pub rows: Rows,
}

/// What can go wrong with shard files.
#[derive(Debug, thiserror::Error)]
pub enum ShardFileError {
    /// A file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not a shard file of this version, or shards disagree.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No shard file in the folders given.
    #[error("no shard files (shard-<I>-of-<N>.json) in {0}")]
    None(String),
    /// Shards are missing.
    #[error("{} of {count} shards are missing ({}), so {} architectures are: {}{}", missing.len(), list(missing), ids.len(), ids.iter().take(10).cloned().collect::<Vec<_>>().join(", "), if ids.len() > 10 { ", …" } else { "" })]
    Missing {
        /// How many shards the job has.
        count: usize,
        /// The missing shards.
        missing: Vec<usize>,
        /// The architectures they hold.
        ids: Vec<String>,
    },
}

fn list(v: &[usize]) -> String {
    v.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

/// The file name of a shard.
pub fn file_name(shard: Shard) -> String {
    format!("shard-{}-of-{}.json", shard.index, shard.count)
}

impl ShardFile {
    /// A finished shard's file.
    pub fn new(shard: Shard, meta: RankMeta, ids: Vec<String>, owner: Vec<usize>, rows: Rows) -> ShardFile {
        ShardFile { format: FORMAT.into(), version: VERSION, shard, meta, ids, owner, rows }
    }

    /// Whether `other` is a shard of the same job (same source, proxies, architectures and
    /// partition).
    pub fn same_job(&self, other: &ShardFile) -> bool {
        self.is_of(&other.meta, &other.ids, &other.owner, other.shard.count)
    }

    /// Whether this is a shard of the job that ranks `ids`, split as `owner` into `count` shards,
    /// with the settings and proxies of `meta`.
    pub fn is_of(&self, meta: &RankMeta, ids: &[String], owner: &[usize], count: usize) -> bool {
        self.meta == *meta && self.ids == ids && self.owner == owner && self.shard.count == count
    }

    /// Writes the file into `dir` (atomically).
    pub fn write(&self, dir: &Path) -> Result<PathBuf, ShardFileError> {
        let path = dir.join(file_name(self.shard));
        let io = |source| ShardFileError::Io { path: path.clone(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        crate::fsutil::write_atomic(&path, serde_json::to_string(self).expect("a plain struct serialises").as_bytes()).map_err(io)?;
        Ok(path)
    }

    /// Reads a shard file, checking its format.
    pub fn read(path: &Path) -> Result<ShardFile, ShardFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ShardFileError::Io { path: path.to_owned(), source })?;
        let invalid = |message: String| ShardFileError::Invalid { path: path.to_owned(), message };
        let f: ShardFile = serde_json::from_str(&text).map_err(|e| invalid(format!("not a shard file: {e}")))?;
        if f.format != FORMAT || f.version != VERSION {
            return Err(invalid(format!("format {} version {}, expected {FORMAT} version {VERSION}", f.format, f.version)));
        }
        let mine = f.owner.iter().filter(|&&o| o == f.shard.index).count();
        if f.ids.len() != f.owner.len() || f.rows.ids.len() != mine || f.rows.scores.len() != f.meta.proxies.len() {
            return Err(invalid("inconsistent: its rows do not match its share of the architectures".into()));
        }
        Ok(f)
    }

    /// The positions of this shard's rows in the whole job.
    pub fn positions(&self) -> Vec<usize> {
        (0..self.owner.len()).filter(|&k| self.owner[k] == self.shard.index).collect()
    }
}

/// The shard files in `dirs` (files named `shard-*-of-*.json`), in name order.
pub fn find(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, ShardFileError> {
    let mut out = vec![];
    for d in dirs {
        let entries = std::fs::read_dir(d).map_err(|source| ShardFileError::Io { path: d.clone(), source })?;
        for e in entries {
            let p = e.map_err(|source| ShardFileError::Io { path: d.clone(), source })?.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with("shard-") && name.ends_with(".json") && name.contains("-of-") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Merges shard files (as [`find`] lists those of `dirs`) into the report one process would
/// have made; every shard of the job must be there once (the same shard twice must be
/// identical).
pub fn merge(paths: &[PathBuf], dirs: &[PathBuf]) -> Result<RankReport, ShardFileError> {
    let Some(first_path) = paths.first() else {
        return Err(ShardFileError::None(dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")));
    };
    let first = ShardFile::read(first_path)?;
    let count = first.shard.count;
    let mut by_index: Vec<Option<ShardFile>> = vec![None; count];
    for path in paths {
        let f = if path == first_path { first.clone() } else { ShardFile::read(path)? };
        if !f.same_job(&first) {
            return Err(ShardFileError::Invalid { path: path.clone(), message: format!("not a shard of the same job as {} (other settings, proxies or architectures)", first_path.display()) });
        }
        let slot = &mut by_index[f.shard.index];
        match slot {
            Some(seen) if seen.rows.ids != f.rows.ids || seen.rows.scores != f.rows.scores => {
                return Err(ShardFileError::Invalid { path: path.clone(), message: format!("shard {} appears twice with different results", f.shard) });
            }
            Some(_) => {}
            None => *slot = Some(f),
        }
    }
    let missing: Vec<usize> = (0..count).filter(|&i| by_index[i].is_none()).collect();
    if !missing.is_empty() {
        let ids = (0..first.ids.len()).filter(|&k| missing.contains(&first.owner[k])).map(|k| first.ids[k].clone()).collect();
        return Err(ShardFileError::Missing { count, missing, ids });
    }
    let parts: Vec<(Vec<usize>, Rows)> = by_index.into_iter().flatten().map(|f| (f.positions(), f.rows)).collect();
    Ok(assemble(&first.meta, Rows::interleave(parts), false))
}
