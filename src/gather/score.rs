//! `lpzero score`: one architecture gathered once, every proxy scored on it.

use super::text::Corpus;
use super::{gather, GatherError, GatherOptions};
use crate::family::Arch;
use crate::lang::Proxy;
pub use crate::rank::ProxyScore;
use serde::Serialize;

/// The result of scoring one architecture.
#[derive(Clone, Debug, Serialize)]
pub struct ScoreReport {
    /// The architecture id.
    pub arch: String,
    /// Its family.
    pub family: String,
    /// Parameters of the model.
    pub params: usize,
    /// The loss of the forward pass.
    pub loss: f64,
    /// Seconds the gather took.
    pub gather_seconds: f64,
    /// Sequences per minibatch.
    pub batch: usize,
    /// Tokens per sequence.
    pub seq_len: usize,
    /// The seed.
    pub seed: u64,
    /// The minibatch text.
    pub corpus: String,
    /// One score per proxy.
    pub proxies: Vec<ProxyScore>,
}

/// Gathers `arch` once and scores every proxy on its inputs.
pub fn score(arch: &dyn Arch, proxies: &[Proxy], corpus: &Corpus, opts: &GatherOptions, device: &burn::tensor::Device) -> Result<ScoreReport, GatherError> {
    let g = gather(arch, corpus, opts, device)?;
    let proxies = crate::rank::score_all(&g.inputs, proxies);
    Ok(ScoreReport {
        arch: arch.id(),
        family: arch.family().name().to_owned(),
        params: g.params,
        loss: g.loss,
        gather_seconds: g.seconds,
        batch: opts.batch,
        seq_len: opts.seq_len,
        seed: opts.seed,
        corpus: corpus.source.clone(),
        proxies,
    })
}
