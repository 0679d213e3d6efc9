//! The streaming engines `hdlgen_pool`, `hdlgen_rowpool`, `hdlgen_thresh`,
//! `hdlgen_argmax` and `hdlgen_argmax_plain` in Verilator
//! against their defining formulas, computed here with plain i64/i128 (the independent
//! reference): every output beat in order under random input gaps and output
//! back-pressure, parameters reloaded over the config bus in the same build, the exact
//! documented cycle counts with free-flowing streams, and `verilator --lint-only -Wall`
//! clean over a parameter grid.

use hdlgen::arith::SplitMix64;
use hdlgen_sim::{build, lint, BuildOptions, Design, Instance, PortHandle};

const CFGMEM: (&str, &str) = (
    "hdlgen_cfgmem.v",
    include_str!("../../hdl-gen/rtl/lib/hdlgen_cfgmem.v"),
);
const POOL: (&str, &str) = (
    "hdlgen_pool.v",
    include_str!("../../hdl-gen/rtl/lib/hdlgen_pool.v"),
);
const ROWPOOL: (&str, &str) = (
    "hdlgen_rowpool.v",
    include_str!("../../hdl-gen/rtl/lib/hdlgen_rowpool.v"),
);
const THRESH: (&str, &str) = (
    "hdlgen_thresh.v",
    include_str!("../../hdl-gen/rtl/lib/hdlgen_thresh.v"),
);
const ARGMAX: (&str, &str) = (
    "hdlgen_argmax.v",
    include_str!("../../hdl-gen/rtl/lib/hdlgen_argmax.v"),
);
const ARGMAX_PLAIN: (&str, &str) = (
    "hdlgen_argmax_plain.v",
    include_str!("../../hdl-gen/rtl/lib/hdlgen_argmax_plain.v"),
);

fn design(top: &str, files: &[(&str, &str)]) -> Design {
    files
        .iter()
        .fold(Design::new(top), |d, (name, text)| d.text(*name, *text))
}

fn instance(d: &Design, params: &[String], what: &str) -> Instance {
    let opts = BuildOptions {
        verilator_args: params.to_vec(),
        ..BuildOptions::default()
    };
    let model = build(d, &opts).unwrap_or_else(|e| panic!("{what}: {e}"));
    model.instance().expect("instance")
}

fn lint_clean(d: &Design, params: &[String], what: &str) {
    let flags: Vec<&str> = params.iter().map(String::as_str).collect();
    let warnings = lint(d, &flags).unwrap_or_else(|e| panic!("lint {what}: {e}"));
    assert!(warnings.is_empty(), "lint {what}: {warnings:?}");
}

// ------------------------------------------------------------------ bit packing

fn words(bits: usize) -> Vec<u32> {
    vec![0; bits.div_ceil(32).max(1)]
}

/// Writes the low `w` bits of `v` (two's complement) at bit `lo`.
fn put(ws: &mut [u32], lo: usize, w: usize, v: i64) {
    for b in 0..w {
        let bit = lo + b;
        if (v >> b.min(63)) & 1 == 1 {
            ws[bit / 32] |= 1 << (bit % 32);
        } else {
            ws[bit / 32] &= !(1 << (bit % 32));
        }
    }
}

/// Bits `[lo, lo + w)` as a sign-extended value (`w` ≤ 64).
fn get_signed(ws: &[u32], lo: usize, w: usize) -> i64 {
    let mut v = 0u64;
    for b in 0..w {
        let bit = lo + b;
        v |= u64::from((ws[bit / 32] >> (bit % 32)) & 1) << b;
    }
    sext(v, w)
}

fn sext(v: u64, w: usize) -> i64 {
    ((v << (64 - w)) as i64) >> (64 - w)
}

/// Signed range of a `w`-bit lane.
fn range(w: usize) -> (i64, i64) {
    (-(1i64 << (w - 1)), (1i64 << (w - 1)) - 1)
}

fn random_words(g: &mut SplitMix64, bits: usize) -> Vec<u32> {
    (0..bits.div_ceil(32).max(1))
        .map(|_| g.next() as u32)
        .collect()
}

/// A value in `[lo, hi]`, the ends themselves one time in four.
fn value(g: &mut SplitMix64, lo: i64, hi: i64) -> i64 {
    match g.next() % 8 {
        0 => lo,
        1 => hi,
        _ => g.uniform(lo, hi),
    }
}

// ------------------------------------------------------------------ stream harness

struct Io {
    clk: PortHandle,
    rst: PortHandle,
    iv: PortHandle,
    ir: PortHandle,
    id: PortHandle,
    ov: PortHandle,
    or: PortHandle,
    /// The output payload ports, captured per beat.
    outs: Vec<PortHandle>,
}

impl Io {
    fn new(sim: &Instance, outs: &[&str]) -> Io {
        let port = |n: &str| sim.port(n).unwrap_or_else(|e| panic!("{e}"));
        Io {
            clk: port("clk"),
            rst: port("rst"),
            iv: port("in_valid"),
            ir: port("in_ready"),
            id: port("in_data"),
            ov: port("out_valid"),
            or: port("out_ready"),
            outs: outs.iter().map(|n| port(n)).collect(),
        }
    }

    fn reset(&self, sim: &mut Instance) {
        sim.set(self.iv, 0);
        sim.set(self.or, 0);
        sim.set(self.rst, 1);
        sim.tick(self.clk);
        sim.set(self.rst, 0);
    }
}

/// Input gaps and output back-pressure, in percent of cycles.
#[derive(Clone, Copy, Debug)]
struct Flow {
    gap: u64,
    stall: u64,
}

const FREE: Flow = Flow { gap: 0, stall: 0 };
const FLOWS: &[Flow] = &[
    Flow { gap: 30, stall: 50 },
    Flow { gap: 70, stall: 10 },
    Flow { gap: 5, stall: 85 },
    Flow { gap: 50, stall: 50 },
];

/// What a stream run saw: output beats (one `Vec<u32>` per output port), the cycles in
/// which input beats were taken and output beats left.
struct Seen {
    beats: Vec<Vec<Vec<u32>>>,
    taken: Vec<u64>,
    left: Vec<u64>,
}

/// Streams `inputs` through until `n_out` beats came out. Checks the handshake rules on
/// the way: in_ready and out_valid do not follow in_valid or out_ready in the same cycle,
/// and a beat on offer stays unchanged until taken. Afterwards, with the output free, no
/// further beat may appear and every input must have been taken.
fn stream(
    sim: &mut Instance,
    io: &Io,
    inputs: &[Vec<u32>],
    n_out: usize,
    flow: Flow,
    g: &mut SplitMix64,
    what: &str,
) -> Seen {
    let bits = io.id.width() as usize;
    let mut seen = Seen {
        beats: vec![],
        taken: vec![],
        left: vec![],
    };
    let mut next = 0;
    let mut held: Option<Vec<Vec<u32>>> = None;
    let limit = 200 * (n_out + inputs.len()) as u64 + 1000;
    let mut cycle = 0u64;
    while seen.beats.len() < n_out || next < inputs.len() {
        cycle += 1;
        assert!(
            cycle < limit,
            "{what}: stuck after {} beats",
            seen.beats.len()
        );
        let give = next < inputs.len() && g.next() % 100 >= flow.gap;
        let ready = g.next() % 100 >= flow.stall;
        let data = if give {
            inputs[next].clone()
        } else {
            random_words(g, bits)
        };
        sim.set_wide(io.id, &data);
        // No combinational path: flip the handshake inputs first, then set them.
        sim.set(io.iv, !give as u64);
        sim.set(io.or, !ready as u64);
        sim.eval();
        let (ir0, ov0) = (sim.get(io.ir), sim.get(io.ov));
        sim.set(io.iv, give as u64);
        sim.set(io.or, ready as u64);
        sim.eval();
        let (ir, ov) = (sim.get(io.ir), sim.get(io.ov));
        assert_eq!(
            (ir0, ov0),
            (ir, ov),
            "{what}: in_ready/out_valid follow an input"
        );
        let beat: Vec<Vec<u32>> = io.outs.iter().map(|&p| sim.get_words(p)).collect();
        if let Some(h) = held.take() {
            assert_eq!(
                ov,
                1,
                "{what}: out_valid dropped before beat {} was taken",
                seen.beats.len()
            );
            assert_eq!(
                beat,
                h,
                "{what}: beat {} changed while waiting",
                seen.beats.len()
            );
        }
        if ov == 1 {
            if ready {
                seen.beats.push(beat);
                seen.left.push(cycle);
            } else {
                held = Some(beat);
            }
        }
        if give && ir == 1 {
            seen.taken.push(cycle);
            next += 1;
        }
        sim.tick(io.clk);
    }
    sim.set(io.iv, 0);
    sim.set(io.or, 1);
    for _ in 0..64 {
        sim.eval();
        assert_eq!(sim.get(io.ov), 0, "{what}: more than {n_out} output beats");
        sim.tick(io.clk);
    }
    assert_eq!(next, inputs.len(), "{what}: input beats left over");
    seen
}

/// Cycles between consecutive entries.
fn gaps(at: &[u64]) -> Vec<u64> {
    at.windows(2).map(|w| w[1] - w[0]).collect()
}

/// One cfg-bus write: `data` into lane `lane` of word `word`.
fn cfg_write(sim: &mut Instance, clk: PortHandle, (word, lane): (u64, u64), data: u32) {
    let port = |n: &str| sim.port(n).unwrap_or_else(|e| panic!("{e}"));
    let (we, w, l, d) = (
        port("cfg_we"),
        port("cfg_word"),
        port("cfg_lane"),
        port("cfg_data"),
    );
    sim.set(we, 1);
    sim.set(w, word);
    sim.set(l, lane);
    sim.set(d, u64::from(data));
    sim.tick(clk);
    sim.set(we, 0);
    sim.set(d, 0);
}

/// A pixel's lanes (EW bits each, lane c at bits [c·EW +: EW]) as port words.
fn pack_pixel(px: &[i64], ew: usize) -> Vec<u32> {
    let mut w = words(px.len() * ew);
    for (c, &v) in px.iter().enumerate() {
        put(&mut w, c * ew, ew, v);
    }
    w
}

/// Every output beat (one pixel of C lanes: unsigned bit fields in MODE 0, signed in
/// MODE 1) equals the reference, in order.
fn check_pixels(seen: &Seen, want: &[Vec<i64>], c: usize, ew: usize, mode: usize, what: &str) {
    assert_eq!(seen.beats.len(), want.len(), "{what}");
    for (n, (got, w)) in seen.beats.iter().zip(want).enumerate() {
        let got: Vec<i64> = (0..c)
            .map(|ch| {
                let v = get_signed(&got[0], ch * ew, ew);
                if mode == 0 {
                    v & ((1 << ew) - 1)
                } else {
                    v
                }
            })
            .collect();
        assert_eq!(&got, w, "{what}: output {n}");
    }
}

// ------------------------------------------------------------------ hdlgen_pool

mod pool {
    use super::*;

    /// (C, EW, MODE, K)
    const CASES: &[(usize, usize, usize, usize)] = &[
        (1, 1, 0, 4),
        (16, 1, 0, 9),
        (5, 1, 0, 1),
        (5, 4, 1, 9),
        (16, 9, 1, 4),
        (1, 9, 1, 1),
    ];

    fn params(c: usize, ew: usize, mode: usize, k: usize) -> Vec<String> {
        vec![
            format!("-GC={c}"),
            format!("-GEW={ew}"),
            format!("-GMODE={mode}"),
            format!("-GK={k}"),
        ]
    }

    /// Random taps: lanes in range with the extremes often; binary taps of varying
    /// density so OR results are not all ones.
    fn taps(g: &mut SplitMix64, c: usize, ew: usize, mode: usize, n: usize) -> Vec<Vec<i64>> {
        let (lo, hi) = if mode == 0 { (0, 1) } else { range(ew) };
        (0..n)
            .map(|j| {
                let dense = j % 3 == 0;
                (0..c)
                    .map(|_| match mode {
                        0 if ew == 1 => {
                            i64::from(g.next().is_multiple_of(if dense { 2 } else { 6 }))
                        }
                        0 => (g.next() & ((1 << ew) - 1)) as i64,
                        _ => value(g, lo, hi),
                    })
                    .collect()
            })
            .collect()
    }

    /// The reference: per window of K taps, per lane OR (MODE 0) or signed max (MODE 1).
    fn expected(px: &[Vec<i64>], k: usize, mode: usize) -> Vec<Vec<i64>> {
        px.chunks(k)
            .map(|win| {
                (0..win[0].len())
                    .map(|c| {
                        let lane = win.iter().map(|p| p[c]);
                        if mode == 0 {
                            lane.fold(0, |a, b| a | b)
                        } else {
                            lane.max().unwrap()
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn pool_matches_or_and_max_under_back_pressure_and_runs_k_cycles_per_window() {
        let d = design("hdlgen_pool", &[POOL]);
        for &(c, ew, mode, k) in CASES {
            let what = format!("pool C={c} EW={ew} MODE={mode} K={k}");
            let mut sim = instance(&d, &params(c, ew, mode, k), &what);
            let io = Io::new(&sim, &["out_data"]);
            let mut g = SplitMix64::new((c * 100 + ew * 10 + k) as u64);
            io.reset(&mut sim);
            for (r, &flow) in FLOWS.iter().enumerate() {
                let px = taps(&mut g, c, ew, mode, 40 * k);
                let ins: Vec<Vec<u32>> = px.iter().map(|p| pack_pixel(p, ew)).collect();
                let want = expected(&px, k, mode);
                let seen = stream(&mut sim, &io, &ins, want.len(), flow, &mut g, &what);
                check_pixels(
                    &seen,
                    &want,
                    c,
                    ew,
                    mode,
                    &format!("{what} run {r} {flow:?}"),
                );
                if r == 1 && k > 1 {
                    // Reset inside a window: the partial window is dropped.
                    let part = taps(&mut g, c, ew, mode, k - 1);
                    let ins: Vec<Vec<u32>> = part.iter().map(|p| pack_pixel(p, ew)).collect();
                    stream(&mut sim, &io, &ins, 0, FREE, &mut g, &what);
                    io.reset(&mut sim);
                }
            }
            // Free flow: one tap per cycle, one window every K cycles, result the cycle
            // after the window's last tap.
            let px = taps(&mut g, c, ew, mode, 30 * k);
            let ins: Vec<Vec<u32>> = px.iter().map(|p| pack_pixel(p, ew)).collect();
            let want = expected(&px, k, mode);
            let seen = stream(&mut sim, &io, &ins, want.len(), FREE, &mut g, &what);
            check_pixels(&seen, &want, c, ew, mode, &format!("{what} free"));
            assert!(
                gaps(&seen.taken).iter().all(|&d| d == 1),
                "{what}: taps {:?}",
                gaps(&seen.taken)
            );
            assert!(
                gaps(&seen.left).iter().all(|&d| d == k as u64),
                "{what}: windows {:?}",
                gaps(&seen.left)
            );
            assert_eq!(seen.left[0], seen.taken[k - 1] + 1, "{what}: latency");
        }
    }

    #[test]
    fn pool_is_lint_clean() {
        let d = design("hdlgen_pool", &[POOL]);
        for c in [1, 5, 16] {
            for (ew, mode) in [(1, 0), (3, 0), (1, 1), (4, 1), (9, 1)] {
                for k in [1, 2, 4, 9] {
                    let p = params(c, ew, mode, k);
                    lint_clean(&d, &p, &format!("{p:?}"));
                }
            }
        }
    }
}

// ------------------------------------------------------------------ hdlgen_rowpool

mod rowpool {
    use super::*;

    /// (IN_H, IN_W, C, EW, MODE, K): remainder rows and columns, one output column, a
    /// one-pixel output map, signed lanes.
    const CASES: &[(usize, usize, usize, usize, usize, usize)] = &[
        (4, 4, 1, 1, 0, 2),
        (7, 9, 5, 1, 0, 2),
        (9, 8, 16, 1, 0, 3),
        (8, 3, 3, 1, 0, 2),
        (2, 2, 4, 1, 0, 2),
        (6, 6, 3, 4, 1, 2),
        (5, 7, 2, 9, 1, 3),
    ];

    fn params(p: (usize, usize, usize, usize, usize, usize)) -> Vec<String> {
        let (h, w, c, ew, mode, k) = p;
        vec![
            format!("-GIN_H={h}"),
            format!("-GIN_W={w}"),
            format!("-GC={c}"),
            format!("-GEW={ew}"),
            format!("-GMODE={mode}"),
            format!("-GK={k}"),
        ]
    }

    /// Random images (pixels in raster order), binary lanes of varying density so the ORs
    /// are not all ones, signed lanes with their extremes often.
    fn images(
        g: &mut SplitMix64,
        p: (usize, usize, usize, usize, usize, usize),
        n: usize,
    ) -> Vec<Vec<i64>> {
        let (h, w, c, ew, mode, _) = p;
        (0..n * h * w)
            .map(|j| {
                (0..c)
                    .map(|_| {
                        if mode == 0 {
                            i64::from(g.next().is_multiple_of(if j % 3 == 0 { 2 } else { 7 }))
                        } else {
                            let (lo, hi) = range(ew);
                            value(g, lo, hi)
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// The reference: per image, per output pixel of the floor(H/K)×floor(W/K) map, per
    /// lane the OR (MODE 0) or signed max (MODE 1) of its K×K window.
    fn expected(px: &[Vec<i64>], p: (usize, usize, usize, usize, usize, usize)) -> Vec<Vec<i64>> {
        let (h, w, c, _, mode, k) = p;
        let mut out = vec![];
        for img in px.chunks(h * w) {
            for oy in 0..h / k {
                for ox in 0..w / k {
                    out.push(
                        (0..c)
                            .map(|ch| {
                                let lane = (0..k * k)
                                    .map(|t| img[(oy * k + t / k) * w + ox * k + t % k][ch]);
                                if mode == 0 {
                                    lane.fold(0, |a, b| a | b)
                                } else {
                                    lane.max().unwrap()
                                }
                            })
                            .collect(),
                    );
                }
            }
        }
        out
    }

    #[test]
    fn rowpool_matches_or_and_max_over_images_under_back_pressure_one_beat_a_cycle() {
        let d = design("hdlgen_rowpool", &[ROWPOOL]);
        for &pc in CASES {
            let (h, w, c, ew, mode, k) = pc;
            let what = format!("rowpool {pc:?}");
            let mut sim = instance(&d, &params(pc), &what);
            let io = Io::new(&sim, &["out_data"]);
            let mut g = SplitMix64::new((h * 1000 + w * 100 + c * 10 + k) as u64);
            io.reset(&mut sim);
            for (r, &flow) in FLOWS.iter().enumerate() {
                let px = images(&mut g, pc, 3);
                let ins: Vec<Vec<u32>> = px.iter().map(|p| pack_pixel(p, ew)).collect();
                let want = expected(&px, pc);
                let seen = stream(&mut sim, &io, &ins, want.len(), flow, &mut g, &what);
                check_pixels(
                    &seen,
                    &want,
                    c,
                    ew,
                    mode,
                    &format!("{what} run {r} {flow:?}"),
                );
                if r == 1 {
                    // Reset inside an image (after its first window row has partial
                    // results): the partial image is dropped.
                    let part = images(&mut g, pc, 1);
                    let n = (k * w + 1).min(h * w - 1);
                    let ins: Vec<Vec<u32>> = part[..n].iter().map(|p| pack_pixel(p, ew)).collect();
                    let out = if k * w < n { w / k } else { 0 };
                    stream(&mut sim, &io, &ins, out, FREE, &mut g, &what);
                    io.reset(&mut sim);
                }
            }
            // Free flow: every beat taken back to back (an image in H·W cycles), each
            // window's result two cycles after its last pixel.
            let px = images(&mut g, pc, 2);
            let ins: Vec<Vec<u32>> = px.iter().map(|p| pack_pixel(p, ew)).collect();
            let want = expected(&px, pc);
            let seen = stream(&mut sim, &io, &ins, want.len(), FREE, &mut g, &what);
            check_pixels(&seen, &want, c, ew, mode, &format!("{what} free"));
            assert!(
                gaps(&seen.taken).iter().all(|&d| d == 1),
                "{what}: beats {:?}",
                gaps(&seen.taken)
            );
            let last_of_first = (k - 1) * w + k - 1;
            assert_eq!(
                seen.left[0],
                seen.taken[last_of_first] + 2,
                "{what}: latency"
            );
        }
    }

    #[test]
    fn rowpool_is_lint_clean() {
        let d = design("hdlgen_rowpool", &[ROWPOOL]);
        for (h, w) in [(2, 2), (7, 9), (28, 28)] {
            for c in [1, 5, 32] {
                for (ew, mode) in [(1, 0), (3, 0), (1, 1), (4, 1), (9, 1)] {
                    for k in [2, 3] {
                        if k <= h && k <= w {
                            let p = params((h, w, c, ew, mode, k));
                            lint_clean(&d, &p, &format!("{p:?}"));
                        }
                    }
                }
            }
        }
    }
}

// ------------------------------------------------------------------ hdlgen_thresh

mod thresh {
    use super::*;

    /// (C, IN_W, TW): TW wide enough for T just outside the input range, and one case
    /// with TW < IN_W (thresholds inside a narrower range than the inputs).
    const CASES: &[(usize, usize, usize)] = &[(1, 3, 5), (7, 6, 8), (40, 10, 11), (7, 9, 5)];
    const CFG_AW: usize = 2;

    fn lanes(c: usize, tw: usize) -> usize {
        (c * (tw + 1)).div_ceil(32)
    }

    fn cfg_lw(c: usize, tw: usize) -> usize {
        // One bit more than the lane count needs, so out-of-range lanes exist.
        (usize::BITS - (lanes(c, tw) - 1).leading_zeros()) as usize + 1
    }

    fn params(c: usize, in_w: usize, tw: usize) -> Vec<String> {
        vec![
            format!("-GC={c}"),
            format!("-GIN_W={in_w}"),
            format!("-GTW={tw}"),
            format!("-GCFG_AW={CFG_AW}"),
            format!("-GCFG_LW={}", cfg_lw(c, tw)),
        ]
    }

    /// Per channel (cmp, flip): T across and just outside the input range [lo, hi], in
    /// both directions (ge: cmp = T, le: cmp = T + 1, flip), clamped to TW bits.
    fn thresholds(g: &mut SplitMix64, c: usize, in_w: usize, tw: usize) -> Vec<(i64, bool)> {
        let (lo, hi) = range(in_w);
        let (tlo, thi) = range(tw);
        (0..c)
            .map(|_| {
                let ge = g.next() & 1 == 1;
                let t = match g.next() % 6 {
                    0 => lo - 1,
                    1 => hi + 1,
                    2 => [lo, hi, 0, -1][(g.next() % 4) as usize],
                    _ => g.uniform(lo, hi),
                };
                let cmp = if ge { t } else { t + 1 };
                (cmp.clamp(tlo, thi), !ge)
            })
            .collect()
    }

    /// The memory word: bits [c*(TW+1) +: TW+1] = {flip, cmp}.
    fn word(th: &[(i64, bool)], tw: usize) -> Vec<u32> {
        let mut w = words(th.len() * (tw + 1));
        for (c, &(cmp, flip)) in th.iter().enumerate() {
            put(&mut w, c * (tw + 1), tw, cmp);
            put(&mut w, c * (tw + 1) + tw, 1, flip as i64);
        }
        w
    }

    fn load(
        sim: &mut Instance,
        clk: PortHandle,
        th: &[(i64, bool)],
        tw: usize,
        g: &mut SplitMix64,
    ) {
        let (c, w) = (th.len(), word(th, tw));
        let lw = cfg_lw(c, tw);
        for (l, &d) in w.iter().enumerate() {
            cfg_write(sim, clk, (0, l as u64), d);
            // Writes to other words and to lanes past the end are ignored.
            cfg_write(sim, clk, (1 + g.next() % 3, l as u64), g.next() as u32);
            let past = lanes(c, tw) as u64 + g.next() % ((1u64 << lw) - lanes(c, tw) as u64);
            cfg_write(sim, clk, (0, past), g.next() as u32);
        }
    }

    /// Pixels: lanes in range, half of them within ±1 of the channel's cmp.
    fn pixels(g: &mut SplitMix64, th: &[(i64, bool)], in_w: usize, n: usize) -> Vec<Vec<i64>> {
        let (lo, hi) = range(in_w);
        (0..n)
            .map(|_| {
                th.iter()
                    .map(|&(cmp, _)| {
                        if g.next() & 1 == 1 {
                            (cmp + g.uniform(-1, 1)).clamp(lo, hi)
                        } else {
                            value(g, lo, hi)
                        }
                    })
                    .collect()
            })
            .collect()
    }

    fn pack(px: &[i64], in_w: usize) -> Vec<u32> {
        let mut w = words(px.len() * in_w);
        for (c, &v) in px.iter().enumerate() {
            put(&mut w, c * in_w, in_w, v);
        }
        w
    }

    /// The reference: bit c = (x_c >= cmp_c) ^ flip_c.
    fn expected(px: &[Vec<i64>], th: &[(i64, bool)]) -> Vec<u64> {
        px.iter()
            .map(|p| {
                p.iter()
                    .zip(th)
                    .enumerate()
                    .map(|(c, (&x, &(cmp, flip)))| u64::from((x >= cmp) ^ flip) << c)
                    .sum()
            })
            .collect()
    }

    fn check(seen: &Seen, want: &[u64], c: usize, what: &str) {
        assert_eq!(seen.beats.len(), want.len(), "{what}");
        for (n, (got, &w)) in seen.beats.iter().zip(want).enumerate() {
            let got = u64::from(got[0][0]) | got[0].get(1).map_or(0, |&h| u64::from(h) << 32);
            assert_eq!(
                got,
                w,
                "{what}: pixel {n} (C={c}, differing channels {:#x})",
                got ^ w
            );
        }
    }

    #[test]
    fn thresh_matches_compare_and_flip_under_back_pressure_and_reloads() {
        let d = design("hdlgen_thresh", &[CFGMEM, THRESH]);
        for &(c, in_w, tw) in CASES {
            let what = format!("thresh C={c} IN_W={in_w} TW={tw}");
            let mut sim = instance(&d, &params(c, in_w, tw), &what);
            let io = Io::new(&sim, &["out_data"]);
            let mut g = SplitMix64::new((c * 1000 + in_w * 10 + tw) as u64);
            io.reset(&mut sim);
            // Four threshold sets, each loaded into the same instance; the second run of
            // each set follows a reset (the thresholds survive it).
            for (set, &flow) in FLOWS.iter().enumerate() {
                let th = thresholds(&mut g, c, in_w, tw);
                load(&mut sim, io.clk, &th, tw, &mut g);
                for run in 0..2 {
                    let px = pixels(&mut g, &th, in_w, 150);
                    let ins: Vec<Vec<u32>> = px.iter().map(|p| pack(p, in_w)).collect();
                    let seen = stream(&mut sim, &io, &ins, px.len(), flow, &mut g, &what);
                    check(
                        &seen,
                        &expected(&px, &th),
                        c,
                        &format!("{what} set {set} run {run}"),
                    );
                    io.reset(&mut sim);
                }
            }
            // Free flow: one pixel per cycle, the result the cycle after.
            let th = thresholds(&mut g, c, in_w, tw);
            load(&mut sim, io.clk, &th, tw, &mut g);
            let px = pixels(&mut g, &th, in_w, 200);
            let ins: Vec<Vec<u32>> = px.iter().map(|p| pack(p, in_w)).collect();
            let seen = stream(&mut sim, &io, &ins, px.len(), FREE, &mut g, &what);
            check(&seen, &expected(&px, &th), c, &format!("{what} free"));
            assert!(
                gaps(&seen.taken).iter().all(|&d| d == 1),
                "{what}: {:?}",
                gaps(&seen.taken)
            );
            assert!(
                gaps(&seen.left).iter().all(|&d| d == 1),
                "{what}: {:?}",
                gaps(&seen.left)
            );
            assert_eq!(seen.left[0], seen.taken[0] + 1, "{what}: latency");
        }
    }

    #[test]
    fn thresh_boots_from_its_init_file() {
        let (c, in_w, tw) = (7, 6, 8);
        let mut g = SplitMix64::new(77);
        let th = thresholds(&mut g, c, in_w, tw);
        let dir = tempfile::tempdir().expect("temp dir");
        let hex = dir.path().join("t.hex");
        let w = word(&th, tw);
        let line: String = w.iter().rev().map(|x| format!("{x:08x}")).collect();
        std::fs::write(&hex, format!("{line}\n")).expect("write hex");
        let mut p = params(c, in_w, tw);
        p.push(format!("-GT_INIT=\"{}\"", hex.display()));
        let d = design("hdlgen_thresh", &[CFGMEM, THRESH]);
        let mut sim = instance(&d, &p, "thresh init");
        let io = Io::new(&sim, &["out_data"]);
        io.reset(&mut sim);
        let px = pixels(&mut g, &th, in_w, 100);
        let ins: Vec<Vec<u32>> = px.iter().map(|p| pack(p, in_w)).collect();
        let seen = stream(
            &mut sim,
            &io,
            &ins,
            px.len(),
            FLOWS[0],
            &mut g,
            "thresh init",
        );
        check(&seen, &expected(&px, &th), c, "thresh init");
    }

    #[test]
    fn thresh_is_lint_clean() {
        let d = design("hdlgen_thresh", &[CFGMEM, THRESH]);
        for c in [1, 7, 40] {
            for (in_w, tw) in [(1, 1), (2, 4), (8, 8), (10, 5), (5, 12)] {
                for (aw, lw) in [(1, 1), (3, 6)] {
                    let p = [
                        format!("-GC={c}"),
                        format!("-GIN_W={in_w}"),
                        format!("-GTW={tw}"),
                        format!("-GCFG_AW={aw}"),
                        format!("-GCFG_LW={lw}"),
                    ];
                    lint_clean(&d, &p, &format!("{p:?}"));
                }
            }
        }
    }
}

// ------------------------------------------------------------------ hdlgen_argmax

mod argmax {
    use super::*;

    /// (CLS, IN_W)
    const CASES: &[(usize, usize)] = &[(1, 9), (2, 2), (10, 14), (10, 2), (3, 1)];
    const CFG_LW: usize = 2;

    fn pw(cls: usize) -> usize {
        if cls > 1 {
            (usize::BITS - (cls - 1).leading_zeros()) as usize
        } else {
            1
        }
    }

    /// The documented steady-state interval (cycles per input beat).
    fn interval(cls: usize, in_w: usize) -> u64 {
        (cls * in_w.max(2)) as u64
    }

    fn params(cls: usize, in_w: usize) -> Vec<String> {
        vec![
            format!("-GCLS={cls}"),
            format!("-GIN_W={in_w}"),
            format!("-GSW={}", in_w + 33),
            format!("-GCFG_AW={}", pw(cls) + 1),
            format!("-GCFG_LW={CFG_LW}"),
        ]
    }

    const EXTREMES: [i64; 6] = [
        i32::MIN as i64,
        i32::MAX as i64,
        0,
        1,
        -1,
        i32::MIN as i64 + 1,
    ];

    fn full(g: &mut SplitMix64) -> i64 {
        if g.next().is_multiple_of(3) {
            EXTREMES[(g.next() % EXTREMES.len() as u64) as usize]
        } else {
            g.uniform(i32::MIN as i64, i32::MAX as i64)
        }
    }

    /// Scale/bias sets: 0 random over the full range with extremes; 1 a few shared
    /// pairs (ties when accumulators are equal); 2 all scales 0 and equal biases (every
    /// class ties); 3 random again.
    fn params_set(g: &mut SplitMix64, cls: usize, set: usize) -> Vec<(i64, i64)> {
        let pool: Vec<(i64, i64)> = (0..2).map(|_| (full(g), full(g))).collect();
        let b = full(g);
        (0..cls)
            .map(|_| match set {
                1 => pool[(g.next() % 2) as usize],
                2 => (0, b),
                _ => (full(g), full(g)),
            })
            .collect()
    }

    fn load(sim: &mut Instance, clk: PortHandle, sb: &[(i64, i64)], g: &mut SplitMix64) {
        let cls = sb.len();
        for (c, &(m, b)) in sb.iter().enumerate() {
            cfg_write(sim, clk, (c as u64, 0), m as u32);
            cfg_write(sim, clk, (c as u64, 1), b as u32);
            // Ignored: lanes 2 and 3, words past CLS (including c + 2^PW, an alias of c
            // if the high word bit were dropped).
            cfg_write(sim, clk, (c as u64, 2 + (g.next() & 1)), g.next() as u32);
            let past = (cls as u64 + g.next() % ((2u64 << pw(cls)) - cls as u64))
                .max(c as u64 + (1 << pw(cls)));
            cfg_write(sim, clk, (past, g.next() & 1), g.next() as u32);
        }
    }

    /// Accumulator beats: in range with extremes; every third beat has all classes
    /// equal (ties under shared scale/bias).
    fn beats(g: &mut SplitMix64, cls: usize, in_w: usize, n: usize) -> Vec<Vec<i64>> {
        let (lo, hi) = range(in_w);
        (0..n)
            .map(|j| {
                let same = value(g, lo, hi);
                (0..cls)
                    .map(|_| if j % 3 == 0 { same } else { value(g, lo, hi) })
                    .collect()
            })
            .collect()
    }

    fn pack(acc: &[i64], in_w: usize) -> Vec<u32> {
        let mut w = words(acc.len() * in_w);
        for (c, &v) in acc.iter().enumerate() {
            put(&mut w, c * in_w, in_w, v);
        }
        w
    }

    /// The reference: per beat, per class c in order: (score, last, argmax of 0..=c with
    /// ties to the lowest index).
    fn expected(bs: &[Vec<i64>], sb: &[(i64, i64)], sw: usize) -> Vec<(i128, bool, usize)> {
        let mut out = vec![];
        for acc in bs {
            let mut best: Option<(i128, usize)> = None;
            for (c, (&a, &(m, b))) in acc.iter().zip(sb).enumerate() {
                let s = a as i128 * m as i128 + b as i128;
                assert!(
                    s.unsigned_abs() < 1u128 << (sw - 1),
                    "score {s} must fit SW = {sw}"
                );
                if best.is_none_or(|(v, _)| s > v) {
                    best = Some((s, c));
                }
                out.push((s, c == sb.len() - 1, best.unwrap().1));
            }
        }
        out
    }

    fn check(seen: &Seen, want: &[(i128, bool, usize)], sw: usize, cls: usize, what: &str) {
        assert_eq!(seen.beats.len(), want.len(), "{what}");
        for (n, (got, &(s, last, pred))) in seen.beats.iter().zip(want).enumerate() {
            let score = get_signed(&got[0], 0, sw);
            let (beat, c) = (n / cls, n % cls);
            assert_eq!(score as i128, s, "{what}: beat {beat} class {c}: score");
            assert_eq!(got[1][0] == 1, last, "{what}: beat {beat} class {c}: last");
            assert_eq!(
                got[2][0] as usize, pred,
                "{what}: beat {beat} class {c}: pred"
            );
        }
    }

    #[test]
    fn argmax_scores_and_prediction_under_back_pressure_and_reloads() {
        let d = design("hdlgen_argmax", &[CFGMEM, ARGMAX]);
        for &(cls, in_w) in CASES {
            let sw = in_w + 33;
            let what = format!("argmax CLS={cls} IN_W={in_w}");
            let mut sim = instance(&d, &params(cls, in_w), &what);
            let io = Io::new(&sim, &["out_score", "out_last", "out_pred"]);
            let mut g = SplitMix64::new((cls * 100 + in_w) as u64);
            io.reset(&mut sim);
            for (set, &flow) in FLOWS.iter().enumerate() {
                let sb = params_set(&mut g, cls, set);
                load(&mut sim, io.clk, &sb, &mut g);
                for run in 0..2 {
                    let bs = beats(&mut g, cls, in_w, 40);
                    let ins: Vec<Vec<u32>> = bs.iter().map(|a| pack(a, in_w)).collect();
                    let want = expected(&bs, &sb, sw);
                    let seen = stream(&mut sim, &io, &ins, want.len(), flow, &mut g, &what);
                    check(
                        &seen,
                        &want,
                        sw,
                        cls,
                        &format!("{what} set {set} run {run} {flow:?}"),
                    );
                    io.reset(&mut sim);
                }
            }
            // Free flow: exactly `interval` cycles per beat, in and out; the first score
            // IN_W + 6 cycles after its beat was taken.
            let sb = params_set(&mut g, cls, 0);
            load(&mut sim, io.clk, &sb, &mut g);
            let bs = beats(&mut g, cls, in_w, 30);
            let ins: Vec<Vec<u32>> = bs.iter().map(|a| pack(a, in_w)).collect();
            let want = expected(&bs, &sb, sw);
            let seen = stream(&mut sim, &io, &ins, want.len(), FREE, &mut g, &what);
            check(&seen, &want, sw, cls, &format!("{what} free"));
            let iv = interval(cls, in_w);
            // Beat 1 is taken as soon as beat 0's last class has started, every later
            // beat exactly `interval` after the previous; the last-class beats leave
            // exactly `interval` apart.
            let taken = gaps(&seen.taken);
            let first = ((cls - 1) * in_w.max(2) + 2) as u64;
            assert_eq!(taken[0], first, "{what}: input gaps {taken:?}");
            assert!(
                taken[1..].iter().all(|&d| d == iv),
                "{what}: input gaps {taken:?}, want {iv}"
            );
            let lasts: Vec<u64> = seen
                .left
                .iter()
                .skip(cls - 1)
                .step_by(cls)
                .copied()
                .collect();
            let out = gaps(&lasts);
            assert!(
                out.iter().all(|&d| d == iv),
                "{what}: last-beat gaps {out:?}, want {iv}"
            );
            assert_eq!(
                seen.left[0],
                seen.taken[0] + in_w as u64 + 6,
                "{what}: latency"
            );
        }
    }

    #[test]
    fn argmax_boots_from_its_init_file() {
        let (cls, in_w) = (5, 6);
        let mut g = SplitMix64::new(5);
        let sb = params_set(&mut g, cls, 0);
        let dir = tempfile::tempdir().expect("temp dir");
        let hex = dir.path().join("s.hex");
        let text: String = sb
            .iter()
            .map(|&(m, b)| format!("{:08x}{:08x}\n", b as u32, m as u32))
            .collect();
        std::fs::write(&hex, text).expect("write hex");
        let mut p = params(cls, in_w);
        p.push(format!("-GS_INIT=\"{}\"", hex.display()));
        let d = design("hdlgen_argmax", &[CFGMEM, ARGMAX]);
        let mut sim = instance(&d, &p, "argmax init");
        let io = Io::new(&sim, &["out_score", "out_last", "out_pred"]);
        io.reset(&mut sim);
        let bs = beats(&mut g, cls, in_w, 30);
        let ins: Vec<Vec<u32>> = bs.iter().map(|a| pack(a, in_w)).collect();
        let want = expected(&bs, &sb, in_w + 33);
        let seen = stream(
            &mut sim,
            &io,
            &ins,
            want.len(),
            FLOWS[0],
            &mut g,
            "argmax init",
        );
        check(&seen, &want, in_w + 33, cls, "argmax init");
    }

    /// `hdlgen_argmax_plain`: the scores are the accumulators (scale 1, bias 0),
    /// sign-extended to SW; the same reference with unit scale/bias pairs.
    #[test]
    fn argmax_plain_scores_and_prediction_under_back_pressure_one_class_a_cycle() {
        let d = design("hdlgen_argmax_plain", &[ARGMAX_PLAIN]);
        for &(cls, in_w) in CASES {
            for sw in [in_w, in_w + 5] {
                let what = format!("argmax_plain CLS={cls} IN_W={in_w} SW={sw}");
                let p = vec![
                    format!("-GCLS={cls}"),
                    format!("-GIN_W={in_w}"),
                    format!("-GSW={sw}"),
                ];
                let mut sim = instance(&d, &p, &what);
                let io = Io::new(&sim, &["out_score", "out_last", "out_pred"]);
                let mut g = SplitMix64::new((cls * 100 + in_w + sw) as u64);
                let unit = vec![(1, 0); cls];
                io.reset(&mut sim);
                for (r, &flow) in FLOWS.iter().enumerate() {
                    let bs = beats(&mut g, cls, in_w, 40);
                    let ins: Vec<Vec<u32>> = bs.iter().map(|a| pack(a, in_w)).collect();
                    let want = expected(&bs, &unit, sw + 1);
                    let seen = stream(&mut sim, &io, &ins, want.len(), flow, &mut g, &what);
                    check(&seen, &want, sw, cls, &format!("{what} run {r} {flow:?}"));
                    if r == 1 {
                        io.reset(&mut sim);
                    }
                }
                // Free flow: a beat every CLS + 1 cycles, class 0 two cycles after its
                // beat was taken, the classes one a cycle.
                let bs = beats(&mut g, cls, in_w, 20);
                let ins: Vec<Vec<u32>> = bs.iter().map(|a| pack(a, in_w)).collect();
                let want = expected(&bs, &unit, sw + 1);
                let seen = stream(&mut sim, &io, &ins, want.len(), FREE, &mut g, &what);
                check(&seen, &want, sw, cls, &format!("{what} free"));
                let taken = gaps(&seen.taken);
                assert!(
                    taken.iter().all(|&d| d == cls as u64 + 1),
                    "{what}: input gaps {taken:?}"
                );
                assert_eq!(seen.left[0], seen.taken[0] + 2, "{what}: latency");
                assert!(
                    gaps(&seen.left[..cls]).iter().all(|&d| d == 1),
                    "{what}: classes {:?}",
                    &seen.left[..cls]
                );
            }
        }
    }

    #[test]
    fn argmax_plain_is_lint_clean() {
        let d = design("hdlgen_argmax_plain", &[ARGMAX_PLAIN]);
        for cls in [1, 2, 3, 10, 16] {
            for in_w in [1, 2, 9, 14, 32] {
                for sw in [in_w, in_w + 1, in_w + 20] {
                    let p = [
                        format!("-GCLS={cls}"),
                        format!("-GIN_W={in_w}"),
                        format!("-GSW={sw}"),
                    ];
                    lint_clean(&d, &p, &format!("{p:?}"));
                }
            }
        }
    }

    #[test]
    fn argmax_is_lint_clean() {
        let d = design("hdlgen_argmax", &[CFGMEM, ARGMAX]);
        for cls in [1, 2, 3, 10, 16] {
            for in_w in [1, 2, 9, 14, 32] {
                for (sw, aw, lw) in [(in_w + 33, 1, 1), (in_w + 33, 6, 3), (24, 4, 1), (4, 2, 1)] {
                    let p = [
                        format!("-GCLS={cls}"),
                        format!("-GIN_W={in_w}"),
                        format!("-GSW={sw}"),
                        format!("-GCFG_AW={aw}"),
                        format!("-GCFG_LW={lw}"),
                    ];
                    lint_clean(&d, &p, &format!("{p:?}"));
                }
            }
        }
    }
}
