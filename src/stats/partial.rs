//! Partial Spearman correlation: how well `x` ranks `y` once one or more control orderings are
//! accounted for.
//!
//! Definition: the Pearson partial correlation of the average ranks. rank(x) and rank(y) are
//! each regressed by least squares on an intercept and the ranks of the controls; the result is
//! Pearson's correlation of the two residuals. With one control z it equals
//! (r_xy − r_xz·r_yz) / √((1 − r_xz²)(1 − r_yz²)) with every r a Spearman ρ, and it is what
//! `pingouin.partial_corr(method="spearman")` computes.
//!
//! Undefined (`None`) with fewer than `controls + 3` points (the residuals then have at most one
//! degree of freedom left), or when the controls explain rank(x) or rank(y) exactly (the residual
//! sum of squares is below 10⁻¹² of the centred ranks' sum of squares, i.e. zero up to rounding)
//! — e.g. x a monotone function of a control. Controls that are redundant among themselves
//! (constant, or a linear function of the others' ranks, by the same 10⁻¹² rule) are dropped from
//! the regression rather than making it undefined; the point count rule still counts every
//! control given.

use super::bootstrap::{bootstrap, Interval, RankScratch, TieClasses, DEFAULT_LEVEL};
use super::ranks;

/// Relative residual sum of squares below which a fit counts as exact (R² > 1 − 10⁻¹²).
const EXACT_FIT: f64 = 1e-12;

/// The partial Spearman correlation of `x` and `y` given `controls` (each as long as `x`); see
/// the module documentation. With no controls it is Spearman's ρ. `None` where undefined.
pub fn partial_spearman(x: &[f64], y: &[f64], controls: &[&[f64]]) -> Option<f64> {
    let n = x.len();
    if y.len() != n || controls.iter().any(|c| c.len() != n) {
        return None;
    }
    let rz: Vec<Vec<f64>> = controls.iter().map(|c| ranks(c)).collect();
    partial_of_ranks(&ranks(x), &ranks(y), &rz, &mut Gram::default())
}

/// The partial Spearman correlation of scores with ground truth given `controls` (architecture-only
/// orderings, aligned with `truth`), with its paired percentile bootstrap interval (method in
/// [`super::bootstrap`]). Architectures with a `None` or non-finite score are excluded first, as
/// [`super::correlate`] does, and so are any with a non-finite truth or control value; each
/// resample recomputes every rank and both regressions.
pub fn partial_spearman_interval(scores: &[Option<f64>], truth: &[f64], controls: &[&[f64]], resamples: usize, seed: u64) -> Interval {
    partial_spearman_interval_at(scores, truth, controls, resamples, seed, DEFAULT_LEVEL)
}

/// [`partial_spearman_interval`] at a chosen confidence level.
pub fn partial_spearman_interval_at(scores: &[Option<f64>], truth: &[f64], controls: &[&[f64]], resamples: usize, seed: u64, level: f64) -> Interval {
    let keep: Vec<usize> = (0..scores.len().min(truth.len()))
        .filter(|&i| scores[i].is_some_and(f64::is_finite) && truth[i].is_finite() && controls.iter().all(|c| c.get(i).is_some_and(|v| v.is_finite())))
        .collect();
    let x: Vec<f64> = keep.iter().map(|&i| scores[i].expect("kept")).collect();
    let y: Vec<f64> = keep.iter().map(|&i| truth[i]).collect();
    let z: Vec<Vec<f64>> = controls.iter().map(|c| keep.iter().map(|&i| c[i]).collect()).collect();
    let z_refs: Vec<&[f64]> = z.iter().map(Vec::as_slice).collect();
    let mut p = PartialRanker::new(&x, &y, &z_refs);
    bootstrap(x.len(), resamples, level, seed, |idx| p.partial(idx))
}

/// Partial Spearman on resamples: tie classes of x, y and the controls computed once, ranks per
/// resample by counting (see `TieClasses`).
pub(crate) struct PartialRanker {
    tx: TieClasses,
    ty: TieClasses,
    tz: Vec<TieClasses>,
    scratch: RankScratch,
    rx: Vec<f64>,
    ry: Vec<f64>,
    rz: Vec<Vec<f64>>,
    res: Gram,
}

impl PartialRanker {
    pub(crate) fn new(x: &[f64], y: &[f64], controls: &[&[f64]]) -> PartialRanker {
        PartialRanker {
            tx: TieClasses::new(x),
            ty: TieClasses::new(y),
            tz: controls.iter().map(|c| TieClasses::new(c)).collect(),
            scratch: RankScratch::default(),
            rx: Vec::new(),
            ry: Vec::new(),
            rz: vec![Vec::new(); controls.len()],
            res: Gram::default(),
        }
    }

    /// The partial Spearman correlation on the architectures at `idx` (repeats allowed).
    pub(crate) fn partial(&mut self, idx: &[usize]) -> Option<f64> {
        self.tx.ranks_into(idx, &mut self.scratch, &mut self.rx);
        self.ty.ranks_into(idx, &mut self.scratch, &mut self.ry);
        for (t, r) in self.tz.iter().zip(&mut self.rz) {
            t.ranks_into(idx, &mut self.scratch, r);
        }
        partial_of_ranks(&self.rx, &self.ry, &self.rz, &mut self.res)
    }
}

/// Pearson partial correlation of `rx` and `ry` given the columns `rz`, all average ranks of the
/// same `n` architectures (so each has mean exactly (n + 1)/2).
///
/// Computed from the cross products of the centred ranks. Centred average ranks are multiples
/// of ½, so those sums are exact (below 2⁵¹ for any n under 10⁵), and the controls are then swept
/// out of the (k + 2)² matrix one by one (Gaussian elimination on the normal equations): what is
/// left is the residual cross-product matrix of x and y, exactly the regression of the module
/// documentation, in O(n·k²) with no n-sized scratch.
pub(crate) fn partial_of_ranks(rx: &[f64], ry: &[f64], rz: &[Vec<f64>], g: &mut Gram) -> Option<f64> {
    let (n, k) = (rx.len(), rz.len());
    if n < k + 3 || ry.len() != n || rz.iter().any(|c| c.len() != n) {
        return None;
    }
    let p = k + 2;
    let mean = (n as f64 + 1.0) / 2.0;
    let col = |i: usize| -> &[f64] {
        match i {
            0 => rx,
            1 => ry,
            _ => &rz[i - 2],
        }
    };
    let s = &mut g.s;
    s.clear();
    s.resize(p * p, 0.0);
    for i in 0..p {
        for j in i..p {
            let v: f64 = col(i).iter().zip(col(j)).map(|(a, b)| (a - mean) * (b - mean)).sum();
            s[i * p + j] = v;
            s[j * p + i] = v;
        }
    }
    let (sxx, syy) = (s[0], s[p + 1]);
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    for c in 2..p {
        let pivot = s[c * p + c];
        // A control that the earlier ones (or the intercept) explain: redundant, dropped.
        let original: f64 = col(c).iter().map(|a| (a - mean) * (a - mean)).sum();
        if pivot <= EXACT_FIT * original {
            continue;
        }
        // Sweep c out of the rows and columns still to be used: x, y and the later controls.
        let rest = |i: usize| i < 2 || i > c;
        for i in (0..p).filter(|&i| rest(i)) {
            let f = s[i * p + c] / pivot;
            for j in (0..p).filter(|&j| rest(j)) {
                s[i * p + j] -= f * s[c * p + j];
            }
        }
    }
    let (ex, ey, exy) = (s[0], s[p + 1], s[1]);
    // The controls explain x or y exactly: nothing is left to correlate.
    if ex <= EXACT_FIT * sxx || ey <= EXACT_FIT * syy {
        return None;
    }
    Some((exy / (ex * ey).sqrt()).clamp(-1.0, 1.0))
}

/// Scratch space for [`partial_of_ranks`]: the (k + 2)² cross-product matrix.
#[derive(Default)]
pub(crate) struct Gram {
    s: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::super::{correlate, spearman};
    use super::*;

    fn close(a: Option<f64>, b: f64, tol: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < tol)
    }

    // Fixed data with ties in every variable (n = 12).
    const X: [f64; 12] = [3.1, 2.0, 5.5, 5.5, 1.0, 7.2, 4.4, 2.0, 6.0, 8.1, 3.1, 9.0];
    const Y: [f64; 12] = [10.0, 12.0, 15.0, 11.0, 9.0, 18.0, 14.0, 12.0, 13.0, 19.0, 10.0, 17.0];
    const Z1: [f64; 12] = [1.0, 2.0, 2.0, 3.0, 1.0, 4.0, 3.0, 2.0, 4.0, 4.0, 1.0, 3.0];
    const Z2: [f64; 12] = [0.5, 0.1, 0.9, 0.3, 0.2, 0.8, 0.4, 0.7, 0.6, 0.95, 0.15, 0.85];

    #[test]
    fn one_control_identity() {
        let (rxy, rxz, ryz) = (spearman(&X, &Y).unwrap(), spearman(&X, &Z1).unwrap(), spearman(&Y, &Z1).unwrap());
        let formula = (rxy - rxz * ryz) / ((1.0 - rxz * rxz) * (1.0 - ryz * ryz)).sqrt();
        assert!(close(partial_spearman(&X, &Y, &[&Z1]), formula, 1e-12));
        let (rxz, ryz) = (spearman(&X, &Z2).unwrap(), spearman(&Y, &Z2).unwrap());
        let formula = (rxy - rxz * ryz) / ((1.0 - rxz * rxz) * (1.0 - ryz * ryz)).sqrt();
        assert!(close(partial_spearman(&X, &Y, &[&Z2]), formula, 1e-12));
    }

    #[test]
    fn matches_numpy_and_pingouin() {
        // python (scipy 1.17, numpy 2.4, pingouin 0.7):
        //   from scipy.stats import rankdata; import numpy as np, pingouin as pg, pandas as pd
        //   def res(v, Z): A = np.column_stack([np.ones(len(v))] + [rankdata(z) for z in Z]); r = rankdata(v); return r - A @ np.linalg.lstsq(A, r, rcond=None)[0]
        //   np.corrcoef(res(X, [Z1]), res(Y, [Z1]))[0, 1]        -> 0.47325093820417996
        //   np.corrcoef(res(X, [Z1, Z2]), res(Y, [Z1, Z2]))[0, 1] -> 0.12667026083789865
        //   pg.partial_corr(pd.DataFrame(dict(x=X, y=Y, z1=Z1, z2=Z2)), "x", "y", covar=["z1", "z2"], method="spearman").r -> 0.126670 (covar=["z1"]: 0.473251)
        assert!(close(partial_spearman(&X, &Y, &[&Z1]), 0.47325093820417996, 1e-12));
        assert!(close(partial_spearman(&X, &Y, &[&Z1, &Z2]), 0.12667026083789865, 1e-12));
        // Order of controls does not matter.
        assert!(close(partial_spearman(&X, &Y, &[&Z2, &Z1]), 0.12667026083789865, 1e-12));
        // No controls: Spearman's ρ.
        assert_eq!(partial_spearman(&X, &Y, &[]), spearman(&X, &Y));
    }

    #[test]
    fn a_monotone_function_of_the_control_is_undefined() {
        let z: Vec<f64> = (0..20).map(|i| (i % 7) as f64 + 0.1 * i as f64).collect();
        let x: Vec<f64> = z.iter().map(|v| 3.0 * v.powi(3) - 1.0).collect();
        let y: Vec<f64> = (0..20).map(|i| ((i * 13) % 20) as f64).collect();
        assert_eq!(partial_spearman(&x, &y, &[&z]), None);
        assert_eq!(partial_spearman(&y, &x, &[&z]), None);
        // A non-monotone function of the control is not explained by its ranks: defined, and
        // equal to the one-control formula.
        let x2: Vec<f64> = z.iter().map(|v| (v - 4.0).powi(2)).collect();
        let (rxy, rxz, ryz) = (spearman(&x2, &y).unwrap(), spearman(&x2, &z).unwrap(), spearman(&y, &z).unwrap());
        let formula = (rxy - rxz * ryz) / ((1.0 - rxz * rxz) * (1.0 - ryz * ryz)).sqrt();
        assert!(close(partial_spearman(&x2, &y, &[&z]), formula, 1e-12));
    }

    #[test]
    fn a_control_unrelated_to_x_and_y_changes_nothing() {
        // x, y ranks: a permutation pair; z's ranks are orthogonal to both (centred dot product 0):
        // ranks 1..8; z = [1, 8, 2, 7, 3, 6, 4, 5] reversed in pairs.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let y = [2.0, 1.0, 4.0, 3.0, 6.0, 5.0, 8.0, 7.0];
        let z = [4.0, 5.0, 5.5, 3.5, 3.6, 5.4, 4.9, 4.1];
        // rank(z) = [3, 6, 8, 1, 2, 7, 5, 4]; Σ(rx−4.5)(rz−4.5) = 0 and Σ(ry−4.5)(rz−4.5) = 0.
        assert!(close(spearman(&x, &z), 0.0, 1e-15) && close(spearman(&y, &z), 0.0, 1e-15));
        assert!(close(partial_spearman(&x, &y, &[&z]), spearman(&x, &y).unwrap(), 1e-12));
        // A constant control is redundant with the intercept: dropped, ρ unchanged.
        assert!(close(partial_spearman(&x, &y, &[&[1.0; 8]]), spearman(&x, &y).unwrap(), 1e-12));
    }

    #[test]
    fn a_control_unrelated_to_y_alone_rescales_rho() {
        // r_yz = 0 but r_xz ≠ 0: partial ρ = r_xy / √(1 − r_xz²), not r_xy. Here r_xy = 38/42,
        // r_xz = 16/42. python: (38/42)/math.sqrt(1-(16/42)**2) = 0.978549784986749;
        // pg.partial_corr(pd.DataFrame(dict(x=x, y=y, z=z)), "x", "y", covar=["z"], method="spearman").r = 0.9785497849867489
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let y = [2.0, 1.0, 4.0, 3.0, 6.0, 5.0, 8.0, 7.0];
        let z = [1.0, 5.0, 3.0, 7.0, 4.0, 8.0, 2.0, 6.0];
        assert!(close(spearman(&y, &z), 0.0, 1e-15));
        assert!(close(spearman(&x, &z), 16.0 / 42.0, 1e-15));
        assert!(close(partial_spearman(&x, &y, &[&z]), 0.978549784986749, 1e-12));
    }

    #[test]
    fn too_few_points_or_mismatched_lengths() {
        assert_eq!(partial_spearman(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0], &[&[1.0, 2.0, 2.5]]), None);
        assert!(partial_spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0], &[&[1.0, 2.0, 1.0, 2.0]]).is_some());
        assert_eq!(partial_spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0], &[]), None);
        assert_eq!(partial_spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0], &[&[1.0]]), None);
    }

    #[test]
    fn interval_is_seeded_contains_the_estimate_and_excludes_invalid() {
        let n = 120;
        let z: Vec<f64> = (0..n).map(|i| (i % 4) as f64).collect();
        let truth: Vec<f64> = (0..n).map(|i| z[i] + ((i * 37) % 11) as f64 / 5.0).collect();
        let scores: Vec<Option<f64>> = (0..n).map(|i| Some(z[i] + ((i * 37) % 11) as f64 / 5.0 + ((i * 53) % 7) as f64 / 2.0)).collect();
        let a = partial_spearman_interval(&scores, &truth, &[&z], 300, 1);
        assert_eq!(a, partial_spearman_interval(&scores, &truth, &[&z], 300, 1));
        assert_ne!(a.bounds(), partial_spearman_interval(&scores, &truth, &[&z], 300, 2).bounds());
        let x: Vec<f64> = scores.iter().map(|s| s.unwrap()).collect();
        assert_eq!(a.estimate, partial_spearman(&x, &truth, &[&z]));
        let (lo, hi) = a.bounds().unwrap();
        assert!(lo < a.estimate.unwrap() && a.estimate.unwrap() < hi && lo > 0.0, "{a:?}");
        let mut s2 = scores.clone();
        let (mut t2, mut z2) = (truth.clone(), z.clone());
        s2.insert(5, None);
        t2.insert(5, 0.0);
        z2.insert(5, 0.0);
        assert_eq!(partial_spearman_interval(&s2, &t2, &[&z2], 300, 1), a);
        // No controls: the Spearman interval.
        let (p0, s0) = (partial_spearman_interval(&scores, &truth, &[], 300, 1), super::super::spearman_interval(&scores, &truth, 300, 1));
        assert!(close(p0.estimate, correlate(&scores, &truth).spearman.unwrap(), 1e-12));
        assert!(close(p0.lower, s0.lower.unwrap(), 1e-12) && close(p0.upper, s0.upper.unwrap(), 1e-12));
    }
}
