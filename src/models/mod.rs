//! The benchmark model families, built in burn: FlexiBERT (as trained, or as the reference
//! implementation built it) and GPT-2 flex.
//!
//! A model is a list of parameter declarations ([`params::ParamSpec`]) and a forward function
//! over the materialised tensors ([`params::ParamStore`]). Models know nothing of the proxy
//! language; the forward pass exposes activations through a [`nn::Recorder`].

pub mod flexibert;
pub mod flexibert_reference;
pub mod gpt2;
pub mod nn;
pub mod params;

use crate::bench::{Benchmark, FlexiArch, Gpt2Arch};
use params::{count_by_group, ParamSpec};
use serde::Serialize;

/// Which FlexiBERT networks to build.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Fidelity {
    /// The networks as the benchmark trained them (every layer SA-SDP at the architecture's width).
    #[default]
    Trained,
    /// The reference implementation's networks (width 256, the six labelled layer types).
    Reference,
}

/// A problem building a model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// A configuration lpzero cannot build.
    #[error("{0}")]
    Unsupported(String),
}

/// One architecture of either family.
#[derive(Clone, Copy, Debug)]
pub enum ArchRef<'a> {
    /// FlexiBERT.
    Flexi(&'a FlexiArch),
    /// GPT-2.
    Gpt2(&'a Gpt2Arch),
}

impl ArchRef<'_> {
    /// The benchmark id.
    pub fn id(&self) -> String {
        match self {
            ArchRef::Flexi(a) => a.id.to_string(),
            ArchRef::Gpt2(a) => a.key.clone(),
        }
    }

    /// Number of blocks.
    pub fn layers(&self) -> usize {
        match self {
            ArchRef::Flexi(a) => a.layers.len(),
            ArchRef::Gpt2(a) => a.n_layer,
        }
    }
}

/// The architectures of a benchmark, in order.
pub fn archs(bench: &Benchmark) -> Vec<ArchRef<'_>> {
    match bench {
        Benchmark::Flexibert { archs, .. } => archs.iter().map(ArchRef::Flexi).collect(),
        Benchmark::Gpt2 { archs, .. } => archs.iter().map(ArchRef::Gpt2).collect(),
    }
}

/// The parameter declarations of an architecture.
pub fn spec(arch: ArchRef<'_>, fidelity: Fidelity) -> Result<Vec<ParamSpec>, ModelError> {
    match arch {
        ArchRef::Flexi(a) => match fidelity {
            Fidelity::Trained => Ok(flexibert::spec(a)),
            Fidelity::Reference => flexibert_reference::spec(a),
        },
        ArchRef::Gpt2(a) => {
            if !a.tie_weight {
                return Err(ModelError::Unsupported(format!("{}: untied output weights (tie_weight: false) are not supported", a.key)));
            }
            Ok(gpt2::spec(a))
        }
    }
}

/// Parameter counts of one architecture, in the fields its benchmark reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParamCounts {
    /// The architecture id.
    pub id: String,
    /// `(field, count)` in report order.
    pub fields: Vec<(&'static str, u64)>,
}

/// The fields `lpzero params` reports for each family.
pub fn count_fields(bench: &Benchmark) -> &'static [&'static str] {
    match bench {
        Benchmark::Flexibert { .. } => &["total", "nonembedding"],
        Benchmark::Gpt2 { .. } => &["AdaEmb", "Attn", "FFN", "nonembedding", "total"],
    }
}

/// Counts an architecture's parameters from its declarations.
pub fn count(arch: ArchRef<'_>, fidelity: Fidelity) -> Result<ParamCounts, ModelError> {
    let groups = count_by_group(&spec(arch, fidelity)?);
    let g = |name: &str| groups.get(name).copied().unwrap_or(0);
    let fields = match arch {
        ArchRef::Flexi(_) => vec![
            ("total", g("embedding") + g("projection") + g("mixer") + g("ffn")),
            ("nonembedding", g("mixer") + g("ffn")),
        ],
        ArchRef::Gpt2(_) => vec![
            ("AdaEmb", g("ada_emb")),
            ("Attn", g("attn")),
            ("FFN", g("ffn")),
            ("nonembedding", g("attn") + g("ffn") + g("ln")),
            ("total", g("ada_emb") + g("attn") + g("ffn") + g("ln") + g("softmax")),
        ],
    };
    Ok(ParamCounts { id: arch.id(), fields })
}
