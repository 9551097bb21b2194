//! lpzero: zero-cost proxies for language-model architecture search, as a small language.
//!
//! Proxies are written as expressions (`sum(abs(G * W))`), parsed, type- and shape-checked, and
//! linted by the LPZero paper's Rule-based Pruning Strategy. See `ARCHITECTURE.md` for the
//! map of the pipeline and `README.md` for the command line.
#![warn(missing_docs)]
// Diagnostics are plain values returned by the parser; boxing them would only add noise.
#![allow(clippy::result_large_err)]
// burn slices take one range per axis, as an array, even for one axis.
#![allow(clippy::single_range_in_vec_init)]

pub mod device;
pub mod lang;
pub mod cli;
pub mod eval;
pub mod bench;
pub mod models;
pub mod gather;
pub mod stats;
pub mod rank;
pub mod search;
pub mod repl;
pub mod train;
pub mod speed;
pub mod weights;
