//! The registries of the language: the input table and the op table.
//!
//! Each input and each op is declared once, here. The declarations drive the checker (arity,
//! domain, result type), the lint rules (which ops are element-wise, which reduce, which are
//! constant on a scalar), the GP's op set, `lpzero ops`, and the README's op table, so those can
//! never disagree. The numeric semantics of each op live beside its declaration in the
//! interpreter; the `semantics` text here is the contract they are tested against.

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
        }
    }
}

/// Identifies an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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
    /// True when the input is a gradient (it needs a backward pass).
    pub gradient: bool,
}

/// Every input, in the order `lpzero ops` lists them.
pub const INPUTS: &[InputSpec] = &[
    InputSpec {
        id: InputId::A,
        name: "A",
        summary: "output of each FFN non-linearity",
        alignment: Alignment::Ffn,
        axes: Some(&["batch", "token", "unit"]),
        gradient: false,
    },
    InputSpec {
        id: InputId::GA,
        name: "GA",
        summary: "gradient of the loss with respect to A (aligned with A)",
        alignment: Alignment::Ffn,
        axes: Some(&["batch", "token", "unit"]),
        gradient: true,
    },
    InputSpec {
        id: InputId::H,
        name: "H",
        summary: "attention-head outputs: per-head context before the output projection",
        alignment: Alignment::Attention,
        axes: Some(&["batch", "head", "token", "dim"]),
        gradient: false,
    },
    InputSpec {
        id: InputId::GH,
        name: "GH",
        summary: "gradient of the loss with respect to H (aligned with H)",
        alignment: Alignment::Attention,
        axes: Some(&["batch", "head", "token", "dim"]),
        gradient: true,
    },
    InputSpec {
        id: InputId::S,
        name: "S",
        summary: "attention probabilities (softmax outputs)",
        alignment: Alignment::Attention,
        axes: Some(&["batch", "head", "query", "key"]),
        gradient: false,
    },
    InputSpec {
        id: InputId::W,
        name: "W",
        summary: "weight matrix of each linear layer of the blocks, layout [out, in]",
        alignment: Alignment::Linear,
        axes: Some(&["out", "in"]),
        gradient: false,
    },
    InputSpec {
        id: InputId::G,
        name: "G",
        summary: "gradient of the loss with respect to W (aligned with W)",
        alignment: Alignment::Linear,
        axes: Some(&["out", "in"]),
        gradient: true,
    },
    InputSpec {
        id: InputId::J,
        name: "J",
        summary: "gradient of the loss with respect to the input embeddings",
        alignment: Alignment::Embedding,
        axes: Some(&["batch", "token", "dim"]),
        gradient: true,
    },
    InputSpec {
        id: InputId::P,
        name: "P",
        summary: "every parameter tensor of the model (embeddings, norms and biases included)",
        alignment: Alignment::Parameter,
        axes: None,
        gradient: false,
    },
];

/// Looks an input up by its name.
pub fn input_by_name(name: &str) -> Option<&'static InputSpec> {
    INPUTS.iter().find(|i| i.name == name)
}

/// The declaration of an input.
pub fn input(id: InputId) -> &'static InputSpec {
    INPUTS.iter().find(|i| i.id == id).expect("every InputId is declared in INPUTS")
}

/// Identifies an op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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
    /// The formula, with the axis it works on and its epsilon and domain rules.
    pub semantics: &'static str,
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
        }
    }
}

/// The smallest positive value the ops substitute for zero: `log`, `abslog` and `recip` clamp
/// with it, `minmax` and `normalize` treat a spread at or below it as zero, and `/` treats a
/// denominator of magnitude below it as `ε·sign`.
pub const EPSILON: f64 = 1e-9;

macro_rules! op {
    ($id:ident, $name:literal, $kind:ident, $arity:literal, $t7:expr, $search:literal, $summary:literal, $sem:literal) => {
        OpSpec {
            id: OpId::$id,
            name: $name,
            kind: OpKind::$kind,
            arity: $arity,
            summary: $summary,
            semantics: $sem,
            table7: $t7,
            search: $search,
        }
    };
}

/// Every op. The first twenty are the paper's unary ops (Table 7) in the reference's index
/// order; `matmul` is its fourth binary op (the other three are the infix `+ - *`, and lpzero adds
/// `/`); the rest are aggregations and the primitives the handcrafted proxies need.
pub const OPS: &[OpSpec] = &[
    op!(Log, "log", Elementwise, 1, Some(0), true, "natural logarithm",
        "ln(max(x, ε)): non-positive elements give ln ε"),
    op!(Abslog, "abslog", Elementwise, 1, Some(1), true, "logarithm of the magnitude",
        "ln(max(|x|, ε)): zero gives ln ε"),
    op!(Abs, "abs", Elementwise, 1, Some(2), true, "absolute value", "|x|"),
    op!(Sq, "sq", Elementwise, 1, Some(3), true, "square", "x²"),
    op!(Exp, "exp", Elementwise, 1, Some(4), true, "exponential", "eˣ (overflow to inf makes the result invalid)"),
    op!(Normalize, "normalize", Distribution, 1, Some(5), true, "standardise each entry",
        "(x − mean)/std over all elements of the entry (unbiased std); all zeros when std ≤ ε or the entry has one element"),
    op!(Relu, "relu", Elementwise, 1, Some(6), true, "rectifier", "max(x, 0)"),
    op!(Recip, "recip", Elementwise, 1, Some(7), true, "reciprocal",
        "1/(x + ε·sign(x)), with sign(0) = +1, so 1/0 gives 1/ε"),
    op!(Fro, "fro", Reduce, 1, Some(8), true, "Frobenius norm of each entry",
        "sqrt(Σ x²) over all elements of the entry, accumulated in f64"),
    op!(Normsum, "normsum", Reduce, 1, Some(9), true, "element mean of each entry (the reference's normalized sum)",
        "Σ x / numel over all elements of the entry"),
    op!(L1, "l1", Reduce, 1, Some(10), true, "mean absolute value of each entry (the reference's l1 norm)",
        "Σ |x| / numel over all elements of the entry"),
    op!(Softmax, "softmax", Distribution, 1, Some(11), true, "softmax along the last axis",
        "exp(x − max)/Σ exp(x − max) along the last axis of each entry (fan-in for W and G, keys for S, units for A); 1 on a scalar"),
    op!(Sigmoid, "sigmoid", Elementwise, 1, Some(12), true, "logistic function", "1/(1 + e⁻ˣ)"),
    op!(Logsoftmax, "logsoftmax", Distribution, 1, Some(13), true, "log-softmax along the last axis",
        "x − max − ln Σ exp(x − max) along the last axis of each entry; 0 on a scalar"),
    op!(Sqrt, "sqrt", Elementwise, 1, Some(14), true, "square root", "sqrt(max(x, 0)): negative elements give 0"),
    op!(Neg, "neg", Elementwise, 1, Some(15), true, "negation (the same as unary minus)", "−x"),
    op!(Minmax, "minmax", Distribution, 1, Some(16), true, "rescale each entry to [0, 1]",
        "(x − min)/(max − min) over all elements of the entry; all zeros when max − min ≤ ε"),
    op!(Mean, "mean", Reduce, 1, Some(17), true, "element mean of each entry", "Σ x / numel over all elements of the entry"),
    op!(Std, "std", Reduce, 1, Some(18), true, "standard deviation of each entry",
        "unbiased: sqrt(Σ (x − mean)² / (n − 1)) over all elements; invalid when n < 2"),
    op!(Id, "id", Elementwise, 1, Some(19), true, "identity (the reference's no_op)", "x"),
    op!(Matmul, "matmul", MatrixProduct, 2, None, false, "matrix product of aligned matrix entries",
        "x · y per entry; x's last axis must be y's first"),
    op!(Sum, "sum", Aggregate, 1, None, false, "sum over all entries and all elements", "Σ over entries of Σ over elements, in f64"),
    op!(Avg, "avg", Aggregate, 1, None, false, "mean over entries of each entry's element mean (the reference's aggregation)",
        "(1/n) Σ over the n entries of mean(entry), in f64"),
    op!(Numel, "numel", Reduce, 1, None, false, "number of elements of each entry", "the product of the entry's dimensions"),
    op!(Nuc, "nuc", MatrixReduce, 1, None, false, "nuclear norm of each matrix entry", "the sum of the singular values"),
    op!(Amax, "amax", AxisReduce, 2, None, false, "maximum along one axis",
        "max over the given axis of each entry (0 is the outermost, −1 the last); the axis disappears"),
    op!(Asum, "asum", AxisReduce, 2, None, false, "sum along one axis",
        "Σ over the given axis of each entry, in f64; the axis disappears"),
    op!(Step, "step", Elementwise, 1, None, false, "Heaviside step", "1 where x > 0, else 0"),
];

/// Looks an op up by name.
pub fn op_by_name(name: &str) -> Option<&'static OpSpec> {
    OPS.iter().find(|o| o.name == name)
}

/// The declaration of an op.
pub fn op(id: OpId) -> &'static OpSpec {
    OPS.iter().find(|o| o.id == id).expect("every OpId is declared in OPS")
}

/// The op table as a Markdown table (for `lpzero ops --format markdown` and the README).
pub fn ops_markdown() -> String {
    let mut out = String::from("| op | kind | typing | semantics | Table 7 |\n|---|---|---|---|---|\n");
    for o in OPS {
        let t7 = o.table7.map(|i| format!("#{i}")).unwrap_or_default();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            o.signature(),
            serde_json::to_value(o.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            o.typing(),
            o.semantics,
            t7
        ));
    }
    out.push_str("| `x + y`, `x - y`, `x * y`, `x / y` | binary | aligned entries, or one side one number | element-wise; `/` divides by `y + ε·sign(y)` where `|y| < ε` | `+ - *` are #0–#2 |\n");
    out
}

/// The input table as a Markdown table (for `lpzero ops --format markdown` and the README).
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
