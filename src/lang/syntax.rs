//! The syntax tree: what the parser builds from text and the printer turns back into text.
//!
//! Every node carries the byte [`Span`] of the source it came from, so later stages (checker,
//! lint, interpreter errors) can point at the text. Spans are *not* part of a node's identity:
//! two trees are equal when they have the same shape, operators, names and numbers, wherever
//! they stand in a file. That is what makes `parse(print(t)) == t` a meaningful round trip.


/// A half-open byte range `start..end` into the source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The span `start..end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    /// The span as a `Range`, for renderers.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start..self.end
    }
}

/// An infix arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl BinOp {
    /// All four, in the order of the paper's binary table (with `/` in place of matmul).
    pub const ALL: [BinOp; 4] = [BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Div];

    /// The operator's symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }

    /// Binding strength: `* /` bind tighter than `+ -`. All are left-associative.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Add | BinOp::Sub => 1,
            BinOp::Mul | BinOp::Div => 2,
        }
    }
}

/// An expression node with its source span.
#[derive(Clone, Debug)]
pub struct Expr {
    /// What the node is.
    pub kind: ExprKind,
    /// Where it came from (a default span for trees built in code).
    pub span: Span,
}

/// The kinds of expression.
#[derive(Clone, Debug)]
pub enum ExprKind {
    /// A non-negative literal (a negative constant is `Neg(Number)`).
    Number(f64),
    /// A bare identifier: an input (`W`) or an earlier definition (`snip`). The checker decides.
    Name(String),
    /// `op(args...)`; the op table decides what `op` means.
    Call {
        /// The op's name as written.
        op: String,
        /// Span of the op's name alone.
        op_span: Span,
        /// The arguments, in order.
        args: Vec<Expr>,
    },
    /// Unary minus.
    Neg(Box<Expr>),
    /// `lhs op rhs`.
    Binary {
        /// The operator.
        op: BinOp,
        /// Span of the operator symbol alone.
        op_span: Span,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
}

impl PartialEq for ExprKind {
    /// Structural equality; spans (including a call's `op_span`) are ignored.
    fn eq(&self, other: &Self) -> bool {
        use ExprKind::*;
        match (self, other) {
            (Number(a), Number(b)) => a == b,
            (Name(a), Name(b)) => a == b,
            (Call { op: a, args: x, .. }, Call { op: b, args: y, .. }) => a == b && x == y,
            (Neg(a), Neg(b)) => a == b,
            (Binary { op: a, lhs: l1, rhs: r1, .. }, Binary { op: b, lhs: l2, rhs: r2, .. }) => a == b && l1 == l2 && r1 == r2,
            _ => false,
        }
    }
}

impl PartialEq for Expr {
    /// Structural equality; spans are ignored.
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

impl Expr {
    /// A node with a default (empty) span, for trees built in code.
    pub fn new(kind: ExprKind) -> Self {
        Expr { kind, span: Span::default() }
    }

    /// A node with the given span.
    pub fn spanned(kind: ExprKind, span: Span) -> Self {
        Expr { kind, span }
    }

    /// Number of nodes in the tree.
    pub fn size(&self) -> usize {
        1 + self.children().map(Expr::size).sum::<usize>()
    }

    /// Depth of the tree (a leaf has depth 1).
    pub fn depth(&self) -> usize {
        1 + self.children().map(Expr::depth).max().unwrap_or(0)
    }

    /// The direct sub-expressions, left to right.
    pub fn children(&self) -> Box<dyn Iterator<Item = &Expr> + '_> {
        match &self.kind {
            ExprKind::Number(_) | ExprKind::Name(_) => Box::new(std::iter::empty()),
            ExprKind::Call { args, .. } => Box::new(args.iter()),
            ExprKind::Neg(e) => Box::new(std::iter::once(&**e)),
            ExprKind::Binary { lhs, rhs, .. } => Box::new([&**lhs, &**rhs].into_iter()),
        }
    }
}

/// `name = expr`.
#[derive(Clone, Debug)]
pub struct Definition {
    /// The defined name.
    pub name: String,
    /// Span of the name.
    pub name_span: Span,
    /// The right-hand side.
    pub expr: Expr,
}

impl PartialEq for Definition {
    /// Structural equality; spans are ignored.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.expr == other.expr
    }
}

/// A `#` comment, kept so that `lpzero fmt` preserves it.
#[derive(Clone, Debug)]
pub struct Comment {
    /// The text after `#`, without the trailing line break or trailing white space.
    pub text: String,
    /// True when the comment ends the line of the definition before it.
    pub trailing: bool,
    /// Where it stands.
    pub span: Span,
}

impl PartialEq for Comment {
    /// Structural equality; spans are ignored.
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text && self.trailing == other.trailing
    }
}

/// One item of a proxy file, in source order.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// A definition.
    Definition(Definition),
    /// A comment.
    Comment(Comment),
    /// One or more blank lines between two items (kept as one).
    BlankLine,
}

/// A parsed proxy file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProxyFile {
    /// Definitions, comments and blank lines in source order.
    pub items: Vec<Item>,
}

impl ProxyFile {
    /// The definitions, in order.
    pub fn definitions(&self) -> impl Iterator<Item = &Definition> {
        self.items.iter().filter_map(|item| match item {
            Item::Definition(d) => Some(d),
            _ => None,
        })
    }
}

/// One line of REPL input.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplInput {
    /// `name = expr`.
    Definition(Definition),
    /// A bare expression.
    Expr(Expr),
}
