//! The whole-window generator primitive (`hdlgen_winbuf`) in Verilator against the window
//! order defined from `hdlgen::layers::geom::Window`: every beat (a whole window: data and
//! mask of every tap, in (kh, kw, c) order) of back-to-back images, free-flowing, behind
//! a consumer that takes a window every NF cycles (an `hdlgen_mvau` with SF = 1), and under
//! random input gaps and output back-pressure; the steady-state cycles per image against
//! max(OH·OW·NF, IH·IW) exactly; lint-clean for every parameter set.

use hdlgen::arith::SplitMix64;
use hdlgen::layers::geom::Window;
use hdlgen_sim::{build, lint, BuildOptions, Design, Instance, PortHandle};

use hdlgen::rtl::lib::WINBUF;

fn design() -> Design {
    Design::new("hdlgen_winbuf").text(WINBUF.0, WINBUF.1)
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
    pad_value: u64,
    pad_mask: bool,
}

const fn cfg(
    (in_h, in_w, c): (usize, usize, usize),
    dw: usize,
    (k_h, k_w): (usize, usize),
    stride: usize,
    same: bool,
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
        pad_value,
        pad_mask,
    }
}

/// Binary maps: `zero` padding is (0, mask 0), `one` padding is (1, mask 1).
const BINARY: &[Cfg] = &[
    cfg((5, 5, 4), 1, (3, 3), 1, true, 0, false),
    cfg((6, 5, 8), 1, (3, 3), 2, true, 1, true),
    cfg((4, 4, 3), 1, (2, 2), 1, false, 0, false),
    cfg((7, 7, 2), 1, (2, 2), 2, true, 0, false),
    cfg((3, 3, 2), 1, (3, 3), 1, false, 0, false), // kernel = input: one window
    cfg((8, 6, 6), 1, (1, 1), 3, false, 0, false), // skipped rows and columns
    cfg((4, 9, 16), 1, (3, 1), 1, true, 1, true),
    cfg((1, 1, 3), 1, (3, 3), 1, true, 0, false), // 1×1 map, all but the centre padding
    cfg((2, 3, 1), 1, (1, 3), 1, true, 1, true),
    cfg((5, 4, 1), 1, (4, 4), 1, true, 0, false), // even kernel: padding bottom/right
    cfg((9, 9, 1), 1, (5, 5), 3, true, 0, false),
    cfg((6, 7, 2), 1, (2, 4), 3, false, 0, false),
    cfg((2, 5, 3), 1, (4, 2), 2, true, 1, true), // kernel taller than the map
    cfg((14, 14, 32), 1, (3, 3), 1, true, 1, true), // MNIST conv2
];

/// Integer inputs: padded elements hold `pad_value` (two's complement bits) and count.
const INTEGER: &[Cfg] = &[
    cfg((6, 6, 3), 8, (3, 3), 1, true, 0x80, true), // pad −128
    cfg((5, 7, 2), 5, (5, 5), 3, true, 29, true),   // pad −3
    cfg((3, 3, 2), 5, (5, 5), 1, true, 7, true),    // kernel larger than the input
    cfg((9, 4, 2), 8, (3, 3), 3, false, 0, true),
    cfg((5, 5, 4), 8, (5, 5), 2, false, 0, true), // kernel = input, one window
    cfg((2, 2, 5), 3, (2, 2), 1, false, 0, true), // dense after flatten: whole map
    cfg((1, 4, 1), 2, (1, 2), 2, false, 0, true),
    cfg((28, 28, 1), 9, (3, 3), 1, true, 0, true), // MNIST conv1
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

    /// The ring hdlgen sizes (`Swg::ring_rows`).
    fn rows(&self) -> usize {
        hdlgen::rtl::lower::Swg {
            win: self.window(),
            c: self.c,
            dw: self.dw as u32,
            simd: self.c,
            pad_value: 0,
            pad_mask: self.pad_mask,
        }
        .ring_rows()
    }

    fn params(&self, nr: usize) -> Vec<String> {
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
            format!("-GNR={nr}"),
            format!("-GPAD_VALUE={}'d{}", self.dw, self.pad_value),
            format!("-GPAD_MASK={}", self.pad_mask as u8),
        ]
    }

    fn name(&self) -> String {
        let w = self.window();
        format!(
            "{}x{}x{} DW={} k{}x{} s{} {} pad(t{} l{}) out {}x{} pad={}/{}",
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
            self.pad_value,
            self.pad_mask as u8
        )
    }
}

use hdlgen_tests::wide::pack;

/// One expected output beat: a whole window.
#[derive(Clone, Debug, PartialEq)]
struct Beat {
    data: Vec<u32>,
    mask: Vec<u32>,
    last: bool,
}

/// Images as pixels of `C` elements; the expected windows straight from the definition,
/// with their (image, oy, ox).
fn expected(cfg: &Cfg, images: &[Vec<Vec<u64>>]) -> Vec<(Beat, (usize, usize, usize))> {
    let w = cfg.window();
    let mut beats = vec![];
    for (image, px) in images.iter().enumerate() {
        for oy in 0..w.out_h {
            for ox in 0..w.out_w {
                let (mut vals, mut mask) = (vec![], vec![]);
                for ky in 0..cfg.k_h {
                    for kx in 0..cfg.k_w {
                        match (w.in_y(oy, ky), w.in_x(ox, kx)) {
                            (Some(iy), Some(ix)) => {
                                vals.extend_from_slice(&px[iy * cfg.in_w + ix]);
                                mask.extend(std::iter::repeat_n(1, cfg.c));
                            }
                            _ => {
                                vals.extend(std::iter::repeat_n(cfg.pad_value, cfg.c));
                                mask.extend(std::iter::repeat_n(cfg.pad_mask as u64, cfg.c));
                            }
                        }
                    }
                }
                beats.push((
                    Beat {
                        data: pack(&vals, cfg.dw),
                        mask: pack(&mask, 1),
                        last: true,
                    },
                    (image, oy, ox),
                ));
            }
        }
    }
    beats
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

/// How the streams are driven.
#[derive(Clone, Copy, Debug)]
enum Drive {
    /// in_valid always (while pixels remain); the consumer takes a window every `nf`
    /// cycles, as `hdlgen_mvau` with SF = 1 and NF folds does (nf = 1: out_ready high).
    Free { nf: u64 },
    /// Random input gaps and output back-pressure.
    Stalls,
}

/// Streams `images` through and checks every beat. Returns the cycle of each image's last
/// output beat (counted from the cycle after reset).
fn run(
    cfg: &Cfg,
    sim: &mut Instance,
    p: &Ports,
    images: &[Vec<Vec<u64>>],
    drive: Drive,
    g: &mut SplitMix64,
) -> Vec<u64> {
    let name = cfg.name();
    let want = expected(cfg, images);
    let per_image = want.len() / images.len();
    let pixels: Vec<Vec<u32>> = images.iter().flatten().map(|px| pack(px, cfg.dw)).collect();
    sim.set(p.iv, 0);
    sim.set(p.or, 0);
    sim.set(p.rst, 1);
    sim.tick(p.clk);
    sim.set(p.rst, 0);
    let (mut next, mut got, mut cycle) = (0usize, 0usize, 0u64);
    let mut ends = vec![];
    let mut held: Option<Beat> = None;
    let mut fold = 0u64; // cycles until the NF consumer is ready again
    let limit = 60 * (want.len() as u64 * 8 + pixels.len() as u64) + 1000;
    let duty = |g: &mut SplitMix64| (g.next() % 4 + 2, g.next() & 1 == 1);
    let ((gap, sparse_in), (bp, sparse_out)) = (duty(g), duty(g));
    let on = |g: &mut SplitMix64, n: u64, sparse: bool| g.next().is_multiple_of(n) == sparse;
    while got < want.len() {
        cycle += 1;
        assert!(
            cycle < limit,
            "{name} ({drive:?}): stuck after {got} of {} windows",
            want.len()
        );
        let (give, ready) = match drive {
            Drive::Free { .. } => (next < pixels.len(), fold == 0),
            Drive::Stalls => (
                next < pixels.len() && on(g, gap, sparse_in),
                on(g, bp, sparse_out),
            ),
        };
        sim.set(p.iv, give as u64);
        sim.set_wide(p.id, pixels.get(next).unwrap_or(&pixels[0]));
        sim.set(p.or, ready as u64);
        sim.eval();
        let took = give && sim.get(p.ir) == 1;
        let valid = sim.get(p.ov) == 1;
        let beat = Beat {
            data: sim.get_words(p.od),
            mask: sim.get_words(p.om),
            last: sim.get(p.ol) == 1,
        };
        if let Some(h) = held.take() {
            assert!(
                valid,
                "{name}: out_valid dropped while stalled (window {got})"
            );
            assert_eq!(
                beat, h,
                "{name}: output changed while stalled (window {got})"
            );
        }
        fold = fold.saturating_sub(1);
        if valid {
            let (w, (image, oy, ox)) = &want[got];
            assert_eq!(
                &beat, w,
                "{name} ({drive:?}): window {got} = image {image} oy {oy} ox {ox}"
            );
            if ready {
                got += 1;
                if got % per_image == 0 {
                    ends.push(cycle);
                }
                if let Drive::Free { nf } = drive {
                    fold = nf - 1;
                }
            } else {
                held = Some(beat);
            }
        }
        sim.tick(p.clk);
        next += took as usize;
    }
    // Input rows no window reads (valid geometry's leftover bottom rows) may still be
    // waiting: they must all be taken, and nothing more may come out (no duplicates).
    sim.set(p.or, 1);
    for _ in 0..(2 * pixels.len() + 20) {
        let give = next < pixels.len();
        sim.set(p.iv, give as u64);
        sim.set_wide(p.id, pixels.get(next).unwrap_or(&pixels[0]));
        sim.eval();
        assert_eq!(sim.get(p.ov), 0, "{name}: extra output window");
        let took = give && sim.get(p.ir) == 1;
        sim.tick(p.clk);
        next += took as usize;
    }
    assert_eq!(next, pixels.len(), "{name}: input beats left over");
    ends
}

/// The steady-state cycles per image (`hdlgen_winbuf`'s header): max(OH·OW·NF, IH·IW).
fn interval(cfg: &Cfg, nf: u64) -> u64 {
    let w = cfg.window();
    ((w.out_h * w.out_w) as u64 * nf).max((cfg.in_h * cfg.in_w) as u64)
}

/// `nr`: None = the ring hdlgen sizes (then the cycles per image are checked), else that
/// many rows (correctness only).
fn check(cfgs: &[Cfg], seed: u64, small_ring: bool) {
    let mut report = vec![];
    for (n, cfg) in cfgs.iter().enumerate() {
        let nr = if small_ring { cfg.k_h + 1 } else { cfg.rows() };
        let name = format!("{} NR={nr}", cfg.name());
        let opts = BuildOptions {
            verilator_args: cfg.params(nr),
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
        let w = cfg.window();
        let (windows, pixels) = ((w.out_h * w.out_w) as u64, (cfg.in_h * cfg.in_w) as u64);
        // Free flow and NF-fold consumers around the input-bound point, 4 images back to
        // back: the last image's cycles are the steady state.
        let mut nfs = vec![
            1,
            2,
            3,
            pixels.div_ceil(windows),
            pixels.div_ceil(windows) + 1,
        ];
        nfs.sort_unstable();
        nfs.dedup();
        let mut line = format!("{name}:");
        for nf in nfs {
            let imgs: Vec<_> = (0..4).map(|_| image(&mut g)).collect();
            let ends = run(cfg, &mut sim, &p, &imgs, Drive::Free { nf }, &mut g);
            let per: Vec<u64> = ends.windows(2).map(|e| e[1] - e[0]).collect();
            let want = interval(cfg, nf);
            if !small_ring {
                assert_eq!(
                    per[per.len() - 1],
                    want,
                    "{name}: NF {nf}: cycles per image {per:?}, formula {want} (first image {})",
                    ends[0]
                );
            }
            line += &format!(
                " NF {nf}: {per:?} (formula {want}, first image {});",
                ends[0]
            );
        }
        report.push(line);
        // Random gaps and back-pressure, several seeds.
        for _ in 0..6 {
            let imgs: Vec<_> = (0..2).map(|_| image(&mut g)).collect();
            run(cfg, &mut sim, &p, &imgs, Drive::Stalls, &mut g);
        }
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn winbuf_binary_windows_match_the_definition_and_the_cycle_formula() {
    check(BINARY, 0x3171_0001, false);
}

#[test]
fn winbuf_integer_windows_match_the_definition_and_the_cycle_formula() {
    check(INTEGER, 0x3171_0002, false);
}

#[test]
fn winbuf_with_the_smallest_ring_is_correct() {
    check(BINARY, 0x3171_0003, true);
    check(INTEGER, 0x3171_0004, true);
}

#[test]
fn winbuf_is_lint_clean() {
    for cfg in BINARY.iter().chain(INTEGER) {
        for nr in [cfg.k_h + 1, cfg.rows()] {
            let p = cfg.params(nr);
            let warnings = lint(&design(), &p.iter().map(String::as_str).collect::<Vec<_>>())
                .unwrap_or_else(|e| panic!("lint: {e}"));
            assert!(warnings.is_empty(), "{}: {warnings:?}", cfg.name());
        }
    }
}

/// The MNIST geometries (conv1: 28×28×1, 9-bit lanes; conv2: 14×14×32 bits) behind a
/// three-pin wrapper (inputs from a shift register, outputs registered and XOR-reduced in
/// two registered stages), through yosys and nextpnr on a UP5K at 48 MHz and an ECP5-85F at
/// 150 MHz (with flow::netlist's output-register folding, as `hdlgen build` runs it):
/// Fmax and the limiting path to stderr, and both targets met. Slow: `--ignored`.
#[test]
#[ignore]
fn winbuf_reaches_48_mhz_on_up5k_and_150_mhz_on_ecp5() {
    use hdlgen::flow::{self, Device, PnrOptions, SynthOptions};
    let mut failures = vec![];
    for (tag, cfg) in [("conv1", INTEGER[7]), ("conv2", BINARY[13])] {
        let w = cfg.window();
        let taps = cfg.k_h * cfg.k_w;
        let (in_w, out_w) = (cfg.c * cfg.dw, taps * cfg.c * cfg.dw + taps * cfg.c + 3);
        let params: String = cfg
            .params(cfg.rows())
            .iter()
            .map(|p| {
                let (k, v) = p.trim_start_matches("-G").split_once('=').unwrap();
                format!(".{k}({v})")
            })
            .collect::<Vec<_>>()
            .join(", ");
        let groups = out_w.div_ceil(16);
        let wrap = format!(
            "module fmax_wrap (input wire clk, input wire din, output reg dout);\n\
             reg [{n_in}:0] sr;\n reg [3:0] rc = 4'hf;\n reg rst = 1'b1;\n\
             always @(posedge clk) begin sr <= {{sr[{n_in_1}:0], din}}; if (rc != 0) rc <= rc - 1'b1; rst <= rc != 0; end\n\
             wire ir, ov, ol;\n wire [{od}:0] od;\n wire [{om}:0] om;\n\
             hdlgen_winbuf #({params}) u (.clk(clk), .rst(rst), .in_valid(sr[0]), .in_ready(ir), .in_data(sr[{in_w}:1]),\n\
               .out_valid(ov), .out_ready(sr[{n_in}]), .out_data(od), .out_mask(om), .out_last(ol));\n\
             reg [{gw}:0] oq = 0;\n reg [{g}:0] x1;\n integer i;\n\
             always @(posedge clk) begin oq[{ow}:0] <= {{ir, ov, ol, om, od}}; for (i = 0; i < {groups}; i = i + 1) x1[i] <= ^oq[16*i +: 16]; dout <= ^x1; end\n\
             endmodule\n",
            n_in = in_w + 1,
            n_in_1 = in_w,
            od = taps * cfg.c * cfg.dw - 1,
            om = taps * cfg.c - 1,
            ow = out_w - 1,
            gw = 16 * groups - 1,
            g = groups - 1,
        );
        for (device, freq) in [("up5k", 48.0), ("85k", 150.0)] {
            let dev = *Device::by_name(device).expect("device");
            let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join("hdlgen-winbuf-fmax")
                .join(format!("{tag}-{device}"));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(WINBUF.0), WINBUF.1).unwrap();
            std::fs::write(dir.join("fmax_wrap.v"), &wrap).unwrap();
            let files = vec![dir.join(WINBUF.0), dir.join("fmax_wrap.v")];
            let o = SynthOptions::new(dev.family, files, "fmax_wrap", dir.clone());
            let s = flow::synth(&o).unwrap_or_else(|e| panic!("{tag} {device}: {e}"));
            let mut p = PnrOptions::new(dev, s.netlist.clone().expect("netlist"), dir.join("pnr"));
            p.freq_mhz = Some(freq);
            p.allow_timing_fail = true;
            let r = flow::pnr(&p).unwrap_or_else(|e| panic!("{tag} {device}: {e}"));
            let fmax = r.fmax_mhz.expect("a clock");
            eprintln!(
                "winbuf {tag} ({}x{} out {}x{}) on {device}: Fmax {fmax:.1} MHz (target {freq}); yosys {} LUT4, {} FF, {} BRAM",
                cfg.in_h, cfg.in_w, w.out_h, w.out_w, s.lut4, s.ff, s.bram
            );
            if let Some(c) = r.critical_paths.first() {
                eprintln!(
                    "  critical: {} -> {}: {:.2} ns ({:.2} logic, {:.2} routing)",
                    c.start, c.end, c.delay_ns, c.logic_ns, c.routing_ns
                );
            }
            if fmax < freq {
                failures.push(format!("{tag} on {device}: {fmax:.1} MHz < {freq}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}
