//! Search spaces of FlexiBERT encoders as the benchmark trained them (`family: flexibert`): per
//! layer `heads`, `ffn_dim`, `num_ffn`, every layer SA-SDP (what the published networks ran
//! whatever their labels). Shipped: `spaces/flexibert.yaml`, the published benchmark's space.

use super::bench::{FlexiArch, FlexiLayer, LayerOp};
use crate::family::space::{sample_distinct, ArchSpace, Dim, SpaceError};
use crate::family::{Arch, Family, FamilyRef};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A search space of FlexiBERT encoders as the benchmark trained them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlexiSpace {
    /// A short name.
    pub name: String,
    /// The family (`flexibert`).
    pub family: String,
    /// Number of encoder layers.
    pub n_layer: Dim,
    /// Hidden size.
    pub hidden_size: Dim,
    /// Heads, per layer.
    pub heads: Dim,
    /// Feed-forward width F, per layer.
    pub ffn_dim: Dim,
    /// Feed-forward layers, per layer.
    pub num_ffn: Dim,
}

impl FlexiSpace {
    /// Parses a space from YAML text and checks it.
    pub fn parse(text: &str, origin: &str) -> Result<FlexiSpace, SpaceError> {
        let err = |message: String| SpaceError::parse(origin, message);
        let space: FlexiSpace = serde_norway::from_str(text).map_err(|e| err(e.to_string()))?;
        if space.family != super::FLEXIBERT.name() {
            return Err(err(format!("family `{}` is not supported here: this space needs `family: {}`", space.family, super::FLEXIBERT.name())));
        }
        for (name, dim) in [("n_layer", &space.n_layer), ("hidden_size", &space.hidden_size), ("heads", &space.heads), ("ffn_dim", &space.ffn_dim), ("num_ffn", &space.num_ffn)] {
            dim.check(name).map_err(err)?;
        }
        for h in space.hidden_size.values() {
            if !space.heads.values().iter().any(|n| h % n == 0) {
                return Err(err(format!("no heads choice divides hidden_size {h}")));
            }
        }
        Ok(space)
    }

    fn draw(&self, id: usize, rng: &mut ChaCha8Rng) -> FlexiArch {
        let layers_n = self.n_layer.pick(rng);
        let hidden_size = self.hidden_size.pick(rng);
        let heads: Vec<usize> = self.heads.values().into_iter().filter(|h| hidden_size % h == 0).collect();
        let layers: Vec<FlexiLayer> = (0..layers_n)
            .map(|_| FlexiLayer { op: LayerOp::SaSdp, heads: heads[rng.random_range(0..heads.len())], ffn_dim: self.ffn_dim.pick(rng), num_ffn: self.num_ffn.pick(rng) })
            .collect();
        FlexiArch { id, hidden_size, layers }
    }
}

impl ArchSpace for FlexiSpace {
    fn family(&self) -> FamilyRef {
        FamilyRef(&super::FLEXIBERT)
    }

    fn name(&self) -> &str {
        &self.name
    }

    /// Architectures with ids `0..n`.
    fn sample(&self, n: usize, seed: u64) -> Result<Vec<Arc<dyn Arch>>, SpaceError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xf1e7_5eed);
        sample_distinct(&self.name, n, &mut rng, |i, rng| self.draw(i, rng), |a, b| a.hidden_size == b.hidden_size && a.layers == b.layers)
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a plain struct serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_space_samples_trained_style_encoders() {
        let space = FlexiSpace::parse(super::super::SPACE, "flexibert").unwrap();
        let a = space.sample(20, 1).unwrap();
        assert_eq!(format!("{:?}", &a[..5]), format!("{:?}", space.sample(5, 1).unwrap()));
        for (i, arch) in a.iter().enumerate() {
            let arch = arch.as_any().downcast_ref::<FlexiArch>().unwrap();
            assert_eq!(arch.id, i);
            assert!([2, 4].contains(&arch.layers.len()) && [128, 256].contains(&arch.hidden_size));
            assert!(arch.layers.iter().all(|l| l.op == LayerOp::SaSdp && [2, 4].contains(&l.heads)));
        }
    }
}
