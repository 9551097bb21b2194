//! LLaMA-style decoders (Hugging Face `LlamaForCausalLM` semantics) and their real pretrained
//! weights: [`weights`] reads Hugging Face safetensors checkpoints (single or sharded), PEFT LoRA
//! adapters and GGUF files, one tensor at a time, and the tokenizers they carry; [`model`] is the
//! decoder (RMSNorm, rotary positions, SwiGLU, grouped-query attention, LoRA) for whole models
//! and their sub-networks; [`subnet`] holds LoNAS-style spaces and their sub-networks with
//! parameter and MAC counts; [`search`] scores sub-networks (weight-only proxies, validation
//! loss) and finds the best one under a budget; [`bench`] builds a benchmark of sub-networks with
//! measured ground truth (recovery training, then validation perplexity).

pub mod bench;
pub mod model;
pub mod search;
pub mod subnet;
pub mod weights;
