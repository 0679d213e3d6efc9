//! Every example BNN through yosys `synth_ice40` and `synth_ecp5` (the generated files as
//! `hdlgen gen` writes them, hex images included), and the digits BNN through nextpnr on a
//! UP5K, an HX8K and an ECP5-85F: the figures go to stderr (docs/bnn-hardware.md records
//! them).

use std::path::{Path, PathBuf};

use hdlgen::flow::{self, Device, Family, PnrOptions, SynthOptions};
use hdlgen::rtl::gen::{generate, GenOptions, Generated};
use hdlgen::Network;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Writes the generated files into a fresh directory under target/tmp.
fn write(g: &Generated, name: &str) -> (PathBuf, Vec<PathBuf>) {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("hdlgen-synth-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let mut files = vec![];
    for (n, t) in &g.files {
        std::fs::write(d.join(n), t).unwrap();
        if n.ends_with(".v") {
            files.push(d.join(n));
        }
    }
    (d, files)
}

/// Generates at a logic-cell budget, at the smallest folding (`None`), or (`SEQ`) the
/// layer-sequential engine.
fn gen(path: &str, reg_every: usize, luts: Option<u64>) -> Generated {
    let net = Network::load(&root().join(path)).expect("loads");
    let folds = luts.is_none().then(|| {
        vec![
            hdlgen::rtl::lower::Fold { pe: 1, simd: 1 };
            hdlgen::rtl::lower::compute_layers(&net).len()
        ]
    });
    // iCE40 (REG_EVERY 2) keeps the sequencer's weights in SPRAM, as a UP5K build does.
    let seq = (luts == Some(SEQ)).then_some(hdlgen::rtl::gen::SeqOptions {
        spram: reg_every == 2,
    });
    generate(
        &net,
        &GenOptions {
            lut_budget: luts.filter(|_| seq.is_none()),
            folds: folds.filter(|_| seq.is_none()),
            reg_every,
            seq,
            ..GenOptions::default()
        },
    )
    .expect("generates")
}

/// The `luts` of [`gen`] that asks for the layer-sequential engine.
const SEQ: u64 = u64::MAX;

#[test]
fn every_example_bnn_synthesises_for_ice40_and_ecp5() {
    // The digits BNN as `gen` makes it for the iCEBreaker and at an ECP5-sized budget; the
    // MNIST BNN (too big for a UP5K as a chain) at its smallest folding, which keeps yosys
    // quick, and on the layer-sequential engine.
    // On iCE40 the generator's LUT4 estimate (the figure the folding search and the
    // capacity check use) must be within 25 % of yosys's count; its block RAMs close to
    // yosys's on both families (below).
    for (path, tag, luts) in [
        ("examples/digits/bnn.yaml", "digits", Some(4224)),
        ("examples/digits/bnn.yaml", "digits-fast", Some(20_000)),
        ("examples/mnist_bnn.yaml", "mnist", None),
        ("examples/mnist_bnn.yaml", "mnist-seq", Some(SEQ)),
    ] {
        for family in [Family::Ice40, Family::Ecp5] {
            let g = gen(path, if family == Family::Ice40 { 2 } else { 1 }, luts);
            let (dir, files) = write(&g, &format!("{tag}-{family}"));
            let mut o = SynthOptions::new(family, files, g.top_name.clone(), dir);
            o.write_netlist = false;
            let r = flow::synth(&o).unwrap_or_else(|e| panic!("{tag} {family}: {e}"));
            eprintln!(
                "{tag} {family}: {} LUT4, {} carry, {} FF, {} BRAM (estimate {} LUT4, {} FF, {} EBR, {} DP16KD) in {:.1} s",
                r.lut4, r.carry, r.ff, r.bram, g.estimate.lut4, g.estimate.ff, g.estimate.bram, g.estimate.dp16kd, r.seconds
            );
            assert!(
                r.lut4 > 0 && r.ff > 0 && r.bram > 0,
                "{tag} {family}: {r:?}"
            );
            // Block RAM in the family's own blocks (the capacity check and the folding
            // search's block-RAM budget use it): ECP5 within 10 % or 2 blocks; iCE40 never
            // below yosys's count and within 20 % (MNIST's smallest folding: 91 for 77).
            let (est, tol) = match family {
                Family::Ice40 => (g.estimate.bram, r.bram / 5),
                Family::Ecp5 => (g.estimate.dp16kd, r.bram / 10),
            };
            assert!(
                est.abs_diff(r.bram) <= tol.max(2) && (family == Family::Ecp5 || est >= r.bram),
                "{tag} {family}: block RAM estimate {est}, yosys {}",
                r.bram
            );
            if family == Family::Ice40 {
                let err = (g.estimate.lut4 as f64 - r.lut4 as f64) / r.lut4 as f64;
                assert!(
                    err.abs() <= 0.25,
                    "{tag}: LUT4 estimate {} is {:+.0} % off yosys's {}",
                    g.estimate.lut4,
                    100.0 * err,
                    r.lut4
                );
            }
        }
    }
}

/// A timing wrapper with three pins: every input of the top comes from a shift register
/// fed by `din`, every output is registered and XOR-reduced to `dout`, so nothing is
/// optimised away and the UP5K's 39 I/Os suffice (the board top with its UART is the
/// board flow's job). Reset is a flip-flop, as a board top's should be: it reaches every
/// engine, and a gate in front of that fanout was the UP5K's critical path.
fn wrapper(g: &Generated) -> String {
    let d = &g.design;
    let in_w = d.input_shape.c * d.input_bits as usize;
    let (ub, wb, lb) = d.cfg_fields();
    let cfg_a = (ub + wb + lb) as usize;
    let outs: Vec<(&str, usize)> = if d.ends_in_argmax() {
        let Some(hdlgen::rtl::lower::Kind::Argmax { cls, sw, .. }) =
            d.engines.last().map(|e| &e.kind)
        else {
            unreachable!()
        };
        vec![
            ("out_score", *sw as usize),
            ("out_last", 1),
            ("out_pred", hdlgen::rtl::lower::field_bits(*cls) as usize),
        ]
    } else {
        vec![("out_data", d.engines.last().unwrap().output.width())]
    };
    let ins = [
        ("in_valid", 1),
        ("in_data", in_w),
        ("out_ready", 1),
        ("cfg_we", 1),
        ("cfg_addr", cfg_a),
        ("cfg_data", 32),
    ];
    let n_in: usize = ins.iter().map(|x| x.1).sum();
    let n_out: usize = outs.iter().map(|x| x.1).sum::<usize>() + 2;
    let mut v = format!(
        "module fmax_wrap (input wire clk, input wire din, output reg dout);\n  reg [{}:0] sr;\n  reg [3:0] rc = 4'hf;\n  reg rst = 1'b1;\n  always @(posedge clk) begin sr <= {{sr[{}:0], din}}; if (rc != 0) rc <= rc - 1'b1; rst <= rc != 0; end\n",
        n_in - 1,
        n_in.max(2) - 2
    );
    let mut off = 0;
    let mut conns = vec![".clk(clk)".to_string(), ".rst(rst)".to_string()];
    for (n, w) in ins {
        conns.push(format!(".{n}(sr[{}:{}])", off + w - 1, off));
        off += w;
    }
    let mut o = vec![];
    for (n, w) in outs
        .iter()
        .chain([("in_ready", 1), ("out_valid", 1)].iter())
    {
        v += &format!("  wire [{}:0] w_{n};\n", w - 1);
        conns.push(format!(".{n}(w_{n})"));
        o.push(format!("w_{n}"));
    }
    v += &format!(
        "  {} u (\n    {}\n  );\n  reg [{}:0] oq;\n  always @(posedge clk) begin oq <= {{{}}}; dout <= ^oq; end\nendmodule\n",
        g.top_name,
        conns.join(",\n    "),
        n_out - 1,
        o.join(", ")
    );
    v
}

/// Seeds from `HDLGEN_PNR_SEEDS` (`1-6` or `1,3,5`); unset: nextpnr's default only.
fn seeds() -> Vec<Option<u64>> {
    let Ok(v) = std::env::var("HDLGEN_PNR_SEEDS") else {
        return vec![None];
    };
    let mut out = vec![];
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u64, u64) = (a.parse().expect("seed"), b.parse().expect("seed"));
                out.extend((a..=b).map(Some));
            }
            None => out.push(Some(part.parse().expect("seed"))),
        }
    }
    out
}

/// The digits BNN at the iCEBreaker budget behind the timing wrapper, through yosys 0.70
/// and nextpnr on each device (`HDLGEN_PNR_DEVICES=up5k,hx8k,85k` picks some), at every
/// seed of [`seeds`]: Fmax, the path that limits it, logic and block RAM to stderr.
#[test]
fn digits_bnn_places_and_routes_on_up5k_hx8k_and_ecp5_85f() {
    let pick = std::env::var("HDLGEN_PNR_DEVICES").ok();
    for (device, freq, reg_every) in [("up5k", 48.0, 2), ("hx8k", 100.0, 2), ("85k", 150.0, 1)] {
        if pick
            .as_deref()
            .is_some_and(|p| !p.split(',').any(|d| d.trim() == device))
        {
            continue;
        }
        let dev = *Device::by_name(device).expect("device");
        let family = dev.family;
        // The budget `gen --board icebreaker` uses (80 % of a UP5K less the board shell).
        let up5k = Device::by_name("up5k").expect("device");
        let g = gen(
            "examples/digits/bnn.yaml",
            reg_every,
            Some(hdlgen::build::network_budget(up5k)),
        );
        let (dir, mut files) = write(&g, &format!("digits-pnr-{device}"));
        std::fs::write(dir.join("fmax_wrap.v"), wrapper(&g)).unwrap();
        files.push(dir.join("fmax_wrap.v"));
        let o = SynthOptions::new(family, files, "fmax_wrap", dir.clone());
        let s = flow::synth(&o).unwrap_or_else(|e| panic!("{device}: {e}"));
        let macs_per_cycle: u64 =
            g.estimate.engines.iter().map(|e| e.macs).sum::<u64>() / g.estimate.interval;
        let netlist = s.netlist.clone().expect("netlist");
        if let Some(o) = s.outreg {
            eprintln!(
                "{device}: {} DP16KD read ports folded into OUTREG ({} flip-flops), {} left",
                o.folded, o.ffs, o.left
            );
            assert!(
                o.folded > 0 && o.left == 0,
                "every read port has its flip-flop"
            );
        }
        let variants = [("", netlist)];
        for (seed, (variant, netlist)) in seeds()
            .into_iter()
            .flat_map(|s| variants.iter().map(move |v| (s, v)))
        {
            let tag = seed.map_or("default".to_string(), |s| s.to_string());
            let out = dir.join(format!("seed-{tag}{}", variant.trim().replace('+', "-")));
            let mut p = PnrOptions::new(dev, netlist.clone(), out);
            p.freq_mhz = Some(freq);
            p.allow_timing_fail = true;
            p.seed = seed;
            let r = flow::pnr(&p).unwrap_or_else(|e| panic!("{device}: {e}"));
            let fmax = r.fmax_mhz.expect("a clock");
            eprintln!(
                "digits on {device}{variant} (seed {tag}): Fmax {fmax:.1} MHz (target {freq}), logic {}/{}, BRAM {}/{}; {} LUT4 → {:.3} binary MACs/cycle/LUT4",
                r.logic.used,
                r.logic.available,
                r.bram.used,
                r.bram.available,
                s.lut4,
                macs_per_cycle as f64 / s.lut4 as f64
            );
            if let Some(c) = r.critical_paths.first() {
                eprintln!(
                    "  critical: {} -> {}: {:.2} ns ({:.2} logic, {:.2} routing, {} cells) via {}",
                    c.start,
                    c.end,
                    c.delay_ns,
                    c.logic_ns,
                    c.routing_ns,
                    c.cells,
                    c.sources.join(" ")
                );
            }
            assert!(fmax > 0.0);
        }
    }
}
