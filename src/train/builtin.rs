//! The built-in benchmarks, which need no files: built on first use and cached.
//!
//! * `builtin:tiny`, the README's first command: [`TINY_ARCHS`] architectures of the tiny space
//!   (`spaces/tiny.yaml`: 1–4 layers, width 16–64), each trained for [`TINY_STEPS`] AdamW steps
//!   on text from lpzero's built-in grammar ([`crate::gather::synthetic`]), ground truth =
//!   validation perplexity on a disjoint stream of the same grammar. It is a demo of the whole
//!   pipeline on something real but small: its numbers say nothing about the published
//!   benchmarks.
//! * `builtin:micro`: [`MICRO_ARCHS`] architectures of the same space trained for [`MICRO_STEPS`]
//!   steps, built in seconds: for smoke tests of whole commands (the test suite's), not for
//!   results.

use super::config::{BuildConfig, CorpusSpec, PlanSource};
use super::optim::OptimConfig;
use super::space::SpaceSpec;
use std::path::{Path, PathBuf};

/// Architectures in `builtin:tiny`.
pub const TINY_ARCHS: usize = 64;
/// Training steps per architecture.
pub const TINY_STEPS: usize = 300;

/// Architectures in `builtin:micro`.
pub const MICRO_ARCHS: usize = 12;
/// Training steps per architecture of `builtin:micro`.
pub const MICRO_STEPS: usize = 40;

/// The names `builtin:` accepts.
pub const NAMES: [&str; 2] = ["tiny", "micro"];

/// The settings of `builtin:tiny`.
pub fn tiny_config() -> BuildConfig {
    BuildConfig {
        source: PlanSource::Space { space: SpaceSpec::load("tiny").expect("the shipped tiny space parses") },
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

/// The settings of `builtin:micro`.
pub fn micro_config() -> BuildConfig {
    BuildConfig {
        archs: MICRO_ARCHS,
        steps: MICRO_STEPS,
        batch: 8,
        valid_sequences: 64,
        optim: OptimConfig { lr: 6e-3, warmup: MICRO_STEPS / 10, ..OptimConfig::default() },
        corpus: CorpusSpec::Grammar { train_seed: 1, valid_seed: 2, proxy_seed: 3, train_tokens: 20_000, valid_tokens: 2_200 },
        ..tiny_config()
    }
}

/// The settings of a built-in benchmark by name (`tiny`, `micro`).
pub fn config(name: &str) -> Option<BuildConfig> {
    match name {
        "tiny" => Some(tiny_config()),
        "micro" => Some(micro_config()),
        _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The folder name is a hash of the recipe: refactoring the code that describes the recipe
    /// must not move it (that would rebuild every user's `builtin:tiny`). The value is the one
    /// lpzero computed before spaces became family-generic.
    #[test]
    fn the_tiny_recipe_hashes_as_before() {
        assert_eq!(dir(Path::new("/r"), "tiny", &tiny_config()), Path::new("/r/bench/builtin-tiny-e7a70cbd"));
    }
}
