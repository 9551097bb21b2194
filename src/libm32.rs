//! `exp`, `ln` and `tanh` of f32 elements, over whole blocks, with the values of glibc's
//! `expf` and `logf` (the FMA variants, which glibc picks on any x86-64 CPU with FMA) and its
//! `tanhf` (fdlibm's, through its `expm1f`, as glibc 2.36 ships it), bit for bit.
//!
//! The interpreter's element-wise `exp` and `log`, and `softmax`/`logsoftmax`, spent about a
//! quarter of a FlexiBERT search in calls to glibc, one element per call; GPT-2's tanh GELU spent
//! a tenth of a gather in `tanhf`. These are the same algorithms (ARM's optimized-routines, which
//! glibc ships since 2.27: a 32-entry table of 2^(i/32) with a cubic for `exp`, a 16-entry table
//! of 1/c and ln c with a quadratic for `log`; Sun's fdlibm for `tanh`), the same constants and
//! the same roundings (fused multiply-adds where glibc fuses, none in fdlibm's code), written as
//! loops without branches that the compiler vectorises; inputs outside the common range
//! (overflow, underflow, zero, negatives, subnormals, NaN, ±inf) are handed to the standard
//! library's own `f32::exp`/`f32::ln`/`f32::tanh`. The tests compare against the standard
//! library over every 61st f32 bit pattern (and, ignored by default, all 2^32).
//!
//! On a CPU without FMA the same operations run through `f64::mul_add` in software: slower, and
//! the same values, so scores no longer depend on which variant a machine's libm picks. Where the
//! platform's `tanhf` is another algorithm (glibc 2.41's correctly rounded one, macOS), the block
//! form still gives fdlibm's values, so gathered numbers do not depend on the C library.

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

/// `tanh` of every element of `block`, in place (fdlibm's `tanhf`, whatever the platform's is).
pub fn tanh_in_place(block: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has the feature the function is compiled for (checked just above).
        return unsafe { tanh_in_place_avx2(block) };
    }
    blockwise(block, tanh_is_special, tanh_core, f32::tanh)
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

// Only avx2: fdlibm rounds every product and sum, so nothing here may be fused.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn tanh_in_place_avx2(block: &mut [f32]) {
    // Through a closure inlined by force: handed over as a function item, the core (too large
    // for the inliner's own choice) stays a call per element, and nothing is vectorised.
    blockwise(block, tanh_is_special, #[inline(always)] |x| tanh_core(x), f32::tanh)
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

/// ln 2 in two parts, the first with the low bits clear (so `k · LN2_HI` is exact), and 1/ln 2.
const EXPM1_LN2_HI: f32 = f32::from_bits(0x3f31_7180);
const EXPM1_LN2_LO: f32 = f32::from_bits(0x3717_f7d1);
const EXPM1_INV_LN2: f32 = f32::from_bits(0x3fb8_aa3b);
/// fdlibm's scaled coefficients for expm1 on [−ln2/2, ln2/2], lowest degree first.
const EXPM1_Q: [f32; 5] = [
    f32::from_bits(0xbd08_8889), f32::from_bits(0x3ad0_0d01), f32::from_bits(0xb8a6_70cd),
    f32::from_bits(0x3686_7e54), f32::from_bits(0xb457_edbb),
];

/// NaN and ±inf.
#[inline(always)]
fn tanh_is_special(x: f32) -> bool {
    x.to_bits() & 0x7fff_ffff >= 0x7f80_0000
}

/// fdlibm's `tanhf` for a finite x: ±x·(1 + x) below 2^−55, ±1 from 22, and otherwise, with
/// t = expm1(±2|x|), 1 − 2/(t + 2) from 1 and −t/(t + 2) below. Every branch is computed and the
/// right one selected, so that the loop vectorises.
#[inline(always)]
fn tanh_core(x: f32) -> f32 {
    let ix = x.to_bits() & 0x7fff_ffff;
    // |x|, held below 22 (where the result is ±1 whatever expm1 gives) so that expm1's argument
    // stays in its range.
    let a = f32::from_bits(ix).min(22.0);
    let big = ix >= 0x3f80_0000;
    let t = expm1_core(if big { 2.0 * a } else { -2.0 * a });
    let z = if big { 1.0 - 2.0 / (t + 2.0) } else { -t / (t + 2.0) };
    let z = if ix >= 0x41b0_0000 { 1.0 } else { z };
    let z = if x.is_sign_negative() { -z } else { z };
    if ix < 0x2400_0000 { x * (1.0 + x) } else { z }
}

/// fdlibm's `expm1f` for the arguments `tanh_core` gives it, −2 < v < 0 and 2 ≤ v ≤ 44: v = k ln 2
/// + r with |r| ≤ ln2/2 (k = 0 near zero, ±1 up to 1.5 ln 2, else k rounded), expm1(r) from a
/// rational approximation with the rounding error c of the reduction corrected, and the result
/// put together for each range of k as fdlibm does.
#[inline(always)]
fn expm1_core(v: f32) -> f32 {
    let hx = v.to_bits() & 0x7fff_ffff;
    let neg = v.is_sign_negative();
    let rounded = EXPM1_INV_LN2 * v + if neg { -0.5 } else { 0.5 };
    // SAFETY: |v| ≤ 44, so `rounded` is a finite number well inside i32's range.
    let far = unsafe { rounded.to_int_unchecked::<i32>() };
    let k = if hx <= 0x3eb1_7218 { 0 } else if hx < 0x3f85_1592 { if neg { -1 } else { 1 } } else { far };
    // With k = 0 this is v itself and c = 0; with k = ±1, v ∓ ln2_hi and ±ln2_lo, as fdlibm has it.
    let tk = k as f32;
    let hi = v - tk * EXPM1_LN2_HI;
    let lo = tk * EXPM1_LN2_LO;
    let x = hi - lo;
    let c = (hi - x) - lo;
    let hfx = 0.5 * x;
    let hxs = x * hfx;
    let q = &EXPM1_Q;
    let r1 = 1.0 + hxs * (q[0] + hxs * (q[1] + hxs * (q[2] + hxs * (q[3] + hxs * q[4]))));
    let t = 3.0 - r1 * hfx;
    let e = hxs * ((r1 - t) / (6.0 - x * t));
    let at_zero = x - (x * e - hxs);
    let e = (x * (e - c) - c) - hxs;
    let at_minus_one = 0.5 * (x - e) - 0.5;
    let at_one = if x < -0.25 { -2.0 * (e - (x + 0.5)) } else { 1.0 + 2.0 * (x - e) };
    // The rest scale a number near 1 by 2^k, adding k to its exponent field.
    let scale = |y: f32| f32::from_bits(y.to_bits().wrapping_add((k as u32).wrapping_shl(23)));
    let outside = scale(1.0 - (e - x)) - 1.0;
    let below_23 = scale(f32::from_bits(0x3f80_0000u32.wrapping_sub(0x0100_0000u32.wrapping_shr(k as u32))) - (e - x));
    let from_23 = scale((x - (e + f32::from_bits((0x7f_u32.wrapping_sub(k as u32)).wrapping_shl(23)))) + 1.0);
    let y = if k <= -2 || k > 56 { outside } else if k < 23 { below_23 } else { from_23 };
    let y = if k == 1 { at_one } else { y };
    let y = if k == -1 { at_minus_one } else { y };
    let y = if k == 0 { at_zero } else { y };
    // Below 2^−25, v itself.
    if hx < 0x3300_0000 { v } else { y }
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

    /// fdlibm's `tanhf` and `expm1f` as glibc 2.36 has them, branch for branch (the scalar
    /// code the block form must equal wherever the platform's libm is another).
    fn fdlibm_tanhf(x: f32) -> f32 {
        let ix = x.to_bits() & 0x7fff_ffff;
        if ix >= 0x7f80_0000 {
            return if x.is_sign_negative() { 1.0 / x - 1.0 } else { 1.0 / x + 1.0 };
        }
        let z = if ix < 0x41b0_0000 {
            if ix == 0 {
                return x;
            }
            if ix < 0x2400_0000 {
                return x * (1.0 + x);
            }
            if ix >= 0x3f80_0000 {
                let t = fdlibm_expm1f(2.0 * x.abs());
                1.0 - 2.0 / (t + 2.0)
            } else {
                let t = fdlibm_expm1f(-2.0 * x.abs());
                -t / (t + 2.0)
            }
        } else {
            1.0 - 1.0e-30
        };
        if x.is_sign_negative() { -z } else { z }
    }

    /// fdlibm's `expm1f` for finite |v| < 27 ln 2.
    fn fdlibm_expm1f(v: f32) -> f32 {
        let hx = v.to_bits() & 0x7fff_ffff;
        let neg = v.is_sign_negative();
        let (x, c, k);
        if hx > 0x3eb1_7218 {
            let (hi, lo);
            if hx < 0x3f85_1592 {
                (hi, lo, k) = if neg { (v + EXPM1_LN2_HI, -EXPM1_LN2_LO, -1) } else { (v - EXPM1_LN2_HI, EXPM1_LN2_LO, 1) };
            } else {
                k = (EXPM1_INV_LN2 * v + if neg { -0.5 } else { 0.5 }) as i32;
                let t = k as f32;
                hi = v - t * EXPM1_LN2_HI;
                lo = t * EXPM1_LN2_LO;
            }
            x = hi - lo;
            c = (hi - x) - lo;
        } else if hx < 0x3300_0000 {
            return v;
        } else {
            (x, c, k) = (v, 0.0, 0);
        }
        let q = &EXPM1_Q;
        let hfx = 0.5 * x;
        let hxs = x * hfx;
        let r1 = 1.0 + hxs * (q[0] + hxs * (q[1] + hxs * (q[2] + hxs * (q[3] + hxs * q[4]))));
        let t = 3.0 - r1 * hfx;
        let e = hxs * ((r1 - t) / (6.0 - x * t));
        if k == 0 {
            return x - (x * e - hxs);
        }
        let e = (x * (e - c) - c) - hxs;
        if k == -1 {
            return 0.5 * (x - e) - 0.5;
        }
        if k == 1 {
            return if x < -0.25 { -2.0 * (e - (x + 0.5)) } else { 1.0 + 2.0 * (x - e) };
        }
        let add_k = |y: f32| f32::from_bits((y.to_bits() as i32 + (k << 23)) as u32);
        if k <= -2 || k > 56 {
            return add_k(1.0 - (e - x)) - 1.0;
        }
        if k < 23 {
            add_k(f32::from_bits((0x3f80_0000 - (0x0100_0000 >> k)) as u32) - (e - x))
        } else {
            add_k((x - (e + f32::from_bits(((0x7f - k) << 23) as u32))) + 1.0)
        }
    }

    /// `tanh_in_place` against the branchy transcription over every `step`-th bit pattern, and
    /// against the platform's `tanhf` where that is fdlibm's (glibc before 2.41: checked by the
    /// transcription agreeing with it on 65,536 inputs first).
    fn compare_tanh(step: u64) {
        let same = |a: f32, b: f32| a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan();
        let fdlibm = (0..1 << 16).map(|i| f32::from_bits(0x3c00_0000 + i * 97)).all(|x| same(fdlibm_tanhf(x), x.tanh()));
        let mut bad = vec![];
        let mut bits = 0u64;
        while bits <= u32::MAX as u64 {
            let inputs: Vec<f32> = (0..4093).map(|i| bits + i * step).take_while(|&b| b <= u32::MAX as u64).map(|b| f32::from_bits(b as u32)).collect();
            bits += 4093 * step;
            let mut block = inputs.clone();
            tanh_in_place(&mut block);
            for (&x, &y) in inputs.iter().zip(&block) {
                if !same(y, fdlibm_tanhf(x)) || fdlibm && !same(y, x.tanh()) {
                    bad.push((x, y, fdlibm_tanhf(x), x.tanh()));
                }
            }
        }
        assert!(bad.is_empty(), "{} differences, the first (x, block, fdlibm, platform): {:?}", bad.len(), &bad[..bad.len().min(5)]);
    }

    #[test]
    fn tanh_equals_fdlibm_on_a_sample_of_all_f32() {
        compare_tanh(61);
    }

    #[test]
    fn tanh_values_by_hand() {
        // tanh(0.5) = 0.46211715726…, tanh(2) = 0.96402758007…, tanh(−1) = −0.76159415595…:
        // the nearest f32 to each (fdlibm is within an ulp; here it rounds correctly).
        let mut xs = [0.5f32, 2.0, -1.0, 0.0, -0.0, 30.0, -1e-20, f32::INFINITY, f32::NEG_INFINITY];
        tanh_in_place(&mut xs);
        assert_eq!(&xs[..3], &[0.462_117_16_f32, 0.964_027_6, -0.761_594_2]);
        assert_eq!(xs[3].to_bits(), 0.0f32.to_bits());
        assert_eq!(xs[4].to_bits(), (-0.0f32).to_bits());
        assert_eq!(&xs[5..], &[1.0, -1e-20, 1.0, -1.0]);
        let mut nan = [f32::NAN];
        tanh_in_place(&mut nan);
        assert!(nan[0].is_nan());
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
        compare_tanh(1);
    }
}
