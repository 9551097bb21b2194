//! Parameter counts of the built models against the benchmark's own numbers (GPT-2,
//! `params_summary.yaml`) and the trained-model formulas of FLEXIBERT_TRAINED.md (FlexiBERT,
//! written out here independently of the model code). Skips when `../shared/data` is absent.

use lpzero::bench::{shared_data_dir, Benchmark};
use lpzero::family::flexibert::FlexiArch;
use lpzero::models::Fidelity;

fn data() -> Option<std::path::PathBuf> {
    let d = shared_data_dir();
    if d.is_none() {
        eprintln!("skipping: ../shared/data (or $LPZERO_DATA) is not present");
    }
    d
}

#[test]
fn gpt2_counts_equal_params_summary_for_every_architecture() {
    let Some(dir) = data() else { return };
    let bench = Benchmark::load(&dir.join("benchmarks/gpt2-wt103"), None).unwrap();
    assert_eq!((bench.family.name(), bench.len()), ("gpt2", 200));
    // params_summary.yaml, read here directly.
    let text = std::fs::read_to_string(dir.join("benchmarks/gpt2-wt103/params_summary.yaml")).unwrap();
    let published: std::collections::BTreeMap<String, std::collections::BTreeMap<String, f64>> = serde_norway::from_str(&text).unwrap();
    let mut exact = 0;
    for a in &bench.archs {
        let c = a.counts(Fidelity::Trained).unwrap();
        let p = &published[&a.id()];
        let want: Vec<f64> = ["AdaEmb", "Attn", "FFN", "nonembedding", "total"].iter().map(|f| p[*f]).collect();
        let got: Vec<f64> = c.iter().map(|(_, v)| *v as f64).collect();
        assert_eq!(got, want, "{}", a.id());
        exact += 1;
    }
    assert_eq!(exact, 200);
    // The benchmark's own check agrees.
    let check = bench.check_counts(&bench.counts(Fidelity::Trained).unwrap()).unwrap();
    assert_eq!((check.archs, check.compared, check.mismatches.len()), (200, 1000, 0));
}

/// FLEXIBERT_TRAINED.md §7: EMB = V·E + 512·E + 2·E + 2E, PROJ(H) = (H ≠ 128)(128H + H),
/// MIX = 4H² + 6H, FFN(n=1) = 8H² + 7H, FFN(n≥2) = dense(H,4H) + dense(4H,F) + (n−2)dense(F,F) + dense(F,H) + 2H.
#[test]
fn flexibert_counts_equal_the_trained_model_formulas_for_every_architecture() {
    let Some(dir) = data() else { return };
    let bench = Benchmark::load(&dir.join("benchmarks/flexibert/BERT_benchmark.json"), None).unwrap();
    assert_eq!((bench.family.name(), bench.len()), ("flexibert", 500));
    let dense = |i: u64, o: u64| i * o + o;
    for arch in &bench.archs {
        let a: &FlexiArch = arch.as_any().downcast_ref().unwrap();
        let h = a.hidden_size as u64;
        let emb = 30522 * 128 + 512 * 128 + 2 * 128 + 2 * 128;
        assert_eq!(emb, 3_972_864);
        let proj = if h != 128 { 128 * h + h } else { 0 };
        let layers: u64 = a
            .layers
            .iter()
            .map(|l| {
                let (n, f) = (l.num_ffn as u64, l.ffn_dim as u64);
                let mix = 4 * h * h + 6 * h;
                let ffn = if n == 1 { 8 * h * h + 7 * h } else { dense(h, 4 * h) + dense(4 * h, f) + (n - 2) * dense(f, f) + dense(f, h) + 2 * h };
                mix + ffn
            })
            .sum();
        let c = arch.counts(Fidelity::Trained).unwrap();
        assert_eq!(c, vec![("total", emb + proj + layers), ("nonembedding", layers)], "id {}", a.id);
        if a.id == 0 {
            // The worked example of FLEXIBERT_TRAINED.md §7.
            assert_eq!(c[0].1, 10_576_896);
            assert_eq!(c[1].1, 6_571_008);
        }
    }
}
