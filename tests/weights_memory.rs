//! Peak memory of streaming over LLaMA-7B-shaped weights (f16 safetensors, generated here):
//! the embedding `[32000, 4096]`, `LPZERO_MEM_LAYERS` decoder layers (default 2: q/k/v/o
//! `[4096, 4096]`, gate/up `[11008, 4096]`, down `[4096, 11008]`, two norms), the final norm and
//! an untied `lm_head`. About 0.93 GB for one layer, 1.3 GB for two; written to
//! `$LPZERO_MEM_DIR` (default: the system temp folder) and deleted afterwards.
//!
//! ```text
//! cargo test --test weights_memory -- --ignored --nocapture
//! ```
//!
//! The peak is the process's VmHWM (`/proc/self/status`) after resetting it
//! (`/proc/self/clear_refs` ← 5) once the file is written; it is a test file of its own so that
//! no other test shares the process.

use lpzero::family::llama::weights::{stream_stats, tensor_stats, SafetensorsModel, TensorSource};
use std::io::Write;
use std::time::Instant;

/// (VmHWM, VmRSS, RssAnon, RssFile) in KiB.
fn memory() -> (u64, u64, u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"), field("RssAnon:"), field("RssFile:"))
}

fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The decoder's tensors (Hugging Face names, `[out, in]` shapes) for `layers` LLaMA-7B-shaped
/// layers.
fn llama_7b_tensors(layers: usize) -> Vec<(String, Vec<usize>)> {
    let (h, f, v) = (4096usize, 11008usize, 32000usize);
    let mut tensors: Vec<(String, Vec<usize>)> = vec![("model.embed_tokens.weight".into(), vec![v, h])];
    for i in 0..layers {
        let p = format!("model.layers.{i}");
        tensors.push((format!("{p}.input_layernorm.weight"), vec![h]));
        for m in ["q", "k", "v", "o"] {
            tensors.push((format!("{p}.self_attn.{m}_proj.weight"), vec![h, h]));
        }
        tensors.push((format!("{p}.post_attention_layernorm.weight"), vec![h]));
        tensors.push((format!("{p}.mlp.gate_proj.weight"), vec![f, h]));
        tensors.push((format!("{p}.mlp.up_proj.weight"), vec![f, h]));
        tensors.push((format!("{p}.mlp.down_proj.weight"), vec![h, f]));
    }
    tensors.push(("model.norm.weight".into(), vec![h]));
    tensors.push(("lm_head.weight".into(), vec![v, h]));
    tensors
}

/// Writes `tensors` as an f16 safetensors file, generated and written in chunks (never a whole
/// tensor in memory); returns the file's size.
fn write_f16(path: &std::path::Path, tensors: &[(String, Vec<usize>)]) -> u64 {
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    for (name, shape) in tensors {
        let n: usize = shape.iter().product();
        header.insert(name.clone(), serde_json::json!({"dtype": "F16", "shape": shape, "data_offsets": [offset, offset + 2 * n]}));
        offset += 2 * n;
    }
    let mut hb = serde_json::to_vec(&header).unwrap();
    while hb.len() % 8 != 0 {
        hb.push(b' ');
    }
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    out.write_all(&(hb.len() as u64).to_le_bytes()).unwrap();
    out.write_all(&hb).unwrap();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut chunk = Vec::with_capacity(1 << 20);
    for (_, shape) in tensors {
        let mut left: usize = shape.iter().product();
        while left > 0 {
            let n = left.min(1 << 19);
            chunk.clear();
            for _ in 0..n {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Sign, exponent 8..=14 (|w| in [2⁻⁷, 1)), random mantissa.
                let bits = ((state >> 63) << 15) as u16 | ((8 + (state >> 40) % 7) << 10) as u16 | (state & 0x3FF) as u16;
                chunk.extend_from_slice(&bits.to_le_bytes());
            }
            out.write_all(&chunk).unwrap();
            left -= n;
        }
    }
    out.flush().unwrap();
    drop(out);
    std::fs::metadata(path).unwrap().len()
}

#[test]
#[ignore = "writes a 1.3 GB file; run by hand"]
fn streaming_a_7b_shaped_checkpoint_holds_one_tensor() {
    let layers: usize = std::env::var("LPZERO_MEM_LAYERS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let dir = tempfile::tempdir_in(std::env::var_os("LPZERO_MEM_DIR").unwrap_or_else(|| std::env::temp_dir().into())).unwrap();
    let path = dir.path().join("model.safetensors");
    let tensors = llama_7b_tensors(layers);
    let t0 = Instant::now();
    let file_bytes = write_f16(&path, &tensors);
    let t_write = t0.elapsed();

    let model = SafetensorsModel::open(&path).unwrap();
    let largest = model.tensors().iter().map(|t| t.numel()).max().unwrap();
    let can_reset = reset_peak();
    let (hwm0, rss0, anon0, file0) = memory();

    // 1. The whole-tensor stream: about the largest tensor in f32 above the baseline.
    let t1 = Instant::now();
    let stats = stream_stats(&model).unwrap();
    let t_stream = t1.elapsed();
    let (hwm1, rss1, anon1, file1) = memory();
    assert_eq!(stats.len(), tensors.len());
    assert!(stats.iter().all(|s| s.mean_abs > 0.007 && s.mean_abs < 1.0));

    // 2. The same statistic by row chunks of 1024 rows: the peak is the chunk.
    reset_peak();
    let (hwm2a, ..) = memory();
    let t2 = Instant::now();
    let mut chunked = Vec::new();
    for info in model.tensors() {
        let (r, c) = info.matrix_dims();
        let (mut sum_abs, mut n) = (0f64, 0usize);
        for start in (0..r).step_by(1024) {
            let block = model.read_region(&info.name, start..(start + 1024).min(r), c).unwrap();
            sum_abs += tensor_stats("", &block).mean_abs * block.len() as f64;
            n += block.len();
        }
        chunked.push(sum_abs / n as f64);
    }
    let t_chunked = t2.elapsed();
    let (hwm2, ..) = memory();
    for (s, c) in stats.iter().zip(&chunked) {
        assert!((s.mean_abs - c).abs() < 1e-9 * s.mean_abs.max(1.0), "{}", s.name);
    }

    let largest_f32 = largest as f64 * 4.0 / (1 << 20) as f64;
    eprintln!(
        "{layers} LLaMA-7B-shaped layer(s): {} tensors, {:.0} MiB f16 (written in {:.1} s); largest tensor {largest} elements = {largest_f32:.0} MiB in f32",
        tensors.len(),
        file_bytes as f64 / (1 << 20) as f64,
        t_write.as_secs_f64()
    );
    eprintln!(
        "peak reset: {can_reset}; before: VmHWM {:.0} MiB, VmRSS {:.0} (anon {:.0}, file {:.0})",
        mib(hwm0),
        mib(rss0),
        mib(anon0),
        mib(file0)
    );
    eprintln!(
        "whole tensors: {:.1} s, VmHWM {:.0} MiB (+{:.0} MiB over the baseline); after: VmRSS {:.0} (anon {:.0}, file {:.0})",
        t_stream.as_secs_f64(),
        mib(hwm1),
        mib(hwm1.saturating_sub(rss0)),
        mib(rss1),
        mib(anon1),
        mib(file1)
    );
    eprintln!(
        "1024-row chunks: {:.1} s, VmHWM {:.0} MiB (+{:.0} MiB over the baseline)",
        t_chunked.as_secs_f64(),
        mib(hwm2),
        mib(hwm2.saturating_sub(hwm2a))
    );
    // About one tensor: the largest in f32, plus slack for the allocator and the test harness.
    if can_reset {
        assert!(mib(hwm1.saturating_sub(rss0)) < largest_f32 * 1.15 + 64.0, "peak is about one tensor");
        assert!(mib(hwm2.saturating_sub(hwm2a)) < 128.0, "chunked peak is about one chunk");
    }
}

#[test]
#[ignore = "writes a 1.3 GB file; run by hand"]
fn subnet_search_over_7b_shaped_layers_holds_one_layer() {
    use lpzero::family::llama::search::{self, Pretrained};
    use lpzero::family::llama::subnet::LonasSpace;
    let layers: usize = std::env::var("LPZERO_MEM_LAYERS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let dir = tempfile::tempdir_in(std::env::var_os("LPZERO_MEM_DIR").unwrap_or_else(|| std::env::temp_dir().into())).unwrap();
    write_f16(&dir.path().join("model.safetensors"), &llama_7b_tensors(layers));
    let config = serde_json::json!({"model_type": "llama", "vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
        "num_hidden_layers": layers, "num_attention_heads": 32, "rms_norm_eps": 1e-6});
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let space_text = include_str!("../spaces/lonas-llama-7b.yaml").replace("layers: 32", &format!("layers: {layers}"));
    let space = LonasSpace::parse(&space_text, "lonas-llama-7b.yaml").unwrap();
    let pre = Pretrained::open(dir.path(), None).unwrap();
    let proxy = lpzero::lang::Proxy::parse("avg(sq(l1(W)) + mean(sqrt(softmax(t(W)))))").unwrap();
    let options = space.layer_options(false);
    let can_reset = reset_peak();
    let (_, rss0, ..) = memory();
    let t = Instant::now();
    let table = search::layer_tables(&pre, &proxy, &options, &lpzero::stop::Stop::new(), |_| {}).unwrap();
    let t_tables = t.elapsed();
    let (hwm1, ..) = memory();
    let t = Instant::now();
    let sep = search::separability(&pre, &proxy, &options, &table).unwrap();
    let t_sep = t.elapsed();
    let (hwm2, ..) = memory();
    let layer_f32 = (4.0 * 4096.0 * 4096.0 + 3.0 * 4096.0 * 11008.0) * 4.0 / (1 << 20) as f64;
    eprintln!(
        "{layers} LLaMA-7B-shaped layers, {} choices each: per-layer tables {:.1} s ({:.1} s per layer), VmHWM +{:.0} MiB over the baseline (one layer in f32: {layer_f32:.0} MiB); separability check ({} pairs, two layers) {:.1} s, VmHWM +{:.0} MiB; peak reset: {can_reset}",
        options.len(),
        t_tables.as_secs_f64(),
        t_tables.as_secs_f64() / layers as f64,
        mib(hwm1.saturating_sub(rss0)),
        16,
        t_sep.as_secs_f64(),
        mib(hwm2.saturating_sub(rss0)),
    );
    assert!(sep.separable, "{sep:?}");
    if can_reset {
        // The tables hold one layer, its sliced copies and the interpreter's intermediates over
        // that layer's list (measured 4.2 × one layer in f32): never the model.
        assert!(mib(hwm1.saturating_sub(rss0)) < 5.0 * layer_f32, "per-layer tables hold one layer's worth");
    }
}
