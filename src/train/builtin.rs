//! `builtin:tiny`: a small benchmark that needs no files, built on first use and cached.
//!
//! [`TINY_ARCHS`] architectures of the tiny space (`spaces/tiny.yaml`: 1–4 layers, width
//! 16–64), each trained for [`TINY_STEPS`] AdamW steps on text from lpzero's built-in grammar
//! ([`crate::gather::synthetic`]), ground truth = validation perplexity on a disjoint stream of
//! the same grammar. It is a demo of the whole pipeline on something real but small: its
//! numbers say nothing about the published benchmarks.

use super::build::{BuildConfig, CorpusSpec, PlanSource};
use super::optim::OptimConfig;
use super::space::Space;
use std::path::{Path, PathBuf};

/// Architectures in `builtin:tiny`.
pub const TINY_ARCHS: usize = 64;
/// Training steps per architecture.
pub const TINY_STEPS: usize = 300;

/// The names `builtin:` accepts.
pub const NAMES: [&str; 1] = ["tiny"];

/// The settings of `builtin:tiny`.
pub fn tiny_config() -> BuildConfig {
    BuildConfig {
        source: PlanSource::Space { space: Box::new(Space::load("tiny").expect("the shipped tiny space parses")) },
        archs: TINY_ARCHS,
        steps: TINY_STEPS,
        seed: 0,
        batch: 16,
        seq_len: 32,
        valid_sequences: 512,
        optim: OptimConfig { lr: 6e-3, warmup: TINY_STEPS / 10, ..OptimConfig::default() },
        corpus: CorpusSpec::Grammar { train_seed: 1, valid_seed: 2, proxy_seed: 3, train_tokens: 200_000, valid_tokens: 17_000 },
        // Built on flex whatever device the proxies use, so its ground truth is one thing.
        device: crate::device::DeviceKind::Flex,
    }
}

/// The settings of a built-in benchmark by name (`tiny`).
pub fn config(name: &str) -> anyhow::Result<BuildConfig> {
    match name {
        "tiny" => Ok(tiny_config()),
        other => anyhow::bail!("unknown built-in benchmark `builtin:{other}` (built-in benchmarks: {})", NAMES.map(|n| format!("builtin:{n}")).join(", ")),
    }
}

/// Where a built-in benchmark lives under a cache root: the name, the grammar version and a
/// hash of its settings, so a changed recipe never reads an old build.
pub fn dir(root: &Path, name: &str, cfg: &BuildConfig) -> PathBuf {
    let settings = serde_json::to_string(cfg).expect("a plain struct");
    let hash = crate::gather::text::hash_str(&format!("{settings}\ngrammar v{}", crate::gather::synthetic::VERSION));
    root.join("bench").join(format!("builtin-{name}-{:08x}", hash as u32))
}

/// The name of a `builtin:NAME` benchmark argument, if it is one.
pub fn name_of(arg: &Path) -> Option<&str> {
    arg.to_str()?.strip_prefix("builtin:")
}
