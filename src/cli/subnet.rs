//! `lpzero subnet`: LoNAS-style sub-networks of a pretrained LLaMA model — their counts
//! (`show`), their validation perplexity and proxy scores (`eval`), and the best one under a
//! budget (`search`). Flags into the library's calls ([`crate::family::pretrained::search`]), results
//! printed.

use super::progress::Reporter;
use crate::device::DeviceKind;
use crate::family::pretrained::search::{self, BudgetKind, EvolveSettings, Pretrained, SearchError};
use crate::family::pretrained::subnet::{to_yaml, LonasSpace, Subnet};
use crate::lang::Proxy;
use crate::progress::Progress;
use crate::stop::Stop;
use anyhow::{bail, Context};
use std::path::PathBuf;
use std::time::Instant;

use crate::family::pretrained::subnet::SHIPPED;

/// Arguments of `lpzero subnet`.
#[derive(Debug, clap::Args)]
pub struct SubnetArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SubnetCommand,
}

/// The `subnet` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SubnetCommand {
    /// Parameter and MAC counts of the maximal, the heuristic and a given sub-network.
    Show(ModelArgs),
    /// Validation perplexity of sub-networks on a text (and proxy scores, if proxies are given).
    Eval(EvalArgs),
    /// The best sub-network under a budget, by a proxy or by validation loss; written as YAML.
    Search(SearchArgs),
    /// A benchmark of sub-networks with measured ground truth (recovery training, then
    /// validation perplexity), a folder that `rank`, `evolve` and `repl` read with `--bench`.
    Bench(BenchArgs),
    /// Rank a sub-network benchmark with proxies, beside parameter and MAC counts: each
    /// sub-network's inputs gathered on the fly from the pretrained model.
    Rank(RankArgs),
}

/// Arguments of `lpzero subnet rank`.
#[derive(Debug, clap::Args)]
pub struct RankArgs {
    /// The benchmark folder `subnet bench` wrote.
    #[arg(long)]
    pub bench: PathBuf,
    /// The pretrained model it was built from.
    #[arg(long)]
    pub model: PathBuf,
    /// Its adapter, when it was built with one.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// The proxies.
    #[command(flatten)]
    pub proxies: super::ProxyArgs,
    /// Every proxy of the standard library.
    #[arg(long)]
    pub stdlib: bool,
    /// Stdlib proxies to leave out (repeatable).
    #[arg(long)]
    pub skip: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = super::LintFormat::Text)]
    pub format: super::LintFormat,
    /// The device.
    #[arg(long, value_enum, default_value_t = DeviceKind::DEFAULT)]
    pub device: DeviceKind,
}

/// Arguments of `lpzero subnet bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The model and its space.
    #[command(flatten)]
    pub pretrained: PretrainedArgs,
    /// The text: training windows from its first 60 %, the gather minibatch at 60 %, validation
    /// windows from 80 %.
    #[arg(long)]
    pub corpus: PathBuf,
    /// Sub-networks: `maximal`, `heuristic`, then distinct random ones.
    #[arg(long, default_value_t = 64)]
    pub subnets: usize,
    /// Train these instead of a sample: `maximal`, `heuristic` or sub-network files (e.g. what
    /// `subnet search` chose; the id is the file's stem) (repeatable).
    #[arg(long)]
    pub subnet: Vec<String>,
    /// Recovery-training steps per sub-network (AdamW on all its parameters).
    #[arg(long, default_value_t = 8)]
    pub steps: usize,
    /// Windows per training step.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Tokens per window.
    #[arg(long, default_value_t = 256)]
    pub seq_len: usize,
    /// Validation windows.
    #[arg(long, default_value_t = 4)]
    pub valid_windows: usize,
    /// Windows of the minibatch the proxy inputs are gathered on.
    #[arg(long, default_value_t = 1)]
    pub gather_windows: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-4)]
    pub lr: f64,
    /// Seed of the sample and of the training windows.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Inputs to also write as files per sub-network, for `rank --inputs` / `evolve --inputs`
    /// (names, or `all`) [default: none; about 1.5 GB per SmolLM2 sub-network with all but GS
    /// and HG, each of which adds W's size again].
    #[arg(long, value_delimiter = ',')]
    pub keep_inputs: Vec<String>,
    /// The benchmark folder (resumed when it exists).
    #[arg(long)]
    pub out: PathBuf,
    /// The device.
    #[arg(long, value_enum, default_value_t = DeviceKind::DEFAULT)]
    pub device: DeviceKind,
}

/// A pretrained model and the space of its sub-networks.
#[derive(Debug, Clone, clap::Args)]
pub struct PretrainedArgs {
    /// The pretrained model: a GGUF file, or a Hugging Face folder (`config.json` and
    /// `model.safetensors` or its sharded index).
    #[arg(long)]
    pub model: PathBuf,
    /// A PEFT LoRA adapter folder (`adapter_config.json`, `adapter_model.safetensors`).
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// The space: a shipped one by name (`lonas-llama-7b`, `lonas-smollm2-135m`) or a file.
    #[arg(long)]
    pub space: String,
}

/// The model, its space and sub-networks.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// The model and its space.
    #[command(flatten)]
    pub pretrained: PretrainedArgs,
    /// Sub-networks: `maximal`, `heuristic`, or a YAML file with `ffn:` (and rank) lists
    /// (repeatable) [default: maximal and heuristic].
    #[arg(long)]
    pub subnet: Vec<String>,
}

/// Arguments of `lpzero subnet eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The model, space and sub-networks.
    #[command(flatten)]
    pub model: ModelArgs,
    /// The text perplexity is measured on (tokenised with the model's own tokenizer).
    #[arg(long)]
    pub corpus: PathBuf,
    /// Windows of `--seq-len` tokens, taken in order from `--offset`.
    #[arg(long, default_value_t = 8)]
    pub windows: usize,
    /// Tokens per window.
    #[arg(long, default_value_t = 256)]
    pub seq_len: usize,
    /// The first token of the first window.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Proxies to score each sub-network with (weight-only ones on its active weights, others
    /// gathered on the first window).
    #[command(flatten)]
    pub proxies: super::ProxyArgs,
    /// The device.
    #[arg(long, value_enum, default_value_t = DeviceKind::DEFAULT)]
    pub device: DeviceKind,
}

/// How `subnet search` scores candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScoreBy {
    /// The proxy given with `--proxy` / `-e` (higher is better).
    Proxy,
    /// Validation loss on a held-out sample (`--corpus`, `--windows`, `--offset`): lower is
    /// better, as LoNAS scores candidates.
    ValidLoss,
}

/// Arguments of `lpzero subnet search`.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// The model and its space.
    #[command(flatten)]
    pub pretrained: PretrainedArgs,
    /// What to score candidates by.
    #[arg(long, value_enum, default_value_t = ScoreBy::Proxy)]
    pub by: ScoreBy,
    /// The proxies.
    #[command(flatten)]
    pub proxies: super::ProxyArgs,
    /// The budget: `params=X` or `macs=X` (MACs per token), X a number with an optional K/M/G
    /// suffix, or `heuristic` / `maximal` for that sub-network's count.
    #[arg(long)]
    pub budget: String,
    /// Also require at least this share of the budget (0.98: within 2 % below it), so that a
    /// proxy that prefers small networks is compared at the budget's size [default: 0, no lower
    /// bound].
    #[arg(long, default_value_t = 0.0)]
    pub min_share: f64,
    /// The held-out text for `--by valid-loss`, and for proxies that read activations or
    /// gradients (each candidate is gathered on it).
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Windows of the held-out sample (`--by valid-loss`, and proxies that read activations or
    /// gradients: one minibatch of this many windows).
    #[arg(long, default_value_t = 2)]
    pub windows: usize,
    /// Tokens per window.
    #[arg(long, default_value_t = 256)]
    pub seq_len: usize,
    /// The held-out sample's first token [default: the middle of the text, away from the
    /// windows `subnet eval` reads by default].
    #[arg(long)]
    pub offset: Option<usize>,
    /// Candidates an evolutionary search evaluates.
    #[arg(long, default_value_t = 40)]
    pub evaluations: usize,
    /// Population of an evolutionary search.
    #[arg(long, default_value_t = 10)]
    pub population: usize,
    /// Seed of an evolutionary search.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Use the evolutionary search even where the dynamic program is exact.
    #[arg(long)]
    pub evolve: bool,
    /// Where to write the chosen sub-network (YAML) [default: stdout].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The device.
    #[arg(long, value_enum, default_value_t = DeviceKind::DEFAULT)]
    pub device: DeviceKind,
}

/// Runs `lpzero subnet`.
pub fn run(args: &SubnetArgs) -> anyhow::Result<()> {
    match &args.command {
        SubnetCommand::Show(a) => show(a),
        SubnetCommand::Eval(a) => eval(a),
        SubnetCommand::Search(a) => search_cmd(a),
        SubnetCommand::Bench(a) => bench(a),
        SubnetCommand::Rank(a) => rank(a),
    }
}

fn load_space(name: &str) -> anyhow::Result<LonasSpace> {
    if let Some((_, text)) = SHIPPED.iter().find(|(n, _)| *n == name) {
        return Ok(LonasSpace::parse(text, &format!("spaces/{name}.yaml"))?);
    }
    let path = PathBuf::from(name);
    if !path.is_file() {
        bail!("--space `{name}`: neither a shipped space ({}) nor a file", SHIPPED.iter().map(|s| s.0).collect::<Vec<_>>().join(", "));
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(LonasSpace::parse(&text, &path.display().to_string())?)
}

fn open(p: &PretrainedArgs) -> anyhow::Result<(Pretrained, LonasSpace)> {
    let pre = Pretrained::open(&p.model, p.adapter.as_deref()).with_context(|| format!("cannot open the model {}", p.model.display()))?;
    let space = load_space(&p.space)?;
    space.check_model(&pre.checkpoint.config).map_err(anyhow::Error::msg)?;
    Ok((pre, space))
}

fn subnets(names: &[String], pre: &Pretrained, space: &LonasSpace) -> anyhow::Result<Vec<(String, Subnet)>> {
    let with_lora = pre.adapter.is_some();
    let names: Vec<String> = if names.is_empty() { vec!["maximal".into(), "heuristic".into()] } else { names.to_vec() };
    names
        .iter()
        .map(|n| {
            let s = match space.named(n, with_lora) {
                Some(s) => s,
                None => {
                    let text = std::fs::read_to_string(n).with_context(|| format!("--subnet `{n}`: not `maximal`, `heuristic` or a readable file"))?;
                    Subnet::parse(&text, n)?
                }
            };
            if s.layers() != space.layers {
                bail!("--subnet {n}: {} layers; the space has {}", s.layers(), space.layers);
            }
            Ok((n.clone(), s))
        })
        .collect()
}

fn show(a: &ModelArgs) -> anyhow::Result<()> {
    let (pre, space) = open(&a.pretrained)?;
    let c = &pre.checkpoint.config;
    eprintln!(
        "{}: {} layers, width {}, {} heads / {} kv heads, FFN {}, vocabulary {}{}",
        a.pretrained.model.display(),
        c.num_hidden_layers,
        c.hidden_size,
        c.num_attention_heads,
        c.num_key_value_heads,
        c.intermediate_size,
        c.vocab_size,
        if c.tie_word_embeddings { ", tied head" } else { "" }
    );
    eprintln!("space {}: {} choices per layer", space.name, space.layer_options(pre.adapter.is_some()).len());
    println!("{:<24} {:>15} {:>13} {:>17}", "sub-network", "base params", "LoRA params", "MACs per token");
    for (name, s) in subnets(&a.subnet, &pre, &space)? {
        let k = pre.counts(&s)?;
        println!("{name:<24} {:>15} {:>13} {:>17}", k.base_params, k.lora_params, k.macs_per_token);
    }
    Ok(())
}

fn input_names(p: &Proxy) -> String {
    p.typed.inputs().iter().map(|&i| crate::lang::table::input(i).name).collect::<Vec<_>>().join(", ")
}

fn tokens_of(pre: &Pretrained, corpus: &std::path::Path) -> anyhow::Result<Vec<u32>> {
    let text = std::fs::read_to_string(corpus).with_context(|| format!("cannot read {}", corpus.display()))?;
    Ok(pre.tokenizer()?.encode(&text)?)
}

fn eval(a: &EvalArgs) -> anyhow::Result<()> {
    let (pre, space) = open(&a.model.pretrained)?;
    let proxies = super::load_proxies(&a.proxies)?;
    let device = a.device.open()?;
    let tokens = tokens_of(&pre, &a.corpus)?;
    let start = a.offset.min(tokens.len());
    // Proxies that read activations or gradients are gathered on the first window.
    let gather_batch = search::windows_batch(&tokens[start..], 1, a.seq_len)?;
    eprintln!("{}: {} tokens; {} windows of {} from token {start}", a.corpus.display(), tokens.len(), a.windows, a.seq_len);
    let mut header = format!("{:<24} {:>13} {:>10} {:>12}", "sub-network", "params", "loss", "perplexity");
    for p in &proxies {
        header.push_str(&format!(" {:>14}", p.name));
    }
    println!("{header}");
    for (name, s) in subnets(&a.model.subnet, &pre, &space)? {
        let t = Instant::now();
        let loss = search::validation_loss(&pre, &s, &tokens[start..], a.windows, a.seq_len, &device)?;
        let mut line = format!("{name:<24} {:>13} {loss:>10.4} {:>12.3}", pre.counts(&s)?.params(), loss.exp());
        for p in &proxies {
            let v = if search::weight_only(p) { search::score_subnet(&pre, p, &s) } else { search::score_gathered(&pre, p, &s, &gather_batch, &device) };
            match v {
                Ok(v) => line.push_str(&format!(" {v:>14.6}")),
                Err(e) => line.push_str(&format!(" {:>14}", format!("invalid ({e})"))),
            }
        }
        println!("{line}");
        eprintln!("  {name}: {:.1} s", t.elapsed().as_secs_f64());
    }
    Ok(())
}

fn search_cmd(a: &SearchArgs) -> anyhow::Result<()> {
    let (pre, space) = open(&a.pretrained)?;
    let with_lora = pre.adapter.is_some();
    let budget = search::parse_budget(&a.budget, &pre, &space)?;
    if !(0.0..=1.0).contains(&a.min_share) {
        bail!("--min-share takes a share of the budget between 0 and 1");
    }
    let floor = (a.min_share * budget.limit as f64).ceil() as u64;
    let fits = |s: &Subnet| pre.counts(s).map(|k| (floor..=budget.limit).contains(&budget.measure(&k))).unwrap_or(false);
    let stop = Stop::process();
    let reporter = Reporter::new();
    let options = space.layer_options(with_lora);
    let heuristic = space.heuristic(with_lora);
    let started = Instant::now();
    let settings = EvolveSettings { evaluations: a.evaluations, population: a.population, tournament: 3, seed: a.seed };
    let interrupted = |e: SearchError| -> anyhow::Error {
        match e {
            SearchError::Stopped => super::Interrupted.into(),
            e => e.into(),
        }
    };
    let (chosen, score, method, label) = match a.by {
        ScoreBy::Proxy => {
            let proxies = super::load_proxies(&a.proxies)?;
            let [proxy]: [Proxy; 1] = proxies.try_into().map_err(|_| anyhow::anyhow!("--by proxy takes exactly one proxy (--proxy FILE[:NAME] or -e EXPR)"))?;
            if !search::weight_only(&proxy) {
                // Activations or gradients: every candidate is gathered on the held-out sample.
                let corpus = a.corpus.as_ref().with_context(|| format!("proxy `{}` reads {}: its candidates are gathered on a text; give --corpus", proxy.name, input_names(&proxy)))?;
                let tokens = tokens_of(&pre, corpus)?;
                let offset = a.offset.unwrap_or(tokens.len() / 2).min(tokens.len());
                let batch = search::windows_batch(&tokens[offset..], a.windows, a.seq_len)?;
                let device = a.device.open()?;
                eprintln!("proxy `{}` reads {}: each candidate gathered on {} windows of {} tokens from token {offset}", proxy.name, input_names(&proxy), a.windows, a.seq_len);
                reporter.start("candidates", a.evaluations);
                let mut done = 0;
                let mut fitness = |s: &Subnet| {
                    let v = search::score_gathered(&pre, &proxy, s, &batch, &device);
                    done += 1;
                    reporter.advance(done, &v.as_ref().map(|v| format!("score {v:.6}")).unwrap_or_else(|e| e.to_string()));
                    v
                };
                let (s, f, n) = search::evolve(&space, with_lora, &fits, std::slice::from_ref(&heuristic), settings, &stop, &mut fitness).map_err(interrupted)?;
                reporter.finish();
                (s, f, format!("regularised evolution with gathers, {n} candidates"), proxy.name.clone())
            } else {
                reporter.start("per-layer scores", space.layers);
                let table = search::layer_tables(&pre, &proxy, &options, &stop, |done| reporter.advance(done, "layer")).map_err(interrupted)?;
                reporter.finish();
                let sep = search::separability(&pre, &proxy, &options, &table)?;
                eprintln!(
                    "separability (first and last layers together, against their per-layer scores): score ≈ {:.6e}·(s_first + s_last) + {:.3e}, largest residual {:.1e} of the spread: {}",
                    sep.slope,
                    sep.intercept,
                    sep.residual,
                    if sep.separable { "separable" } else { "not separable" }
                );
                if sep.separable && !a.evolve {
                    let (cost, fixed) = search::option_costs(&pre, &budget, &options)?;
                    let sign = if sep.slope < 0.0 { -1.0 } else { 1.0 };
                    let value: Vec<Vec<f64>> = table.iter().map(|r| r.iter().map(|v| sign * v).collect()).collect();
                    let (picks, _) = search::best_in_range(&value, &cost, fixed, floor, budget.limit).ok_or_else(|| anyhow::anyhow!("no sub-network of the space fits {}", a.budget))?;
                    let s = Subnet::from_options(&picks.iter().map(|&o| options[o]).collect::<Vec<_>>());
                    // The whole sub-network's score where its weights fit in memory comfortably
                    // (a 7B model's would not); else the sum of its layers' scores.
                    if pre.counts(&s)?.params() <= 500_000_000 {
                        let score = search::score_subnet(&pre, &proxy, &s)?;
                        (s, score, "dynamic program (exact)".to_string(), proxy.name.clone())
                    } else {
                        let sum: f64 = picks.iter().enumerate().map(|(l, &o)| table[l][o]).sum();
                        (s, sum, "dynamic program (exact); score: the sum of the layers' scores".to_string(), proxy.name.clone())
                    }
                } else {
                    let mut fitness = |s: &Subnet| search::score_subnet(&pre, &proxy, s);
                    let (s, f, n) = search::evolve(&space, with_lora, &fits, std::slice::from_ref(&heuristic), settings, &stop, &mut fitness).map_err(interrupted)?;
                    (s, f, format!("regularised evolution, {n} candidates"), proxy.name.clone())
                }
            }
        }
        ScoreBy::ValidLoss => {
            let corpus = a.corpus.as_ref().context("--by valid-loss needs --corpus (the held-out text)")?;
            let tokens = tokens_of(&pre, corpus)?;
            let offset = a.offset.unwrap_or(tokens.len() / 2).min(tokens.len());
            let device = a.device.open()?;
            eprintln!("held-out sample: {} windows of {} tokens from token {offset} of {}", a.windows, a.seq_len, corpus.display());
            reporter.start("candidates", a.evaluations);
            let mut done = 0;
            let mut fitness = |s: &Subnet| {
                let loss = search::validation_loss(&pre, s, &tokens[offset..], a.windows, a.seq_len, &device)?;
                done += 1;
                reporter.advance(done, &format!("loss {loss:.4}"));
                Ok(-loss)
            };
            let (s, f, n) = search::evolve(&space, with_lora, &fits, std::slice::from_ref(&heuristic), settings, &stop, &mut fitness).map_err(interrupted)?;
            reporter.finish();
            (s, -f, format!("regularised evolution, {n} candidates"), "valid_loss".to_string())
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let k = pre.counts(&chosen)?;
    let hk = pre.counts(&heuristic)?;
    let kind = match budget.kind {
        BudgetKind::Params => "params",
        BudgetKind::Macs => "macs",
    };
    eprintln!(
        "chosen by {label} ({method}) in {seconds:.1} s: {} parameters, {} MACs per token (budget {floor} ≤ {kind} ≤ {}; heuristic {} / {})",
        k.params(),
        k.macs_per_token,
        budget.limit,
        hk.params(),
        hk.macs_per_token
    );
    let extra = vec![
        ("space".to_string(), space.name.clone()),
        ("scored_by".to_string(), label),
        ("score".to_string(), format!("{score}")),
        ("method".to_string(), format!("\"{method}\"")),
        ("budget".to_string(), format!("\"{floor} <= {kind} <= {}\"", budget.limit)),
        ("params".to_string(), k.params().to_string()),
        ("macs_per_token".to_string(), k.macs_per_token.to_string()),
        ("search_seconds".to_string(), format!("{seconds:.1}")),
    ];
    let yaml = to_yaml(&chosen, &extra);
    match &a.out {
        Some(path) => {
            crate::fsutil::write_atomic(path, yaml.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{yaml}"),
    }
    Ok(())
}

fn bench(a: &BenchArgs) -> anyhow::Result<()> {
    use crate::family::pretrained::bench::{build, SubnetBenchConfig};
    let (pre, space) = open(&a.pretrained)?;
    let tokens = tokens_of(&pre, &a.corpus)?;
    let device = a.device.open()?;
    let explicit: Vec<(String, Subnet)> = subnets(&a.subnet, &pre, &space)?
        .into_iter()
        .map(|(name, s)| (std::path::Path::new(&name).file_stem().map_or(name.clone(), |x| x.to_string_lossy().into_owned()), s))
        .collect();
    let explicit = if a.subnet.is_empty() { vec![] } else { explicit };
    let cfg = SubnetBenchConfig {
        explicit: explicit.clone(),
        subnets: if explicit.is_empty() { a.subnets } else { explicit.len() },
        steps: a.steps,
        batch: a.batch,
        seq_len: a.seq_len,
        valid_windows: a.valid_windows,
        gather_windows: a.gather_windows,
        lr: a.lr,
        seed: a.seed,
        keep_inputs: a.keep_inputs.clone(),
    };
    let stop = Stop::process();
    let reporter = Reporter::new();
    let done = build(&pre, &space, &cfg, &tokens, &a.out, &device, &stop, &reporter).map_err(|e| match e {
        SearchError::Stopped => super::Interrupted.into(),
        e => anyhow::Error::from(e),
    })?;
    eprintln!("{} of {} sub-networks in {}", done.len(), cfg.subnets, a.out.display());
    for r in &done {
        eprintln!("  {:<16} {:>12} parameters  perplexity {:>10.2} sliced → {:>8.2} after {} steps", r.id, r.params, r.valid_loss_before.exp(), r.valid_ppl, cfg.steps);
    }
    if done.len() < cfg.subnets {
        eprintln!("stopped: run the same command again to go on");
        return Err(super::Interrupted.into());
    }
    eprintln!("rank them: lpzero rank --bench {} --stdlib (or evolve --bench, repl --bench)", a.out.display());
    Ok(())
}

fn rank(a: &RankArgs) -> anyhow::Result<()> {
    use crate::family::pretrained::bench::SubnetSource;
    use crate::source::Source;
    let proxies = super::model::rank_proxies(&a.proxies, a.stdlib, &a.skip)?;
    let pre = Pretrained::open(&a.model, a.adapter.as_deref()).with_context(|| format!("cannot open the model {}", a.model.display()))?;
    let device = a.device.open()?;
    let source = SubnetSource::open(std::sync::Arc::new(pre), &a.bench, &device)?;
    let stop = Stop::process();
    let reporter = Reporter::new();
    eprintln!("ranking {} sub-networks of {} with {} proxies (inputs gathered from the sliced pretrained weights); Ctrl-C stops and reports what is done", source.len(), a.bench.display(), proxies.len());
    let report = crate::rank::rank(&source, &proxies, &stop, &reporter)?;
    match a.format {
        super::LintFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        super::LintFormat::Text => super::model::print_rank(&report),
    }
    if report.interrupted {
        return Err(super::Interrupted.into());
    }
    Ok(())
}
