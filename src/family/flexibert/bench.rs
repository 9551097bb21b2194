//! The FlexiBERT benchmark: a JSON array of architectures with GLUE scores (published), or with
//! masked-LM perplexity (`scores.mlm_ppl`, written by `lpzero bench build`).

use crate::bench::error::BenchError;
use serde::Deserialize;
use std::path::Path;

/// A layer's labelled token mixer. In the networks that were trained, every layer ran as
/// `SaSdp` whatever its label (see `FLEXIBERT_TRAINED.md`); the labels matter only for the
/// reference fidelity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum LayerOp {
    /// Scaled dot-product self-attention.
    SaSdp,
    /// Weighted multiplicative attention.
    SaWma,
    /// Fourier linear transform.
    LtDft,
    /// Cosine linear transform.
    LtDct,
    /// Dynamic span-based convolution with this kernel size.
    Dsc(usize),
}

/// One encoder layer of a FlexiBERT architecture.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct FlexiLayer {
    /// The labelled token mixer.
    pub op: LayerOp,
    /// `num_operation_heads`.
    pub heads: usize,
    /// `feed_forward_dimension` (F).
    pub ffn_dim: usize,
    /// `num_feed_forward` (n).
    pub num_ffn: usize,
}

/// One FlexiBERT architecture.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct FlexiArch {
    /// The benchmark id.
    pub id: usize,
    /// `hidden_size` (H).
    pub hidden_size: usize,
    /// The encoder layers.
    pub layers: Vec<FlexiLayer>,
}

/// What a FlexiBERT benchmark file holds: the architectures and their ground truth.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The architectures in file order.
    pub archs: Vec<FlexiArch>,
    /// The ground truth of each (`None`: missing for that entry).
    pub truth: Vec<Option<f64>>,
    /// `true` when the ground truth is masked-LM perplexity (a built benchmark; lower is
    /// better), `false` for GLUE (higher is better).
    pub mlm: bool,
}

#[derive(Deserialize)]
struct RawArch {
    id: usize,
    #[serde(default)]
    scores: RawScores,
    hparams: RawHparams,
}

#[derive(Default, Deserialize)]
struct RawScores {
    #[serde(default)]
    glue: Option<f64>,
    #[serde(default)]
    mlm_ppl: Option<f64>,
}

#[derive(Deserialize)]
struct RawHparams {
    model_hparam_overrides: RawOverrides,
}

#[derive(Deserialize)]
struct RawOverrides {
    hidden_size: usize,
    nas_config: RawNas,
}

#[derive(Deserialize)]
struct RawNas {
    encoder_layers: Vec<RawLayer>,
}

#[derive(Deserialize)]
struct RawLayer {
    operation_type: String,
    operation_parameter: serde_json::Value,
    num_operation_heads: usize,
    feed_forward_dimension: usize,
    num_feed_forward: usize,
}

/// The file a FlexiBERT benchmark built by `lpzero bench build` keeps in its directory.
pub const BUILT_FILE: &str = "benchmark.json";

/// Parses the benchmark JSON. The ground truth is `scores.mlm_ppl` when any entry has one (a
/// benchmark built by lpzero), else `scores.glue`; an entry without it has no ground truth (its
/// training did not finish) but is still an architecture.
pub fn parse(path: &Path, text: &str) -> Result<Parsed, BenchError> {
    let values: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|e| BenchError::Parse { path: path.to_owned(), message: e.to_string() })?;
    let mut archs = Vec::with_capacity(values.len());
    let mut glues = Vec::with_capacity(values.len());
    let mut ppls = Vec::with_capacity(values.len());
    for (i, v) in values.into_iter().enumerate() {
        let entry_err = |message: String| BenchError::Entry { path: path.to_owned(), entry: i.to_string(), message };
        let raw: RawArch = serde_json::from_value(v).map_err(|e| entry_err(e.to_string()))?;
        if let Some(prev) = archs.last().map(|a: &FlexiArch| a.id) {
            if raw.id <= prev {
                return Err(entry_err(format!("id {} after id {prev}: ids must increase", raw.id)));
            }
        }
        if raw.scores.mlm_ppl.is_some_and(|p| !(p.is_finite() && p > 0.0)) {
            return Err(entry_err("scores.mlm_ppl is not a positive number".into()));
        }
        if raw.scores.glue.is_some_and(|g| !g.is_finite()) {
            return Err(entry_err("scores.glue is not a finite number".into()));
        }
        let o = raw.hparams.model_hparam_overrides;
        if o.hidden_size == 0 || o.nas_config.encoder_layers.is_empty() {
            return Err(entry_err("hidden_size must be positive and there must be at least one layer".into()));
        }
        let mut layers = vec![];
        for (l, layer) in o.nas_config.encoder_layers.into_iter().enumerate() {
            let param = match &layer.operation_parameter {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                other => other.to_string(),
            };
            let op = match (layer.operation_type.as_str(), param.as_str()) {
                ("SA", "SDP") => LayerOp::SaSdp,
                ("SA", "WMA") => LayerOp::SaWma,
                ("LT", "DFT") => LayerOp::LtDft,
                ("LT", "DCT") => LayerOp::LtDct,
                ("DSC", k) => LayerOp::Dsc(
                    k.parse().map_err(|_| entry_err(format!("layer {l}: DSC kernel size `{k}` is not an integer")))?,
                ),
                (t, p) => return Err(entry_err(format!("layer {l}: unknown operation {t}/{p}"))),
            };
            if layer.num_operation_heads == 0 || o.hidden_size % layer.num_operation_heads != 0 || layer.num_feed_forward == 0 {
                return Err(entry_err(format!(
                    "layer {l}: {} heads do not divide hidden size {}, or num_feed_forward is 0",
                    layer.num_operation_heads, o.hidden_size
                )));
            }
            layers.push(FlexiLayer {
                op,
                heads: layer.num_operation_heads,
                ffn_dim: layer.feed_forward_dimension,
                num_ffn: layer.num_feed_forward,
            });
        }
        archs.push(FlexiArch { id: raw.id, hidden_size: o.hidden_size, layers });
        glues.push(raw.scores.glue);
        ppls.push(raw.scores.mlm_ppl);
    }
    let mlm = ppls.iter().any(Option::is_some);
    Ok(Parsed { archs, truth: if mlm { ppls } else { glues }, mlm })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = r#"[
      {"id": 0, "scores": {"glue": 70.5}, "hparams": {"model_hparam_overrides": {"hidden_size": 128, "nas_config": {"encoder_layers": [
        {"operation_type": "DSC", "operation_parameter": 9, "num_operation_heads": 2, "feed_forward_dimension": 512, "num_feed_forward": 3}]}}}},
      {"id": 1, "scores": {"glue": 60.0}, "hparams": {"model_hparam_overrides": {"hidden_size": 256, "nas_config": {"encoder_layers": [
        {"operation_type": "SA", "operation_parameter": "WMA", "num_operation_heads": 4, "feed_forward_dimension": 1024, "num_feed_forward": 1},
        {"operation_type": "LT", "operation_parameter": "DFT", "num_operation_heads": 4, "feed_forward_dimension": 1024, "num_feed_forward": 1}]}}}}
    ]"#;

    #[test]
    fn parses_layers_and_ground_truth() {
        let p = parse(Path::new("b.json"), TWO).unwrap();
        let archs = &p.archs;
        assert_eq!(archs.len(), 2);
        assert_eq!(archs[0].layers[0].op, LayerOp::Dsc(9));
        assert_eq!(archs[1].layers[1].op, LayerOp::LtDft);
        assert_eq!(archs[1].hidden_size, 256);
        assert_eq!((p.truth[0], p.mlm), (Some(70.5), false));
    }

    #[test]
    fn errors_name_the_file_and_entry() {
        let bad = TWO.replace("\"WMA\"", "\"XYZ\"");
        let e = parse(Path::new("b.json"), &bad).unwrap_err().to_string();
        assert!(e.contains("b.json") && e.contains("entry 1") && e.contains("SA/XYZ"), "{e}");
        let e = parse(Path::new("b.json"), &TWO[..200]).unwrap_err().to_string();
        assert!(e.contains("b.json"), "{e}");
        let e = parse(Path::new("b.json"), &TWO.replace("\"id\": 1", "\"id\": 0")).unwrap_err().to_string();
        assert!(e.contains("entry 1") && e.contains("ids must increase"), "{e}");
        // Gaps are allowed (a built benchmark keeps its plan's ids), and MLM perplexity is
        // the ground truth when present; an entry without it has none.
        let built = TWO.replace("\"id\": 1", "\"id\": 7").replace("\"glue\": 60.0", "\"mlm_ppl\": 12.5");
        let p = parse(Path::new("b.json"), &built).unwrap();
        assert_eq!((p.archs[1].id, p.truth[1], p.mlm), (7, Some(12.5), true));
        assert_eq!(p.truth[0], None);
        let e = parse(Path::new("b.json"), &TWO.replace("\"glue\": 60.0", "\"glue\": \"x\"")).unwrap_err().to_string();
        assert!(e.contains("entry 1"), "{e}");
        // An entry whose training did not finish (no score) is an architecture without ground truth.
        let p = parse(Path::new("b.json"), &TWO.replace("{\"glue\": 60.0}", "{}")).unwrap();
        assert_eq!(p.truth, vec![Some(70.5), None]);
    }
}
