//! Benchmarks of trained architectures: a family's architectures with their ground truth,
//! recognised by content (each registered family is asked, [`crate::family::Family::recognise`]),
//! and what a `--bench` argument means ([`resolve`]: a path, or `builtin:NAME` built on first
//! use).
//!
//! Malformed, truncated or mismatched files give a [`BenchError`] naming the file, the entry and
//! what is wrong. Architectures whose training never finished (no ground truth in the files) are
//! kept: counting parameters and scoring need no ground truth; ranking and searching skip them
//! ([`Benchmark::scored`]).

pub mod error;
pub mod lts;

pub mod resolve;

pub use error::BenchError;
pub use resolve::{resolve, Resolved};

use crate::family::{Arch, FamilyRef, Recognition, REGISTRY};
use crate::train::config::Manifest;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A loaded benchmark.
#[derive(Clone)]
pub struct Benchmark {
    /// The file or directory it was loaded from.
    pub path: PathBuf,
    /// Its family.
    pub family: FamilyRef,
    /// The architectures, in benchmark order.
    pub archs: Vec<Arc<dyn Arch>>,
    /// Ground truth per architecture as the benchmark publishes it (`None`: unfinished).
    pub truth: Vec<Option<f64>>,
    /// What the ground truth is (`GLUE`, `valid_ppl`, `mlm_ppl`).
    pub truth_name: &'static str,
    /// Whether a lower ground truth is better.
    pub lower_is_better: bool,
    /// The parameter counts the benchmark publishes, per architecture, if any.
    pub published_counts: Vec<Option<Vec<(String, u64)>>>,
    /// The manifest of a benchmark built by `lpzero bench build` (`bench.yaml`).
    pub manifest: Option<Manifest>,
}

impl std::fmt::Debug for Benchmark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Benchmark({} {}, {} architectures)", self.family, self.path.display(), self.archs.len())
    }
}

/// Reads `bench.yaml` of a built benchmark directory, if there is one.
pub fn read_manifest(dir: &Path) -> Result<Option<Manifest>, BenchError> {
    let path = dir.join("bench.yaml");
    if !dir.is_dir() || !path.exists() {
        return Ok(None);
    }
    let text = lts::read(&path)?;
    serde_norway::from_str(&text)
        .map(Some)
        .map_err(|e| BenchError::Parse { path, message: format!("not an lpzero benchmark manifest: {e}") })
}

/// Which family's benchmark `path` holds: the manifest's family, else the one family whose
/// recognition is strongest; several families that recognise only the layout are ambiguous.
pub fn recognise(path: &Path) -> Result<FamilyRef, BenchError> {
    if let Some(m) = read_manifest(path)? {
        return Ok(m.family);
    }
    let scores: Vec<(FamilyRef, Recognition)> = REGISTRY.iter().map(|f| (*f, f.recognise(path))).collect();
    let best = scores.iter().map(|(_, r)| *r).max().unwrap_or(Recognition::No);
    let top: Vec<FamilyRef> = scores.iter().filter(|(_, r)| *r == best).map(|(f, _)| *f).collect();
    match (best, &top[..]) {
        (Recognition::No, _) => Err(BenchError::Unknown {
            path: path.to_owned(),
            expected: REGISTRY.iter().map(|f| f.benchmark_hint()).collect::<Vec<_>>().join(", or "),
        }),
        (_, [one]) => Ok(*one),
        (_, many) => Err(BenchError::Ambiguous { path: path.to_owned(), families: many.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ") }),
    }
}

impl Benchmark {
    /// Loads a benchmark of `family`, or of the family its content shows.
    pub fn load(path: &Path, family: Option<FamilyRef>) -> Result<Benchmark, BenchError> {
        let manifest = read_manifest(path)?;
        let family = match (family, &manifest) {
            (Some(f), Some(m)) if f != m.family => {
                return Err(BenchError::Parse { path: path.to_owned(), message: format!("--family {f} does not match the benchmark's manifest, which says {}", m.family) })
            }
            (Some(f), _) => {
                if f.recognise(path) == Recognition::No {
                    return Err(BenchError::Unknown { path: path.to_owned(), expected: f.benchmark_hint().to_owned() });
                }
                f
            }
            (None, _) => recognise(path)?,
        };
        let data = family.load(path)?;
        let n = data.archs.len();
        if data.truth.len() != n || data.published_counts.len() != n {
            return Err(BenchError::Parse { path: path.to_owned(), message: "the loader returned inconsistent lists (a bug)".into() });
        }
        Ok(Benchmark {
            path: path.to_owned(),
            family,
            archs: data.archs,
            truth: data.truth,
            truth_name: data.truth_name,
            lower_is_better: data.lower_is_better,
            published_counts: data.published_counts,
            manifest,
        })
    }

    /// Number of architectures (finished or not).
    pub fn len(&self) -> usize {
        self.archs.len()
    }

    /// True when there are no architectures.
    pub fn is_empty(&self) -> bool {
        self.archs.is_empty()
    }

    /// The architecture ids, in benchmark order.
    pub fn ids(&self) -> Vec<String> {
        self.archs.iter().map(|a| a.id()).collect()
    }

    /// The position of an architecture id.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.archs.iter().position(|a| a.id() == id)
    }

    /// Ground truth of architecture `k` oriented so that higher is better (minus a perplexity),
    /// `None` when it has none.
    pub fn quality(&self, k: usize) -> Option<f64> {
        self.truth[k].map(|t| if self.lower_is_better { -t } else { t })
    }

    /// The architectures with ground truth, in benchmark order: what ranking and search use.
    pub fn scored(&self) -> Vec<usize> {
        (0..self.len()).filter(|&k| self.truth[k].is_some()).collect()
    }

    /// The ids of architectures without ground truth (training never finished).
    pub fn unfinished(&self) -> Vec<String> {
        (0..self.len()).filter(|&k| self.truth[k].is_none()).map(|k| self.archs[k].id()).collect()
    }

    /// A one-line warning naming the unfinished architectures, if any (commands that need ground
    /// truth skip them and print this once).
    pub fn unfinished_warning(&self) -> Option<String> {
        let u = self.unfinished();
        if u.is_empty() {
            return None;
        }
        let shown: Vec<&str> = u.iter().take(10).map(String::as_str).collect();
        let more = if u.len() > 10 { format!(" and {} more", u.len() - 10) } else { String::new() };
        Some(format!(
            "{}: {} of {} architectures have no {} (training unfinished) and are skipped: {}{more}",
            self.path.display(),
            u.len(),
            self.len(),
            self.truth_name,
            shown.join(", ")
        ))
    }
}

/// Where the shared benchmark data live, if anywhere: `$LPZERO_DATA`, else `../shared/data`
/// next to the crate. Tests that need the data skip when this is `None`.
pub fn shared_data_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("LPZERO_DATA").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data")),
    ];
    candidates.into_iter().flatten().find(|p| p.join("benchmarks").is_dir())
}

/// An architecture's parameter counts disagreeing with what its benchmark publishes.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CountMismatch {
    /// The architecture.
    pub id: String,
    /// The field.
    pub field: String,
    /// lpzero's count, from the declarations.
    pub ours: u64,
    /// The benchmark's.
    pub published: u64,
}

/// How lpzero's counts compare with a benchmark's published ones.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CountCheck {
    /// Architectures with published counts.
    pub archs: usize,
    /// Field comparisons made (architectures × fields both sides have).
    pub compared: usize,
    /// The comparisons that disagree.
    pub mismatches: Vec<CountMismatch>,
}

impl Benchmark {
    /// Every architecture's parameter counts (the family's fields), from the declarations.
    pub fn counts(&self, fidelity: crate::models::Fidelity) -> Result<Vec<Vec<(&'static str, u64)>>, crate::models::ModelError> {
        self.archs.iter().map(|a| a.counts(fidelity)).collect()
    }

    /// Compares counts (from [`Benchmark::counts`]) with the published ones, field by field
    /// where both have the field; `None` when the benchmark publishes none.
    pub fn check_counts(&self, counts: &[Vec<(&'static str, u64)>]) -> Option<CountCheck> {
        let mut check = CountCheck { archs: 0, compared: 0, mismatches: vec![] };
        for (k, published) in self.published_counts.iter().enumerate() {
            let Some(published) = published else { continue };
            check.archs += 1;
            for (field, theirs) in published {
                let Some((_, ours)) = counts[k].iter().find(|(f, _)| f == field) else { continue };
                check.compared += 1;
                if ours != theirs {
                    check.mismatches.push(CountMismatch { id: self.archs[k].id(), field: field.clone(), ours: *ours, published: *theirs });
                }
            }
        }
        (check.archs > 0).then_some(check)
    }
}
