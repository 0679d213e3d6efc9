//! The arithmetic of DESIGN.md §3, defined once. The reference model calls these and the
//! hand-written Verilog primitives mirror them; tests tie both to direct formulas.

/// Number of `u64` words that hold `bits` packed bits.
#[inline]
pub fn words_for(bits: usize) -> usize {
    bits.div_ceil(64)
}

/// Mask of the valid bits in the last word of a `bits`-long packed vector.
#[inline]
pub fn last_mask(bits: usize) -> u64 {
    match bits % 64 {
        0 => u64::MAX,
        r => (1u64 << r) - 1,
    }
}

/// Number of positions among the first `bits` where `a` and `b` agree (XNOR-popcount).
/// Bit 1 is +1 and bit 0 is -1, so the ±1 dot product is `2 * matches - bits`.
#[inline]
pub fn xnor_popcount(a: &[u64], b: &[u64], bits: usize) -> u32 {
    let n = words_for(bits);
    if n == 0 {
        return 0;
    }
    // Count mismatches (no NOT needed), then take them from the length.
    let (a, b) = (&a[..n], &b[..n]);
    let mut diff: u32 = a[..n - 1]
        .iter()
        .zip(&b[..n - 1])
        .map(|(&x, &y)| (x ^ y).count_ones())
        .sum();
    diff += ((a[n - 1] ^ b[n - 1]) & last_mask(bits)).count_ones();
    bits as u32 - diff
}

/// XNOR-popcount restricted to the positions set in `mask` (padded taps that do not
/// count are left out of the mask; bits beyond the vector are never in it).
#[inline]
pub fn xnor_popcount_masked(a: &[u64], b: &[u64], mask: &[u64]) -> u32 {
    a.iter()
        .zip(b)
        .zip(mask)
        .map(|((&x, &y), &m)| (!(x ^ y) & m).count_ones())
        .sum()
}

/// ORs the first `n` bits of `src` into `dst` starting at bit `off`.
#[inline]
pub fn or_bits(dst: &mut [u64], off: usize, src: &[u64], n: usize) {
    let mut i = 0;
    while i < n {
        let take = (n - i).min(64);
        let word = if take == 64 {
            src[i / 64]
        } else {
            src[i / 64] & ((1u64 << take) - 1)
        };
        let (wi, sh) = ((off + i) / 64, (off + i) % 64);
        dst[wi] |= word << sh;
        if sh != 0 && sh + take > 64 {
            dst[wi + 1] |= word >> (64 - sh);
        }
        i += take;
    }
}

/// Popcount of the first `bits` bits of `a` (used for `one`-padded taps: XNOR(1, w) = w).
#[inline]
pub fn popcount(a: &[u64], bits: usize) -> u32 {
    let n = words_for(bits);
    if n == 0 {
        return 0;
    }
    a[..n - 1].iter().map(|w| w.count_ones()).sum::<u32>()
        + (a[n - 1] & last_mask(bits)).count_ones()
}

/// ±1 dot product from a match count over `taps` positions.
#[inline]
pub fn binary_dot(matches: u32, taps: usize) -> i64 {
    2 * matches as i64 - taps as i64
}

/// Packs ±1 values (or any values, `>= 0` → bit 1: Larq's sign(0) = +1) into words.
pub fn pack_signs(values: &[i64]) -> Vec<u64> {
    let mut w = vec![0u64; words_for(values.len())];
    for (i, &v) in values.iter().enumerate() {
        if v >= 0 {
            w[i / 64] |= 1 << (i % 64);
        }
    }
    w
}

#[inline]
pub fn get_bit(words: &[u64], i: usize) -> bool {
    (words[i / 64] >> (i % 64)) & 1 == 1
}

#[inline]
pub fn set_bit(words: &mut [u64], i: usize, b: bool) {
    if b {
        words[i / 64] |= 1 << (i % 64);
    } else {
        words[i / 64] &= !(1 << (i % 64));
    }
}

/// Smallest and largest value of a signed `bits`-wide register.
#[inline]
pub fn signed_range(bits: u32) -> (i64, i64) {
    debug_assert!((1..=64).contains(&bits));
    if bits == 64 {
        (i64::MIN, i64::MAX)
    } else {
        (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
    }
}

/// Saturates an exact value into a signed `bits`-wide register (never wraps).
#[inline]
pub fn sat(v: i128, bits: u32) -> i64 {
    let (lo, hi) = signed_range(bits);
    v.clamp(lo as i128, hi as i128) as i64
}

/// Arithmetic shift right (floor division by 2^k), defined for any k.
#[inline]
pub fn asr(v: i64, k: u32) -> i64 {
    v >> k.min(63)
}

/// Leak of one neuron's membrane (DESIGN.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leak {
    /// Integrate-and-fire: no leak.
    None,
    /// v − (v >>> k).
    Shift(u32),
    /// (v · q) >>> f, i.e. β = q / 2^f.
    Beta { q: i64, f: u32 },
}

#[inline]
pub fn leak(v: i64, l: Leak) -> i128 {
    match l {
        Leak::None => v as i128,
        Leak::Shift(k) => v as i128 - asr(v, k) as i128,
        Leak::Beta { q, f } => (v as i128 * q as i128) >> f.min(126),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reset {
    Subtract,
    Zero,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fire {
    /// v > θ (snnTorch).
    Gt,
    /// v ≥ θ (sinabs).
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetTiming {
    /// Reset uses the previous step's spike (snnTorch `Leaky`).
    Delayed,
    /// Reset in the same step as the spike (sinabs).
    Immediate,
}

/// Per-layer options of the neuron update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LifRule {
    pub reset: Reset,
    pub fire: Fire,
    pub timing: ResetTiming,
    pub v_bits: u32,
    /// sinabs multi-spike: n = floor(v/θ) spikes, v −= n·θ (needs ge, subtract, immediate).
    pub multi_spike: bool,
}

#[inline]
pub fn fires(v: i64, theta: i64, f: Fire) -> bool {
    match f {
        Fire::Gt => v > theta,
        Fire::Ge => v >= theta,
    }
}

/// One time step of one neuron: from membrane `v`, input current `i` and this neuron's
/// previous output `prev` (spike count at t−1), returns the new membrane and spike count.
/// The sum is exact (i128) and saturated once into `v_bits`; `v_min` clamps last.
#[inline]
pub fn lif_step(
    r: &LifRule,
    v: i64,
    i: i64,
    prev: i64,
    theta: i64,
    l: Leak,
    v_min: Option<i64>,
) -> (i64, i64) {
    let lv = leak(v, l);
    let (mut nv, s) = match r.timing {
        ResetTiming::Delayed => {
            let fired = prev > 0;
            let pre = match r.reset {
                Reset::Subtract => lv + i as i128 - if fired { theta as i128 } else { 0 },
                Reset::Zero => (if fired { 0 } else { lv }) + i as i128,
                Reset::None => lv + i as i128,
            };
            let nv = sat(pre, r.v_bits);
            (nv, fires(nv, theta, r.fire) as i64)
        }
        ResetTiming::Immediate => {
            let nv = sat(lv + i as i128, r.v_bits);
            if r.multi_spike {
                // Validation guarantees fire = ge, reset = subtract, θ ≥ 1.
                let n = if nv >= theta { nv / theta } else { 0 };
                (nv - n * theta, n)
            } else if fires(nv, theta, r.fire) {
                let after = match r.reset {
                    Reset::Subtract => nv - theta,
                    Reset::Zero => 0,
                    Reset::None => nv,
                };
                (after, 1)
            } else {
                (nv, 0)
            }
        }
    };
    if let Some(m) = v_min {
        nv = nv.max(m);
    }
    (nv, s)
}

/// Index of the largest value; ties go to the lowest index.
pub fn argmax(v: &[i64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Index of the smallest value; ties go to the lowest index.
pub fn argmin(v: &[i64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x < v[best] {
            best = i;
        }
    }
    best
}

/// The rate encoder's generator: xorshift32 (x ^= x<<13; x ^= x>>17; x ^= x<<5).
#[derive(Clone, Debug)]
pub struct XorShift32(pub u32);

impl XorShift32 {
    /// `seed` must be non-zero (zero is a fixed point); validation enforces it.
    pub fn new(seed: u32) -> Self {
        XorShift32(seed)
    }
    #[inline]
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

/// Rate-encoder decision: spike when the top `bits` bits of the random word are below the
/// intensity, so an intensity x of a `bits`-wide input spikes with probability x / 2^bits.
#[inline]
pub fn rate_spike(rand: u32, intensity: i64, bits: u32) -> bool {
    let r = if bits >= 32 {
        rand as i64
    } else {
        (rand >> (32 - bits)) as i64
    };
    r < intensity
}

/// Deterministic generator for `{random: SEED}` parameters (splitmix64).
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    #[inline]
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform integer in `[lo, hi]` (modulo bias is irrelevant for test weights).
    pub fn uniform(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi as i128 - lo as i128 + 1) as u128;
        (lo as i128 + (self.next() as u128 % span) as i128) as i64
    }
}

/// Bits needed to hold every value in `[lo, hi]` as two's complement.
pub fn signed_bits(lo: i64, hi: i64) -> u32 {
    let mut b = 1;
    while b < 64 {
        let (l, h) = signed_range(b);
        if lo >= l && hi <= h {
            break;
        }
        b += 1;
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xorshift_known_sequence() {
        // Marsaglia's xorshift32 from seed 1 (computed by hand from the three shifts).
        let mut g = XorShift32::new(1);
        assert_eq!(g.next(), 270369);
        assert_eq!(g.next(), 67634689);
    }

    #[test]
    fn signed_bits_edges() {
        assert_eq!(signed_bits(-1, 0), 1);
        assert_eq!(signed_bits(-128, 127), 8);
        assert_eq!(signed_bits(-129, 0), 9);
        assert_eq!(signed_bits(0, 128), 9);
        assert_eq!(signed_bits(i64::MIN, i64::MAX), 64);
    }
}
