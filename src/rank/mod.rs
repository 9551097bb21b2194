//! Ranking: fetch each architecture's inputs once, score every requested proxy on them, and
//! correlate the scores with ground truth beside the architecture-only baselines, into one
//! serialisable [`RankReport`]: what `rank --format json` prints, what `rank --out` writes as
//! `summary.json`, what `lpzero merge` combines, and what the Python package returns.

pub mod noise;
pub mod plot;
pub mod reference;
pub mod shard;

use crate::eval::Interpreter;
use crate::lang::table::InputId;
use crate::lang::Proxy;
use crate::progress::Progress;
use crate::source::{Source, SourceError, SourceInfo, Variant};
use crate::stats::{
    correlate, correlate_top, noise_ceiling, within_groups, within_groups_interval, Baseline as Control, Correlation, HonestInputs, HonestStats, Interval,
    NoiseCeiling, WithinGroups, DEFAULT_RESAMPLES,
};
use crate::stop::Stop;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Instant;

/// An architecture-only predictor, always reported beside a proxy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// What it is.
    pub name: String,
    /// Its value per architecture (higher predicts better).
    pub scores: Vec<f64>,
}

impl Baseline {
    /// A baseline named `name`.
    pub fn new(name: &str, scores: Vec<f64>) -> Baseline {
        Baseline { name: name.to_owned(), scores }
    }
}

/// The fractions of the best architectures (by ground truth) that the report also correlates
/// on, in percent (the reference's top-10/30/50% report).
pub const TOP_PERCENT: [u32; 3] = [10, 30, 50];

/// One proxy's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProxyReport {
    /// The proxy's name.
    pub proxy: String,
    /// Its canonical text.
    pub text: String,
    /// Correlation with ground truth over the architectures where it is valid.
    #[serde(flatten)]
    pub correlation: Correlation,
    /// Seconds spent evaluating it (fetching excluded).
    pub eval_seconds: f64,
    /// The correlations on the best 10, 30 and 50 % of architectures by ground truth.
    pub top_percent: BTreeMap<String, Correlation>,
    /// The reference implementation's values of the same measure, where published.
    pub reference: Option<reference::Comparison>,
    /// Score per architecture (`None`: invalid there), in the order of [`RankReport::ids`].
    pub scores: Vec<Option<f64>>,
    /// Why it is invalid, per architecture.
    pub invalid: Vec<Option<String>>,
    /// What it knows beyond the architecture (written, not read back).
    #[serde(default, skip_deserializing)]
    pub beyond: Option<Beyond>,
    /// How its score varies over minibatches and initialisations, when several were scored
    /// (`scores` are then the means over them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<noise::NoiseReport>,
}

/// One baseline's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselineReport {
    /// What it is.
    pub baseline: String,
    /// Its correlation with ground truth.
    #[serde(flatten)]
    pub correlation: Correlation,
    /// Its value per architecture.
    pub scores: Vec<f64>,
    /// The same statistics beyond ρ as a proxy gets (written, not read back).
    #[serde(default, skip_deserializing)]
    pub beyond: Option<Beyond>,
}

/// The statistics beyond ρ and τ of one proxy or baseline ([`crate::stats::honest`]): the
/// bootstrap interval of ρ, ρ within groups of equal depth (`honest.within_groups`) and of equal
/// width, the partial ρ given the best architecture-only ordering ([`BeyondInfo::controls`]), the
/// paired interval of ρ − ρ(that ordering), and a one-line verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Beyond {
    /// ρ's interval, within-depth ρ, partial ρ, the difference and the verdict.
    pub honest: HonestStats<u64>,
    /// ρ within groups of equal width, pooled, where the source knows the widths.
    pub within_width: Option<WithinGroups<u64>>,
    /// Its interval (resampled within the groups).
    pub within_width_interval: Option<Interval>,
}

/// How the statistics beyond ρ were made, for every proxy of a report alike.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BeyondInfo {
    /// The architecture-only ordering the partial ρ controls for and the difference compares
    /// with: the source's best baseline, else the baseline with the highest ρ.
    pub controls: Option<String>,
    /// Whether depths and widths were known (within-group ρ computed).
    pub groups: bool,
    /// Bootstrap resamples of every interval.
    pub resamples: usize,
    /// Their confidence level.
    pub level: f64,
    /// The bootstrap seed.
    pub seed: u64,
    /// The benchmark's noise ceiling, where it lists the same trained network several times
    /// (at least three networks with two or more entries).
    pub ceiling: Option<NoiseCeiling>,
}

/// The bootstrap seed of rank's statistics (fixed, so a report is reproducible).
pub const BEYOND_SEED: u64 = 0;

/// The result of ranking.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RankReport {
    /// What was ranked, and how its inputs were made.
    pub source: SourceInfo,
    /// Architectures scored.
    pub architectures: usize,
    /// True when the run was stopped and covers only the architectures scored so far.
    pub interrupted: bool,
    /// Seconds spent gathering (or reading cached inputs), in all.
    pub gather_seconds: f64,
    /// Architectures whose inputs came from a cache.
    pub cached: usize,
    /// Architecture ids, in the order scored.
    pub ids: Vec<String>,
    /// Ground truth for those ids (higher is better).
    pub truth: Vec<f64>,
    /// One result per proxy.
    pub proxies: Vec<ProxyReport>,
    /// The baselines on the same architectures.
    pub baselines: Vec<BaselineReport>,
    /// How the statistics beyond ρ were made (written, not read back).
    #[serde(default, skip_deserializing)]
    pub beyond: Option<BeyondInfo>,
    /// The minibatches × initialisations each architecture was scored on, when more than one
    /// (each proxy's score is its mean over them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
    /// Depth, width and trained network of each architecture, where the source knows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<crate::source::Groups>,
}

/// One proxy's score on one architecture.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProxyScore {
    /// The proxy's name.
    pub proxy: String,
    /// Its canonical text.
    pub text: String,
    /// The score, when valid.
    pub score: Option<f64>,
    /// Why it is invalid.
    pub invalid: Option<String>,
    /// Seconds it took.
    pub eval_seconds: f64,
}

/// Scores every proxy on one architecture's inputs (sub-expressions shared between proxies are
/// computed once).
pub fn score_all(inputs: &crate::eval::ProxyInputs, proxies: &[Proxy]) -> Vec<ProxyScore> {
    let mut interp = Interpreter::new(inputs);
    proxies
        .iter()
        .map(|p| {
            let t = Instant::now();
            let r = interp.score(&p.typed);
            let eval_seconds = t.elapsed().as_secs_f64();
            ProxyScore { proxy: p.name.clone(), text: p.text(), score: r.as_ref().ok().copied(), invalid: r.err().map(|e| e.reason), eval_seconds }
        })
        .collect()
}

/// The inputs a set of proxies reads (what a gather must record).
pub fn inputs_read(proxies: &[Proxy]) -> Vec<InputId> {
    let mut need: Vec<InputId> = proxies.iter().flat_map(|p| p.typed.inputs()).collect();
    need.sort();
    need.dedup();
    need
}

/// What ranking computed per architecture, before any statistic: what one process ranks, what
/// a shard writes (`lpzero rank --shard`) and what `lpzero merge` puts back together.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rows {
    /// Architecture ids, in order.
    pub ids: Vec<String>,
    /// Their ground truth (higher is better).
    pub truth: Vec<f64>,
    /// Per proxy, the score of each architecture (`None`: invalid there).
    pub scores: Vec<Vec<Option<f64>>>,
    /// Per proxy, why it is invalid on each architecture.
    pub invalid: Vec<Vec<Option<String>>>,
    /// Per proxy, seconds spent evaluating it, in all.
    pub eval_seconds: Vec<f64>,
    /// Seconds spent fetching, in all.
    pub gather_seconds: f64,
    /// Architectures whose inputs came from a cache.
    pub cached: usize,
    /// The baselines on these architectures.
    pub baselines: Vec<Baseline>,
    /// Depth, width and trained network of each, where the source knows them.
    pub groups: Option<crate::source::Groups>,
    /// Per proxy with published reference values, those values on these architectures.
    pub reference: BTreeMap<String, Vec<Option<f64>>>,
    /// With several variants (minibatches × initialisations): per proxy, per architecture, the
    /// score of each variant (`scores` holds their means); empty with one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variant_scores: Vec<Vec<Vec<Option<f64>>>>,
}

impl Rows {
    /// Rows of `parts` (each with the positions of its rows in the whole) put in the order of
    /// the positions. Every part must have the same proxies, baselines and kind of groups.
    pub fn interleave(parts: Vec<(Vec<usize>, Rows)>) -> Rows {
        let mut order: Vec<(usize, usize, usize)> = parts.iter().enumerate().flat_map(|(p, (pos, _))| pos.iter().enumerate().map(move |(r, &k)| (k, p, r))).collect();
        order.sort_unstable();
        let Some(first) = parts.first().map(|(_, r)| r) else { return Rows::default() };
        let proxies = first.scores.len();
        let mut out = Rows {
            scores: vec![vec![]; proxies],
            invalid: vec![vec![]; proxies],
            eval_seconds: vec![0.0; proxies],
            baselines: first.baselines.iter().map(|b| Baseline::new(&b.name, vec![])).collect(),
            groups: first.groups.as_ref().map(|_| crate::source::Groups::default()),
            reference: first.reference.keys().map(|k| (k.clone(), vec![])).collect(),
            variant_scores: vec![vec![]; if first.variant_scores.is_empty() { 0 } else { proxies }],
            ..Rows::default()
        };
        for (_, rows) in &parts {
            for (p, s) in rows.eval_seconds.iter().enumerate() {
                out.eval_seconds[p] += s;
            }
            out.gather_seconds += rows.gather_seconds;
            out.cached += rows.cached;
        }
        for (_, p, r) in order {
            let rows = &parts[p].1;
            out.ids.push(rows.ids[r].clone());
            out.truth.push(rows.truth[r]);
            for q in 0..proxies {
                out.scores[q].push(rows.scores[q][r]);
                out.invalid[q].push(rows.invalid[q][r].clone());
            }
            for (q, v) in out.variant_scores.iter_mut().enumerate() {
                v.push(rows.variant_scores[q][r].clone());
            }
            for (b, from) in out.baselines.iter_mut().zip(&rows.baselines) {
                b.scores.push(from.scores[r]);
            }
            if let (Some(g), Some(from)) = (out.groups.as_mut(), rows.groups.as_ref()) {
                g.depth.push(from.depth[r]);
                g.width.push(from.width[r]);
                g.network.push(from.network[r].clone());
            }
            for (name, v) in out.reference.iter_mut() {
                v.push(rows.reference.get(name).and_then(|x| x[r]));
            }
        }
        out
    }
}

/// What a report says about how it was made, beside its rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RankMeta {
    /// What was ranked.
    pub source: SourceInfo,
    /// Each proxy's name and canonical text.
    pub proxies: Vec<(String, String)>,
    /// The source's best architecture-only ordering, if it names one.
    pub best_baseline: Option<String>,
    /// The minibatches × initialisations each architecture was scored on, when more than one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
}

/// Fetches each architecture of `sources` once and scores every proxy on it, into [`Rows`].
/// `sources` are the variants of one source (the same architectures on other minibatches or
/// initialisations, [`Source::variant`]; `sources[i]` gathers `variants[i]`), the first first;
/// with several, each proxy's score is the mean over them (invalid where any variant is, the
/// reason naming the variant) and [`Rows::variant_scores`] keeps each.
/// `progress` hears of each architecture, `stop` ends the loop early (the rows then cover the
/// architectures done so far). The first error fetching an architecture ends the run.
pub fn rank_rows(sources: &[&dyn Source], variants: &[Variant], proxies: &[Proxy], stop: &Stop, progress: &dyn Progress) -> Result<Rows, SourceError> {
    assert_eq!(sources.len(), variants.len(), "one source per variant");
    let source = sources[0];
    let need = inputs_read(proxies);
    let several = sources.len() > 1;
    let mut rows = Rows {
        scores: vec![vec![]; proxies.len()],
        invalid: vec![vec![]; proxies.len()],
        eval_seconds: vec![0.0; proxies.len()],
        variant_scores: vec![vec![]; if several { proxies.len() } else { 0 }],
        ..Rows::default()
    };
    // Per architecture: fetch seconds, how many variants came from a cache, and per variant every
    // proxy's score. Computed on worker threads when the source fetches several at once.
    type Scored = (f64, usize, Vec<Vec<ProxyScore>>);
    let work = |k: usize| -> Result<Scored, SourceError> {
        let (mut seconds, mut hits, mut by_variant) = (0.0, 0, vec![]);
        for s in sources {
            let f = s.fetch(k, &need)?;
            seconds += f.seconds;
            hits += usize::from(f.cached);
            by_variant.push(score_all(&f.inputs, proxies));
        }
        Ok((seconds, hits, by_variant))
    };
    progress.start("architectures", source.len());
    let done = crate::parallel::ordered(source.len(), source.parallelism(), stop.flag(), work, |k, r| {
        let (g_seconds, hits, by_variant) = r?;
        rows.cached += usize::from(hits == sources.len());
        rows.gather_seconds += g_seconds;
        for p in 0..proxies.len() {
            rows.eval_seconds[p] += by_variant.iter().map(|v| v[p].eval_seconds).sum::<f64>();
            let each: Vec<Option<f64>> = by_variant.iter().map(|v| v[p].score).collect();
            let why = by_variant.iter().zip(variants).find_map(|(v, variant)| v[p].invalid.as_ref().map(|reason| (reason, variant)));
            let invalid = why.map(|(reason, variant)| if several { format!("{variant}: {reason}") } else { reason.clone() });
            rows.scores[p].push(if why.is_some() { None } else { noise::mean_of(&each) });
            rows.invalid[p].push(invalid);
            if several {
                rows.variant_scores[p].push(each);
            }
        }
        let id = source.id(k);
        progress.advance(k + 1, &id);
        rows.ids.push(id);
        rows.truth.push(source.truth(k));
        Ok::<(), SourceError>(())
    });
    progress.finish();
    let done = done?;
    rows.baselines = source.baselines().into_iter().map(|b| Baseline { scores: b.scores[..done].to_vec(), name: b.name }).collect();
    rows.groups = source.groups().map(|g| crate::source::Groups { depth: g.depth[..done].to_vec(), width: g.width[..done].to_vec(), network: g.network[..done].to_vec() });
    if let Some(r) = source.reference() {
        for p in proxies {
            if let Some(v) = r.values_of(&p.name, &rows.ids) {
                rows.reference.insert(p.name.clone(), v);
            }
        }
    }
    Ok(rows)
}

/// The report's metadata for `proxies` ranked on `source`, each architecture scored on
/// `variants` (none or one: the source's own gather).
pub fn meta(source: &dyn Source, proxies: &[Proxy], variants: &[Variant]) -> RankMeta {
    RankMeta {
        source: source.info(),
        proxies: proxies.iter().map(|p| (p.name.clone(), p.text())).collect(),
        best_baseline: source.best_baseline().map(str::to_owned),
        variants: if variants.len() > 1 { variants.to_vec() } else { vec![] },
    }
}

/// Fetches each architecture of `source` once and scores every proxy on it ([`rank_rows`]),
/// then correlates ([`assemble`]). A stopped run's report says so and covers what was done.
pub fn rank(source: &dyn Source, proxies: &[Proxy], stop: &Stop, progress: &dyn Progress) -> Result<RankReport, SourceError> {
    rank_variants(&[source], &[Variant::default()], proxies, stop, progress)
}

/// [`rank`] over several variants of one source (`sources[i]` gathers `variants[i]`): each
/// proxy ranked by its mean over them, with its [`noise::NoiseReport`].
pub fn rank_variants(sources: &[&dyn Source], variants: &[Variant], proxies: &[Proxy], stop: &Stop, progress: &dyn Progress) -> Result<RankReport, SourceError> {
    let rows = rank_rows(sources, variants, proxies, stop, progress)?;
    let interrupted = rows.ids.len() < sources[0].len();
    Ok(assemble(&meta(sources[0], proxies, variants), rows, interrupted))
}

/// The report of `rows`: every proxy's and baseline's correlation with ground truth, on all and
/// on the best 10/30/50 %, the comparison with the reference's values, and the statistics beyond
/// ρ. A function of the rows alone, so a merged run reports exactly what one process would.
pub fn assemble(meta: &RankMeta, rows: Rows, interrupted: bool) -> RankReport {
    let Rows { ids, truth, mut scores, mut invalid, eval_seconds, gather_seconds, cached, baselines, groups, reference, variant_scores } = rows;
    let proxies = meta
        .proxies
        .iter()
        .enumerate()
        .map(|(p, (name, text))| {
            let s = std::mem::take(&mut scores[p]);
            ProxyReport {
                proxy: name.clone(),
                text: text.clone(),
                correlation: correlate(&s, &truth),
                eval_seconds: eval_seconds[p],
                top_percent: TOP_PERCENT.iter().map(|&pct| (pct.to_string(), correlate_top(&s, &truth, pct as f64 / 100.0))).collect(),
                reference: reference.get(name).map(|theirs| reference::Comparison::of(name, theirs, &truth, &s)),
                scores: s,
                invalid: std::mem::take(&mut invalid[p]),
                beyond: None,
                noise: variant_scores.get(p).map(|by_arch| noise::NoiseReport::of(by_arch, &truth)),
            }
        })
        .collect();
    let baselines = baselines
        .into_iter()
        .map(|b| {
            let c = correlate(&b.scores.iter().map(|&v| Some(v)).collect::<Vec<_>>(), &truth);
            BaselineReport { baseline: b.name, correlation: c, scores: b.scores, beyond: None }
        })
        .collect();
    let mut report = RankReport {
        source: meta.source.clone(),
        architectures: ids.len(),
        interrupted,
        gather_seconds,
        cached,
        ids,
        truth,
        proxies,
        baselines,
        beyond: None,
        variants: meta.variants.clone(),
        groups: None,
    };
    report.add_beyond(meta.best_baseline.as_deref(), groups.as_ref().map(|g| (g.depth.as_slice(), g.width.as_slice(), g.network.as_slice())));
    report.groups = groups;
    report
}

impl RankReport {
    /// Computes the statistics beyond ρ for every proxy and baseline: `best` names the baseline
    /// to control for (else the one with the highest ρ); `groups` gives each architecture's depth,
    /// width and trained network, where known.
    pub fn add_beyond(&mut self, best: Option<&str>, groups: Option<(&[u64], &[u64], &[String])>) {
        let n = self.truth.len();
        let groups = groups.filter(|(d, w, k)| d.len() == n && w.len() == n && k.len() == n);
        let by_rho = self.baselines.iter().filter(|b| b.correlation.spearman.is_some()).max_by(|a, b| a.correlation.spearman.partial_cmp(&b.correlation.spearman).expect("finite ρ"));
        let control = best.and_then(|name| self.baselines.iter().find(|b| b.baseline == name)).or(by_rho);
        let controls: Vec<Control> = control.iter().map(|b| Control { name: &b.baseline, values: &b.scores }).collect();
        let mut inputs = HonestInputs::new(&self.truth, &controls);
        inputs.seed = BEYOND_SEED;
        inputs.groups = groups.map(|(d, _, _)| d);
        inputs.ceiling = groups.and_then(|(_, _, k)| noise_ceiling(k, &self.truth, DEFAULT_RESAMPLES, BEYOND_SEED));
        let of = |scores: &[Option<f64>]| -> Beyond {
            let honest = HonestStats::new(scores, &inputs);
            let (within_width, within_width_interval) = match groups {
                Some((_, w, _)) => {
                    let keep: Vec<usize> = (0..n).filter(|&i| scores[i].is_some_and(f64::is_finite)).collect();
                    let x: Vec<f64> = keep.iter().map(|&i| scores[i].expect("kept")).collect();
                    let y: Vec<f64> = keep.iter().map(|&i| self.truth[i]).collect();
                    let l: Vec<u64> = keep.iter().map(|&i| w[i]).collect();
                    (Some(within_groups(&x, &y, &l)), Some(within_groups_interval(scores, &self.truth, w, DEFAULT_RESAMPLES, BEYOND_SEED)))
                }
                None => (None, None),
            };
            Beyond { honest, within_width, within_width_interval }
        };
        let proxies: Vec<Beyond> = self.proxies.iter().map(|p| of(&p.scores)).collect();
        let baselines: Vec<Beyond> = self.baselines.iter().map(|b| of(&b.scores.iter().map(|&v| Some(v)).collect::<Vec<_>>())).collect();
        let info = BeyondInfo { controls: control.map(|b| b.baseline.clone()), groups: groups.is_some(), resamples: inputs.resamples, level: inputs.level, seed: BEYOND_SEED, ceiling: inputs.ceiling };
        for (p, b) in self.proxies.iter_mut().zip(proxies) {
            p.beyond = Some(b);
        }
        for (p, b) in self.baselines.iter_mut().zip(baselines) {
            p.beyond = Some(b);
        }
        self.beyond = Some(info);
    }

    /// Per-architecture scores as CSV: `id,truth`, one column per proxy (empty where invalid),
    /// then one per baseline.
    pub fn scores_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(vec![]);
        let mut header = vec!["id".to_owned(), "truth".to_owned()];
        header.extend(self.proxies.iter().map(|p| p.proxy.clone()));
        header.extend(self.baselines.iter().map(|b| b.baseline.clone()));
        w.write_record(&header).expect("writing to memory");
        for (i, id) in self.ids.iter().enumerate() {
            let mut row = vec![id.clone(), self.truth[i].to_string()];
            row.extend(self.proxies.iter().map(|p| p.scores[i].map(|v| v.to_string()).unwrap_or_default()));
            row.extend(self.baselines.iter().map(|b| b.scores[i].to_string()));
            w.write_record(&row).expect("writing to memory");
        }
        String::from_utf8(w.into_inner().expect("writing to memory")).expect("CSV of UTF-8 fields")
    }

    /// The rank scatter plot of proxy `p` ([`plot::rank_scatter`]): beside it the best
    /// architecture-only ordering (the baseline the statistics control for), points coloured by
    /// depth and shaped by width where the source knows them.
    pub fn scatter(&self, p: &ProxyReport) -> String {
        let control = self.beyond.as_ref().and_then(|b| b.controls.as_deref()).and_then(|name| self.baselines.iter().find(|b| b.baseline == name));
        let control_scores: Option<Vec<Option<f64>>> = control.map(|b| b.scores.iter().map(|&v| Some(v)).collect());
        let mut panels = vec![plot::Panel { name: &p.proxy, scores: &p.scores, correlation: &p.correlation }];
        if let (Some(b), Some(s)) = (control, control_scores.as_deref()) {
            panels.push(plot::Panel { name: &b.baseline, scores: s, correlation: &b.correlation });
        }
        let marks = self.groups.as_ref().filter(|g| g.depth.len() == self.truth.len()).map(|g| plot::Marks { depth: &g.depth, width: &g.width });
        let title = format!("{} on {} ({} architectures)", p.proxy, crate::plot::short_name(&self.source.bench), self.architectures);
        plot::rank_scatter(&title, &panels, &self.truth, marks)
    }

    /// Writes `summary.json` (this report), `scores.csv` and one rank scatter plot per proxy
    /// (`plots/<name>.svg`, and `.png` in builds with PNG output) into `dir`, each file
    /// atomically.
    pub fn write(&self, dir: &std::path::Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir.join("plots"))?;
        crate::fsutil::write_atomic(&dir.join("scores.csv"), self.scores_csv().as_bytes())?;
        for p in &self.proxies {
            let file: String = p.proxy.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
            crate::plot::write_svg_and_png(&dir.join("plots").join(&file), &self.scatter(p))?;
        }
        crate::fsutil::write_atomic(&dir.join("summary.json"), serde_json::to_string_pretty(self).expect("the report serialises").as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Finding;

    /// Spearman ρ from average ranks, written out in f64 (independent of `stats`).
    fn rho(x: &[f64], y: &[f64]) -> f64 {
        let rank = |v: &[f64]| -> Vec<f64> {
            v.iter().map(|a| {
                let below = v.iter().filter(|b| *b < a).count() as f64;
                let equal = v.iter().filter(|b| *b == a).count() as f64;
                below + (equal + 1.0) / 2.0
            }).collect()
        };
        let (rx, ry) = (rank(x), rank(y));
        let n = x.len() as f64;
        let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
        let sxy: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - mx) * (b - my)).sum();
        let sxx: f64 = rx.iter().map(|a| (a - mx).powi(2)).sum();
        let syy: f64 = ry.iter().map(|b| (b - my).powi(2)).sum();
        sxy / (sxx * syy).sqrt()
    }

    fn report(truth: Vec<f64>, proxy: Vec<f64>, baselines: Vec<(&str, Vec<f64>)>) -> RankReport {
        let n = truth.len();
        let c = |s: &[f64]| correlate(&s.iter().map(|&v| Some(v)).collect::<Vec<_>>(), &truth);
        RankReport {
            source: SourceInfo::default(),
            architectures: n,
            interrupted: false,
            gather_seconds: 0.0,
            cached: 0,
            ids: (0..n).map(|i| i.to_string()).collect(),
            truth: truth.clone(),
            proxies: vec![ProxyReport {
                proxy: "p".into(),
                text: "p".into(),
                correlation: c(&proxy),
                eval_seconds: 0.0,
                top_percent: BTreeMap::new(),
                reference: None,
                scores: proxy.iter().map(|&v| Some(v)).collect(),
                invalid: vec![None; n],
                beyond: None,
                noise: None,
            }],
            baselines: baselines.into_iter().map(|(name, s)| BaselineReport { baseline: name.into(), correlation: c(&s), scores: s, beyond: None }).collect(),
            beyond: None,
            variants: vec![],
            groups: None,
        }
    }

    /// The statistics beyond ρ: the control is the named best baseline, the partial ρ is the
    /// textbook formula on Spearman correlations, the depth groups are depth (not width), the
    /// control scored against itself adds nothing, and repeated networks give a noise ceiling.
    #[test]
    fn rank_reports_what_a_proxy_knows_beyond_the_architecture() {
        // 12 architectures: depth 1 or 2, width 8 or 16; the proxy follows truth inside each
        // depth group; "size" is depth, "noise" is unrelated.
        let truth = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.5];
        let depth: Vec<u64> = (0..12).map(|i| 1 + (i >= 6) as u64).collect();
        let width: Vec<u64> = (0..12).map(|i| if i % 2 == 0 { 8 } else { 16 }).collect();
        let proxy = vec![0.3, 0.1, 0.9, 0.4, 1.2, 1.0, 2.2, 2.4, 2.3, 2.9, 3.5, 3.1];
        let size: Vec<f64> = depth.iter().map(|&d| d as f64).collect();
        let noise = vec![5.0, 3.0, 8.0, 1.0, 9.0, 2.0, 7.0, 4.0, 6.0, 0.0, 11.0, 10.0];
        // Networks 0..4 appear three times each.
        let network: Vec<String> = (0..12).map(|i| format!("net{}", i % 4)).collect();
        let mut r = report(truth.clone(), proxy.clone(), vec![("noise", noise.clone()), ("size", size.clone())]);
        r.add_beyond(Some("size"), Some((&depth, &width, &network)));
        let info = r.beyond.as_ref().unwrap();
        assert_eq!(info.controls.as_deref(), Some("size"));
        assert!(info.groups);
        assert!(info.ceiling.is_some_and(|c| c.groups == 4 && c.architectures == 12));
        let b = r.proxies[0].beyond.as_ref().unwrap();
        assert_eq!(b.honest.interval.estimate, r.proxies[0].correlation.spearman);
        let (rxy, rxz, ryz) = (rho(&proxy, &truth), rho(&proxy, &size), rho(&truth, &size));
        let partial = (rxy - rxz * ryz) / ((1.0 - rxz * rxz) * (1.0 - ryz * ryz)).sqrt();
        assert!((b.honest.partial.unwrap() - partial).abs() < 1e-12, "{:?} vs {partial}", b.honest.partial);
        assert_eq!(b.honest.best_baseline.as_deref(), Some("size"));
        // Within depth 1 (0..6) and depth 2 (6..12): the proxy's ρ with truth, each by hand.
        let groups = &b.honest.within_groups.as_ref().unwrap().groups;
        assert_eq!(groups.iter().map(|g| (g.label, g.size)).collect::<Vec<_>>(), [(1, 6), (2, 6)]);
        assert!((groups[0].spearman.unwrap() - rho(&proxy[..6], &truth[..6])).abs() < 1e-12);
        assert!((groups[1].spearman.unwrap() - rho(&proxy[6..], &truth[6..])).abs() < 1e-12);
        let wg = &b.within_width.as_ref().unwrap().groups;
        assert_eq!(wg.iter().map(|g| (g.label, g.size)).collect::<Vec<_>>(), [(8, 6), (16, 6)]);
        // The control against itself: partial ρ undefined, no evidence.
        let s = r.baselines[1].beyond.as_ref().unwrap();
        assert_eq!(s.honest.partial, None);
        assert_eq!(s.honest.verdict.finding, Finding::NoEvidence);
        // Without a named best baseline, the one with the higher ρ controls.
        let mut r2 = report(truth, proxy, vec![("noise", noise), ("size", size)]);
        r2.add_beyond(None, None);
        assert_eq!(r2.beyond.as_ref().unwrap().controls.as_deref(), Some("size"));
        assert!(r2.proxies[0].beyond.as_ref().unwrap().honest.within_groups.is_none());
    }
}
