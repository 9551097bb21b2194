//! The files a build writes, one finished architecture at a time, in the layout its family's
//! loader reads ([`crate::family::Family::write_benchmark`]), plus per architecture:
//! `train.csv` (step, loss, learning rate, gradient norm), `result.yaml` (the [`ArchResult`]) and
//! the family's own files (a `model_config.yaml`, an `arch.json`). An architecture's folder
//! appears only when it has finished (written under a temporary name and renamed), so an
//! interrupted build leaves only whole results and resuming trains only what is missing.

use super::config::{io, BuildError};
use super::result::ArchResult;
use crate::bench::lts::key_dir;
use crate::family::Arch;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Writes one finished architecture's folder (`config_<c>/j<j>/` for key `config_<c>_j<j>`).
pub fn write_arch(dir: &Path, arch: &dyn Arch, result: &ArchResult, curve: &[[f64; 4]]) -> Result<(), BuildError> {
    let final_dir = key_dir(dir, &result.key);
    crate::fsutil::write_dir_atomic(&final_dir, |tmp| {
        arch.family().write_arch(tmp, arch, result)?;
        let mut csv = String::from("step,loss,lr,grad_norm\n");
        for [s, l, lr, n] in curve {
            csv.push_str(&format!("{s},{l},{lr},{n}\n"));
        }
        std::fs::write(tmp.join("train.csv"), csv)?;
        std::fs::write(tmp.join("result.yaml"), serde_norway::to_string(result).expect("a plain struct"))
    })
    .map_err(io(&final_dir))
}

/// Reads the finished results under `dir` of the planned architectures.
pub fn finished(dir: &Path, plan: &[Arc<dyn Arch>]) -> BTreeMap<String, ArchResult> {
    plan.iter()
        .filter_map(|a| {
            let key = a.family().result_key(&**a);
            let text = std::fs::read_to_string(key_dir(dir, &key).join("result.yaml")).ok()?;
            let r: ArchResult = serde_norway::from_str(&text).ok()?;
            (r.key == key).then_some((key, r))
        })
        .collect()
}

/// Rewrites the benchmark files from the finished results, in plan order.
pub fn write_benchmark(dir: &Path, plan: &[Arc<dyn Arch>], results: &BTreeMap<String, ArchResult>) -> Result<(), BuildError> {
    let Some(family) = plan.first().map(|a| a.family()) else { return Ok(()) };
    let done: Vec<(&dyn Arch, &ArchResult)> = plan.iter().filter_map(|a| results.get(&family.result_key(&**a)).map(|r| (&**a, r))).collect();
    family.write_benchmark(dir, &done).map_err(io(dir))
}
