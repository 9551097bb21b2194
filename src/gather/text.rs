//! The minibatch: real text, tokenised by GPT-2's byte-level BPE (the `r50k_base` ranks that
//! ship inside the `tiktoken-rs` crate), the same for every architecture of a benchmark.
//!
//! * GPT-2: the BPE ids as they are (vocabulary 50257 ≤ the benchmark's 50264). The token
//!   stream is cut into `batch` consecutive segments of `len + 1` tokens; inputs are the first
//!   `len`, targets the next-token shift.
//! * FlexiBERT: the benchmark's vocabulary is BERT's 30522 WordPiece ids, whose vocabulary file
//!   cannot be shipped here. Each BPE id `x` becomes `x + 999` when that is below 30522 (above
//!   the special ids `[PAD]` 0, `[UNK]` 100, `[CLS]` 101, `[SEP]` 102, `[MASK]` 103), else
//!   `[UNK]`. Sequences are the corpus's non-empty lines, as `[CLS] tokens [SEP]`, truncated
//!   and padded to `len`; 15% of the real tokens (at least one per sequence) are replaced by
//!   `[MASK]` for the masked-language-model loss, chosen by the seed.
//!
//! A randomly initialised network does not know which id means which word, so the remapping
//! keeps what matters at initialisation: token frequencies, sequence structure and padding.

use crate::models::flexibert::MlmBatch;
use crate::models::gpt2::LmBatch;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use fnv::fnv64;

/// The text used when no corpus is given: a few paragraphs of plain English written for lpzero.
pub const BUILTIN_CORPUS: &str = include_str!("builtin.txt");

/// BERT's special ids.
pub mod bert_ids {
    /// `[PAD]`.
    pub const PAD: u32 = 0;
    /// `[UNK]`.
    pub const UNK: u32 = 100;
    /// `[CLS]`.
    pub const CLS: u32 = 101;
    /// `[SEP]`.
    pub const SEP: u32 = 102;
    /// `[MASK]`.
    pub const MASK: u32 = 103;
}

/// A problem building a minibatch.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TextError {
    /// The corpus is too short for the requested batch.
    #[error("the corpus has {have} tokens, but a batch of {batch} × {len} needs {need}; use a longer --corpus or a smaller --batch/--seq-len")]
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
    #[error("the corpus gives {have} sequences of up to {len} tokens, but the batch needs {batch}; use a longer --corpus or a smaller --batch")]
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
    #[error("batch size and sequence length must be positive (and the sequence length at least 3 for FlexiBERT)")]
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

/// The next-token minibatch of GPT-2.
pub fn lm_batch(corpus: &Corpus, batch: usize, len: usize) -> Result<LmBatch, TextError> {
    if batch == 0 || len == 0 {
        return Err(TextError::Empty);
    }
    let tokens = corpus.tokens()?;
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

/// Maps a GPT-2 BPE id into BERT's id range (see the module documentation).
pub fn bert_id(bpe: u32) -> u32 {
    let id = bpe + 999;
    if id < crate::models::flexibert::VOCAB as u32 {
        id
    } else {
        bert_ids::UNK
    }
}

/// The masked-language-model minibatch of FlexiBERT.
pub fn mlm_batch(corpus: &Corpus, batch: usize, len: usize, seed: u64) -> Result<MlmBatch, TextError> {
    if batch == 0 || len < 3 {
        return Err(TextError::Empty);
    }
    if corpus.tokenizer != Tokenizer::Bpe {
        return Err(TextError::Tokenize("FlexiBERT minibatches need BPE text (the built-in grammar is for GPT-2 benchmarks)".into()));
    }
    let bpe = tiktoken_rs::r50k_base_singleton();
    // Each non-empty line (a paragraph; WikiText headings `= … =` skipped) gives one sequence per
    // `len − 2` tokens; a short line is padded.
    let mut sequences: Vec<Vec<u32>> = vec![];
    for line in corpus.text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('=')) {
        let tokens: Vec<u32> = bpe.encode_ordinary(line).into_iter().map(bert_id).collect();
        sequences.extend(tokens.chunks(len - 2).map(<[u32]>::to_vec));
        if sequences.len() >= batch {
            break;
        }
    }
    if sequences.len() < batch {
        return Err(TextError::TooFewSequences { have: sequences.len(), batch, len });
    }
    sequences.truncate(batch);
    mlm_rows(&sequences, len, seed)
}

/// A masked-language-model minibatch of token rows (BERT ids, each at most `len − 2` long and
/// not empty): each row becomes `[CLS] row [SEP]`, padded to `len`, and 15% of its word tokens
/// (at least one) are replaced by `[MASK]`, chosen by a generator seeded with `seed`.
pub fn mlm_rows(rows: &[Vec<u32>], len: usize, seed: u64) -> Result<MlmBatch, TextError> {
    if rows.is_empty() || len < 3 || rows.iter().any(|r| r.is_empty() || r.len() > len - 2) {
        return Err(TextError::Empty);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut ids, mut attention, mut masked, mut targets) = (vec![], vec![], vec![], vec![]);
    for (b, tokens) in rows.iter().enumerate() {
        let mut row: Vec<u32> = vec![bert_ids::CLS];
        row.extend_from_slice(tokens);
        row.push(bert_ids::SEP);
        let real = row.len();
        // Mask 15% of the word tokens (not [CLS]/[SEP]), at least one.
        let mut candidates: Vec<usize> = (1..real - 1).collect();
        candidates.shuffle(&mut rng);
        let k = ((candidates.len() as f64 * 0.15).round() as usize).max(1).min(candidates.len());
        let mut chosen = candidates[..k].to_vec();
        chosen.sort_unstable();
        for &t in &chosen {
            masked.push(b * len + t);
            targets.push(row[t]);
            row[t] = bert_ids::MASK;
        }
        row.resize(len, bert_ids::PAD);
        attention.extend((0..len).map(|t| u8::from(t < real)));
        ids.extend(row);
    }
    Ok(MlmBatch { batch: rows.len(), len, ids, attention, masked, targets })
}

/// The BERT ids of a corpus for FlexiBERT: GPT-2 BPE ids mapped by [`bert_id`] (the built-in
/// grammar's text is BPE-tokenised here too).
pub fn bert_stream(corpus: &Corpus) -> Vec<u32> {
    tiktoken_rs::r50k_base_singleton().encode_ordinary(&corpus.text).into_iter().map(bert_id).collect()
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
    fn gpt2_batch_is_the_stream_and_its_shift() {
        let c = Corpus::builtin();
        let tokens = c.tokens().unwrap();
        let b = lm_batch(&c, 2, 8).unwrap();
        assert_eq!(&b.ids[..8], &tokens[..8]);
        assert_eq!(&b.targets[..8], &tokens[1..9]);
        assert_eq!(&b.ids[8..], &tokens[9..17]);
        assert!(matches!(lm_batch(&c, 100, 192), Err(TextError::TooShort { .. })));
    }

    #[test]
    fn mlm_batch_has_cls_sep_padding_and_masks() {
        let c = Corpus::builtin();
        let b = mlm_batch(&c, 3, 64, 7).unwrap();
        assert_eq!(b.ids.len(), 3 * 64);
        for row in 0..3 {
            assert_eq!(b.ids[row * 64], bert_ids::CLS);
            let real = b.attention[row * 64..(row + 1) * 64].iter().filter(|&&m| m == 1).count();
            assert!(b.ids[row * 64..row * 64 + real].contains(&bert_ids::SEP) || real == 64);
            assert!(b.ids[row * 64 + real..(row + 1) * 64].iter().all(|&i| i == bert_ids::PAD));
        }
        assert!(!b.masked.is_empty());
        for (&pos, &target) in b.masked.iter().zip(&b.targets) {
            assert_eq!(b.ids[pos], bert_ids::MASK);
            assert!(target > bert_ids::MASK && (target as usize) < crate::models::flexibert::VOCAB || target == bert_ids::UNK);
        }
        // Deterministic in the seed.
        assert_eq!(b, mlm_batch(&c, 3, 64, 7).unwrap());
        assert_ne!(b.masked, mlm_batch(&c, 3, 64, 8).unwrap().masked);
    }
}
