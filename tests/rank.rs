//! Baselines and ranking against the published benchmarks (skips without `../shared/data`).

use lpzero::bench::{shared_data_dir, Benchmark};
use lpzero::models::Fidelity;
use lpzero::stats::correlate;

fn corr(bench: &Benchmark, name: &str) -> (f64, f64) {
    corr_at(bench, name, Fidelity::Trained)
}

fn corr_at(bench: &Benchmark, name: &str, fidelity: Fidelity) -> (f64, f64) {
    let archs: Vec<&dyn lpzero::family::Arch> = bench.archs.iter().map(|a| &**a).collect();
    let b = bench.family.baselines(&archs, fidelity).unwrap().into_iter().find(|b| b.name == name).unwrap();
    let truth: Vec<f64> = (0..bench.len()).map(|k| bench.quality(k).unwrap()).collect();
    let c = correlate(&b.scores.iter().map(|&v| Some(v)).collect::<Vec<_>>(), &truth);
    (c.spearman.unwrap(), c.kendall.unwrap())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[test]
fn parameter_count_and_depth_baselines_reproduce_the_published_numbers() {
    let Some(dir) = shared_data_dir() else {
        eprintln!("skipping: ../shared/data (or $LPZERO_DATA) is not present");
        return;
    };
    let flexi = Benchmark::load(&dir.join("benchmarks/flexibert/BERT_benchmark.json"), None).unwrap();
    let (rho, tau) = corr(&flexi, "params (total)");
    assert_eq!((round3(rho), round3(tau)), (0.765, 0.573));
    let (rho, tau) = corr(&flexi, "params (non-embedding)");
    assert_eq!((round3(rho), round3(tau)), (0.765, 0.573));
    let (rho, tau) = corr(&flexi, "layers");
    assert_eq!((round3(rho), round3(tau)), (0.834, 0.682));
    assert_eq!(round3(corr(&flexi, "layers, then hidden size").0), 0.925);

    let gpt2 = Benchmark::load(&dir.join("benchmarks/gpt2-wt103"), None).unwrap();
    let (rho, tau) = corr(&gpt2, "params (total)");
    assert_eq!((round3(rho), round3(tau)), (0.737, 0.582));
    let (rho, tau) = corr(&gpt2, "params (non-embedding)");
    assert_eq!((round3(rho), round3(tau)), (0.967, 0.847));
}

/// At `--fidelity reference` the parameter-count baselines count the reference's networks (width
/// 256, the six layer types), whose counts are the CSV's `Number of Parameters`: ρ 0.652, τ 0.454
/// as published in `../shared/data/README.md`.
#[test]
fn reference_fidelity_parameter_baseline_reproduces_the_references_correlation() {
    let Some(dir) = shared_data_dir() else {
        eprintln!("skipping: ../shared/data (or $LPZERO_DATA) is not present");
        return;
    };
    let flexi = Benchmark::load(&dir.join("benchmarks/flexibert/BERT_benchmark.json"), None).unwrap();
    for name in ["params (total)", "params (non-embedding)"] {
        let (rho, tau) = corr_at(&flexi, name, Fidelity::Reference);
        assert_eq!((round3(rho), round3(tau)), (0.652, 0.454), "{name}");
    }
    // Depth does not depend on the fidelity.
    assert_eq!(round3(corr_at(&flexi, "layers", Fidelity::Reference).0), 0.834);
}
