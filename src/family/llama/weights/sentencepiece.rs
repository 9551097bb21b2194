//! SentencePiece's `tokenizer.model` (a protobuf `ModelProto`), the tokenizer file of LLaMA-1/2
//! Hugging Face folders: its pieces with their scores and types, and the settings encoding
//! depends on. Only the fields lpzero reads are declared (prost skips the others); the field
//! numbers are those of SentencePiece's `sentencepiece_model.proto`.

use super::error::{Result, WeightsError};
use super::tokenizer::PieceKind;
use prost::Message;
use std::path::Path;

/// `ModelProto`: the pieces and the specs.
#[derive(Clone, PartialEq, Message)]
pub struct ModelProto {
    /// The vocabulary, id = position.
    #[prost(message, repeated, tag = "1")]
    pub pieces: Vec<PieceProto>,
    /// How the model was trained (the model type, byte fallback, special ids).
    #[prost(message, optional, tag = "2")]
    pub trainer_spec: Option<TrainerSpec>,
    /// How text is normalised before encoding.
    #[prost(message, optional, tag = "3")]
    pub normalizer_spec: Option<NormalizerSpec>,
}

/// `ModelProto.SentencePiece`: one piece.
#[derive(Clone, PartialEq, Message)]
pub struct PieceProto {
    /// Its text (spaces as `▁`).
    #[prost(string, optional, tag = "1")]
    pub piece: Option<String>,
    /// Its score: BPE merges the adjacent pair whose piece scores highest first.
    #[prost(float, optional, tag = "2")]
    pub score: Option<f32>,
    /// Its type: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte (default 1).
    #[prost(int32, optional, tag = "3")]
    pub r#type: Option<i32>,
}

/// `TrainerSpec`, the fields encoding depends on.
#[derive(Clone, PartialEq, Message)]
pub struct TrainerSpec {
    /// 1 unigram (the default), 2 BPE, 3 word, 4 char.
    #[prost(int32, optional, tag = "3")]
    pub model_type: Option<i32>,
    /// Whether whitespace is a suffix of pieces instead of a prefix.
    #[prost(bool, optional, tag = "24")]
    pub treat_whitespace_as_suffix: Option<bool>,
    /// Whether characters outside the vocabulary become their UTF-8 byte pieces.
    #[prost(bool, optional, tag = "35")]
    pub byte_fallback: Option<bool>,
    /// The unknown piece's id (default 0).
    #[prost(int32, optional, tag = "40")]
    pub unk_id: Option<i32>,
    /// The beginning-of-sequence id (default 1; negative: none).
    #[prost(int32, optional, tag = "41")]
    pub bos_id: Option<i32>,
    /// The end-of-sequence id (default 2; negative: none).
    #[prost(int32, optional, tag = "42")]
    pub eos_id: Option<i32>,
    /// The padding id (default −1: none).
    #[prost(int32, optional, tag = "43")]
    pub pad_id: Option<i32>,
}

/// `NormalizerSpec`, the fields encoding depends on.
#[derive(Clone, PartialEq, Message)]
pub struct NormalizerSpec {
    /// The rule's name (`identity` for LLaMA; `nmt_nfkc` by default).
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// The compiled character map of a non-identity rule.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub precompiled_charsmap: Option<Vec<u8>>,
    /// Whether a space is prepended to the text (default true).
    #[prost(bool, optional, tag = "3")]
    pub add_dummy_prefix: Option<bool>,
    /// Whether leading, trailing and repeated spaces are removed (default true).
    #[prost(bool, optional, tag = "4")]
    pub remove_extra_whitespaces: Option<bool>,
    /// Whether spaces are written `▁` (default true).
    #[prost(bool, optional, tag = "5")]
    pub escape_whitespaces: Option<bool>,
}

/// A SentencePiece BPE model as lpzero encodes with it.
#[derive(Clone, Debug, PartialEq)]
pub struct SentencePieceModel {
    /// The pieces, id = position.
    pub pieces: Vec<String>,
    /// Their scores.
    pub scores: Vec<f32>,
    /// Their types.
    pub kinds: Vec<PieceKind>,
    /// Whether a `▁` is prepended to the text.
    pub add_dummy_prefix: bool,
    /// Whether leading, trailing and repeated spaces are removed first.
    pub remove_extra_whitespaces: bool,
    /// Whether characters outside the vocabulary become byte pieces (else the unknown piece).
    pub byte_fallback: bool,
    /// The unknown, BOS, EOS and padding ids, where the model has them.
    pub unk: Option<u32>,
    /// BOS.
    pub bos: Option<u32>,
    /// EOS.
    pub eos: Option<u32>,
    /// Padding.
    pub pad: Option<u32>,
}

impl SentencePieceModel {
    /// Reads a `tokenizer.model`. A unigram (or word, char) model, whitespace as a suffix, and a
    /// normalisation other than identity (a compiled character map, e.g. `nmt_nfkc`) are
    /// refused, naming what is not implemented.
    pub fn read(path: &Path) -> Result<SentencePieceModel> {
        let bytes = std::fs::read(path).map_err(|source| WeightsError::Io { path: path.to_path_buf(), source })?;
        Self::decode(&bytes, path)
    }

    /// [`SentencePieceModel::read`] of bytes in memory (`path` names them in errors).
    pub fn decode(bytes: &[u8], path: &Path) -> Result<SentencePieceModel> {
        let err = |what: String| WeightsError::Tokenizer { path: path.to_path_buf(), what };
        let m = ModelProto::decode(bytes).map_err(|e| err(format!("not a SentencePiece model (protobuf: {e})")))?;
        if m.pieces.is_empty() {
            return Err(err("a SentencePiece model without pieces".into()));
        }
        let trainer = m.trainer_spec.unwrap_or_default();
        let normalizer = m.normalizer_spec.unwrap_or_default();
        match trainer.model_type.unwrap_or(1) {
            2 => {}
            t => {
                let name = match t {
                    1 => "unigram",
                    3 => "word",
                    4 => "char",
                    _ => "unknown",
                };
                return Err(err(format!("a SentencePiece {name} model (type {t}); only BPE (LLaMA's) is implemented")));
            }
        }
        if trainer.treat_whitespace_as_suffix.unwrap_or(false) {
            return Err(err("whitespace as a suffix of pieces is not implemented".into()));
        }
        if normalizer.precompiled_charsmap.as_ref().is_some_and(|c| !c.is_empty()) {
            return Err(err(format!(
                "the normalization `{}` (a compiled character map) is not implemented; only identity (LLaMA's) is",
                normalizer.name.as_deref().unwrap_or("?")
            )));
        }
        if !normalizer.escape_whitespaces.unwrap_or(true) {
            return Err(err("unescaped whitespace is not implemented".into()));
        }
        let n = m.pieces.len();
        let id = |v: Option<i32>, default: i32| -> Result<Option<u32>> {
            match v.unwrap_or(default) {
                i if i < 0 => Ok(None),
                i if (i as usize) < n => Ok(Some(i as u32)),
                i => Err(err(format!("special id {i} is beyond the {n} pieces"))),
            }
        };
        let mut pieces = Vec::with_capacity(n);
        let mut scores = Vec::with_capacity(n);
        let mut kinds = Vec::with_capacity(n);
        for (i, p) in m.pieces.into_iter().enumerate() {
            let t = p.r#type.unwrap_or(1);
            kinds.push(PieceKind::from_code(t).ok_or_else(|| err(format!("piece {i} has type {t}")))?);
            pieces.push(p.piece.ok_or_else(|| err(format!("piece {i} has no text")))?);
            scores.push(p.score.unwrap_or(0.0));
        }
        Ok(SentencePieceModel {
            pieces,
            scores,
            kinds,
            add_dummy_prefix: normalizer.add_dummy_prefix.unwrap_or(true),
            remove_extra_whitespaces: normalizer.remove_extra_whitespaces.unwrap_or(true),
            byte_fallback: trainer.byte_fallback.unwrap_or(false),
            unk: id(trainer.unk_id, 0)?,
            bos: id(trainer.bos_id, 1)?,
            eos: id(trainer.eos_id, 2)?,
            pad: id(trainer.pad_id, -1)?,
        })
    }
}
