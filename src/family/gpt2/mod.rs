//! GPT-2 flex (HfGPT2Flex), the decoders of the GPT-2 benchmark of the Lightweight Transformer
//! Search: [`bench`] reads `model_config.yaml` and the benchmark folder, [`model`] declares the
//! parameters and runs the forward pass, [`space`] samples search spaces. Ground truth:
//! `valid_ppl` on WikiText-103 (lower is better).

pub mod bench;
pub mod model;
pub mod space;

pub use bench::Gpt2Arch;

use crate::bench::error::BenchError;
use crate::bench::lts;
use crate::rank::reference::ReferenceScores;
use crate::family::space::{ArchSpace, SpaceError};
use crate::family::{sum_groups, Arch, BenchData, Family, FamilyRef, Objective, Recognition, ShippedSpace, TokenStream};
use crate::gather::text::{self, Corpus, TextError};
use crate::models::batch::Minibatch;
use crate::models::nn::Recorder;
use crate::models::params::{ParamSpec, ParamStore};
use crate::models::{Fidelity, ModelError};
use crate::rank::Baseline;
use crate::train::result::ArchResult;
use burn::tensor::Tensor;
use serde::Serialize;
use std::path::Path;

/// The tiny demo space of `builtin:tiny`, compiled in.
pub const TINY: &str = include_str!("../../../spaces/tiny.yaml");
/// The GPT-2 benchmark's space, compiled in.
pub const WT103: &str = include_str!("../../../spaces/gpt2-wt103.yaml");

/// The family.
pub struct Gpt2;

/// The family's one value, as the registry holds it.
pub static GPT2: Gpt2 = Gpt2;

const SPACES: [ShippedSpace; 2] = [
    ShippedSpace { name: "tiny", path: "spaces/tiny.yaml", text: TINY },
    ShippedSpace { name: "gpt2-wt103", path: "spaces/gpt2-wt103.yaml", text: WT103 },
];

/// The stdlib proxies and the reference's file names for the same measures
/// (`reference_scores/<name>_scores_seed_1111.yaml`).
const REFERENCE_FILES: &[(&str, &str)] = &[
    ("snip", "snip"),
    ("grad_norm", "grad_norm"),
    ("synaptic_diversity", "synaptic_diversity"),
    ("synaptic_saliency", "synaptic_saliency"),
    ("fisher", "fisher"),
    ("activation_distance", "activation_distance"),
    ("attention_confidence", "attention_confidence"),
    ("head_confidence", "head_confidence"),
    ("head_importance", "head_importance"),
    ("params", "num_parameters"),
    ("lpzero_gpt2", "lpzero"),
    ("synflow", "synflow"),
    ("logsynflow", "logsynflow"),
    ("grasp", "grasp"),
    ("jacobian_cosine", "jacobian_cosine"),
    ("eznas", "eznas"),
];

/// What each published count sums, by parameter group ([`model::GROUPS`]).
const COUNTS: [(&str, &[&str]); 5] = [
    ("AdaEmb", &["ada_emb"]),
    ("Attn", &["attn"]),
    ("FFN", &["ffn"]),
    ("nonembedding", &["attn", "ffn", "ln"]),
    ("total", &["ada_emb", "attn", "ffn", "ln", "softmax"]),
];

impl Family for Gpt2 {
    fn name(&self) -> &'static str {
        "gpt2"
    }

    fn title(&self) -> &'static str {
        "GPT-2 flex"
    }

    fn about(&self) -> &'static str {
        "GPT-2 flex decoders (ground truth: next-token validation perplexity)"
    }

    fn benchmark_hint(&self) -> &'static str {
        "a GPT-2 directory (ppl_summary.yaml and config_*/j*/model_config.yaml)"
    }

    /// The LTS layout; its configs are model configs, not training-argument dumps (those carry
    /// `n_all_param`, `optim`, `max_step`), or lpzero wrote `model_type: gpt2`.
    fn recognise(&self, path: &Path) -> Recognition {
        if !lts::has_layout(path) {
            return Recognition::No;
        }
        let Some(text) = lts::first_config(path) else { return Recognition::Layout };
        let has = |key: &str| text.lines().any(|l| l.starts_with(key));
        if has("model_type: gpt2") || (!has("n_all_param:") && !has("optim:") && !has("max_step:")) {
            Recognition::Content
        } else {
            Recognition::Layout
        }
    }

    fn load(&self, path: &Path) -> Result<BenchData, BenchError> {
        bench::load(path)
    }

    fn objective(&self) -> Objective {
        Objective::CausalLm
    }

    fn default_minibatch(&self) -> (usize, usize) {
        (4, 128)
    }

    fn paper_minibatch(&self) -> (usize, usize) {
        (16, 192)
    }

    fn gather_batch(&self, corpus: &Corpus, batch: usize, len: usize, _seed: u64, index: usize) -> Result<Minibatch, TextError> {
        Ok(Minibatch::Causal(text::lm_batch_at(&corpus.tokens()?, batch, len, index)?))
    }

    fn token_stream(&self, corpus: &Corpus) -> Result<TokenStream, TextError> {
        Ok(TokenStream { ids: corpus.tokens()?, vocab: corpus.vocab_size() })
    }

    fn count_fields(&self) -> &'static [&'static str] {
        &bench::COUNT_FIELDS
    }

    fn baselines(&self, archs: &[&dyn Arch], fidelity: Fidelity) -> Result<Vec<Baseline>, ModelError> {
        let field = crate::family::count_columns(archs, fidelity)?;
        let (attn, ffn) = (field("Attn"), field("FFN"));
        Ok(vec![
            Baseline::new("params (total)", field("total")),
            Baseline::new("params (non-embedding)", field("nonembedding")),
            Baseline::new("params (decoder: attention + FFN)", attn.iter().zip(&ffn).map(|(a, f)| a + f).collect()),
            Baseline::new("layers", archs.iter().map(|a| a.layers() as f64).collect()),
        ])
    }

    fn best_baseline(&self) -> &'static str {
        "params (non-embedding)"
    }

    fn paper_proxy(&self) -> Option<&'static str> {
        Some("lpzero_gpt2")
    }

    fn reference_scores(&self, path: &Path) -> Option<ReferenceScores> {
        let files: Vec<(&str, std::path::PathBuf)> =
            REFERENCE_FILES.iter().map(|(ours, theirs)| (*ours, path.join(format!("reference_scores/{theirs}_scores_seed_1111.yaml")))).collect();
        ReferenceScores::from_yaml_maps(&files)
    }

    fn shared_benchmark(&self) -> Option<&'static str> {
        Some("benchmarks/gpt2-wt103")
    }

    fn shipped_spaces(&self) -> &'static [ShippedSpace] {
        &SPACES
    }

    fn parse_space(&self, text: &str, origin: &str) -> Result<Box<dyn ArchSpace>, SpaceError> {
        Ok(Box::new(space::Gpt2Space::parse(text, origin)?))
    }

    fn write_arch(&self, dir: &Path, arch: &dyn Arch, result: &ArchResult) -> std::io::Result<()> {
        let a = downcast(arch);
        if !result.diverged {
            std::fs::write(dir.join("model_config.yaml"), model_config_yaml(a))?;
        }
        Ok(())
    }

    fn write_benchmark(&self, dir: &Path, done: &[(&dyn Arch, &ArchResult)]) -> std::io::Result<()> {
        lts::write_summaries(dir, done)
    }
}

fn downcast(arch: &dyn Arch) -> &Gpt2Arch {
    arch.as_any().downcast_ref::<Gpt2Arch>().expect("the family's own architectures")
}

impl Arch for Gpt2Arch {
    fn family(&self) -> FamilyRef {
        FamilyRef(&GPT2)
    }

    fn id(&self) -> String {
        self.key.clone()
    }

    fn layers(&self) -> usize {
        self.n_layer
    }

    fn width(&self) -> usize {
        self.d_model
    }

    fn positions(&self) -> usize {
        self.tgt_len
    }

    fn vocab(&self) -> usize {
        self.n_token
    }

    fn spec(&self, _fidelity: Fidelity) -> Result<Vec<ParamSpec>, ModelError> {
        if !self.tie_weight {
            return Err(ModelError::Unsupported(format!("{}: untied output weights (tie_weight: false) are not supported", self.key)));
        }
        Ok(model::spec(self))
    }

    fn counts(&self, fidelity: Fidelity) -> Result<Vec<(&'static str, u64)>, ModelError> {
        Ok(sum_groups(&self.spec(fidelity)?, &COUNTS))
    }

    fn loss(&self, store: &ParamStore, batch: &Minibatch, rec: &mut Recorder, _fidelity: Fidelity) -> Result<Tensor<1>, ModelError> {
        match batch {
            Minibatch::Causal(b) => Ok(model::forward(store, self, b, rec)),
            Minibatch::Masked(_) => Err(ModelError::Unsupported("a causal decoder needs a next-token minibatch".into())),
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The `model_config.yaml` text of an architecture: the fields the loader reads, in the
/// benchmark's own spelling, and `model_type: gpt2` so the folder says which family wrote it.
pub fn model_config_yaml(a: &Gpt2Arch) -> String {
    #[derive(Serialize)]
    struct Config<'a> {
        model_type: &'static str,
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
        model_type: "gpt2",
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
