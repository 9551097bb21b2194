//! The noise ceiling of a benchmark with repeated networks: how well one training run of each
//! network ranks another run of the same networks.
//!
//! Where a benchmark lists the same trained network several times under different labels (its
//! entries differ only in settings the training ignored), those entries are independent
//! trainings of one network, and their spread is the benchmark's noise. Each resample draws two
//! distinct members of every repeated group and computes Spearman's ρ between the groups' first
//! draws' truth and their second draws' truth. The median and the 2.5/97.5 % percentiles of ρ
//! over the resamples say how well the ground truth agrees with itself: no ordering can be shown
//! to rank the benchmark much better than that.
//!
//! Reading it: this ceiling is the agreement of two noisy measurements. An ordering that knew
//! every network's expected truth would correlate with *one* noisy measurement somewhat higher
//! (about √ceiling under a classical additive-noise model), and the ceiling is measured on the
//! repeated groups only, whose truth may spread differently from the whole benchmark's. It is a
//! yardstick for "as good as the data allow", not a sharp bound.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::bootstrap::quantile_sorted;
use super::spearman;
use super::within::group_members;

/// The noise ceiling: Spearman's ρ between two runs of each repeated network.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct NoiseCeiling {
    /// Median ρ over the resamples.
    pub median: f64,
    /// The 2.5 % percentile of ρ over the resamples.
    pub lower: f64,
    /// The 97.5 % percentile.
    pub upper: f64,
    /// Groups with at least two members (the networks ranked).
    pub groups: usize,
    /// Architectures in those groups.
    pub architectures: usize,
    /// Resamples drawn.
    pub resamples: usize,
    /// Resamples with a defined ρ (the values the percentiles are taken from).
    pub defined: usize,
}

impl NoiseCeiling {
    /// Whether the interval `[lower, upper]` overlaps the ceiling's range `[self.lower, self.upper]`.
    pub fn overlaps(&self, lower: f64, upper: f64) -> bool {
        lower <= self.upper && self.lower <= upper
    }
}

/// The noise ceiling of `truth` given `labels` (architectures with equal labels are the same
/// trained network), over `resamples` resamples drawn by `ChaCha8Rng::seed_from_u64(seed)`.
/// Groups are taken in ascending label order and members in input order; each resample draws,
/// per group, a first member uniformly and a second uniformly among the others. Percentiles
/// interpolate linearly (numpy's default). `None` when fewer than 3 groups have two members or
/// more, when the lengths differ, or when no resample gives a defined ρ (all truths tied).
pub fn noise_ceiling<K: Ord>(labels: &[K], truth: &[f64], resamples: usize, seed: u64) -> Option<NoiseCeiling> {
    if labels.len() != truth.len() {
        return None;
    }
    let repeated: Vec<Vec<usize>> = group_members(labels).into_iter().map(|(_, m)| m).filter(|m| m.len() >= 2).collect();
    if repeated.len() < 3 {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut a, mut b) = (Vec::with_capacity(repeated.len()), Vec::with_capacity(repeated.len()));
    let mut values = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        a.clear();
        b.clear();
        for m in &repeated {
            let i = rng.random_range(0..m.len());
            let mut j = rng.random_range(0..m.len() - 1);
            if j >= i {
                j += 1;
            }
            a.push(truth[m[i]]);
            b.push(truth[m[j]]);
        }
        values.extend(spearman(&a, &b));
    }
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(NoiseCeiling {
        median: quantile_sorted(&values, 0.5),
        lower: quantile_sorted(&values, 0.025),
        upper: quantile_sorted(&values, 0.975),
        groups: repeated.len(),
        architectures: repeated.iter().map(Vec::len).sum(),
        resamples,
        defined: values.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::StandardNormal;

    #[test]
    fn identical_repeats_give_a_ceiling_of_one() {
        let labels: Vec<usize> = (0..30).map(|i| i / 3).collect();
        let truth: Vec<f64> = labels.iter().map(|&g| ((g * 7) % 10) as f64 + 0.5 * g as f64).collect();
        let c = noise_ceiling(&labels, &truth, 200, 0).unwrap();
        assert!((c.median - 1.0).abs() < 1e-12 && (c.lower - 1.0).abs() < 1e-12 && (c.upper - 1.0).abs() < 1e-12, "{c:?}");
        assert_eq!((c.groups, c.architectures, c.resamples, c.defined), (10, 30, 200, 200));
    }

    #[test]
    fn independent_noise_gives_about_zero() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let labels: Vec<usize> = (0..600).map(|i| i / 3).collect();
        let truth: Vec<f64> = labels.iter().map(|_| rng.sample(StandardNormal)).collect();
        let c = noise_ceiling(&labels, &truth, 500, 0).unwrap();
        assert!(c.median.abs() < 0.2 && c.lower < c.median && c.median < c.upper, "{c:?}");
        assert!(c.lower > -0.5 && c.upper < 0.5, "{c:?}");
    }

    #[test]
    fn signal_plus_noise_and_determinism() {
        // Network quality s_g plus run noise e: two runs correlate below 1, above 0.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let labels: Vec<usize> = (0..400).map(|i| i / 4).collect();
        let s: Vec<f64> = (0..100).map(|_| rng.sample(StandardNormal)).collect();
        let truth: Vec<f64> = labels.iter().map(|&g| s[g] + 0.5 * rng.sample::<f64, _>(StandardNormal)).collect();
        let c = noise_ceiling(&labels, &truth, 300, 1).unwrap();
        // Pearson of two runs is 1/(1 + 0.25) = 0.8; Spearman is close to it.
        assert!((c.median - 0.8).abs() < 0.1, "{c:?}");
        assert_eq!(c, noise_ceiling(&labels, &truth, 300, 1).unwrap());
        assert_ne!(c, noise_ceiling(&labels, &truth, 300, 2).unwrap());
    }

    #[test]
    fn too_few_repeated_groups() {
        // Two repeated groups and singletons: None.
        let labels = [0, 0, 1, 1, 2, 3, 4];
        assert_eq!(noise_ceiling(&labels, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 10, 0), None);
        assert!(noise_ceiling(&[0, 0, 1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 10, 0).is_some());
        assert_eq!(noise_ceiling(&[0, 0, 1, 1, 2, 2], &[1.0; 6], 10, 0), None);
        assert_eq!(noise_ceiling(&[0, 0, 1, 1, 2, 2], &[1.0; 5], 10, 0), None);
    }

    /// FlexiBERT: group key of the network the TensorFlow code actually trained (see
    /// `shared/docs/reference/FLEXIBERT_TRAINED.md` §0 and §9): hidden size and, per layer,
    /// (heads, effective FFN width, number of FFN layers). Operation labels are ignored (every
    /// layer was trained as plain self-attention), and the FFN width F only exists when
    /// `num_feed_forward > 1` (with one FFN layer the width is 4H, whatever F says).
    #[test]
    fn flexibert_noise_ceiling() {
        let Some(dir) = crate::bench::shared_data_dir() else {
            println!("skipped: no shared data (set LPZERO_DATA)");
            return;
        };
        let path = dir.join("benchmarks/flexibert/BERT_benchmark.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            println!("skipped: {} not readable", path.display());
            return;
        };
        let json: serde_json::Value = serde_json::from_str(&text).expect("BERT_benchmark.json parses");
        type Key = (u64, Vec<(u64, u64, u64)>);
        let (mut labels, mut truth): (Vec<Key>, Vec<f64>) = (Vec::new(), Vec::new());
        for arch in json.as_array().expect("an array") {
            let o = &arch["hparams"]["model_hparam_overrides"];
            let layers = o["nas_config"]["encoder_layers"].as_array().expect("layers");
            let key = layers
                .iter()
                .map(|l| {
                    let n = l["num_feed_forward"].as_u64().expect("n");
                    let f = if n > 1 { l["feed_forward_dimension"].as_u64().expect("F") } else { 0 };
                    (l["num_operation_heads"].as_u64().expect("h"), f, n)
                })
                .collect();
            labels.push((o["hidden_size"].as_u64().expect("H"), key));
            truth.push(arch["scores"]["glue"].as_f64().expect("glue"));
        }
        assert_eq!(truth.len(), 500);
        let c = noise_ceiling(&labels, &truth, 1000, 0).expect("repeated groups");
        println!(
            "FlexiBERT noise ceiling (seed 0, 1000 resamples): median {:.4}, 2.5 % {:.4}, 97.5 % {:.4}; {} groups, {} architectures, {} defined",
            c.median, c.lower, c.upper, c.groups, c.architectures, c.defined
        );
        assert_eq!((c.groups, c.architectures), (77, 276));
        assert!((c.median - 0.87).abs() < 0.02, "{c:?}");
        assert!((c.lower - 0.85).abs() < 0.03 && (c.upper - 0.90).abs() < 0.02, "{c:?}");
    }
}
