//! The models' building blocks and gradients, against values computed independently here:
//! attention against an explicit loop, the padding and causal masks, the adaptive embedding and
//! log-softmax against direct per-cluster sums, and G and J against central finite differences.

use burn::tensor::{Device, Tensor, TensorData};
use lpzero::family::flexibert::{FlexiArch, FlexiLayer, LayerOp};
use lpzero::family::gpt2::Gpt2Arch;
use lpzero::family::flexibert::model as flexibert;
use lpzero::models::batch::{LmBatch, MlmBatch};
use lpzero::family::gpt2::model as gpt2;
use lpzero::models::nn::{self, AttnMask, Recorder};
use lpzero::models::params::{Init, ParamSpec, ParamStore};

fn device() -> Device {
    Device::flex()
}

fn t3(v: &[f64], shape: [usize; 3]) -> Tensor<3> {
    Tensor::<3>::from_data(TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<_>>(), shape), &device())
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

#[test]
fn attention_matches_an_explicit_softmax_loop() {
    let (b, t, heads, d) = (2, 3, 2, 2);
    let w = heads * d;
    let (q, k, v) = (values(b * t * w, 1), values(b * t * w, 2), values(b * t * w, 3));
    let zeros = Tensor::<4>::zeros([b, 1, 1, t], &device());
    let mut rec = Recorder::on();
    let out = nn::attention(t3(&q, [b, t, w]), t3(&k, [b, t, w]), t3(&v, [b, t, w]), heads, &AttnMask::Padding(zeros), &mut rec);
    let got = host(out);
    let at = |x: &[f64], bb: usize, tt: usize, h: usize, i: usize| x[(bb * t + tt) * w + h * d + i];
    for bb in 0..b {
        for h in 0..heads {
            for qi in 0..t {
                let scores: Vec<f64> = (0..t).map(|ki| (0..d).map(|i| at(&q, bb, qi, h, i) * at(&k, bb, ki, h, i)).sum::<f64>() / (d as f64).sqrt()).collect();
                let m = scores.iter().cloned().fold(f64::MIN, f64::max);
                let z: f64 = scores.iter().map(|s| (s - m).exp()).sum();
                for i in 0..d {
                    let want: f64 = (0..t).map(|ki| (scores[ki] - m).exp() / z * at(&v, bb, ki, h, i)).sum();
                    let g = got[((bb * heads + h) * t + qi) * d + i];
                    assert!((g - want).abs() < 1e-5, "b{bb} h{h} q{qi} i{i}: {g} vs {want}");
                }
            }
        }
    }
    // The recorder saw the probabilities, rows summing to 1.
    let p = host(rec.attn_probs[0].clone());
    for row in p.chunks(t) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-5);
    }
}

fn tiny_flexibert() -> FlexiArch {
    FlexiArch {
        id: 0,
        hidden_size: 16,
        layers: vec![
            FlexiLayer { op: LayerOp::SaSdp, heads: 2, ffn_dim: 24, num_ffn: 3 },
            FlexiLayer { op: LayerOp::Dsc(5), heads: 4, ffn_dim: 8, num_ffn: 1 },
        ],
    }
}

fn tiny_mlm() -> MlmBatch {
    // Row 0: 6 real tokens; row 1: 4 real, 2 padded.
    MlmBatch {
        batch: 2,
        len: 6,
        ids: vec![101, 2000, 103, 2500, 3000, 102, 101, 4000, 103, 102, 0, 0],
        attention: vec![1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0],
        masked: vec![2, 8],
        targets: vec![2222, 4444],
    }
}

fn flexi_loss(p: &ParamStore, arch: &FlexiArch, batch: &MlmBatch) -> (f64, Recorder) {
    let mut rec = Recorder::on();
    let loss = flexibert::forward(p, arch, batch, &mut rec);
    (host(loss)[0], rec)
}

#[test]
fn padding_mask_hides_padded_tokens() {
    let arch = tiny_flexibert();
    let p = ParamStore::build(&flexibert::spec(&arch), 7, &device());
    let batch = tiny_mlm();
    let mut changed = batch.clone();
    changed.ids[10] = 7777;
    changed.ids[11] = 8888;
    let (l1, r1) = flexi_loss(&p, &arch, &batch);
    let (l2, r2) = flexi_loss(&p, &arch, &changed);
    assert!((l1 - l2).abs() < 1e-6, "{l1} vs {l2}");
    // Per-head outputs at real positions are unchanged; at padded ones they differ.
    let (h1, h2) = (host(r1.heads[1].0.clone()), host(r2.heads[1].0.clone()));
    let (heads, t, d) = (4, 6, 4);
    for bb in 0..2 {
        for h in 0..heads {
            for tt in 0..t {
                let real = batch.attention[bb * t + tt] == 1;
                for i in 0..d {
                    let k = ((bb * heads + h) * t + tt) * d + i;
                    if real {
                        assert!((h1[k] - h2[k]).abs() < 1e-6);
                    }
                }
            }
        }
    }
    assert_ne!(h1, h2, "padded positions themselves see the changed tokens");
}

fn tiny_gpt2() -> Gpt2Arch {
    Gpt2Arch {
        key: "tiny".into(),
        n_token: 16,
        n_layer: 2,
        d_model: 8,
        d_embed: 8,
        d_inner: vec![12, 6],
        n_head: vec![2, 4],
        div_val: 2,
        cutoffs: vec![5, 10, 100, 16],
        tgt_len: 8,
        tie_weight: true,
        tie_projs: vec![false, true, true, true],
        weight_init_std: 0.5,
        proj_init_std: 0.5,
    }
}

fn tiny_lm() -> LmBatch {
    LmBatch { batch: 2, len: 5, ids: vec![1, 7, 12, 3, 15, 9, 0, 11, 4, 6], targets: vec![7, 12, 3, 15, 2, 0, 11, 4, 6, 13] }
}

#[test]
fn causal_mask_hides_future_tokens() {
    let arch = tiny_gpt2();
    let p = ParamStore::build(&gpt2::spec(&arch), 3, &device());
    let batch = tiny_lm();
    let mut changed = batch.clone();
    changed.ids[3] = 14; // token 3 of row 0
    let (mut r1, mut r2) = (Recorder::on(), Recorder::on());
    gpt2::forward(&p, &arch, &batch, &mut r1);
    gpt2::forward(&p, &arch, &changed, &mut r2);
    let (h1, h2) = (host(r1.heads[1].0.clone()), host(r2.heads[1].0.clone()));
    let (heads, t, d) = (4, 5, 2);
    let mut later_differ = false;
    for h in 0..heads {
        for tt in 0..t {
            for i in 0..d {
                let k = (h * t + tt) * d + i; // batch row 0
                if tt < 3 {
                    assert!((h1[k] - h2[k]).abs() < 1e-6, "position {tt} saw a future token");
                } else if (h1[k] - h2[k]).abs() > 1e-6 {
                    later_differ = true;
                }
            }
        }
    }
    assert!(later_differ);
}

#[test]
fn adaptive_embedding_and_log_softmax_match_direct_per_cluster_sums() {
    let arch = tiny_gpt2();
    let p = ParamStore::build(&gpt2::spec(&arch), 5, &device());
    // Clusters [0, 5), [5, 10), [10, 16) with widths 8, 4, 2.
    let ends = [0usize, 5, 10, 16];
    let widths = [8usize, 4, 2];
    let dm = 8;
    let ids: Vec<u32> = (0..16).collect();
    let emb = host(gpt2::adaptive_embedding(&p, &arch, &ids));
    let table = |i: usize| p.values(&format!("wte.emb.{i}")).into_iter().map(f64::from).collect::<Vec<_>>();
    let proj = |i: usize| p.values(&format!("wte.proj.{i}")).into_iter().map(f64::from).collect::<Vec<_>>();
    for &id in &ids {
        let c = (0..3).find(|&c| (id as usize) < ends[c + 1]).unwrap();
        let (row, w, tb, pr) = (id as usize - ends[c], widths[c], table(c), proj(c));
        for j in 0..dm {
            // e · Pᵀ, P is [d_model, d_c]
            let want: f64 = (0..w).map(|k| tb[row * w + k] * pr[j * w + k]).sum();
            let got = emb[id as usize * dm + j];
            assert!((got - want).abs() < 1e-5, "id {id} dim {j}: {got} vs {want}");
        }
    }
    // NLL of every token under a hidden state, directly: head logits over cluster 0 and the two
    // cluster slots; a tail token adds its log-probability inside its cluster.
    let hidden = values(16 * dm, 9);
    let h_t = Tensor::<2>::from_data(TensorData::new(hidden.iter().map(|&x| x as f32).collect::<Vec<_>>(), [16, dm]), &device());
    let got = host(gpt2::adaptive_nll(&p, &arch, h_t, &ids));
    let out_proj0: Vec<f64> = p.values("crit.out_proj.0").into_iter().map(f64::from).collect();
    let cw: Vec<f64> = p.values("crit.cluster_weight").into_iter().map(f64::from).collect();
    let cb: Vec<f64> = p.values("crit.cluster_bias").into_iter().map(f64::from).collect();
    let bias = |i: usize| p.values(&format!("crit.bias.{i}")).into_iter().map(f64::from).collect::<Vec<_>>();
    let log_softmax = |z: &[f64]| {
        let m = z.iter().cloned().fold(f64::MIN, f64::max);
        let lz = z.iter().map(|v| (v - m).exp()).sum::<f64>().ln() + m;
        z.iter().map(|v| v - lz).collect::<Vec<_>>()
    };
    // h · P (P is [d_model, d_c]) then · tableᵀ.
    let project = |h: &[f64], pr: &[f64], w: usize| (0..w).map(|k| (0..dm).map(|j| h[j] * pr[j * w + k]).sum::<f64>()).collect::<Vec<_>>();
    for (n, &id) in ids.iter().enumerate() {
        let h = &hidden[n * dm..(n + 1) * dm];
        let hp = project(h, &out_proj0, 8);
        let t0 = table(0);
        let b0 = bias(0);
        let mut head: Vec<f64> = (0..5).map(|r| (0..8).map(|k| hp[k] * t0[r * 8 + k]).sum::<f64>() + b0[r]).collect();
        head.extend((0..2).map(|c| (0..8).map(|k| hp[k] * cw[c * 8 + k]).sum::<f64>() + cb[c]));
        let head = log_softmax(&head);
        let c = (0..3).find(|&c| (id as usize) < ends[c + 1]).unwrap();
        let want = if c == 0 {
            -head[id as usize]
        } else {
            let (w, tb, b) = (widths[c], table(c), bias(c));
            let hp = project(h, &proj(c), w);
            let size = ends[c + 1] - ends[c];
            let tail: Vec<f64> = (0..size).map(|r| (0..w).map(|k| hp[k] * tb[r * w + k]).sum::<f64>() + b[r]).collect();
            -(head[5 + c - 1] + log_softmax(&tail)[id as usize - ends[c]])
        };
        assert!((got[n] - want).abs() < 1e-4 * want.abs().max(1.0), "token {id}: {} vs {want}", got[n]);
    }
}

/// Central difference of the loss in one parameter element, against the autodiff gradient.
fn check_gradient(loss: &dyn Fn(&ParamStore) -> f64, p: &ParamStore, name: &str, grad: &[f64], what: &str) {
    // The element with the largest gradient, so the difference is well above f32 rounding.
    let (index, &g) = grad.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).unwrap();
    assert!(g.abs() > 1e-4, "{what}: the gradient is tiny ({g}), so the test would say nothing");
    let h = 1e-2;
    let mut delta = vec![0.0; grad.len()];
    delta[index] = h;
    let up = p.perturbed(name, &delta);
    delta[index] = -h;
    let fd = (loss(&up) - loss(&p.perturbed(name, &delta))) / (2.0 * h);
    let rel = (fd - g).abs() / g.abs();
    assert!(rel < 1e-2, "{what} `{name}`[{index}]: autodiff {g}, finite difference {fd} (relative error {rel})");
}

/// The declarations with every N(0, 0.02) scaled up, so that a tiny model's gradients stand well
/// above f32 rounding in a finite difference.
fn scaled(spec: Vec<ParamSpec>) -> Vec<ParamSpec> {
    spec.into_iter()
        .map(|mut s| {
            if let Init::TruncatedNormal(_) = s.init {
                s.init = Init::TruncatedNormal(0.3);
            }
            s
        })
        .collect()
}

#[test]
fn flexibert_gradients_match_finite_differences() {
    let arch = tiny_flexibert();
    let batch = tiny_mlm();
    let ad = device().autodiff();
    let p = ParamStore::build(&scaled(flexibert::spec(&arch)), 11, &ad);
    let mut rec = Recorder::on();
    let loss = flexibert::forward(&p, &arch, &batch, &mut rec);
    let grads = loss.backward();
    let f = |q: &ParamStore| host(flexibert::forward(q, &arch, &batch, &mut Recorder::default()));
    let f = |q: &ParamStore| f(q)[0];
    // G: every recorded block weight has a gradient; check a few against finite differences.
    assert_eq!(rec.linear.len(), 2 * 4 + 4 + 2, "q k v o + 4 FFN layers, then q k v o + 2");
    for name in ["layer.0.attn.query.weight", "layer.0.ffn.1.weight", "layer.1.attn.value.weight", "layer.1.ffn.out.weight"] {
        let g = host(p.matrix(name).grad(&grads).unwrap());
        check_gradient(&f, &p, name, &g, "G");
    }
    // J: ∂L/∂(input embeddings). Shifting position row 2 shifts the embeddings of position 2 in
    // every sequence, so ∂L/∂pos[2, d] = Σ_b J[b, 2, d].
    let (_, probe) = rec.embeddings.as_ref().unwrap();
    let j = host(probe.as_ref().unwrap().grad(&grads).unwrap());
    let e = flexibert::EMBED;
    let pos_grad: Vec<f64> = (0..e).map(|d| (0..2).map(|b| j[(b * 6 + 2) * e + d]).sum()).collect();
    let mut full = vec![0.0; 512 * e];
    full[2 * e..3 * e].copy_from_slice(&pos_grad);
    check_gradient(&f, &p, "emb.position", &full, "J");
    // At the benchmark's own initialisation the gradients are a real signal, not the rounding
    // noise (≈1e-6) the reference's Σ-output backward produced: they match finite differences too.
    let p = ParamStore::build(&flexibert::spec(&arch), 11, &ad);
    let loss = flexibert::forward(&p, &arch, &batch, &mut Recorder::on());
    let grads = loss.backward();
    for name in ["layer.0.attn.query.weight", "layer.1.ffn.out.weight"] {
        // Single elements are too small for an f32 difference here, so take the directional
        // derivative along the gradient, which must equal the gradient's norm.
        let g = host(p.matrix(name).grad(&grads).unwrap());
        let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!(norm > 1e-4, "{name}: |G| = {norm} is noise-sized");
        let h = 0.05;
        let up: Vec<f64> = g.iter().map(|x| h * x / norm).collect();
        let down: Vec<f64> = up.iter().map(|x| -x).collect();
        let fd = (f(&p.perturbed(name, &up)) - f(&p.perturbed(name, &down))) / (2.0 * h);
        assert!((fd - norm).abs() / norm < 1e-2, "{name}: directional difference {fd} vs |G| {norm}");
    }
}

#[test]
fn gpt2_gradients_match_finite_differences() {
    let arch = tiny_gpt2();
    let batch = tiny_lm();
    let ad = device().autodiff();
    let p = ParamStore::build(&gpt2::spec(&arch), 13, &ad);
    let mut rec = Recorder::on();
    let loss = gpt2::forward(&p, &arch, &batch, &mut rec);
    let grads = loss.backward();
    let f = |q: &ParamStore| host(gpt2::forward(q, &arch, &batch, &mut Recorder::default()))[0];
    assert_eq!(rec.linear.len(), 8, "four linear layers per block");
    for name in ["h.0.attn.c_attn.weight", "h.0.mlp.c_proj.weight", "h.1.attn.c_proj.weight", "h.1.mlp.c_fc.weight"] {
        let g = host(p.matrix(name).grad(&grads).unwrap());
        check_gradient(&f, &p, name, &g, "G");
    }
    let (_, probe) = rec.embeddings.as_ref().unwrap();
    let j = host(probe.as_ref().unwrap().grad(&grads).unwrap());
    let dm = arch.d_model;
    let pos_grad: Vec<f64> = (0..dm).map(|d| (0..2).map(|b| j[(b * 5 + 1) * dm + d]).sum()).collect();
    let mut full = vec![0.0; arch.tgt_len * dm];
    full[dm..2 * dm].copy_from_slice(&pos_grad);
    check_gradient(&f, &p, "wpe", &full, "J");
}

#[test]
fn built_tensors_hold_what_the_declarations_count() {
    for spec in [flexibert::spec(&tiny_flexibert()), gpt2::spec(&tiny_gpt2())] {
        let store = ParamStore::build(&spec, 1, &device());
        assert_eq!(store.numel(), spec.iter().map(|s| s.numel()).sum::<usize>());
    }
}

/// `nn::log_softmax_pick` against log-softmax in f64 by hand: the picked values, and through
/// autodiff the gradient `w_r · (δ(j = idx_r) − softmax_rj)` of `Σ_r w_r · out_r`; without
/// autodiff the same values; a row with −∞ (the composed fallback) still picks its finite column.
#[test]
fn log_softmax_pick_matches_f64_values_and_gradient() {
    let (rows, width) = (5, 37);
    let x: Vec<f64> = values(rows * width, 3).iter().map(|v| 8.0 * v).collect();
    let idx: Vec<i64> = vec![0, 36, 5, 17, 5];
    let w: Vec<f64> = vec![1.0, -0.5, 2.0, 0.25, 1.5];
    let ad = device().autodiff();
    let x32 = |dev: &Device| Tensor::<2>::from_data(TensorData::new(x.iter().map(|&v| v as f32).collect::<Vec<_>>(), [rows, width]), dev);
    let xt = x32(&ad).require_grad();
    let out = nn::log_softmax_pick(xt.clone(), idx.clone());
    let wt = Tensor::<1>::from_data(TensorData::new(w.iter().map(|&v| v as f32).collect::<Vec<_>>(), [rows]), &ad);
    let grads = (out.clone() * wt).sum().backward();
    let got = host(out);
    let grad = host(xt.grad(&grads).unwrap());
    let plain = host(nn::log_softmax_pick(x32(&device()), idx.clone()));
    for r in 0..rows {
        // x as the f32 the tensor holds, then everything in f64.
        let row: Vec<f64> = x[r * width..(r + 1) * width].iter().map(|&v| v as f32 as f64).collect();
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = row.iter().map(|v| (v - m).exp()).sum();
        let want = row[idx[r] as usize] - m - s.ln();
        assert!((got[r] - want).abs() < 1e-5, "row {r}: {} vs {want}", got[r]);
        assert_eq!(got[r], plain[r], "row {r}: with and without autodiff");
        for j in 0..width {
            let delta = if j as i64 == idx[r] { 1.0 } else { 0.0 };
            let want = w[r] * (delta - (row[j] - m).exp() / s);
            assert!((grad[r * width + j] - want).abs() < 1e-6, "gradient [{r}, {j}]: {} vs {want}", grad[r * width + j]);
        }
    }
    let mut masked: Vec<f32> = vec![1.0, 2.0, f32::NEG_INFINITY, 0.5];
    let out = host(nn::log_softmax_pick(Tensor::<2>::from_data(TensorData::new(masked.clone(), [1, 4]), &device()), vec![1]));
    masked.retain(|v| v.is_finite());
    let s: f64 = masked.iter().map(|&v| (v as f64 - 2.0).exp()).sum();
    assert!((out[0] - (0.0 - s.ln())).abs() < 1e-6, "{} vs {}", out[0], -s.ln());
}
