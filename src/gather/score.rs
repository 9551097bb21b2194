//! `lpzero score`: one architecture gathered once, every proxy scored on it.

use super::text::Corpus;
use super::{gather, GatherError, GatherOptions};
use crate::eval::Interpreter;
use crate::family::Arch;
use crate::lang::Proxy;
use serde::Serialize;
use std::time::Instant;

/// One proxy's score on the architecture.
#[derive(Clone, Debug, Serialize)]
pub struct ProxyScore {
    /// The proxy's name.
    pub proxy: String,
    /// Its canonical text.
    pub text: String,
    /// The score, when valid.
    pub score: Option<f64>,
    /// Why it is invalid.
    pub invalid: Option<String>,
    /// Seconds it took.
    pub eval_seconds: f64,
}

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
    let mut interp = Interpreter::new(&g.inputs);
    let proxies = proxies
        .iter()
        .map(|p| {
            let t = Instant::now();
            let r = interp.score(&p.typed);
            let eval_seconds = t.elapsed().as_secs_f64();
            ProxyScore { proxy: p.name.clone(), text: p.text(), score: r.as_ref().ok().copied(), invalid: r.err().map(|e| e.reason), eval_seconds }
        })
        .collect();
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
