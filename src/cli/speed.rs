//! `lpzero bench speed`: the speed benchmark of `crate::speed`, one child process per device
//! so that each device's peak memory is its own.

use super::LintFormat;
use crate::device::DeviceKind;
use crate::speed::{self, DeviceReport, SpeedConfig};
use anyhow::Context;
use std::path::PathBuf;

/// Arguments of `lpzero bench speed`.
#[derive(Debug, clap::Args)]
pub struct SpeedArgs {
    /// Devices to measure (repeatable) [default: every CPU device compiled in: flex, and tch
    /// when built with `--features tch`].
    #[arg(long, value_enum)]
    pub device: Vec<DeviceKind>,
    /// Architectures per family (a seeded sample of each published benchmark).
    #[arg(long, default_value_t = 5)]
    pub archs: usize,
    /// Also measure the paper's minibatch sizes (FlexiBERT 128 × 512, GPT-2 16 × 192; slow).
    #[arg(long)]
    pub paper: bool,
    /// Only this family.
    #[arg(long, value_enum)]
    pub family: Option<super::bench::FamilyArg>,
    /// Random template candidates scored for the evaluation rate.
    #[arg(long, default_value_t = 200)]
    pub candidates: usize,
    /// The shared data folder (`benchmarks/`, `corpus/`) [default: $LPZERO_DATA, else
    /// ../shared/data beside the crate].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Where the JSON report goes.
    #[arg(long, default_value = "lpzero-speed.json")]
    pub out: PathBuf,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    /// Internal: measure the one `--device` in this process and print its report as JSON.
    #[arg(long, hide = true)]
    pub child: bool,
}

/// `lpzero bench speed`.
pub fn speed_cmd(args: &SpeedArgs) -> anyhow::Result<()> {
    let data = match &args.data {
        Some(d) => d.clone(),
        None => crate::bench::shared_data_dir().context("no benchmark data: pass --data DIR or set LPZERO_DATA (the folder holding benchmarks/ and corpus/)")?,
    };
    let cfg = SpeedConfig {
        archs: args.archs,
        paper: args.paper,
        candidates: args.candidates,
        family: args.family.map(|f| match f {
            super::bench::FamilyArg::Gpt2 => crate::bench::Family::Gpt2,
            super::bench::FamilyArg::Flexibert => crate::bench::Family::Flexibert,
        }),
    };
    let devices: Vec<DeviceKind> = if args.device.is_empty() {
        [DeviceKind::Flex, DeviceKind::Tch].into_iter().filter(|d| d.compiled()).collect()
    } else {
        args.device.clone()
    };
    if args.child {
        let [device] = devices[..] else { anyhow::bail!("--child measures exactly one --device") };
        let report = speed::measure(device, &data, &cfg, |line| eprintln!("{line}"))?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    for d in &devices {
        d.open()?;
    }
    eprintln!("measuring {} on {} architectures per family{}; one process per device", devices.iter().map(|d| d.name()).collect::<Vec<_>>().join(", "), cfg.archs, if cfg.paper { ", default and paper minibatches" } else { "" });
    let mut reports: Vec<DeviceReport> = vec![];
    for &device in &devices {
        reports.push(run_child(device, args, &data)?);
    }
    let doc = serde_json::json!({
        "lpzero": env!("CARGO_PKG_VERSION"),
        "machine": machine(),
        "archs_per_family": cfg.archs,
        "candidates": cfg.candidates,
        "devices": reports,
    });
    std::fs::write(&args.out, serde_json::to_string_pretty(&doc)?).with_context(|| format!("cannot write {}", args.out.display()))?;
    match args.format {
        LintFormat::Json => println!("{}", serde_json::to_string_pretty(&doc)?),
        LintFormat::Text => {
            print!("{}", speed::table(&reports));
            println!("(seconds per architecture; gather = init + fwd + bwd + extract; evals/s: candidate × architecture evaluations on in-memory inputs, on the host)");
            println!("wrote {}", args.out.display());
        }
    }
    Ok(())
}

/// Runs this binary as a child measuring one device; its progress goes to our stderr.
fn run_child(device: DeviceKind, args: &SpeedArgs, data: &std::path::Path) -> anyhow::Result<DeviceReport> {
    let exe = std::env::current_exe().context("cannot find the lpzero binary to measure a device in its own process")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["bench", "speed", "--child", "--device", device.name(), "--archs", &args.archs.to_string(), "--candidates", &args.candidates.to_string()]);
    cmd.arg("--data").arg(data);
    if args.paper {
        cmd.arg("--paper");
    }
    if let Some(f) = args.family {
        cmd.args(["--family", match f {
            super::bench::FamilyArg::Gpt2 => "gpt2",
            super::bench::FamilyArg::Flexibert => "flexibert",
        }]);
    }
    let out = cmd.stderr(std::process::Stdio::inherit()).output().context("cannot start the measuring process")?;
    if !out.status.success() {
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            if out.status.signal() == Some(9) {
                anyhow::bail!("measuring device {device} failed: the process was killed (SIGKILL), which usually means the machine ran out of memory; try fewer --archs or without --paper");
            }
        }
        anyhow::bail!("measuring device {device} failed ({})", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).with_context(|| format!("the measuring process for {device} printed no report"))
}

/// The CPU model and core count, for the report.
fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| t.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|s| s.trim().to_owned()));
    serde_json::json!({
        "cpu": cpu,
        "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "os": std::env::consts::OS,
    })
}
