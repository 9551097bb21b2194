//! Fitness: the rank correlation of a candidate's scores with ground truth on the search set —
//! Spearman ρ by default, as the paper; Kendall τ-b, the mean over k seeded folds, and a
//! parsimony term ([`Objective`]) for searches meant to generalise.
//!
//! The search set's inputs are gathered once and kept in memory (only the inputs the search
//! draws from). Each architecture has its own [`Interpreter`] for the whole search, whose memo
//! keeps the value of every sub-expression that is one scalar per entry (a branch such as
//! `mean(sq(W))`), so a branch shared by many candidates is computed once per architecture; tensor
//! intermediates are not kept, which bounds the memo to a few numbers per sub-expression.
//! Architectures are scored in parallel, in chunks; the first invalid architecture ends the
//! evaluation (the reference did the same), so invalid candidates are cheap.

use crate::eval::{Interpreter, ProxyInputs};
use crate::lang::check::Typed;
use crate::stats::{kendall_tau_b, spearman};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The rank correlation a search maximises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankCorrelation {
    /// Spearman ρ (the paper's).
    #[default]
    Spearman,
    /// Kendall τ-b (less swayed by a few far-off architectures).
    Kendall,
}

/// What a search maximises: the correlation of a candidate's scores with ground truth on the
/// search set, or its mean over `folds` seeded folds of it (every fold must be ranked well, not
/// the set on average), minus `parsimony` × the candidate's tree size. The default is the paper's
/// (Spearman ρ on the whole set, no penalty).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    /// Which correlation.
    #[serde(default)]
    pub correlation: RankCorrelation,
    /// Folds of the search set (0 or 1: the whole set).
    #[serde(default)]
    pub folds: usize,
    /// Subtracted per node of the candidate's syntax tree.
    #[serde(default)]
    pub parsimony: f64,
}

impl Objective {
    /// True for the paper's objective.
    pub fn is_default(&self) -> bool {
        *self == Objective::default()
    }

    /// A short description: "Spearman ρ", "mean Kendall τ over 5 folds − 0.01 × size".
    pub fn describe(&self) -> String {
        let c = match self.correlation {
            RankCorrelation::Spearman => "Spearman ρ",
            RankCorrelation::Kendall => "Kendall τ",
        };
        let mut s = if self.folds > 1 { format!("mean {c} over {} folds", self.folds) } else { c.to_owned() };
        if self.parsimony != 0.0 {
            s.push_str(&format!(" − {} × size", self.parsimony));
        }
        s
    }

    /// Checks the settings.
    pub fn check(&self, set_len: usize) -> Result<(), String> {
        if !self.parsimony.is_finite() || self.parsimony < 0.0 {
            return Err(format!("--parsimony must be a finite number ≥ 0, got {}", self.parsimony));
        }
        if self.folds > 1 && set_len / self.folds < 3 {
            return Err(format!("--folds {} leaves fewer than 3 of the {set_len} search architectures in a fold", self.folds));
        }
        Ok(())
    }
}

/// The seeded folds of `n` architectures: `k` disjoint index sets of sizes differing by at most
/// one, covering all.
pub fn folds(n: usize, k: usize, seed: u64) -> Vec<Vec<usize>> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0xf01d));
    let mut out = vec![vec![]; k.max(1)];
    for (j, i) in idx.into_iter().enumerate() {
        out[j % k.max(1)].push(i);
    }
    for f in &mut out {
        f.sort_unstable();
    }
    out
}

/// A candidate's fitness.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fitness {
    /// The objective's value on the search set (Spearman ρ with the default [`Objective`]).
    Rho(f64),
    /// Invalid on some architecture, or constant: the worst fitness.
    Invalid(String),
}

impl Fitness {
    /// The value used to order candidates: ρ, or −∞ when invalid.
    pub fn value(&self) -> f64 {
        match self {
            Fitness::Rho(r) => *r,
            Fitness::Invalid(_) => f64::NEG_INFINITY,
        }
    }

    /// ρ when valid.
    pub fn rho(&self) -> Option<f64> {
        match self {
            Fitness::Rho(r) => Some(*r),
            Fitness::Invalid(_) => None,
        }
    }
}

/// The search set: one interpreter per architecture, and the ground truth.
pub struct SearchSet<'a> {
    interps: Vec<Interpreter<'a>>,
    ids: Vec<String>,
    truth: Vec<f64>,
    chunk: usize,
    objective: Objective,
    folds: Vec<Vec<usize>>,
}

impl<'a> SearchSet<'a> {
    /// A search set over gathered inputs (one per architecture) with their ids and ground truth
    /// (higher is better).
    pub fn new(inputs: &'a [ProxyInputs], ids: Vec<String>, truth: Vec<f64>) -> Self {
        let interps = inputs.iter().map(|i| Interpreter::new(i).with_memo_budget(0)).collect();
        let chunk = (rayon::current_num_threads() * 2).max(2);
        SearchSet { interps, ids, truth, chunk, objective: Objective::default(), folds: vec![] }
    }

    /// The same set scored by `objective` (folds drawn from `seed`; the parsimony term is the
    /// search's, which knows the trees).
    pub fn with_objective(mut self, objective: Objective, seed: u64) -> Self {
        self.folds = if objective.folds > 1 { folds(self.len(), objective.folds, seed) } else { vec![] };
        self.objective = objective;
        self
    }

    /// Number of architectures.
    pub fn len(&self) -> usize {
        self.interps.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.interps.is_empty()
    }

    /// The candidate's scores on every architecture, or the first reason it is invalid.
    pub fn scores(&mut self, typed: &Typed) -> Result<Vec<f64>, String> {
        let mut scores = Vec::with_capacity(self.len());
        for (c, chunk) in self.interps.chunks_mut(self.chunk).enumerate() {
            let results: Vec<_> = chunk.par_iter_mut().map(|it| it.score(typed)).collect();
            for (k, r) in results.into_iter().enumerate() {
                match r {
                    Ok(v) => scores.push(v),
                    Err(e) => return Err(format!("architecture {}: {}", self.ids[c * self.chunk + k], e.reason)),
                }
            }
        }
        Ok(scores)
    }

    /// The objective's correlation of the candidate's scores with ground truth (without the
    /// parsimony term); invalid when it is invalid on any architecture or gives them (or a fold of
    /// them) all the same score.
    pub fn fitness(&mut self, typed: &Typed) -> Fitness {
        let s = match self.scores(typed) {
            Err(reason) => return Fitness::Invalid(reason),
            Ok(s) => s,
        };
        let corr = |x: &[f64], y: &[f64]| match self.objective.correlation {
            RankCorrelation::Spearman => spearman(x, y),
            RankCorrelation::Kendall => kendall_tau_b(x, y),
        };
        if self.folds.is_empty() {
            return match corr(&s, &self.truth) {
                Some(r) if r.is_finite() => Fitness::Rho(r),
                _ => Fitness::Invalid("the same score on every architecture".into()),
            };
        }
        let mut sum = 0.0;
        for (j, fold) in self.folds.iter().enumerate() {
            let x: Vec<f64> = fold.iter().map(|&i| s[i]).collect();
            let y: Vec<f64> = fold.iter().map(|&i| self.truth[i]).collect();
            match corr(&x, &y) {
                Some(r) if r.is_finite() => sum += r,
                _ => return Fitness::Invalid(format!("the same score on every architecture of fold {}", j + 1)),
            }
        }
        Fitness::Rho(sum / self.folds.len() as f64)
    }

    /// Spearman ρ of the candidate's scores on the whole set, whatever the objective (what
    /// reports show beside it).
    pub fn spearman(&mut self, typed: &Typed) -> Option<f64> {
        self.scores(typed).ok().and_then(|s| spearman(&s, &self.truth))
    }
}
