//! The inputs and primitives the rest of the paper's proxies need (Z, GS, HG; `sign`, `t`,
//! `gram`, `cosine`, `logdet`, `pcadim`), each against values derived independently here: the
//! non-linearity applied to Z in f64, Synflow's gradient against central differences of its
//! objective, GraSP's Hessian-gradient product against the second difference of the loss, and
//! the stdlib's Jacobian cosine and EZNAS recomputed from their inputs in f64.

use burn::tensor::Device;
use lpzero::eval::{Interpreter, ProxyInputs, TensorEntry};
use lpzero::family::flexibert::{FlexiArch, FlexiLayer, LayerOp};
use lpzero::family::Arch;
use lpzero::gather::{gather, init_seed, text::Corpus};
use lpzero::lang::table::InputId::{self, *};
use lpzero::lang::Proxy;
use lpzero::models::nn::Recorder;
use lpzero::models::params::ParamStore;
use lpzero::models::Fidelity;
use std::sync::Arc;

mod common;
use common::{opts, tiny_gpt2 as gpt2, tiny_transxl as transxl};

fn flexibert() -> FlexiArch {
    FlexiArch {
        id: 7,
        hidden_size: 128,
        layers: vec![
            FlexiLayer { op: LayerOp::SaSdp, heads: 2, ffn_dim: 256, num_ffn: 2 },
            FlexiLayer { op: LayerOp::LtDft, heads: 4, ffn_dim: 128, num_ffn: 1 },
        ],
    }
}

/// erf in f64: the Maclaurin series below 2, the continued fraction of erfc above (both
/// accurate to ~1e-14 there).
fn erf(x: f64) -> f64 {
    let a = x.abs();
    if a < 2.0 {
        let mut term = x;
        let mut total = x;
        for n in 1..200 {
            term *= -x * x / n as f64;
            total += term / (2 * n + 1) as f64;
            if term.abs() < 1e-18 {
                break;
            }
        }
        total * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        let mut t = a;
        for k in (1..=80).rev() {
            t = a + (k as f64 / 2.0) / t;
        }
        let erfc = (-a * a).exp() / std::f64::consts::PI.sqrt() / t;
        x.signum() * (1.0 - erfc)
    }
}

fn assert_elementwise(case: &str, z: &[TensorEntry], a: &[TensorEntry], f: impl Fn(f64) -> f64) {
    assert_eq!(z.len(), a.len(), "{case}: one pre-activation per activation");
    for (k, (z, a)) in z.iter().zip(a).enumerate() {
        assert_eq!(z.shape, a.shape, "{case}: entry {k}");
        for (i, (&zi, &ai)) in z.data.iter().zip(a.data.iter()).enumerate() {
            let want = f(zi as f64);
            // f32 evaluation (burn's erf and tanh included): 1e-5 relative, 2e-7 absolute.
            assert!((ai as f64 - want).abs() <= 1e-5 * want.abs() + 2e-7, "{case}: entry {k}[{i}]: A {ai} vs f(Z) {want} (Z {zi})");
        }
    }
}

#[test]
fn z_is_what_each_ffn_nonlinearity_reads() {
    let device = Device::flex();
    let grammar = Corpus::grammar(3, 2000);
    let gelu_tanh = |x: f64| 0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh());
    let gelu = |x: f64| 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2));
    let g = gather(&*gpt2(), &grammar, &opts(Fidelity::Trained), &device, &[Z, A]).unwrap();
    assert_elementwise("gpt2", g.inputs.get(Z).unwrap(), g.inputs.get(A).unwrap(), gelu_tanh);
    let t = gather(&*transxl(), &grammar, &opts(Fidelity::Trained), &device, &[Z, A]).unwrap();
    assert_elementwise("transxl", t.inputs.get(Z).unwrap(), t.inputs.get(A).unwrap(), |x| x.max(0.0));
    for fidelity in [Fidelity::Trained, Fidelity::Reference] {
        let f = gather(&flexibert(), &Corpus::builtin(), &opts(fidelity), &device, &[Z, A]).unwrap();
        assert_eq!(f.inputs.get(Z).unwrap().len(), 3, "two FFN layers, then one");
        assert_elementwise("flexibert", f.inputs.get(Z).unwrap(), f.inputs.get(A).unwrap(), gelu);
    }
}

/// Synflow's objective on the network with magnitudes `store`: the sum of every logit.
fn synflow_objective(arch: &dyn Arch, store: &ParamStore, one: &lpzero::models::batch::Minibatch, fidelity: Fidelity) -> f64 {
    let mut rec = Recorder::synflow();
    arch.loss(store, one, &mut rec, fidelity).unwrap();
    rec.logit_sum.take().expect("every family reports its logit sum").into_scalar::<f64>()
}

#[test]
fn synflow_gradients_match_central_differences_of_the_summed_logits() {
    let device = Device::flex();
    let cases: Vec<(&str, Arc<dyn Arch>, Corpus, Fidelity)> = vec![
        ("gpt2", gpt2(), Corpus::grammar(3, 2000), Fidelity::Trained),
        ("transxl", transxl(), Corpus::grammar(3, 2000), Fidelity::Trained),
        ("flexibert", Arc::new(flexibert()), Corpus::builtin(), Fidelity::Trained),
    ];
    for (case, arch, corpus, fidelity) in cases {
        let o = opts(fidelity);
        let g = gather(&*arch, &corpus, &o, &device, &[GS]).unwrap();
        let gs = g.inputs.get(GS).unwrap();
        let names = &g.modules["W"];
        let specs = arch.spec(fidelity).unwrap();
        let store = ParamStore::build(&specs, init_seed(o.seed, &arch.id(), 0), &device).absolute();
        let one = arch.family().gather_batch(&corpus, 1, o.seq_len, o.seed, 0).unwrap();
        let r0 = synflow_objective(&*arch, &store, &one, fidelity);
        // Not necessarily positive: LayerNorm centres the hidden states before the head.
        assert!(r0.is_finite() && r0 != 0.0, "{case}: the summed logits ({r0})");
        // Along the gradient itself, on the first, a middle and the last linear layer: the
        // directional derivative of R along g_l is |g_l|². (Entry by entry is out of reach in
        // f32: R is a sum of ~10⁴ terms of size ~10² that LayerNorm makes cancel, so its rounding
        // noise is ~10⁻³, larger than what one weight entry moves it.)
        for &l in &[0, names.len() / 2, names.len() - 1] {
            let g: Vec<f64> = gs[l].data.iter().map(|&x| x as f64).collect();
            let g2: f64 = g.iter().map(|x| x * x).sum();
            assert!(g2 > 0.0 && g2.is_finite(), "{case}: {}: |GS|² = {g2}", names[l]);
            let w2: f64 = store.values(&names[l]).iter().map(|&x| (x as f64).powi(2)).sum();
            // Move W_l by 5 % of its norm along g_l.
            let eps = 0.05 * (w2 / g2).sqrt();
            let up = synflow_objective(&*arch, &store.perturbed(&names[l], &g.iter().map(|x| eps * x).collect::<Vec<_>>()), &one, fidelity);
            let down = synflow_objective(&*arch, &store.perturbed(&names[l], &g.iter().map(|x| -eps * x).collect::<Vec<_>>()), &one, fidelity);
            let fd = (up - down) / (2.0 * eps);
            // R's own rounding noise, measured: R after steps a thousand times smaller, less the
            // change the gradient predicts for them, is noise (FlexiBERT's R, a sum of ~10⁵
            // logits in f32, moves in steps of 2⁻⁸ around 168). A central difference carries
            // about noise / eps of it.
            let noise = [1e-3, -1e-3, 2e-3, -2e-3]
                .iter()
                .map(|&d: &f64| {
                    let r = synflow_objective(&*arch, &store.perturbed(&names[l], &g.iter().map(|x| d * eps * x).collect::<Vec<_>>()), &one, fidelity);
                    (r - r0 - d * eps * g2).abs()
                })
                .fold(1e-3, f64::max);
            assert!((fd - g2).abs() <= 0.03 * g2 + noise / eps, "{case}: {}: d R along GS is {fd}, |GS|² = {g2} (R = {r0}, its noise {noise})", names[l]);
        }
    }
}

#[test]
fn the_hessian_gradient_product_matches_the_second_difference_of_the_loss() {
    let device = Device::flex();
    let cases: Vec<(&str, Arc<dyn Arch>, Corpus, Fidelity)> = vec![
        ("gpt2", gpt2(), Corpus::grammar(3, 2000), Fidelity::Trained),
        ("flexibert reference", Arc::new(flexibert()), Corpus::builtin(), Fidelity::Reference),
    ];
    for (case, arch, corpus, fidelity) in cases {
        let o = opts(fidelity);
        let g = gather(&*arch, &corpus, &o, &device, &[G, HG]).unwrap();
        let names = g.modules["W"].clone();
        let (grad, hg) = (g.inputs.get(G).unwrap(), g.inputs.get(HG).unwrap());
        // gᵀ H g from the gathered product.
        let q: f64 = grad.iter().zip(hg).map(|(a, b)| a.data.iter().zip(b.data.iter()).map(|(&x, &y)| x as f64 * y as f64).sum::<f64>()).sum();
        let specs = arch.spec(fidelity).unwrap();
        let base = ParamStore::build(&specs, init_seed(o.seed, &arch.id(), 0), &device);
        let batch = arch.family().gather_batch(&corpus, o.batch, o.seq_len, o.seed, 0).unwrap();
        let loss_at = |s: f64| -> f64 {
            let mut store = base.clone();
            for (name, gl) in names.iter().zip(grad) {
                let w = base.values(name);
                let moved: Vec<f32> = w.iter().zip(gl.data.iter()).map(|(&a, &b)| (a as f64 + s * b as f64) as f32).collect();
                let dims = base.matrix(name).dims();
                store.replace(name, burn::tensor::Tensor::<2>::from_data(burn::tensor::TensorData::new(moved, dims), &device));
            }
            arch.loss(&store, &batch, &mut Recorder::default(), fidelity).unwrap().into_scalar::<f64>()
        };
        let l0 = loss_at(0.0);
        assert_eq!(l0.to_bits(), g.loss.unwrap().to_bits(), "{case}: the same network and minibatch");
        // Second differences at two steps whose curvature terms are about 4e-4 and 1e-4 of the
        // loss (far above the f32 rounding of the loss), extrapolated to a zero step
        // (Richardson: the error of a central second difference is c·s² + O(s⁴)).
        let s = (4e-4 * l0.abs() / q.abs()).sqrt();
        let d2 = |s: f64| (loss_at(s) - 2.0 * l0 + loss_at(-s)) / (s * s);
        let second = (4.0 * d2(s / 2.0) - d2(s)) / 3.0;
        assert!(q.abs() > 0.0 && (second - q).abs() <= 0.05 * q.abs(), "{case}: gᵀHg {q} from HG vs {second} from the loss");
    }
}

fn score(src: &str, inputs: &ProxyInputs) -> Result<f64, lpzero::eval::Invalid> {
    let proxy = Proxy::parse(src).unwrap_or_else(|d| panic!("{src}: {d:?}"));
    Interpreter::new(inputs).score(&proxy.typed)
}

/// A stdlib proxy, checked.
fn stdlib(name: &str) -> Arc<lpzero::lang::check::Typed> {
    let text = std::fs::read_to_string(format!("{}/stdlib/{name}.proxy", env!("CARGO_MANIFEST_DIR"))).unwrap();
    lpzero::lang::analyze_file(&text).definitions.remove(0).typed
}

fn score_stdlib(name: &str, inputs: &ProxyInputs) -> Result<f64, lpzero::eval::Invalid> {
    Interpreter::new(inputs).score(&stdlib(name))
}

#[test]
fn jacobian_cosine_and_eznas_equal_their_formulas_recomputed_in_f64() {
    let device = Device::flex();
    let g = gather(&*gpt2(), &Corpus::grammar(3, 2000), &opts(Fidelity::Trained), &device, &[J, G]).unwrap();
    // Jacobian cosine: the batch sum of J is positions × dimensions; cosines between dimensions.
    let j = &g.inputs.get(J).unwrap()[0];
    let [b, t, d] = j.shape[..] else { panic!("J is [batch, token, dim]") };
    let col = |k: usize| -> Vec<f64> { (0..t).map(|p| (0..b).map(|s| j.data[(s * t + p) * d + k] as f64).sum()).collect() };
    let cols: Vec<Vec<f64>> = (0..d).map(col).collect();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let mut off = 0.0;
    for i in 0..d {
        for k in 0..d {
            if i != k {
                let c = cols[i].iter().zip(&cols[k]).map(|(x, y)| x * y).sum::<f64>() / (norm(&cols[i]) * norm(&cols[k]));
                off += c.abs().powf(0.05);
            }
        }
    }
    let want = 1.0 - off / (2.0 * ((d * d) as f64 - d as f64));
    let got = score_stdlib("jacobian_cosine", &g.inputs).unwrap();
    assert!((got - want).abs() < 1e-5, "jacobian_cosine {got} vs {want}");
    // EZNAS: per layer, sigmoid(log|det(sᵀs)|) with s = sign(G) [out, in]; its value is 1 (to
    // f64 rounding) for a nonsingular Gram and sigmoid(ln ε) for a singular one, which a layer
    // with more inputs than outputs must be (rank ≤ out).
    let mut want = 0.0;
    for e in g.inputs.get(G).unwrap() {
        let [out, inp] = e.shape[..] else { panic!() };
        let s: Vec<f64> = e.data.iter().map(|&x| if x > 0.0 { 1.0 } else if x < 0.0 { -1.0 } else { 0.0 }).collect();
        // Rank of s by Gaussian elimination in f64 (entries are small integers).
        let mut m: Vec<Vec<f64>> = (0..out).map(|r| s[r * inp..(r + 1) * inp].to_vec()).collect();
        let mut rank = 0;
        for c in 0..inp {
            if let Some(p) = (rank..out).max_by(|&a, &b| m[a][c].abs().total_cmp(&m[b][c].abs())).filter(|&p| m[p][c].abs() > 1e-9) {
                m.swap(rank, p);
                for r in 0..out {
                    if r != rank {
                        let f = m[r][c] / m[rank][c];
                        let pivot = m[rank].clone();
                        m[r].iter_mut().zip(&pivot).for_each(|(x, p)| *x -= f * p);
                    }
                }
                rank += 1;
            }
        }
        let logdet_floor = 1e-9f64.ln();
        if rank == inp {
            want += 1.0;
        } else {
            want += 1.0 / (1.0 + (-logdet_floor).exp());
        }
    }
    let got = score_stdlib("eznas", &g.inputs).unwrap();
    assert!((got - want).abs() < 1e-6, "eznas {got} vs {want}");
}

#[test]
fn the_new_ops_check_their_arguments_and_are_invalid_where_the_math_says_so() {
    for (src, says) in [
        ("sum(pcadim(Z, 100))", "from 1 to 99"),
        ("sum(pcadim(Z, 0.5))", "from 1 to 99"),
        ("sum(pcadim(fro(Z), 99))", "samples × features"),
        ("sum(t(A))", "matrix entries"),
        ("sum(gram(S))", "matrix entries"),
        ("sum(logdet(A))", "matrix"),
    ] {
        let d = Proxy::parse(src).err().unwrap_or_else(|| panic!("{src} should not check"));
        assert!(d.0.iter().any(|x| x.message.contains(says)), "{src}: {:?}", d.0);
    }
    let mut inputs = ProxyInputs::new();
    let entry = |shape: &[usize], v: Vec<f32>| TensorEntry::from_f32(shape, &v).unwrap();
    inputs.insert(W, vec![entry(&[2, 3], vec![1.0, -2.0, 0.0, 4.0, 5.0, -6.0])]).unwrap();
    inputs.insert(GS, vec![entry(&[2, 3], vec![f32::INFINITY, 1.0, 1.0, 1.0, 1.0, 1.0])]).unwrap();
    inputs.insert(Z, vec![entry(&[2, 2, 3], (0..12).map(|k| (k as f32 * 0.9).sin()).collect())]).unwrap();
    // sign by hand.
    assert_eq!(score("sum(sign(W))", &inputs).unwrap(), 1.0 - 1.0 + 0.0 + 1.0 + 1.0 - 1.0);
    // Overflow: an infinite Synflow gradient makes Synflow invalid, with the reason.
    let why = score_stdlib("synflow", &inputs).unwrap_err().reason;
    assert!(why.contains("GS") && why.contains("inf"), "{why}");
    // Overflow of finite inputs: |W ⊙ GS| = 3e38 · 3e38 is past f32's range.
    let mut big = inputs.clone();
    big.insert(W, vec![entry(&[2, 3], vec![3e38, 1.0, 1.0, 1.0, 1.0, 1.0])]).unwrap();
    big.insert(GS, vec![entry(&[2, 3], vec![3e38, 1.0, 1.0, 1.0, 1.0, 1.0])]).unwrap();
    let why = score_stdlib("synflow", &big).unwrap_err().reason;
    assert!(why.contains("not finite"), "{why}");
    // logdet of a non-square matrix, and pcadim with 4 samples of 3 features (fine) vs the
    // transposed reading of W (2 samples of 3 features: too few).
    assert!(score("sum(logdet(W))", &inputs).unwrap_err().reason.contains("square"));
    assert!(score("sum(pcadim(Z, 99))", &inputs).is_ok());
    assert!(score("sum(pcadim(W, 99))", &inputs).unwrap_err().reason.contains("more samples than features"));
}

/// Every input the table declares is gathered by every family (the inputs file holds them all).
#[test]
fn the_new_inputs_exist_for_every_family() {
    let device = Device::flex();
    let need: &[InputId] = &[Z, GS, HG];
    for (case, arch, corpus, fidelity) in [
        ("gpt2", gpt2(), Corpus::grammar(3, 2000), Fidelity::Trained),
        ("transxl", transxl(), Corpus::grammar(3, 2000), Fidelity::Trained),
        ("flexibert", Arc::new(flexibert()) as Arc<dyn Arch>, Corpus::builtin(), Fidelity::Reference),
    ] {
        let g = gather(&*arch, &corpus, &opts(fidelity), &device, need).unwrap();
        let w = g.inputs.get(W).unwrap();
        for id in [GS, HG] {
            let e = g.inputs.get(id).unwrap();
            assert_eq!(e.len(), w.len(), "{case}: {id:?} aligned with W");
            assert!(e.iter().zip(w).all(|(x, y)| x.shape == y.shape), "{case}: {id:?} shapes");
            assert!(e.iter().any(|x| x.data.iter().any(|v| *v != 0.0)), "{case}: {id:?} is not all zero");
        }
        assert!(!g.inputs.get(Z).unwrap().is_empty(), "{case}: Z");
    }
}

/// `N` by hand from a GPT-2 configuration: per block `c_attn` 3d × d, `c_proj` d × d, `c_fc`
/// d_inner × d and the FFN's `c_proj` d × d_inner.
fn gpt2_block_weights(a: &lpzero::family::gpt2::Gpt2Arch) -> usize {
    (0..a.n_layer).map(|l| 4 * a.d_model * a.d_model + 2 * a.d_model * a.d_inner[l]).sum()
}

/// `N` by hand from a Transformer-XL configuration: per block `qkv_net` 3·h·d_head × d,
/// `o_net` d × h·d_head, `r_net` h·d_head × d, and the FFN's two layers d_inner × d and d × d_inner.
fn transxl_block_weights(a: &lpzero::family::transxl::TxlArch) -> usize {
    (0..a.n_layer).map(|l| 5 * a.n_head[l] * a.d_head[l] * a.d_model + 2 * a.d_inner[l] * a.d_model).sum()
}

/// `N` by hand for FlexiBERT as trained.
fn flexibert_block_weights(a: &FlexiArch) -> usize {
    let h = a.hidden_size;
    a.layers
        .iter()
        .map(|l| {
            let ffn = if l.num_ffn == 1 { 2 * h * 4 * h } else { h * 4 * h + 4 * h * l.ffn_dim + (l.num_ffn - 2) * l.ffn_dim * l.ffn_dim + l.ffn_dim * h };
            4 * h * h + ffn
        })
        .sum()
}

#[test]
fn the_architecture_scalars_are_the_configurations_numbers() {
    let device = Device::flex();
    let need: &[InputId] = &[L, D, N];
    assert_eq!(lpzero::lang::table::Pass::needed(need), lpzero::lang::table::Pass::Weights, "no forward pass for L, D, N");
    let g2 = gpt2();
    let t = transxl();
    let cases: [(&str, Arc<dyn Arch>, Corpus, Fidelity, (usize, usize, usize)); 4] = [
        {
            let a = g2.as_any().downcast_ref::<lpzero::family::gpt2::Gpt2Arch>().unwrap();
            ("gpt2", g2.clone(), Corpus::grammar(3, 2000), Fidelity::Trained, (a.n_layer, a.d_model, gpt2_block_weights(a)))
        },
        {
            let a = t.as_any().downcast_ref::<lpzero::family::transxl::TxlArch>().unwrap();
            ("transxl", t.clone(), Corpus::grammar(3, 2000), Fidelity::Trained, (a.n_layer, a.d_model, transxl_block_weights(a)))
        },
        // FlexiBERT as trained (FLEXIBERT_TRAINED.md §1, §3): every layer self-attention (q, k, v,
        // o: H × H), the FFN H → 4H, then 4H → F and F → F up to `num_ffn` layers, then back to H.
        ("flexibert", Arc::new(flexibert()) as Arc<dyn Arch>, Corpus::builtin(), Fidelity::Trained, (2, 128, flexibert_block_weights(&flexibert()))),
        // As the reference built it the network is another one (256 wide); L and D are still the
        // configuration's, N counts the network gathered.
        ("flexibert-reference", Arc::new(flexibert()) as Arc<dyn Arch>, Corpus::builtin(), Fidelity::Reference, (2, 128, 0)),
    ];
    for (case, arch, corpus, fidelity, (layers, width, weights)) in cases {
        let g = gather(&*arch, &corpus, &opts(fidelity), &device, need).unwrap();
        let one = |id: InputId| {
            let e = g.inputs.get(id).unwrap_or_else(|| panic!("{case}: {id:?} gathered"));
            assert_eq!(e.len(), 1, "{case}: {id:?} is one entry");
            assert!(e[0].shape.is_empty(), "{case}: {id:?} is one number");
            e[0].data[0] as f64
        };
        assert_eq!(one(L), layers as f64, "{case}: L");
        assert_eq!(one(D), width as f64, "{case}: D");
        // N is the elements of W, whatever W holds; checked by hand where the test derives it.
        let w = gather(&*arch, &corpus, &opts(fidelity), &device, &[W]).unwrap();
        let elements: usize = w.inputs.get(W).unwrap().iter().map(|e| e.numel()).sum();
        assert_eq!(one(N), elements as f64, "{case}: N is the elements of W");
        if weights > 0 {
            assert_eq!(elements, weights, "{case}: the blocks' linear weights counted by hand");
        }
        assert_eq!(score("sum(L) * 1000 + avg(D)", &g.inputs).unwrap(), (layers * 1000 + width) as f64, "{case}: scored");
        // Element-wise ops run in f32.
        let log_n = score("avg(log(N))", &g.inputs).unwrap();
        assert!((log_n - (elements as f64).ln()).abs() <= 1e-6 * log_n.abs(), "{case}: log N {log_n}");
        // An inputs file carries them (rank-0 tensors) and reads them back.
        let bytes = lpzero::eval::file::to_bytes(&g.inputs, &Default::default());
        let (back, _) = lpzero::eval::file::from_bytes(&bytes, "test", "a", lpzero::eval::file::Check::Finite).unwrap();
        for id in [L, D, N] {
            assert_eq!(back.get(id).unwrap()[0].shape, Vec::<usize>::new(), "{case}: {id:?} read back");
            assert_eq!(back.get(id).unwrap()[0].data[..], g.inputs.get(id).unwrap()[0].data[..], "{case}: {id:?} read back");
        }
    }
    // They are entries of their own alignment: combining them element-wise with W is refused.
    let err = Proxy::parse("avg(W * N)").err().expect("W * N is a type error");
    assert!(format!("{err:?}").contains("E105"), "{err:?}");
}
