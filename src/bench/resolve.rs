//! What a `--bench` argument means, for every front end (the command line, the REPL's `:bench`,
//! a resumed `evolve`): a path to a published or built benchmark, or `builtin:NAME`, a benchmark
//! lpzero builds itself under the cache root the first time it is asked for (resumably) and
//! reads from there afterwards.

use super::{BenchError, Benchmark};
use crate::family::FamilyRef;
use crate::progress::Progress;
use crate::stop::Stop;
use crate::train::builtin;
use std::path::{Path, PathBuf};

/// A `--bench` argument, loaded.
pub struct Resolved {
    /// The benchmark.
    pub bench: Benchmark,
    /// The argument as given (`builtin:tiny`, or the path), for reports.
    pub label: String,
}

/// Why a `--bench` argument could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The benchmark's files are wrong.
    #[error(transparent)]
    Bench(#[from] BenchError),
    /// Building a built-in benchmark failed.
    #[error("building builtin:{name}: {source}")]
    Build {
        /// Its name.
        name: String,
        /// Why.
        source: crate::train::config::BuildError,
    },
    /// The built-in benchmark's build was stopped before it finished.
    #[error("interrupted while building builtin:{0}; run the command again to continue the build")]
    Interrupted(String),
    /// No such built-in benchmark.
    #[error("unknown built-in benchmark `builtin:{0}` (built-in benchmarks: {names})", names = builtin::NAMES.map(|n| format!("builtin:{n}")).join(", "))]
    UnknownBuiltin(String),
    /// A built-in benchmark needs a cache folder to live in.
    #[error("no place for the built-in benchmark: set --cache or $LPZERO_CACHE")]
    NoCacheRoot,
    /// The device to build on cannot be used.
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
}

/// The folder a `--bench` argument names: the path itself, or where `builtin:NAME` lives (built
/// first when missing or unfinished; progress goes to `progress`, `stop` interrupts the build).
pub fn locate(arg: &Path, cache_root: Option<&Path>, stop: &Stop, progress: &dyn Progress) -> Result<PathBuf, ResolveError> {
    let Some(name) = builtin::name_of(arg) else {
        return Ok(arg.to_owned());
    };
    let cfg = builtin::config(name).ok_or_else(|| ResolveError::UnknownBuiltin(name.to_owned()))?;
    let root = cache_root.ok_or(ResolveError::NoCacheRoot)?;
    let dir = builtin::dir(root, name, &cfg);
    let build_err = |source| ResolveError::Build { name: name.to_owned(), source };
    let plan = crate::train::build::plan(&cfg).map_err(build_err)?;
    let done = crate::train::layout::finished(&dir, &plan.archs).len();
    if done < cfg.archs {
        progress.note(&format!(
            "building builtin:{name} in {} ({} architectures × {} steps of the tiny space on lpzero's built-in grammar; {done} done before; once per machine)",
            dir.display(),
            cfg.archs,
            cfg.steps
        ));
        let device = cfg.device.open()?;
        let total = (cfg.archs - done) * cfg.steps;
        progress.start("training steps", total);
        let steps = std::sync::atomic::AtomicUsize::new(0);
        let on_step = |_: crate::train::trainer::StepReport<'_>| {
            let n = steps.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress.advance(n, "");
        };
        let report = crate::train::build::build(&cfg, &dir, None, 2, &device, stop, &on_step, &|_| {});
        progress.finish();
        if report.map_err(build_err)?.interrupted {
            return Err(ResolveError::Interrupted(name.to_owned()));
        }
    }
    Ok(dir)
}

/// Resolves and loads a `--bench` argument (of `family`, or of the family its files show).
pub fn resolve(arg: &Path, family: Option<FamilyRef>, cache_root: Option<&Path>, stop: &Stop, progress: &dyn Progress) -> Result<Resolved, ResolveError> {
    let dir = locate(arg, cache_root, stop, progress)?;
    Ok(Resolved { bench: Benchmark::load(&dir, family)?, label: arg.display().to_string() })
}
