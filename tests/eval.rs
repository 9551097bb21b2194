//! The interpreter and op semantics against values computed independently in f64 here.

use lpzero::eval::{Interpreter, Invalid, ProxyInputs, TensorEntry};
use lpzero::lang::table::InputId;
use lpzero::lang::{check_proxy, diagnostic::code, parse_expr, Env, Proxy};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const EPS: f64 = 1e-9;

fn entry(shape: &[usize], values: &[f64]) -> TensorEntry {
    let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
    TensorEntry::from_f32(shape, &v).unwrap()
}

/// The f32 value the tensors actually hold, in f64.
fn f32v(values: &[f64]) -> Vec<f64> {
    values.iter().map(|&x| x as f32 as f64).collect()
}

/// One weight matrix [2, 3] with a zero, negatives, a single large value.
const W0: [f64; 6] = [-2.0, 0.0, 1.0, 3.0, -0.5, 100.0];

fn inputs_w(values: &[f64]) -> ProxyInputs {
    let mut inputs = ProxyInputs::new();
    inputs.insert(InputId::W, vec![entry(&[2, 3], values)]).unwrap();
    inputs
}

fn score(src: &str, inputs: &ProxyInputs) -> Result<f64, Invalid> {
    let proxy = Proxy::parse(src).unwrap_or_else(|d| panic!("{src}: {d:?}"));
    Interpreter::new(inputs).score(&proxy.typed)
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(1e-12)
}

#[track_caller]
fn assert_score(src: &str, inputs: &ProxyInputs, want: f64) {
    let got = score(src, inputs).unwrap_or_else(|e| panic!("{src}: invalid: {e}"));
    assert!(close(got, want, 1e-5), "{src}: got {got}, want {want}");
}

#[test]
fn elementwise_ops_with_zeros_negatives_and_large_values() {
    let x = f32v(&W0);
    let inputs = inputs_w(&W0);
    let sum = |f: &dyn Fn(f64) -> f64| x.iter().map(|&v| f(v)).sum::<f64>();
    assert_score("sum(log(W))", &inputs, sum(&|v| v.max(EPS).ln()));
    assert_score("sum(abslog(W))", &inputs, sum(&|v| v.abs().max(EPS).ln()));
    assert_score("sum(abs(W))", &inputs, sum(&|v| v.abs()));
    assert_score("sum(sq(W))", &inputs, sum(&|v| v * v));
    assert_score("sum(relu(W))", &inputs, sum(&|v| v.max(0.0)));
    assert_score("sum(sqrt(W))", &inputs, sum(&|v| v.max(0.0).sqrt()));
    assert_score("sum(neg(W))", &inputs, sum(&|v| -v));
    assert_score("sum(-W)", &inputs, sum(&|v| -v));
    assert_score("sum(id(W))", &inputs, sum(&|v| v));
    assert_score("sum(step(W))", &inputs, 3.0);
    assert_score("sum(sigmoid(W))", &inputs, sum(&|v| 1.0 / (1.0 + (-v).exp())));
    // recip: 1/(x + ε·sign(x)), sign(0) = +1, so recip(0) = 1e9.
    assert_score("sum(recip(W))", &inputs, sum(&|v| 1.0 / (v + EPS * if v < 0.0 { -1.0 } else { 1.0 })));
    // exp(100) overflows f32: the proxy is invalid, and says why.
    let err = score("sum(exp(W))", &inputs).unwrap_err();
    assert!(err.reason.contains("not finite"), "{err}");
    let small = inputs_w(&[-2.0, 0.0, 1.0, 3.0, -0.5, 10.0]);
    assert_score("sum(exp(W))", &small, f32v(&[-2.0, 0.0, 1.0, 3.0, -0.5, 10.0]).iter().map(|v| v.exp()).sum());
}

#[test]
fn softmax_runs_along_the_last_axis() {
    let x = f32v(&W0);
    let inputs = inputs_w(&W0);
    // Each row of [2, 3] sums to 1, so the whole sums to 2 (not 1 over all elements, not 3 along axis 0).
    assert_score("sum(softmax(W))", &inputs, 2.0);
    let mut want = 0.0;
    let mut want_log = 0.0;
    for row in x.chunks(3) {
        let m = row.iter().cloned().fold(f64::MIN, f64::max);
        let z: f64 = row.iter().map(|v| (v - m).exp()).sum();
        want += row.iter().map(|v| ((v - m).exp() / z).powi(2)).sum::<f64>();
        want_log += row.iter().map(|v| v - m - z.ln()).sum::<f64>();
    }
    assert_score("sum(sq(softmax(W)))", &inputs, want);
    assert_score("sum(logsoftmax(W))", &inputs, want_log);
}

#[test]
fn distribution_ops_work_on_all_elements_of_an_entry() {
    let x = f32v(&W0);
    let inputs = inputs_w(&W0);
    let (lo, hi) = (-2.0, 100.0);
    assert_score("sum(sq(minmax(W)))", &inputs, x.iter().map(|v| ((v - lo) / (hi - lo)).powi(2)).sum());
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let std = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    assert_score("sum(sq(normalize(W)))", &inputs, x.iter().map(|v| ((v - mean) / std).powi(2)).sum());
    assert_score("sum(std(W))", &inputs, std);
    // Constant entries: minmax and normalize give zeros rather than dividing by 0.
    let flat = inputs_w(&[3.0; 6]);
    assert_score("sum(minmax(W)) + 1", &flat, 1.0);
    assert_score("sum(normalize(W)) + 1", &flat, 1.0);
    // On a scalar: softmax 1, logsoftmax, minmax and normalize 0.
    assert_score("sum(softmax(fro(W)))", &inputs, 1.0);
    assert_score("sum(logsoftmax(fro(W))) + 5", &inputs, 5.0);
    assert_score("sum(minmax(fro(W))) + sum(normalize(fro(W))) + 5", &inputs, 5.0);
}

#[test]
fn reductions_accumulate_over_the_entry() {
    let x = f32v(&W0);
    let inputs = inputs_w(&W0);
    let n = x.len() as f64;
    assert_score("sum(fro(W))", &inputs, x.iter().map(|v| v * v).sum::<f64>().sqrt());
    assert_score("sum(mean(W))", &inputs, x.iter().sum::<f64>() / n);
    assert_score("sum(normsum(W))", &inputs, x.iter().sum::<f64>() / n);
    assert_score("sum(l1(W))", &inputs, x.iter().map(|v| v.abs()).sum::<f64>() / n);
    assert_score("sum(numel(W))", &inputs, 6.0);
    // Nuclear norm of a 2×3 matrix: singular values are the square roots of the eigenvalues of
    // the 2×2 matrix M = W Wᵀ, which have a closed form.
    let (r0, r1) = (&x[0..3], &x[3..6]);
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
    let (a, b, d) = (dot(r0, r0), dot(r0, r1), dot(r1, r1));
    let tr = a + d;
    let disc = ((a - d).powi(2) + 4.0 * b * b).sqrt();
    let nuc = ((tr + disc) / 2.0).sqrt() + ((tr - disc) / 2.0).max(0.0).sqrt();
    assert_score("sum(nuc(W))", &inputs, nuc);
    // Axis reductions: [2, 3] → max over axis 0 is [3, 0, 100]; over the last axis [1, 100].
    assert_score("sum(amax(W, 0))", &inputs, 103.0);
    assert_score("sum(amax(W, -1))", &inputs, 101.0);
    assert_score("sum(sq(asum(W, 1)))", &inputs, (x[0] + x[1] + x[2]).powi(2) + (x[3] + x[4] + x[5]).powi(2));
    assert_score("sum(sq(asum(W, 0)))", &inputs, (0..3).map(|j| (x[j] + x[j + 3]).powi(2)).sum());
}

/// `nuc` on matrices larger than a closed form allows, wide and tall: the sum of the full
/// symmetric eigendecomposition's square-rooted eigenvalues of the smaller Gram matrix, bit for
/// bit (nuc computes the eigenvalues alone, which must not move them), and an SVD's singular
/// values (another algorithm) to 1e-10.
#[test]
fn nuclear_norms_equal_the_full_eigendecomposition_and_an_svd() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for (rows, cols) in [(37, 70), (90, 31), (48, 48), (1, 9), (12, 1)] {
        let data: Vec<f32> = (0..rows * cols).map(|_| rng.random_range(-0.5f32..0.5)).collect();
        let mut inputs = ProxyInputs::new();
        inputs.insert(InputId::W, vec![TensorEntry::from_f32(&[rows, cols], &data).unwrap()]).unwrap();
        let got = score("sum(nuc(W))", &inputs).unwrap();
        let x = nalgebra::DMatrix::from_row_iterator(rows, cols, data.iter().map(|&v| v as f64));
        let gram = if rows <= cols { &x * x.transpose() } else { x.transpose() * &x };
        let full: f64 = nalgebra::SymmetricEigen::new(gram).eigenvalues.iter().map(|&l| l.max(0.0).sqrt()).sum();
        assert_eq!(got.to_bits(), full.to_bits(), "{rows} × {cols}: {got} against the full decomposition's {full}");
        let svd: f64 = x.singular_values().iter().sum();
        assert!(close(got, svd, 1e-10), "{rows} × {cols}: {got} against the SVD's {svd}");
    }
}

#[test]
fn single_element_entries() {
    let mut inputs = ProxyInputs::new();
    inputs.insert(InputId::W, vec![entry(&[1, 1], &[-4.0])]).unwrap();
    assert_score("sum(abs(W))", &inputs, 4.0);
    assert_score("sum(softmax(W))", &inputs, 1.0);
    assert_score("sum(logsoftmax(W)) + 1", &inputs, 1.0);
    assert_score("sum(minmax(W)) + 1", &inputs, 1.0);
    assert_score("sum(normalize(W)) + 1", &inputs, 1.0);
    assert_score("sum(fro(W))", &inputs, 4.0);
    assert_score("sum(nuc(W))", &inputs, 4.0);
    assert_score("sum(amax(W, 0))", &inputs, -4.0);
    assert_score("sum(log(W))", &inputs, EPS.ln());
    assert_score("sum(sqrt(W)) + 1", &inputs, 1.0);
}

#[test]
fn std_of_one_element_is_invalid() {
    let mut inputs = ProxyInputs::new();
    inputs.insert(InputId::W, vec![entry(&[1, 1], &[4.0])]).unwrap();
    let err = score("sum(std(W))", &inputs).unwrap_err();
    assert!(err.reason.contains("fewer than two"), "{err}");
}

#[test]
fn nan_in_an_input_makes_the_proxy_invalid_and_names_the_input() {
    let inputs = inputs_w(&[1.0, f64::NAN, 2.0, 3.0, 4.0, 5.0]);
    let err = score("sum(relu(W))", &inputs).unwrap_err();
    assert!(err.reason.contains("W[0]") && err.reason.contains("NaN"), "{err}");
    // A proxy that does not read W is unaffected.
    assert_score("2 + 3", &inputs, 5.0);
}

#[test]
fn missing_and_empty_inputs_are_invalid() {
    let inputs = inputs_w(&W0);
    assert!(score("sum(fro(G))", &inputs).unwrap_err().reason.contains("G was not gathered"));
    let mut empty = ProxyInputs::new();
    empty.insert(InputId::A, vec![]).unwrap();
    assert!(score("sum(fro(A))", &empty).unwrap_err().reason.contains("no entries"));
}

#[test]
fn binary_ops_and_broadcasting() {
    let x = f32v(&W0);
    let inputs = inputs_w(&W0);
    assert_score("sum(W / 2)", &inputs, x.iter().sum::<f64>() / 2.0);
    assert_score("sum(2 - W)", &inputs, x.iter().map(|v| 2.0 - v).sum());
    assert_score("sum(1 / (abs(W) + 1))", &inputs, x.iter().map(|v| 1.0 / (v.abs() + 1.0)).sum());
    // A per-entry scalar broadcasts over the entry.
    let fro = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    assert_score("sum(W / fro(W))", &inputs, x.iter().sum::<f64>() / fro);
    // Division by an exact zero uses ε: 1 / (0 + ε).
    assert_score("sum(1 / (W - W))", &inputs, 6.0 / EPS);
    assert_score("2 * 3 - 8 / 4", &inputs, 4.0);
}

/// Two linear layers with their gradients, one FFN activation with its gradient, one attention
/// layer: the inputs of the stdlib tests.
fn small_model() -> (ProxyInputs, Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let w = vec![vec![0.5, -1.0, 2.0, 0.25], vec![1.0, -2.0, 0.5, 3.0, -1.5, 0.75]];
    let g = vec![vec![0.1, 0.2, -0.3, 0.05], vec![-0.4, 0.1, 0.0, 0.2, 0.3, -0.1]];
    let mut inputs = ProxyInputs::new();
    inputs.insert(InputId::W, vec![entry(&[2, 2], &w[0]), entry(&[3, 2], &w[1])]).unwrap();
    inputs.insert(InputId::G, vec![entry(&[2, 2], &g[0]), entry(&[3, 2], &g[1])]).unwrap();
    // S: batch 1, 2 heads, 2 queries, 2 keys; each row sums to 1.
    let s = [0.9, 0.1, 0.3, 0.7, 0.5, 0.5, 0.2, 0.8];
    inputs.insert(InputId::S, vec![entry(&[1, 2, 2, 2], &s)]).unwrap();
    (inputs, w.into_iter().map(|v| f32v(&v)).collect(), g.into_iter().map(|v| f32v(&v)).collect())
}

#[test]
fn stdlib_snip_gradnorm_and_attention_confidence_on_hand_built_inputs() {
    let (inputs, w, g) = small_model();
    let snip: f64 = w.iter().zip(&g).flat_map(|(w, g)| w.iter().zip(g).map(|(a, b)| (a * b).abs())).sum();
    let grad_norm: f64 = g.iter().map(|g| g.iter().map(|v| v * v).sum::<f64>().sqrt()).sum();
    let s = f32v(&[0.9, 0.1, 0.3, 0.7, 0.5, 0.5, 0.2, 0.8]);
    let confidence = s.chunks(2).map(|row| row[0].max(row[1])).sum::<f64>() / 4.0;
    for (name, want) in [("snip", snip), ("grad_norm", grad_norm), ("attention_confidence", confidence)] {
        let def = lpzero::lang::stdlib::definitions().into_iter().find(|d| d.name == name).unwrap();
        let got = Interpreter::new(&inputs).score(&def.typed).unwrap();
        assert!(close(got, want, 1e-6), "{name}: got {got}, want {want}");
    }
}

#[test]
fn alignment_pairs_each_gradient_with_its_own_weight() {
    let (inputs, w, g) = small_model();
    // Σ_l Σ w·g, pairing layer l's weight with layer l's gradient.
    let want: f64 = w.iter().zip(&g).map(|(w, g)| w.iter().zip(g).map(|(a, b)| a * b).sum::<f64>()).sum();
    assert_score("sum(G * W)", &inputs, want);
    // Per-layer scalars pair the same way: Σ_l fro(W_l)·fro(G_l).
    let fro = |v: &Vec<f64>| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert_score("sum(fro(W) * fro(G))", &inputs, fro(&w[0]) * fro(&g[0]) + fro(&w[1]) * fro(&g[1]));
    // Entries that do not correspond are rejected before evaluation.
    let err = check_proxy(&parse_expr("sum(S * W)").unwrap(), &Env::new()).unwrap_err();
    assert_eq!(err[0].code, code::MISALIGNED);
}

#[test]
fn avg_is_the_mean_over_entries_of_entry_means() {
    let (inputs, w, _) = small_model();
    let mean = |v: &Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    assert_score("avg(W)", &inputs, (mean(&w[0]) + mean(&w[1])) / 2.0);
    assert_score("sum(W)", &inputs, w.iter().flatten().sum());
}

#[test]
fn inputs_are_not_modified_by_ops() {
    let inputs = inputs_w(&W0);
    let before = inputs.get(InputId::W).unwrap()[0].to_vec();
    for p in ["sum(log(W))", "sum(relu(W))", "sum(softmax(W))", "sum(normalize(W))", "sum(W / (W - W))"] {
        let _ = score(p, &inputs);
    }
    assert_eq!(inputs.get(InputId::W).unwrap()[0].to_vec(), before);
}

#[test]
fn inputs_are_checked_against_the_table() {
    let mut inputs = ProxyInputs::new();
    assert!(inputs.insert(InputId::W, vec![entry(&[6], &W0)]).is_err(), "W entries are matrices");
    inputs.insert(InputId::W, vec![entry(&[2, 3], &W0)]).unwrap();
    assert!(inputs.insert(InputId::G, vec![entry(&[3, 2], &W0)]).is_err(), "G[i] has W[i]'s shape");
    assert!(inputs.insert(InputId::G, vec![entry(&[2, 3], &W0), entry(&[2, 3], &W0)]).is_err(), "one G per W");
    assert!(TensorEntry::from_f32(&[2, 2], &[1.0]).is_err());
}

// ---------------------------------------------------------------------------------------------
// Property tests: memoisation changes nothing, and random trees on random inputs never panic.

fn tree() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![Just("W".to_owned()), Just("G".to_owned()), (1u32..5).prop_map(|n| n.to_string())];
    let unary = prop::sample::select(vec![
        "log", "abslog", "abs", "sq", "exp", "normalize", "relu", "recip", "fro", "normsum", "l1", "softmax", "sigmoid",
        "logsoftmax", "sqrt", "neg", "minmax", "mean", "std", "id", "step", "numel",
    ]);
    leaf.prop_recursive(5, 24, 2, move |inner| {
        prop_oneof![
            (unary.clone(), inner.clone()).prop_map(|(op, x)| format!("{op}({x})")),
            (prop::sample::select(vec!["+", "-", "*", "/"]), inner.clone(), inner.clone())
                .prop_map(|(op, a, b)| format!("({a} {op} {b})")),
            (prop::sample::select(vec!["amax", "asum"]), inner, prop::sample::select(vec![0, 1, -1]))
                .prop_map(|(op, x, k)| format!("{op}({x}, {k})")),
        ]
    })
}

/// Well-typed proxies only: random trees the checker accepts, aggregated.
fn proxy() -> impl Strategy<Value = Proxy> {
    (tree(), prop::bool::ANY).prop_filter_map("ill-typed", |(t, avg)| {
        Proxy::parse(&format!("{}({t})", if avg { "avg" } else { "sum" })).ok()
    })
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => -3.0f64..3.0,
        1 => Just(0.0),
        1 => prop::sample::select(vec![1e30, -1e30, 1e-30, 200.0, f64::NAN, f64::INFINITY]),
    ]
}

fn random_inputs() -> impl Strategy<Value = ProxyInputs> {
    (1usize..3, 1usize..4, 1usize..4).prop_flat_map(|(layers, rows, cols)| {
        prop::collection::vec(value(), 2 * layers * rows * cols).prop_map(move |vals| {
            let mut inputs = ProxyInputs::new();
            let n = rows * cols;
            let make = |k: usize| (0..layers).map(|l| entry(&[rows, cols], &vals[(k * layers + l) * n..][..n])).collect();
            inputs.insert(InputId::W, make(0)).unwrap();
            inputs.insert(InputId::G, make(1)).unwrap();
            inputs
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Also the never-panics property: random well-typed trees on random inputs (NaN, inf,
    /// 1e30, zeros included) give a score or an `Invalid`, never a panic.
    #[test]
    fn memo_gives_the_same_results_as_plain_evaluation_and_nothing_panics(proxies in prop::collection::vec(proxy(), 1..6), inputs in random_inputs()) {
        let mut memo = Interpreter::new(&inputs);
        for p in &proxies {
            let with = memo.score(&p.typed);
            let without = Interpreter::without_memo(&inputs).score(&p.typed);
            match (&with, without) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a.to_bits(), b.to_bits(), "{}", p.text()),
                (Err(a), Err(b)) => prop_assert_eq!(a, &b),
                (a, b) => prop_assert!(false, "{}: memo {:?} vs plain {:?}", p.text(), a, b),
            }
            // Fused reductions of element-wise chains give the op-by-op values bit for bit, and
            // are invalid exactly when op-by-op evaluation is (the reason may name another
            // overflowing step of the chain).
            let op_by_op = Interpreter::without_memo(&inputs).op_by_op().score(&p.typed);
            match (with, op_by_op) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a.to_bits(), b.to_bits(), "{}", p.text()),
                (Err(_), Err(_)) => {}
                (a, b) => prop_assert!(false, "{}: fused {:?} vs op by op {:?}", p.text(), a, b),
            }
        }
    }
}

/// Every op of the registry runs through the interpreter (in the form its kind allows) and gives a
/// finite number on ordinary inputs, and the op semantics implement the kind the registry
/// declares: adding an op to the table without semantics, or with semantics of another kind,
/// fails here (and, for missing semantics, does not compile).
#[test]
fn every_op_of_the_registry_runs_through_the_interpreter() {
    use lpzero::eval::ops::semantics;
    use lpzero::lang::table::{OpKind, OPS};
    let mut inputs = ProxyInputs::new();
    let sq = |seed: f64| entry(&[3, 3], &(0..9).map(|i| ((i as f64 + seed) * 0.37).sin()).collect::<Vec<_>>());
    inputs.insert(InputId::W, vec![sq(1.0), sq(2.0)]).unwrap();
    inputs.insert(InputId::G, vec![sq(3.0), sq(4.0)]).unwrap();
    inputs.insert(InputId::A, vec![entry(&[2, 4, 3], &(0..24).map(|i| (i as f64 * 0.71).sin()).collect::<Vec<_>>())]).unwrap();
    for op in OPS {
        assert_eq!(semantics(op.id).kind(), op.kind, "{}: the semantics are of another kind than the registry says", op.name);
        let n = op.name;
        let text = match op.kind {
            OpKind::Elementwise | OpKind::Distribution | OpKind::Reduce | OpKind::MatrixReduce => format!("sum({n}(W))"),
            OpKind::AxisReduce => format!("sum({n}(W, -1))"),
            OpKind::MatrixMap => format!("sum({n}(W))"),
            OpKind::Components => format!("sum({n}(A, 50))"),
            OpKind::Aggregate => format!("{n}(W)"),
            // No input pair has matching axis names (`[out, in]` times `[out, in]`), so the
            // checker refuses every product of inputs; its semantics run on the values directly.
            OpKind::MatrixProduct => {
                use lpzero::eval::{ops, Entry, Value};
                let entries = |i: InputId| Value::Entries(inputs.get(i).unwrap().iter().cloned().map(Entry::Tensor).collect());
                let v = ops::apply_unary(lpzero::lang::table::OpId::Sum, ops::apply_matmul(entries(InputId::W), entries(InputId::G), n).unwrap(), None, n).unwrap();
                assert!(matches!(v, Value::Number(x) if x.is_finite()), "{n}");
                continue;
            }
        };
        let p = Proxy::parse(&text).unwrap_or_else(|e| panic!("{text}: {:?}", e.0));
        let v = Interpreter::new(&inputs).score(&p.typed).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(v.is_finite(), "{text}: {v}");
    }
}

/// Entries larger than the fused reduction's block (1,024 elements) and not a multiple of eight:
/// fused and op-by-op evaluation agree bit for bit, both agree with an f64 sum written here, and
/// an overflow deep in the entry is reported for the first element where a step overflows,
/// element by element (so the step named is that element's, not the first step to overflow
/// anywhere).
#[test]
fn fused_reductions_over_several_blocks_and_an_overflow_far_in() {
    let (rows, cols) = (37, 83); // 3,071 elements: three blocks, a tail of 7
    let values: Vec<f64> = (0..rows * cols).map(|i| ((i as f64) * 0.173).sin() * (1.0 + (i % 13) as f64)).collect();
    let mut inputs = ProxyInputs::new();
    inputs.insert(InputId::W, vec![entry(&[rows, cols], &values), entry(&[cols, rows], &values)]).unwrap();
    let held = f32v(&values);
    for (src, want) in [
        ("sum(sq(abs(W)))", 2.0 * held.iter().map(|x| x * x).sum::<f64>()),
        ("avg(sqrt(abs(W)))", held.iter().map(|x| (x.abs() as f32).sqrt() as f64).sum::<f64>() / held.len() as f64),
        ("sum(fro(neg(W)))", 2.0 * held.iter().map(|x| x * x).sum::<f64>().sqrt()),
        ("sum(l1(W))", 2.0 * held.iter().map(|x| x.abs()).sum::<f64>() / held.len() as f64),
    ] {
        let proxy = Proxy::parse(src).unwrap();
        let fused = Interpreter::new(&inputs).score(&proxy.typed).unwrap();
        let op_by_op = Interpreter::without_memo(&inputs).op_by_op().score(&proxy.typed).unwrap();
        assert_eq!(fused.to_bits(), op_by_op.to_bits(), "{src}");
        assert!(close(fused, want, 1e-6), "{src}: got {fused}, want {want}");
    }
    // 1e15 at element 1,500 overflows f32 at the second `sq`; 1e30 at 2,500 already at the first.
    let mut big = values.clone();
    big[1500] = 1e15;
    big[2500] = 1e30;
    let mut inputs = ProxyInputs::new();
    inputs.insert(InputId::W, vec![entry(&[rows, cols], &big)]).unwrap();
    let proxy = Proxy::parse("sum(sq(sq(W)))").unwrap();
    let fused = Interpreter::new(&inputs).score(&proxy.typed).unwrap_err();
    assert_eq!(fused.reason, "`sq(sq(W))` is not finite (NaN or ±inf)");
    let op_by_op = Interpreter::without_memo(&inputs).op_by_op().score(&proxy.typed).unwrap_err();
    assert_eq!(op_by_op.reason, "`sq(W)` is not finite (NaN or ±inf)");
}

/// Many entries of very different lengths (one element to four blocks, rows not a multiple of
/// four): the interpreter's sums, which run several entries or rows side by side, give exactly
/// the values of one running f64 sum per entry and per row written here, bit for bit.
#[test]
fn sums_side_by_side_keep_each_entry_in_element_order() {
    let shapes: [[usize; 2]; 11] = [[5, 7], [1, 3000], [9, 130], [4, 1], [2, 2], [13, 257], [3, 1100], [1, 1], [6, 5], [7, 300], [1, 2]];
    let entries: Vec<Vec<f64>> = shapes
        .iter()
        .enumerate()
        .map(|(k, s)| (0..s[0] * s[1]).map(|i| ((i * 7 + k * 13) as f64 * 0.137).sin() * (1.0 + (i % 11) as f64) * 10f64.powi(k as i32 % 3 - 1)).collect())
        .collect();
    let mut inputs = ProxyInputs::new();
    inputs.insert(InputId::W, shapes.iter().zip(&entries).map(|(s, v)| entry(s, v)).collect()).unwrap();
    let held: Vec<Vec<f32>> = entries.iter().map(|v| v.iter().map(|&x| x as f32).collect()).collect();
    let running = |xs: &mut dyn Iterator<Item = f64>| {
        let mut total = 0.0;
        for x in xs {
            total += x;
        }
        total
    };
    let exact = |src: &str, want: f64| {
        let got = score(src, &inputs).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(got.to_bits(), want.to_bits(), "{src}: got {got}, want {want}");
    };
    // fro of each entry, summed over entries in order.
    let fro: Vec<f64> = held.iter().map(|v| running(&mut v.iter().map(|&x| x as f64 * x as f64)).sqrt()).collect();
    exact("sum(fro(W))", fro.iter().sum());
    // normalize: (x − mean) / std per entry (zeros for one element), then each entry's mean.
    let normalized: Vec<f64> = held
        .iter()
        .map(|v| {
            let n = v.len() as f64;
            if v.len() < 2 {
                return 0.0;
            }
            let mean = running(&mut v.iter().map(|&x| x as f64)) / n;
            let std = (running(&mut v.iter().map(|&x| (x as f64 - mean).powi(2))) / (n - 1.0)).sqrt();
            running(&mut v.iter().map(|&x| ((x as f64 - mean) / std) as f32 as f64)) / n
        })
        .collect();
    exact("avg(normalize(W))", normalized.iter().sum::<f64>() / normalized.len() as f64);
    // softmax along each row, then the sum of each entry, summed over entries.
    let softmax: Vec<f64> = held
        .iter()
        .zip(&shapes)
        .map(|(v, s)| {
            let out: Vec<f32> = v
                .chunks(s[1])
                .flat_map(|row| {
                    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let e: Vec<f32> = row.iter().map(|&x| (x - m).exp()).collect();
                    let total = running(&mut e.iter().map(|&x| x as f64));
                    e.into_iter().map(move |x| (x as f64 / total) as f32)
                })
                .collect();
            running(&mut out.iter().map(|&x| x as f64))
        })
        .collect();
    exact("sum(softmax(W))", softmax.iter().sum());
}
