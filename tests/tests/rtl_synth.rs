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

/// Prototype of a flow step this test measures (not yet in `flow::synth`): yosys maps
/// every memory to a DP16KD with its output register off (REGMODE NOREG: 5.6–5.8 ns
/// clock-to-out, more than a 150 MHz cycle leaves for routing), and the engines put a
/// flip-flop right behind each read port. This folds those flip-flops into the block's
/// output register (REGMODE OUTREG, OCE = their enable) when every used data output of
/// the port feeds exactly one such flip-flop (same clock, no set/reset, true-polarity or
/// no enable) and the port's reset is unused, which keeps the behaviour cycle for cycle.
/// Returns (read ports folded, read ports left as they are).
fn fold_dp16kd_output_registers(netlist: &Path, out: &Path) -> (usize, usize) {
    use serde_json::Value;
    let mut j: Value = serde_json::from_slice(&std::fs::read(netlist).unwrap()).unwrap();
    let top = j["modules"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, m)| m["attributes"]["top"].is_string())
        .map(|(n, _)| n.clone())
        .expect("a top module");
    let m = j["modules"][&top].as_object_mut().unwrap();
    // Loads of every net bit: cell inputs and the module's outputs.
    let mut loads: std::collections::HashMap<u64, Vec<(String, String)>> = Default::default();
    for (n, c) in m["cells"].as_object().unwrap() {
        for (p, bits) in c["connections"].as_object().unwrap() {
            if c["port_directions"][p] == "output" {
                continue;
            }
            for b in bits.as_array().unwrap().iter().filter_map(Value::as_u64) {
                loads.entry(b).or_default().push((n.clone(), p.clone()));
            }
        }
    }
    for (pn, port) in m["ports"].as_object().unwrap() {
        if port["direction"] != "input" {
            for b in port["bits"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_u64)
            {
                loads.entry(b).or_default().push(("".into(), pn.clone()));
            }
        }
    }
    let cells = m.get_mut("cells").unwrap().as_object_mut().unwrap();
    let brams: Vec<String> = cells
        .iter()
        .filter(|(_, c)| c["type"] == "DP16KD")
        .map(|(n, _)| n.clone())
        .collect();
    let (mut folded, mut left) = (0, 0);
    for b in brams {
        for x in ["A", "B"] {
            let c = &cells[&b];
            let conn = &c["connections"];
            let used: Vec<(String, u64)> = (0..18)
                .filter_map(|i| {
                    let p = format!("DO{x}{i}");
                    let bit = conn[&p][0].as_u64()?;
                    loads.contains_key(&bit).then_some((p, bit))
                })
                .collect();
            if used.is_empty() {
                continue;
            }
            let mut ok = conn[format!("RST{x}")][0] == "0"
                && c["parameters"][format!("REGMODE_{x}")] == "NOREG";
            let mut ce: Option<Value> = None;
            let mut ffs = vec![];
            for (p, bit) in &used {
                let l = &loads[bit];
                let f = (l.len() == 1 && l[0].1 == "DI")
                    .then(|| &cells[&l[0].0])
                    .filter(|f| f["type"] == "TRELLIS_FF");
                let Some(f) = f else {
                    ok = false;
                    break;
                };
                let pr = &f["parameters"];
                let this_ce = match pr["CEMUX"].as_str().map(str::trim) {
                    Some("CE") => f["connections"]["CE"].clone(),
                    Some("1") => serde_json::json!(["1"]),
                    _ => Value::Null,
                };
                if f["connections"]["CLK"] != conn[format!("CLK{x}")]
                    || f["connections"]["LSR"][0] != "0"
                    || pr["REGSET"].as_str().unwrap_or("RESET") != "RESET"
                    || pr["CLKMUX"].as_str().unwrap_or("CLK") != "CLK"
                    || this_ce.is_null()
                    || ce.as_ref().is_some_and(|c| *c != this_ce)
                {
                    ok = false;
                    break;
                }
                ce = Some(this_ce);
                ffs.push((p.clone(), l[0].0.clone()));
            }
            if !ok {
                left += 1;
                continue;
            }
            for (p, f) in &ffs {
                let q = cells[f]["connections"]["Q"].clone();
                cells[&b]["connections"][p] = q;
                cells.remove(f);
            }
            let c = &mut cells[&b];
            c["parameters"][format!("REGMODE_{x}")] = "OUTREG".into();
            c["connections"][format!("OCE{x}")] = ce.unwrap();
            folded += 1;
        }
    }
    std::fs::write(out, serde_json::to_vec(&j).unwrap()).unwrap();
    (folded, left)
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
        let g = gen("examples/digits/bnn.yaml", reg_every, Some(4224));
        let (dir, mut files) = write(&g, &format!("digits-pnr-{device}"));
        std::fs::write(dir.join("fmax_wrap.v"), wrapper(&g)).unwrap();
        files.push(dir.join("fmax_wrap.v"));
        let o = SynthOptions::new(family, files, "fmax_wrap", dir.clone());
        let s = flow::synth(&o).unwrap_or_else(|e| panic!("{device}: {e}"));
        let macs_per_cycle: u64 =
            g.estimate.engines.iter().map(|e| e.macs).sum::<u64>() / g.estimate.interval;
        let netlist = s.netlist.clone().expect("netlist");
        // ECP5: also with the block-RAM output registers folded (see the prototype).
        let mut variants = vec![("", netlist.clone())];
        if family == Family::Ecp5 {
            let f = dir.join("top_oreg.json");
            let (folded, left) = fold_dp16kd_output_registers(&netlist, &f);
            eprintln!("{device}: {folded} DP16KD read ports folded into OUTREG, {left} left");
            assert!(folded > 0 && left == 0, "every read port has its flip-flop");
            variants.push((" +OUTREG", f));
        }
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
