//! The command line: parses flags into the library's option types, calls the library, prints.
//! No computation of its own: each command function builds options, makes one or two library
//! calls and renders their result (text on stderr/stdout, or the library's serialisable report as
//! JSON on stdout).
//!
//! Exit status (the contract in DESIGN.md §4): 0 clean or warnings only, 1 errors (or
//! warnings with `--deny-warnings`, or files that `fmt --check` would change), 2 usage or I/O
//! errors, 130 for a second Ctrl-C. Human output goes to stderr; `--format json` writes one JSON
//! document to stdout.

pub mod bench;
pub mod evolve;
pub mod lang;
pub mod model;
pub mod progress;
pub mod speed;
pub mod subnet;

use crate::device::DeviceKind;
use crate::family::FamilyRef;
use crate::gather::cache::CacheSettings;
use crate::gather::source::GatherSpec;
use crate::models::Fidelity;
use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// lpzero: zero-cost proxies for language-model architecture search, as a small language.
#[derive(Debug, Parser)]
#[command(name = "lpzero", version, about, long_about = None)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check proxy files (syntax, types, Rule-based Pruning lint) and report diagnostics.
    Lint(LintArgs),
    /// Rewrite proxy files into canonical form.
    Fmt(FmtArgs),
    /// List the inputs, ops and diagnostic codes of the language.
    Ops(OpsArgs),
    /// Parameter counts of every architecture of a benchmark, from the built models, checked
    /// against the counts the benchmark publishes.
    Params(model::ParamsArgs),
    /// Score one architecture with one proxy: gather its inputs, evaluate, report.
    Score(model::ScoreArgs),
    /// Rank a benchmark's architectures with proxies, beside the baselines.
    Rank(model::RankArgs),
    /// Search for a proxy by genetic programming on a search set; report it on the held-out rest.
    Evolve(evolve::EvolveArgs),
    /// An interactive session: check, lint and rank expressions as you type them.
    Repl(ReplArgs),
    /// Build benchmarks of trained architectures (`bench build`), measure speed (`bench speed`).
    Bench(bench::BenchArgs),
    /// The input cache: where it is and what it holds (`cache info`), or empty it (`cache clear`).
    Cache(model::CacheCmdArgs),
    /// Write a benchmark's gathered proxy inputs as files (one per architecture) with its ground
    /// truth, for `rank --inputs`, `evolve --inputs` and other tools.
    Gather(model::GatherArgs),
    /// Put the outputs of sharded tasks together (`rank --shard`, `bench build --shard`,
    /// `gather --shard`): the report one process would have written, or what is missing.
    Merge(model::MergeArgs),
    /// LoNAS-style sub-networks of a pretrained LLaMA model: counts (`subnet show`), validation
    /// perplexity (`subnet eval`), the best one under a budget (`subnet search`).
    Subnet(subnet::SubnetArgs),
}

/// The benchmark a command works on.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchSel {
    /// A benchmark: a published one (a FlexiBERT JSON file, an LTS directory such as
    /// gpt2-wt103 or transxl-wt103), a directory built by `bench build`, or `builtin:tiny`.
    #[arg(long)]
    pub bench: PathBuf,
    /// The benchmark's model family, where its files do not say (an LTS directory whose configs
    /// carry no family-specific fields).
    #[arg(long, value_enum)]
    pub family: Option<FamilyRef>,
}

/// What `rank` and `evolve` work on: a benchmark whose inputs lpzero gathers, or a folder of
/// inputs files (written by `lpzero gather`, the Python package, or any framework) with a
/// ground-truth table.
#[derive(Debug, Clone, clap::Args)]
pub struct SourceSel {
    /// A benchmark (see `params --bench`), or a sub-network benchmark folder (`subnet bench
    /// --out`); this or `--inputs` is needed. `evolve` takes several
    /// (`--bench A --bench B`) and searches for a proxy that ranks all of them.
    #[arg(long, conflicts_with = "inputs")]
    pub bench: Vec<PathBuf>,
    /// The benchmark's model family, where its files do not say.
    #[arg(long, value_enum)]
    pub family: Option<FamilyRef>,
    /// A folder of proxy-input files (`*.safetensors`, see the user guide's "Inputs as files")
    /// instead of a benchmark.
    #[arg(long, value_name = "DIR")]
    pub inputs: Option<PathBuf>,
    /// The ground-truth CSV of `--inputs` (`id`, the ground truth, optional baseline columns)
    /// [default: DIR/truth.csv].
    #[arg(long, value_name = "FILE.csv", requires = "inputs")]
    pub truth: Option<PathBuf>,
    /// The ground truth's column in `--truth` [default: `quality`, else the second column].
    #[arg(long, value_name = "NAME", requires = "inputs")]
    pub truth_column: Option<String>,
    /// The ground truth is better when lower (a perplexity).
    #[arg(long, requires = "inputs")]
    pub lower_is_better: bool,
}

impl SourceSel {
    /// The library's description of the source (one `--bench` at most).
    pub fn spec(&self, model: &ModelArgs) -> anyhow::Result<crate::gather::source::SourceSpec> {
        if self.bench.len() > 1 {
            anyhow::bail!("{} --bench given: only `evolve` works on several benchmarks at once", self.bench.len());
        }
        self.specs(model).map(|mut v| v.remove(0))
    }

    /// The library's description of each source: every `--bench` (the first first), or the
    /// `--inputs` folder.
    pub fn specs(&self, model: &ModelArgs) -> anyhow::Result<Vec<crate::gather::source::SourceSpec>> {
        use crate::gather::source::SourceSpec;
        Ok(match (self.bench.first(), &self.inputs) {
            (Some(_), _) => self.bench.iter().map(|b| SourceSpec::bench(model.spec(&BenchSel { bench: b.clone(), family: self.family }))).collect(),
            (None, Some(i)) => vec![SourceSpec::Inputs(crate::source::files::InputsSpec {
                inputs: i.clone(),
                truth: self.truth.clone(),
                truth_column: self.truth_column.clone(),
                lower_is_better: self.lower_is_better,
            })],
            (None, None) => anyhow::bail!("say what to work on: --bench PATH (a benchmark) or --inputs DIR (a folder of inputs files)"),
        })
    }
}

/// The shard a command runs as (`--shard`; none without it, even inside a job array, which may
/// be an array over seeds).
pub fn shard_of(flag: Option<&str>) -> anyhow::Result<Option<crate::source::shard::Shard>> {
    let env = |k: &str| std::env::var(k).ok();
    Ok(match flag {
        Some(text) => Some(crate::source::shard::Shard::parse(text, &env)?),
        None => None,
    })
}

/// The settings a source's inputs were made with, in one line (`batch 4, seq_len 128, …`).
pub fn settings_line(info: &crate::source::SourceInfo) -> String {
    info.settings.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}

/// Where the minibatch and the models come from (shared by the commands that run models).
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// Seed for parameters and masking.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Sequences per minibatch [default: the family's (`lpzero bench speed` shows them), or a
    /// built benchmark's training minibatch].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Tokens per sequence [default: 128, or a built benchmark's].
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Text file for the minibatch [default: the built-in text, or a built benchmark's; the
    /// published benchmarks' runs in docs use ../shared/data/corpus/wikitext-2-valid.txt].
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Which networks to build, where a benchmark's published networks and the reference
    /// implementation's differ.
    #[arg(long, value_enum, default_value_t = Fidelity::Trained)]
    pub fidelity: Fidelity,
    /// Where the models run: flex (pure-Rust CPU, always built), tch / tch-cuda (libtorch; cargo
    /// feature `tch`), cuda (burn's CUDA backend; cargo feature `cuda`).
    #[arg(long, value_enum, default_value_t = DeviceKind::DEFAULT)]
    pub device: DeviceKind,
}

impl ModelArgs {
    /// The library's description of the gather for a benchmark.
    pub fn spec(&self, bench: &BenchSel) -> GatherSpec {
        GatherSpec {
            bench: bench.bench.clone(),
            family: bench.family,
            batch: self.batch,
            seq_len: self.seq_len,
            corpus: self.corpus.clone(),
            fidelity: self.fidelity,
            device: self.device,
        }
    }
}

/// Where gathered inputs are cached on disk (`rank`, `evolve`, `repl`).
#[derive(Debug, Clone, clap::Args)]
pub struct CacheArgs {
    /// Cache directory [default: $LPZERO_CACHE, else $XDG_CACHE_HOME/lpzero, else ~/.cache/lpzero].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Neither read nor write the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Keep the cache (every key under its folder together) within this many GiB: the least
    /// recently used files are removed to make room.
    #[arg(long, value_name = "GIB", default_value_t = 20.0)]
    pub cache_budget: f64,
}

impl CacheArgs {
    /// The library's cache settings.
    pub fn settings(&self) -> CacheSettings {
        CacheSettings { root: self.cache.clone(), enabled: !self.no_cache, budget_bytes: (self.cache_budget.max(0.0) * (1u64 << 30) as f64) as u64 }
    }
}

/// The proxies a model command evaluates: files first, then expressions.
#[derive(Debug, Clone, clap::Args)]
pub struct ProxyArgs {
    /// A proxy file, optionally `FILE:NAME` to pick one definition (repeatable).
    #[arg(long, value_name = "FILE[:NAME]")]
    pub proxy: Vec<String>,
    /// A proxy expression (repeatable).
    #[arg(short = 'e', long = "expr", value_name = "EXPR", allow_hyphen_values = true)]
    pub exprs: Vec<String>,
}

/// Arguments of `lpzero repl`.
#[derive(Debug, clap::Args)]
pub struct ReplArgs {
    /// A benchmark to load at the start (as `:bench PATH` does).
    #[arg(long)]
    pub bench: Option<PathBuf>,
    /// The benchmark's model family, where its files do not say.
    #[arg(long, value_enum)]
    pub family: Option<FamilyRef>,
    /// How many architectures `--bench` gathers (a seeded sample), or `all`.
    #[arg(long, default_value_t = crate::repl::DEFAULT_ARCHS.to_string())]
    pub archs: String,
    /// Colour diagnostics and the prompt.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Model and minibatch options (`--seed` also seeds the sample of `--archs`).
    #[command(flatten)]
    pub model: ModelArgs,
    /// The input cache.
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// Output format of reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// Human-readable text.
    Text,
    /// One JSON document on stdout.
    Json,
}

/// When to colour output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When stderr is a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Arguments of `lpzero lint`.
#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// Proxy files to check.
    pub files: Vec<PathBuf>,
    /// A proxy expression to check (repeatable), e.g. -e 'sum(fro(G))'.
    #[arg(short = 'e', long = "expr", value_name = "EXPR", allow_hyphen_values = true)]
    pub exprs: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    /// Exit with status 1 when there are warnings.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Colour the text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Arguments of `lpzero fmt`.
#[derive(Debug, clap::Args)]
pub struct FmtArgs {
    /// Proxy files to rewrite in place.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Rewrite nothing; exit 1 if some file is not in canonical form.
    #[arg(long)]
    pub check: bool,
}

/// Output format of `ops`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OpsFormat {
    /// Aligned text.
    Text,
    /// Markdown tables (as in the user guide).
    Markdown,
    /// One JSON document.
    Json,
}

/// Arguments of `lpzero ops`.
#[derive(Debug, clap::Args)]
pub struct OpsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = OpsFormat::Text)]
    pub format: OpsFormat,
}

/// Whether to colour stderr output.
pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// Parses the process arguments and runs the command. The stop signal is installed here, once
/// for the whole process.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = crate::stop::install_ctrl_c() {
        eprintln!("warning: Ctrl-C will not stop cleanly: {e}");
    }
    match cli.command {
        Command::Lint(args) => lang::lint(&args),
        Command::Fmt(args) => lang::fmt(&args),
        Command::Ops(args) => lang::ops(&args),
        Command::Params(args) => edge(model::params(&args)),
        Command::Score(args) => edge(model::score(&args)),
        Command::Rank(args) => edge(model::rank(&args)),
        Command::Evolve(args) => edge(evolve::evolve(&args)),
        Command::Repl(args) => repl(args),
        Command::Bench(args) => match &args.command {
            bench::BenchCommand::Build(b) => edge(bench::build(b)),
            bench::BenchCommand::Speed(s) => edge(speed::speed(s)),
        },
        Command::Cache(args) => edge(model::cache(&args)),
        Command::Gather(args) => edge(model::gather(&args)),
        Command::Merge(args) => edge(model::merge(&args)),
        Command::Subnet(args) => edge(subnet::run(&args)),
    }
}

/// A command stopped by Ctrl-C after writing what it had (and saying how to go on): the exit
/// status is 130, as for a process interrupted by SIGINT.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// Prints an error from a command that does I/O or model work and exits 2 (130 when it was
/// interrupted; nothing when stdout was closed by its reader).
fn edge(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<Interrupted>().is_some() => ExitCode::from(130),
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if matches!(e.downcast_ref::<crate::bench::resolve::ResolveError>(), Some(crate::bench::resolve::ResolveError::Interrupted(_)))
                || matches!(e.downcast_ref::<crate::gather::source::OpenError>(), Some(crate::gather::source::OpenError::Resolve(crate::bench::resolve::ResolveError::Interrupted(_))))
            {
                return ExitCode::from(130);
            }
            ExitCode::from(2)
        }
    }
}

/// Renders the diagnostics of a proxy load error on stderr.
pub fn report_load_error(e: &crate::lang::load::LoadError) {
    if let crate::lang::load::LoadError::Diagnostics { name, text, diagnostics } = e {
        for d in diagnostics {
            eprint!("{}", crate::lang::diagnostic::render(d, name, text, use_color(ColorChoice::Auto)));
        }
    }
}

/// Loads `--proxy`/`-e` proxies, rendering diagnostics on error.
pub fn load_proxies(args: &ProxyArgs) -> anyhow::Result<Vec<crate::lang::Proxy>> {
    crate::lang::load::load_proxies(&args.proxy, &args.exprs).map_err(|e| {
        report_load_error(&e);
        match &e {
            crate::lang::load::LoadError::Diagnostics { name, .. } if name != "<expr>" => anyhow::anyhow!("{name} has errors (run `lpzero lint {name}`)"),
            _ => anyhow::anyhow!("{e}"),
        }
    })
}

/// `lpzero repl`: exit status 1 when some scripted input ended in an error, 2 when the terminal
/// failed.
pub fn repl(args: ReplArgs) -> ExitCode {
    let archs = match args.archs.as_str() {
        "all" => None,
        n => match n.parse::<usize>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                eprintln!("error: --archs takes a positive number or `all`");
                return ExitCode::from(2);
            }
        },
    };
    let color = match args.color {
        ColorChoice::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        c => use_color(c),
    };
    let sel = BenchSel { bench: args.bench.clone().unwrap_or_default(), family: args.family };
    let settings = crate::repl::GatherSettings { spec: args.model.spec(&sel), seed: args.model.seed, cache: args.cache.settings() };
    let config = crate::repl::ReplConfig { bench: args.bench, archs, settings, color, history: None };
    match crate::repl::run(config) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) if !std::io::stdin().is_terminal() => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => edge(Err(e)),
    }
}
