//! The LLaMA decoder and its LoNAS-style sub-networks on tiny models written by the test itself
//! (Hugging Face tensor names, `config.json` + `model.safetensors`, a PEFT adapter): logits
//! against an independent f64 forward written here with explicit loops (RMSNorm, rotate-half
//! RoPE, grouped-query causal attention, SwiGLU, LoRA), a sliced sub-network against the full
//! model with the dropped channels zeroed, gradients against central differences of the f64
//! loss, and the sub-network search's per-layer tables and dynamic program against direct
//! evaluation and brute force.

use burn::tensor::Device;
use lpzero::family::llama::model::{self, LlamaArch};
use lpzero::family::llama::search::{self, Pretrained};
use lpzero::family::llama::subnet::{LonasSpace, Subnet};
use lpzero::lang::Proxy;
use lpzero::models::batch::LmBatch;
use lpzero::models::nn::Recorder;
use lpzero::stop::Stop;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::path::Path;

#[path = "common/gguf.rs"]
mod gguf;

/// A tiny model's numbers.
#[derive(Clone, Copy)]
struct Tiny {
    vocab: usize,
    hidden: usize,
    ffn: usize,
    layers: usize,
    heads: usize,
    kv_heads: usize,
    tied: bool,
    lora_rank: usize,
}

const GQA: Tiny = Tiny { vocab: 40, hidden: 16, ffn: 24, layers: 2, heads: 4, kv_heads: 2, tied: false, lora_rank: 0 };
const TIED: Tiny = Tiny { vocab: 40, hidden: 12, ffn: 20, layers: 2, heads: 3, kv_heads: 3, tied: true, lora_rank: 0 };
const LORA: Tiny = Tiny { lora_rank: 4, ..GQA };
const THETA: f64 = 10000.0;
const EPS: f64 = 1e-5;

/// Writes the model (and its adapter, when `lora_rank > 0`) under `dir`; returns the tensors.
fn write_tiny(dir: &Path, t: Tiny, seed: u64) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let hd = t.hidden / t.heads;
    let mut base: BTreeMap<String, (Vec<usize>, Vec<f32>)> = BTreeMap::new();
    let mut put = |m: &mut BTreeMap<String, (Vec<usize>, Vec<f32>)>, name: String, shape: Vec<usize>, scale: f32, around: f32| {
        let n: usize = shape.iter().product();
        let v = (0..n).map(|_| around + scale * rng.random_range(-1.0f32..1.0)).collect();
        m.insert(name, (shape, v));
    };
    put(&mut base, "model.embed_tokens.weight".into(), vec![t.vocab, t.hidden], 1.0, 0.0);
    for l in 0..t.layers {
        let p = format!("model.layers.{l}");
        put(&mut base, format!("{p}.input_layernorm.weight"), vec![t.hidden], 0.3, 1.0);
        put(&mut base, format!("{p}.post_attention_layernorm.weight"), vec![t.hidden], 0.3, 1.0);
        put(&mut base, format!("{p}.self_attn.q_proj.weight"), vec![t.heads * hd, t.hidden], 0.5, 0.0);
        put(&mut base, format!("{p}.self_attn.k_proj.weight"), vec![t.kv_heads * hd, t.hidden], 0.5, 0.0);
        put(&mut base, format!("{p}.self_attn.v_proj.weight"), vec![t.kv_heads * hd, t.hidden], 0.5, 0.0);
        put(&mut base, format!("{p}.self_attn.o_proj.weight"), vec![t.hidden, t.heads * hd], 0.3, 0.0);
        put(&mut base, format!("{p}.mlp.gate_proj.weight"), vec![t.ffn, t.hidden], 0.5, 0.0);
        put(&mut base, format!("{p}.mlp.up_proj.weight"), vec![t.ffn, t.hidden], 0.5, 0.0);
        put(&mut base, format!("{p}.mlp.down_proj.weight"), vec![t.hidden, t.ffn], 0.3, 0.0);
    }
    put(&mut base, "model.norm.weight".into(), vec![t.hidden], 0.3, 1.0);
    if !t.tied {
        put(&mut base, "lm_head.weight".into(), vec![t.vocab, t.hidden], 0.5, 0.0);
    }
    let config = serde_json::json!({
        "model_type": "llama", "vocab_size": t.vocab, "hidden_size": t.hidden, "intermediate_size": t.ffn,
        "num_hidden_layers": t.layers, "num_attention_heads": t.heads, "num_key_value_heads": t.kv_heads,
        "rope_theta": THETA, "rms_norm_eps": EPS, "tie_word_embeddings": t.tied, "max_position_embeddings": 64
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    write_st(&dir.join("model.safetensors"), &base, "");
    let mut all = base;
    if t.lora_rank > 0 {
        let ad = dir.join("adapter");
        std::fs::create_dir_all(&ad).unwrap();
        let mut lora = BTreeMap::new();
        for l in 0..t.layers {
            for p in ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"] {
                let (out, inp) = {
                    let s = &all[&format!("model.layers.{l}.{p}.weight")].0;
                    (s[0], s[1])
                };
                put(&mut lora, format!("model.layers.{l}.{p}.lora_A.weight"), vec![t.lora_rank, inp], 0.5, 0.0);
                put(&mut lora, format!("model.layers.{l}.{p}.lora_B.weight"), vec![out, t.lora_rank], 0.5, 0.0);
            }
        }
        let cfg = serde_json::json!({"r": t.lora_rank, "lora_alpha": 2 * t.lora_rank,
            "target_modules": ["q_proj", "k_proj", "v_proj", "gate_proj", "up_proj", "down_proj"], "peft_type": "LORA"});
        std::fs::write(ad.join("adapter_config.json"), cfg.to_string()).unwrap();
        write_st(&ad.join("adapter_model.safetensors"), &lora, "base_model.model.");
        all.extend(lora);
    }
    all
}

fn write_st(path: &Path, tensors: &BTreeMap<String, (Vec<usize>, Vec<f32>)>, prefix: &str) {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> =
        tensors.iter().map(|(n, (s, v))| (format!("{prefix}{n}"), s.clone(), v.iter().flat_map(|x| x.to_le_bytes()).collect())).collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> =
        bytes.iter().map(|(n, s, b)| (n.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap())).collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

/// The tensors in f64 (what the reference forward reads).
type T64 = BTreeMap<String, (Vec<usize>, Vec<f64>)>;

fn to64(t: &BTreeMap<String, (Vec<usize>, Vec<f32>)>) -> T64 {
    t.iter().map(|(n, (s, v))| (n.clone(), (s.clone(), v.iter().map(|&x| x as f64).collect()))).collect()
}

/// An f64 matrix `[rows][cols]` of a stored tensor, its first `rows × cols` block.
fn mat(t: &T64, name: &str, rows: usize, cols: usize) -> Vec<Vec<f64>> {
    let (shape, v) = &t[name];
    (0..rows).map(|r| (0..cols).map(|c| v[r * shape[1] + c]).collect()).collect()
}

fn matvec(w: &[Vec<f64>], x: &[f64]) -> Vec<f64> {
    w.iter().map(|row| row.iter().zip(x).map(|(a, b)| a * b).sum()).collect()
}

/// The effective weight of a projection in the f64 forward: the base block, plus
/// `s · B[:, :r] A[:r, :]` when the projection has an adapter at rank `r`.
fn eff(t: &T64, l: usize, p: &str, out: usize, inp: usize, rank: usize, scale: f64) -> Vec<Vec<f64>> {
    let mut w = mat(t, &format!("model.layers.{l}.{p}.weight"), out, inp);
    let a_name = format!("model.layers.{l}.{p}.lora_A.weight");
    if rank > 0 && t.contains_key(&a_name) {
        let a = mat(t, &a_name, rank, inp);
        let b = mat(t, &format!("model.layers.{l}.{p}.lora_B.weight"), out, rank);
        for o in 0..out {
            for i in 0..inp {
                w[o][i] += scale * (0..rank).map(|r| b[o][r] * a[r][i]).sum::<f64>();
            }
        }
    }
    w
}

fn rms(x: &[f64], g: &[f64]) -> Vec<f64> {
    let ms = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
    let k = 1.0 / (ms + EPS).sqrt();
    x.iter().zip(g).map(|(v, g)| v * k * g).collect()
}

/// Rotate-half RoPE of one head vector at position `m`.
fn rope(x: &[f64], m: usize) -> Vec<f64> {
    let d = x.len();
    let half = d / 2;
    (0..d)
        .map(|j| {
            let i = j % half;
            let a = m as f64 * THETA.powf(-2.0 * i as f64 / d as f64);
            let rot = if j < half { -x[j + half] } else { x[j - half] };
            x[j] * a.cos() + rot * a.sin()
        })
        .collect()
}

/// Logits `[t][vocab]` of one sequence under sub-network `s` (FFN widths and adapter ranks), in
/// f64 with explicit loops.
fn reference_logits(tn: &T64, t: Tiny, s: &Subnet, ids: &[u32]) -> Vec<Vec<f64>> {
    let emb = mat(tn, "model.embed_tokens.weight", t.vocab, t.hidden);
    reference_logits_of(tn, t, s, ids.iter().map(|&i| emb[i as usize].clone()).collect())
}

/// The logits of a sequence given as its token embeddings `x` (`[t][hidden]`).
fn reference_logits_of(tn: &T64, t: Tiny, s: &Subnet, mut x: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
    let hd = t.hidden / t.heads;
    let rep = t.heads / t.kv_heads;
    let scale = 2.0; // lora_alpha / r
    let vec_of = |name: &str| tn[name].1.clone();
    let emb = mat(tn, "model.embed_tokens.weight", t.vocab, t.hidden);
    let n = x.len();
    for l in 0..t.layers {
        let (w, ra, rf) = (s.ffn[l], s.attn_rank[l], s.ffn_rank[l]);
        let q_w = eff(tn, l, "self_attn.q_proj", t.heads * hd, t.hidden, ra, scale);
        let k_w = eff(tn, l, "self_attn.k_proj", t.kv_heads * hd, t.hidden, ra, scale);
        let v_w = eff(tn, l, "self_attn.v_proj", t.kv_heads * hd, t.hidden, ra, scale);
        let o_w = mat(tn, &format!("model.layers.{l}.self_attn.o_proj.weight"), t.hidden, t.heads * hd);
        let g_in = vec_of(&format!("model.layers.{l}.input_layernorm.weight"));
        let normed: Vec<Vec<f64>> = x.iter().map(|r| rms(r, &g_in)).collect();
        let q: Vec<Vec<f64>> = normed.iter().map(|r| matvec(&q_w, r)).collect();
        let k: Vec<Vec<f64>> = normed.iter().map(|r| matvec(&k_w, r)).collect();
        let v: Vec<Vec<f64>> = normed.iter().map(|r| matvec(&v_w, r)).collect();
        let head = |row: &[f64], h: usize, m: usize| rope(&row[h * hd..(h + 1) * hd], m);
        let mut ctx = vec![vec![0.0; t.heads * hd]; n];
        for h in 0..t.heads {
            let kvh = h / rep;
            for i in 0..n {
                let qi = head(&q[i], h, i);
                let scores: Vec<f64> = (0..=i).map(|j| qi.iter().zip(head(&k[j], kvh, j)).map(|(a, b)| a * b).sum::<f64>() / (hd as f64).sqrt()).collect();
                let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
                let z: f64 = e.iter().sum();
                for (j, ej) in e.iter().enumerate() {
                    for dd in 0..hd {
                        ctx[i][h * hd + dd] += ej / z * v[j][kvh * hd + dd];
                    }
                }
            }
        }
        for i in 0..n {
            let o = matvec(&o_w, &ctx[i]);
            x[i].iter_mut().zip(o).for_each(|(a, b)| *a += b);
        }
        let g_post = vec_of(&format!("model.layers.{l}.post_attention_layernorm.weight"));
        let gate_w = eff(tn, l, "mlp.gate_proj", w, t.hidden, rf, scale);
        let up_w = eff(tn, l, "mlp.up_proj", w, t.hidden, rf, scale);
        let down_w = eff(tn, l, "mlp.down_proj", t.hidden, w, t.lora_rank, scale);
        for xi in x.iter_mut() {
            let nr = rms(xi, &g_post);
            let gate = matvec(&gate_w, &nr);
            let up = matvec(&up_w, &nr);
            let act: Vec<f64> = gate.iter().zip(&up).map(|(g, u)| g / (1.0 + (-g).exp()) * u).collect();
            let d = matvec(&down_w, &act);
            xi.iter_mut().zip(d).for_each(|(a, b)| *a += b);
        }
    }
    let g = vec_of("model.norm.weight");
    let head_w = if t.tied { emb } else { mat(tn, "lm_head.weight", t.vocab, t.hidden) };
    x.iter().map(|r| matvec(&head_w, &rms(r, &g))).collect()
}

fn reference_loss(tn: &T64, t: Tiny, s: &Subnet, ids: &[u32], targets: &[u32]) -> f64 {
    let logits = reference_logits(tn, t, s, ids);
    let mut total = 0.0;
    for (row, &y) in logits.iter().zip(targets) {
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        total += lse - row[y as usize];
    }
    total / targets.len() as f64
}

fn ids(n: usize, vocab: usize, seed: u64) -> Vec<u32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(0..vocab as u32)).collect()
}

fn open(dir: &Path, t: Tiny) -> Pretrained {
    let adapter = (t.lora_rank > 0).then(|| dir.join("adapter"));
    Pretrained::open(dir, adapter.as_deref()).unwrap()
}

fn burn_logits(pre: &Pretrained, s: &Subnet, ids: &[u32]) -> Vec<f32> {
    let arch = pre.arch(s).unwrap();
    let device = Device::flex();
    let store = model::load_params(&arch, pre.checkpoint.source.as_ref(), pre.adapter.as_ref(), &device).unwrap();
    model::logits(&store, &arch, ids, 1, ids.len()).into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn assert_logits(case: &str, got: &[f32], want: &[Vec<f64>]) {
    let flat: Vec<f64> = want.iter().flatten().copied().collect();
    assert_eq!(got.len(), flat.len(), "{case}");
    let scale = flat.iter().map(|v| v.abs()).fold(0.0, f64::max);
    for (i, (&g, &w)) in got.iter().zip(&flat).enumerate() {
        assert!((g as f64 - w).abs() <= 1e-5 * scale + 1e-5 * w.abs(), "{case}: logit {i}: {g} vs f64 {w} (scale {scale})");
    }
}

#[test]
fn logits_match_an_f64_forward_with_rmsnorm_rope_gqa_and_swiglu() {
    for (case, t) in [("gqa", GQA), ("tied", TIED)] {
        let dir = tempfile::tempdir().unwrap();
        let tn = to64(&write_tiny(dir.path(), t, 3));
        let pre = open(dir.path(), t);
        let full = Subnet::uniform(t.layers, t.ffn, 0, 0);
        let x = ids(9, t.vocab, 1);
        assert_logits(case, &burn_logits(&pre, &full, &x), &reference_logits(&tn, t, &full, &x));
    }
}

#[test]
fn a_sliced_subnet_is_the_full_model_with_its_dropped_channels_zeroed() {
    let dir = tempfile::tempdir().unwrap();
    let t = GQA;
    let tn = to64(&write_tiny(dir.path(), t, 4));
    let pre = open(dir.path(), t);
    let s = Subnet { ffn: vec![15, 9], attn_rank: vec![0, 0], ffn_rank: vec![0, 0] };
    let x = ids(7, t.vocab, 2);
    let sliced = burn_logits(&pre, &s, &x);
    assert_logits("sliced vs f64", &sliced, &reference_logits(&tn, t, &s, &x));
    // The full model with gate/up rows and down columns beyond each width set to zero.
    let arch = pre.arch(&Subnet::uniform(t.layers, t.ffn, 0, 0)).unwrap();
    let device = Device::flex();
    let mut store = model::load_params(&arch, pre.checkpoint.source.as_ref(), None, &device).unwrap();
    for (l, &w) in s.ffn.iter().enumerate() {
        for p in ["gate_proj", "up_proj", "down_proj"] {
            let name = format!("model.layers.{l}.mlp.{p}.weight");
            let mut v = store.values(&name);
            let (rows, cols) = if p == "down_proj" { (t.hidden, t.ffn) } else { (t.ffn, t.hidden) };
            for r in 0..rows {
                for c in 0..cols {
                    if (p == "down_proj" && c >= w) || (p != "down_proj" && r >= w) {
                        v[r * cols + c] = 0.0;
                    }
                }
            }
            store.replace(&name, burn::tensor::Tensor::<2>::from_data(burn::tensor::TensorData::new(v, [rows, cols]), &device));
        }
    }
    let zeroed = model::logits(&store, &arch, &x, 1, x.len()).into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    for (i, (a, b)) in sliced.iter().zip(&zeroed).enumerate() {
        assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "logit {i}: sliced {a}, zeroed {b}");
    }
}

#[test]
fn lora_adapters_at_elastic_ranks_match_the_f64_forward() {
    let dir = tempfile::tempdir().unwrap();
    let t = LORA;
    let tn = to64(&write_tiny(dir.path(), t, 5));
    let pre = open(dir.path(), t);
    let layout = pre.lora_layout().unwrap().unwrap();
    assert_eq!((layout.rank, layout.scale, layout.targets.len()), (4, 2.0, 6));
    let s = Subnet { ffn: vec![24, 12], attn_rank: vec![3, 4], ffn_rank: vec![4, 2] };
    let x = ids(6, t.vocab, 3);
    assert_logits("lora", &burn_logits(&pre, &s, &x), &reference_logits(&tn, t, &s, &x));
    // Counts: the base of the sub-network and its active factors.
    let k = pre.counts(&s).unwrap();
    let h = t.hidden;
    let base = t.vocab * h * 2 + h + 2 * (2 * h + 4 * h * h - 2 * h * h / 2) + 3 * h * (24 + 12);
    let kv = h / 2;
    assert_eq!(k.base_params as usize, base, "embedding, head, norms, q/o (16²), k/v (8 × 16), FFN");
    let lora = |r: usize, out: usize, inp: usize| r * (out + inp);
    let want_lora = lora(3, h, h) + 2 * lora(3, kv, h) + 2 * lora(4, 24, h) + lora(4, h, 24) + lora(4, h, h) + 2 * lora(4, kv, h) + 2 * lora(2, 12, h) + lora(4, h, 12);
    assert_eq!(k.lora_params as usize, want_lora);
}

#[test]
fn gradients_match_central_differences_of_the_f64_loss() {
    let dir = tempfile::tempdir().unwrap();
    let t = GQA;
    let tn = to64(&write_tiny(dir.path(), t, 6));
    let pre = open(dir.path(), t);
    let s = Subnet { ffn: vec![24, 18], attn_rank: vec![0, 0], ffn_rank: vec![0, 0] };
    let arch: LlamaArch = pre.arch(&s).unwrap();
    let device = Device::flex().autodiff();
    let store = model::load_params(&arch, pre.checkpoint.source.as_ref(), None, &device).unwrap();
    let seq = ids(9, t.vocab, 4);
    let batch = LmBatch { batch: 1, len: 8, ids: seq[..8].to_vec(), targets: seq[1..].to_vec() };
    let loss = model::forward(&store, &arch, &batch, &mut Recorder::default());
    let l32 = loss.clone().inner().into_scalar::<f64>();
    let l64 = reference_loss(&tn, t, &s, &batch.ids, &batch.targets);
    assert!((l32 - l64).abs() <= 1e-5 * l64.abs(), "loss {l32} vs f64 {l64}");
    let grads = loss.backward();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for name in ["model.layers.0.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight", "model.layers.1.mlp.down_proj.weight", "model.layers.0.input_layernorm.weight", "lm_head.weight", "model.embed_tokens.weight"] {
        let g: Vec<f64> = store.matrix(name).grad(&grads).unwrap().into_data().convert::<f32>().try_to_vec::<f32>().unwrap().into_iter().map(|x| x as f64).collect();
        // Along a random direction d over the active block: dL·d against the central difference.
        let d: Vec<f64> = (0..g.len()).map(|_| rng.random_range(-1.0..1.0)).collect();
        let analytic: f64 = g.iter().zip(&d).map(|(a, b)| a * b).sum();
        let h = 1e-4;
        let shifted = |sign: f64| {
            let mut tn2 = tn.clone();
            let (shape, v) = tn2.get_mut(name).unwrap();
            let cols = if shape.len() == 2 { shape[1] } else { shape[0] };
            let active_cols = if name.contains("down_proj") { s.ffn[1] } else { cols };
            for (k, dk) in d.iter().enumerate() {
                let (r, c) = (k / active_cols, k % active_cols);
                v[r * cols + c] += sign * h * dk;
            }
            reference_loss(&tn2, t, &s, &batch.ids, &batch.targets)
        };
        let fd = (shifted(1.0) - shifted(-1.0)) / (2.0 * h);
        assert!((analytic - fd).abs() <= 2e-3 * analytic.abs().max(1e-2), "{name}: autodiff {analytic} vs central difference {fd}");
    }
}

fn tiny_space(t: Tiny) -> LonasSpace {
    let text = format!(
        "name: tiny\nfamily: llama\nlayers: {}\nhidden_size: {}\nintermediate_size: {}\nffn_width: [24, 21, 18, 15, 12]\nlora: {{rank: 4, alpha: 8, attn_rank: [4, 3], ffn_rank: [4, 3]}}\n",
        t.layers, t.hidden, t.ffn
    );
    LonasSpace::parse(&text, "tiny").unwrap()
}

#[test]
fn the_weight_only_search_is_exact_on_a_two_layer_space() {
    let dir = tempfile::tempdir().unwrap();
    let t = LORA;
    let tn = to64(&write_tiny(dir.path(), t, 7));
    let pre = open(dir.path(), t);
    let space = tiny_space(t);
    let options = space.layer_options(true);
    assert_eq!(options.len(), 20);
    let proxy = Proxy::parse("avg(sq(l1(W)) + mean(sqrt(softmax(t(W)))))").unwrap();
    let table = search::layer_tables(&pre, &proxy, &options, &Stop::new(), |_| {}).unwrap();
    // One table entry recomputed by hand in f64: layer 1 at (FFN 15, ranks 3, 4), the weight
    // list in LPZero's order (A, B, base per wrapped projection; o_proj alone).
    let (w, ra, rf) = (15, 3, 4);
    let o = options.iter().position(|&x| x == (w, ra, rf)).unwrap();
    let term = |m: &Vec<Vec<f64>>| {
        let (rows, cols) = (m.len(), m[0].len());
        let n = (rows * cols) as f64;
        let l1 = m.iter().flatten().map(|v| v.abs()).sum::<f64>() / n;
        let mut soft = 0.0;
        for c in 0..cols {
            let mx = (0..rows).map(|r| m[r][c]).fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = (0..rows).map(|r| (m[r][c] - mx).exp()).sum();
            soft += (0..rows).map(|r| ((m[r][c] - mx).exp() / z).sqrt()).sum::<f64>();
        }
        l1 * l1 + soft / n
    };
    let (h, kv) = (t.hidden, t.hidden / 2);
    let mut terms = vec![];
    for (p, out, inp, r) in [("self_attn.q_proj", h, h, ra), ("self_attn.k_proj", kv, h, ra), ("self_attn.v_proj", kv, h, ra), ("self_attn.o_proj", h, h, 0), ("mlp.gate_proj", w, h, rf), ("mlp.up_proj", w, h, rf), ("mlp.down_proj", h, w, 4)] {
        if r > 0 {
            terms.push(term(&mat(&tn, &format!("model.layers.1.{p}.lora_A.weight"), r, inp)));
            let b = mat(&tn, &format!("model.layers.1.{p}.lora_B.weight"), out, 4);
            terms.push(term(&b.iter().map(|row| row[..r].to_vec()).collect()));
        }
        terms.push(term(&mat(&tn, &format!("model.layers.1.{p}.weight"), out, inp)));
    }
    assert_eq!(terms.len(), 19, "19 tensors per layer under LoNAS's patched PEFT");
    let want = terms.iter().sum::<f64>() / terms.len() as f64;
    assert!((table[1][o] - want).abs() <= 1e-6 * want, "table {} vs f64 {want}", table[1][o]);
    // Separable: the whole sub-network's score is the mean of the layers' scores.
    let sep = search::separability(&pre, &proxy, &options, &table).unwrap();
    assert!(sep.separable && (sep.slope - 0.5).abs() < 1e-9, "{sep:?}");
    let s = Subnet::from_options(&[options[3], options[17]]);
    let whole = search::score_subnet(&pre, &proxy, &s).unwrap();
    assert!((whole - (table[0][3] + table[1][17]) / 2.0).abs() <= 1e-9 * whole.abs());
    // The dynamic program against every one of the 400 sub-networks, at several budgets.
    for kind in ["params", "macs"] {
        let heuristic = space.heuristic(true);
        let budget = search::parse_budget(&format!("{kind}=heuristic"), &pre, &space).unwrap();
        let (cost, fixed) = search::option_costs(&pre, &budget, &options).unwrap();
        // The costs reproduce the counts of every sub-network.
        for a in 0..options.len() {
            for b in 0..options.len() {
                let s = Subnet::from_options(&[options[a], options[b]]);
                assert_eq!(budget.measure(&pre.counts(&s).unwrap()), fixed + cost[0][a] + cost[1][b]);
            }
        }
        assert_eq!(budget.measure(&pre.counts(&heuristic).unwrap()), budget.limit);
        for (lo, hi) in [(0, budget.limit), (budget.limit * 98 / 100, budget.limit), (0, u64::MAX), (0, fixed)] {
            let dp = search::best_in_range(&table, &cost, fixed, lo, hi);
            let bf = search::brute_force(&table, &cost, fixed, lo, hi);
            assert_eq!(dp.as_ref().map(|x| x.0.clone()), bf.as_ref().map(|x| x.0.clone()), "{kind} in {lo}..={hi}");
        }
    }
}

#[test]
fn bad_requests_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let t = GQA;
    write_tiny(dir.path(), t, 8);
    let pre = open(dir.path(), t);
    for (s, want) in [
        (Subnet::uniform(3, 24, 0, 0), "3 FFN widths for a model of 2 layers"),
        (Subnet::uniform(2, 25, 0, 0), "not within 1..=24"),
        (Subnet::uniform(2, 0, 0, 0), "not within 1..=24"),
        (Subnet::uniform(2, 24, 2, 2), "LoRA ranks 2/2 are not within 1..=0"),
    ] {
        let e = pre.arch(&s).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    }
    let space = tiny_space(t);
    for bad in ["params", "flops=3", "params=-1", "params=x", "params=1.5Q"] {
        assert!(search::parse_budget(bad, &pre, &space).is_err(), "{bad}");
    }
    assert_eq!(search::parse_budget("params=2.5K", &pre, &space).unwrap().limit, 2500);
    let tokens = ids(10, t.vocab, 1);
    let e = search::validation_loss(&pre, &Subnet::uniform(2, 24, 0, 0), &tokens, 2, 8, &Device::flex()).unwrap_err().to_string();
    assert!(e.contains("need 16 tokens; the text has 10"), "{e}");
    // A config without a required field, and a truncated weight file.
    std::fs::write(dir.path().join("config.json"), r#"{"hidden_size": 16}"#).unwrap();
    let e = Pretrained::open(dir.path(), None).err().unwrap().to_string();
    assert!(e.contains("num_attention_heads") || e.contains("vocab_size") || e.contains("intermediate_size"), "{e}");
    let dir2 = tempfile::tempdir().unwrap();
    write_tiny(dir2.path(), t, 8);
    let st = dir2.path().join("model.safetensors");
    let bytes = std::fs::read(&st).unwrap();
    std::fs::write(&st, &bytes[..bytes.len() / 2]).unwrap();
    let e = Pretrained::open(dir2.path(), None).err().unwrap().to_string();
    assert!(e.contains("model.safetensors"), "the error names the file: {e}");
}

fn lpzero(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lpzero")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_subnet_commands_show_search_and_refuse_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let t = LORA;
    write_tiny(dir.path(), t, 11);
    let space = dir.path().join("space.yaml");
    std::fs::write(
        &space,
        "name: tiny\nfamily: llama\nlayers: 2\nhidden_size: 16\nintermediate_size: 24\nffn_width: [24, 21, 18, 15, 12]\nlora: {rank: 4, alpha: 8, attn_rank: [4, 3], ffn_rank: [4, 3]}\n",
    )
    .unwrap();
    let (model, adapter, space) = (dir.path().to_str().unwrap(), dir.path().join("adapter"), space.to_str().unwrap());
    let adapter = adapter.to_str().unwrap();
    let (code, out, err) = lpzero(&["subnet", "show", "--model", model, "--adapter", adapter, "--space", space]);
    assert_eq!(code, 0, "{err}");
    let pre = open(dir.path(), t);
    let sp = tiny_space(t);
    let heuristic = pre.counts(&sp.heuristic(true)).unwrap();
    assert!(out.lines().any(|l| l.starts_with("heuristic") && l.contains(&heuristic.base_params.to_string()) && l.contains(&heuristic.lora_params.to_string())), "{out}");
    let chosen = dir.path().join("chosen.yaml");
    let (code, _, err) = lpzero(&[
        "subnet", "search", "--model", model, "--adapter", adapter, "--space", space, "-e", "avg(l1(W))", "--budget", "params=heuristic", "--out", chosen.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("separable") && err.contains("dynamic program"), "{err}");
    let s = Subnet::parse(&std::fs::read_to_string(&chosen).unwrap(), "chosen").unwrap();
    assert!(pre.counts(&s).unwrap().params() <= heuristic.params());
    sp.contains(&s, true).unwrap();
    // The program's choice is the brute-force best of the 400.
    let proxy = Proxy::parse("avg(l1(W))").unwrap();
    let options = sp.layer_options(true);
    let best = (0..400)
        .map(|k| Subnet::from_options(&[options[k % 20], options[k / 20]]))
        .filter(|s| pre.counts(s).unwrap().params() <= heuristic.params())
        .map(|s| (search::score_subnet(&pre, &proxy, &s).unwrap(), s))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap();
    let got = search::score_subnet(&pre, &proxy, &s).unwrap();
    assert!((got - best.0).abs() <= 1e-12 * best.0.abs(), "chosen {got}, best {} ({:?})", best.0, best.1);
    for (args, want) in [
        (vec!["subnet", "search", "--model", model, "--space", space, "-e", "sum(abs(G * W))", "--budget", "params=heuristic"], "reads W, G: its candidates are gathered on a text; give --corpus"),
        (vec!["subnet", "show", "--model", model, "--space", "lonas-nope"], "neither a shipped space"),
        (vec!["subnet", "show", "--model", model, "--space", "lonas-llama-7b"], "is over a model of 32 layers"),
        (vec!["subnet", "search", "--model", model, "--space", space, "-e", "avg(l1(W))", "--budget", "watts=3"], "expected params=X or macs=X"),
        (vec!["subnet", "eval", "--model", model, "--space", space, "--corpus", space], "carries no tokenizer"),
        (vec!["subnet", "show", "--model", "/nonexistent/model", "--space", space], "cannot open the model"),
    ] {
        let (code, _, err) = lpzero(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn gathered_inputs_of_a_subnet_follow_lpzero_order_and_match_central_differences() {
    use lpzero::lang::table::InputId::{A, G, H, S, W, Z};
    let dir = tempfile::tempdir().unwrap();
    let t = LORA;
    let tn = to64(&write_tiny(dir.path(), t, 12));
    let pre = open(dir.path(), t);
    let s = Subnet { ffn: vec![21, 12], attn_rank: vec![3, 4], ffn_rank: vec![4, 2] };
    let seq = ids(9, t.vocab, 5);
    let batch = search::windows_batch(&seq, 1, 9).unwrap();
    assert_eq!((batch.batch, batch.len, &batch.targets[..]), (1, 8, &seq[1..]));
    let inputs = search::gather_subnet(&pre, &s, &batch, &[W, G, A, Z, S, H], &Device::flex()).unwrap();
    let w = inputs.get(W).unwrap();
    let g = inputs.get(G).unwrap();
    assert_eq!(w.len(), 2 * 19, "per layer: A, B, base for six wrapped projections, o_proj alone");
    // Layer 1's gate projection: lora_A [2, 16], lora_B [12, 2], base [12, 16] at positions
    // 19 + 10, 11, 12 (q, k, v: 9 entries; o: 1).
    assert_eq!((w[29].shape.clone(), w[30].shape.clone(), w[31].shape.clone()), (vec![2, 16], vec![12, 2], vec![12, 16]));
    let base = mat(&tn, "model.layers.1.mlp.gate_proj.weight", 12, 16);
    assert!(w[31].data.iter().zip(base.iter().flatten()).all(|(a, b)| *a as f64 == *b));
    assert_eq!(inputs.get(A).unwrap()[1].shape, vec![1, 8, 12]);
    assert_eq!(inputs.get(Z).unwrap()[0].shape, vec![1, 8, 21]);
    // The architecture scalars: the configuration's depth and width, and N the elements of the
    // active blocks, by hand: per layer q (A r×h, B h×r, base h×h), k and v (A r×h, B kv×r, base
    // kv×h), o h×h, gate and up (A r'×h, B f×r', base f×h), down (A R×f, B h×R, base h×f: its
    // rank R is not elastic in LoNAS's space, the adapter's full rank).
    let scalars = search::gather_subnet(&pre, &s, &batch, &[lpzero::lang::table::InputId::L, lpzero::lang::table::InputId::D, lpzero::lang::table::InputId::N], &Device::flex()).unwrap();
    let number = |id| scalars.get(id).unwrap()[0].data[0] as usize;
    let (h, kv) = (t.hidden, t.hidden / t.heads * t.kv_heads);
    let by_hand: usize = (0..2)
        .map(|l| {
            let (f, r, rf) = (s.ffn[l], s.attn_rank[l], s.ffn_rank[l]);
            let full = t.lora_rank;
            (r * h + h * r + h * h) + 2 * (r * h + kv * r + kv * h) + h * h + 2 * (rf * h + f * rf + f * h) + (full * f + h * full + h * f)
        })
        .sum();
    assert_eq!(by_hand, w.iter().map(|e| e.numel()).sum::<usize>(), "N by hand is the elements of W");
    assert_eq!((number(lpzero::lang::table::InputId::L), number(lpzero::lang::table::InputId::D), number(lpzero::lang::table::InputId::N)), (2, h, by_hand));
    assert_eq!(inputs.get(S).unwrap()[0].shape, vec![1, 4, 8, 8]);
    assert_eq!(inputs.get(H).unwrap()[0].shape, vec![1, 4, 8, 4]);
    // G of the base and of lora_B of layer 1's gate projection against the f64 loss.
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for (k, name, rows, cols) in [(31, "model.layers.1.mlp.gate_proj.weight", 12, 16), (30, "model.layers.1.mlp.gate_proj.lora_B.weight", 12, 2)] {
        let d: Vec<f64> = (0..rows * cols).map(|_| rng.random_range(-1.0..1.0)).collect();
        let analytic: f64 = g[k].data.iter().zip(&d).map(|(a, b)| *a as f64 * b).sum();
        let h = 1e-4;
        let shifted = |sign: f64| {
            let mut tn2 = tn.clone();
            let (shape, v) = tn2.get_mut(name).unwrap();
            let full_cols = shape[1];
            for (i, di) in d.iter().enumerate() {
                v[(i / cols) * full_cols + i % cols] += sign * h * di;
            }
            reference_loss(&tn2, t, &s, &batch.ids, &batch.targets)
        };
        let fd = (shifted(1.0) - shifted(-1.0)) / (2.0 * h);
        assert!((analytic - fd).abs() <= 2e-3 * analytic.abs().max(1e-2), "{name}: G·d {analytic} vs central difference {fd}");
    }
}

/// `tn` with `step · d` added to the active (top-left) `rows × cols` block of `name`.
fn moved(tn: &T64, name: &str, cols: usize, d: &[f64], step: f64) -> T64 {
    let mut tn2 = tn.clone();
    let (shape, v) = tn2.get_mut(name).unwrap();
    let full_cols = shape[1];
    for (i, di) in d.iter().enumerate() {
        v[(i / cols) * full_cols + i % cols] += step * di;
    }
    tn2
}

#[test]
fn synflow_gradients_of_a_pretrained_subnet_match_the_f64_summed_logits_of_its_magnitudes() {
    use lpzero::lang::table::InputId::{GS, W};
    let dir = tempfile::tempdir().unwrap();
    let t = LORA;
    let tn = to64(&write_tiny(dir.path(), t, 14));
    let pre = open(dir.path(), t);
    let s = Subnet { ffn: vec![21, 12], attn_rank: vec![3, 4], ffn_rank: vec![4, 2] };
    // Two windows: Synflow reads one sequence (of the minibatch's length).
    let batch = search::windows_batch(&ids(18, t.vocab, 3), 2, 9).unwrap();
    let inputs = search::gather_subnet(&pre, &s, &batch, &[GS], &Device::flex()).unwrap();
    let (w, gs) = (inputs.get(W).unwrap(), inputs.get(GS).unwrap());
    assert_eq!(gs.len(), w.len());
    assert!(gs.iter().zip(w).all(|(a, b)| a.shape == b.shape), "GS is aligned with W");
    // Every parameter (base, adapter, norms, embeddings) at its magnitude; the objective is the
    // sum of every logit of 8 positions whose token embeddings are ones.
    let magnitudes: T64 = tn.iter().map(|(n, (sh, v))| (n.clone(), (sh.clone(), v.iter().map(|x| x.abs()).collect()))).collect();
    let objective = |tn: &T64| reference_logits_of(tn, t, &s, vec![vec![1.0; t.hidden]; 8]).iter().flatten().sum::<f64>();
    assert!(objective(&magnitudes) > 0.0);
    // Every position sees the same input (ones, and no position is added: RoPE only rotates q
    // and k), so each attention averages equal values and q, k have no effect: their Synflow
    // gradients are zero up to rounding (layer 0's q: A, B, base; layer 1's k: 22..24).
    let norm = |e: &lpzero::eval::inputs::TensorEntry| e.data.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    for k in [0, 1, 2, 22, 23, 24] {
        assert!(norm(&gs[k]) <= 1e-5 * norm(&gs[31]), "entry {k}: |GS| {} against the gate's {}", norm(&gs[k]), norm(&gs[31]));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    // Layer 0's v lora_A [3, 16], layer 1's gate lora_B [12, 2] and base [12, 16], layer 1's down
    // base [16, 12] (19 entries per layer: A, B, base of six wrapped projections, o_proj alone).
    for (k, name) in [(6, "model.layers.0.self_attn.v_proj.lora_A.weight"), (30, "model.layers.1.mlp.gate_proj.lora_B.weight"), (31, "model.layers.1.mlp.gate_proj.weight"), (37, "model.layers.1.mlp.down_proj.weight")] {
        let cols = gs[k].shape[1];
        let d: Vec<f64> = (0..gs[k].data.len()).map(|_| rng.random_range(-1.0..1.0)).collect();
        let analytic: f64 = gs[k].data.iter().zip(&d).map(|(a, b)| *a as f64 * b).sum();
        let h = 1e-4;
        let fd = (objective(&moved(&magnitudes, name, cols, &d, h)) - objective(&moved(&magnitudes, name, cols, &d, -h))) / (2.0 * h);
        assert!(analytic.abs() > 0.0 && (analytic - fd).abs() <= 2e-3 * analytic.abs(), "{name}: GS·d {analytic} vs central difference {fd}");
    }
}

#[test]
fn the_hessian_gradient_product_of_a_pretrained_subnet_matches_the_f64_second_difference() {
    use lpzero::lang::table::InputId::{G, HG};
    let dir = tempfile::tempdir().unwrap();
    let t = GQA;
    let tn = to64(&write_tiny(dir.path(), t, 15));
    let pre = open(dir.path(), t);
    let s = Subnet { ffn: vec![24, 18], attn_rank: vec![0, 0], ffn_rank: vec![0, 0] };
    let batch = search::windows_batch(&ids(9, t.vocab, 6), 1, 9).unwrap();
    let inputs = search::gather_subnet(&pre, &s, &batch, &[G, HG], &Device::flex()).unwrap();
    let (g, hg) = (inputs.get(G).unwrap(), inputs.get(HG).unwrap());
    // The seven projections of each layer, in forward order.
    let names: Vec<String> = (0..t.layers).flat_map(|l| model::PROJECTIONS.iter().map(move |p| model::weight_name(l, p))).collect();
    assert_eq!((g.len(), hg.len()), (names.len(), names.len()));
    assert_eq!(hg[13].shape, vec![16, 18], "layer 1's down_proj, sliced");
    let q: f64 = g.iter().zip(hg).map(|(a, b)| a.data.iter().zip(b.data.iter()).map(|(&x, &y)| x as f64 * y as f64).sum::<f64>()).sum();
    // gᵀHg as the second derivative of the f64 loss along g (every projection moved together).
    let loss_at = |step: f64| {
        let mut tn2 = tn.clone();
        for (name, gl) in names.iter().zip(g) {
            let d: Vec<f64> = gl.data.iter().map(|&x| x as f64).collect();
            tn2 = moved(&tn2, name, gl.shape[1], &d, step);
        }
        reference_loss(&tn2, t, &s, &batch.ids, &batch.targets)
    };
    let l0 = loss_at(0.0);
    let step = (1e-5 * l0.abs() / q.abs()).sqrt();
    let d2 = |h: f64| (loss_at(h) - 2.0 * l0 + loss_at(-h)) / (h * h);
    let second = (4.0 * d2(step / 2.0) - d2(step)) / 3.0;
    assert!(q.abs() > 0.0 && (second - q).abs() <= 0.02 * q.abs(), "gᵀHg {q} from HG vs {second} from the f64 loss");
}

/// The tiny model as a GGUF file (F32 tensors, llama.cpp names, fastest-first dimensions, and
/// the q/k rows of each head in llama.cpp's interleaved order: GGUF row `h·D + 2i + s` holds
/// Hugging Face row `h·D + (D/2)·s + i`).
fn write_tiny_gguf(path: &Path, tn: &BTreeMap<String, (Vec<usize>, Vec<f32>)>, t: Tiny) {
    use gguf::{gguf_bytes, GT, V};
    let d = t.hidden / t.heads;
    let gguf_name = |hf: &str| -> String {
        let map = [
            ("model.embed_tokens.weight", "token_embd.weight".to_string()),
            ("model.norm.weight", "output_norm.weight".to_string()),
            ("lm_head.weight", "output.weight".to_string()),
        ];
        if let Some((_, g)) = map.iter().find(|(h, _)| *h == hf) {
            return g.clone();
        }
        let rest = hf.strip_prefix("model.layers.").unwrap();
        let (l, part) = rest.split_once('.').unwrap();
        let g = match part {
            "input_layernorm.weight" => "attn_norm",
            "post_attention_layernorm.weight" => "ffn_norm",
            "self_attn.q_proj.weight" => "attn_q",
            "self_attn.k_proj.weight" => "attn_k",
            "self_attn.v_proj.weight" => "attn_v",
            "self_attn.o_proj.weight" => "attn_output",
            "mlp.gate_proj.weight" => "ffn_gate",
            "mlp.up_proj.weight" => "ffn_up",
            "mlp.down_proj.weight" => "ffn_down",
            other => panic!("{other}"),
        };
        format!("blk.{l}.{g}.weight")
    };
    let mut tensors = vec![];
    for (name, (shape, v)) in tn {
        let mut v = v.clone();
        if name.ends_with("q_proj.weight") || name.ends_with("k_proj.weight") {
            let cols = shape[1];
            let mut out = vec![0f32; v.len()];
            for h in 0..shape[0] / d {
                for i in 0..d / 2 {
                    for s in 0..2 {
                        let (g, hf) = (h * d + 2 * i + s, h * d + (d / 2) * s + i);
                        out[g * cols..(g + 1) * cols].copy_from_slice(&v[hf * cols..(hf + 1) * cols]);
                    }
                }
            }
            v = out;
        }
        let dims: Vec<u64> = shape.iter().rev().map(|&x| x as u64).collect();
        tensors.push(GT { name: gguf_name(name), dims, ty: 0, data: v.iter().flat_map(|x| x.to_le_bytes()).collect() });
    }
    let kvs = vec![
        ("general.architecture", V::Str("llama".into())),
        ("llama.block_count", V::U32(t.layers as u32)),
        ("llama.embedding_length", V::U32(t.hidden as u32)),
        ("llama.feed_forward_length", V::U32(t.ffn as u32)),
        ("llama.attention.head_count", V::U32(t.heads as u32)),
        ("llama.attention.head_count_kv", V::U32(t.kv_heads as u32)),
        ("llama.rope.freq_base", V::F32(THETA as f32)),
        ("llama.attention.layer_norm_rms_epsilon", V::F32(EPS as f32)),
        ("llama.context_length", V::U32(64)),
        ("llama.vocab_size", V::U32(t.vocab as u32)),
    ];
    std::fs::write(path, gguf_bytes(3, &kvs, &tensors, 32)).unwrap();
}

#[test]
fn a_gguf_file_gives_the_logits_of_the_same_weights_in_safetensors() {
    let dir = tempfile::tempdir().unwrap();
    let t = GQA;
    let tn = write_tiny(dir.path(), t, 13);
    let path = dir.path().join("tiny.gguf");
    write_tiny_gguf(&path, &tn, t);
    let from_gguf = Pretrained::open(&path, None).unwrap();
    let from_st = open(dir.path(), t);
    assert_eq!(from_gguf.checkpoint.config.num_key_value_heads, 2);
    let s = Subnet { ffn: vec![18, 24], attn_rank: vec![0, 0], ffn_rank: vec![0, 0] };
    let x = ids(8, t.vocab, 6);
    let a = burn_logits(&from_gguf, &s, &x);
    let b = burn_logits(&from_st, &s, &x);
    assert_eq!(a, b, "the same weights, the same logits (rows put back in Hugging Face order)");
    assert_logits("gguf", &a, &reference_logits(&to64(&tn), t, &s, &x));
}

#[test]
fn a_subnet_benchmark_measures_validation_loss_resumes_and_ranks() {
    use lpzero::family::llama::bench::{build, SubnetBenchConfig, SubnetSource};
    use lpzero::source::Source;
    let dir = tempfile::tempdir().unwrap();
    let t = GQA;
    let tn = to64(&write_tiny(dir.path(), t, 14));
    let pre = open(dir.path(), t);
    let space = LonasSpace::parse(
        "name: tiny\nfamily: llama\nlayers: 2\nhidden_size: 16\nintermediate_size: 24\nffn_width: [24, 18, 12]\n",
        "tiny",
    )
    .unwrap();
    let tokens = ids(400, t.vocab, 9);
    let cfg = SubnetBenchConfig { subnets: 4, steps: 0, batch: 2, seq_len: 10, valid_windows: 3, gather_windows: 1, lr: 1e-3, seed: 3, keep_inputs: vec![], explicit: vec![] };
    let out = dir.path().join("bench");
    let device = Device::flex();
    let stop = Stop::new();
    let done = build(&pre, &space, &cfg, &tokens, &out, &device, &stop, &lpzero::progress::Silent).unwrap();
    assert_eq!(done.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["maximal", "heuristic", "s002", "s003"]);
    assert_eq!(done[1].subnet.ffn, vec![18, 18]);
    // Without training, the validation loss is the f64 forward's over the last 20 % of the text.
    let valid = &tokens[320..];
    for r in &done {
        let want: f64 = (0..3).map(|w| reference_loss(&tn, t, &r.subnet, &valid[w * 10..w * 10 + 9], &valid[w * 10 + 1..w * 10 + 10])).sum::<f64>() / 3.0;
        assert!((r.valid_loss - want).abs() <= 1e-5 * want, "{}: {} vs f64 {want}", r.id, r.valid_loss);
        assert_eq!(r.valid_loss, r.valid_loss_before);
        assert!((r.valid_ppl - want.exp()).abs() <= 1e-4 * want.exp());
    }
    // truth.csv: minus the perplexity, with the counts as baselines.
    let truth = std::fs::read_to_string(out.join("truth.csv")).unwrap();
    assert!(truth.starts_with("id,quality,params,macs_per_token\nmaximal,-"), "{truth}");
    // A rerun reads the results back; other settings are refused.
    let again = build(&pre, &space, &cfg, &tokens, &out, &device, &stop, &lpzero::progress::Silent).unwrap();
    assert_eq!(again, done);
    let other = SubnetBenchConfig { steps: 2, ..cfg.clone() };
    let e = build(&pre, &space, &other, &tokens, &out, &device, &stop, &lpzero::progress::Silent).err().unwrap().to_string();
    assert!(e.contains("was built with other settings"), "{e}");
    // Recovery training lowers the training loss it descends on; the benchmark reports it.
    let trained_dir = dir.path().join("trained");
    let trained = build(&pre, &space, &SubnetBenchConfig { steps: 3, subnets: 2, ..cfg.clone() }, &tokens, &trained_dir, &device, &stop, &lpzero::progress::Silent).unwrap();
    assert!(trained.iter().all(|r| r.final_train_loss.is_some_and(f64::is_finite) && r.valid_loss != r.valid_loss_before), "{trained:?}");
    // As a source: truth is minus the perplexity, inputs gathered on the recorded minibatch.
    let pre = std::sync::Arc::new(pre);
    let source = SubnetSource::open(pre.clone(), &out, &device).unwrap();
    assert_eq!(source.len(), 4);
    assert_eq!(source.truth(2), -done[2].valid_ppl);
    let f = source.fetch(1, &[lpzero::lang::table::InputId::W]).unwrap();
    let w = f.inputs.get(lpzero::lang::table::InputId::W).unwrap();
    assert_eq!((w.len(), w[4].shape.clone(), w[6].shape.clone()), (14, vec![18, 16], vec![16, 18]));
    let e = SubnetSource::open(pre, dir.path(), &device).err().unwrap().to_string();
    assert!(e.contains("not a sub-network benchmark"), "{e}");
}

/// `avg(l1(W))` of a sub-network from the f64 tensors: the mean over its seven projection
/// weights per layer (each cut to its active block) of the mean absolute entry.
fn avg_l1_of_active_weights(tn: &T64, t: Tiny, s: &Subnet) -> f64 {
    let hd = t.hidden / t.heads;
    let mut terms = vec![];
    for l in 0..t.layers {
        let f = s.ffn[l];
        let p = |n: &str| format!("model.layers.{l}.{n}.weight");
        for (name, rows, cols) in [
            (p("self_attn.q_proj"), t.heads * hd, t.hidden),
            (p("self_attn.k_proj"), t.kv_heads * hd, t.hidden),
            (p("self_attn.v_proj"), t.kv_heads * hd, t.hidden),
            (p("self_attn.o_proj"), t.hidden, t.heads * hd),
            (p("mlp.gate_proj"), f, t.hidden),
            (p("mlp.up_proj"), f, t.hidden),
            (p("mlp.down_proj"), t.hidden, f),
        ] {
            let m = mat(tn, &name, rows, cols);
            terms.push(m.iter().flatten().map(|v| v.abs()).sum::<f64>() / (rows * cols) as f64);
        }
    }
    terms.iter().sum::<f64>() / terms.len() as f64
}

#[test]
fn a_subnet_benchmark_is_a_bench_for_rank_evolve_and_the_repl() {
    use lpzero::family::llama::bench::{build, SubnetBenchConfig};
    let dir = tempfile::tempdir().unwrap();
    let t = GQA;
    let tn = to64(&write_tiny(dir.path(), t, 14));
    let pre = open(dir.path(), t);
    let space_text = "name: tiny\nfamily: llama\nlayers: 2\nhidden_size: 16\nintermediate_size: 24\nffn_width: [24, 18, 12]\n";
    let space = LonasSpace::parse(space_text, "tiny").unwrap();
    let space_file = dir.path().join("space.yaml");
    std::fs::write(&space_file, space_text).unwrap();
    let tokens = ids(400, t.vocab, 9);
    let cfg = SubnetBenchConfig { subnets: 6, steps: 0, batch: 2, seq_len: 10, valid_windows: 3, gather_windows: 1, lr: 1e-3, seed: 3, keep_inputs: vec![], explicit: vec![] };
    let out = dir.path().join("bench");
    let done = build(&pre, &space, &cfg, &tokens, &out, &Device::flex(), &Stop::new(), &lpzero::progress::Silent).unwrap();
    // The folder names the model it was built from, and a build from another one is refused.
    let origin = std::fs::read_to_string(out.join("pretrained.yaml")).unwrap();
    assert!(origin.contains(&std::fs::canonicalize(dir.path()).unwrap().display().to_string()), "{origin}");
    let other_dir = dir.path().join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    write_tiny(&other_dir, t, 15);
    let e = build(&open(&other_dir, t), &space, &cfg, &tokens, &out, &Device::flex(), &Stop::new(), &lpzero::progress::Silent).err().unwrap().to_string();
    assert!(e.contains("was built from") && e.contains("use another folder"), "{e}");

    // `rank --bench DIR` reads it like any benchmark: scores from the active weights (f64 here),
    // ground truth minus the perplexity in results.
    let bench = out.to_str().unwrap();
    let (code, json, err) = lpzero(&["rank", "--bench", bench, "-e", "avg(l1(W))", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ids_of = |r: &serde_json::Value| r["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(ids_of(&report), ["maximal", "heuristic", "s002", "s003", "s004", "s005"]);
    for (k, r) in done.iter().enumerate() {
        assert_eq!(report["truth"][k].as_f64().unwrap(), -r.valid_ppl, "{}", r.id);
        let want = avg_l1_of_active_weights(&tn, t, &r.subnet);
        let got = report["proxies"][0]["scores"][k].as_f64().unwrap();
        assert!((got - want).abs() <= 1e-6 * want, "{}: {got} vs f64 {want}", r.id);
    }
    assert_eq!(report["source"]["family"], "llama");
    // The same numbers as `subnet rank`, which opens the model by hand.
    let model = dir.path().to_str().unwrap();
    let (code, json2, err) = lpzero(&["subnet", "rank", "--bench", bench, "--model", model, "-e", "avg(l1(W))", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let report2: serde_json::Value = serde_json::from_str(&json2).unwrap();
    for key in ["ids", "truth", "baselines"] {
        assert_eq!(report[key], report2[key], "{key}");
    }
    assert_eq!(report["proxies"][0]["scores"], report2["proxies"][0]["scores"]);
    assert_eq!(report["proxies"][0]["rho"], report2["proxies"][0]["rho"]);

    // `evolve --bench DIR` searches on it, and resumes from its checkpoint (which stores the
    // folder, not a gathered benchmark).
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    let whole = dir.path().join("whole");
    let evolve = |out: &Path, extra: &[&str]| {
        let mut a = vec!["evolve", "--bench", bench, "--read", "W", "--population", "6", "--iterations", "6", "--search-archs", "3", "--heldout-archs", "3", "--seed", "1", "--format", "json", "--out"];
        a.push(out.to_str().unwrap());
        a.extend_from_slice(extra);
        lpzero(&a)
    };
    let (code, uninterrupted, err) = evolve(&whole, &[]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = evolve(&run, &["--stop-after", "2"]);
    assert!(code == 0 && err.contains("stopped after iteration 2"), "{err}");
    let (code, resumed, err) = lpzero(&["evolve", "--resume", run_s, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let (a, b): (serde_json::Value, serde_json::Value) = (serde_json::from_str(&uninterrupted).unwrap(), serde_json::from_str(&resumed).unwrap());
    assert_eq!(a["best"], b["best"], "stopped and resumed finds what one run finds:\n{uninterrupted}\n{resumed}");

    // The REPL loads it with `:bench`.
    let mut repl = std::process::Command::new(env!("CARGO_BIN_EXE_lpzero"))
        .args(["repl", "--bench", bench, "--archs", "2"])
        .env("NO_COLOR", "1")
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    repl.stdin.take().unwrap().write_all(b"avg(l1(W))\n").unwrap();
    let o = repl.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("loaded 2 architectures of") && text.contains("sliced pretrained weights"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("avg(l1(W)) ") && l.contains("2/2")), "{text}");
}
