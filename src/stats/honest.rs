//! The honest account of one proxy: its ρ with an interval, what it knows inside groups of equal
//! configuration, what it adds to the best architecture-only ordering, and a one-line verdict.
//!
//! Every proxy found so far is a size measure; a zero-cost proxy earns its cost only where it knows
//! more than the architecture's configuration. [`HonestStats`] bundles the numbers that say
//! whether it does, for one proxy (or one baseline, scored the same way), against shared
//! [`HonestInputs`].

use serde::Serialize;

use super::bootstrap::{Interval, RankScratch, Resampler, TieClasses};
use super::ceiling::NoiseCeiling;
use super::partial::{partial_of_ranks, Gram};
use super::within::{within_groups, within_groups_interval_at, WithinGroups};
use super::{correlate, pearson, spearman, Correlation, DEFAULT_LEVEL, DEFAULT_RESAMPLES};

/// What a verdict found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// The partial-ρ interval lies above 0: the proxy knows something the baselines do not.
    AddsSignal,
    /// The proxy ranks worse than the best baseline (the interval of the difference lies below 0)
    /// and adds nothing shown.
    Worse,
    /// Neither: the data cannot show the proxy adds anything beyond the baselines.
    NoEvidence,
    /// No baseline was given, so nothing could be compared.
    Undetermined,
}

/// A one-line verdict with the finding behind it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// The finding.
    pub finding: Finding,
    /// Whether ρ's interval overlaps the noise ceiling's range (`None` without a ceiling or an
    /// interval).
    pub reaches_ceiling: Option<bool>,
    /// The verdict in words, e.g. "adds signal beyond depth: partial ρ 0.21 [0.12, 0.30]".
    pub line: String,
}

/// The verdict on a proxy, by an explicit rule, in this order:
/// 1. the partial-ρ interval (given the baselines, named `beyond`) lies strictly above 0 →
///    [`Finding::AddsSignal`], "adds signal beyond `beyond`";
/// 2. else the interval of ρ(proxy) − ρ(best baseline) (`worse_than`: its name and interval)
///    lies strictly below 0 → [`Finding::Worse`], "worse than `name`";
/// 3. else, where a partial ρ was asked for (`partial` given) → [`Finding::NoEvidence`],
///    "no evidence beyond `beyond`" (also when the partial ρ is undefined because the baselines
///    explain the proxy's ranking exactly — the baseline scored against itself lands here);
/// 4. with no baseline at all → [`Finding::Undetermined`].
///
/// Where a noise `ceiling` exists, the line adds whether ρ's interval reaches the ceiling's
/// range (overlaps it), lies below it or above it. Numbers are printed to two decimals.
pub fn verdict(beyond: &str, partial: Option<&Interval>, worse_than: Option<(&str, &Interval)>, rho: &Interval, ceiling: Option<&NoiseCeiling>) -> Verdict {
    let (finding, mut line) = if let Some(p) = partial.filter(|p| p.above(0.0)) {
        (Finding::AddsSignal, format!("adds signal beyond {beyond}: partial ρ {}", show(p, false)))
    } else if let Some((name, d)) = worse_than.filter(|(_, d)| d.below(0.0)) {
        (Finding::Worse, format!("worse than {name}: ρ − ρ({name}) {}", show(d, true)))
    } else if let Some(p) = partial {
        let what = if p.estimate.is_some() { format!("partial ρ {}", show(p, false)) } else { "partial ρ undefined".to_string() };
        (Finding::NoEvidence, format!("no evidence beyond {beyond}: {what}"))
    } else {
        (Finding::Undetermined, "no baseline to compare with".to_string())
    };
    let reaches_ceiling = ceiling.zip(rho.bounds()).map(|(c, (lo, hi))| {
        let place = if c.overlaps(lo, hi) {
            "reaches"
        } else if hi < c.lower {
            "is below"
        } else {
            "is above"
        };
        line += &format!("; ρ [{lo:.2}, {hi:.2}] {place} the noise ceiling [{:.2}, {:.2}]", c.lower, c.upper);
        c.overlaps(lo, hi)
    });
    Verdict { finding, reaches_ceiling, line }
}

/// "0.21 [0.12, 0.30]", signed when asked; "n/a" for a missing number.
fn show(iv: &Interval, signed: bool) -> String {
    let f = |v: Option<f64>| match (v, signed) {
        (Some(v), true) => format!("{v:+.2}"),
        (Some(v), false) => format!("{v:.2}"),
        (None, _) => "n/a".to_string(),
    };
    format!("{} [{}, {}]", f(iv.estimate), f(iv.lower), f(iv.upper))
}

/// An architecture-only ordering (depth, width, parameter count, …): one value per
/// architecture, higher meaning "expected better", aligned with the ground truth.
#[derive(Clone, Copy, Debug)]
pub struct Baseline<'a> {
    /// Its name in verdicts, e.g. "depth".
    pub name: &'a str,
    /// One finite value per architecture.
    pub values: &'a [f64],
}

/// What every proxy of one benchmark is judged against; build once, use for every proxy.
#[derive(Clone, Debug)]
pub struct HonestInputs<'a, K> {
    /// Ground truth per architecture, higher is better (finite).
    pub truth: &'a [f64],
    /// The architecture-only orderings: all of them are the controls of the partial ρ; the one
    /// with the highest Spearman ρ on all architectures is the "best baseline" of the ρ
    /// difference. Empty: no partial ρ, no difference.
    pub baselines: &'a [Baseline<'a>],
    /// A group label per architecture for the within-group ρ (e.g. depth, or (depth, width));
    /// ignored unless as long as `truth`.
    pub groups: Option<&'a [K]>,
    /// The benchmark's noise ceiling, where it has repeated networks ([`super::noise_ceiling`]).
    pub ceiling: Option<NoiseCeiling>,
    /// Bootstrap resamples (default [`DEFAULT_RESAMPLES`]).
    pub resamples: usize,
    /// Bootstrap seed.
    pub seed: u64,
    /// Confidence level (default [`DEFAULT_LEVEL`]).
    pub level: f64,
}

impl<'a, K> HonestInputs<'a, K> {
    /// Inputs with the default resamples and level, seed 0, and no groups or ceiling.
    pub fn new(truth: &'a [f64], baselines: &'a [Baseline<'a>]) -> Self {
        HonestInputs { truth, baselines, groups: None, ceiling: None, resamples: DEFAULT_RESAMPLES, seed: 0, level: DEFAULT_LEVEL }
    }

    /// The names of all baselines joined by " + " (the controls of the partial ρ).
    pub fn baselines_name(&self) -> String {
        self.baselines.iter().map(|b| b.name).collect::<Vec<_>>().join(" + ")
    }

    /// The baseline with the highest Spearman ρ with the truth over all architectures (the first
    /// on a tie), if any has a defined ρ.
    pub fn best_baseline(&self) -> Option<&Baseline<'a>> {
        self.baselines
            .iter()
            .filter_map(|b| spearman(b.values, self.truth).map(|r| (b, r)))
            .fold(None, |best: Option<(&Baseline<'a>, f64)>, (b, r)| match best {
                Some((_, br)) if br >= r => best,
                _ => Some((b, r)),
            })
            .map(|(b, _)| b)
    }
}

/// The honest statistics of one proxy. All of them are computed on the architectures with a
/// valid (`Some`, finite) score, as [`correlate`] keeps them; `correlation` counts them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HonestStats<K> {
    /// Spearman's ρ and Kendall's τ-b over the valid architectures, with the counts.
    pub correlation: Correlation,
    /// The bootstrap interval of ρ (equal to [`super::spearman_interval`]).
    pub interval: Interval,
    /// ρ within groups of equal configuration, pooled, with per-group ρ (where groups were given).
    pub within_groups: Option<WithinGroups<K>>,
    /// The interval of the pooled within-group ρ, resampled within groups
    /// ([`super::within_groups_interval`]).
    pub within_interval: Option<Interval>,
    /// The partial Spearman ρ given all baselines (where baselines were given; `None` inside when
    /// undefined).
    pub partial: Option<f64>,
    /// Its bootstrap interval (equal to [`super::partial_spearman_interval`]).
    pub partial_interval: Option<Interval>,
    /// The best baseline's name (the one `difference` compares with).
    pub best_baseline: Option<String>,
    /// The interval of ρ(proxy) − ρ(best baseline) on the same resamples (paired).
    pub difference: Option<Interval>,
    /// The verdict (see [`verdict`] for the rule).
    pub verdict: Verdict,
}

impl<K: Ord + Clone> HonestStats<K> {
    /// The honest statistics of `scores` (one per architecture, `None` where the proxy failed)
    /// against `inputs`. The ρ, partial-ρ and difference intervals share one set of resamples of
    /// the valid architectures (drawn from `inputs.seed`), so they are paired with each other and
    /// with those of any other proxy valid on the same architectures; the within-group interval
    /// draws its own, stratified resamples from the same seed. Baseline values or truth that are
    /// not finite on a valid architecture make the partial ρ and the difference undefined.
    pub fn new(scores: &[Option<f64>], inputs: &HonestInputs<'_, K>) -> Self {
        let truth = inputs.truth;
        let keep: Vec<usize> = (0..scores.len().min(truth.len())).filter(|&i| scores[i].is_some_and(f64::is_finite)).collect();
        let x: Vec<f64> = keep.iter().map(|&i| scores[i].expect("kept")).collect();
        let y: Vec<f64> = keep.iter().map(|&i| truth[i]).collect();
        let correlation = correlate(scores, truth);

        let best = inputs.best_baseline();
        let best_at = best.and_then(|b| inputs.baselines.iter().position(|c| std::ptr::eq(c, b)));
        let z: Vec<Vec<f64>> = inputs.baselines.iter().map(|b| keep.iter().map(|&i| b.values.get(i).copied().unwrap_or(f64::NAN)).collect()).collect();
        let controls_ok = !z.is_empty() && y.iter().chain(z.iter().flatten()).all(|v| v.is_finite());

        let paired = paired_intervals(&x, &y, &z, controls_ok, best_at, inputs);
        let [interval, partial_interval, difference] = paired;
        let partial_interval = (!inputs.baselines.is_empty()).then_some(partial_interval);
        let difference = best.is_some().then_some(difference);

        let (within, within_interval) = match inputs.groups {
            Some(labels) if labels.len() == truth.len() => {
                let l: Vec<K> = keep.iter().map(|&i| labels[i].clone()).collect();
                (Some(within_groups(&x, &y, &l)), Some(within_groups_interval_at(scores, truth, labels, inputs.resamples, inputs.seed, inputs.level)))
            }
            _ => (None, None),
        };

        let beyond = inputs.baselines_name();
        let worse = best.zip(difference.as_ref()).map(|(b, d)| (b.name, d));
        let verdict = verdict(&beyond, partial_interval.as_ref(), worse, &interval, inputs.ceiling.as_ref());
        HonestStats {
            correlation,
            interval,
            within_groups: within,
            within_interval,
            partial: partial_interval.and_then(|p| p.estimate),
            partial_interval,
            best_baseline: best.map(|b| b.name.to_string()),
            difference,
            verdict,
        }
    }
}

/// ρ, partial ρ and ρ − ρ(best) on one set of resamples: ranks of x, y and the controls are
/// computed once per resample (by counting, see `TieClasses`) and shared by the three.
fn paired_intervals<K>(x: &[f64], y: &[f64], z: &[Vec<f64>], controls_ok: bool, best: Option<usize>, inputs: &HonestInputs<'_, K>) -> [Interval; 3] {
    let n = x.len();
    let (tx, ty) = (TieClasses::new(x), TieClasses::new(y));
    let tz: Vec<TieClasses> = if controls_ok { z.iter().map(|c| TieClasses::new(c)).collect() } else { Vec::new() };
    let mut scratch = RankScratch::default();
    let (mut rx, mut ry) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut rz: Vec<Vec<f64>> = vec![Vec::with_capacity(n); tz.len()];
    let mut res = Gram::default();
    let best = best.filter(|_| controls_ok);
    let mut stats = |idx: &[usize]| -> [Option<f64>; 3] {
        tx.ranks_into(idx, &mut scratch, &mut rx);
        ty.ranks_into(idx, &mut scratch, &mut ry);
        for (t, r) in tz.iter().zip(&mut rz) {
            t.ranks_into(idx, &mut scratch, r);
        }
        let rho = pearson(&rx, &ry);
        let partial = if controls_ok { partial_of_ranks(&rx, &ry, &rz, &mut res) } else { None };
        let diff = best.and_then(|b| Some(rho? - pearson(&rz[b], &ry)?));
        [rho, partial, diff]
    };
    let all: Vec<usize> = (0..n).collect();
    let estimates = stats(&all);
    let mut values: [Vec<f64>; 3] = Default::default();
    let mut draw = Resampler::new(n, inputs.seed);
    let mut idx = Vec::with_capacity(n);
    for _ in 0..inputs.resamples {
        draw.next_into(&mut idx);
        for (v, s) in values.iter_mut().zip(stats(&idx)) {
            v.extend(s);
        }
    }
    let mut k = 0;
    estimates.map(|e| {
        let iv = Interval::from_values(e, &mut values[k], inputs.resamples, inputs.level);
        k += 1;
        iv
    })
}

#[cfg(test)]
mod tests {
    use super::super::{noise_ceiling, partial_spearman_interval_at, spearman_interval_at, within_groups_interval};
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    /// A toy benchmark: depth ∈ {2, 4, 6}, width ∈ {128, 256}; truth = size effect + hidden
    /// quality q + noise. Proxies: pure size, size + q (knows more), and noise.
    struct Toy {
        depth: Vec<f64>,
        groups: Vec<(u32, u32)>,
        truth: Vec<f64>,
        size: Vec<Option<f64>>,
        informed: Vec<Option<f64>>,
        noise: Vec<Option<f64>>,
    }

    fn toy(n: usize, seed: u64) -> Toy {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut t = Toy { depth: vec![], groups: vec![], truth: vec![], size: vec![], informed: vec![], noise: vec![] };
        for i in 0..n {
            let (d, w) = (2 + 2 * (i % 3) as u32, 128 * (1 + (i / 3) % 2) as u32);
            let q: f64 = rng.sample(StandardNormal);
            let e: f64 = rng.sample(StandardNormal);
            let size = d as f64 * w as f64;
            t.depth.push(d as f64);
            t.groups.push((d, w));
            t.truth.push(d as f64 + 2.0 * w as f64 / 128.0 + q + 0.5 * e);
            t.size.push(Some(size));
            t.informed.push(Some(size / 256.0 + 2.0 * q));
            t.noise.push(Some(rng.sample(StandardNormal)));
        }
        t
    }

    #[test]
    fn the_bundle_agrees_with_the_standalone_functions() {
        let t = toy(300, 1);
        let b = [Baseline { name: "depth", values: &t.depth }];
        let mut inputs = HonestInputs::new(&t.truth, &b);
        inputs.groups = Some(&t.groups);
        inputs.resamples = 300;
        inputs.seed = 9;
        let mut scores = t.informed.clone();
        scores[3] = None;
        scores[10] = Some(f64::NAN);
        let h = HonestStats::new(&scores, &inputs);
        assert_eq!(h.correlation, correlate(&scores, &t.truth));
        assert_eq!(h.interval, spearman_interval_at(&scores, &t.truth, 300, 9, DEFAULT_LEVEL));
        assert_eq!(h.partial_interval.unwrap(), partial_spearman_interval_at(&scores, &t.truth, &[&t.depth], 300, 9, DEFAULT_LEVEL));
        assert_eq!(h.within_interval.unwrap(), within_groups_interval(&scores, &t.truth, &t.groups, 300, 9));
        assert_eq!(h.within_groups.as_ref().unwrap().pooled, h.within_interval.unwrap().estimate);
        assert_eq!(h.correlation.valid, 298);
        assert_eq!(h.best_baseline.as_deref(), Some("depth"));
        assert_eq!(h, HonestStats::new(&scores, &inputs));
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(json["verdict"]["finding"], "adds_signal");
        assert_eq!(json["within_groups"]["groups"][0]["label"], serde_json::json!([2, 128]));
    }

    #[test]
    fn verdicts_on_the_toy_benchmark() {
        // Seed 3: the noise proxy's partial-ρ interval covers 0. On seed 2 it did not (partial ρ
        // 0.12 [0.03, 0.21]): a chance hit. Over 100 toy seeds (200 resamples each) the noise
        // proxy "adds signal" once, within the 2.5 % a one-sided 95 % interval allows.
        let t = toy(400, 3);
        let size: Vec<f64> = t.size.iter().map(|s| s.unwrap()).collect();
        let b = [Baseline { name: "depth", values: &t.depth }, Baseline { name: "size", values: &size }];
        let mut inputs = HonestInputs::new(&t.truth, &b);
        inputs.groups = Some(&t.groups);
        inputs.resamples = 400;
        assert_eq!(inputs.best_baseline().unwrap().name, "size");
        let informed = HonestStats::new(&t.informed, &inputs);
        assert_eq!(informed.verdict.finding, Finding::AddsSignal, "{}", informed.verdict.line);
        assert!(informed.verdict.line.starts_with("adds signal beyond depth + size: partial ρ "), "{}", informed.verdict.line);
        assert!(informed.within_interval.unwrap().above(0.3));
        let pure = HonestStats::new(&t.size, &inputs);
        assert_eq!(pure.verdict.finding, Finding::NoEvidence, "{}", pure.verdict.line);
        assert_eq!(pure.partial, None);
        assert_eq!(pure.verdict.line, "no evidence beyond depth + size: partial ρ undefined");
        assert_eq!(pure.within_groups.as_ref().unwrap().pooled, None);
        let noise = HonestStats::new(&t.noise, &inputs);
        assert_eq!(noise.verdict.finding, Finding::Worse, "{}", noise.verdict.line);
        assert!(noise.verdict.line.starts_with("worse than size: ρ − ρ(size) -"), "{}", noise.verdict.line);
        let none = HonestStats::new(&t.noise, &HonestInputs::<u8>::new(&t.truth, &[]));
        assert_eq!((none.verdict.finding, none.partial_interval, none.difference, none.within_groups), (Finding::Undetermined, None, None, None));
    }

    #[test]
    fn verdict_rule_and_ceiling() {
        let iv = |e: f64, l: f64, u: f64| Interval { estimate: Some(e), lower: Some(l), upper: Some(u), level: 0.95, resamples: 100, defined: 100 };
        let c = NoiseCeiling { median: 0.87, lower: 0.85, upper: 0.90, groups: 77, architectures: 276, resamples: 1000, defined: 1000 };
        let v = verdict("depth", Some(&iv(0.2, 0.1, 0.3)), Some(("depth", &iv(-0.1, -0.2, -0.05))), &iv(0.8, 0.75, 0.86), Some(&c));
        assert_eq!(v.finding, Finding::AddsSignal);
        assert_eq!(v.reaches_ceiling, Some(true));
        assert_eq!(v.line, "adds signal beyond depth: partial ρ 0.20 [0.10, 0.30]; ρ [0.75, 0.86] reaches the noise ceiling [0.85, 0.90]");
        let v = verdict("depth", Some(&iv(0.05, -0.01, 0.1)), Some(("depth", &iv(-0.1, -0.2, -0.05))), &iv(0.5, 0.4, 0.6), Some(&c));
        assert_eq!((v.finding, v.reaches_ceiling), (Finding::Worse, Some(false)));
        assert_eq!(v.line, "worse than depth: ρ − ρ(depth) -0.10 [-0.20, -0.05]; ρ [0.40, 0.60] is below the noise ceiling [0.85, 0.90]");
        let v = verdict("depth", Some(&iv(0.05, -0.01, 0.1)), Some(("depth", &iv(0.0, -0.1, 0.1))), &iv(0.5, 0.4, 0.6), None);
        assert_eq!((v.finding, v.reaches_ceiling), (Finding::NoEvidence, None));
        assert_eq!(v.line, "no evidence beyond depth: partial ρ 0.05 [-0.01, 0.10]");
        // A bound exactly at 0 is not "above".
        let v = verdict("depth", Some(&iv(0.05, 0.0, 0.1)), None, &iv(0.5, 0.4, 0.6), None);
        assert_eq!(v.finding, Finding::NoEvidence);
    }

    #[test]
    fn a_ceiling_from_repeats_feeds_the_verdict() {
        let t = toy(120, 3);
        let labels: Vec<usize> = (0..120).map(|i| i / 2).collect();
        let ceiling = noise_ceiling(&labels, &t.truth, 200, 0);
        let b = [Baseline { name: "depth", values: &t.depth }];
        let mut inputs = HonestInputs::<u8>::new(&t.truth, &b);
        inputs.ceiling = ceiling;
        inputs.resamples = 200;
        let h = HonestStats::new(&t.informed, &inputs);
        assert!(h.verdict.reaches_ceiling.is_some() && h.verdict.line.contains("noise ceiling"), "{}", h.verdict.line);
    }

    /// Not a test of speed (nothing is asserted): `cargo test --release --lib honest_bundle_timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn honest_bundle_timing() {
        let t = toy(500, 4);
        let size: Vec<f64> = t.size.iter().map(|s| s.unwrap()).collect();
        let b = [Baseline { name: "depth", values: &t.depth }, Baseline { name: "size", values: &size }];
        let mut inputs = HonestInputs::new(&t.truth, &b);
        inputs.groups = Some(&t.groups);
        let proxies = 30;
        let start = std::time::Instant::now();
        let mut line = 0;
        for p in 0..proxies {
            let scores: Vec<Option<f64>> = t.informed.iter().zip(&t.noise).map(|(a, b)| Some(a.unwrap() + p as f64 * b.unwrap())).collect();
            line += HonestStats::new(&scores, &inputs).verdict.line.len();
        }
        let s = start.elapsed().as_secs_f64();
        println!("{proxies} proxies × 500 architectures × 1000 resamples (2 baselines, groups): {s:.3} s, {:.1} ms per proxy ({line})", 1000.0 * s / proxies as f64);
        let time = |what: &str, f: &dyn Fn() -> Interval| {
            let start = std::time::Instant::now();
            let e = (0..10).map(|_| f().defined).sum::<usize>();
            println!("  {what}: {:.1} ms ({e})", 100.0 * start.elapsed().as_secs_f64());
        };
        {
            let start = std::time::Instant::now();
            let mut r = Resampler::new(500, 0);
            let mut idx = Vec::new();
            let mut acc = 0;
            for _ in 0..10_000 {
                r.next_into(&mut idx);
                acc += idx[7];
            }
            println!("  draws only: {:.2} ms per 1000 resamples ({acc})", 0.1 * start.elapsed().as_secs_f64() * 1000.0);
        }
        time("spearman_interval", &|| super::super::spearman_interval(&t.informed, &t.truth, 1000, 0));
        time("partial_spearman_interval (2 controls)", &|| super::super::partial_spearman_interval(&t.informed, &t.truth, &[&t.depth, &size], 1000, 0));
        time("within_groups_interval", &|| within_groups_interval(&t.informed, &t.truth, &t.groups, 1000, 0));
    }
}
