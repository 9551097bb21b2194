//! `lpzero bench speed`: flags into a [`SpeedConfig`], each device measured in its own process
//! by the library ([`crate::speed::measure_in_child`]), the table printed and the JSON written.

use super::LintFormat;
use crate::device::DeviceKind;
use crate::family::FamilyRef;
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
    /// Also measure the paper's minibatch sizes (slow).
    #[arg(long)]
    pub paper: bool,
    /// Only this family.
    #[arg(long, value_enum)]
    pub family: Option<FamilyRef>,
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
pub fn speed(args: &SpeedArgs) -> anyhow::Result<()> {
    let data = match &args.data {
        Some(d) => d.clone(),
        None => crate::bench::shared_data_dir().context("no benchmark data: pass --data DIR or set LPZERO_DATA (the folder holding benchmarks/ and corpus/)")?,
    };
    let cfg = SpeedConfig { archs: args.archs, paper: args.paper, candidates: args.candidates, family: args.family };
    let devices: Vec<DeviceKind> = if args.device.is_empty() { [DeviceKind::Flex, DeviceKind::Tch].into_iter().filter(|d| d.compiled()).collect() } else { args.device.clone() };
    if args.child {
        let [device] = devices[..] else { anyhow::bail!("--child measures exactly one --device") };
        let report = speed::measure(device, &data, &cfg, |line| eprintln!("{line}"))?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    for d in &devices {
        d.open()?;
    }
    eprintln!(
        "measuring {} on {} architectures per family{}; one process per device",
        devices.iter().map(|d| d.name()).collect::<Vec<_>>().join(", "),
        cfg.archs,
        if cfg.paper { ", default and paper minibatches" } else { "" }
    );
    let exe = std::env::current_exe().context("cannot find the lpzero binary to measure a device in its own process")?;
    let reports: Vec<DeviceReport> = devices.iter().map(|&d| speed::measure_in_child(&exe, d, &data, &cfg)).collect::<Result<_, _>>()?;
    let doc = serde_json::json!({
        "lpzero": env!("CARGO_PKG_VERSION"),
        "machine": speed::machine(),
        "archs_per_family": cfg.archs,
        "candidates": cfg.candidates,
        "devices": reports,
    });
    crate::fsutil::write_atomic(&args.out, serde_json::to_string_pretty(&doc)?.as_bytes()).with_context(|| format!("cannot write {}", args.out.display()))?;
    match args.format {
        LintFormat::Json => println!("{}", serde_json::to_string_pretty(&doc)?),
        LintFormat::Text => {
            print!("{}", speed::table(&reports));
            println!("(seconds per architecture; gather = init + fwd + bwd + extract, every input; W,P s: a gather of weights alone; fwd-only: of A, H, S, W, P, no backward; evals/s: candidate × architecture evaluations on in-memory inputs, on the host; eval GB/s: the inputs those evaluations read, per second, against the read bandwidth below; fwd GFLOP/s: the blocks' linear layers' matrix products per second of the gather's forward pass, against the matmul below)");
            println!("wrote {}", args.out.display());
        }
    }
    Ok(())
}
