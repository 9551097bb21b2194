//! The registries of the language: the input table and the op table.
//!
//! Each input and each op is declared once, here. The declarations drive the checker (arity,
//! domain, result type), the lint rules (which ops are element-wise, which reduce, which are
//! constant on a scalar), the GP's op set, `lpzero ops`, and the user guide's op table, so those can
//! never disagree. The numeric semantics of each op are implemented once, in `src/eval/ops.rs`;
//! the `formula`, `axis` and `domain` texts here are the contract its tests check.

use serde::Serialize;

/// Which entries of different inputs correspond to each other.
///
/// Two inputs with the same alignment have one entry per the same thing (a layer's weight and
/// its gradient), in the same order, so an element-wise op may combine them entry by entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Alignment {
    /// One entry per linear layer of the blocks (attention projections, FFN layers).
    Linear,
    /// One entry per FFN non-linearity.
    Ffn,
    /// One entry per attention layer.
    Attention,
    /// A single entry for the input embeddings of the minibatch.
    Embedding,
    /// One entry per parameter tensor of the whole model.
    Parameter,
    /// A single entry, one number that the architecture states (its depth, its width, its size).
    Architecture,
}

impl Alignment {
    /// What one entry stands for, for messages: "one entry per linear layer".
    pub fn describe(self) -> &'static str {
        match self {
            Alignment::Linear => "one entry per linear layer",
            Alignment::Ffn => "one entry per FFN non-linearity",
            Alignment::Attention => "one entry per attention layer",
            Alignment::Embedding => "a single entry for the input embeddings",
            Alignment::Parameter => "one entry per parameter tensor",
            Alignment::Architecture => "a single entry, one number of the architecture",
        }
    }
}

/// Identifies an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub enum InputId {
    /// Activations.
    A,
    /// Gradient with respect to the activations.
    GA,
    /// Attention-head outputs.
    H,
    /// Gradient with respect to the head outputs.
    GH,
    /// Attention probabilities.
    S,
    /// Weights of the blocks' linear layers.
    W,
    /// Gradients of the weights.
    G,
    /// Gradient with respect to the input embeddings.
    J,
    /// Every parameter tensor.
    P,
    /// FFN pre-activations (the input of each FFN non-linearity).
    Z,
    /// Synflow gradients: of the summed output of the network with |θ| on an all-ones input.
    GS,
    /// GraSP's Hessian-gradient product `H·G` over the block linear weights.
    HG,
    /// The architecture's depth (number of blocks).
    L,
    /// The architecture's width (hidden size).
    D,
    /// The number of weights of the blocks' linear layers (the elements of `W`).
    N,
}

/// The declaration of one input.
#[derive(Clone, Debug, Serialize)]
pub struct InputSpec {
    /// The input.
    pub id: InputId,
    /// Its name in proxy text.
    pub name: &'static str,
    /// What it holds.
    pub summary: &'static str,
    /// Which entries correspond to which of other inputs.
    pub alignment: Alignment,
    /// The axes of every entry, outermost first; `None` when entries differ in rank.
    pub axes: Option<&'static [&'static str]>,
    /// The deepest pass of the model a gather runs to record it.
    pub pass: Pass,
}

/// How much of a model a gather runs to record an input; ordered, so the pass a set of inputs
/// needs is the largest of theirs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pass {
    /// The parameters alone (their forward order comes from a one-sequence pass of a few tokens).
    Weights,
    /// A forward pass over the minibatch, without autodiff.
    Forward,
    /// A forward and a backward pass.
    Backward,
}

impl Pass {
    /// The pass that records every input of `inputs` (`Weights` for none).
    pub fn needed(inputs: &[InputId]) -> Pass {
        inputs.iter().map(|&i| input(i).pass).max().unwrap_or(Pass::Weights)
    }
}


/// Every input, in the order `lpzero ops` lists them.
pub const INPUTS: &[InputSpec] = &[
    InputSpec {
        id: InputId::A,
        name: "A",
        summary: "output of each FFN non-linearity",
        alignment: Alignment::Ffn,
        axes: Some(&["batch", "token", "unit"]),
        pass: Pass::Forward,
    },
    InputSpec {
        id: InputId::GA,
        name: "GA",
        summary: "gradient of the loss with respect to A (aligned with A)",
        alignment: Alignment::Ffn,
        axes: Some(&["batch", "token", "unit"]),
        pass: Pass::Backward,
    },
    InputSpec {
        id: InputId::H,
        name: "H",
        summary: "attention-head outputs: per-head context before the output projection",
        alignment: Alignment::Attention,
        axes: Some(&["batch", "head", "token", "dim"]),
        pass: Pass::Forward,
    },
    InputSpec {
        id: InputId::GH,
        name: "GH",
        summary: "gradient of the loss with respect to H (aligned with H)",
        alignment: Alignment::Attention,
        axes: Some(&["batch", "head", "token", "dim"]),
        pass: Pass::Backward,
    },
    InputSpec {
        id: InputId::S,
        name: "S",
        summary: "attention probabilities (softmax outputs)",
        alignment: Alignment::Attention,
        axes: Some(&["batch", "head", "query", "key"]),
        pass: Pass::Forward,
    },
    InputSpec {
        id: InputId::W,
        name: "W",
        summary: "weight matrix of each linear layer of the blocks, layout [out, in]",
        alignment: Alignment::Linear,
        axes: Some(&["out", "in"]),
        pass: Pass::Weights,
    },
    InputSpec {
        id: InputId::G,
        name: "G",
        summary: "gradient of the loss with respect to W (aligned with W)",
        alignment: Alignment::Linear,
        axes: Some(&["out", "in"]),
        pass: Pass::Backward,
    },
    InputSpec {
        id: InputId::J,
        name: "J",
        summary: "gradient of the loss with respect to the input embeddings",
        alignment: Alignment::Embedding,
        axes: Some(&["batch", "token", "dim"]),
        pass: Pass::Backward,
    },
    InputSpec {
        id: InputId::P,
        name: "P",
        summary: "every parameter tensor of the model (embeddings, norms and biases included)",
        alignment: Alignment::Parameter,
        axes: None,
        pass: Pass::Weights,
    },
    InputSpec {
        id: InputId::Z,
        name: "Z",
        summary: "input of each FFN non-linearity, the pre-activation (aligned with A)",
        alignment: Alignment::Ffn,
        axes: Some(&["batch", "token", "unit"]),
        pass: Pass::Forward,
    },
    InputSpec {
        id: InputId::GS,
        name: "GS",
        summary: "Synflow gradient: d(sum of every output logit)/dW of the network with every parameter replaced by its magnitude, on one sequence whose token embeddings are all ones (aligned with W)",
        alignment: Alignment::Linear,
        axes: Some(&["out", "in"]),
        pass: Pass::Backward,
    },
    InputSpec {
        id: InputId::HG,
        name: "HG",
        summary: "GraSP's Hessian-gradient product H·G over the linear weights, by central differences of G along G (aligned with W)",
        alignment: Alignment::Linear,
        axes: Some(&["out", "in"]),
        pass: Pass::Backward,
    },
    // The architecture scalars: what a config file says, offered so that a search can find
    // "size times something" and `rank`'s statistics can say whether the something adds
    // anything. No stdlib proxy reads them and `evolve` draws them only when `--read` names them.
    InputSpec {
        id: InputId::L,
        name: "L",
        summary: "the architecture's depth: its number of blocks (one number; needs no forward pass)",
        alignment: Alignment::Architecture,
        axes: Some(&[]),
        pass: Pass::Weights,
    },
    InputSpec {
        id: InputId::D,
        name: "D",
        summary: "the architecture's width: its hidden size, d_model (one number; needs no forward pass)",
        alignment: Alignment::Architecture,
        axes: Some(&[]),
        pass: Pass::Weights,
    },
    InputSpec {
        id: InputId::N,
        name: "N",
        summary: "the number of weights of the blocks' linear layers, the elements of W in all (one number; needs no forward pass)",
        alignment: Alignment::Architecture,
        axes: Some(&[]),
        pass: Pass::Weights,
    },
];

/// Looks an input up by its name.
pub fn input_by_name(name: &str) -> Option<&'static InputSpec> {
    INPUTS.iter().find(|i| i.name == name)
}

/// Every input, in table order (what `lpzero gather` writes, and what the whole stdlib reads).
pub fn all_inputs() -> Vec<InputId> {
    INPUTS.iter().map(|i| i.id).collect()
}

/// The declaration of an input.
pub fn input(id: InputId) -> &'static InputSpec {
    INPUTS.iter().find(|i| i.id == id).expect("every InputId is declared in INPUTS")
}

/// Identifies an op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum OpId {
    Log,
    Abslog,
    Abs,
    Sq,
    Exp,
    Normalize,
    Relu,
    Recip,
    Fro,
    Normsum,
    L1,
    Softmax,
    Sigmoid,
    Logsoftmax,
    Sqrt,
    Neg,
    Minmax,
    Mean,
    Std,
    Id,
    Matmul,
    Sum,
    Avg,
    Numel,
    Nuc,
    Amax,
    Asum,
    Step,
    Sign,
    T,
    Gram,
    Cosine,
    Logdet,
    Pcadim,
}

/// How an op treats the shape of its operand: this decides its type rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// Applied to every element; the result has the operand's shape.
    Elementwise,
    /// Works on all the elements of an entry together (softmax, min-max, normalize) and keeps the
    /// shape. On a scalar it is a constant, which lint reports as a dead branch.
    Distribution,
    /// Reduces each entry to a scalar; needs an entry with at least one axis.
    Reduce,
    /// Reduces each matrix entry to a scalar; needs a matrix.
    MatrixReduce,
    /// Reduces one axis of each entry, named by an integer argument (negative counts from the end).
    AxisReduce,
    /// Reduces the whole value (all entries, all elements) to one number.
    Aggregate,
    /// Matrix product of two aligned matrix entries.
    MatrixProduct,
    /// Maps each matrix entry to another matrix (transpose, Gram, cosines).
    MatrixMap,
    /// Reduces each entry, read as samples × features (the last axis the features, the others
    /// samples), to a count of principal components; an integer percentage argument.
    Components,
}

/// The declaration of one op.
#[derive(Clone, Debug, Serialize)]
pub struct OpSpec {
    /// The op.
    pub id: OpId,
    /// Its name in proxy text.
    pub name: &'static str,
    /// How it treats shapes (its type rule).
    pub kind: OpKind,
    /// Number of arguments, the axis argument of an axis reduction included.
    pub arity: usize,
    /// What it computes, in one line.
    pub summary: &'static str,
    /// The formula (ε is [`EPSILON`]).
    pub formula: &'static str,
    /// Which elements it works on.
    pub axis: &'static str,
    /// Its domain, epsilon and edge-case rules.
    pub domain: &'static str,
    /// Index in the paper's Table 7 / the reference's unary table, if it is one of those.
    pub table7: Option<u8>,
    /// True when the GP's default op set draws it.
    pub search: bool,
}

impl OpSpec {
    /// A human-readable signature, e.g. `amax(x, axis)`.
    pub fn signature(&self) -> String {
        match (self.kind, self.arity) {
            (OpKind::AxisReduce, _) => format!("{}(x, axis)", self.name),
            (OpKind::Components, _) => format!("{}(x, percent)", self.name),
            (_, 2) => format!("{}(x, y)", self.name),
            _ => format!("{}(x)", self.name),
        }
    }

    /// The shape classes it accepts and what it returns, in words.
    pub fn typing(&self) -> &'static str {
        match self.kind {
            OpKind::Elementwise => "any -> same shape",
            OpKind::Distribution => "any -> same shape (constant on a scalar)",
            OpKind::Reduce => "vector/matrix/tensor entries -> scalar per entry",
            OpKind::MatrixReduce => "matrix entries -> scalar per entry",
            OpKind::AxisReduce => "vector/matrix/tensor entries -> one axis fewer",
            OpKind::Aggregate => "anything -> one number",
            OpKind::MatrixProduct => "aligned matrix entries -> matrix per entry",
            OpKind::MatrixMap => "matrix entries -> matrix per entry",
            OpKind::Components => "entries with two or more axes -> scalar per entry",
        }
    }
}

/// The smallest positive value the ops substitute for zero: `log`, `abslog` and `recip` clamp
/// with it, `minmax` and `normalize` treat a spread at or below it as zero, and `/` treats a
/// denominator of magnitude below it as `ε·sign`.
pub const EPSILON: f64 = 1e-9;

macro_rules! op {
    ($id:ident, $name:literal, $kind:ident, $arity:literal, $t7:expr, $search:literal, $summary:literal,
     formula: $formula:literal, axis: $axis:literal, domain: $domain:literal) => {
        OpSpec {
            id: OpId::$id,
            name: $name,
            kind: OpKind::$kind,
            arity: $arity,
            summary: $summary,
            formula: $formula,
            axis: $axis,
            domain: $domain,
            table7: $t7,
            search: $search,
        }
    };
}

/// Every op. The first twenty are the paper's unary ops (Table 7) in the reference's index
/// order; `matmul` is its fourth binary op (the other three are the infix `+ - *`, and lpzero adds
/// `/`); the rest are aggregations and the primitives the handcrafted proxies need.
///
/// Scalars (one number, or a per-entry value after a reduction) are computed in f64; tensor
/// entries element-wise in f32; every reduction accumulates in f64.
#[rustfmt::skip]
pub const OPS: &[OpSpec] = &[
    op!(Log, "log", Elementwise, 1, Some(0), true, "natural logarithm",
        formula: "ln(max(x, ε))", axis: "element-wise", domain: "x ≤ ε gives ln ε ≈ −20.7"),
    op!(Abslog, "abslog", Elementwise, 1, Some(1), true, "logarithm of the magnitude",
        formula: "ln(max(|x|, ε))", axis: "element-wise", domain: "|x| ≤ ε gives ln ε"),
    op!(Abs, "abs", Elementwise, 1, Some(2), true, "absolute value",
        formula: "|x|", axis: "element-wise", domain: "all reals"),
    op!(Sq, "sq", Elementwise, 1, Some(3), true, "square",
        formula: "x²", axis: "element-wise", domain: "all reals; overflow to inf makes the proxy invalid"),
    op!(Exp, "exp", Elementwise, 1, Some(4), true, "exponential",
        formula: "eˣ", axis: "element-wise", domain: "all reals; overflow to inf (x > 88 in f32) makes the proxy invalid"),
    op!(Normalize, "normalize", Distribution, 1, Some(5), true, "standardise each entry",
        formula: "(x − mean) / std, std unbiased", axis: "all elements of the entry", domain: "all zeros when std ≤ ε or the entry has one element; 0 on a scalar"),
    op!(Relu, "relu", Elementwise, 1, Some(6), true, "rectifier",
        formula: "max(x, 0)", axis: "element-wise", domain: "all reals"),
    op!(Recip, "recip", Elementwise, 1, Some(7), true, "reciprocal",
        formula: "1 / (x + ε·sign(x)), sign(0) = +1", axis: "element-wise", domain: "0 gives 1/ε = 1e9"),
    op!(Fro, "fro", Reduce, 1, Some(8), true, "Frobenius norm of each entry",
        formula: "sqrt(Σ x²)", axis: "all elements of the entry → scalar", domain: "entries with at least one axis"),
    op!(Normsum, "normsum", Reduce, 1, Some(9), true, "element mean of each entry (the reference's normalized sum)",
        formula: "Σ x / n", axis: "all elements of the entry → scalar", domain: "entries with at least one axis"),
    op!(L1, "l1", Reduce, 1, Some(10), true, "mean absolute value of each entry (the reference's l1 norm)",
        formula: "Σ |x| / n", axis: "all elements of the entry → scalar", domain: "entries with at least one axis"),
    op!(Softmax, "softmax", Distribution, 1, Some(11), true, "softmax along the last axis",
        formula: "exp(x − max) / Σ exp(x − max)", axis: "last axis of the entry (fan-in of W and G, key of S, unit of A)", domain: "1 on a scalar"),
    op!(Sigmoid, "sigmoid", Elementwise, 1, Some(12), true, "logistic function",
        formula: "1 / (1 + e⁻ˣ)", axis: "element-wise", domain: "all reals"),
    op!(Logsoftmax, "logsoftmax", Distribution, 1, Some(13), true, "log-softmax along the last axis",
        formula: "x − max − ln Σ exp(x − max)", axis: "last axis of the entry", domain: "0 on a scalar"),
    op!(Sqrt, "sqrt", Elementwise, 1, Some(14), true, "square root",
        formula: "sqrt(max(x, 0))", axis: "element-wise", domain: "negative x gives 0"),
    op!(Neg, "neg", Elementwise, 1, Some(15), true, "negation (the same as unary minus)",
        formula: "−x", axis: "element-wise", domain: "all reals"),
    op!(Minmax, "minmax", Distribution, 1, Some(16), true, "rescale each entry to [0, 1]",
        formula: "(x − min) / (max − min)", axis: "all elements of the entry", domain: "all zeros when max − min ≤ ε; 0 on a scalar"),
    op!(Mean, "mean", Reduce, 1, Some(17), true, "element mean of each entry",
        formula: "Σ x / n", axis: "all elements of the entry → scalar", domain: "entries with at least one axis"),
    op!(Std, "std", Reduce, 1, Some(18), true, "standard deviation of each entry",
        formula: "sqrt(Σ (x − mean)² / (n − 1))", axis: "all elements of the entry → scalar", domain: "invalid when n < 2"),
    op!(Id, "id", Elementwise, 1, Some(19), true, "identity (the reference's no_op)",
        formula: "x", axis: "element-wise", domain: "all reals"),
    op!(Matmul, "matmul", MatrixProduct, 2, None, false, "matrix product of aligned matrix entries",
        formula: "Σ_k x[i, k] · y[k, j]", axis: "x's last axis with y's first", domain: "matrix entries; the inner sizes must agree"),
    op!(Sum, "sum", Aggregate, 1, None, false, "sum over all entries and all elements",
        formula: "Σ_entries Σ_elements x", axis: "everything → one number", domain: "invalid on an input with no entries"),
    op!(Avg, "avg", Aggregate, 1, None, false, "mean over entries of each entry's element mean (the reference's aggregation)",
        formula: "(1/n) Σ_entries mean(x)", axis: "everything → one number", domain: "invalid on an input with no entries"),
    op!(Numel, "numel", Reduce, 1, None, false, "number of elements of each entry",
        formula: "∏ dimensions", axis: "all elements of the entry → scalar", domain: "entries with at least one axis"),
    op!(Nuc, "nuc", MatrixReduce, 1, None, false, "nuclear norm of each matrix entry",
        formula: "Σ singular values", axis: "the whole matrix → scalar", domain: "matrix entries"),
    op!(Amax, "amax", AxisReduce, 2, None, false, "maximum along one axis",
        formula: "max_k x[..., k, ...]", axis: "the given axis (0 outermost, −1 last); it disappears", domain: "an integer literal axis inside the entry's rank"),
    op!(Asum, "asum", AxisReduce, 2, None, false, "sum along one axis",
        formula: "Σ_k x[..., k, ...]", axis: "the given axis (0 outermost, −1 last); it disappears", domain: "an integer literal axis inside the entry's rank"),
    op!(Step, "step", Elementwise, 1, None, false, "Heaviside step",
        formula: "1 if x > 0 else 0", axis: "element-wise", domain: "all reals"),
    op!(Sign, "sign", Elementwise, 1, None, false, "sign",
        formula: "−1 if x < 0, 0 if x = 0, +1 if x > 0", axis: "element-wise", domain: "all reals"),
    op!(T, "t", MatrixMap, 1, None, false, "transpose of each matrix entry",
        formula: "y[j, i] = x[i, j]", axis: "the two axes swap", domain: "matrix entries"),
    op!(Gram, "gram", MatrixMap, 1, None, false, "Gram matrix of the rows of each matrix entry",
        formula: "x xᵀ, in f64", axis: "[r, c] → [r, r]", domain: "matrix entries (`gram(t(x))` for the columns)"),
    op!(Cosine, "cosine", MatrixMap, 1, None, false, "cosine similarity between the rows of each matrix entry",
        formula: "x_i·x_j / (‖x_i‖ ‖x_j‖), in f64", axis: "[r, c] → [r, r]", domain: "matrix entries; invalid when a row is zero"),
    op!(Logdet, "logdet", MatrixReduce, 1, None, false, "log of the absolute determinant of each square matrix entry",
        formula: "ln(max(abs(det x), ε)), by LU with partial pivoting in f64", axis: "the whole matrix → scalar", domain: "square matrix entries; singular (a pivot at or below n·2⁻⁵²·max abs(x)) gives ln ε"),
    op!(Pcadim, "pcadim", Components, 2, None, false, "principal components needed to hold more than `percent` % of the variance",
        formula: "smallest k with Σ_{j≤k} λ_j > (percent/100)·Σ λ, λ the eigenvalues of the column covariance, largest first", axis: "last axis = features, the others samples → scalar", domain: "an integer literal percent in 1..=99; invalid with fewer samples than features plus one, or no variance"),
];

/// Looks an op up by name.
pub fn op_by_name(name: &str) -> Option<&'static OpSpec> {
    OPS.iter().find(|o| o.name == name)
}

/// The declaration of an op.
pub fn op(id: OpId) -> &'static OpSpec {
    OPS.iter().find(|o| o.id == id).expect("every OpId is declared in OPS")
}

/// The inputs and ops as aligned text (`lpzero ops`, the REPL's `:ops`).
pub fn ops_text() -> String {
    use std::fmt::Write;
    let mut out = String::from("inputs:\n");
    for i in INPUTS {
        let axes = i.axes.map(|a| format!("[{}]", a.join(", "))).unwrap_or_else(|| "varies".into());
        let _ = writeln!(out, "  {:<3} {:<28} {}", i.name, axes, i.summary);
    }
    out.push_str("\nops:\n");
    for o in OPS {
        let _ = writeln!(out, "  {:<18} {}", o.signature(), o.summary);
        let _ = writeln!(out, "  {:<18} {} — {}; {}", "", o.formula, o.axis, o.domain);
    }
    let _ = writeln!(out, "  {:<18} element-wise arithmetic on aligned entries (or with one number)", "x + - * / y");
    out
}

/// The op table as a Markdown table (for `lpzero ops --format markdown` and the user guide).
pub fn ops_markdown() -> String {
    let mut out = String::from("| op | typing | formula | axis | domain, ε | Table 7 |\n|---|---|---|---|---|---|\n");
    for o in OPS {
        let t7 = o.table7.map(|i| format!("#{i}")).unwrap_or_default();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            o.signature(),
            o.typing(),
            o.formula,
            o.axis,
            o.domain,
            t7
        ));
    }
    out.push_str(&format!(
        "| `x + y` `x - y` `x * y` `x / y` | aligned entries, or one side one number | element-wise; `x / (y + ε·sign(y))` | element-wise, a scalar broadcasts | ε = {EPSILON:e} | `+ - *` are #0–#2 |\n"
    ));
    out
}

/// The input table as a Markdown table (for `lpzero ops --format markdown` and the user guide).
pub fn inputs_markdown() -> String {
    let mut out = String::from("| input | holds | entries | axes of an entry |\n|---|---|---|---|\n");
    for i in INPUTS {
        let axes = i.axes.map(|a| format!("[{}]", a.join(", "))).unwrap_or_else(|| "varies".into());
        out.push_str(&format!("| `{}` | {} | {} | {} |\n", i.name, i.summary, i.alignment.describe(), axes));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lookups_agree() {
        for (i, o) in OPS.iter().enumerate() {
            assert_eq!(op_by_name(o.name).unwrap().id, o.id);
            assert!(OPS[i + 1..].iter().all(|p| p.name != o.name && p.id != o.id), "{} declared twice", o.name);
            assert!(input_by_name(o.name).is_none(), "{} is both an op and an input", o.name);
        }
        for i in INPUTS {
            assert_eq!(input(i.id).name, i.name);
        }
    }

    #[test]
    fn table7_has_twenty_unary_ops_in_reference_order() {
        let mut t7: Vec<_> = OPS.iter().filter_map(|o| o.table7.map(|i| (i, o.arity))).collect();
        t7.sort();
        assert_eq!(t7.len(), 20);
        for (k, (i, arity)) in t7.iter().enumerate() {
            assert_eq!(*i as usize, k);
            assert_eq!(*arity, 1);
        }
    }
}
