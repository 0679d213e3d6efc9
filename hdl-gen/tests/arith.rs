//! Property tests of the shared arithmetic against direct, obviously-correct formulas.

use hdlgen::arith::*;
use proptest::prelude::*;

fn pm1(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<i64>> {
    prop::collection::vec(prop::bool::ANY.prop_map(|b| if b { 1 } else { -1 }), len)
}

/// Direct definition of floor(v / 2^k) without shifts.
fn floor_div_pow2(v: i128, k: u32) -> i128 {
    v.div_euclid(1i128 << k)
}

fn clamp_bits(v: i128, bits: u32) -> i128 {
    let lo = -(1i128 << (bits - 1));
    let hi = (1i128 << (bits - 1)) - 1;
    v.max(lo).min(hi)
}

/// One neuron step written out per convention, straight from DESIGN.md §3.
fn lif_direct(
    r: &LifRule,
    v: i64,
    i: i64,
    prev: i64,
    theta: i64,
    leak: Leak,
    v_min: Option<i64>,
) -> (i64, i64) {
    let v = v as i128;
    let leaked = match leak {
        Leak::None => v,
        Leak::Shift(k) => v - floor_div_pow2(v, k),
        Leak::Beta { q, f } => floor_div_pow2(v * q as i128, f),
    };
    let fire = |x: i128| match r.fire {
        Fire::Gt => x > theta as i128,
        Fire::Ge => x >= theta as i128,
    };
    let (mut nv, s) = if r.timing == ResetTiming::Delayed {
        // snnTorch Leaky: the reset uses last step's spike; θ is subtracted unleaked.
        let fired = prev != 0;
        let x = match r.reset {
            Reset::Subtract if fired => leaked + i as i128 - theta as i128,
            Reset::Zero if fired => i as i128,
            _ => leaked + i as i128,
        };
        let x = clamp_bits(x, r.v_bits);
        (x, fire(x) as i64)
    } else {
        let mut x = clamp_bits(leaked + i as i128, r.v_bits);
        if r.multi_spike {
            let mut n = 0;
            while x >= theta as i128 {
                x -= theta as i128;
                n += 1;
            }
            (x, n)
        } else if fire(x) {
            match r.reset {
                Reset::Subtract => x -= theta as i128,
                Reset::Zero => x = 0,
                Reset::None => {}
            }
            (x, 1)
        } else {
            (x, 0)
        }
    };
    if let Some(m) = v_min {
        nv = nv.max(m as i128);
    }
    (nv as i64, s)
}

fn rule() -> impl Strategy<Value = LifRule> {
    (
        prop_oneof![Just(Reset::Subtract), Just(Reset::Zero), Just(Reset::None)],
        prop_oneof![Just(Fire::Gt), Just(Fire::Ge)],
        prop_oneof![Just(ResetTiming::Delayed), Just(ResetTiming::Immediate)],
        4u32..=24,
        any::<bool>(),
    )
        .prop_map(|(reset, fire, timing, v_bits, multi)| {
            let multi_spike = multi && timing == ResetTiming::Immediate;
            let (reset, fire) = if multi_spike {
                (Reset::Subtract, Fire::Ge)
            } else {
                (reset, fire)
            };
            LifRule {
                reset,
                fire,
                timing,
                v_bits,
                multi_spike,
            }
        })
}

fn leak() -> impl Strategy<Value = Leak> {
    prop_oneof![
        Just(Leak::None),
        (1u32..20).prop_map(Leak::Shift),
        (0u32..12).prop_flat_map(|f| (0i64..=(1 << f)).prop_map(move |q| Leak::Beta { q, f })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn xnor_popcount_is_the_pm1_dot_product((a, b) in (0usize..300).prop_flat_map(|n| (pm1(n..n + 1), pm1(n..n + 1)))) {
        let n = a.len();
        let direct: i64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let (pa, pb) = (pack_signs(&a), pack_signs(&b));
        prop_assert_eq!(binary_dot(xnor_popcount(&pa, &pb, n), n), direct);
        // Garbage beyond `n` in the last word must not count.
        let mut pa2 = pa.clone();
        if n % 64 != 0 {
            *pa2.last_mut().unwrap() |= !last_mask(n);
        }
        prop_assert_eq!(binary_dot(xnor_popcount(&pa2, &pb, n), n), direct);
        prop_assert_eq!(popcount(&pa, n) as usize, a.iter().filter(|&&x| x == 1).count());
    }

    #[test]
    fn or_bits_and_masked_popcount_match_bit_by_bit(
        (off, src, w) in (0usize..200, 0usize..200).prop_flat_map(|(off, n)| (Just(off), pm1(n..n + 1), pm1(off + n..off + n + 1))),
    ) {
        // Place `src` at bit `off` of a window and count agreements with `w` only there.
        let n = src.len();
        let words = (off + n).div_ceil(64).max(1);
        let (mut xw, mut mw) = (vec![0u64; words], vec![0u64; words]);
        or_bits(&mut xw, off, &pack_signs(&src), n);
        or_bits(&mut mw, off, &vec![u64::MAX; n.div_ceil(64)], n);
        for i in 0..words * 64 {
            let inside = i >= off && i < off + n;
            prop_assert_eq!(get_bit(&mw, i), inside);
            prop_assert_eq!(get_bit(&xw, i), inside && src[i - off] == 1);
        }
        let direct = (0..n).filter(|&i| src[i] == w[off + i]).count() as u32;
        let mut ww = pack_signs(&w);
        ww.resize(words, 0);
        prop_assert_eq!(xnor_popcount_masked(&xw, &ww, &mw), direct);
    }

    #[test]
    fn saturation_bounds(v in -(1i128 << 70)..(1i128 << 70), bits in 2u32..=64) {
        let s = sat(v, bits) as i128;
        let (lo, hi) = signed_range(bits);
        prop_assert!(s >= lo as i128 && s <= hi as i128);
        if v >= lo as i128 && v <= hi as i128 { prop_assert_eq!(s, v); }
        if v > hi as i128 { prop_assert_eq!(s, hi as i128); }
        if v < lo as i128 { prop_assert_eq!(s, lo as i128); }
    }

    #[test]
    fn arithmetic_shift_is_floor(v in any::<i64>(), k in 0u32..70) {
        prop_assert_eq!(asr(v, k) as i128, floor_div_pow2(v as i128, k.min(63)));
    }

    #[test]
    fn lif_step_matches_direct_formula(
        r in rule(), l in leak(), theta in 1i64..2000, use_vmin in any::<bool>(),
        steps in prop::collection::vec(-3000i64..3000, 1..40),
    ) {
        let (lo, hi) = signed_range(r.v_bits);
        let theta = 1 + (theta - 1) % (hi - 1); // reachable: 1 ≤ θ < v_max
        let v_min = use_vmin.then_some((-5 * theta).max(lo));
        let (mut v, mut prev) = (0, 0);
        let (mut dv, mut dprev) = (0, 0);
        for (t, &i) in steps.iter().enumerate() {
            let got = lif_step(&r, v, i, prev, theta, l, v_min);
            let want = lif_direct(&r, dv, i, dprev, theta, l, v_min);
            prop_assert_eq!(got, want, "step {} of {:?} leak {:?} theta {}", t, r, l, theta);
            prop_assert!(got.0 >= lo && got.0 <= hi);
            (v, prev) = got;
            (dv, dprev) = want;
        }
    }

    #[test]
    fn rate_spike_probability_is_intensity_over_range(rand in any::<u32>(), bits in 1u32..=16, x in 0i64..=65535) {
        let x = x % (1 << bits);
        let top = (rand as u64 * (1u64 << bits)) >> 32; // the top `bits` bits, by multiplication
        prop_assert_eq!(rate_spike(rand, x, bits), (top as i64) < x);
    }
}

#[test]
fn xorshift32_matches_marsaglia() {
    // Marsaglia (2003), "Xorshift RNGs": xorshift32 (13, 17, 5) from y = 2463534242.
    // The other values were computed with an independent Python implementation.
    let cases: [(u32, [u32; 5]); 3] = [
        (
            2463534242,
            [723471715, 2497366906, 2064144800, 2008045182, 3532304609],
        ),
        (1, [270369, 67634689, 2647435461, 307599695, 2398689233]),
        (
            0xdeadbeef,
            [1199382711, 2384302402, 3129746520, 4276113467, 1745748808],
        ),
    ];
    for (seed, want) in cases {
        let mut g = XorShift32::new(seed);
        let got: Vec<u32> = (0..5).map(|_| g.next()).collect();
        assert_eq!(got, want, "seed {seed}");
    }
}

#[test]
fn xorshift32_never_reaches_zero_from_a_nonzero_seed() {
    let mut g = XorShift32::new(7);
    for _ in 0..1_000_000 {
        assert_ne!(g.next(), 0);
    }
}

#[test]
fn argmax_ties_go_to_lowest_index() {
    assert_eq!(argmax(&[3, 7, 7, 1]), 1);
    assert_eq!(argmin(&[3, 1, 7, 1]), 1);
    assert_eq!(argmax(&[-5, -5]), 0);
}
