//! Search spaces of Transformer-XL decoders (`family: transxl`): the choices per dimension, with
//! `n_head` and `d_inner` drawn per layer (heads among the choices that divide `d_model`), and the
//! vocabulary, cut-offs, projection ties, segment and memory lengths and init standard deviations
//! fixed for the space. Shipped: `spaces/transxl-wt103.yaml`, read off the benchmark's 200
//! configurations.

use super::bench::{parse_config, TxlArch};
use crate::family::space::{sample_distinct, ArchSpace, Dim, SpaceError};
use crate::family::{Arch, Family, FamilyRef};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A search space of Transformer-XL decoders.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxlSpace {
    /// A short name.
    pub name: String,
    /// The family (`transxl`).
    pub family: String,
    /// Number of decoder layers.
    pub n_layer: Dim,
    /// Hidden size.
    pub d_model: Dim,
    /// Embedding width of the head cluster (drawn independently of `d_model`).
    pub d_embed: Dim,
    /// Adaptive embedding divisor.
    pub div_val: Dim,
    /// Attention heads, per layer.
    pub n_head: Dim,
    /// FFN inner width, per layer.
    pub d_inner: Dim,
    /// Vocabulary size.
    pub n_token: usize,
    /// Adaptive softmax cut-offs (as stored).
    pub cutoffs: Vec<usize>,
    /// Per-cluster projection tying.
    pub tie_projs: Vec<bool>,
    /// Segment length.
    pub tgt_len: usize,
    /// Memory length.
    pub mem_len: usize,
    /// Init std of weights.
    pub init_std: f64,
    /// Init std of projections.
    pub proj_init_std: f64,
}

impl TxlSpace {
    /// Parses a space from YAML text and checks it (a sampled architecture is parsed as its
    /// configuration would be, so the space's fixed values are checked there too).
    pub fn parse(text: &str, origin: &str) -> Result<TxlSpace, SpaceError> {
        let err = |message: String| SpaceError::parse(origin, message);
        let space: TxlSpace = serde_norway::from_str(text).map_err(|e| err(e.to_string()))?;
        if space.family != super::TRANSXL.name() {
            return Err(err(format!("family `{}` is not supported here: this space needs `family: {}`", space.family, super::TRANSXL.name())));
        }
        for (name, dim) in [("n_layer", &space.n_layer), ("d_model", &space.d_model), ("d_embed", &space.d_embed), ("div_val", &space.div_val), ("n_head", &space.n_head), ("d_inner", &space.d_inner)] {
            dim.check(name).map_err(err)?;
        }
        for d in space.d_model.values() {
            if !space.n_head.values().iter().any(|h| d % h == 0) {
                return Err(err(format!("no n_head choice divides d_model {d}")));
            }
        }
        // One architecture of every d_model, d_embed and div_val must build.
        for d in space.d_model.values() {
            for e in space.d_embed.values() {
                for v in space.div_val.values() {
                    let h = space.n_head.values().into_iter().find(|h| d % h == 0).expect("checked above");
                    space.config(&format!("check_{d}_{e}_{v}"), 1, d, e, v, &[h], &[space.d_inner.values()[0]]).map_err(err)?;
                }
            }
        }
        Ok(space)
    }

    /// The architecture of one draw, through the configuration parser.
    #[allow(clippy::too_many_arguments)]
    fn config(&self, key: &str, n_layer: usize, d_model: usize, d_embed: usize, div_val: usize, n_head: &[usize], d_inner: &[usize]) -> Result<TxlArch, String> {
        let text = super::config_yaml(&super::ConfigFields {
            n_token: self.n_token,
            n_layer,
            d_model,
            d_embed,
            n_head,
            d_head: None,
            d_inner,
            div_val,
            cutoffs: &self.cutoffs,
            tie_projs: &self.tie_projs,
            tgt_len: self.tgt_len,
            mem_len: self.mem_len,
            tie_weight: true,
            init_std: self.init_std,
            proj_init_std: self.proj_init_std,
        });
        parse_config(std::path::Path::new(&self.name), key, &text).map_err(|e| e.to_string())
    }

    fn draw(&self, key: String, rng: &mut ChaCha8Rng) -> TxlArch {
        let n_layer = self.n_layer.pick(rng);
        let d_model = self.d_model.pick(rng);
        let d_embed = self.d_embed.pick(rng);
        let div_val = self.div_val.pick(rng);
        let heads = Dim::Choices(self.n_head.values().into_iter().filter(|h| d_model % h == 0).collect());
        let n_head: Vec<usize> = (0..n_layer).map(|_| heads.pick(rng)).collect();
        let d_inner: Vec<usize> = (0..n_layer).map(|_| self.d_inner.pick(rng)).collect();
        self.config(&key, n_layer, d_model, d_embed, div_val, &n_head, &d_inner).expect("checked when the space was parsed")
    }
}

impl ArchSpace for TxlSpace {
    fn family(&self) -> FamilyRef {
        FamilyRef(&super::TRANSXL)
    }

    fn name(&self) -> &str {
        &self.name
    }

    /// Architectures keyed `config_<i>_j0`.
    fn sample(&self, n: usize, seed: u64) -> Result<Vec<Arc<dyn Arch>>, SpaceError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7a1_5eed);
        let same = |a: &TxlArch, b: &TxlArch| {
            (a.n_layer, a.d_model, a.d_embed, a.div_val, &a.n_head, &a.d_inner) == (b.n_layer, b.d_model, b.d_embed, b.div_val, &b.n_head, &b.d_inner)
        };
        sample_distinct(&self.name, n, &mut rng, |i, rng| self.draw(format!("config_{i}_j0"), rng), same)
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a plain struct serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_space_samples_benchmark_like_decoders_that_round_trip() {
        let space = TxlSpace::parse(super::super::WT103, "transxl-wt103").unwrap();
        let a = space.sample(12, 3).unwrap();
        assert_eq!(format!("{:?}", &a[..4]), format!("{:?}", space.sample(4, 3).unwrap()));
        for arch in &a {
            let t: &TxlArch = arch.as_any().downcast_ref().unwrap();
            assert!((5..=8).contains(&t.n_layer) && [64, 128, 256, 512].contains(&t.d_model));
            assert!(t.d_inner.iter().all(|d| (512..=2048).contains(d)));
            assert_eq!(t.n_token, 267_736);
            let back = parse_config(std::path::Path::new("x"), &t.key, &super::super::model_config_yaml(t)).unwrap();
            assert_eq!(&back, t);
        }
        let bad = super::super::WT103.replace("n_head: [2, 4, 8]", "n_head: [3]");
        assert!(TxlSpace::parse(&bad, "x").unwrap_err().to_string().contains("no n_head choice divides d_model 64"));
    }
}
