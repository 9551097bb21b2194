//! The reference implementation's own per-architecture proxy values, where the benchmark folder
//! has them (`reference_proxy_scores.csv` beside the FlexiBERT JSON, `reference_scores/` in the
//! GPT-2 directory), to compare lpzero's proxies with.

use super::Benchmark;
use crate::stats::{correlate, spearman, Correlation};
use serde::Serialize;
use std::collections::BTreeMap;

/// The stdlib proxy names and the reference's name for the same measure.
const FLEXIBERT_COLUMNS: &[(&str, &str)] = &[
    ("synaptic_diversity", "Synaptic Diversity"),
    ("synaptic_saliency", "Synaptic Saliency"),
    ("activation_distance", "Activation Distance"),
    ("head_importance", "Head Importance"),
    ("head_confidence", "Head Confidence"),
    ("softmax_confidence", "Head Softmax Confidence"),
    ("params", "Number of Parameters"),
    ("lpzero_flexibert", "lpzero"),
];

const GPT2_FILES: &[(&str, &str)] = &[
    ("snip", "snip"),
    ("grad_norm", "grad_norm"),
    ("synaptic_diversity", "synaptic_diversity"),
    ("synaptic_saliency", "synaptic_saliency"),
    ("fisher", "fisher"),
    ("activation_distance", "activation_distance"),
    ("attention_confidence", "attention_confidence"),
    ("head_confidence", "head_confidence"),
    ("head_importance", "head_importance"),
    ("params", "num_parameters"),
    ("lpzero_gpt2", "lpzero"),
];

/// Reference values per proxy name, per architecture id.
pub struct ReferenceScores {
    values: BTreeMap<String, BTreeMap<String, f64>>,
}

/// How lpzero's proxy compares with the reference's values of the same measure, on the same
/// architectures.
#[derive(Clone, Debug, Serialize)]
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

impl ReferenceScores {
    /// Loads the reference values that sit beside a benchmark, if any.
    pub fn find(bench: &Benchmark) -> Option<ReferenceScores> {
        let mut values = BTreeMap::new();
        match bench {
            Benchmark::Flexibert { path, .. } => {
                let text = std::fs::read_to_string(path.with_file_name("reference_proxy_scores.csv")).ok()?;
                let mut lines = text.lines();
                let header: Vec<&str> = lines.next()?.split(',').map(str::trim).collect();
                let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').map(str::trim).collect()).collect();
                for (ours, theirs) in FLEXIBERT_COLUMNS {
                    let Some(col) = header.iter().position(|h| h == theirs) else { continue };
                    let m: BTreeMap<String, f64> =
                        rows.iter().filter_map(|r| Some((r.first()?.to_string(), r.get(col)?.parse().ok()?))).collect();
                    values.insert((*ours).to_owned(), m);
                }
            }
            Benchmark::Gpt2 { dir, .. } => {
                for (ours, theirs) in GPT2_FILES {
                    let path = dir.join(format!("reference_scores/{theirs}_scores_seed_1111.yaml"));
                    let Ok(text) = std::fs::read_to_string(path) else { continue };
                    let Ok(m) = serde_norway::from_str::<BTreeMap<String, f64>>(&text) else { continue };
                    values.insert((*ours).to_owned(), m);
                }
            }
        }
        (!values.is_empty()).then_some(ReferenceScores { values })
    }

    /// Compares a proxy's scores with the reference's values of the same measure.
    pub fn compare(&self, proxy: &str, ids: &[String], truth: &[f64], scores: &[Option<f64>]) -> Option<Comparison> {
        let m = self.values.get(proxy)?;
        let theirs: Vec<Option<f64>> = ids.iter().map(|id| m.get(id).copied()).collect();
        let c: Correlation = correlate(&theirs, truth);
        let (a, b): (Vec<f64>, Vec<f64>) = scores.iter().zip(&theirs).filter_map(|(x, y)| Some(((*x)?, (*y)?))).unzip();
        Some(Comparison { name: proxy.to_owned(), spearman: c.spearman, kendall: c.kendall, agreement: spearman(&a, &b) })
    }
}
