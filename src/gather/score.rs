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
    /// The loss of the forward pass (`None` when the proxies read weights only and no forward
    /// pass over the minibatch ran, or the inputs file does not say).
    pub loss: Option<f64>,
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
    /// What gathered the inputs (`lpzero 0.1.0 (flex)`, `torch 2.9.0`).
    pub framework: String,
    /// One score per proxy.
    pub proxies: Vec<ProxyScore>,
}

/// Gathers `arch` once and scores every proxy on its inputs.
pub fn score(arch: &dyn Arch, proxies: &[Proxy], corpus: &Corpus, opts: &GatherOptions, device: &burn::tensor::Device) -> Result<ScoreReport, GatherError> {
    let g = gather(arch, corpus, opts, device, &crate::rank::inputs_read(proxies))?;
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
        framework: format!("lpzero {} ({})", env!("CARGO_PKG_VERSION"), opts.device.name()),
        proxies,
    })
}

/// Scores every proxy on the inputs of an inputs file ([`crate::eval::file`]; NaN or inf in it
/// is an error), reporting what its metadata says of how they were gathered.
pub fn score_file(path: &std::path::Path, proxies: &[Proxy]) -> Result<ScoreReport, crate::eval::file::FileError> {
    let (inputs, meta) = crate::eval::file::read(path, crate::eval::file::Check::Finite)?;
    Ok(ScoreReport {
        arch: meta.arch,
        family: meta.family.unwrap_or_default(),
        params: meta.params.unwrap_or(0) as usize,
        loss: meta.loss,
        gather_seconds: meta.gather_seconds.unwrap_or(0.0),
        batch: meta.batch.unwrap_or(0),
        seq_len: meta.seq_len.unwrap_or(0),
        seed: meta.seed.unwrap_or(0),
        corpus: meta.extra.get("corpus").cloned().unwrap_or_default(),
        framework: meta.framework.unwrap_or_default(),
        proxies: crate::rank::score_all(&inputs, proxies),
    })
}
