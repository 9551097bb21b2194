//! What every model family is built from: parameter declarations and their materialisation
//! ([`params`]), the blocks the forward passes share and the [`nn::Recorder`] through which a
//! forward pass exposes activations ([`nn`]), and the minibatch types ([`batch`]). The families
//! themselves are in `crate::family`. Models know nothing of the proxy language.

pub mod batch;
pub mod nn;
pub mod params;

use serde::Serialize;

/// Which networks to build for a benchmark whose published networks and the reference
/// implementation's differ (only one family has two; the others build the one they have).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Fidelity {
    /// The networks as the benchmark trained them.
    #[default]
    Trained,
    /// The reference implementation's networks.
    Reference,
}

/// A problem building or running a model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// A configuration lpzero cannot build.
    #[error("{0}")]
    Unsupported(String),
}

/// The command-line and file name of a fidelity (`trained`, `reference`).
pub fn fidelity_name(f: Fidelity) -> &'static str {
    match f {
        Fidelity::Trained => "trained",
        Fidelity::Reference => "reference",
    }
}
