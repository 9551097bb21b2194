//! The command line: parses flags, calls the library, prints. No logic of its own.
//!
//! Exit status (the contract in DESIGN.md §4): 0 clean or warnings only, 1 errors (or
//! warnings with `--deny-warnings`, or files that `fmt --check` would change), 2 usage or I/O
//! errors. Human output goes to stderr; `--format json` writes one JSON document to stdout.

use crate::lang::{self, diagnostic, table, Severity};
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
    #[arg(short = 'e', long = "expr", value_name = "EXPR")]
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
    }
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
        OpsFormat::Text => {
            println!("inputs:");
            for i in table::INPUTS {
                let axes = i.axes.map(|a| format!("[{}]", a.join(", "))).unwrap_or_else(|| "varies".into());
                println!("  {:<3} {:<28} {}", i.name, axes, i.summary);
            }
            println!("\nops:");
            for o in table::OPS {
                println!("  {:<18} {}", o.signature(), o.summary);
                println!("  {:<18} {} — {}; {}", "", o.formula, o.axis, o.domain);
            }
            println!("  {:<18} element-wise arithmetic on aligned entries (or with one number)", "x + - * / y");
        }
    }
    ExitCode::SUCCESS
}
