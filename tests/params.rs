//! Parameter counts of the built models against the benchmark's own numbers (GPT-2,
//! `params_summary.yaml`) and the trained-model formulas of FLEXIBERT_TRAINED.md (FlexiBERT,
//! written out here independently of the model code). Skips when `../shared/data` is absent.

use lpzero::bench::{shared_data_dir, Benchmark};
use lpzero::models::{self, Fidelity};

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
    let bench = Benchmark::load(&dir.join("benchmarks/gpt2-wt103")).unwrap();
    let Benchmark::Gpt2 { archs, .. } = &bench else { panic!("not GPT-2") };
    assert_eq!(archs.len(), 200);
    let mut exact = 0;
    for (arch, a) in models::archs(&bench).into_iter().zip(archs) {
        let c = models::count(arch, Fidelity::Trained).unwrap();
        let want = [a.params.ada_emb, a.params.attn, a.params.ffn, a.params.nonembedding, a.params.total];
        let got: Vec<f64> = c.fields.iter().map(|(_, v)| *v as f64).collect();
        assert_eq!(got, want, "{}", a.key);
        exact += 1;
    }
    assert_eq!(exact, 200);
}

/// FLEXIBERT_TRAINED.md §7: EMB = V·E + 512·E + 2·E + 2E, PROJ(H) = (H ≠ 128)(128H + H),
/// MIX = 4H² + 6H, FFN(n=1) = 8H² + 7H, FFN(n≥2) = dense(H,4H) + dense(4H,F) + (n−2)dense(F,F) + dense(F,H) + 2H.
#[test]
fn flexibert_counts_equal_the_trained_model_formulas_for_every_architecture() {
    let Some(dir) = data() else { return };
    let bench = Benchmark::load(&dir.join("benchmarks/flexibert/BERT_benchmark.json")).unwrap();
    let Benchmark::Flexibert { archs, .. } = &bench else { panic!("not FlexiBERT") };
    assert_eq!(archs.len(), 500);
    let dense = |i: u64, o: u64| i * o + o;
    for (arch, a) in models::archs(&bench).into_iter().zip(archs) {
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
        let c = models::count(arch, Fidelity::Trained).unwrap();
        assert_eq!(c.fields, vec![("total", emb + proj + layers), ("nonembedding", layers)], "id {}", a.id);
        if a.id == 0 {
            // The worked example of FLEXIBERT_TRAINED.md §7.
            assert_eq!(c.fields[0].1, 10_576_896);
            assert_eq!(c.fields[1].1, 6_571_008);
        }
    }
}
