//! Text and token streams: a corpus (real text tokenised by GPT-2's byte-level BPE, the
//! `r50k_base` ranks that ship inside the `tiktoken-rs` crate, or lpzero's built-in grammar with
//! its lexicon), and the causal-LM minibatches made from a token stream, the same for every
//! architecture: the gather's (`batch` consecutive segments of `len + 1` tokens; inputs the first
//! `len`, targets the next-token shift) and `bench build`'s (seeded random windows per training
//! step, consecutive windows for validation). A family whose tokens or objective differ makes its
//! own from these (`crate::family`).

use crate::models::batch::LmBatch;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use fnv::fnv64;

/// The text used when no corpus is given: a few paragraphs of plain English written for lpzero.
pub const BUILTIN_CORPUS: &str = include_str!("builtin.txt");

/// A problem building a minibatch.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TextError {
    /// The corpus is too short for the requested batch.
    #[error("the corpus has {have} tokens, but a batch of {batch} × {len} needs {need} (with the minibatches before it, when several are asked for); use a longer --corpus, a smaller --batch/--seq-len or fewer --minibatches")]
    TooShort {
        /// Tokens available.
        have: usize,
        /// Tokens needed.
        need: usize,
        /// Batch size.
        batch: usize,
        /// Sequence length.
        len: usize,
    },
    /// The corpus has too few lines for the requested batch.
    #[error("the corpus gives {have} sequences of up to {len} tokens, but the batch needs {batch} (and as many for each minibatch before it, when several are asked for); use a longer --corpus, a smaller --batch or fewer --minibatches")]
    TooFewSequences {
        /// Sequences available.
        have: usize,
        /// Batch size.
        batch: usize,
        /// Sequence length.
        len: usize,
    },
    /// The text has a word the tokenizer does not know.
    #[error("cannot tokenise the corpus: {0}")]
    Tokenize(String),
    /// A token id is outside the model's vocabulary.
    #[error("token id {id} is outside the model's vocabulary of {vocab}")]
    OutOfVocabulary {
        /// The id.
        id: u32,
        /// The model's vocabulary size.
        vocab: usize,
    },
    /// Batch size or sequence length is zero (or too short for `[CLS] … [SEP]`).
    #[error("batch size and sequence length must be positive (and the sequence length at least 3 for a masked-LM minibatch)")]
    Empty,
}

/// How a corpus's text becomes token ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tokenizer {
    /// GPT-2's byte-level BPE (ids below 50257).
    Bpe,
    /// Whitespace-separated words of the built-in grammar's lexicon
    /// ([`super::synthetic::Lexicon`], ids below its size).
    Lexicon,
}

/// A corpus and its identity.
#[derive(Clone, Debug)]
pub struct Corpus {
    /// The text.
    pub text: String,
    /// Where it came from (a path, `builtin`, or `grammar:<seed>`).
    pub source: String,
    /// A 64-bit FNV-1a hash of the text (and of the tokenizer, when it is not BPE), for cache
    /// keys and reports.
    pub hash: u64,
    /// How the text is tokenised.
    pub tokenizer: Tokenizer,
}

impl Corpus {
    /// A corpus from text, tokenised by GPT-2's BPE.
    pub fn new(text: String, source: impl Into<String>) -> Self {
        let hash = fnv64(text.as_bytes());
        Corpus { text, source: source.into(), hash, tokenizer: Tokenizer::Bpe }
    }

    /// The built-in text.
    pub fn builtin() -> Self {
        Corpus::new(BUILTIN_CORPUS.to_owned(), "builtin")
    }

    /// At least `min_tokens` words of the built-in grammar (`super::synthetic`) from `seed`,
    /// tokenised by its lexicon.
    pub fn grammar(seed: u64, min_tokens: usize) -> Self {
        let text = super::synthetic::text(seed, min_tokens);
        let hash = fnv64(format!("lexicon-v{}\n{text}", super::synthetic::VERSION).as_bytes());
        Corpus { text, source: format!("grammar:{seed}"), hash, tokenizer: Tokenizer::Lexicon }
    }

    /// The token ids of the whole text.
    pub fn tokens(&self) -> Result<Vec<u32>, TextError> {
        match self.tokenizer {
            Tokenizer::Bpe => Ok(tiktoken_rs::r50k_base_singleton().encode_ordinary(&self.text)),
            Tokenizer::Lexicon => super::synthetic::Lexicon::standard().encode(&self.text).map_err(|e| TextError::Tokenize(e.to_string())),
        }
    }

    /// The largest id [`Corpus::tokens`] can give, plus one.
    pub fn vocab_size(&self) -> usize {
        match self.tokenizer {
            Tokenizer::Bpe => 50257,
            Tokenizer::Lexicon => super::synthetic::Lexicon::standard().len(),
        }
    }
}

/// The gather's next-token minibatch: `batch` consecutive segments of `len + 1` tokens of the
/// stream.
pub fn lm_batch(tokens: &[u32], batch: usize, len: usize) -> Result<LmBatch, TextError> {
    if batch == 0 || len == 0 {
        return Err(TextError::Empty);
    }
    let need = batch * (len + 1);
    if tokens.len() < need {
        return Err(TextError::TooShort { have: tokens.len(), need, batch, len });
    }
    let (mut ids, mut targets) = (Vec::with_capacity(batch * len), Vec::with_capacity(batch * len));
    for b in 0..batch {
        let seg = &tokens[b * (len + 1)..(b + 1) * (len + 1)];
        ids.extend_from_slice(&seg[..len]);
        targets.extend_from_slice(&seg[1..]);
    }
    Ok(LmBatch { batch, len, ids, targets })
}

/// The `index`-th causal minibatch of a token stream (counting from 0): [`lm_batch`] of the
/// stream after the `index` minibatches before it. Too short a stream is an error that counts
/// every token up to the end of this minibatch.
pub fn lm_batch_at(tokens: &[u32], batch: usize, len: usize, index: usize) -> Result<LmBatch, TextError> {
    let skip = index * batch * (len + 1);
    let too_short = || TextError::TooShort { have: tokens.len(), need: skip + batch * (len + 1), batch, len };
    match tokens.get(skip..) {
        Some(rest) => lm_batch(rest, batch, len).map_err(|e| if matches!(e, TextError::TooShort { .. }) { too_short() } else { e }),
        None if batch == 0 || len == 0 => Err(TextError::Empty),
        None => Err(too_short()),
    }
}

/// The seed of training step `step` of a build with seed `seed` (every architecture of a build
/// sees the same minibatches).
pub fn step_seed(seed: u64, step: usize) -> u64 {
    seed.wrapping_mul(0x2545F4914F6CDD1D) ^ (step as u64 + 1).wrapping_mul(0x9E3779B97F4A7C15)
}

/// The causal training minibatch of step `step`: `batch` windows of `len + 1` tokens at offsets
/// drawn from (seed, step).
pub fn causal_train_batch(tokens: &[u32], batch: usize, len: usize, seed: u64, step: usize) -> LmBatch {
    let mut rng = ChaCha8Rng::seed_from_u64(step_seed(seed, step));
    let last = tokens.len() - (len + 1);
    let (mut ids, mut targets) = (Vec::with_capacity(batch * len), Vec::with_capacity(batch * len));
    for _ in 0..batch {
        let o = rng.random_range(0..=last);
        ids.extend_from_slice(&tokens[o..o + len]);
        targets.extend_from_slice(&tokens[o + 1..o + len + 1]);
    }
    LmBatch { batch, len, ids, targets }
}

/// The causal validation minibatches: consecutive windows of `len + 1` tokens, `batch` per
/// minibatch, the first `sequences` windows.
pub fn causal_valid_batches(tokens: &[u32], sequences: usize, batch: usize, len: usize) -> Vec<LmBatch> {
    let windows: Vec<&[u32]> = tokens.chunks_exact(len + 1).take(sequences).collect();
    windows
        .chunks(batch.max(1))
        .map(|group| LmBatch {
            batch: group.len(),
            len,
            ids: group.iter().flat_map(|w| w[..len].iter().copied()).collect(),
            targets: group.iter().flat_map(|w| w[1..].iter().copied()).collect(),
        })
        .collect()
}

/// FNV-1a, a small stable hash for identities (not for security).
mod fnv {
    /// 64-bit FNV-1a of bytes.
    pub fn fnv64(bytes: &[u8]) -> u64 {
        let mut h: u64 = 0xcbf29ce484222325;
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        h
    }
}

/// A stable 64-bit hash of a string (FNV-1a), for seeds and cache keys.
pub fn hash_str(s: &str) -> u64 {
    fnv64(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causal_batch_is_the_stream_and_its_shift() {
        let c = Corpus::builtin();
        let tokens = c.tokens().unwrap();
        let b = lm_batch(&tokens, 2, 8).unwrap();
        assert_eq!(&b.ids[..8], &tokens[..8]);
        assert_eq!(&b.targets[..8], &tokens[1..9]);
        assert_eq!(&b.ids[8..], &tokens[9..17]);
        assert!(matches!(lm_batch(&tokens, 100, 192), Err(TextError::TooShort { .. })));
    }

    #[test]
    fn the_kth_causal_minibatch_follows_the_ones_before_it() {
        let tokens: Vec<u32> = (0..40).collect();
        assert_eq!(lm_batch_at(&tokens, 2, 3, 0).unwrap(), lm_batch(&tokens, 2, 3).unwrap());
        // Minibatch 2 of 2 × (3 + 1) tokens starts at token 16.
        let b = lm_batch_at(&tokens, 2, 3, 2).unwrap();
        assert_eq!((b.ids, b.targets), (vec![16, 17, 18, 20, 21, 22], vec![17, 18, 19, 21, 22, 23]));
        // Minibatch 4 would end at token 40 = the stream; minibatch 5 needs 48.
        assert!(lm_batch_at(&tokens, 2, 3, 4).is_ok());
        assert_eq!(lm_batch_at(&tokens, 2, 3, 5), Err(TextError::TooShort { have: 40, need: 48, batch: 2, len: 3 }));
        assert_eq!(lm_batch_at(&tokens, 2, 3, 9), Err(TextError::TooShort { have: 40, need: 80, batch: 2, len: 3 }));
        assert_eq!(lm_batch_at(&tokens, 0, 3, 9), Err(TextError::Empty));
    }
}
