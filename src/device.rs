//! Where tensors live: the `--device` of every command that runs models.
//!
//! burn 0.22 chooses the backend at run time through its `Device`; which backends exist in a
//! binary is decided at compile time by cargo features. `flex` (burn's pure-Rust CPU backend) is
//! always compiled in. `tch` and `tch-cuda` (libtorch on the CPU or on the first GPU) need the
//! `tch` feature, `cuda` (burn's CubeCL CUDA backend) the `cuda` feature; the user guide (docs/GUIDE.md) has the
//! install and build commands. Asking for a device that is not compiled in, or whose hardware or
//! library is missing, is a [`DeviceError`], never a panic.

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// A device a command can run its models on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    /// burn's pure-Rust CPU backend (always built).
    Flex,
    /// libtorch on the CPU (cargo feature `tch`).
    Tch,
    /// libtorch on the first CUDA GPU (cargo feature `tch`, a CUDA build of libtorch).
    TchCuda,
    /// burn's CubeCL CUDA backend on the first GPU (cargo feature `cuda`).
    Cuda,
}

/// A device that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The binary was built without the backend.
    #[error("device `{name}` is not compiled into this binary: rebuild with `--features {feature}` (see docs/GUIDE.md, \"Devices\")")]
    NotCompiled {
        /// The device's name.
        name: &'static str,
        /// The cargo feature that provides it.
        feature: &'static str,
    },
    /// The backend is compiled in but could not run a tensor operation.
    #[error("device `{name}` is compiled in but not usable here: {reason}")]
    Unavailable {
        /// The device's name.
        name: &'static str,
        /// What went wrong.
        reason: String,
    },
}

impl DeviceKind {
    /// The device used when none is asked for: the fastest CPU device compiled in, as measured
    /// on the project's 2-core machine (docs/RESULTS.md, "Devices and speed"): libtorch when the
    /// binary has it (13% faster than flex on FlexiBERT, 29% on GPT-2), else flex.
    pub const DEFAULT: DeviceKind = if cfg!(feature = "tch") { DeviceKind::Tch } else { DeviceKind::Flex };

    /// Every device, compiled in or not.
    pub const ALL: [DeviceKind; 4] = [DeviceKind::Flex, DeviceKind::Tch, DeviceKind::TchCuda, DeviceKind::Cuda];

    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Flex => "flex",
            DeviceKind::Tch => "tch",
            DeviceKind::TchCuda => "tch-cuda",
            DeviceKind::Cuda => "cuda",
        }
    }

    /// The cargo feature that compiles the backend in (`None`: always there).
    pub fn feature(self) -> Option<&'static str> {
        match self {
            DeviceKind::Flex => None,
            DeviceKind::Tch | DeviceKind::TchCuda => Some("tch"),
            DeviceKind::Cuda => Some("cuda"),
        }
    }

    /// What the device needs beyond its cargo feature, named in the error when it cannot be
    /// opened (`None`: nothing, it runs on any CPU).
    pub fn needs(self) -> Option<&'static str> {
        match self {
            DeviceKind::Flex | DeviceKind::Tch => None,
            DeviceKind::TchCuda => Some("a CUDA build of the PyTorch wheel, an NVIDIA GPU and its driver"),
            DeviceKind::Cuda => Some("an NVIDIA GPU and driver (libcuda), and a `cuda-nvrtc` build also the CUDA toolkit's libnvrtc"),
        }
    }

    /// Whether this binary has the backend.
    pub fn compiled(self) -> bool {
        match self {
            DeviceKind::Flex => true,
            DeviceKind::Tch | DeviceKind::TchCuda => cfg!(feature = "tch"),
            DeviceKind::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// Architectures to gather at once on this device: one per core on the CPU devices, one on
    /// GPUs. Most of a CPU gather's ops run on one thread (libtorch is set to one intra-op
    /// thread when opened; `flex` spreads only its larger matrix products over burn's thread
    /// pool), so one architecture per core keeps the cores busy: measured, that is faster on
    /// the benchmarks' architectures (docs/RESULTS.md). A large model on a machine where fresh
    /// memory is dear can be faster one at a time, with half the peak memory ("Fresh pages"
    /// there): `LPZERO_GATHER_JOBS` overrides the count.
    pub fn gather_jobs(self) -> usize {
        if let Some(n) = std::env::var("LPZERO_GATHER_JOBS").ok().and_then(|v| v.parse::<usize>().ok()) {
            return n.max(1);
        }
        match self {
            DeviceKind::Flex | DeviceKind::Tch => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            DeviceKind::TchCuda | DeviceKind::Cuda => 1,
        }
    }

    /// The burn device, checked: a small computation runs on it and is read back, so a missing
    /// driver or library is reported here rather than as a panic in the middle of a run.
    pub fn open(self) -> Result<Device, DeviceError> {
        let device = self.construct()?;
        probe(self, &device)?;
        Ok(device)
    }

    fn construct(self) -> Result<Device, DeviceError> {
        let not_compiled = || DeviceError::NotCompiled { name: self.name(), feature: self.feature().unwrap_or("") };
        match self {
            DeviceKind::Flex => Ok(Device::flex()),
            #[cfg(feature = "tch")]
            #[allow(deprecated)] // burn-tch is deprecated upstream; it is still the libtorch path.
            DeviceKind::Tch => {
                // One intra-op thread: lpzero runs one architecture per core instead
                // (`gather_jobs`, `bench build --jobs`). `LPZERO_TCH_THREADS` overrides it.
                let threads = std::env::var("LPZERO_TCH_THREADS").ok().and_then(|v| v.parse::<i32>().ok()).unwrap_or(1);
                tch::set_num_threads(threads.max(1));
                Ok(Device::libtorch())
            }
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            DeviceKind::TchCuda => {
                if !tch::Cuda::is_available() {
                    return Err(DeviceError::Unavailable {
                        name: self.name(),
                        reason: format!("libtorch sees no CUDA GPU; it needs {}", self.needs().unwrap_or("a GPU")),
                    });
                }
                Ok(Device::libtorch_cuda(0usize))
            }
            #[cfg(feature = "cuda")]
            DeviceKind::Cuda => Ok(Device::cuda(0usize)),
            #[allow(unreachable_patterns)]
            _ => Err(not_compiled()),
        }
    }
}

impl std::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Runs `[1, 2, 3] · 2` on the device and checks the answer; a backend that panics (no driver,
/// no GPU) is turned into an error.
fn probe(kind: DeviceKind, device: &Device) -> Result<(), DeviceError> {
    let unavailable = |reason: String| DeviceError::Unavailable { name: kind.name(), reason };
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(|| {
        let t = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [3]), device);
        (t * 2.0).into_data().convert::<f32>().try_to_vec::<f32>().ok()
    });
    std::panic::set_hook(hook);
    match result {
        Ok(Some(v)) if v == [2.0, 4.0, 6.0] => Ok(()),
        Ok(other) => Err(unavailable(format!("a test computation gave {other:?} instead of [2, 4, 6]"))),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the backend panicked".into());
            Err(unavailable(match kind.needs() {
                Some(needs) => format!("the backend failed its first operation ({msg}); it needs {needs}"),
                None => msg,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flex_opens_and_names_round_trip() {
        assert!(DeviceKind::Flex.open().is_ok());
        for kind in DeviceKind::ALL {
            let parsed = <DeviceKind as clap::ValueEnum>::from_str(kind.name(), false).unwrap();
            assert_eq!(parsed, kind);
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{}\"", kind.name()));
        }
    }

    #[test]
    fn a_device_not_compiled_in_is_a_clear_error() {
        for kind in DeviceKind::ALL.into_iter().filter(|k| !k.compiled()) {
            let err = kind.open().unwrap_err();
            let text = err.to_string();
            assert!(text.contains("not compiled") && text.contains(kind.feature().unwrap()), "{text}");
        }
    }
}
