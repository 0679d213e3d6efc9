//! `hdlgen_xseq` (the layer-sequential engine's sequencer on `hdlgen_xcore`) in
//! Verilator against the independent naive reference (`hdlgen_tests::naive`): binary
//! convolutions with zero, one and no padding, thresholds in both directions, fused 2×2
//! max-pooling (floor on odd maps), a dense layer after flatten as a whole-map
//! convolution whose sums leave the engine, and the MNIST chain conv2 → conv3 → fc run
//! layer after layer through the banks. Every map word written is decoded from its bank
//! and address here (not with `rtl::xseq::MapLayout`), checked, and must be written once;
//! `done` comes exactly `xseq_cycles` after `start`. `hdlgen_xfront` (the first layer:
//! integer conv, threshold, pool into the banks) against the same reference under
//! write back-pressure and input gaps.

use hdlgen::arith::SplitMix64;
use hdlgen::rtl::lib::{POPCOUNT, XCORE, XSEQ};
use hdlgen::rtl::xseq::{xseq_cycles, Desc, MapLayout};
use hdlgen_sim::{build, lint, BuildOptions, Design, Instance, PortHandle};
use hdlgen_tests::naive::{self, BinPad, Dims};
use std::collections::HashMap;

const TB: &str = r#"
`default_nettype none
module xseq_tb #(
    parameter integer PE = 2, parameter integer SIMD = 32, parameter integer AW = 13,
    parameter integer TW = 13, parameter integer REG_EVERY = 2, parameter integer BA = 8,
    parameter integer WA = 12, parameter integer TA = 7, parameter integer DW = 8
) (
    input wire clk, input wire rst, input wire start, output wire busy, output wire done,
    input wire [DW-1:0] d_ih, input wire [DW-1:0] d_iw, input wire [DW-1:0] d_ich,
    input wire [BA-1:0] d_irs,
    input wire [2:0] d_k, input wire [2:0] d_p, input wire d_pone,
    input wire [2*BA-1:0] d_row0, input wire [2*BA-1:0] d_col0,
    input wire [DW-1:0] d_oh, input wire [DW-1:0] d_ow, input wire [DW-1:0] d_ng,
    input wire d_pool, input wire [DW-1:0] d_och, input wire [BA-1:0] d_ors,
    input wire [BA-1:0] d_obase, input wire d_final,
    input wire [WA-1:0] d_wbase, input wire [TA-1:0] d_tbase,
    input wire wl_we, input wire [WA-1:0] wl_addr, input wire [PE*SIMD-1:0] wl_data,
    input wire tl_we, input wire [TA-1:0] tl_addr, input wire [PE*(TW+1)-1:0] tl_data,
    input wire ext_we, input wire [1:0] ext_bank, input wire [BA-1:0] ext_addr,
    input wire [SIMD-1:0] ext_data, output wire ext_ready,
    output wire tap_valid, output wire [3:0] tap_banks, output wire [BA-1:0] tap_addr,
    output wire [4*SIMD-1:0] tap_data,
    output wire acc_valid, output wire [4*PE*AW-1:0] acc_data, output wire [DW-1:0] acc_group
);
    reg [PE*SIMD-1:0] wmem [0:(1<<WA)-1];
    reg [PE*SIMD-1:0] wq;
    reg [PE*(TW+1)-1:0] tmem [0:(1<<TA)-1];
    reg [PE*(TW+1)-1:0] tq;
    wire [WA-1:0] w_addr;
    wire [TA-1:0] t_addr;
    always @(posedge clk) begin
        if (wl_we) wmem[wl_addr] <= wl_data;
        wq <= wmem[w_addr];
        if (tl_we) tmem[tl_addr] <= tl_data;
        tq <= tmem[t_addr];
    end
    hdlgen_xseq #(.PE(PE), .SIMD(SIMD), .AW(AW), .TW(TW), .REG_EVERY(REG_EVERY), .BA(BA),
                  .WA(WA), .TA(TA), .DW(DW)) u_seq (
        .clk(clk), .rst(rst), .start(start), .busy(busy), .done(done),
        .d_ih(d_ih), .d_iw(d_iw), .d_ich(d_ich), .d_irs(d_irs),
        .d_k(d_k), .d_p(d_p), .d_pone(d_pone), .d_row0(d_row0), .d_col0(d_col0),
        .d_oh(d_oh), .d_ow(d_ow), .d_ng(d_ng), .d_pool(d_pool), .d_och(d_och),
        .d_ors(d_ors), .d_obase(d_obase), .d_final(d_final), .d_wbase(d_wbase),
        .d_tbase(d_tbase), .w_addr(w_addr), .w_data(wq), .t_addr(t_addr), .t_data(tq),
        .ext_we(ext_we), .ext_bank(ext_bank), .ext_addr(ext_addr), .ext_data(ext_data),
        .ext_ready(ext_ready), .tap_valid(tap_valid), .tap_banks(tap_banks),
        .tap_addr(tap_addr), .tap_data(tap_data), .acc_valid(acc_valid),
        .acc_data(acc_data), .acc_group(acc_group));
endmodule
`default_nettype wire
"#;

const AW: usize = 13;
const TW: usize = 13;
const BA: u32 = 8;

fn design() -> Design {
    Design::new("xseq_tb")
        .text(POPCOUNT.0, POPCOUNT.1)
        .text(XCORE.0, XCORE.1)
        .text(XSEQ.0, XSEQ.1)
        .text("xseq_tb.v", TB)
}

fn params(pe: usize, simd: usize, r: usize) -> Vec<String> {
    vec![
        format!("-GPE={pe}"),
        format!("-GSIMD={simd}"),
        format!("-GAW={AW}"),
        format!("-GTW={TW}"),
        format!("-GREG_EVERY={r}"),
        format!("-GBA={BA}"),
    ]
}

/// Sets `n` bits at `lo` of a word vector.
fn put(w: &mut [u32], lo: usize, n: usize, v: i64) {
    for i in 0..n {
        if (v >> i) & 1 == 1 {
            w[(lo + i) / 32] |= 1 << ((lo + i) % 32);
        }
    }
}

fn bit(w: &[u32], i: usize) -> bool {
    (w[i / 32] >> (i % 32)) & 1 == 1
}

fn field(w: &[u32], lo: usize, n: usize) -> i64 {
    let u = (0..n).fold(0u64, |a, i| a | (u64::from(bit(w, lo + i)) << i));
    ((u << (64 - n)) as i64) >> (64 - n)
}

fn pm1(g: &mut SplitMix64, n: usize, density: u64) -> Vec<i64> {
    (0..n)
        .map(|_| if g.next() % 8 < density { 1 } else { -1 })
        .collect()
}

struct Tb {
    sim: Instance,
    port: HashMap<&'static str, PortHandle>,
    pe: usize,
    simd: usize,
}

const PORTS: &[&str] = &[
    "clk",
    "rst",
    "start",
    "busy",
    "done",
    "d_ih",
    "d_iw",
    "d_ich",
    "d_irs",
    "d_k",
    "d_p",
    "d_pone",
    "d_row0",
    "d_col0",
    "d_oh",
    "d_ow",
    "d_ng",
    "d_pool",
    "d_och",
    "d_ors",
    "d_obase",
    "d_final",
    "d_wbase",
    "d_tbase",
    "wl_we",
    "wl_addr",
    "wl_data",
    "tl_we",
    "tl_addr",
    "tl_data",
    "ext_we",
    "ext_bank",
    "ext_addr",
    "ext_data",
    "ext_ready",
    "tap_valid",
    "tap_banks",
    "tap_addr",
    "tap_data",
    "acc_valid",
    "acc_data",
    "acc_group",
];

/// What one layer run produced: written words by (bank, address), sums by group.
struct Out {
    words: HashMap<(usize, usize), Vec<u32>>,
    sums: HashMap<usize, Vec<i64>>,
    cycles: u64,
}

impl Tb {
    fn new(pe: usize, simd: usize, r: usize) -> Tb {
        let what = format!("xseq PE={pe} SIMD={simd}");
        let opts = BuildOptions {
            verilator_args: params(pe, simd, r),
            ..BuildOptions::default()
        };
        let model = build(&design(), &opts).unwrap_or_else(|e| panic!("{what}: {e}"));
        let sim = model.instance().expect("instance");
        let port = PORTS
            .iter()
            .map(|&n| (n, sim.port(n).unwrap_or_else(|e| panic!("{e}"))))
            .collect();
        let mut tb = Tb {
            sim,
            port,
            pe,
            simd,
        };
        for n in ["rst", "start", "wl_we", "tl_we", "ext_we"] {
            tb.set(n, 0);
        }
        tb.set("rst", 1);
        tb.tick();
        tb.set("rst", 0);
        tb
    }

    fn set(&mut self, n: &str, v: u64) {
        self.sim.set(self.port[n], v);
    }

    fn set_wide(&mut self, n: &str, w: &[u32]) {
        self.sim.set_wide(self.port[n], w);
    }

    fn get(&self, n: &str) -> u64 {
        self.sim.get(self.port[n])
    }

    fn tick(&mut self) {
        let clk = self.port["clk"];
        self.sim.tick(clk);
    }

    /// Writes a ±1 map (HWC) into the banks through the external port, laid out here
    /// independently of `MapLayout`.
    fn load_map(&mut self, x: &[i64], d: Dims, base: usize) {
        let ch = d.c / self.simd;
        let rs = d.w.div_ceil(2) * ch;
        for y in 0..d.h {
            for xx in 0..d.w {
                for k in 0..ch {
                    let mut w = vec![0u32; self.simd.div_ceil(32)];
                    for i in 0..self.simd {
                        if x[d.at(y, xx, k * self.simd + i)] > 0 {
                            w[i / 32] |= 1 << (i % 32);
                        }
                    }
                    self.set("ext_we", 1);
                    self.set("ext_bank", ((y % 2) * 2 + xx % 2) as u64);
                    self.set("ext_addr", (base + (y / 2) * rs + (xx / 2) * ch + k) as u64);
                    self.set_wide("ext_data", &w);
                    self.sim.eval();
                    assert_eq!(self.get("ext_ready"), 1, "ext_ready low while idle");
                    self.tick();
                }
            }
        }
        self.set("ext_we", 0);
    }

    /// Weights `(cout, k, k, cin)` as words of group g, tap, chunk from `wbase`.
    fn load_weights(&mut self, w: &[i64], cout: usize, k: usize, cin: usize, wbase: usize) {
        let (pe, simd) = (self.pe, self.simd);
        let ich = cin / simd;
        for g in 0..cout / pe {
            for t in 0..k * k {
                for c in 0..ich {
                    let mut word = vec![0u32; (pe * simd).div_ceil(32)];
                    for p in 0..pe {
                        for i in 0..simd {
                            let idx = ((g * pe + p) * k * k + t) * cin + c * simd + i;
                            if w[idx] >= 0 {
                                word[(p * simd + i) / 32] |= 1 << ((p * simd + i) % 32);
                            }
                        }
                    }
                    self.set("wl_we", 1);
                    self.set("wl_addr", (wbase + (g * k * k + t) * ich + c) as u64);
                    self.set_wide("wl_data", &word);
                    self.tick();
                }
            }
        }
        self.set("wl_we", 0);
    }

    /// Thresholds per output channel, `ge` or `le`, as {flip, t'} fields.
    fn load_thresholds(&mut self, t: &[i64], ge: &[bool], tbase: usize) {
        let fields: Vec<Vec<(i64, bool)>> = (0..t.len())
            .map(|c| {
                if ge[c] {
                    (t[c], false)
                } else {
                    (t[c] + 1, true)
                }
            })
            .collect::<Vec<_>>()
            .chunks(self.pe)
            .map(<[_]>::to_vec)
            .collect();
        self.load_threshold_words(&fields, tbase);
    }

    /// Threshold words from `tbase`, each PE (t, flip) fields of TW + 1 bits.
    fn load_threshold_words(&mut self, words: &[Vec<(i64, bool)>], tbase: usize) {
        for (g, fields) in words.iter().enumerate() {
            let mut word = vec![0u32; (self.pe * (TW + 1)).div_ceil(32)];
            for (q, &(t, flip)) in fields.iter().enumerate() {
                assert!(t.abs() < 1 << (TW - 1), "threshold {t} fits TW");
                put(&mut word, q * (TW + 1), TW, t);
                put(&mut word, q * (TW + 1) + TW, 1, flip as i64);
            }
            self.set("tl_we", 1);
            self.set("tl_addr", (tbase + g) as u64);
            self.set_wide("tl_data", &word);
            self.tick();
        }
        self.set("tl_we", 0);
    }

    /// Runs one layer: descriptor on the ports, a start pulse, until done.
    fn run(&mut self, d: &Desc, what: &str) -> Out {
        self.start(d);
        let mut out = Out {
            words: HashMap::new(),
            sums: HashMap::new(),
            cycles: 0,
        };
        let limit = 2 * d.beats() as u64 + 200;
        loop {
            out.cycles += 1;
            assert!(out.cycles < limit, "{what}: no done");
            self.sim.eval();
            let done = self.get("done") == 1;
            assert_eq!(
                self.get("busy"),
                !done as u64,
                "{what}: busy, cycle {}",
                out.cycles
            );
            if self.get("tap_valid") == 1 {
                let banks = self.get("tap_banks");
                let addr = self.get("tap_addr") as usize;
                let data = self.sim.get_words(self.port["tap_data"]);
                for b in 0..4 {
                    if banks >> b & 1 == 1 {
                        let w: Vec<u32> = (0..self.simd.div_ceil(32))
                            .map(|j| {
                                let lo = b * self.simd + 32 * j;
                                let n = (self.simd - 32 * j).min(32);
                                (0..n).fold(0u32, |a, i| a | (u32::from(bit(&data, lo + i)) << i))
                            })
                            .collect();
                        let prev = out.words.insert((b, addr), w);
                        assert!(prev.is_none(), "{what}: bank {b} word {addr} written twice");
                    }
                }
            }
            if self.get("acc_valid") == 1 {
                let g = self.get("acc_group") as usize;
                let a = self.sim.get_words(self.port["acc_data"]);
                let s = (0..4 * self.pe).map(|k| field(&a, k * AW, AW)).collect();
                assert!(out.sums.insert(g, s).is_none(), "{what}: group {g} twice");
            }
            self.tick();
            if let Some(e) = self.sim.error() {
                panic!(
                    "{what}: the simulation stopped at cycle {}: {e}",
                    out.cycles
                );
            }
            if done {
                break;
            }
        }
        out
    }

    /// Puts a layer's descriptor on the ports and, a cycle later, pulses `start`.
    fn start(&mut self, d: &Desc) {
        let i = d.input;
        let o = d.output.unwrap_or(MapLayout {
            h: 0,
            w: 0,
            ch: 0,
            base: 0,
        });
        let row0 = d.row0(BA);
        let col0 = d.col0(BA);
        for (n, v) in [
            ("d_ih", i.h),
            ("d_iw", i.w),
            ("d_ich", i.ch),
            ("d_irs", i.rs()),
            ("d_k", d.k),
            ("d_p", d.p),
            ("d_pone", d.pad_one as usize),
            ("d_oh", d.oh),
            ("d_ow", d.ow),
            ("d_ng", d.groups),
            ("d_pool", d.pool as usize),
            ("d_och", o.ch),
            ("d_ors", o.rs()),
            ("d_obase", o.base),
            ("d_final", d.output.is_none() as usize),
            ("d_wbase", d.wbase),
            ("d_tbase", d.tbase),
        ] {
            self.set(n, v as u64);
        }
        self.set("d_row0", row0[0] | row0[1] << BA);
        self.set("d_col0", col0[0] | col0[1] << BA);
        self.tick(); // the descriptor stands a cycle before `start`
        self.set("start", 1);
        self.tick();
        self.set("start", 0);
    }
}

/// Checks a written map against ±1 values (HWC), decoding banks and addresses here.
fn check_map(out: &Out, want: &[i64], d: Dims, base: usize, simd: usize, what: &str) {
    let ch = d.c / simd;
    let rs = d.w.div_ceil(2) * ch;
    let mut seen = 0;
    for y in 0..d.h {
        for x in 0..d.w {
            for k in 0..ch {
                let key = ((y % 2) * 2 + x % 2, base + (y / 2) * rs + (x / 2) * ch + k);
                let w = out.words.get(&key).unwrap_or_else(|| {
                    panic!(
                        "{what}: pixel ({y}, {x}) word {k} not written; written {:?}",
                        out.words.keys().collect::<Vec<_>>()
                    )
                });
                for i in 0..simd {
                    let c = k * simd + i;
                    assert_eq!(
                        bit(w, i),
                        want[d.at(y, x, c)] > 0,
                        "{what}: pixel ({y}, {x}) channel {c}"
                    );
                }
                seen += 1;
            }
        }
    }
    assert_eq!(
        out.words.len(),
        seen,
        "{what}: words written outside the map"
    );
}

/// One binary conv layer case.
#[derive(Clone, Copy, Debug)]
struct Conv {
    h: usize,
    w: usize,
    cin: usize,
    cout: usize,
    k: usize,
    pad: BinPad,
    pool: bool,
    /// Dense after flatten: the whole-map convolution whose sums leave.
    dense: bool,
}

/// The naive reference of a case: the sums (HWC) and, for a written map, its ±1 values
/// and dims after threshold (and pool).
struct Want {
    sums: Vec<i64>,
    sd: Dims,
    map: Vec<i64>,
    md: Dims,
}

fn reference(c: &Conv, x: &[i64], w: &[i64], t: &[i64], ge: &[bool]) -> Want {
    let inp = Dims::map(c.h, c.w, c.cin);
    if c.dense {
        let sums = naive::binary_dense(x, false, w, c.cout);
        let sd = Dims::vec(c.cout);
        return Want {
            sums,
            sd,
            map: vec![],
            md: sd,
        };
    }
    let (sums, sd) = naive::binary_conv2d(x, inp, false, w, c.cout, c.k, c.k, 1, c.pad, 0);
    let th = naive::threshold(&sums, c.cout, t, ge);
    let (map, md) = if c.pool {
        naive::pool(&th, sd, (2, 2), 2, false)
    } else {
        (th, sd)
    };
    Want { sums, sd, map, md }
}

/// Runs case `c` with the input map at `ibase` and the output at `obase`; returns the
/// output map (for chaining).
#[allow(clippy::too_many_arguments)]
fn run_case(
    tb: &mut Tb,
    c: &Conv,
    x: &[i64],
    g: &mut SplitMix64,
    ibase: usize,
    obase: usize,
    reg_every: usize,
    what: &str,
) -> (Vec<i64>, Dims) {
    let (pe, simd) = (tb.pe, tb.simd);
    let density = 1 + g.next() % 7;
    let w = pm1(g, c.cout * c.k * c.k * c.cin, density);
    let span = (c.k * c.k * c.cin) as i64;
    let t: Vec<i64> = (0..c.cout)
        .map(|_| (g.next() % (span as u64 / 2 + 3)) as i64 - span / 4 - 1)
        .collect();
    let ge: Vec<bool> = (0..c.cout).map(|_| !g.next().is_multiple_of(3)).collect();
    let want = reference(c, x, &w, &t, &ge);
    let (wbase, tbase) = (16 + g.next() as usize % 64, 3 + g.next() as usize % 16);
    tb.load_weights(&w, c.cout, c.k, c.cin, wbase);
    tb.load_thresholds(&t, &ge, tbase);
    let p = match c.pad {
        BinPad::None => 0,
        _ => (c.k - 1) / 2,
    };
    let (oh, ow) = if c.dense {
        (1, 1)
    } else {
        (want.sd.h, want.sd.w)
    };
    let d = Desc {
        input: MapLayout {
            h: c.h,
            w: c.w,
            ch: c.cin / simd,
            base: ibase,
        },
        k: c.k,
        p,
        pad_one: c.pad == BinPad::One,
        oh,
        ow,
        groups: c.cout / pe,
        pool: c.pool,
        output: (!c.dense).then_some(MapLayout {
            h: want.md.h,
            w: want.md.w,
            ch: c.cout / simd,
            base: obase,
        }),
        wbase,
        tbase,
    };
    let out = tb.run(&d, what);
    assert_eq!(
        out.cycles,
        xseq_cycles(&d, simd, reg_every) as u64,
        "{what}: cycles from start to done"
    );
    if c.dense {
        assert!(out.words.is_empty(), "{what}: a dense layer wrote its map");
        assert_eq!(out.sums.len(), c.cout / pe, "{what}: groups of sums");
        for (&g, s) in &out.sums {
            for (p, &v) in s.iter().take(pe).enumerate() {
                assert_eq!(v, want.sums[g * pe + p], "{what}: unit {}", g * pe + p);
            }
        }
    } else {
        assert!(out.sums.is_empty(), "{what}: sums from a thresholded layer");
        check_map(&out, &want.map, want.md, obase, simd, what);
    }
    (want.map, want.md)
}

const fn conv(
    h: usize,
    w: usize,
    cin: usize,
    cout: usize,
    k: usize,
    pad: BinPad,
    pool: bool,
) -> Conv {
    Conv {
        h,
        w,
        cin,
        cout,
        k,
        pad,
        pool,
        dense: false,
    }
}

#[test]
fn xseq_runs_convolutions_pools_and_dense_layers_like_the_naive_reference() {
    // (PE, SIMD, REG_EVERY) and the cases: even and odd maps, zero / one / no padding,
    // pooled (with a floor), a 5×5 kernel, dense layers, several words per pixel.
    type Shape = (usize, usize, usize);
    let shapes: &[(Shape, &[Conv])] = &[
        (
            (2, 8, 2),
            &[
                conv(6, 6, 8, 16, 3, BinPad::Zero, false),
                conv(6, 6, 16, 8, 3, BinPad::One, true),
                conv(7, 7, 16, 8, 3, BinPad::None, false),
                conv(5, 5, 8, 16, 3, BinPad::Zero, true),
                conv(7, 5, 8, 8, 5, BinPad::One, false),
                conv(1, 1, 8, 8, 1, BinPad::None, false),
                Conv {
                    dense: true,
                    ..conv(3, 3, 16, 6, 3, BinPad::None, false)
                },
            ],
        ),
        (
            (4, 4, 1),
            &[
                conv(4, 6, 4, 8, 3, BinPad::Zero, true),
                conv(3, 3, 8, 4, 3, BinPad::One, false),
                Conv {
                    dense: true,
                    ..conv(3, 3, 8, 12, 0, BinPad::None, false)
                },
            ],
        ),
    ];
    for &((pe, simd, r), cases) in shapes {
        let mut tb = Tb::new(pe, simd, r);
        let mut g = SplitMix64::new((pe * 100 + simd) as u64);
        for (n, c0) in cases.iter().enumerate() {
            // A dense layer's kernel is its whole input map.
            let c = if c0.dense {
                Conv {
                    k: c0.h.max(c0.w),
                    ..*c0
                }
            } else {
                *c0
            };
            if c.dense && c.h != c.w {
                continue; // square kernels only (K×K)
            }
            let what = format!("xseq PE={pe} SIMD={simd} case {n} {c:?}");
            let density = 1 + g.next() % 7;
            let x = pm1(&mut g, c.h * c.w * c.cin, density);
            tb.load_map(&x, Dims::map(c.h, c.w, c.cin), 5);
            run_case(&mut tb, &c, &x, &mut g, 5, 90, r, &what);
        }
    }
}

#[test]
fn xseq_runs_the_mnist_chain_through_its_banks() {
    // conv2 (14×14×32 → 64, padding one, pool) → conv3 (7×7×64 → 5×5×128, no padding)
    // → fc (5×5×128 → 10) at the UP5K shape: PE 2, SIMD 32. Only the first map is loaded;
    // each later layer reads what the one before wrote.
    let (pe, simd, r) = (2, 32, 2);
    let mut tb = Tb::new(pe, simd, r);
    let mut g = SplitMix64::new(2026);
    let x = pm1(&mut g, 14 * 14 * 32, 4);
    tb.load_map(&x, Dims::map(14, 14, 32), 0);
    let c2 = conv(14, 14, 32, 64, 3, BinPad::One, true);
    let (m2, _) = run_case(&mut tb, &c2, &x, &mut g, 0, 60, r, "conv2");
    let c3 = conv(7, 7, 64, 128, 3, BinPad::None, false);
    let (m3, _) = run_case(&mut tb, &c3, &m2, &mut g, 60, 100, r, "conv3");
    let fc = Conv {
        dense: true,
        ..conv(5, 5, 128, 10, 5, BinPad::None, false)
    };
    run_case(&mut tb, &fc, &m3, &mut g, 100, 0, r, "fc");
}

#[test]
fn a_write_to_a_word_a_run_reads_stops_the_simulation() {
    // The banks are block RAMs without a read-during-write bypass (no_rw_check): a word
    // read and written in one cycle would read undefined data on the board, so the
    // simulation model stops there. The external port writes the first word of the
    // input map (bank 0) in every cycle of a run that reads it.
    let (pe, simd) = (2, 8);
    let mut tb = Tb::new(pe, simd, 2);
    let mut g = SplitMix64::new(7);
    let c = conv(4, 4, 8, 8, 3, BinPad::None, false);
    tb.load_map(&pm1(&mut g, 4 * 4 * 8, 3), Dims::map(4, 4, 8), 5);
    let d = Desc {
        input: MapLayout {
            h: c.h,
            w: c.w,
            ch: 1,
            base: 5,
        },
        k: 3,
        p: 0,
        pad_one: false,
        oh: 2,
        ow: 2,
        groups: c.cout / pe,
        pool: false,
        output: Some(MapLayout {
            h: 2,
            w: 2,
            ch: 1,
            base: 60,
        }),
        wbase: 0,
        tbase: 0,
    };
    assert!(tb.sim.error().is_none(), "no stop before the run");
    tb.start(&d);
    tb.set("ext_we", 1);
    tb.set("ext_bank", 0);
    tb.set("ext_addr", 5);
    tb.set_wide("ext_data", &[0]);
    for _ in 0..d.beats() + 20 {
        tb.tick();
        if tb.sim.error().is_some() {
            break;
        }
    }
    // Verilator prints the $fatal's text; the model's error names its line.
    let e = tb.sim.error().expect("the collision stops the simulation");
    let line: usize = e
        .strip_prefix("hdlgen_xseq.v:")
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("stopped elsewhere: {e}"));
    let src = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../hdl-gen/rtl/lib/hdlgen_xseq.v"),
    )
    .expect("source");
    let text = src.lines().skip(line - 1).take(4).collect::<String>();
    assert!(
        text.contains("is read and written in one cycle"),
        "{e}: {text}"
    );
}

#[test]
fn xseq_is_lint_clean() {
    for (pe, simd, r) in [(2, 32, 2), (2, 8, 2), (4, 4, 1), (1, 1, 1)] {
        let p = params(pe, simd, r);
        let flags: Vec<&str> = p.iter().map(String::as_str).collect();
        let warnings = lint(&design(), &flags).unwrap_or_else(|e| panic!("lint {p:?}: {e}"));
        assert!(warnings.is_empty(), "lint {p:?}: {warnings:?}");
    }
}

/// The shipped MNIST example's conv2 → conv3 → fc planned by `rtl::xseq::plan` (weights
/// and thresholds from its parameter files through `SeqPlan::weights` / `thresholds`),
/// fed the pool1 map the reference model computes for random images: every map word the
/// sequencer writes equals the model's trace (pool2, bn3), the sums equal fc's output,
/// and their argmax the model's prediction.
#[test]
fn xseq_runs_the_mnist_example_like_the_reference_model() {
    use hdlgen::input::Sample;
    use hdlgen::rtl::xseq::plan;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/mnist_bnn.yaml");
    let net = hdlgen::Network::load(std::path::Path::new(path)).expect("the MNIST example");
    let (pe, simd, r) = (2, 32, 2);
    let p = plan(&net, 3, pe, simd, BA).expect("MNIST's binary layers plan");
    assert_eq!(p.runs.len(), 3, "conv2, conv3, fc");
    assert_eq!(p.cycles(r), 25_007, "the cycle count the docs give");
    let mut tb = Tb::new(pe, simd, r);
    for (a, w) in p.weights(&net).iter().enumerate() {
        let words: Vec<u32> = w
            .iter()
            .flat_map(|&x| [x as u32, (x >> 32) as u32])
            .collect();
        tb.set("wl_we", 1);
        tb.set("wl_addr", a as u64);
        tb.set_wide("wl_data", &words[..(pe * simd).div_ceil(32)]);
        tb.tick();
    }
    tb.set("wl_we", 0);
    tb.load_threshold_words(&p.thresholds(&net), 0);
    let mut g = SplitMix64::new(7);
    for image in 0..3 {
        let px: Vec<i64> = (0..28 * 28).map(|_| (g.next() % 256) as i64).collect();
        let run = net.run(&Sample::Values(px), true);
        let trace = run.trace.expect("trace");
        // Images alternate between the first map's two regions.
        let m = p.inputs[image % 2];
        tb.load_map(&trace[2].data, Dims::map(m.h, m.w, m.ch * simd), m.base);
        for (k, s) in p.runs.iter().enumerate() {
            let what = format!("image {image} layer `{}`", net.layers[s.conv].name);
            let d = p.desc(k, image);
            let out = tb.run(&d, &what);
            assert_eq!(
                out.cycles,
                xseq_cycles(&d, simd, r) as u64,
                "{what}: cycles"
            );
            match s.desc.output {
                Some(o) => {
                    let last = s
                        .pool
                        .or(s.threshold)
                        .expect("a written map is thresholded");
                    check_map(
                        &out,
                        &trace[last].data,
                        Dims::map(o.h, o.w, o.ch * simd),
                        o.base,
                        simd,
                        &what,
                    );
                }
                None => {
                    let want = &trace[s.conv].data;
                    let sums: Vec<i64> = (0..want.len())
                        .map(|u| out.sums[&(u / pe)][u % pe])
                        .collect();
                    assert_eq!(&sums, want, "{what}: sums");
                    assert_eq!(
                        hdlgen::arith::argmax(&sums),
                        run.outcome.prediction,
                        "{what}: prediction"
                    );
                }
            }
        }
    }
}

// ------------------------------------------------------------------ hdlgen_xfront

mod front {
    use super::*;
    use hdlgen::rtl::lib::{ADDTREE, SKID, XFRONT};

    const TB: &str = r#"
`default_nettype none
module xfront_tb #(
    parameter integer H = 28, parameter integer W = 28, parameter integer K = 3,
    parameter integer P = 1, parameter integer OH = 28, parameter integer OW = 28,
    parameter integer COUT = 32, parameter integer IN_W = 8, parameter integer SIGNED = 0,
    parameter integer PAD_VAL = 0, parameter integer SIMD = 32, parameter integer BA = 8,
    parameter integer TW = 14, parameter integer OCH = 1, parameter integer ORS = 7
) (
    input wire clk, input wire rst, input wire in_valid, output wire in_ready,
    input wire [IN_W-1:0] in_data, input wire go, input wire [BA-1:0] obase,
    output wire done,
    input wire wl_we, input wire [$clog2(COUT)-1:0] wl_addr, input wire [K*K-1:0] wl_data,
    input wire [TW:0] tl_data,
    output wire o_we, output wire [1:0] o_bank, output wire [BA-1:0] o_addr,
    output wire [SIMD-1:0] o_data, input wire o_ready
);
    localparam integer OB = (COUT > 1) ? $clog2(COUT) : 1;
    reg [K*K-1:0] wmem [0:COUT-1];
    reg [TW:0] tmem [0:COUT-1];
    reg [K*K-1:0] wq;
    reg [TW:0] tq;
    wire [OB-1:0] w_addr, t_addr;
    wire w_re;
    always @(posedge clk) begin
        if (wl_we) begin
            wmem[wl_addr] <= wl_data;
            tmem[wl_addr] <= tl_data;
        end
        if (w_re) begin
            wq <= wmem[w_addr];
            tq <= tmem[t_addr];
        end
    end
    hdlgen_xfront #(.H(H), .W(W), .K(K), .P(P), .OH(OH), .OW(OW), .COUT(COUT), .IN_W(IN_W),
                    .SIGNED(SIGNED), .PAD_VAL(PAD_VAL), .SIMD(SIMD), .BA(BA), .TW(TW),
                    .OCH(OCH), .ORS(ORS)) u_front (
        .clk(clk), .rst(rst), .in_valid(in_valid), .in_ready(in_ready), .in_data(in_data),
        .go(go), .obase(obase), .done(done), .w_addr(w_addr), .w_re(w_re), .w_data(wq),
        .t_addr(t_addr), .t_data(tq), .o_we(o_we), .o_bank(o_bank), .o_addr(o_addr),
        .o_data(o_data), .o_ready(o_ready));
endmodule
`default_nettype wire
"#;

    /// (H, W, K, padding, COUT, IN_W, SIGNED, PAD_VAL, SIMD): MNIST's conv1, a signed
    /// image with a pad value and two words a pixel, a valid convolution, a 5×5 kernel.
    type Case = (usize, usize, usize, BinPad, usize, usize, bool, i64, usize);
    const CASES: &[Case] = &[
        (28, 28, 3, BinPad::Zero, 32, 8, false, 0, 32),
        (7, 6, 3, BinPad::Zero, 16, 6, true, -5, 8),
        (9, 8, 3, BinPad::None, 8, 4, false, 0, 8),
        (6, 6, 5, BinPad::Zero, 4, 3, true, 2, 4),
    ];
    const TW: usize = 16;
    const BA: usize = 8;

    fn params(c: &Case) -> (Vec<String>, (usize, usize, usize, usize, usize)) {
        let &(h, w, k, pad, cout, in_w, signed, pv, simd) = c;
        let (p, oh, ow) = match pad {
            BinPad::None => (0, h - k + 1, w - k + 1),
            _ => ((k - 1) / 2, h, w),
        };
        let (ph, pw) = (oh / 2, ow / 2);
        let och = cout / simd;
        let ors = pw.div_ceil(2) * och;
        let v = vec![
            format!("-GH={h}"),
            format!("-GW={w}"),
            format!("-GK={k}"),
            format!("-GP={p}"),
            format!("-GOH={oh}"),
            format!("-GOW={ow}"),
            format!("-GCOUT={cout}"),
            format!("-GIN_W={in_w}"),
            format!("-GSIGNED={}", signed as u8),
            format!("-GPAD_VAL={pv}"),
            format!("-GSIMD={simd}"),
            format!("-GBA={BA}"),
            format!("-GTW={TW}"),
            format!("-GOCH={och}"),
            format!("-GORS={ors}"),
        ];
        (v, (ph, pw, och, ors, p))
    }

    fn design() -> Design {
        Design::new("xfront_tb")
            .text(ADDTREE.0, ADDTREE.1)
            .text(SKID.0, SKID.1)
            .text(XFRONT.0, XFRONT.1)
            .text("xfront_tb.v", TB)
    }

    #[test]
    fn xfront_computes_conv_threshold_pool_like_the_naive_reference_under_stalls() {
        for c in CASES {
            let &(h, w, k, pad, cout, in_w, signed, pv, simd) = c;
            let what = format!("xfront {c:?}");
            let (pr, (ph, pw, _, _, _)) = params(c);
            let opts = BuildOptions {
                verilator_args: pr,
                ..BuildOptions::default()
            };
            let model = build(&design(), &opts).unwrap_or_else(|e| panic!("{what}: {e}"));
            let mut sim = model.instance().expect("instance");
            let names = [
                "clk", "rst", "in_valid", "in_ready", "in_data", "go", "obase", "done", "wl_we",
                "wl_addr", "wl_data", "tl_data", "o_we", "o_bank", "o_addr", "o_data", "o_ready",
            ];
            let port: HashMap<&str, PortHandle> = names
                .iter()
                .map(|&n| (n, sim.port(n).unwrap_or_else(|e| panic!("{e}"))))
                .collect();
            let mut g = SplitMix64::new((h * 100 + cout) as u64);
            let wts = pm1(&mut g, cout * k * k, 4);
            let span = (k * k) as i64 * (1 << in_w);
            let t: Vec<i64> = (0..cout)
                .map(|_| (g.next() % (span as u64 / 2)) as i64 - span / 8)
                .collect();
            let ge: Vec<bool> = (0..cout).map(|_| !g.next().is_multiple_of(3)).collect();
            for o in 0..cout {
                let wbits =
                    (0..k * k).fold(0u64, |a, j| a | (u64::from(wts[o * k * k + j] > 0) << j));
                let (tv, f) = if ge[o] { (t[o], 0) } else { (t[o] + 1, 1) };
                let tfield = (tv as u64 & ((1 << TW) - 1)) | (f << TW);
                sim.set(port["wl_we"], 1);
                sim.set(port["wl_addr"], o as u64);
                sim.set(port["wl_data"], wbits);
                sim.set(port["tl_data"], tfield);
                sim.tick(port["clk"]);
            }
            sim.set(port["wl_we"], 0);
            sim.set(port["rst"], 1);
            sim.tick(port["clk"]);
            sim.set(port["rst"], 0);
            let (lo, hi) = if signed {
                (-(1i64 << (in_w - 1)), (1i64 << (in_w - 1)) - 1)
            } else {
                (0, (1i64 << in_w) - 1)
            };
            for image in 0..3 {
                let px: Vec<i64> = (0..h * w).map(|_| g.uniform(lo, hi)).collect();
                let inp = Dims::map(h, w, 1);
                let (acc, sd) = naive::binary_conv2d(&px, inp, true, &wts, cout, k, k, 1, pad, pv);
                let th = naive::threshold(&acc, cout, &t, &ge);
                let (want, md) = naive::pool(&th, sd, (2, 2), 2, false);
                assert_eq!((md.h, md.w), (ph, pw));
                let obase = 3 + image * 40;
                let mut seen: HashMap<(usize, usize), Vec<u32>> = HashMap::new();
                let (mut next, mut cycles, mut done) = (0, 0u64, false);
                while !done {
                    cycles += 1;
                    assert!(cycles < 200_000, "{what}: no done");
                    let give = next < px.len() && !g.next().is_multiple_of(4);
                    sim.set(port["in_valid"], give as u64);
                    sim.set(
                        port["in_data"],
                        (px[next.min(px.len() - 1)] as u64) & ((1 << in_w) - 1),
                    );
                    sim.set(port["go"], u64::from(!g.next().is_multiple_of(3)));
                    sim.set(port["obase"], obase as u64);
                    let ready = g.next() % 10 < 7;
                    sim.set(port["o_ready"], ready as u64);
                    sim.eval();
                    if give && sim.get(port["in_ready"]) == 1 {
                        next += 1;
                    }
                    if sim.get(port["o_we"]) == 1 && ready {
                        let key = (
                            sim.get(port["o_bank"]) as usize,
                            sim.get(port["o_addr"]) as usize,
                        );
                        let data = sim.get_words(port["o_data"]);
                        assert!(seen.insert(key, data).is_none(), "{what}: {key:?} twice");
                    }
                    done = sim.get(port["done"]) == 1;
                    sim.tick(port["clk"]);
                }
                let out = Out {
                    words: seen,
                    sums: HashMap::new(),
                    cycles,
                };
                check_map(
                    &out,
                    &want,
                    md,
                    obase,
                    simd,
                    &format!("{what} image {image}"),
                );
            }
            // Free flow (pixels every cycle, go and o_ready high): an image's cycles from
            // its first pixel to done, which for MNIST's conv1 must stay below the
            // sequencer's 25,004 cycles for conv2 → fc so the two can overlap.
            let mut cycles = 0u64;
            let mut next = 0;
            loop {
                cycles += 1;
                assert!(cycles < 200_000, "{what}: no done (free flow)");
                sim.set(port["in_valid"], u64::from(next < h * w));
                sim.set(port["in_data"], 1);
                sim.set(port["go"], 1);
                sim.set(port["o_ready"], 1);
                sim.eval();
                if next < h * w && sim.get(port["in_ready"]) == 1 {
                    next += 1;
                }
                let done = sim.get(port["done"]) == 1;
                sim.tick(port["clk"]);
                if done {
                    break;
                }
            }
            eprintln!("{what}: {cycles} cycles an image, free flow");
            if (h, w, cout) == (28, 28, 32) {
                assert!(cycles < 25_007, "{what}: {cycles} cycles");
            }
        }
    }

    #[test]
    fn xfront_is_lint_clean() {
        for c in CASES {
            let (p, _) = params(c);
            let flags: Vec<&str> = p.iter().map(String::as_str).collect();
            let warnings = lint(&design(), &flags).unwrap_or_else(|e| panic!("lint {p:?}: {e}"));
            assert!(warnings.is_empty(), "lint {p:?}: {warnings:?}");
        }
    }
}
