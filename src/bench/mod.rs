//! Benchmarks of trained architectures: loaders for the FlexiBERT JSON file and the GPT-2
//! directory layout, recognised by content, with ground truth oriented so that higher is better.
//!
//! Malformed, truncated or mismatched files give a [`BenchError`] naming the file, the entry and
//! what is wrong.

pub mod flexibert;
pub mod gpt2;
pub mod reference;

pub use flexibert::{FlexiArch, FlexiLayer, LayerOp};
pub use gpt2::{Gpt2Arch, ParamsSummary};

use std::path::{Path, PathBuf};

/// A problem with a benchmark file.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The path cannot be read.
    #[error("cannot read {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file does not parse.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// An entry is malformed or inconsistent.
    #[error("{path}: entry {entry}: {message}")]
    Entry {
        /// The file.
        path: PathBuf,
        /// The entry (index or key).
        entry: String,
        /// What is wrong.
        message: String,
    },
    /// The path is neither kind of benchmark.
    #[error("{path}: not a benchmark: expected a FlexiBERT JSON file or a GPT-2 directory with ppl_summary.yaml and config_*/j*/model_config.yaml")]
    Unknown {
        /// The path.
        path: PathBuf,
    },
}

/// The two benchmark families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// FlexiBERT encoders with GLUE scores.
    Flexibert,
    /// GPT-2 decoders with WikiText-103 perplexity.
    Gpt2,
}

/// A loaded benchmark.
#[derive(Clone, Debug)]
pub enum Benchmark {
    /// FlexiBERT: architectures in file order.
    Flexibert {
        /// The JSON file.
        path: PathBuf,
        /// The architectures.
        archs: Vec<FlexiArch>,
    },
    /// GPT-2: architectures sorted by config and job number.
    Gpt2 {
        /// The directory.
        dir: PathBuf,
        /// The architectures.
        archs: Vec<Gpt2Arch>,
    },
}

impl Benchmark {
    /// Loads a benchmark, recognising its kind from what the path holds.
    pub fn load(path: &Path) -> Result<Benchmark, BenchError> {
        if path.is_dir() {
            if path.join("ppl_summary.yaml").exists() {
                return gpt2::load(path).map(|archs| Benchmark::Gpt2 { dir: path.to_owned(), archs });
            }
            // A FlexiBERT benchmark built by `lpzero bench build`.
            let built = path.join(flexibert::BUILT_FILE);
            if built.exists() {
                return Benchmark::load(&built);
            }
            return Err(BenchError::Unknown { path: path.to_owned() });
        }
        let text = std::fs::read_to_string(path).map_err(|source| BenchError::Io { path: path.to_owned(), source })?;
        if text.trim_start().starts_with('[') {
            return flexibert::parse(path, &text).map(|archs| Benchmark::Flexibert { path: path.to_owned(), archs });
        }
        Err(BenchError::Unknown { path: path.to_owned() })
    }

    /// Which family.
    pub fn family(&self) -> Family {
        match self {
            Benchmark::Flexibert { .. } => Family::Flexibert,
            Benchmark::Gpt2 { .. } => Family::Gpt2,
        }
    }

    /// Number of architectures.
    pub fn len(&self) -> usize {
        match self {
            Benchmark::Flexibert { archs, .. } => archs.len(),
            Benchmark::Gpt2 { archs, .. } => archs.len(),
        }
    }

    /// True when there are no architectures.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The architecture ids, in benchmark order (`0`..`499`, `config_3_j7`).
    pub fn ids(&self) -> Vec<String> {
        match self {
            Benchmark::Flexibert { archs, .. } => archs.iter().map(|a| a.id.to_string()).collect(),
            Benchmark::Gpt2 { archs, .. } => archs.iter().map(|a| a.key.clone()).collect(),
        }
    }

    /// Ground truth per architecture, higher is better: GLUE, or minus validation perplexity
    /// (minus MLM perplexity for a FlexiBERT benchmark built by lpzero).
    pub fn quality(&self) -> Vec<f64> {
        match self {
            Benchmark::Flexibert { archs, .. } => archs.iter().map(FlexiArch::quality).collect(),
            Benchmark::Gpt2 { archs, .. } => archs.iter().map(|a| -a.valid_ppl).collect(),
        }
    }
}

/// Where the shared benchmark data live, if anywhere: `$LPZERO_DATA`, else `../shared/data`
/// next to the crate. Tests that need the data skip when this is `None`.
pub fn shared_data_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("LPZERO_DATA").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data")),
    ];
    candidates.into_iter().flatten().find(|p| p.join("benchmarks").is_dir())
}
