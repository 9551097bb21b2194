//! Ctrl-C on real child processes: one stop signal for the whole process, installed at start-up,
//! heard by the built-in benchmark's build and then by the search that follows it.
//!
//! `evolve --bench builtin:micro` from an empty cache builds the benchmark first. A SIGINT during
//! the build stops it cleanly (exit 130, finished architectures kept, a second run continues the
//! build); a SIGINT during the search writes a checkpoint (exit 130, a line saying how to resume),
//! and `--resume` ends exactly as an uninterrupted run of the same length.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn lpzero(cache: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lpzero"));
    c.args(args).env("LPZERO_CACHE", cache).stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

fn sigint(child: &Child) {
    // SAFETY: kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0, "kill failed");
}

/// Polls until `cond` holds (or panics after `limit`).
fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn finished_archs(cache: &Path) -> usize {
    let Ok(benches) = std::fs::read_dir(cache.join("bench")) else { return 0 };
    benches
        .flatten()
        .map(|b| {
            std::fs::read_dir(b.path())
                .into_iter()
                .flatten()
                .flatten()
                .filter(|c| c.file_name().to_string_lossy().starts_with("config_"))
                .filter(|c| c.path().join("j0/result.yaml").exists())
                .count()
        })
        .sum()
}

fn history_lines(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("history.jsonl")).map(|t| t.lines().count()).unwrap_or(0)
}

/// The history without wall-clock fields.
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

fn best_proxy_line(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("best.proxy")).unwrap().lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n")
}

#[test]
fn one_ctrl_c_stops_the_build_and_the_search_cleanly_and_resume_ends_as_an_uninterrupted_run() {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("interrupt");
    let _ = std::fs::remove_dir_all(&tmp);
    let cache = tmp.join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let run = tmp.join("run");
    let common = ["--bench", "builtin:micro", "--search-archs", "6", "--population", "6", "--seed", "2", "--read", "A,H,W,G"];
    let evolve = |out: &Path, iterations: &str| {
        let mut a = vec!["evolve", "--out", out.to_str().unwrap(), "--iterations", iterations];
        a.extend_from_slice(&common);
        a.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let args = evolve(&run, "1000000");
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();

    // 1. Ctrl-C during the build of the built-in benchmark.
    let child = lpzero(&cache, &argv).spawn().unwrap();
    wait_for(Duration::from_secs(120), "the first built architecture", || finished_archs(&cache) >= 1);
    sigint(&child);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted while building builtin:micro; run the command again"), "{stderr}");
    let kept = finished_archs(&cache);
    assert!((1..12).contains(&kept), "the finished architectures are kept ({kept})");

    // 2. The same command finishes the build, then searches; Ctrl-C during the search.
    let child = lpzero(&cache, &argv).spawn().unwrap();
    wait_for(Duration::from_secs(300), "the search to start", || history_lines(&run) >= 3);
    assert_eq!(finished_archs(&cache), 12);
    sigint(&child);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let line = stderr.lines().find(|l| l.starts_with("stopped after iteration")).unwrap_or_else(|| panic!("no resume line: {stderr}"));
    assert!(line.contains(&format!("lpzero evolve --resume {}", run.display())), "{line}");
    let done: usize = line.split_whitespace().nth(3).unwrap().trim_end_matches(';').parse().unwrap();
    let cp: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("checkpoint.json")).unwrap()).unwrap();
    assert_eq!(cp["state"]["iteration"].as_u64().unwrap() as usize, done);
    assert_eq!(history_lines(&run), done + 1, "the history holds what the checkpoint holds");

    // 3. Resumed to a fixed length, it ends as a run of that length that was never stopped.
    let target = (done + 8).to_string();
    let out = lpzero(&cache, &["evolve", "--resume", run.to_str().unwrap(), "--iterations", &target]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let whole = tmp.join("whole");
    let args = evolve(&whole, &target);
    let out = lpzero(&cache, &args.iter().map(String::as_str).collect::<Vec<_>>()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(history(&run), history(&whole));
    assert_eq!(best_proxy_line(&run), best_proxy_line(&whole));
    let summary = |d: &Path| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).unwrap()).unwrap() };
    assert_eq!(summary(&run)["heldout"], summary(&whole)["heldout"]);
}
