//! `bench build`: the optimiser against a hand computation, the written benchmark against the
//! loaders and the models' own counts, resume, determinism, and the built benchmark used by
//! `rank` and `evolve`.

use lpzero::bench::Benchmark;
use lpzero::models::params::{Init, ParamSpec, ParamStore};
use lpzero::models::Fidelity;
use lpzero::train::optim::{AdamW, OptimConfig};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lpzero(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lpzero"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env("LPZERO_CACHE", Path::new(env!("CARGO_TARGET_TMPDIR")).join("train-cache"))
        .output()
        .expect("the binary runs")
}

fn fresh(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "failed: {stderr}\n{}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A tiny build: `archs` architectures of the tiny space, 4 steps each.
fn build(dir: &Path, archs: usize, extra: &[&str]) -> Output {
    let archs = archs.to_string();
    let mut args = vec!["bench", "build", "--space", "tiny", "--archs", &archs, "--steps", "4", "--batch", "2", "--seq-len", "16", "--valid-sequences", "4", "--out", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    lpzero(&args)
}

fn ppl(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("ppl_summary.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

#[test]
fn adamw_first_step_matches_the_hand_computation() {
    // loss = Σ c ⊙ w, so the gradient is c; Adam's first step moves each weight by lr·c/(|c|+ε),
    // and decoupled decay subtracts lr·λ·w (matrices only).
    let device = burn::tensor::Device::flex().autodiff();
    let specs = [ParamSpec::new("w", &[2, 2], Init::Normal(1.0), "x"), ParamSpec::new("b", &[2], Init::Normal(1.0), "x")];
    let mut store = ParamStore::build(&specs, 3, &device);
    let (w0, b0) = (store.values("w"), store.values("b"));
    let c = [0.5f32, -2.0, 3.0, -0.25];
    let cw = burn::tensor::Tensor::<2>::from_data(burn::tensor::TensorData::new(c.to_vec(), [2, 2]), &device);
    let cb = burn::tensor::Tensor::<1>::from_data(burn::tensor::TensorData::new(vec![1.0f32, -1.0], [2]), &device);
    let loss = (store.matrix("w") * cw).sum() + (store.vector("b") * cb).sum();
    let grads = loss.backward();
    let cfg = OptimConfig { clip_norm: 0.0, weight_decay: 0.1, ..OptimConfig::default() };
    let (lr, eps, wd) = (0.01, cfg.eps, cfg.weight_decay);
    let norm = AdamW::new(cfg).step(&mut store, &grads, lr);
    let expected_norm = (c.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() + 2.0).sqrt();
    assert!((norm - expected_norm).abs() < 1e-5, "{norm} vs {expected_norm}");
    for (i, (&w, &g)) in w0.iter().zip(&c).enumerate() {
        let (w, g) = (w as f64, g as f64);
        let want = w - lr * g / (g.abs() + eps) - lr * wd * w;
        assert!((store.values("w")[i] as f64 - want).abs() < 1e-6, "w[{i}]");
    }
    for (i, (&b, g)) in b0.iter().zip([1.0f64, -1.0]).enumerate() {
        let want = b as f64 - lr * g / (g.abs() + eps);
        assert!((store.values("b")[i] as f64 - want).abs() < 1e-6, "b[{i}] is not decayed");
    }
}

#[test]
fn a_built_benchmark_loads_and_its_counts_are_the_models() {
    let dir = fresh("train-build");
    let out = build(&dir, 3, &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["archs"], 3);
    assert_eq!(v["trained_now"], 3);
    let bench = Benchmark::load(&dir, None).unwrap();
    assert_eq!(bench.family.name(), "gpt2");
    assert_eq!(bench.ids(), vec!["config_0_j0", "config_1_j0", "config_2_j0"]);
    let summary = ppl(&dir);
    for (k, a) in bench.archs.iter().enumerate() {
        let key = a.id();
        // Ground truth is exp(validation loss), as written in result.yaml.
        let loss = summary[&key]["valid_loss"].as_f64().unwrap();
        let valid_ppl = bench.truth[k].unwrap();
        assert!((valid_ppl - loss.exp()).abs() < 1e-9 * valid_ppl);
        assert!(valid_ppl > 1.0 && valid_ppl.is_finite());
        // params_summary.yaml is what the model declares.
        let counts = a.counts(Fidelity::Trained).unwrap();
        let total = counts.iter().find(|f| f.0 == "total").unwrap().1;
        let published = bench.published_counts[k].as_ref().unwrap();
        assert_eq!(published.iter().find(|f| f.0 == "total").unwrap().1, total);
        // The training curve has one row per step, and the first loss is near ln(vocab) or above.
        let csv = std::fs::read_to_string(dir.join(format!("config_{}/j0/train.csv", &key[7..key.len() - 3]))).unwrap();
        assert_eq!(csv.lines().count(), 1 + 4);
    }
    // The built benchmark ranks with its own corpus and minibatch by default.
    let out = lpzero(&["rank", "--bench", dir.to_str().unwrap(), "-e", "sum(abs(W))", "--format", "json", "--no-cache"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["architectures"], 3);
}

#[test]
fn resume_trains_only_what_is_missing_and_results_do_not_depend_on_jobs() {
    let dir = fresh("train-resume");
    ok(&build(&dir, 2, &[]));
    let first = std::fs::read_to_string(dir.join("config_0/j0/result.yaml")).unwrap();
    // Extending the build trains one more; removing a finished one (as an interrupted run leaves
    // it: a stale temporary folder and no result) retrains exactly that one.
    std::fs::remove_dir_all(dir.join("config_1")).unwrap();
    std::fs::create_dir_all(dir.join("config_1/.j0.tmp")).unwrap();
    let out = build(&dir, 3, &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["trained_now"], 2, "config_1 and config_2 only");
    assert_eq!(std::fs::read_to_string(dir.join("config_0/j0/result.yaml")).unwrap(), first, "config_0 was not retrained");
    assert!(!dir.join("config_1/.j0.tmp").exists());
    // A run with 2 jobs gives the same numbers.
    let par = fresh("train-resume-par");
    ok(&build(&par, 3, &["--jobs", "2"]));
    for key in ["config_0_j0", "config_1_j0", "config_2_j0"] {
        assert_eq!(ppl(&dir)[key]["valid_loss"], ppl(&par)[key]["valid_loss"], "{key}");
    }
    // Other settings in the same directory are refused.
    let out = lpzero(&["bench", "build", "--space", "tiny", "--archs", "3", "--steps", "5", "--batch", "2", "--seq-len", "16", "--valid-sequences", "4", "--out", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("other settings (steps 4 vs 5)"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn from_bench_records_the_published_perplexity_and_correlates() {
    // A built benchmark is a GPT-2 layout, so it can be the source of another build: the second
    // build's "published" perplexity is the first's.
    let src = fresh("train-src");
    ok(&build(&src, 4, &[]));
    let dir = fresh("train-from");
    let out = lpzero(&[
        "bench", "build", "--from-bench", src.to_str().unwrap(), "--archs", "4", "--steps", "4", "--batch", "2", "--seq-len", "16",
        "--valid-sequences", "4", "--out", dir.to_str().unwrap(), "--format", "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["published"]["n"], 4);
    let results = v["results"].as_array().unwrap();
    let src_ppl = ppl(&src);
    for r in results {
        let key = r["key"].as_str().unwrap();
        assert_eq!(r["published_ppl"].as_f64().unwrap(), src_ppl[key]["valid_ppl"].as_f64().unwrap());
        // Same recipe, same seed, same architecture: the same perplexity.
        assert_eq!(r["valid_ppl"].as_f64().unwrap(), src_ppl[key]["valid_ppl"].as_f64().unwrap());
    }
    assert_eq!(v["published"]["spearman"].as_f64().unwrap(), 1.0);
}

#[test]
fn flexibert_builds_are_json_benchmarks_with_mlm_perplexity() {
    let dir = fresh("train-flexi");
    let d = dir.to_str().unwrap();
    let common = ["--steps", "3", "--batch", "2", "--seq-len", "16", "--valid-sequences", "4", "--format", "json", "--out"];
    let mut args = vec!["bench", "build", "--space", "flexibert", "--archs", "2"];
    args.extend_from_slice(&common);
    args.push(d);
    let v: serde_json::Value = serde_json::from_str(&ok(&lpzero(&args))).unwrap();
    assert_eq!(v["family"], "flexibert");
    let built = Benchmark::load(&dir, None).unwrap();
    assert_eq!((built.family.name(), built.truth_name), ("flexibert", "mlm_ppl"));
    assert_eq!(built.ids(), vec!["0", "1"]);
    for (k, r) in v["results"].as_array().unwrap().iter().enumerate() {
        let ppl = r["valid_ppl"].as_f64().unwrap();
        assert_eq!(built.truth[k], Some(ppl));
        assert!((ppl - r["valid_loss"].as_f64().unwrap().exp()).abs() < 1e-9 * ppl);
        // MLM over BERT's 30522 ids, three steps in: far from trained, but a number.
        assert!(ppl > 1.0 && ppl.is_finite());
        assert_eq!(built.quality(k), Some(-ppl));
    }
    // From a published-format FlexiBERT file: the published GLUE is kept beside the result.
    let from = fresh("train-flexi-from");
    let f = from.to_str().unwrap();
    let mut args = vec!["bench", "build", "--from-bench", "tests/fixtures/bench/flexibert.json", "--archs", "2"];
    args.extend_from_slice(&common);
    args.push(f);
    let v: serde_json::Value = serde_json::from_str(&ok(&lpzero(&args))).unwrap();
    let fixture = Benchmark::load(Path::new("tests/fixtures/bench/flexibert.json"), None).unwrap();
    for r in v["results"].as_array().unwrap() {
        let id = r["key"].as_str().unwrap().trim_start_matches("arch_");
        let glue = fixture.truth[fixture.position(id).unwrap()].unwrap();
        assert_eq!(r["published_ppl"].as_f64().unwrap(), glue);
    }
    // Two architectures are too few for a correlation: none is claimed.
    assert!(v["published"].is_null());
}

#[test]
fn bad_requests_are_refused_clearly() {
    let dir = fresh("train-bad");
    let d = dir.to_str().unwrap();
    let cases: [(&[&str], &str); 7] = [
        (&["bench", "build", "--family", "flexibert", "--space", "tiny", "--out", d], "--family flexibert does not match the space given, which is gpt2"),
        (&["bench", "build", "--space", "nope.yaml", "--out", d], "cannot read space file nope.yaml: No such file"),
        // A LoNAS space is sub-networks of a pretrained model: the message says what builds it.
        (&["bench", "build", "--space", "lonas-smollm2-135m", "--out", d], "lpzero subnet bench --model PATH --space lonas-smollm2-135m"),
        (&["bench", "build", "--space", "spaces/lonas-llama-7b.yaml", "--out", d], "a space of sub-networks of a pretrained model"),
        (&["bench", "build", "--space", "tiny", "--corpus", "README.md", "--out", d], "vocabulary of 472"),
        (&["bench", "build", "--space", "tiny", "--seq-len", "100", "--out", d], "exceeds"),
        (&["evolve", "--bench", "builtin:huge", "--out", d], "unknown built-in benchmark `builtin:huge`"),
    ];
    for (args, needle) in cases {
        let out = lpzero(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(stderr.matches("(os error").count() <= 1, "{args:?}: the reason once: {stderr}");
    }
}

#[test]
fn the_builtin_grammar_gathers_for_tiny_models_and_bpe_text_is_refused() {
    use lpzero::gather::{gather, text::Corpus, GatherOptions};
    let space = lpzero::train::space::SpaceSpec::load("tiny").unwrap();
    let arch = space.sample(1, 0).unwrap().remove(0);
    let opts = GatherOptions { batch: 2, seq_len: 16, seed: 0, fidelity: Fidelity::Trained, device: lpzero::device::DeviceKind::Flex, variant: Default::default() };
    let device = burn::tensor::Device::flex();
    let g = gather(&*arch, &Corpus::grammar(3, 2000), &opts, &device, &lpzero::gather::all_inputs()).unwrap();
    assert!(g.loss.is_some_and(f64::is_finite));
    // GPT-2 BPE ids do not fit a 472-word vocabulary: an error, not a panic.
    let err = gather(&*arch, &Corpus::builtin(), &opts, &device, &lpzero::gather::all_inputs()).err().unwrap().to_string();
    assert!(err.contains("outside the model's vocabulary of 472"), "{err}");
}

/// `bench build` for Transformer-XL from a space file: the benchmark it writes loads as a
/// Transformer-XL benchmark whose published counts are the models' declarations, and `params`,
/// `rank` and `evolve` run on it.
#[test]
fn a_transformer_xl_space_builds_a_benchmark_that_ranks_and_evolves() {
    let dir = fresh("train-transxl");
    std::fs::create_dir_all(&dir).unwrap();
    let space = dir.join("space.yaml");
    std::fs::write(
        &space,
        "name: transxl-test\nfamily: transxl\nn_layer: [1, 2]\nd_model: [16, 32]\nd_embed: [16, 24]\ndiv_val: [1, 2]\n\
         n_head: [2, 4]\nd_inner: {min: 16, max: 48}\nn_token: 600\ncutoffs: [100, 200, 400, 600]\n\
         tie_projs: [false, true, true, true]\ntgt_len: 16\nmem_len: 16\ninit_std: 0.02\nproj_init_std: 0.01\n",
    )
    .unwrap();
    let bench = dir.join("bench");
    let b = bench.to_str().unwrap();
    ok(&lpzero(&["bench", "build", "--space", space.to_str().unwrap(), "--archs", "6", "--steps", "4", "--batch", "2", "--seq-len", "16", "--valid-sequences", "4", "--out", b]));
    let loaded = Benchmark::load(&bench, None).unwrap();
    assert_eq!(loaded.family.name(), "transxl");
    assert_eq!(loaded.archs.len(), 6);
    for (k, a) in loaded.archs.iter().enumerate() {
        let declared = a.counts(Fidelity::Trained).unwrap();
        for (field, n) in loaded.published_counts[k].as_ref().unwrap() {
            assert_eq!(declared.iter().find(|f| f.0 == *field).unwrap().1, *n, "{} {field}", a.id());
        }
        assert!(loaded.truth[k].unwrap() > 1.0);
    }
    let params = lpzero(&["params", "--bench", b]);
    let said = format!("{}{}", ok(&params), String::from_utf8_lossy(&params.stderr));
    assert!(said.contains("6 architectures, 30 fields compared, all equal"), "{said}");
    let v: serde_json::Value = serde_json::from_str(&ok(&lpzero(&["rank", "--bench", b, "-e", "sum(abs(W))", "-e", "avg(mean(H))", "--format", "json", "--no-cache"]))).unwrap();
    assert_eq!(v["architectures"], 6);
    assert_eq!(v["proxies"][1]["valid"], 6);
    let run = dir.join("evolve");
    ok(&lpzero(&["evolve", "--bench", b, "--search-archs", "3", "--iterations", "20", "--population", "10", "--no-cache", "--out", run.to_str().unwrap()]));
    assert!(std::fs::read_to_string(run.join("best.proxy")).unwrap().contains("(transxl)"));
}

/// `bench build --shard`: two shards train into one folder; until both are done `merge` names
/// what is missing; then it writes the benchmark files one unsharded build writes.
#[test]
fn sharded_builds_merge_into_the_unsharded_benchmark() {
    let one = fresh("train-shard-one");
    ok(&build(&one, 5, &[]));
    let dir = fresh("train-shard-two");
    let d = dir.to_str().unwrap();
    ok(&build(&dir, 5, &["--shard", "1/2"]));
    let out = lpzero(&["merge", d]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("architectures are not finished"), "{}", String::from_utf8_lossy(&out.stderr));
    ok(&build(&dir, 5, &["--shard", "0/2"]));
    ok(&lpzero(&["merge", d]));
    // Equal but for the training times.
    let untimed = |p: PathBuf| std::fs::read_to_string(p).unwrap().lines().filter(|l| !l.contains("train_seconds")).collect::<Vec<_>>().join("\n");
    for f in ["ppl_summary.yaml", "params_summary.yaml"] {
        assert_eq!(untimed(dir.join(f)), untimed(one.join(f)), "{f}");
    }
}
