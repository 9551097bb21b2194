//! lpzero: zero-cost proxies for language-model architecture search, as a small language.
//!
//! Proxies are written as expressions (`sum(abs(G * W))`), parsed, type- and shape-checked, and
//! linted by the LPZero paper's Rule-based Pruning Strategy, evaluated on inputs gathered from
//! real transformer forward/backward passes, ranked against benchmarks of trained architectures
//! and evolved by genetic programming. See `ARCHITECTURE.md` for the map of the pipeline and
//! `docs/GUIDE.md` for the command line.
#![warn(missing_docs)]
// Diagnostics are plain values returned by the parser; boxing them would only add noise.
#![allow(clippy::result_large_err)]
// burn slices take one range per axis, as an array, even for one axis.
#![allow(clippy::single_range_in_vec_init)]

// The core: the language, the interpreter, statistics, ranking and search over any source of
// inputs. Nothing here needs a tensor library.
pub mod alloc;
pub mod eval;
pub mod fsutil;
pub mod lang;
pub mod libm32;
pub mod parallel;
pub mod plot;
pub mod progress;
pub mod rank;
pub mod search;
pub mod source;
pub mod stats;
pub mod stop;

// Models and what runs them.
#[cfg(feature = "models")]
pub mod bench;
#[cfg(feature = "models")]
pub mod device;
#[cfg(feature = "models")]
pub mod family;
#[cfg(feature = "models")]
pub mod gather;
#[cfg(feature = "models")]
pub mod models;
#[cfg(feature = "models")]
pub mod speed;
#[cfg(feature = "models")]
pub mod train;

// The front ends.
#[cfg(feature = "models")]
pub mod cli;
#[cfg(feature = "models")]
pub mod repl;
