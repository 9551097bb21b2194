//! The command line's progress reporter, the one implementation of [`Progress`] the front ends
//! use: a bar (indicatif) when stderr is a terminal; when it is not (a log file, a Slurm
//! output), one line per 10 % of the phase or per 10 seconds, whichever comes first, with done /
//! total, the rate and the time left, so a long run in a log is never silent.

use crate::progress::Progress;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Reports progress on stderr.
pub struct Reporter {
    terminal: bool,
    quiet: bool,
    state: Mutex<State>,
}

struct State {
    what: String,
    total: usize,
    started: Instant,
    last_line: Instant,
    last_done: usize,
    bar: Option<indicatif::ProgressBar>,
}

impl Default for Reporter {
    fn default() -> Self {
        Reporter::new()
    }
}

impl Reporter {
    /// A reporter that draws a bar when stderr is a terminal and prints lines otherwise.
    pub fn new() -> Reporter {
        Reporter::with_terminal(std::io::stderr().is_terminal())
    }

    /// A reporter that behaves as if stderr were (or were not) a terminal.
    pub fn with_terminal(terminal: bool) -> Reporter {
        let now = Instant::now();
        Reporter { terminal, quiet: false, state: Mutex::new(State { what: String::new(), total: 0, started: now, last_line: now, last_done: 0, bar: None }) }
    }

    /// A reporter that shows no bars or periodic lines, only notes.
    pub fn quiet() -> Reporter {
        Reporter { quiet: true, ..Reporter::new() }
    }
}

/// `1h02m`, `3m05s`, `12s`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

impl Progress for Reporter {
    fn start(&self, what: &str, total: usize) {
        let mut s = self.state.lock().expect("not poisoned");
        if let Some(b) = s.bar.take() {
            b.finish_and_clear();
        }
        let now = Instant::now();
        *s = State { what: what.to_owned(), total, started: now, last_line: now, last_done: 0, bar: None };
        if self.terminal && !self.quiet {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(&format!("{{spinner}} {what} {{pos}}/{{len}} [{{elapsed_precise}} < {{eta_precise}}] {{wide_msg}}"))
                    .expect("a valid template"),
            );
            s.bar = Some(bar);
        }
    }

    fn advance(&self, done: usize, message: &str) {
        let mut s = self.state.lock().expect("not poisoned");
        if let Some(bar) = &s.bar {
            bar.set_position(done as u64);
            bar.set_message(message.to_owned());
            return;
        }
        if self.quiet || s.total == 0 {
            return;
        }
        let step = (s.total / 10).max(1);
        let due = done >= s.total || done / step > s.last_done / step || s.last_line.elapsed() >= Duration::from_secs(10);
        if !due || done == s.last_done {
            return;
        }
        let elapsed = s.started.elapsed();
        let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
        let left = if rate > 0.0 { Duration::from_secs_f64((s.total.saturating_sub(done)) as f64 / rate) } else { Duration::ZERO };
        let per = if done > 0 { elapsed.as_secs_f64() / done as f64 } else { 0.0 };
        eprintln!(
            "{} {done}/{} ({:.0}%), {per:.2} s each, {} elapsed, {} left{}",
            s.what,
            s.total,
            100.0 * done as f64 / s.total as f64,
            duration(elapsed),
            duration(left),
            if message.is_empty() { String::new() } else { format!(": {message}") }
        );
        s.last_line = Instant::now();
        s.last_done = done;
    }

    fn note(&self, line: &str) {
        let s = self.state.lock().expect("not poisoned");
        match &s.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn finish(&self) {
        let mut s = self.state.lock().expect("not poisoned");
        if let Some(b) = s.bar.take() {
            b.finish_and_clear();
        }
    }
}
