//! Lists a pretrained checkpoint and streams a weight statistic over it, one tensor at a time.
//!
//! ```text
//! cargo run --example weights_info -- <model.gguf | HF folder | model.safetensors(.index.json)> [adapter folder]
//! ```
//!
//! Prints the LLaMA configuration, every tensor (Hugging Face name, shape, stored type), the
//! mean |w| of each (streamed), the total element count, the peak resident memory, and, with an
//! adapter folder, its LoRA pairs checked against the base.

use lpzero::family::llama::weights::{stream_stats, Checkpoint, LoraAdapter};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        anyhow::bail!("usage: weights_info <model.gguf | HF folder | model.safetensors(.index.json)> [adapter folder]");
    };
    let t = std::time::Instant::now();
    let ck = Checkpoint::open(&path)?;
    println!("{:#?}", ck.config);
    if let Some(tok) = &ck.tokenizer {
        println!("tokenizer: {} tokens, {} merges, {:?}, {:?}", tok.vocab_size(), tok.merge_count(), tok.pre_tokenizer(), tok.special());
    }
    let stats = stream_stats(ck.source.as_ref())?;
    for (info, s) in ck.source.tensors().iter().zip(&stats) {
        println!("{:<52} {:>14} {:>6}  mean|w| {:.6}", info.name, format!("{:?}", info.shape), info.dtype.to_string(), s.mean_abs);
    }
    let numel: usize = stats.iter().map(|s| s.numel).sum();
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.trim_start_matches("VmHWM:").trim().to_string()))
        .unwrap_or_else(|| "?".into());
    println!("{} tensors, {numel} elements, {:.2} s, peak resident memory {hwm}", stats.len(), t.elapsed().as_secs_f64());
    if let Some(adapter) = args.next() {
        let a = LoraAdapter::open(&adapter)?;
        a.check_against(ck.source.as_ref())?;
        println!("adapter: r {} alpha {} scale {} over {:?}", a.config.r, a.config.lora_alpha, a.config.scale(), a.config.target_modules);
        for p in a.pairs() {
            println!("  {:<52} rank {:>3}  [{} x {}]  scale {}", p.base, p.rank, p.out_features, p.in_features, p.scale);
        }
    }
    Ok(())
}
