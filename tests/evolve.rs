//! `lpzero evolve` end to end on a small FlexiBERT benchmark written by the test, and the search
//! library on hand-built inputs.

use lpzero::eval::{ProxyInputs, TensorEntry};
use lpzero::lang::syntax::BinOp;
use lpzero::lang::table::InputId;
use lpzero::search::candidate::{paper_unary_ops, SearchSpace, ShapeKind};
use lpzero::search::fitness::{Fitness, SearchSet};
use lpzero::search::{Search, SearchConfig};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Ten small FlexiBERT architectures; GLUE grows with depth and width, with a fixed jitter.
fn write_bench(dir: &Path) -> PathBuf {
    let mut archs = vec![];
    for id in 0..10 {
        let hidden = if id % 2 == 0 { 128 } else { 256 };
        let layers = 2 + (id / 5) * 2;
        let ffn = [512, 1024][id % 3 % 2];
        let glue = 50.0 + 3.0 * layers as f64 + hidden as f64 / 100.0 + ((id * 7) % 5) as f64 * 0.3;
        let layer = |l: usize| {
            serde_json::json!({"operation_type": "SA", "operation_parameter": "SDP", "num_operation_heads": 2 + 2 * (l % 2),
                "feed_forward_dimension": ffn, "num_feed_forward": 1 + l % 2})
        };
        archs.push(serde_json::json!({
            "id": id, "is_running": false, "completed": true, "time_to_train": 1000.0,
            "scores": {"cola": glue, "mnli": glue, "mrpc": glue, "qnli": glue, "qqp": glue, "rte": glue, "sst": glue, "sts": glue, "glue": glue},
            "hparams": {"model_hparam_overrides": {"hidden_size": hidden, "nas_config": {"encoder_layers": (0..layers).map(layer).collect::<Vec<_>>()}}}
        }));
    }
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("flexibert10.json");
    std::fs::write(&path, serde_json::to_string(&archs).unwrap()).unwrap();
    path
}

fn lpzero(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lpzero"))
        .args(args)
        .env("LPZERO_CACHE", PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("evolve-cache"))
        .output()
        .unwrap()
}

/// The history without the wall-clock fields.
fn history(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("history.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("seconds");
            v
        })
        .collect()
}

#[test]
fn a_resumed_search_ends_exactly_as_an_uninterrupted_one() {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("evolve_resume");
    let _ = std::fs::remove_dir_all(&tmp);
    let bench = write_bench(&tmp);
    let bench = bench.to_str().unwrap();
    let common = |out: &Path| -> Vec<String> {
        [
            "evolve", "--bench", bench, "--out", out.to_str().unwrap(), "--search-archs", "6", "--population", "8", "--iterations", "24",
            "--batch", "2", "--seq-len", "16", "--seed", "3", "--read", "A,H,W,G",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let whole = tmp.join("whole");
    let args = common(&whole);
    let out = lpzero(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("held-out set (4 architectures)"), "{stdout}");
    assert!(stdout.contains("lpzero_flexibert") && stdout.contains("layers, then hidden size"), "{stdout}");

    let parts = tmp.join("parts");
    let mut args = common(&parts);
    args.extend(["--stop-after".to_string(), "9".to_string()]);
    let out = lpzero(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"), "the stop says how to go on");
    assert_eq!(history(&parts).len(), 10, "iteration 0 and 9 iterations");
    assert!(!parts.join("best.proxy").exists());
    let out = lpzero(&["evolve", "--resume", parts.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    assert_eq!(history(&whole), history(&parts));
    assert_eq!(history(&whole).len(), 25);
    let best = |d: &Path| std::fs::read_to_string(d.join("best.proxy")).unwrap();
    assert_eq!(best(&whole), best(&parts));
    assert!(best(&whole).contains("\nevolved = "), "{}", best(&whole));
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(whole.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["search_archs"], 6);
    assert_eq!(summary["heldout_archs"], 4);
    assert!(whole.join("convergence.svg").exists());
    // The checkpoint's population is sorted best first and its best is the reported one.
    let cp: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(whole.join("checkpoint.json")).unwrap()).unwrap();
    assert_eq!(cp["state"]["iteration"], 24);
    assert_eq!(cp["state"]["population"].as_array().unwrap().len(), 8);
}

#[test]
fn resume_of_a_directory_without_a_checkpoint_is_a_clear_error() {
    let out = lpzero(&["evolve", "--resume", "/nonexistent/run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("checkpoint.json"));
}

/// Inputs where W's single entry holds the value `v` everywhere and G holds `g`.
fn inputs(v: f32, g: f32) -> ProxyInputs {
    let mut i = ProxyInputs::new();
    i.insert(InputId::W, vec![TensorEntry::from_f32(&[2, 2], &[v, v, v, -v]).unwrap()]).unwrap();
    i.insert(InputId::G, vec![TensorEntry::from_f32(&[2, 2], &[g, 0.0, g, g]).unwrap()]).unwrap();
    i
}

#[test]
fn fitness_is_spearman_against_truth_and_invalid_or_constant_proxies_are_worst() {
    // W grows with quality, G falls with it.
    let data: Vec<ProxyInputs> = (1..=5).map(|k| inputs(k as f32, 10.0 - k as f32)).collect();
    let truth = vec![1.0, 2.0, 3.0, 4.0, 5.0];
    let mut set = SearchSet::new(&data, (0..5).map(|k| k.to_string()).collect(), truth);
    let check = |s: &str| lpzero::lang::Proxy::parse(s).unwrap().typed;
    assert_eq!(set.fitness(&check("sum(abs(W))")), Fitness::Rho(1.0));
    assert_eq!(set.fitness(&check("sum(G)")), Fitness::Rho(-1.0));
    assert!(matches!(set.fitness(&check("avg(softmax(fro(W)))")), Fitness::Invalid(r) if r.contains("same score")));
    assert!(matches!(set.fitness(&check("sum(exp(W * 100))")), Fitness::Invalid(r) if r.contains("not finite")));
    assert_eq!(Fitness::Invalid(String::new()).value(), f64::NEG_INFINITY);
}

#[test]
fn the_search_finds_the_perfect_proxy_and_random_search_is_seeded() {
    let data: Vec<ProxyInputs> = (1..=6).map(|k| inputs(k as f32, (k * k % 5) as f32 + 0.5)).collect();
    let truth: Vec<f64> = (1..=6).map(|k| k as f64).collect();
    let config = |random_search| SearchConfig {
        space: SearchSpace {
            shape: ShapeKind::Template { n_unary: 2 },
            inputs: vec![InputId::W, InputId::G],
            unary: paper_unary_ops(),
            binary: BinOp::ALL.to_vec(),
            rps: true,
        },
        population: 10,
        iterations: 40,
        crossover: 0.5,
        mutation: 0.5,
        parent_pool: 0.3,
        seed: 11,
        random_search,
        objective: Default::default(),
    };
    let run = |random_search| {
        let mut set = SearchSet::new(&data, (0..6).map(|k| k.to_string()).collect(), truth.clone());
        let (mut s, first) = Search::start(config(random_search), &mut set).unwrap();
        let mut best = vec![first.best.unwrap()];
        while !s.finished() {
            best.push(s.step().best.unwrap());
        }
        // The best never gets worse (the worst member is the one replaced).
        assert!(best.windows(2).all(|w| w[1] >= w[0]), "{best:?}");
        (s.best().text.clone(), s.best().fitness.clone(), s.state.counters.clone())
    };
    let (text, fitness, counters) = run(false);
    assert_eq!(fitness, Fitness::Rho(1.0), "{text}");
    assert!(counters.rps_rejections > 0);
    assert_eq!(run(false).0, text, "same seed, same result");
    let (_, _, random) = run(true);
    assert!(random.evaluations > 0);
}

/// Spearman ρ and Kendall τ-b written out here in f64 for untied data (independent of `stats`).
fn rho_untied(x: &[f64], y: &[f64]) -> f64 {
    let rank = |v: &[f64]| -> Vec<f64> { v.iter().map(|a| v.iter().filter(|b| *b < a).count() as f64).collect() };
    let (rx, ry) = (rank(x), rank(y));
    let n = x.len() as f64;
    let d2: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - b).powi(2)).sum();
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}

fn tau_untied(x: &[f64], y: &[f64]) -> f64 {
    let (mut c, mut d) = (0.0, 0.0);
    for i in 0..x.len() {
        for j in i + 1..x.len() {
            let s = (x[i] - x[j]) * (y[i] - y[j]);
            if s > 0.0 { c += 1.0 } else { d += 1.0 }
        }
    }
    (c - d) / (c + d)
}

#[test]
fn the_objective_kendall_folds_and_parsimony_are_what_they_say() {
    use lpzero::search::fitness::{folds, Objective, RankCorrelation};
    // Nine architectures; W's score is a scrambled function of quality.
    let w = [3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.0, 6.0, 5.5];
    let data: Vec<ProxyInputs> = w.iter().map(|&v| inputs(v as f32, 1.0)).collect();
    let truth: Vec<f64> = (1..=9).map(|k| k as f64).collect();
    let ids: Vec<String> = (0..9).map(|k| k.to_string()).collect();
    let proxy = lpzero::lang::Proxy::parse("sum(abs(W))").unwrap();
    // sum(abs(W)) = 4 v: the same order as w.
    let kendall = Objective { correlation: RankCorrelation::Kendall, ..Objective::default() };
    let mut set = SearchSet::new(&data, ids.clone(), truth.clone()).with_objective(kendall, 0);
    let Fitness::Rho(t) = set.fitness(&proxy.typed) else { panic!("valid") };
    assert!((t - tau_untied(&w, &truth)).abs() < 1e-12, "{t}");
    // Three folds: disjoint, covering, three each, fixed by the seed; fitness the mean of the
    // folds' ρ.
    let f = folds(9, 3, 7);
    let mut all: Vec<usize> = f.concat();
    all.sort_unstable();
    assert_eq!(all, (0..9).collect::<Vec<_>>());
    assert!(f.iter().all(|x| x.len() == 3));
    assert_eq!(f, folds(9, 3, 7));
    assert_ne!(f, folds(9, 3, 8));
    let three = Objective { folds: 3, ..Objective::default() };
    let mut set = SearchSet::new(&data, ids.clone(), truth.clone()).with_objective(three, 7);
    let want = f.iter().map(|fold| rho_untied(&fold.iter().map(|&i| w[i]).collect::<Vec<_>>(), &fold.iter().map(|&i| truth[i]).collect::<Vec<_>>())).sum::<f64>() / 3.0;
    let Fitness::Rho(r) = set.fitness(&proxy.typed) else { panic!("valid") };
    assert!((r - want).abs() < 1e-12, "{r} vs {want}");
    assert!((set.spearman(&proxy.typed)[0].unwrap() - rho_untied(&w, &truth)).abs() < 1e-12, "the whole set's ρ beside it");
    assert!(three.check(&[9]).is_ok() && Objective { folds: 4, ..three }.check(&[9]).is_err(), "fewer than 3 per fold");
    assert!(Objective { parsimony: -1.0, ..three }.check(&[9]).is_err());
    // Parsimony: every member's fitness is its ρ minus λ × its tree size.
    let lambda = 0.01;
    let data: Vec<ProxyInputs> = (1..=6).map(|k| inputs(k as f32, (k * k % 5) as f32 + 0.5)).collect();
    let truth: Vec<f64> = (1..=6).map(|k| k as f64).collect();
    let config = SearchConfig {
        space: SearchSpace { shape: ShapeKind::Template { n_unary: 2 }, inputs: vec![InputId::W, InputId::G], unary: paper_unary_ops(), binary: BinOp::ALL.to_vec(), rps: true },
        population: 8,
        iterations: 0,
        crossover: 0.5,
        mutation: 0.5,
        parent_pool: 0.3,
        seed: 3,
        random_search: false,
        objective: Objective { parsimony: lambda, ..Objective::default() },
    };
    let mut set = SearchSet::new(&data, (0..6).map(|k| k.to_string()).collect(), truth.clone());
    let (s, _) = Search::start(config, &mut set).unwrap();
    let members = s.state.population.clone();
    drop(s);
    for m in &members {
        let p = lpzero::lang::Proxy::parse(&m.text).unwrap();
        let size = lpzero::lang::parse_expr(&m.text).unwrap().size() as f64;
        let rho = set.spearman(&p.typed)[0].unwrap();
        assert!((m.fitness.rho().unwrap() - (rho - lambda * size)).abs() < 1e-12, "{}: {:?} vs {rho} − {lambda} × {size}", m.text, m.fitness);
    }
}

#[test]
fn several_benchmarks_are_searched_at_once_with_the_worst_or_the_mean_fitness() {
    use lpzero::search::fitness::{Combine, Objective};
    // Two benchmarks of five: W ranks the first perfectly and the second backwards but one pair.
    let w = [1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 4.0, 3.0, 1.0, 2.0];
    let data: Vec<ProxyInputs> = w.iter().map(|&v| inputs(v as f32, 1.0)).collect();
    let truth: Vec<f64> = [1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0].to_vec();
    let ids: Vec<String> = (0..10).map(|k| k.to_string()).collect();
    let proxy = lpzero::lang::Proxy::parse("sum(abs(W))").unwrap();
    let (r1, r2) = (rho_untied(&w[..5], &truth[..5]), rho_untied(&w[5..], &truth[5..]));
    assert_eq!(r1, 1.0);
    for (combine, want) in [(Combine::Worst, r1.min(r2)), (Combine::Mean, (r1 + r2) / 2.0)] {
        let objective = Objective { combine, ..Objective::default() };
        let mut set = SearchSet::new(&data, ids.clone(), truth.clone()).with_groups(&[5, 5]).with_objective(objective, 0);
        assert_eq!(set.benchmarks(), 2);
        let Fitness::Rho(f) = set.fitness(&proxy.typed) else { panic!("valid") };
        assert!((f - want).abs() < 1e-12, "{combine:?}: {f} vs {want}");
        let by_bench = set.spearman(&proxy.typed);
        assert!((by_bench[0].unwrap() - r1).abs() < 1e-12 && (by_bench[1].unwrap() - r2).abs() < 1e-12);
    }
    // A proxy constant on one benchmark is invalid.
    let data: Vec<ProxyInputs> = [1.0, 2.0, 3.0, 4.0, 4.0, 4.0].iter().map(|&v| inputs(v as f32, 1.0)).collect();
    let mut set = SearchSet::new(&data, (0..6).map(|k| k.to_string()).collect(), vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]).with_groups(&[3, 3]);
    assert!(matches!(set.fitness(&proxy.typed), Fitness::Invalid(r) if r.contains("benchmark 2")));

    // End to end: two benchmark files, the held-out table of each.
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("evolve_several");
    let _ = std::fs::remove_dir_all(&tmp);
    let a = write_bench(&tmp.join("a"));
    let b = write_bench(&tmp.join("b"));
    let out_dir = tmp.join("run");
    let out = lpzero(&[
        "evolve", "--bench", a.to_str().unwrap(), "--bench", b.to_str().unwrap(), "--out", out_dir.to_str().unwrap(), "--search-archs", "6",
        "--population", "8", "--iterations", "10", "--batch", "2", "--seq-len", "16", "--seed", "3", "--read", "A,H,W,G", "--combine", "mean",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("also searched on") && stdout.contains("the mean over 2 benchmarks of Spearman ρ"), "{stdout}");
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["also"].as_array().unwrap().len(), 1);
    assert_eq!(summary["also"][0]["search_archs"], 6);
    assert_eq!(summary["also"][0]["heldout_report"]["architectures"], 4);
    // The same data twice: the same held-out numbers on both, and the fitness is their ρ.
    assert_eq!(summary["also"][0]["heldout"][0]["spearman"], summary["heldout"][0]["spearman"]);
    assert_eq!(summary["best"]["search_fitness"], summary["best"]["search_spearman"]);
    assert!(std::fs::read_to_string(out_dir.join("best.proxy")).unwrap().contains("# also searched on: "));
    // The checkpoint keeps both benchmarks: a resume reopens them.
    let more = lpzero(&["evolve", "--resume", out_dir.to_str().unwrap(), "--iterations", "12"]);
    assert!(more.status.success(), "{}", String::from_utf8_lossy(&more.stderr));
    assert!(String::from_utf8_lossy(&more.stdout).contains("also searched on"));
    // Other commands take one benchmark.
    let rank = lpzero(&["rank", "--bench", a.to_str().unwrap(), "--bench", b.to_str().unwrap(), "-e", "sum(W)"]);
    assert_eq!(rank.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&rank.stderr).contains("only `evolve`"));
}
