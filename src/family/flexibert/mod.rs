//! FlexiBERT encoders of the FlexiBERT benchmark (GLUE ground truth, higher is better): [`bench`]
//! reads the benchmark JSON, [`model`] builds the networks as they were trained
//! (`--fidelity trained`), [`reference_model`] as the reference implementation built them
//! (`--fidelity reference`), [`text`] makes the masked-LM minibatches, [`space`] samples search
//! spaces. A benchmark built by `lpzero bench build` keeps the same JSON format in
//! `DIR/benchmark.json`, with masked-LM validation perplexity as its score.

pub mod bench;
pub mod model;
pub mod reference_model;
pub mod space;
pub mod text;

pub use bench::{FlexiArch, FlexiLayer, LayerOp};

use crate::bench::error::BenchError;
use crate::rank::reference::ReferenceScores;
use crate::family::space::{ArchSpace, SpaceError};
use crate::family::{sum_groups, Arch, BenchData, Family, FamilyRef, Objective, Recognition, ShippedSpace, TokenStream};
use crate::gather::text::{Corpus, TextError};
use crate::models::batch::Minibatch;
use crate::models::nn::Recorder;
use crate::models::params::{ParamSpec, ParamStore};
use crate::models::{Fidelity, ModelError};
use crate::rank::Baseline;
use crate::train::result::ArchResult;
use burn::tensor::Tensor;
use std::path::Path;
use std::sync::Arc;

/// The file a benchmark built by `lpzero bench build` keeps in its directory.
pub const BUILT_FILE: &str = "benchmark.json";

/// The FlexiBERT benchmark's space (as trained), compiled in.
pub const SPACE: &str = include_str!("../../../spaces/flexibert.yaml");

/// The family.
pub struct Flexibert;

/// The family's one value, as the registry holds it.
pub static FLEXIBERT: Flexibert = Flexibert;

const SPACES: [ShippedSpace; 1] = [ShippedSpace { name: "flexibert", path: "spaces/flexibert.yaml", text: SPACE }];

/// The stdlib proxies and the reference's column for the same measure in
/// `reference_proxy_scores.csv`.
const REFERENCE_COLUMNS: &[(&str, &str)] = &[
    ("synaptic_diversity", "Synaptic Diversity"),
    ("synaptic_saliency", "Synaptic Saliency"),
    ("activation_distance", "Activation Distance"),
    ("head_importance", "Head Importance"),
    ("head_confidence", "Head Confidence"),
    ("softmax_confidence", "Head Softmax Confidence"),
    ("params", "Number of Parameters"),
    ("lpzero_flexibert", "lpzero"),
    ("jacobian_cosine", "Jacobian Score Normalized"),
];

/// What each reported count sums, by parameter group ([`model::GROUPS`]; the MLM loss head is not
/// part of the encoder).
const COUNTS: [(&str, &[&str]); 2] = [("total", &["embedding", "projection", "mixer", "ffn"]), ("nonembedding", &["mixer", "ffn"])];

/// The benchmark file of a path: the file itself, or a built benchmark's `benchmark.json`.
fn file_of(path: &Path) -> std::path::PathBuf {
    if path.is_dir() {
        path.join(BUILT_FILE)
    } else {
        path.to_owned()
    }
}

impl Family for Flexibert {
    fn name(&self) -> &'static str {
        "flexibert"
    }

    fn title(&self) -> &'static str {
        "FlexiBERT"
    }

    fn about(&self) -> &'static str {
        "FlexiBERT encoders (ground truth: GLUE, or masked-LM validation perplexity when built)"
    }

    fn benchmark_hint(&self) -> &'static str {
        "a FlexiBERT JSON file (a list of architectures with scores and hparams)"
    }

    fn recognise(&self, path: &Path) -> Recognition {
        let file = file_of(path);
        let Ok(mut f) = std::fs::File::open(&file) else { return Recognition::No };
        let mut head = [0u8; 256];
        let n = std::io::Read::read(&mut f, &mut head).unwrap_or(0);
        match String::from_utf8_lossy(&head[..n]).trim_start().chars().next() {
            Some('[') => Recognition::Content,
            _ => Recognition::No,
        }
    }

    fn load(&self, path: &Path) -> Result<BenchData, BenchError> {
        let file = file_of(path);
        let text = std::fs::read_to_string(&file).map_err(|source| BenchError::Io { path: file.clone(), source })?;
        let parsed = bench::parse(&file, &text)?;
        let n = parsed.archs.len();
        Ok(BenchData {
            archs: parsed.archs.into_iter().map(|a| Arc::new(a) as Arc<dyn Arch>).collect(),
            truth: parsed.truth,
            truth_name: if parsed.mlm { "mlm_ppl" } else { "GLUE" },
            lower_is_better: parsed.mlm,
            published_counts: vec![None; n],
        })
    }

    fn objective(&self) -> Objective {
        Objective::MaskedLm
    }

    fn default_minibatch(&self) -> (usize, usize) {
        (8, 128)
    }

    fn paper_minibatch(&self) -> (usize, usize) {
        (128, 512)
    }

    fn gather_batch(&self, corpus: &Corpus, batch: usize, len: usize, seed: u64, index: usize) -> Result<Minibatch, TextError> {
        Ok(Minibatch::Masked(text::mlm_batch(corpus, batch, len, seed, index)?))
    }

    fn token_stream(&self, corpus: &Corpus) -> Result<TokenStream, TextError> {
        Ok(TokenStream { ids: text::bert_stream(corpus), vocab: model::VOCAB })
    }

    /// The grammar's words as BPE text (the encoder reads BERT ids made from BPE).
    fn grammar_corpus(&self, seed: u64, min_tokens: usize) -> Corpus {
        Corpus::new(crate::gather::synthetic::text(seed, min_tokens), format!("grammar:{seed}"))
    }

    fn train_batch(&self, tokens: &[u32], batch: usize, len: usize, seed: u64, step: usize) -> Result<Minibatch, TextError> {
        Ok(Minibatch::Masked(text::train_mlm_batch(tokens, batch, len, seed, step)?))
    }

    fn valid_batches(&self, tokens: &[u32], sequences: usize, batch: usize, len: usize, seed: u64) -> Result<Vec<Minibatch>, TextError> {
        Ok(text::valid_mlm_batches(tokens, sequences, batch, len, seed)?.into_iter().map(Minibatch::Masked).collect())
    }

    /// `[CLS] token [SEP]`.
    fn min_seq_len(&self) -> usize {
        3
    }

    fn supports(&self, _fidelity: Fidelity) -> bool {
        true
    }

    fn count_fields(&self) -> &'static [&'static str] {
        &["total", "nonembedding"]
    }

    fn baselines(&self, archs: &[&dyn Arch], fidelity: Fidelity) -> Result<Vec<Baseline>, ModelError> {
        let field = crate::family::count_columns(archs, fidelity)?;
        let layers: Vec<f64> = archs.iter().map(|a| a.layers() as f64).collect();
        Ok(vec![
            Baseline::new("params (total)", field("total")),
            Baseline::new("params (non-embedding)", field("nonembedding")),
            Baseline::new("layers", layers),
            Baseline::new("layers, then hidden size", archs.iter().map(|a| a.layers() as f64 * 1e4 + a.width() as f64).collect()),
        ])
    }

    fn best_baseline(&self) -> &'static str {
        "layers, then hidden size"
    }

    fn paper_proxy(&self) -> Option<&'static str> {
        Some("lpzero_flexibert")
    }

    fn reference_scores(&self, path: &Path) -> Option<ReferenceScores> {
        ReferenceScores::from_csv(&file_of(path).with_file_name("reference_proxy_scores.csv"), REFERENCE_COLUMNS)
    }

    fn shared_benchmark(&self) -> Option<&'static str> {
        Some("benchmarks/flexibert/BERT_benchmark.json")
    }

    fn shipped_spaces(&self) -> &'static [ShippedSpace] {
        &SPACES
    }

    fn parse_space(&self, text: &str, origin: &str) -> Result<Box<dyn ArchSpace>, SpaceError> {
        Ok(Box::new(space::FlexiSpace::parse(text, origin)?))
    }

    fn result_key(&self, arch: &dyn Arch) -> String {
        format!("arch_{}", arch.id())
    }

    fn write_arch(&self, dir: &Path, arch: &dyn Arch, result: &ArchResult) -> std::io::Result<()> {
        std::fs::write(dir.join("arch.json"), serde_json::to_string_pretty(&entry(downcast(arch), result)).expect("plain JSON"))
    }

    fn write_benchmark(&self, dir: &Path, done: &[(&dyn Arch, &ArchResult)]) -> std::io::Result<()> {
        let entries: Vec<serde_json::Value> = done.iter().filter(|(_, r)| !r.diverged).map(|(a, r)| entry(downcast(*a), r)).collect();
        crate::fsutil::write_atomic(&dir.join(BUILT_FILE), serde_json::to_string_pretty(&entries).expect("plain JSON").as_bytes())
    }
}

fn downcast(arch: &dyn Arch) -> &FlexiArch {
    arch.as_any().downcast_ref::<FlexiArch>().expect("the family's own architectures")
}

/// One entry of a built benchmark, in the published file's format with the MLM perplexity as
/// its score (and the published GLUE, when the architecture came from there).
fn entry(a: &FlexiArch, r: &ArchResult) -> serde_json::Value {
    let layers: Vec<serde_json::Value> = a
        .layers
        .iter()
        .map(|l| {
            let (t, p) = match l.op {
                LayerOp::SaSdp => ("SA", serde_json::json!("SDP")),
                LayerOp::SaWma => ("SA", serde_json::json!("WMA")),
                LayerOp::LtDft => ("LT", serde_json::json!("DFT")),
                LayerOp::LtDct => ("LT", serde_json::json!("DCT")),
                LayerOp::Dsc(k) => ("DSC", serde_json::json!(k)),
            };
            serde_json::json!({"operation_type": t, "operation_parameter": p, "num_operation_heads": l.heads,
                "feed_forward_dimension": l.ffn_dim, "num_feed_forward": l.num_ffn})
        })
        .collect();
    let mut scores = serde_json::json!({"mlm_ppl": r.valid_ppl, "mlm_loss": r.valid_loss});
    if let Some(g) = r.published_ppl {
        scores["published_glue"] = serde_json::json!(g);
    }
    serde_json::json!({"id": a.id, "scores": scores,
        "hparams": {"model_hparam_overrides": {"hidden_size": a.hidden_size, "nas_config": {"encoder_layers": layers}}}})
}

impl Arch for FlexiArch {
    fn family(&self) -> FamilyRef {
        FamilyRef(&FLEXIBERT)
    }

    fn id(&self) -> String {
        self.id.to_string()
    }

    fn layers(&self) -> usize {
        self.layers.len()
    }

    fn width(&self) -> usize {
        self.hidden_size
    }

    fn positions(&self) -> usize {
        model::MAX_POSITIONS
    }

    fn vocab(&self) -> usize {
        model::VOCAB
    }

    fn spec(&self, fidelity: Fidelity) -> Result<Vec<ParamSpec>, ModelError> {
        match fidelity {
            Fidelity::Trained => Ok(model::spec(self)),
            Fidelity::Reference => reference_model::spec(self),
        }
    }

    fn counts(&self, fidelity: Fidelity) -> Result<Vec<(&'static str, u64)>, ModelError> {
        Ok(sum_groups(&self.spec(fidelity)?, &COUNTS))
    }

    fn loss(&self, store: &ParamStore, batch: &Minibatch, rec: &mut Recorder, fidelity: Fidelity) -> Result<Tensor<1>, ModelError> {
        let Minibatch::Masked(b) = batch else {
            return Err(ModelError::Unsupported("an encoder needs a masked-LM minibatch".into()));
        };
        match fidelity {
            Fidelity::Trained => Ok(model::forward(store, self, b, rec)),
            Fidelity::Reference => reference_model::forward(store, self, b, rec),
        }
    }

    /// The trained networks ignore the op labels (every layer ran as plain self-attention at the
    /// architecture's width), so architectures that differ only in labels are one network.
    fn trained_network(&self) -> String {
        let layers: Vec<(usize, usize, usize)> = self.layers.iter().map(|l| (l.heads, l.ffn_dim, l.num_ffn)).collect();
        format!("{}:{layers:?}", self.hidden_size)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
