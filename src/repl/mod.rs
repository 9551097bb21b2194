//! `lpzero repl`: an interactive session in the proxy language.
//!
//! Each input is a definition (`name = expr`), an expression or a `:command`. An expression is
//! checked and linted as it is entered and, with a benchmark loaded, ranked on a seeded sample
//! of its architectures whose inputs are gathered once (through the disk cache) and kept in
//! memory, beside the baselines on the same architectures.
//!
//! On a terminal the session uses rustyline: line editing, history in the user's data
//! directory, Tab completion, op signatures as hints, and multi-line input while a `(` is open.
//! When stdin is not a terminal it reads inputs line by line (an open `(` continues on the next
//! line; blank lines and `#` lines are skipped) and writes plain text, so it can be scripted.
//!
//! Like the command line, this module is a front end: it prints (to the `Write` it is given, and
//! a progress bar to stderr). [`Session`] holds the state and answers one input at a time.

pub mod bench;
pub mod helper;
pub mod session;

pub use bench::{GatherSettings, Loaded};
pub use session::{Flow, Session};

use rustyline::error::ReadlineError;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

/// The default number of architectures `:bench` gathers (gathering takes about a second per
/// FlexiBERT architecture).
pub const DEFAULT_ARCHS: usize = 20;

/// How to start a session.
pub struct ReplConfig {
    /// A benchmark to load before the first prompt.
    pub bench: Option<PathBuf>,
    /// How many of its architectures (`None`: all).
    pub archs: Option<usize>,
    /// How benchmarks are gathered.
    pub settings: GatherSettings,
    /// Colour diagnostics and the prompt (terminal sessions only).
    pub color: bool,
    /// Where the history is kept [default: [`history_path`]].
    pub history: Option<PathBuf>,
}

/// The history file: `$XDG_DATA_HOME/lpzero/history`, else `~/.local/share/lpzero/history`.
pub fn history_path() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(data.join("lpzero").join("history"))
}

/// Runs a session until `:quit` or the end of the input. Returns how many inputs ended in an
/// error (a script can fail on it); only a failure of the terminal itself is an `Err`.
pub fn run(config: ReplConfig) -> anyhow::Result<usize> {
    let interactive = std::io::stdin().is_terminal();
    let color = interactive && config.color;
    let mut session = Session::new(config.settings, color, std::io::stderr().is_terminal());
    let mut stdout = std::io::stdout();
    if interactive {
        writeln!(stdout, "lpzero {} — :help lists the commands; :quit or Ctrl-D leaves", env!("CARGO_PKG_VERSION"))?;
    }
    if let Some(path) = &config.bench {
        session.load_bench(path, config.archs, &mut stdout)?;
    }
    if interactive {
        terminal(&mut session, color, config.history.or_else(history_path))?;
    } else {
        piped(&mut session)?;
    }
    Ok(session.errors())
}

/// The line-editor loop.
fn terminal(session: &mut Session, color: bool, history: Option<PathBuf>) -> anyhow::Result<()> {
    let config = rustyline::Config::builder()
        .auto_add_history(true)
        .history_ignore_dups(true)?
        .completion_type(rustyline::CompletionType::List)
        .max_history_size(10_000)?
        .build();
    let mut editor: rustyline::Editor<helper::ReplHelper, rustyline::history::FileHistory> = rustyline::Editor::with_config(config)?;
    editor.set_helper(Some(helper::ReplHelper::new(session.names(), color)));
    if let Some(h) = &history {
        // No history yet is the normal first run.
        let _ = editor.load_history(h);
    }
    let mut stdout = std::io::stdout();
    let prompt = if color { ("lpzero> ".to_owned(), "\x1b[1;32mlpzero>\x1b[0m ".to_owned()) } else { ("lpzero> ".into(), "lpzero> ".into()) };
    loop {
        match editor.readline(&prompt) {
            Ok(line) => {
                let flow = session.handle(&line, &mut stdout)?;
                stdout.flush()?;
                if flow == Flow::Quit {
                    break;
                }
            }
            // Ctrl-C clears the line.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                save_history(&mut editor, history.as_deref());
                return Err(e.into());
            }
        }
    }
    save_history(&mut editor, history.as_deref());
    Ok(())
}

fn save_history(editor: &mut rustyline::Editor<helper::ReplHelper, rustyline::history::FileHistory>, path: Option<&std::path::Path>) {
    let Some(path) = path else { return };
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = editor.save_history(path) {
        eprintln!("warning: cannot save the history to {}: {e}", path.display());
    }
}

/// The scripted loop: one input per line, plain output.
fn piped(session: &mut Session) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    let mut pending = String::new();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if pending.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            continue;
        }
        if !pending.is_empty() {
            pending.push('\n');
        }
        pending.push_str(&line);
        if helper::open_brackets(&pending) > 0 {
            continue;
        }
        let input = std::mem::take(&mut pending);
        let flow = session.handle(&input, &mut stdout)?;
        stdout.flush()?;
        if flow == Flow::Quit {
            return Ok(());
        }
    }
    if !pending.is_empty() {
        session.handle(&pending, &mut stdout)?;
    }
    Ok(())
}
