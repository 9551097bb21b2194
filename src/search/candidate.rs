//! Candidates of the search and the operators that vary them.
//!
//! A candidate is a proxy of the language. Two shapes exist:
//!
//! * **template** (the paper's): a [`Genome`] of two inputs, `n` unary ops per branch and one
//!   binary op. Its phenotype is a syntax tree: each branch applies its ops in order (`id`, the
//!   reference's no-op, is left out of the text), a branch that is not yet one scalar per entry
//!   is reduced by `mean` (the reference's `convert_to_float`), and the two branches are
//!   combined entry by entry and averaged, `avg(x ⊙ y)`, when their entries correspond (same
//!   alignment), or averaged first, `avg(x) ⊙ avg(y)`, when they do not (the reference paired
//!   unrelated entries by position; lpzero's checker refuses that).
//! * **free**: any well-typed tree up to a size limit, built from the same inputs, unary ops and
//!   `+ − × ÷`, aggregated by `avg` or `sum`. Crossover swaps subtrees, mutation replaces an op,
//!   an input or a subtree.
//!
//! Every candidate is type-checked; with the Rule-based Pruning Strategy on, one with a lint
//! warning (an inverse pair, a redundant chain, a dead branch, a constant proxy, ...) is
//! rejected at birth and the caller draws again, as the paper's Algorithm 1 says.

use crate::lang::check::{check_expr, check_proxy, Env, Type, Typed};
use crate::lang::lint::lint_proxy;
use crate::lang::print::print_expr;
use crate::lang::syntax::{BinOp, Expr, ExprKind, Span};
use crate::lang::table::{self, InputId, OpId};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The two shapes a candidate can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "shape")]
pub enum ShapeKind {
    /// The paper's template with `n_unary` ops per branch.
    Template {
        /// Unary ops per branch.
        n_unary: usize,
    },
    /// Any well-typed tree of at most `max_size` nodes.
    Free {
        /// The largest tree allowed, in nodes.
        max_size: usize,
    },
}

/// What the search may draw from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchSpace {
    /// Template or free trees.
    pub shape: ShapeKind,
    /// Inputs the candidates read.
    pub inputs: Vec<InputId>,
    /// Unary ops (by default the paper's twenty, Table 7).
    pub unary: Vec<OpId>,
    /// Binary ops.
    pub binary: Vec<BinOp>,
    /// Whether the Rule-based Pruning Strategy rejects candidates with lint warnings.
    pub rps: bool,
}

/// The paper's template genotype: `(x, y)`, the ops of each branch, and the binary op.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genome {
    /// The input of each branch (may be equal).
    pub inputs: [InputId; 2],
    /// The unary ops of each branch, applied first to last.
    pub unary: [Vec<OpId>; 2],
    /// How the branches are combined.
    pub binary: BinOp,
}

/// A candidate proxy.
#[derive(Clone, Debug, PartialEq)]
pub enum Candidate {
    /// A template genome.
    Template(Genome),
    /// A free tree.
    Free(Expr),
}

/// Why a candidate was not admitted.
#[derive(Clone, Debug, PartialEq)]
pub enum Rejection {
    /// It does not type-check (the message of the first error).
    Type(String),
    /// It breaks a pruning rule (the lint codes).
    Rps(Vec<&'static str>),
    /// It is larger than the size limit.
    Size(usize),
}

/// A candidate that passed the checks: its tree, typed tree and canonical text.
#[derive(Clone, Debug)]
pub struct Expressed {
    /// The syntax tree.
    pub expr: Expr,
    /// The typed tree.
    pub typed: Typed,
    /// Canonical text: the identity of the candidate for de-duplication.
    pub text: String,
}

impl Serialize for Candidate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        enum Repr<'a> {
            #[serde(rename = "template")]
            Template(&'a Genome),
            #[serde(rename = "free")]
            Free(String),
        }
        match self {
            Candidate::Template(g) => Repr::Template(g).serialize(s),
            Candidate::Free(e) => Repr::Free(print_expr(e)).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Candidate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        enum Repr {
            #[serde(rename = "template")]
            Template(Genome),
            #[serde(rename = "free")]
            Free(String),
        }
        Ok(match Repr::deserialize(d)? {
            Repr::Template(g) => Candidate::Template(g),
            Repr::Free(text) => Candidate::Free(crate::lang::parse::parse_expr(&text).map_err(|e| serde::de::Error::custom(e.message))?),
        })
    }
}

/// The inputs the paper's search reads: `A H S W G J`.
pub const PAPER_INPUTS: [InputId; 6] = [InputId::A, InputId::H, InputId::S, InputId::W, InputId::G, InputId::J];

/// Input names (`A`, `W`, …) to inputs; an empty list is empty.
pub fn parse_inputs(names: &[String]) -> Result<Vec<InputId>, String> {
    names
        .iter()
        .map(|n| table::input_by_name(n.trim()).map(|i| i.id).ok_or_else(|| format!("unknown input `{n}` (inputs are {})", table::INPUTS.iter().map(|i| i.name).collect::<Vec<_>>().join(", "))))
        .collect()
}

/// The paper's twenty unary ops (Table 7), in the reference's index order.
pub fn paper_unary_ops() -> Vec<OpId> {
    table::OPS.iter().filter(|o| o.search).map(|o| o.id).collect()
}

fn call(op: OpId, arg: Expr) -> Expr {
    Expr::new(ExprKind::Call { op: table::op(op).name.to_owned(), op_span: Span::default(), args: vec![arg] })
}

fn binary(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
    Expr::new(ExprKind::Binary { op, op_span: Span::default(), lhs: Box::new(lhs), rhs: Box::new(rhs) })
}

fn name(input: InputId) -> Expr {
    Expr::new(ExprKind::Name(table::input(input).name.to_owned()))
}

impl Genome {
    /// The syntax tree of the genome (see the module docs), or why it has none.
    pub fn phenotype(&self) -> Result<Expr, Rejection> {
        let env = Env::new();
        let mut branches = vec![];
        for b in 0..2 {
            let mut e = name(self.inputs[b]);
            for &op in &self.unary[b] {
                if op != OpId::Id {
                    e = call(op, e);
                }
            }
            let typed = check_expr(&e, &env).map_err(|d| Rejection::Type(d[0].message.clone()))?;
            let Type::Entries { alignment, shape } = typed.ty else {
                return Err(Rejection::Type("a branch is one number".into()));
            };
            branches.push((e, alignment, shape.is_scalar()));
        }
        let (bx, by) = (branches.remove(0), branches.remove(0));
        let avg = |e: Expr| call(OpId::Avg, e);
        let scalar = |(e, _, is_scalar): (Expr, _, bool)| if is_scalar { e } else { call(OpId::Mean, e) };
        Ok(if bx.1 == by.1 {
            avg(binary(self.binary, scalar(bx), scalar(by)))
        } else {
            binary(self.binary, avg(bx.0), avg(by.0))
        })
    }
}

impl SearchSpace {
    fn pick<T: Copy>(rng: &mut impl Rng, xs: &[T]) -> T {
        xs[rng.random_range(0..xs.len())]
    }

    /// A unary op drawn as the reference does: every op equally likely except `id` (no-op),
    /// which has double weight.
    fn unary_op(&self, rng: &mut impl Rng) -> OpId {
        let weight = |op: &OpId| if *op == OpId::Id { 2 } else { 1 };
        let total: u32 = self.unary.iter().map(weight).sum();
        let mut r = rng.random_range(0..total);
        for op in &self.unary {
            if r < weight(op) {
                return *op;
            }
            r -= weight(op);
        }
        self.unary[0]
    }

    fn random_genome(&self, rng: &mut impl Rng, n_unary: usize) -> Genome {
        let inputs = [Self::pick(rng, &self.inputs), Self::pick(rng, &self.inputs)];
        let unary = [(0..n_unary).map(|_| self.unary_op(rng)).collect(), (0..n_unary).map(|_| self.unary_op(rng)).collect()];
        Genome { inputs, unary, binary: Self::pick(rng, &self.binary) }
    }

    /// A random candidate (not yet checked).
    pub fn random(&self, rng: &mut impl Rng) -> Candidate {
        match self.shape {
            ShapeKind::Template { n_unary } => Candidate::Template(self.random_genome(rng, n_unary)),
            ShapeKind::Free { max_size } => Candidate::Free(self.random_free(rng, max_size)),
        }
    }

    /// Uniform crossover of genes (template) or a subtree swap (free): the child takes each
    /// gene from either parent with equal probability; a free child is the first parent with
    /// one subtree replaced by a subtree of the second.
    pub fn crossover(&self, a: &Candidate, b: &Candidate, rng: &mut impl Rng) -> Candidate {
        match (a, b) {
            (Candidate::Template(x), Candidate::Template(y)) => {
                let mut child = x.clone();
                for i in 0..2 {
                    if rng.random_bool(0.5) {
                        child.inputs[i] = y.inputs[i];
                    }
                    for (k, op) in child.unary[i].iter_mut().enumerate() {
                        if rng.random_bool(0.5) {
                            if let Some(o) = y.unary[i].get(k) {
                                *op = *o;
                            }
                        }
                    }
                }
                if rng.random_bool(0.5) {
                    child.binary = y.binary;
                }
                Candidate::Template(child)
            }
            (Candidate::Free(x), Candidate::Free(y)) => {
                let (px, py) = (paths(x), paths(y));
                let at = &px[rng.random_range(0..px.len())];
                let from = &py[rng.random_range(0..py.len())];
                let donor = get(y, from).clone();
                let mut child = x.clone();
                *get_mut(&mut child, at) = donor;
                Candidate::Free(child)
            }
            _ => a.clone(),
        }
    }

    /// Mutation: each gene is redrawn with probability ½ (template, as the reference does); in
    /// a free tree one node is changed: an op replaced by another of its kind, an input by
    /// another input, or the whole subtree by a new random one.
    pub fn mutate(&self, c: &Candidate, rng: &mut impl Rng) -> Candidate {
        match c {
            Candidate::Template(g) => {
                let mut g = g.clone();
                for i in 0..2 {
                    if rng.random_bool(0.5) {
                        g.inputs[i] = Self::pick(rng, &self.inputs);
                    }
                    for k in 0..g.unary[i].len() {
                        if rng.random_bool(0.5) {
                            g.unary[i][k] = self.unary_op(rng);
                        }
                    }
                }
                if rng.random_bool(0.5) {
                    g.binary = Self::pick(rng, &self.binary);
                }
                Candidate::Template(g)
            }
            Candidate::Free(e) => {
                let ps = paths(e);
                let at = &ps[rng.random_range(0..ps.len())];
                let mut child = e.clone();
                let node = get_mut(&mut child, at);
                let is_aggregate = matches!(&node.kind, ExprKind::Call { op, .. } if op == "avg" || op == "sum");
                if rng.random_bool(0.3) && !is_aggregate {
                    *node = self.random_entries(rng, 2);
                } else {
                    match &mut node.kind {
                        ExprKind::Name(n) => *n = table::input(Self::pick(rng, &self.inputs)).name.to_owned(),
                        ExprKind::Call { op, .. } if is_aggregate => *op = if op == "avg" { "sum".into() } else { "avg".into() },
                        ExprKind::Call { op, .. } => *op = table::op(self.unary_op(rng)).name.to_owned(),
                        ExprKind::Binary { op, .. } => *op = Self::pick(rng, &self.binary),
                        _ => *node = self.random_entries(rng, 2),
                    }
                }
                Candidate::Free(child)
            }
        }
    }

    fn random_entries(&self, rng: &mut impl Rng, depth: usize) -> Expr {
        let r: f64 = rng.random();
        if depth == 0 || r < 0.3 {
            name(Self::pick(rng, &self.inputs))
        } else if r < 0.8 {
            let op = self.unary_op(rng);
            let inner = self.random_entries(rng, depth - 1);
            if op == OpId::Id {
                inner
            } else {
                call(op, inner)
            }
        } else {
            binary(Self::pick(rng, &self.binary), self.random_entries(rng, depth - 1), self.random_entries(rng, depth - 1))
        }
    }

    fn random_free(&self, rng: &mut impl Rng, max_size: usize) -> Expr {
        let depth = (max_size / 3).clamp(2, 5);
        let agg = |rng: &mut dyn rand::RngCore, e: Expr| call(if rng.random_bool(0.8) { OpId::Avg } else { OpId::Sum }, e);
        if rng.random_bool(0.25) {
            let a = self.random_entries(rng, depth - 1);
            let a = agg(rng, a);
            let b = self.random_entries(rng, depth - 1);
            let b = agg(rng, b);
            binary(Self::pick(rng, &self.binary), a, b)
        } else {
            let e = self.random_entries(rng, depth);
            agg(rng, e)
        }
    }

    /// The candidate's tree, checked: type-correct, within the size limit, and (with RPS on)
    /// free of lint warnings.
    pub fn express(&self, c: &Candidate) -> Result<Expressed, Rejection> {
        let expr = match c {
            Candidate::Template(g) => g.phenotype()?,
            Candidate::Free(e) => e.clone(),
        };
        if let ShapeKind::Free { max_size } = self.shape {
            if expr.size() > max_size {
                return Err(Rejection::Size(expr.size()));
            }
        }
        let typed = check_proxy(&expr, &Env::new()).map_err(|d| Rejection::Type(d[0].message.clone()))?;
        if self.rps {
            let codes: Vec<&'static str> = lint_proxy(&typed).iter().map(|d| d.code).collect();
            if !codes.is_empty() {
                return Err(Rejection::Rps(codes));
            }
        }
        let text = print_expr(&expr);
        Ok(Expressed { expr, typed, text })
    }
}

/// Paths (child indices from the root) of every node.
fn paths(e: &Expr) -> Vec<Vec<usize>> {
    fn walk(e: &Expr, at: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        out.push(at.clone());
        for (i, c) in e.children().enumerate() {
            at.push(i);
            walk(c, at, out);
            at.pop();
        }
    }
    let mut out = vec![];
    walk(e, &mut vec![], &mut out);
    out
}

fn get<'a>(e: &'a Expr, path: &[usize]) -> &'a Expr {
    path.iter().fold(e, |e, &i| e.children().nth(i).expect("a path from `paths`"))
}

fn get_mut<'a>(e: &'a mut Expr, path: &[usize]) -> &'a mut Expr {
    let Some((&first, rest)) = path.split_first() else { return e };
    match &mut e.kind {
        ExprKind::Call { args, .. } => get_mut(&mut args[first], rest),
        ExprKind::Neg(x) => get_mut(x, rest),
        ExprKind::Binary { lhs, rhs, .. } => get_mut(if first == 0 { lhs } else { rhs }, rest),
        ExprKind::Number(_) | ExprKind::Name(_) => unreachable!("`paths` gives no path below a leaf"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn space(shape: ShapeKind) -> SearchSpace {
        SearchSpace {
            shape,
            inputs: vec![InputId::A, InputId::H, InputId::W, InputId::G],
            unary: paper_unary_ops(),
            binary: BinOp::ALL.to_vec(),
            rps: true,
        }
    }

    #[test]
    fn the_paper_flexibert_genome_expresses_as_the_stdlib_proxy_does() {
        // (head, act) [[15, 3], [8, 13], 0]: H and A have different alignments, so each branch
        // is averaged on its own.
        let g = Genome { inputs: [InputId::H, InputId::A], unary: [vec![OpId::Neg, OpId::Sq], vec![OpId::Fro, OpId::Logsoftmax]], binary: BinOp::Add };
        assert_eq!(print_expr(&g.phenotype().unwrap()), "avg(sq(neg(H))) + avg(logsoftmax(fro(A)))");
        // (weight, grad) [[3, 10], [11, 3], 0]: aligned, so combined entry by entry.
        let g = Genome { inputs: [InputId::W, InputId::G], unary: [vec![OpId::Sq, OpId::L1], vec![OpId::Softmax, OpId::Sq]], binary: BinOp::Add };
        assert_eq!(print_expr(&g.phenotype().unwrap()), "avg(l1(sq(W)) + mean(sq(softmax(G))))");
        // RPS rejects the FlexiBERT one (sq∘neg is redundant, logsoftmax of a scalar is dead).
        let s = space(ShapeKind::Template { n_unary: 2 });
        let g = Genome { inputs: [InputId::H, InputId::A], unary: [vec![OpId::Neg, OpId::Sq], vec![OpId::Fro, OpId::Logsoftmax]], binary: BinOp::Add };
        assert!(matches!(s.express(&Candidate::Template(g)), Err(Rejection::Rps(_))));
        // A reduction after a reduction does not type-check.
        let g = Genome { inputs: [InputId::W, InputId::G], unary: [vec![OpId::Fro, OpId::Mean], vec![OpId::Abs, OpId::Abs]], binary: BinOp::Add };
        assert!(matches!(g.phenotype(), Err(Rejection::Type(_))));
    }

    #[test]
    fn variation_is_deterministic_and_yields_valid_candidates() {
        for shape in [ShapeKind::Template { n_unary: 2 }, ShapeKind::Free { max_size: 12 }] {
            let s = space(shape);
            let run = |seed| {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
                let mut texts = vec![];
                let mut pop: Vec<Candidate> = vec![];
                while pop.len() < 20 {
                    let c = s.random(&mut rng);
                    if let Ok(e) = s.express(&c) {
                        texts.push(e.text);
                        pop.push(c);
                    }
                }
                for _ in 0..200 {
                    let a = &pop[rng.random_range(0..pop.len())];
                    let b = &pop[rng.random_range(0..pop.len())];
                    let c = s.mutate(&s.crossover(a, b, &mut rng), &mut rng);
                    if let Ok(e) = s.express(&c) {
                        texts.push(e.text.clone());
                        // What passed the checks parses back to the same tree.
                        let back = crate::lang::parse::parse_expr(&e.text).unwrap();
                        assert_eq!(back, e.expr);
                    }
                }
                texts
            };
            let a = run(7);
            assert_eq!(a, run(7));
            assert_ne!(a, run(8));
            assert!(a.len() > 60, "{shape:?}: only {} valid candidates", a.len());
        }
    }

    #[test]
    fn candidates_survive_a_json_round_trip() {
        let s = space(ShapeKind::Free { max_size: 12 });
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..50 {
            let c = s.random(&mut rng);
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<Candidate>(&json).unwrap(), c, "{json}");
        }
        let g = Candidate::Template(Genome { inputs: [InputId::W, InputId::G], unary: [vec![OpId::Sq], vec![OpId::Id]], binary: BinOp::Div });
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(serde_json::from_str::<Candidate>(&json).unwrap(), g);
    }
}
