//! The paired percentile bootstrap: resample architectures with replacement (as indices, so every
//! variable of an architecture travels together), recompute a statistic on each resample, and
//! report the percentile interval of the defined values.
//!
//! Method, once for every interval in this module tree:
//! * **Draws.** A resample is `n` indices drawn uniformly with replacement from `0..n` by
//!   `ChaCha8Rng::seed_from_u64(seed)`; resample `b` is the `b`-th block of `n` draws. The
//!   indices depend only on `(seed, n)`, so two statistics bootstrapped with the same seed over the
//!   same architectures see the same resamples: their intervals are *paired*.
//! * **Ties.** A resample repeats architectures, so its values are tied even where the data have
//!   none. Rank statistics recompute average ranks on every resample (a repeated architecture is
//!   tied with itself), as `scipy.stats.bootstrap` with `spearmanr` does.
//! * **Degenerate resamples.** A resample on which the statistic is undefined (constant ranks, a
//!   control that explains a variable exactly, …) is left out of the percentiles and not counted
//!   in [`Interval::defined`]. Leaving it out conditions the interval on a defined statistic; when
//!   fewer than half the resamples are defined the interval is not given at all (`None` bounds):
//!   the statistic is then too fragile on these data for an interval to mean anything.
//! * **Percentiles.** The bounds are the `(1 − level)/2` and `(1 + level)/2` quantiles of the
//!   defined values with linear interpolation between order statistics (numpy's default,
//!   `np.percentile(v, [2.5, 97.5])` at 95 %). No bias correction or acceleration.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::pearson;

/// The default confidence level of the intervals: 95 %.
pub const DEFAULT_LEVEL: f64 = 0.95;

/// The default number of bootstrap resamples.
pub const DEFAULT_RESAMPLES: usize = 1000;

/// A percentile bootstrap interval of one statistic.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interval {
    /// The statistic on the whole sample (`None` if undefined there).
    pub estimate: Option<f64>,
    /// The lower bound; `None` when fewer than half the resamples gave a defined value.
    pub lower: Option<f64>,
    /// The upper bound; `None` exactly when `lower` is.
    pub upper: Option<f64>,
    /// The confidence level, e.g. 0.95.
    pub level: f64,
    /// Resamples drawn.
    pub resamples: usize,
    /// Resamples on which the statistic was defined (the values the bounds are taken from).
    pub defined: usize,
}

impl Interval {
    /// Both bounds, when the interval exists.
    pub fn bounds(&self) -> Option<(f64, f64)> {
        self.lower.zip(self.upper)
    }

    /// Whether the whole interval lies strictly above `value` (`false` without an interval).
    pub fn above(&self, value: f64) -> bool {
        self.lower.is_some_and(|l| l > value)
    }

    /// Whether the whole interval lies strictly below `value` (`false` without an interval).
    pub fn below(&self, value: f64) -> bool {
        self.upper.is_some_and(|u| u < value)
    }

    /// Builds the interval from the whole-sample estimate and the per-resample values.
    pub(crate) fn from_values(estimate: Option<f64>, values: &mut [f64], resamples: usize, level: f64) -> Interval {
        let defined = values.len();
        let usable = level > 0.0 && level < 1.0 && defined > 0 && 2 * defined >= resamples;
        let (lower, upper) = if usable {
            values.sort_by(f64::total_cmp);
            (Some(quantile_sorted(values, (1.0 - level) / 2.0)), Some(quantile_sorted(values, (1.0 + level) / 2.0)))
        } else {
            (None, None)
        };
        Interval { estimate, lower, upper, level, resamples, defined }
    }
}

/// The `p`-quantile of sorted, non-empty `v` with linear interpolation between order statistics
/// (numpy's default, "type 7").
pub(crate) fn quantile_sorted(v: &[f64], p: f64) -> f64 {
    let h = (v.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

/// Draws resample after resample of `n` indices with replacement, seeded.
pub(crate) struct Resampler {
    rng: ChaCha8Rng,
    n: usize,
}

impl Resampler {
    pub(crate) fn new(n: usize, seed: u64) -> Resampler {
        Resampler { rng: ChaCha8Rng::seed_from_u64(seed), n }
    }

    /// Fills `idx` with the next resample (`n` indices in `0..n`).
    pub(crate) fn next_into(&mut self, idx: &mut Vec<usize>) {
        idx.clear();
        if self.n == 0 {
            return;
        }
        for _ in 0..self.n {
            idx.push(self.rng.random_range(0..self.n));
        }
    }

    /// An index in `0..m` from the same stream (`m > 0`).
    pub(crate) fn below(&mut self, m: usize) -> usize {
        self.rng.random_range(0..m)
    }
}

/// The paired percentile bootstrap of any statistic of `n` architectures (see the module
/// documentation for the method). `statistic` receives a set of indices into the architectures
/// (first `0..n` for the estimate, then each resample, repeats included) and returns `None` where
/// it is undefined.
pub fn bootstrap<F>(n: usize, resamples: usize, level: f64, seed: u64, mut statistic: F) -> Interval
where
    F: FnMut(&[usize]) -> Option<f64>,
{
    let all: Vec<usize> = (0..n).collect();
    let estimate = statistic(&all);
    let mut draw = Resampler::new(n, seed);
    let mut idx = Vec::with_capacity(n);
    let mut values = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        draw.next_into(&mut idx);
        values.extend(statistic(&idx));
    }
    Interval::from_values(estimate, &mut values, resamples, level)
}

/// The stratified percentile bootstrap: each resample draws, within every stratum, as many
/// architectures as the stratum has, with replacement; strata keep their sizes and no stratum
/// is lost. `strata[i]` is architecture `i`'s stratum id (any `usize`s); `statistic` gets the
/// resampled indices in stratum order (strata ascending by id, members in input order for the
/// estimate).
pub fn bootstrap_stratified<F>(strata: &[usize], resamples: usize, level: f64, seed: u64, mut statistic: F) -> Interval
where
    F: FnMut(&[usize]) -> Option<f64>,
{
    let members = strata_members(strata);
    let all: Vec<usize> = members.iter().flatten().copied().collect();
    let estimate = statistic(&all);
    let mut draw = Resampler::new(0, seed);
    let mut idx = Vec::with_capacity(strata.len());
    let mut values = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        idx.clear();
        for m in &members {
            for _ in 0..m.len() {
                idx.push(m[draw.below(m.len())]);
            }
        }
        values.extend(statistic(&idx));
    }
    Interval::from_values(estimate, &mut values, resamples, level)
}

/// Members of each stratum, strata ascending by id, members in input order.
fn strata_members(strata: &[usize]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..strata.len()).collect();
    order.sort_by_key(|&i| (strata[i], i));
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (k, &i) in order.iter().enumerate() {
        if k == 0 || strata[order[k - 1]] != strata[i] {
            out.push(Vec::new());
        }
        out.last_mut().expect("pushed above").push(i);
    }
    out
}

/// Average ranks of resampled values without sorting each resample: the values are sorted once
/// into tie classes, and a resample's ranks come from counting its members per class (O(n + k)).
/// The ranks are bit-identical to [`super::ranks`] of the resampled values.
#[derive(Clone, Debug)]
pub(crate) struct TieClasses {
    /// The tie class of each value, 0 for the smallest.
    class: Vec<u32>,
    classes: usize,
}

/// Scratch space for [`TieClasses::ranks_into`].
#[derive(Default)]
pub(crate) struct RankScratch {
    counts: Vec<u32>,
    class_rank: Vec<f64>,
}

impl TieClasses {
    pub(crate) fn new(values: &[f64]) -> TieClasses {
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        let mut class = vec![0u32; values.len()];
        let mut classes = 0usize;
        let mut first = 0usize;
        for (k, &i) in order.iter().enumerate() {
            // The same tie rule as `ranks`: equal (==) to the first value of the current run.
            if k == 0 || values[i] != values[order[first]] {
                classes += 1;
                first = k;
            }
            class[i] = (classes - 1) as u32;
        }
        TieClasses { class, classes }
    }

    /// Average ranks of the values at `idx` (repeats allowed), into `out`.
    pub(crate) fn ranks_into(&self, idx: &[usize], scratch: &mut RankScratch, out: &mut Vec<f64>) {
        let RankScratch { counts, class_rank } = scratch;
        counts.clear();
        counts.resize(self.classes, 0);
        for &i in idx {
            counts[self.class[i] as usize] += 1;
        }
        class_rank.clear();
        class_rank.resize(self.classes, 0.0);
        let mut start = 0usize;
        for (c, &m) in counts.iter().enumerate() {
            if m > 0 {
                let (i, j) = (start, start + m as usize - 1);
                class_rank[c] = (i + j) as f64 / 2.0 + 1.0;
                start += m as usize;
            }
        }
        out.clear();
        out.extend(idx.iter().map(|&i| class_rank[self.class[i] as usize]));
    }
}

/// Spearman's ρ with its paired percentile bootstrap interval, on the architectures with a valid
/// score: `None` and non-finite scores are excluded first, exactly as [`super::correlate`] does,
/// and the resamples are drawn over the remaining architectures. The estimate equals
/// `correlate(scores, truth).spearman`.
pub fn spearman_interval(scores: &[Option<f64>], truth: &[f64], resamples: usize, seed: u64) -> Interval {
    spearman_interval_at(scores, truth, resamples, seed, DEFAULT_LEVEL)
}

/// [`spearman_interval`] at a chosen confidence level.
pub fn spearman_interval_at(scores: &[Option<f64>], truth: &[f64], resamples: usize, seed: u64, level: f64) -> Interval {
    let (x, y) = valid_pairs(scores, truth);
    let (tx, ty) = (TieClasses::new(&x), TieClasses::new(&y));
    let mut scratch = RankScratch::default();
    let (mut rx, mut ry) = (Vec::new(), Vec::new());
    // On `0..n` the tie-class ranks are `ranks(x)`, `ranks(y)`: the estimate is `spearman(x, y)`.
    bootstrap(x.len(), resamples, level, seed, |idx| {
        tx.ranks_into(idx, &mut scratch, &mut rx);
        ty.ranks_into(idx, &mut scratch, &mut ry);
        pearson(&rx, &ry)
    })
}

/// The (score, truth) pairs with a finite score, as `correlate` keeps them.
pub(crate) fn valid_pairs(scores: &[Option<f64>], truth: &[f64]) -> (Vec<f64>, Vec<f64>) {
    scores.iter().zip(truth).filter_map(|(s, t)| s.filter(|v| v.is_finite()).map(|s| (s, *t))).unzip()
}

#[cfg(test)]
mod tests {
    use super::super::{correlate, ranks};
    use super::*;
    use rand_distr::StandardNormal;

    #[test]
    fn tie_classes_rank_like_ranks() {
        let v = [3.0, 1.0, 3.0, 2.0, -0.0, 0.0, 7.0, 1.0];
        let t = TieClasses::new(&v);
        let mut s = RankScratch::default();
        let mut out = Vec::new();
        for idx in [vec![0, 1, 2, 3, 4, 5, 6, 7], vec![0, 0, 1, 5, 4, 6, 6, 6], vec![3], vec![7, 1, 1, 2]] {
            t.ranks_into(&idx, &mut s, &mut out);
            let vals: Vec<f64> = idx.iter().map(|&i| v[i]).collect();
            assert_eq!(out, ranks(&vals), "{idx:?}");
        }
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        // np.percentile([1, 2, 3, 4, 10], [2.5, 97.5]) = [1.1, 9.4]
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert!((quantile_sorted(&v, 0.025) - 1.1).abs() < 1e-12);
        assert!((quantile_sorted(&v, 0.975) - 9.4).abs() < 1e-12);
        assert_eq!(quantile_sorted(&[5.0], 0.3), 5.0);
    }

    fn typical(n: usize, seed: u64) -> (Vec<Option<f64>>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let truth: Vec<f64> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
        let scores = truth.iter().map(|t| Some(t + 1.5 * rng.sample::<f64, _>(StandardNormal))).collect();
        (scores, truth)
    }

    #[test]
    fn deterministic_for_a_seed_and_different_for_another() {
        let (s, t) = typical(80, 1);
        let a = spearman_interval(&s, &t, 300, 7);
        let b = spearman_interval(&s, &t, 300, 7);
        let c = spearman_interval(&s, &t, 300, 8);
        assert_eq!(a, b);
        assert_eq!(a.lower.map(f64::to_bits), b.lower.map(f64::to_bits));
        assert_ne!(a.bounds(), c.bounds());
        assert_eq!(a.estimate, c.estimate);
        assert_eq!((a.resamples, a.defined), (300, 300));
    }

    #[test]
    fn monotone_data_give_one_one() {
        let truth: Vec<f64> = (0..30).map(|i| i as f64).collect();
        let scores: Vec<Option<f64>> = truth.iter().map(|t| Some(t.exp())).collect();
        let iv = spearman_interval(&scores, &truth, 200, 3);
        let (lo, hi) = iv.bounds().unwrap();
        assert!((lo - 1.0).abs() < 1e-12 && (hi - 1.0).abs() < 1e-12, "{iv:?}");
        assert!((iv.estimate.unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn interval_contains_the_estimate_on_typical_data() {
        for seed in 0..10 {
            let (s, t) = typical(100, seed);
            let iv = spearman_interval(&s, &t, 400, seed + 100);
            let (lo, hi) = iv.bounds().unwrap();
            let e = iv.estimate.unwrap();
            assert!(lo < e && e < hi, "{iv:?}");
            assert!(hi - lo < 0.5 && hi - lo > 0.05, "{iv:?}");
        }
    }

    #[test]
    fn invalid_scores_are_excluded_first() {
        let (mut s, mut t) = typical(60, 4);
        let clean = spearman_interval(&s, &t, 200, 9);
        // Insert invalid architectures: the result is that of the valid ones, resamples included.
        for (k, bad) in [(0, None), (17, Some(f64::NAN)), (40, Some(f64::INFINITY))] {
            s.insert(k, bad);
            t.insert(k, 1e6);
        }
        let dirty = spearman_interval(&s, &t, 200, 9);
        assert_eq!(clean, dirty);
        assert_eq!(dirty.estimate, correlate(&s, &t).spearman);
    }

    #[test]
    fn coverage_of_a_known_correlation() {
        // Bivariate normal with Pearson r: the population Spearman ρ is (6/π)·asin(r/2).
        // r = 0.6: ρ = 6/π · asin(0.3) = 0.5838621...  (python: 6/math.pi*math.asin(0.3))
        let (r, rho) = (0.6f64, 6.0 / std::f64::consts::PI * 0.3f64.asin());
        let mut rng = ChaCha8Rng::seed_from_u64(2024);
        let (datasets, n) = (200, 100);
        let mut covered = 0;
        for d in 0..datasets {
            let mut t = Vec::with_capacity(n);
            let mut s = Vec::with_capacity(n);
            for _ in 0..n {
                let (a, b): (f64, f64) = (rng.sample(StandardNormal), rng.sample(StandardNormal));
                t.push(a);
                s.push(Some(r * a + (1.0 - r * r).sqrt() * b));
            }
            let (lo, hi) = spearman_interval(&s, &t, 200, d).bounds().unwrap();
            covered += usize::from(lo <= rho && rho <= hi);
        }
        let coverage = covered as f64 / datasets as f64;
        assert!((0.88..=0.99).contains(&coverage), "coverage {coverage}");
    }

    #[test]
    fn degenerate_and_empty_inputs_give_no_interval() {
        let iv = spearman_interval(&[Some(1.0), Some(1.0), Some(1.0)], &[1.0, 2.0, 3.0], 100, 0);
        assert_eq!((iv.estimate, iv.lower, iv.defined), (None, None, 0));
        let iv = spearman_interval(&[], &[], 100, 0);
        assert_eq!((iv.estimate, iv.lower, iv.defined), (None, None, 0));
        let iv = spearman_interval(&[Some(1.0), Some(2.0), Some(3.0)], &[1.0, 2.0, 3.0], 0, 0);
        assert_eq!((iv.lower, iv.resamples), (None, 0));
        // Two points: most resamples repeat one point (undefined), too few remain for an interval.
        let iv = spearman_interval(&[Some(1.0), Some(2.0)], &[1.0, 2.0], 1000, 0);
        assert!(iv.defined < 600 && iv.defined > 400, "{iv:?}");
        assert!((iv.estimate.unwrap() - 1.0).abs() < 1e-12);
        let bad_level = spearman_interval_at(&[Some(1.0), Some(2.0), Some(3.0)], &[1.0, 2.0, 3.0], 10, 0, 1.5);
        assert_eq!(bad_level.lower, None);
    }

    #[test]
    fn generic_bootstrap_of_the_mean() {
        // The mean of 0..100: the estimate is 49.5; the interval is about ±1.96·σ/√n = ±5.66.
        let v: Vec<f64> = (0..100).map(f64::from).collect();
        let iv = bootstrap(v.len(), 2000, DEFAULT_LEVEL, 5, |idx| Some(idx.iter().map(|&i| v[i]).sum::<f64>() / idx.len() as f64));
        assert_eq!(iv.estimate, Some(49.5));
        let (lo, hi) = iv.bounds().unwrap();
        assert!((lo - 43.8).abs() < 1.0 && (hi - 55.2).abs() < 1.0, "{iv:?}");
    }

    #[test]
    fn stratified_bootstrap_keeps_strata_sizes() {
        let strata = [2, 0, 2, 0, 0, 5];
        let iv = bootstrap_stratified(&strata, 50, DEFAULT_LEVEL, 1, |idx| {
            let zeros = idx.iter().filter(|&&i| strata[i] == 0).count();
            let twos = idx.iter().filter(|&&i| strata[i] == 2).count();
            (idx.len() == 6 && zeros == 3 && twos == 2 && idx[5] == 5).then_some(1.0)
        });
        assert_eq!(iv.defined, 50);
        assert_eq!(iv.estimate, Some(1.0));
    }
}
