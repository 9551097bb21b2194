//! The weight-file readers (`lpzero::family::llama::weights`) on fixtures written here: a tiny LLaMA as
//! safetensors (single and sharded) with `config.json`, a PEFT adapter, GGUF files with every
//! metadata type and hand-computed quantisation blocks, a hand-written BPE vocabulary, and
//! malformed files. Expected values come from the formulas that generated the bytes, never from
//! the readers.

use lpzero::family::llama::weights::gguf::{gguf_row_of_hf_row, hf_to_gguf_name};
use lpzero::family::llama::weights::{
    stream_stats, BpeTokenizer, Checkpoint, DType, GgufFile, GgufValue, LlamaConfig, LoraAdapter, LoraConfig,
    PieceKind, PreTokenizer, RowOrder, SafetensorsModel, SpecialTokens, TensorSource, WeightsError,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

#[path = "common/gguf.rs"]
mod gguf;
use gguf::{gguf_bytes, GT, V};

// ------------------------------------------------------------------------------------------
// Independent encoders and writers.

/// f16 bits of a value that f16 represents exactly (normal range or zero); panics otherwise.
fn f16_exact(x: f32) -> u16 {
    if x == 0.0 {
        return if x.is_sign_negative() { 0x8000 } else { 0 };
    }
    let bits = x.to_bits();
    let sign = (bits >> 31) as u16;
    let exp = ((bits >> 23) & 0xFF) as i32 - 127;
    let mant = bits & 0x7F_FFFF;
    assert!((-14..=15).contains(&exp), "{x} is outside f16's normal range");
    assert_eq!(mant & 0x1FFF, 0, "{x} is not exact in f16");
    (sign << 15) | (((exp + 15) as u16) << 10) | (mant >> 13) as u16
}

/// bf16 bits of a value that bf16 represents exactly.
fn bf16_exact(x: f32) -> u16 {
    let bits = x.to_bits();
    assert_eq!(bits & 0xFFFF, 0, "{x} is not exact in bf16");
    (bits >> 16) as u16
}

fn le16(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn le32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// One tensor of a safetensors fixture: name, dtype, shape, bytes.
type StTensor = (String, &'static str, Vec<usize>, Vec<u8>);

/// Writes a safetensors file: u64 header length, JSON header (space-padded to 8 bytes), data.
fn write_safetensors(path: &Path, tensors: &[StTensor]) {
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), json!({"format": "pt"}));
    let mut offset = 0usize;
    for (name, dtype, shape, bytes) in tensors {
        header.insert(name.clone(), json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + bytes.len()]}));
        offset += bytes.len();
    }
    let mut h = serde_json::to_vec(&header).unwrap();
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    for (_, _, _, bytes) in tensors {
        out.extend(bytes);
    }
    std::fs::write(path, out).unwrap();
}

/// A tiny LLaMA: 2 layers, width 16, 4 heads (head_dim 4, not given), 2 kv heads, FFN 40,
/// vocabulary 32, untied. Values are k/256 with |k| ≤ 127 (exact in f16 and bf16); the dtype
/// cycles F32, F16, BF16 over the tensors.
fn tiny_config() -> serde_json::Value {
    json!({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": 32, "hidden_size": 16, "intermediate_size": 40, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-5,
        "max_position_embeddings": 128, "tie_word_embeddings": false, "torch_dtype": "float16"
    })
}

struct Expected {
    shape: Vec<usize>,
    values: Vec<f32>,
    dtype: &'static str,
}

fn tiny_tensors() -> (Vec<StTensor>, BTreeMap<String, Expected>) {
    let cfg = LlamaConfig::from_json_str(&tiny_config().to_string(), "config.json").unwrap();
    let mut tensors = Vec::new();
    let mut expected = BTreeMap::new();
    for (ti, (name, shape)) in cfg.expected_tensors().into_iter().enumerate() {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|j| ((j * 7 + ti * 13) % 255) as f32 / 256.0 - 127.0 / 256.0).collect();
        let dtype = ["F32", "F16", "BF16"][ti % 3];
        let bytes = match dtype {
            "F32" => le32(&values),
            "F16" => le16(&values.iter().map(|&v| f16_exact(v)).collect::<Vec<_>>()),
            _ => le16(&values.iter().map(|&v| bf16_exact(v)).collect::<Vec<_>>()),
        };
        tensors.push((name.clone(), dtype, shape.clone(), bytes));
        expected.insert(name, Expected { shape, values, dtype });
    }
    // Rounding cases given as bit patterns, with their exact values.
    let f16_bits = [0x3555u16, 0x0001, 0x7BFF, 0xC000];
    let f16_vals = [0.333_251_95_f32, 5.960_464_5e-8, 65504.0, -2.0];
    tensors.push(("rounding.f16".into(), "F16", vec![4], le16(&f16_bits)));
    expected.insert("rounding.f16".into(), Expected { shape: vec![4], values: f16_vals.to_vec(), dtype: "F16" });
    let bf16_bits = [0x3EABu16, 0x3F80, 0xC2F7, 0x0001];
    let bf16_vals = [0.333_984_38_f32, 1.0, -123.5, f32::from_bits(0x0001_0000)];
    tensors.push(("rounding.bf16".into(), "BF16", vec![2, 2], le16(&bf16_bits)));
    expected.insert("rounding.bf16".into(), Expected { shape: vec![2, 2], values: bf16_vals.to_vec(), dtype: "BF16" });
    // A tensor of a type that is listed but not converted.
    tensors.push(("position_ids".into(), "I64", vec![3], [0i64, 1, 2].iter().flat_map(|x| x.to_le_bytes()).collect()));
    (tensors, expected)
}

fn write_tiny(dir: &Path) -> BTreeMap<String, Expected> {
    let (tensors, expected) = tiny_tensors();
    std::fs::write(dir.join("config.json"), tiny_config().to_string()).unwrap();
    write_safetensors(&dir.join("model.safetensors"), &tensors);
    expected
}

fn write_tiny_sharded(dir: &Path) -> BTreeMap<String, Expected> {
    let (tensors, expected) = tiny_tensors();
    std::fs::write(dir.join("config.json"), tiny_config().to_string()).unwrap();
    let (a, b): (Vec<_>, Vec<_>) = tensors.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let a: Vec<StTensor> = a.into_iter().map(|(_, t)| t).collect();
    let b: Vec<StTensor> = b.into_iter().map(|(_, t)| t).collect();
    write_safetensors(&dir.join("model-00001-of-00002.safetensors"), &a);
    write_safetensors(&dir.join("model-00002-of-00002.safetensors"), &b);
    let mut map = serde_json::Map::new();
    for t in &a {
        map.insert(t.0.clone(), json!("model-00001-of-00002.safetensors"));
    }
    for t in &b {
        map.insert(t.0.clone(), json!("model-00002-of-00002.safetensors"));
    }
    std::fs::write(
        dir.join("model.safetensors.index.json"),
        json!({"metadata": {"total_size": 0}, "weight_map": map}).to_string(),
    )
    .unwrap();
    expected
}

fn slice_block(values: &[f32], cols: usize, rows: std::ops::Range<usize>, take: usize) -> Vec<f32> {
    rows.flat_map(|r| values[r * cols..r * cols + take].to_vec()).collect()
}

fn check_all_reads(src: &dyn TensorSource, expected: &BTreeMap<String, Expected>) {
    for (name, e) in expected {
        let info = src.info(name).unwrap_or_else(|| panic!("{name} listed"));
        assert_eq!(info.shape, e.shape, "{name}");
        assert_eq!(info.dtype.to_string(), e.dtype, "{name}");
        assert_eq!(src.read(name).unwrap(), e.values, "{name}");
        if let [r, c] = e.shape[..] {
            for (rr, cc) in [(r, c), (1, 1), (r / 2 + 1, c / 3 + 1), (0, c), (r, 0)] {
                assert_eq!(src.read_block(name, rr, cc).unwrap(), slice_block(&e.values, c, 0..rr, cc), "{name} [{rr},{cc}]");
            }
            assert_eq!(src.read_region(name, 1..r, c - 1).unwrap(), slice_block(&e.values, c, 1..r, c - 1));
            assert!(matches!(src.read_block(name, r + 1, c), Err(WeightsError::BadRegion { .. })));
            assert!(matches!(src.read_block(name, r, c + 1), Err(WeightsError::BadRegion { .. })));
        }
    }
}

// ------------------------------------------------------------------------------------------
// safetensors + config.json

#[test]
fn tiny_llama_single_file_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let expected = write_tiny(dir.path());
    let cfg = LlamaConfig::from_json_file(dir.path().join("config.json")).unwrap();
    assert_eq!(
        cfg,
        LlamaConfig {
            vocab_size: 32,
            hidden_size: 16,
            intermediate_size: 40,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            num_key_value_heads: 2,
            head_dim: 4,
            rope_theta: 10000.0,
            rms_norm_eps: 1e-5,
            tie_word_embeddings: false,
            max_position_embeddings: 128,
            model_type: Some("llama".into()),
        }
    );
    let model = SafetensorsModel::open(dir.path()).unwrap();
    assert_eq!(model.tensors().len(), expected.len() + 1);
    assert_eq!(model.metadata().get("format").map(String::as_str), Some("pt"));
    check_all_reads(&model, &expected);
    cfg.check_tensors(&model).unwrap();
    // Byte sizes and storage order follow the file.
    let q = model.info("model.layers.0.self_attn.q_proj.weight").unwrap();
    assert_eq!(q.bytes, 16 * 16 * if q.dtype == DType::F32 { 4 } else { 2 });
    assert_eq!(model.tensors()[0].name, "model.embed_tokens.weight");
    // The I64 tensor is listed; reading it names the dtype.
    let err = model.read("position_ids").unwrap_err();
    assert!(matches!(err, WeightsError::UnsupportedDtype { ref dtype, .. } if dtype == "I64"), "{err}");
    assert!(err.to_string().contains("position_ids") && err.to_string().contains("I64"), "{err}");
    assert!(matches!(model.read("nope"), Err(WeightsError::TensorNotFound { .. })));
    // 1-D tensors are 1 × n; a block read needs 2-D.
    assert!(matches!(model.read_block("model.norm.weight", 1, 4), Err(WeightsError::BadRegion { .. })));
    assert_eq!(model.read_region("model.norm.weight", 0..1, 4).unwrap(), expected["model.norm.weight"].values[..4]);
    // The same through Checkpoint.
    let ck = Checkpoint::open(dir.path()).unwrap();
    assert_eq!(ck.config, cfg);
    assert_eq!(ck.source.read("lm_head.weight").unwrap(), expected["lm_head.weight"].values);
}

#[test]
fn tiny_llama_sharded_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let expected = write_tiny_sharded(dir.path());
    let model = SafetensorsModel::open(dir.path()).unwrap();
    assert_eq!(model.files().len(), 2);
    assert_eq!(model.tensors().len(), expected.len() + 1);
    check_all_reads(&model, &expected);
    let ck = Checkpoint::open(dir.path().join("model.safetensors.index.json")).unwrap();
    ck.config.check_tensors(ck.source.as_ref()).unwrap();
}

#[test]
fn sharded_index_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_sharded(dir.path());
    let index = dir.path().join("model.safetensors.index.json");
    let text = std::fs::read_to_string(&index).unwrap();
    // A shard that does not exist.
    let gone = text.replacen("model-00002-of-00002", "model-00003-of-00002", 1);
    std::fs::write(&index, &gone).unwrap();
    let err = SafetensorsModel::open(dir.path()).unwrap_err();
    assert!(matches!(err, WeightsError::MissingShard { ref shard, .. } if shard == "model-00003-of-00002.safetensors"), "{err}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    // A tensor mapped to a shard that lacks it (the embedding is in the first shard).
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["weight_map"]["model.embed_tokens.weight"] = json!("model-00002-of-00002.safetensors");
    std::fs::write(&index, json.to_string()).unwrap();
    let err = SafetensorsModel::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, WeightsError::MissingShard { ref tensor, .. } if tensor == "model.embed_tokens.weight")
            && err.to_string().contains("does not contain it"),
        "{err}"
    );
    // No weight_map; malformed JSON; a shard path leaving the folder.
    std::fs::write(&index, "{\"metadata\": {}}").unwrap();
    assert!(matches!(SafetensorsModel::open(dir.path()), Err(WeightsError::MissingField { ref field, .. }) if field == "weight_map"));
    std::fs::write(&index, "{\"weight_map\": {").unwrap();
    let err = SafetensorsModel::open(dir.path()).unwrap_err();
    assert!(matches!(err, WeightsError::Json { .. }) && err.to_string().contains("model.safetensors.index.json"), "{err}");
    std::fs::write(&index, "{\"weight_map\": {\"a\": \"../x.safetensors\"}}").unwrap();
    assert!(matches!(SafetensorsModel::open(dir.path()), Err(WeightsError::MissingShard { .. })));
}

#[test]
fn config_errors_name_the_field() {
    let mut c = tiny_config();
    c.as_object_mut().unwrap().remove("hidden_size");
    let err = LlamaConfig::from_json_str(&c.to_string(), "cfg/config.json").unwrap_err();
    assert!(matches!(err, WeightsError::MissingField { ref field, .. } if field == "hidden_size"), "{err}");
    assert_eq!(err.to_string(), "cfg/config.json: required field `hidden_size` is missing");
    let err = LlamaConfig::from_json_str("{\"hidden_size\": 16,", "c.json").unwrap_err();
    assert!(matches!(err, WeightsError::Json { .. }) && err.to_string().starts_with("c.json: malformed JSON"), "{err}");
    let mut c = tiny_config();
    c["num_attention_heads"] = json!("four");
    assert!(LlamaConfig::from_json_str(&c.to_string(), "c").unwrap_err().to_string().contains("num_attention_heads"));
    let mut c = tiny_config();
    c["num_key_value_heads"] = json!(3);
    assert!(matches!(LlamaConfig::from_json_str(&c.to_string(), "c"), Err(WeightsError::InvalidConfig { .. })));
    // Defaults; rope_theta from rope_parameters; explicit head_dim.
    let c = json!({"vocab_size": 10, "hidden_size": 8, "intermediate_size": 12, "num_hidden_layers": 1,
                   "num_attention_heads": 2, "head_dim": 6, "rope_parameters": {"rope_theta": 5e5, "rope_type": "default"}});
    let cfg = LlamaConfig::from_json_str(&c.to_string(), "c").unwrap();
    assert_eq!((cfg.num_key_value_heads, cfg.head_dim, cfg.rope_theta, cfg.tie_word_embeddings), (2, 6, 5e5, false));
    assert_eq!((cfg.rms_norm_eps, cfg.max_position_embeddings), (1e-6, 2048));
    assert!(matches!(LlamaConfig::from_json_file("/nonexistent/config.json"), Err(WeightsError::Io { .. })));
}

#[test]
fn malformed_safetensors_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path());
    let path = dir.path().join("model.safetensors");
    let good = std::fs::read(&path).unwrap();
    let bad = dir.path().join("bad.safetensors");
    // Header length beyond the file.
    let mut b = good[..100].to_vec();
    b[..8].copy_from_slice(&10_000u64.to_le_bytes());
    std::fs::write(&bad, &b).unwrap();
    let err = SafetensorsModel::open_file(&bad).unwrap_err();
    assert!(matches!(err, WeightsError::Truncated { .. }), "{err}");
    assert!(err.to_string().contains("bad.safetensors") && err.to_string().contains("10000"), "{err}");
    // Data cut short.
    std::fs::write(&bad, &good[..good.len() - 3]).unwrap();
    let err = SafetensorsModel::open_file(&bad).unwrap_err();
    assert!(matches!(err, WeightsError::Truncated { .. }) && err.to_string().contains("data ends at byte"), "{err}");
    // Fewer than 8 bytes.
    std::fs::write(&bad, [1u8, 2]).unwrap();
    assert!(matches!(SafetensorsModel::open_file(&bad), Err(WeightsError::Truncated { .. })));
    // An unknown dtype.
    write_safetensors(&bad, &[("w".into(), "Q7", vec![2], vec![0, 0])]);
    let err = SafetensorsModel::open_file(&bad).unwrap_err();
    assert!(matches!(err, WeightsError::Safetensors { .. }) && err.to_string().contains("Q7"), "{err}");
    // A size that does not match the shape.
    write_safetensors(&bad, &[("w".into(), "F32", vec![3], vec![0; 8])]);
    assert!(matches!(SafetensorsModel::open_file(&bad), Err(WeightsError::Safetensors { .. })));
    // Not a model folder.
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(SafetensorsModel::open(empty.path()), Err(WeightsError::NotAModel { .. })));
}

/// Opens `bytes` as a file with `open` and reads every tensor: each case must be an error or a
/// correct read, never a panic.
/// Opens a file as a boxed tensor source.
type Opener<'a> = &'a dyn Fn(&Path) -> Result<Box<dyn TensorSource>, WeightsError>;

fn must_not_panic(dir: &Path, bytes: &[u8], open: Opener) -> bool {
    let p = dir.join("case.bin");
    std::fs::write(&p, bytes).unwrap();
    match open(&p) {
        Err(e) => {
            assert!(!e.to_string().is_empty());
            false
        }
        Ok(src) => {
            for t in src.tensors().to_vec() {
                let _ = src.read(&t.name);
                let (r, c) = t.matrix_dims();
                let _ = src.read_region(&t.name, r / 2..r, c / 2);
            }
            true
        }
    }
}

#[test]
fn truncated_and_corrupted_safetensors_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.safetensors");
    let vals = [0.5f32, -1.25, 2.0, 0.0, 3.5, -0.125];
    write_safetensors(
        &path,
        &[
            ("a".into(), "F32", vec![2, 3], le32(&vals)),
            ("b".into(), "F16", vec![6], le16(&vals.map(f16_exact))),
            ("c".into(), "BF16", vec![3, 2], le16(&vals.map(bf16_exact))),
        ],
    );
    let good = std::fs::read(&path).unwrap();
    let open = |p: &Path| SafetensorsModel::open_file(p).map(|m| Box::new(m) as Box<dyn TensorSource>);
    let mut ok = 0;
    for len in 0..=good.len() {
        ok += must_not_panic(dir.path(), &good[..len], &open) as usize;
    }
    assert_eq!(ok, 1, "only the whole file opens");
    let header_len = 8 + u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    for at in 0..header_len {
        for x in [0xFFu8, 0x01, 0x20] {
            let mut b = good.clone();
            b[at] ^= x;
            must_not_panic(dir.path(), &b, &open);
        }
    }
}

#[test]
fn stream_stats_match_direct_computation() {
    let dir = tempfile::tempdir().unwrap();
    let expected = write_tiny(dir.path());
    let model = SafetensorsModel::open(dir.path()).unwrap();
    let err = stream_stats(&model).unwrap_err();
    assert!(matches!(err, WeightsError::UnsupportedDtype { .. }), "the I64 tensor stops the stream: {err}");
    let dir2 = tempfile::tempdir().unwrap();
    let (tensors, _) = tiny_tensors();
    let floats: Vec<StTensor> = tensors.into_iter().filter(|t| t.1 != "I64").collect();
    write_safetensors(&dir2.path().join("model.safetensors"), &floats);
    let model = SafetensorsModel::open(dir2.path()).unwrap();
    let stats = stream_stats(&model).unwrap();
    assert_eq!(stats.len(), expected.len());
    for s in stats {
        let v = &expected[&s.name].values;
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let mean_abs = v.iter().map(|&x| (x as f64).abs()).sum::<f64>() / n;
        let std = (v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert_eq!(s.numel, v.len());
        assert!((s.mean - mean).abs() < 1e-12 && (s.mean_abs - mean_abs).abs() < 1e-12 && (s.std - std).abs() < 1e-12, "{}", s.name);
    }
}

// ------------------------------------------------------------------------------------------
// PEFT LoRA

fn write_adapter(dir: &Path, config: serde_json::Value, modules: &[(&str, usize, usize, usize)]) {
    std::fs::write(dir.join("adapter_config.json"), config.to_string()).unwrap();
    let mut tensors = Vec::new();
    for (i, &(m, r, inf, out)) in modules.iter().enumerate() {
        let a: Vec<f32> = (0..r * inf).map(|j| (j + i) as f32 / 8.0).collect();
        let b: Vec<f32> = (0..out * r).map(|j| -((j + i) as f32) / 4.0).collect();
        tensors.push((format!("base_model.model.{m}.lora_A.weight"), "F32", vec![r, inf], le32(&a)));
        tensors.push((format!("base_model.model.{m}.lora_B.weight"), "F32", vec![out, r], le32(&b)));
    }
    write_safetensors(&dir.join("adapter_model.safetensors"), &tensors);
}

#[test]
fn peft_adapter_maps_to_base_tensors() {
    let base = tempfile::tempdir().unwrap();
    write_tiny(base.path());
    let dir = tempfile::tempdir().unwrap();
    let config = json!({"peft_type": "LORA", "r": 4, "lora_alpha": 8, "lora_dropout": 0.05,
        "target_modules": ["q_proj", "v_proj", "gate_proj", "down_proj"], "base_model_name_or_path": "tiny-llama",
        "bias": "none", "fan_in_fan_out": false, "task_type": "CAUSAL_LM"});
    let mut modules = Vec::new();
    for i in 0..2 {
        modules.push((format!("model.layers.{i}.self_attn.q_proj"), 4, 16, 16));
        modules.push((format!("model.layers.{i}.self_attn.v_proj"), 4, 16, 8));
        modules.push((format!("model.layers.{i}.mlp.gate_proj"), 4, 16, 40));
        modules.push((format!("model.layers.{i}.mlp.down_proj"), 4, 40, 16));
    }
    let refs: Vec<(&str, usize, usize, usize)> = modules.iter().map(|(m, r, i, o)| (m.as_str(), *r, *i, *o)).collect();
    write_adapter(dir.path(), config, &refs);
    let adapter = LoraAdapter::open(dir.path()).unwrap();
    let c = &adapter.config;
    assert_eq!((c.r, c.lora_alpha, c.lora_dropout, c.scale()), (4, 8.0, 0.05, 2.0));
    assert_eq!(c.target_modules, ["q_proj", "v_proj", "gate_proj", "down_proj"]);
    assert_eq!(c.base_model_name_or_path.as_deref(), Some("tiny-llama"));
    assert_eq!(adapter.pairs().len(), 8);
    assert!(adapter.unpaired().is_empty());
    let model = SafetensorsModel::open(base.path()).unwrap();
    adapter.check_against(&model).unwrap();
    let p = adapter.pair("model.layers.1.mlp.down_proj.weight").unwrap();
    assert_eq!(p.module, "model.layers.1.mlp.down_proj");
    assert_eq!(p.a, "base_model.model.model.layers.1.mlp.down_proj.lora_A.weight");
    assert_eq!(p.b, "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight");
    assert_eq!((p.rank, p.in_features, p.out_features, p.scale), (4, 40, 16, 2.0));
    assert!(model.info(&p.base).is_some());
    // The factors read like any tensor, prefix blocks included (rank [:3], width [:20]).
    let a = adapter.read(&p.a).unwrap();
    assert_eq!(a, (0..160).map(|j| (j + 7) as f32 / 8.0).collect::<Vec<_>>());
    assert_eq!(adapter.read_block(&p.a, 3, 20).unwrap(), slice_block(&a, 40, 0..3, 20));
    // Every pair names a base tensor the config implies, with its HF name.
    for p in adapter.pairs() {
        assert!(p.base.starts_with("model.layers.") && p.base.ends_with("_proj.weight"));
        assert!(hf_to_gguf_name(&p.base).is_some());
    }
}

#[test]
fn peft_adapter_errors_and_scales() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = json!({"r": 4, "lora_alpha": 16});
    // An A without its B.
    std::fs::write(dir.path().join("adapter_config.json"), cfg.to_string()).unwrap();
    write_safetensors(
        &dir.path().join("adapter_model.safetensors"),
        &[("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight".into(), "F32", vec![4, 2], vec![0; 32])],
    );
    let err = LoraAdapter::open(dir.path()).unwrap_err();
    assert!(matches!(err, WeightsError::Adapter { .. }) && err.to_string().contains("no lora_B partner"), "{err}");
    // Ranks that disagree.
    write_adapter(dir.path(), cfg.clone(), &[]);
    write_safetensors(
        &dir.path().join("adapter_model.safetensors"),
        &[
            ("base_model.model.m.lora_A.weight".into(), "F32", vec![4, 2], vec![0; 32]),
            ("base_model.model.m.lora_B.weight".into(), "F32", vec![2, 3], vec![0; 24]),
        ],
    );
    assert!(LoraAdapter::open(dir.path()).unwrap_err().to_string().contains("rank 4"));
    // Missing fields; pickle only.
    let e = LoraConfig::from_json_str("{\"lora_alpha\": 16}", "adapter_config.json").unwrap_err();
    assert_eq!(e.to_string(), "adapter_config.json: required field `r` is missing");
    std::fs::remove_file(dir.path().join("adapter_model.safetensors")).unwrap();
    std::fs::write(dir.path().join("adapter_model.bin"), b"pickle").unwrap();
    assert!(LoraAdapter::open(dir.path()).unwrap_err().to_string().contains("adapter_model.bin"));
    // rank_pattern / alpha_pattern / rsLoRA.
    let c = LoraConfig::from_json_str(
        &json!({"r": 32, "lora_alpha": 64, "target_modules": "q_proj|v_proj",
                "rank_pattern": {"model.layers.0.self_attn.q_proj": 8}, "alpha_pattern": {"v_proj": 8}})
        .to_string(),
        "a",
    )
    .unwrap();
    assert_eq!(c.target_modules, ["q_proj|v_proj"]);
    assert_eq!(c.scale(), 2.0);
    assert_eq!(c.scale_for("model.layers.0.self_attn.q_proj"), 8.0);
    assert_eq!(c.scale_for("model.layers.1.self_attn.q_proj"), 2.0);
    assert_eq!(c.scale_for("model.layers.1.self_attn.v_proj"), 0.25);
    let c = LoraConfig::from_json_str(&json!({"r": 16, "lora_alpha": 8, "use_rslora": true}).to_string(), "a").unwrap();
    assert_eq!(c.scale(), 2.0);
}

// ------------------------------------------------------------------------------------------
// GGUF

/// The f16 bits of the block scales 0.5, 0.25, 0.125, 0.0625.
const SCALES: [(f32, u16); 4] = [(0.5, 0x3800), (0.25, 0x3400), (0.125, 0x3000), (0.0625, 0x2C00)];

/// A Q8_0 matrix, rows × (32·blocks): scale of row r is SCALES[r % 4], quant j of block b is
/// (3r + 5b + 7j) mod 256 as i8. Returns bytes and values.
fn q8_0_matrix(rows: usize, blocks: usize) -> (Vec<u8>, Vec<f32>) {
    let (mut bytes, mut vals) = (Vec::new(), Vec::new());
    for r in 0..rows {
        let (d, bits) = SCALES[r % 4];
        for b in 0..blocks {
            bytes.extend(bits.to_le_bytes());
            for j in 0..32 {
                let q = ((3 * r + 5 * b + 7 * j) % 256) as u8 as i8;
                bytes.push(q as u8);
                vals.push(d * q as f32);
            }
        }
    }
    (bytes, vals)
}

/// Quant j (0..32) of row r of the 4-bit fixtures: (r + 3j) mod 16.
fn nib(r: usize, j: usize) -> u8 {
    ((r + 3 * j) % 16) as u8
}

fn q4_matrix(rows: usize, with_min: bool) -> (Vec<u8>, Vec<f32>) {
    let (mut bytes, mut vals) = (Vec::new(), Vec::new());
    for r in 0..rows {
        let (d, bits) = SCALES[r % 4];
        let m = -(r as f32) * 0.5;
        bytes.extend(bits.to_le_bytes());
        if with_min {
            bytes.extend(f16_exact(m).to_le_bytes());
        }
        for j in 0..16 {
            bytes.push(nib(r, j) | (nib(r, j + 16) << 4));
        }
        for j in 0..32 {
            vals.push(if with_min { d * nib(r, j) as f32 + m } else { d * (nib(r, j) as f32 - 8.0) });
        }
    }
    (bytes, vals)
}

/// The small vocabulary: the 256 byte characters (id = byte), then merge results, then a
/// special token.
fn tiny_vocab() -> (Vec<String>, Vec<String>) {
    let map = lpzero::family::llama::weights::tokenizer::byte_to_unicode();
    let mut tokens: Vec<String> = map.iter().map(|c| c.to_string()).collect();
    let merges: Vec<String> =
        ["h e", "l l", "e l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld", "1 2"].iter().map(|s| s.to_string()).collect();
    for m in &merges {
        tokens.push(m.replace(' ', ""));
    }
    tokens.push("<|endoftext|>".into());
    (tokens, merges)
}

fn tiny_tokenizer(pre: PreTokenizer) -> BpeTokenizer {
    let (tokens, merges) = tiny_vocab();
    let eot = tokens.len() as u32 - 1;
    BpeTokenizer::new(tokens, &merges, pre, SpecialTokens { bos: Some(eot), eos: Some(eot), unk: None, pad: None }, true).unwrap()
}

/// A one-layer LLaMA GGUF (width 32, 4 heads of 8, 2 kv heads, FFN 64) with every supported
/// tensor type, every metadata type, and a Q4_K tensor. Returns the file and the expected
/// values by Hugging Face name, rows in **stored** order.
/// Expected tensors by name: shape and values.
type ExpectedGguf = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

fn llama_gguf(version: u32) -> (Vec<u8>, ExpectedGguf) {
    let (tokens, merges) = tiny_vocab();
    let vocab = tokens.len();
    let mut exp = BTreeMap::new();
    let mut tensors = Vec::new();
    let mut add = |name: &str, dims: Vec<u64>, ty: u32, data: Vec<u8>, vals: Vec<f32>| {
        let shape: Vec<usize> = dims.iter().rev().map(|&d| d as usize).collect();
        if let Some(hf) = lpzero::family::llama::weights::gguf::gguf_to_hf_name(name) {
            exp.insert(hf, (shape, vals));
        }
        tensors.push(GT { name: name.into(), dims, ty, data });
    };
    let (e, ev) = q8_0_matrix(vocab, 1);
    add("token_embd.weight", vec![32, vocab as u64], 8, e, ev);
    let norm: Vec<f32> = (0..32).map(|i| 1.0 + i as f32 / 32.0).collect();
    add("blk.0.attn_norm.weight", vec![32], 0, le32(&norm), norm.clone());
    // Out of order, as llama.cpp writes them.
    let (d, dv) = q8_0_matrix(32, 2);
    add("blk.0.ffn_down.weight", vec![64, 32], 8, d, dv);
    let gate: Vec<f32> = (0..64 * 32).map(|j| ((j * 5) % 255) as f32 / 128.0 - 127.0 / 128.0).collect();
    add("blk.0.ffn_gate.weight", vec![32, 64], 30, le16(&gate.iter().map(|&v| bf16_exact(v)).collect::<Vec<_>>()), gate);
    let up: Vec<f32> = (0..64 * 32).map(|j| ((j * 3) % 129) as f32 / 64.0 - 1.0).collect();
    add("blk.0.ffn_up.weight", vec![32, 64], 1, le16(&up.iter().map(|&v| f16_exact(v)).collect::<Vec<_>>()), up);
    add("blk.0.ffn_norm.weight", vec![32], 0, le32(&norm), norm.clone());
    let (k, kv) = q4_matrix(16, false);
    add("blk.0.attn_k.weight", vec![32, 16], 2, k, kv);
    let o: Vec<f32> = (0..32 * 32).map(|j| j as f32 * 0.25 - 100.0).collect();
    add("blk.0.attn_output.weight", vec![32, 32], 0, le32(&o), o);
    let q: Vec<f32> = (0..32 * 32).map(|j| ((j * 11) % 257) as f32 / 64.0 - 2.0).collect();
    add("blk.0.attn_q.weight", vec![32, 32], 1, le16(&q.iter().map(|&v| f16_exact(v)).collect::<Vec<_>>()), q);
    let (v, vv) = q4_matrix(16, true);
    add("blk.0.attn_v.weight", vec![32, 16], 3, v, vv);
    add("output_norm.weight", vec![32], 0, le32(&norm), norm);
    tensors.push(GT { name: "extra.q4k".into(), dims: vec![256], ty: 12, data: vec![0; 144] });

    let strs = |v: &[String]| V::Arr(8, v.iter().map(|s| V::Str(s.clone())).collect());
    let kvs: Vec<(&str, V)> = vec![
        ("general.architecture", V::Str("llama".into())),
        ("general.name", V::Str("tiny".into())),
        ("llama.block_count", V::U32(1)),
        ("llama.context_length", V::U32(256)),
        ("llama.embedding_length", V::U32(32)),
        ("llama.feed_forward_length", V::U32(64)),
        ("llama.attention.head_count", V::U32(4)),
        ("llama.attention.head_count_kv", V::U32(2)),
        ("llama.rope.freq_base", V::F32(100000.0)),
        ("llama.rope.dimension_count", V::U32(8)),
        ("llama.attention.layer_norm_rms_epsilon", V::F32(1e-5)),
        ("tokenizer.ggml.model", V::Str("gpt2".into())),
        ("tokenizer.ggml.pre", V::Str("smollm".into())),
        ("tokenizer.ggml.tokens", strs(&tokens)),
        ("tokenizer.ggml.merges", strs(&merges)),
        ("tokenizer.ggml.token_type", V::Arr(5, (0..vocab).map(|i| V::I32(if i + 1 == vocab { 3 } else { 1 })).collect())),
        ("tokenizer.ggml.bos_token_id", V::U32(vocab as u32 - 1)),
        ("tokenizer.ggml.eos_token_id", V::U32(vocab as u32 - 1)),
        ("tokenizer.ggml.add_bos_token", V::Bool(false)),
        ("test.u8", V::U8(200)),
        ("test.i8", V::I8(-100)),
        ("test.u16", V::U16(60000)),
        ("test.i16", V::I16(-30000)),
        ("test.u32", V::U32(4_000_000_000)),
        ("test.i32", V::I32(-2_000_000_000)),
        ("test.f32", V::F32(0.375)),
        ("test.bool", V::Bool(true)),
        ("test.string", V::Str("héllo ✓".into())),
        ("test.u64", V::U64(u64::MAX)),
        ("test.i64", V::I64(i64::MIN)),
        ("test.f64", V::F64(-1e300)),
        ("test.array_u8", V::Arr(0, vec![V::U8(1), V::U8(2)])),
        ("test.array_f64", V::Arr(12, vec![V::F64(0.5)])),
        ("test.array_empty", V::Arr(4, vec![])),
        ("test.nested", V::Arr(9, vec![V::Arr(5, vec![V::I32(1), V::I32(-2)]), V::Arr(8, vec![V::Str("x".into())])])),
    ];
    (gguf_bytes(version, &kvs, &tensors, 32), exp)
}

#[test]
fn gguf_metadata_of_every_type() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("tiny.gguf");
    for version in [2, 3] {
        std::fs::write(&p, llama_gguf(version).0).unwrap();
        let g = GgufFile::open(&p).unwrap();
        assert_eq!(g.version(), version);
        assert_eq!(g.alignment(), 32);
        assert_eq!(g.data_offset() % 32, 0);
        let get = |k: &str| g.get(k).unwrap().clone();
        assert_eq!(get("test.u8"), GgufValue::U8(200));
        assert_eq!(get("test.i8"), GgufValue::I8(-100));
        assert_eq!(get("test.u16"), GgufValue::U16(60000));
        assert_eq!(get("test.i16"), GgufValue::I16(-30000));
        assert_eq!(get("test.u32"), GgufValue::U32(4_000_000_000));
        assert_eq!(get("test.i32"), GgufValue::I32(-2_000_000_000));
        assert_eq!(get("test.f32"), GgufValue::F32(0.375));
        assert_eq!(get("test.bool"), GgufValue::Bool(true));
        assert_eq!(get("test.string"), GgufValue::String("héllo ✓".into()));
        assert_eq!(get("test.u64"), GgufValue::U64(u64::MAX));
        assert_eq!(get("test.i64"), GgufValue::I64(i64::MIN));
        assert_eq!(get("test.f64"), GgufValue::F64(-1e300));
        assert_eq!(get("test.array_u8"), GgufValue::Array(vec![GgufValue::U8(1), GgufValue::U8(2)]));
        assert_eq!(get("test.array_f64"), GgufValue::Array(vec![GgufValue::F64(0.5)]));
        assert_eq!(get("test.array_empty"), GgufValue::Array(vec![]));
        assert_eq!(
            get("test.nested"),
            GgufValue::Array(vec![
                GgufValue::Array(vec![GgufValue::I32(1), GgufValue::I32(-2)]),
                GgufValue::Array(vec![GgufValue::String("x".into())])
            ])
        );
        let tokens = g.get("tokenizer.ggml.tokens").unwrap().as_array().unwrap();
        assert_eq!(tokens.len(), 268);
        assert_eq!(tokens[256].as_str(), Some("he"));
        assert_eq!(g.metadata().len(), 35);
        assert_eq!(get("test.u8").as_u64(), Some(200));
        assert_eq!(get("test.i8").as_u64(), None);
        assert_eq!(get("test.i8").as_f64(), Some(-100.0));
        // The configuration.
        let c = g.llama_config().unwrap();
        assert_eq!(
            (c.vocab_size, c.hidden_size, c.intermediate_size, c.num_hidden_layers),
            (268, 32, 64, 1)
        );
        assert_eq!((c.num_attention_heads, c.num_key_value_heads, c.head_dim), (4, 2, 8));
        assert_eq!((c.rope_theta, c.rms_norm_eps, c.max_position_embeddings), (100000.0, 1e-5, 256));
        assert!(c.tie_word_embeddings, "no output.weight: tied");
        assert_eq!(c.model_type.as_deref(), Some("llama"));
        c.check_tensors(&g).unwrap();
    }
}

#[test]
fn gguf_tensors_dequantise_and_map_names() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("tiny.gguf");
    let (bytes, exp) = llama_gguf(3);
    std::fs::write(&p, bytes).unwrap();
    let g = GgufFile::open(&p).unwrap().with_row_order(RowOrder::Stored);
    assert_eq!(g.tensors().len(), 12);
    // Storage order, HF names, PyTorch shapes, types.
    let names: Vec<&str> = g.tensors().iter().map(|t| t.stored_name.as_str()).collect();
    assert_eq!(names[..3], ["token_embd.weight", "blk.0.attn_norm.weight", "blk.0.ffn_down.weight"]);
    let down = g.info("model.layers.0.mlp.down_proj.weight").unwrap();
    assert_eq!((down.shape.clone(), down.dtype.clone(), down.bytes), (vec![32, 64], DType::Q8_0, 32 * 2 * 34));
    assert_eq!(g.info("blk.0.ffn_down.weight"), Some(down), "stored names answer too");
    assert_eq!(g.info("model.layers.0.self_attn.k_proj.weight").unwrap().dtype, DType::Q4_0);
    assert_eq!(g.info("model.layers.0.self_attn.v_proj.weight").unwrap().dtype, DType::Q4_1);
    assert_eq!(g.info("model.layers.0.mlp.gate_proj.weight").unwrap().dtype, DType::BF16);
    assert_eq!(g.info("model.layers.0.mlp.up_proj.weight").unwrap().shape, vec![64, 32]);
    assert_eq!(g.info("model.embed_tokens.weight").unwrap().shape, vec![268, 32]);
    for (name, (shape, vals)) in &exp {
        assert_eq!(&g.info(name).unwrap().shape, shape, "{name}");
        assert_eq!(&g.read(name).unwrap(), vals, "{name}");
        if let [r, c] = shape[..] {
            for (rr, cc) in [(r, c), (r / 2, c / 2 + 3), (1, 1), (r, 33.min(c)), (r / 3, 0)] {
                assert_eq!(g.read_block(name, rr, cc).unwrap(), slice_block(vals, c, 0..rr, cc), "{name} [{rr},{cc}]");
            }
            assert_eq!(g.read_region(name, 2..r, c - 1).unwrap(), slice_block(vals, c, 2..r, c - 1), "{name}");
        }
    }
    // The Q4_K tensor is listed; reading it names the type.
    let t = g.info("extra.q4k").unwrap();
    assert_eq!((t.dtype.clone(), t.bytes), (DType::Other("Q4_K".into()), 144));
    let err = g.read("extra.q4k").unwrap_err();
    assert!(matches!(err, WeightsError::UnsupportedDtype { .. }) && err.to_string().contains("Q4_K"), "{err}");
    assert_eq!(g.gguf_tensors().iter().find(|t| t.name == "blk.0.attn_q.weight").unwrap().dims, vec![32, 32]);
}

#[test]
fn gguf_hand_computed_blocks() {
    // Each block written byte by byte with its values worked out by hand.
    // Q8_0: d = 0.5 (f16 0x3800), quants 0, 1, −1, 2, −2, 127, −128, then 25 × 4.
    let mut q8 = vec![0x00, 0x38, 0x00, 0x01, 0xFF, 0x02, 0xFE, 0x7F, 0x80];
    q8.extend([0x04; 25]);
    let mut q8_vals = vec![0.0, 0.5, -0.5, 1.0, -1.0, 63.5, -64.0];
    q8_vals.extend([2.0; 25]);
    // Q4_0: d = 0.25 (0x3400); byte j = (j+8 mod 16) << 4 | j, so element j = 0.25·(j − 8) and
    // element j + 16 = 0.25·((j + 8 mod 16) − 8).
    let mut q40 = vec![0x00, 0x34];
    q40.extend([0x80, 0x91, 0xA2, 0xB3, 0xC4, 0xD5, 0xE6, 0xF7, 0x08, 0x19, 0x2A, 0x3B, 0x4C, 0x5D, 0x6E, 0x7F]);
    let q40_vals = [
        -2.0, -1.75, -1.5, -1.25, -1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, //
        0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, -2.0, -1.75, -1.5, -1.25, -1.0, -0.75, -0.5, -0.25,
    ];
    // Q4_1: d = 0.5 (0x3800), m = −1 (0xBC00); byte j = (15 − j) << 4 | j: element j = 0.5·j − 1,
    // element j + 16 = 0.5·(15 − j) − 1.
    let mut q41 = vec![0x00, 0x38, 0x00, 0xBC];
    q41.extend([0xF0, 0xE1, 0xD2, 0xC3, 0xB4, 0xA5, 0x96, 0x87, 0x78, 0x69, 0x5A, 0x4B, 0x3C, 0x2D, 0x1E, 0x0F]);
    let q41_vals = [
        -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5, //
        6.5, 6.0, 5.5, 5.0, 4.5, 4.0, 3.5, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0,
    ];
    // F16 and F32 by bit pattern.
    let f16 = vec![0x00, 0x3C, 0x00, 0xC0, 0x55, 0x35, 0xFF, 0x7B]; // 1, −2, 0.333251953125, 65504
    let f32b = [1.5f32, -0.0].iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let tensors = vec![
        GT { name: "q8".into(), dims: vec![32], ty: 8, data: q8 },
        GT { name: "q40".into(), dims: vec![32], ty: 2, data: q40 },
        GT { name: "q41".into(), dims: vec![32], ty: 3, data: q41 },
        GT { name: "f16".into(), dims: vec![4], ty: 1, data: f16 },
        GT { name: "f32".into(), dims: vec![2], ty: 0, data: f32b },
    ];
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("blocks.gguf");
    std::fs::write(&p, gguf_bytes(3, &[("general.alignment", V::U32(64))], &tensors, 64)).unwrap();
    let g = GgufFile::open(&p).unwrap();
    assert_eq!(g.alignment(), 64);
    assert_eq!(g.read("q8").unwrap(), q8_vals);
    assert_eq!(g.read("q40").unwrap(), q40_vals);
    assert_eq!(g.read("q41").unwrap(), q41_vals);
    assert_eq!(g.read("f16").unwrap(), [1.0, -2.0, 0.333_251_95, 65504.0]);
    assert_eq!(g.read("f32").unwrap(), [1.5, -0.0]);
    // A column prefix inside one block.
    assert_eq!(g.read_region("q41", 0..1, 18).unwrap(), q41_vals[..18]);
    assert!(matches!(g.llama_config(), Err(WeightsError::MissingField { ref field, .. }) if field == "general.architecture"));
}

#[test]
fn gguf_rope_rows_in_hugging_face_order() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("tiny.gguf");
    let (bytes, exp) = llama_gguf(3);
    std::fs::write(&p, bytes).unwrap();
    let g = GgufFile::open(&p).unwrap();
    assert_eq!(g.row_order(), RowOrder::HuggingFace);
    // q: 4 heads of 8 (32 rows); k: 2 kv heads of 8 (16 rows); 32 columns.
    for (name, heads) in [("model.layers.0.self_attn.q_proj.weight", 4), ("model.layers.0.self_attn.k_proj.weight", 2)] {
        let (shape, stored) = &exp[name];
        let (rows, cols, d) = (shape[0], shape[1], shape[0] / heads);
        assert_eq!(d, 8);
        // HF row h·D + (D/2)·s + i is stored row h·D + 2i + s.
        let mut hf = vec![0f32; rows * cols];
        for h in 0..heads {
            for s in 0..2 {
                for i in 0..d / 2 {
                    let (hrow, grow) = (h * d + (d / 2) * s + i, h * d + 2 * i + s);
                    assert_eq!(gguf_row_of_hf_row(hrow, d), grow);
                    hf[hrow * cols..(hrow + 1) * cols].copy_from_slice(&stored[grow * cols..(grow + 1) * cols]);
                }
            }
        }
        assert_eq!(&g.read(name).unwrap(), &hf, "{name}");
        assert_eq!(g.read_block(name, 5, 20).unwrap(), slice_block(&hf, cols, 0..5, 20));
        assert_eq!(g.read_region(name, 3..rows, 7).unwrap(), slice_block(&hf, cols, 3..rows, 7));
        assert_eq!(
            lpzero::family::llama::weights::gguf::unpermute_rope_rows(stored, cols, heads).unwrap(),
            hf,
            "the public helper agrees"
        );
    }
    // v and o are not permuted.
    let v = "model.layers.0.self_attn.v_proj.weight";
    assert_eq!(g.read(v).unwrap(), exp[v].1);
}

/// A GGUF with one tensor of the given type and data, for malformed-file tests.
fn one_tensor(ty: u32, dims: Vec<u64>, data: Vec<u8>) -> Vec<u8> {
    gguf_bytes(3, &[("general.architecture", V::Str("llama".into()))], &[GT { name: "t".into(), dims, ty, data }], 32)
}

#[test]
fn malformed_gguf_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.gguf");
    let open = |bytes: Vec<u8>| {
        std::fs::write(&p, bytes).unwrap();
        GgufFile::open(&p)
    };
    // An unknown ggml type: listed by number, reading names it.
    let g = open(one_tensor(99, vec![4], vec![0; 16])).unwrap();
    assert_eq!(g.info("t").unwrap().dtype, DType::Other("ggml type 99".into()));
    let err = g.read("t").unwrap_err();
    assert!(err.to_string().contains("ggml type 99") && err.to_string().contains("bad.gguf"), "{err}");
    // Bad magic, version 1, big-endian, unknown version.
    let mut b = one_tensor(0, vec![4], vec![0; 16]);
    b[0] = b'X';
    assert!(open(b).unwrap_err().to_string().contains("magic"));
    for (v, msg) in [(1u32, "version 1"), (0x0300_0000, "big-endian"), (7, "unknown GGUF version 7")] {
        let mut b = one_tensor(0, vec![4], vec![0; 16]);
        b[4..8].copy_from_slice(&v.to_le_bytes());
        let err = open(b).unwrap_err();
        assert!(err.to_string().contains(msg), "{err}");
    }
    // Data beyond the end of the file.
    let b = one_tensor(0, vec![8], vec![0; 16]);
    let err = open(b).unwrap_err();
    assert!(matches!(err, WeightsError::Truncated { .. }) && err.to_string().contains("tensor `t`"), "{err}");
    // A row length that is not a whole number of blocks.
    assert!(open(one_tensor(8, vec![16], vec![0; 34])).unwrap_err().to_string().contains("block size 32"));
    // An unknown metadata value type; a bool that is 2; a misaligned offset.
    let b = gguf_bytes(3, &[("k", V::Raw(13, vec![0; 8]))], &[], 32);
    assert!(open(b).unwrap_err().to_string().contains("unknown value type 13"));
    let b = gguf_bytes(3, &[("k", V::Raw(7, vec![2]))], &[], 32);
    assert!(open(b).unwrap_err().to_string().contains("not 0 or 1"));
    let mut b = one_tensor(0, vec![4], vec![0; 16]);
    // Rewrite the tensor record's offset (the 8 bytes after name, n_dims, dims, type).
    let name_at = b.windows(9).position(|w| w == [1, 0, 0, 0, 0, 0, 0, 0, b't']).unwrap();
    let offset_at = name_at + 9 + 4 + 8 + 4;
    b[offset_at..offset_at + 8].copy_from_slice(&3u64.to_le_bytes());
    assert!(open(b).unwrap_err().to_string().contains("not a multiple of the alignment"));
    // A huge array count: an error, no allocation of the count.
    let mut raw = 0u32.to_le_bytes().to_vec();
    raw.extend((u64::MAX / 2).to_le_bytes());
    let b = gguf_bytes(3, &[("k", V::Raw(9, raw))], &[], 32);
    assert!(matches!(open(b), Err(WeightsError::Truncated { .. })));
    // Arrays nested too deep.
    let mut v = V::U8(1);
    for _ in 0..10 {
        v = V::Arr(v.ty(), vec![v]);
    }
    assert!(open(gguf_bytes(3, &[("deep", v)], &[], 32)).unwrap_err().to_string().contains("deeper"));
    // Duplicate keys; a bad alignment; too many dimensions.
    let b = gguf_bytes(3, &[("k", V::U8(1)), ("k", V::U8(2))], &[], 32);
    assert!(open(b).unwrap_err().to_string().contains("duplicate metadata key"));
    let b = gguf_bytes(3, &[("general.alignment", V::U32(24))], &[], 32);
    assert!(open(b).unwrap_err().to_string().contains("power of two"));
    let b = gguf_bytes(3, &[], &[GT { name: "t".into(), dims: vec![1; 5], ty: 0, data: vec![0; 4] }], 32);
    assert!(open(b).unwrap_err().to_string().contains("5 dimensions"));
    // A GGUF without the LLaMA keys: a missing field by name.
    let g = open(gguf_bytes(3, &[("general.architecture", V::Str("llama".into()))], &[], 32)).unwrap();
    let err = g.llama_config().unwrap_err();
    assert!(matches!(err, WeightsError::MissingField { ref field, .. } if field == "llama.embedding_length"), "{err}");
}

/// A small GGUF with one tensor of each supported type and a few metadata values.
fn small_gguf() -> Vec<u8> {
    let (q8, _) = q8_0_matrix(2, 1);
    let (q40, _) = q4_matrix(2, false);
    let (q41, _) = q4_matrix(2, true);
    let tensors = vec![
        GT { name: "blk.0.attn_q.weight".into(), dims: vec![32, 2], ty: 8, data: q8 },
        GT { name: "blk.0.attn_k.weight".into(), dims: vec![32, 2], ty: 2, data: q40 },
        GT { name: "b".into(), dims: vec![32, 2], ty: 3, data: q41 },
        GT { name: "c".into(), dims: vec![3], ty: 1, data: le16(&[0x3C00, 0x4000, 0xC000]) },
        GT { name: "d".into(), dims: vec![2], ty: 0, data: le32(&[1.0, 2.0]) },
    ];
    let kvs = vec![
        ("general.architecture", V::Str("llama".into())),
        ("llama.attention.head_count", V::U32(1)),
        ("s", V::Arr(8, vec![V::Str("ab".into()), V::Str("c".into())])),
        ("f", V::F64(2.5)),
        ("n", V::Arr(9, vec![V::Arr(0, vec![V::U8(1)])])),
    ];
    gguf_bytes(3, &kvs, &tensors, 32)
}

#[test]
fn truncated_and_corrupted_gguf_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let good = small_gguf();
    let open = |p: &Path| GgufFile::open(p).map(|g| Box::new(g) as Box<dyn TensorSource>);
    let mut ok = 0;
    for len in 0..=good.len() {
        ok += must_not_panic(dir.path(), &good[..len], &open) as usize;
    }
    // The last tensor ends the file, so only the whole file opens.
    assert_eq!(ok, 1);
    let p = dir.path().join("whole.gguf");
    std::fs::write(&p, &good).unwrap();
    let header = GgufFile::open(&p).unwrap().data_offset() as usize;
    for at in 0..header {
        for x in [0xFFu8, 0x01, 0x80] {
            let mut b = good.clone();
            b[at] ^= x;
            must_not_panic(dir.path(), &b, &open);
        }
    }
}

// ------------------------------------------------------------------------------------------
// Tokenizer

#[test]
fn bpe_merges_by_rank() {
    let t = tiny_tokenizer(PreTokenizer::Gpt2);
    let id = |s: &str| t.id(s).unwrap();
    assert_eq!(t.encode("hello world").unwrap(), [id("hello"), id("Ġworld")]);
    // "l l" (rank 1) before "e l" (rank 2): "ell" → e, ll; "hel" → he, l; "el" → el.
    assert_eq!(t.encode("ell").unwrap(), [id("e"), id("ll")]);
    assert_eq!(t.encode("hel").unwrap(), [id("he"), id("l")]);
    assert_eq!(t.encode("el").unwrap(), [id("el")]);
    assert_eq!(t.encode("").unwrap(), Vec::<u32>::new());
    // Bytes are ids here: "é" is 0xC3 0xA9.
    assert_eq!(t.encode("é").unwrap(), [0xC3, 0xA9]);
    assert_eq!(t.encode_with_bos("he").unwrap(), [267, id("he")]);
    assert_eq!(t.decode(&[267]).unwrap(), "<|endoftext|>");
    assert!(t.decode(&[0xC3]).is_err(), "half a character");
    assert!(t.decode(&[9999]).is_err());
}

#[test]
fn pre_tokenizers_split_like_llama_cpp() {
    let gpt2 = tiny_tokenizer(PreTokenizer::Gpt2);
    let smol = tiny_tokenizer(PreTokenizer::DigitsThenGpt2);
    assert_eq!(gpt2.pre_tokenize("it's  ok\n\nyes").unwrap(), ["it", "'s", " ", " ok", "\n", "\n", "yes"]);
    assert_eq!(gpt2.pre_tokenize(" 42 apples").unwrap(), [" 42", " apples"]);
    assert_eq!(smol.pre_tokenize(" 42 apples").unwrap(), [" ", "4", "2", " apples"]);
    assert_eq!(smol.pre_tokenize("a12b").unwrap(), ["a", "1", "2", "b"]);
    assert_eq!(gpt2.pre_tokenize("a12b").unwrap(), ["a", "12", "b"]);
    // "1 2" merges under GPT-2's split only.
    assert_eq!(gpt2.encode("12").unwrap(), [gpt2.id("12").unwrap()]);
    assert_eq!(smol.encode("12").unwrap(), [b'1' as u32, b'2' as u32]);
    assert_eq!(PreTokenizer::from_llama_cpp_name("smollm"), Some(PreTokenizer::DigitsThenGpt2));
    assert_eq!(PreTokenizer::from_llama_cpp_name("gpt-2"), Some(PreTokenizer::Gpt2));
    assert_eq!(PreTokenizer::from_llama_cpp_name("llama-bpe"), None);
}

#[test]
fn bpe_round_trips() {
    for pre in [PreTokenizer::Gpt2, PreTokenizer::DigitsThenGpt2] {
        let t = tiny_tokenizer(pre);
        for text in ["hello world", " hello  world \n\n\t x", "naïve café 日本 🎉 1234", "it's 3.14 — ok?!", "\u{0}\u{7f}\r\n"] {
            let ids = t.encode(text).unwrap();
            assert_eq!(t.decode(&ids).unwrap(), text);
            let pieces = t.pre_tokenize(text).unwrap();
            assert_eq!(pieces.concat(), text);
        }
    }
}

#[test]
fn gguf_tokenizer() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("tiny.gguf");
    std::fs::write(&p, llama_gguf(3).0).unwrap();
    let g = GgufFile::open(&p).unwrap();
    let t = g.tokenizer().unwrap();
    assert_eq!((t.vocab_size(), t.merge_count(), t.pre_tokenizer(), t.add_bos()), (268, 11, PreTokenizer::DigitsThenGpt2, false));
    assert_eq!(t.special(), SpecialTokens { bos: Some(267), eos: Some(267), unk: None, pad: None });
    assert_eq!(t.encode("hello world").unwrap(), [t.id("hello").unwrap(), t.id("Ġworld").unwrap()]);
    assert_eq!(t.encode_with_bos("he").unwrap(), [t.id("he").unwrap()], "add_bos_token is false");
    assert_eq!(lpzero::family::llama::weights::tokenizer::token_types(&g).unwrap()[267], 3);
    let ck = Checkpoint::open(&p).unwrap();
    assert!(ck.tokenizer.is_some() && ck.config.tie_word_embeddings);
    // A SentencePiece tokenizer without its pieces names the missing field; another model is
    // refused by name.
    let b = gguf_bytes(3, &[("tokenizer.ggml.model", V::Str("llama".into()))], &[], 32);
    std::fs::write(&p, b).unwrap();
    let err = GgufFile::open(&p).unwrap().tokenizer().unwrap_err();
    assert!(err.to_string().contains("tokenizer.ggml.tokens"), "{err}");
    let b = gguf_bytes(3, &[("tokenizer.ggml.model", V::Str("t5".into()))], &[], 32);
    std::fs::write(&p, b).unwrap();
    let err = GgufFile::open(&p).unwrap().tokenizer().unwrap_err();
    assert!(err.to_string().contains("`t5`"), "{err}");
}

fn sentencepiece_fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sentencepiece").join(name)
}

/// The cases of `tests/fixtures/sentencepiece/expected.json` and one list of ids per case.
fn sentencepiece_expected(key: &str) -> (Vec<String>, Vec<Vec<u32>>) {
    let e: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(sentencepiece_fixture("expected.json")).unwrap()).unwrap();
    let cases = e["cases"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    let ids = e[key].as_array().unwrap().iter().map(|l| l.as_array().unwrap().iter().map(|i| i.as_u64().unwrap() as u32).collect()).collect();
    (cases, ids)
}

#[test]
fn sentencepiece_bpe_encodes_as_the_sentencepiece_and_tokenizers_libraries_do() {
    // The fixtures: models trained by `sentencepiece` and the ids it and Hugging Face
    // `tokenizers` give (tests/fixtures/sentencepiece/make.py).
    let (cases, want) = sentencepiece_expected("sentencepiece");
    let e: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(sentencepiece_fixture("expected.json")).unwrap()).unwrap();
    let decoded: Vec<&str> = e["decoded"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    let t = BpeTokenizer::from_sentencepiece_model(&sentencepiece_fixture("bpe.model"), true).unwrap();
    assert_eq!((t.vocab_size(), t.pre_tokenizer(), t.add_bos()), (600, PreTokenizer::Metaspace { prefix: true, squeeze: false }, true));
    assert_eq!(t.special(), SpecialTokens { bos: Some(1), eos: Some(2), unk: Some(0), pad: None });
    // unk, <s>, </s>, the user-defined <sep>, then the 256 byte pieces.
    assert_eq!((t.kind(1), t.token(3), t.kind(3)), (Some(PieceKind::Control), Some("<sep>"), Some(PieceKind::UserDefined)));
    assert_eq!((t.kind(4 + 0x41), t.token(4 + 0x41)), (Some(PieceKind::Byte), Some("<0x41>")));
    for (k, case) in cases.iter().enumerate() {
        assert_eq!(t.encode(case).unwrap(), want[k], "{case:?}");
        assert_eq!(t.decode(&want[k]).unwrap(), decoded[k], "decoding {case:?}");
    }
    assert!(want.iter().flatten().any(|&i| t.kind(i) == Some(PieceKind::Byte)), "the cases reach byte fallback");
    assert!(want.iter().flatten().any(|&i| t.kind(i) == Some(PieceKind::UserDefined)), "and the user-defined piece");
    assert_eq!(t.encode_with_bos("a").unwrap(), [1, want[1][0]]);
    // Extra whitespace removed, no byte fallback: a run of unknown characters is one unknown.
    let (_, squeezed) = sentencepiece_expected("squeeze");
    let sq = BpeTokenizer::from_sentencepiece_model(&sentencepiece_fixture("bpe_squeeze.model"), false).unwrap();
    assert_eq!(sq.pre_tokenizer(), PreTokenizer::Metaspace { prefix: true, squeeze: true });
    for (k, case) in cases.iter().enumerate() {
        assert_eq!(sq.encode(case).unwrap(), squeezed[k], "squeezed {case:?}");
    }
    assert!(squeezed.iter().flatten().any(|&i| i == 0), "the cases reach the unknown piece");
    // The same vocabulary as a Hugging Face tokenizer.json with byte fallback (ranked merges).
    let (_, hf) = sentencepiece_expected("tokenizers");
    let h = BpeTokenizer::from_hf_folder(&sentencepiece_fixture("hf")).unwrap().unwrap();
    assert_eq!((h.pre_tokenizer(), h.add_bos(), h.special().bos), (PreTokenizer::Metaspace { prefix: true, squeeze: false }, true, Some(1)));
    for (k, case) in cases.iter().enumerate() {
        assert_eq!(h.encode(case).unwrap(), hf[k], "tokenizer.json {case:?}");
    }
    // And as GGUF metadata (llama.cpp's `llama` tokenizer: tokens, scores, types).
    let n = t.vocab_size() as u32;
    let kvs = vec![
        ("tokenizer.ggml.model", V::Str("llama".into())),
        ("tokenizer.ggml.tokens", V::Arr(8, (0..n).map(|i| V::Str(t.token(i).unwrap().into())).collect())),
        ("tokenizer.ggml.scores", V::Arr(6, (0..n).map(|i| V::F32(t.score(i).unwrap())).collect())),
        ("tokenizer.ggml.token_type", V::Arr(5, (0..n).map(|i| V::I32(t.kind(i).unwrap().code())).collect())),
        ("tokenizer.ggml.bos_token_id", V::U32(1)),
        ("tokenizer.ggml.eos_token_id", V::U32(2)),
        ("tokenizer.ggml.unknown_token_id", V::U32(0)),
    ];
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("spm.gguf");
    std::fs::write(&p, gguf_bytes(3, &kvs, &[], 32)).unwrap();
    let g = GgufFile::open(&p).unwrap().tokenizer().unwrap();
    assert_eq!((g.pre_tokenizer(), g.add_bos()), (PreTokenizer::Metaspace { prefix: true, squeeze: false }, true), "llama.cpp's defaults");
    for (k, case) in cases.iter().enumerate() {
        assert_eq!(g.encode(case).unwrap(), want[k], "GGUF {case:?}");
    }
    let mut bad = kvs.clone();
    bad[3] = ("tokenizer.ggml.token_type", V::Arr(5, (0..n).map(|_| V::I32(9)).collect()));
    std::fs::write(&p, gguf_bytes(3, &bad, &[], 32)).unwrap();
    let err = GgufFile::open(&p).unwrap().tokenizer().unwrap_err().to_string();
    assert!(err.contains("type code"), "{err}");
    bad[2] = ("tokenizer.ggml.scores", V::Arr(6, vec![V::F32(0.0)]));
    bad[3] = kvs[3].clone();
    std::fs::write(&p, gguf_bytes(3, &bad, &[], 32)).unwrap();
    let err = GgufFile::open(&p).unwrap().tokenizer().unwrap_err().to_string();
    assert!(err.contains("1 scores"), "{err}");
    // A Hugging Face folder with tokenizer.model and no tokenizer.json (LLaMA-1's layout).
    write_tiny(dir.path());
    std::fs::copy(sentencepiece_fixture("bpe.model"), dir.path().join("tokenizer.model")).unwrap();
    let ck = Checkpoint::open(dir.path()).unwrap();
    let c = ck.tokenizer.expect("the folder's tokenizer.model");
    assert_eq!((c.add_bos(), c.encode(&cases[2]).unwrap()), (true, want[2].clone()));
}

#[test]
fn sentencepiece_models_lpzero_cannot_encode_are_clear_errors() {
    use lpzero::family::llama::weights::sentencepiece::{ModelProto, SentencePieceModel};
    use prost::Message;
    let path = sentencepiece_fixture("bpe.model");
    let bytes = std::fs::read(&path).unwrap();
    let good = ModelProto::decode(bytes.as_slice()).unwrap();
    let changed = |f: &dyn Fn(&mut ModelProto)| {
        let mut m = good.clone();
        f(&mut m);
        SentencePieceModel::decode(&m.encode_to_vec(), &path).map(|_| ()).unwrap_err().to_string()
    };
    let cases: Vec<(String, &str)> = vec![
        (changed(&|m| m.trainer_spec.as_mut().unwrap().model_type = Some(1)), "unigram"),
        (changed(&|m| m.trainer_spec.as_mut().unwrap().model_type = None), "unigram"),
        (changed(&|m| m.trainer_spec.as_mut().unwrap().treat_whitespace_as_suffix = Some(true)), "suffix"),
        (changed(&|m| {
            let n = m.normalizer_spec.as_mut().unwrap();
            n.name = Some("nmt_nfkc".into());
            n.precompiled_charsmap = Some(vec![1, 2, 3]);
        }), "`nmt_nfkc`"),
        (changed(&|m| m.pieces.clear()), "without pieces"),
        (changed(&|m| m.pieces[7].r#type = Some(9)), "piece 7 has type 9"),
        (changed(&|m| m.trainer_spec.as_mut().unwrap().bos_id = Some(600)), "beyond the 600 pieces"),
        (SentencePieceModel::decode(b"this is not a protobuf", &path).map(|_| ()).unwrap_err().to_string(), "not a SentencePiece model"),
    ];
    for (e, want) in cases {
        assert!(e.contains(want) && e.contains("bpe.model"), "{want}: {e}");
    }
    // Cut anywhere, the file is an error or a smaller model, never a panic.
    for cut in (0..bytes.len()).step_by(97) {
        let _ = SentencePieceModel::decode(&bytes[..cut], &path);
    }
    let missing = BpeTokenizer::from_sentencepiece_model(&sentencepiece_fixture("absent.model"), true).unwrap_err().to_string();
    assert!(missing.contains("absent.model"), "{missing}");
}

/// A Hugging Face `tokenizer.json` (and `tokenizer_config.json`) of the small vocabulary, SmolLM2's
/// layout: a `Sequence` of `Digits` (individual) and `ByteLevel`.
fn write_hf_tokenizer(dir: &Path, pairs: bool, pre: serde_json::Value) {
    let (tokens, merges) = tiny_vocab();
    let vocab: serde_json::Map<String, serde_json::Value> = tokens.iter().enumerate().filter(|(i, _)| i + 1 < tokens.len()).map(|(i, t)| (t.clone(), (i as u64).into())).collect();
    let merges: Vec<serde_json::Value> = merges.iter().map(|m| if pairs { serde_json::json!(m.split(' ').collect::<Vec<_>>()) } else { serde_json::json!(m) }).collect();
    let json = serde_json::json!({
        "version": "1.0",
        "added_tokens": [{"id": tokens.len() - 1, "content": "<|endoftext|>", "special": true}],
        "pre_tokenizer": pre,
        "model": {"type": "BPE", "vocab": vocab, "merges": merges, "byte_fallback": false},
    });
    std::fs::write(dir.join("tokenizer.json"), json.to_string()).unwrap();
    let config = serde_json::json!({"bos_token": "<|endoftext|>", "eos_token": {"content": "<|endoftext|>"}, "add_bos_token": true});
    std::fs::write(dir.join("tokenizer_config.json"), config.to_string()).unwrap();
}

#[test]
fn hugging_face_tokenizer_json() {
    let smol_pre = serde_json::json!({"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, {"type": "ByteLevel", "add_prefix_space": false}]});
    let dir = tempfile::tempdir().unwrap();
    assert!(BpeTokenizer::from_hf_folder(dir.path()).unwrap().is_none(), "no tokenizer.json: none");
    for (pairs, pre, kind) in [
        (false, smol_pre.clone(), PreTokenizer::DigitsThenGpt2),
        (true, smol_pre.clone(), PreTokenizer::DigitsThenGpt2),
        (false, serde_json::json!({"type": "ByteLevel"}), PreTokenizer::Gpt2),
    ] {
        write_hf_tokenizer(dir.path(), pairs, pre);
        let t = BpeTokenizer::from_hf_folder(dir.path()).unwrap().unwrap();
        let want = tiny_tokenizer(kind);
        assert_eq!((t.vocab_size(), t.merge_count(), t.pre_tokenizer(), t.special(), t.add_bos()), (want.vocab_size(), want.merge_count(), kind, want.special(), true));
        for text in ["hello world", "12 hello", "naïve café 1234", "ell hel el"] {
            assert_eq!(t.encode(text).unwrap(), want.encode(text).unwrap(), "{text}");
        }
        let id = |s: &str| t.id(s).unwrap();
        assert_eq!(t.encode_with_bos("hello world").unwrap(), [267, id("hello"), id("Ġworld")]);
        if kind == PreTokenizer::DigitsThenGpt2 {
            assert_eq!(t.encode("12").unwrap(), [b'1' as u32, b'2' as u32], "digits one by one");
        }
    }
    // A non-special added token (GPT-NeoX/MPT's runs of spaces) is split out of the text before
    // BPE; a special one stays plain text. Ids: 256 bytes, 11 merged tokens, <|endoftext|> 267.
    let json_path = dir.path().join("tokenizer.json");
    let good = std::fs::read_to_string(&json_path).unwrap();
    let mut with_added: serde_json::Value = serde_json::from_str(&good).unwrap();
    with_added["added_tokens"].as_array_mut().unwrap().push(serde_json::json!({"id": 268, "content": "  ", "special": false}));
    std::fs::write(&json_path, with_added.to_string()).unwrap();
    let t = BpeTokenizer::from_hf_folder(dir.path()).unwrap().unwrap();
    let id = |s: &str| t.id(s).unwrap();
    assert_eq!(t.encode("hello  world").unwrap(), [id("hello"), 268, b'w' as u32, id("or"), id("ld")], "the pair of spaces is one token; `world` is then BPE'd alone");
    assert_eq!(t.encode("he<|endoftext|>").unwrap()[0], id("he"));
    assert!(!t.encode("he<|endoftext|>").unwrap().contains(&267), "special tokens in text are plain text");
    assert_eq!(t.decode(&t.encode("hello  world").unwrap()).unwrap(), "hello  world");
    std::fs::write(&json_path, &good).unwrap();
    // What is not a byte-level BPE, or is malformed, is a clear error.
    let cases = [
        (good.replace("\"ByteLevel\"", "\"Metaspace\""), "pre-tokenizer `Metaspace` is not implemented"),
        (good.replace("\"byte_fallback\":false", "\"byte_fallback\":true"), "byte-fallback BPE with normalizer `none` and pre-tokenizer `ByteLevel` is not implemented"),
        (good.replace("\"merges\"", "\"merges_\""), "model.merges"),
        (good.replace("\"BPE\"", "\"Unigram\""), "only `BPE`"),
        (good[..good.len() / 2].to_owned(), "malformed JSON"),
    ];
    for (text, want) in cases {
        assert_ne!(text, good, "{want}: the case changes the file");
        std::fs::write(&json_path, text).unwrap();
        let e = BpeTokenizer::from_hf_folder(dir.path()).err().unwrap_or_else(|| panic!("{want}: accepted")).to_string();
        assert!(e.contains(want) && e.contains("tokenizer.json"), "{want}: {e}");
    }
}
