//! `ProxyInputs`: what one architecture and one minibatch give the interpreter.
//!
//! Plain data, independent of the model that produced it: a map from each input of the input
//! table (`A GA H GH S W G J P Z GS HG`, and the architecture scalars `L D N`, one rank-0 entry
//! each) to its entries, each a flat f32 host slice with its logical shape. Tests, embedders,
//! input files and the Python package build it by hand; the gather stage builds it from a
//! forward/backward pass. Nothing here needs a tensor library.

use crate::lang::table::{self, Alignment, InputId};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One tensor entry: f32 values stored flat (row-major) on the host, with their logical shape.
///
/// Storing entries flat lets one code path handle every rank: element-wise ops work on the flat
/// tensor directly, and axis ops reshape it to the few dimensions they need.
#[derive(Clone, Debug)]
pub struct TensorEntry {
    /// The values, row-major (shared: cloning an entry does not copy them).
    pub data: Arc<[f32]>,
    /// The logical shape (outermost axis first).
    pub shape: Vec<usize>,
}

impl TensorEntry {
    /// Builds an entry from row-major values.
    pub fn from_f32(shape: &[usize], values: &[f32]) -> Result<Self, InputError> {
        let n: usize = shape.iter().product();
        if n != values.len() {
            return Err(InputError::Size { shape: shape.to_vec(), values: values.len() });
        }
        Ok(TensorEntry { data: values.into(), shape: shape.to_vec() })
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The values, copied.
    pub fn to_vec(&self) -> Vec<f32> {
        self.data.to_vec()
    }
}

/// A problem with hand-built or gathered inputs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    /// The number of values does not match the shape.
    #[error("shape {shape:?} holds {} values, but {values} were given", shape.iter().product::<usize>())]
    Size {
        /// The shape.
        shape: Vec<usize>,
        /// How many values there were.
        values: usize,
    },
    /// An entry has the wrong number of axes for its input.
    #[error("input {input} entry {index} has {got} axes, but {input} entries have {expected} ({axes})")]
    Rank {
        /// The input's name.
        input: &'static str,
        /// Which entry.
        index: usize,
        /// Axes the table declares.
        expected: usize,
        /// Their names.
        axes: String,
        /// Axes the entry has.
        got: usize,
    },
    /// Two inputs with the same alignment have different numbers of entries.
    #[error("{a} has {a_len} entries but {b} has {b_len}; both have {what}")]
    Count {
        /// One input.
        a: &'static str,
        /// Its entry count.
        a_len: usize,
        /// The other.
        b: &'static str,
        /// Its entry count.
        b_len: usize,
        /// What one entry stands for.
        what: &'static str,
    },
    /// Paired inputs (a tensor and its gradient) differ in shape at one entry.
    #[error("{a}[{index}] has shape {a_shape:?} but {b}[{index}] has {b_shape:?}; {b} is the gradient of {a}")]
    Pair {
        /// The tensor.
        a: &'static str,
        /// Its gradient.
        b: &'static str,
        /// Which entry.
        index: usize,
        /// Shapes.
        a_shape: Vec<usize>,
        /// Shapes.
        b_shape: Vec<usize>,
    },
}

/// Inputs whose entries must have identical shapes, entry by entry: a tensor and its gradient.
pub const GRADIENT_PAIRS: &[(InputId, InputId)] =
    &[(InputId::W, InputId::G), (InputId::A, InputId::GA), (InputId::H, InputId::GH), (InputId::W, InputId::GS), (InputId::W, InputId::HG)];

/// The named inputs of one architecture on one minibatch.
#[derive(Clone, Debug, Default)]
pub struct ProxyInputs {
    inputs: BTreeMap<InputId, Vec<TensorEntry>>,
}

impl ProxyInputs {
    /// No inputs yet.
    pub fn new() -> Self {
        ProxyInputs::default()
    }

    /// Sets an input's entries (in forward order), checking them against the input table and
    /// against the inputs already present that they correspond to.
    pub fn insert(&mut self, input: InputId, entries: Vec<TensorEntry>) -> Result<(), InputError> {
        let spec = table::input(input);
        if let Some(axes) = spec.axes {
            for (index, e) in entries.iter().enumerate() {
                if e.shape.len() != axes.len() {
                    return Err(InputError::Rank {
                        input: spec.name,
                        index,
                        expected: axes.len(),
                        axes: axes.join(", "),
                        got: e.shape.len(),
                    });
                }
            }
        }
        for (other, other_entries) in &self.inputs {
            let other_spec = table::input(*other);
            if *other != input && other_spec.alignment == spec.alignment && other_entries.len() != entries.len() {
                return Err(InputError::Count {
                    a: other_spec.name,
                    a_len: other_entries.len(),
                    b: spec.name,
                    b_len: entries.len(),
                    what: spec.alignment.describe(),
                });
            }
        }
        for &(a, b) in GRADIENT_PAIRS {
            let partner = if input == a { b } else if input == b { a } else { continue };
            let Some(partner_entries) = self.inputs.get(&partner) else { continue };
            for (index, (x, y)) in entries.iter().zip(partner_entries).enumerate() {
                if x.shape != y.shape {
                    let (ta, tb) = if input == a { (x, y) } else { (y, x) };
                    return Err(InputError::Pair {
                        a: table::input(a).name,
                        b: table::input(b).name,
                        index,
                        a_shape: ta.shape.clone(),
                        b_shape: tb.shape.clone(),
                    });
                }
            }
        }
        self.inputs.insert(input, entries);
        Ok(())
    }

    /// An input's entries, if it was gathered.
    pub fn get(&self, input: InputId) -> Option<&[TensorEntry]> {
        self.inputs.get(&input).map(Vec::as_slice)
    }

    /// The inputs present.
    pub fn present(&self) -> impl Iterator<Item = InputId> + '_ {
        self.inputs.keys().copied()
    }

    /// The alignment of an input (from the table).
    pub fn alignment(input: InputId) -> Alignment {
        table::input(input).alignment
    }

    /// Moves every input of `other` that these inputs lack into them (each checked as
    /// [`ProxyInputs::insert`] checks it).
    pub fn absorb(&mut self, other: ProxyInputs) -> Result<(), InputError> {
        for (id, entries) in other.inputs {
            if !self.inputs.contains_key(&id) {
                self.insert(id, entries)?;
            }
        }
        Ok(())
    }

    /// Keeps only the listed inputs (the rest are dropped, freeing their memory).
    pub fn retain(&mut self, keep: &[InputId]) {
        self.inputs.retain(|id, _| keep.contains(id));
    }

    /// Total number of f32 values held, for memory accounting.
    pub fn numel(&self) -> usize {
        self.inputs.values().flatten().map(TensorEntry::numel).sum()
    }

    /// The bytes of f32 values of the listed inputs that are present (each listed once): what a
    /// proxy reading them reads, for the GB/s of evaluation.
    pub fn bytes_of(&self, ids: &[InputId]) -> usize {
        ids.iter().filter_map(|&id| self.get(id)).flatten().map(|e| e.numel() * 4).sum()
    }
}
