//! The sliding-window generator primitive (`hdlgen_swg`) in Verilator against the window
//! order defined from `hdlgen::layers::geom::Window`: every beat (data, mask, last) of two
//! back-to-back images, under random input gaps and output back-pressure, plus the cycle
//! count with free-flowing streams (with the ring hdlgen sizes, the second image without a
//! bubble), and lint-clean for every parameter set.

use hdlgen::arith::SplitMix64;
use hdlgen::layers::geom::Window;
use hdlgen_sim::{build, lint, BuildOptions, Design, Instance, PortHandle};

use hdlgen::rtl::lib::SWG;

fn design() -> Design {
    Design::new("hdlgen_swg").text(SWG.0, SWG.1)
}

#[derive(Clone, Copy, Debug)]
struct Cfg {
    in_h: usize,
    in_w: usize,
    c: usize,
    dw: usize,
    k_h: usize,
    k_w: usize,
    stride: usize,
    same: bool,
    simd: usize,
    pad_value: u64,
    pad_mask: bool,
}

#[allow(clippy::too_many_arguments)]
const fn cfg(
    (in_h, in_w, c): (usize, usize, usize),
    dw: usize,
    (k_h, k_w): (usize, usize),
    stride: usize,
    same: bool,
    simd: usize,
    pad_value: u64,
    pad_mask: bool,
) -> Cfg {
    Cfg {
        in_h,
        in_w,
        c,
        dw,
        k_h,
        k_w,
        stride,
        same,
        simd,
        pad_value,
        pad_mask,
    }
}

/// Binary maps: `zero` padding is (0, mask 0), `one` padding is (1, mask 1).
const BINARY: &[Cfg] = &[
    cfg((5, 5, 4), 1, (3, 3), 1, true, 4, 0, false),
    cfg((6, 5, 8), 1, (3, 3), 2, true, 2, 1, true),
    cfg((4, 4, 3), 1, (2, 2), 1, false, 3, 0, false),
    cfg((7, 7, 2), 1, (2, 2), 2, true, 1, 0, false),
    cfg((3, 3, 2), 1, (3, 3), 1, false, 2, 0, false), // kernel = input
    cfg((8, 6, 6), 1, (1, 1), 3, false, 2, 0, false), // skipped rows and columns
    cfg((4, 9, 16), 1, (3, 1), 1, true, 8, 1, true),
];

/// Integer inputs: padded elements hold `pad_value` (two's complement bits) and count.
const INTEGER: &[Cfg] = &[
    cfg((6, 6, 3), 8, (3, 3), 1, true, 3, 0x80, true), // pad −128
    cfg((5, 7, 2), 5, (5, 5), 3, true, 1, 29, true),   // pad −3
    cfg((3, 3, 2), 5, (5, 5), 1, true, 2, 7, true),    // kernel larger than the input
    cfg((9, 4, 2), 8, (3, 3), 3, false, 1, 0, true),
    cfg((5, 5, 4), 8, (5, 5), 2, false, 4, 0, true), // kernel = input, one window
];

impl Cfg {
    fn window(&self) -> Window {
        if self.same {
            Window::same(self.in_h, self.in_w, self.k_h, self.k_w, self.stride)
        } else {
            Window::valid(self.in_h, self.in_w, self.k_h, self.k_w, self.stride)
                .expect("valid window fits")
        }
    }

    fn params(&self) -> Vec<String> {
        let w = self.window();
        vec![
            format!("-GIN_H={}", self.in_h),
            format!("-GIN_W={}", self.in_w),
            format!("-GC={}", self.c),
            format!("-GDW={}", self.dw),
            format!("-GK_H={}", self.k_h),
            format!("-GK_W={}", self.k_w),
            format!("-GSTRIDE={}", self.stride),
            format!("-GPAD_T={}", w.pad_top),
            format!("-GPAD_L={}", w.pad_left),
            format!("-GOUT_H={}", w.out_h),
            format!("-GOUT_W={}", w.out_w),
            format!("-GSIMD={}", self.simd),
            format!("-GPAD_VALUE={}'d{}", self.dw, self.pad_value),
            format!("-GPAD_MASK={}", self.pad_mask as u8),
        ]
    }

    fn name(&self) -> String {
        let w = self.window();
        format!(
            "{}x{}x{} DW={} k{}x{} s{} {} pad(t{} l{}) out {}x{} SIMD={} pad={}/{}",
            self.in_h,
            self.in_w,
            self.c,
            self.dw,
            self.k_h,
            self.k_w,
            self.stride,
            if self.same { "same" } else { "valid" },
            w.pad_top,
            w.pad_left,
            w.out_h,
            w.out_w,
            self.simd,
            self.pad_value,
            self.pad_mask as u8
        )
    }
}

use hdlgen_tests::wide::pack;

/// One expected output beat and where it comes from.
#[derive(Clone, Debug, PartialEq)]
struct Beat {
    data: Vec<u32>,
    mask: u64,
    last: bool,
}

struct Place {
    image: usize,
    oy: usize,
    ox: usize,
    ky: usize,
    kx: usize,
    chunk: usize,
}

/// Images as pixels of `C` elements; expected beats straight from the definition.
fn expected(cfg: &Cfg, images: &[Vec<Vec<u64>>]) -> (Vec<Beat>, Vec<Place>) {
    let w = cfg.window();
    let chunks = cfg.c / cfg.simd;
    let (mut beats, mut places) = (vec![], vec![]);
    for (image, px) in images.iter().enumerate() {
        for oy in 0..w.out_h {
            for ox in 0..w.out_w {
                for ky in 0..cfg.k_h {
                    for kx in 0..cfg.k_w {
                        for chunk in 0..chunks {
                            let lanes = chunk * cfg.simd..(chunk + 1) * cfg.simd;
                            let (vals, mask) = match (w.in_y(oy, ky), w.in_x(ox, kx)) {
                                (Some(iy), Some(ix)) => (
                                    px[iy * cfg.in_w + ix][lanes].to_vec(),
                                    (1u64 << cfg.simd) - 1,
                                ),
                                _ => (
                                    vec![cfg.pad_value; cfg.simd],
                                    if cfg.pad_mask {
                                        (1u64 << cfg.simd) - 1
                                    } else {
                                        0
                                    },
                                ),
                            };
                            beats.push(Beat {
                                data: pack(&vals, cfg.dw),
                                mask,
                                last: ky == cfg.k_h - 1 && kx == cfg.k_w - 1 && chunk == chunks - 1,
                            });
                            places.push(Place {
                                image,
                                oy,
                                ox,
                                ky,
                                kx,
                                chunk,
                            });
                        }
                    }
                }
            }
        }
    }
    (beats, places)
}

struct Ports {
    clk: PortHandle,
    rst: PortHandle,
    iv: PortHandle,
    ir: PortHandle,
    id: PortHandle,
    ov: PortHandle,
    or: PortHandle,
    od: PortHandle,
    om: PortHandle,
    ol: PortHandle,
}

/// Streams `images` through; `stalls` randomises in_valid and out_ready. Returns the
/// cycles from the first accepted input beat to the last output beat (inclusive).
fn run(
    cfg: &Cfg,
    sim: &mut Instance,
    p: &Ports,
    images: &[Vec<Vec<u64>>],
    stalls: bool,
    g: &mut SplitMix64,
) -> u64 {
    let name = cfg.name();
    let (want, places) = expected(cfg, images);
    let pixels: Vec<Vec<u32>> = images.iter().flatten().map(|px| pack(px, cfg.dw)).collect();
    sim.set(p.iv, 0);
    sim.set(p.or, 0);
    sim.set(p.rst, 1);
    sim.tick(p.clk);
    sim.set(p.rst, 0);
    let mut next = 0;
    let mut got = 0;
    let (mut cycle, mut first_in, mut last_out) = (0u64, None, 0u64);
    let mut held: Option<Beat> = None;
    let limit = 50 * (want.len() + pixels.len()) as u64 + 1000;
    // Input/output duty cycles vary per run: each side either sparse (on 1 in n cycles)
    // or dense (off 1 in n), n in 2..=5.
    let duty = |g: &mut SplitMix64| (g.next() % 4 + 2, g.next() & 1 == 1);
    let ((gap, sparse_in), (bp, sparse_out)) = (duty(g), duty(g));
    let on = |g: &mut SplitMix64, n: u64, sparse: bool| g.next().is_multiple_of(n) == sparse;
    while got < want.len() {
        cycle += 1;
        assert!(
            cycle < limit,
            "{name}: stuck after {got} of {} beats",
            want.len()
        );
        let give = next < pixels.len() && (!stalls || on(g, gap, sparse_in));
        sim.set(p.iv, give as u64);
        sim.set_wide(p.id, pixels.get(next).unwrap_or(&pixels[0]));
        let ready = !stalls || on(g, bp, sparse_out);
        sim.set(p.or, ready as u64);
        sim.eval();
        let took = give && sim.get(p.ir) == 1;
        let valid = sim.get(p.ov) == 1;
        let beat = Beat {
            data: sim.get_words(p.od),
            mask: sim.get(p.om),
            last: sim.get(p.ol) == 1,
        };
        if let Some(h) = held.take() {
            assert!(
                valid,
                "{name}: out_valid dropped while stalled (beat {got})"
            );
            assert_eq!(beat, h, "{name}: output changed while stalled (beat {got})");
        }
        if valid {
            let at = &places[got];
            assert_eq!(
                beat, want[got],
                "{name} (stalls {stalls}): beat {got} = image {} oy {} ox {} ky {} kx {} chunk {}",
                at.image, at.oy, at.ox, at.ky, at.kx, at.chunk
            );
            if ready {
                got += 1;
                last_out = cycle;
            } else {
                held = Some(beat);
            }
        }
        sim.tick(p.clk);
        if took {
            first_in.get_or_insert(cycle);
            next += 1;
        }
    }
    // Input rows no window reads (valid geometry's leftover bottom rows) may still be
    // waiting: they must all be taken, and nothing more may come out (no duplicates).
    sim.set(p.or, 1);
    for _ in 0..(2 * pixels.len() + 20) {
        let give = next < pixels.len();
        sim.set(p.iv, give as u64);
        sim.set_wide(p.id, pixels.get(next).unwrap_or(&pixels[0]));
        sim.eval();
        assert_eq!(sim.get(p.ov), 0, "{name}: extra output beat");
        let took = give && sim.get(p.ir) == 1;
        sim.tick(p.clk);
        next += took as usize;
    }
    assert_eq!(next, pixels.len(), "{name}: input beats left over");
    last_out - first_in.expect("input taken") + 1
}

/// The ring hdlgen sizes (`Swg::ring_rows`): the window stream never waits for the
/// writer in steady state.
fn hdlgen_rows(cfg: &Cfg) -> usize {
    hdlgen::rtl::lower::Swg {
        win: cfg.window(),
        c: cfg.c,
        dw: cfg.dw as u32,
        simd: cfg.simd,
        pad_value: 0,
        pad_mask: cfg.pad_mask,
    }
    .ring_rows()
}

/// `big_ring`: NR as hdlgen passes it (else the minimum, K_H + 1), and then the second of
/// two back-to-back images must take exactly its ideal cycle count when the layer is not
/// input-bound (no bubbles in steady state).
fn check(cfgs: &[Cfg], seed: u64, big_ring: bool) {
    let mut report = vec![];
    for (n, cfg) in cfgs.iter().enumerate() {
        let mut name = cfg.name();
        let mut args = cfg.params();
        if big_ring {
            args.push(format!("-GNR={}", hdlgen_rows(cfg)));
            name += &format!(" NR={}", hdlgen_rows(cfg));
        }
        let opts = BuildOptions {
            verilator_args: args,
            ..BuildOptions::default()
        };
        let model = build(&design(), &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut sim = model.instance().expect("instance");
        let port = |s: &str| sim.port(s).unwrap_or_else(|e| panic!("{e}"));
        let p = Ports {
            clk: port("clk"),
            rst: port("rst"),
            iv: port("in_valid"),
            ir: port("in_ready"),
            id: port("in_data"),
            ov: port("out_valid"),
            or: port("out_ready"),
            od: port("out_data"),
            om: port("out_mask"),
            ol: port("out_last"),
        };
        let mut g = SplitMix64::new(seed + n as u64);
        let image = |g: &mut SplitMix64| -> Vec<Vec<u64>> {
            (0..cfg.in_h * cfg.in_w)
                .map(|_| {
                    (0..cfg.c)
                        .map(|_| g.next() & ((1u64 << cfg.dw) - 1))
                        .collect()
                })
                .collect()
        };
        // Free flow: one image, then two back to back (cycle figures).
        let w = cfg.window();
        let ideal = (w.out_h * w.out_w * cfg.k_h * cfg.k_w * cfg.c / cfg.simd) as u64;
        let one = vec![image(&mut g)];
        let t1 = run(cfg, &mut sim, &p, &one, false, &mut g);
        let two = vec![image(&mut g), image(&mut g)];
        let t2 = run(cfg, &mut sim, &p, &two, false, &mut g);
        if big_ring && ideal >= (cfg.in_h * cfg.in_w) as u64 {
            assert_eq!(
                t2 - t1,
                ideal,
                "{name}: the second image was not bubble-free"
            );
        }
        // Input-bound layers cannot beat one pixel per cycle.
        let bound = ideal.max((cfg.in_h * cfg.in_w) as u64);
        // Fill: the first window waits for its bottom-right pixel; each later output row
        // may wait for up to STRIDE - 1 rows the ring could not take in advance.
        let fill = ((cfg.k_h + cfg.stride) * cfg.in_w + cfg.k_w + 4) as u64;
        assert!(
            t1 <= bound + fill,
            "{name}: {t1} cycles for one image (ideal {ideal})"
        );
        assert!(
            t2 <= 2 * bound + fill,
            "{name}: {t2} cycles for two images (ideal {})",
            2 * ideal
        );
        report.push(format!(
            "{name}: 1 image {t1} cycles (ideal {ideal}, +{}), 2 images {t2} (ideal {}, +{})",
            t1 as i64 - ideal as i64,
            2 * ideal,
            t2 as i64 - 2 * ideal as i64
        ));
        // Random gaps and back-pressure, several seeds.
        for _ in 0..6 {
            let two = vec![image(&mut g), image(&mut g)];
            run(cfg, &mut sim, &p, &two, true, &mut g);
        }
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn swg_binary_windows_match_the_definition() {
    check(BINARY, 0x5717_0001, false);
}

#[test]
fn swg_integer_windows_match_the_definition() {
    check(INTEGER, 0x5717_0002, false);
}

#[test]
fn swg_with_hdlgens_ring_is_bubble_free() {
    check(BINARY, 0x5717_0003, true);
    check(INTEGER, 0x5717_0004, true);
}

#[test]
fn swg_is_lint_clean() {
    for cfg in BINARY.iter().chain(INTEGER) {
        let p = cfg.params();
        let warnings = lint(&design(), &p.iter().map(String::as_str).collect::<Vec<_>>())
            .unwrap_or_else(|e| panic!("lint: {e}"));
        assert!(warnings.is_empty(), "{}: {warnings:?}", cfg.name());
    }
}
