//! Ground truth for any search space: sample architectures from a space ([`space`]), train each
//! for K steps with AdamW ([`optim`]), and write a benchmark the loaders read ([`build`]);
//! [`builtin`] is the tiny demo benchmark that `--bench builtin:tiny` builds on first use.
//!
//! A K-step benchmark measures early training, not full training: `lpzero bench build
//! --from-bench` trains published architectures the same way and reports how well the two
//! agree (docs/RESULTS.md).

pub mod build;
pub mod builtin;
pub mod optim;
pub mod space;
