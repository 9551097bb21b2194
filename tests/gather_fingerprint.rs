//! The input cache keys on `GATHER_VERSION`, so every change that alters gathered numbers must
//! bump it (or inputs gathered before the change are read back after it). This test recomputes a
//! few small architectures of every family and compares a fingerprint of their inputs (per input:
//! entries, Σx and Σx² in f64, and the loss) with a stored fixture made at the current version.
//!
//! When it fails: if the change was meant to alter the inputs, bump `GATHER_VERSION` in
//! `src/gather/mod.rs` and regenerate the fixture with `LPZERO_BLESS=1 cargo test --test
//! gather_fingerprint`; if it was not, the change has a bug.

use lpzero::device::DeviceKind;
use lpzero::family::Arch;
use lpzero::gather::{gather, text::Corpus, GatherOptions, GATHER_VERSION};
use lpzero::models::Fidelity;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const FIXTURE: &str = "tests/fixtures/gather-fingerprints.json";

fn archs() -> Vec<(Arc<dyn Arch>, Corpus)> {
    let bench = |p: &str| lpzero::bench::Benchmark::load(Path::new(p), None).unwrap();
    let mut out: Vec<(Arc<dyn Arch>, Corpus)> = vec![];
    for a in bench("tests/fixtures/bench/flexibert.json").archs {
        out.push((a, Corpus::builtin()));
    }
    // Two GPT-2 decoders and two Transformer-XL decoders of shipped spaces (the tiny space's
    // lexicon corpus for GPT-2; words for Transformer-XL).
    let space = lpzero::train::space::SpaceSpec::load("tiny").unwrap();
    for a in space.sample(2, 11).unwrap() {
        out.push((a, Corpus::grammar(3, 4000)));
    }
    let txl = lpzero::train::space::SpaceSpec::parse(
        &lpzero::family::transxl::WT103.replace("d_model: [64, 128, 256, 512]", "d_model: [16, 32]").replace("n_token: 267736", "n_token: 3000").replace("cutoffs: [19997, 39997, 199997, 267736]", "cutoffs: [100, 200, 1000, 3000]").replace("div_val: [1, 2, 4]", "div_val: [1, 2]").replace("d_inner: {min: 512, max: 2048}", "d_inner: [24, 40]").replace("n_layer: [5, 6, 7, 8]", "n_layer: [1, 2]").replace("d_embed: [128, 256, 512]", "d_embed: [32]"),
        "small transxl",
    )
    .unwrap();
    for a in txl.sample(2, 5).unwrap() {
        out.push((a, Corpus::builtin()));
    }
    out
}

type Print = BTreeMap<String, (usize, f64, f64)>;

fn fingerprint(arch: &dyn Arch, corpus: &Corpus) -> (f64, Print) {
    let opts = GatherOptions { batch: 2, seq_len: 16, seed: 7, fidelity: Fidelity::Trained, device: DeviceKind::Flex, variant: Default::default() };
    let g = gather(arch, corpus, &opts, &burn::tensor::Device::flex(), &lpzero::gather::all_inputs()).unwrap();
    let mut print = Print::new();
    for id in g.inputs.present() {
        let entries = g.inputs.get(id).unwrap();
        let (s, s2) = entries.iter().flat_map(|e| e.data.iter()).fold((0.0, 0.0), |(s, s2), &x| (s + x as f64, s2 + (x as f64) * (x as f64)));
        print.insert(lpzero::lang::table::input(id).name.to_owned(), (entries.len(), s, s2));
    }
    (g.loss.expect("a full gather has a loss"), print)
}

/// Relative tolerance of a fingerprint: room for the order in which a CPU's kernels add.
const TOLERANCE: f64 = 1e-5;

/// Inputs whose computation amplifies roundings, and their tolerance: Synflow's gradient (GS)
/// multiplies the magnitudes of every layer's parameters, and GraSP's Hessian-gradient product
/// (HG) is a central difference of two gradients that agree to most of their digits. The same
/// code gives them values up to about 2e-4 apart on machines whose matrix-product kernels add in
/// another order (measured between this project's machines of 6 and 7 December: GS's Σx² 1.6e-4
/// relative on FlexiBERT, HG's Σx 3.4e-5 of its scale on Transformer-XL, every other input
/// within 1e-5); a change to what is gathered moves them by far more.
const AMPLIFYING: [(&str, f64); 2] = [("GS", 1e-3), ("HG", 1e-3)];

fn tolerance(input: &str) -> f64 {
    AMPLIFYING.iter().find(|(name, _)| *name == input).map_or(TOLERANCE, |&(_, t)| t)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    within(a, b, a.abs().max(b.abs()), tol)
}

fn within(a: f64, b: f64, scale: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * scale.max(1e-12)
}

/// A sum of values of both signs (a gradient's Σx) cancels to far below its terms, so its
/// rounding (the order a CPU's kernels add in) is compared against the size of the terms,
/// √Σx², not against the sum itself; Σx² has no cancellation.
fn close_sum(s: f64, old: f64, s2: f64, tol: f64) -> bool {
    within(s, old, s.abs().max(old.abs()).max(s2.sqrt()), tol)
}

#[test]
fn gathered_inputs_match_the_fixture_of_this_gather_version() {
    let now: Vec<(String, f64, Print)> = archs().iter().map(|(a, c)| {
        let (loss, p) = fingerprint(&**a, c);
        (format!("{}:{}", a.family(), a.id()), loss, p)
    }).collect();
    let doc = serde_json::json!({ "gather_version": GATHER_VERSION, "archs": now.iter().map(|(k, l, p)| serde_json::json!({"arch": k, "loss": l, "inputs": p})).collect::<Vec<_>>() });
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    if std::env::var_os("LPZERO_BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let stored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let version = stored["gather_version"].as_u64().unwrap() as u32;
    let mut diffs = vec![];
    for ((key, loss, print), old) in now.iter().zip(stored["archs"].as_array().unwrap()) {
        assert_eq!(old["arch"], key.as_str(), "the fixture lists other architectures: regenerate it");
        if !close(*loss, old["loss"].as_f64().unwrap(), TOLERANCE) {
            diffs.push(format!("{key}: loss {loss} vs {}", old["loss"]));
        }
        for (name, (n, s, s2)) in print {
            let o = &old["inputs"][name];
            let tol = tolerance(name);
            if o.is_null() || o[0].as_u64() != Some(*n as u64) || !close_sum(*s, o[1].as_f64().unwrap(), *s2, tol) || !close(*s2, o[2].as_f64().unwrap(), tol) {
                diffs.push(format!("{key}: input {name} ({n} entries, Σ {s}, Σx² {s2}) vs {o}"));
            }
        }
    }
    if version != GATHER_VERSION {
        panic!("GATHER_VERSION is {GATHER_VERSION} but the fixture was made at {version}: regenerate it (LPZERO_BLESS=1)");
    }
    assert!(diffs.is_empty(), "gathered inputs changed but GATHER_VERSION ({GATHER_VERSION}) did not: bump it in src/gather/mod.rs and regenerate {FIXTURE} (LPZERO_BLESS=1)\n{}", diffs.join("\n"));
}
