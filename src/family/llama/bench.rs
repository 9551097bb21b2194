//! A benchmark of sub-networks of a pretrained LLaMA model with measured ground truth
//! (`lpzero subnet bench`), a folder that `rank`, `evolve` and `repl` read with `--bench` like
//! any benchmark ([`SubnetBenchSpec`]).
//!
//! Sliced weights of a model that was never trained as a super-network measure damage, not
//! quality (`docs/reference/LLAMA_LONAS.md` §7), so each sub-network is first given **per-subnet
//! recovery training**: `steps` AdamW steps on all of its parameters over training windows of
//! the text; its ground truth is its validation perplexity after that. Its proxy inputs are
//! gathered *before* the training, from the sliced pretrained weights, which is what a zero-cost
//! proxy would see at search time. The text is split in three, in order: training windows from
//! the first 60 %, the gather minibatch at 60 %, validation windows from 80 %.
//!
//! The folder holds each sub-network's result (`results/<id>.yaml`, written atomically once the
//! sub-network is done: a rerun skips it), `truth.csv` (`id`, `quality` = minus the validation
//! perplexity, and the architecture-only columns `params` and `macs_per_token`), `results.csv`
//! (every number per sub-network), the gather minibatch (`gather_batch.json`), and, when asked
//! for, inputs files (`<id>.safetensors`) that `rank --inputs` and `evolve --inputs` read.
//! [`SubnetSource`] ranks the benchmark by gathering each sub-network's inputs on the fly from
//! the model named in `pretrained.yaml` ([`ORIGIN_FILE`]).

use super::model::{self, LlamaArch};
use super::search::{gather_subnet, windows_batch, Origin, Pretrained, SearchError};
use super::subnet::{to_yaml, LonasSpace, Subnet};
use crate::eval::file::InputsMeta;
use crate::lang::table::{all_inputs, InputId};
use crate::models::batch::LmBatch;
use crate::models::nn::Recorder;
use crate::progress::Progress;
use crate::stop::Stop;
use crate::train::optim::{learning_rate, AdamW, OptimConfig};
use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The file that makes a folder a sub-network benchmark: its [`SubnetBenchConfig`] and space.
pub const CONFIG_FILE: &str = "subnet_bench.yaml";

/// The file naming the pretrained model a sub-network benchmark was built from ([`Origin`]).
pub const ORIGIN_FILE: &str = "pretrained.yaml";

/// What a sub-network benchmark build is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubnetBenchConfig {
    /// Sub-networks: `maximal`, `heuristic`, then distinct random ones.
    pub subnets: usize,
    /// Recovery-training steps per sub-network (0: none; ground truth of the sliced weights).
    pub steps: usize,
    /// Windows per training step.
    pub batch: usize,
    /// Tokens per window (training, gather and validation).
    pub seq_len: usize,
    /// Validation windows.
    pub valid_windows: usize,
    /// Windows of the gather minibatch.
    pub gather_windows: usize,
    /// Peak learning rate (warm-up over the first tenth, cosine to a tenth).
    pub lr: f64,
    /// Seed of the sample and of the training windows' order.
    pub seed: u64,
    /// The sub-networks to train instead of a sample (id, sub-network), e.g. the ones searches
    /// chose.
    #[serde(default)]
    pub explicit: Vec<(String, Subnet)>,
    /// Inputs to write as files per sub-network (none by default: a SmolLM2 sub-network's
    /// inputs are about 1.5 GB; `subnet rank` gathers them again on the fly instead).
    #[serde(default)]
    pub keep_inputs: Vec<String>,
}

/// One finished sub-network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubnetResult {
    /// Its id (`maximal`, `heuristic`, `s002`, ...).
    pub id: String,
    /// The sub-network.
    pub subnet: Subnet,
    /// Parameters (base and adapter).
    pub params: u64,
    /// MACs per token.
    pub macs_per_token: u64,
    /// Validation loss of the sliced weights, before training.
    pub valid_loss_before: f64,
    /// Validation loss after recovery training.
    pub valid_loss: f64,
    /// `exp(valid_loss)`.
    pub valid_ppl: f64,
    /// Training loss of the last step (none without training).
    pub final_train_loss: Option<f64>,
    /// Seconds of recovery training.
    pub train_seconds: f64,
    /// Seconds of the whole sub-network (gather, training, validation).
    pub seconds: f64,
}

/// The sub-networks a build trains, in order.
pub fn plan(space: &LonasSpace, with_lora: bool, n: usize, seed: u64) -> Vec<(String, Subnet)> {
    let mut out: Vec<(String, Subnet)> = vec![("maximal".into(), space.maximal(with_lora)), ("heuristic".into(), space.heuristic(with_lora))];
    out.truncate(n);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tries = 0;
    while out.len() < n && tries < 1000 * n {
        tries += 1;
        let s = space.random(with_lora, &mut rng);
        if out.iter().all(|(_, o)| *o != s) {
            out.push((format!("s{:03}", out.len()), s));
        }
    }
    out
}

/// The three parts of the token stream: (training, gather, validation).
fn split(tokens: &[u32]) -> (&[u32], &[u32], &[u32]) {
    let (a, b) = (tokens.len() * 6 / 10, tokens.len() * 8 / 10);
    (&tokens[..a], &tokens[a..b], &tokens[b..])
}

/// The training minibatch of `step`: `batch` windows of `seq_len` tokens at seeded positions of
/// the training part (the same for every sub-network).
fn train_batch(train: &[u32], cfg: &SubnetBenchConfig, step: usize) -> LmBatch {
    crate::gather::text::causal_train_batch(train, cfg.batch, cfg.seq_len - 1, cfg.seed, step)
}

fn validation(store: &crate::models::params::ParamStore, arch: &LlamaArch, valid: &[u32], cfg: &SubnetBenchConfig) -> f64 {
    let store = store.detached();
    let mut total = 0.0;
    for w in 0..cfg.valid_windows {
        let window = &valid[w * cfg.seq_len..(w + 1) * cfg.seq_len];
        let batch = LmBatch { batch: 1, len: cfg.seq_len - 1, ids: window[..cfg.seq_len - 1].to_vec(), targets: window[1..].to_vec() };
        total += model::forward(&store, arch, &batch, &mut Recorder::default()).into_scalar::<f64>();
    }
    total / cfg.valid_windows as f64
}

/// Builds (or resumes) a sub-network benchmark in `dir`. Returns every finished sub-network, in
/// plan order.
pub fn build(pre: &Pretrained, space: &LonasSpace, cfg: &SubnetBenchConfig, tokens: &[u32], dir: &Path, device: &Device, stop: &Stop, progress: &dyn Progress) -> Result<Vec<SubnetResult>, SearchError> {
    let io = |e: std::io::Error| SearchError::Request(format!("{}: {e}", dir.display()));
    let (train, gather_part, valid) = split(tokens);
    if cfg.seq_len < 2 || valid.len() < cfg.valid_windows * cfg.seq_len || gather_part.len() < cfg.gather_windows * cfg.seq_len || train.len() < cfg.seq_len * 2 {
        return Err(SearchError::Request(format!(
            "the text ({} tokens) is too short for {} validation and {} gather windows of {} tokens (validation: the last 20 %, gather: the 20 % before)",
            tokens.len(),
            cfg.valid_windows,
            cfg.gather_windows,
            cfg.seq_len
        )));
    }
    std::fs::create_dir_all(dir.join("results")).map_err(io)?;
    let config_path = dir.join(CONFIG_FILE);
    let config_text = serde_norway::to_string(&(cfg, &space.name)).map_err(|e| SearchError::Request(e.to_string()))?;
    match std::fs::read_to_string(&config_path) {
        // Compared as values, so that fields added later (with their defaults) read back equal.
        Ok(old) if serde_norway::from_str::<(SubnetBenchConfig, String)>(&old).ok().as_ref() != Some(&(cfg.clone(), space.name.clone())) => {
            return Err(SearchError::Request(format!("{} was built with other settings ({}); use another folder", dir.display(), config_path.display())));
        }
        Ok(_) => {}
        Err(_) => crate::fsutil::write_atomic(&config_path, config_text.as_bytes()).map_err(io)?,
    }
    let origin_path = dir.join(ORIGIN_FILE);
    match Origin::read(&origin_path)? {
        Some(recorded) => {
            if recorded != pre.origin {
                return Err(SearchError::Request(format!(
                    "{} was built from {} ({}); this is {}: use another folder (or, if the model moved, edit that file)",
                    dir.display(),
                    recorded.model.display(),
                    origin_path.display(),
                    pre.origin.model.display()
                )));
            }
        }
        None => crate::fsutil::write_atomic(&origin_path, serde_norway::to_string(&pre.origin).map_err(|e| SearchError::Request(e.to_string()))?.as_bytes()).map_err(io)?,
    }
    let with_lora = pre.adapter.is_some();
    let planned = if cfg.explicit.is_empty() { plan(space, with_lora, cfg.subnets, cfg.seed) } else { cfg.explicit.clone() };
    for (id, s) in &planned {
        space.contains(s, with_lora).map_err(|e| SearchError::Request(format!("{id}: {e}")))?;
    }
    let gather_batch = windows_batch(gather_part, cfg.gather_windows, cfg.seq_len)?;
    let batch_json = serde_json::json!({"batch": gather_batch.batch, "len": gather_batch.len, "ids": gather_batch.ids, "targets": gather_batch.targets});
    crate::fsutil::write_atomic(&dir.join("gather_batch.json"), batch_json.to_string().as_bytes()).map_err(io)?;
    let need: Vec<InputId> = match cfg.keep_inputs.iter().map(|n| n.as_str()).collect::<Vec<_>>()[..] {
        ["all"] => all_inputs(),
        ref names => names
            .iter()
            .map(|n| crate::lang::table::input_by_name(n).map(|i| i.id).ok_or_else(|| SearchError::Request(format!("--keep-inputs: no input `{n}`"))))
            .collect::<Result<_, _>>()?,
    };
    let mut done: Vec<SubnetResult> = vec![];
    progress.start("sub-networks", planned.len());
    for (k, (id, subnet)) in planned.iter().enumerate() {
        let result_path = dir.join("results").join(format!("{id}.yaml"));
        let inputs_path = dir.join(crate::gather::export::file_name(id));
        if let (Ok(text), true) = (std::fs::read_to_string(&result_path), need.is_empty() || inputs_path.is_file()) {
            if let Ok(r) = serde_norway::from_str::<SubnetResult>(&text) {
                if r.subnet == *subnet {
                    done.push(r);
                    progress.advance(k + 1, &format!("{id}: done before"));
                    continue;
                }
            }
        }
        if stop.requested() {
            break;
        }
        let started = Instant::now();
        // Inputs of the sliced pretrained weights, when kept.
        let arch = pre.arch(subnet)?;
        let counts = pre.counts(subnet)?;
        if !need.is_empty() {
        let inputs = gather_subnet(pre, subnet, &gather_batch, &need, device)?;
        let meta = InputsMeta {
            arch: id.clone(),
            family: Some("llama".into()),
            framework: Some(format!("lpzero {} (subnet bench)", env!("CARGO_PKG_VERSION"))),
            batch: Some(gather_batch.batch),
            seq_len: Some(gather_batch.len),
            seed: Some(cfg.seed),
            params: Some(counts.params()),
            minibatch: crate::models::batch::Minibatch::Causal(gather_batch.clone()).arrays(),
            extra: [("subnet".to_owned(), to_yaml(subnet, &[]).replace('\n', "; "))].into_iter().collect(),
            ..InputsMeta::default()
        };
        crate::eval::file::write(&inputs_path, &inputs, &meta).map_err(io)?;
        }
        // Recovery training.
        let on = device.clone().autodiff();
        let mut store = model::load_params(&arch, pre.checkpoint.source.as_ref(), pre.adapter.as_ref(), &on)?;
        let valid_loss_before = validation(&store, &arch, valid, cfg);
        let optim_cfg = OptimConfig { lr: cfg.lr, warmup: cfg.steps.div_ceil(10), weight_decay: 0.0, ..OptimConfig::default() };
        let mut optim = AdamW::new(optim_cfg.clone());
        let t_train = Instant::now();
        let mut final_train_loss = None;
        for step in 0..cfg.steps {
            if stop.requested() {
                progress.finish();
                return Ok(done);
            }
            let batch = train_batch(train, cfg, step);
            let loss = model::forward(&store, &arch, &batch, &mut Recorder::default());
            final_train_loss = Some(loss.clone().inner().into_scalar::<f64>());
            let grads = loss.backward();
            optim.step(&mut store, &grads, learning_rate(&optim_cfg, step, cfg.steps));
        }
        let train_seconds = t_train.elapsed().as_secs_f64();
        let valid_loss = validation(&store, &arch, valid, cfg);
        let r = SubnetResult {
            id: id.clone(),
            subnet: subnet.clone(),
            params: counts.params(),
            macs_per_token: counts.macs_per_token,
            valid_loss_before,
            valid_loss,
            valid_ppl: valid_loss.exp(),
            final_train_loss,
            train_seconds,
            seconds: started.elapsed().as_secs_f64(),
        };
        let text = serde_norway::to_string(&r).map_err(|e| SearchError::Request(e.to_string()))?;
        crate::fsutil::write_atomic(&result_path, text.as_bytes()).map_err(io)?;
        progress.advance(k + 1, &format!("{id}: perplexity {:.1} → {:.1} after {} steps ({:.0} s)", valid_loss_before.exp(), r.valid_ppl, cfg.steps, r.seconds));
        done.push(r);
        write_tables(dir, &done).map_err(io)?;
    }
    progress.finish();
    write_tables(dir, &done).map_err(io)?;
    Ok(done)
}

/// Rewrites `truth.csv` and `results.csv` from the finished sub-networks.
pub fn write_tables(dir: &Path, done: &[SubnetResult]) -> std::io::Result<()> {
    let mut truth = csv::Writer::from_writer(vec![]);
    truth.write_record(["id", "quality", "params", "macs_per_token"])?;
    let mut all = csv::Writer::from_writer(vec![]);
    all.write_record(["id", "params", "macs_per_token", "valid_ppl_before", "valid_ppl", "final_train_loss", "train_seconds", "ffn"])?;
    for r in done {
        truth.write_record([r.id.clone(), (-r.valid_ppl).to_string(), r.params.to_string(), r.macs_per_token.to_string()])?;
        let ffn = r.subnet.ffn.iter().map(|w| w.to_string()).collect::<Vec<_>>().join(" ");
        all.write_record([
            r.id.clone(),
            r.params.to_string(),
            r.macs_per_token.to_string(),
            r.valid_loss_before.exp().to_string(),
            r.valid_ppl.to_string(),
            r.final_train_loss.map(|l| l.to_string()).unwrap_or_default(),
            format!("{:.1}", r.train_seconds),
            ffn,
        ])?;
    }
    let bytes = |w: csv::Writer<Vec<u8>>| w.into_inner().map_err(|e| std::io::Error::other(e.to_string()));
    crate::fsutil::write_atomic(&dir.join("truth.csv"), &bytes(truth)?)?;
    crate::fsutil::write_atomic(&dir.join("results.csv"), &bytes(all)?)
}

/// A built sub-network benchmark as `rank --bench`, `evolve --bench` and the REPL open it: its
/// folder, whose [`ORIGIN_FILE`] names the model, and the device the gathers run on. Stored in
/// `evolve` checkpoints.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubnetBenchSpec {
    /// The benchmark folder (`lpzero subnet bench --out`).
    pub subnet_bench: PathBuf,
    /// Where the gathers run.
    pub device: crate::device::DeviceKind,
}

impl SubnetBenchSpec {
    /// True when `dir` is a sub-network benchmark folder (it holds [`CONFIG_FILE`]).
    pub fn is_subnet_bench(dir: &Path) -> bool {
        dir.join(CONFIG_FILE).is_file()
    }

    /// Opens the model the folder names and the benchmark as a source.
    pub fn open(&self) -> Result<SubnetSource, SearchError> {
        let dir = &self.subnet_bench;
        let path = dir.join(ORIGIN_FILE);
        let origin = Origin::read(&path)?.ok_or_else(|| {
            SearchError::Request(format!(
                "{} is missing; a sub-network benchmark built before lpzero recorded its model lacks it: run the same `lpzero subnet bench` again (finished sub-networks are kept), or use `lpzero subnet rank --model`",
                path.display()
            ))
        })?;
        let pre = origin.open()?;
        let device = self.device.open().map_err(|e| SearchError::Request(e.to_string()))?;
        SubnetSource::open(Arc::new(pre), dir, &device)
    }
}

/// A built sub-network benchmark as a [`crate::source::Source`]: each sub-network's inputs are
/// gathered on the fly from the pretrained model (its sliced weights, before recovery training)
/// on the build's gather minibatch; ground truth is minus the validation perplexity after
/// recovery; parameters and MACs are the architecture-only baselines.
pub struct SubnetSource {
    pre: Arc<Pretrained>,
    results: Vec<SubnetResult>,
    batch: LmBatch,
    device: Device,
    dir: String,
}

impl SubnetSource {
    /// Opens the finished sub-networks of a benchmark folder (in `results.csv` order).
    pub fn open(pre: Arc<Pretrained>, dir: &Path, device: &Device) -> Result<SubnetSource, SearchError> {
        let bad = |what: String| SearchError::Request(format!("{}: {what}", dir.display()));
        let text = std::fs::read_to_string(dir.join("gather_batch.json")).map_err(|e| bad(format!("not a sub-network benchmark (gather_batch.json: {e})")))?;
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("gather_batch.json: {e}")))?;
        let ids = |k: &str| -> Option<Vec<u32>> { json.get(k)?.as_array()?.iter().map(|v| v.as_u64().and_then(|x| u32::try_from(x).ok())).collect() };
        let (Some(b), Some(l), Some(ids_v), Some(targets)) = (json["batch"].as_u64(), json["len"].as_u64(), ids("ids"), ids("targets")) else {
            return Err(bad("gather_batch.json lacks batch, len, ids or targets".into()));
        };
        let (b, l) = (b as usize, l as usize);
        if ids_v.len() != b * l || targets.len() != b * l {
            return Err(bad(format!("gather_batch.json holds {} ids for {b} × {l}", ids_v.len())));
        }
        let vocab = pre.checkpoint.config.vocab_size;
        if let Some(id) = ids_v.iter().chain(&targets).find(|&&i| i as usize >= vocab) {
            return Err(bad(format!("token {id} of the gather minibatch is outside this model's vocabulary of {vocab}: another model built it")));
        }
        let table = std::fs::read_to_string(dir.join("results.csv")).map_err(|e| bad(format!("results.csv: {e}")))?;
        let mut results = vec![];
        for line in table.lines().skip(1) {
            let id = line.split(',').next().unwrap_or_default();
            let path = dir.join("results").join(format!("{id}.yaml"));
            let text = std::fs::read_to_string(&path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
            let r: SubnetResult = serde_norway::from_str(&text).map_err(|e| bad(format!("{}: {e}", path.display())))?;
            pre.arch(&r.subnet).map_err(|e| bad(format!("{id}: {e}")))?;
            results.push(r);
        }
        if results.is_empty() {
            return Err(bad("no finished sub-network".into()));
        }
        Ok(SubnetSource { pre, results, batch: LmBatch { batch: b, len: l, ids: ids_v, targets }, device: device.clone(), dir: dir.display().to_string() })
    }

    /// The finished sub-networks.
    pub fn results(&self) -> &[SubnetResult] {
        &self.results
    }
}

impl crate::source::Source for SubnetSource {
    fn len(&self) -> usize {
        self.results.len()
    }

    fn id(&self, k: usize) -> String {
        self.results[k].id.clone()
    }

    fn truth(&self, k: usize) -> f64 {
        -self.results[k].valid_ppl
    }

    fn fetch(&self, k: usize, need: &[InputId]) -> Result<crate::source::Fetched, crate::source::SourceError> {
        let t = Instant::now();
        let inputs = gather_subnet(&self.pre, &self.results[k].subnet, &self.batch, need, &self.device).map_err(|e| crate::source::SourceError::of(self.id(k), &e))?;
        Ok(crate::source::Fetched { inputs, seconds: t.elapsed().as_secs_f64(), cached: false })
    }

    fn cost(&self, k: usize) -> f64 {
        self.results[k].params as f64
    }

    fn baselines(&self) -> Vec<crate::rank::Baseline> {
        vec![
            crate::rank::Baseline::new("params", self.results.iter().map(|r| r.params as f64).collect()),
            crate::rank::Baseline::new("macs_per_token", self.results.iter().map(|r| r.macs_per_token as f64).collect()),
            crate::rank::Baseline::new("eval:-ppl_sliced", self.results.iter().map(|r| -r.valid_loss_before.exp()).collect()),
        ]
    }

    fn best_baseline(&self) -> Option<&str> {
        Some("params")
    }

    fn paper_proxy(&self) -> Option<&str> {
        Some("lpzero_llama")
    }

    fn info(&self) -> crate::source::SourceInfo {
        crate::source::SourceInfo {
            bench: self.dir.clone(),
            family: Some("llama".into()),
            truth: "valid_ppl".into(),
            settings: vec![
                ("model".into(), self.pre.checkpoint.source.path().display().to_string()),
                ("gather".into(), format!("{} × {} tokens, sliced pretrained weights", self.batch.batch, self.batch.len)),
            ],
        }
    }
}
