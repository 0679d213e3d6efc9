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

/// The shipped MNIST example (plain output) and the trained digits BNN (scale and bias)
/// on the engine: every image's last-layer sums and prediction, at exactly the estimated
/// interval (MNIST: 25,013 cycles, the figure docs/board-flow.md gives).
#[test]
fn examples_on_the_layer_sequential_engine_are_bit_exact() {
    for (path, interval) in [
        ("examples/mnist_bnn.yaml", Some(25_016)),
        ("examples/digits/bnn.yaml", None),
    ] {
        let net = load(path);
        let g = seq_design(&net);
        assert_eq!(g.design.engines.len(), 2, "the engine and the output layer");
        if let Some(i) = interval {
            assert_eq!(g.estimate.interval, i, "{path}");
        }
        let mut rng = Rng(11);
        let samples: Vec<Sample> = (0..6).map(|_| random_sample(&net, &mut rng)).collect();
        let mut s = NetSim::build(&g, &SimOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        s.load(&g.images);
        let rep = s.run(&net, &samples, Drive::default()).expect("runs");
        assert_eq!((rep.agree, rep.first_mismatch), (6, None), "{path}");
        let iv = rep.interval.expect("interval");
        let est = g.estimate.interval as f64;
        eprintln!("{path}: interval {iv} estimated {est}");
        assert!((iv - est).abs() < 0.5, "{path}: {iv} vs {est}");
    }
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
    // MNIST's plain output layer is computed by hdlgen_xnet (ARGMAX); with a scale and
    // bias it is hdlgen_argmax after the sums beat.
    let plain = load("examples/mnist_bnn.yaml");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/mnist_bnn.yaml");
    let text = std::fs::read_to_string(path).expect("example");
    let affine_yaml = text.replace(
        "output: {name: scores}",
        "output: {name: scores, scale: {random: 8}, bias: {random: 9}}",
    );
    assert_ne!(affine_yaml, text);
    let affine = Network::parse(hdlgen::spec::source::Source::new(
        "mnist_affine.yaml",
        affine_yaml,
        "",
    ))
    .expect("parses");
    for (what, net) in [("plain", &plain), ("affine", &affine)] {
        let g = seq_design(net);
        let mut d = hdlgen_sim::Design::new(g.top_name.clone());
        for (name, text) in g.verilog() {
            d = d.text(name.clone(), text.clone());
        }
        let warnings = hdlgen_sim::lint(&d, &[]).unwrap_or_else(|e| panic!("lint: {e}"));
        assert!(warnings.is_empty(), "{what}: {warnings:#?}");
    }
}

/// A random network of the form the layer-sequential engine runs: an integer image, a
/// first convolution (zero or no padding, 3×3 or 5×5, a pad value on signed images),
/// threshold and 2×2 pool; one or two binary convolutions (padding one, zero or none,
/// thresholds in either direction, pooled or not); flatten, a dense layer and the output
/// (plain or with scale and bias). Channel counts make the engine pick SIMD 8, 16 or 32
/// and PE 1 or 2.
fn random_yaml(seed: u64) -> String {
    let mut g = hdlgen::arith::SplitMix64::new(seed);
    let mut pick = |v: &[&'static str]| v[(g.next() % v.len() as u64) as usize];
    let hw = pick(&["8", "10", "12"]);
    let k1 = pick(&["3", "5"]);
    let pad1 = pick(&["zero", "none"]);
    let signed = pick(&["true", "false"]);
    let bits = pick(&["4", "6", "8"]);
    let f1 = pick(&["8", "16", "32"]);
    let f2 = pick(&["16", "32", "64"]);
    let mut pad2 = pick(&["one", "zero", "none"]);
    let dir = [
        pick(&["ge", "le"]),
        pick(&["ge", "le"]),
        pick(&["ge", "le"]),
    ];
    let mut pool2 = pick(&["yes", "no"]) == "yes";
    let third = pick(&["yes", "no"]) == "yes";
    let units = pick(&["4", "5", "10", "7"]);
    let affine = pick(&["yes", "no"]) == "yes";
    // Shapes that chain: the pooled map after c1 is at least 3 wide for a valid c2, and
    // c2's output at least 2 for its pool.
    let n: usize = hw.parse().expect("a size");
    let m1 = if pad1 == "none" {
        n + 1 - k1.parse::<usize>().expect("a size")
    } else {
        n
    } / 2;
    if pad2 == "none" && m1 < 3 {
        pad2 = "zero";
    }
    let m2 = if pad2 == "none" { m1 - 2 } else { m1 };
    pool2 &= m2 >= 2;
    let pv = if signed == "true" && pad1 == "zero" {
        ", pad_value: -3"
    } else {
        ""
    };
    let mut y = format!(
        "version: 1\nname: xr{seed}\ninput: {{shape: [{hw}, {hw}, 1], bits: {bits}, signed: {signed}}}\nlayers:\n  - binary_conv2d: {{name: c1, filters: {f1}, kernel: {k1}, padding: {pad1}{pv}, weights: {{random: {}}}}}\n  - threshold: {{name: t1, thresholds: {{random: {}}}, direction: {}}}\n  - maxpool: {{name: p1, size: 2}}\n  - binary_conv2d: {{name: c2, filters: {f2}, kernel: 3, padding: {pad2}, weights: {{random: {}}}}}\n  - threshold: {{name: t2, thresholds: {{random: {}}}, direction: {}}}\n",
        seed * 10 + 1,
        seed * 10 + 2,
        dir[0],
        seed * 10 + 3,
        seed * 10 + 4,
        dir[1]
    );
    if pool2 {
        y += "  - maxpool: {name: p2, size: 2}\n";
    }
    if third {
        y += &format!(
            "  - binary_conv2d: {{name: c3, filters: 16, kernel: 1, padding: none, weights: {{random: {}}}}}\n  - threshold: {{name: t3, thresholds: {{random: {}}}, direction: {}}}\n",
            seed * 10 + 5,
            seed * 10 + 6,
            dir[2]
        );
    }
    y += &format!(
        "  - flatten\n  - binary_dense: {{name: fc, units: {units}, weights: {{random: {}}}}}\n",
        seed * 10 + 7
    );
    y += if affine {
        "  - output: {name: o, scale: {random: 8}, bias: {random: 9}}\n"
    } else {
        "  - output: {name: o}\n"
    };
    y
}

/// The estimated interval is exact (without stalls).
#[test]
fn random_layer_sequential_networks_are_bit_exact_at_their_estimated_interval() {
    let n: u64 = std::env::var("HDLGEN_XNET_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let mut ran = 0;
    for seed in 0..n {
        let yaml = random_yaml(seed);
        let net = match Network::parse(hdlgen::spec::source::Source::new(
            format!("xr{seed}.yaml"),
            yaml.clone(),
            "",
        )) {
            Ok(n) => n,
            Err(e) => panic!("seed {seed}: {e:?}\n{yaml}"),
        };
        let x = match hdlgen::rtl::xseq::choose(&net) {
            Ok(x) => x,
            Err(e) => panic!("seed {seed}: no engine: {e}\n{yaml}"),
        };
        eprintln!(
            "seed {seed}: PE {} SIMD {} BA {}, {} runs, {} cycles",
            x.plan.pe,
            x.plan.simd,
            x.plan.ba,
            x.plan.runs.len(),
            x.interval(2)
        );
        let g = seq_design(&net);
        let mut rng = Rng(seed + 100);
        let samples: Vec<Sample> = (0..4).map(|_| random_sample(&net, &mut rng)).collect();
        let mut s = NetSim::build(&g, &SimOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        s.load(&g.images);
        let drive = Drive {
            stall_pct: if seed % 2 == 1 { 30 } else { 0 },
            seed,
        };
        let rep = s.run(&net, &samples, drive).expect("runs");
        assert_eq!(
            (rep.agree, rep.first_mismatch.clone()),
            (4, None),
            "seed {seed}\n{yaml}"
        );
        if drive.stall_pct == 0 {
            let iv = rep.interval.expect("interval");
            let est = g.estimate.interval as f64;
            eprintln!("seed {seed}: interval {iv}, estimated {est}");
            assert!(
                (iv - est).abs() < 0.5,
                "seed {seed}: measured interval {iv} vs estimated {est}\n{yaml}"
            );
        }
        ran += 1;
    }
    assert_eq!(ran, n);
}

/// A plan whose only run is the dense layer (no thresholds, so no threshold memory), with
/// 200 classes: the run of the next image waits while the classes leave the sums register
/// (Xnet::folded_interval); bit-exact and exact in interval.
#[test]
fn a_dense_only_plan_with_many_classes_is_exact() {
    let yaml =
        "version: 1\nname: xdense\ninput: {shape: [8, 8, 1], bits: 8, signed: false}\nlayers:\n\
  - binary_conv2d: {name: c1, filters: 32, kernel: 3, padding: zero, weights: {random: 1}}\n\
  - threshold: {name: t1, thresholds: {random: 2}, direction: ge}\n\
  - maxpool: {name: p1, size: 2}\n\
  - flatten\n\
  - binary_dense: {name: fc, units: 200, weights: {random: 3}}\n\
  - output: {name: o}\n";
    let net = Network::parse(hdlgen::spec::source::Source::new(
        "xdense.yaml",
        yaml.to_string(),
        "",
    ))
    .expect("parses");
    let g = seq_design(&net);
    let Some(hdlgen::rtl::lower::Kind::Seq(x)) = g.design.engines.first().map(|e| &e.kind) else {
        panic!("the layer-sequential engine")
    };
    assert_eq!(x.plan.runs.len(), 1);
    assert_eq!(x.plan.threshold_words, 0);
    assert!(
        x.folded_interval(2) > x.interval(2),
        "the classes' wait shows in the interval"
    );
    assert_eq!(g.estimate.interval as usize, x.folded_interval(2));
    let mut rng = Rng(5);
    let samples: Vec<Sample> = (0..4).map(|_| random_sample(&net, &mut rng)).collect();
    let mut s = NetSim::build(&g, &SimOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    s.load(&g.images);
    let rep = s.run(&net, &samples, Drive::default()).expect("runs");
    assert_eq!((rep.agree, rep.first_mismatch), (4, None));
    let iv = rep.interval.expect("interval");
    assert!(
        (iv - g.estimate.interval as f64).abs() < 0.5,
        "measured interval {iv} vs estimated {}",
        g.estimate.interval
    );
}

/// Without the top's registered range checks (`cfg_regs` off, so `hdlgen_xnet` checks
/// its own), a write past a memory's words that would alias a used word if its high
/// address bits were dropped changes nothing.
#[test]
fn writes_outside_a_memory_are_ignored() {
    let net = load("examples/mnist_bnn.yaml");
    let g = generate(
        &net,
        &GenOptions {
            taps: true,
            hex: false,
            seq: Some(SeqOptions { spram: true }),
            ..GenOptions::default()
        },
    )
    .expect("generates");
    let mut rng = Rng(13);
    let samples: Vec<Sample> = (0..2).map(|_| random_sample(&net, &mut rng)).collect();
    let mut s = NetSim::build(&g, &SimOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    s.load(&g.images);
    let (_, wb, lb) = g.design.cfg_fields();
    for (u, unit) in g.design.units.iter().enumerate() {
        // The next power of two above the depth, plus 1: word 1 with the top bits gone.
        let alias = unit.depth.next_power_of_two() as u64 + 1;
        if alias < 1 << wb {
            for lane in 0..unit.lanes() as u64 {
                s.write_cfg(
                    ((u as u64) << (wb + lb)) | (alias << lb) | lane,
                    0x5a5a_5a5a,
                );
            }
        }
    }
    let rep = s.run(&net, &samples, Drive::default()).expect("runs");
    assert_eq!((rep.agree, rep.first_mismatch), (2, None));
}
