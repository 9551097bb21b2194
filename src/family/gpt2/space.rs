//! Search spaces of GPT-2 flex decoders (`family: gpt2`): the choices per dimension, with
//! `n_head` and `d_inner` drawn per layer (a layer's heads among the choices that divide its
//! `d_model`); `n_token`, `cutoffs`, `tgt_len`, `tie_projs` and the init standard deviations are
//! fixed for the space. Shipped: `spaces/gpt2-wt103.yaml` (every value read off the published
//! benchmark's 200 configs) and `spaces/tiny.yaml` (the demo space of `builtin:tiny`).

use super::bench::Gpt2Arch;
use super::model::clean_cutoffs;
use crate::family::{Arch, Family, FamilyRef};
use crate::family::space::{sample_distinct, ArchSpace, Dim, SpaceError};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A search space of GPT-2 flex decoders.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gpt2Space {
    /// A short name (it names the space in reports and cache keys).
    pub name: String,
    /// The model family (`gpt2`).
    pub family: String,
    /// Number of blocks.
    pub n_layer: Dim,
    /// Hidden size.
    pub d_model: Dim,
    /// Embedding width of the head cluster.
    pub d_embed: Dim,
    /// Adaptive embedding divisor.
    pub div_val: Dim,
    /// Attention heads, per layer.
    pub n_head: Dim,
    /// FFN inner width, per layer.
    pub d_inner: Dim,
    /// Vocabulary size.
    pub n_token: usize,
    /// Adaptive softmax cutoffs (as `model_config.yaml` stores them).
    pub cutoffs: Vec<usize>,
    /// Learned positions.
    pub tgt_len: usize,
    /// Per-cluster projection tying.
    pub tie_projs: Vec<bool>,
    /// Init std of weights.
    pub weight_init_std: f64,
    /// Init std of projections.
    pub proj_init_std: f64,
}

impl Gpt2Space {
    /// Parses a space from YAML text and checks it; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Gpt2Space, SpaceError> {
        let err = |message: String| SpaceError::parse(origin, message);
        let space: Gpt2Space = serde_norway::from_str(text).map_err(|e| err(e.to_string()))?;
        if space.family != super::GPT2.name() {
            return Err(err(format!("family `{}` is not supported here: this space needs `family: {}`", space.family, super::GPT2.name())));
        }
        for (name, dim) in [("n_layer", &space.n_layer), ("d_model", &space.d_model), ("d_embed", &space.d_embed), ("div_val", &space.div_val), ("n_head", &space.n_head), ("d_inner", &space.d_inner)] {
            dim.check(name).map_err(err)?;
        }
        for d in space.d_model.values() {
            if !space.n_head.values().iter().any(|h| d % h == 0) {
                return Err(err(format!("no n_head choice divides d_model {d}")));
            }
        }
        if space.n_token == 0 || space.tgt_len == 0 {
            return Err(err("n_token and tgt_len must be positive".into()));
        }
        let clusters = clean_cutoffs(&space.cutoffs, space.n_token).len() - 1;
        for e in space.d_embed.values() {
            for dv in space.div_val.values() {
                if dv > 1 && e / dv.pow(clusters.saturating_sub(1) as u32) == 0 {
                    return Err(err(format!("d_embed {e} with div_val {dv} leaves a cluster of width 0")));
                }
            }
        }
        Ok(space)
    }

    /// One architecture drawn from `rng`, keyed `key`.
    fn draw(&self, key: String, rng: &mut ChaCha8Rng) -> Gpt2Arch {
        let n_layer = self.n_layer.pick(rng);
        let d_model = self.d_model.pick(rng);
        let d_embed = self.d_embed.pick(rng);
        let div_val = self.div_val.pick(rng);
        let heads = Dim::Choices(self.n_head.values().into_iter().filter(|h| d_model % h == 0).collect());
        let n_head = (0..n_layer).map(|_| heads.pick(rng)).collect();
        let d_inner = (0..n_layer).map(|_| self.d_inner.pick(rng)).collect();
        Gpt2Arch {
            key,
            n_token: self.n_token,
            n_layer,
            d_model,
            d_embed,
            d_inner,
            n_head,
            div_val,
            cutoffs: self.cutoffs.clone(),
            tgt_len: self.tgt_len,
            tie_weight: true,
            tie_projs: self.tie_projs.clone(),
            weight_init_std: self.weight_init_std,
            proj_init_std: self.proj_init_std,
        }
    }
}

impl ArchSpace for Gpt2Space {
    fn family(&self) -> FamilyRef {
        FamilyRef(&super::GPT2)
    }

    fn name(&self) -> &str {
        &self.name
    }

    /// Architectures keyed `config_<i>_j0`.
    fn sample(&self, n: usize, seed: u64) -> Result<Vec<Arc<dyn Arch>>, SpaceError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5ace_5eed);
        let same = |a: &Gpt2Arch, b: &Gpt2Arch| {
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
    use crate::train::space::SpaceSpec;

    fn gpt2(name: &str) -> Gpt2Arch {
        let spec = SpaceSpec::load(name).unwrap();
        let a = spec.sample(1, 0).unwrap();
        a[0].as_any().downcast_ref::<Gpt2Arch>().unwrap().clone()
    }

    #[test]
    fn shipped_spaces_parse() {
        let tiny = Gpt2Space::parse(super::super::TINY, "tiny").unwrap();
        assert_eq!(tiny.n_layer.values(), vec![1, 2, 3, 4]);
        assert_eq!(tiny.d_inner.values(), vec![32, 64, 96, 128, 160, 192]);
        let wt = Gpt2Space::parse(super::super::WT103, "gpt2-wt103").unwrap();
        assert_eq!(wt.n_layer.values().len(), 15);
        assert_eq!(wt.d_inner.values().len(), 2048 - 512 + 1);
        assert!(gpt2("tiny").n_layer <= 4);
    }

    #[test]
    fn samples_are_distinct_valid_and_prefix_stable() {
        let space = Gpt2Space::parse(super::super::TINY, "tiny").unwrap();
        let a = space.sample(30, 4).unwrap();
        let b = space.sample(10, 4).unwrap();
        assert_eq!(format!("{:?}", &a[..10]), format!("{:?}", &b[..]));
        for arch in &a {
            let arch = arch.as_any().downcast_ref::<Gpt2Arch>().unwrap();
            assert!((1..=4).contains(&arch.n_layer));
            assert_eq!(arch.n_head.len(), arch.n_layer);
            assert!(arch.n_head.iter().all(|h| arch.d_model % h == 0));
            // The config round-trips through the benchmark loader's parser.
            let text = super::super::model_config_yaml(arch);
            let back = super::super::bench::parse_config(std::path::Path::new("x"), &arch.key, &text).unwrap();
            assert_eq!(&back, arch);
        }
        assert_ne!(format!("{:?}", space.sample(10, 5).unwrap()), format!("{b:?}"));
    }

    #[test]
    fn bad_spaces_are_refused_with_the_reason() {
        let bad = super::super::WT103.replace("n_head: [2, 4, 8]", "n_head: [3]");
        let e = Gpt2Space::parse(&bad, "x.yaml").unwrap_err().to_string();
        assert!(e.contains("no n_head choice divides d_model 64"), "{e}");
        let e = Gpt2Space::parse(&super::super::TINY.replace("family: gpt2", "family: flexibert"), "z").unwrap_err().to_string();
        assert!(e.contains("not supported"), "{e}");
    }
}
