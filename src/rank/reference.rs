//! The reference implementation's own per-architecture proxy values, where a benchmark folder
//! has them (each family says where, [`crate::family::Family::reference_scores`]), to compare
//! lpzero's proxies with.

use crate::stats::{correlate, spearman, Correlation};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Reference values per proxy name, per architecture id.
#[derive(Clone, Debug, Default)]
pub struct ReferenceScores {
    values: BTreeMap<String, BTreeMap<String, f64>>,
}

/// How lpzero's proxy compares with the reference's values of the same measure, on the same
/// architectures.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Comparison {
    /// The reference measure's name.
    pub name: String,
    /// Spearman of the reference's values with ground truth (higher-is-better orientation).
    pub spearman: Option<f64>,
    /// Kendall τ-b of the same.
    pub kendall: Option<f64>,
    /// Spearman between lpzero's scores and the reference's, per architecture.
    pub agreement: Option<f64>,
}

impl Comparison {
    /// The comparison of `scores` with the reference's values `theirs` on the same architectures.
    pub fn of(proxy: &str, theirs: &[Option<f64>], truth: &[f64], scores: &[Option<f64>]) -> Comparison {
        let c: Correlation = correlate(theirs, truth);
        let (a, b): (Vec<f64>, Vec<f64>) = scores.iter().zip(theirs).filter_map(|(x, y)| Some(((*x)?, (*y)?))).unzip();
        Comparison { name: proxy.to_owned(), spearman: c.spearman, kendall: c.kendall, agreement: spearman(&a, &b) }
    }
}

impl ReferenceScores {
    /// Reads columns of a CSV file whose first column is the architecture id: `columns` pairs a
    /// stdlib proxy name with the reference's column header. `None` when nothing was read.
    pub fn from_csv(path: &Path, columns: &[(&str, &str)]) -> Option<ReferenceScores> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next()?.split(',').map(str::trim).collect();
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').map(str::trim).collect()).collect();
        let mut values = BTreeMap::new();
        for (ours, theirs) in columns {
            let Some(col) = header.iter().position(|h| h == theirs) else { continue };
            let m: BTreeMap<String, f64> = rows.iter().filter_map(|r| Some((r.first()?.to_string(), r.get(col)?.parse().ok()?))).collect();
            values.insert((*ours).to_owned(), m);
        }
        (!values.is_empty()).then_some(ReferenceScores { values })
    }

    /// Reads one YAML map (id → value) per proxy: `files` pairs a stdlib proxy name with the
    /// file's path. `None` when nothing was read.
    pub fn from_yaml_maps(files: &[(&str, std::path::PathBuf)]) -> Option<ReferenceScores> {
        let mut values = BTreeMap::new();
        for (ours, path) in files {
            let Ok(text) = std::fs::read_to_string(path) else { continue };
            let Ok(m) = serde_norway::from_str::<BTreeMap<String, f64>>(&text) else { continue };
            values.insert((*ours).to_owned(), m);
        }
        (!values.is_empty()).then_some(ReferenceScores { values })
    }

    /// Compares a proxy's scores with the reference's values of the same measure.
    pub fn compare(&self, proxy: &str, ids: &[String], truth: &[f64], scores: &[Option<f64>]) -> Option<Comparison> {
        Some(Comparison::of(proxy, &self.values_of(proxy, ids)?, truth, scores))
    }

    /// The reference's values of a measure on architectures `ids` (`None` where it has none),
    /// or `None` when it does not publish that measure.
    pub fn values_of(&self, proxy: &str, ids: &[String]) -> Option<Vec<Option<f64>>> {
        let m = self.values.get(proxy)?;
        Some(ids.iter().map(|id| m.get(id).copied()).collect())
    }

    /// The reference's value of a measure on one architecture.
    pub fn value(&self, proxy: &str, id: &str) -> Option<f64> {
        self.values.get(proxy)?.get(id).copied()
    }
}
