//! The checker: syntax tree to typed tree.
//!
//! For every sub-expression it infers a [`Type`]: either one number for the whole architecture,
//! or one value per entry of an input list, with the entries' [`Alignment`] (which inputs' entries
//! correspond) and [`Shape`] (the axes of each entry). It resolves names against the input table
//! and earlier definitions, and ops against the op table, and rejects what would fail on every
//! model: unknown names and ops, wrong arity, ops outside their domain, combining entries that do
//! not correspond, and proxies that are not one number. It keeps going after an error so that
//! one run reports every independent problem.

use super::diagnostic::{code, Diagnostic};
use super::syntax::{BinOp, Definition, Expr, ExprKind, Item, ProxyFile, Span};
use super::table::{self, Alignment, InputId, OpId, OpKind, OpSpec};
use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// The shape class of an entry, as the op table states domains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ShapeClass {
    /// No axes.
    Scalar,
    /// One axis.
    Vector,
    /// Two axes.
    Matrix,
    /// Three or more axes, or entries of different ranks.
    Tensor,
}

/// The axes of every entry of a value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    /// Every entry has these axes (outermost first); no axes is a scalar.
    Axes(Vec<&'static str>),
    /// Entries have different ranks (each has at least one axis).
    Mixed,
}

impl Shape {
    /// The scalar shape.
    pub fn scalar() -> Shape {
        Shape::Axes(vec![])
    }

    /// Its shape class.
    pub fn class(&self) -> ShapeClass {
        match self {
            Shape::Axes(a) if a.is_empty() => ShapeClass::Scalar,
            Shape::Axes(a) if a.len() == 1 => ShapeClass::Vector,
            Shape::Axes(a) if a.len() == 2 => ShapeClass::Matrix,
            _ => ShapeClass::Tensor,
        }
    }

    /// The number of axes, when all entries agree.
    pub fn rank(&self) -> Option<usize> {
        match self {
            Shape::Axes(a) => Some(a.len()),
            Shape::Mixed => None,
        }
    }

    /// True for scalar entries.
    pub fn is_scalar(&self) -> bool {
        self.rank() == Some(0)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::Axes(a) if a.is_empty() => f.write_str("scalar"),
            Shape::Axes(a) => {
                let class = match a.len() {
                    1 => "vector",
                    2 => "matrix",
                    _ => "tensor",
                };
                write!(f, "{class} [{}]", a.join(", "))
            }
            Shape::Mixed => f.write_str("tensor (entries of different ranks)"),
        }
    }
}

/// The type of a value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// One number for the whole architecture: a literal, or the result of an aggregation.
    Number,
    /// One value per entry of an input list.
    Entries {
        /// Which entries these are.
        alignment: Alignment,
        /// The axes of each entry.
        shape: Shape,
    },
}

impl Type {
    /// True when the value is a single number or a list of scalar entries.
    pub fn is_scalar_valued(&self) -> bool {
        match self {
            Type::Number => true,
            Type::Entries { shape, .. } => shape.is_scalar(),
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Number => f.write_str("one number"),
            Type::Entries { alignment, shape } => write!(f, "{shape} entries ({})", alignment.describe()),
        }
    }
}

/// A typed expression: every node knows its type and where it came from.
#[derive(Clone, Debug)]
pub struct Typed {
    /// What the node is.
    pub node: Node,
    /// Its type.
    pub ty: Type,
    /// Its source span.
    pub span: Span,
}

/// The resolved kinds of typed node.
#[derive(Clone, Debug)]
pub enum Node {
    /// A literal.
    Number(f64),
    /// An input.
    Input(InputId),
    /// An earlier definition, by name, with its checked tree.
    Ref {
        /// The definition's name.
        name: String,
        /// Its typed tree.
        value: Arc<Typed>,
    },
    /// Unary minus (the same semantics as `neg`).
    Neg(Box<Typed>),
    /// An op call. The axis argument of `amax`/`asum` is in `axis`, not in `args`.
    Op {
        /// The op.
        op: OpId,
        /// Its value arguments.
        args: Vec<Typed>,
        /// The axis of an axis reduction.
        axis: Option<i64>,
    },
    /// An infix operation.
    Binary {
        /// The operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Typed>,
        /// Right operand.
        rhs: Box<Typed>,
    },
}

impl Typed {
    /// If this is a one-argument op (unary minus counts as `neg`), the op and its operand.
    pub fn unary(&self) -> Option<(OpId, &Typed)> {
        match &self.node {
            Node::Neg(x) => Some((OpId::Neg, x)),
            Node::Op { op, args, .. } if args.len() == 1 => Some((*op, &args[0])),
            _ => None,
        }
    }

    /// The direct children, left to right (a definition reference has none).
    pub fn children(&self) -> Vec<&Typed> {
        match &self.node {
            Node::Number(_) | Node::Input(_) | Node::Ref { .. } => vec![],
            Node::Neg(x) => vec![x],
            Node::Op { args, .. } => args.iter().collect(),
            Node::Binary { lhs, rhs, .. } => vec![lhs, rhs],
        }
    }

    /// Converts back to a syntax tree (definition references stay names).
    pub fn to_expr(&self) -> Expr {
        let kind = match &self.node {
            Node::Number(v) => ExprKind::Number(*v),
            Node::Input(i) => ExprKind::Name(table::input(*i).name.to_owned()),
            Node::Ref { name, .. } => ExprKind::Name(name.clone()),
            Node::Neg(x) => ExprKind::Neg(Box::new(x.to_expr())),
            Node::Op { op, args, axis } => {
                let mut args: Vec<Expr> = args.iter().map(Typed::to_expr).collect();
                if let Some(a) = axis {
                    let n = Expr::new(ExprKind::Number(a.unsigned_abs() as f64));
                    args.push(if *a < 0 { Expr::new(ExprKind::Neg(Box::new(n))) } else { n });
                }
                ExprKind::Call { op: table::op(*op).name.to_owned(), op_span: Span::default(), args }
            }
            Node::Binary { op, lhs, rhs } => {
                ExprKind::Binary { op: *op, op_span: Span::default(), lhs: Box::new(lhs.to_expr()), rhs: Box::new(rhs.to_expr()) }
            }
        };
        Expr::spanned(kind, self.span)
    }

    /// The inputs this tree reads (through definition references too), sorted, without repeats.
    pub fn inputs(&self) -> Vec<InputId> {
        fn walk(t: &Typed, out: &mut Vec<InputId>) {
            match &t.node {
                Node::Input(i) => out.push(*i),
                Node::Ref { value, .. } => walk(value, out),
                _ => t.children().into_iter().for_each(|c| walk(c, out)),
            }
        }
        let mut out = vec![];
        walk(self, &mut out);
        out.sort();
        out.dedup();
        out
    }
}

/// The definitions visible to an expression: those earlier in the file (or the REPL session).
#[derive(Clone, Debug, Default)]
pub struct Env {
    defs: Vec<(String, Option<Arc<Typed>>)>,
}

impl Env {
    /// An empty environment.
    pub fn new() -> Self {
        Env::default()
    }

    /// Adds (or replaces) a definition. `None` records a definition that failed to check, so
    /// that uses of it are not reported again as unknown names.
    pub fn define(&mut self, name: &str, value: Option<Arc<Typed>>) {
        self.defs.retain(|(n, _)| n != name);
        self.defs.push((name.to_owned(), value));
    }

    /// Looks a definition up: `None` if unknown, `Some(None)` if it failed to check.
    pub fn get(&self, name: &str) -> Option<Option<&Arc<Typed>>> {
        self.defs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_ref())
    }

    /// The defined names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.defs.iter().map(|(n, _)| n.as_str())
    }
}

/// A definition that passed the checker.
#[derive(Clone, Debug)]
pub struct CheckedDefinition {
    /// Its name.
    pub name: String,
    /// Span of the name.
    pub name_span: Span,
    /// Its typed tree (always of type [`Type::Number`]).
    pub typed: Arc<Typed>,
}

/// The result of checking a file.
#[derive(Clone, Debug, Default)]
pub struct CheckedFile {
    /// The definitions that passed, in order.
    pub definitions: Vec<CheckedDefinition>,
    /// Every error found.
    pub diagnostics: Vec<Diagnostic>,
}

/// Types an expression of any type (for the REPL's `:type`).
pub fn check_expr(expr: &Expr, env: &Env) -> Result<Typed, Vec<Diagnostic>> {
    let mut errors = vec![];
    let typed = Checker { env, errors: &mut errors }.expr(expr);
    match typed {
        Some(t) if errors.is_empty() => Ok(t),
        _ => Err(errors),
    }
}

/// Checks a proxy: an expression that must be one number per architecture.
pub fn check_proxy(expr: &Expr, env: &Env) -> Result<Typed, Vec<Diagnostic>> {
    let typed = check_expr(expr, env)?;
    match &typed.ty {
        Type::Number => Ok(typed),
        Type::Entries { alignment, shape } => Err(vec![Diagnostic::new(
            code::NOT_A_NUMBER,
            expr.span,
            format!("a proxy must be one number, but this is {shape} entries, {}", alignment.describe()),
        )
        .with_label("one value per entry")
        .with_help(format!("aggregate it over the entries, e.g. `sum({expr})`"))]),
    }
}

/// Checks one definition against an environment and, if it passes, adds it there.
pub fn check_definition(def: &Definition, env: &mut Env) -> Result<CheckedDefinition, Vec<Diagnostic>> {
    if table::input_by_name(&def.name).is_some() {
        env.define(&def.name, None);
        return Err(vec![Diagnostic::new(code::SHADOWS_INPUT, def.name_span, format!("`{}` is an input and cannot be redefined", def.name))
            .with_help("choose another name for the definition")]);
    }
    match check_proxy(&def.expr, env) {
        Ok(t) => {
            let typed = Arc::new(t);
            env.define(&def.name, Some(typed.clone()));
            Ok(CheckedDefinition { name: def.name.clone(), name_span: def.name_span, typed })
        }
        Err(e) => {
            env.define(&def.name, None);
            Err(e)
        }
    }
}

/// Checks every definition of a file in order; later definitions see earlier ones.
pub fn check_file(file: &ProxyFile) -> CheckedFile {
    let mut env = Env::new();
    let mut out = CheckedFile::default();
    let mut seen: Vec<(&str, Span)> = vec![];
    for item in &file.items {
        let Item::Definition(def) = item else { continue };
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == def.name) {
            out.diagnostics.push(
                Diagnostic::new(code::DUPLICATE, def.name_span, format!("`{}` is defined twice", def.name))
                    .with_secondary(*first, "first defined here")
                    .with_help("rename one of the two definitions"),
            );
            continue;
        }
        seen.push((&def.name, def.name_span));
        match check_definition(def, &mut env) {
            Ok(d) => out.definitions.push(d),
            Err(mut e) => out.diagnostics.append(&mut e),
        }
    }
    out
}

/// The closest of `candidates` to `name`, if it is close enough to be a likely typo.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&name.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

struct Checker<'a> {
    env: &'a Env,
    errors: &'a mut Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error<T>(&mut self, d: Diagnostic) -> Option<T> {
        self.errors.push(d);
        None
    }

    fn expr(&mut self, e: &Expr) -> Option<Typed> {
        match &e.kind {
            ExprKind::Number(v) if !v.is_finite() || *v < 0.0 => {
                self.error(Diagnostic::new(code::NUMBER, e.span, format!("`{v}` is not a finite non-negative number literal")))
            }
            ExprKind::Number(v) => Some(Typed { node: Node::Number(*v), ty: Type::Number, span: e.span }),
            ExprKind::Name(name) => self.name(name, e.span),
            ExprKind::Neg(x) => {
                let x = self.expr(x)?;
                Some(Typed { ty: x.ty.clone(), node: Node::Neg(Box::new(x)), span: e.span })
            }
            ExprKind::Binary { op, op_span, lhs, rhs } => {
                let (l, r) = (self.expr(lhs), self.expr(rhs));
                let (l, r) = (l?, r?);
                let ty = self.combine(*op, &l, &r, *op_span)?;
                Some(Typed { node: Node::Binary { op: *op, lhs: Box::new(l), rhs: Box::new(r) }, ty, span: e.span })
            }
            ExprKind::Call { op, op_span, args } => self.call(op, *op_span, args, e.span),
        }
    }

    fn name(&mut self, name: &str, span: Span) -> Option<Typed> {
        if let Some(input) = table::input_by_name(name) {
            let shape = match input.axes {
                Some(a) => Shape::Axes(a.to_vec()),
                None => Shape::Mixed,
            };
            return Some(Typed { node: Node::Input(input.id), ty: Type::Entries { alignment: input.alignment, shape }, span });
        }
        match self.env.get(name) {
            Some(Some(value)) => {
                return Some(Typed { ty: value.ty.clone(), node: Node::Ref { name: name.to_owned(), value: value.clone() }, span });
            }
            // The definition failed to check and was reported there.
            Some(None) => return None,
            None => {}
        }
        if let Some(op) = table::op_by_name(name) {
            return self.error(
                Diagnostic::new(code::NOT_CALLABLE, span, format!("`{name}` is an op, not a value"))
                    .with_help(format!("call it: `{}`", op.signature())),
            );
        }
        let candidates = table::INPUTS.iter().map(|i| i.name).chain(self.env.names());
        let mut d = Diagnostic::new(code::UNKNOWN_NAME, span, format!("unknown name `{name}`"))
            .with_label("not an input or an earlier definition");
        let inputs: Vec<&str> = table::INPUTS.iter().map(|i| i.name).collect();
        d = match suggest(name, candidates) {
            Some(s) => d.with_help(format!("did you mean `{s}`? The inputs are {}", inputs.join(" "))),
            None => d.with_help(format!("the inputs are {}; a definition must come before its use", inputs.join(" "))),
        };
        self.error(d)
    }

    fn call(&mut self, name: &str, op_span: Span, args: &[Expr], span: Span) -> Option<Typed> {
        let Some(op) = table::op_by_name(name) else {
            // Check the arguments anyway, to report their problems too.
            args.iter().for_each(|a| {
                self.expr(a);
            });
            let what = if table::input_by_name(name).is_some() {
                Diagnostic::new(code::NOT_CALLABLE, op_span, format!("`{name}` is an input, not an op"))
                    .with_help(format!("use it as a value, e.g. `fro({name})`"))
            } else if self.env.get(name).is_some() {
                Diagnostic::new(code::NOT_CALLABLE, op_span, format!("`{name}` is a definition, not an op"))
                    .with_help(format!("use it as a value: `{name}`"))
            } else {
                let d = Diagnostic::new(code::UNKNOWN_OP, op_span, format!("unknown op `{name}`")).with_label("no op of this name");
                match suggest(name, table::OPS.iter().map(|o| o.name)) {
                    Some(s) => d.with_help(format!("did you mean `{s}`? `lpzero ops` lists every op")),
                    None => d.with_help("`lpzero ops` lists every op"),
                }
            };
            return self.error(what);
        };
        if args.len() != op.arity {
            args.iter().for_each(|a| {
                self.expr(a);
            });
            let plural = if op.arity == 1 { "" } else { "s" };
            return self.error(
                Diagnostic::new(code::ARITY, span, format!("`{}` takes {} argument{plural}, got {}", op.name, op.arity, args.len()))
                    .with_help(format!("write `{}`", op.signature())),
            );
        }
        match op.kind {
            OpKind::AxisReduce => {
                let x = self.expr(&args[0]);
                let axis = self.axis_literal(&args[1]);
                let (x, axis) = (x?, axis?);
                let ty = self.reduce_axis(op, &x, axis, &args[1])?;
                Some(Typed { node: Node::Op { op: op.id, args: vec![x], axis: Some(axis) }, ty, span })
            }
            OpKind::Components => {
                let x = self.expr(&args[0]);
                let percent = self.percent_literal(&args[1]);
                let (x, percent) = (x?, percent?);
                let ty = self.components(op, &x)?;
                Some(Typed { node: Node::Op { op: op.id, args: vec![x], axis: Some(percent) }, ty, span })
            }
            OpKind::MatrixProduct => {
                let (x, y) = (self.expr(&args[0]), self.expr(&args[1]));
                let (x, y) = (x?, y?);
                let ty = self.matmul(op, &x, &y, span)?;
                Some(Typed { node: Node::Op { op: op.id, args: vec![x, y], axis: None }, ty, span })
            }
            _ => {
                let x = self.expr(&args[0])?;
                let ty = self.unary(op, &x)?;
                Some(Typed { node: Node::Op { op: op.id, args: vec![x], axis: None }, ty, span })
            }
        }
    }

    fn unary(&mut self, op: &OpSpec, x: &Typed) -> Option<Type> {
        match op.kind {
            OpKind::Elementwise | OpKind::Distribution => Some(x.ty.clone()),
            OpKind::Aggregate => Some(Type::Number),
            OpKind::Reduce | OpKind::MatrixReduce => {
                let Type::Entries { alignment, shape } = &x.ty else {
                    return self.error(
                        Diagnostic::new(code::DOMAIN, x.span, format!("`{}` of one number: it reduces each entry, and this is already one number", op.name))
                            .with_label("one number")
                            .with_help(format!("apply `{}` before aggregating, e.g. `sum({}(G))`", op.name, op.name)),
                    );
                };
                if shape.is_scalar() {
                    return self.error(
                        Diagnostic::new(code::DOMAIN, x.span, format!("`{}` of a scalar: every entry here is already one value", op.name))
                            .with_label("scalar entries")
                            .with_help(format!("`{}` needs entries with axes; drop it, or apply it before the op that reduced the entries", op.name)),
                    );
                }
                if op.kind == OpKind::MatrixReduce && shape.class() != ShapeClass::Matrix {
                    return self.error(
                        Diagnostic::new(code::DOMAIN, x.span, format!("`{}` needs matrix entries, but these are {shape}", op.name))
                            .with_help("use it on W or G"),
                    );
                }
                Some(Type::Entries { alignment: *alignment, shape: Shape::scalar() })
            }
            OpKind::MatrixMap => {
                let (alignment, axes) = match &x.ty {
                    Type::Entries { alignment, shape: Shape::Axes(a) } if a.len() == 2 => (*alignment, a.clone()),
                    _ => {
                        return self.error(
                            Diagnostic::new(code::DOMAIN, x.span, format!("`{}` needs matrix entries, but this is {}", op.name, x.ty))
                                .with_help("use it on W, G, or a reduced input such as `asum(J, 0)`"),
                        )
                    }
                };
                let axes = match op.id {
                    table::OpId::T => vec![axes[1], axes[0]],
                    _ => vec![axes[0], axes[0]],
                };
                Some(Type::Entries { alignment, shape: Shape::Axes(axes) })
            }
            OpKind::AxisReduce | OpKind::MatrixProduct | OpKind::Components => unreachable!("handled by the caller"),
        }
    }

    fn percent_literal(&mut self, e: &Expr) -> Option<i64> {
        match e.kind {
            ExprKind::Number(v) if v.fract() == 0.0 && (1.0..=99.0).contains(&v) => Some(v as i64),
            _ => self.error(
                Diagnostic::new(code::AXIS, e.span, "the percentage must be an integer literal from 1 to 99, e.g. `99`")
                    .with_label("not an integer literal in 1..=99"),
            ),
        }
    }

    fn components(&mut self, op: &OpSpec, x: &Typed) -> Option<Type> {
        match &x.ty {
            Type::Entries { alignment, shape: Shape::Axes(axes) } if axes.len() >= 2 => Some(Type::Entries { alignment: *alignment, shape: Shape::scalar() }),
            _ => self.error(
                Diagnostic::new(code::DOMAIN, x.span, format!("`{}` needs entries of samples × features (two or more axes), but this is {}", op.name, x.ty))
                    .with_help("use it on activations, e.g. `pcadim(Z, 99)`"),
            ),
        }
    }

    fn axis_literal(&mut self, e: &Expr) -> Option<i64> {
        let (value, negative) = match &e.kind {
            ExprKind::Number(v) => (*v, false),
            ExprKind::Neg(inner) => match inner.kind {
                ExprKind::Number(v) => (v, true),
                _ => (f64::NAN, false),
            },
            _ => (f64::NAN, false),
        };
        if value.fract() != 0.0 || !value.is_finite() || value > 64.0 {
            return self.error(
                Diagnostic::new(code::AXIS, e.span, "the axis must be an integer literal, e.g. `-1` for the last axis")
                    .with_label("not an integer literal"),
            );
        }
        Some(if negative { -(value as i64) } else { value as i64 })
    }

    fn reduce_axis(&mut self, op: &OpSpec, x: &Typed, axis: i64, axis_expr: &Expr) -> Option<Type> {
        let (alignment, axes) = match &x.ty {
            Type::Entries { alignment, shape: Shape::Axes(axes) } if !axes.is_empty() => (*alignment, axes),
            Type::Entries { shape: Shape::Mixed, .. } => {
                return self.error(
                    Diagnostic::new(code::AXIS, x.span, format!("`{}` needs entries of one rank, but these differ in rank", op.name))
                        .with_help("reduce whole entries instead, e.g. with `fro` or `mean`"),
                )
            }
            _ => {
                return self.error(
                    Diagnostic::new(code::DOMAIN, x.span, format!("`{}` of {}: there is no axis to reduce", op.name, x.ty))
                        .with_help("apply it to an input with axes, e.g. `amax(S, -1)`"),
                )
            }
        };
        let rank = axes.len() as i64;
        if axis < -rank || axis >= rank {
            return self.error(
                Diagnostic::new(code::AXIS, axis_expr.span, format!("axis {axis} is out of range for entries with axes [{}]", axes.join(", ")))
                    .with_help(format!("use 0..{} or -{rank}..-1", rank - 1)),
            );
        }
        let k = if axis < 0 { rank + axis } else { axis } as usize;
        let mut rest = axes.clone();
        rest.remove(k);
        Some(Type::Entries { alignment, shape: Shape::Axes(rest) })
    }

    fn matmul(&mut self, op: &OpSpec, x: &Typed, y: &Typed, span: Span) -> Option<Type> {
        let matrix = |t: &Type| match t {
            Type::Entries { alignment, shape: Shape::Axes(a) } if a.len() == 2 => Some((*alignment, a.clone())),
            _ => None,
        };
        let (Some((ax, xa)), Some((ay, ya))) = (matrix(&x.ty), matrix(&y.ty)) else {
            return self.error(
                Diagnostic::new(code::DOMAIN, span, format!("`{}` needs matrix entries on both sides, got {} and {}", op.name, x.ty, y.ty))
                    .with_help("use W or G"),
            );
        };
        if ax != ay {
            return self.error(misaligned(x, y, span));
        }
        if xa[1] != ya[0] {
            return self.error(
                Diagnostic::new(code::SHAPE, span, format!("`{}` needs the left entry's last axis to match the right's first, but `{}` ≠ `{}`", op.name, xa[1], ya[0]))
                    .with_help("the product of two [out, in] matrices is defined only when they are square"),
            );
        }
        Some(Type::Entries { alignment: ax, shape: Shape::Axes(vec![xa[0], ya[1]]) })
    }

    /// The type of `l op r`; `span` is the operator's.
    fn combine(&mut self, op: BinOp, l: &Typed, r: &Typed, span: Span) -> Option<Type> {
        match (&l.ty, &r.ty) {
            (Type::Number, t) | (t, Type::Number) => Some(t.clone()),
            (Type::Entries { alignment: al, shape: sl }, Type::Entries { alignment: ar, shape: sr }) => {
                if al != ar {
                    return self.error(misaligned(l, r, span));
                }
                let shape = if sl == sr {
                    sl.clone()
                } else if sl.is_scalar() {
                    sr.clone()
                } else if sr.is_scalar() {
                    sl.clone()
                } else {
                    return self.error(
                        Diagnostic::new(code::SHAPE, span, format!("`{}` combines entries of different layouts: {sl} and {sr}", op.symbol()))
                            .with_label("combined element by element here")
                            .with_secondary(l.span, format!("{sl}"))
                            .with_secondary(r.span, format!("{sr}"))
                            .with_help("reduce one side first, e.g. with `mean(...)` or `amax(..., axis)`"),
                    );
                };
                Some(Type::Entries { alignment: *al, shape })
            }
        }
    }
}

fn misaligned(l: &Typed, r: &Typed, span: Span) -> Diagnostic {
    let side = |t: &Typed| match &t.ty {
        Type::Entries { alignment, .. } => alignment.describe(),
        Type::Number => "one number",
    };
    let example = l
        .inputs()
        .first()
        .map(|i| format!("sum(fro({}))", table::input(*i).name))
        .unwrap_or_else(|| "sum(fro(A))".into());
    Diagnostic::new(code::MISALIGNED, span, "these two sides have entries that do not correspond")
        .with_label("combined entry by entry here")
        .with_secondary(l.span, side(l))
        .with_secondary(r.span, side(r))
        .with_help(format!("aggregate one side first, e.g. {example}"))
}

#[cfg(test)]
mod tests {
    use super::super::parse::{parse_expr, parse_file};
    use super::*;

    fn ty(src: &str) -> Result<Type, Vec<&'static str>> {
        check_expr(&parse_expr(src).unwrap(), &Env::new()).map(|t| t.ty).map_err(|e| e.iter().map(|d| d.code).collect())
    }

    fn entries(alignment: Alignment, axes: &[&'static str]) -> Type {
        Type::Entries { alignment, shape: Shape::Axes(axes.to_vec()) }
    }

    #[test]
    fn types_of_inputs_and_ops() {
        assert_eq!(ty("W"), Ok(entries(Alignment::Linear, &["out", "in"])));
        assert_eq!(ty("G * W"), Ok(entries(Alignment::Linear, &["out", "in"])));
        assert_eq!(ty("fro(G)"), Ok(entries(Alignment::Linear, &[])));
        assert_eq!(ty("sum(fro(G))"), Ok(Type::Number));
        assert_eq!(ty("amax(S, -1)"), Ok(entries(Alignment::Attention, &["batch", "head", "query"])));
        assert_eq!(ty("asum(A, 1)"), Ok(entries(Alignment::Ffn, &["batch", "unit"])));
        assert_eq!(ty("nuc(W) * nuc(G)"), Ok(entries(Alignment::Linear, &[])));
        assert_eq!(ty("softmax(fro(A))"), Ok(entries(Alignment::Ffn, &[])));
        // A per-entry scalar broadcasts over the entry's elements.
        assert_eq!(ty("W / fro(W)"), Ok(entries(Alignment::Linear, &["out", "in"])));
        // One number broadcasts over anything.
        assert_eq!(ty("A * sum(fro(W))"), Ok(entries(Alignment::Ffn, &["batch", "token", "unit"])));
        assert_eq!(ty("H * GH"), Ok(entries(Alignment::Attention, &["batch", "head", "token", "dim"])));
        assert_eq!(ty("numel(P)"), Ok(entries(Alignment::Parameter, &[])));
    }

    #[test]
    fn errors_have_stable_codes() {
        assert_eq!(ty("fro(X)"), Err(vec![code::UNKNOWN_NAME]));
        assert_eq!(ty("frob(W)"), Err(vec![code::UNKNOWN_OP]));
        assert_eq!(ty("fro(W, G)"), Err(vec![code::ARITY]));
        assert_eq!(ty("fro(fro(W))"), Err(vec![code::DOMAIN]));
        assert_eq!(ty("fro(sum(W))"), Err(vec![code::DOMAIN]));
        assert_eq!(ty("nuc(A)"), Err(vec![code::DOMAIN]));
        assert_eq!(ty("W * A"), Err(vec![code::MISALIGNED]));
        assert_eq!(ty("H * S"), Err(vec![code::SHAPE]));
        assert_eq!(ty("amax(S, 4)"), Err(vec![code::AXIS]));
        assert_eq!(ty("amax(S, 0.5)"), Err(vec![code::AXIS]));
        assert_eq!(ty("amax(P, 0)"), Err(vec![code::AXIS]));
        assert_eq!(ty("W(2)"), Err(vec![code::NOT_CALLABLE]));
        assert_eq!(ty("fro + 1"), Err(vec![code::NOT_CALLABLE]));
        assert_eq!(ty("matmul(W, G)"), Err(vec![code::SHAPE]));
        // Independent errors are all reported.
        assert_eq!(ty("fro(X) + frob(W)"), Err(vec![code::UNKNOWN_NAME, code::UNKNOWN_OP]));
    }

    #[test]
    fn misaligned_error_suggests_aggregating() {
        let errs = check_expr(&parse_expr("fro(A) + fro(W)").unwrap(), &Env::new()).unwrap_err();
        assert_eq!(errs[0].help.as_deref(), Some("aggregate one side first, e.g. sum(fro(A))"));
        assert_eq!(errs[0].secondary.len(), 2);
    }

    #[test]
    fn proxies_must_be_one_number() {
        let e = parse_expr("fro(G)").unwrap();
        let errs = check_proxy(&e, &Env::new()).unwrap_err();
        assert_eq!(errs[0].code, code::NOT_A_NUMBER);
        assert_eq!(errs[0].help.as_deref(), Some("aggregate it over the entries, e.g. `sum(fro(G))`"));
    }

    #[test]
    fn files_resolve_earlier_definitions() {
        let f = parse_file("a = sum(fro(G))\nb = a * 2\nc = d\nW = 1\na = 3\ne = c + 1").unwrap();
        let checked = check_file(&f);
        let codes: Vec<_> = checked.diagnostics.iter().map(|d| d.code).collect();
        // `c` fails (unknown `d`); `e` uses the failed `c` and is not reported again.
        assert_eq!(codes, vec![code::UNKNOWN_NAME, code::SHADOWS_INPUT, code::DUPLICATE]);
        let names: Vec<_> = checked.definitions.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, vec!["a", "b"]);
        assert_eq!(checked.definitions[1].typed.inputs(), vec![InputId::G]);
    }

    #[test]
    fn typo_suggestions() {
        assert_eq!(suggest("sofmax", table::OPS.iter().map(|o| o.name)), Some("softmax"));
        assert_eq!(suggest("zzzz", table::OPS.iter().map(|o| o.name)), None);
    }
}
