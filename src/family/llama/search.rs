//! Scoring LoNAS-style sub-networks of a pretrained LLaMA model, and finding the best one under a
//! budget.
//!
//! * **Weight-only proxies** (reading `W` alone) see the *active* prefix blocks of each layer's
//!   weights, in the order LPZero's weight list has them (per projection: `lora_A`, `lora_B`,
//!   the base; `docs/reference/LLAMA_LONAS.md` §3). Each layer's weights are read once; every
//!   choice of the layer is a slice of them.
//! * **Separable proxies**: when the proxy's value on two layers' weights is an affine function
//!   of the sum of its values on each alone (a mean or a sum of per-tensor terms, as the paper's
//!   LLaMA proxy is), the best sub-network under a budget is a multiple-choice knapsack over
//!   per-layer tables, solved exactly ([`best_in_range`], a dynamic program over the distinct
//!   partial costs). [`separability`] checks the affine relation on the first and last
//!   layers over several choices before the program is trusted.
//! * **Otherwise**, and for scoring by validation loss (how LoNAS scores candidates),
//!   [`evolve`]: seeded regularised evolution over sub-networks within the budget.

use super::model::{self, LlamaArch, LoraLayout, PROJECTIONS};
use super::subnet::{counts, LonasSpace, Subnet, SubnetCounts};
use super::weights::{BpeTokenizer, Checkpoint, LoraAdapter, TensorSource, WeightsError};
use crate::eval::inputs::{ProxyInputs, TensorEntry};
use crate::lang::table::InputId;
use crate::lang::Proxy;
use crate::models::batch::LmBatch;
use crate::models::nn::Recorder;
use crate::stop::Stop;
use burn::tensor::Device;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// Why a sub-network could not be scored or searched.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// A weight file could not be read.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// The model could not be built.
    #[error(transparent)]
    Load(#[from] model::LoadError),
    /// The request does not fit the model, space or proxy.
    #[error("{0}")]
    Request(String),
    /// The proxy is invalid on some weights.
    #[error("the proxy is invalid on {what}: {reason}")]
    Invalid {
        /// Where.
        what: String,
        /// Why.
        reason: String,
    },
    /// Stopped by Ctrl-C.
    #[error("stopped")]
    Stopped,
}

/// A pretrained model with its optional adapter.
pub struct Pretrained {
    /// The base checkpoint.
    pub checkpoint: Checkpoint,
    /// The adapter, when given.
    pub adapter: Option<LoraAdapter>,
    /// Where both came from.
    pub origin: Origin,
}

/// The files a [`Pretrained`] was opened from, as absolute paths (a sub-network benchmark
/// records them in `pretrained.yaml`, so that `rank --bench DIR` can open the model again).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    /// The GGUF file or Hugging Face folder.
    pub model: std::path::PathBuf,
    /// The PEFT adapter folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<std::path::PathBuf>,
}

impl Origin {
    /// The origin recorded in `path` (a `pretrained.yaml`); `None` when there is no such file.
    pub fn read(path: &Path) -> Result<Option<Origin>, SearchError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_norway::from_str(&text).map(Some).map_err(|e| SearchError::Request(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SearchError::Request(format!("{}: {e}", path.display()))),
        }
    }

    /// Opens the model and adapter it names ([`Pretrained::open`]).
    pub fn open(&self) -> Result<Pretrained, SearchError> {
        Pretrained::open(&self.model, self.adapter.as_deref())
    }
}

impl Pretrained {
    /// Opens a checkpoint (GGUF file or Hugging Face folder) and, optionally, a PEFT adapter
    /// folder, checking every tensor's shape against the configuration and the adapter against
    /// the base.
    pub fn open(model: &Path, adapter: Option<&Path>) -> Result<Pretrained, SearchError> {
        let absolute = |p: &Path| std::fs::canonicalize(p).or_else(|_| std::path::absolute(p)).unwrap_or_else(|_| p.to_owned());
        let origin = Origin { model: absolute(model), adapter: adapter.map(absolute) };
        let checkpoint = Checkpoint::open(model)?;
        checkpoint.config.check_tensors(checkpoint.source.as_ref())?;
        let adapter = match adapter {
            Some(dir) => {
                let a = LoraAdapter::open(dir)?;
                a.check_against(checkpoint.source.as_ref())?;
                Some(a)
            }
            None => None,
        };
        Ok(Pretrained { checkpoint, adapter, origin })
    }

    /// The adapter's layout: the wrapped projections, its full rank and scale.
    pub fn lora_layout(&self) -> Result<Option<LoraLayout>, SearchError> {
        let Some(a) = &self.adapter else { return Ok(None) };
        let targets: Vec<&'static str> = PROJECTIONS.iter().copied().filter(|p| a.pair(&model::weight_name(0, p)).is_some()).collect();
        let rank = a.config.r;
        for l in 0..self.checkpoint.config.num_hidden_layers {
            for p in &targets {
                let pair = a.pair(&model::weight_name(l, p)).ok_or_else(|| SearchError::Request(format!("the adapter wraps `{p}` in layer 0 but not in layer {l}")))?;
                if pair.rank != rank {
                    return Err(SearchError::Request(format!("`{}` has rank {}; lpzero's sub-networks need one adapter rank ({rank})", pair.module, pair.rank)));
                }
            }
        }
        Ok(Some(LoraLayout { targets, rank, scale: a.config.scale() }))
    }

    /// The network of a sub-network.
    pub fn arch(&self, subnet: &Subnet) -> Result<LlamaArch, SearchError> {
        let arch = LlamaArch { config: self.checkpoint.config.clone(), subnet: subnet.clone(), lora: self.lora_layout()? };
        arch.check().map_err(SearchError::Request)?;
        Ok(arch)
    }

    /// Parameter and MAC counts of a sub-network.
    pub fn counts(&self, subnet: &Subnet) -> Result<SubnetCounts, SearchError> {
        let lora = self.lora_layout()?;
        Ok(counts(&self.checkpoint.config, subnet, lora.as_ref().map(|l| (l.rank, l.targets.as_slice()))))
    }

    /// The tokenizer the model carries (GGUF metadata, a Hugging Face folder's files).
    pub fn tokenizer(&self) -> Result<&BpeTokenizer, SearchError> {
        self.checkpoint.tokenizer.as_ref().ok_or_else(|| SearchError::Request("the model carries no tokenizer (a GGUF file with a `gpt2` or `llama` tokenizer does, and a Hugging Face folder with a BPE `tokenizer.json` or a SentencePiece `tokenizer.model`)".into()))
    }
}

/// One layer's weight matrices at full size, in LPZero's order, with what each is.
struct LayerWeights {
    /// `(projection, factor, [rows, cols], values)`; factor `'W'` is the base.
    tensors: Vec<(&'static str, char, [usize; 2], Vec<f32>)>,
}

fn read_layer(pre: &Pretrained, arch: &LlamaArch, l: usize) -> Result<LayerWeights, SearchError> {
    let full = LlamaArch { subnet: Subnet::uniform(arch.config.num_hidden_layers, arch.config.intermediate_size, arch.lora.as_ref().map_or(0, |x| x.rank), arch.lora.as_ref().map_or(0, |x| x.rank)), ..arch.clone() };
    let mut tensors = vec![];
    for p in PROJECTIONS {
        if full.rank_of(l, p).is_some() {
            let adapter = pre.adapter.as_ref().expect("a layout comes from an adapter");
            let pair = adapter.pair(&model::weight_name(l, p)).expect("checked in lora_layout");
            for (f, name) in [('A', &pair.a), ('B', &pair.b)] {
                let info = adapter.require(name)?;
                let (r, c) = info.matrix_dims();
                tensors.push((p, f, [r, c], adapter.read(name)?));
            }
        }
        let name = model::weight_name(l, p);
        let (r, c) = pre.checkpoint.source.require(&name)?.matrix_dims();
        tensors.push((p, 'W', [r, c], pre.checkpoint.source.read(&name)?));
    }
    Ok(LayerWeights { tensors })
}

/// The prefix block `[..rows, ..cols]` of a row-major `[r, c]` matrix.
fn block(values: &[f32], cols_full: usize, rows: usize, cols: usize) -> Vec<f32> {
    (0..rows).flat_map(|r| values[r * cols_full..r * cols_full + cols].iter().copied()).collect()
}

impl LayerWeights {
    /// The active blocks of layer `l` under `arch`'s sub-network.
    fn entries(&self, arch: &LlamaArch, l: usize) -> Vec<TensorEntry> {
        self.tensors
            .iter()
            .map(|(p, f, [_, c], v)| {
                let [out, inp] = arch.projection_shape(l, p);
                let r = arch.rank_of(l, p).unwrap_or(0);
                let (rows, cols) = match f {
                    'A' => (r, inp),
                    'B' => (out, r),
                    _ => (out, inp),
                };
                let data = block(v, *c, rows, cols);
                TensorEntry { data: data.into(), shape: vec![rows, cols] }
            })
            .collect()
    }
}

/// Whether a proxy reads the weights alone.
pub fn weight_only(proxy: &Proxy) -> bool {
    proxy.typed.inputs().iter().all(|&i| i == InputId::W)
}

fn score_entries(proxy: &Proxy, entries: Vec<TensorEntry>, what: &str) -> Result<f64, SearchError> {
    let mut inputs = ProxyInputs::new();
    inputs.insert(InputId::W, entries).map_err(request)?;
    crate::eval::score(&proxy.typed, &inputs).map_err(|e| SearchError::Invalid { what: what.to_owned(), reason: e.reason })
}

/// Per-layer scores of a weight-only proxy: `table[l][o]` is the proxy on layer `l`'s active
/// weights under option `o` of `options` (each layer's weights read once).
pub fn layer_tables(pre: &Pretrained, proxy: &Proxy, options: &[(usize, usize, usize)], stop: &Stop, mut progress: impl FnMut(usize)) -> Result<Vec<Vec<f64>>, SearchError> {
    let layers = pre.checkpoint.config.num_hidden_layers;
    let base = pre.arch(&Subnet::from_options(&vec![options[0]; layers]))?;
    let mut table = Vec::with_capacity(layers);
    for l in 0..layers {
        if stop.requested() {
            return Err(SearchError::Stopped);
        }
        let weights = read_layer(pre, &base, l)?;
        let mut row = Vec::with_capacity(options.len());
        for &o in options {
            let mut arch = base.clone();
            (arch.subnet.ffn[l], arch.subnet.attn_rank[l], arch.subnet.ffn_rank[l]) = o;
            row.push(score_entries(proxy, weights.entries(&arch, l), &format!("layer {l} at {o:?}"))?);
        }
        table.push(row);
        progress(l + 1);
    }
    Ok(table)
}

/// The proxy on a whole sub-network's active weights (every layer at once: memory for all of
/// them, so for models that fit).
pub fn score_subnet(pre: &Pretrained, proxy: &Proxy, subnet: &Subnet) -> Result<f64, SearchError> {
    let arch = pre.arch(subnet)?;
    let mut entries = vec![];
    for l in 0..subnet.layers() {
        entries.extend(read_layer(pre, &arch, l)?.entries(&arch, l));
    }
    score_entries(proxy, entries, "the sub-network")
}

/// What [`separability`] found: `score(two layers) ≈ a·(s_first + s_last) + b`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Separability {
    /// The slope `a` (its sign says whether a larger sum is a larger score).
    pub slope: f64,
    /// The intercept `b`.
    pub intercept: f64,
    /// The largest residual relative to the scores' spread.
    pub residual: f64,
    /// Whether the residual is within f32 rounding (1e-5 of the spread).
    pub separable: bool,
}

/// Checks whether a weight-only proxy separates by layer: on the first and last layers together,
/// for up to 4 × 4 pairs of their choices, the proxy's value against the sum of its per-layer
/// values, by least squares. Two layers in memory at a time.
pub fn separability(pre: &Pretrained, proxy: &Proxy, options: &[(usize, usize, usize)], table: &[Vec<f64>]) -> Result<Separability, SearchError> {
    let layers = table.len();
    let base = pre.arch(&Subnet::from_options(&vec![options[0]; layers]))?;
    let (first, last) = (0, layers - 1);
    let wf = read_layer(pre, &base, first)?;
    let wl = if last == first { None } else { Some(read_layer(pre, &base, last)?) };
    let picks: Vec<usize> = {
        let n = options.len();
        let mut v: Vec<usize> = [0, n / 3, (2 * n) / 3, n - 1].into_iter().collect();
        v.dedup();
        v
    };
    let (mut xs, mut ys) = (vec![], vec![]);
    for &i in &picks {
        for &j in &picks {
            let mut arch = base.clone();
            (arch.subnet.ffn[first], arch.subnet.attn_rank[first], arch.subnet.ffn_rank[first]) = options[i];
            let mut entries = wf.entries(&arch, first);
            let mut x = table[first][i];
            if let Some(wl) = &wl {
                (arch.subnet.ffn[last], arch.subnet.attn_rank[last], arch.subnet.ffn_rank[last]) = options[j];
                entries.extend(wl.entries(&arch, last));
                x += table[last][j];
            }
            ys.push(score_entries(proxy, entries, "the first and last layers")?);
            xs.push(x);
        }
    }
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let intercept = my - slope * mx;
    let spread = ys.iter().cloned().fold(f64::NEG_INFINITY, f64::max) - ys.iter().cloned().fold(f64::INFINITY, f64::min);
    let scale = spread.max(ys.iter().map(|y| y.abs()).fold(0.0, f64::max) * 1e-3).max(f64::MIN_POSITIVE);
    let residual = xs.iter().zip(&ys).map(|(x, y)| (y - (slope * x + intercept)).abs()).fold(0.0, f64::max) / scale;
    Ok(Separability { slope, intercept, residual, separable: residual <= 1e-5 })
}

/// The best choice per layer under a budget: maximises `Σ_l value[l][o_l]` subject to
/// `lo ≤ fixed + Σ_l cost[l][o_l] ≤ hi`, exactly, by dynamic programming over the distinct
/// partial costs (per layer, the best value reaching each cost: a multiple-choice knapsack;
/// sub-network costs lie on a small lattice, so the tables stay small). Returns the option index
/// per layer and the total value, or `None` when no choice fits. Ties go to the earlier options.
pub fn best_in_range(value: &[Vec<f64>], cost: &[Vec<u64>], fixed: u64, lo: u64, hi: u64) -> Option<(Vec<usize>, f64)> {
    use std::collections::BTreeMap;
    let layers = value.len();
    // The cheapest and dearest completions of layers l.. (to drop partial sums that cannot end
    // inside the range).
    let (mut min_rest, mut max_rest) = (vec![0u64; layers + 1], vec![0u64; layers + 1]);
    for l in (0..layers).rev() {
        min_rest[l] = min_rest[l + 1] + cost[l].iter().copied().min().unwrap_or(0);
        max_rest[l] = max_rest[l + 1] + cost[l].iter().copied().max().unwrap_or(0);
    }
    // tables[l]: cost after layer l → (best value, cost before layer l, option).
    let mut tables: Vec<BTreeMap<u64, (f64, u64, usize)>> = Vec::with_capacity(layers);
    let mut prev: BTreeMap<u64, (f64, u64, usize)> = BTreeMap::from([(fixed, (0.0, 0, 0))]);
    for l in 0..layers {
        let mut next: BTreeMap<u64, (f64, u64, usize)> = BTreeMap::new();
        for (&c0, &(v0, _, _)) in &prev {
            for (o, (&c, &v)) in cost[l].iter().zip(&value[l]).enumerate() {
                let total = c0 + c;
                if total + min_rest[l + 1] > hi || total + max_rest[l + 1] < lo {
                    continue;
                }
                let cand = (v0 + v, c0, o);
                match next.get(&total) {
                    Some(old) if old.0 >= cand.0 => {}
                    _ => {
                        next.insert(total, cand);
                    }
                }
            }
        }
        if next.is_empty() {
            return None;
        }
        tables.push(next.clone());
        prev = next;
    }
    let (&end, &(best, _, _)) = prev.iter().max_by(|a, b| a.1 .0.total_cmp(&b.1 .0).then(b.0.cmp(a.0)))?;
    let mut picks = vec![0; layers];
    let mut c = end;
    for l in (0..layers).rev() {
        let (_, before, o) = tables[l][&c];
        picks[l] = o;
        c = before;
    }
    Some((picks, best))
}

/// Every combination, for tests of [`best_in_range`] (small spaces only).
pub fn brute_force(value: &[Vec<f64>], cost: &[Vec<u64>], fixed: u64, lo: u64, hi: u64) -> Option<(Vec<usize>, f64)> {
    let layers = value.len();
    let mut best: Option<(Vec<usize>, f64)> = None;
    let mut idx = vec![0usize; layers];
    loop {
        let c: u64 = fixed + (0..layers).map(|l| cost[l][idx[l]]).sum::<u64>();
        let v: f64 = (0..layers).map(|l| value[l][idx[l]]).sum();
        if (lo..=hi).contains(&c) && best.as_ref().is_none_or(|b| v > b.1) {
            best = Some((idx.clone(), v));
        }
        let mut l = 0;
        loop {
            if l == layers {
                return best;
            }
            idx[l] += 1;
            if idx[l] < cost[l].len() {
                break;
            }
            idx[l] = 0;
            l += 1;
        }
    }
}

/// What a budget limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetKind {
    /// Parameters (base and adapter).
    Params,
    /// MACs per token.
    Macs,
}

/// A budget: at most `limit` of `kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// What is limited.
    pub kind: BudgetKind,
    /// The limit.
    pub limit: u64,
}

impl Budget {
    /// The budget's measure of a sub-network.
    pub fn measure(&self, c: &SubnetCounts) -> u64 {
        match self.kind {
            BudgetKind::Params => c.params(),
            BudgetKind::Macs => c.macs_per_token,
        }
    }
}

/// Parses `params=X` / `macs=X`: X a number with an optional `K`/`M`/`G` suffix (powers of
/// 1000), or the name of a sub-network of the space (`heuristic`, `maximal`), meaning its count.
pub fn parse_budget(text: &str, pre: &Pretrained, space: &LonasSpace) -> Result<Budget, SearchError> {
    let bad = || SearchError::Request(format!("--budget `{text}`: expected params=X or macs=X, X a number (suffix K, M, G) or `heuristic` / `maximal`"));
    let (kind, value) = text.split_once('=').ok_or_else(bad)?;
    let kind = match kind.trim() {
        "params" => BudgetKind::Params,
        "macs" => BudgetKind::Macs,
        _ => return Err(bad()),
    };
    let value = value.trim();
    let with_lora = pre.adapter.is_some();
    if let Some(s) = space.named(value, with_lora) {
        let b = Budget { kind, limit: 0 };
        return Ok(Budget { kind, limit: b.measure(&pre.counts(&s)?) });
    }
    let (num, mult) = match value.chars().last() {
        Some('K' | 'k') => (&value[..value.len() - 1], 1e3),
        Some('M' | 'm') => (&value[..value.len() - 1], 1e6),
        Some('G' | 'g' | 'B' | 'b') => (&value[..value.len() - 1], 1e9),
        _ => (value, 1.0),
    };
    let x: f64 = num.parse().map_err(|_| bad())?;
    if !(x.is_finite() && x > 0.0) {
        return Err(bad());
    }
    Ok(Budget { kind, limit: (x * mult).round() as u64 })
}

/// Per-layer budget costs of each option and the part every sub-network shares, so that
/// `measure(subnet) = fixed + Σ_l cost[l][o_l]` exactly.
pub fn option_costs(pre: &Pretrained, budget: &Budget, options: &[(usize, usize, usize)]) -> Result<(Vec<Vec<u64>>, u64), SearchError> {
    let layers = pre.checkpoint.config.num_hidden_layers;
    let base_subnet = Subnet::from_options(&vec![options[0]; layers]);
    let base = budget.measure(&pre.counts(&base_subnet)?);
    // Layers are alike: the cost of an option is the change it makes in one layer.
    let mut one = vec![];
    for &o in options {
        let mut s = base_subnet.clone();
        (s.ffn[0], s.attn_rank[0], s.ffn_rank[0]) = o;
        one.push(budget.measure(&pre.counts(&s)?) as i128 - base as i128);
    }
    let per_layer_base = one.iter().copied().min().unwrap_or(0);
    // measure = base + Σ_l one[o_l] with one[0] = 0; shift so every cost is non-negative.
    let fixed = base as i128 + layers as i128 * per_layer_base;
    let costs: Vec<u64> = one.iter().map(|c| (c - per_layer_base) as u64).collect();
    Ok((vec![costs; layers], u64::try_from(fixed).map_err(|_| SearchError::Request("negative cost".into()))?))
}

/// Mean next-token NLL of a sub-network, in nats, on `windows` non-overlapping windows of `len`
/// tokens taken in order from `tokens` (`tokens[i·len..(i+1)·len]`, each predicting its own
/// `len − 1` next tokens, as a Hugging Face evaluation with `labels = input_ids` does); every
/// prediction weighs the same.
pub fn validation_loss(pre: &Pretrained, subnet: &Subnet, tokens: &[u32], windows: usize, len: usize, device: &Device) -> Result<f64, SearchError> {
    if len < 2 || windows == 0 {
        return Err(SearchError::Request("a validation sample needs at least one window of at least 2 tokens".into()));
    }
    if tokens.len() < windows * len {
        return Err(SearchError::Request(format!("{windows} windows of {len} tokens need {} tokens; the text has {}", windows * len, tokens.len())));
    }
    let arch = pre.arch(subnet)?;
    let store = model::load_params(&arch, pre.checkpoint.source.as_ref(), pre.adapter.as_ref(), &device.clone().inner())?;
    let mut total = 0.0;
    for w in 0..windows {
        let window = &tokens[w * len..(w + 1) * len];
        let batch = LmBatch { batch: 1, len: len - 1, ids: window[..len - 1].to_vec(), targets: window[1..].to_vec() };
        total += model::forward(&store, &arch, &batch, &mut Recorder::default()).into_scalar::<f64>();
    }
    Ok(total / windows as f64)
}

/// The proxy inputs `need` of a sub-network on one minibatch, from a forward (and, when a
/// gradient is read, a backward) pass of the pretrained weights, as the gather stage reads them
/// for the other families ([`crate::gather::read_out`]): `W`/`G` over every projection weight
/// the pass used, in LPZero's order (per wrapped projection `lora_A`, `lora_B`, the base; the
/// base weights receive gradients too, where LoNAS's frozen base would not), `A` the gated
/// product `silu(gate)·up`, `Z` the gate pre-activation, `H`/`GH`, `S`, `J`, and `P` every
/// parameter. `HG` is GraSP's `H·g` by central differences of these gradients along themselves
/// ([`crate::gather::hessian_gradient`]), `GS` Synflow's gradient of the pretrained weights'
/// magnitudes on the minibatch's first sequence ([`crate::gather::synflow_gradient`]), both over
/// the projection weights in the same order.
pub fn gather_subnet(pre: &Pretrained, subnet: &Subnet, batch: &LmBatch, need: &[InputId], device: &Device) -> Result<ProxyInputs, SearchError> {
    let need = crate::gather::with_gradient_values(need);
    let backward = crate::lang::table::Pass::needed(&need) == crate::lang::table::Pass::Backward;
    let run_on = if backward { device.clone().autodiff().gradient_checkpointing() } else { device.clone().inner() };
    let arch = pre.arch(subnet)?;
    let store = model::load_params(&arch, pre.checkpoint.source.as_ref(), pre.adapter.as_ref(), &run_on)?;
    let mut rec = Recorder::keeping(&need);
    let loss = model::forward(&store, &arch, batch, &mut rec);
    let grads = backward.then(|| loss.backward());
    let own: Vec<String> = model::spec(&arch).into_iter().map(|s| s.name).collect();
    let own: Vec<&str> = own.iter().map(String::as_str).collect();
    // GraSP's direction: the gradients themselves, kept until the pass's gradients are freed.
    let hg_direction = need.contains(&InputId::HG).then(|| crate::gather::gradients_of(&store, &rec.linear, grads.as_ref()));
    let mut inputs = ProxyInputs::new();
    let numbers = crate::gather::ArchNumbers { layers: arch.config.num_hidden_layers, width: arch.config.hidden_size };
    crate::gather::read_out(&mut inputs, &store, &mut rec, grads.as_ref(), &need, &own, numbers).map_err(request)?;
    if let Some(direction) = hg_direction {
        drop(grads);
        let hg = crate::gather::hessian_gradient(&store, &rec.linear, direction, |s| Ok(model::forward(s, &arch, batch, &mut Recorder::default()))).map_err(request)?;
        inputs.insert(InputId::HG, hg).map_err(request)?;
    }
    if need.contains(&InputId::GS) {
        let one = LmBatch { batch: 1, len: batch.len, ids: batch.ids[..batch.len].to_vec(), targets: batch.targets[..batch.len].to_vec() };
        let gs = crate::gather::synflow_gradient(&store, &rec.linear, |s, r| {
            model::forward(s, &arch, &one, r);
            Ok(())
        })
        .map_err(request)?;
        inputs.insert(InputId::GS, gs).map_err(request)?;
    }
    Ok(inputs)
}

/// A failure of the gather stage under a sub-network's request, in its words.
fn request(e: impl std::fmt::Display) -> SearchError {
    SearchError::Request(e.to_string())
}

/// The proxy on a sub-network's gathered inputs ([`gather_subnet`]).
pub fn score_gathered(pre: &Pretrained, proxy: &Proxy, subnet: &Subnet, batch: &LmBatch, device: &Device) -> Result<f64, SearchError> {
    let inputs = gather_subnet(pre, subnet, batch, &proxy.typed.inputs(), device)?;
    crate::eval::score(&proxy.typed, &inputs).map_err(|e| SearchError::Invalid { what: "the sub-network".into(), reason: e.reason })
}

/// `windows` consecutive windows of `len` tokens from `tokens` as one minibatch (each window
/// predicting its own `len − 1` next tokens).
pub fn windows_batch(tokens: &[u32], windows: usize, len: usize) -> Result<LmBatch, SearchError> {
    if len < 2 || windows == 0 || tokens.len() < windows * len {
        return Err(SearchError::Request(format!("{windows} windows of {len} tokens need {} tokens (at least 2 per window); the text has {}", windows * len, tokens.len())));
    }
    let (mut ids, mut targets) = (vec![], vec![]);
    for w in 0..windows {
        let window = &tokens[w * len..(w + 1) * len];
        ids.extend_from_slice(&window[..len - 1]);
        targets.extend_from_slice(&window[1..]);
    }
    Ok(LmBatch { batch: windows, len: len - 1, ids, targets })
}

/// Settings of [`evolve`].
#[derive(Clone, Copy, Debug)]
pub struct EvolveSettings {
    /// Candidates evaluated in all (the initial population included).
    pub evaluations: usize,
    /// Population size.
    pub population: usize,
    /// Tournament size.
    pub tournament: usize,
    /// Seed.
    pub seed: u64,
}

/// Seeded regularised evolution over sub-networks within the budget: a population of random
/// feasible sub-networks (the first two: `start` ones given, e.g. the heuristic one), then
/// repeatedly the best of a tournament, one layer's choice mutated (redrawn until the child
/// fits), the oldest member replaced. `fitness` is maximised; an invalid candidate is skipped.
/// Returns the best sub-network seen with its fitness, and how many were evaluated.
pub fn evolve(
    space: &LonasSpace,
    with_lora: bool,
    fits: &dyn Fn(&Subnet) -> bool,
    start: &[Subnet],
    settings: EvolveSettings,
    stop: &Stop,
    fitness: &mut dyn FnMut(&Subnet) -> Result<f64, SearchError>,
) -> Result<(Subnet, f64, usize), SearchError> {
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let options = space.layer_options(with_lora);
    let mut seen: std::collections::HashMap<Subnet, f64> = std::collections::HashMap::new();
    let mut pop: std::collections::VecDeque<(Subnet, f64)> = std::collections::VecDeque::new();
    let mut best: Option<(Subnet, f64)> = None;
    let mut evaluated = 0;
    let mut eval = |s: Subnet, seen: &mut std::collections::HashMap<Subnet, f64>, evaluated: &mut usize| -> Result<Option<f64>, SearchError> {
        if let Some(&f) = seen.get(&s) {
            return Ok(Some(f));
        }
        *evaluated += 1;
        match fitness(&s) {
            Ok(f) if f.is_finite() => {
                seen.insert(s, f);
                Ok(Some(f))
            }
            Ok(_) | Err(SearchError::Invalid { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    };
    let mut tries = 0;
    let mut starts = start.iter().cloned();
    while pop.len() < settings.population && evaluated < settings.evaluations && tries < 100 * settings.population {
        tries += 1;
        if stop.requested() {
            return Err(SearchError::Stopped);
        }
        let s = starts.next().unwrap_or_else(|| space.random(with_lora, &mut rng));
        if !fits(&s) || pop.iter().any(|(p, _)| *p == s) {
            continue;
        }
        if let Some(f) = eval(s.clone(), &mut seen, &mut evaluated)? {
            if best.as_ref().is_none_or(|b| f > b.1) {
                best = Some((s.clone(), f));
            }
            pop.push_back((s, f));
        }
    }
    if pop.is_empty() {
        return Err(SearchError::Request("no sub-network of the space fits the budget".into()));
    }
    let mut stale = 0;
    while evaluated < settings.evaluations && stale < 1000 {
        if stop.requested() {
            return Err(SearchError::Stopped);
        }
        let parent = (0..settings.tournament.max(1)).map(|_| &pop[rng.random_range(0..pop.len())]).max_by(|a, b| a.1.total_cmp(&b.1)).expect("a non-empty population").0.clone();
        let mut child = parent.clone();
        let l = rng.random_range(0..child.layers());
        (child.ffn[l], child.attn_rank[l], child.ffn_rank[l]) = options[rng.random_range(0..options.len())];
        if !fits(&child) || seen.contains_key(&child) {
            stale += 1;
            continue;
        }
        stale = 0;
        if let Some(f) = eval(child.clone(), &mut seen, &mut evaluated)? {
            if best.as_ref().is_none_or(|b| f > b.1) {
                best = Some((child.clone(), f));
            }
            pop.push_back((child, f));
            if pop.len() > settings.population {
                pop.pop_front();
            }
        }
    }
    let (s, f) = best.expect("a non-empty population has a best");
    Ok((s, f, evaluated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dynamic_program_equals_brute_force() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for case in 0..200 {
            let layers = 1 + case % 3;
            let opts = 2 + case % 4;
            let value: Vec<Vec<f64>> = (0..layers).map(|_| (0..opts).map(|_| rng.random_range(-1.0..1.0)).collect()).collect();
            let cost: Vec<Vec<u64>> = (0..layers).map(|_| (0..opts).map(|_| rng.random_range(0..20)).collect()).collect();
            let fixed: u64 = rng.random_range(0..5);
            let hi: u64 = rng.random_range(0..50);
            let lo = if case % 2 == 0 { 0 } else { hi.saturating_sub(rng.random_range(0..15)) };
            let dp = best_in_range(&value, &cost, fixed, lo, hi);
            let bf = brute_force(&value, &cost, fixed, lo, hi);
            match (dp, bf) {
                (None, None) => {}
                (Some((_, a)), Some((_, b))) => assert!((a - b).abs() < 1e-12, "case {case}: {a} vs {b}"),
                (a, b) => panic!("case {case}: {a:?} vs {b:?}"),
            }
        }
    }
}
