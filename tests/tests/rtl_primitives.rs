//! The hand-written Verilog primitives against the shared arithmetic they mirror, in
//! Verilator: same results bit for bit, the documented latency, and lint-clean.

use hdlgen::arith::{popcount, SplitMix64};
use hdlgen::rtl::lib::{popcount_latency, POPCOUNT};
use hdlgen_sim::{build, lint, BuildOptions, Design};

fn design() -> Design {
    Design::new("hdlgen_popcount").text(POPCOUNT.0, POPCOUNT.1)
}

fn params(n: usize, r: usize) -> Vec<String> {
    vec![
        format!("-GN={n}"),
        format!("-GREG_EVERY={r}"),
        "-GTAG_W=3".into(),
    ]
}

/// Random vectors with varied densities, plus all-zeros and all-ones.
fn vectors(n: usize, count: usize, seed: u64) -> Vec<Vec<u64>> {
    let words = n.div_ceil(64);
    let mut g = SplitMix64::new(seed);
    let mut out = vec![vec![0; words], vec![u64::MAX; words]];
    for k in 0..count {
        let density = k % 5; // 0: sparse ... 4: dense
        out.push(
            (0..words)
                .map(|_| {
                    let mut w = g.next();
                    for _ in 0..(2usize.saturating_sub(density)) {
                        w &= g.next();
                    }
                    for _ in 0..density.saturating_sub(2) {
                        w |= g.next();
                    }
                    w
                })
                .collect(),
        );
    }
    for v in &mut out {
        if !n.is_multiple_of(64) {
            *v.last_mut().unwrap() &= (1u64 << (n % 64)) - 1;
        }
    }
    out
}

fn to_u32(words: &[u64], n: usize) -> Vec<u32> {
    let mut v: Vec<u32> = words
        .iter()
        .flat_map(|w| [*w as u32, (*w >> 32) as u32])
        .collect();
    v.truncate(n.div_ceil(32));
    v
}

#[test]
fn popcount_tree_matches_arith_with_its_latency() {
    for &(n, r) in &[
        (1, 2),
        (2, 1),
        (3, 2),
        (7, 3),
        (31, 2),
        (64, 2),
        (65, 1),
        (100, 2),
        (256, 2),
        (257, 3),
    ] {
        let opts = BuildOptions {
            verilator_args: params(n, r),
            ..BuildOptions::default()
        };
        let model = build(&design(), &opts).unwrap_or_else(|e| panic!("N={n}: {e}"));
        let mut sim = model.instance().expect("instance");
        let port = |n: &str| sim.port(n).unwrap_or_else(|e| panic!("{e}"));
        let (clk, en, iv, tag, bits, ov, otag, count) = (
            port("clk"),
            port("en"),
            port("in_valid"),
            port("in_tag"),
            port("in_bits"),
            port("out_valid"),
            port("out_tag"),
            port("count"),
        );
        let lat = popcount_latency(n, r);
        let vs = vectors(n, 300, n as u64 * 31 + r as u64);
        let mut g = SplitMix64::new(n as u64);
        // One vector per enabled cycle, valid on alternate ones; `en` low about a third of
        // the time freezes everything. Step k's output belongs to the input of step k+1-lat.
        let mut expect: Vec<Option<(u32, u64)>> = Vec::new();
        let mut next = 0;
        let mut cyc = 0u64;
        while next < vs.len() + lat + 1 {
            cyc += 1;
            let enabled = g.next() % 3 != 0;
            sim.set(en, enabled as u64);
            let v = vs.get(next);
            let valid = v.is_some() && next % 2 == 0;
            sim.set(iv, valid as u64);
            sim.set(tag, cyc % 8);
            sim.set_wide(bits, &to_u32(v.map_or(&vs[0], |v| v), n));
            let before = (sim.get(ov), sim.get(count), sim.get(otag));
            sim.tick(clk);
            if !enabled {
                assert_eq!(
                    (sim.get(ov), sim.get(count), sim.get(otag)),
                    before,
                    "N={n} R={r}: en low must freeze"
                );
                continue;
            }
            expect.push(if valid {
                v.map(|v| (popcount(v, n), cyc % 8))
            } else {
                None
            });
            next += 1;
            if next >= lat {
                let src = next - lat;
                let want = expect[src];
                assert_eq!(
                    sim.get(ov) == 1,
                    want.is_some(),
                    "N={n} R={r}: out_valid for the input of step {src}"
                );
                if let Some((w, t)) = want {
                    assert_eq!(
                        sim.get(count) as u32,
                        w,
                        "N={n} R={r}: count for the input of step {src}"
                    );
                    assert_eq!(
                        sim.get(otag),
                        t,
                        "N={n} R={r}: tag for the input of step {src}"
                    );
                }
            }
        }
    }
}

#[test]
fn popcount_tree_is_lint_clean() {
    for n in [1, 2, 5, 64, 100, 256] {
        for r in [1, 2, 3] {
            let warnings = lint(
                &design(),
                &params(n, r).iter().map(String::as_str).collect::<Vec<_>>(),
            )
            .unwrap_or_else(|e| panic!("lint N={n}: {e}"));
            assert!(warnings.is_empty(), "N={n} R={r}: {warnings:?}");
        }
    }
}
