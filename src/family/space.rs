//! Search spaces of architectures, as the family interface sees them: the [`ArchSpace`] trait
//! each family's space type implements, the dimension type space files are written in, and
//! seeded sampling of distinct architectures.
//!
//! A dimension is either a list of choices (`d_model: [64, 128]`) or an integer range
//! (`n_layer: {min: 2, max: 16}`, optional `step`).

use super::{Arch, FamilyRef};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One dimension: explicit choices or an integer range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Dim {
    /// Any of these values.
    Choices(Vec<usize>),
    /// `min..=max` in steps of `step` (default 1).
    Range {
        /// Smallest value.
        min: usize,
        /// Largest value.
        max: usize,
        /// Step between values.
        #[serde(default = "one")]
        step: usize,
    },
}

fn one() -> usize {
    1
}

impl Dim {
    /// Every value the dimension allows, ascending as written.
    pub fn values(&self) -> Vec<usize> {
        match self {
            Dim::Choices(v) => v.clone(),
            Dim::Range { min, max, step } => (*min..=*max).step_by((*step).max(1)).collect(),
        }
    }

    /// One value drawn uniformly from `rng`.
    pub fn pick(&self, rng: &mut ChaCha8Rng) -> usize {
        let v = self.values();
        v[rng.random_range(0..v.len())]
    }

    /// Checks that the dimension offers at least one value, all positive.
    pub fn check(&self, name: &str) -> Result<(), String> {
        let v = self.values();
        if v.is_empty() || v.contains(&0) {
            return Err(format!("{name} must offer at least one value, all positive"));
        }
        Ok(())
    }
}

/// A problem with a space file.
#[derive(Debug, thiserror::Error)]
pub enum SpaceError {
    /// The file cannot be read.
    #[error("cannot read space file {path}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file does not parse, or its values are inconsistent.
    #[error("space {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl SpaceError {
    /// A parse error of `origin`.
    pub fn parse(origin: &str, message: impl Into<String>) -> SpaceError {
        SpaceError::Parse { path: origin.to_owned(), message: message.into() }
    }
}

/// A search space of one family: what `bench build` samples architectures from.
pub trait ArchSpace: std::fmt::Debug + Send + Sync {
    /// The family of its architectures.
    fn family(&self) -> FamilyRef;
    /// Its name (reports, manifests).
    fn name(&self) -> &str;
    /// `n` distinct architectures from one seeded generator. The first `m` of a sample of
    /// `n > m` are the sample of `m`, so a build can be extended. Fails when the space has fewer
    /// than `n` distinct architectures within a generous number of draws.
    fn sample(&self, n: usize, seed: u64) -> Result<Vec<Arc<dyn Arch>>, SpaceError>;
    /// The space as data, its `family` field included, in the file's field order (the manifest
    /// and the built-in benchmarks' folder names are made from it).
    fn to_json(&self) -> serde_json::Value;
}

/// Draws `n` distinct architectures: `draw(i, rng)` makes candidate `i` (its key from the number
/// found so far), duplicates by definition are drawn again. Shared by the families' samplers.
pub fn sample_distinct<A: crate::family::Arch>(
    origin: &str,
    n: usize,
    rng: &mut ChaCha8Rng,
    mut draw: impl FnMut(usize, &mut ChaCha8Rng) -> A,
    same: impl Fn(&A, &A) -> bool,
) -> Result<Vec<Arc<dyn Arch>>, SpaceError> {
    let mut out: Vec<A> = Vec::with_capacity(n);
    let mut draws = 0usize;
    while out.len() < n {
        draws += 1;
        if draws > 1000 * n.max(1) {
            return Err(SpaceError::parse(origin, format!("fewer than {n} distinct architectures found in {draws} draws")));
        }
        let a = draw(out.len(), rng);
        if !out.iter().any(|b| same(b, &a)) {
            out.push(a);
        }
    }
    Ok(out.into_iter().map(|a| Arc::new(a) as Arc<dyn Arch>).collect())
}

