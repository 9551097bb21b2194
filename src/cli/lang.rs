//! `lpzero lint`, `lpzero fmt`, `lpzero ops`: the language's commands. They print what the
//! library's analysis finds ([`crate::lang::analyze_file`], [`crate::lang::print_file`], the
//! registries).

use super::{use_color, ColorChoice, FmtArgs, LintArgs, LintFormat, OpsArgs, OpsFormat};
use crate::lang::{self, diagnostic, table, Severity};
use serde::Serialize;
use std::io::Write;
use std::process::ExitCode;

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

