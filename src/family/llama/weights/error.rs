//! The one error type of the weight readers.

use std::path::PathBuf;

/// Everything that can go wrong reading a weight file, a configuration or a tokenizer.
///
/// Every variant names the file it is about; none is ever raised by a panic on file contents.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The file could not be opened, mapped or read.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A JSON file (configuration, index, adapter configuration) is not valid JSON.
    #[error("{}: malformed JSON: {source}", .path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error (it gives line and column).
        source: serde_json::Error,
    },
    /// The file ends before the data its header describes.
    #[error("{}: truncated file: {what}", .path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What was expected where the file ended.
        what: String,
    },
    /// A safetensors header that is not valid (bad JSON, overlapping offsets, sizes that do not
    /// match shapes, ...).
    #[error("{}: malformed safetensors file: {what}", .path.display())]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A GGUF file whose header, metadata or tensor table is not valid.
    #[error("{}: malformed GGUF file (at byte {offset}): {what}", .path.display())]
    Gguf {
        /// The file.
        path: PathBuf,
        /// The byte offset where the problem was found.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// A tensor whose data type (safetensors dtype or ggml type) cannot be converted to f32.
    #[error(
        "{}: tensor `{tensor}` has data type {dtype}, which lpzero cannot convert to f32 (supported: {supported})",
        .path.display()
    )]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// The data type, by name (a ggml type unknown to lpzero is given by its number).
        dtype: String,
        /// The supported types, for the message.
        supported: &'static str,
    },
    /// A sharded checkpoint whose index names a shard that is absent or lacks the tensor.
    #[error("{}: the index maps tensor `{tensor}` to shard `{shard}`, {problem}", .path.display())]
    MissingShard {
        /// The index file.
        path: PathBuf,
        /// The tensor.
        tensor: String,
        /// The shard file named by the index.
        shard: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A configuration (or GGUF metadata) without a required field.
    #[error("{}: required field `{field}` is missing", .path.display())]
    MissingField {
        /// The file.
        path: PathBuf,
        /// The field (a JSON key or a GGUF metadata key).
        field: String,
    },
    /// A configuration field with a value of the wrong type or out of range, or fields that
    /// contradict each other.
    #[error("{}: invalid configuration: {what}", .path.display())]
    InvalidConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A LoRA adapter whose tensors do not form `lora_A` / `lora_B` pairs of matching shapes.
    #[error("{}: invalid LoRA adapter: {what}", .path.display())]
    Adapter {
        /// The adapter file or folder.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A tensor name the file does not have.
    #[error("{}: no tensor named `{name}`", .path.display())]
    TensorNotFound {
        /// The file (or folder of a sharded checkpoint).
        path: PathBuf,
        /// The name asked for.
        name: String,
    },
    /// A region read outside a tensor's matrix view, or a block read of a tensor that is not 2-D.
    #[error("{}: tensor `{tensor}` of shape {shape:?}: {what}", .path.display())]
    BadRegion {
        /// The file.
        path: PathBuf,
        /// The tensor.
        tensor: String,
        /// Its shape.
        shape: Vec<usize>,
        /// What is wrong with the request.
        what: String,
    },
    /// A path that is none of the layouts the readers know.
    #[error("{}: not a model: {what}", .path.display())]
    NotAModel {
        /// The path given.
        path: PathBuf,
        /// What was looked for.
        what: String,
    },
    /// A tokenizer that cannot be built, or a text or id it cannot encode or decode.
    #[error("{}: tokenizer: {what}", .path.display())]
    Tokenizer {
        /// The file the tokenizer came from (empty for one built in memory).
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
}

impl WeightsError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        WeightsError::Io { path: path.into(), source }
    }
}

/// The readers' result type.
pub type Result<T> = std::result::Result<T, WeightsError>;
