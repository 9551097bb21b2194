//! The semantics of every op, written once.
//!
//! The contract (formula, axis, epsilon, domain) is stated in the op table
//! ([`crate::lang::table::OPS`]) and printed in the user guide; this file implements it and its
//! tests check each line of it against values computed independently.
//!
//! Representation: a [`Value`] is one number, or a list of entries; an [`Entry`] is a scalar
//! (f64) or a tensor (f32, flat on the host, with its shape). Element-wise ops run in f32;
//! every reduction accumulates in f64. Evaluation runs on the host, so that architectures can be
//! scored on parallel threads (burn's CPU device serialises its ops). Ops take their operands by
//! value and build new tensors: nothing is modified in place.

use super::inputs::TensorEntry;
use crate::libm32;
use crate::lang::syntax::BinOp;
use crate::lang::table::{OpId, OpKind, EPSILON};
use std::sync::Arc;

/// Why a proxy has no value on an architecture.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct Invalid {
    /// What went wrong, for people.
    pub reason: String,
}

impl Invalid {
    /// An invalid result with a reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Invalid { reason: reason.into() }
    }
}

/// One entry of a value.
// Tensor entries are the common case; boxing them to shrink scalars would cost more than it saves.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Entry {
    /// A per-entry scalar (after a reduction), in f64.
    Scalar(f64),
    /// A tensor.
    Tensor(TensorEntry),
}

/// The value of an expression on one architecture.
#[derive(Clone, Debug)]
pub enum Value {
    /// One number.
    Number(f64),
    /// One value per entry.
    Entries(Vec<Entry>),
}

impl Value {
    /// Number of f32/f64 values held, for memory accounting.
    pub fn numel(&self) -> usize {
        match self {
            Value::Number(_) => 1,
            Value::Entries(es) => es.iter().map(|e| if let Entry::Tensor(t) = e { t.numel() } else { 1 }).sum(),
        }
    }
}

type ScalarFn = fn(f64) -> f64;
type ElementFn = fn(f32) -> f32;
type BlockFn = fn(&mut [f32]);

/// `max(x, m)` that keeps NaN (f64::max would drop it).
fn max_keep_nan(x: f64, m: f64) -> f64 {
    if x.is_nan() {
        x
    } else {
        x.max(m)
    }
}

/// `max(x, m)` in f32, keeping NaN.
fn max_keep_nan32(x: f32, m: f32) -> f32 {
    if x.is_nan() {
        x
    } else {
        x.max(m)
    }
}

/// The sign used by `recip` and `/`: −1 for negative values, +1 otherwise (also for 0).
fn sign_plus(x: f64) -> f64 {
    if x < 0.0 {
        -1.0
    } else {
        1.0
    }
}

/// −1, 0 or +1 (NaN stays NaN).
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x * 0.0
    }
}

/// [`sign`] in f32.
fn sign32(x: f32) -> f32 {
    sign(x as f64) as f32
}

/// `1 / (x + ε·sign(x))` in f32, sign(0) = +1.
fn safe_recip32(x: f32) -> f32 {
    1.0 / (x + EPSILON as f32 * if x < 0.0 { -1.0 } else { 1.0 })
}

/// How an element-wise op treats one value, for f64 scalars and f32 tensor elements, side by
/// side so that they say the same thing; and whether it can turn finite values into non-finite
/// ones (overflow, 1/ε of huge values), in which case its tensor results are checked.
#[derive(Clone, Copy, Debug)]
pub struct Pointwise {
    /// On an f64 scalar.
    pub scalar: ScalarFn,
    /// On an f32 element.
    pub element: ElementFn,
    /// `element` applied in place to every element of a block (the same function, inlined into
    /// the loop, so that the compiler can vectorise it).
    pub block: BlockFn,
    /// Whether results must be checked for overflow.
    pub may_overflow: bool,
}

/// An element-wise op's [`Semantics`] from its f64 and f32 functions (written once, as closure
/// literals or paths), the f32 one also as a loop over a block ([`Pointwise::block`]).
macro_rules! pointwise {
    ($scalar:expr, $element:expr, $overflow:expr) => {
        Semantics::Elementwise(Pointwise {
            scalar: $scalar,
            element: $element,
            block: |b: &mut [f32]| each(b, $element),
            may_overflow: $overflow,
        })
    };
    // With its own loop over a block, for functions the compiler cannot vectorise as calls
    // (the `exp` and `ln` of [`libm32`], whose block forms are vectorised by hand).
    ($scalar:expr, $element:expr, $overflow:expr, block: $block:expr) => {
        Semantics::Elementwise(Pointwise { scalar: $scalar, element: $element, block: $block, may_overflow: $overflow })
    };
}

/// Ops that work on all the elements of an entry together and keep its shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normalizer {
    /// Softmax along the last axis.
    Softmax,
    /// Log-softmax along the last axis.
    Logsoftmax,
    /// Rescaling to [0, 1].
    Minmax,
    /// Standardising.
    Normalize,
}

/// Reductions of each entry to a scalar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    /// `sqrt(Σ x²)`.
    Fro,
    /// `Σ x / n` (`mean`, and the reference's `normsum`).
    Mean,
    /// `Σ |x| / n`.
    L1,
    /// The unbiased standard deviation.
    Std,
    /// The number of elements.
    Numel,
    /// The nuclear norm of a matrix.
    Nuc,
    /// The log of the absolute determinant of a square matrix.
    Logdet,
}

/// Maps of a matrix entry to another matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatrixMap {
    /// `xᵀ`.
    Transpose,
    /// `x xᵀ`.
    Gram,
    /// Cosine similarities of the rows.
    Cosine,
}

/// Reductions along one axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxisReduction {
    /// The maximum.
    Max,
    /// The sum.
    Sum,
}

/// Reductions of a whole value to one number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregation {
    /// Over entries and elements.
    Sum,
    /// The mean over entries of each entry's mean.
    Avg,
}

/// What an op computes, by kind: the one place that maps every op of the registry
/// ([`crate::lang::table::OPS`]) to its implementation. The match is exhaustive, so a new op does
/// not compile until it has semantics; a test checks that each op's kind here is the registry's.
#[derive(Clone, Copy, Debug)]
pub enum Semantics {
    /// Applied to every element.
    Elementwise(Pointwise),
    /// Works on a whole entry, keeps the shape.
    Distribution(Normalizer),
    /// Each entry to a scalar.
    Reduce(Reduction),
    /// Along one axis.
    AxisReduce(AxisReduction),
    /// A whole value to one number.
    Aggregate(Aggregation),
    /// The matrix product of aligned entries.
    MatrixProduct,
    /// A matrix entry to another matrix.
    Matrix(MatrixMap),
    /// Principal components holding a share of the variance (`pcadim`).
    Components,
}

impl Semantics {
    /// The registry's kind of op these semantics implement.
    pub fn kind(&self) -> OpKind {
        match self {
            Semantics::Elementwise(_) => OpKind::Elementwise,
            Semantics::Distribution(_) => OpKind::Distribution,
            Semantics::Reduce(Reduction::Nuc | Reduction::Logdet) => OpKind::MatrixReduce,
            Semantics::Reduce(_) => OpKind::Reduce,
            Semantics::AxisReduce(_) => OpKind::AxisReduce,
            Semantics::Aggregate(_) => OpKind::Aggregate,
            Semantics::MatrixProduct => OpKind::MatrixProduct,
            Semantics::Matrix(_) => OpKind::MatrixMap,
            Semantics::Components => OpKind::Components,
        }
    }
}

/// The semantics of an op.
pub fn semantics(op: OpId) -> Semantics {
    const E32: f32 = EPSILON as f32;
    match op {
        OpId::Log => pointwise!(|x| max_keep_nan(x, EPSILON).ln(), |x| libm32::ln(max_keep_nan32(x, E32)), false, block: |b| {
            each(b, |x| max_keep_nan32(x, E32));
            libm32::ln_in_place(b)
        }),
        OpId::Abslog => pointwise!(|x| max_keep_nan(x.abs(), EPSILON).ln(), |x: f32| libm32::ln(max_keep_nan32(x.abs(), E32)), false, block: |b| {
            each(b, |x| max_keep_nan32(x.abs(), E32));
            libm32::ln_in_place(b)
        }),
        OpId::Abs => pointwise!(f64::abs, f32::abs, false),
        OpId::Sq => pointwise!(|x| x * x, |x| x * x, true),
        OpId::Exp => pointwise!(f64::exp, libm32::exp, true, block: libm32::exp_in_place),
        OpId::Relu => pointwise!(|x| max_keep_nan(x, 0.0), |x| max_keep_nan32(x, 0.0), false),
        OpId::Recip => pointwise!(|x| 1.0 / (x + EPSILON * sign_plus(x)), safe_recip32, true),
        OpId::Sigmoid => pointwise!(|x| 1.0 / (1.0 + (-x).exp()), |x: f32| 1.0 / (1.0 + libm32::exp(-x)), false, block: |b| {
            each(b, |x| -x);
            libm32::exp_in_place(b);
            each(b, |e| 1.0 / (1.0 + e))
        }),
        OpId::Sqrt => pointwise!(|x| max_keep_nan(x, 0.0).sqrt(), |x| max_keep_nan32(x, 0.0).sqrt(), false),
        OpId::Neg => pointwise!(|x| -x, |x: f32| -x, false),
        OpId::Id => pointwise!(|x| x, |x: f32| x, false),
        OpId::Step => pointwise!(|x| if x.is_nan() { x } else if x > 0.0 { 1.0 } else { 0.0 }, |x: f32| if x.is_nan() { x } else if x > 0.0 { 1.0 } else { 0.0 }, false),
        OpId::Softmax => Semantics::Distribution(Normalizer::Softmax),
        OpId::Logsoftmax => Semantics::Distribution(Normalizer::Logsoftmax),
        OpId::Minmax => Semantics::Distribution(Normalizer::Minmax),
        OpId::Normalize => Semantics::Distribution(Normalizer::Normalize),
        OpId::Fro => Semantics::Reduce(Reduction::Fro),
        OpId::Normsum | OpId::Mean => Semantics::Reduce(Reduction::Mean),
        OpId::L1 => Semantics::Reduce(Reduction::L1),
        OpId::Std => Semantics::Reduce(Reduction::Std),
        OpId::Numel => Semantics::Reduce(Reduction::Numel),
        OpId::Nuc => Semantics::Reduce(Reduction::Nuc),
        OpId::Amax => Semantics::AxisReduce(AxisReduction::Max),
        OpId::Asum => Semantics::AxisReduce(AxisReduction::Sum),
        OpId::Sum => Semantics::Aggregate(Aggregation::Sum),
        OpId::Avg => Semantics::Aggregate(Aggregation::Avg),
        OpId::Matmul => Semantics::MatrixProduct,
        OpId::Sign => pointwise!(sign, sign32, false),
        OpId::T => Semantics::Matrix(MatrixMap::Transpose),
        OpId::Gram => Semantics::Matrix(MatrixMap::Gram),
        OpId::Cosine => Semantics::Matrix(MatrixMap::Cosine),
        OpId::Logdet => Semantics::Reduce(Reduction::Logdet),
        OpId::Pcadim => Semantics::Components,
    }
}

/// The element-wise functions of an op (f64 scalar, f32 element), `None` for ops that are not
/// element-wise.
pub fn elementwise(op: OpId) -> Option<(ScalarFn, ElementFn)> {
    match semantics(op) {
        Semantics::Elementwise(p) => Some((p.scalar, p.element)),
        _ => None,
    }
}

/// Sum of all elements in f64 ([`sum_by`]'s order).
pub fn sum_f64(t: &[f32]) -> f64 {
    sum_by(t, |x| x as f64)
}

/// The f64 sum of `g(x)` over the elements of `t`, in the one order every reduction of the
/// interpreter uses: one running sum, element after element, from the first. (Eight running sums
/// would add about 15 % to a search's speed here, but change the value of sums that cancel, so
/// searches would no longer repeat earlier ones exactly.)
#[inline]
pub fn sum_by(t: &[f32], g: impl Fn(f32) -> f64) -> f64 {
    let mut total = 0.0;
    for &x in t {
        total += g(x);
    }
    total
}

/// True when every element is finite.
pub fn all_finite(t: &[f32]) -> bool {
    // Sixteen elements at a time without stopping early inside them, so that the test vectorises.
    let mut chunks = t.chunks_exact(16);
    chunks.by_ref().all(|c| c.iter().fold(true, |ok, x| ok & x.is_finite())) && chunks.remainder().iter().all(|x| x.is_finite())
}

/// A new tensor buffer holding `t`, to be changed in place through [`unique`] (one copy, where
/// building a `Vec` and converting it would copy twice).
fn copy(t: &[f32]) -> Arc<[f32]> {
    Arc::from(t)
}

/// `data` itself when nothing else holds it (an intermediate value the interpreter has handed
/// over), else a copy: a buffer that can be changed in place through [`unique`].
fn owned(mut data: Arc<[f32]>) -> Arc<[f32]> {
    match Arc::get_mut(&mut data) {
        Some(_) => data,
        None => copy(&data),
    }
}

/// `f` applied to every element of `data`, in place when nothing else holds it ([`apply_block`]).
fn map_owned(data: Arc<[f32]>, f: impl Fn(f32) -> f32) -> Arc<[f32]> {
    apply_block(data, |b| each(b, &f))
}

/// The elements of a buffer made by [`copy`] or [`owned`] and not shared yet.
fn unique(data: &mut Arc<[f32]>) -> &mut [f32] {
    Arc::get_mut(data).expect("a buffer just made has one owner")
}

/// `x = f(x)` for every element of `xs`, the loop compiled for AVX2 where the CPU has it (twice
/// the f64 divisions of SSE2 per cycle on this project's machine, for `softmax`, `normalize`,
/// `minmax`, `recip`, `/`) and for the baseline x86-64 otherwise. Each element goes through the
/// same IEEE operations either way (no contraction into fused multiply-adds), so the values are
/// the same.
#[inline(always)]
fn each(xs: &mut [f32], f: impl Fn(f32) -> f32) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { each_avx2(xs, f) };
    }
    xs.iter_mut().for_each(|x| *x = f(*x));
}

/// [`each`]'s loop for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn each_avx2(xs: &mut [f32], f: impl Fn(f32) -> f32) {
    xs.iter_mut().for_each(|x| *x = f(*x));
}

/// `x = f(x, y)` for every element of `xs` and the element of `ys` beside it, as [`each`].
#[inline(always)]
fn each_with(xs: &mut [f32], ys: &[f32], f: impl Fn(f32, f32) -> f32) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { each_with_avx2(xs, ys, f) };
    }
    xs.iter_mut().zip(ys).for_each(|(x, &y)| *x = f(*x, y));
}

/// [`each_with`]'s loop for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn each_with_avx2(xs: &mut [f32], ys: &[f32], f: impl Fn(f32, f32) -> f32) {
    xs.iter_mut().zip(ys).for_each(|(x, &y)| *x = f(*x, y));
}

/// A new buffer of `n` elements, written block by block: `fill(start, block)` writes the
/// elements from `start` on into `block` (at most [`FILL_BLOCK`] of them, a scratch buffer that
/// stays in the first-level cache) before they are moved into place. One pass over memory, where
/// copying a shared operand and then changing the copy in place takes two, and the loops inside
/// `fill` vectorise, where collecting an iterator into an `Arc` writes element by element.
fn fresh(n: usize, mut fill: impl FnMut(usize, &mut [f32])) -> Arc<[f32]> {
    let mut out = Arc::<[f32]>::new_uninit_slice(n);
    let dst = Arc::get_mut(&mut out).expect("a buffer just made has one owner");
    let mut scratch = [0f32; FILL_BLOCK];
    for (b, dst) in dst.chunks_mut(FILL_BLOCK).enumerate() {
        let block = &mut scratch[..dst.len()];
        fill(b * FILL_BLOCK, block);
        dst.iter_mut().zip(block.iter()).for_each(|(o, &v)| {
            o.write(v);
        });
    }
    // SAFETY: the chunks of `dst` cover all of it, and every element of each was written above.
    unsafe { out.assume_init() }
}

/// Elements per block of [`fresh`].
const FILL_BLOCK: usize = 1024;

/// `block` (an element-wise op's loop, in place) applied to `data`: in place when nothing else
/// holds it, else block by block into a new buffer ([`fresh`]); the same values either way.
fn apply_block(mut data: Arc<[f32]>, block: impl Fn(&mut [f32])) -> Arc<[f32]> {
    if let Some(xs) = Arc::get_mut(&mut data) {
        block(xs);
        return data;
    }
    fresh(data.len(), |at, out| {
        out.copy_from_slice(&data[at..at + out.len()]);
        block(out);
    })
}

fn check_finite(t: TensorEntry, what: &str) -> Result<TensorEntry, Invalid> {
    if all_finite(&t.data) {
        Ok(t)
    } else {
        Err(Invalid::new(format!("{what} is not finite (NaN or ±inf)")))
    }
}

fn scalar_finite(v: f64, what: &str) -> Result<f64, Invalid> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Invalid::new(format!("{what} is not finite ({v})")))
    }
}

fn map_entries(x: Value, f: impl Fn(Entry) -> Result<Entry, Invalid>) -> Result<Value, Invalid> {
    match x {
        Value::Number(v) => match f(Entry::Scalar(v))? {
            Entry::Scalar(v) => Ok(Value::Number(v)),
            Entry::Tensor(_) => unreachable!("ops map scalars to scalars"),
        },
        Value::Entries(es) => Ok(Value::Entries(es.into_iter().map(f).collect::<Result<_, _>>()?)),
    }
}

/// What [`reduce_chain`] can compute in one pass over each entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fold {
    Entry(Reduction),
    Whole(Aggregation),
}

fn fold(op: OpId) -> Option<Fold> {
    match semantics(op) {
        Semantics::Reduce(r @ (Reduction::Fro | Reduction::Mean | Reduction::L1 | Reduction::Std)) => Some(Fold::Entry(r)),
        Semantics::Aggregate(a) => Some(Fold::Whole(a)),
        _ => None,
    }
}

/// Whole-entry reductions and aggregations that [`reduce_chain`] can compute in one pass.
pub fn fusable_reduction(op: OpId) -> bool {
    fold(op).is_some()
}

/// One element-wise op of a fused chain: its f32 function, whether its results must be checked
/// for overflow, and the text of its expression for messages.
pub struct ChainStep {
    op: OpId,
    f: ElementFn,
    block: BlockFn,
    check: bool,
    what: String,
}

impl ChainStep {
    /// The step for an element-wise op; `what` names its expression.
    pub fn new(op: OpId, what: String) -> Self {
        let Semantics::Elementwise(p) = semantics(op) else { panic!("only element-wise ops are chained") };
        ChainStep { op, f: p.element, block: p.block, check: p.may_overflow, what }
    }
}

/// `chain` (innermost first) applied to one element, or the index of the step whose result was
/// not finite.
#[inline]
fn apply_chain(chain: &[ChainStep], x: f32) -> Result<f32, usize> {
    let mut y = x;
    for (k, step) in chain.iter().enumerate() {
        y = (step.f)(y);
        if step.check && !y.is_finite() {
            return Err(k);
        }
    }
    Ok(y)
}

/// How many sums run side by side: the entries of [`sum_chains`], the rows of [`row_sums`].
const SUM_LANES: usize = 4;

/// For each slice `ts[j]`, `Σ g(j, chain(x))` over its elements in [`sum_by`]'s order, or the
/// index of the step whose result was not finite first (element by element, step by step).
///
/// Each sum is still one running f64 sum from the first element to the last, so its value is
/// that of [`sum_by`] over the chain's results; what changes is that the sums of four slices
/// advance together, element `i` of each in turn, so that four additions are in flight where
/// one sum alone waits for each addition before the next (the loop is bound by the latency of
/// f64 addition). Each of the four lanes takes the next slice, longest first, as soon as its
/// slice is done, so the lanes stay full until the last few (short) slices.
///
/// The chain runs block by block, each step over the whole block (its inlined loop,
/// [`Pointwise::block`]), into a buffer the sum then reads: the values are those of the chain
/// applied op by op. A block where a checked step gives a non-finite value is gone through
/// again element by element, which finds the first element where a step overflows and that
/// step, as element-by-element evaluation does; that slice's sum stops there. With no chain
/// the sums read the slices themselves.
fn sum_chains(ts: &[&[f32]], chain: &[ChainStep], g: impl Fn(usize, f32) -> f64) -> Vec<Result<f64, usize>> {
    const BLOCK: usize = 1024;
    let mut results: Vec<Result<f64, usize>> = vec![Ok(0.0); ts.len()];
    let mut queue: Vec<usize> = (0..ts.len()).collect();
    queue.sort_by_key(|&j| std::cmp::Reverse(ts[j].len()));
    let mut queue = queue.into_iter();
    let mut next = |results: &mut Vec<Result<f64, usize>>| loop {
        let j = queue.next()?;
        if !ts[j].is_empty() {
            return Some(SumLane { j, at: 0, total: 0.0 });
        }
        results[j] = Ok(0.0);
    };
    let mut lanes: [Option<SumLane>; SUM_LANES] = std::array::from_fn(|_| next(&mut results));
    let mut bufs = [[0f32; BLOCK]; SUM_LANES];
    while lanes.iter().any(Option::is_some) {
        // The next block of each running lane, after the chain; the running lanes packed
        // first to last in `running`, `blocks`, `js` and `totals`.
        let mut running = [0usize; SUM_LANES];
        let mut blocks: [&[f32]; SUM_LANES] = [&[]; SUM_LANES];
        let mut js = [0usize; SUM_LANES];
        let mut totals = [0f64; SUM_LANES];
        let mut count = 0;
        for (k, (lane, buf)) in lanes.iter_mut().zip(bufs.iter_mut()).enumerate() {
            let Some(l) = lane else { continue };
            let t = ts[l.j];
            let block = &t[l.at..t.len().min(l.at + BLOCK)];
            l.at += block.len();
            if !chain.is_empty() {
                let out = &mut buf[..block.len()];
                out.copy_from_slice(block);
                let mut overflowed = false;
                for step in chain {
                    (step.block)(out);
                    if step.check && !all_finite(out) {
                        overflowed = true;
                        break;
                    }
                }
                if overflowed {
                    let step = block.iter().find_map(|&v| apply_chain(chain, v).err()).expect("a non-finite value comes from some element");
                    results[l.j] = Err(step);
                    *lane = None;
                    continue;
                }
                blocks[count] = out;
            } else {
                blocks[count] = block;
            }
            (running[count], js[count], totals[count]) = (k, l.j, l.total);
            count += 1;
        }
        let common = match count {
            4 => side_by_side::<4>(&blocks, &js, &mut totals, &g),
            3 => side_by_side::<3>(&blocks, &js, &mut totals, &g),
            2 => side_by_side::<2>(&blocks, &js, &mut totals, &g),
            _ => 0,
        };
        for i in 0..count {
            for &y in &blocks[i][common..] {
                totals[i] += g(js[i], y);
            }
            if let Some(l) = lanes[running[i]].as_mut() {
                l.total = totals[i];
            }
        }
        // Lanes whose slice is done, or stopped at a non-finite value, take the next one.
        for lane in lanes.iter_mut() {
            match lane {
                Some(l) if l.at < ts[l.j].len() => {}
                Some(l) => {
                    results[l.j] = Ok(l.total);
                    *lane = next(&mut results);
                }
                None => *lane = next(&mut results),
            }
        }
    }
    results
}

/// The slice one lane of [`sum_chains`] sums: its index, how far the sum has come, the sum so far.
struct SumLane {
    j: usize,
    at: usize,
    total: f64,
}

/// The running sums `totals[..L]` of the first `L` lanes advanced together over their blocks'
/// common length, element `i` of each lane in turn (`js[l]`, lane `l`'s slice, for `g`);
/// returns that length.
#[inline(always)]
fn side_by_side<const L: usize>(blocks: &[&[f32]], js: &[usize], totals: &mut [f64], g: &impl Fn(usize, f32) -> f64) -> usize {
    let common = blocks[..L].iter().map(|b| b.len()).min().unwrap_or(0);
    let b: [&[f32]; L] = std::array::from_fn(|l| &blocks[l][..common]);
    let j: [usize; L] = std::array::from_fn(|l| js[l]);
    let mut t: [f64; L] = std::array::from_fn(|l| totals[l]);
    for i in 0..common {
        for l in 0..L {
            t[l] += g(j[l], b[l][i]);
        }
    }
    totals[..L].copy_from_slice(&t);
    common
}

/// Why [`fold_entries`] has no value for an entry.
#[derive(Clone, Copy, Debug)]
enum FoldError {
    /// The entry has no elements.
    Empty,
    /// `std` of an entry with one element.
    TooFew,
    /// This step of the chain gave a non-finite value.
    Overflow(usize),
}

impl FoldError {
    /// The reason, as [`reduce_chain`] of `how` over `chain` says it (`what` names the
    /// expression).
    fn invalid(self, how: Fold, chain: &[ChainStep], what: &str) -> Invalid {
        match self {
            FoldError::Empty if how == Fold::Whole(Aggregation::Avg) => Invalid::new(format!("{what}: an entry has no elements")),
            FoldError::Empty => Invalid::new("an entry has no elements"),
            FoldError::TooFew => Invalid::new("std of an entry with fewer than two elements"),
            FoldError::Overflow(k) => Invalid::new(format!("{} is not finite (NaN or ±inf)", chain[k].what)),
        }
    }
}

/// `how` of `chain(x)` for each slice (for an aggregation, the entry's share: its sum, or its
/// mean for `avg`), in slice order; see [`sum_chains`] for the order of the sums. `std` takes two
/// passes, for the mean and then the squared deviations from it.
fn fold_entries(how: Fold, ts: &[&[f32]], chain: &[ChainStep]) -> Vec<Result<f64, FoldError>> {
    let n = |j: usize| ts[j].len() as f64;
    let sums = match how {
        Fold::Entry(Reduction::Fro) => sum_chains(ts, chain, |_, y| (y as f64) * (y as f64)),
        Fold::Entry(Reduction::L1) => sum_chains(ts, chain, |_, y| (y as f64).abs()),
        Fold::Entry(Reduction::Mean | Reduction::Std) | Fold::Whole(_) => sum_chains(ts, chain, |_, y| y as f64),
        Fold::Entry(Reduction::Numel | Reduction::Nuc | Reduction::Logdet) => unreachable!("not folded (see `fold`)"),
    };
    let deviations = if how == Fold::Entry(Reduction::Std) {
        let means: Vec<f64> = sums.iter().enumerate().map(|(j, s)| s.as_ref().map_or(f64::NAN, |s| s / n(j))).collect();
        sum_chains(ts, chain, |j, y| (y as f64 - means[j]).powi(2))
    } else {
        vec![]
    };
    (0..ts.len())
        .map(|j| {
            if ts[j].is_empty() && how != Fold::Whole(Aggregation::Sum) {
                return Err(FoldError::Empty);
            }
            if how == Fold::Entry(Reduction::Std) && ts[j].len() < 2 {
                return Err(FoldError::TooFew);
            }
            let sum = sums[j].map_err(FoldError::Overflow)?;
            Ok(match how {
                Fold::Entry(Reduction::Fro) => sum.sqrt(),
                Fold::Entry(Reduction::Mean | Reduction::L1) | Fold::Whole(Aggregation::Avg) => sum / n(j),
                Fold::Whole(Aggregation::Sum) => sum,
                Fold::Entry(Reduction::Std) => (deviations[j].map_err(FoldError::Overflow)? / (n(j) - 1.0)).sqrt(),
                Fold::Entry(Reduction::Numel | Reduction::Nuc | Reduction::Logdet) => unreachable!("not folded (see `fold`)"),
            })
        })
        .collect()
}

/// `op(chain(x))` for a whole-entry reduction or an aggregation `op`, in one pass per entry (two
/// for `std`): the same values as applying the chain op by op and then `op`.
pub fn reduce_chain(op: OpId, x: Value, chain: &[ChainStep], what: &str) -> Result<Value, Invalid> {
    let Some(how) = fold(op) else { return Err(Invalid::new(format!("{what}: not a one-pass reduction"))) };
    // Numbers and scalar entries (rare: the chain follows a reduction) take the ordinary path,
    // op by op, in f64.
    let entries = match x {
        Value::Entries(es) if es.iter().all(|e| matches!(e, Entry::Tensor(_))) => es,
        other => {
            let mut v = other;
            for step in chain {
                v = apply_unary(step.op, v, None, &step.what)?;
            }
            return apply_unary(op, v, None, what);
        }
    };
    let slices: Vec<&[f32]> = entries.iter().map(|e| match e { Entry::Tensor(t) => &t.data[..], Entry::Scalar(_) => unreachable!("checked above") }).collect();
    let per_entry = fold_entries(how, &slices, chain)
        .into_iter()
        .map(|v| v.map_err(|e| e.invalid(how, chain, what)))
        .collect::<Result<Vec<f64>, Invalid>>()?;
    match how {
        Fold::Whole(a) => {
            if per_entry.is_empty() {
                return Err(Invalid::new(format!("{what}: the input has no entries on this architecture")));
            }
            let total: f64 = per_entry.iter().sum();
            scalar_finite(if a == Aggregation::Avg { total / per_entry.len() as f64 } else { total }, what).map(Value::Number)
        }
        Fold::Entry(_) => Ok(Value::Entries(per_entry.into_iter().map(|v| scalar_finite(v, what).map(Entry::Scalar)).collect::<Result<_, _>>()?)),
    }
}

/// Applies a one-argument op (`axis` for `amax`/`asum`). `what` names the expression in messages.
pub fn apply_unary(op: OpId, x: Value, axis: Option<i64>, what: &str) -> Result<Value, Invalid> {
    match semantics(op) {
        Semantics::Elementwise(p) => map_entries(x, |e| match e {
            Entry::Scalar(v) => Ok(Entry::Scalar((p.scalar)(v))),
            Entry::Tensor(t) => {
                let out = TensorEntry { data: apply_block(t.data, p.block), shape: t.shape };
                Ok(Entry::Tensor(if p.may_overflow { check_finite(out, what)? } else { out }))
            }
        }),
        Semantics::Distribution(d) => distributions(d, x),
        // Tensor entries of a one-pass reduction: an empty chain, their sums side by side.
        Semantics::Reduce(_) if fold(op).is_some() && matches!(&x, Value::Entries(es) if es.iter().all(|e| matches!(e, Entry::Tensor(_)))) => {
            reduce_chain(op, x, &[], what)
        }
        Semantics::Reduce(r) => map_entries(x, |e| match e {
            Entry::Tensor(t) => Ok(Entry::Scalar(scalar_finite(reduce(r, &t)?, what)?)),
            Entry::Scalar(_) => Err(Invalid::new(format!("{what}: this op needs entries with axes, not scalars"))),
        }),
        Semantics::AxisReduce(a) => {
            let axis = axis.ok_or_else(|| Invalid::new(format!("{what}: missing axis")))?;
            map_entries(x, |e| match e {
                Entry::Tensor(t) => reduce_axis(a, t, axis, what),
                Entry::Scalar(_) => Err(Invalid::new(format!("{what}: a scalar has no axis to reduce"))),
            })
        }
        Semantics::Aggregate(a) => aggregate(a, x, what).map(Value::Number),
        Semantics::MatrixProduct => Err(Invalid::new(format!("{what}: not a one-argument op"))),
        Semantics::Matrix(m) => map_entries(x, |e| match e {
            Entry::Tensor(t) => super::linalg::matrix_map(m, &t).map(Entry::Tensor).map_err(|r| Invalid::new(format!("{what}: {}", r.reason))),
            Entry::Scalar(_) => Err(Invalid::new(format!("{what}: a scalar is not a matrix"))),
        }),
        Semantics::Components => {
            let percent = axis.ok_or_else(|| Invalid::new(format!("{what}: missing percentage")))?;
            map_entries(x, |e| match e {
                Entry::Tensor(t) => super::linalg::pca_dim(&t, percent as f64 / 100.0).map(|k| Entry::Scalar(k as f64)).map_err(|r| Invalid::new(format!("{what}: {}", r.reason))),
                Entry::Scalar(_) => Err(Invalid::new(format!("{what}: a scalar has no samples and features"))),
            })
        }
    }
}

/// `op` over each entry of `x`. For `normalize`, the statistics of the tensor entries (each
/// one's sum, then the sum of its squared deviations from its mean) are summed four entries side
/// by side ([`sum_chains`]), each sum in the order of one entry alone, so the values are those of
/// [`distribution`] entry by entry.
fn distributions(op: Normalizer, x: Value) -> Result<Value, Invalid> {
    let es = match x {
        Value::Entries(es) if op == Normalizer::Normalize => es,
        other => return map_entries(other, |e| distribution(op, e, None)),
    };
    let summed = |e: &Entry| matches!(e, Entry::Tensor(t) if t.numel() >= 2);
    let stats: Vec<Option<(f64, f64)>> = {
        let slices: Vec<&[f32]> = es.iter().filter_map(|e| if let Entry::Tensor(t) = e { summed(e).then_some(&t.data[..]) } else { None }).collect();
        let means: Vec<f64> = sum_chains(&slices, &[], |_, y| y as f64).iter().zip(&slices).map(|(s, t)| s.map_or(f64::NAN, |s| s / t.len() as f64)).collect();
        let squares = sum_chains(&slices, &[], |j, y| (y as f64 - means[j]).powi(2));
        means.iter().zip(squares).map(|(&m, q)| q.ok().map(|q| (m, q))).collect()
    };
    let mut stats = stats.into_iter();
    let out = es.into_iter().map(|e| {
        let st = if summed(&e) { stats.next().flatten() } else { None };
        distribution(op, e, st)
    });
    Ok(Value::Entries(out.collect::<Result<_, _>>()?))
}

/// `softmax`, `logsoftmax`, `minmax`, `normalize` of one entry; `stats`, for `normalize` of a
/// tensor entry, its mean and the sum of its squared deviations from it when they have been
/// summed already ([`distributions`]).
fn distribution(op: Normalizer, e: Entry, stats: Option<(f64, f64)>) -> Result<Entry, Invalid> {
    let t = match e {
        // The distribution of a single value: softmax 1, the others 0.
        Entry::Scalar(v) if v.is_nan() => return Ok(Entry::Scalar(v)),
        Entry::Scalar(_) => return Ok(Entry::Scalar(if op == Normalizer::Softmax { 1.0 } else { 0.0 })),
        Entry::Tensor(t) => t,
    };
    let n = t.numel();
    let TensorEntry { data: x, shape } = t;
    let data: Arc<[f32]> = match op {
        Normalizer::Softmax | Normalizer::Logsoftmax => {
            let last = *shape.last().unwrap_or(&1);
            if last == 0 || n == 0 {
                return Ok(Entry::Tensor(TensorEntry { data: x, shape }));
            }
            let mut data = owned(x);
            let mut exps = vec![];
            // Four rows at a time, so that their four sums advance side by side (each still
            // one running sum along its row).
            for rows in unique(&mut data).chunks_mut(SUM_LANES * last) {
                let mut maxes = [0f32; SUM_LANES];
                for (m, row) in maxes.iter_mut().zip(rows.chunks(last)) {
                    *m = row_max(row);
                }
                // e = exp(x − max) in f32 (each element once), their sums in f64.
                if op == Normalizer::Softmax {
                    for (row, &m) in rows.chunks_mut(last).zip(&maxes) {
                        each(row, |v| v - m);
                    }
                    libm32::exp_in_place(rows);
                    let totals = row_sums(rows, last);
                    for (row, &total) in rows.chunks_mut(last).zip(&totals) {
                        each(row, |e| (e as f64 / total) as f32);
                    }
                } else {
                    exps.clear();
                    for (row, &m) in rows.chunks(last).zip(&maxes) {
                        exps.extend(row.iter().map(|v| v - m));
                    }
                    libm32::exp_in_place(&mut exps);
                    let totals = row_sums(&exps, last);
                    for ((row, &m), &total) in rows.chunks_mut(last).zip(&maxes).zip(&totals) {
                        let lse = total.ln();
                        each(row, |v| ((v - m) as f64 - lse) as f32);
                    }
                }
            }
            data
        }
        Normalizer::Minmax => {
            if n == 0 {
                return Ok(Entry::Tensor(TensorEntry { data: x, shape }));
            }
            let lo = x.iter().copied().fold(f32::INFINITY, f32::min) as f64;
            let hi = x.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            if hi - lo <= EPSILON {
                vec![0.0; n].into()
            } else {
                map_owned(x, |v| ((v as f64 - lo) / (hi - lo)) as f32)
            }
        }
        Normalizer::Normalize => {
            // (x − mean) / std, std unbiased, in f64.
            if n < 2 {
                vec![0.0; n].into()
            } else {
                let (mean, squares) = stats.unwrap_or_else(|| {
                    let mean = sum_f64(&x) / n as f64;
                    (mean, sum_by(&x, |v| (v as f64 - mean).powi(2)))
                });
                let var = squares / (n as f64 - 1.0);
                let std = var.sqrt();
                if std <= EPSILON || !std.is_finite() {
                    vec![0.0; n].into()
                } else {
                    map_owned(x, |v| ((v as f64 - mean) / std) as f32)
                }
            }
        }
    };
    Ok(Entry::Tensor(TensorEntry { data, shape }))
}

/// The f64 sums of the rows of `rows` (`width` elements each, at most [`SUM_LANES`] rows),
/// each in [`sum_by`]'s order: one running sum from the row's first element to its last. A full
/// group of rows advances side by side ([`side_by_side`]), so that four additions are in flight
/// instead of one; the values are the same.
fn row_sums(rows: &[f32], width: usize) -> [f64; SUM_LANES] {
    let mut totals = [0f64; SUM_LANES];
    if width == 0 {
        return totals;
    }
    if rows.len() == SUM_LANES * width {
        let each_row: [&[f32]; SUM_LANES] = std::array::from_fn(|r| &rows[r * width..(r + 1) * width]);
        side_by_side::<SUM_LANES>(&each_row, &[0; SUM_LANES], &mut totals, &|_, y| y as f64);
        return totals;
    }
    for (total, row) in totals.iter_mut().zip(rows.chunks(width)) {
        *total = sum_f64(row);
    }
    totals
}

/// The largest element of a row, NaN if it holds one (the last NaN, as a fold from −inf that
/// takes each element greater than the running maximum, or NaN, gives); of equal elements the
/// first. Rows without NaN and with a non-zero maximum, nearly all, are gone through sixteen
/// lanes at a time, which finds the same value (non-zero floats that compare equal have the same
/// bits); the others take the fold itself.
fn row_max(row: &[f32]) -> f32 {
    let fold = |row: &[f32]| row.iter().copied().fold(f32::NEG_INFINITY, |a, b| if b.is_nan() || b > a { b } else { a });
    const LANES: usize = 16;
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let mut nan = false;
    let mut chunks = row.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (m, &x) in lanes.iter_mut().zip(chunk) {
            nan |= x.is_nan();
            *m = if x > *m { x } else { *m };
        }
    }
    let m = lanes.iter().copied().fold(fold(chunks.remainder()), |a, b| if b > a { b } else { a });
    if nan || m.is_nan() || m == 0.0 {
        fold(row)
    } else {
        m
    }
}

/// A whole-entry reduction, in f64.
fn reduce(op: Reduction, t: &TensorEntry) -> Result<f64, Invalid> {
    let n = t.numel();
    if n == 0 && op != Reduction::Numel {
        return Err(Invalid::new("an entry has no elements"));
    }
    Ok(match op {
        Reduction::Fro | Reduction::Mean | Reduction::L1 | Reduction::Std => {
            let how = Fold::Entry(op);
            let mut folded = fold_entries(how, &[&t.data[..]], &[]);
            folded.pop().expect("one value per slice").map_err(|e| e.invalid(how, &[], ""))?
        }
        Reduction::Numel => n as f64,
        Reduction::Nuc => nuclear_norm(t)?,
        Reduction::Logdet => super::linalg::log_abs_det(t)?,
    })
}

/// The sum of singular values of a matrix entry: the square roots of the eigenvalues of the
/// smaller Gram matrix (`X Xᵀ` or `Xᵀ X`, in f64), from a symmetric eigensolver. Tiny negative
/// eigenvalues from rounding count as 0. Only the eigenvalues are computed: nalgebra's
/// eigenvalue-only path runs the same tridiagonalisation and the same shifted QR steps as the
/// full decomposition, without assembling and rotating the eigenvector matrix (most of the
/// full decomposition's work), so the values are the full decomposition's, bit for bit.
fn nuclear_norm(t: &TensorEntry) -> Result<f64, Invalid> {
    let [rows, cols] = t.shape[..] else {
        return Err(Invalid::new("nuc needs a matrix"));
    };
    if !all_finite(&t.data) {
        return Err(Invalid::new("nuc of a matrix with non-finite values"));
    }
    let x = nalgebra::DMatrix::from_row_iterator(rows, cols, t.data.iter().map(|&v| v as f64));
    let gram = if rows <= cols { &x * x.transpose() } else { x.transpose() * &x };
    Ok(gram.symmetric_eigenvalues().iter().map(|&l| l.max(0.0).sqrt()).sum())
}

/// `amax`/`asum` along one axis of an entry.
fn reduce_axis(op: AxisReduction, t: TensorEntry, axis: i64, what: &str) -> Result<Entry, Invalid> {
    let rank = t.shape.len() as i64;
    if axis < -rank || axis >= rank {
        return Err(Invalid::new(format!("{what}: axis {axis} is out of range for shape {:?}", t.shape)));
    }
    let k = if axis < 0 { rank + axis } else { axis } as usize;
    let pre: usize = t.shape[..k].iter().product();
    let len = t.shape[k];
    let post: usize = t.shape[k + 1..].iter().product();
    if len == 0 {
        return Err(Invalid::new(format!("{what}: axis {axis} is empty")));
    }
    let x = &t.data;
    let mut reduced = Vec::with_capacity(pre * post);
    for p in 0..pre {
        for q in 0..post {
            let at = |k: usize| x[(p * len + k) * post + q];
            reduced.push(match op {
                AxisReduction::Max => (1..len).map(at).fold(at(0), |a, b| if b.is_nan() || b > a { b } else { a }),
                AxisReduction::Sum => (0..len).map(|k| at(k) as f64).sum::<f64>() as f32,
            });
        }
    }
    let mut shape = t.shape;
    shape.remove(k);
    if shape.is_empty() {
        return Ok(Entry::Scalar(scalar_finite(reduced[0] as f64, what)?));
    }
    let out = TensorEntry { data: reduced.into(), shape };
    Ok(Entry::Tensor(if op == AxisReduction::Sum { check_finite(out, what)? } else { out }))
}

/// `sum` and `avg` of a whole value.
fn aggregate(op: Aggregation, x: Value, what: &str) -> Result<f64, Invalid> {
    let entries = match x {
        Value::Number(v) => return Ok(v),
        Value::Entries(es) => es,
    };
    if entries.is_empty() {
        return Err(Invalid::new(format!("{what}: the input has no entries on this architecture")));
    }
    let n = entries.len() as f64;
    let slices: Vec<&[f32]> = entries.iter().filter_map(|e| if let Entry::Tensor(t) = e { Some(&t.data[..]) } else { None }).collect();
    let mut shares = fold_entries(Fold::Whole(op), &slices, &[]).into_iter();
    let mut total = 0.0;
    for e in &entries {
        total += match e {
            Entry::Scalar(v) => *v,
            Entry::Tensor(_) => shares.next().expect("one share per tensor entry").map_err(|e| e.invalid(Fold::Whole(op), &[], what))?,
        };
    }
    let v = if op == Aggregation::Avg { total / n } else { total };
    scalar_finite(v, what)
}

/// Applies `+ - * /` to two scalars.
pub fn scalar_binary(op: BinOp, a: f64, b: f64) -> f64 {
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / (b + EPSILON * sign_plus(b)),
    }
}

/// `+ - * /` of two f32 tensors element by element, in f32 (`/` through the safe reciprocal);
/// one loop per op, so that the compiler can vectorise it.
/// The result goes into whichever operand's buffer nothing else holds, else into a new one.
fn element_binary(op: BinOp, x: Arc<[f32]>, y: Arc<[f32]>) -> Arc<[f32]> {
    fn zip(mut x: Arc<[f32]>, mut y: Arc<[f32]>, f: impl Fn(f32, f32) -> f32) -> Arc<[f32]> {
        if let Some(xs) = Arc::get_mut(&mut x) {
            each_with(xs, &y, f);
            x
        } else if let Some(ys) = Arc::get_mut(&mut y) {
            each_with(ys, &x, |b, a| f(a, b));
            y
        } else {
            fresh(x.len(), |at, out| {
                out.copy_from_slice(&x[at..at + out.len()]);
                each_with(out, &y[at..], &f)
            })
        }
    }
    match op {
        BinOp::Add => zip(x, y, |a, b| a + b),
        BinOp::Sub => zip(x, y, |a, b| a - b),
        BinOp::Mul => zip(x, y, |a, b| a * b),
        BinOp::Div => zip(x, y, |a, b| a * safe_recip32(b)),
    }
}

fn entry_binary(op: BinOp, a: Entry, b: Entry, what: &str) -> Result<Entry, Invalid> {
    let out = match (a, b) {
        (Entry::Scalar(x), Entry::Scalar(y)) => return Ok(Entry::Scalar(scalar_binary(op, x, y))),
        (Entry::Tensor(t), Entry::Scalar(s)) => TensorEntry { data: map_owned(t.data, |x| scalar_binary(op, x as f64, s) as f32), shape: t.shape },
        (Entry::Scalar(s), Entry::Tensor(t)) => TensorEntry { data: map_owned(t.data, |x| scalar_binary(op, s, x as f64) as f32), shape: t.shape },
        (Entry::Tensor(x), Entry::Tensor(y)) => {
            if x.shape != y.shape {
                return Err(Invalid::new(format!("{what}: entries of shapes {:?} and {:?} cannot be combined", x.shape, y.shape)));
            }
            TensorEntry { data: element_binary(op, x.data, y.data), shape: x.shape }
        }
    };
    Ok(Entry::Tensor(check_finite(out, what)?))
}

/// Applies `+ - * /` to two values: aligned entries pairwise, one number broadcast.
pub fn apply_binary(op: BinOp, a: Value, b: Value, what: &str) -> Result<Value, Invalid> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => Ok(Value::Number(scalar_binary(op, x, y))),
        (Value::Entries(es), Value::Number(y)) => {
            Ok(Value::Entries(es.into_iter().map(|e| entry_binary(op, e, Entry::Scalar(y), what)).collect::<Result<_, _>>()?))
        }
        (Value::Number(x), Value::Entries(es)) => {
            Ok(Value::Entries(es.into_iter().map(|e| entry_binary(op, Entry::Scalar(x), e, what)).collect::<Result<_, _>>()?))
        }
        (Value::Entries(xs), Value::Entries(ys)) => {
            if xs.len() != ys.len() {
                return Err(Invalid::new(format!("{what}: {} entries cannot be paired with {}", xs.len(), ys.len())));
            }
            Ok(Value::Entries(
                xs.into_iter().zip(ys).map(|(x, y)| entry_binary(op, x, y, what)).collect::<Result<_, _>>()?,
            ))
        }
    }
}

/// `matmul` of two values with aligned matrix entries.
pub fn apply_matmul(a: Value, b: Value, what: &str) -> Result<Value, Invalid> {
    let (Value::Entries(xs), Value::Entries(ys)) = (a, b) else {
        return Err(Invalid::new(format!("{what}: matmul needs matrix entries")));
    };
    if xs.len() != ys.len() {
        return Err(Invalid::new(format!("{what}: {} entries cannot be paired with {}", xs.len(), ys.len())));
    }
    let mut out = vec![];
    for (x, y) in xs.into_iter().zip(ys) {
        let (Entry::Tensor(x), Entry::Tensor(y)) = (x, y) else {
            return Err(Invalid::new(format!("{what}: matmul needs matrix entries")));
        };
        let (&[m, k1], &[k2, n]) = (&x.shape[..], &y.shape[..]) else {
            return Err(Invalid::new(format!("{what}: matmul needs matrix entries")));
        };
        if k1 != k2 {
            return Err(Invalid::new(format!("{what}: inner sizes differ ({m}×{k1} times {k2}×{n})")));
        }
        let a = nalgebra::DMatrix::from_row_iterator(m, k1, x.data.iter().map(|&v| v as f64));
        let b = nalgebra::DMatrix::from_row_iterator(k2, n, y.data.iter().map(|&v| v as f64));
        let p = a * b;
        let data: Arc<[f32]> = (0..m).flat_map(|i| (0..n).map(move |j| (i, j))).map(|(i, j)| p[(i, j)] as f32).collect();
        out.push(Entry::Tensor(check_finite(TensorEntry { data, shape: vec![m, n] }, what)?));
    }
    Ok(Value::Entries(out))
}
