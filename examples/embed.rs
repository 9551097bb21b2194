//! Embedding lpzero as a library: build `ProxyInputs` by hand, then score a stdlib proxy and a
//! proxy written with the Rust builder.
//!
//! Run with `cargo run --example embed`.

use lpzero::eval::{Interpreter, ProxyInputs, TensorEntry};
use lpzero::lang::build::*;
use lpzero::lang::{stdlib, table::InputId};

fn main() -> anyhow::Result<()> {
    // Two linear layers, [out, in], and their gradients, as a model would give them.
    let mut inputs = ProxyInputs::new();
    let w0 = TensorEntry::from_f32(&[2, 3], &[0.2, -0.1, 0.4, 0.0, 0.3, -0.5])?;
    let w1 = TensorEntry::from_f32(&[1, 2], &[0.7, -0.2])?;
    let g0 = TensorEntry::from_f32(&[2, 3], &[0.01, 0.02, -0.03, 0.0, 0.05, 0.01])?;
    let g1 = TensorEntry::from_f32(&[1, 2], &[-0.2, 0.1])?;
    inputs.insert(InputId::W, vec![w0, w1])?;
    inputs.insert(InputId::G, vec![g0, g1])?;

    let mut interpreter = Interpreter::new(&inputs);

    // A stdlib proxy, by name.
    let snip = stdlib::definitions().into_iter().find(|d| d.name == "snip").expect("snip is in the stdlib");
    println!("snip (stdlib)            = {:.6}", interpreter.score(&snip.typed)?);

    // The same proxy written as Rust code: it builds the tree the parser builds.
    let built = sum(abs(G * W));
    let typed = built.check()?;
    println!("{:<24} = {:.6}", built.to_string(), interpreter.score(&typed)?);

    // A new proxy: gradient-to-weight norm ratio per layer, summed.
    let ratio = sum(fro(G) / fro(W));
    let typed = ratio.check()?;
    println!("{:<24} = {:.6}", ratio.to_string(), interpreter.score(&typed)?);
    Ok(())
}
