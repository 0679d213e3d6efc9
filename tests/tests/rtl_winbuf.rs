//! The whole-window generator primitive (`hdlgen_winbuf`) in Verilator against the window
//! order defined from `hdlgen::layers::geom::Window`: every beat (a whole window: data and
//! mask of every tap, in (kh, kw, c) order) of back-to-back images, free-flowing, behind
//! a consumer that takes a window every NF cycles (an `hdlgen_mvau` with SF = 1), and under
//! random input gaps and output back-pressure; the steady-state cycles per image against
//! max(OH·OW·NF, IH·IW) exactly; lint-clean for every parameter set.

use hdlgen::arith::SplitMix64;
use hdlgen_sim::Design;
use hdlgen_tests::wide::pack;
use hdlgen_tests::window::{self, assert_lint_clean, Beat, Cfg, Drive, Dut, Image};

use hdlgen::rtl::lib::WINBUF;

fn design() -> Design {
    Design::new("hdlgen_winbuf").text(WINBUF.0, WINBUF.1)
}

/// A beat carries whole taps: SIMD = C.
const fn cfg(
    (in_h, in_w, c): (usize, usize, usize),
    dw: usize,
    k: (usize, usize),
    stride: usize,
    same: bool,
    pad_value: u64,
    pad_mask: bool,
) -> Cfg {
    window::cfg((in_h, in_w, c), dw, k, stride, same, c, pad_value, pad_mask)
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

/// With hdlgen's ring the handshake sums are split (WR_SPLIT, the ECP5 plans' form), with
/// the smallest ring they are not, so both forms run every configuration.
fn params(cfg: &Cfg, nr: usize) -> Vec<String> {
    let mut p = cfg.params();
    p.push(format!("-GNR={nr}"));
    if nr == cfg.ring_rows() {
        p.push("-GWR_SPLIT=1".into());
    }
    p
}

/// The expected beats straight from the definition: one a window, all its taps (in
/// (kh, kw, c) order); with (image, oy, ox) for messages.
fn expected(cfg: &Cfg, images: &[Image]) -> (Vec<Beat>, Vec<[usize; 3]>) {
    let (mut beats, mut places) = (vec![], vec![]);
    for win in cfg.windows(images) {
        let vals: Vec<u64> = win.taps.iter().flat_map(|t| &t.vals).copied().collect();
        let mask: Vec<u64> = win.taps.iter().flat_map(|t| &t.mask).copied().collect();
        beats.push(Beat {
            data: pack(&vals, cfg.dw),
            mask: pack(&mask, 1),
            last: true,
        });
        places.push([win.image, win.oy, win.ox]);
    }
    (beats, places)
}

/// Streams `images` through and checks every beat. Returns the cycle of each image's last
/// output beat (counted from the cycle after reset).
fn run(dut: &mut Dut, images: &[Image], drive: Drive, g: &mut SplitMix64) -> Vec<u64> {
    let (want, places) = expected(&dut.cfg, images);
    let per_image = want.len() / images.len();
    let pixels = images.len() * dut.cfg.in_h * dut.cfg.in_w;
    let limit = 60 * (want.len() as u64 * 8 + pixels as u64) + 1000;
    let what = |i: usize| {
        let [image, oy, ox] = places[i];
        format!("image {image} oy {oy} ox {ox}")
    };
    let seen = dut.stream(images, &want, drive, limit, g, &what);
    seen.outs
        .iter()
        .skip(per_image - 1)
        .step_by(per_image)
        .copied()
        .collect()
}

/// The steady-state cycles per image (`hdlgen_winbuf`'s header): max(OH·OW·NF, IH·IW).
fn interval(cfg: &Cfg, nf: u64) -> u64 {
    let w = cfg.window();
    ((w.out_h * w.out_w) as u64 * nf).max((cfg.in_h * cfg.in_w) as u64)
}

/// `small_ring`: false = the ring hdlgen sizes (then the cycles per image are checked),
/// true = kh + 1 rows, the fewest that work (correctness only).
fn check(cfgs: &[Cfg], seed: u64, small_ring: bool) {
    let mut report = vec![];
    for (n, cfg) in cfgs.iter().enumerate() {
        let nr = if small_ring {
            cfg.k_h + 1
        } else {
            cfg.ring_rows()
        };
        let name = format!("{} NR={nr}", cfg.name());
        let mut dut = Dut::build(&design(), cfg, params(cfg, nr), name.clone());
        let mut g = SplitMix64::new(seed + n as u64);
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
            let imgs: Vec<_> = (0..4).map(|_| cfg.image(&mut g)).collect();
            let ends = run(&mut dut, &imgs, Drive::Free { nf }, &mut g);
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
            let imgs: Vec<_> = (0..2).map(|_| cfg.image(&mut g)).collect();
            run(&mut dut, &imgs, Drive::Stalls, &mut g);
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
        for nr in [cfg.k_h + 1, cfg.ring_rows()] {
            assert_lint_clean(&design(), &params(cfg, nr), &cfg.name());
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
        let params: String = params(&cfg, cfg.ring_rows())
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
