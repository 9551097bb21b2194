//! The command line as users and scripts see it: exit codes, JSON diagnostics, `fmt`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lpzero(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lpzero"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env("LPZERO_CACHE", Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cache"))
        .output()
        .expect("the binary runs")
}

fn fixture(name: &str) -> String {
    format!("tests/fixtures/{name}")
}

/// (code, line, column) of every diagnostic `lint --format json` reports.
fn json_codes(out: &Output) -> Vec<(String, u64, u64)> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["code"].as_str().unwrap().to_owned(), d["line"].as_u64().unwrap(), d["column"].as_u64().unwrap()))
        .collect()
}

fn stdlib_files() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| format!("stdlib/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    files.sort();
    files
}

#[test]
fn stdlib_lints_clean_and_the_paper_flexibert_proxy_has_a_dead_branch() {
    let files = stdlib_files();
    let args: Vec<&str> = ["lint", "--format", "json"].into_iter().chain(files.iter().map(String::as_str)).collect();
    let out = lpzero(&args);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["errors"], 0);
    let dead: Vec<_> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "L104")
        .map(|d| d["file"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(dead, vec!["stdlib/lpzero_flexibert.proxy".to_owned()]);
}

#[test]
fn json_codes_lines_and_columns() {
    let out = lpzero(&["lint", "--format", "json", &fixture("syntax_error.proxy")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_codes(&out), vec![("E001".into(), 2, 22)]);

    let out = lpzero(&["lint", "--format", "json", &fixture("type_error.proxy")]);
    assert_eq!(out.status.code(), Some(1));
    // The operator `*` of `mixed = sum(fro(A) * fro(W))`.
    assert_eq!(json_codes(&out), vec![("E105".into(), 3, 20)]);

    let out = lpzero(&["lint", "--format", "json", &fixture("rps_violation.proxy")]);
    assert_eq!(out.status.code(), Some(0), "warnings only");
    assert_eq!(json_codes(&out), vec![("L101".into(), 3, 16)]);

    let out = lpzero(&["lint", "--format", "json", "--deny-warnings", &fixture("rps_violation.proxy")]);
    assert_eq!(out.status.code(), Some(1));

    // All three at once: one JSON document with every diagnostic.
    let out = lpzero(&[
        "lint",
        "--format",
        "json",
        &fixture("syntax_error.proxy"),
        &fixture("type_error.proxy"),
        &fixture("rps_violation.proxy"),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["errors"], 2);
    assert_eq!(v["summary"]["warnings"], 1);
    assert_eq!(v["diagnostics"][1]["file"], fixture("type_error.proxy"));
    assert_eq!(v["diagnostics"][1]["severity"], "error");
}

#[test]
fn expressions_on_the_command_line() {
    let out = lpzero(&["lint", "-e", "sum(abs(G * W))"]);
    assert_eq!(out.status.code(), Some(0));
    let out = lpzero(&["lint", "--format", "json", "-e", "sum(fro(A) + fro(W))"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_codes(&out), vec![("E105".into(), 1, 12)]);
}

#[test]
fn usage_and_io_errors_exit_2() {
    assert_eq!(lpzero(&["lint", "no/such/file.proxy"]).status.code(), Some(2));
    assert_eq!(lpzero(&["lint", "--format", "xml", "stdlib/snip.proxy"]).status.code(), Some(2));
    assert_eq!(lpzero(&["lint"]).status.code(), Some(2));
    assert_eq!(lpzero(&["frobnicate"]).status.code(), Some(2));
    let out = lpzero(&["lint", "--format", "json", "no/such/file.proxy"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["io_errors"][0]["file"], "no/such/file.proxy");
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lpzero-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn fmt_rewrites_into_canonical_form_and_check_reports_it() {
    let messy = "# GradNorm\n\n\ngrad_norm=sum( fro(G) )   # per layer\nsnip = sum((abs(G*W)))\n";
    let path = temp_file("messy.proxy", messy);
    let p = path.to_str().unwrap();
    let out = lpzero(&["fmt", "--check", p]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("would reformat"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), messy, "--check writes nothing");
    assert_eq!(lpzero(&["fmt", p]).status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "# GradNorm\n\ngrad_norm = sum(fro(G))  # per layer\nsnip = sum(abs(G * W))\n"
    );
    assert_eq!(lpzero(&["fmt", "--check", p]).status.code(), Some(0));

    let broken = temp_file("broken.proxy", "x = sum(");
    assert_eq!(lpzero(&["fmt", broken.to_str().unwrap()]).status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), "x = sum(", "a file that does not parse is left alone");
}

#[test]
fn stdlib_is_in_canonical_form() {
    let files = stdlib_files();
    let args: Vec<&str> = ["fmt", "--check"].into_iter().chain(files.iter().map(String::as_str)).collect();
    assert_eq!(lpzero(&args).status.code(), Some(0));
}

/// The user guide shows three diagnostics exactly as the tool prints them; keep them true.
#[test]
fn readme_diagnostics_are_what_the_tool_prints() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/GUIDE.md")).unwrap();
    for f in ["syntax_error.proxy", "type_error.proxy", "rps_violation.proxy"] {
        let out = lpzero(&["lint", "--color", "never", &fixture(f)]);
        let stderr = String::from_utf8(out.stderr).unwrap();
        let report: String = stderr.lines().filter(|l| !l.starts_with("checked ")).map(|l| format!("{}\n", l.trim_end())).collect();
        let readme_norm: String = readme.lines().map(|l| format!("{}\n", l.trim_end())).collect();
        assert!(readme_norm.contains(&report), "the user guide lacks the current output for {f}:\n{report}");
    }
}

/// The user guide's input and op tables are generated by `lpzero ops --format markdown`.
#[test]
fn readme_op_table_is_generated_from_the_code() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/GUIDE.md")).unwrap();
    let out = lpzero(&["ops", "--format", "markdown"]);
    let tables = String::from_utf8(out.stdout).unwrap();
    assert!(readme.contains(tables.trim()), "the user guide's op table is stale: regenerate it with `lpzero ops --format markdown`");
}

// ---------------------------------------------------------------------------------------------
// params and score on small benchmark fixtures (tests/fixtures/bench), with expected counts
// from the formulas of the reference notes, written out here.

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
}

/// FLEXIBERT_TRAINED.md §7 for the fixture's two architectures.
fn flexibert_fixture_counts() -> [(u64, u64); 2] {
    let dense = |i: u64, o: u64| i * o + o;
    let layer = |h: u64, n: u64, f: u64| {
        let ffn = if n == 1 { 8 * h * h + 7 * h } else { dense(h, 4 * h) + dense(4 * h, f) + (n - 2) * dense(f, f) + dense(f, h) + 2 * h };
        4 * h * h + 6 * h + ffn
    };
    let emb = 3_972_864;
    let l0 = layer(128, 3, 512) + layer(128, 1, 1024);
    let l1 = layer(256, 1, 1024) + layer(256, 1, 512);
    [(emb + l0, l0), (emb + 128 * 256 + 256 + l1, l1)]
}

#[test]
fn params_counts_the_fixture_architectures() {
    let out = lpzero(&["params", "--bench", "tests/fixtures/bench/flexibert.json", "--format", "csv"]);
    assert!(out.status.success());
    let want = flexibert_fixture_counts();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "id,total,nonembedding");
    assert_eq!(lines[1], format!("0,{},{}", want[0].0, want[0].1));
    assert_eq!(lines[2], format!("1,{},{}", want[1].0, want[1].1));

    // ARCHITECTURES.md (b) B.6, div_val 4: clusters 19997 / 20000 / 10267 of widths 16 / 4 / 1.
    let v = json(&lpzero(&["params", "--bench", "tests/fixtures/bench/gpt2", "--format", "json"]));
    for (k, (dm, inner)) in [(16u64, [32u64, 24]), (32, [40, 40])].into_iter().enumerate() {
        let ada = 19997 * 16 + dm * 16 + 20000 * 4 + dm * 4 + 10267 + dm + 32 * dm;
        let attn = 2 * (4 * dm * dm + 4 * dm);
        let ffn: u64 = inner.iter().map(|&d| 2 * dm * d + d + dm).sum();
        let nonemb = attn + ffn + 5 * 2 * dm;
        let total = ada + nonemb + (2 * 16 + 2) + 50264 + dm * 16;
        let a = &v["architectures"][k];
        assert_eq!(a["id"], format!("config_0_j{k}"));
        assert_eq!([&a["AdaEmb"], &a["Attn"], &a["FFN"], &a["nonembedding"], &a["total"]], [ada, attn, ffn, nonemb, total].map(serde_json::Value::from).each_ref());
    }
}

/// ARCHITECTURES.md §A.2: the reference's networks are 256 wide with 1024-wide FFNs whatever
/// the benchmark says; per layer, mixer + FFN stack (nff 1: 526,080; each further dense
/// 1,049,600), plus 4,005,888 for the embeddings and their projection.
#[test]
fn params_and_score_build_the_reference_networks() {
    let ffn = |n: u64| 526_080 + (n - 1) * 1_049_600;
    // 0: LT-DFT h2 nff3, DSC-5 h4 nff1; 1: SA-SDP h4 nff1, SA-WMA h2 nff1.
    let l0 = 65_792 + ffn(3) + 233_354 + ffn(1);
    let l1 = 263_680 + ffn(1) + 329_216 + ffn(1);
    let out = lpzero(&["params", "--bench", "tests/fixtures/bench/flexibert.json", "--format", "csv", "--fidelity", "reference"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text, format!("id,total,nonembedding\n0,{},{l0}\n1,{},{l1}\n", 4_005_888 + l0, 4_005_888 + l1));
    let v = json(&lpzero(&[
        "score", "--bench", "tests/fixtures/bench/flexibert.json", "--arch", "0", "--batch", "2", "--seq-len", "16",
        "--format", "json", "--fidelity", "reference", "-e", "sum(numel(P))", "-e", "sum(mean(S))",
    ]));
    assert_eq!(v["params"], 4_005_888 + l0);
    assert_eq!(v["proxies"][0]["score"].as_f64(), Some((4_005_888 + l0) as f64));
    // S: the LT softmax over 128 values per head, then DSC's attention over 16 keys.
    let s = v["proxies"][1]["score"].as_f64().unwrap();
    assert!((s - (1.0 / 128.0 + 1.0 / 16.0)).abs() < 1e-6, "{s}");
}

#[test]
fn score_reports_a_score_per_proxy_and_the_model_size() {
    let v = json(&lpzero(&[
        "score", "--bench", "tests/fixtures/bench/flexibert.json", "--arch", "1", "--batch", "2", "--seq-len", "32",
        "--format", "json", "-e", "sum(numel(P))", "--proxy", "stdlib/grad_norm.proxy", "-e", "sum(log(-abs(W)))",
    ]));
    let total = flexibert_fixture_counts()[1].0;
    assert_eq!(v["params"], total);
    // Proxy files come first, then expressions, each in command-line order.
    assert_eq!(v["proxies"][0]["proxy"], "grad_norm");
    assert!(v["proxies"][0]["score"].as_f64().unwrap() > 0.0);
    assert_eq!(v["proxies"][1]["score"].as_f64(), Some(total as f64), "sum(numel(P)) is the parameter count");
    // log of a value that is never positive: defined (ln ε per element), not an error.
    assert!(v["proxies"][2]["score"].as_f64().unwrap() < 0.0);
    let v = json(&lpzero(&["score", "--bench", "tests/fixtures/bench/gpt2", "--arch", "config_0_j1", "--batch", "2", "--seq-len", "16", "--format", "json", "-e", "sum(exp(100000 * W))"]));
    assert!(v["proxies"][0]["invalid"].as_str().unwrap().contains("not finite"), "{v}");
}

#[test]
fn model_commands_fail_clearly() {
    let out = lpzero(&["params", "--bench", "tests/fixtures/bench/missing.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));
    let out = lpzero(&["score", "--bench", "tests/fixtures/bench/flexibert.json", "--arch", "7", "-e", "sum(fro(G))"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no architecture `7`"));
    let out = lpzero(&["score", "--bench", "tests/fixtures/bench/flexibert.json", "--arch", "0", "-e", "sum(fro(A) * fro(W))"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("E105"));
    let out = lpzero(&["params", "--bench", "tests/fixtures/syntax_error.proxy"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a benchmark"));
}

#[test]
fn rank_correlates_proxies_and_prints_baselines() {
    let out_dir = std::env::temp_dir().join(format!("lpzero-rank-{}", std::process::id()));
    let v = json(&lpzero(&[
        "rank", "--bench", "tests/fixtures/bench/flexibert.json", "--batch", "2", "--seq-len", "16", "--format", "json",
        "-e", "sum(numel(P))", "-e", "-sum(numel(P))", "-e", "sum(log(exp(1e6 * W)))", "--out", out_dir.to_str().unwrap(),
    ]));
    assert_eq!(v["architectures"], 2);
    // Architecture 1 is bigger and scores higher on GLUE.
    assert_eq!(v["proxies"][0]["spearman"], 1.0);
    assert_eq!(v["proxies"][1]["spearman"], -1.0);
    // With two architectures, the top 50% is one: no correlation, one valid score.
    assert_eq!(v["proxies"][0]["top_percent"]["50"]["valid"], 1);
    assert!(v["proxies"][0]["top_percent"]["50"]["spearman"].is_null());
    // exp overflows: invalid on both, excluded and counted, no correlation.
    assert_eq!(v["proxies"][2]["valid"], 0);
    assert!(v["proxies"][2]["spearman"].is_null());
    let names: Vec<&str> = v["baselines"].as_array().unwrap().iter().map(|b| b["baseline"].as_str().unwrap()).collect();
    assert_eq!(names, ["params (total)", "params (non-embedding)", "layers", "layers, then hidden size"]);
    let csv = std::fs::read_to_string(out_dir.join("scores.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("id,truth,sum(numel(P))"));
    assert!(lines[2].starts_with(&format!("1,65,{}", flexibert_fixture_counts()[1].0)));
    // The scatter: the proxy beside the best architecture-only ordering, both on the two
    // architectures, coloured by depth; and its PNG.
    let svg = std::fs::read_to_string(out_dir.join("plots/sum_numel_P__.svg")).unwrap();
    assert_eq!(svg.matches("2 of 2 valid").count(), 2, "{svg}");
    assert!(svg.contains("ρ = 1.000") && svg.contains("layers, then hidden size") && svg.contains("colour: depth"));
    let png = std::fs::read(out_dir.join("plots/sum_numel_P__.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // summary.json is the document --format json printed.
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary, v);
}

/// With stderr a file (a log), long work still reports: a line per tenth of the work (or per 10 s)
/// with done/total, the time per unit and the time left.
#[test]
fn progress_goes_into_a_log_as_lines() {
    let out = lpzero(&["rank", "--bench", "tests/fixtures/bench/flexibert.json", "--batch", "2", "--seq-len", "16", "--no-cache", "-e", "sum(fro(G))"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("architectures ")).collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[1].starts_with("architectures 2/2 (100%)") && lines[1].contains("s each") && lines[1].contains("left"), "{}", lines[1]);
}

#[test]
fn a_second_rank_reads_the_gathered_inputs_from_the_cache() {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("rank-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let run = |expr: &str| {
        let out = lpzero(&[
            "rank", "--bench", "tests/fixtures/bench/flexibert.json", "--batch", "2", "--seq-len", "16", "--seed", "5", "--format", "json",
            "--cache", cache.to_str().unwrap(), "-e", expr,
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        json(&out)
    };
    let first = run("sum(fro(G))");
    assert_eq!(first["cached"], 0);
    // One key directory, with what it stands for and one file per architecture.
    let dirs: Vec<_> = std::fs::read_dir(&cache).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(dirs.len(), 1);
    let key = std::fs::read_to_string(dirs[0].join("key.json")).unwrap();
    assert!(key.contains("\"batch\": 2") && key.contains("\"seed\": 5"), "{key}");
    // One file per architecture, named by its id and a hash of its definition.
    let files = |prefix: &str| std::fs::read_dir(&dirs[0]).unwrap().map(|e| e.unwrap().path()).filter(|p| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        name.starts_with(prefix) && name.ends_with(".safetensors")
    }).collect::<Vec<_>>();
    assert_eq!((files("0-").len(), files("1-").len()), (1, 1));
    // A new proxy on the same architectures: read back, and the first proxy scores the same.
    let second = run("sum(fro(G))");
    assert_eq!(second["cached"], 2);
    assert_eq!(first["proxies"][0]["spearman"], second["proxies"][0]["spearman"]);
    let scores = |v: &serde_json::Value| v["proxies"][0]["spearman"].clone();
    assert_eq!(scores(&first), scores(&second));
    // A truncated file is ignored and the architecture gathered again (and rewritten).
    let file = files("1-").remove(0);
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let third = run("avg(sq(W))");
    assert_eq!(third["cached"], 1);
    // Rewritten with what this proxy reads (the weights alone), and read back next time.
    let (inputs, _) = lpzero::eval::file::read(&file, lpzero::eval::file::Check::Structure).unwrap();
    assert_eq!(inputs.present().collect::<Vec<_>>(), vec![lpzero::lang::table::InputId::W]);
    assert_eq!(run("avg(sq(W))")["cached"], 2);
    // The other file holds W and G from the first run, so a gradient proxy still reads it back.
    assert_eq!(run("sum(fro(G))")["cached"], 1);
    // Another seed is another key.
    let out = lpzero(&[
        "rank", "--bench", "tests/fixtures/bench/flexibert.json", "--batch", "2", "--seq-len", "16", "--seed", "6", "--format", "json",
        "--cache", cache.to_str().unwrap(), "-e", "sum(fro(G))",
    ]);
    assert_eq!(json(&out)["cached"], 0);
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 2);
}

#[test]
fn the_cache_budget_bounds_every_key_together_evicting_the_least_recently_used() {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("budget-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let run = |seed: &str, budget_bytes: u64| -> serde_json::Value {
        let budget = (budget_bytes as f64 / (1u64 << 30) as f64).to_string();
        let out = lpzero(&[
            "rank", "--bench", "tests/fixtures/bench/flexibert.json", "--batch", "2", "--seq-len", "16", "--seed", seed, "--format", "json",
            "--cache", cache.to_str().unwrap(), "--cache-budget", &budget, "-e", "sum(fro(G))",
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        json(&out)
    };
    // Input files (not key.json, and no temporary file left) per seed, and in all.
    let files = |seed: Option<&str>| -> Vec<u64> {
        let mut sizes = vec![];
        for dir in std::fs::read_dir(&cache).unwrap() {
            let dir = dir.unwrap().path();
            let key = std::fs::read_to_string(dir.join("key.json")).unwrap_or_default();
            if seed.is_some_and(|s| !key.contains(&format!("\"seed\": {s}"))) {
                continue;
            }
            for f in std::fs::read_dir(&dir).unwrap() {
                let f = f.unwrap();
                let name = f.file_name().to_string_lossy().into_owned();
                assert!(!name.contains(".tmp"), "a temporary file was left: {name}");
                if name != "key.json" {
                    sizes.push(f.metadata().unwrap().len());
                }
            }
        }
        sizes
    };
    run("5", 20 << 30);
    let first = files(Some("5"));
    assert_eq!(first.len(), 2, "both architectures written under the first key");
    // Room for about three files in all: the second key evicts the first key's least recently
    // used files to fit its own, and the whole cache stays within the budget.
    let budget = first.iter().sum::<u64>() + first.iter().min().unwrap() / 2 + 8192;
    run("6", budget);
    assert_eq!(files(Some("6")).len(), 2, "the second key is written");
    assert!(files(Some("5")).len() < 2, "the first key lost its least recently used file");
    assert!(files(None).iter().sum::<u64>() <= budget);
    // The evicted architecture is gathered again, and the budget still holds.
    let again = run("5", budget);
    assert!(again["cached"].as_u64().unwrap() < 2);
    assert!(files(None).iter().sum::<u64>() <= budget);
    // A budget below one file writes nothing new.
    let before = files(None).len();
    run("7", 1000);
    assert_eq!(files(Some("7")).len(), 0);
    assert!(files(None).len() <= before);
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn devices_not_compiled_in_are_clear_errors_and_compiled_ones_agree_with_flex() {
    let args = |device: &'static str| {
        vec![
            "score", "--bench", "tests/fixtures/bench/flexibert.json", "--arch", "1", "--batch", "2", "--seq-len", "16", "--format", "json",
            "--device", device, "-e", "sum(numel(P))", "-e", "sum(mean(abs(G)))", "-e", "avg(fro(A))", "-e", "sum(mean(S))",
        ]
    };
    let flex = json(&lpzero(&args("flex")));
    for (name, compiled, feature) in [("tch", cfg!(feature = "tch"), "tch"), ("tch-cuda", cfg!(feature = "tch"), "tch"), ("cuda", cfg!(feature = "cuda"), "cuda")] {
        let out = lpzero(&args(name));
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !compiled {
            assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
            assert!(stderr.contains("not compiled") && stderr.contains(&format!("--features {feature}")), "{name}: {stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
        } else if out.status.success() {
            let other = json(&out);
            for k in 0..4 {
                let (a, b) = (flex["proxies"][k]["score"].as_f64().unwrap(), other["proxies"][k]["score"].as_f64().unwrap());
                assert!((a - b).abs() <= 1e-3 * a.abs().max(1e-12), "{name}, proxy {k}: flex {a} vs {b}");
            }
        } else {
            // Compiled in but no hardware here (a GPU device on a CPU machine): an error, not a panic.
            assert_ne!(name, "tch", "libtorch on the CPU is always usable once compiled in: {stderr}");
            assert!(stderr.contains("not usable") && !stderr.contains("panicked"), "{name}: {stderr}");
        }
    }
}

/// `gather` writes a benchmark's inputs as files; ranking the folder gives the numbers ranking the
/// benchmark gives (same scores, correlations and baselines), `score --inputs` scores one file,
/// `evolve --inputs` searches on the folder, and broken folders are clear errors.
#[test]
fn gathered_input_files_rank_as_the_benchmark_does() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("inputs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let dir = tmp.join("gathered");
    let mini = ["--batch", "2", "--seq-len", "16", "--seed", "4", "--no-cache"];
    let mut args = vec!["gather", "--bench", "tests/fixtures/bench/flexibert.json", "--out", dir.to_str().unwrap()];
    args.extend_from_slice(&mini);
    let out = lpzero(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let truth = std::fs::read_to_string(dir.join("truth.csv")).unwrap();
    assert!(truth.starts_with("id,quality,params (total)"), "{truth}");
    assert!(dir.join("0.safetensors").exists() && dir.join("1.safetensors").exists());
    let proxies = ["-e", "sum(fro(G))", "-e", "avg(mean(H)) * avg(mean(A))", "-e", "avg(softmax(S))"];
    let mut a = vec!["rank", "--bench", "tests/fixtures/bench/flexibert.json", "--format", "json"];
    a.extend_from_slice(&mini);
    a.extend_from_slice(&proxies);
    let from_bench = json(&lpzero(&a));
    let mut b = vec!["rank", "--inputs", dir.to_str().unwrap(), "--format", "json"];
    b.extend_from_slice(&proxies);
    let from_files = json(&lpzero(&b));
    for k in 0..3 {
        assert_eq!(from_bench["proxies"][k]["scores"], from_files["proxies"][k]["scores"], "proxy {k}");
        assert_eq!(from_bench["proxies"][k]["spearman"], from_files["proxies"][k]["spearman"]);
    }
    let bscores = |v: &serde_json::Value| v["baselines"].as_array().unwrap().iter().map(|b| (b["baseline"].clone(), b["scores"].clone())).collect::<Vec<_>>();
    assert_eq!(bscores(&from_bench), bscores(&from_files));
    // One file.
    let out = lpzero(&["score", "--inputs", dir.join("1.safetensors").to_str().unwrap(), "-e", "sum(fro(G))", "--format", "json"]);
    let v = json(&out);
    assert_eq!(v["arch"], "1");
    assert_eq!(v["proxies"][0]["score"], from_bench["proxies"][0]["scores"][1]);
    // A rerun keeps the files.
    let out = lpzero(&args);
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 written now"), "{}", String::from_utf8_lossy(&out.stderr));
    // Broken folders: a truncated file, a table naming a missing architecture.
    let broken = tmp.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    let bytes = std::fs::read(dir.join("0.safetensors")).unwrap();
    std::fs::write(broken.join("0.safetensors"), &bytes[..bytes.len() / 3]).unwrap();
    std::fs::copy(dir.join("1.safetensors"), broken.join("1.safetensors")).unwrap();
    std::fs::write(broken.join("truth.csv"), "id,quality\n0,1.0\n1,2.0\n").unwrap();
    let out = lpzero(&["rank", "--inputs", broken.to_str().unwrap(), "-e", "sum(fro(G))"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a safetensors file or truncated"), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(broken.join("truth.csv"), "id,quality\n1,2.0\n7,3.0\n").unwrap();
    std::fs::remove_file(broken.join("0.safetensors")).unwrap();
    let out = lpzero(&["rank", "--inputs", broken.to_str().unwrap(), "-e", "sum(fro(G))"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("have no inputs file: 7"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `gather --shard`: shards fill one folder; `merge` names the files still missing, and the
/// complete folder ranks as an unsharded gather does.
#[test]
fn sharded_gathers_fill_one_folder() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("gather-shards-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let (dir, whole) = (tmp.join("sharded"), tmp.join("whole"));
    let args = |out: &Path, shard: Option<&str>| {
        let mut a = vec!["gather".to_owned(), "--bench".into(), "builtin:micro".into(), "--no-cache".into(), "--keep".into(), "W,G".into(), "--out".into(), out.display().to_string()];
        if let Some(s) = shard {
            a.extend(["--shard".to_owned(), s.to_owned()]);
        }
        a
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = lpzero(&refs);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run(args(&dir, Some("0/3")));
    let out = lpzero(&["merge", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("have no inputs file yet"), "{}", String::from_utf8_lossy(&out.stderr));
    run(args(&dir, Some("1/3")));
    run(args(&dir, Some("2/3")));
    assert!(lpzero(&["merge", dir.to_str().unwrap()]).status.success());
    run(args(&whole, None));
    let rank = |d: &Path| json(&lpzero(&["rank", "--inputs", d.to_str().unwrap(), "-e", "sum(fro(G))", "-e", "sum(abs(W))", "--format", "json"]));
    let (a, b) = (rank(&dir), rank(&whole));
    assert_eq!(a["proxies"][0]["scores"], b["proxies"][0]["scores"]);
    assert_eq!(a["proxies"][1]["spearman"], b["proxies"][1]["spearman"]);
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn rank_over_minibatches_and_inits_ranks_the_mean_and_reports_the_noise() {
    let base = [
        "rank", "--bench", "tests/fixtures/bench/flexibert.json", "--batch", "2", "--seq-len", "16", "--seed", "5", "--format", "json", "--no-cache",
        "-e", "sum(fro(G))", "-e", "sum(mean(amax(H, 2)))",
    ];
    let one = json(&lpzero(&base));
    let mut args = base.to_vec();
    args.extend(["--minibatches", "2", "--inits", "2"]);
    let out = lpzero(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let four = json(&out);
    let variants: Vec<(u64, u64)> = four["variants"].as_array().unwrap().iter().map(|v| (v["minibatch"].as_u64().unwrap(), v["init"].as_u64().unwrap())).collect();
    assert_eq!(variants, [(0, 0), (0, 1), (1, 0), (1, 1)]);
    assert!(one.get("variants").is_none(), "one variant: no variants field");
    for p in 0..2 {
        let noise = &four["proxies"][p]["noise"];
        for a in 0..2 {
            let each: Vec<f64> = noise["scores"][a].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            // The first variant is the run without the flags, bit for bit.
            assert_eq!(each[0], one["proxies"][p]["scores"][a].as_f64().unwrap());
            // The score ranked is the mean of the four.
            let mean = each.iter().sum::<f64>() / 4.0;
            assert!((four["proxies"][p]["scores"][a].as_f64().unwrap() - mean).abs() <= 1e-12 * mean.abs());
            // Another initialisation and another minibatch each change the score.
            assert_ne!(each[0], each[1], "proxy {p} arch {a}: init 1");
            assert_ne!(each[0], each[2], "proxy {p} arch {a}: minibatch 1");
            // The spread is the sample standard deviation over |mean|.
            let sd = (each.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
            assert!((noise["spread"][a].as_f64().unwrap() - sd / mean.abs()).abs() < 1e-12);
        }
        assert_eq!(noise["rho_each"].as_array().unwrap().len(), 4);
        assert_eq!(noise["rho_mean_of_first"][3], four["proxies"][p]["spearman"]);
    }
    let text = lpzero(&args[..args.len()].iter().map(|a| if *a == "json" { "text" } else { a }).collect::<Vec<_>>());
    let printed = String::from_utf8_lossy(&text.stdout);
    assert!(printed.contains("noise over 2 minibatches × 2 initialisations"), "{printed}");
    // A folder of inputs files holds one gather per architecture: a clear error.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("variants-inputs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().unwrap();
    assert!(lpzero(&["gather", "--bench", "tests/fixtures/bench/flexibert.json", "--batch", "2", "--seq-len", "16", "--out", d, "--no-cache"]).status.success());
    let err = lpzero(&["rank", "--inputs", d, "--truth", &format!("{d}/truth.csv"), "-e", "sum(fro(W))", "--minibatches", "2"]);
    assert_eq!(err.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&err.stderr).contains("one gather per architecture"), "{}", String::from_utf8_lossy(&err.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
