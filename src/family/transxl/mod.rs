//! Transformer-XL (archai's `MemTransformerLM`), the second family of the Lightweight Transformer
//! Search benchmark (`transxl-wt103`, ground truth `valid_ppl` on WikiText-103): [`bench`] reads
//! the training-argument dumps and the benchmark folder, [`model`] declares the parameters and runs
//! the forward pass (relative positional attention, memory, adaptive embedding and softmax) and
//! holds the word-level tokenizer, [`space`] samples search spaces.
//!
//! What the gather does with the memory: a proxy scores a randomly initialised network on one
//! minibatch, which is the network's first segment, so the memory is empty (M = 0), as it is for
//! the first batch of training. The memory path (later segments attending to the previous one's
//! layer inputs) is implemented and tested on two segments, and is what `bench build` would need
//! for segment-recurrent training; the gather does not use it.
//!
//! Word ids without the WikiText-103 vocabulary file: ids are frequency ranks within the
//! minibatch's text ([`model::WordVocab`]: `<unk>` 0, `<eos>` 1 after every line, the other words
//! from 2 by decreasing count, ties by first occurrence), so frequent words fall in the head
//! cluster as the trained vocabulary's do. With WikiText-2's validation text every id is below
//! 13 777, all in the head cluster: the tail tables get no gradient (only the cluster logits
//! take part, through the head's normaliser).

pub mod bench;
pub mod model;
pub mod space;

pub use bench::TxlArch;

use crate::bench::error::BenchError;
use crate::bench::lts;
use crate::family::space::{ArchSpace, SpaceError};
use crate::family::{Arch, BenchData, Family, FamilyRef, Objective, Recognition, ShippedSpace, TokenStream};
use crate::gather::text::{Corpus, TextError};
use crate::models::batch::Minibatch;
use crate::models::nn::Recorder;
use crate::models::params::{ParamSpec, ParamStore};
use crate::models::{Fidelity, ModelError};
use crate::rank::Baseline;
use crate::train::result::ArchResult;
use burn::tensor::Tensor;
use model::WordVocab;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

/// The benchmark's space, compiled in.
pub const WT103: &str = include_str!("../../../spaces/transxl-wt103.yaml");

/// The family.
pub struct TransformerXl;

/// The family's one value, as the registry holds it.
pub static TRANSXL: TransformerXl = TransformerXl;

const SPACES: [ShippedSpace; 1] = [ShippedSpace { name: "transxl-wt103", path: "spaces/transxl-wt103.yaml", text: WT103 }];

impl Family for TransformerXl {
    fn name(&self) -> &'static str {
        "transxl"
    }

    fn title(&self) -> &'static str {
        "Transformer-XL"
    }

    fn about(&self) -> &'static str {
        "Transformer-XL decoders with relative positions and memory (ground truth: validation perplexity)"
    }

    fn benchmark_hint(&self) -> &'static str {
        "a Transformer-XL directory (ppl_summary.yaml and config_*/j*/model_config.yaml training dumps)"
    }

    /// The LTS layout whose configs are Transformer-XL training dumps
    /// ([`bench::looks_like_transxl`]).
    fn recognise(&self, path: &Path) -> Recognition {
        if !lts::has_layout(path) {
            return Recognition::No;
        }
        match lts::first_config(path) {
            Some(text) if bench::looks_like_transxl(&text) => Recognition::Content,
            _ => Recognition::Layout,
        }
    }

    fn load(&self, path: &Path) -> Result<BenchData, BenchError> {
        let runs = lts::load(path, &bench::PUBLISHED_FIELDS)?;
        let mut data = BenchData { archs: vec![], truth: vec![], truth_name: "valid_ppl", lower_is_better: true, published_counts: vec![] };
        for run in runs {
            let arch = bench::parse_config(&run.config_path, &run.key, &run.config_text)?;
            // The training-time counts are published in each config.
            let mut counts = run.counts.unwrap_or_default();
            counts.extend(arch.n_all_param.map(|v| ("n_all_param".to_string(), v)));
            counts.extend(arch.n_nonemb_param.map(|v| ("n_nonemb_param".to_string(), v)));
            data.published_counts.push((!counts.is_empty()).then_some(counts));
            data.truth.push(run.valid_ppl);
            data.archs.push(Arc::new(arch));
        }
        Ok(data)
    }

    fn objective(&self) -> Objective {
        Objective::CausalLm
    }

    fn default_minibatch(&self) -> (usize, usize) {
        (4, 128)
    }

    /// What LPZero used for GPT-2 on the same corpus (it never scored this family).
    fn paper_minibatch(&self) -> (usize, usize) {
        (16, 192)
    }

    fn gather_batch(&self, corpus: &Corpus, batch: usize, len: usize, _seed: u64, index: usize) -> Result<Minibatch, TextError> {
        let ids = WordVocab::from_text(&corpus.text).encode(&corpus.text);
        Ok(Minibatch::Causal(crate::gather::text::lm_batch_at(&ids, batch, len, index)?))
    }

    fn token_stream(&self, corpus: &Corpus) -> Result<TokenStream, TextError> {
        let vocab = WordVocab::from_text(&corpus.text);
        Ok(TokenStream { ids: vocab.encode(&corpus.text), vocab: vocab.len() })
    }

    /// The vocabulary of the training text reads both (validation words it lacks are `<unk>`).
    fn token_streams(&self, train: &Corpus, valid: &Corpus) -> Result<(TokenStream, Vec<u32>), TextError> {
        let vocab = WordVocab::from_text(&train.text);
        Ok((TokenStream { ids: vocab.encode(&train.text), vocab: vocab.len() }, vocab.encode(&valid.text)))
    }

    fn count_fields(&self) -> &'static [&'static str] {
        &model::COUNT_FIELDS
    }

    fn baselines(&self, archs: &[&dyn Arch], fidelity: Fidelity) -> Result<Vec<Baseline>, ModelError> {
        let field = crate::family::count_columns(archs, fidelity)?;
        let (attn, ffn) = (field("Attn"), field("FFN"));
        Ok(vec![
            Baseline::new("params (total)", field("total")),
            Baseline::new("params (non-embedding)", field("nonembedding")),
            Baseline::new("params (decoder: attention + FFN)", attn.iter().zip(&ffn).map(|(a, f)| a + f).collect()),
            Baseline::new("params (attention)", attn),
            Baseline::new("params (FFN)", ffn),
            Baseline::new("d_model", archs.iter().map(|a| a.width() as f64).collect()),
            Baseline::new("layers", archs.iter().map(|a| a.layers() as f64).collect()),
        ])
    }

    fn best_baseline(&self) -> &'static str {
        "params (non-embedding)"
    }

    /// The paper has no Transformer-XL experiment.
    fn paper_proxy(&self) -> Option<&'static str> {
        None
    }

    fn shared_benchmark(&self) -> Option<&'static str> {
        Some("benchmarks/transxl-wt103")
    }

    fn shipped_spaces(&self) -> &'static [ShippedSpace] {
        &SPACES
    }

    fn parse_space(&self, text: &str, origin: &str) -> Result<Box<dyn ArchSpace>, SpaceError> {
        Ok(Box::new(space::TxlSpace::parse(text, origin)?))
    }

    fn write_arch(&self, dir: &Path, arch: &dyn Arch, result: &ArchResult) -> std::io::Result<()> {
        if !result.diverged {
            let a = arch.as_any().downcast_ref::<TxlArch>().expect("the family's own architectures");
            std::fs::write(dir.join("model_config.yaml"), model_config_yaml(a))?;
        }
        Ok(())
    }

    fn write_benchmark(&self, dir: &Path, done: &[(&dyn Arch, &ArchResult)]) -> std::io::Result<()> {
        lts::write_summaries(dir, done)
    }
}

impl Arch for TxlArch {
    fn family(&self) -> FamilyRef {
        FamilyRef(&TRANSXL)
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

    /// Relative positions have no table; the span a query attends in training is a segment plus
    /// the memory.
    fn positions(&self) -> usize {
        self.tgt_len + self.mem_len
    }

    fn vocab(&self) -> usize {
        self.n_token
    }

    fn spec(&self, _fidelity: Fidelity) -> Result<Vec<ParamSpec>, ModelError> {
        Ok(model::spec(self))
    }

    fn counts(&self, _fidelity: Fidelity) -> Result<Vec<(&'static str, u64)>, ModelError> {
        Ok(model::count(self))
    }

    /// One segment with an empty memory (see the module documentation).
    fn loss(&self, store: &ParamStore, batch: &Minibatch, rec: &mut Recorder, _fidelity: Fidelity) -> Result<Tensor<1>, ModelError> {
        match batch {
            Minibatch::Causal(b) => Ok(model::forward(store, self, b, None, rec).0),
            Minibatch::Masked(_) => Err(ModelError::Unsupported("a causal decoder needs a next-token minibatch".into())),
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The fields of a configuration lpzero writes.
pub struct ConfigFields<'a> {
    /// Vocabulary size.
    pub n_token: usize,
    /// Layers.
    pub n_layer: usize,
    /// Hidden size.
    pub d_model: usize,
    /// Head cluster's embedding width.
    pub d_embed: usize,
    /// Heads per layer.
    pub n_head: &'a [usize],
    /// Head width per layer (`None`: `d_model / n_head`).
    pub d_head: Option<&'a [usize]>,
    /// FFN width per layer.
    pub d_inner: &'a [usize],
    /// Adaptive divisor.
    pub div_val: usize,
    /// Cut-offs.
    pub cutoffs: &'a [usize],
    /// Projection ties.
    pub tie_projs: &'a [bool],
    /// Segment length.
    pub tgt_len: usize,
    /// Memory length.
    pub mem_len: usize,
    /// Output weights tied to the embedding.
    pub tie_weight: bool,
    /// Init std.
    pub init_std: f64,
    /// Projection init std.
    pub proj_init_std: f64,
}

/// A `model_config.yaml` text the loader reads, with `model_type: transxl` so the folder says
/// which family wrote it.
pub fn config_yaml(c: &ConfigFields<'_>) -> String {
    #[derive(Serialize)]
    struct Config<'a> {
        model_type: &'static str,
        n_token: usize,
        n_layer: usize,
        d_model: usize,
        d_embed: usize,
        d_head: serde_json::Value,
        n_head: &'a [usize],
        d_inner: &'a [usize],
        div_val: usize,
        adaptive: bool,
        cutoffs: &'a [usize],
        tie_projs: &'a [bool],
        tie_weight: bool,
        tgt_len: usize,
        mem_len: usize,
        ext_len: usize,
        attn_type: usize,
        pre_lnorm: bool,
        init_std: f64,
        proj_init_std: f64,
    }
    let c = Config {
        model_type: "transxl",
        n_token: c.n_token,
        n_layer: c.n_layer,
        d_model: c.d_model,
        d_embed: c.d_embed,
        d_head: c.d_head.map_or(serde_json::json!(-1), |d| serde_json::json!(d)),
        n_head: c.n_head,
        d_inner: c.d_inner,
        div_val: c.div_val,
        adaptive: true,
        cutoffs: c.cutoffs,
        tie_projs: c.tie_projs,
        tie_weight: c.tie_weight,
        tgt_len: c.tgt_len,
        mem_len: c.mem_len,
        ext_len: 0,
        attn_type: 0,
        pre_lnorm: false,
        init_std: c.init_std,
        proj_init_std: c.proj_init_std,
    };
    serde_norway::to_string(&c).expect("a plain struct serialises")
}

/// The `model_config.yaml` of an architecture.
pub fn model_config_yaml(a: &TxlArch) -> String {
    config_yaml(&ConfigFields {
        n_token: a.n_token,
        n_layer: a.n_layer,
        d_model: a.d_model,
        d_embed: a.d_embed,
        n_head: &a.n_head,
        d_head: Some(&a.d_head),
        d_inner: &a.d_inner,
        div_val: a.div_val,
        cutoffs: &a.cutoffs,
        tie_projs: &a.tie_projs,
        tgt_len: a.tgt_len,
        mem_len: a.mem_len,
        tie_weight: a.tie_weight,
        init_std: a.init_std,
        proj_init_std: a.proj_init_std,
    })
}
