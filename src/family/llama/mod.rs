//! LLaMA-style decoders (Hugging Face `LlamaForCausalLM` semantics) and their real pretrained
//! weights: [`weights`] reads Hugging Face safetensors checkpoints (single or sharded), PEFT LoRA
//! adapters and GGUF files, one tensor at a time, and the tokenizers they carry.

pub mod weights;
