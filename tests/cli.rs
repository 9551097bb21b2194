//! The command line as users and scripts see it: exit codes, JSON diagnostics, `fmt`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lpzero(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lpzero"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
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

/// The README shows three diagnostics exactly as the tool prints them; keep them true.
#[test]
fn readme_diagnostics_are_what_the_tool_prints() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for f in ["syntax_error.proxy", "type_error.proxy", "rps_violation.proxy"] {
        let out = lpzero(&["lint", "--color", "never", &fixture(f)]);
        let stderr = String::from_utf8(out.stderr).unwrap();
        let report: String = stderr.lines().filter(|l| !l.starts_with("checked ")).map(|l| format!("{}\n", l.trim_end())).collect();
        let readme_norm: String = readme.lines().map(|l| format!("{}\n", l.trim_end())).collect();
        assert!(readme_norm.contains(&report), "README lacks the current output for {f}:\n{report}");
    }
}

/// The README's input and op tables are generated by `lpzero ops --format markdown`.
#[test]
fn readme_op_table_is_generated_from_the_code() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let out = lpzero(&["ops", "--format", "markdown"]);
    let tables = String::from_utf8(out.stdout).unwrap();
    assert!(readme.contains(tables.trim()), "README's op table is stale: regenerate it with `lpzero ops --format markdown`");
}
