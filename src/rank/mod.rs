//! Ranking: fetch each architecture's inputs once, score every requested proxy on them, and
//! correlate the scores with ground truth beside the architecture-only baselines, into one
//! serialisable [`RankReport`]: what `rank --format json` prints, what `rank --out` writes as
//! `summary.json`, what `lpzero merge` combines, and what the Python package returns.

pub mod plot;
pub mod reference;

use crate::eval::Interpreter;
use crate::lang::table::InputId;
use crate::lang::Proxy;
use crate::progress::Progress;
use crate::source::{Source, SourceError, SourceInfo};
use crate::stats::{correlate, correlate_top, Correlation};
use crate::stop::Stop;
use reference::Comparison;
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
    pub reference: Option<Comparison>,
    /// Score per architecture (`None`: invalid there), in the order of [`RankReport::ids`].
    pub scores: Vec<Option<f64>>,
    /// Why it is invalid, per architecture.
    pub invalid: Vec<Option<String>>,
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
}

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

/// Fetches each architecture of `source` once and scores every proxy on it; `progress` hears
/// of each architecture, `stop` ends the loop early (the report says so). The first error
/// fetching an architecture ends the run.
pub fn rank(source: &dyn Source, proxies: &[Proxy], stop: &Stop, progress: &dyn Progress) -> Result<RankReport, SourceError> {
    let need = inputs_read(proxies);
    let (mut ids, mut truth) = (vec![], vec![]);
    let mut scores = vec![vec![]; proxies.len()];
    let mut invalid = vec![vec![]; proxies.len()];
    let mut seconds = vec![0.0; proxies.len()];
    let mut gather_seconds = 0.0;
    let mut cached = 0;
    // Per architecture: fetch seconds, whether it came from a cache, and per proxy its score (or
    // why it has none) with the seconds it took. Computed on worker threads when the source
    // fetches several at once.
    type Scored = (f64, bool, Vec<(Result<f64, crate::eval::Invalid>, f64)>);
    let work = |k: usize| -> Result<Scored, SourceError> {
        let f = source.fetch(k, &need)?;
        let mut interp = Interpreter::new(&f.inputs);
        let results = proxies
            .iter()
            .map(|p| {
                let t = Instant::now();
                let r = interp.score(&p.typed);
                (r, t.elapsed().as_secs_f64())
            })
            .collect();
        Ok((f.seconds, f.cached, results))
    };
    progress.start("architectures", source.len());
    let done = crate::parallel::ordered(source.len(), source.parallelism(), stop.flag(), work, |k, r| {
        let (g_seconds, hit, results) = r?;
        cached += hit as usize;
        gather_seconds += g_seconds;
        for (p, (r, s)) in results.into_iter().enumerate() {
            seconds[p] += s;
            invalid[p].push(r.as_ref().err().map(|e| e.reason.clone()));
            scores[p].push(r.ok());
        }
        let id = source.id(k);
        progress.advance(k + 1, &id);
        ids.push(id);
        truth.push(source.truth(k));
        Ok::<(), SourceError>(())
    });
    progress.finish();
    let done = done?;
    let reference = source.reference();
    let proxies = proxies
        .iter()
        .enumerate()
        .map(|(p, proxy)| {
            let s = std::mem::take(&mut scores[p]);
            ProxyReport {
                proxy: proxy.name.clone(),
                text: proxy.text(),
                correlation: correlate(&s, &truth),
                eval_seconds: seconds[p],
                top_percent: TOP_PERCENT.iter().map(|&pct| (pct.to_string(), correlate_top(&s, &truth, pct as f64 / 100.0))).collect(),
                reference: reference.and_then(|r| r.compare(&proxy.name, &ids, &truth, &s)),
                scores: s,
                invalid: std::mem::take(&mut invalid[p]),
            }
        })
        .collect();
    let baselines = source
        .baselines()
        .into_iter()
        .map(|b| {
            let s: Vec<f64> = b.scores[..done].to_vec();
            let c = correlate(&s.iter().map(|&v| Some(v)).collect::<Vec<_>>(), &truth);
            BaselineReport { baseline: b.name, correlation: c, scores: s }
        })
        .collect();
    Ok(RankReport { source: source.info(), architectures: ids.len(), interrupted: done < source.len(), gather_seconds, cached, ids, truth, proxies, baselines })
}

impl RankReport {
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

    /// Writes `summary.json` (this report), `scores.csv` and one rank scatter plot per proxy
    /// (`plots/<name>.svg`) into `dir`, each file atomically.
    pub fn write(&self, dir: &std::path::Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir.join("plots"))?;
        crate::fsutil::write_atomic(&dir.join("scores.csv"), self.scores_csv().as_bytes())?;
        for p in &self.proxies {
            let file: String = p.proxy.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
            let svg = plot::rank_scatter(&p.proxy, &p.scores, &self.truth, &p.correlation);
            crate::fsutil::write_atomic(&dir.join("plots").join(format!("{file}.svg")), svg.as_bytes())?;
        }
        crate::fsutil::write_atomic(&dir.join("summary.json"), serde_json::to_string_pretty(self).expect("the report serialises").as_bytes())
    }
}
