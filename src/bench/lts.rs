//! The benchmark layout of the Lightweight Transformer Search (LTS), which more than one family
//! uses: `config_<c>/j<j>/model_config.yaml` per architecture, keyed `config_<c>_j<j>`, with
//! `ppl_summary.yaml` (ground truth per key: `valid_ppl`, lower is better) and
//! `params_summary.yaml` (the published parameter counts per key) at the top. Also the archai
//! config conventions both families follow ([`PerLayer`], [`check_cutoffs`]).
//!
//! Real LTS folders hold architectures whose training never finished: a config without a
//! `ppl_summary.yaml` entry, or with an entry that has no finite positive `valid_ppl`. Those are
//! read as architectures without ground truth (`valid_ppl: None`), never as an error.

use super::error::BenchError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One architecture's run as the layout stores it.
pub struct Run {
    /// `config_<c>_j<j>`.
    pub key: String,
    /// Its `model_config.yaml`.
    pub config_path: PathBuf,
    /// That file's text.
    pub config_text: String,
    /// Its validation perplexity, when the run finished.
    pub valid_ppl: Option<f64>,
    /// Its published parameter counts (the requested fields, in order), when listed.
    pub counts: Option<Vec<(String, u64)>>,
}

/// Reads a file.
pub fn read(path: &Path) -> Result<String, BenchError> {
    std::fs::read_to_string(path).map_err(|source| BenchError::Io { path: path.to_owned(), source })
}

fn yaml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, BenchError> {
    serde_norway::from_str(&read(path)?).map_err(|e| BenchError::Parse { path: path.to_owned(), message: e.to_string() })
}

/// `n` from a folder name `<prefix><n>`.
fn numbered(name: &str, prefix: &str) -> Option<usize> {
    name.strip_prefix(prefix)?.parse().ok()
}

/// Every `config_<c>/j<j>/model_config.yaml` under `dir`, sorted by (c, j).
pub fn config_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, BenchError> {
    let mut found = vec![];
    let entries = std::fs::read_dir(dir).map_err(|source| BenchError::Io { path: dir.to_owned(), source })?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(c) = numbered(&name, "config_") else { continue };
        let Ok(jobs) = std::fs::read_dir(e.path()) else { continue };
        for j in jobs.flatten() {
            let jname = j.file_name().to_string_lossy().into_owned();
            let Some(jn) = numbered(&jname, "j") else { continue };
            let cfg = j.path().join("model_config.yaml");
            if cfg.exists() {
                found.push((c, jn, cfg));
            }
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(c, j, p)| (format!("config_{c}_j{j}"), p)).collect())
}

/// Whether `dir` has the layout: a `ppl_summary.yaml` or at least one config folder.
pub fn has_layout(dir: &Path) -> bool {
    dir.is_dir() && (dir.join("ppl_summary.yaml").exists() && config_files(dir).is_ok_and(|f| !f.is_empty()))
}

/// The text of the first architecture's config, for recognising which family wrote the folder.
pub fn first_config(dir: &Path) -> Option<String> {
    let files = config_files(dir).ok()?;
    std::fs::read_to_string(&files.first()?.1).ok()
}

/// Reads every run of the layout under `dir`, with its ground truth and the published counts of
/// `fields` (a missing `params_summary.yaml` or entry gives `None`).
pub fn load(dir: &Path, fields: &[&str]) -> Result<Vec<Run>, BenchError> {
    let ppl_path = dir.join("ppl_summary.yaml");
    let ppl: BTreeMap<String, serde_norway::Value> = yaml(&ppl_path)?;
    let params_path = dir.join("params_summary.yaml");
    let params: BTreeMap<String, BTreeMap<String, f64>> = if params_path.exists() { yaml(&params_path)? } else { BTreeMap::new() };
    let files = config_files(dir)?;
    if files.is_empty() {
        return Err(BenchError::Unknown { path: dir.to_owned(), expected: "config_*/j*/model_config.yaml files".into() });
    }
    let mut runs = Vec::with_capacity(files.len());
    for (key, path) in files {
        let valid_ppl = ppl.get(&key).and_then(|e| e.get("valid_ppl")).and_then(serde_norway::Value::as_f64).filter(|v| v.is_finite() && *v > 0.0);
        let counts = params.get(&key).and_then(|m| fields.iter().map(|f| m.get(*f).map(|v| (f.to_string(), v.round() as u64))).collect::<Option<Vec<_>>>());
        let config_text = read(&path)?;
        runs.push(Run { key, config_path: path, config_text, valid_ppl, counts });
    }
    Ok(runs)
}

/// The directory of a key: `config_<c>_j<j>` → `config_<c>/j<j>`.
pub fn key_dir(root: &Path, key: &str) -> PathBuf {
    match key.rsplit_once("_j") {
        Some((config, job)) => root.join(config).join(format!("j{job}")),
        None => root.join(key),
    }
}

/// One row of `ppl_summary.yaml` as `bench build` writes it.
#[derive(Serialize)]
pub struct PplRow {
    /// Validation perplexity.
    pub valid_ppl: f64,
    /// Its logarithm, the mean validation loss.
    pub valid_loss: f64,
    /// Training steps.
    pub steps: usize,
    /// Seconds of training and validation.
    pub train_seconds: f64,
}

/// Writes `ppl_summary.yaml` and `params_summary.yaml` from the finished, not diverged,
/// architectures of a build: per key the perplexity row and the counts by field (the
/// architectures' own declarations).
pub fn write_summaries(dir: &Path, done: &[(&dyn crate::family::Arch, &crate::train::result::ArchResult)]) -> std::io::Result<()> {
    let mut ppl = BTreeMap::new();
    let mut params = BTreeMap::new();
    for (arch, r) in done.iter().filter(|(_, r)| !r.diverged) {
        ppl.insert(r.key.clone(), PplRow { valid_ppl: r.valid_ppl, valid_loss: r.valid_loss, steps: r.steps, train_seconds: r.seconds });
        let counts = arch.counts(crate::models::Fidelity::Trained).map_err(std::io::Error::other)?;
        params.insert(r.key.clone(), counts.into_iter().collect::<BTreeMap<&str, u64>>());
    }
    crate::fsutil::write_atomic(&dir.join("ppl_summary.yaml"), serde_norway::to_string(&ppl).expect("a plain map").as_bytes())?;
    crate::fsutil::write_atomic(&dir.join("params_summary.yaml"), serde_norway::to_string(&params).expect("a plain map").as_bytes())
}

/// A per-layer setting as archai configs write it: one value for every layer, or a list. A list
/// longer than the number of layers is cut; a shorter one is padded with copies of its **first**
/// element (archai's rule).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum PerLayer<T> {
    /// The same value in every layer.
    One(T),
    /// One value per layer.
    Many(Vec<T>),
}

impl<T: Clone> PerLayer<T> {
    /// The values of `n` layers.
    pub fn per_layer(&self, n: usize) -> Result<Vec<T>, String> {
        match self {
            PerLayer::One(v) => Ok(vec![v.clone(); n]),
            PerLayer::Many(v) if v.is_empty() => Err("an empty list".into()),
            PerLayer::Many(v) => Ok((0..n).map(|i| v.get(i).unwrap_or(&v[0]).clone()).collect()),
        }
    }
}

/// Checks stored cut-offs as archai cleans them: walking from the second entry, the first entry
/// above `n_token` ends the list (it and the rest are dropped); before that, every entry must be
/// larger than the one before.
pub fn check_cutoffs(cutoffs: &[usize], n_token: usize) -> Result<(), String> {
    for w in cutoffs.windows(2) {
        if w[1] > n_token {
            break;
        }
        if w[1] <= w[0] {
            return Err(format!("cutoffs must increase, but {} follows {}", w[1], w[0]));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_layer_lists_are_padded_with_their_first_value_or_cut() {
        assert_eq!(PerLayer::One(4).per_layer(3).unwrap(), vec![4, 4, 4]);
        assert_eq!(PerLayer::Many(vec![2, 8]).per_layer(4).unwrap(), vec![2, 8, 2, 2]);
        assert_eq!(PerLayer::Many(vec![2, 8, 4, 1]).per_layer(2).unwrap(), vec![2, 8]);
        assert!(PerLayer::<usize>::Many(vec![]).per_layer(2).is_err());
    }

    #[test]
    fn cutoffs_may_end_beyond_the_vocabulary_but_must_increase_before() {
        assert!(check_cutoffs(&[19997, 39997, 199997, 50264], 50264).is_ok());
        assert!(check_cutoffs(&[19997, 39997, 199997, 267736], 267736).is_ok());
        assert!(check_cutoffs(&[10, 5, 20], 50).unwrap_err().contains("5 follows 10"));
        assert!(check_cutoffs(&[], 50).is_ok());
    }

    #[test]
    fn unfinished_runs_have_no_ground_truth() {
        let dir = std::env::temp_dir().join(format!("lpzero-lts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for key in ["config_0/j0", "config_0/j1", "config_1/j0", "config_10/j2"] {
            std::fs::create_dir_all(dir.join(key)).unwrap();
            std::fs::write(dir.join(key).join("model_config.yaml"), "n_layer: 1\n").unwrap();
        }
        // j1: no entry; config_1_j0: an entry without valid_ppl (training stopped).
        std::fs::write(dir.join("ppl_summary.yaml"), "config_0_j0:\n  valid_ppl: 30.5\nconfig_1_j0:\n  test_ppl: 3.0\nconfig_10_j2:\n  valid_ppl: .nan\n").unwrap();
        let runs = load(&dir, &["total"]).unwrap();
        let got: Vec<(String, Option<f64>)> = runs.iter().map(|r| (r.key.clone(), r.valid_ppl)).collect();
        assert_eq!(
            got,
            vec![("config_0_j0".into(), Some(30.5)), ("config_0_j1".into(), None), ("config_1_j0".into(), None), ("config_10_j2".into(), None)]
        );
        assert!(runs.iter().all(|r| r.counts.is_none()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
