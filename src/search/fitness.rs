//! Fitness: Spearman ρ of a candidate's scores against ground truth on the search set.
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
use crate::stats::spearman;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// A candidate's fitness.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fitness {
    /// Spearman ρ on the search set.
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
}

impl<'a> SearchSet<'a> {
    /// A search set over gathered inputs (one per architecture) with their ids and ground truth
    /// (higher is better).
    pub fn new(inputs: &'a [ProxyInputs], ids: Vec<String>, truth: Vec<f64>) -> Self {
        let interps = inputs.iter().map(|i| Interpreter::new(i).with_memo_budget(0)).collect();
        let chunk = (rayon::current_num_threads() * 2).max(2);
        SearchSet { interps, ids, truth, chunk }
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

    /// Spearman ρ of the candidate's scores against ground truth; invalid when it is invalid on
    /// any architecture or gives them all the same score.
    pub fn fitness(&mut self, typed: &Typed) -> Fitness {
        match self.scores(typed) {
            Err(reason) => Fitness::Invalid(reason),
            Ok(s) => match spearman(&s, &self.truth) {
                Some(r) if r.is_finite() => Fitness::Rho(r),
                _ => Fitness::Invalid("the same score on every architecture".into()),
            },
        }
    }
}
