//! Noise in the proxy itself: a proxy scored on K minibatches and/or K initialisations of each
//! architecture (`rank --minibatches K --inits L`). The report ranks the mean over the variants;
//! this says how much the score moves from one variant to another and how ρ changes as more
//! variants are averaged.

use crate::source::Variant;
use crate::stats::correlate;
use serde::{Deserialize, Serialize};

/// How one proxy's score varies over the variants of each architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoiseReport {
    /// Per architecture, its score on each variant (`None`: invalid there).
    pub scores: Vec<Vec<Option<f64>>>,
    /// ρ of each variant's scores alone, in the order of the report's variants.
    pub rho_each: Vec<Option<f64>>,
    /// ρ of the mean over the first k variants, for k = 1 … K (the last is the report's ρ).
    pub rho_mean_of_first: Vec<Option<f64>>,
    /// Per architecture, the spread of its scores over the variants: their sample standard
    /// deviation over the absolute value of their mean (`None` where a variant is invalid or the
    /// mean is 0).
    pub spread: Vec<Option<f64>>,
    /// The median of `spread` over the architectures where it is defined.
    pub spread_median: Option<f64>,
}

/// The mean of one architecture's variant scores, or `None` when any is invalid or not finite.
pub fn mean_of(values: &[Option<f64>]) -> Option<f64> {
    let v: Option<Vec<f64>> = values.iter().map(|x| x.filter(|x| x.is_finite())).collect();
    let v = v.filter(|v| !v.is_empty())?;
    Some(v.iter().sum::<f64>() / v.len() as f64)
}

/// Sample standard deviation over |mean|, for values all finite; `None` for fewer than two
/// values or a zero mean.
pub fn relative_spread(values: &[Option<f64>]) -> Option<f64> {
    let m = mean_of(values)?;
    if values.len() < 2 || m == 0.0 {
        return None;
    }
    let var = values.iter().map(|x| (x.expect("finite: mean_of checked") - m).powi(2)).sum::<f64>() / (values.len() - 1) as f64;
    Some(var.sqrt() / m.abs())
}

impl NoiseReport {
    /// The noise of one proxy from its per-architecture variant scores (`by_arch[a][v]`) and the
    /// ground truth.
    pub fn of(by_arch: &[Vec<Option<f64>>], truth: &[f64]) -> NoiseReport {
        let k = by_arch.first().map_or(0, Vec::len);
        let rho = |scores: Vec<Option<f64>>| correlate(&scores, truth).spearman;
        let rho_each = (0..k).map(|v| rho(by_arch.iter().map(|s| s[v]).collect())).collect();
        let rho_mean_of_first = (1..=k).map(|n| rho(by_arch.iter().map(|s| mean_of(&s[..n])).collect())).collect();
        let spread: Vec<Option<f64>> = by_arch.iter().map(|s| relative_spread(s)).collect();
        let mut defined: Vec<f64> = spread.iter().flatten().copied().collect();
        defined.sort_by(f64::total_cmp);
        let spread_median = match defined.len() {
            0 => None,
            n if n % 2 == 1 => Some(defined[n / 2]),
            n => Some((defined[n / 2 - 1] + defined[n / 2]) / 2.0),
        };
        NoiseReport { scores: by_arch.to_vec(), rho_each, rho_mean_of_first, spread, spread_median }
    }
}

/// A short description of a list of variants: "3 minibatches × 1 initialisation".
pub fn describe(variants: &[Variant]) -> String {
    let m = variants.iter().map(|v| v.minibatch).max().map_or(1, |x| x + 1);
    let i = variants.iter().map(|v| v.init).max().map_or(1, |x| x + 1);
    let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!("{} × {}", plural(m, "minibatch", "minibatches"), plural(i, "initialisation", "initialisations"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_mean_and_rho_by_count_are_what_they_say() {
        // Three architectures, truth 1 < 2 < 3; two variants each.
        let truth = [1.0, 2.0, 3.0];
        let by_arch = vec![vec![Some(1.0), Some(3.0)], vec![Some(2.0), Some(2.0)], vec![Some(4.0), Some(1.0)]];
        let n = NoiseReport::of(&by_arch, &truth);
        // Variant 0 alone orders 1, 2, 4: ρ = 1. Variant 1 alone orders 3, 2, 1: ρ = −1.
        assert_eq!(n.rho_each, vec![Some(1.0), Some(-1.0)]);
        // Means 2, 2, 2.5: ranks 1.5, 1.5, 3 against 1, 2, 3 → ρ = 0.866… (Pearson of the ranks).
        let r = n.rho_mean_of_first[1].unwrap();
        let want = {
            let (x, y) = ([1.5, 1.5, 3.0], [1.0, 2.0, 3.0]);
            let (mx, my) = (2.0, 2.0);
            let sxy: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
            let sxx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
            let syy: f64 = y.iter().map(|b| (b - my) * (b - my)).sum();
            sxy / (sxx * syy).sqrt()
        };
        assert!((r - want).abs() < 1e-12, "{r} vs {want}");
        assert_eq!(n.rho_mean_of_first[0], Some(1.0));
        // Spread: sd of (1, 3) = √2, mean 2 → 0.7071; (2, 2) → 0; (4, 1): sd 2.1213, mean 2.5 → 0.8485.
        let s: Vec<f64> = n.spread.iter().map(|x| x.unwrap()).collect();
        assert!((s[0] - 2f64.sqrt() / 2.0).abs() < 1e-12 && s[1] == 0.0 && (s[2] - 4.5f64.sqrt() / 2.5).abs() < 1e-12);
        assert!((n.spread_median.unwrap() - 2f64.sqrt() / 2.0).abs() < 1e-12);
    }

    #[test]
    fn an_invalid_variant_makes_the_mean_and_the_spread_undefined() {
        assert_eq!(mean_of(&[Some(1.0), None]), None);
        assert_eq!(mean_of(&[Some(1.0), Some(f64::NAN)]), None);
        assert_eq!(relative_spread(&[Some(1.0), None]), None);
        assert_eq!(relative_spread(&[Some(-1.0), Some(1.0)]), None, "zero mean");
        assert_eq!(describe(&Variant::grid(3, 1)), "3 minibatches × 1 initialisation");
        assert_eq!(describe(&Variant::grid(1, 2)), "1 minibatch × 2 initialisations");
    }
}
