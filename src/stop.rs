//! The one stop signal of the process. The binary installs the Ctrl-C handler once, at start-up
//! ([`install_ctrl_c`]); every long-running library loop (gather, rank, evolve, `bench build`,
//! the REPL's gathers) checks a [`Stop`] between units of work and ends cleanly when it is raised:
//! finished results and checkpoints are written and the command says how to resume. A second
//! Ctrl-C while stopping exits at once with status 130, the shell's convention.
//!
//! Library callers that are not the binary (tests, an embedding program, the Python package)
//! make their own [`Stop::new`] and raise it themselves.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A stop signal that loops check: cheap to clone, shared by every clone.
#[derive(Clone, Debug, Default)]
pub struct Stop(Arc<AtomicBool>);

static PROCESS: std::sync::OnceLock<Stop> = std::sync::OnceLock::new();

impl Stop {
    /// A fresh signal, not raised.
    pub fn new() -> Stop {
        Stop::default()
    }

    /// The process's signal, the one Ctrl-C raises.
    pub fn process() -> Stop {
        PROCESS.get_or_init(Stop::new).clone()
    }

    /// Raises it; returns whether it was raised before.
    pub fn raise(&self) -> bool {
        self.0.swap(true, Ordering::SeqCst)
    }

    /// Lowers it again (the REPL does, after a Ctrl-C stopped a gather); returns whether it was
    /// raised.
    pub fn clear(&self) -> bool {
        self.0.swap(false, Ordering::SeqCst)
    }

    /// Whether it has been raised.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// The flag itself, for code that takes an `AtomicBool`.
    pub fn flag(&self) -> &AtomicBool {
        &self.0
    }
}

/// Installs the process's Ctrl-C (SIGINT, and SIGTERM) handler: the first raises
/// [`Stop::process`], the second exits with status 130. Call it once, from `main`; a second call
/// is an error from the `ctrlc` crate, returned.
pub fn install_ctrl_c() -> Result<(), ctrlc::Error> {
    let stop = Stop::process();
    ctrlc::set_handler(move || {
        if stop.raise() {
            std::process::exit(130);
        }
    })
}
