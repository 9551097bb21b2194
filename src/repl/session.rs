//! The REPL's state and what each input does. A [`Session`] reads nothing itself: it is handed
//! one complete input at a time and writes its answer to any [`Write`], so the terminal loop,
//! the pipe loop and the tests drive the same code.

use super::bench::{GatherSettings, Loaded, Ranked};
use crate::eval::{Entry, Interpreter, Value};
use crate::lang::check::{check_definition, check_expr, suggest, Type, Typed};
use crate::lang::diagnostic::{self, Diagnostic};
use crate::lang::syntax::{Definition, Item, ProxyFile, ReplInput, Span};
use crate::lang::{self, lint_proxy, print_expr, table, Env};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The REPL's commands: name, arguments and what it does (for `:help` and completion).
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (":help", "", "this list"),
    (":load", "FILE", "add a proxy file's definitions to the session"),
    (":save", "FILE", "write the session's definitions as a proxy file (canonical form)"),
    (":bench", "PATH [--archs N]", "gather a seeded sample of a benchmark's architectures; expressions are then ranked on them"),
    (":arch", "ID [--detail] [EXPR]", "scores on one loaded architecture; with EXPR or --detail, the value of every sub-expression"),
    (":type", "EXPR", "the type (shape class and alignment) of every sub-expression"),
    (":lint", "EXPR", "the Rule-based Pruning lint of a proxy"),
    (":defs", "", "the session's definitions"),
    (":ops", "", "the inputs and ops with their semantics"),
    (":quit", "", "leave (Ctrl-D too)"),
];

/// What the loop does after an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Read the next input.
    Continue,
    /// End the session.
    Quit,
}

/// One session definition.
#[derive(Clone, Debug)]
struct Def {
    name: String,
    typed: Arc<Typed>,
}

/// The REPL's state: definitions, the loaded benchmark, the last expression.
pub struct Session {
    env: Env,
    defs: Vec<Def>,
    last: Option<(String, Arc<Typed>)>,
    bench: Option<Loaded>,
    settings: GatherSettings,
    color: bool,
    progress: bool,
    names: Arc<Mutex<Vec<String>>>,
    errors: usize,
}

/// The file name diagnostics show for what was typed.
const SOURCE: &str = "<repl>";

impl Session {
    /// A session with no definitions and no benchmark. `color` colours diagnostics; `progress`
    /// shows a progress bar on stderr while gathering.
    pub fn new(settings: GatherSettings, color: bool, progress: bool) -> Session {
        Session { env: Env::new(), defs: vec![], last: None, bench: None, settings, color, progress, names: Arc::default(), errors: 0 }
    }

    /// The defined names, shared with the line editor's completion (kept up to date).
    pub fn names(&self) -> Arc<Mutex<Vec<String>>> {
        self.names.clone()
    }

    /// How many inputs so far ended in an error.
    pub fn errors(&self) -> usize {
        self.errors
    }

    /// The loaded benchmark, if any.
    pub fn bench(&self) -> Option<&Loaded> {
        self.bench.as_ref()
    }

    /// Handles one complete input: a `:command`, a definition `name = expr` or an expression.
    /// Nothing in the input ends the session except `:quit`; problems are written to `out`.
    pub fn handle(&mut self, input: &str, out: &mut dyn Write) -> io::Result<Flow> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Ok(Flow::Continue);
        }
        if let Some(cmd) = trimmed.strip_prefix(':') {
            let (name, rest) = cmd.split_once(char::is_whitespace).unwrap_or((cmd, ""));
            return self.command(name, rest.trim(), out);
        }
        self.input(input, out)?;
        Ok(Flow::Continue)
    }

    /// Loads a benchmark sample (`:bench`), replacing any loaded one.
    pub fn load_bench(&mut self, path: &Path, archs: Option<usize>, out: &mut dyn Write) -> io::Result<()> {
        let reporter = if self.progress { crate::cli::progress::Reporter::new() } else { crate::cli::progress::Reporter::quiet() };
        // Ctrl-C during the gather stops the gather, not the session.
        let stop = crate::stop::Stop::process();
        let result = Loaded::load(path, archs, &self.settings, &stop, &reporter);
        let interrupted = stop.clear();
        match result {
            Err(e) => {
                self.errors += 1;
                writeln!(out, "error: {e:#}")
            }
            Ok(None) => {
                self.errors += 1;
                writeln!(out, "interrupted: {} not loaded{}", path.display(), if interrupted { "" } else { " (stopped)" })
            }
            Ok(Some(loaded)) => {
                writeln!(
                    out,
                    "loaded {} of {} ({}; {:.1} s, {} from the cache)",
                    plural(loaded.len(), "architecture"), path.display(), loaded.settings, loaded.gather_seconds, loaded.cached
                )?;
                self.bench = Some(loaded);
                self.write_baselines(out)
            }
        }
    }

    fn command(&mut self, name: &str, rest: &str, out: &mut dyn Write) -> io::Result<Flow> {
        match name {
            "q" | "quit" | "exit" => return Ok(Flow::Quit),
            "h" | "help" | "?" => self.help(out)?,
            "ops" => write!(out, "{}", table::ops_text())?,
            "defs" => self.list_defs(out)?,
            "type" | "t" => self.type_cmd(rest, out)?,
            "lint" => self.lint_cmd(rest, out)?,
            "load" => self.load_file(rest, out)?,
            "save" => self.save_file(rest, out)?,
            "bench" => self.bench_cmd(rest, out)?,
            "arch" => self.arch_cmd(rest, out)?,
            other => {
                self.errors += 1;
                let names = COMMANDS.iter().map(|c| &c.0[1..]);
                match suggest(other, names) {
                    Some(s) => writeln!(out, "error: unknown command `:{other}`; did you mean `:{s}`? (:help lists them)")?,
                    None => writeln!(out, "error: unknown command `:{other}` (:help lists them)")?,
                }
            }
        }
        Ok(Flow::Continue)
    }

    fn help(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "Type a proxy expression to check, lint and (with a benchmark loaded) rank it,")?;
        writeln!(out, "or `name = expr` to define a name for later expressions. Commands:")?;
        for (c, args, what) in COMMANDS {
            writeln!(out, "  {:<30} {what}", format!("{c} {args}"))?;
        }
        writeln!(out, "Tab completes ops, inputs, names, commands and file paths; an open `(` continues on the next line.")
    }

    fn error(&mut self, diagnostics: &[Diagnostic], file: &str, src: &str, out: &mut dyn Write) -> io::Result<()> {
        if diagnostics.iter().any(Diagnostic::is_error) {
            self.errors += 1;
        }
        for d in diagnostics {
            write!(out, "{}", diagnostic::render(d, file, src, self.color))?;
        }
        Ok(())
    }

    /// A definition or an expression.
    fn input(&mut self, src: &str, out: &mut dyn Write) -> io::Result<()> {
        match lang::parse_repl_input(src) {
            Err(d) => self.error(&[d], SOURCE, src, out),
            Ok(ReplInput::Definition(def)) => {
                let mut env = self.env.clone();
                match check_definition(&def, &mut env) {
                    Err(ds) => self.error(&ds, SOURCE, src, out),
                    Ok(checked) => {
                        self.env = env;
                        self.error(&lint_proxy(&checked.typed), SOURCE, src, out)?;
                        self.define(&checked.name, checked.typed.clone());
                        writeln!(out, "{} = {}", checked.name, print_expr(&checked.typed.to_expr()))?;
                        self.rank_one(&checked.name, &checked.typed, out)
                    }
                }
            }
            Ok(ReplInput::Expr(expr)) => match check_expr(&expr, &self.env) {
                Err(ds) => self.error(&ds, SOURCE, src, out),
                Ok(typed) => {
                    let text = print_expr(&expr);
                    if typed.ty != Type::Number {
                        writeln!(out, "{text} : {}", typed.ty)?;
                        return writeln!(out, "(one value per entry: aggregate it, e.g. `sum({text})`, to make a proxy)");
                    }
                    self.error(&lint_proxy(&typed), SOURCE, src, out)?;
                    let typed = Arc::new(typed);
                    self.last = Some((text.clone(), typed.clone()));
                    self.rank_one(&text, &typed, out)
                }
            },
        }
    }

    fn define(&mut self, name: &str, typed: Arc<Typed>) {
        self.env.define(name, Some(typed.clone()));
        self.defs.retain(|d| d.name != name);
        self.defs.push(Def { name: name.to_owned(), typed });
        *self.names.lock().unwrap_or_else(|e| e.into_inner()) = self.defs.iter().map(|d| d.name.clone()).collect();
    }

    /// Ranks a proxy on the loaded benchmark, or says that it is one number when none is.
    fn rank_one(&mut self, label: &str, typed: &Typed, out: &mut dyn Write) -> io::Result<()> {
        let Some(bench) = &self.bench else {
            return writeln!(out, "{label} : one number (`:bench PATH` loads architectures to rank it on)");
        };
        let r = bench.rank(typed);
        write_table_header(out)?;
        write_row(out, label, &r.correlation, Some(r.seconds))?;
        for (b, c) in &bench.baselines {
            write_row(out, &b.name, c, None)?;
        }
        self.write_invalid(&r, out)
    }

    fn write_invalid(&self, r: &Ranked, out: &mut dyn Write) -> io::Result<()> {
        let Some(bench) = &self.bench else { return Ok(()) };
        let invalid: Vec<_> = r.scores.iter().enumerate().filter_map(|(i, s)| s.as_ref().err().map(|e| (i, e))).collect();
        if let Some((i, e)) = invalid.first() {
            writeln!(out, "invalid on {} of {} architectures; first: {}: {}", invalid.len(), r.scores.len(), bench.ids[*i], e.reason)?;
        }
        Ok(())
    }

    fn write_baselines(&self, out: &mut dyn Write) -> io::Result<()> {
        let Some(bench) = &self.bench else { return Ok(()) };
        write_table_header(out)?;
        for (b, c) in &bench.baselines {
            write_row(out, &b.name, c, None)?;
        }
        Ok(())
    }

    fn list_defs(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.defs.is_empty() {
            return writeln!(out, "no definitions yet (`name = expr` defines one)");
        }
        for d in &self.defs {
            writeln!(out, "{} = {}", d.name, print_expr(&d.typed.to_expr()))?;
        }
        Ok(())
    }

    /// Parses and checks an expression argument of a command; errors are written.
    fn typed_arg(&mut self, src: &str, out: &mut dyn Write) -> io::Result<Option<Typed>> {
        if src.trim().is_empty() {
            self.errors += 1;
            writeln!(out, "error: this command takes an expression")?;
            return Ok(None);
        }
        match lang::parse_expr(src) {
            Err(d) => self.error(&[d], SOURCE, src, out).map(|_| None),
            Ok(expr) => match check_expr(&expr, &self.env) {
                Err(ds) => self.error(&ds, SOURCE, src, out).map(|_| None),
                Ok(t) => Ok(Some(t)),
            },
        }
    }

    fn type_cmd(&mut self, src: &str, out: &mut dyn Write) -> io::Result<()> {
        let Some(typed) = self.typed_arg(src, out)? else { return Ok(()) };
        let mut rows = vec![];
        tree_rows(&typed, 0, &mut rows);
        let width = rows.iter().map(|(d, t, _)| 2 * d + t.chars().count()).max().unwrap_or(0);
        for (depth, text, t) in rows {
            let pad = width - 2 * depth - text.chars().count();
            writeln!(out, "{:indent$}{text}{:pad$}   {}", "", "", describe_type(&t.ty), indent = 2 * depth)?;
        }
        Ok(())
    }

    fn lint_cmd(&mut self, src: &str, out: &mut dyn Write) -> io::Result<()> {
        let Some(typed) = self.typed_arg(src, out)? else { return Ok(()) };
        if typed.ty != Type::Number {
            return writeln!(out, "lint applies to proxies (one number); this is {}", typed.ty);
        }
        let ds = lint_proxy(&typed);
        if ds.is_empty() {
            return writeln!(out, "no lint warnings");
        }
        self.error(&ds, SOURCE, src, out)
    }

    fn load_file(&mut self, path: &str, out: &mut dyn Write) -> io::Result<()> {
        if path.is_empty() {
            self.errors += 1;
            return writeln!(out, "error: `:load FILE`");
        }
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                self.errors += 1;
                return writeln!(out, "error: cannot read {path}: {e}");
            }
        };
        let analysis = lang::analyze_file(&text);
        self.error(&analysis.diagnostics, path, &text, out)?;
        let names: Vec<String> = analysis.definitions.iter().map(|d| d.name.clone()).collect();
        for d in analysis.definitions {
            self.define(&d.name, d.typed);
        }
        writeln!(out, "loaded {} from {path}: {}", plural(names.len(), "definition"), names.join(", "))
    }

    fn save_file(&mut self, path: &str, out: &mut dyn Write) -> io::Result<()> {
        if path.is_empty() {
            self.errors += 1;
            return writeln!(out, "error: `:save FILE`");
        }
        let items = self
            .defs
            .iter()
            .map(|d| Item::Definition(Definition { name: d.name.clone(), name_span: Span::default(), expr: d.typed.to_expr() }))
            .collect();
        let text = lang::print_file(&ProxyFile { items });
        if let Err(e) = std::fs::write(path, &text) {
            self.errors += 1;
            return writeln!(out, "error: cannot write {path}: {e}");
        }
        writeln!(out, "saved {} to {path}", plural(self.defs.len(), "definition"))?;
        // A name redefined after a definition that uses it leaves the file out of order.
        let check = lang::analyze_file(&text);
        if check.has_errors() {
            writeln!(out, "warning: the saved file does not check on its own (a definition uses a name redefined later):")?;
            let errors: Vec<_> = check.diagnostics.into_iter().filter(Diagnostic::is_error).collect();
            for d in &errors {
                write!(out, "{}", diagnostic::render(d, path, &text, self.color))?;
            }
        }
        Ok(())
    }

    fn bench_cmd(&mut self, rest: &str, out: &mut dyn Write) -> io::Result<()> {
        let mut path = None;
        let mut archs = Some(super::DEFAULT_ARCHS);
        let mut words = rest.split_whitespace();
        while let Some(w) = words.next() {
            if w == "--archs" || w.starts_with("--archs=") {
                let v = w.strip_prefix("--archs=").map(str::to_owned).or_else(|| words.next().map(str::to_owned));
                match v.as_deref() {
                    Some("all") => archs = None,
                    Some(v) => match v.parse() {
                        Ok(n) if n > 0 => archs = Some(n),
                        _ => {
                            self.errors += 1;
                            return writeln!(out, "error: --archs takes a positive number or `all`");
                        }
                    },
                    None => {
                        self.errors += 1;
                        return writeln!(out, "error: --archs takes a positive number or `all`");
                    }
                }
            } else if path.is_none() {
                path = Some(w.to_owned());
            } else {
                self.errors += 1;
                return writeln!(out, "error: `:bench PATH [--archs N]` takes one path");
            }
        }
        let Some(path) = path else {
            self.errors += 1;
            return writeln!(out, "error: `:bench PATH [--archs N]`");
        };
        self.load_bench(Path::new(&path), archs, out)
    }

    fn arch_cmd(&mut self, rest: &str, out: &mut dyn Write) -> io::Result<()> {
        let (id, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let (detail, expr_src) = match rest.trim_start().strip_prefix("--detail") {
            Some(r) => (true, r.trim()),
            None => (false, rest.trim()),
        };
        let Some(bench) = &self.bench else {
            self.errors += 1;
            return writeln!(out, "error: no benchmark loaded (`:bench PATH` first)");
        };
        if id.is_empty() {
            self.errors += 1;
            return writeln!(out, "error: `:arch ID [--detail] [EXPR]`; loaded: {}", bench.ids.join(", "));
        }
        let Some(index) = bench.index(id) else {
            self.errors += 1;
            return writeln!(out, "error: no architecture `{id}` is loaded; loaded: {}", bench.ids.join(", "));
        };
        let truth = bench.truth[index];
        let mut targets: Vec<(String, Arc<Typed>)> = vec![];
        if !expr_src.is_empty() {
            let Some(t) = self.typed_arg(expr_src, out)? else { return Ok(()) };
            targets.push((expr_src.to_owned(), Arc::new(t)));
        } else if detail {
            match &self.last {
                Some(l) => targets.push(l.clone()),
                None => {
                    self.errors += 1;
                    return writeln!(out, "error: no expression yet: `:arch {id} --detail EXPR`");
                }
            }
        } else {
            targets.extend(self.defs.iter().map(|d| (d.name.clone(), d.typed.clone())));
            targets.extend(self.last.clone());
            if targets.is_empty() {
                return writeln!(out, "{id}: ground truth {truth:.4}; no definitions or expressions to score yet");
            }
        }
        let bench = self.bench.as_ref().expect("checked above");
        let mut interp = Interpreter::new(&bench.inputs[index]);
        writeln!(out, "{id}: ground truth {truth:.4}")?;
        let show_tree = detail || !expr_src.is_empty();
        for (label, t) in &targets {
            if show_tree {
                let mut rows = vec![];
                tree_rows(t, 0, &mut rows);
                for (depth, text, sub) in rows {
                    let v = match interp.eval(sub) {
                        Ok(v) => describe_value(&v),
                        Err(e) => format!("invalid: {}", e.reason),
                    };
                    writeln!(out, "{:indent$}{text}", "", indent = 2 * depth)?;
                    writeln!(out, "{:indent$}= {v}", "", indent = 2 * depth + 2)?;
                }
            } else {
                match interp.score(t) {
                    Ok(v) => writeln!(out, "  {label:<32} {v:>14.6e}")?,
                    Err(e) => writeln!(out, "  {label:<32} {:>14}   invalid: {}", "-", e.reason)?,
                }
            }
        }
        Ok(())
    }
}

/// (depth, canonical text, node) of every sub-expression, pre-order; definition references are
/// leaves.
fn tree_rows<'t>(t: &'t Typed, depth: usize, rows: &mut Vec<(usize, String, &'t Typed)>) {
    rows.push((depth, print_expr(&t.to_expr()), t));
    for c in t.children() {
        tree_rows(c, depth + 1, rows);
    }
}

/// A type in words with its shape class first: `matrix [out, in] entries, one entry per linear layer`.
fn describe_type(ty: &Type) -> String {
    match ty {
        Type::Number => "one number".into(),
        Type::Entries { alignment, shape } => format!("{shape} entries, {}", alignment.describe()),
    }
}

/// A value in one line: a number, or its entries (scalars listed, tensors by shape and mean).
fn describe_value(v: &Value) -> String {
    const SHOW: usize = 8;
    match v {
        Value::Number(x) => format!("{x:.6e}"),
        Value::Entries(es) => {
            let mut parts: Vec<String> = es
                .iter()
                .take(SHOW)
                .map(|e| match e {
                    Entry::Scalar(x) => format!("{x:.4e}"),
                    Entry::Tensor(t) => {
                        let dims = t.shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("×");
                        let mean = crate::eval::ops::sum_f64(&t.data) / t.numel().max(1) as f64;
                        format!("[{dims}] mean {mean:.3e}")
                    }
                })
                .collect();
            if es.len() > SHOW {
                parts.push(format!("… ({} entries)", es.len()));
            }
            format!("{} entries: {}", es.len(), parts.join(", "))
        }
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn write_table_header(out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{:<34} {:>7} {:>7} {:>7} {:>8}", "", "ρ", "τ", "valid", "seconds")
}

fn write_row(out: &mut dyn Write, label: &str, c: &crate::stats::Correlation, seconds: Option<f64>) -> io::Result<()> {
    let fmt = |v: Option<f64>| v.map(|v| format!("{v:+.3}")).unwrap_or_else(|| "-".into());
    let label = if label.chars().count() > 34 { format!("{}…", label.chars().take(33).collect::<String>()) } else { label.to_owned() };
    let secs = seconds.map(|s| format!("{s:.2}")).unwrap_or_default();
    writeln!(out, "{label:<34} {:>7} {:>7} {:>7} {secs:>8}", fmt(c.spearman), fmt(c.kendall), format!("{}/{}", c.valid, c.total))
}
