//! Sharded ranking on a real Slurm: a job array of `scripts/slurm/rank-array.sh` ranks
//! `builtin:micro` in four shards, one task is killed while it runs, `lpzero merge` names what it
//! lacks, the task is resubmitted alone, and the merged report equals one process's.
//!
//! Needs a Slurm cluster (`sinfo` answering, e.g. `scripts/slurm/test-cluster.sh start DIR` and
//! `SLURM_CONF`, as `.ci/run` does). Without one the test says so and passes, unless
//! `LPZERO_REQUIRE_SLURM=1`, where it fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_lpzero")
}

fn cluster_is_up() -> bool {
    let up = Command::new("sinfo").args(["-h", "-o", "%T"]).output().is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == "idle" || l.trim() == "mixed"));
    if !up {
        assert!(std::env::var("LPZERO_REQUIRE_SLURM").as_deref() != Ok("1"), "LPZERO_REQUIRE_SLURM=1 but no Slurm cluster answers `sinfo`");
        eprintln!("skipped: no Slurm cluster (start one with scripts/slurm/test-cluster.sh start DIR and set SLURM_CONF)");
    }
    up
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().expect("the command starts");
    assert!(out.status.success(), "{cmd:?} failed: {}\n{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    out
}

/// The report without what depends on timing or on which run gathered what.
fn comparable(path: &Path) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("gather_seconds");
    o.remove("cached");
    for p in o["proxies"].as_array_mut().unwrap() {
        p.as_object_mut().unwrap().remove("eval_seconds");
    }
    v
}

fn wait_for(paths: &[PathBuf], limit: Duration) {
    let start = Instant::now();
    while !paths.iter().all(|p| p.exists()) {
        assert!(start.elapsed() < limit, "waited {limit:?} for {paths:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_sharded_rank_on_a_slurm_job_array_merges_into_the_single_process_report() {
    if !cluster_is_up() {
        return;
    }
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("slurm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let cache = tmp.join("cache");
    let shards = tmp.join("shards");
    let flags = ["--bench", "builtin:micro", "--stdlib", "--skip", "synaptic_diversity", "-e", "avg(mean(H)) * avg(mean(A))"];
    // One process (this also builds builtin:micro into the cache the tasks read).
    let single = tmp.join("single");
    let mut one = Command::new(bin());
    one.arg("rank").args(flags).args(["--cache", cache.to_str().unwrap(), "--out", single.to_str().unwrap()]);
    run(&mut one);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm/rank-array.sh");
    let task = |slow: &str| {
        format!(
            "if [ \"$SLURM_ARRAY_TASK_ID\" = \"{slow}\" ]; then sleep 600; fi; exec {} {} --out {}",
            script.display(),
            flags.iter().map(|f| format!("'{f}'")).collect::<Vec<_>>().join(" "),
            shards.display()
        )
    };
    let env = [("LPZERO", bin().to_owned()), ("SHARDS", "4".to_owned()), ("LPZERO_CACHE", cache.display().to_string())];
    // The array, with task 2 held back so that it can be killed while it runs.
    let mut array = Command::new("sbatch");
    array
        .args(["--wait", "--parsable", "--array=0-3", &format!("--output={}/slurm-%A_%a.log", tmp.display()), "--wrap", &task("2")])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped());
    let mut child = array.spawn().expect("sbatch starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let job = line.trim().split(';').next().unwrap().to_owned();
    assert!(job.parse::<u64>().is_ok(), "sbatch --parsable printed {line:?}");
    let done: Vec<PathBuf> = [0, 1, 3].iter().map(|i| shards.join(format!("shard-{i}-of-4.json"))).collect();
    wait_for(&done, Duration::from_secs(300));
    run(Command::new("scancel").arg(format!("{job}_2")));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = Command::new("scancel").arg(&job).status();
            panic!("sbatch --wait did not return after the task was cancelled");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(!status.success(), "a cancelled task makes sbatch --wait fail");
    assert!(!shards.join("shard-2-of-4.json").exists());

    // merge names the missing shard and its architectures.
    let out = Command::new(bin()).args(["merge", shards.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 of 4 shards are missing (2)"), "{stderr}");

    // The killed task alone, resubmitted; a finished task rerun does nothing.
    run(Command::new("sbatch").args(["--wait", "--array=2", &format!("--output={}/slurm-%A_%a.log", tmp.display()), "--wrap", &task("none")]).envs(env.iter().map(|(k, v)| (k, v))));
    let again = run(Command::new(script.as_os_str()).args(flags).args(["--out", shards.to_str().unwrap()]).env("SLURM_ARRAY_TASK_ID", "0").envs(env.iter().map(|(k, v)| (k, v))));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already finished"));

    let merged = tmp.join("merged");
    run(Command::new(bin()).args(["merge", shards.to_str().unwrap(), "--out", merged.to_str().unwrap()]));
    assert_eq!(comparable(&merged.join("summary.json")), comparable(&single.join("summary.json")));
    assert_eq!(std::fs::read_to_string(merged.join("scores.csv")).unwrap(), std::fs::read_to_string(single.join("scores.csv")).unwrap());
    for plot in std::fs::read_dir(single.join("plots")).unwrap() {
        let name = plot.unwrap().file_name();
        assert_eq!(std::fs::read(merged.join("plots").join(&name)).unwrap(), std::fs::read(single.join("plots").join(&name)).unwrap(), "{name:?}");
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
