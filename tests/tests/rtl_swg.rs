//! The sliding-window generator primitive (`hdlgen_swg`) in Verilator against the window
//! order defined from `hdlgen::layers::geom::Window`: every beat (data, mask, last) of two
//! back-to-back images, under random input gaps and output back-pressure, plus the cycle
//! count with free-flowing streams (with the ring hdlgen sizes, the second image without a
//! bubble), and lint-clean for every parameter set.

use hdlgen::arith::SplitMix64;
use hdlgen_sim::Design;
use hdlgen_tests::wide::pack;
use hdlgen_tests::window::{assert_lint_clean, cfg, Beat, Cfg, Drive, Dut, Image};

use hdlgen::rtl::lib::SWG;

fn design() -> Design {
    Design::new("hdlgen_swg").text(SWG.0, SWG.1)
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

fn params(cfg: &Cfg) -> Vec<String> {
    let mut p = cfg.params();
    p.push(format!("-GSIMD={}", cfg.simd));
    p
}

fn name(cfg: &Cfg) -> String {
    format!("{} SIMD={}", cfg.name(), cfg.simd)
}

/// The expected beats straight from the definition: each window's taps in (ky, kx)
/// order, each in C / SIMD chunks; with (image, oy, ox, ky, kx, chunk) for messages.
fn expected(cfg: &Cfg, images: &[Image]) -> (Vec<Beat>, Vec<[usize; 6]>) {
    let chunks = cfg.c / cfg.simd;
    let (mut beats, mut places) = (vec![], vec![]);
    for win in cfg.windows(images) {
        for (t, tap) in win.taps.iter().enumerate() {
            for chunk in 0..chunks {
                let lanes = chunk * cfg.simd..(chunk + 1) * cfg.simd;
                beats.push(Beat {
                    data: pack(&tap.vals[lanes.clone()], cfg.dw),
                    mask: pack(&tap.mask[lanes], 1),
                    last: t == win.taps.len() - 1 && chunk == chunks - 1,
                });
                let (ky, kx) = (t / cfg.k_w, t % cfg.k_w);
                places.push([win.image, win.oy, win.ox, ky, kx, chunk]);
            }
        }
    }
    (beats, places)
}

/// Streams `images` through and checks every beat. Returns the cycles from the first
/// accepted input beat to the last output beat (inclusive).
fn run(dut: &mut Dut, images: &[Image], drive: Drive, g: &mut SplitMix64) -> u64 {
    let (want, places) = expected(&dut.cfg, images);
    let pixels = images.len() * dut.cfg.in_h * dut.cfg.in_w;
    let limit = 50 * (want.len() + pixels) as u64 + 1000;
    let what = |i: usize| {
        let [image, oy, ox, ky, kx, chunk] = places[i];
        format!("image {image} oy {oy} ox {ox} ky {ky} kx {kx} chunk {chunk}")
    };
    let seen = dut.stream(images, &want, drive, limit, g, &what);
    seen.outs.last().expect("output") - seen.first_in.expect("input taken") + 1
}

/// `big_ring`: NR as hdlgen passes it (`Swg::ring_rows`, sized so that the window stream
/// never waits for the writer in steady state; else the minimum, K_H + 1), and then the
/// second of two back-to-back images must take exactly its ideal cycle count when the
/// layer is not input-bound (no bubbles in steady state).
fn check(cfgs: &[Cfg], seed: u64, big_ring: bool) {
    let mut report = vec![];
    for (n, cfg) in cfgs.iter().enumerate() {
        let mut name = name(cfg);
        let mut args = params(cfg);
        if big_ring {
            args.push(format!("-GNR={}", cfg.ring_rows()));
            name += &format!(" NR={}", cfg.ring_rows());
        }
        // Both forms of the handshake sums: every other configuration splits them
        // (WR_SPLIT, the ECP5 plans' form).
        if n % 2 == big_ring as usize {
            args.push("-GWR_SPLIT=1".into());
            name += " WR_SPLIT";
        }
        let mut dut = Dut::build(&design(), cfg, args, name.clone());
        let mut g = SplitMix64::new(seed + n as u64);
        // Free flow: one image, then two back to back (cycle figures).
        let w = cfg.window();
        let ideal = (w.out_h * w.out_w * cfg.k_h * cfg.k_w * cfg.c / cfg.simd) as u64;
        let free = Drive::Free { nf: 1 };
        let one = vec![cfg.image(&mut g)];
        let t1 = run(&mut dut, &one, free, &mut g);
        let two = vec![cfg.image(&mut g), cfg.image(&mut g)];
        let t2 = run(&mut dut, &two, free, &mut g);
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
            let two = vec![cfg.image(&mut g), cfg.image(&mut g)];
            run(&mut dut, &two, Drive::Stalls, &mut g);
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
        assert_lint_clean(&design(), &params(cfg), &name(cfg));
        let mut p = params(cfg);
        p.push("-GWR_SPLIT=1".into());
        assert_lint_clean(&design(), &p, &name(cfg));
    }
}

/// A yosys script that proves `hdlgen_swg` with chparam's `set` equivalent with and without
/// `SYNTHESIS` defined, the cells read from `+/ecp5/{models}`.
fn equiv_script(set: &str, models: &str) -> String {
    let load = |gate: bool| {
        let (models, define, n) = if gate {
            (format!("read_verilog +/ecp5/{models}\n"), "", "gate")
        } else {
            (String::new(), " -nosynthesis", "gold")
        };
        format!(
            "{models}read_verilog{define} {}\nchparam{set} hdlgen_swg\n\
             hierarchy -top hdlgen_swg\nproc; flatten; memory; opt_clean\n\
             rename hdlgen_swg {n}\ndesign -stash {n}\n",
            SWG.0
        )
    };
    format!(
        "{}{}design -copy-from gold -as gold gold\ndesign -copy-from gate -as gate gate\n\
         equiv_make gold gate equiv\nhierarchy -top equiv\nequiv_simple -seq 2\n\
         equiv_induct\nequiv_status -assert\n",
        load(false),
        load(true)
    )
}

/// On ECP5 (`WR_SPLIT`) the issue decision is instantiated LUT4 / PFUMX / L6MUX21 cells,
/// which Verilator never sees (it simulates the same INITs as expressions): yosys proves
/// that form, with its own models of those cells, equivalent to the simulated one.
#[test]
fn swg_ecp5_issue_cells_equal_the_simulated_form() {
    use hdlgen::flow::tool::{Tool, ToolKind};
    let yosys = Tool::find(ToolKind::Yosys).expect("yosys (scripts/install.sh)");
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("hdlgen-swg-equiv");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(SWG.0), SWG.1).unwrap();
    for cfg in [&BINARY[0], &BINARY[1], &INTEGER[1]] {
        // -GNAME=V → chparam -set NAME V (a sized literal's value in decimal).
        let mut set = String::new();
        for p in params(cfg).iter().chain(&["-GWR_SPLIT=1".to_string()]) {
            let (k, v) = p.trim_start_matches("-G").split_once('=').unwrap();
            let v = v.split_once("'d").map_or(v, |(_, d)| d);
            set += &format!(" -set {k} {v}");
        }
        let run = |models: &str| {
            std::fs::write(dir.join("equiv.ys"), equiv_script(&set, models)).unwrap();
            let _ = std::fs::remove_file(dir.join("equiv.log"));
            let out = yosys
                .command()
                .current_dir(&dir)
                .args(["-q", "-l", "equiv.log", "-s", "equiv.ys"])
                .output()
                .expect("runs yosys");
            let log = std::fs::read_to_string(dir.join("equiv.log")).unwrap_or_default();
            (out, log)
        };
        // yosys 0.70's models are in `common_sim.vh` (its `cells_sim.v` includes the
        // flip-flop cells twice); an older yosys has only `cells_sim.v`.
        let (mut out, mut log) = run("common_sim.vh");
        if log.contains("common_sim.vh") && log.contains("Can't open") {
            (out, log) = run("cells_sim.v");
        }
        assert!(
            out.status.success() && log.contains("Equivalence successfully proven"),
            "{}: the ECP5 cells differ from the simulated issue decision:\n{}\n{}",
            name(cfg),
            String::from_utf8_lossy(&out.stderr),
            log.lines().rev().take(20).collect::<Vec<_>>().join("\n")
        );
    }
}
