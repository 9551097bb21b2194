//! Fitness: the rank correlation of a candidate's scores with ground truth on the search set —
//! Spearman ρ by default, as the paper; Kendall τ-b, the mean over k seeded folds, and a
//! parsimony term ([`Objective`]) for searches meant to generalise.
//!
//! The search set's inputs are gathered once and kept in memory (only the inputs the search
//! draws from). Each architecture has its own [`Interpreter`] for the whole search, whose memo
//! keeps the value of every sub-expression that is one scalar per entry (a branch such as
//! `mean(sq(W))`), so a branch shared by many candidates is computed once per architecture; tensor
//! intermediates are not kept, which bounds the memo to a few numbers per sub-expression.
//! Architectures are scored in parallel, one at a time per thread; the first invalid
//! architecture ends the evaluation (the reference did the same), so invalid candidates are
//! cheap.

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

/// How the fitness on several benchmarks' search sets becomes one number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// The worst benchmark's (a proxy must transfer to all of them).
    #[default]
    Worst,
    /// The mean over the benchmarks.
    Mean,
}

/// What a search maximises: the correlation of a candidate's scores with ground truth on the
/// search set, or its mean over `folds` seeded folds of it (every fold must be ranked well, not
/// the set on average), minus `parsimony` × the candidate's tree size; with several benchmarks,
/// that correlation on each one's search set, combined by `combine`. The default is the paper's
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
    /// How several benchmarks' values become one.
    #[serde(default)]
    pub combine: Combine,
}

impl Objective {
    /// True for the paper's objective.
    pub fn is_default(&self) -> bool {
        *self == Objective::default()
    }

    /// A short description for a search over `benchmarks` search sets: "Spearman ρ", "mean
    /// Kendall τ over 5 folds − 0.01 × size", "the worst over 2 benchmarks of Spearman ρ".
    pub fn describe(&self, benchmarks: usize) -> String {
        let c = match self.correlation {
            RankCorrelation::Spearman => "Spearman ρ",
            RankCorrelation::Kendall => "Kendall τ",
        };
        let mut s = if self.folds > 1 { format!("mean {c} over {} folds", self.folds) } else { c.to_owned() };
        if benchmarks > 1 {
            s = format!("{} over {benchmarks} benchmarks of {s}", if self.combine == Combine::Worst { "the worst" } else { "the mean" });
        }
        if self.parsimony != 0.0 {
            s.push_str(&format!(" − {} × size", self.parsimony));
        }
        s
    }

    /// Checks the settings for search sets of these sizes.
    pub fn check(&self, set_lens: &[usize]) -> Result<(), String> {
        if !self.parsimony.is_finite() || self.parsimony < 0.0 {
            return Err(format!("--parsimony must be a finite number ≥ 0, got {}", self.parsimony));
        }
        for &n in set_lens {
            if self.folds > 1 && n / self.folds < 3 {
                return Err(format!("--folds {} leaves fewer than 3 of the {n} search architectures in a fold", self.folds));
            }
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

/// The search set: one interpreter per architecture, and the ground truth; with several
/// benchmarks, their search sets one after another, each a [`Group`].
pub struct SearchSet<'a> {
    interps: Vec<Interpreter<'a>>,
    ids: Vec<String>,
    truth: Vec<f64>,
    objective: Objective,
    groups: Vec<Group>,
}

/// One benchmark's architectures in a search set.
#[derive(Clone, Debug)]
struct Group {
    /// Where its architectures are in the set.
    range: std::ops::Range<usize>,
    /// Its folds (positions within `range`), when the objective has folds.
    folds: Vec<Vec<usize>>,
}

impl<'a> SearchSet<'a> {
    /// A search set over gathered inputs (one per architecture) with their ids and ground truth
    /// (higher is better).
    pub fn new(inputs: &'a [ProxyInputs], ids: Vec<String>, truth: Vec<f64>) -> Self {
        let interps: Vec<Interpreter<'a>> = inputs.iter().map(|i| Interpreter::new(i).with_memo_budget(0)).collect();
        let n = interps.len();
        SearchSet { interps, ids, truth, objective: Objective::default(), groups: vec![Group { range: 0..n, folds: vec![] }] }
    }

    /// The same set as the search sets of several benchmarks, of these sizes, in order (they must
    /// add up to the set's size; ground truths need not share a scale, since each is correlated
    /// on its own).
    pub fn with_groups(mut self, sizes: &[usize]) -> Self {
        assert_eq!(sizes.iter().sum::<usize>(), self.len(), "the groups cover the search set");
        let mut start = 0;
        self.groups = sizes
            .iter()
            .map(|&k| {
                start += k;
                Group { range: start - k..start, folds: vec![] }
            })
            .collect();
        self
    }

    /// The same set scored by `objective` (each benchmark's folds drawn from `seed` and its
    /// position; the parsimony term is the search's, which knows the trees).
    pub fn with_objective(mut self, objective: Objective, seed: u64) -> Self {
        for (g, group) in self.groups.iter_mut().enumerate() {
            let fold_seed = if g == 0 { seed } else { seed ^ (g as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) };
            group.folds = if objective.folds > 1 { folds(group.range.len(), objective.folds, fold_seed) } else { vec![] };
        }
        self.objective = objective;
        self
    }

    /// Number of benchmarks in the set.
    pub fn benchmarks(&self) -> usize {
        self.groups.len()
    }

    /// Number of architectures.
    pub fn len(&self) -> usize {
        self.interps.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.interps.is_empty()
    }

    /// The candidate's scores on every architecture, or the reason it is invalid on the first
    /// architecture (in the set's order) where it is. Architectures are scored in parallel, each
    /// thread taking the next one as it finishes (their sizes differ a lot); once one is invalid,
    /// architectures after it are not scored, so an invalid candidate is cheap, and every one
    /// before it is, so the reason is the first one's whatever the threads' timing.
    pub fn scores(&mut self, typed: &Typed) -> Result<Vec<f64>, String> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let first_invalid = AtomicUsize::new(usize::MAX);
        let results: Vec<Option<Result<f64, _>>> = self
            .interps
            .par_iter_mut()
            .with_max_len(1)
            .enumerate()
            .map(|(i, it)| {
                if i > first_invalid.load(Ordering::Relaxed) {
                    return None;
                }
                let r = it.score(typed);
                if r.is_err() {
                    first_invalid.fetch_min(i, Ordering::Relaxed);
                }
                Some(r)
            })
            .collect();
        let mut scores = Vec::with_capacity(self.len());
        for (i, r) in results.into_iter().enumerate() {
            match r.expect("every architecture before the first invalid one is scored") {
                Ok(v) => scores.push(v),
                Err(e) => return Err(format!("architecture {}: {}", self.ids[i], e.reason)),
            }
        }
        Ok(scores)
    }

    /// The objective's correlation of the candidate's scores with ground truth (without the
    /// parsimony term): on each benchmark's search set (or the mean over its folds), combined
    /// over benchmarks; invalid when it is invalid on any architecture or gives a benchmark's
    /// architectures (or a fold of them) all the same score.
    pub fn fitness(&mut self, typed: &Typed) -> Fitness {
        let s = match self.scores(typed) {
            Err(reason) => return Fitness::Invalid(reason),
            Ok(s) => s,
        };
        let corr = |x: &[f64], y: &[f64]| match self.objective.correlation {
            RankCorrelation::Spearman => spearman(x, y),
            RankCorrelation::Kendall => kendall_tau_b(x, y),
        };
        let several = self.groups.len() > 1;
        let mut values = Vec::with_capacity(self.groups.len());
        for (g, group) in self.groups.iter().enumerate() {
            let (x, y) = (&s[group.range.clone()], &self.truth[group.range.clone()]);
            let of = if several { format!(" of benchmark {}", g + 1) } else { String::new() };
            if group.folds.is_empty() {
                match corr(x, y) {
                    Some(r) if r.is_finite() => values.push(r),
                    _ => return Fitness::Invalid(format!("the same score on every architecture{of}")),
                }
                continue;
            }
            let mut sum = 0.0;
            for (j, fold) in group.folds.iter().enumerate() {
                let fx: Vec<f64> = fold.iter().map(|&i| x[i]).collect();
                let fy: Vec<f64> = fold.iter().map(|&i| y[i]).collect();
                match corr(&fx, &fy) {
                    Some(r) if r.is_finite() => sum += r,
                    _ => return Fitness::Invalid(format!("the same score on every architecture of fold {}{of}", j + 1)),
                }
            }
            values.push(sum / group.folds.len() as f64);
        }
        Fitness::Rho(match self.objective.combine {
            Combine::Worst => values.iter().copied().fold(f64::INFINITY, f64::min),
            Combine::Mean => values.iter().sum::<f64>() / values.len() as f64,
        })
    }

    /// Spearman ρ of the candidate's scores on each benchmark's whole search set, whatever the
    /// objective (what reports show beside it).
    pub fn spearman(&mut self, typed: &Typed) -> Vec<Option<f64>> {
        let Ok(s) = self.scores(typed) else { return vec![None; self.groups.len()] };
        self.groups.iter().map(|g| spearman(&s[g.range.clone()], &self.truth[g.range.clone()])).collect()
    }
}
