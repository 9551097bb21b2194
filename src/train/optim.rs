//! AdamW with global-norm gradient clipping and a warm-up + cosine learning-rate schedule, on
//! the models' [`ParamStore`].
//!
//! lpzero's models are parameter declarations evaluated by plain functions, not burn `Module`s,
//! so burn's optimisers (which walk a module's parameters) do not apply; the update below is
//! AdamW as Loshchilov & Hutter define it (decoupled weight decay, bias-corrected moments),
//! written on burn tensors so it runs on the model's device.

use crate::models::params::ParamStore;
use burn::tensor::{Gradients, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Optimiser and schedule settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimConfig {
    /// Peak learning rate.
    pub lr: f64,
    /// Linear warm-up steps (from `lr / warmup` to `lr`).
    pub warmup: usize,
    /// Learning rate at the last step, as a fraction of the peak (cosine decay to it).
    pub final_lr_fraction: f64,
    /// Adam β₁.
    pub beta1: f64,
    /// Adam β₂.
    pub beta2: f64,
    /// Adam ε.
    pub eps: f64,
    /// Decoupled weight decay, applied to matrices only (not biases, LayerNorms, or vectors).
    pub weight_decay: f64,
    /// Clip the global gradient norm to this (0: no clipping).
    pub clip_norm: f64,
}

impl Default for OptimConfig {
    /// The usual small-LM recipe: lr 1e-3, β = (0.9, 0.95), ε 1e-8, weight decay 0.01, clip 1.0,
    /// 10% warm-up is set by the caller, cosine to 10%.
    fn default() -> Self {
        OptimConfig { lr: 1e-3, warmup: 0, final_lr_fraction: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.01, clip_norm: 1.0 }
    }
}

/// The learning rate at `step` (0-based) of `total`.
pub fn learning_rate(cfg: &OptimConfig, step: usize, total: usize) -> f64 {
    if step < cfg.warmup {
        return cfg.lr * (step + 1) as f64 / cfg.warmup as f64;
    }
    let span = total.saturating_sub(cfg.warmup).max(1) as f64;
    let progress = ((step - cfg.warmup) as f64 / span).min(1.0);
    let floor = cfg.lr * cfg.final_lr_fraction;
    floor + (cfg.lr - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
}

/// AdamW state: first and second moments per parameter.
pub struct AdamW {
    cfg: OptimConfig,
    moments: BTreeMap<String, (Tensor<2>, Tensor<2>)>,
    step: usize,
}

impl AdamW {
    /// A fresh optimiser.
    pub fn new(cfg: OptimConfig) -> Self {
        AdamW { cfg, moments: BTreeMap::new(), step: 0 }
    }

    /// One update of every parameter that received a gradient, at learning rate `lr`. Returns
    /// the global gradient norm before clipping.
    pub fn step(&mut self, store: &mut ParamStore, grads: &Gradients, lr: f64) -> f64 {
        self.step += 1;
        let cfg = &self.cfg;
        let grads: Vec<(String, Tensor<2>)> = store.iter().filter_map(|(name, t, _)| t.grad(grads).map(|g| (name.to_owned(), g))).collect();
        let norm = grads.iter().map(|(_, g)| g.clone().square().sum().into_scalar::<f64>()).sum::<f64>().sqrt();
        let scale = if cfg.clip_norm > 0.0 && norm > cfg.clip_norm { cfg.clip_norm / norm } else { 1.0 };
        let (b1, b2) = (cfg.beta1, cfg.beta2);
        let c1 = 1.0 - b1.powi(self.step as i32);
        let c2 = 1.0 - b2.powi(self.step as i32);
        for (name, g) in grads {
            let g = if scale < 1.0 { g * scale } else { g };
            let (m, v) = match self.moments.remove(&name) {
                Some((m, v)) => (m * b1 + g.clone() * (1.0 - b1), v * b2 + g.square() * (1.0 - b2)),
                None => (g.clone() * (1.0 - b1), g.square() * (1.0 - b2)),
            };
            let p = store.matrix(&name).inner();
            let decay = if store.is_matrix(&name) { cfg.weight_decay } else { 0.0 };
            let update = (m.clone() / c1) / ((v.clone() / c2).sqrt() + cfg.eps);
            let p = p.clone() - update * lr - p * (lr * decay);
            store.replace(&name, p);
            self.moments.insert(name, (m, v));
        }
        norm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays_to_the_floor() {
        let cfg = OptimConfig { lr: 1.0, warmup: 10, final_lr_fraction: 0.1, ..OptimConfig::default() };
        assert!((learning_rate(&cfg, 0, 100) - 0.1).abs() < 1e-12);
        assert!((learning_rate(&cfg, 9, 100) - 1.0).abs() < 1e-12);
        assert!((learning_rate(&cfg, 10, 100) - 1.0).abs() < 1e-12);
        assert!((learning_rate(&cfg, 55, 100) - 0.55).abs() < 1e-12, "halfway is the mean of peak and floor");
        assert!((learning_rate(&cfg, 100, 100) - 0.1).abs() < 1e-12);
    }
}
