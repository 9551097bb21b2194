//! `lpzero bench build`: plan the architectures of a build, train each for K steps, and write a
//! benchmark the loaders read, resuming what an earlier run left ([`super::layout`]).
//!
//! Layout of `DIR`: `bench.yaml` (the manifest: every setting that determines the numbers,
//! [`super::config`]), one folder per finished architecture ([`super::layout`]), and the family's
//! benchmark files rewritten after each architecture (the LTS layout's `ppl_summary.yaml` and
//! `params_summary.yaml`, or a `benchmark.json`). An architecture that diverges (NaN loss) is
//! recorded (`result.yaml`) and left out of the benchmark; the report says so.

use super::config::{check_manifest, BuildConfig, BuildError, Manifest, PlanSource};
use super::data::Tokens;
use super::layout::{finished, write_arch, write_benchmark};
use super::result::ArchResult;
use super::trainer::{train_arch, StepReport};
use crate::bench::Benchmark;
use crate::family::{Arch, FamilyRef};
use crate::models::Fidelity;
use crate::stop::Stop;
use burn::tensor::Device;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The architectures a build trains, in order, with the ground truth each has in the benchmark
/// it came from (none for a space).
pub struct Plan {
    /// The family.
    pub family: FamilyRef,
    /// The architectures.
    pub archs: Vec<Arc<dyn Arch>>,
    /// Their published ground truth, as published.
    pub published: Vec<Option<f64>>,
    /// Whether a lower published value is better (a perplexity), for orienting comparisons.
    pub published_lower_is_better: bool,
    /// What the published value is (`GLUE`, `valid_ppl`).
    pub published_name: &'static str,
}

/// The architectures a build trains.
pub fn plan(cfg: &BuildConfig) -> Result<Plan, BuildError> {
    match &cfg.source {
        PlanSource::Space { space } => {
            let archs = space.sample(cfg.archs, cfg.seed)?;
            Ok(Plan { family: space.family(), published: vec![None; archs.len()], archs, published_lower_is_better: true, published_name: "" })
        }
        PlanSource::Benchmark { path, family } => {
            let bench = Benchmark::load(path, *family)?;
            let scored = bench.scored();
            if cfg.archs > scored.len() {
                return Err(BuildError::Config(format!("{} has {} architectures with ground truth; --archs {} asks for more", path.display(), scored.len(), cfg.archs)));
            }
            // A seeded shuffle; its first n are the sample (prefix-stable as --archs grows).
            let mut idx: Vec<usize> = scored;
            let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0xbe7c_4a11);
            for i in (1..idx.len()).rev() {
                idx.swap(i, rng.random_range(0..=i));
            }
            let pick = &idx[..cfg.archs];
            Ok(Plan {
                family: bench.family,
                archs: pick.iter().map(|&i| bench.archs[i].clone()).collect(),
                published: pick.iter().map(|&i| bench.truth[i]).collect(),
                published_lower_is_better: bench.lower_is_better,
                published_name: bench.truth_name,
            })
        }
    }
}

/// What a build did.
pub struct BuildReport {
    /// Results of every finished architecture (earlier runs included), by key.
    pub results: BTreeMap<String, ArchResult>,
    /// Architectures trained by this run.
    pub trained: usize,
    /// Whether it stopped before finishing.
    pub interrupted: bool,
    /// The plan.
    pub plan: Plan,
}

impl BuildReport {
    /// The finished results in plan order.
    pub fn in_order(&self) -> Vec<&ArchResult> {
        self.plan.archs.iter().filter_map(|a| self.results.get(&self.plan.family.result_key(&**a))).collect()
    }
}

/// Checks the settings against the plan and the text before anything is trained.
fn check(cfg: &BuildConfig, plan: &Plan, tokens: &Tokens) -> Result<(), BuildError> {
    let family = plan.family;
    if let Some(a) = plan.archs.iter().find(|a| cfg.seq_len > a.positions()) {
        return Err(BuildError::Config(format!("--seq-len {} exceeds {}'s {} learned positions", cfg.seq_len, a.id(), a.positions())));
    }
    if cfg.seq_len < family.min_seq_len() {
        return Err(BuildError::Config(format!("{} needs --seq-len of at least {}", family.title(), family.min_seq_len())));
    }
    if let Some(a) = plan.archs.iter().find(|a| a.vocab() < tokens.vocab) {
        return Err(BuildError::Config(format!("the corpus's tokenizer gives ids up to {} but {} has a vocabulary of {}", tokens.vocab, a.id(), a.vocab())));
    }
    for (what, stream, need) in [("training", &tokens.train, cfg.seq_len + 1), ("validation", &tokens.valid, cfg.valid_sequences * (cfg.seq_len + 1))] {
        if stream.len() < need {
            return Err(BuildError::Config(format!("the {what} text has {} tokens; {need} are needed (a longer --corpus or a smaller --seq-len)", stream.len())));
        }
    }
    Ok(())
}

/// Builds (or resumes) a benchmark in `dir`, training `jobs` architectures at a time (largest
/// first when several; the results do not depend on the order or on `jobs`).
#[allow(clippy::too_many_arguments)]
pub fn build(
    cfg: &BuildConfig,
    dir: &Path,
    shard: Option<crate::source::shard::Shard>,
    jobs: usize,
    device: &Device,
    stop: &Stop,
    on_step: &(dyn Fn(StepReport<'_>) + Sync),
    on_arch: &(dyn Fn(&ArchResult) + Sync),
) -> Result<BuildReport, BuildError> {
    if cfg.archs == 0 || cfg.steps == 0 || cfg.batch == 0 || cfg.seq_len == 0 || cfg.valid_sequences == 0 {
        return Err(BuildError::Config("--archs, --steps, --batch, --seq-len and the validation size must be positive".into()));
    }
    std::fs::create_dir_all(dir).map_err(super::config::io(dir))?;
    check_manifest(dir, cfg)?;
    let plan = plan(cfg)?;
    if plan.archs.is_empty() {
        return Err(BuildError::Config("the plan is empty".into()));
    }
    let tokens = Tokens::of(&cfg.corpus, plan.family)?;
    check(cfg, &plan, &tokens)?;
    let manifest = Manifest { lpzero: env!("CARGO_PKG_VERSION").into(), family: plan.family, config: cfg.clone() };
    let manifest_path = dir.join("bench.yaml");
    crate::fsutil::write_atomic(&manifest_path, serde_norway::to_string(&manifest).expect("a plain struct").as_bytes()).map_err(super::config::io(&manifest_path))?;
    let results = Mutex::new(finished(dir, &plan.archs));
    let key = |a: &Arc<dyn Arch>| plan.family.result_key(&**a);
    // A shard trains its part of the plan, balanced by parameter count.
    let size = |i: usize| plan.archs[i].counts(Fidelity::Trained).map_or(0, |c| c.iter().map(|f| f.1).max().unwrap_or(0));
    let mine: Vec<usize> = match shard {
        Some(s) => s.select(&(0..plan.archs.len()).map(|i| size(i) as f64).collect::<Vec<_>>()),
        None => (0..plan.archs.len()).collect(),
    };
    let mut pending: Vec<usize> = mine.iter().copied().filter(|&i| !results.lock().expect("not poisoned").contains_key(&key(&plan.archs[i]))).collect();
    if jobs > 1 {
        // Largest first, so that the last architectures to finish are small ones.
        pending.sort_by_key(|&i| std::cmp::Reverse(size(i)));
    }
    let trained = std::sync::atomic::AtomicUsize::new(0);
    let run_one = |i: usize| -> Result<(), BuildError> {
        let arch = &*plan.archs[i];
        if let Some((result, curve)) = train_arch(arch, plan.published[i], cfg, &tokens, device, stop, on_step)? {
            write_arch(dir, arch, &result, &curve)?;
            let mut all = results.lock().expect("not poisoned");
            all.insert(result.key.clone(), result.clone());
            if shard.is_some() {
                // Other shards finish architectures into the same folder: the benchmark files
                // list what is on disk.
                all.extend(finished(dir, &plan.archs));
            }
            write_benchmark(dir, &plan.archs, &all)?;
            trained.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            on_arch(&result);
        }
        Ok(())
    };
    if jobs <= 1 {
        for &i in &pending {
            run_one(i)?;
        }
    } else {
        use rayon::prelude::*;
        let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build().map_err(|e| BuildError::Config(format!("cannot start {jobs} workers: {e}")))?;
        pool.install(|| pending.par_iter().with_max_len(1).try_for_each(|&i| run_one(i)))?;
    }
    let mut results = results.into_inner().expect("not poisoned");
    if shard.is_some() {
        results.extend(finished(dir, &plan.archs));
    }
    write_benchmark(dir, &plan.archs, &results)?;
    let interrupted = mine.iter().any(|&i| !results.contains_key(&key(&plan.archs[i])));
    Ok(BuildReport { results, trained: trained.into_inner(), interrupted, plan })
}

/// What `lpzero merge` found in a built benchmark's folder.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MergeReport {
    /// Architectures planned.
    pub planned: usize,
    /// Architectures finished (by any shard).
    pub finished: usize,
    /// The ids of those not finished.
    pub missing: Vec<String>,
}

/// Rewrites the benchmark files of the build in `dir` (from its `bench.yaml`) from every
/// architecture finished there, whichever shard trained it, and says what is missing.
pub fn merge(dir: &Path) -> Result<MergeReport, BuildError> {
    let path = dir.join("bench.yaml");
    let text = std::fs::read_to_string(&path).map_err(super::config::io(&path))?;
    let manifest: Manifest = serde_norway::from_str(&text).map_err(|e| BuildError::Config(format!("{}: {e}", path.display())))?;
    let plan = plan(&manifest.config)?;
    let done = finished(dir, &plan.archs);
    write_benchmark(dir, &plan.archs, &done)?;
    let missing: Vec<String> = plan.archs.iter().filter(|a| !done.contains_key(&plan.family.result_key(&***a))).map(|a| a.id()).collect();
    Ok(MergeReport { planned: plan.archs.len(), finished: plan.archs.len() - missing.len(), missing })
}

/// How the K-step ground truth of a build agrees with the published one, for architectures
/// taken from a benchmark (both oriented higher-is-better).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Agreement {
    /// What the published ground truth is.
    pub name: String,
    /// Architectures compared.
    pub n: usize,
    /// Spearman ρ.
    pub spearman: Option<f64>,
    /// Kendall τ-b.
    pub kendall: Option<f64>,
}

/// A build's results and how its K-step ground truth relates to size and to the published
/// ground truth: what `bench build` reports (`--format json` prints it).
#[derive(Clone, Debug, serde::Serialize)]
pub struct BuildSummary {
    /// The family.
    pub family: FamilyRef,
    /// Finished architectures (earlier runs included).
    pub archs: usize,
    /// Planned architectures.
    pub planned: usize,
    /// Trained by this run.
    pub trained_now: usize,
    /// Whether it stopped before finishing.
    pub interrupted: bool,
    /// Diverged architectures (left out of the benchmark).
    pub diverged: usize,
    /// Seconds of training and validation, in all.
    pub train_seconds: f64,
    /// The finished results, in plan order.
    pub results: Vec<ArchResult>,
    /// Spearman ρ of minus the K-step perplexity with the parameter count.
    pub spearman_vs_params: Option<f64>,
    /// Kendall τ of the same.
    pub kendall_vs_params: Option<f64>,
    /// Spearman ρ with the non-embedding parameter count.
    pub spearman_vs_nonembedding: Option<f64>,
    /// Kendall τ of the same.
    pub kendall_vs_nonembedding: Option<f64>,
    /// Agreement with the published ground truth (at least 3 architectures from a benchmark).
    pub published: Option<Agreement>,
}

impl BuildReport {
    /// The summary of the build.
    pub fn summary(&self) -> BuildSummary {
        use crate::stats::{kendall_tau_b, spearman};
        let results: Vec<ArchResult> = self.in_order().into_iter().cloned().collect();
        let ok: Vec<&ArchResult> = results.iter().filter(|r| !r.diverged).collect();
        let neg_ppl: Vec<f64> = ok.iter().map(|r| -r.valid_ppl).collect();
        let corr = |x: Vec<f64>| (spearman(&x, &neg_ppl), kendall_tau_b(&x, &neg_ppl));
        let vs_params = corr(ok.iter().map(|r| r.params as f64).collect());
        let vs_nonemb = corr(ok.iter().map(|r| r.nonembedding as f64).collect());
        let orient = |p: f64| if self.plan.published_lower_is_better { -p } else { p };
        let published: Vec<(f64, f64)> = ok.iter().filter_map(|r| r.published_ppl.map(|p| (-r.valid_ppl, orient(p)))).collect();
        let agreement = (published.len() >= 3).then(|| {
            let (k, p): (Vec<f64>, Vec<f64>) = published.iter().copied().unzip();
            Agreement { name: self.plan.published_name.to_owned(), n: published.len(), spearman: spearman(&k, &p), kendall: kendall_tau_b(&k, &p) }
        });
        BuildSummary {
            family: self.plan.family,
            archs: results.len(),
            planned: self.plan.archs.len(),
            trained_now: self.trained,
            interrupted: self.interrupted,
            diverged: results.len() - ok.len(),
            train_seconds: results.iter().map(|r| r.seconds).sum(),
            spearman_vs_params: vs_params.0,
            kendall_vs_params: vs_params.1,
            spearman_vs_nonembedding: vs_nonemb.0,
            kendall_vs_nonembedding: vs_nonemb.1,
            published: agreement,
            results,
        }
    }
}
