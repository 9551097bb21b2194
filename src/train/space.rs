//! Search spaces as data: a YAML file giving the choices per dimension of a GPT-2 flex decoder
//! ([`Space`]) or of a FlexiBERT encoder as the benchmark trained them ([`FlexiSpace`]; per layer
//! `heads`, `ffn_dim`, `num_ffn`, every layer SA-SDP), and seeded sampling from it.
//!
//! A dimension is either a list of choices (`d_model: [64, 128]`) or an integer range
//! (`n_layer: {min: 2, max: 16}`, optional `step`). `n_head` and `d_inner` are drawn per layer;
//! a layer's heads are drawn among the choices that divide its `d_model`. `n_token`,
//! `cutoffs`, `tgt_len`, `tie_projs` and the init standard deviations are fixed for the space.
//! The spaces lpzero ships are in `spaces/` (`gpt2-wt103.yaml` and `flexibert.yaml`, the
//! published benchmarks'; `tiny.yaml`, the demo space of `builtin:tiny`).

use crate::bench::{Gpt2Arch, ParamsSummary};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The tiny demo space, compiled in.
pub const TINY: &str = include_str!("../../spaces/tiny.yaml");
/// The GPT-2 benchmark's space, compiled in.
pub const GPT2_WT103: &str = include_str!("../../spaces/gpt2-wt103.yaml");
/// The FlexiBERT benchmark's space (as trained), compiled in.
pub const FLEXIBERT: &str = include_str!("../../spaces/flexibert.yaml");

/// One dimension: explicit choices or an integer range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Dim {
    /// Any of these values.
    Choices(Vec<usize>),
    /// `min..=max` in steps of `step` (default 1).
    Range {
        /// Smallest value.
        min: usize,
        /// Largest value.
        max: usize,
        /// Step between values.
        #[serde(default = "one")]
        step: usize,
    },
}

fn one() -> usize {
    1
}

impl Dim {
    /// Every value the dimension allows, ascending as written.
    pub fn values(&self) -> Vec<usize> {
        match self {
            Dim::Choices(v) => v.clone(),
            Dim::Range { min, max, step } => (*min..=*max).step_by((*step).max(1)).collect(),
        }
    }
}

/// A search space of GPT-2 flex decoders.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Space {
    /// A short name (it names the space in reports and cache keys).
    pub name: String,
    /// The model family (only `gpt2`).
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

/// A problem with a space file.
#[derive(Debug, thiserror::Error)]
pub enum SpaceError {
    /// The file cannot be read.
    #[error("cannot read space file {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file does not parse.
    #[error("space {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl Space {
    /// Parses a space from YAML text and checks it; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Space, SpaceError> {
        let err = |message: String| SpaceError::Parse { path: origin.to_owned(), message };
        let space: Space = serde_norway::from_str(text).map_err(|e| err(e.to_string()))?;
        if space.family != "gpt2" {
            return Err(err(format!("family `{}` is not supported here: a GPT-2 space needs `family: gpt2`", space.family)));
        }
        for (name, dim) in [("n_layer", &space.n_layer), ("d_model", &space.d_model), ("d_embed", &space.d_embed), ("div_val", &space.div_val), ("n_head", &space.n_head), ("d_inner", &space.d_inner)] {
            let v = dim.values();
            if v.is_empty() || v.contains(&0) {
                return Err(err(format!("{name} must offer at least one value, all positive")));
            }
        }
        for d in space.d_model.values() {
            if !space.n_head.values().iter().any(|h| d % h == 0) {
                return Err(err(format!("no n_head choice divides d_model {d}")));
            }
        }
        for e in space.d_embed.values() {
            for dv in space.div_val.values() {
                let clusters = crate::models::gpt2::clean_cutoffs(&space.cutoffs, space.n_token).len() - 1;
                if dv > 1 && e / dv.pow(clusters.saturating_sub(1) as u32) == 0 {
                    return Err(err(format!("d_embed {e} with div_val {dv} leaves a cluster of width 0")));
                }
            }
        }
        if space.n_token == 0 || space.tgt_len == 0 {
            return Err(err("n_token and tgt_len must be positive".into()));
        }
        Ok(space)
    }

    /// Reads a space file, or a shipped space by name (`tiny`, `gpt2-wt103`).
    pub fn load(spec: &str) -> Result<Space, SpaceError> {
        match spec {
            "tiny" => Space::parse(TINY, "spaces/tiny.yaml"),
            "gpt2-wt103" => Space::parse(GPT2_WT103, "spaces/gpt2-wt103.yaml"),
            path => {
                let text = std::fs::read_to_string(Path::new(path)).map_err(|source| SpaceError::Io { path: path.to_owned(), source })?;
                Space::parse(&text, path)
            }
        }
    }

    /// One architecture drawn from `rng`, keyed `key`.
    fn draw(&self, key: String, rng: &mut ChaCha8Rng) -> Gpt2Arch {
        let pick = |dim: &Dim, rng: &mut ChaCha8Rng| {
            let v = dim.values();
            v[rng.random_range(0..v.len())]
        };
        let n_layer = pick(&self.n_layer, rng);
        let d_model = pick(&self.d_model, rng);
        let d_embed = pick(&self.d_embed, rng);
        let div_val = pick(&self.div_val, rng);
        let heads: Vec<usize> = self.n_head.values().into_iter().filter(|h| d_model % h == 0).collect();
        let n_head = (0..n_layer).map(|_| heads[rng.random_range(0..heads.len())]).collect();
        let d_inner = (0..n_layer).map(|_| pick(&self.d_inner, rng)).collect();
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
            valid_ppl: f64::NAN,
            params: ParamsSummary::default(),
        }
    }

    /// `n` distinct architectures, keyed `config_<i>_j0`, from one seeded generator. The first
    /// `m` of a sample of `n > m` are the sample of `m`, so a build can be extended. Fails when
    /// the space has fewer than `n` distinct architectures within a generous number of draws.
    pub fn sample(&self, n: usize, seed: u64) -> Result<Vec<Gpt2Arch>, SpaceError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5ace_5eed);
        let mut out: Vec<Gpt2Arch> = Vec::with_capacity(n);
        let mut draws = 0usize;
        while out.len() < n {
            draws += 1;
            if draws > 1000 * n.max(1) {
                return Err(SpaceError::Parse { path: self.name.clone(), message: format!("fewer than {n} distinct architectures found in {draws} draws") });
            }
            let a = self.draw(format!("config_{}_j0", out.len()), &mut rng);
            let same = |b: &Gpt2Arch| {
                (b.n_layer, b.d_model, b.d_embed, b.div_val, &b.n_head, &b.d_inner) == (a.n_layer, a.d_model, a.d_embed, a.div_val, &a.n_head, &a.d_inner)
            };
            if !out.iter().any(same) {
                out.push(a);
            }
        }
        Ok(out)
    }
}

/// A search space of FlexiBERT encoders as the benchmark trained them (every layer SA-SDP).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlexiSpace {
    /// A short name.
    pub name: String,
    /// Always `flexibert`.
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
    /// Parses a FlexiBERT space from YAML text and checks it.
    pub fn parse(text: &str, origin: &str) -> Result<FlexiSpace, SpaceError> {
        let err = |message: String| SpaceError::Parse { path: origin.to_owned(), message };
        let space: FlexiSpace = serde_norway::from_str(text).map_err(|e| err(e.to_string()))?;
        if space.family != "flexibert" {
            return Err(err(format!("family `{}` is not supported here: a FlexiBERT space needs `family: flexibert`", space.family)));
        }
        for (name, dim) in [("n_layer", &space.n_layer), ("hidden_size", &space.hidden_size), ("heads", &space.heads), ("ffn_dim", &space.ffn_dim), ("num_ffn", &space.num_ffn)] {
            let v = dim.values();
            if v.is_empty() || v.contains(&0) {
                return Err(err(format!("{name} must offer at least one value, all positive")));
            }
        }
        for h in space.hidden_size.values() {
            if !space.heads.values().iter().any(|n| h % n == 0) {
                return Err(err(format!("no heads choice divides hidden_size {h}")));
            }
        }
        Ok(space)
    }

    /// `n` distinct architectures with ids `0..n`, from one seeded generator (prefix-stable).
    pub fn sample(&self, n: usize, seed: u64) -> Result<Vec<crate::bench::FlexiArch>, SpaceError> {
        use crate::bench::{FlexiArch, FlexiLayer, LayerOp};
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xf1e7_5eed);
        let pick = |dim: &Dim, rng: &mut ChaCha8Rng| {
            let v = dim.values();
            v[rng.random_range(0..v.len())]
        };
        let mut out: Vec<FlexiArch> = Vec::with_capacity(n);
        let mut draws = 0usize;
        while out.len() < n {
            draws += 1;
            if draws > 1000 * n.max(1) {
                return Err(SpaceError::Parse { path: self.name.clone(), message: format!("fewer than {n} distinct architectures found in {draws} draws") });
            }
            let layers_n = pick(&self.n_layer, &mut rng);
            let hidden_size = pick(&self.hidden_size, &mut rng);
            let heads: Vec<usize> = self.heads.values().into_iter().filter(|h| hidden_size % h == 0).collect();
            let layers: Vec<FlexiLayer> = (0..layers_n)
                .map(|_| FlexiLayer {
                    op: LayerOp::SaSdp,
                    heads: heads[rng.random_range(0..heads.len())],
                    ffn_dim: pick(&self.ffn_dim, &mut rng),
                    num_ffn: pick(&self.num_ffn, &mut rng),
                })
                .collect();
            if !out.iter().any(|a| a.hidden_size == hidden_size && a.layers == layers) {
                out.push(FlexiArch { id: out.len(), hidden_size, layers, glue: f64::NAN, mlm_ppl: None });
            }
        }
        Ok(out)
    }
}

/// A space of either family, as a space file declares it (`family:`).
#[derive(Clone, Debug, PartialEq)]
pub enum AnySpace {
    /// GPT-2 flex decoders.
    Gpt2(Space),
    /// FlexiBERT encoders.
    Flexibert(FlexiSpace),
}

impl AnySpace {
    /// Reads a space file, or a shipped space by name (`tiny`, `gpt2-wt103`, `flexibert`),
    /// dispatching on its `family`.
    pub fn load(spec: &str) -> Result<AnySpace, SpaceError> {
        let (text, origin) = match spec {
            "tiny" => (TINY.to_owned(), "spaces/tiny.yaml".to_owned()),
            "gpt2-wt103" => (GPT2_WT103.to_owned(), "spaces/gpt2-wt103.yaml".to_owned()),
            "flexibert" => (FLEXIBERT.to_owned(), "spaces/flexibert.yaml".to_owned()),
            path => (std::fs::read_to_string(Path::new(path)).map_err(|source| SpaceError::Io { path: path.to_owned(), source })?, path.to_owned()),
        };
        #[derive(Deserialize)]
        struct Family {
            family: Option<String>,
        }
        let family = serde_norway::from_str::<Family>(&text).map_err(|e| SpaceError::Parse { path: origin.clone(), message: e.to_string() })?.family;
        match family.as_deref() {
            Some("flexibert") => FlexiSpace::parse(&text, &origin).map(AnySpace::Flexibert),
            Some("gpt2") => Space::parse(&text, &origin).map(AnySpace::Gpt2),
            other => Err(SpaceError::Parse { path: origin, message: format!("`family` must be gpt2 or flexibert, not {other:?}") }),
        }
    }
}

/// The `model_config.yaml` text of an architecture: the fields the loader reads, in the
/// benchmark's own spelling.
pub fn model_config_yaml(a: &Gpt2Arch) -> String {
    #[derive(Serialize)]
    struct Config<'a> {
        n_token: usize,
        n_layer: usize,
        d_model: usize,
        d_embed: usize,
        d_inner: &'a [usize],
        n_head: &'a [usize],
        div_val: usize,
        adaptive: bool,
        cutoffs: &'a [usize],
        tgt_len: usize,
        tie_weight: bool,
        tie_projs: &'a [bool],
        weight_init_type: &'static str,
        weight_init_std: f64,
        proj_init_std: f64,
        dropout: f64,
        dropatt: f64,
    }
    let c = Config {
        n_token: a.n_token,
        n_layer: a.n_layer,
        d_model: a.d_model,
        d_embed: a.d_embed,
        d_inner: &a.d_inner,
        n_head: &a.n_head,
        div_val: a.div_val,
        adaptive: true,
        cutoffs: &a.cutoffs,
        tgt_len: a.tgt_len,
        tie_weight: a.tie_weight,
        tie_projs: &a.tie_projs,
        weight_init_type: "normal",
        weight_init_std: a.weight_init_std,
        proj_init_std: a.proj_init_std,
        dropout: 0.0,
        dropatt: 0.0,
    };
    serde_norway::to_string(&c).expect("a plain struct serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_spaces_parse() {
        let tiny = Space::load("tiny").unwrap();
        assert_eq!(tiny.n_layer.values(), vec![1, 2, 3, 4]);
        assert_eq!(tiny.d_inner.values(), vec![32, 64, 96, 128, 160, 192]);
        let gpt2 = Space::load("gpt2-wt103").unwrap();
        assert_eq!(gpt2.n_layer.values().len(), 15);
        assert_eq!(gpt2.d_inner.values().len(), 2048 - 512 + 1);
    }

    #[test]
    fn samples_are_distinct_valid_and_prefix_stable() {
        let space = Space::load("tiny").unwrap();
        let a = space.sample(30, 4).unwrap();
        let b = space.sample(10, 4).unwrap();
        // (valid_ppl is NaN before training, so compare the Debug text.)
        assert_eq!(format!("{:?}", &a[..10]), format!("{:?}", &b[..]));
        for arch in &a {
            assert!((1..=4).contains(&arch.n_layer));
            assert_eq!(arch.n_head.len(), arch.n_layer);
            assert!(arch.n_head.iter().all(|h| arch.d_model % h == 0));
            // The config round-trips through the benchmark loader's parser.
            let text = model_config_yaml(arch);
            let back = crate::bench::gpt2::parse_config(Path::new("x"), &arch.key, &text).unwrap();
            assert_eq!((back.n_layer, back.d_model, back.d_embed, back.div_val), (arch.n_layer, arch.d_model, arch.d_embed, arch.div_val));
            assert_eq!((&back.n_head, &back.d_inner, &back.tie_projs), (&arch.n_head, &arch.d_inner, &arch.tie_projs));
        }
        assert_ne!(format!("{:?}", space.sample(10, 5).unwrap()), format!("{b:?}"));
    }

    #[test]
    fn bad_spaces_are_refused_with_the_reason() {
        let bad = GPT2_WT103.replace("n_head: [2, 4, 8]", "n_head: [3]");
        let e = Space::parse(&bad, "x.yaml").unwrap_err().to_string();
        assert!(e.contains("no n_head choice divides d_model 64"), "{e}");
        let e = Space::parse("name: x\nfamily: bert\n", "y.yaml").unwrap_err().to_string();
        assert!(e.contains("y.yaml"), "{e}");
        let e = Space::parse(&TINY.replace("family: gpt2", "family: flexibert"), "z").unwrap_err().to_string();
        assert!(e.contains("not supported"), "{e}");
        let e = AnySpace::load("nonexistent.yaml").unwrap_err().to_string();
        assert!(e.contains("nonexistent.yaml"), "{e}");
    }

    #[test]
    fn flexibert_space_samples_trained_style_encoders() {
        let AnySpace::Flexibert(space) = AnySpace::load("flexibert").unwrap() else { panic!("a FlexiBERT space") };
        let a = space.sample(20, 1).unwrap();
        assert_eq!(format!("{:?}", &a[..5]), format!("{:?}", space.sample(5, 1).unwrap()));
        for (i, arch) in a.iter().enumerate() {
            assert_eq!(arch.id, i);
            assert!([2, 4].contains(&arch.layers.len()) && [128, 256].contains(&arch.hidden_size));
            assert!(arch.layers.iter().all(|l| l.op == crate::bench::LayerOp::SaSdp && [2, 4].contains(&l.heads)));
        }
        assert!(matches!(AnySpace::load("tiny").unwrap(), AnySpace::Gpt2(_)));
    }
}
