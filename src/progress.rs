//! How long-running library work reports progress: the library calls a [`Progress`] it is given;
//! the front ends decide how it looks (the command line's reporter draws a bar on a terminal and
//! prints periodic lines into a log, `crate::cli::progress`). The library itself never prints.

/// Receives progress from a long-running loop.
pub trait Progress: Sync {
    /// A phase begins: `what` ("gathering", "held-out") over `total` units.
    fn start(&self, what: &str, total: usize);
    /// `done` units of the current phase are finished; `message` says what was last done.
    fn advance(&self, done: usize, message: &str);
    /// A line for the reader that does not belong to a bar (a finished architecture, a warning).
    fn note(&self, line: &str);
    /// The current phase is over.
    fn finish(&self);
}

/// Progress nobody watches (tests, embedders).
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _what: &str, _total: usize) {}
    fn advance(&self, _done: usize, _message: &str) {}
    fn note(&self, _line: &str) {}
    fn finish(&self) {}
}
