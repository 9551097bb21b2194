//! Proxies as Rust code: a builder that mirrors the text syntax.
//!
//! ```
//! use lpzero::lang::build::*;
//! let snip = sum(abs(G * W));
//! assert_eq!(snip.to_string(), "sum(abs(G * W))");
//! assert_eq!(snip.expr(), &lpzero::lang::parse_expr("sum(abs(G * W))").unwrap());
//! ```
//!
//! Inputs are constants, ops are functions, `+ - * /` and unary `-` are operators, numbers
//! are `f64`. The result is the same syntax tree the parser builds, so `Display` prints the
//! canonical text and [`ProxyExpr::check`] runs the same checker.

use super::check::{check_proxy, Env, Typed};
use super::diagnostic::CheckError;
use super::syntax::{BinOp, Expr, ExprKind};
use super::table::InputId;
use std::fmt;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// An input, usable directly in expressions: `G * W`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Input(pub InputId);

/// A proxy expression built in Rust.
#[derive(Clone, Debug, PartialEq)]
pub struct ProxyExpr(Expr);

impl ProxyExpr {
    /// The syntax tree.
    pub fn expr(&self) -> &Expr {
        &self.0
    }

    /// Type-checks it as a proxy (one number per architecture).
    pub fn check(&self) -> Result<Typed, CheckError> {
        check_proxy(&self.0, &Env::new()).map_err(CheckError)
    }

    /// A call of any op by name, for ops chosen at run time.
    pub fn call(op: &str, args: Vec<ProxyExpr>) -> ProxyExpr {
        ProxyExpr(Expr::new(ExprKind::Call { op: op.to_owned(), op_span: Default::default(), args: args.into_iter().map(|a| a.0).collect() }))
    }
}

impl fmt::Display for ProxyExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<Input> for ProxyExpr {
    fn from(i: Input) -> Self {
        ProxyExpr(Expr::new(ExprKind::Name(super::table::input(i.0).name.to_owned())))
    }
}

impl From<f64> for ProxyExpr {
    /// A number; a negative one becomes unary minus of its magnitude, as the parser reads `-2`.
    fn from(v: f64) -> Self {
        let n = |v: f64| Expr::new(ExprKind::Number(v));
        if v < 0.0 {
            ProxyExpr(Expr::new(ExprKind::Neg(Box::new(n(-v)))))
        } else {
            ProxyExpr(n(v.abs()))
        }
    }
}

impl From<i32> for ProxyExpr {
    fn from(v: i32) -> Self {
        ProxyExpr::from(f64::from(v))
    }
}

macro_rules! inputs {
    ($($name:ident),*) => {$(
        #[doc = concat!("The input `", stringify!($name), "`.")]
        pub const $name: Input = Input(InputId::$name);
    )*};
}
inputs!(A, GA, H, GH, S, W, G, J, P);

macro_rules! unary_ops {
    ($($name:ident),*) => {$(
        #[doc = concat!("The op `", stringify!($name), "` (see the op table).")]
        pub fn $name(x: impl Into<ProxyExpr>) -> ProxyExpr {
            ProxyExpr::call(stringify!($name), vec![x.into()])
        }
    )*};
}
unary_ops!(log, abslog, abs, sq, exp, normalize, relu, recip, fro, normsum, l1, softmax, sigmoid, logsoftmax, sqrt, neg, minmax, mean, std, id, sum, avg, numel, nuc, step);

/// `amax(x, axis)`: maximum along one axis.
pub fn amax(x: impl Into<ProxyExpr>, axis: i64) -> ProxyExpr {
    ProxyExpr::call("amax", vec![x.into(), ProxyExpr::from(axis as f64)])
}

/// `asum(x, axis)`: sum along one axis.
pub fn asum(x: impl Into<ProxyExpr>, axis: i64) -> ProxyExpr {
    ProxyExpr::call("asum", vec![x.into(), ProxyExpr::from(axis as f64)])
}

/// `matmul(x, y)`.
pub fn matmul(x: impl Into<ProxyExpr>, y: impl Into<ProxyExpr>) -> ProxyExpr {
    ProxyExpr::call("matmul", vec![x.into(), y.into()])
}

fn binary(op: BinOp, l: ProxyExpr, r: ProxyExpr) -> ProxyExpr {
    ProxyExpr(Expr::new(ExprKind::Binary { op, op_span: Default::default(), lhs: Box::new(l.0), rhs: Box::new(r.0) }))
}

macro_rules! binary_impls {
    ($($lhs:ty),*) => {$(
        impl<R: Into<ProxyExpr>> Add<R> for $lhs { type Output = ProxyExpr; fn add(self, r: R) -> ProxyExpr { binary(BinOp::Add, self.into(), r.into()) } }
        impl<R: Into<ProxyExpr>> Sub<R> for $lhs { type Output = ProxyExpr; fn sub(self, r: R) -> ProxyExpr { binary(BinOp::Sub, self.into(), r.into()) } }
        impl<R: Into<ProxyExpr>> Mul<R> for $lhs { type Output = ProxyExpr; fn mul(self, r: R) -> ProxyExpr { binary(BinOp::Mul, self.into(), r.into()) } }
        impl<R: Into<ProxyExpr>> Div<R> for $lhs { type Output = ProxyExpr; fn div(self, r: R) -> ProxyExpr { binary(BinOp::Div, self.into(), r.into()) } }
        impl Neg for $lhs { type Output = ProxyExpr; fn neg(self) -> ProxyExpr { ProxyExpr(Expr::new(ExprKind::Neg(Box::new(ProxyExpr::from(self).0)))) } }
    )*};
}
binary_impls!(ProxyExpr, Input);

macro_rules! number_lhs {
    ($($num:ty),*) => {$(
        impl Add<ProxyExpr> for $num { type Output = ProxyExpr; fn add(self, r: ProxyExpr) -> ProxyExpr { binary(BinOp::Add, self.into(), r) } }
        impl Sub<ProxyExpr> for $num { type Output = ProxyExpr; fn sub(self, r: ProxyExpr) -> ProxyExpr { binary(BinOp::Sub, self.into(), r) } }
        impl Mul<ProxyExpr> for $num { type Output = ProxyExpr; fn mul(self, r: ProxyExpr) -> ProxyExpr { binary(BinOp::Mul, self.into(), r) } }
        impl Div<ProxyExpr> for $num { type Output = ProxyExpr; fn div(self, r: ProxyExpr) -> ProxyExpr { binary(BinOp::Div, self.into(), r) } }
        impl Add<Input> for $num { type Output = ProxyExpr; fn add(self, r: Input) -> ProxyExpr { binary(BinOp::Add, self.into(), r.into()) } }
        impl Sub<Input> for $num { type Output = ProxyExpr; fn sub(self, r: Input) -> ProxyExpr { binary(BinOp::Sub, self.into(), r.into()) } }
        impl Mul<Input> for $num { type Output = ProxyExpr; fn mul(self, r: Input) -> ProxyExpr { binary(BinOp::Mul, self.into(), r.into()) } }
        impl Div<Input> for $num { type Output = ProxyExpr; fn div(self, r: Input) -> ProxyExpr { binary(BinOp::Div, self.into(), r.into()) } }
    )*};
}
number_lhs!(f64, i32);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::parse_expr;

    fn same(built: ProxyExpr, text: &str) {
        assert_eq!(built.expr(), &parse_expr(text).unwrap(), "{text}");
        assert_eq!(built.to_string(), text);
    }

    #[test]
    fn builder_builds_what_the_parser_builds() {
        same(sum(abs(G * W)), "sum(abs(G * W))");
        same(sum(fro(G)), "sum(fro(G))");
        same(0.5 * sum(sq(asum(A * GA, 1))), "0.5 * sum(sq(asum(A * GA, 1)))");
        same(sum(mean(amax(S, -1))), "sum(mean(amax(S, -1)))");
        same(avg(mean(sq(neg(H)))) + avg(logsoftmax(fro(A))), "avg(mean(sq(neg(H)))) + avg(logsoftmax(fro(A)))");
        same(-W * 2 - (G - W) / -3.5, "-W * 2 - (G - W) / -3.5");
        same(sum(sq(asum(step(A), 1)) + sq(asum(1 - step(A), 1))), "sum(sq(asum(step(A), 1)) + sq(asum(1 - step(A), 1)))");
    }

    #[test]
    fn every_op_can_be_called_by_name() {
        let x: ProxyExpr = W.into();
        for op in crate::lang::table::OPS {
            let args = (0..op.arity).map(|_| x.clone()).collect();
            assert_eq!(ProxyExpr::call(op.name, args).to_string().split('(').next(), Some(op.name));
        }
    }
}
