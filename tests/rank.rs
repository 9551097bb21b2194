//! Baselines and ranking against the published benchmarks (skips without `../shared/data`).

use lpzero::bench::{shared_data_dir, Benchmark};
use lpzero::models::Fidelity;
use lpzero::rank::baselines;
use lpzero::stats::correlate;

fn corr(bench: &Benchmark, name: &str) -> (f64, f64) {
    let b = baselines(bench, Fidelity::Trained).unwrap().into_iter().find(|b| b.name == name).unwrap();
    let c = correlate(&b.scores.iter().map(|&v| Some(v)).collect::<Vec<_>>(), &bench.quality());
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
    let flexi = Benchmark::load(&dir.join("benchmarks/flexibert/BERT_benchmark.json")).unwrap();
    let (rho, tau) = corr(&flexi, "params (total)");
    assert_eq!((round3(rho), round3(tau)), (0.765, 0.573));
    let (rho, tau) = corr(&flexi, "params (non-embedding)");
    assert_eq!((round3(rho), round3(tau)), (0.765, 0.573));
    let (rho, tau) = corr(&flexi, "layers");
    assert_eq!((round3(rho), round3(tau)), (0.834, 0.682));
    assert_eq!(round3(corr(&flexi, "layers, then hidden size").0), 0.925);

    let gpt2 = Benchmark::load(&dir.join("benchmarks/gpt2-wt103")).unwrap();
    let (rho, tau) = corr(&gpt2, "params (total)");
    assert_eq!((round3(rho), round3(tau)), (0.737, 0.582));
    let (rho, tau) = corr(&gpt2, "params (non-embedding)");
    assert_eq!((round3(rho), round3(tau)), (0.967, 0.847));
}
