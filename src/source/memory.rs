//! Architectures whose inputs are already in memory (handed over by an embedding program or the
//! Python package) as a [`Source`].

use super::{Fetched, Source, SourceError, SourceInfo};
use crate::eval::ProxyInputs;
use crate::lang::table::InputId;
use crate::rank::Baseline;

/// Inputs in memory, with ids, ground truth (higher is better) and baselines.
pub struct MemorySource {
    /// Each architecture's inputs.
    pub inputs: Vec<ProxyInputs>,
    /// Their ids.
    pub ids: Vec<String>,
    /// Their ground truth, higher is better.
    pub truth: Vec<f64>,
    /// Architecture-only baselines, a value per architecture.
    pub baselines: Vec<Baseline>,
    /// What the source is, for reports.
    pub info: SourceInfo,
}

/// Inconsistent lengths.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MemoryError(pub String);

impl MemorySource {
    /// Checks that every list has one value per architecture and the ground truth is finite.
    pub fn new(inputs: Vec<ProxyInputs>, ids: Vec<String>, truth: Vec<f64>, baselines: Vec<Baseline>, info: SourceInfo) -> Result<MemorySource, MemoryError> {
        let n = inputs.len();
        if ids.len() != n || truth.len() != n {
            return Err(MemoryError(format!("{n} inputs, {} ids and {} ground-truth values: one of each per architecture", ids.len(), truth.len())));
        }
        if let Some(k) = truth.iter().position(|t| !t.is_finite()) {
            return Err(MemoryError(format!("the ground truth of `{}` is {}", ids[k], truth[k])));
        }
        if let Some(b) = baselines.iter().find(|b| b.scores.len() != n) {
            return Err(MemoryError(format!("baseline `{}` has {} values for {n} architectures", b.name, b.scores.len())));
        }
        Ok(MemorySource { inputs, ids, truth, baselines, info })
    }
}

impl Source for MemorySource {
    fn len(&self) -> usize {
        self.inputs.len()
    }
    fn id(&self, k: usize) -> String {
        self.ids[k].clone()
    }
    fn truth(&self, k: usize) -> f64 {
        self.truth[k]
    }
    fn fetch(&self, k: usize, _need: &[InputId]) -> Result<Fetched, SourceError> {
        Ok(Fetched { inputs: self.inputs[k].clone(), seconds: 0.0, cached: false })
    }
    fn parallelism(&self) -> usize {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    }
    fn baselines(&self) -> Vec<Baseline> {
        self.baselines.clone()
    }
    fn info(&self) -> SourceInfo {
        self.info.clone()
    }
}
