//! Ranking: score every architecture of a benchmark with every requested proxy, on inputs
//! gathered once per architecture, and correlate with ground truth beside the baselines.

pub mod plot;

use crate::bench::Benchmark;
use crate::eval::Interpreter;
use crate::gather::{self, text::Corpus, GatherError, GatherOptions};
use crate::lang::Proxy;
use crate::models::{self, Fidelity, ModelError};
use crate::stats::{correlate, Correlation};
use burn::tensor::Device;
use serde::Serialize;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// An architecture-only predictor, always reported beside a proxy.
#[derive(Clone, Debug, Serialize)]
pub struct Baseline {
    /// What it is.
    pub name: &'static str,
    /// Its value per architecture (higher predicts better).
    pub scores: Vec<f64>,
}

/// The baselines of a benchmark: parameter counts, depth, and the best architecture-only
/// ordering (FlexiBERT: layers, ties broken by hidden size; GPT-2: non-embedding parameters).
pub fn baselines(bench: &Benchmark, fidelity: Fidelity) -> Result<Vec<Baseline>, ModelError> {
    let archs = models::archs(bench);
    let mut counts = vec![];
    for a in &archs {
        counts.push(models::count(*a, fidelity)?);
    }
    let field = |name: &str| counts.iter().map(|c| c.fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v as f64).unwrap_or(0.0)).collect::<Vec<_>>();
    let layers: Vec<f64> = archs.iter().map(|a| a.layers() as f64).collect();
    Ok(match bench {
        Benchmark::Flexibert { archs: fa, .. } => vec![
            Baseline { name: "params (total)", scores: field("total") },
            Baseline { name: "params (non-embedding)", scores: field("nonembedding") },
            Baseline { name: "layers", scores: layers.clone() },
            Baseline {
                name: "layers, then hidden size",
                scores: fa.iter().map(|a| a.layers.len() as f64 * 1e4 + a.hidden_size as f64).collect(),
            },
        ],
        Benchmark::Gpt2 { .. } => {
            let (attn, ffn) = (field("Attn"), field("FFN"));
            vec![
                Baseline { name: "params (total)", scores: field("total") },
                Baseline { name: "params (non-embedding)", scores: field("nonembedding") },
                Baseline { name: "params (decoder: attention + FFN)", scores: attn.iter().zip(&ffn).map(|(a, f)| a + f).collect() },
                Baseline { name: "layers", scores: layers },
            ]
        }
    })
}

/// One proxy's result on a benchmark.
#[derive(Clone, Debug, Serialize)]
pub struct ProxyResult {
    /// The proxy's name.
    pub name: String,
    /// Its canonical text.
    pub text: String,
    /// Score per architecture (`None` = invalid there), in the order of `RankResult::ids`.
    pub scores: Vec<Option<f64>>,
    /// Why it was invalid, per architecture.
    #[serde(skip)]
    pub reasons: Vec<Option<String>>,
    /// Correlation with ground truth.
    pub correlation: Correlation,
    /// Seconds spent evaluating it (gathering excluded).
    pub seconds: f64,
}

/// The result of ranking.
#[derive(Clone, Debug, Serialize)]
pub struct RankResult {
    /// Architecture ids, in the order scored.
    pub ids: Vec<String>,
    /// Ground truth for those ids.
    pub truth: Vec<f64>,
    /// One result per proxy.
    pub proxies: Vec<ProxyResult>,
    /// Baselines on the same architectures, with their correlations.
    pub baselines: Vec<(Baseline, Correlation)>,
    /// Seconds spent gathering (or reading cached inputs), in all.
    pub gather_seconds: f64,
    /// Architectures whose inputs came from the cache.
    pub cached: usize,
    /// True when the run was interrupted and covers only the architectures scored so far.
    pub interrupted: bool,
}

/// Which architectures to rank: all, or a seeded sample of `n`.
pub fn select(total: usize, n: Option<usize>, seed: u64) -> Vec<usize> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut idx: Vec<usize> = (0..total).collect();
    if let Some(n) = n.filter(|&n| n < total) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        idx.shuffle(&mut rng);
        idx.truncate(n);
        idx.sort_unstable();
    }
    idx
}

/// Gathers each selected architecture once (or reads it from `cache`) and scores every proxy
/// on it. `progress` is called after each architecture; `stop` ends the loop early (the result
/// says so).
#[allow(clippy::too_many_arguments)]
pub fn rank(
    bench: &Benchmark,
    proxies: &[Proxy],
    selected: &[usize],
    corpus: &Corpus,
    opts: &GatherOptions,
    device: &Device,
    cache: Option<&crate::gather::cache::Cache>,
    stop: &AtomicBool,
    mut progress: impl FnMut(usize, &str),
) -> Result<RankResult, GatherError> {
    let archs = models::archs(bench);
    let truth_all = bench.quality();
    let (mut ids, mut truth) = (vec![], vec![]);
    let mut scores = vec![vec![]; proxies.len()];
    let mut reasons = vec![vec![]; proxies.len()];
    let mut seconds = vec![0.0; proxies.len()];
    let mut gather_seconds = 0.0;
    let mut cached = 0;
    // Gather and score one architecture (on a worker thread when several run at once).
    // Per architecture: gather seconds, whether it came from the cache, and per proxy its score
    // (or why it has none) with the seconds it took.
    type Scored = (f64, bool, Vec<(Result<f64, crate::eval::Invalid>, f64)>);
    let work = |k: usize| -> Result<Scored, GatherError> {
        let (g, hit) = gather::cache::gather_cached(archs[selected[k]], corpus, opts, device, cache)?;
        let mut interp = Interpreter::new(&g.inputs);
        let results = proxies
            .iter()
            .map(|p| {
                let t = Instant::now();
                let r = interp.score(&p.typed);
                (r, t.elapsed().as_secs_f64())
            })
            .collect();
        Ok((g.seconds, hit, results))
    };
    let done = gather::parallel::ordered(selected.len(), opts.device.gather_jobs(), stop, work, |done, r| {
        let (g_seconds, hit, results) = r?;
        let i = selected[done];
        cached += hit as usize;
        gather_seconds += g_seconds;
        for (k, (r, s)) in results.into_iter().enumerate() {
            seconds[k] += s;
            reasons[k].push(r.as_ref().err().map(|e| e.reason.clone()));
            scores[k].push(r.ok());
        }
        ids.push(archs[i].id());
        truth.push(truth_all[i]);
        progress(done + 1, &archs[i].id());
        Ok::<(), GatherError>(())
    })?;
    let interrupted = done < selected.len();
    let proxies = proxies
        .iter()
        .enumerate()
        .map(|(k, p)| ProxyResult {
            name: p.name.clone(),
            text: p.text(),
            correlation: correlate(&scores[k], &truth),
            scores: std::mem::take(&mut scores[k]),
            reasons: std::mem::take(&mut reasons[k]),
            seconds: seconds[k],
        })
        .collect();
    let scored: Vec<usize> = selected[..ids.len()].to_vec();
    let baselines = baselines(bench, opts.fidelity)?
        .into_iter()
        .map(|b| {
            let s: Vec<f64> = scored.iter().map(|&i| b.scores[i]).collect();
            let c = correlate(&s.iter().map(|&v| Some(v)).collect::<Vec<_>>(), &truth);
            (Baseline { name: b.name, scores: s }, c)
        })
        .collect();
    Ok(RankResult { ids, truth, proxies, baselines, gather_seconds, cached, interrupted })
}
