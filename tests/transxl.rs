//! The Transformer-XL family against values computed independently here: relative attention and
//! the relative shift against explicit per-position loops, a whole two-segment forward pass with
//! memory against an f64 reference written with plain loops, the adaptive log-softmax against
//! the explicit distribution over the vocabulary, autodiff gradients against central
//! differences, parameter counts against the benchmark's published numbers (200/200) and the
//! worked example of `TRANSFORMER_XL.md` §4, and the configuration conventions and errors.

use burn::tensor::{Device, Tensor, TensorData};
use lpzero::family::transxl::bench::{self as bench, TxlArch};
use lpzero::bench::{shared_data_dir, BenchError};
use lpzero::models::batch::LmBatch;
use lpzero::models::nn::Recorder;
use lpzero::models::params::{Init, ParamStore};
use lpzero::family::transxl::model::{self as txl, WordVocab};
use std::path::{Path, PathBuf};

fn device() -> Device {
    Device::flex()
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.inner().into_data().convert::<f32>().try_to_vec::<f32>().unwrap().into_iter().map(f64::from).collect()
}

fn tensor<const D: usize>(v: &[f64], shape: [usize; D]) -> Tensor<D> {
    Tensor::<D>::from_data(TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<_>>(), shape), &device())
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

fn val(p: &ParamStore, name: &str) -> Vec<f64> {
    p.values(name).into_iter().map(f64::from).collect()
}

fn close(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol * want.abs().max(1.0)
}

fn parse(text: &str) -> Result<TxlArch, BenchError> {
    bench::parse_config(Path::new("tiny.yaml"), "tiny", text)
}

/// A tiny configuration: 2 layers, d_model 8 with 2 and 4 heads, 20 tokens in 4 clusters
/// `[0,4) [4,8) [8,12) [12,20)`, memory 6 for segments of 4.
fn tiny_yaml(d_embed: usize, div_val: usize) -> String {
    format!(
        "n_token: 20\nn_layer: 2\nd_model: 8\nd_embed: {d_embed}\nd_head: -1\nn_head: [2, 4]\nd_inner: [12, 6]\ndiv_val: {div_val}\n\
         cutoffs: [4, 8, 12, 20]\ntgt_len: 4\nmem_len: 6\ntie_projs: [false, true, true, true]\ntie_weight: true\n\
         init_std: 0.4\nproj_init_std: 0.4\n"
    )
}

fn tiny(d_embed: usize, div_val: usize) -> TxlArch {
    parse(&tiny_yaml(d_embed, div_val)).expect("the tiny configuration parses")
}

/// The parameters of `arch` with every bias (and cluster bias) drawn too, so that bias handling
/// shows in the outputs.
fn params(arch: &TxlArch, seed: u64, device: &Device) -> ParamStore {
    let mut p = ParamStore::build(&txl::spec(arch), seed, device);
    for (k, s) in txl::spec(arch).iter().enumerate() {
        if s.init == Init::Zeros {
            p = p.perturbed(&s.name, &values(s.numel(), 1000 + k as u64).iter().map(|x| 0.3 * x).collect::<Vec<_>>());
        }
    }
    p
}

// ---------------------------------------------------------------------------------------------
// Relative attention and the relative shift.

#[test]
fn relative_shift_matches_its_closed_form() {
    for (q, m) in [(3usize, 0usize), (3, 2), (4, 5), (1, 3)] {
        let k = q + m;
        let (b, h) = (2, 2);
        let x = values(b * h * q * k, 7 + m as u64);
        let got = host(txl::rel_shift(tensor(&x, [b, h, q, k])));
        for bh in 0..b * h {
            let at = |i: usize, j: usize| x[(bh * q + i) * k + j];
            for i in 0..q {
                for j in 0..k {
                    let want = if j <= i + m {
                        at(i, j + q - 1 - i)
                    } else if j == i + m + 1 {
                        0.0
                    } else {
                        at(i + 1, j - i - m - 2)
                    };
                    let g = got[(bh * q + i) * k + j];
                    assert!((g - want).abs() < 1e-6, "q {q} M {m} [{bh}, {i}, {j}]: {g} vs {want}");
                }
            }
        }
    }
}

#[test]
fn relative_attention_matches_an_explicit_loop() {
    for m in [0usize, 3] {
        let (b, h, q, d) = (2usize, 3usize, 4usize, 2usize);
        let k = q + m;
        let (qv, kv, vv) = (values(b * h * q * d, 1), values(b * h * k * d, 2), values(b * h * k * d, 3));
        let (rv, u, w) = (values(k * h * d, 4), values(h * d, 5), values(h * d, 6));
        let (probs, ctx) = txl::rel_attention(
            tensor(&qv, [b, h, q, d]),
            tensor(&kv, [b, h, k, d]),
            tensor(&vv, [b, h, k, d]),
            tensor(&rv, [k, h, d]),
            tensor(&u, [h, d]),
            tensor(&w, [h, d]),
        );
        let (probs, ctx) = (host(probs), host(ctx));
        for bb in 0..b {
            for hh in 0..h {
                for i in 0..q {
                    let qe = |e: usize| qv[((bb * h + hh) * q + i) * d + e];
                    let ke = |j: usize, e: usize| kv[((bb * h + hh) * k + j) * d + e];
                    // R row r is for position k − 1 − r; the pair (i, j) is at distance M + i − j.
                    let re = |dist: usize, e: usize| rv[((k - 1 - dist) * h + hh) * d + e];
                    let seen = i + m + 1;
                    let scores: Vec<f64> = (0..seen)
                        .map(|j| {
                            let ac: f64 = (0..d).map(|e| (qe(e) + u[hh * d + e]) * ke(j, e)).sum();
                            let bd: f64 = (0..d).map(|e| (qe(e) + w[hh * d + e]) * re(m + i - j, e)).sum();
                            (ac + bd) / (d as f64).sqrt()
                        })
                        .collect();
                    let mx = scores.iter().cloned().fold(f64::MIN, f64::max);
                    let z: f64 = scores.iter().map(|s| (s - mx).exp()).sum();
                    for j in 0..k {
                        let want = if j < seen { (scores[j] - mx).exp() / z } else { 0.0 };
                        let got = probs[((bb * h + hh) * q + i) * k + j];
                        assert!((got - want).abs() < 1e-5, "M {m} b{bb} h{hh} i{i} j{j}: {got} vs {want}");
                    }
                    for e in 0..d {
                        let want: f64 = (0..seen).map(|j| (scores[j] - mx).exp() / z * vv[((bb * h + hh) * k + j) * d + e]).sum();
                        let got = ctx[((bb * h + hh) * q + i) * d + e];
                        assert!((got - want).abs() < 1e-5, "M {m} context b{bb} h{hh} i{i} e{e}: {got} vs {want}");
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// An f64 reference of the whole model, written from the specification with plain loops.

/// Names as `TRANSFORMER_XL.md` §3 gives them.
fn ref_emb_proj(arch: &TxlArch, c: usize) -> Option<String> {
    if arch.div_val == 1 {
        (arch.d_embed != arch.d_model).then(|| "word_emb.emb_projs.0".to_string())
    } else {
        Some(format!("word_emb.emb_projs.{c}"))
    }
}

fn ref_out_proj(arch: &TxlArch, c: usize) -> Option<String> {
    if arch.tie_projs[c] {
        ref_emb_proj(arch, c)
    } else if arch.div_val > 1 || arch.d_embed != arch.d_model {
        Some(format!("crit.out_projs.{c}"))
    } else {
        None
    }
}

/// Cluster `c`'s table rows `[size][width]` (tied: the embedding's) and its output biases.
fn ref_cluster_table(arch: &TxlArch, p: &ParamStore, c: usize) -> (Vec<f64>, Vec<f64>, usize) {
    let (lo, hi) = (arch.ends[c], arch.ends[c + 1]);
    if arch.div_val == 1 {
        let w = arch.d_embed;
        let t = val(p, "word_emb.emb_layers.0.weight");
        let b = val(p, "crit.out_layers_biases.0");
        (t[lo * w..hi * w].to_vec(), b[lo..hi].to_vec(), w)
    } else {
        (val(p, &format!("word_emb.emb_layers.{c}.weight")), val(p, &format!("crit.out_layers_biases.{c}")), arch.widths[c])
    }
}

fn cluster(arch: &TxlArch, id: usize) -> usize {
    (0..arch.ends.len() - 1).find(|&c| id < arch.ends[c + 1]).unwrap()
}

/// The embedding of one id (before the √d scale).
fn ref_embed(arch: &TxlArch, p: &ParamStore, id: usize) -> Vec<f64> {
    let c = cluster(arch, id);
    let (table, _, w) = ref_cluster_table(arch, p, c);
    let row = &table[(id - arch.ends[c]) * w..(id - arch.ends[c] + 1) * w];
    match ref_emb_proj(arch, c) {
        // e · Pᵀ with P [d, w].
        Some(name) => {
            let pr = val(p, &name);
            (0..arch.d_model).map(|j| (0..w).map(|k| row[k] * pr[j * w + k]).sum()).collect()
        }
        None => row.to_vec(),
    }
}

fn log_softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().cloned().fold(f64::MIN, f64::max);
    let lz = z.iter().map(|v| (v - m).exp()).sum::<f64>().ln() + m;
    z.iter().map(|v| v - lz).collect()
}

/// log p(y | h) for every y of the vocabulary, built cluster by cluster.
fn ref_log_probs(arch: &TxlArch, p: &ParamStore, h: &[f64]) -> Vec<f64> {
    let d = arch.d_model;
    let clusters = arch.ends.len() - 1;
    let project = |c: usize, w: usize| match ref_out_proj(arch, c) {
        Some(name) => {
            let pr = val(p, &name); // [d, w]: h · P
            (0..w).map(|k| (0..d).map(|j| h[j] * pr[j * w + k]).sum()).collect::<Vec<f64>>()
        }
        None => h.to_vec(),
    };
    let logits = |c: usize| {
        let (table, bias, w) = ref_cluster_table(arch, p, c);
        let hp = project(c, w);
        (0..bias.len()).map(|r| (0..w).map(|k| hp[k] * table[r * w + k]).sum::<f64>() + bias[r]).collect::<Vec<f64>>()
    };
    let mut head = logits(0);
    if clusters > 1 {
        let (cw, cb) = (val(p, "crit.cluster_weight"), val(p, "crit.cluster_bias"));
        let hp = project(0, arch.d_embed);
        head.extend((0..clusters - 1).map(|c| (0..arch.d_embed).map(|k| hp[k] * cw[c * arch.d_embed + k]).sum::<f64>() + cb[c]));
    }
    let head = log_softmax(&head);
    let e1 = arch.ends[1];
    let mut out = head[..e1].to_vec();
    for c in 1..clusters {
        out.extend(log_softmax(&logits(c)).into_iter().map(|lp| head[e1 + c - 1] + lp));
    }
    out
}

fn ref_layer_norm(x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    x.iter().enumerate().map(|(i, v)| (v - mean) / (var + 1e-5).sqrt() * w[i] + b[i]).collect()
}

/// `W x` with `W` `[out, in]` row-major.
fn matvec(w: &[f64], x: &[f64]) -> Vec<f64> {
    let n = x.len();
    w.chunks(n).map(|row| row.iter().zip(x).map(|(a, b)| a * b).sum()).collect()
}

struct RefOut {
    loss: f64,
    /// Per layer `[batch][M'][d]`.
    mems: Vec<Vec<f64>>,
    mem_len: usize,
    /// Per layer `[batch][head][query][key]`.
    probs: Vec<Vec<f64>>,
}

/// One segment of the model in f64; `mems` per layer `[batch][m][d]`. (Plain index loops on
/// purpose: the reference should read like the specification.)
#[allow(clippy::needless_range_loop)]
fn ref_forward(arch: &TxlArch, p: &ParamStore, batch: &LmBatch, mems: &[Vec<f64>], m: usize) -> RefOut {
    let (b, t, d) = (batch.batch, batch.len, arch.d_model);
    let kl = m + t;
    let mut h: Vec<f64> = batch.ids.iter().flat_map(|&id| ref_embed(arch, p, id as usize).into_iter().map(|x| x * (d as f64).sqrt())).collect();
    // Sinusoids at positions kl − 1 … 0.
    let pos: Vec<Vec<f64>> = (0..kl)
        .map(|j| {
            let pj = (kl - 1 - j) as f64;
            let freqs: Vec<f64> = (0..d / 2).map(|i| 1.0 / 10000f64.powf((2 * i) as f64 / d as f64)).collect();
            freqs.iter().map(|w| (pj * w).sin()).chain(freqs.iter().map(|w| (pj * w).cos())).collect()
        })
        .collect();
    let mut inputs = vec![];
    let mut probs_all = vec![];
    for l in 0..arch.n_layer {
        inputs.push(h.clone());
        let (nh, dh) = (arch.n_head[l], arch.d_head[l]);
        let hd = nh * dh;
        let a = |part: &str| val(p, &format!("layers.{l}.dec_attn.{part}"));
        let f = |part: &str| val(p, &format!("layers.{l}.pos_ff.{part}"));
        let (wqkv, wo, wr) = (a("qkv_net.weight"), a("o_net.weight"), a("r_net.weight"));
        let (u, v) = (val(p, &format!("r_w_bias_{l}")), val(p, &format!("r_r_bias_{l}")));
        let rk: Vec<Vec<f64>> = pos.iter().map(|r| matvec(&wr, r)).collect();
        let mut out = vec![0.0; b * t * d];
        let mut probs = vec![0.0; b * nh * t * kl];
        for bb in 0..b {
            let cat: Vec<&[f64]> = (0..kl).map(|j| if j < m { &mems[l][(bb * m + j) * d..(bb * m + j + 1) * d] } else { &h[(bb * t + j - m) * d..(bb * t + j - m + 1) * d] }).collect();
            let qkv: Vec<Vec<f64>> = cat.iter().map(|x| matvec(&wqkv, x)).collect();
            for i in 0..t {
                let mut ctx = vec![0.0; hd];
                for hh in 0..nh {
                    let q = |e: usize| qkv[m + i][hh * dh + e];
                    let seen = i + m + 1;
                    let scores: Vec<f64> = (0..seen)
                        .map(|j| {
                            let dist = m + i - j;
                            let r = &rk[kl - 1 - dist];
                            (0..dh).map(|e| (q(e) + u[hh * dh + e]) * qkv[j][hd + hh * dh + e] + (q(e) + v[hh * dh + e]) * r[hh * dh + e]).sum::<f64>()
                                / (dh as f64).sqrt()
                        })
                        .collect();
                    let mx = scores.iter().cloned().fold(f64::MIN, f64::max);
                    let z: f64 = scores.iter().map(|s| (s - mx).exp()).sum();
                    for j in 0..seen {
                        let pj = (scores[j] - mx).exp() / z;
                        probs[((bb * nh + hh) * t + i) * kl + j] = pj;
                        for e in 0..dh {
                            ctx[hh * dh + e] += pj * qkv[j][2 * hd + hh * dh + e];
                        }
                    }
                }
                let x_in = &h[(bb * t + i) * d..(bb * t + i + 1) * d];
                let att = matvec(&wo, &ctx);
                let x: Vec<f64> = x_in.iter().zip(&att).map(|(a, b)| a + b).collect();
                let x = ref_layer_norm(&x, &a("layer_norm.weight"), &a("layer_norm.bias"));
                let hidden: Vec<f64> = matvec(&f("CoreNet.0.weight"), &x).iter().zip(f("CoreNet.0.bias")).map(|(a, b)| (a + b).max(0.0)).collect();
                let y: Vec<f64> = matvec(&f("CoreNet.3.weight"), &hidden).iter().zip(f("CoreNet.3.bias")).map(|(a, b)| a + b).collect();
                let z: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a + b).collect();
                out[(bb * t + i) * d..(bb * t + i + 1) * d].copy_from_slice(&ref_layer_norm(&z, &f("layer_norm.weight"), &f("layer_norm.bias")));
            }
        }
        h = out;
        probs_all.push(probs);
    }
    let n = b * t;
    let loss = (0..n).map(|r| -ref_log_probs(arch, p, &h[r * d..(r + 1) * d])[batch.targets[r] as usize]).sum::<f64>() / n as f64;
    let keep = arch.mem_len.min(kl);
    let mems = inputs
        .iter()
        .enumerate()
        .map(|(l, x)| {
            let mut out = vec![];
            for bb in 0..b {
                let rows: Vec<&[f64]> = (0..kl).map(|j| if j < m { &mems[l][(bb * m + j) * d..(bb * m + j + 1) * d] } else { &x[(bb * t + j - m) * d..(bb * t + j - m + 1) * d] }).collect();
                for row in &rows[kl - keep..] {
                    out.extend_from_slice(row);
                }
            }
            out
        })
        .collect();
    RefOut { loss, mems, mem_len: keep, probs: probs_all }
}

/// Two segments of 2 × 4 tokens that visit every cluster.
fn segments() -> [LmBatch; 2] {
    [
        LmBatch { batch: 2, len: 4, ids: vec![0, 5, 13, 2, 9, 1, 17, 3], targets: vec![5, 13, 2, 10, 1, 17, 3, 6] },
        LmBatch { batch: 2, len: 4, ids: vec![10, 3, 19, 7, 6, 11, 0, 14], targets: vec![3, 19, 7, 1, 11, 0, 14, 8] },
    ]
}

#[test]
fn two_segments_with_memory_match_the_f64_reference() {
    for (d_embed, div_val) in [(8, 2), (16, 1)] {
        let arch = tiny(d_embed, div_val);
        let p = params(&arch, 21, &device());
        let [s1, s2] = segments();
        let mut rec = Recorder::on();
        let (loss1, mems1) = txl::forward(&p, &arch, &s1, None, &mut rec);
        let want1 = ref_forward(&arch, &p, &s1, &[vec![], vec![]], 0);
        let l1 = host(loss1)[0];
        assert!(close(l1, want1.loss, 1e-4), "segment 1: {l1} vs {}", want1.loss);
        assert_eq!(want1.mem_len, 4);
        assert_eq!(mems1.len(), 2);
        for (l, mem) in mems1.iter().enumerate() {
            assert_eq!(mem.dims(), [2, 4, 8]);
            let got = host(mem.clone());
            assert!(got.iter().zip(&want1.mems[l]).all(|(g, w)| (g - w).abs() < 1e-4), "memory {l} after segment 1");
        }
        // Segment 2 attends to 4 remembered positions; its memory keeps the last 6 of 8.
        let mut rec = Recorder::on();
        let (loss2, mems2) = txl::forward(&p, &arch, &s2, Some(&mems1), &mut rec);
        let want2 = ref_forward(&arch, &p, &s2, &want1.mems, 4);
        let l2 = host(loss2)[0];
        assert!(close(l2, want2.loss, 1e-4), "segment 2: {l2} vs {}", want2.loss);
        assert_eq!(want2.mem_len, 6);
        for (l, mem) in mems2.iter().enumerate() {
            assert_eq!(mem.dims(), [2, 6, 8]);
            let got = host(mem.clone());
            assert!(got.iter().zip(&want2.mems[l]).all(|(g, w)| (g - w).abs() < 1e-4), "memory {l} after segment 2");
        }
        // Without the memory the loss is different: the memory path matters.
        let (alone, _) = txl::forward(&p, &arch, &s2, None, &mut Recorder::default());
        assert!((host(alone)[0] - l2).abs() > 1e-4);
        // What the recorder holds for the proxies.
        let names: Vec<&str> = rec.linear.iter().map(String::as_str).collect();
        let per_layer = |i: usize| {
            ["dec_attn.qkv_net", "dec_attn.o_net", "dec_attn.r_net", "pos_ff.CoreNet.0", "pos_ff.CoreNet.3"].map(|s| format!("layers.{i}.{s}.weight"))
        };
        assert_eq!(names, per_layer(0).iter().chain(per_layer(1).iter()).map(String::as_str).collect::<Vec<_>>());
        assert_eq!(rec.attn_probs[0].dims(), [2, 2, 4, 8]);
        assert_eq!(rec.attn_probs[1].dims(), [2, 4, 4, 8]);
        assert_eq!(rec.heads[0].0.dims(), [2, 2, 4, 4]);
        assert_eq!(rec.heads[1].0.dims(), [2, 4, 4, 2]);
        assert_eq!(rec.ffn_act[0].0.dims(), [2, 4, 12]);
        assert_eq!(rec.ffn_act[1].0.dims(), [2, 4, 6]);
        // The embeddings are recorded for their gradient (`J`) only, which a pass without
        // autodiff does not have (the autodiff gather records them: tests/gather_need.rs).
        assert!(rec.embeddings.is_none());
        for l in 0..2 {
            let got = host(rec.attn_probs[l].clone());
            assert!(got.iter().zip(&want2.probs[l]).all(|(g, w)| (g - w).abs() < 1e-4), "attention probabilities of layer {l}");
        }
    }
}

#[test]
fn a_memory_longer_than_mem_len_is_cut_and_zero_mem_len_keeps_none() {
    let mut arch = tiny(8, 2);
    let p = params(&arch, 5, &device());
    let [s1, s2] = segments();
    arch.mem_len = 3;
    let (_, m1) = txl::forward(&p, &arch, &s1, None, &mut Recorder::default());
    assert_eq!(m1[0].dims(), [2, 3, 8]);
    let want = ref_forward(&arch, &p, &s1, &[vec![], vec![]], 0);
    assert!(host(m1[1].clone()).iter().zip(&want.mems[1]).all(|(g, w)| (g - w).abs() < 1e-4));
    let (l2, m2) = txl::forward(&p, &arch, &s2, Some(&m1), &mut Recorder::default());
    let want2 = ref_forward(&arch, &p, &s2, &want.mems, 3);
    assert!(close(host(l2)[0], want2.loss, 1e-4));
    assert_eq!(m2[0].dims(), [2, 3, 8]);
    arch.mem_len = 0;
    let (_, none) = txl::forward(&p, &arch, &s1, None, &mut Recorder::default());
    assert!(none.is_empty());
}

// ---------------------------------------------------------------------------------------------
// The adaptive embedding and log-softmax.

#[test]
fn adaptive_log_softmax_is_a_distribution_and_gives_the_nll() {
    // div_val 1 with and without a projection, div_val 2 with d_embed = d_model and ≠ d_model.
    for (d_embed, div_val) in [(8, 1), (16, 1), (8, 2), (16, 2)] {
        let arch = tiny(d_embed, div_val);
        assert_eq!(arch.ends, vec![0, 4, 8, 12, 20]);
        let p = params(&arch, 3, &device());
        let v = arch.n_token;
        let rows = 3;
        let hidden = values(rows * 8, 40 + d_embed as u64);
        // Every token of the vocabulary as the target of every hidden row.
        let hid: Vec<f64> = (0..rows).flat_map(|r| (0..v).flat_map(move |_| (0..8).map(move |j| (r, j)))).map(|(r, j)| hidden[r * 8 + j]).collect();
        let targets: Vec<u32> = (0..rows).flat_map(|_| 0..v as u32).collect();
        let got = host(txl::adaptive_nll(&p, &arch, tensor(&hid, [rows * v, 8]), &targets));
        for r in 0..rows {
            let lp = ref_log_probs(&arch, &p, &hidden[r * 8..(r + 1) * 8]);
            let total: f64 = lp.iter().map(|x| x.exp()).sum();
            assert!((total - 1.0).abs() < 1e-9, "the distribution sums to {total}");
            for y in 0..v {
                let g = got[r * v + y];
                assert!(close(g, -lp[y], 1e-4), "d_embed {d_embed} div_val {div_val} row {r} target {y}: {g} vs {}", -lp[y]);
            }
        }
        // The embedding, token by token.
        let ids: Vec<u32> = (0..v as u32).collect();
        let emb = host(txl::adaptive_embedding(&p, &arch, &ids));
        for &id in &ids {
            let want = ref_embed(&arch, &p, id as usize);
            for j in 0..8 {
                assert!((emb[id as usize * 8 + j] - want[j]).abs() < 1e-5, "embedding of {id}");
            }
        }
    }
}

#[test]
fn declarations_follow_the_specification() {
    let arch = tiny(16, 2);
    let spec = txl::spec(&arch);
    let names: Vec<&str> = spec.iter().map(|s| s.name.as_str()).collect();
    let shape = |n: &str| spec.iter().find(|s| s.name == n).map(|s| s.shape.clone());
    assert_eq!(&names[..4], ["r_w_bias_0", "r_r_bias_0", "r_w_bias_1", "r_r_bias_1"]);
    assert_eq!(shape("r_w_bias_1"), Some(vec![4, 2]));
    assert_eq!(shape("word_emb.emb_layers.3.weight"), Some(vec![8, 2]));
    assert_eq!(shape("word_emb.emb_projs.3"), Some(vec![8, 2]));
    assert_eq!(shape("layers.1.dec_attn.qkv_net.weight"), Some(vec![24, 8]));
    assert_eq!(shape("layers.1.pos_ff.CoreNet.0.weight"), Some(vec![6, 8]));
    assert_eq!(shape("crit.cluster_weight"), Some(vec![3, 16]));
    assert_eq!(shape("crit.out_projs.0"), Some(vec![8, 16]));
    assert!(shape("crit.out_projs.1").is_none(), "tied projections are declared once");
    for s in &spec {
        let std = arch.init_std;
        let want = if s.name.ends_with("layer_norm.weight") {
            Init::NormalAround { mean: 1.0, std }
        } else if s.name.ends_with(".bias") || s.name.starts_with("crit.out_layers_biases") || s.name == "crit.cluster_bias" {
            Init::Zeros
        } else if s.name.contains("projs") {
            Init::Normal(arch.proj_init_std)
        } else {
            Init::Normal(std)
        };
        assert_eq!(s.init, want, "{}", s.name);
    }
    // div_val 1 with d_embed = d_model: no projection anywhere.
    let plain = txl::spec(&tiny(8, 1));
    assert!(plain.iter().all(|s| !s.name.contains("projs")));
    // LayerNorm weights are drawn around 1, not set to 1.
    let wide = parse("n_token: 10\nn_layer: 1\nd_model: 4096\nn_head: 8\nd_inner: 8\ndiv_val: 1\ncutoffs: []\ntgt_len: 4\nmem_len: 4\n").unwrap();
    let norms: Vec<_> = txl::spec(&wide).into_iter().filter(|s| s.name.ends_with("layer_norm.weight")).collect();
    assert_eq!(norms.len(), 2);
    let p = ParamStore::build(&norms, 1, &device());
    let w = val(&p, "layers.0.dec_attn.layer_norm.weight");
    let mean = w.iter().sum::<f64>() / w.len() as f64;
    let sd = (w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / w.len() as f64).sqrt();
    assert!((mean - 1.0).abs() < 0.002 && (sd - 0.02).abs() < 0.002, "LayerNorm weight mean {mean}, std {sd}");
}

// ---------------------------------------------------------------------------------------------
// Gradients.

/// Central difference of the loss in the element with the largest gradient, against autodiff.
fn check_gradient(loss: &dyn Fn(&ParamStore) -> f64, p: &ParamStore, name: &str, grad: &[f64]) {
    let (index, &g) = grad.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).unwrap();
    assert!(g.abs() > 1e-3, "`{name}`: the gradient is tiny ({g}), so the test would say nothing");
    let h = 1e-2;
    let mut delta = vec![0.0; grad.len()];
    delta[index] = h;
    let up = p.perturbed(name, &delta);
    delta[index] = -h;
    let fd = (loss(&up) - loss(&p.perturbed(name, &delta))) / (2.0 * h);
    let rel = (fd - g).abs() / g.abs();
    assert!(rel < 1e-2, "`{name}`[{index}]: autodiff {g}, finite difference {fd} (relative error {rel})");
}

#[test]
fn gradients_match_finite_differences_on_the_second_segment() {
    let arch = tiny(8, 2);
    let ad = device().autodiff();
    let p = params(&arch, 17, &ad);
    let [s1, s2] = segments();
    let (_, mems) = txl::forward(&p, &arch, &s1, None, &mut Recorder::default());
    let mut rec = Recorder::on();
    let (loss, _) = txl::forward(&p, &arch, &s2, Some(&mems), &mut rec);
    let grads = loss.backward();
    // The memory is fixed (detached): a perturbed model sees the same memory.
    let f = |q: &ParamStore| host(txl::forward(q, &arch, &s2, Some(&mems), &mut Recorder::default()).0)[0];
    for name in [
        "layers.0.dec_attn.qkv_net.weight",
        "layers.1.dec_attn.r_net.weight",
        "layers.0.dec_attn.o_net.weight",
        "r_w_bias_1",
        "r_r_bias_0",
        "layers.0.pos_ff.CoreNet.0.weight",
        "layers.1.pos_ff.CoreNet.3.weight",
        "layers.1.pos_ff.layer_norm.weight",
        "word_emb.emb_layers.0.weight",
        "word_emb.emb_layers.2.weight",
        "word_emb.emb_projs.3",
        "crit.cluster_weight",
        "crit.out_projs.0",
    ] {
        let g = host(p.matrix(name).grad(&grads).unwrap_or_else(|| panic!("{name} has a gradient")));
        check_gradient(&f, &p, name, &g);
    }
    // The recorded activations have gradients (GA, GH, J) of the right shapes.
    assert_eq!(rec.ffn_act[1].1.as_ref().unwrap().grad(&grads).unwrap().dims(), [2, 4, 6]);
    assert_eq!(rec.heads[0].1.as_ref().unwrap().grad(&grads).unwrap().dims(), [2, 2, 4, 4]);
}

#[test]
fn the_embedding_gradient_j_matches_finite_differences() {
    // div_val 1, d_embed = d_model and untied output weights: the table enters only through the
    // embedding, whose row for an id is the embedding / √d, so ∂L/∂table[id] = √d Σ_{positions of id} J.
    let mut arch = tiny(8, 1);
    arch.tie_weight = false;
    let ad = device().autodiff();
    let p = params(&arch, 29, &ad);
    let [s1, _] = segments();
    let mut rec = Recorder::on();
    let (loss, _) = txl::forward(&p, &arch, &s1, None, &mut rec);
    let grads = loss.backward();
    let (_, probe) = rec.embeddings.as_ref().unwrap();
    let j = host(probe.as_ref().unwrap().grad(&grads).unwrap());
    let mut full = vec![0.0; 20 * 8];
    for (pos, &id) in s1.ids.iter().enumerate() {
        for k in 0..8 {
            full[id as usize * 8 + k] += 8f64.sqrt() * j[pos * 8 + k];
        }
    }
    let f = |q: &ParamStore| host(txl::forward(q, &arch, &s1, None, &mut Recorder::default()).0)[0];
    check_gradient(&f, &p, "word_emb.emb_layers.0.weight", &full);
}

// ---------------------------------------------------------------------------------------------
// Parameter counts.

/// `config_0_j0`'s architecture fields.
const CONFIG_0_J0: &str = "n_token: 267736\nn_layer: 5\nd_model: 64\nd_embed: 512\nd_head: -1\nn_head: [4, 2, 2, 8, 8]\n\
    d_inner: [710, 1021, 1683, 1053, 1748]\ndiv_val: 2\ncutoffs: [19997, 39997, 199997, 267736]\ntgt_len: 192\nmem_len: 192\n\
    tie_projs: [false, true, true, true]\ntie_weight: true\nnot_tied: false\ninit_std: 0.02\nproj_init_std: 0.01\n\
    n_all_param: 41442978\nn_nonemb_param: 905735\n";

#[test]
fn the_worked_example_of_the_specification_is_counted_exactly() {
    let arch = parse(CONFIG_0_J0).unwrap();
    let got = txl::count(&arch);
    // TRANSFORMER_XL.md §4, by hand.
    let tables = 19_997 * 512 + 20_000 * 256 + 160_000 * 128 + 67_739 * 64;
    assert_eq!(tables, 40_173_760);
    let ada = tables + 64 * (512 + 256 + 128 + 64);
    let attn = 5 * (5 * 64 * 64 + 2 * 64);
    let ffn = 129 * 6215 + 5 * 64;
    let nonemb = attn + ffn + 5 * 256;
    let softmax = 3 * 512 + 3 + 267_736 + 64 * 512;
    let total = ada + nonemb + softmax;
    let want = [
        ("AdaEmb", 40_235_200u64),
        ("Attn", 103_040),
        ("FFN", 802_055),
        ("nonembedding", 906_375),
        ("total", 41_443_618),
        ("n_all_param", 41_442_978),
        ("n_nonemb_param", 905_735),
    ];
    assert_eq!([ada, attn, ffn, nonemb, total], [40_235_200, 103_040, 802_055, 906_375, 41_443_618]);
    assert_eq!(got, want.to_vec());
    assert_eq!(arch.n_all_param, Some(41_442_978));
    assert_eq!(arch.n_nonemb_param, Some(905_735));
}

fn transxl_dir() -> Option<PathBuf> {
    let dir = shared_data_dir()?.join("benchmarks/transxl-wt103");
    dir.is_dir().then_some(dir)
}

#[test]
fn counts_reproduce_every_published_number_of_the_benchmark() {
    let Some(dir) = transxl_dir() else {
        println!("skipped: benchmarks/transxl-wt103 is not available (set LPZERO_DATA)");
        return;
    };
    let archs = bench::load(&dir).unwrap();
    let published = bench::published_counts(&dir).unwrap();
    assert_eq!(archs.len(), 200);
    assert_eq!(published.len(), 200);
    let mut matched = 0;
    for (arch, ppl) in &archs {
        assert!(ppl.is_some(), "{} has a valid_ppl", arch.key);
        let got = txl::count(arch);
        let stored = published[&arch.key];
        let want: Vec<u64> = stored.iter().map(|&x| x as u64).chain([arch.n_all_param.unwrap(), arch.n_nonemb_param.unwrap()]).collect();
        let have: Vec<u64> = got.iter().map(|&(_, v)| v).collect();
        if have == want {
            matched += 1;
        } else {
            println!("{}: counted {have:?}, stored {want:?}", arch.key);
        }
    }
    println!("parameter counts: {matched}/{} architectures match all 7 stored counts", archs.len());
    assert_eq!(matched, 200);
    // Sorted by (config, job) numerically.
    let keys: Vec<&str> = archs.iter().map(|(a, _)| a.key.as_str()).collect();
    assert_eq!(&keys[..3], ["config_0_j0", "config_0_j1", "config_0_j2"]);
    assert_eq!(keys[20], "config_2_j0");
    assert_eq!(keys[199], "config_19_j9");
}

// ---------------------------------------------------------------------------------------------
// Configurations.

#[test]
fn configuration_conventions_are_archais() {
    let base = "n_token: 20\nn_layer: 4\nd_model: 8\ndiv_val: 2\ntgt_len: 4\nmem_len: 4\n";
    // Negative d_embed and d_head; a scalar n_head; a short d_inner padded with its first entry.
    let a = parse(&format!("{base}d_embed: -1\nd_head: -1\nn_head: 4\nd_inner: [5, 6]\ncutoffs: [4, 8, 100, 200]\n")).unwrap();
    assert_eq!(a.d_embed, 8);
    assert_eq!(a.n_head, vec![4; 4]);
    assert_eq!(a.d_head, vec![2; 4]);
    assert_eq!(a.d_inner, vec![5, 6, 5, 5]);
    // Cut-offs beyond the vocabulary are dropped, and n_token closes the list.
    assert_eq!(a.cutoffs, vec![4, 8, 100, 200]);
    assert_eq!(a.ends, vec![0, 4, 8, 20]);
    assert_eq!(a.widths, vec![8, 4, 2]);
    // Defaults: tie_projs [false, true, ...] (adaptive), tied weights, stds 0.02 / 0.01.
    assert_eq!(a.tie_projs, vec![false, true, true]);
    assert!(a.tie_weight);
    assert_eq!((a.init_std, a.proj_init_std), (0.02, 0.01));
    assert_eq!((a.n_all_param, a.n_nonemb_param), (None, None));
    // A long list is cut; per-layer d_head derived from each layer's heads; explicit d_head kept.
    let b = parse(&format!("{base}d_embed: 16\nn_head: [2, 4, 8, 1, 2, 2]\nd_inner: 7\ncutoffs: [10]\nnot_tied: true\nweight_init_std: 0.1\ntie_projs: [true]\n")).unwrap();
    assert_eq!(b.n_head, vec![2, 4, 8, 1]);
    assert_eq!(b.d_head, vec![4, 2, 1, 8]);
    assert_eq!(b.d_inner, vec![7; 4]);
    assert_eq!(b.ends, vec![0, 10, 20]);
    assert_eq!(b.tie_projs, vec![true, false], "missing entries are untied");
    assert!(!b.tie_weight);
    assert_eq!(b.init_std, 0.1);
    let c = parse(&format!("{base}n_head: 3\nd_head: [5, 6]\nd_inner: 7\ncutoffs: [10]\n")).unwrap();
    assert_eq!(c.d_head, vec![5, 6, 5, 5], "an explicit d_head need not divide d_model");
    // An untied model declares its own output weights, and the counts see them.
    assert!(txl::spec(&b).iter().any(|s| s.name == "crit.out_layers_weights.1" && s.shape == [10, 8]));
    // The benchmark's own settings.
    let x = parse(CONFIG_0_J0).unwrap();
    assert_eq!(x.widths, vec![512, 256, 128, 64]);
    assert_eq!(x.d_head, vec![16, 32, 32, 8, 8]);
}

fn error_of(text: &str) -> String {
    match parse(text) {
        Ok(a) => panic!("expected an error, parsed {a:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_configurations_are_clear_errors() {
    let good = "n_token: 20\nn_layer: 2\nd_model: 8\nd_embed: 8\nn_head: [2, 4]\nd_inner: [12, 6]\ndiv_val: 2\ncutoffs: [4, 8]\ntgt_len: 4\nmem_len: 4\n";
    assert!(parse(good).is_ok());
    let with = |field: &str, value: &str| {
        let mut lines: Vec<String> = good.lines().filter(|l| !l.starts_with(&format!("{field}:"))).map(str::to_owned).collect();
        if !value.is_empty() {
            lines.push(format!("{field}: {value}"));
        }
        lines.join("\n")
    };
    let cases = [
        ("n_head", "", "`n_head` is missing"),
        ("d_model", "", "`d_model` is missing"),
        ("n_head", "[a, b]", "`n_head` must be a list of integers, but entry 0 is the string \"a\""),
        ("d_inner", "large", "`d_inner` must be an integer or a list of integers"),
        ("cutoffs", "[8, 4]", "cutoffs must increase"),
        ("n_head", "[3, 4]", "layer 0: 3 heads do not divide d_model 8"),
        ("n_head", "[]", "`n_head` is an empty list"),
        ("d_model", "0", "`d_model` must be positive"),
        ("div_val", "-2", "`div_val` must be positive"),
        ("d_inner", "[12, 0]", "`d_inner` entry 1 must be positive"),
        ("div_val", "16", "cluster 1 would have width 0"),
        ("attn_type", "2", "attn_type 0"),
        ("pre_lnorm", "true", "post-LayerNorm"),
        ("tie_weight", "false\nnot_tied: false", "contradicts"),
        ("init_std", "-0.1", "`init_std` must be a positive number"),
        ("cutoffs", "[0, 8]", "head cluster would be empty"),
    ];
    for (field, value, want) in cases {
        let msg = error_of(&with(field, value));
        assert!(msg.contains(want), "{field}: {value:?}: {msg:?} does not say {want:?}");
        assert!(msg.contains("tiny.yaml") && msg.contains("tiny"), "{msg:?} names the file and the key");
    }
    assert!(matches!(parse("- 1\n- 2\n"), Err(BenchError::Parse { .. })));
    assert!(matches!(parse("n_head: [1,\n"), Err(BenchError::Parse { .. })));
}

#[test]
fn no_configuration_makes_the_parser_panic() {
    // Every field of the benchmark configuration replaced in turn by odd values: an error or an
    // architecture, never a panic.
    let odd = ["-1", "0", "1", "2.5", "1e30", "99999999999999999999", "[]", "[0]", "[-3, 2]", "x", "null", "true", "{a: 1}", "[[1]]", "[1, x]"];
    for (i, line) in CONFIG_0_J0.lines().enumerate() {
        let field = line.split(':').next().unwrap();
        for v in odd {
            let text: String = CONFIG_0_J0.lines().enumerate().map(|(k, l)| if k == i { format!("{field}: {v}\n") } else { format!("{l}\n") }).collect();
            if let Ok(arch) = parse(&text) {
                // What parses can be declared and counted.
                assert!(!txl::spec(&arch).is_empty());
                let _ = txl::count(&arch);
            }
        }
    }
}

#[test]
fn transxl_configurations_are_recognised() {
    assert!(bench::looks_like_transxl(CONFIG_0_J0));
    assert!(bench::looks_like_transxl("model_type: transxl\nn_layer: 2\n"));
    let gpt2_like = "n_token: 50264\nn_layer: 2\nd_model: 128\nweight_init_std: 0.02\ntie_weight: true\n";
    assert!(!bench::looks_like_transxl(gpt2_like));
    assert!(!bench::looks_like_transxl("not: [yaml"));
    if let Some(data) = shared_data_dir() {
        let t = std::fs::read_to_string(data.join("benchmarks/transxl-wt103/config_3/j7/model_config.yaml")).unwrap();
        let g = std::fs::read_to_string(data.join("benchmarks/gpt2-wt103/config_3/j7/model_config.yaml")).unwrap();
        assert!(bench::looks_like_transxl(&t));
        assert!(!bench::looks_like_transxl(&g));
    } else {
        println!("skipped the data part: no shared data");
    }
}

// ---------------------------------------------------------------------------------------------
// The loader.

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_loader_sorts_numerically_and_tolerates_unfinished_runs() {
    let dir = TempDir(std::env::temp_dir().join(format!("lpzero-transxl-{}", std::process::id())));
    let cfg = tiny_yaml(8, 2);
    for (c, j) in [(10, 0), (0, 1), (2, 0), (0, 0), (0, 10)] {
        let d = dir.0.join(format!("config_{c}/j{j}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("model_config.yaml"), &cfg).unwrap();
    }
    std::fs::create_dir_all(dir.0.join("config_x/j0")).unwrap(); // not an architecture folder
    std::fs::write(
        dir.0.join("ppl_summary.yaml"),
        "config_0_j0:\n  valid_ppl: 30.5\n  test_ppl: 31.0\nconfig_0_j1:\n  test_ppl: 40.0\nconfig_10_j0:\n  valid_ppl: .nan\nconfig_0_j10:\n  valid_ppl: -1.0\n",
    )
    .unwrap();
    let loaded = bench::load(&dir.0).unwrap();
    let got: Vec<(&str, Option<f64>)> = loaded.iter().map(|(a, p)| (a.key.as_str(), *p)).collect();
    assert_eq!(
        got,
        [("config_0_j0", Some(30.5)), ("config_0_j1", None), ("config_0_j10", None), ("config_2_j0", None), ("config_10_j0", None)]
    );
    // Published counts: read in field order; an entry without a field is an error naming it.
    std::fs::write(dir.0.join("params_summary.yaml"), "config_0_j0:\n  AdaEmb: 1.0\n  Attn: 2.0\n  FFN: 3.0\n  nonembedding: 4.0\n  total: 5.0\n").unwrap();
    assert_eq!(bench::published_counts(&dir.0).unwrap()["config_0_j0"], [1.0, 2.0, 3.0, 4.0, 5.0]);
    std::fs::write(dir.0.join("params_summary.yaml"), "config_0_j0:\n  AdaEmb: 1.0\n").unwrap();
    let e = bench::published_counts(&dir.0).unwrap_err().to_string();
    assert!(e.contains("config_0_j0") && e.contains("Attn"), "{e}");
    // A configuration that does not parse is an error naming its file.
    std::fs::write(dir.0.join("config_2/j0/model_config.yaml"), "n_token: 20\n").unwrap();
    let e = bench::load(&dir.0).unwrap_err().to_string();
    assert!(e.contains("config_2/j0/model_config.yaml") && e.contains("config_2_j0"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Word tokens and a real-size model.

fn corpus() -> Option<String> {
    std::fs::read_to_string(shared_data_dir()?.join("corpus/wikitext-2-valid.txt")).ok()
}

#[test]
fn word_ranks_of_wikitext_2_valid_fall_in_the_head_cluster() {
    let Some(text) = corpus() else {
        println!("skipped: corpus/wikitext-2-valid.txt is not available");
        return;
    };
    let vocab = WordVocab::from_text(&text);
    let ids = vocab.encode(&text);
    // TRANSFORMER_XL.md §10: 213 886 words on 3 760 lines, 13 776 distinct words (<unk> among them).
    assert_eq!(ids.len(), 213_886 + 3_760);
    assert_eq!(ids.iter().filter(|&&i| i == WordVocab::EOS).count(), 3_760);
    assert_eq!(vocab.len(), 13_776 + 1);
    assert_eq!(ids.iter().copied().max(), Some(13_776));
    assert_eq!(vocab.word(2), Some("the"));
    assert!(txl::word_tokens(&text, 267_736).is_ok());
    assert!(txl::word_tokens(&text, 10_000).is_err());
}

fn config_0_j0() -> Option<(TxlArch, String)> {
    let dir = transxl_dir()?;
    let path = dir.join("config_0/j0/model_config.yaml");
    let arch = bench::parse_config(&path, "config_0_j0", &std::fs::read_to_string(&path).ok()?).unwrap();
    Some((arch, corpus()?))
}

#[test]
fn real_size_config_0_j0_gives_a_finite_loss_near_uniform() {
    let Some((arch, text)) = config_0_j0() else {
        println!("skipped: the transxl-wt103 benchmark or the corpus is not available");
        return;
    };
    let tokens = txl::word_tokens(&text, arch.n_token).unwrap();
    let batch = txl::lm_batch(&tokens, 2, 16).unwrap();
    let p = ParamStore::build(&txl::spec(&arch), 0, &device());
    assert_eq!(p.numel() as u64, txl::count(&arch)[4].1);
    let mut rec = Recorder::on();
    let (loss, mems) = txl::forward(&p, &arch, &batch, None, &mut rec);
    let loss = host(loss)[0];
    // Every word id of the text is in the head cluster, whose softmax has 19 997 + 3 columns;
    // at initialisation the logits are small, so the loss is about ln 20 000 ≈ 9.90.
    println!("config_0_j0, 2 × 16 words: loss {loss:.4} (ln 20000 = {:.4}, ln n_token = {:.4})", 20000f64.ln(), (arch.n_token as f64).ln());
    assert!(loss.is_finite() && (loss - 20000f64.ln()).abs() < 0.5, "loss {loss}");
    assert_eq!(mems.len(), 5);
    assert_eq!(mems[0].dims(), [2, 16, 64]);
    assert_eq!(rec.linear.len(), 25);
}

/// Timing: `cargo test --release --test transxl -- --ignored --nocapture`.
#[test]
#[ignore]
fn time_config_0_j0_forward_backward_at_4_by_128() {
    let Some((arch, text)) = config_0_j0() else {
        println!("skipped: the transxl-wt103 benchmark or the corpus is not available");
        return;
    };
    let tokens = txl::word_tokens(&text, arch.n_token).unwrap();
    let batch = txl::lm_batch(&tokens, 4, 128).unwrap();
    let ad = device().autodiff();
    let t0 = std::time::Instant::now();
    let p = ParamStore::build(&txl::spec(&arch), 0, &ad);
    let init = t0.elapsed().as_secs_f64();
    for run in 0..3 {
        let t1 = std::time::Instant::now();
        let mut rec = Recorder::on();
        let (loss, _) = txl::forward(&p, &arch, &batch, None, &mut rec);
        let l = host(loss.clone())[0];
        let fwd = t1.elapsed().as_secs_f64();
        let grads = loss.backward();
        let g = host(p.matrix("layers.0.dec_attn.qkv_net.weight").grad(&grads).unwrap());
        let total = t1.elapsed().as_secs_f64();
        println!("run {run}: init {init:.2} s, forward {fwd:.2} s, forward+backward {total:.2} s, loss {l:.4}, |G qkv_0| {:.3e}", g.iter().map(|x| x * x).sum::<f64>().sqrt());
    }
}
