//! FlexiBERT's minibatches: BERT's id range and masked-language-model batches.
//!
//! The benchmark's vocabulary is BERT's 30522 WordPiece ids, whose vocabulary file cannot be
//! shipped here. Each GPT-2 BPE id `x` becomes `x + 999` when that is below 30522 (above the
//! special ids `[PAD]` 0, `[UNK]` 100, `[CLS]` 101, `[SEP]` 102, `[MASK]` 103), else `[UNK]`.
//! The gather's sequences are the corpus's non-empty lines, as `[CLS] tokens [SEP]`, truncated
//! and padded to `len`; 15% of the real tokens (at least one per sequence) are replaced by
//! `[MASK]` for the masked-language-model loss, chosen by the seed. A randomly initialised
//! network does not know which id means which word, so the remapping keeps what matters at
//! initialisation: token frequencies, sequence structure and padding.

use super::model::VOCAB;
use crate::gather::text::{step_seed, Corpus, TextError, Tokenizer};
use crate::models::batch::MlmBatch;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

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

/// Maps a GPT-2 BPE id into BERT's id range (see the module documentation).
pub fn bert_id(bpe: u32) -> u32 {
    let id = bpe + 999;
    if id < VOCAB as u32 {
        id
    } else {
        bert_ids::UNK
    }
}

/// The masked-language-model minibatch the gather uses: one sequence per `len − 2` tokens of
/// each non-empty line (WikiText headings `= … =` skipped), the first `batch` of them.
pub fn mlm_batch(corpus: &Corpus, batch: usize, len: usize, seed: u64, index: usize) -> Result<MlmBatch, TextError> {
    if batch == 0 || len < 3 {
        return Err(TextError::Empty);
    }
    if corpus.tokenizer != Tokenizer::Bpe {
        return Err(TextError::Tokenize("masked-LM minibatches need BPE text (the built-in grammar's lexicon ids are for causal models)".into()));
    }
    let bpe = tiktoken_rs::r50k_base_singleton();
    let mut sequences: Vec<Vec<u32>> = vec![];
    for line in corpus.text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('=')) {
        let tokens: Vec<u32> = bpe.encode_ordinary(line).into_iter().map(bert_id).collect();
        sequences.extend(tokens.chunks(len - 2).map(<[u32]>::to_vec));
        if sequences.len() >= (index + 1) * batch {
            break;
        }
    }
    if sequences.len() < (index + 1) * batch {
        return Err(TextError::TooFewSequences { have: sequences.len().saturating_sub(index * batch), batch, len });
    }
    let rows = &sequences[index * batch..(index + 1) * batch];
    // The first minibatch keeps the run's mask seed; later ones mix their index into it.
    mlm_rows(rows, len, if index == 0 { seed } else { step_seed(seed, index) })
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

/// The BERT ids of a corpus: GPT-2 BPE ids mapped by [`bert_id`] (the built-in grammar's text is
/// BPE-tokenised here too).
pub fn bert_stream(corpus: &Corpus) -> Vec<u32> {
    tiktoken_rs::r50k_base_singleton().encode_ordinary(&corpus.text).into_iter().map(bert_id).collect()
}

/// The training minibatch of step `step`: `batch` windows of `len − 2` BERT ids at offsets drawn
/// from (seed, step), masked by a generator seeded from the same.
pub fn train_mlm_batch(tokens: &[u32], batch: usize, len: usize, seed: u64, step: usize) -> Result<MlmBatch, TextError> {
    let n = len.saturating_sub(2).max(1);
    let step_seed = step_seed(seed, step);
    let mut rng = ChaCha8Rng::seed_from_u64(step_seed);
    let last = tokens.len().saturating_sub(n);
    let rows: Vec<Vec<u32>> = (0..batch)
        .map(|_| {
            let o = rng.random_range(0..=last);
            tokens[o..o + n].to_vec()
        })
        .collect();
    mlm_rows(&rows, len, step_seed ^ 0x6d61_736b)
}

/// The validation minibatches: consecutive windows of `len − 2` ids, `batch` per minibatch, masks
/// seeded by `seed` and the minibatch's index.
pub fn valid_mlm_batches(tokens: &[u32], sequences: usize, batch: usize, len: usize, seed: u64) -> Result<Vec<MlmBatch>, TextError> {
    let n = len.saturating_sub(2).max(1);
    let windows: Vec<Vec<u32>> = tokens.chunks_exact(n).take(sequences).map(<[u32]>::to_vec).collect();
    windows.chunks(batch.max(1)).enumerate().map(|(i, rows)| mlm_rows(rows, len, seed ^ (0x7a11d ^ i as u64))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlm_batch_has_cls_sep_padding_and_masks() {
        let c = Corpus::builtin();
        let b = mlm_batch(&c, 3, 64, 7, 0).unwrap();
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
            assert!(target > bert_ids::MASK && (target as usize) < VOCAB || target == bert_ids::UNK);
        }
        // Deterministic in the seed.
        assert_eq!(b, mlm_batch(&c, 3, 64, 7, 0).unwrap());
        assert_ne!(b.masked, mlm_batch(&c, 3, 64, 8, 0).unwrap().masked);
    }

    #[test]
    fn the_kth_masked_minibatch_takes_the_sequences_after_the_ones_before_it() {
        let c = Corpus::builtin();
        let six = mlm_batch(&c, 6, 32, 7, 0).unwrap();
        let second = mlm_batch(&c, 3, 32, 7, 1).unwrap();
        // Its rows are rows 3..6 of one minibatch of 6 (the same sequences; masks differ).
        let row = |b: &MlmBatch, r: usize| -> Vec<u32> {
            let ids = &b.ids[r * 32..(r + 1) * 32];
            let orig: Vec<u32> = (0..32).map(|i| b.masked.iter().position(|&p| p == r * 32 + i).map_or(ids[i], |k| b.targets[k])).collect();
            orig
        };
        for r in 0..3 {
            assert_eq!(row(&second, r), row(&six, r + 3), "row {r}");
        }
        assert_ne!(second.masked, mlm_batch(&c, 3, 32, 7, 0).unwrap().masked);
        let too_many = mlm_batch(&c, 3, 32, 7, 10_000).unwrap_err();
        assert!(matches!(too_many, TextError::TooFewSequences { batch: 3, .. }), "{too_many}");
    }
}
