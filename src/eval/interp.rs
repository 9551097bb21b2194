//! The interpreter: evaluates a typed proxy tree on one architecture's [`ProxyInputs`].
//!
//! Every failure is an [`Invalid`] with a reason, never a panic: a missing input, an input with
//! NaN or inf in it, a non-finite intermediate value, an empty input. Sub-expressions are
//! memoised by their canonical text (definitions expanded), so a subtree shared by many proxies
//! (or many GP candidates) is computed once per architecture.

use super::inputs::ProxyInputs;
use super::ops::{self, Entry, Invalid, Value};
use crate::lang::check::{Node, Typed};
use crate::lang::print::print_expr;
use crate::lang::table::{self, InputId};
use std::collections::HashMap;

/// Evaluates proxies on one architecture's inputs, remembering sub-expression values.
pub struct Interpreter<'a> {
    inputs: &'a ProxyInputs,
    memo: HashMap<String, Result<Value, Invalid>>,
    input_checks: HashMap<InputId, Result<(), Invalid>>,
    memoize: bool,
    memo_budget: usize,
    memo_numel: usize,
    fuse: bool,
}

/// Default memo budget: values whose tensors hold more than this many elements in total are
/// recomputed rather than kept (scalars and numbers are always kept).
pub const DEFAULT_MEMO_BUDGET: usize = 256 << 20;

impl<'a> Interpreter<'a> {
    /// An interpreter with memoisation on.
    pub fn new(inputs: &'a ProxyInputs) -> Self {
        Interpreter {
            inputs,
            memo: HashMap::new(),
            input_checks: HashMap::new(),
            memoize: true,
            memo_budget: DEFAULT_MEMO_BUDGET,
            memo_numel: 0,
            fuse: true,
        }
    }

    /// An interpreter that recomputes everything (for tests of the memo).
    pub fn without_memo(inputs: &'a ProxyInputs) -> Self {
        Interpreter { memoize: false, ..Interpreter::new(inputs) }
    }

    /// Evaluates every op on its own, materialising each intermediate tensor (for tests of the
    /// fused reductions, which must give the same values).
    pub fn op_by_op(mut self) -> Self {
        self.fuse = false;
        self
    }

    /// Caps how many tensor elements the memo keeps (scalar values are always kept).
    pub fn with_memo_budget(mut self, elements: usize) -> Self {
        self.memo_budget = elements;
        self
    }

    /// Number of memoised sub-expressions.
    pub fn memo_len(&self) -> usize {
        self.memo.len()
    }

    /// The score of a proxy: its value as one finite number, or why it has none.
    pub fn score(&mut self, proxy: &Typed) -> Result<f64, Invalid> {
        match self.eval(proxy)? {
            Value::Number(v) if v.is_finite() => Ok(v),
            Value::Number(v) => Err(Invalid::new(format!("the score is not finite ({v})"))),
            Value::Entries(_) => Err(Invalid::new("the proxy is not one number (aggregate it with sum)")),
        }
    }

    /// The value of any typed expression.
    pub fn eval(&mut self, t: &Typed) -> Result<Value, Invalid> {
        if let Node::Ref { value, .. } = &t.node {
            return self.eval(value);
        }
        if !self.memoize || matches!(t.node, Node::Number(_) | Node::Input(_)) {
            return self.compute(t);
        }
        let key = print_expr(&expanded(t));
        if let Some(v) = self.memo.get(&key) {
            return v.clone();
        }
        let v = self.compute(t);
        let size = match &v {
            Ok(Value::Entries(es)) if es.iter().any(|e| matches!(e, Entry::Tensor(_))) => v.as_ref().map(Value::numel).unwrap_or(0),
            _ => 0,
        };
        if self.memo_numel + size <= self.memo_budget {
            self.memo_numel += size;
            self.memo.insert(key, v.clone());
        }
        v
    }

    fn compute(&mut self, t: &Typed) -> Result<Value, Invalid> {
        match &t.node {
            Node::Number(v) => Ok(Value::Number(*v)),
            Node::Input(i) => self.input(*i),
            Node::Ref { value, .. } => self.eval(value),
            Node::Neg(x) => {
                let v = self.eval(x)?;
                ops::apply_unary(table::OpId::Neg, v, None, &describe(t))
            }
            Node::Op { op, args, axis: None } if self.fuse && args.len() == 1 && ops::fusable_reduction(*op) => {
                if let Some(v) = self.fused(*op, &args[0], t) {
                    return v;
                }
                let x = self.eval(&args[0])?;
                ops::apply_unary(*op, x, None, &describe(t))
            }
            Node::Op { op, args, axis } => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.eval(a)?);
                }
                let what = describe(t);
                if *op == table::OpId::Matmul {
                    let b = vals.pop().expect("matmul has two arguments");
                    let a = vals.pop().expect("matmul has two arguments");
                    return ops::apply_matmul(a, b, &what);
                }
                let x = vals.pop().ok_or_else(|| Invalid::new(format!("{what}: missing argument")))?;
                ops::apply_unary(*op, x, *axis, &what)
            }
            Node::Binary { op, lhs, rhs } => {
                let a = self.eval(lhs)?;
                let b = self.eval(rhs)?;
                ops::apply_binary(*op, a, b, &describe(t))
            }
        }
    }

    /// A reduction of a chain of element-wise ops (`mean(sq(log(W)))`), computed in one pass
    /// over each entry without materialising the intermediate tensors. The values are the same,
    /// bit for bit, as op-by-op evaluation: the same f32 operations on each element, the same
    /// f64 accumulation order. `None` when the argument is not such a chain.
    fn fused(&mut self, op: table::OpId, arg: &Typed, whole: &Typed) -> Option<Result<Value, Invalid>> {
        let mut chain: Vec<ops::ChainStep> = vec![];
        let mut base = arg;
        loop {
            while let Node::Ref { value, .. } = &base.node {
                base = value;
            }
            match base.unary() {
                Some((u, inner)) if ops::elementwise(u).is_some() => {
                    chain.push(ops::ChainStep::new(u, describe(base)));
                    base = inner;
                }
                _ => break,
            }
        }
        if chain.is_empty() {
            return None;
        }
        chain.reverse();
        Some(self.eval(base).and_then(|v| ops::reduce_chain(op, v, &chain, &describe(whole))))
    }

    fn input(&mut self, id: InputId) -> Result<Value, Invalid> {
        let name = table::input(id).name;
        let entries = self
            .inputs
            .get(id)
            .ok_or_else(|| Invalid::new(format!("input {name} was not gathered for this architecture")))?;
        let check = self.input_checks.entry(id).or_insert_with(|| {
            match entries.iter().position(|e| !ops::all_finite(&e.data)) {
                Some(i) => Err(Invalid::new(format!("input {name}[{i}] contains NaN or inf"))),
                None => Ok(()),
            }
        });
        check.clone()?;
        Ok(Value::Entries(entries.iter().cloned().map(Entry::Tensor).collect()))
    }
}

/// The tree with definition references replaced by their bodies, as a syntax tree: its
/// canonical text identifies the computation.
fn expanded(t: &Typed) -> crate::lang::Expr {
    fn inline(t: &Typed) -> Typed {
        match &t.node {
            Node::Ref { value, .. } => inline(value),
            Node::Neg(x) => Typed { node: Node::Neg(Box::new(inline(x))), ..t.clone() },
            Node::Op { op, args, axis } => {
                Typed { node: Node::Op { op: *op, args: args.iter().map(inline).collect(), axis: *axis }, ..t.clone() }
            }
            Node::Binary { op, lhs, rhs } => {
                Typed { node: Node::Binary { op: *op, lhs: Box::new(inline(lhs)), rhs: Box::new(inline(rhs)) }, ..t.clone() }
            }
            Node::Number(_) | Node::Input(_) => t.clone(),
        }
    }
    inline(t).to_expr()
}

/// The expression's text, for messages.
fn describe(t: &Typed) -> String {
    format!("`{}`", print_expr(&t.to_expr()))
}

/// Scores one proxy on one architecture's inputs (no memo kept between calls).
pub fn score(proxy: &Typed, inputs: &ProxyInputs) -> Result<f64, Invalid> {
    Interpreter::new(inputs).score(proxy)
}
