//! The text of a build as token streams: training and validation ids for one family (its
//! tokenizer, [`crate::family::Family::token_stream`]). The minibatches made from them are the
//! family's ([`crate::family::Family::train_batch`], [`crate::family::Family::valid_batches`]),
//! built on the causal windows of [`crate::gather::text`] that the gather also uses.

use super::config::{io, BuildError, CorpusSpec};
use crate::family::FamilyRef;
use crate::gather::text::Corpus;

/// Training and validation tokens.
pub struct Tokens {
    /// Training stream.
    pub train: Vec<u32>,
    /// Validation stream.
    pub valid: Vec<u32>,
    /// Vocabulary size the tokenizer can produce.
    pub vocab: usize,
}

impl Tokens {
    /// Tokenises the corpus of a build for a family.
    pub fn of(spec: &CorpusSpec, family: FamilyRef) -> Result<Tokens, BuildError> {
        match spec {
            CorpusSpec::Grammar { train_seed, valid_seed, train_tokens, valid_tokens, .. } => {
                let (train, valid) = family.token_streams(&family.grammar_corpus(*train_seed, *train_tokens), &family.grammar_corpus(*valid_seed, *valid_tokens))?;
                Ok(Tokens { train: train.ids, valid, vocab: train.vocab })
            }
            CorpusSpec::File { path, valid_fraction, .. } => {
                let content = std::fs::read_to_string(path).map_err(io(path))?;
                let stream = family.token_stream(&Corpus::new(content, path.display().to_string()))?;
                let mut all = stream.ids;
                let cut = ((all.len() as f64) * (1.0 - valid_fraction)).round() as usize;
                let valid = all.split_off(cut.min(all.len()));
                Ok(Tokens { train: all, valid, vocab: stream.vocab })
            }
        }
    }
}
