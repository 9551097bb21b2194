//! What training one architecture produced (`result.yaml` of each architecture of a built
//! benchmark).

use serde::{Deserialize, Serialize};

/// The result of one trained architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchResult {
    /// The architecture's key in the built benchmark (`config_<c>_j<j>`, `arch_<id>`).
    pub key: String,
    /// Mean validation loss per predicted token (nats), or NaN when diverged.
    pub valid_loss: f64,
    /// `exp(valid_loss)`.
    pub valid_ppl: f64,
    /// Training loss of the last step.
    pub final_train_loss: f64,
    /// Steps completed.
    pub steps: usize,
    /// Wall-clock seconds of training and validation.
    pub seconds: f64,
    /// Parameters (every unique tensor).
    pub params: u64,
    /// Non-embedding parameters.
    pub nonembedding: u64,
    /// Whether the training loss became NaN or infinite.
    pub diverged: bool,
    /// For architectures taken from a published benchmark: its ground truth there, as it is
    /// published (a perplexity, or GLUE); the build's report orients it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_ppl: Option<f64>,
}
