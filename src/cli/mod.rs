//! The command line: parses flags, calls the library, prints. No logic of its own.
//!
//! Exit status (the contract in DESIGN.md §4): 0 clean or warnings only, 1 errors (or
//! warnings with `--deny-warnings`, or files that `fmt --check` would change), 2 usage or I/O
//! errors. Human output goes to stderr; `--format json` writes one JSON document to stdout.

pub mod bench;
pub mod evolve;
pub mod speed;

use crate::bench::Benchmark;
use crate::device::DeviceKind;
use crate::lang::{self, diagnostic, table, Severity};
use crate::gather::{self, text::Corpus, GatherOptions};
use crate::lang::Proxy;
use crate::models::{self, Fidelity};
use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;
use std::io::{IsTerminal, Write};
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
    /// Parameter counts of every architecture of a benchmark, from the built models.
    Params(ParamsArgs),
    /// Score one architecture with one proxy: gather its inputs, evaluate, report.
    Score(ScoreArgs),
    /// Rank a benchmark's architectures with proxies, beside the baselines.
    Rank(RankArgs),
    /// Search for a proxy by genetic programming on a search set; report it on the held-out rest.
    Evolve(evolve::EvolveArgs),
    /// An interactive session: check, lint and rank expressions as you type them.
    Repl(ReplArgs),
    /// Build benchmarks of trained architectures (`bench build`).
    Bench(bench::BenchArgs),
}

/// Arguments of `lpzero repl`.
#[derive(Debug, clap::Args)]
pub struct ReplArgs {
    /// A benchmark to load at the start (as `:bench PATH` does).
    #[arg(long)]
    pub bench: Option<PathBuf>,
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

/// Arguments of `lpzero rank`.
#[derive(Debug, clap::Args)]
pub struct RankArgs {
    /// A FlexiBERT JSON file or a GPT-2 benchmark directory.
    #[arg(long)]
    pub bench: PathBuf,
    /// The proxies.
    #[command(flatten)]
    pub proxies: ProxyArgs,
    /// Every stdlib proxy.
    #[arg(long)]
    pub stdlib: bool,
    /// Leave out stdlib proxies by name (repeatable), e.g. the slow `synaptic_diversity`.
    #[arg(long, value_name = "NAME")]
    pub skip: Vec<String>,
    /// Rank a seeded sample of this many architectures instead of all.
    #[arg(long)]
    pub archs: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    /// Also write per-architecture scores (`scores.csv`) and the summary (`summary.json`) here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Model and minibatch options (`--seed` also seeds the sample of `--archs`).
    #[command(flatten)]
    pub model: ModelArgs,
    /// The input cache.
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// Where the minibatch and the models come from (shared by the commands that run models).
#[derive(Debug, clap::Args)]
pub struct ModelArgs {
    /// Seed for parameters and masking.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Sequences per minibatch [default: FlexiBERT 8, GPT-2 4; the paper: 128 and 16].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Tokens per sequence [default: 128; the paper: FlexiBERT 512, GPT-2 192].
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Text file for the minibatch [default: the built-in text; the benchmarks' own runs use
    /// ../shared/data/corpus/wikitext-2-valid.txt].
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Which FlexiBERT networks to build.
    #[arg(long, value_enum, default_value_t = Fidelity::Trained)]
    pub fidelity: Fidelity,
    /// Where the models run: flex (pure-Rust CPU, always built), tch / tch-cuda (libtorch; cargo
    /// feature `tch`), cuda (burn's CUDA backend; cargo feature `cuda`).
    #[arg(long, value_enum, default_value_t = DeviceKind::DEFAULT)]
    pub device: DeviceKind,
}

/// Where gathered inputs are cached on disk (`rank`, `evolve`).
#[derive(Debug, clap::Args)]
pub struct CacheArgs {
    /// Cache directory [default: $LPZERO_CACHE, else $XDG_CACHE_HOME/lpzero, else ~/.cache/lpzero].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Neither read nor write the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Stop writing new architectures once the cache (every key under its folder together) holds this many GiB.
    #[arg(long, value_name = "GIB", default_value_t = 20.0)]
    pub cache_budget: f64,
}

impl CacheArgs {
    /// The default cache (for commands without cache flags).
    pub fn defaults() -> CacheArgs {
        CacheArgs { cache: None, no_cache: false, cache_budget: 20.0 }
    }

    /// The cache for a benchmark family and gather settings, or `None` when it is off or
    /// cannot be created (said on stderr).
    pub fn open(&self, family: crate::bench::Family, opts: &GatherOptions, corpus: &Corpus) -> Option<gather::cache::Cache> {
        if self.no_cache {
            return None;
        }
        let root = self.cache.clone().or_else(gather::cache::default_root)?;
        let budget = (self.cache_budget.max(0.0) * (1u64 << 30) as f64) as u64;
        match gather::cache::Cache::open(&root, family, opts, corpus, budget) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("warning: no input cache ({}: {e}); gathering everything", root.display());
                None
            }
        }
    }
}

impl ModelArgs {
    /// The gather options for a benchmark family.
    pub fn options(&self, family: crate::bench::Family) -> GatherOptions {
        let d = GatherOptions::defaults(family);
        GatherOptions {
            batch: self.batch.unwrap_or(d.batch),
            seq_len: self.seq_len.unwrap_or(d.seq_len),
            seed: self.seed,
            fidelity: self.fidelity,
            device: self.device,
        }
    }

    /// The corpus.
    pub fn corpus(&self) -> anyhow::Result<Corpus> {
        Ok(match &self.corpus {
            Some(p) => Corpus::new(
                std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("cannot read corpus {}: {e}", p.display()))?,
                p.display().to_string(),
            ),
            None => Corpus::builtin(),
        })
    }
}

/// The proxies a model command evaluates: files first, then expressions.
#[derive(Debug, clap::Args)]
pub struct ProxyArgs {
    /// A proxy file, optionally `FILE:NAME` to pick one definition (repeatable).
    #[arg(long, value_name = "FILE[:NAME]")]
    pub proxy: Vec<String>,
    /// A proxy expression (repeatable).
    #[arg(short = 'e', long = "expr", value_name = "EXPR", allow_hyphen_values = true)]
    pub exprs: Vec<String>,
}

/// Arguments of `lpzero score`.
#[derive(Debug, clap::Args)]
pub struct ScoreArgs {
    /// A FlexiBERT JSON file or a GPT-2 benchmark directory.
    #[arg(long)]
    pub bench: PathBuf,
    /// The architecture id (`0`..`499`, `config_3_j7`).
    #[arg(long)]
    pub arch: String,
    /// The proxies.
    #[command(flatten)]
    pub proxies: ProxyArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    /// Model and minibatch options.
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Output format of tables of numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// Aligned columns.
    Table,
    /// One JSON document.
    Json,
    /// Comma-separated values with a header.
    Csv,
}

/// Arguments of `lpzero params`.
#[derive(Debug, clap::Args)]
pub struct ParamsArgs {
    /// A FlexiBERT JSON file or a GPT-2 benchmark directory.
    #[arg(long)]
    pub bench: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
    /// Which FlexiBERT networks to build.
    #[arg(long, value_enum, default_value_t = Fidelity::Trained)]
    pub fidelity: Fidelity,
}

/// Output format of `lint`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// ariadne diagnostics on stderr.
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
    /// Markdown tables (as in the README).
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

/// Parses the process arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Lint(args) => lint(&args),
        Command::Fmt(args) => fmt(&args),
        Command::Ops(args) => ops(&args),
        Command::Params(args) => edge(params(&args)),
        Command::Score(args) => edge(score(&args)),
        Command::Rank(args) => edge(rank(&args)),
        Command::Evolve(args) => edge(evolve::evolve(&args)),
        Command::Repl(args) => repl(args),
        Command::Bench(args) => match &args.command {
            bench::BenchCommand::Build(b) => edge(bench::build_cmd(b)),
            bench::BenchCommand::Speed(s) => edge(speed::speed_cmd(s)),
        },
    }
}

/// Prints an error from a command that does I/O or model work and exits 2.
fn edge(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
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
    // A `--bench` given at the start is resolved now (a built benchmark supplies the corpus).
    let resolved = match args.bench.as_deref().map(|b| bench::resolve(b, &args.cache)).transpose() {
        Ok(r) => r,
        Err(e) => return edge(Err(e)),
    };
    let corpus = match resolved.as_ref().map_or_else(|| args.model.corpus(), |r| r.corpus(&args.model)) {
        Ok(c) => c,
        Err(e) => return edge(Err(e)),
    };
    let color = match args.color {
        ColorChoice::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        c => use_color(c),
    };
    let ReplArgs { bench, mut model, cache, .. } = args;
    let bench = resolved.map(|r| {
        if let Some(m) = &r.manifest {
            model.batch = model.batch.or(Some(m.config.batch));
            model.seq_len = model.seq_len.or(Some(m.config.seq_len));
        }
        r.path
    }).or(bench);
    let settings = crate::repl::GatherSettings {
        seed: model.seed,
        corpus,
        options: Box::new(move |family| model.options(family)),
        cache: Box::new(move |family, opts, corpus| cache.open(family, opts, corpus)),
    };
    let config = crate::repl::ReplConfig { bench, archs, settings, color, history: None };
    match crate::repl::run(config) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) if !std::io::stdin().is_terminal() => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => edge(Err(e)),
    }
}

/// `lpzero params`: counts on stdout (table, CSV or JSON).
pub fn params(args: &ParamsArgs) -> anyhow::Result<()> {
    let bench = Benchmark::load(&bench::resolve(&args.bench, &CacheArgs::defaults())?.path)?;
    let fields = models::count_fields(&bench);
    let mut rows = vec![];
    for arch in models::archs(&bench) {
        rows.push(models::count(arch, args.fidelity)?);
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        TableFormat::Json => {
            let doc: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let mut m = serde_json::Map::new();
                    m.insert("id".into(), r.id.clone().into());
                    for (k, v) in &r.fields {
                        m.insert((*k).into(), (*v).into());
                    }
                    serde_json::Value::Object(m)
                })
                .collect();
            let doc = serde_json::json!({ "family": bench.family(), "fidelity": args.fidelity, "architectures": doc });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        TableFormat::Csv => {
            writeln!(out, "id,{}", fields.join(","))?;
            for r in &rows {
                let vals: Vec<String> = r.fields.iter().map(|(_, v)| v.to_string()).collect();
                writeln!(out, "{},{}", r.id, vals.join(","))?;
            }
        }
        TableFormat::Table => {
            write!(out, "{:<14}", "id")?;
            for f in fields {
                write!(out, "{f:>14}")?;
            }
            writeln!(out)?;
            for r in &rows {
                write!(out, "{:<14}", r.id)?;
                for (_, v) in &r.fields {
                    write!(out, "{v:>14}")?;
                }
                writeln!(out)?;
            }
        }
    }
    Ok(())
}

/// One source that `lint` checks: a file or an `-e` expression.
struct Source {
    name: String,
    text: String,
    is_expr: bool,
}

/// The JSON document `lint --format json` prints.
#[derive(Serialize)]
struct LintReport {
    diagnostics: Vec<diagnostic::JsonDiagnostic>,
    /// Files (and expressions) that could not be read, with the reason.
    io_errors: Vec<IoError>,
    summary: Summary,
}

#[derive(Serialize)]
struct IoError {
    file: String,
    error: String,
}

#[derive(Serialize)]
struct Summary {
    sources: usize,
    errors: usize,
    warnings: usize,
}

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// `lpzero lint`.
pub fn lint(args: &LintArgs) -> ExitCode {
    if args.files.is_empty() && args.exprs.is_empty() {
        eprintln!("error: nothing to lint: give proxy files or -e EXPR");
        return ExitCode::from(2);
    }
    let mut sources = vec![];
    let mut io_errors = vec![];
    for path in &args.files {
        match std::fs::read_to_string(path) {
            Ok(text) => sources.push(Source { name: path.display().to_string(), text, is_expr: false }),
            Err(e) => io_errors.push(IoError { file: path.display().to_string(), error: e.to_string() }),
        }
    }
    for (i, e) in args.exprs.iter().enumerate() {
        let name = if args.exprs.len() == 1 { "<expr>".to_owned() } else { format!("<expr {}>", i + 1) };
        sources.push(Source { name, text: e.clone(), is_expr: true });
    }
    let io_failed = !io_errors.is_empty();
    let color = use_color(args.color);
    let (mut errors, mut warnings) = (0, 0);
    let mut json = vec![];
    let mut stderr = std::io::stderr().lock();
    for e in &io_errors {
        if args.format == LintFormat::Text {
            let _ = writeln!(stderr, "error: cannot read {}: {}", e.file, e.error);
        }
    }
    for s in &sources {
        let analysis = if s.is_expr { lang::analyze_expr(&s.text) } else { lang::analyze_file(&s.text) };
        for d in &analysis.diagnostics {
            match d.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
            match args.format {
                LintFormat::Text => {
                    let _ = write!(stderr, "{}", diagnostic::render(d, &s.name, &s.text, color));
                }
                LintFormat::Json => json.push(diagnostic::to_json(d, &s.name, &s.text)),
            }
        }
    }
    let summary = Summary { sources: sources.len(), errors, warnings };
    match args.format {
        LintFormat::Text => {
            let plural = |n: usize, w: &str| if n == 1 { format!("{n} {w}") } else { format!("{n} {w}s") };
            let _ = writeln!(
                stderr,
                "checked {}: {}, {}",
                plural(
                    summary.sources,
                    match (args.files.is_empty(), args.exprs.is_empty()) {
                        (true, _) => "expression",
                        (false, true) => "file",
                        (false, false) => "input",
                    }
                ),
                plural(errors, "error"),
                plural(warnings, "warning")
            );
        }
        LintFormat::Json => {
            let report = LintReport { diagnostics: json, io_errors, summary };
            println!("{}", serde_json::to_string_pretty(&report).expect("the report serialises"));
        }
    }
    if io_failed {
        ExitCode::from(2)
    } else if errors > 0 || (args.deny_warnings && warnings > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `lpzero fmt`.
pub fn fmt(args: &FmtArgs) -> ExitCode {
    let mut status = 0u8;
    let color = use_color(ColorChoice::Auto);
    for path in &args.files {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read {name}: {e}");
                status = 2;
                continue;
            }
        };
        let file = match lang::parse_file(&text) {
            Ok(f) => f,
            Err(d) => {
                eprint!("{}", diagnostic::render(&d, &name, &text, color));
                status = status.max(1);
                continue;
            }
        };
        let canonical = lang::print_file(&file);
        if canonical == text {
            continue;
        }
        if args.check {
            eprintln!("would reformat {name}");
            status = status.max(1);
        } else if let Err(e) = std::fs::write(path, &canonical) {
            eprintln!("error: cannot write {name}: {e}");
            status = 2;
        } else {
            eprintln!("reformatted {name}");
        }
    }
    ExitCode::from(status)
}

/// `lpzero ops`.
pub fn ops(args: &OpsArgs) -> ExitCode {
    match args.format {
        OpsFormat::Markdown => {
            println!("{}", table::inputs_markdown());
            println!("{}", table::ops_markdown());
            print!("{}", diagnostic::codes_markdown());
        }
        OpsFormat::Json => {
            #[derive(Serialize)]
            struct Tables {
                inputs: &'static [table::InputSpec],
                ops: &'static [table::OpSpec],
                diagnostics: &'static [diagnostic::CodeInfo],
            }
            let t = Tables { inputs: table::INPUTS, ops: table::OPS, diagnostics: diagnostic::CODES };
            println!("{}", serde_json::to_string_pretty(&t).expect("the tables serialise"));
        }
        OpsFormat::Text => print!("{}", table::ops_text()),
    }
    ExitCode::SUCCESS
}

/// Loads the proxies named by `--proxy FILE[:NAME]` and `-e EXPR`; any error is reported with
/// its diagnostics and stops the command.
pub fn load_proxies(files: &[String], exprs: &[String]) -> anyhow::Result<Vec<Proxy>> {
    let mut out = vec![];
    for spec in files {
        let (path, name) = match spec.rsplit_once(':') {
            Some((p, n)) if !n.contains('/') && std::path::Path::new(p).exists() => (p, Some(n)),
            _ => (spec.as_str(), None),
        };
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {path}: {e}"))?;
        let analysis = lang::analyze_file(&text);
        if analysis.has_errors() {
            for d in analysis.diagnostics.iter().filter(|d| d.is_error()) {
                eprint!("{}", diagnostic::render(d, path, &text, use_color(ColorChoice::Auto)));
            }
            anyhow::bail!("{path} has errors (run `lpzero lint {path}`)");
        }
        let defs: Vec<_> = analysis.definitions.into_iter().filter(|d| name.is_none_or(|n| d.name == n)).collect();
        if defs.is_empty() {
            anyhow::bail!("{path} defines no proxy{}", name.map(|n| format!(" named `{n}`")).unwrap_or_default());
        }
        out.extend(defs.into_iter().map(Proxy::from));
    }
    for e in exprs {
        match Proxy::parse(e) {
            Ok(p) => out.push(p),
            Err(err) => {
                for d in &err.0 {
                    eprint!("{}", diagnostic::render(d, "<expr>", e, use_color(ColorChoice::Auto)));
                }
                anyhow::bail!("the expression has errors");
            }
        }
    }
    if out.is_empty() {
        anyhow::bail!("no proxy given: use --proxy FILE[:NAME] or -e EXPR");
    }
    Ok(out)
}

/// `lpzero score`.
pub fn score(args: &ScoreArgs) -> anyhow::Result<()> {
    let proxies = load_proxies(&args.proxies.proxy, &args.proxies.exprs)?;
    let resolved = bench::resolve(&args.bench, &CacheArgs::defaults())?;
    let bench = Benchmark::load(&resolved.path)?;
    let arch = models::archs(&bench)
        .into_iter()
        .find(|a| a.id() == args.arch)
        .ok_or_else(|| anyhow::anyhow!("{} has no architecture `{}` (ids are {}…)", args.bench.display(), args.arch, bench.ids().into_iter().take(3).collect::<Vec<_>>().join(", ")))?;
    let opts = resolved.options(&args.model, bench.family());
    let corpus = resolved.corpus(&args.model)?;
    let device = opts.device.open()?;
    let gathered = gather::gather(arch, &corpus, &opts, &device)?;
    let mut interp = crate::eval::Interpreter::new(&gathered.inputs);
    let mut results = vec![];
    for p in &proxies {
        let start = std::time::Instant::now();
        let r = interp.score(&p.typed);
        results.push((p, r, start.elapsed().as_secs_f64()));
    }
    match args.format {
        LintFormat::Json => {
            let rows: Vec<serde_json::Value> = results
                .iter()
                .map(|(p, r, secs)| match r {
                    Ok(v) => serde_json::json!({"proxy": p.name, "text": p.text(), "score": v, "eval_seconds": secs}),
                    Err(e) => serde_json::json!({"proxy": p.name, "text": p.text(), "invalid": e.reason, "eval_seconds": secs}),
                })
                .collect();
            let doc = serde_json::json!({
                "bench": args.bench.display().to_string(), "arch": args.arch, "family": bench.family(),
                "params": gathered.params, "loss": gathered.loss, "gather_seconds": gathered.seconds,
                "batch": opts.batch, "seq_len": opts.seq_len, "seed": opts.seed, "corpus": corpus.source,
                "proxies": rows,
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        LintFormat::Text => {
            eprintln!(
                "{} {}: {} parameters, loss {:.4}, gathered in {:.2} s (batch {} × {}, seed {}, corpus {})",
                args.bench.display(), args.arch, gathered.params, gathered.loss, gathered.seconds, opts.batch, opts.seq_len, opts.seed, corpus.source
            );
            for (p, r, secs) in &results {
                match r {
                    Ok(v) => println!("{:<24} {v:>16.6e}   ({:.3} s)", p.name, secs),
                    Err(e) => println!("{:<24} {:>16}   invalid: {e}", p.name, "-"),
                }
            }
        }
    }
    Ok(())
}

/// `lpzero rank`.
pub fn rank(args: &RankArgs) -> anyhow::Result<()> {
    let given = &args.proxies;
    let mut proxies = if given.proxy.is_empty() && given.exprs.is_empty() { vec![] } else { load_proxies(&given.proxy, &given.exprs)? };
    if args.stdlib {
        proxies.extend(lang::stdlib::definitions().into_iter().filter(|d| !args.skip.contains(&d.name)).map(Proxy::from));
    }
    if proxies.is_empty() {
        anyhow::bail!("no proxy given: use --stdlib, --proxy FILE[:NAME] or -e EXPR");
    }
    let resolved = bench::resolve(&args.bench, &args.cache)?;
    let bench = Benchmark::load(&resolved.path)?;
    let opts = resolved.options(&args.model, bench.family());
    let corpus = resolved.corpus(&args.model)?;
    let selected = crate::rank::select(bench.len(), args.archs, args.model.seed);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let stop = stop.clone();
        // A second Ctrl-C while stopping ends the process the usual way.
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, std::sync::atomic::Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
    }
    let bar = indicatif::ProgressBar::new(selected.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} architectures [{elapsed_precise} < {eta_precise}] {msg}")
            .expect("a valid template"),
    );
    eprintln!(
        "ranking {} architectures of {} with {} proxies (batch {} × {}, seed {}, corpus {}); Ctrl-C stops and reports what is done",
        selected.len(), args.bench.display(), proxies.len(), opts.batch, opts.seq_len, opts.seed, corpus.source
    );
    let device = opts.device.open()?;
    let cache = args.cache.open(bench.family(), &opts, &corpus);
    let result = crate::rank::rank(&bench, &proxies, &selected, &corpus, &opts, &device, cache.as_ref(), &stop, |_, id| {
        bar.set_message(id.to_owned());
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    let reference = crate::bench::reference::ReferenceScores::find(&bench);
    if let Some(dir) = &args.out {
        write_rank_outputs(dir, &result)?;
    }
    let fmt = |v: Option<f64>| v.map(|v| format!("{v:+.3}")).unwrap_or_else(|| "  -   ".into());
    match args.format {
        LintFormat::Json => {
            let proxies: Vec<serde_json::Value> = result
                .proxies
                .iter()
                .map(|p| {
                    let r = reference.as_ref().and_then(|r| r.compare(&p.name, &result.ids, &result.truth, &p.scores));
                    let top: serde_json::Map<String, serde_json::Value> = [10, 30, 50]
                        .into_iter()
                        .map(|pct| {
                            let c = crate::stats::correlate_top(&p.scores, &result.truth, pct as f64 / 100.0);
                            (pct.to_string(), serde_json::json!({"spearman": c.spearman, "kendall": c.kendall, "valid": c.valid}))
                        })
                        .collect();
                    serde_json::json!({"proxy": p.name, "text": p.text, "spearman": p.correlation.spearman, "kendall": p.correlation.kendall,
                        "valid": p.correlation.valid, "total": p.correlation.total, "eval_seconds": p.seconds, "top_percent": top, "reference": r})
                })
                .collect();
            let baselines: Vec<serde_json::Value> = result
                .baselines
                .iter()
                .map(|(b, c)| serde_json::json!({"baseline": b.name, "spearman": c.spearman, "kendall": c.kendall, "valid": c.valid}))
                .collect();
            let doc = serde_json::json!({"bench": args.bench.display().to_string(), "family": bench.family(), "architectures": result.ids.len(),
                "interrupted": result.interrupted, "batch": opts.batch, "seq_len": opts.seq_len, "seed": opts.seed, "corpus": corpus.source,
                "gather_seconds": result.gather_seconds, "cached": result.cached, "proxies": proxies, "baselines": baselines});
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        LintFormat::Text => {
            if result.interrupted {
                eprintln!("interrupted: the numbers cover the {} architectures scored so far", result.ids.len());
            }
            println!("{:<34} {:>7} {:>7} {:>9} {:>9}   {:>13} {:>12}", "proxy", "ρ", "τ", "valid", "seconds", "reference ρ/τ", "ρ(lpz, ref)");
            for p in &result.proxies {
                let r = reference.as_ref().and_then(|r| r.compare(&p.name, &result.ids, &result.truth, &p.scores));
                let (rr, agree) = match &r {
                    Some(r) => (format!("{}/{}", fmt(r.spearman), fmt(r.kendall)), fmt(r.agreement)),
                    None => (String::new(), String::new()),
                };
                println!(
                    "{:<34} {:>7} {:>7} {:>9} {:>9.2}   {:>13} {:>12}",
                    p.name, fmt(p.correlation.spearman), fmt(p.correlation.kendall),
                    format!("{}/{}", p.correlation.valid, p.correlation.total), p.seconds, rr, agree
                );
            }
            println!("{:-<100}", "");
            for (b, c) in &result.baselines {
                println!("{:<34} {:>7} {:>7} {:>9}", b.name, fmt(c.spearman), fmt(c.kendall), format!("{}/{}", c.valid, c.total));
            }
            eprintln!(
                "gathering took {:.1} s ({:.2} s per architecture; {} of {} read from the cache{})",
                result.gather_seconds,
                result.gather_seconds / result.ids.len().max(1) as f64,
                result.cached,
                result.ids.len(),
                cache.as_ref().map(|c| format!(" {}", c.dir().display())).unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn write_rank_outputs(dir: &std::path::Path, result: &crate::rank::RankResult) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut csv = String::from("id,truth");
    for p in &result.proxies {
        csv.push(',');
        csv.push_str(&p.name.replace(',', ";"));
    }
    for (b, _) in &result.baselines {
        csv.push(',');
        csv.push_str(&b.name.replace(',', ";"));
    }
    csv.push('\n');
    for (i, id) in result.ids.iter().enumerate() {
        csv.push_str(&format!("{id},{}", result.truth[i]));
        for p in &result.proxies {
            csv.push(',');
            if let Some(v) = p.scores[i] {
                csv.push_str(&v.to_string());
            }
        }
        for (b, _) in &result.baselines {
            csv.push_str(&format!(",{}", b.scores[i]));
        }
        csv.push('\n');
    }
    std::fs::write(dir.join("scores.csv"), csv)?;
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots)?;
    for p in &result.proxies {
        let file: String = p.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
        let svg = crate::rank::plot::rank_scatter(&p.name, &p.scores, &result.truth, &p.correlation);
        std::fs::write(plots.join(format!("{file}.svg")), svg)?;
    }
    std::fs::write(dir.join("summary.json"), serde_json::to_string_pretty(result)?)?;
    Ok(())
}
