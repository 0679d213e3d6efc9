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
            files.push(PathBuf::from(n));
        }
    }
    (d, files)
}

fn gen(path: &str, reg_every: usize, luts: u64) -> Generated {
    let net = Network::load(&root().join(path)).expect("loads");
    generate(
        &net,
        &GenOptions {
            lut_budget: Some(luts),
            reg_every,
            ..GenOptions::default()
        },
    )
    .expect("generates")
}

#[test]
fn every_example_bnn_synthesises_for_ice40_and_ecp5() {
    for (path, tag) in [
        ("examples/digits/bnn.yaml", "digits"),
        ("examples/mnist_bnn.yaml", "mnist"),
    ] {
        for family in [Family::Ice40, Family::Ecp5] {
            let g = gen(path, if family == Family::Ice40 { 2 } else { 1 }, 4224);
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

#[test]
fn digits_bnn_places_and_routes_on_up5k_and_ecp5_85f() {
    for (family, device, freq, reg_every) in [
        (Family::Ice40, "up5k", 48.0, 2),
        (Family::Ecp5, "85k", 150.0, 1),
    ] {
        let g = gen("examples/digits/bnn.yaml", reg_every, 4224);
        let (dir, files) = write(&g, &format!("digits-pnr-{family}"));
        let o = SynthOptions::new(family, files, g.top_name.clone(), dir.clone());
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
