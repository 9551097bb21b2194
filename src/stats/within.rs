//! Rank correlation within groups of architectures that share a configuration (equal depth, or
//! equal depth and width), pooled over the groups.
//!
//! Pooled within-group ρ: inside each group, x and y are ranked (average ranks) and centred by the
//! group's mean rank ((m + 1)/2 for m members); the centred ranks of all groups are then
//! correlated as one Pearson correlation, Σ cx·cy / √(Σ cx² · Σ cy²). Each group weighs by its
//! own rank variance, so larger groups count more, as in a pooled within-group (ANCOVA-style)
//! correlation. Groups with fewer than two members, or with a constant x or y, contribute
//! nothing (not even to the denominators) and are counted as skipped.
//!
//! Because ranks are taken inside each group, the ordering *between* groups is removed: a proxy
//! that only measures size (constant within a group of equal size) scores 0 — here `None`, since
//! it is constant in every group — however well size ranks the benchmark overall. What is left
//! is how well the proxy orders architectures the configuration cannot tell apart.

use std::collections::BTreeMap;

use serde::Serialize;

use super::bootstrap::{bootstrap_stratified, Interval, RankScratch, TieClasses, DEFAULT_LEVEL};
use super::spearman;

/// One group's share of a [`WithinGroups`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupRho<K> {
    /// The group's label.
    pub label: K,
    /// Architectures in the group.
    pub size: usize,
    /// Spearman's ρ inside the group (`None` below two members or with a constant variable).
    pub spearman: Option<f64>,
}

/// The pooled within-group rank correlation and its parts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WithinGroups<K> {
    /// The pooled within-group ρ (`None` when no group contributes).
    pub pooled: Option<f64>,
    /// Every group, ascending by label.
    pub groups: Vec<GroupRho<K>>,
    /// Groups that contributed to `pooled` (at least two members, neither variable constant).
    pub contributing: usize,
    /// Groups that contributed nothing (a single member, or a constant x or y).
    pub skipped: usize,
    /// Architectures in the contributing groups.
    pub architectures: usize,
}

/// The pooled within-group ρ of `x` and `y`, `labels[i]` being architecture `i`'s group (see
/// the module documentation). Mismatched lengths give no groups and `pooled: None`.
pub fn within_groups<K: Ord + Clone>(x: &[f64], y: &[f64], labels: &[K]) -> WithinGroups<K> {
    if x.len() != y.len() || x.len() != labels.len() {
        return WithinGroups { pooled: None, groups: Vec::new(), contributing: 0, skipped: 0, architectures: 0 };
    }
    let groups = group_members(labels);
    let mut ranker = WithinRanker::new(x, y, groups.iter().map(|(_, m)| m.as_slice()));
    let all: Vec<usize> = groups.iter().flat_map(|(_, m)| m.iter().copied()).collect();
    let pooled = ranker.pooled(&all);
    let (mut contributing, mut architectures) = (0, 0);
    let groups: Vec<GroupRho<K>> = groups
        .into_iter()
        .map(|(label, m)| {
            let gx: Vec<f64> = m.iter().map(|&i| x[i]).collect();
            let gy: Vec<f64> = m.iter().map(|&i| y[i]).collect();
            let rho = spearman(&gx, &gy);
            // Defined ρ ⇔ at least two members and neither variable constant ⇔ contributes.
            if rho.is_some() {
                contributing += 1;
                architectures += m.len();
            }
            GroupRho { label: label.clone(), size: m.len(), spearman: rho }
        })
        .collect();
    let skipped = groups.len() - contributing;
    WithinGroups { pooled, groups, contributing, skipped, architectures }
}

/// The pooled within-group ρ of scores with ground truth, with its percentile bootstrap
/// interval. Architectures with a `None` or non-finite score are excluded first (as
/// [`super::correlate`] does).
///
/// The resampling is **stratified by group**: each resample draws, inside every group, as many
/// architectures as the group has, with replacement ([`bootstrap_stratified`]). The statistic
/// conditions on the groups — it compares architectures only inside them — so the groups and
/// their sizes are held fixed, as a stratified design would be: resampling whole would let group
/// sizes and the set of contributing groups vary from resample to resample (a group of two often
/// drops out), variance that belongs to the design, not to the proxy. A group of two is still
/// constant in half its resamples and then contributes nothing to that resample.
pub fn within_groups_interval<K: Ord>(scores: &[Option<f64>], truth: &[f64], labels: &[K], resamples: usize, seed: u64) -> Interval {
    within_groups_interval_at(scores, truth, labels, resamples, seed, DEFAULT_LEVEL)
}

/// [`within_groups_interval`] at a chosen confidence level.
pub fn within_groups_interval_at<K: Ord>(scores: &[Option<f64>], truth: &[f64], labels: &[K], resamples: usize, seed: u64, level: f64) -> Interval {
    let keep: Vec<usize> = (0..scores.len().min(truth.len()).min(labels.len())).filter(|&i| scores[i].is_some_and(f64::is_finite)).collect();
    let x: Vec<f64> = keep.iter().map(|&i| scores[i].expect("kept")).collect();
    let y: Vec<f64> = keep.iter().map(|&i| truth[i]).collect();
    let l: Vec<&K> = keep.iter().map(|&i| &labels[i]).collect();
    let groups = group_members(&l);
    let mut strata = vec![0usize; x.len()];
    for (g, (_, m)) in groups.iter().enumerate() {
        m.iter().for_each(|&i| strata[i] = g);
    }
    let mut ranker = WithinRanker::new(&x, &y, groups.iter().map(|(_, m)| m.as_slice()));
    bootstrap_stratified(&strata, resamples, level, seed, |idx| ranker.pooled(idx))
}

/// Members of each group (input order), groups ascending by label.
pub(crate) fn group_members<K: Ord>(labels: &[K]) -> Vec<(&K, Vec<usize>)> {
    let mut map: BTreeMap<&K, Vec<usize>> = BTreeMap::new();
    for (i, l) in labels.iter().enumerate() {
        map.entry(l).or_default().push(i);
    }
    map.into_iter().collect()
}

/// Pooled within-group ρ on index sets laid out group after group (each group's members, or a
/// resample of them of the same size, consecutively, groups in the order given to `new`).
pub(crate) struct WithinRanker {
    /// Per group: size and the tie classes of x and y over its members (local indices).
    groups: Vec<(usize, TieClasses, TieClasses)>,
    /// Architecture → its position inside its group.
    local: Vec<usize>,
    scratch: RankScratch,
    local_idx: Vec<usize>,
    rx: Vec<f64>,
    ry: Vec<f64>,
}

impl WithinRanker {
    pub(crate) fn new<'a>(x: &[f64], y: &[f64], groups: impl Iterator<Item = &'a [usize]>) -> WithinRanker {
        let mut local = vec![0usize; x.len()];
        let groups = groups
            .map(|m| {
                m.iter().enumerate().for_each(|(k, &i)| local[i] = k);
                let gx: Vec<f64> = m.iter().map(|&i| x[i]).collect();
                let gy: Vec<f64> = m.iter().map(|&i| y[i]).collect();
                (m.len(), TieClasses::new(&gx), TieClasses::new(&gy))
            })
            .collect();
        WithinRanker { groups, local, scratch: RankScratch::default(), local_idx: Vec::new(), rx: Vec::new(), ry: Vec::new() }
    }

    pub(crate) fn pooled(&mut self, idx: &[usize]) -> Option<f64> {
        let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
        let mut start = 0;
        for (m, tx, ty) in &self.groups {
            let chunk = &idx[start..start + m];
            start += m;
            if *m < 2 {
                continue;
            }
            self.local_idx.clear();
            self.local_idx.extend(chunk.iter().map(|&i| self.local[i]));
            tx.ranks_into(&self.local_idx, &mut self.scratch, &mut self.rx);
            ty.ranks_into(&self.local_idx, &mut self.scratch, &mut self.ry);
            // Centred average ranks are multiples of ½: these sums are exact, so "constant"
            // (a zero sum of squares) is decided exactly.
            let mean = (*m as f64 + 1.0) / 2.0;
            let (mut gxy, mut gxx, mut gyy) = (0.0, 0.0, 0.0);
            for (a, b) in self.rx.iter().zip(&self.ry) {
                let (a, b) = (a - mean, b - mean);
                gxy += a * b;
                gxx += a * a;
                gyy += b * b;
            }
            if gxx > 0.0 && gyy > 0.0 {
                sxy += gxy;
                sxx += gxx;
                syy += gyy;
            }
        }
        (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-12)
    }

    #[test]
    fn hand_computed_small_case() {
        // Group a: x = [1, 2, 3], y = [1, 3, 2]: centred ranks cx = [−1, 0, 1], cy = [−1, 1, 0]:
        //   Σcxcy = 1, Σcx² = 2, Σcy² = 2 (ρ_a = 0.5).
        // Group b: x = [5, 4], y = [7, 8]: cx = [½, −½], cy = [−½, ½]: Σcxcy = −½, Σcx² = Σcy² = ½ (ρ_b = −1).
        // Group c: one member, skipped. Group d: y constant, skipped.
        // Pooled: (1 − ½) / √(2.5 · 2.5) = 0.2.
        let x = [1.0, 2.0, 3.0, 5.0, 4.0, 9.0, 1.0, 2.0];
        let y = [1.0, 3.0, 2.0, 7.0, 8.0, 9.0, 4.0, 4.0];
        let l = ['a', 'a', 'a', 'b', 'b', 'c', 'd', 'd'];
        let w = within_groups(&x, &y, &l);
        assert!(close(w.pooled, 0.2), "{w:?}");
        assert_eq!((w.contributing, w.skipped, w.architectures), (2, 2, 5));
        assert_eq!(w.groups.iter().map(|g| (g.label, g.size)).collect::<Vec<_>>(), vec![('a', 3), ('b', 2), ('c', 1), ('d', 2)]);
        assert!(close(w.groups[0].spearman, 0.5) && close(w.groups[1].spearman, -1.0));
        assert_eq!((w.groups[2].spearman, w.groups[3].spearman), (None, None));
    }

    #[test]
    fn a_pure_size_proxy_has_nothing_within_groups() {
        let depth: Vec<u32> = (0..40).map(|i| 2 + 2 * (i % 3)).collect();
        let truth: Vec<f64> = (0..40).map(|i| depth[i] as f64 + ((i * 7) % 5) as f64 / 10.0).collect();
        let proxy: Vec<f64> = depth.iter().map(|&d| d as f64 * 1e6).collect();
        assert!(spearman(&proxy, &truth).unwrap() > 0.9);
        let w = within_groups(&proxy, &truth, &depth);
        assert_eq!((w.pooled, w.contributing, w.skipped), (None, 0, 3));
        let scores: Vec<Option<f64>> = proxy.iter().map(|&p| Some(p)).collect();
        let iv = within_groups_interval(&scores, &truth, &depth, 100, 0);
        assert_eq!((iv.estimate, iv.lower, iv.defined), (None, None, 0));
    }

    #[test]
    fn right_within_groups_but_reversed_between_them() {
        // Three depths; truth rises with depth and with i inside a depth. The proxy orders
        // correctly inside each depth but puts deeper groups lower.
        let (mut x, mut y, mut l) = (Vec::new(), Vec::new(), Vec::new());
        for d in 0..3 {
            for i in 0..10 {
                l.push(d);
                y.push(100.0 * d as f64 + i as f64);
                x.push(-100.0 * d as f64 + i as f64);
            }
        }
        assert!(spearman(&x, &y).unwrap() < -0.5);
        let w = within_groups(&x, &y, &l);
        assert!(close(w.pooled, 1.0), "{w:?}");
        assert!(w.groups.iter().all(|g| close(g.spearman, 1.0)));
        let scores: Vec<Option<f64>> = x.iter().map(|&v| Some(v)).collect();
        let iv = within_groups_interval(&scores, &y, &l, 200, 3);
        let (lo, hi) = iv.bounds().unwrap();
        assert!((lo - 1.0).abs() < 1e-12 && (hi - 1.0).abs() < 1e-12);
    }

    #[test]
    fn interval_is_seeded_excludes_invalid_and_contains_the_estimate() {
        let n = 150;
        let l: Vec<(u8, u8)> = (0..n).map(|i| ((i % 3) as u8, (i % 2) as u8)).collect();
        let truth: Vec<f64> = (0..n).map(|i| (i % 3) as f64 * 5.0 + ((i * 31) % 17) as f64 / 4.0).collect();
        let mut scores: Vec<Option<f64>> = (0..n).map(|i| Some(((i * 31) % 17) as f64 / 4.0 + ((i * 11) % 13) as f64 / 3.0)).collect();
        let a = within_groups_interval(&scores, &truth, &l, 300, 4);
        assert_eq!(a, within_groups_interval(&scores, &truth, &l, 300, 4));
        assert_ne!(a.bounds(), within_groups_interval(&scores, &truth, &l, 300, 5).bounds());
        let x: Vec<f64> = scores.iter().map(|s| s.unwrap()).collect();
        assert_eq!(a.estimate, within_groups(&x, &truth, &l).pooled);
        let (lo, hi) = a.bounds().unwrap();
        assert!(lo < a.estimate.unwrap() && a.estimate.unwrap() < hi && lo > 0.0, "{a:?}");
        scores[0] = None;
        let w = within_groups_interval(&scores, &truth, &l, 300, 4);
        let (x1, t1, l1): (Vec<f64>, Vec<f64>, Vec<(u8, u8)>) = (x[1..].to_vec(), truth[1..].to_vec(), l[1..].to_vec());
        assert_eq!(w.estimate, within_groups(&x1, &t1, &l1).pooled);
    }
}
