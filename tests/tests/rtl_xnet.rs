//! Generated layer-sequential designs (`hdlgen_xnet`, `rtl::lower::lower_seq`) in
//! Verilator against the reference model: every image's sums of the last layer (the tap
//! into the output layer) and its prediction, the measured interval against the
//! estimate, back-pressure, and lint.

use hdlgen::cosim::{Drive, NetSim, SimOptions};
use hdlgen::input::Sample;
use hdlgen::rtl::gen::{generate, GenOptions, Generated, SeqOptions};
use hdlgen::Network;
use hdlgen_tests::check::{random_sample, Rng};

fn load(path: &str) -> Network {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    Network::load(&p).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn seq_design(net: &Network) -> Generated {
    generate(
        net,
        &GenOptions {
            taps: true,
            hex: false,
            cfg_regs: true,
            seq: Some(SeqOptions { spram: true }),
            ..GenOptions::default()
        },
    )
    .expect("generates")
}

#[test]
fn mnist_on_the_layer_sequential_engine_is_bit_exact() {
    let net = load("examples/mnist_bnn.yaml");
    let g = seq_design(&net);
    assert_eq!(g.design.engines.len(), 2, "the engine and the output layer");
    let mut rng = Rng(11);
    let samples: Vec<Sample> = (0..6).map(|_| random_sample(&net, &mut rng)).collect();
    let mut s = NetSim::build(&g, &SimOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    s.load(&g.images);
    let rep = s.run(&net, &samples, Drive::default()).expect("runs");
    assert_eq!((rep.agree, rep.first_mismatch), (6, None));
    let iv = rep.interval.expect("interval");
    eprintln!("interval {iv} estimated {}", g.estimate.interval);
    assert!((iv - g.estimate.interval as f64).abs() <= 0.02 * g.estimate.interval as f64);
}

#[test]
fn mnist_layer_sequential_under_back_pressure_and_a_corrupted_weight() {
    let net = load("examples/mnist_bnn.yaml");
    let g = seq_design(&net);
    let mut rng = Rng(12);
    let samples: Vec<Sample> = (0..4).map(|_| random_sample(&net, &mut rng)).collect();
    let mut s = NetSim::build(&g, &SimOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    s.load(&g.images);
    let rep = s
        .run(
            &net,
            &samples,
            Drive {
                stall_pct: 40,
                seed: 3,
            },
        )
        .expect("runs");
    assert_eq!((rep.agree, rep.first_mismatch), (4, None), "stalls");
    // Flip lane 0 of fc's first weight word (in the sequencer's weights): its sums must
    // disagree, and the report names the layer.
    let wu = g
        .design
        .units
        .iter()
        .position(|u| u.kind == hdlgen::rtl::lower::UnitKind::Weights)
        .expect("weights");
    let (_, wb, lb) = g.design.cfg_fields();
    let Some(hdlgen::rtl::lower::Kind::Seq(x)) = g.design.engines.first().map(|e| &e.kind) else {
        panic!("a layer-sequential engine")
    };
    let word = x.plan.runs.last().expect("runs").desc.wbase;
    let v = g.images[wu].words[word][0];
    s.write_cfg(((wu as u64) << (wb + lb)) | ((word as u64) << lb), !v);
    let rep = s.run(&net, &samples, Drive::default()).expect("runs");
    let m = rep.first_mismatch.expect("a corrupted weight shows");
    assert_eq!(m.layer, "fc", "{m:?}");
    assert!(rep.agree < 4);
}

#[test]
fn generated_layer_sequential_top_is_lint_clean() {
    let net = load("examples/mnist_bnn.yaml");
    let g = seq_design(&net);
    let mut d = hdlgen_sim::Design::new(g.top_name.clone());
    for (name, text) in g.verilog() {
        d = d.text(name.clone(), text.clone());
    }
    let warnings = hdlgen_sim::lint(&d, &[]).unwrap_or_else(|e| panic!("lint: {e}"));
    assert!(warnings.is_empty(), "{warnings:#?}");
}
