//! A gather runs only as much of the model as the inputs asked for read (weights alone: no
//! forward pass over the minibatch; no gradient: no backward pass), and what it returns is the
//! same, bit for bit, as the full gather's — for every family, both FlexiBERT fidelities, and
//! through the input cache, whose files grow as later runs ask for more.

use burn::tensor::Device;
use lpzero::family::flexibert::{FlexiArch, FlexiLayer, LayerOp};
use lpzero::family::Arch;
use lpzero::gather::cache::{gather_cached, Cache};
use lpzero::gather::{all_inputs, gather, text::Corpus, Gathered};
use lpzero::lang::table::InputId::{self, *};
use lpzero::models::Fidelity;
use std::sync::Arc;

mod common;
use common::{opts, tiny_gpt2, tiny_transxl};

fn flexibert() -> FlexiArch {
    FlexiArch {
        id: 7,
        hidden_size: 128,
        layers: vec![
            FlexiLayer { op: LayerOp::SaSdp, heads: 2, ffn_dim: 256, num_ffn: 2 },
            FlexiLayer { op: LayerOp::LtDft, heads: 4, ffn_dim: 512, num_ffn: 1 },
            FlexiLayer { op: LayerOp::Dsc(5), heads: 2, ffn_dim: 256, num_ffn: 1 },
        ],
    }
}

/// Every family and fidelity, with the text its vocabulary reads.
fn cases() -> Vec<(String, Arc<dyn Arch>, Corpus, Fidelity)> {
    let (gpt2, txl) = (tiny_gpt2(), tiny_transxl());
    let grammar = Corpus::grammar(3, 2000);
    vec![
        ("flexibert".into(), Arc::new(flexibert()) as Arc<dyn Arch>, Corpus::builtin(), Fidelity::Trained),
        ("flexibert reference".into(), Arc::new(flexibert()), Corpus::builtin(), Fidelity::Reference),
        ("gpt2".into(), gpt2, grammar.clone(), Fidelity::Trained),
        ("transxl".into(), txl, grammar, Fidelity::Trained),
    ]
}

fn assert_same(case: &str, need: &[InputId], full: &Gathered, part: &Gathered) {
    for id in part.inputs.present() {
        let (a, b) = (full.inputs.get(id).unwrap(), part.inputs.get(id).unwrap());
        assert_eq!(a.len(), b.len(), "{case} {need:?}: {id:?} entries");
        for (k, (x, y)) in a.iter().zip(b).enumerate() {
            assert_eq!(x.shape, y.shape, "{case} {need:?}: {id:?}[{k}] shape");
            let same = x.data.iter().zip(y.data.iter()).all(|(p, q)| p.to_bits() == q.to_bits());
            let worst = x.data.iter().zip(y.data.iter()).map(|(p, q)| ((p - q).abs() / p.abs().max(1e-30)) as f64).fold(0.0, f64::max);
            assert!(same, "{case} {need:?}: {id:?}[{k}] differs from the full gather (worst relative {worst:e})");
        }
    }
    assert_eq!(part.params, full.params, "{case}: parameter count");
}

#[test]
fn a_partial_gather_equals_the_full_one_and_runs_no_more_than_it_needs() {
    let device = Device::flex();
    for (case, arch, corpus, fidelity) in cases() {
        let o = opts(fidelity);
        let full = gather(&*arch, &corpus, &o, &device, &all_inputs()).unwrap();
        assert_eq!(full.inputs.present().count(), 15, "{case}: the full gather has every input");
        let loss = full.loss.expect("a full gather has a loss");
        // (asked for, what comes back, whether a forward pass over the minibatch ran)
        let subsets: [(&[InputId], &[InputId], bool); 13] = [
            (&[W], &[W], false),
            (&[P], &[P], false),
            (&[P, W], &[W, P], false),
            (&[A], &[A], true),
            (&[H, S], &[H, S], true),
            (&[G], &[W, G], true),
            (&[GA], &[A, GA], true),
            (&[GH, J], &[H, GH, J], true),
            (&[Z], &[Z], true),
            (&[GS], &[W, GS], true),
            (&[HG], &[W, HG], true),
            (&[L, D, N], &[L, D, N], false),
            (&[], &[], false),
        ];
        for (need, present, forward) in subsets {
            let part = gather(&*arch, &corpus, &o, &device, need).unwrap();
            let mut got: Vec<InputId> = part.inputs.present().collect();
            let mut want = present.to_vec();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{case} {need:?}: the inputs returned");
            assert_same(&case, need, &full, &part);
            match forward {
                true => {
                    assert_eq!(part.loss.map(f64::to_bits), Some(loss.to_bits()), "{case} {need:?}: the loss");
                    assert_eq!(part.minibatch, full.minibatch, "{case} {need:?}: the minibatch");
                }
                false => {
                    assert_eq!(part.loss, None, "{case} {need:?}: weights alone need no pass over the minibatch");
                    assert!(part.minibatch.is_empty(), "{case} {need:?}");
                }
            }
        }
    }
}

#[test]
fn a_cached_file_grows_with_what_later_runs_ask_for() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("gather-need-cache");
    let _ = std::fs::remove_dir_all(&dir);
    let (case, arch, corpus, fidelity) = cases().swap_remove(2);
    let o = opts(fidelity);
    let device = Device::flex();
    let cache = Cache::open(&dir, arch.family(), &o, &corpus, 1 << 30).unwrap();
    let full = gather(&*arch, &corpus, &o, &device, &all_inputs()).unwrap();
    let present = |g: &Gathered| g.inputs.present().collect::<Vec<_>>();
    let (g, cached) = gather_cached(&*arch, &corpus, &o, &device, Some(&cache), &[W]).unwrap();
    assert!(!cached);
    assert_eq!(present(&g), vec![W]);
    let (g, cached) = gather_cached(&*arch, &corpus, &o, &device, Some(&cache), &[W]).unwrap();
    assert!(cached, "{case}: the weights were cached");
    assert_eq!(present(&g), vec![W]);
    // Activations are not in the file: gathered again, with the weights it held.
    let (g, cached) = gather_cached(&*arch, &corpus, &o, &device, Some(&cache), &[A]).unwrap();
    assert!(!cached);
    assert_eq!(present(&g), vec![A, W]);
    let (g, cached) = gather_cached(&*arch, &corpus, &o, &device, Some(&cache), &[W, A]).unwrap();
    assert!(cached);
    assert_same(&case, &[W, A], &full, &g);
    assert_eq!(g.loss.map(f64::to_bits), full.loss.map(f64::to_bits), "the loss is read back with the activations");
    let _ = std::fs::remove_dir_all(&dir);
}
