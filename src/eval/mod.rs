//! Evaluation: the semantics of every op over burn tensors, the proxy inputs of one
//! architecture, and the interpreter that scores a checked proxy on them.
//!
//! This module sees [`ProxyInputs`], never a model: it can be tested, and the search can run,
//! with inputs built by hand.

pub mod file;
pub mod inputs;
pub mod interp;
pub mod linalg;
pub mod ops;

pub use inputs::{InputError, ProxyInputs, TensorEntry};
pub use interp::{score, Interpreter};
pub use ops::{Entry, Invalid, Value};
