//! Tokenised minibatches, one type per training objective. A family's forward pass takes the
//! kind its objective needs ([`crate::family::Objective`]); everything that builds minibatches
//! (the gather, `bench build`) makes one of these.

/// A next-token (causal language-modelling) minibatch: inputs and next-token targets.
#[derive(Clone, Debug, PartialEq)]
pub struct LmBatch {
    /// Sequences.
    pub batch: usize,
    /// Tokens per sequence.
    pub len: usize,
    /// Input ids `[batch·len]`, row-major.
    pub ids: Vec<u32>,
    /// Target ids `[batch·len]`: the next token of the stream.
    pub targets: Vec<u32>,
}

/// A masked-language-model minibatch for an encoder: ids with padding, the attention mask, and
/// the masked positions the loss is computed on.
#[derive(Clone, Debug, PartialEq)]
pub struct MlmBatch {
    /// Sequences.
    pub batch: usize,
    /// Tokens per sequence.
    pub len: usize,
    /// Input ids `[batch·len]`, row-major, with masked positions replaced by the mask id.
    pub ids: Vec<u32>,
    /// 1 for real tokens, 0 for padding `[batch·len]`.
    pub attention: Vec<u8>,
    /// Flat positions (`b·len + t`) whose original token the loss predicts.
    pub masked: Vec<usize>,
    /// The original tokens at those positions.
    pub targets: Vec<u32>,
}

/// A minibatch of either objective.
#[derive(Clone, Debug, PartialEq)]
pub enum Minibatch {
    /// Next-token prediction.
    Causal(LmBatch),
    /// Masked-token prediction.
    Masked(MlmBatch),
}

impl Minibatch {
    /// Every token id the model will read or predict.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        let (a, b) = match self {
            Minibatch::Causal(b) => (&b.ids, &b.targets),
            Minibatch::Masked(b) => (&b.ids, &b.targets),
        };
        a.iter().chain(b).copied()
    }

    /// Tokens per sequence.
    pub fn len(&self) -> usize {
        match self {
            Minibatch::Causal(b) => b.len,
            Minibatch::Masked(b) => b.len,
        }
    }

    /// The minibatch as named integer arrays (what an inputs file's `minibatch` metadata holds,
    /// [`crate::eval::file::InputsMeta::minibatch`]).
    pub fn arrays(&self) -> std::collections::BTreeMap<String, Vec<i64>> {
        let ints = |v: &[u32]| v.iter().map(|&x| i64::from(x)).collect::<Vec<_>>();
        match self {
            Minibatch::Causal(b) => [("ids", ints(&b.ids)), ("targets", ints(&b.targets))].into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            Minibatch::Masked(b) => [
                ("ids", ints(&b.ids)),
                ("attention", b.attention.iter().map(|&x| i64::from(x)).collect()),
                ("masked", b.masked.iter().map(|&x| x as i64).collect()),
                ("targets", ints(&b.targets)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        }
    }

    /// True when the minibatch holds no tokens.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of predicted tokens the loss averages over (all of them, or the masked ones).
    pub fn predictions(&self) -> usize {
        match self {
            Minibatch::Causal(b) => b.batch * b.len,
            Minibatch::Masked(b) => b.masked.len(),
        }
    }
}
