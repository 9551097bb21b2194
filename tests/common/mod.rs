//! Small models and gather options shared by the gather tests (`mod common;` in each).

use lpzero::device::DeviceKind;
use lpzero::family::Arch;
use lpzero::gather::GatherOptions;
use lpzero::models::Fidelity;
use std::sync::Arc;

/// Two sequences of 16 tokens, seed 5, on the `flex` device.
pub fn opts(fidelity: Fidelity) -> GatherOptions {
    GatherOptions { batch: 2, seq_len: 16, seed: 5, fidelity, device: DeviceKind::Flex, variant: Default::default() }
}

/// One architecture of the shipped `tiny` GPT-2 space.
pub fn tiny_gpt2() -> Arc<dyn Arch> {
    lpzero::train::space::SpaceSpec::load("tiny").unwrap().sample(1, 4).unwrap().remove(0)
}

/// A two-layer Transformer-XL with a four-cluster adaptive embedding over 600 tokens.
pub fn tiny_transxl() -> Arc<dyn Arch> {
    lpzero::train::space::SpaceSpec::parse(
        "name: t\nfamily: transxl\nn_layer: [2]\nd_model: [16]\nd_embed: [24]\ndiv_val: [2]\nn_head: [2, 4]\n\
         d_inner: {min: 16, max: 48}\nn_token: 600\ncutoffs: [100, 200, 400, 600]\ntie_projs: [false, true, true, true]\n\
         tgt_len: 16\nmem_len: 16\ninit_std: 0.02\nproj_init_std: 0.01\n",
        "test",
    )
    .unwrap()
    .sample(1, 3)
    .unwrap()
    .remove(0)
}
