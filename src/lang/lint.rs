//! Lint: the Rule-based Pruning Strategy (RPS) of the LPZero paper (Appendix D, Table 11), as
//! static rules over the typed tree, plus the degenerate constants and dead branches the paper's
//! own searched proxies contain.
//!
//! Rules, by code (declared with severity and rationale in [`CODES`](super::diagnostic::CODES)):
//!
//! * `L101 inverse-pair` — an op followed by its inverse ([`INVERSE_PAIRS`]).
//! * `L102 redundant-chain` — an op that does nothing to what it is applied to ([`ABSORBED`],
//!   `abs`/`relu` of a value that is never negative, `id`).
//! * `L103 conflict` — an op whose domain is never met (`log`/`sqrt`/`relu`/`step` of a value that
//!   is never positive): the branch is a constant.
//! * `L104 dead-branch` — `softmax`/`logsoftmax`/`minmax`/`normalize` of a scalar: a constant.
//!   (`std` of a scalar is a checker error, E104: it is undefined, not constant.)
//! * `L106 self-cancelling` — `x - x`, `x / x`.
//! * `L107 division-by-zero` — `/` or `recip` of values that are exactly zero in some elements.
//! * `L108 constant-proxy` — the proxy depends on no input once the constants are found.
//! * `L109 redundant-aggregate` — `sum`/`avg` of something that is already one number.
//!
//! The rules reason with a small abstract interpretation: for every node, which signs its
//! elements can take ([`Signs`]) and whether it is a constant. The same function
//! ([`lint_proxy`]) is what the search calls to reject candidates.

use super::check::{CheckedDefinition, Node, Type, Typed};
use super::diagnostic::{code, Diagnostic};
use super::syntax::BinOp;
use super::table::{self, InputId, OpId, OpKind};

/// Which signs the elements of a value can have; `zero` means "exactly zero in some element".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signs {
    /// Some element may be negative.
    pub neg: bool,
    /// Some element may be exactly zero.
    pub zero: bool,
    /// Some element may be positive.
    pub pos: bool,
}

impl Signs {
    const fn of(neg: bool, zero: bool, pos: bool) -> Signs {
        Signs { neg, zero, pos }
    }
    const NONZERO: Signs = Signs::of(true, false, true);
    const POS: Signs = Signs::of(false, false, true);
    const NONNEG: Signs = Signs::of(false, true, true);
    const ANY: Signs = Signs::of(true, true, true);

    fn of_value(v: f64) -> Signs {
        Signs::of(v < 0.0, v == 0.0, v > 0.0)
    }
    fn never_negative(self) -> bool {
        !self.neg
    }
    fn negate(self) -> Signs {
        Signs::of(self.pos, self.zero, self.neg)
    }
    fn magnitude(self) -> Signs {
        Signs::of(false, self.zero, self.neg || self.pos)
    }
    /// Clamped at zero from below (relu, sqrt).
    fn clamp_low(self) -> Signs {
        Signs::of(false, self.zero || self.neg, self.pos)
    }
    /// A reduction that is zero only when every element is zero (norms).
    fn norm(self) -> Signs {
        if self.neg || self.pos {
            Signs::POS
        } else {
            Signs::of(false, true, false)
        }
    }
    /// A sum or mean of elements: exact cancellation is treated as impossible.
    fn total(self) -> Signs {
        Signs::of(self.neg, !self.neg && !self.pos, self.pos)
    }
    fn add(self, o: Signs) -> Signs {
        Signs::of(self.neg || o.neg, self.zero && o.zero, self.pos || o.pos)
    }
    fn mul(self, o: Signs) -> Signs {
        Signs::of(
            (self.pos && o.neg) || (self.neg && o.pos),
            self.zero || o.zero,
            (self.pos && o.pos) || (self.neg && o.neg),
        )
    }
    fn recip(self) -> Signs {
        // sign(0) = +1: 1/0 becomes 1/ε.
        Signs::of(self.neg, false, self.pos || self.zero)
    }
}

/// The signs the elements of an input can take.
pub fn input_signs(input: InputId) -> Signs {
    match input {
        // Attention probabilities are exactly zero where a mask applies (causal or padding).
        InputId::S => Signs::NONNEG,
        // Biases and LayerNorm shifts start at zero.
        InputId::P => Signs::ANY,
        InputId::A | InputId::GA | InputId::H | InputId::GH | InputId::W | InputId::G | InputId::J | InputId::Z => Signs::NONZERO,
        // A Synflow gradient vanishes where nothing reaches the output; a curvature product can
        // be anything.
        InputId::GS | InputId::HG => Signs::ANY,
        // Counts of blocks, channels and weights.
        InputId::L | InputId::D | InputId::N => Signs::POS,
    }
}

/// Inverse pairs `outer(inner(x))` and what they reduce to (paper Table 11, "inverse operations").
pub const INVERSE_PAIRS: &[(OpId, OpId, &str)] = &[
    (OpId::Log, OpId::Exp, "x"),
    (OpId::Exp, OpId::Log, "max(x, ε)"),
    (OpId::Abslog, OpId::Exp, "x"),
    (OpId::Exp, OpId::Abslog, "max(|x|, ε)"),
    (OpId::Sqrt, OpId::Sq, "abs(x)"),
    (OpId::Sq, OpId::Sqrt, "relu(x)"),
    (OpId::Neg, OpId::Neg, "x"),
    (OpId::Recip, OpId::Recip, "x (up to ε)"),
    (OpId::Log, OpId::Softmax, "logsoftmax(x)"),
    (OpId::Exp, OpId::Logsoftmax, "softmax(x)"),
];

/// Chains `outer(inner(x))` where the inner op is absorbed: the pair equals `outer(x)` or
/// `inner(x)` (paper Table 11, "redundant operations").
pub const ABSORBED: &[(OpId, OpId, &str)] = &[
    (OpId::Sq, OpId::Abs, "sq(x)"),
    (OpId::Sq, OpId::Neg, "sq(x)"),
    (OpId::Abs, OpId::Neg, "abs(x)"),
    (OpId::Abslog, OpId::Abs, "abslog(x)"),
    (OpId::Abslog, OpId::Neg, "abslog(x)"),
    (OpId::Fro, OpId::Abs, "fro(x)"),
    (OpId::Fro, OpId::Neg, "fro(x)"),
    (OpId::L1, OpId::Abs, "l1(x)"),
    (OpId::L1, OpId::Neg, "l1(x)"),
    (OpId::Nuc, OpId::Neg, "nuc(x)"),
    (OpId::Std, OpId::Neg, "std(x)"),
    (OpId::Minmax, OpId::Minmax, "minmax(x)"),
    (OpId::Normalize, OpId::Normalize, "normalize(x)"),
    (OpId::Minmax, OpId::Normalize, "minmax(x)"),
    (OpId::Normalize, OpId::Minmax, "normalize(x)"),
];

/// Lints one checked proxy. Warnings describe degenerate or redundant structure; the search
/// rejects any candidate that has a diagnostic.
pub fn lint_proxy(typed: &Typed) -> Vec<Diagnostic> {
    let mut out = vec![];
    let fact = walk(typed, &mut out);
    out.sort_by_key(|d| (d.span.start, d.span.end));
    if fact.constant {
        let d = if typed.inputs().is_empty() {
            Diagnostic::new(code::CONSTANT_PROXY, typed.span, "this proxy reads no input: every architecture gets the same score")
                .with_help("use at least one input (A GA H GH S W G J P)")
        } else {
            Diagnostic::new(code::CONSTANT_PROXY, typed.span, "this proxy is a constant once its dead branches are removed: every architecture gets the same score")
                .with_help("see the other warnings for the branches that are constant")
        };
        out.push(d);
    }
    out
}

/// Lints every checked definition of a file.
pub fn lint_definitions(defs: &[CheckedDefinition]) -> Vec<Diagnostic> {
    defs.iter().flat_map(|d| lint_proxy(&d.typed)).collect()
}

/// What the analysis knows of a node.
#[derive(Clone, Copy, Debug)]
struct Fact {
    /// The signs its elements can take.
    signs: Signs,
    /// The value is the same on every architecture (every element of every entry).
    constant: bool,
    /// That value, where the analysis knows it.
    value: Option<f64>,
}

impl Fact {
    fn varying(signs: Signs) -> Fact {
        Fact { signs, constant: false, value: None }
    }
    fn known(v: f64) -> Fact {
        Fact { signs: Signs::of_value(v), constant: true, value: Some(v) }
    }
    fn is_zero(&self) -> bool {
        self.value == Some(0.0)
    }
}

fn walk(t: &Typed, out: &mut Vec<Diagnostic>) -> Fact {
    match &t.node {
        Node::Number(v) => Fact::known(*v),
        Node::Input(i) => Fact::varying(input_signs(*i)),
        // A referenced definition is linted where it is defined; here only its facts matter.
        Node::Ref { value, .. } => walk(value, &mut vec![]),
        Node::Neg(x) => {
            let f = walk(x, out);
            chain_rules(t, OpId::Neg, x, f, out);
            Fact { signs: f.signs.negate(), constant: f.constant, value: f.value.map(|v| -v) }
        }
        Node::Op { op, args, .. } => {
            let facts: Vec<Fact> = args.iter().map(|a| walk(a, out)).collect();
            let f = facts[0];
            if args.len() == 1 {
                chain_rules(t, *op, &args[0], f, out);
            }
            if let Some(forced) = op_rules(t, *op, &args[0], f, out) {
                return forced;
            }
            Fact { signs: op_signs(*op, f.signs), ..op_constancy(*op, &args[0], f, facts.get(1).copied()) }
        }
        Node::Binary { op, lhs, rhs } => {
            let l = walk(lhs, out);
            let r = walk(rhs, out);
            if *op == BinOp::Div {
                division_rule(rhs, r, "`/` divides", out);
            }
            let signs = match op {
                BinOp::Add => l.signs.add(r.signs),
                BinOp::Sub => l.signs.add(r.signs.negate()),
                BinOp::Mul => l.signs.mul(r.signs),
                BinOp::Div => l.signs.mul(r.signs.recip()),
            };
            if matches!(op, BinOp::Sub | BinOp::Div) && !l.constant && lhs.to_expr() == rhs.to_expr() {
                let value = if *op == BinOp::Sub { 0.0 } else { 1.0 };
                out.push(
                    Diagnostic::new(code::SELF_CANCEL, t.span, format!("`{}` of a value with itself is always {value}", op.symbol()))
                        .with_help("the two sides are the same expression; drop this branch"),
                );
                return Fact::known(value);
            }
            let value = match (l.value, r.value) {
                (Some(a), Some(b)) => Some(match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    BinOp::Div => a / b,
                }),
                _ => None,
            };
            Fact { signs, constant: l.constant && r.constant, value }
        }
    }
}

/// The signs of an op's result from those of its (first) operand.
fn op_signs(op: OpId, s: Signs) -> Signs {
    match op {
        OpId::Neg => s.negate(),
        OpId::Abs | OpId::Sq => s.magnitude(),
        OpId::Relu | OpId::Sqrt => s.clamp_low(),
        OpId::Exp | OpId::Sigmoid | OpId::Softmax | OpId::Numel => Signs::POS,
        OpId::Log | OpId::Abslog | OpId::Normalize | OpId::Matmul => Signs::ANY,
        OpId::Recip => s.recip(),
        OpId::Fro | OpId::L1 | OpId::Nuc | OpId::Std => s.norm(),
        OpId::Mean | OpId::Normsum | OpId::Sum | OpId::Avg | OpId::Asum => s.total(),
        OpId::Amax => Signs::of(s.neg && !s.pos && !s.zero, s.zero && !s.pos, s.pos),
        OpId::Minmax | OpId::Step => Signs::NONNEG,
        OpId::Logsoftmax => Signs::of(true, true, false),
        OpId::Id | OpId::Sign | OpId::T => s,
        OpId::Gram | OpId::Cosine | OpId::Logdet => Signs::ANY,
        OpId::Pcadim => Signs::POS,
    }
}

/// Whether an op keeps a constant operand constant across architectures. Element counts differ
/// between architectures, so sums and norms of a non-zero constant are not constants.
fn op_constancy(op: OpId, x: &Typed, f: Fact, second: Option<Fact>) -> Fact {
    let varying = Fact::varying(Signs::ANY);
    if let Some(g) = second {
        // matmul: constant only if both are (and then it still scales with the inner size).
        return if f.is_zero() || g.is_zero() { Fact::known(0.0) } else { varying };
    }
    if !f.constant {
        return varying;
    }
    let keep = Fact { value: None, ..f };
    let zero_or_varying = if f.is_zero() { Fact::known(0.0) } else { varying };
    // Every op is listed (no catch-all), so a new op needs its rule here to compile.
    match op {
        OpId::Log | OpId::Abslog | OpId::Abs | OpId::Sq | OpId::Exp | OpId::Relu | OpId::Recip | OpId::Sigmoid | OpId::Sqrt | OpId::Neg | OpId::Id | OpId::Step => keep,
        // A constant entry: min-max and normalize give 0; softmax gives 1/len, which varies.
        OpId::Minmax | OpId::Normalize => Fact::known(0.0),
        OpId::Softmax | OpId::Logsoftmax => varying,
        OpId::Mean | OpId::Normsum | OpId::L1 | OpId::Amax => keep,
        OpId::Std => Fact::known(0.0),
        OpId::Fro | OpId::Nuc | OpId::Asum => zero_or_varying,
        OpId::Numel => varying,
        OpId::Avg => f,
        OpId::Sum if x.ty == Type::Number || f.is_zero() => f,
        OpId::Sum => varying,
        OpId::Matmul => varying,
        OpId::Sign | OpId::T => keep,
        // Their values depend on the entry's size (a Gram sums over a row), and a constant
        // matrix is singular or has no variance.
        OpId::Gram => zero_or_varying,
        OpId::Cosine | OpId::Logdet | OpId::Pcadim => varying,
    }
}

/// What an op that keeps the shape gives on a single value, when it is constant there
/// (`softmax` of a scalar is 1): the value and what it is, in words.
fn value_on_a_scalar(op: OpId) -> Option<(f64, &'static str)> {
    match op {
        OpId::Softmax => Some((1.0, "the softmax of a single value")),
        OpId::Logsoftmax => Some((0.0, "the log-softmax of a single value")),
        OpId::Minmax => Some((0.0, "a single value rescaled to [0, 1]")),
        OpId::Normalize => Some((0.0, "a single value standardised")),
        OpId::Log | OpId::Abslog | OpId::Abs | OpId::Sq | OpId::Exp | OpId::Relu | OpId::Recip | OpId::Sigmoid | OpId::Sqrt | OpId::Neg | OpId::Id | OpId::Step => None,
        OpId::Fro | OpId::Normsum | OpId::L1 | OpId::Mean | OpId::Std | OpId::Numel | OpId::Nuc | OpId::Amax | OpId::Asum | OpId::Sum | OpId::Avg | OpId::Matmul => None,
        OpId::Sign | OpId::T | OpId::Gram | OpId::Cosine | OpId::Logdet | OpId::Pcadim => None,
    }
}

/// When an op's domain is never met by what it is applied to (signs `s`): why, and the constant
/// it then gives everywhere.
fn conflict(op: OpId, s: Signs) -> Option<(&'static str, f64)> {
    let never_positive = !s.pos;
    match op {
        OpId::Log if never_positive => Some(("its argument is never positive, so it is ln ε everywhere", table::EPSILON.ln())),
        OpId::Sqrt | OpId::Relu | OpId::Step if never_positive => Some(("its argument is never positive, so it is 0 everywhere", 0.0)),
        OpId::Step if !s.neg && !s.zero => Some(("its argument is always positive, so it is 1 everywhere", 1.0)),
        OpId::Abslog if !s.neg && !s.pos => Some(("its argument is always zero, so it is ln ε everywhere", table::EPSILON.ln())),
        OpId::Log | OpId::Sqrt | OpId::Relu | OpId::Step | OpId::Abslog => None,
        OpId::Abs | OpId::Sq | OpId::Exp | OpId::Recip | OpId::Sigmoid | OpId::Neg | OpId::Id | OpId::Normalize | OpId::Softmax | OpId::Logsoftmax | OpId::Minmax => None,
        OpId::Fro | OpId::Normsum | OpId::L1 | OpId::Mean | OpId::Std | OpId::Numel | OpId::Nuc | OpId::Amax | OpId::Asum | OpId::Sum | OpId::Avg | OpId::Matmul => None,
        OpId::Sign | OpId::T | OpId::Gram | OpId::Cosine | OpId::Logdet | OpId::Pcadim => None,
    }
}

/// `L101`, `L102`: an op applied directly to the result of another.
fn chain_rules(t: &Typed, outer: OpId, x: &Typed, fx: Fact, out: &mut Vec<Diagnostic>) {
    let name = table::op(outer).name;
    if outer == OpId::Id {
        out.push(Diagnostic::new(code::REDUNDANT, t.span, "`id` does nothing").with_help("remove it"));
        return;
    }
    if matches!(outer, OpId::Abs | OpId::Relu) && fx.signs.never_negative() && !fx.constant {
        out.push(
            Diagnostic::new(code::REDUNDANT, t.span, format!("`{name}` of a value that is never negative does nothing"))
                .with_label(format!("`{name}` is a no-op here"))
                .with_help(format!("remove the `{name}`")),
        );
        return;
    }
    let Some((inner, _)) = x.unary() else { return };
    let inner_name = table::op(inner).name;
    if let Some((_, _, result)) = INVERSE_PAIRS.iter().find(|(o, i, _)| *o == outer && *i == inner) {
        out.push(
            Diagnostic::new(code::INVERSE, t.span, format!("`{name}` undoes `{inner_name}`: `{name}({inner_name}(x))` is {result}"))
                .with_help(format!("write {result} instead")),
        );
    } else if let Some((_, _, result)) = ABSORBED.iter().find(|(o, i, _)| *o == outer && *i == inner) {
        out.push(
            Diagnostic::new(code::REDUNDANT, t.span, format!("`{name}({inner_name}(x))` is the same as `{result}`"))
                .with_help(format!("write `{result}`")),
        );
    } else if outer == OpId::Numel && (matches!(table::op(inner).kind, OpKind::Elementwise | OpKind::Distribution) || inner == OpId::T) {
        out.push(
            Diagnostic::new(code::REDUNDANT, t.span, format!("`numel` counts elements, which `{inner_name}` does not change"))
                .with_help("apply `numel` to the input directly"),
        );
    }
}

/// `L103`, `L104`, `L107`, `L109`: rules about one op and its operand. Returns the fact of the
/// result when the rule makes it a constant whatever the operand.
fn op_rules(t: &Typed, op: OpId, x: &Typed, fx: Fact, out: &mut Vec<Diagnostic>) -> Option<Fact> {
    let spec = table::op(op);
    let name = spec.name;
    if spec.kind == OpKind::Aggregate && x.ty == Type::Number {
        out.push(
            Diagnostic::new(code::REDUNDANT_AGGREGATE, t.span, format!("`{name}` of one number does nothing"))
                .with_help(format!("remove this `{name}`")),
        );
    }
    if fx.constant {
        return None;
    }
    if let Some((value, what)) = value_on_a_scalar(op).filter(|_| x.ty.is_scalar_valued()) {
        out.push(
            Diagnostic::new(code::CONSTANT_OP, t.span, format!("`{name}` of a scalar is always {value} ({what}): this branch is dead"))
                .with_label(format!("always {value}"))
                .with_secondary(x.span, "one value per entry")
                .with_help(format!("apply `{name}` before the op that reduces the entries, or drop this branch")),
        );
        return Some(Fact::known(value));
    }
    if let Some((why, value)) = conflict(op, fx.signs) {
        out.push(
            Diagnostic::new(code::CONFLICT, t.span, format!("`{name}` conflicts with what it is applied to: {why}"))
                .with_help("drop this branch or the op that makes its argument non-positive"),
        );
        return Some(Fact::known(value));
    }
    if op == OpId::Recip {
        division_rule(x, fx, "`recip` divides", out);
    }
    None
}

/// `L107`: dividing by values that are exactly zero in some elements.
fn division_rule(denominator: &Typed, f: Fact, what: &str, out: &mut Vec<Diagnostic>) {
    if f.signs.zero && !f.constant && !denominator.ty.is_scalar_valued() {
        out.push(
            Diagnostic::new(code::DIV_ZERO, denominator.span, format!("{what} by values that are exactly zero in some elements"))
                .with_label("exactly zero in places")
                .with_help("those elements become ±1/ε ≈ 1e9 and dominate the sum; add a positive constant or divide by a reduction such as fro(...)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::check::{check_proxy, Env};
    use super::super::parse::parse_expr;
    use super::*;

    fn codes(src: &str) -> Vec<&'static str> {
        let typed = check_proxy(&parse_expr(src).unwrap(), &Env::new()).unwrap();
        lint_proxy(&typed).iter().map(|d| d.code).collect()
    }

    #[test]
    fn clean_proxies_are_clean() {
        for p in [
            "sum(abs(G * W))",
            "sum(fro(G))",
            "sum(nuc(W) * nuc(G))",
            "sum(mean(amax(S, -1)))",
            "sum(numel(P))",
            "sum(sq(H))",
            "sum(l1(sq(W)) + mean(sq(softmax(G))))",
            "sum(W / fro(W))",
            "sum(log(abs(G) + 1))",
        ] {
            assert_eq!(codes(p), Vec::<&str>::new(), "{p}");
        }
    }

    #[test]
    fn inverse_pairs() {
        assert_eq!(codes("sum(log(exp(W)))"), vec![code::INVERSE]);
        assert_eq!(codes("sum(sqrt(sq(W)))"), vec![code::INVERSE]);
        assert_eq!(codes("sum(neg(-W))"), vec![code::INVERSE]);
        assert_eq!(codes("sum(--W)"), vec![code::INVERSE]);
        assert_eq!(codes("sum(log(softmax(G)))"), vec![code::INVERSE]);
    }

    #[test]
    fn redundant_chains() {
        assert_eq!(codes("sum(abs(abs(W)))"), vec![code::REDUNDANT]);
        assert_eq!(codes("sum(relu(exp(W)))"), vec![code::REDUNDANT]);
        assert_eq!(codes("sum(abs(sq(W)))"), vec![code::REDUNDANT]);
        assert_eq!(codes("sum(sq(abs(W)))"), vec![code::REDUNDANT]);
        assert_eq!(codes("sum(fro(neg(W)))"), vec![code::REDUNDANT]);
        assert_eq!(codes("sum(id(W))"), vec![code::REDUNDANT]);
        assert_eq!(codes("sum(numel(abs(W)))"), vec![code::REDUNDANT]);
        assert_eq!(codes("sum(minmax(minmax(W)))"), vec![code::REDUNDANT]);
    }

    #[test]
    fn conflicts() {
        assert_eq!(codes("sum(log(neg(abs(W))))"), vec![code::CONFLICT]);
        assert_eq!(codes("sum(sqrt(-sq(W)))"), vec![code::CONFLICT, code::CONSTANT_PROXY]);
        // step(exp(W)) is 1 everywhere, so its sum counts the weights: a conflict, but not a constant.
        assert_eq!(codes("sum(step(exp(W)))"), vec![code::CONFLICT]);
    }

    #[test]
    fn dead_branches_and_constants() {
        // The paper's FlexiBERT proxy: the A branch is logsoftmax of a scalar, always 0.
        let src = "avg(mean(sq(neg(H))) + logsoftmax(fro(A)))";
        let err = check_proxy(&parse_expr(src).unwrap(), &Env::new());
        // H and A have different alignments, so the faithful form aggregates A on its own.
        assert!(err.is_err());
        let src = "avg(mean(sq(neg(H)))) + avg(logsoftmax(fro(A)))";
        let typed = check_proxy(&parse_expr(src).unwrap(), &Env::new()).unwrap();
        let d = lint_proxy(&typed);
        let found: Vec<_> = d.iter().map(|d| d.code).collect();
        // `sq(neg(x))` is `sq(x)`, and the A branch is dead.
        assert_eq!(found, vec![code::REDUNDANT, code::CONSTANT_OP]);
        assert!(d[1].message.contains("always 0") && d[1].message.contains("dead"), "{}", d[1].message);
        // softmax of a scalar is 1 per entry, so its sum counts the entries: not a constant.
        assert_eq!(codes("sum(softmax(fro(W)))"), vec![code::CONSTANT_OP]);
        assert_eq!(codes("avg(softmax(fro(W)))"), vec![code::CONSTANT_OP, code::CONSTANT_PROXY]);
        assert_eq!(codes("sum(logsoftmax(fro(W)))"), vec![code::CONSTANT_OP, code::CONSTANT_PROXY]);
        assert_eq!(codes("sum(fro(W) * softmax(fro(G)))"), vec![code::CONSTANT_OP]);
        assert_eq!(codes("sum(fro(W) - fro(W))"), vec![code::SELF_CANCEL, code::CONSTANT_PROXY]);
        // W / W is 1 per element, so its sum counts the weights: not a constant.
        assert_eq!(codes("sum(W / W)"), vec![code::SELF_CANCEL]);
        assert_eq!(codes("avg(fro(W) / fro(W))"), vec![code::SELF_CANCEL, code::CONSTANT_PROXY]);
        assert_eq!(codes("sum(2 + 3)"), vec![code::REDUNDANT_AGGREGATE, code::CONSTANT_PROXY]);
        assert_eq!(codes("sum(sum(fro(W)))"), vec![code::REDUNDANT_AGGREGATE]);
    }

    #[test]
    fn division_by_exact_zeros() {
        assert_eq!(codes("sum(W / relu(G))"), vec![code::DIV_ZERO]);
        assert_eq!(codes("sum(recip(S))"), vec![code::DIV_ZERO]);
        assert_eq!(codes("sum(W / G)"), Vec::<&str>::new());
        assert_eq!(codes("sum(W / (relu(G) + 1))"), Vec::<&str>::new());
    }
}
