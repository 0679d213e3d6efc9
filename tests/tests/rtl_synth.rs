//! Every example BNN through yosys `synth_ice40` and `synth_ecp5` (the generated files as
//! `hdlgen gen` writes them, hex images included), and the digits BNN through nextpnr on a
//! UP5K and an ECP5-85F: the figures go to stderr (docs/bnn-hardware.md records them).

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

/// Generates at a logic-cell budget, or at the smallest folding (`None`).
fn gen(path: &str, reg_every: usize, luts: Option<u64>) -> Generated {
    let net = Network::load(&root().join(path)).expect("loads");
    let folds = luts.is_none().then(|| {
        vec![
            hdlgen::rtl::lower::Fold { pe: 1, simd: 1 };
            hdlgen::rtl::lower::compute_layers(&net).len()
        ]
    });
    generate(
        &net,
        &GenOptions {
            lut_budget: luts,
            folds,
            reg_every,
            ..GenOptions::default()
        },
    )
    .expect("generates")
}

#[test]
fn every_example_bnn_synthesises_for_ice40_and_ecp5() {
    // The digits BNN as `gen` makes it for the iCEBreaker; the MNIST BNN (too big for a
    // UP5K) at its smallest folding, which keeps yosys quick.
    for (path, tag, luts) in [
        ("examples/digits/bnn.yaml", "digits", Some(4224)),
        ("examples/mnist_bnn.yaml", "mnist", None),
    ] {
        for family in [Family::Ice40, Family::Ecp5] {
            let g = gen(path, if family == Family::Ice40 { 2 } else { 1 }, luts);
            let (dir, files) = write(&g, &format!("{tag}-{family}"));
            let mut o = SynthOptions::new(family, files, g.top_name.clone(), dir);
            o.write_netlist = false;
            let r = flow::synth(&o).unwrap_or_else(|e| panic!("{tag} {family}: {e}"));
            eprintln!(
                "{tag} {family}: {} LUT4, {} carry, {} FF, {} BRAM (estimate {} LUT4, {} FF, {} EBR) in {:.1} s",
                r.lut4, r.carry, r.ff, r.bram, g.estimate.lut4, g.estimate.ff, g.estimate.bram, r.seconds
            );
            assert!(
                r.lut4 > 0 && r.ff > 0 && r.bram > 0,
                "{tag} {family}: {r:?}"
            );
        }
    }
}

/// A timing wrapper with three pins: every input of the top comes from a shift register
/// fed by `din`, every output is registered and XOR-reduced to `dout`, so nothing is
/// optimised away and the UP5K's 39 I/Os suffice (the board top with its UART is the
/// board flow's job).
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
        "module fmax_wrap (input wire clk, input wire din, output reg dout);\n  reg [{}:0] sr;\n  reg [3:0] rc = 4'hf;\n  always @(posedge clk) begin sr <= {{sr[{}:0], din}}; if (rc != 0) rc <= rc - 1'b1; end\n  wire rst = rc != 0;\n",
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

#[test]
fn digits_bnn_places_and_routes_on_up5k_and_ecp5_85f() {
    for (family, device, freq, reg_every) in [
        (Family::Ice40, "up5k", 48.0, 2),
        (Family::Ecp5, "85k", 150.0, 1),
    ] {
        let g = gen("examples/digits/bnn.yaml", reg_every, Some(4224));
        let (dir, mut files) = write(&g, &format!("digits-pnr-{family}"));
        std::fs::write(dir.join("fmax_wrap.v"), wrapper(&g)).unwrap();
        files.push(dir.join("fmax_wrap.v"));
        let o = SynthOptions::new(family, files, "fmax_wrap", dir.clone());
        let s = flow::synth(&o).unwrap_or_else(|e| panic!("{family}: {e}"));
        let mut p = PnrOptions::new(
            *Device::by_name(device).expect("device"),
            s.netlist.clone().expect("netlist"),
            dir,
        );
        p.freq_mhz = Some(freq);
        p.allow_timing_fail = true;
        let r = flow::pnr(&p).unwrap_or_else(|e| panic!("{family}: {e}"));
        let fmax = r.fmax_mhz.expect("a clock");
        let macs_per_cycle: u64 =
            g.estimate.engines.iter().map(|e| e.macs).sum::<u64>() / g.estimate.interval;
        eprintln!(
            "digits on {device}: Fmax {fmax:.1} MHz (target {freq}), logic {}/{}, BRAM {}/{}; {} LUT4 → {:.3} binary MACs/cycle/LUT4",
            r.logic.used,
            r.logic.available,
            r.bram.used,
            r.bram.available,
            s.lut4,
            macs_per_cycle as f64 / s.lut4 as f64
        );
        assert!(fmax > 0.0);
    }
}
