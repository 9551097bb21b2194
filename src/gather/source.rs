//! A benchmark as a [`Source`] for ranking and search: each architecture with ground truth is
//! gathered on demand (through the input cache when one is open), and the family supplies the
//! baselines, the group labels and the reference's values.

use super::cache::{gather_cached, Cache};
use super::text::Corpus;
use super::{GatherError, GatherOptions};
use crate::bench::Benchmark;
use crate::lang::table::InputId;
use crate::models::ModelError;
use crate::rank::reference::ReferenceScores;
use crate::rank::Baseline;
use crate::source::{Fetched, Groups, Source, SourceError, SourceInfo, Variant};
use burn::tensor::Device;

/// The architectures of a benchmark that have ground truth, gathered with one set of options.
#[derive(Clone)]
pub struct GatherSource {
    bench: Benchmark,
    label: String,
    indices: Vec<usize>,
    opts: GatherOptions,
    corpus: Corpus,
    device: Device,
    cache: Option<Cache>,
    baselines: Vec<Baseline>,
    reference: Option<ReferenceScores>,
}

impl GatherSource {
    /// The scored architectures of `bench` ([`Benchmark::scored`]); `label` names the benchmark
    /// in reports (the `--bench` argument as given). Opens the device.
    pub fn new(bench: Benchmark, label: String, opts: GatherOptions, corpus: Corpus, cache: Option<Cache>) -> Result<GatherSource, GatherError> {
        let indices = bench.scored();
        let device = opts.device.open().map_err(|e| GatherError::Config(e.to_string()))?;
        let archs: Vec<&dyn crate::family::Arch> = indices.iter().map(|&i| &*bench.archs[i]).collect();
        let baselines = bench.family.baselines(&archs, opts.fidelity).map_err(|e: ModelError| GatherError::Model(e))?;
        let reference = bench.family.reference_scores(&bench.path);
        Ok(GatherSource { bench, label, indices, opts, corpus, device, cache, baselines, reference })
    }

    /// The benchmark.
    pub fn bench(&self) -> &Benchmark {
        &self.bench
    }

    /// The gather options.
    pub fn options(&self) -> &GatherOptions {
        &self.opts
    }

    /// The minibatch text.
    pub fn corpus(&self) -> &Corpus {
        &self.corpus
    }

    /// The input cache, when one is open.
    pub fn cache(&self) -> Option<&Cache> {
        self.cache.as_ref()
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Architecture `k` of the source.
    pub fn arch(&self, k: usize) -> &dyn crate::family::Arch {
        &*self.bench.archs[self.indices[k]]
    }
}

impl Source for GatherSource {
    fn len(&self) -> usize {
        self.indices.len()
    }

    fn id(&self, k: usize) -> String {
        self.bench.archs[self.indices[k]].id()
    }

    fn truth(&self, k: usize) -> f64 {
        self.bench.quality(self.indices[k]).expect("only scored architectures are in the source")
    }

    /// Runs only as much of the model as `need` reads ([`super::gather`]).
    fn fetch(&self, k: usize, need: &[InputId]) -> Result<Fetched, SourceError> {
        let arch = &*self.bench.archs[self.indices[k]];
        let (g, cached) = gather_cached(arch, &self.corpus, &self.opts, &self.device, self.cache.as_ref(), need).map_err(|e| SourceError::of(arch.id(), &e))?;
        Ok(Fetched { inputs: g.inputs, seconds: g.seconds, cached })
    }

    fn parallelism(&self) -> usize {
        self.opts.device.gather_jobs()
    }

    /// The parameter count (what a forward and backward pass scales with, at a fixed minibatch).
    fn cost(&self, k: usize) -> f64 {
        let arch = &*self.bench.archs[self.indices[k]];
        arch.spec(self.opts.fidelity).map_or(1.0, |s| s.iter().map(|p| p.numel() as f64).sum())
    }

    fn baselines(&self) -> Vec<Baseline> {
        self.baselines.clone()
    }

    fn best_baseline(&self) -> Option<&str> {
        Some(self.bench.family.best_baseline())
    }

    fn groups(&self) -> Option<Groups> {
        let archs = self.indices.iter().map(|&i| &self.bench.archs[i]);
        Some(Groups {
            depth: archs.clone().map(|a| a.layers() as u64).collect(),
            width: archs.clone().map(|a| a.width() as u64).collect(),
            network: archs.map(|a| a.trained_network()).collect(),
        })
    }

    fn reference(&self) -> Option<&ReferenceScores> {
        self.reference.as_ref()
    }

    fn paper_proxy(&self) -> Option<&str> {
        self.bench.family.paper_proxy()
    }

    /// The same benchmark, options and cache root with another minibatch or initialisation
    /// (its own cache key).
    fn variant(&self, variant: Variant) -> Option<Result<Box<dyn Source>, SourceError>> {
        let opts = GatherOptions { variant, ..self.opts.clone() };
        let cache = self.cache.as_ref().and_then(|c| c.with_options(self.bench.family, &opts, &self.corpus).ok());
        Some(Ok(Box::new(GatherSource { opts, cache, ..self.clone() })))
    }

    fn info(&self) -> SourceInfo {
        let o = &self.opts;
        SourceInfo {
            bench: self.label.clone(),
            family: Some(self.bench.family.name().to_owned()),
            truth: self.bench.truth_name.to_owned(),
            settings: vec![
                ("batch".into(), o.batch.to_string()),
                ("seq_len".into(), o.seq_len.to_string()),
                ("seed".into(), o.seed.to_string()),
                ("corpus".into(), self.corpus.source.clone()),
                ("fidelity".into(), crate::models::fidelity_name(o.fidelity).into()),
                ("device".into(), o.device.name().into()),
            ]
            .into_iter()
            .chain((!o.variant.is_first()).then(|| ("variant".into(), o.variant.to_string())))
            .collect(),
        }
    }
}

/// How to make a [`GatherSource`]: the benchmark argument and the gather flags, as the command
/// line takes them and as an `evolve` checkpoint stores them (the seed is kept beside it). Unset
/// sizes and corpus default to a built benchmark's own training minibatch and text, else to the
/// family's defaults and lpzero's built-in text.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct GatherSpec {
    /// The `--bench` argument (a path, or `builtin:NAME`).
    pub bench: std::path::PathBuf,
    /// The family, when the files cannot tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<crate::family::FamilyRef>,
    /// Sequences per minibatch.
    pub batch: Option<usize>,
    /// Tokens per sequence.
    pub seq_len: Option<usize>,
    /// The minibatch text.
    pub corpus: Option<std::path::PathBuf>,
    /// Which networks to build.
    pub fidelity: crate::models::Fidelity,
    /// Where the models run (checkpoints written before devices existed ran on flex).
    #[serde(default = "flex")]
    pub device: crate::device::DeviceKind,
}

fn flex() -> crate::device::DeviceKind {
    crate::device::DeviceKind::Flex
}

/// Why a source could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The benchmark.
    #[error(transparent)]
    Resolve(#[from] crate::bench::resolve::ResolveError),
    /// The corpus file.
    #[error("cannot read corpus {path}: {source}")]
    Corpus {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The gather cannot run with these settings.
    #[error(transparent)]
    Gather(#[from] GatherError),
    /// An inputs folder.
    #[error(transparent)]
    Folder(#[from] crate::source::files::FolderError),
    /// A sub-network benchmark or its model.
    #[error(transparent)]
    Subnets(#[from] crate::family::pretrained::search::SearchError),
}

impl GatherSpec {
    /// The gather options and the corpus for a loaded benchmark.
    pub fn options(&self, bench: &Benchmark, seed: u64) -> Result<(GatherOptions, Corpus), OpenError> {
        let d = GatherOptions::defaults(bench.family);
        let built = bench.manifest.as_ref().map(|m| &m.config);
        let opts = GatherOptions {
            batch: self.batch.or(built.map(|c| c.batch)).unwrap_or(d.batch),
            seq_len: self.seq_len.or(built.map(|c| c.seq_len)).unwrap_or(d.seq_len),
            seed,
            fidelity: self.fidelity,
            device: self.device,
            variant: Variant::default(),
        };
        let corpus = match (&self.corpus, built) {
            (Some(p), _) => Corpus::new(std::fs::read_to_string(p).map_err(|source| OpenError::Corpus { path: p.clone(), source })?, p.display().to_string()),
            (None, Some(c)) => c.corpus.proxy_corpus(bench.family).map_err(|source| OpenError::Corpus { path: "(the benchmark's)".into(), source })?,
            (None, None) => Corpus::builtin(),
        };
        Ok((opts, corpus))
    }

    /// Resolves the benchmark (building `builtin:NAME` on first use), opens the device and the
    /// input cache, and makes the source. Warnings (an unusable cache, architectures without
    /// ground truth) go to `progress` as notes.
    pub fn open(&self, seed: u64, cache: &super::cache::CacheSettings, stop: &crate::stop::Stop, progress: &dyn crate::progress::Progress) -> Result<GatherSource, OpenError> {
        let root = cache.root();
        let resolved = crate::bench::resolve::resolve(&self.bench, self.family, root.as_deref(), stop, progress)?;
        if let Some(w) = resolved.bench.unfinished_warning() {
            progress.note(&format!("warning: {w}"));
        }
        let (opts, corpus) = self.options(&resolved.bench, seed)?;
        let cache = match cache.open(resolved.bench.family, &opts, &corpus) {
            Ok(c) => c,
            Err(e) => {
                progress.note(&format!("warning: no input cache ({e}); gathering everything"));
                None
            }
        };
        Ok(GatherSource::new(resolved.bench, resolved.label, opts, corpus, cache)?)
    }
}

/// Where a run's architectures come from: a benchmark gathered by lpzero, or a folder of inputs
/// files with their ground truth. Written flattened into `evolve` checkpoints (old checkpoints,
/// which know only benchmarks, read as the first kind).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum SourceSpec {
    /// A benchmark.
    Bench(GatherSpec),
    /// A folder of inputs files.
    Inputs(crate::source::files::InputsSpec),
    /// A sub-network benchmark of a pretrained model (`lpzero subnet bench`).
    Subnets(crate::family::pretrained::bench::SubnetBenchSpec),
}

impl SourceSpec {
    /// What a `--bench` argument names: a sub-network benchmark folder
    /// ([`SubnetBenchSpec::is_subnet_bench`](crate::family::pretrained::bench::SubnetBenchSpec::is_subnet_bench),
    /// gathered on `gather`'s device), else a benchmark lpzero gathers with `gather`'s settings.
    pub fn bench(gather: GatherSpec) -> SourceSpec {
        use crate::family::pretrained::bench::SubnetBenchSpec;
        if SubnetBenchSpec::is_subnet_bench(&gather.bench) {
            SourceSpec::Subnets(SubnetBenchSpec { subnet_bench: gather.bench, device: gather.device })
        } else {
            SourceSpec::Bench(gather)
        }
    }

    /// Opens the source (`seed` seeds a benchmark's gathers; folders carry their own inputs).
    pub fn open(&self, seed: u64, cache: &super::cache::CacheSettings, stop: &crate::stop::Stop, progress: &dyn crate::progress::Progress) -> Result<Box<dyn Source>, OpenError> {
        match self {
            SourceSpec::Bench(g) => Ok(Box::new(g.open(seed, cache, stop, progress)?)),
            SourceSpec::Inputs(i) => {
                let dir = crate::source::files::InputsDir::open(i)?;
                if !dir.skipped().is_empty() {
                    progress.note(&format!("warning: {} inputs files have no ground truth and are skipped: {}", dir.skipped().len(), dir.skipped().iter().take(10).cloned().collect::<Vec<_>>().join(", ")));
                }
                Ok(Box::new(dir))
            }
            SourceSpec::Subnets(s) => Ok(Box::new(s.open()?)),
        }
    }

    /// What `--bench` or `--inputs` named, for messages.
    pub fn label(&self) -> String {
        match self {
            SourceSpec::Bench(g) => g.bench.display().to_string(),
            SourceSpec::Inputs(i) => i.inputs.display().to_string(),
            SourceSpec::Subnets(s) => s.subnet_bench.display().to_string(),
        }
    }
}
