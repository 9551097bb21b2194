//! LoNAS-style search spaces over a pretrained LLaMA model, and their sub-networks.
//!
//! A space file (`spaces/lonas-*.yaml`) names the model's shape and, per layer, the choices of
//! three elastic dimensions (`docs/reference/LLAMA_LONAS.md` §2): the FFN width (the outputs of
//! `gate_proj`/`up_proj`, the inputs of `down_proj`), the LoRA rank shared by the q/k/v adapters,
//! and the rank shared by the gate/up adapters (`down_proj`'s adapter keeps the full rank). A
//! sub-network keeps the **first** channels of every elastic dimension. The ranks matter only
//! when the model has an adapter; without one the space is the FFN widths alone.

use super::weights::LlamaConfig;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The `family:` of a LoNAS-style space file.
pub const SPACE_FAMILY: &str = "llama";

/// The LoNAS-style spaces lpzero ships (`spaces/lonas-*.yaml`), by name.
pub const SHIPPED: &[(&str, &str)] = &[
    ("lonas-llama-7b", include_str!("../../../spaces/lonas-llama-7b.yaml")),
    ("lonas-smollm2-135m", include_str!("../../../spaces/lonas-smollm2-135m.yaml")),
];

/// The adapter part of a space: the full rank, the scale and the elastic rank choices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoraSpace {
    /// The adapter's rank `r`.
    pub rank: usize,
    /// `lora_alpha` (the scale is `alpha / rank` for every elastic rank).
    pub alpha: f64,
    /// Choices of the q/k/v adapters' rank, largest first.
    pub attn_rank: Vec<usize>,
    /// Choices of the gate/up adapters' rank, largest first.
    pub ffn_rank: Vec<usize>,
}

/// A LoNAS-style space: the model it is over and the choices per layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LonasSpace {
    /// Its name (`lonas-llama-7b`).
    pub name: String,
    /// The family (`llama`).
    pub family: String,
    /// The model, in words.
    #[serde(default)]
    pub model: String,
    /// Decoder layers.
    pub layers: usize,
    /// Model width.
    pub hidden_size: usize,
    /// The full FFN width.
    pub intermediate_size: usize,
    /// Choices of each layer's FFN width, largest first.
    pub ffn_width: Vec<usize>,
    /// The adapter's elastic ranks, when the space has one.
    #[serde(default)]
    pub lora: Option<LoraSpace>,
}

/// Why a space or sub-network file is not usable.
#[derive(Debug, thiserror::Error)]
pub enum SubnetError {
    /// Not YAML of the expected shape.
    #[error("{origin}: {source}")]
    Yaml {
        /// The file.
        origin: String,
        /// The parser's message.
        source: serde_norway::Error,
    },
    /// Well-formed but inconsistent.
    #[error("{origin}: {what}")]
    Invalid {
        /// The file.
        origin: String,
        /// What is wrong.
        what: String,
    },
}

impl LonasSpace {
    /// Parses a space file's text (`origin` names it in errors) and checks it.
    pub fn parse(text: &str, origin: &str) -> Result<LonasSpace, SubnetError> {
        let space: LonasSpace = serde_norway::from_str(text).map_err(|source| SubnetError::Yaml { origin: origin.to_owned(), source })?;
        let bad = |what: String| SubnetError::Invalid { origin: origin.to_owned(), what };
        if space.family != SPACE_FAMILY {
            return Err(bad(format!("family `{}`: LoNAS spaces are over LLaMA models (`family: llama`)", space.family)));
        }
        if space.layers == 0 || space.hidden_size == 0 {
            return Err(bad("`layers` and `hidden_size` must be positive".into()));
        }
        let sorted = |v: &[usize]| !v.is_empty() && v.windows(2).all(|w| w[0] > w[1]) && v.iter().all(|&x| x > 0);
        if !sorted(&space.ffn_width) || space.ffn_width[0] > space.intermediate_size {
            return Err(bad(format!("`ffn_width` must list distinct positive widths, largest first, none above {}", space.intermediate_size)));
        }
        if let Some(l) = &space.lora {
            if !sorted(&l.attn_rank) || !sorted(&l.ffn_rank) || l.attn_rank[0] > l.rank || l.ffn_rank[0] > l.rank {
                return Err(bad(format!("`lora.attn_rank` and `lora.ffn_rank` must list distinct positive ranks, largest first, none above {}", l.rank)));
            }
        }
        Ok(space)
    }

    /// Checks that the space is over this model.
    pub fn check_model(&self, c: &LlamaConfig) -> Result<(), String> {
        if (self.layers, self.hidden_size, self.intermediate_size) != (c.num_hidden_layers, c.hidden_size, c.intermediate_size) {
            return Err(format!(
                "the space `{}` is over a model of {} layers, width {}, FFN {}; this model has {}, {}, {}",
                self.name, self.layers, self.hidden_size, self.intermediate_size, c.num_hidden_layers, c.hidden_size, c.intermediate_size
            ));
        }
        Ok(())
    }

    /// The choices of one layer, as `(ffn width, attention rank, ffn rank)`, in the order the
    /// lists give them (largest first); `with_lora = false` (a model without adapter) leaves the
    /// ranks at 0 and offers the widths alone.
    pub fn layer_options(&self, with_lora: bool) -> Vec<(usize, usize, usize)> {
        let mut out = vec![];
        for &w in &self.ffn_width {
            match (&self.lora, with_lora) {
                (Some(l), true) => {
                    for &a in &l.attn_rank {
                        for &f in &l.ffn_rank {
                            out.push((w, a, f));
                        }
                    }
                }
                _ => out.push((w, 0, 0)),
            }
        }
        out
    }

    /// The largest choice everywhere.
    pub fn maximal(&self, with_lora: bool) -> Subnet {
        self.pick(with_lora, |v| v[0])
    }

    /// LoNAS's heuristic sub-network: index `(len − 1) / 2` of every list.
    pub fn heuristic(&self, with_lora: bool) -> Subnet {
        self.pick(with_lora, |v| v[(v.len() - 1) / 2])
    }

    /// A sub-network with each layer's choices drawn uniformly.
    pub fn random(&self, with_lora: bool, rng: &mut ChaCha8Rng) -> Subnet {
        let opts = self.layer_options(with_lora);
        let picks: Vec<_> = (0..self.layers).map(|_| opts[rng.random_range(0..opts.len())]).collect();
        Subnet::from_options(&picks)
    }

    fn pick(&self, with_lora: bool, f: impl Fn(&[usize]) -> usize) -> Subnet {
        let (a, r) = match (&self.lora, with_lora) {
            (Some(l), true) => (f(&l.attn_rank), f(&l.ffn_rank)),
            _ => (0, 0),
        };
        Subnet::uniform(self.layers, f(&self.ffn_width), a, r)
    }

    /// A named sub-network (`maximal`, `heuristic`) or `None`.
    pub fn named(&self, name: &str, with_lora: bool) -> Option<Subnet> {
        match name {
            "maximal" => Some(self.maximal(with_lora)),
            "heuristic" => Some(self.heuristic(with_lora)),
            _ => None,
        }
    }

    /// Checks that a sub-network lies in the space.
    pub fn contains(&self, s: &Subnet, with_lora: bool) -> Result<(), String> {
        if s.layers() != self.layers {
            return Err(format!("the sub-network has {} layers; the space has {}", s.layers(), self.layers));
        }
        let opts = self.layer_options(with_lora);
        for l in 0..self.layers {
            if !opts.contains(&s.option(l)) {
                return Err(format!("layer {l}: (FFN {}, ranks {}/{}) is not a choice of the space", s.ffn[l], s.attn_rank[l], s.ffn_rank[l]));
            }
        }
        Ok(())
    }
}

/// One sub-network: per layer, the FFN width and the two elastic LoRA ranks (0: no adapter).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    /// FFN width per layer.
    pub ffn: Vec<usize>,
    /// q/k/v adapter rank per layer.
    pub attn_rank: Vec<usize>,
    /// gate/up adapter rank per layer.
    pub ffn_rank: Vec<usize>,
}

impl Subnet {
    /// The same choice in every layer.
    pub fn uniform(layers: usize, ffn: usize, attn_rank: usize, ffn_rank: usize) -> Subnet {
        Subnet { ffn: vec![ffn; layers], attn_rank: vec![attn_rank; layers], ffn_rank: vec![ffn_rank; layers] }
    }

    /// From per-layer `(ffn width, attention rank, ffn rank)` choices.
    pub fn from_options(options: &[(usize, usize, usize)]) -> Subnet {
        Subnet { ffn: options.iter().map(|o| o.0).collect(), attn_rank: options.iter().map(|o| o.1).collect(), ffn_rank: options.iter().map(|o| o.2).collect() }
    }

    /// Number of layers.
    pub fn layers(&self) -> usize {
        self.ffn.len()
    }

    /// Layer `l`'s choice.
    pub fn option(&self, l: usize) -> (usize, usize, usize) {
        (self.ffn[l], self.attn_rank[l], self.ffn_rank[l])
    }

    /// Parses a sub-network file (YAML with `ffn`, and `attn_rank` / `ffn_rank` when the model
    /// has an adapter; a file `subnet search` wrote is one, its other fields ignored).
    pub fn parse(text: &str, origin: &str) -> Result<Subnet, SubnetError> {
        #[derive(Deserialize)]
        struct File {
            ffn: Vec<usize>,
            #[serde(default)]
            attn_rank: Option<Vec<usize>>,
            #[serde(default)]
            ffn_rank: Option<Vec<usize>>,
        }
        let f: File = serde_norway::from_str(text).map_err(|source| SubnetError::Yaml { origin: origin.to_owned(), source })?;
        let n = f.ffn.len();
        let a = f.attn_rank.unwrap_or_else(|| vec![0; n]);
        let r = f.ffn_rank.unwrap_or_else(|| vec![0; n]);
        if a.len() != n || r.len() != n {
            return Err(SubnetError::Invalid { origin: origin.to_owned(), what: format!("`ffn` has {n} layers but the rank lists have {} and {}", a.len(), r.len()) });
        }
        Ok(Subnet { ffn: f.ffn, attn_rank: a, ffn_rank: r })
    }
}

/// Parameter and multiply-accumulate counts of a sub-network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SubnetCounts {
    /// Parameters of the base model's active part (embedding, projections, norms, head).
    pub base_params: u64,
    /// Parameters of the active adapter factors.
    pub lora_params: u64,
    /// Multiply-accumulates per token of every product with a weight matrix (projections,
    /// adapters, the output head); attention's own products (`QKᵀ`, `PV`) are the same for
    /// every sub-network of a space and are not counted.
    pub macs_per_token: u64,
}

impl SubnetCounts {
    /// Base and adapter parameters together.
    pub fn params(&self) -> u64 {
        self.base_params + self.lora_params
    }
}

/// Counts a sub-network of a model (`lora`: the adapter's full rank and wrapped projections).
pub fn counts(c: &LlamaConfig, s: &Subnet, lora: Option<(usize, &[&str])>) -> SubnetCounts {
    let (h, v) = (c.hidden_size as u64, c.vocab_size as u64);
    let (q, kv) = (c.q_dim() as u64, c.kv_dim() as u64);
    let mut base = v * h + h;
    let mut lora_p = 0u64;
    let mut macs = v * h;
    if !c.tie_word_embeddings {
        base += v * h;
    }
    for l in 0..s.layers() {
        let w = s.ffn[l] as u64;
        let shapes: [(&str, u64, u64); 7] = [
            ("self_attn.q_proj", q, h),
            ("self_attn.k_proj", kv, h),
            ("self_attn.v_proj", kv, h),
            ("self_attn.o_proj", h, q),
            ("mlp.gate_proj", w, h),
            ("mlp.up_proj", w, h),
            ("mlp.down_proj", h, w),
        ];
        base += 2 * h;
        for (p, out, inp) in shapes {
            base += out * inp;
            macs += out * inp;
            if let Some((full, targets)) = lora {
                if targets.contains(&p) {
                    let r = match p {
                        "self_attn.q_proj" | "self_attn.k_proj" | "self_attn.v_proj" => s.attn_rank[l],
                        "mlp.gate_proj" | "mlp.up_proj" => s.ffn_rank[l],
                        _ => full,
                    } as u64;
                    lora_p += r * (out + inp);
                    macs += r * (out + inp);
                }
            }
        }
    }
    SubnetCounts { base_params: base, lora_params: lora_p, macs_per_token: macs }
}

/// The sub-network as YAML, with what `subnet search` knows of it (`extra`: `key: value` lines
/// written first, e.g. its score).
pub fn to_yaml(s: &Subnet, extra: &[(String, String)]) -> String {
    let list = |v: &[usize]| format!("[{}]", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "));
    let mut out = String::new();
    for (k, v) in extra {
        out.push_str(&format!("{k}: {v}\n"));
    }
    out.push_str(&format!("ffn: {}\n", list(&s.ffn)));
    if s.attn_rank.iter().any(|&r| r > 0) {
        out.push_str(&format!("attn_rank: {}\nffn_rank: {}\n", list(&s.attn_rank), list(&s.ffn_rank)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn llama_7b() -> LlamaConfig {
        LlamaConfig {
            vocab_size: 32000,
            hidden_size: 4096,
            intermediate_size: 11008,
            num_hidden_layers: 32,
            num_attention_heads: 32,
            num_key_value_heads: 32,
            head_dim: 128,
            rope_theta: 10000.0,
            rms_norm_eps: 1e-6,
            tie_word_embeddings: false,
            max_position_embeddings: 2048,
            model_type: Some("llama".into()),
        }
    }

    #[test]
    fn llama_7b_counts_are_the_lonas_numbers() {
        let space = LonasSpace::parse(include_str!("../../../spaces/lonas-llama-7b.yaml"), "lonas-llama-7b.yaml").unwrap();
        let c = llama_7b();
        space.check_model(&c).unwrap();
        let targets = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];
        let max = counts(&c, &space.maximal(true), Some((32, &targets)));
        // LLAMA_LONAS.md §2: 6 738 415 616 base parameters, 71 565 312 LoRA parameters.
        assert_eq!(max.base_params, 6_738_415_616);
        assert_eq!(max.lora_params, 71_565_312);
        let heuristic = space.heuristic(true);
        assert_eq!(heuristic.ffn, vec![8256; 32]);
        assert_eq!((heuristic.attn_rank[0], heuristic.ffn_rank[0]), (32, 32));
        assert_eq!(counts(&c, &heuristic, Some((32, &targets))).base_params, 5_656_285_184);
        assert_eq!(space.layer_options(true).len(), 20);
        assert_eq!(space.layer_options(false).len(), 5);
    }

    #[test]
    fn smollm2_space_has_the_same_ratios() {
        let space = LonasSpace::parse(include_str!("../../../spaces/lonas-smollm2-135m.yaml"), "lonas-smollm2-135m.yaml").unwrap();
        let big = LonasSpace::parse(include_str!("../../../spaces/lonas-llama-7b.yaml"), "x").unwrap();
        for (a, b) in space.ffn_width.iter().zip(&big.ffn_width) {
            assert_eq!(*a * big.intermediate_size, *b * space.intermediate_size);
        }
        assert_eq!(space.heuristic(false).ffn, vec![1152; 30]);
    }

    #[test]
    fn bad_spaces_and_subnets_are_errors() {
        let ok = "name: x\nfamily: llama\nlayers: 2\nhidden_size: 8\nintermediate_size: 16\nffn_width: [16, 8]\n";
        assert!(LonasSpace::parse(ok, "x").is_ok());
        for bad in [
            ok.replace("llama", "gpt2"),
            ok.replace("[16, 8]", "[8, 16]"),
            ok.replace("[16, 8]", "[32, 8]"),
            ok.replace("layers: 2", "layers: two"),
            format!("{ok}colour: red\n"),
        ] {
            assert!(LonasSpace::parse(&bad, "x").is_err(), "{bad}");
        }
        assert!(Subnet::parse("ffn: [1, 2]\nattn_rank: [1]\n", "s").is_err());
        // What `subnet search` writes beside the widths is read past.
        let s = Subnet::parse("score: 0.5\nparams: 10\nffn: [16, 8]\n", "s").unwrap();
        assert_eq!(s, Subnet { ffn: vec![16, 8], attn_rank: vec![0, 0], ffn_rank: vec![0, 0] });
    }
}
