//! FlexiBERT at `--fidelity reference`: each token mixer against values computed independently
//! here in f64 (direct DFT and DCT-II sums, loops over positions and kernel taps, explicit matrix
//! products), gradients through every mixer and through the whole network against central
//! finite differences, what the gathered inputs hold, and the parameter counts against the
//! reference's numbers (`ARCHITECTURES.md` §A.2) and its CSV (skips without `../shared/data`).

use burn::tensor::{Device, Tensor, TensorData};
use lpzero::bench::{shared_data_dir, Benchmark};
use lpzero::family::flexibert::{FlexiArch, FlexiLayer, LayerOp};
use lpzero::family::Arch;
use lpzero::gather::{gather, text::Corpus, GatherOptions};
use lpzero::lang::table::InputId;
use lpzero::models::batch::MlmBatch;
use lpzero::family::flexibert::reference_model::{self as reference, DscConv};
use lpzero::models::nn::Recorder;
use lpzero::models::params::{Init, ParamStore};
use lpzero::models::Fidelity;
use std::f64::consts::PI;

fn device() -> Device {
    Device::flex()
}

fn tensor<const D: usize>(v: &[f64], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::<D>::from_data(TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<_>>(), shape), device)
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.inner().into_data().convert::<f32>().try_to_vec::<f32>().unwrap().into_iter().map(f64::from).collect()
}

/// Deterministic pseudo-random values in (−1, 1).
fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * w.abs().max(1.0), "{what}[{i}]: {g} vs {w}");
    }
}

const B: usize = 2;
const HEADS: usize = 2;
const T: usize = 5;
const D: usize = 4;

#[test]
fn dft_mix_is_the_real_part_of_a_direct_2d_dft() {
    let u = values(B * HEADS * T * D, 1);
    let got = host(reference::dft_mix(tensor(&u, [B, HEADS, T, D], &device())));
    let mut want = vec![0.0; u.len()];
    for bh in 0..B * HEADS {
        let at = |t: usize, j: usize| u[(bh * T + t) * D + j];
        for k in 0..T {
            for l in 0..D {
                // Re Σ_t Σ_j u[t, j] e^{−2πi(kt/T + lj/d)}: O(n²) terms, each taken directly.
                let mut re = 0.0;
                for t in 0..T {
                    for j in 0..D {
                        let theta = -2.0 * PI * ((k * t) as f64 / T as f64 + (l * j) as f64 / D as f64);
                        re += at(t, j) * theta.cos();
                    }
                }
                want[(bh * T + k) * D + l] = re;
            }
        }
    }
    assert_close(&got, &want, 1e-5, "DFT");
    // The zero frequency is the plain sum of each head's values.
    let sum0: f64 = u[..T * D].iter().sum();
    assert!((got[0] - sum0).abs() < 1e-5);
}

#[test]
fn dct_mix_is_the_unnormalised_2d_dct_ii() {
    let u = values(B * HEADS * T * D, 2);
    let got = host(reference::dct_mix(tensor(&u, [B, HEADS, T, D], &device())));
    // scipy's dct(type=2, norm=None): y[k] = 2 Σ_n x[n] cos(πk(2n+1)/(2N)), along d then along T.
    let dct1 = |x: &[f64]| {
        let n = x.len();
        (0..n).map(|k| 2.0 * (0..n).map(|i| x[i] * (PI * k as f64 * (2 * i + 1) as f64 / (2 * n) as f64).cos()).sum::<f64>()).collect::<Vec<_>>()
    };
    let mut want = vec![0.0; u.len()];
    for bh in 0..B * HEADS {
        let block = &u[bh * T * D..(bh + 1) * T * D];
        let rows: Vec<Vec<f64>> = block.chunks(D).map(dct1).collect();
        for j in 0..D {
            let col: Vec<f64> = rows.iter().map(|r| r[j]).collect();
            for (k, v) in dct1(&col).into_iter().enumerate() {
                want[(bh * T + k) * D + j] = v;
            }
        }
    }
    assert_close(&got, &want, 1e-5, "DCT");
    // A constant head gives 4·T·D·c at frequency (0, 0) and nothing elsewhere.
    let c = vec![0.5; T * D];
    let got = host(reference::dct_mix(tensor(&c, [1, 1, T, D], &device())));
    assert!((got[0] - 4.0 * (T * D) as f64 * 0.5).abs() < 1e-4);
    assert!(got[1..].iter().all(|v| v.abs() < 1e-4));
}

/// Softmax attention of one head over explicit rows.
fn softmax_rows(scores: &[Vec<f64>]) -> Vec<Vec<f64>> {
    scores
        .iter()
        .map(|row| {
            let m = row.iter().cloned().fold(f64::MIN, f64::max);
            let z: f64 = row.iter().map(|s| (s - m).exp()).sum();
            row.iter().map(|s| (s - m).exp() / z).collect()
        })
        .collect()
}

#[test]
fn wma_attention_multiplies_the_query_by_its_matrix_first() {
    let w = HEADS * D;
    let (q, k, v, m) = (values(B * T * w, 3), values(B * T * w, 4), values(B * T * w, 5), values(w * w, 6));
    let dev = device();
    let (probs, ctx) = reference::wma_attention(tensor(&q, [B, T, w], &dev), tensor(&k, [B, T, w], &dev), tensor(&v, [B, T, w], &dev), tensor(&m, [w, w], &dev), HEADS);
    let (probs, ctx) = (host(probs), host(ctx));
    for b in 0..B {
        // q' = q · Mᵀ, M stored [out, in].
        let qp: Vec<Vec<f64>> = (0..T).map(|t| (0..w).map(|o| (0..w).map(|i| q[(b * T + t) * w + i] * m[o * w + i]).sum()).collect()).collect();
        for h in 0..HEADS {
            let scores: Vec<Vec<f64>> = (0..T)
                .map(|qi| (0..T).map(|ki| (0..D).map(|i| qp[qi][h * D + i] * k[(b * T + ki) * w + h * D + i]).sum::<f64>() / (D as f64).sqrt()).collect())
                .collect();
            let p = softmax_rows(&scores);
            for qi in 0..T {
                for ki in 0..T {
                    let got = probs[((b * HEADS + h) * T + qi) * T + ki];
                    assert!((got - p[qi][ki]).abs() < 1e-5, "P b{b} h{h} {qi},{ki}");
                }
                for i in 0..D {
                    let want: f64 = (0..T).map(|ki| p[qi][ki] * v[(b * T + ki) * w + h * D + i]).sum();
                    let got = ctx[((b * HEADS + h) * T + qi) * D + i];
                    assert!((got - want).abs() < 1e-5, "ctx b{b} h{h} q{qi} i{i}: {got} vs {want}");
                }
            }
        }
    }
}

/// A tiny DSC convolution branch: 3 input channels, A = 4 = 2 heads × 2, kernel 3.
struct TinyDsc {
    c: usize,
    a: usize,
    heads: usize,
    k: usize,
    x: Vec<f64>,
    q: Vec<f64>,
    depthwise: Vec<f64>,
    pointwise: Vec<f64>,
    bias: Vec<f64>,
    kernel_weight: Vec<f64>,
    kernel_bias: Vec<f64>,
    out_weight: Vec<f64>,
    out_bias: Vec<f64>,
}

fn tiny_dsc() -> TinyDsc {
    let (c, a, heads, k) = (3, 4, 2, 3);
    TinyDsc {
        c,
        a,
        heads,
        k,
        x: values(B * T * c, 7),
        q: values(B * T * a, 8),
        depthwise: values(c * k, 9),
        pointwise: values(a * c, 10),
        bias: values(a, 11),
        kernel_weight: values(heads * k * a, 12).iter().map(|v| 2.0 * v).collect(),
        kernel_bias: values(heads * k, 13),
        out_weight: values(a * c, 14),
        out_bias: values(a, 15),
    }
}

impl TinyDsc {
    fn weights(&self, parts: &[Tensor<1>]) -> DscConv {
        let (c, a, h, k) = (self.c, self.a, self.heads, self.k);
        DscConv {
            depthwise: parts[0].clone().reshape([c, k]),
            pointwise: parts[1].clone().reshape([a, c]),
            bias: parts[2].clone(),
            kernel_weight: parts[3].clone().reshape([h * k, a]),
            kernel_bias: parts[4].clone(),
            out_weight: parts[5].clone().reshape([a, c]),
            out_bias: parts[6].clone(),
            heads: h,
        }
    }

    /// The flat inputs of the branch: the seven weights, then x and q.
    fn flat(&self) -> Vec<Vec<f64>> {
        vec![
            self.depthwise.clone(),
            self.pointwise.clone(),
            self.bias.clone(),
            self.kernel_weight.clone(),
            self.kernel_bias.clone(),
            self.out_weight.clone(),
            self.out_bias.clone(),
            self.x.clone(),
            self.q.clone(),
        ]
    }

    fn run(&self, parts: &[Tensor<1>]) -> Tensor<4> {
        let x = parts[7].clone().reshape([B, T, self.c]);
        let q = parts[8].clone().reshape([B, T, self.a]);
        reference::dsc_conv_branch(x, q, &self.weights(parts))
    }

    /// The branch by direct loops over positions and kernel taps, `[b][t][head][i]` flattened.
    fn direct(&self) -> Vec<f64> {
        let (c, a, h, k) = (self.c, self.a, self.heads, self.k);
        let d = a / h;
        let half = (k / 2) as isize;
        let mut out = vec![0.0; B * T * a];
        for b in 0..B {
            let x = |t: isize, ch: usize| if (0..T as isize).contains(&t) { self.x[(b * T + t as usize) * c + ch] } else { 0.0 };
            // Depthwise conv (cross-correlation, zero padding k/2), pointwise, bias.
            let dw: Vec<Vec<f64>> =
                (0..T).map(|t| (0..c).map(|ch| (0..k).map(|r| x(t as isize + r as isize - half, ch) * self.depthwise[ch * k + r]).sum()).collect()).collect();
            let ks: Vec<Vec<f64>> = (0..T).map(|t| (0..a).map(|o| (0..c).map(|ch| self.pointwise[o * c + ch] * dw[t][ch]).sum::<f64>() + self.bias[o]).collect()).collect();
            let u: Vec<Vec<f64>> = (0..T).map(|t| (0..a).map(|o| (0..c).map(|ch| self.out_weight[o * c + ch] * x(t as isize, ch)).sum::<f64>() + self.out_bias[o]).collect()).collect();
            for t in 0..T {
                let g: Vec<f64> = (0..a).map(|o| ks[t][o] * self.q[(b * T + t) * a + o]).collect();
                for j in 0..h {
                    let logits: Vec<f64> = (0..k).map(|r| (0..a).map(|o| self.kernel_weight[(j * k + r) * a + o] * g[o]).sum::<f64>() + self.kernel_bias[j * k + r]).collect();
                    let w = &softmax_rows(&[logits])[0];
                    for i in 0..d {
                        let mut s = 0.0;
                        for (r, wr) in w.iter().enumerate() {
                            let tt = t as isize + r as isize - half;
                            if (0..T as isize).contains(&tt) {
                                s += u[tt as usize][j * d + i] * wr;
                            }
                        }
                        out[((b * T + t) * h + j) * d + i] = s;
                    }
                }
            }
        }
        out
    }
}

fn flat_tensors(flat: &[Vec<f64>], device: &Device, grad: bool) -> Vec<Tensor<1>> {
    flat.iter()
        .map(|v| {
            let t = tensor(v, [v.len()], device);
            if grad {
                t.require_grad()
            } else {
                t
            }
        })
        .collect()
}

#[test]
fn dsc_convolutions_match_direct_loops_over_positions_and_taps() {
    let dev = device();
    // The depthwise convolution alone.
    let (c, k) = (3, 5);
    let x = values(B * T * c, 20);
    let w = values(c * k, 21);
    let got = host(reference::depthwise_conv(tensor(&x, [B, T, c], &dev), tensor(&w, [c, k], &dev)));
    for b in 0..B {
        for t in 0..T {
            for ch in 0..c {
                let want: f64 = (0..k)
                    .filter_map(|r| {
                        let tt = t as isize + r as isize - (k / 2) as isize;
                        (0..T as isize).contains(&tt).then(|| x[(b * T + tt as usize) * c + ch] * w[ch * k + r])
                    })
                    .sum();
                let g = got[(b * T + t) * c + ch];
                assert!((g - want).abs() < 1e-5, "depthwise b{b} t{t} c{ch}: {g} vs {want}");
            }
        }
    }
    // The dynamic convolution alone, with kernels wider than the sequence's edges.
    let (heads, d, k) = (2, 3, 5);
    let u = values(B * T * heads * d, 22);
    let kern = values(B * T * heads * k, 23);
    let got = host(reference::dynamic_conv(tensor(&u, [B, T, heads * d], &dev), tensor(&kern, [B, T, heads, k], &dev)));
    for b in 0..B {
        for t in 0..T {
            for j in 0..heads {
                for i in 0..d {
                    let mut want = 0.0;
                    for r in 0..k {
                        let tt = t as isize + r as isize - ((k - 1) / 2) as isize;
                        if (0..T as isize).contains(&tt) {
                            want += u[(b * T + tt as usize) * heads * d + j * d + i] * kern[((b * T + t) * heads + j) * k + r];
                        }
                    }
                    let g = got[((b * T + t) * heads + j) * d + i];
                    assert!((g - want).abs() < 1e-5, "dynamic b{b} t{t} j{j} i{i}: {g} vs {want}");
                }
            }
        }
    }
    // The whole branch: separable key convolution, dynamic kernels, convolution of conv_out(x).
    let tiny = tiny_dsc();
    let got = host(tiny.run(&flat_tensors(&tiny.flat(), &dev, false)));
    assert_close(&got, &tiny.direct(), 1e-5, "DSC branch");
}

/// Autodiff gradients of `Σ c ⊙ f(inputs)` (fixed random weights `c`) against central finite
/// differences, element by element, for every input.
fn check_gradients<const R: usize>(what: &str, flat: &[Vec<f64>], f: &dyn Fn(&[Tensor<1>]) -> Tensor<R>) {
    let ad = device().autodiff();
    let leaves = flat_tensors(flat, &ad, true);
    let out = f(&leaves);
    let n: usize = out.dims().iter().product();
    let c = values(n, 99);
    let weighted = |out: Tensor<R>| {
        let dev = out.device();
        (out.reshape([n]) * tensor(&c, [n], &dev)).sum()
    };
    let grads = weighted(out).backward();
    let loss = |inputs: &[Vec<f64>]| host(weighted(f(&flat_tensors(inputs, &device(), false))))[0];
    let h = 1e-2;
    let mut checked = 0;
    for (p, leaf) in leaves.iter().enumerate() {
        let g = host(leaf.grad(&grads).unwrap_or_else(|| panic!("{what}: input {p} got no gradient")));
        for i in 0..flat[p].len() {
            let mut up = flat.to_vec();
            up[p][i] += h;
            let mut down = flat.to_vec();
            down[p][i] -= h;
            let fd = (loss(&up) - loss(&down)) / (2.0 * h);
            assert!((fd - g[i]).abs() <= 2e-3 + 1e-2 * g[i].abs(), "{what}: input {p}[{i}]: autodiff {}, finite difference {fd}", g[i]);
            checked += 1;
        }
        assert!(g.iter().any(|v| v.abs() > 1e-2), "{what}: input {p}'s gradient is all but zero, so the check says little");
    }
    assert!(checked > 0);
}

#[test]
fn gradients_through_every_mixer_match_finite_differences() {
    let shape = [1, HEADS, T, D];
    let u = vec![values(HEADS * T * D, 30)];
    check_gradients("DFT", &u, &|x| reference::dft_mix(x[0].clone().reshape(shape)));
    check_gradients("DCT", &u, &|x| reference::dct_mix(x[0].clone().reshape(shape)));
    let w = HEADS * D;
    let wma = vec![values(T * w, 31), values(T * w, 32), values(T * w, 33), values(w * w, 34)];
    check_gradients("WMA", &wma, &|x| {
        let r = |t: &Tensor<1>| t.clone().reshape([1, T, w]);
        reference::wma_attention(r(&x[0]), r(&x[1]), r(&x[2]), x[3].clone().reshape([w, w]), HEADS).1
    });
    let tiny = tiny_dsc();
    check_gradients("DSC", &tiny.flat(), &|x| tiny.run(x));
}

fn all_six() -> FlexiArch {
    let layer = |op, heads, num_ffn| FlexiLayer { op, heads, ffn_dim: 512, num_ffn };
    FlexiArch {
        id: 7,
        hidden_size: 128,
        layers: vec![
            layer(LayerOp::SaSdp, 4, 1),
            layer(LayerOp::SaWma, 2, 2),
            layer(LayerOp::LtDft, 2, 1),
            layer(LayerOp::LtDct, 4, 1),
            layer(LayerOp::Dsc(5), 2, 1),
            layer(LayerOp::Dsc(9), 4, 3),
        ],
    }
}

/// The reference's per-layer counts (`ARCHITECTURES.md` §A.2), by mixer, and the FFN stack.
fn reference_layer_count(op: LayerOp, heads: usize, num_ffn: u64) -> u64 {
    let mixer = match (op, heads) {
        (LayerOp::SaSdp, _) => 263_680,
        (LayerOp::SaWma, _) => 329_216,
        (LayerOp::LtDft | LayerOp::LtDct, _) => 65_792,
        (LayerOp::Dsc(5), 2) => 232_709,
        (LayerOp::Dsc(9), 2) => 234_249,
        (LayerOp::Dsc(5), 4) => 233_354,
        (LayerOp::Dsc(9), 4) => 235_410,
        other => panic!("no reference count for {other:?}"),
    };
    mixer + 263_168 + (num_ffn - 1) * 1_049_600 + 262_912
}

#[test]
fn counts_equal_the_references_per_layer_numbers() {
    let arch = all_six();
    let c = arch.counts(Fidelity::Reference).unwrap();
    let layers: u64 = arch.layers.iter().map(|l| reference_layer_count(l.op, l.heads, l.num_ffn as u64)).sum();
    assert_eq!(c, vec![("total", 4_005_888 + layers), ("nonembedding", layers)]);
    // The worked example, architecture 0: WMA h4 nff3 / DCT h2 nff3 / SDP h4 nff3 / SDP h4 nff1.
    let layer = |op, heads, num_ffn| FlexiLayer { op, heads, ffn_dim: 1024, num_ffn };
    let id0 = FlexiArch {
        id: 0,
        hidden_size: 256,
        layers: vec![layer(LayerOp::SaWma, 4, 3), layer(LayerOp::LtDct, 2, 3), layer(LayerOp::SaSdp, 4, 3), layer(LayerOp::SaSdp, 4, 1)],
    };
    assert_eq!(id0.counts(Fidelity::Reference).unwrap()[0].1, 13_330_176);
    // Unbuildable layers are errors, not panics.
    for (op, heads) in [(LayerOp::Dsc(5), 1), (LayerOp::Dsc(4), 2), (LayerOp::SaSdp, 3), (LayerOp::LtDft, 0)] {
        let bad = FlexiArch { layers: vec![FlexiLayer { op, heads, ffn_dim: 512, num_ffn: 1 }], ..arch.clone() };
        assert!(bad.counts(Fidelity::Reference).is_err(), "{op:?} h{heads}");
    }
}

#[test]
fn gathered_inputs_have_one_entry_per_layer_for_every_layer_type() {
    let arch = all_six();
    let opts = GatherOptions { batch: 2, seq_len: 16, seed: 1, fidelity: Fidelity::Reference, device: lpzero::device::DeviceKind::Flex, variant: Default::default() };
    let g = gather(&arch, &Corpus::builtin(), &opts, &device(), &lpzero::gather::all_inputs()).unwrap();
    let entries = |i: InputId| g.inputs.get(i).unwrap_or(&[]).iter().map(|e| e.shape.clone()).collect::<Vec<_>>();
    // H per layer: SDP 4×64, WMA 2×128, DFT 2×128, DCT 4×64, DSC h2 → 1+1 heads of 128, DSC h4 → 2+2 heads of 64.
    let (b, t) = (2, 16);
    assert_eq!(
        entries(InputId::H),
        vec![vec![b, 4, t, 64], vec![b, 2, t, 128], vec![b, 2, t, 128], vec![b, 4, t, 64], vec![b, 2, t, 128], vec![b, 4, t, 64]]
    );
    assert_eq!(entries(InputId::GH), entries(InputId::H));
    // S: attention maps for SA and DSC (h' heads), the softmax over the transform for LT.
    assert_eq!(
        entries(InputId::S),
        vec![vec![b, 4, t, t], vec![b, 2, t, t], vec![b, 2, t, 128], vec![b, 4, t, 64], vec![b, 1, t, t], vec![b, 2, t, t]]
    );
    // W: mixer dense layers + output dense + FFN (nff + 1) per layer.
    let w = entries(InputId::W);
    assert_eq!(w.len(), (4 + 2) + (5 + 3) + (1 + 2) + (1 + 2) + (6 + 2) + (6 + 4));
    assert_eq!(w[0], vec![256, 256]);
    assert!(w.contains(&vec![2 * 9, 128]), "DSC-9 with h' = 2: conv_kernel is [h'·k, A]");
    assert_eq!(entries(InputId::A).len(), 1 + 2 + 1 + 1 + 1 + 3);
    assert!(entries(InputId::A).iter().all(|s| s == &vec![b, t, 1024]));
    assert_eq!(entries(InputId::J), vec![vec![b, t, 128]]);
    let layers: u64 = arch.layers.iter().map(|l| reference_layer_count(l.op, l.heads, l.num_ffn as u64)).sum();
    assert_eq!(g.params as u64, 4_005_888 + layers, "P holds exactly the counted parameters");
    assert!(entries(InputId::P).contains(&vec![256, 1, 9]), "the depthwise kernel keeps its PyTorch shape");
    // The LT softmax rows sum to one over the head dim.
    let s = g.inputs.get(InputId::S).unwrap()[2].to_vec();
    for row in s.chunks(128) {
        assert!((row.iter().map(|&v| v as f64).sum::<f64>() - 1.0).abs() < 1e-4);
    }
}

fn tiny_mlm() -> MlmBatch {
    MlmBatch {
        batch: 2,
        len: 6,
        ids: vec![101, 2000, 103, 2500, 3000, 102, 101, 4000, 103, 102, 0, 0],
        attention: vec![1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0],
        masked: vec![2, 8],
        targets: vec![2222, 4444],
    }
}

/// The loss's directional derivative along the autodiff gradient of `name` must equal the
/// gradient's norm (single elements are too small for an f32 difference). The step moves the
/// loss by about 0.005 (at most 0.05 along the unit direction): far above the f32 rounding of
/// the loss (≈1e-6), small enough that curvature stays below the tolerance.
fn check_directional(f: &dyn Fn(&ParamStore) -> f64, p: &ParamStore, grads: &burn::tensor::Gradients, name: &str) {
    let g = host(p.matrix(name).grad(grads).unwrap());
    let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!(norm > 1e-3, "{name}: |G| = {norm} is too small for an f32 difference");
    let h = (0.005 / norm).min(0.05);
    let up: Vec<f64> = g.iter().map(|x| h * x / norm).collect();
    let down: Vec<f64> = up.iter().map(|x| -x).collect();
    let fd = (f(&p.perturbed(name, &up)) - f(&p.perturbed(name, &down))) / (2.0 * h);
    assert!((fd - norm).abs() / norm < 2e-2, "{name}: directional difference {fd} (step {h}) vs |G| {norm}");
}

/// Gradients through the whole network, one mixer weight (or more) per layer type, at the
/// reference's own initialisation; the DSC convolution kernels, whose gradients are too small
/// there for an f32 difference, at weights drawn 10 times wider.
#[test]
fn network_gradients_match_finite_differences_for_every_layer_type() {
    let arch = all_six();
    let batch = tiny_mlm();
    let ad = device().autodiff();
    let f = |q: &ParamStore| host(reference::forward(q, &arch, &batch, &mut Recorder::default()).unwrap())[0];
    let p = ParamStore::build(&reference::spec(&arch).unwrap(), 5, &ad);
    let grads = reference::forward(&p, &arch, &batch, &mut Recorder::on()).unwrap().backward();
    for name in ["layer.0.op.value.weight", "layer.1.op.wma.weight", "layer.2.op.input.weight", "layer.3.op.input.weight", "layer.5.op.conv_out.weight", "layer.5.op.key.weight"] {
        check_directional(&f, &p, &grads, name);
    }
    // Wider weights saturate the softmaxes and make the loss rough at the scale of an f32
    // difference; a network of DSC layers alone stays smooth enough.
    let layer = |op, heads| FlexiLayer { op, heads, ffn_dim: 1024, num_ffn: 1 };
    let arch = FlexiArch { layers: vec![layer(LayerOp::Dsc(5), 2), layer(LayerOp::Dsc(9), 4)], ..all_six() };
    let f = |q: &ParamStore| host(reference::forward(q, &arch, &batch, &mut Recorder::default()).unwrap())[0];
    let wide: Vec<_> = reference::spec(&arch)
        .unwrap()
        .into_iter()
        .map(|mut s| {
            if let Init::Normal(std) = s.init {
                s.init = Init::Normal(10.0 * std);
            }
            s
        })
        .collect();
    let p = ParamStore::build(&wide, 5, &ad);
    let grads = reference::forward(&p, &arch, &batch, &mut Recorder::on()).unwrap().backward();
    for name in ["layer.0.op.conv_kernel.weight", "layer.0.op.conv.depthwise.weight", "layer.1.op.conv.pointwise.weight", "layer.1.op.conv.bias"] {
        check_directional(&f, &p, &grads, name);
    }
}

#[test]
fn counts_equal_the_reference_csv_for_every_architecture() {
    let Some(dir) = shared_data_dir() else {
        eprintln!("skipping: ../shared/data (or $LPZERO_DATA) is not present");
        return;
    };
    let flexi = dir.join("benchmarks/flexibert");
    let bench = Benchmark::load(&flexi.join("BERT_benchmark.json"), None).unwrap();
    let csv = std::fs::read_to_string(flexi.join("reference_proxy_scores.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let (id_col, n_col) = (header.iter().position(|h| *h == "ID").unwrap(), header.iter().position(|h| *h == "Number of Parameters").unwrap());
    let want: std::collections::BTreeMap<String, u64> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[id_col].to_owned(), f[n_col].parse::<f64>().unwrap() as u64)
        })
        .collect();
    let mut equal = 0;
    for arch in &bench.archs {
        let c = arch.counts(Fidelity::Reference).unwrap();
        assert_eq!(c[0].1, want[&arch.id()], "architecture {}", arch.id());
        equal += 1;
    }
    assert_eq!((equal, want.len()), (500, 500));
}
