//! Rank correlation on plain numbers: Spearman's ρ (average ranks for ties) and Kendall's τ-b
//! (tie-corrected), in f64.
//!
//! Written here rather than taken from a crate: the well-kept statistics crates offer Pearson
//! and Spearman but not τ-b with scipy's tie handling, and both functions are short. The tests
//! check them against scipy's documented examples.
//!
//! Beyond the correlations, the statistics that make them honest (pure functions on plain
//! numbers): percentile bootstrap intervals ([`bootstrap`], [`spearman_interval`]), the partial
//! Spearman correlation given architecture-only orderings ([`partial_spearman`]), the pooled
//! within-group ρ ([`within_groups`]), the noise ceiling of benchmarks with repeated networks
//! ([`noise_ceiling`]), and a per-proxy bundle with a one-line verdict ([`HonestStats`]).

use serde::Serialize;

mod bootstrap;
mod ceiling;
mod honest;
mod partial;
mod within;

pub use bootstrap::{bootstrap, bootstrap_stratified, spearman_interval, spearman_interval_at, Interval, DEFAULT_LEVEL, DEFAULT_RESAMPLES};
pub use ceiling::{noise_ceiling, NoiseCeiling};
pub use honest::{verdict, Baseline, Finding, HonestInputs, HonestStats, Verdict};
pub use partial::{partial_spearman, partial_spearman_interval, partial_spearman_interval_at};
pub use within::{within_groups, within_groups_interval, within_groups_interval_at, GroupRho, WithinGroups};

/// 1-based ranks with ties given the average of the ranks they span.
pub fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Pearson's correlation; `None` with fewer than two points or zero variance.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    if n < 2 || n != y.len() {
        return None;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n as f64, y.iter().sum::<f64>() / n as f64);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    Some(sxy / (sxx * syy).sqrt())
}

/// Spearman's ρ: Pearson's correlation of average ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    pearson(&ranks(x), &ranks(y))
}

/// Kendall's τ-b: (concordant − discordant) / sqrt((n0 − n1)(n0 − n2)), ties in either variable
/// corrected for; `None` when either variable is constant.
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    if n < 2 || n != y.len() {
        return None;
    }
    let (mut concordant, mut discordant, mut tied_x, mut tied_y) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let dx = x[i].total_cmp(&x[j]) as i64;
            let dy = y[i].total_cmp(&y[j]) as i64;
            match (dx, dy) {
                (0, 0) => {}
                (0, _) => tied_x += 1,
                (_, 0) => tied_y += 1,
                _ if dx == dy => concordant += 1,
                _ => discordant += 1,
            }
        }
    }
    let n0 = (n * (n - 1) / 2) as f64;
    let both = n0 - (concordant + discordant + tied_x + tied_y) as f64;
    let (n1, n2) = (tied_x as f64 + both, tied_y as f64 + both);
    let denom = ((n0 - n1) * (n0 - n2)).sqrt();
    (denom > 0.0).then(|| (concordant - discordant) as f64 / denom)
}

/// How well scores rank architectures against ground truth.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Correlation {
    /// Spearman's ρ over the valid architectures (`None` if undefined).
    pub spearman: Option<f64>,
    /// Kendall's τ-b over the valid architectures.
    pub kendall: Option<f64>,
    /// Architectures with a valid score.
    pub valid: usize,
    /// Architectures in all.
    pub total: usize,
}

/// Correlates scores (`None` = invalid on that architecture, excluded and counted) with ground
/// truth, both higher-is-better.
pub fn correlate(scores: &[Option<f64>], truth: &[f64]) -> Correlation {
    let (x, y): (Vec<f64>, Vec<f64>) = scores.iter().zip(truth).filter_map(|(s, t)| s.filter(|v| v.is_finite()).map(|s| (s, *t))).unzip();
    Correlation { spearman: spearman(&x, &y), kendall: kendall_tau_b(&x, &y), valid: x.len(), total: scores.len() }
}

/// The correlations on the top `fraction` of architectures by ground truth (the reference's
/// top-10/30/50/100% report).
pub fn correlate_top(scores: &[Option<f64>], truth: &[f64], fraction: f64) -> Correlation {
    let mut order: Vec<usize> = (0..truth.len()).collect();
    order.sort_by(|&a, &b| truth[b].total_cmp(&truth[a]));
    let k = ((truth.len() as f64 * fraction).round() as usize).clamp(0, truth.len());
    let keep = &order[..k];
    let s: Vec<Option<f64>> = keep.iter().map(|&i| scores[i]).collect();
    let t: Vec<f64> = keep.iter().map(|&i| truth[i]).collect();
    correlate(&s, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-12)
    }

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&[10.0, 20.0, 10.0, 30.0]), vec![1.5, 3.0, 1.5, 4.0]);
    }

    #[test]
    fn spearman_matches_scipy_docs() {
        // scipy.stats.spearmanr([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) = 0.8207826816681233
        assert!(close(spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5.0, 6.0, 7.0, 8.0, 7.0]), 0.8207826816681233));
        assert!(close(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0));
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
    }

    #[test]
    fn kendall_tau_b_matches_scipy_docs() {
        // scipy.stats.kendalltau([12, 2, 1, 12, 2], [1, 4, 7, 1, 0]) = -0.47140452079103173
        assert!(close(kendall_tau_b(&[12.0, 2.0, 1.0, 12.0, 2.0], &[1.0, 4.0, 7.0, 1.0, 0.0]), -0.47140452079103173));
        // No ties: (C − D) / (n(n−1)/2): pairs of [1,2,3,4] vs [1,3,2,4]: 5 concordant, 1 discordant.
        assert!(close(kendall_tau_b(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]), 4.0 / 6.0));
        assert_eq!(kendall_tau_b(&[1.0, 2.0], &[3.0, 3.0]), None);
    }

    #[test]
    fn invalid_scores_are_excluded_and_counted() {
        let c = correlate(&[Some(1.0), None, Some(3.0), Some(f64::NAN), Some(2.0)], &[1.0, 5.0, 3.0, 4.0, 2.0]);
        assert_eq!((c.valid, c.total), (3, 5));
        assert!(close(c.spearman, 1.0));
        let top = correlate_top(&[Some(1.0), Some(2.0), Some(4.0), Some(3.0)], &[1.0, 2.0, 3.0, 4.0], 0.5);
        assert_eq!(top.valid, 2);
        assert!(close(top.spearman, -1.0));
    }
}
