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
    // Every leaf size (1–3 bits) and carry-in count, trees shallower than the latency
    // they must keep (padded at the end), every REG_EVERY.
    for &(n, r) in &[
        (1, 2),
        (2, 1),
        (3, 2),
        (4, 1),
        (5, 2),
        (6, 3),
        (7, 3),
        (8, 2),
        (9, 1),
        (11, 2),
        (12, 3),
        (16, 1),
        (17, 2),
        (31, 2),
        (32, 3),
        (33, 1),
        (64, 2),
        (65, 1),
        (100, 2),
        (128, 1),
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
            let enabled = !g.next().is_multiple_of(3);
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

mod mvau {
    use hdlgen::arith::{binary_dot, pack_signs, popcount, xnor_popcount_masked, SplitMix64};
    use hdlgen::rtl::lib::{mvau_bin_latency, MVAU_BIN, POPCOUNT};
    use hdlgen_sim::{build, lint, BuildOptions, Design};

    fn design() -> Design {
        Design::new("hdlgen_mvau_bin")
            .text(POPCOUNT.0, POPCOUNT.1)
            .text(MVAU_BIN.0, MVAU_BIN.1)
    }

    fn params(mw: usize, mh: usize, pe: usize, simd: usize) -> Vec<String> {
        vec![
            format!("-GMW={mw}"),
            format!("-GMH={mh}"),
            format!("-GPE={pe}"),
            format!("-GSIMD={simd}"),
        ]
    }

    /// Bits `[lo, lo + n)` of a ±1 slice packed as u32 words for a wide port.
    fn bits_u32(bits: impl Iterator<Item = bool>, n: usize) -> Vec<u32> {
        let mut w = vec![0u32; n.div_ceil(32).max(1)];
        for (i, b) in bits.enumerate() {
            if b {
                w[i / 32] |= 1 << (i % 32);
            }
        }
        w
    }

    fn sign_extend(v: u64, bits: u32) -> i64 {
        ((v << (64 - bits)) as i64) >> (64 - bits)
    }

    /// (MW, MH, PE, SIMD, use masks, stall the streams)
    const CASES: &[(usize, usize, usize, usize, bool, bool)] = &[
        (64, 16, 4, 16, true, true),
        (9, 3, 3, 9, false, true),
        (288, 64, 8, 32, true, true),
        (5, 4, 1, 1, true, true),
        (100, 6, 2, 25, true, true),
        (130, 5, 5, 65, true, false),
        (48, 8, 2, 16, false, false),
    ];

    #[test]
    fn mvau_matches_arith_under_back_pressure_and_reloads() {
        for &(mw, mh, pe, simd, masks, stalls) in CASES {
            let what = format!("MW={mw} MH={mh} PE={pe} SIMD={simd}");
            let opts = BuildOptions {
                verilator_args: params(mw, mh, pe, simd),
                ..BuildOptions::default()
            };
            let model = build(&design(), &opts).unwrap_or_else(|e| panic!("{what}: {e}"));
            let (sf, nf) = (mw / simd, mh / pe);
            let dw = (usize::BITS - mw.leading_zeros()) + 1; // clog2(MW + 1) + 1
            let mut g = SplitMix64::new((mw * 1000 + mh) as u64);
            // Two weight sets loaded at run time into the same build.
            for set in 0..2 {
                let mut sim = model.instance().expect("instance");
                let port = |n: &str| sim.port(n).unwrap_or_else(|e| panic!("{e}"));
                let (clk, rst, iv, ir, id, im, ov, or, od, we, wa, wd) = (
                    port("clk"),
                    port("rst"),
                    port("in_valid"),
                    port("in_ready"),
                    port("in_data"),
                    port("in_mask"),
                    port("out_valid"),
                    port("out_ready"),
                    port("out_data"),
                    port("wr_en"),
                    port("wr_addr"),
                    port("wr_data"),
                );
                let w: Vec<Vec<i64>> = (0..mh)
                    .map(|_| {
                        (0..mw)
                            .map(|_| if g.next() & 1 == 1 { 1 } else { -1 })
                            .collect()
                    })
                    .collect();
                sim.set(rst, 1);
                sim.tick(clk);
                sim.set(rst, 0);
                sim.set(we, 1);
                for f in 0..nf {
                    for s in 0..sf {
                        let word = (0..pe)
                            .flat_map(|p| (0..simd).map(move |i| (p, i)))
                            .map(|(p, i)| w[f * pe + p][s * simd + i] == 1);
                        sim.set(wa, (f * sf + s) as u64);
                        sim.set_wide(wd, &bits_u32(word, pe * simd));
                        sim.tick(clk);
                    }
                }
                sim.set(we, 0);
                // Vectors, each replayed once per fold; expected dots per (vector, fold).
                let vectors = 5;
                let mut beats = vec![];
                let mut expect = vec![];
                for _ in 0..vectors {
                    let x: Vec<i64> = (0..mw)
                        .map(|_| if g.next() & 1 == 1 { 1 } else { -1 })
                        .collect();
                    let m: Vec<i64> = (0..mw)
                        .map(|_| {
                            if !masks || !g.next().is_multiple_of(4) {
                                1
                            } else {
                                -1
                            }
                        })
                        .collect();
                    for f in 0..nf {
                        for s in 0..sf {
                            beats.push((
                                x[s * simd..(s + 1) * simd].to_vec(),
                                m[s * simd..(s + 1) * simd].to_vec(),
                            ));
                        }
                        for p in 0..pe {
                            let (px, pm, pw) =
                                (pack_signs(&x), pack_signs(&m), pack_signs(&w[f * pe + p]));
                            expect.push(binary_dot(
                                xnor_popcount_masked(&px, &pw, &pm),
                                popcount(&pm, mw) as usize,
                            ));
                        }
                    }
                }
                let mut got = vec![];
                let (mut next, mut cycles, mut first_in) = (0, 0u64, None);
                while got.len() < expect.len() {
                    cycles += 1;
                    assert!(cycles < 100_000, "{what}: no progress");
                    let give = next < beats.len() && (!stalls || !g.next().is_multiple_of(3));
                    sim.set(iv, give as u64);
                    if let Some((x, m)) = beats.get(next) {
                        sim.set_wide(id, &bits_u32(x.iter().map(|&v| v == 1), simd));
                        sim.set_wide(im, &bits_u32(m.iter().map(|&v| v == 1), simd));
                    }
                    let ready = !stalls || !g.next().is_multiple_of(3);
                    sim.set(or, ready as u64);
                    sim.eval();
                    let took = give && sim.get(ir) == 1;
                    if sim.get(ov) == 1 && ready {
                        let words = sim.get_words(od);
                        for p in 0..pe {
                            let mut v = 0u64;
                            for b in 0..dw as usize {
                                let bit = p * dw as usize + b;
                                v |= (((words[bit / 32] >> (bit % 32)) & 1) as u64) << b;
                            }
                            got.push(sign_extend(v, dw));
                        }
                    }
                    sim.tick(clk);
                    if took {
                        first_in.get_or_insert(cycles);
                        next += 1;
                    }
                }
                for (i, (g, e)) in got.iter().zip(&expect).enumerate() {
                    let (v, rest) = (i / (nf * pe), i % (nf * pe));
                    assert_eq!(
                        g,
                        e,
                        "{what} set {set}: vector {v}, output channel {} (fold {}, lane {})",
                        rest,
                        rest / pe,
                        rest % pe
                    );
                }
                if !stalls {
                    // One beat per cycle: from the first beat's cycle to the cycle the last
                    // result is visible, vectors·NF·SF beats plus the pipeline latency.
                    let ideal = (vectors * nf * sf) as u64;
                    let measured = cycles - first_in.unwrap_or(1) + 1;
                    assert_eq!(
                        measured,
                        ideal + mvau_bin_latency(simd, 2) as u64,
                        "{what}: cycles"
                    );
                }
            }
        }
    }

    #[test]
    fn mvau_is_lint_clean() {
        for &(mw, mh, pe, simd, ..) in CASES {
            let p = params(mw, mh, pe, simd);
            let warnings = lint(&design(), &p.iter().map(String::as_str).collect::<Vec<_>>())
                .unwrap_or_else(|e| panic!("lint: {e}"));
            assert!(
                warnings.is_empty(),
                "MW={mw} MH={mh} PE={pe} SIMD={simd}: {warnings:?}"
            );
        }
    }
}

/// `hdlgen_skid` under random valid/ready: every beat comes out once, in order, with
/// in_ready/out_valid depending on flip-flops only; at full rate one beat a cycle.
#[test]
fn skid_passes_every_beat_in_order_at_full_rate() {
    use hdlgen::rtl::lib::SKID;
    let d = Design::new("hdlgen_skid").text(SKID.0, SKID.1);
    let opts = BuildOptions {
        verilator_args: vec!["-GW=12".into()],
        ..BuildOptions::default()
    };
    let model = build(&d, &opts).expect("builds");
    let mut sim = model.instance().expect("instance");
    let port = |n: &str| sim.port(n).unwrap_or_else(|e| panic!("{e}"));
    let (clk, rst, iv, ir, id, ov, or, od) = (
        port("clk"),
        port("rst"),
        port("in_valid"),
        port("in_ready"),
        port("in_data"),
        port("out_valid"),
        port("out_ready"),
        port("out_data"),
    );
    sim.set(rst, 1);
    sim.tick(clk);
    sim.set(rst, 0);
    let mut g = SplitMix64::new(7);
    let (mut sent, mut got) = (0u64, 0u64);
    for cyc in 0..4000u64 {
        // Phases: random both ways, then both always on (full rate), then random again.
        let full = (1000..2000).contains(&cyc);
        let valid = full || !g.next().is_multiple_of(3);
        let ready = full || !g.next().is_multiple_of(3);
        sim.set(iv, valid as u64);
        sim.set(id, sent & 0xfff);
        sim.set(or, ready as u64);
        let (in_ready, out_valid, out_data) = (sim.get(ir), sim.get(ov), sim.get(od));
        // Outputs are flip-flops: they do not follow this cycle's inputs.
        sim.set(iv, !valid as u64);
        sim.set(or, !ready as u64);
        sim.eval();
        assert_eq!(
            (sim.get(ir), sim.get(ov)),
            (in_ready, out_valid),
            "cycle {cyc}: a combinational path from the inputs"
        );
        sim.set(iv, valid as u64);
        sim.set(or, ready as u64);
        sim.eval();
        if out_valid == 1 && ready {
            assert_eq!(out_data, got & 0xfff, "cycle {cyc}: beat {got}");
            got += 1;
        }
        if valid && in_ready == 1 {
            sent += 1;
        }
        assert!(sent - got <= 2, "cycle {cyc}: more than two beats held");
        if full && cyc >= 1010 {
            assert!(in_ready == 1 && out_valid == 1, "cycle {cyc}: full rate");
        }
        sim.tick(clk);
    }
    assert!(got > 2500, "{got} beats");
}

#[test]
fn skid_is_lint_clean() {
    use hdlgen::rtl::lib::SKID;
    let d = Design::new("hdlgen_skid").text(SKID.0, SKID.1);
    for w in ["-GW=1", "-GW=64"] {
        let warnings = lint(&d, &[w]).unwrap_or_else(|e| panic!("lint {w}: {e}"));
        assert!(warnings.is_empty(), "{w}: {warnings:?}");
    }
}

/// `hdlgen_chunk` under random valid/ready: every input beat of N·SIMD elements comes out
/// as N beats in element order (data and mask), out_last on the N-th; with the input
/// always valid and the output always ready, one beat a cycle.
#[test]
fn chunk_splits_every_beat_in_order_at_full_rate() {
    use hdlgen::rtl::lib::CHUNK;
    let d = Design::new("hdlgen_chunk").text(CHUNK.0, CHUNK.1);
    // (N, SIMD, DW): beats of at most 64 bits, so one port word each.
    for (n, simd, dw) in [(2usize, 3usize, 1usize), (3, 2, 5), (4, 4, 2), (9, 1, 3)] {
        let what = format!("chunk N={n} SIMD={simd} DW={dw}");
        let opts = BuildOptions {
            verilator_args: vec![
                format!("-GN={n}"),
                format!("-GSIMD={simd}"),
                format!("-GDW={dw}"),
            ],
            ..BuildOptions::default()
        };
        let model = build(&d, &opts).expect("builds");
        let mut sim = model.instance().expect("instance");
        let port = |n: &str| sim.port(n).unwrap_or_else(|e| panic!("{e}"));
        let (clk, rst, iv, ir, id, im) = (
            port("clk"),
            port("rst"),
            port("in_valid"),
            port("in_ready"),
            port("in_data"),
            port("in_mask"),
        );
        let (ov, or, od, om, ol) = (
            port("out_valid"),
            port("out_ready"),
            port("out_data"),
            port("out_mask"),
            port("out_last"),
        );
        let (db, total) = (simd * dw, n * simd * dw);
        let bits = |v: u64, lo: usize, w: usize| (v >> lo) & ((1u64 << w) - 1);
        sim.set(rst, 1);
        sim.tick(clk);
        sim.set(rst, 0);
        let mut g = SplitMix64::new(11 + n as u64);
        let mut sent: Vec<(u64, u64)> = vec![];
        let (mut got, mut full_beats) = (0usize, 0u64);
        let mut cur = (
            g.next() & ((1u64 << total) - 1),
            g.next() & ((1u64 << (n * simd)) - 1),
        );
        for cyc in 0..3000u64 {
            let full = (1000..2000).contains(&cyc);
            let valid = full || !g.next().is_multiple_of(3);
            let ready = full || !g.next().is_multiple_of(4);
            sim.set(iv, valid as u64);
            sim.set(id, cur.0);
            sim.set(im, cur.1);
            sim.set(or, ready as u64);
            sim.eval();
            let (in_ready, out_valid) = (sim.get(ir), sim.get(ov));
            if out_valid == 1 && ready {
                let (beat, j) = (got / n, got % n);
                let (data, mask) = sent[beat];
                assert_eq!(
                    sim.get(od),
                    bits(data, j * db, db),
                    "{what}: cycle {cyc}, beat {beat}.{j} data"
                );
                assert_eq!(
                    sim.get(om),
                    bits(mask, j * simd, simd),
                    "{what}: cycle {cyc}, beat {beat}.{j} mask"
                );
                assert_eq!(
                    sim.get(ol),
                    (j == n - 1) as u64,
                    "{what}: cycle {cyc}, beat {beat}.{j} last"
                );
                got += 1;
                if full {
                    full_beats += 1;
                }
            }
            if valid && in_ready == 1 {
                sent.push(cur);
                cur = (
                    g.next() & ((1u64 << total) - 1),
                    g.next() & ((1u64 << (n * simd)) - 1),
                );
            }
            sim.tick(clk);
        }
        assert!(got > 500, "{what}: {got} beats");
        assert!(
            full_beats >= 999,
            "{what}: {full_beats} beats in 1,000 free-flowing cycles"
        );
    }
}

#[test]
fn chunk_is_lint_clean() {
    use hdlgen::rtl::lib::CHUNK;
    let d = Design::new("hdlgen_chunk").text(CHUNK.0, CHUNK.1);
    for p in [
        ["-GN=2", "-GSIMD=1", "-GDW=1"],
        ["-GN=9", "-GSIMD=96", "-GDW=8"],
    ] {
        let warnings = lint(&d, &p).unwrap_or_else(|e| panic!("lint {p:?}: {e}"));
        assert!(warnings.is_empty(), "{p:?}: {warnings:?}");
    }
}

// ------------------------------------------------------------------ hdlgen_xcore

mod xcore {
    use hdlgen::arith::{binary_dot, xnor_popcount, SplitMix64};
    use hdlgen::rtl::lib::{xcore_latency, POPCOUNT, XCORE};
    use hdlgen_sim::{build, lint, BuildOptions, Design};

    fn design() -> Design {
        Design::new("hdlgen_xcore")
            .text(POPCOUNT.0, POPCOUNT.1)
            .text(XCORE.0, XCORE.1)
    }

    /// (PE, SIMD, PIX, REG_EVERY): the UP5K shapes (2×32×8, 4×16×4), odd sizes, one lane.
    const CASES: &[(usize, usize, usize, usize)] = &[
        (2, 32, 8, 2),
        (4, 16, 4, 2),
        (3, 5, 2, 1),
        (1, 1, 1, 1),
        (2, 9, 3, 3),
        (1, 64, 2, 2),
        (2, 2, 4, 1),
    ];
    const MAX_BEATS: usize = 6;

    fn widths(simd: usize) -> (usize, usize) {
        // AW holds ±MAX_BEATS·SIMD; TW one bit more so thresholds reach past it.
        let aw = (usize::BITS - (MAX_BEATS * simd).leading_zeros()) as usize + 1;
        (aw, aw + 1)
    }

    fn params(c: (usize, usize, usize, usize)) -> Vec<String> {
        let (pe, simd, pix, r) = c;
        let (aw, tw) = widths(simd);
        vec![
            format!("-GPE={pe}"),
            format!("-GSIMD={simd}"),
            format!("-GPIX={pix}"),
            format!("-GAW={aw}"),
            format!("-GTW={tw}"),
            format!("-GREG_EVERY={r}"),
            "-GTAG_W=7".into(),
        ]
    }

    fn random_bits(g: &mut SplitMix64, n: usize, density: u64) -> Vec<bool> {
        (0..n).map(|_| g.next() % 8 < density).collect()
    }

    fn pack(bits: &[bool]) -> Vec<u32> {
        let mut w = vec![0u32; bits.len().div_ceil(32).max(1)];
        for (i, &b) in bits.iter().enumerate() {
            if b {
                w[i / 32] |= 1 << (i % 32);
            }
        }
        w
    }

    fn put(w: &mut [u32], lo: usize, n: usize, v: i64) {
        for i in 0..n {
            if (v >> i) & 1 == 1 {
                w[(lo + i) / 32] |= 1 << ((lo + i) % 32);
            }
        }
    }

    fn field(w: &[u32], lo: usize, n: usize) -> i64 {
        let u = (0..n).fold(0u64, |a, i| {
            a | (u64::from((w[(lo + i) / 32] >> ((lo + i) % 32)) & 1) << i)
        });
        ((u << (64 - n)) as i64) >> (64 - n)
    }

    fn to_u64(bits: &[bool]) -> Vec<u64> {
        let mut w = vec![0u64; bits.len().div_ceil(64).max(1)];
        for (i, &b) in bits.iter().enumerate() {
            if b {
                w[i / 64] |= 1 << (i % 64);
            }
        }
        w
    }

    struct Beat {
        w: Vec<bool>,
        x: Vec<bool>,
        m: Vec<bool>,
        /// Pixel j takes input j ^ rot.
        rot: usize,
    }

    /// A random in_rot: any when PIX is a power of two, else 0.
    fn rot(g: &mut SplitMix64, pix: usize) -> usize {
        if pix.is_power_of_two() {
            g.next() as usize % pix
        } else {
            0
        }
    }

    /// A group's expected sums (pixel-major) and bits, from arith's XNOR-popcount.
    fn reference(
        beats: &[Beat],
        thr: &[(i64, bool)],
        (pe, simd, pix): (usize, usize, usize),
    ) -> (Vec<i64>, Vec<bool>) {
        let mut acc = vec![0i64; pix * pe];
        for b in beats {
            for j in 0..pix {
                if !b.m[j] {
                    continue;
                }
                let i = j ^ b.rot;
                let x = to_u64(&b.x[i * simd..(i + 1) * simd]);
                for p in 0..pe {
                    let w = to_u64(&b.w[p * simd..(p + 1) * simd]);
                    acc[j * pe + p] += binary_dot(xnor_popcount(&w, &x, simd), simd);
                }
            }
        }
        let bits = (0..pix * pe)
            .map(|k| (acc[k] >= thr[k % pe].0) ^ thr[k % pe].1)
            .collect();
        (acc, bits)
    }

    type Thr = Vec<(i64, bool)>;
    /// A result owed: (cycle, sums, bits, tag, the group's thresholds).
    type Owed = (u64, Vec<i64>, Vec<bool>, u64, Thr);

    /// One instance with its ports, the results it owes (by cycle) and a cycle count.
    struct Run {
        sim: hdlgen_sim::Instance,
        ports: Vec<hdlgen_sim::PortHandle>,
        shape: (usize, usize, usize, usize, usize),
        want: std::collections::VecDeque<Owed>,
        cycle: u64,
        checked: usize,
        what: String,
    }

    impl Run {
        /// One cycle: drives a beat (or a bubble with random inputs), and the thresholds of
        /// the result owed this cycle (random when none), checks the outputs against it
        /// (and pre_valid/pre_tag against the one owed next cycle), ticks.
        fn step(
            &mut self,
            g: &mut SplitMix64,
            drive: Option<(&Beat, bool, bool, u64)>,
            reset: bool,
        ) {
            let (pe, simd, pix, aw, tw) = self.shape;
            let junk = Beat {
                w: random_bits(g, pe * simd, 4),
                x: random_bits(g, pix * simd, 4),
                m: random_bits(g, pix, 4),
                rot: rot(g, pix),
            };
            let junk_thr: Thr = (0..pe)
                .map(|_| ((g.next() % 64) as i64 - 32, g.next().is_multiple_of(2)))
                .collect();
            let (b, first, last, tag) = drive.unwrap_or((
                &junk,
                g.next().is_multiple_of(2),
                g.next().is_multiple_of(2),
                g.next() % 128,
            ));
            let (what, cycle) = (&self.what, self.cycle);
            let owed = self.want.front().filter(|w| w.0 == cycle);
            let thr = owed.map_or(&junk_thr, |w| &w.4);
            let p = &self.ports;
            let (clk, rst, iv, fi, la, iw, ix, im, it, ifl, itag) = (
                p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10],
            );
            let (ov, oacc, obits, otag) = (p[11], p[12], p[13], p[14]);
            let (pv, ptag) = (p[16], p[17]);
            let sim = &mut self.sim;
            sim.set(rst, reset as u64);
            sim.set(iv, drive.is_some() as u64);
            sim.set(fi, first as u64);
            sim.set(la, last as u64);
            sim.set_wide(iw, &pack(&b.w));
            sim.set_wide(ix, &pack(&b.x));
            sim.set_wide(im, &pack(&b.m));
            sim.set(p[15], b.rot as u64);
            let mut tw_words = vec![0u32; (pe * tw).div_ceil(32)];
            for (k, &(t, _)) in thr.iter().enumerate() {
                put(&mut tw_words, k * tw, tw, t);
            }
            sim.set_wide(it, &tw_words);
            sim.set_wide(ifl, &pack(&thr.iter().map(|t| t.1).collect::<Vec<_>>()));
            sim.set(itag, tag);
            sim.eval();
            let valid = sim.get(ov) == 1;
            let next = self.want.iter().find(|w| w.0 == cycle + 1);
            assert_eq!(
                sim.get(pv) == 1,
                next.is_some(),
                "{what}: pre_valid at cycle {cycle}"
            );
            if let Some(w) = next {
                assert_eq!(sim.get(ptag), w.3, "{what}: pre_tag at cycle {cycle}");
            }
            if self.want.front().is_some_and(|w| w.0 == cycle) {
                let (_, acc, bits, tag, _) = self.want.pop_front().expect("owed");
                assert!(valid, "{what}: no result at cycle {cycle}");
                let a = sim.get_words(oacc);
                let got: Vec<i64> = (0..pix * pe).map(|k| field(&a, k * aw, aw)).collect();
                assert_eq!(got, acc, "{what}: sums at cycle {cycle}");
                let ob = sim.get_words(obits);
                let gb: Vec<bool> = (0..pix * pe)
                    .map(|k| (ob[k / 32] >> (k % 32)) & 1 == 1)
                    .collect();
                assert_eq!(gb, bits, "{what}: bits at cycle {cycle} (sums {acc:?})");
                assert_eq!(sim.get(otag), tag, "{what}: tag at cycle {cycle}");
                self.checked += 1;
            } else {
                assert!(!valid, "{what}: unexpected result at cycle {cycle}");
            }
            sim.tick(clk);
            self.cycle += 1;
        }
    }

    #[test]
    fn xcore_matches_arith_with_bubbles_masks_and_back_to_back_groups() {
        for &c in CASES {
            let (pe, simd, pix, r) = c;
            let (aw, tw) = widths(simd);
            let lat = xcore_latency(simd, r) as u64;
            let what = format!("xcore PE={pe} SIMD={simd} PIX={pix} REG_EVERY={r}");
            let opts = BuildOptions {
                verilator_args: params(c),
                ..BuildOptions::default()
            };
            let model = build(&design(), &opts).unwrap_or_else(|e| panic!("{what}: {e}"));
            let sim = model.instance().expect("instance");
            let names = [
                "clk",
                "rst",
                "in_valid",
                "in_first",
                "in_last",
                "in_w",
                "in_x",
                "in_m",
                "in_thr",
                "in_flip",
                "in_tag",
                "out_valid",
                "out_acc",
                "out_bits",
                "out_tag",
                "in_rot",
                "pre_valid",
                "pre_tag",
            ];
            let ports = names
                .iter()
                .map(|n| sim.port(n).unwrap_or_else(|e| panic!("{e}")))
                .collect();
            let mut run = Run {
                sim,
                ports,
                shape: (pe, simd, pix, aw, tw),
                want: Default::default(),
                cycle: 0,
                checked: 0,
                what: what.clone(),
            };
            let mut g = SplitMix64::new((pe * 10_000 + simd * 100 + pix) as u64);
            let mut groups = 0;
            for round in 0..400 {
                // A reset now and then, with groups in flight: their results are dropped.
                if round % 97 == 50 {
                    run.step(&mut g, None, true);
                    run.want.clear();
                    for _ in 0..70 {
                        run.step(&mut g, None, false);
                    }
                }
                let n = 1 + (g.next() % MAX_BEATS as u64) as usize;
                let beats: Vec<Beat> = (0..n)
                    .map(|_| {
                        let d = g.next() % 9;
                        Beat {
                            w: random_bits(&mut g, pe * simd, d),
                            x: random_bits(&mut g, pix * simd, 8 - d),
                            m: random_bits(&mut g, pix, 6),
                            rot: rot(&mut g, pix),
                        }
                    })
                    .collect();
                let span = (n * simd) as u64;
                let thr: Thr = (0..pe)
                    .map(|_| {
                        let t = (g.next() % (2 * span + 3)) as i64 - span as i64 - 1;
                        (t, g.next().is_multiple_of(2))
                    })
                    .collect();
                let tag = g.next() % 128;
                let (acc, bits) = reference(&beats, &thr, (pe, simd, pix));
                for (i, b) in beats.iter().enumerate() {
                    // Bubbles between beats in a third of the rounds; otherwise groups
                    // follow each other back to back.
                    if round % 3 == 0 {
                        for _ in 0..g.next() % 3 {
                            run.step(&mut g, None, false);
                        }
                    }
                    let last = i + 1 == n;
                    if last {
                        run.want.push_back((
                            run.cycle + lat,
                            acc.clone(),
                            bits.clone(),
                            tag,
                            thr.clone(),
                        ));
                    }
                    run.step(&mut g, Some((b, i == 0, last, tag)), false);
                }
                groups += 1;
            }
            for _ in 0..lat + 4 {
                run.step(&mut g, None, false);
            }
            assert!(run.want.is_empty(), "{what}: results missing");
            assert!(
                run.checked > groups * 9 / 10,
                "{what}: {} of {groups} checked",
                run.checked
            );
        }
    }

    #[test]
    fn xcore_is_lint_clean() {
        for &c in CASES {
            let p = params(c);
            let flags: Vec<&str> = p.iter().map(String::as_str).collect();
            let warnings = lint(&design(), &flags).unwrap_or_else(|e| panic!("lint {p:?}: {e}"));
            assert!(warnings.is_empty(), "lint {p:?}: {warnings:?}");
        }
    }
}
