//! `exp` and `ln` of f32 elements, over whole blocks, with the values of glibc's `expf` and
//! `logf` (the FMA variants, which glibc picks on any x86-64 CPU with FMA) bit for bit.
//!
//! The interpreter's element-wise `exp` and `log`, and `softmax`/`logsoftmax`, spent about a
//! quarter of a FlexiBERT search in calls to glibc, one element per call. These are the same
//! algorithms (ARM's optimized-routines, which glibc ships since 2.27: a 32-entry table of
//! 2^(i/32) with a cubic for `exp`, a 16-entry table of 1/c and ln c with a quadratic for `log`),
//! the same constants and the same fused multiply-adds, written as loops the compiler vectorises;
//! inputs outside the common range (overflow, underflow, zero, negatives, subnormals, NaN, ±inf)
//! are handed to the standard library's own `f32::exp`/`f32::ln`. The tests compare against
//! `f32::exp`/`f32::ln` over every 61st f32 bit pattern (and, ignored by default, all 2^32).
//!
//! On a CPU without FMA the same operations run through `f64::mul_add` in software: slower, and
//! the same values, so scores no longer depend on which variant a machine's libm picks.

/// `exp` of every element of `block`, in place.
pub fn exp_in_place(block: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has the features the function is compiled for (checked just above).
        return unsafe { exp_in_place_avx2(block) };
    }
    blockwise(block, exp_is_special, exp_core, f32::exp)
}

/// `ln` of every element of `block`, in place.
pub fn ln_in_place(block: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has the features the function is compiled for (checked just above).
        return unsafe { ln_in_place_avx2(block) };
    }
    blockwise(block, ln_is_special, ln_core, f32::ln)
}

/// `exp` of one value (the same value as [`exp_in_place`] gives).
pub fn exp(x: f32) -> f32 {
    if exp_is_special(x) { x.exp() } else { exp_core(x) }
}

/// `ln` of one value (the same value as [`ln_in_place`] gives).
pub fn ln(x: f32) -> f32 {
    if ln_is_special(x) { x.ln() } else { ln_core(x) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn exp_in_place_avx2(block: &mut [f32]) {
    blockwise(block, exp_is_special, exp_core, f32::exp)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn ln_in_place_avx2(block: &mut [f32]) {
    blockwise(block, ln_is_special, ln_core, f32::ln)
}

/// Applies `core` to lanes of 16 elements at a time (a loop without branches, which the compiler
/// vectorises), and `libm` element by element to any 16 that hold a special input.
#[inline(always)]
fn blockwise(block: &mut [f32], special: impl Fn(f32) -> bool, core: impl Fn(f32) -> f32, libm: impl Fn(f32) -> f32) {
    const LANES: usize = 16;
    let mut lanes = block.chunks_exact_mut(LANES);
    for lane in &mut lanes {
        let lane: &mut [f32; LANES] = lane.try_into().expect("chunks_exact gives full lanes");
        if lane.iter().fold(false, |any, &x| any | special(x)) {
            lane.iter_mut().for_each(|x| *x = if special(*x) { libm(*x) } else { core(*x) });
        } else {
            lane.iter_mut().for_each(|x| *x = core(*x));
        }
    }
    for x in lanes.into_remainder() {
        *x = if special(*x) { libm(*x) } else { core(*x) };
    }
}

/// 32/ln 2.
const EXP_INV_LN2_N: f64 = f64::from_bits(0x4047_1547_652b_82fe);
/// 1.5 · 2^52: adding it rounds to an integer, left in the low bits.
const EXP_SHIFT: f64 = f64::from_bits(0x4338_0000_0000_0000);
/// The cubic for 2^(r/32), highest degree first (its constant term is 1).
const EXP_POLY: [f64; 3] = [f64::from_bits(0x3ebc_6af8_4b91_2394), f64::from_bits(0x3f2e_bfce_50fa_c4f3), f64::from_bits(0x3f96_2e42_ff0c_52d6)];
/// The bits of 2^(i/32) (correctly rounded) less i · 2^47, so that adding k · 2^47 for k ≡ i
/// (mod 32) makes the bits of 2^(k/32).
const EXP_TABLE: [u64; 32] = [
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
    0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
    0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
    0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
    0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
    0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
];

/// |x| ≥ 88, or NaN/inf: the inputs whose `exp` may overflow or underflow.
#[inline(always)]
fn exp_is_special(x: f32) -> bool {
    (x.to_bits() >> 20) & 0x7ff >= 0x42b
}

/// exp(x) = 2^(k/32) · 2^(r/32) with k = round(32 x / ln 2), for |x| < 88.
#[inline(always)]
fn exp_core(x: f32) -> f32 {
    let xd = x as f64;
    let shifted = EXP_INV_LN2_N.mul_add(xd, EXP_SHIFT);
    let ki = shifted.to_bits();
    let kd = shifted - EXP_SHIFT;
    let r = EXP_INV_LN2_N.mul_add(xd, -kd);
    let scale = f64::from_bits(EXP_TABLE[(ki & 31) as usize].wrapping_add(ki << 47));
    let z = EXP_POLY[0].mul_add(r, EXP_POLY[1]);
    let r2 = r * r;
    let y = EXP_POLY[2].mul_add(r, 1.0);
    let y = z.mul_add(r2, y);
    (y * scale) as f32
}

/// ln 2.
const LN_LN2: f64 = f64::from_bits(0x3fe6_2e42_fefa_39ef);
/// The quadratic part of ln(1 + r): the coefficients of r⁴, r³, r² (r itself is added as is).
const LN_POLY: [f64; 3] = [f64::from_bits(0xbfd0_0ea3_48b8_8334), f64::from_bits(0x3fd5_575b_0be0_0b6a), f64::from_bits(0xbfdf_fffe_f20a_4123)];
/// For each of 16 subintervals of [0.7, 1.4): 1/c and ln c, c near the subinterval's centre.
const LN_TABLE: [(u64, u64); 16] = [
    (0x3ff661ec79f8f3be, 0xbfd57bf7808caade), (0x3ff571ed4aaf883d, 0xbfd2bef0a7c06ddb),
    (0x3ff49539f0f010b0, 0xbfd01eae7f513a67), (0x3ff3c995b0b80385, 0xbfcb31d8a68224e9),
    (0x3ff30d190c8864a5, 0xbfc6574f0ac07758), (0x3ff25e227b0b8ea0, 0xbfc1aa2bc79c8100),
    (0x3ff1bb4a4a1a343f, 0xbfba4e76ce8c0e5e), (0x3ff12358f08ae5ba, 0xbfb1973c5a611ccc),
    (0x3ff0953f419900a7, 0xbfa252f438e10c1e), (0x3ff0000000000000, 0x0000000000000000),
    (0x3fee608cfd9a47ac, 0x3faaa5aa5df25984), (0x3feca4b31f026aa0, 0x3fbc5e53aa362eb4),
    (0x3feb2036576afce6, 0x3fc526e57720db08), (0x3fe9c2d163a1aa2d, 0x3fcbc2860d224770),
    (0x3fe886e6037841ed, 0x3fd1058bc8a07ee1), (0x3fe767dcf5534862, 0x3fd4043057b6ee09),
];
/// The bits of 0.7 (about): the subintervals start here.
const LN_OFFSET: u32 = 0x3f33_0000;

/// Zero, negatives, subnormals, NaN and ±inf.
#[inline(always)]
fn ln_is_special(x: f32) -> bool {
    x.to_bits().wrapping_sub(0x0080_0000) > 0x7eff_ffff
}

/// ln(x) = k ln 2 + ln c + ln(1 + r) with x = 2^k z, z in [0.7, 1.4), r = z/c − 1, for a normal
/// positive finite x.
#[inline(always)]
fn ln_core(x: f32) -> f32 {
    let ix = x.to_bits();
    let tmp = ix.wrapping_sub(LN_OFFSET);
    let (invc, logc) = LN_TABLE[((tmp >> 19) & 15) as usize];
    let (invc, logc) = (f64::from_bits(invc), f64::from_bits(logc));
    let k = (tmp as i32) >> 23;
    let z = f32::from_bits(ix.wrapping_sub(tmp & 0xff80_0000)) as f64;
    let y0 = (k as f64).mul_add(LN_LN2, logc);
    let r = z.mul_add(invc, -1.0);
    let y = LN_POLY[1].mul_add(r, LN_POLY[2]);
    let r2 = r * r;
    let t = r + y0;
    let y = r2.mul_add(LN_POLY[0], y);
    y.mul_add(r2, t) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `step`-th bit pattern from `start` (all signs, exponents and many mantissas),
    /// through the block functions (in blocks that mix special and ordinary inputs) and the
    /// scalar ones, against the standard library.
    fn compare(step: u64, start: u64) {
        let mut bad = vec![];
        let mut block = Vec::with_capacity(4096);
        let mut inputs = Vec::with_capacity(4096);
        let mut bits = start;
        while bits <= u32::MAX as u64 {
            inputs.push(f32::from_bits(bits as u32));
            bits += step;
            if inputs.len() == 4093 || bits > u32::MAX as u64 {
                for (name, f, std_f) in [("exp", exp_in_place as fn(&mut [f32]), f32::exp as fn(f32) -> f32), ("ln", ln_in_place, f32::ln)] {
                    block.clear();
                    block.extend_from_slice(&inputs);
                    f(&mut block);
                    for (&x, &y) in inputs.iter().zip(&block) {
                        let want = std_f(x);
                        let scalar = if name == "exp" { super::exp(x) } else { super::ln(x) };
                        if y.to_bits() != want.to_bits() && !(y.is_nan() && want.is_nan()) || scalar.to_bits() != y.to_bits() {
                            bad.push((name, x, y, want));
                        }
                    }
                }
                inputs.clear();
            }
        }
        assert!(bad.is_empty(), "{} differences, the first: {:?}", bad.len(), &bad[..bad.len().min(5)]);
    }

    #[test]
    fn equal_to_the_standard_library_on_a_sample_of_all_f32() {
        compare(61, 0);
    }

    #[test]
    fn equal_on_the_common_range_densely() {
        // [-88, 88] for exp and [0.5, 2) for ln, every 7th pattern.
        let mut xs: Vec<f32> = (0..(1u32 << 23)).step_by(7).flat_map(|m| [f32::from_bits(0x3f00_0000 + m), f32::from_bits(0x3f80_0000 + m)]).collect();
        let want: Vec<f32> = xs.iter().map(|x| x.ln()).collect();
        ln_in_place(&mut xs);
        assert!(xs.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()));
        let mut xs: Vec<f32> = (0..2_000_000).map(|i| -88.0 + 176.0 * i as f32 / 2e6).collect();
        let want: Vec<f32> = xs.iter().map(|x| x.exp()).collect();
        exp_in_place(&mut xs);
        assert!(xs.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn the_exp_table_is_two_to_the_i_over_32() {
        for (i, &t) in EXP_TABLE.iter().enumerate() {
            let v = f64::from_bits(t + ((i as u64) << 47));
            let want = 2f64.powf(i as f64 / 32.0);
            assert!((v - want).abs() <= want * f64::EPSILON, "{i}: {v} against {want}");
        }
    }

    /// All 2^32 inputs (a minute or two in release builds): `cargo test --release -- --ignored`.
    #[test]
    #[ignore]
    fn equal_to_the_standard_library_on_every_f32() {
        compare(1, 0);
    }
}
