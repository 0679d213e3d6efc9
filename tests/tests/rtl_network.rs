//! Whole networks in Verilator against the reference model: every example BNN, random
//! BNNs (structures × weight sets, one build per structure), the estimated against the
//! measured cycles, a planted weight-bit error, and lint of the generated Verilog.
//!
//! `HDLGEN_RTL_CASES` (default 300) sets how many random weight/input sets run;
//! `HDLGEN_RTL_STRUCTURES` (default 12) how many random structures they are spread over.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use hdlgen::arith::SplitMix64;
use hdlgen::cosim::{Drive, NetSim, SimOptions};
use hdlgen::input::{self, Sample};
use hdlgen::layers::Op;
use hdlgen::rtl::gen::{generate, GenOptions, Generated};
use hdlgen::rtl::params::cfg_writes;
use hdlgen::tensor::ValType;
use hdlgen::Network;
use hdlgen_tests::check::{random_sample, Rng};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn env_usize(k: &str, default: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sim_options() -> GenOptions {
    GenOptions {
        taps: true,
        hex: false,
        ..GenOptions::default()
    }
}

fn build(g: &Generated) -> NetSim {
    NetSim::build(g, &SimOptions::default()).unwrap_or_else(|e| panic!("build: {e}"))
}

/// The measured interval (a run's `Report::interval`) within 2 % of the estimate; returns
/// (measured, estimated).
fn interval_near_estimate(measured: Option<f64>, g: &Generated) -> (f64, f64) {
    let iv = measured.expect("interval");
    let est = g.estimate.interval as f64;
    assert!(
        (iv - est).abs() <= 0.02 * est,
        "measured interval {iv} vs estimated {est}"
    );
    (iv, est)
}

/// Back-pressure on both ends changes timing, never results: the first 20 `samples`
/// again with 40 % stalls.
fn stalls_change_nothing(s: &mut NetSim, net: &Network, samples: &[Sample], seed: u64) {
    let rep = s
        .run(
            net,
            &samples[..20],
            Drive {
                stall_pct: 40,
                seed,
            },
        )
        .expect("runs");
    assert_eq!((rep.agree, rep.first_mismatch), (20, None));
}

/// An example BNN at a logic-cell budget (a board's `network_budget`).
fn example_at(path: &str, budget: u64) -> (Network, Generated) {
    let net = Network::load(&root().join(path)).expect("example loads");
    let g = generate(
        &net,
        &GenOptions {
            lut_budget: Some(budget),
            ..sim_options()
        },
    )
    .expect("generates");
    (net, g)
}

/// An example BNN with the budget of the default board (iCEBreaker).
fn example(path: &str) -> (Network, Generated) {
    example_at(path, 5280 * 4 / 5)
}

/// An example as `build --board ulx3s-85f [--luts N]` plans it (its `board_gen_options`),
/// with taps and without hex files.
fn example_on_85f(path: &str, luts: Option<u64>) -> (Network, GenOptions, Generated) {
    let net = Network::load(&root().join(path)).expect("example loads");
    let board = hdlgen::flow::Board::by_name("ulx3s-85f").expect("board");
    let opts = hdlgen::build::board_gen_options(board.device(), luts);
    let g = generate(
        &net,
        &GenOptions {
            taps: true,
            hex: false,
            ..opts.clone()
        },
    )
    .expect("generates");
    (net, opts, g)
}

/// The generated network top's Verilog.
fn top_of(g: &Generated) -> &str {
    &g.files
        .iter()
        .find(|(n, _)| n.ends_with("_top.v"))
        .expect("top")
        .1
}

#[test]
fn digits_bnn_is_bit_exact_on_all_test_images() {
    let (net, g) = example("examples/digits/bnn.yaml");
    let batch = input::load(&net, &root().join("examples/digits/test.npz")).expect("test set");
    assert_eq!(batch.samples.len(), 360);
    let mut s = build(&g);
    s.load(&g.images);
    let t = Instant::now();
    let rep = s.run(&net, &batch.samples, Drive::default()).expect("runs");
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(rep.first_mismatch, None);
    assert_eq!(rep.agree, 360);
    let labels = batch.labels.expect("labels");
    let correct = rep
        .predictions
        .iter()
        .zip(&labels)
        .filter(|(p, &y)| **p == Some(y as usize))
        .count();
    assert_eq!(correct, 349, "README's accuracy, now from the hardware");
    let (iv, est) = interval_near_estimate(rep.interval, &g);
    eprintln!(
        "digits: {} cycles in {secs:.2} s = {:.2} M cycles/s; interval {iv} (est {est})",
        rep.cycles,
        rep.cycles as f64 / secs / 1e6
    );
    stalls_change_nothing(&mut s, &net, &batch.samples, 7);
}

/// Names of the compute engines whose window generator `pick` selects.
fn engines_where(g: &Generated, pick: impl Fn(&hdlgen::rtl::lower::Swg) -> bool) -> Vec<String> {
    g.design
        .engines
        .iter()
        .filter(|e| matches!(&e.kind, hdlgen::rtl::lower::Kind::Mvau { swg, .. } if pick(swg)))
        .map(|e| e.name.clone())
        .collect()
}

/// Names of the engines whose window generator is `hdlgen_winbuf` (simd = whole window).
fn winbuf_engines(g: &Generated) -> Vec<String> {
    engines_where(g, |s| s.whole_window())
}

/// Names of the engines whose windows are split by `hdlgen_chunk` (several taps a beat).
fn chunked_engines(g: &Generated) -> Vec<String> {
    engines_where(g, |s| s.window_chunks().is_some())
}

#[test]
fn mnist_bnn_is_bit_exact() {
    // Too big for a UP5K (5,272 logic cells and 95 EBR at the smallest folding): the
    // design `build --board ulx3s-85f --luts 71000` makes (tree pipelining and per-engine
    // configuration registers), where conv1 (Cin = 1) and conv2 take a whole window per
    // cycle: 900 cycles per image. (At 80 % of the part, 66,262, the default before
    // FILL_85K, the search picked it until the estimate counted the MVAUs' weight and
    // threshold read registers; at 70,000 until it counted EN_PIPE's FIFO entries.)
    let (net, opts, g) = example_on_85f("examples/mnist_bnn.yaml", Some(71_000));
    assert!(opts.cfg_regs && opts.reg_every == 1);
    let top = top_of(&g);
    assert!(
        top.contains("_cfg_we_u"),
        "per-engine configuration registers"
    );
    assert!(
        top.contains("CFG_REG"),
        "registered strobes of flip-flop weights"
    );
    assert_eq!(winbuf_engines(&g), ["conv1_bn1", "conv2_bn2"]);
    let mut rng = Rng(5);
    let samples: Vec<Sample> = (0..100).map(|_| random_sample(&net, &mut rng)).collect();
    let mut s = build(&g);
    s.load(&g.images);
    let rep = s.run(&net, &samples, Drive::default()).expect("runs");
    assert_eq!((rep.agree, rep.first_mismatch), (100, None));
    interval_near_estimate(rep.interval, &g);
}

/// MNIST at the folding `build --board ulx3s-85f` makes (60 % of the part, FILL_85K):
/// conv2 at 32 × 96 (three taps a beat: whole windows split by `hdlgen_chunk`, 1,176
/// cycles per image).
#[test]
fn mnist_bnn_with_three_taps_per_beat_is_bit_exact() {
    let (net, _, g) = example_on_85f("examples/mnist_bnn.yaml", None);
    assert_eq!(chunked_engines(&g), ["conv2_bn2"]);
    assert_eq!(g.estimate.interval, 1176);
    let mut rng = Rng(6);
    let samples: Vec<Sample> = (0..40).map(|_| random_sample(&net, &mut rng)).collect();
    let mut s = build(&g);
    s.load(&g.images);
    let rep = s.run(&net, &samples, Drive::default()).expect("runs");
    assert_eq!((rep.agree, rep.first_mismatch), (40, None));
    interval_near_estimate(rep.interval, &g);
    stalls_change_nothing(&mut s, &net, &samples, 10);
}

/// The digits BNN with each (from, to) of `edits` made to its YAML, loaded as `file` from a
/// temporary directory (its weight files still read from examples/digits).
fn digits_edited(file: &str, edits: &[(&str, &str)]) -> Network {
    let digits = root().join("examples/digits");
    let mut yaml = std::fs::read_to_string(digits.join("bnn.yaml")).expect("yaml");
    for (from, to) in edits {
        yaml = yaml.replace(from, to);
    }
    let yaml = yaml.replace("bnn_", &format!("{}/bnn_", digits.display()));
    let dir = tempfile::tempdir_in(root().join("target")).expect("temp dir");
    let p = dir.path().join(file);
    std::fs::write(&p, yaml).expect("write");
    Network::load(&p).unwrap_or_else(|e| panic!("{e:?}"))
}

/// The digits BNN with whole-window foldings written in the YAML (conv1 simd 9 on its
/// integer input, conv2 simd 144, the dense layer simd 128 over its 2×2×32 map): bit-exact
/// on all 360 test images, at the estimated interval.
#[test]
fn digits_bnn_with_whole_window_foldings_is_bit_exact() {
    let net = digits_edited(
        "whole.yaml",
        &[
            ("name: conv1,", "name: conv1, pe: 4, simd: 9,"),
            ("name: conv2,", "name: conv2, pe: 2, simd: 144,"),
            ("name: fc,", "name: fc, pe: 5, simd: 128,"),
        ],
    );
    let g = generate(&net, &sim_options()).expect("generates");
    assert_eq!(winbuf_engines(&g), ["conv1_bn1", "conv2_bn2", "fc"]);
    let batch = input::load(&net, &root().join("examples/digits/test.npz")).expect("test set");
    let mut s = build(&g);
    s.load(&g.images);
    let rep = s.run(&net, &batch.samples, Drive::default()).expect("runs");
    assert_eq!((rep.agree, rep.first_mismatch), (360, None));
    let (iv, est) = interval_near_estimate(rep.interval, &g);
    eprintln!("digits whole-window: interval {iv} (estimate {est})");
    stalls_change_nothing(&mut s, &net, &batch.samples, 9);
}

/// The digits BNN with several taps per beat written in the YAML (conv1 simd 3, a kernel
/// row of its integer input; conv2 simd 48, three of its 16-channel taps; the dense layer
/// simd 64, two of the 4 pixels of its 2×2×32 map): whole windows split by
/// `hdlgen_chunk`, bit-exact on all 360 test images, at the estimated interval.
#[test]
fn digits_bnn_with_several_taps_per_beat_is_bit_exact() {
    let net = digits_edited(
        "taps.yaml",
        &[
            ("name: conv1,", "name: conv1, pe: 4, simd: 3,"),
            ("name: conv2,", "name: conv2, pe: 2, simd: 48,"),
            ("name: fc,", "name: fc, pe: 5, simd: 64,"),
        ],
    );
    let g = generate(&net, &sim_options()).expect("generates");
    assert_eq!(chunked_engines(&g), ["conv1_bn1", "conv2_bn2", "fc"]);
    let batch = input::load(&net, &root().join("examples/digits/test.npz")).expect("test set");
    let mut s = build(&g);
    s.load(&g.images);
    let rep = s.run(&net, &batch.samples, Drive::default()).expect("runs");
    assert_eq!((rep.agree, rep.first_mismatch), (360, None));
    let (iv, est) = interval_near_estimate(rep.interval, &g);
    eprintln!("digits several taps a beat: interval {iv} (estimate {est})");
    stalls_change_nothing(&mut s, &net, &batch.samples, 11);
}

/// The digits BNN with `edits` to its YAML, at a UP5K's default budget as the simulator
/// builds it.
fn digits_edited_up5k(file: &str, edits: &[(&str, &str)]) -> (Network, GenOptions, Generated) {
    let net = digits_edited(file, edits);
    let opts = GenOptions {
        lut_budget: Some(5280 * 4 / 5),
        ..sim_options()
    };
    let g = generate(&net, &opts).expect("generates");
    (net, opts, g)
}

/// Loads `g`'s parameters over the configuration bus and checks all 360 digits test
/// images bit-exact; returns the simulator for more runs.
fn exact_on_digits_test_set(net: &Network, g: &Generated) -> (NetSim, Vec<Sample>) {
    let batch = input::load(net, &root().join("examples/digits/test.npz")).expect("test set");
    let mut s = build(g);
    s.load(&g.images);
    let rep = s.run(net, &batch.samples, Drive::default()).expect("runs");
    assert_eq!((rep.agree, rep.first_mismatch), (360, None));
    interval_near_estimate(rep.interval, g);
    (s, batch.samples)
}

/// `store: logic` on two layers: their weights become constants in the Verilog (no
/// configuration unit, no block RAM) and the network stays bit-exact.
#[test]
fn logic_stored_weights_are_bit_exact() {
    let (net, _, g) = digits_edited_up5k(
        "logic.yaml",
        &[
            ("name: conv1,", "name: conv1, store: logic,"),
            ("name: fc,", "name: fc, store: logic,"),
        ],
    );
    let names: Vec<&str> = g
        .design
        .units
        .iter()
        .filter(|u| u.kind == hdlgen::rtl::lower::UnitKind::Weights)
        .map(|u| g.design.engines[u.engine].name.as_str())
        .collect();
    assert_eq!(names, ["conv2_bn2"], "only conv2's weights stay loadable");
    assert_eq!(top_of(&g).matches(".STORE(1)").count(), 2);
    exact_on_digits_test_set(&net, &g);
}

/// `store: spram` on two layers: their weight memories become single-port SPRAM (no
/// initial contents; the configuration bus writes them, as a host does after
/// configuration) and the network stays bit-exact, with and without back-pressure.
#[test]
fn spram_stored_weights_are_bit_exact() {
    let (net, opts, g) = digits_edited_up5k(
        "spram.yaml",
        &[
            ("name: conv2,", "name: conv2, store: spram,"),
            ("name: fc,", "name: fc, store: spram,"),
        ],
    );
    let spram: Vec<&str> = g
        .design
        .units
        .iter()
        .filter(|u| u.spram)
        .map(|u| g.design.engines[u.engine].name.as_str())
        .collect();
    assert_eq!(spram, ["conv2_bn2", "fc"]);
    assert!(g.estimate.spram >= 2, "{:?}", g.estimate);
    assert_eq!(top_of(&g).matches(".W_SPRAM(1)").count(), 2);
    // With hex images, the SPRAM memories still start empty: conv1's weights alone come
    // from an init file.
    let hex = generate(&net, &GenOptions { hex: true, ..opts }).expect("generates");
    let top = top_of(&hex);
    assert_eq!(top.matches(".W_INIT(\"\")").count(), 2, "{top}");
    let (mut s, samples) = exact_on_digits_test_set(&net, &g);
    stalls_change_nothing(&mut s, &net, &samples, 13);
}

/// One flipped weight bit, written over the configuration bus, is reported at the layer,
/// image and element where the reference with the same flipped weight first differs.
#[test]
fn a_corrupted_weight_bit_is_caught_where_it_bites() {
    let (net, g) = example("examples/digits/bnn.yaml");
    let batch = input::load(&net, &root().join("examples/digits/test.npz")).expect("test set");
    let samples = &batch.samples[..40];
    // conv2 output channel 5, window element 70 (= tap (1, 1), input channel 6).
    let (layer, o, k) = (3usize, 5usize, 70usize);
    let Op::BinaryConv2d(conv) = &net.layers[layer].op else {
        panic!("layer 3 is conv2")
    };
    // The reference with the flipped weight: the same YAML with conv2's weights inline.
    let mut w = conv.weights.data.clone();
    let mw = w.len() / conv.filters;
    w[o * mw + k] = -w[o * mw + k];
    let inline = format!("weights: {}", nested(&w, &[32, 3, 3, 16]));
    let mutated = digits_edited("mutated.yaml", &[("weights: bnn_conv2_w.npy", &inline)]);
    let mut expect = None;
    'find: for (i, s) in samples.iter().enumerate() {
        let (a, b) = (net.run(s, true), mutated.run(s, true));
        let (ta, tb) = (a.trace.unwrap(), b.trace.unwrap());
        // bn2 (layer 4) is where the fused engine's stream becomes visible.
        for (idx, (x, y)) in ta[4].data.iter().zip(&tb[4].data).enumerate() {
            if x != y {
                expect = Some((i, idx, *x));
                break 'find;
            }
        }
    }
    let (img, idx, want) = expect.expect("the flip changes some output in 40 images");

    // Flip the same bit in the hardware's weight memory.
    let mut s = build(&g);
    s.load(&g.images);
    let unit = g
        .design
        .units
        .iter()
        .position(|u| g.design.engines[u.engine].first == layer)
        .expect("conv2 weights");
    let hdlgen::rtl::lower::Kind::Mvau { mvau: m, .. } =
        &g.design.engines[g.design.units[unit].engine].kind
    else {
        panic!("conv2 is an MVAU")
    };
    let (nf, p, sf, i) = (o / m.pe, o % m.pe, k / m.simd, k % m.simd);
    let (word, bit) = (nf * m.sf() + sf, p * m.simd + i);
    let mut images = g.images.clone();
    images[unit].words[word][bit / 32] ^= 1 << (bit % 32);
    let writes = cfg_writes(&g.design, &images);
    let orig = cfg_writes(&g.design, &g.images);
    let changed: Vec<_> = writes.iter().zip(&orig).filter(|(a, b)| a != b).collect();
    assert_eq!(changed.len(), 1);
    s.write_cfg(changed[0].0 .0, changed[0].0 .1);
    let rep = s.run(&net, samples, Drive::default()).expect("runs");
    let m = rep.first_mismatch.expect("the flipped bit is caught");
    let sh = net.layers[4].output.shape;
    assert_eq!(
        (m.layer.as_str(), m.image, m.index, m.c, m.expected),
        ("bn2", img, idx, o, want),
        "reported {m}"
    );
    assert_eq!((m.y * sh.w + m.x) * sh.c + m.c, idx);
    eprintln!("caught: {m}");
}

/// Writes outside every memory (each unit's words past its depth, lanes past its width,
/// unit numbers past the last) change nothing, in the design `build --board ulx3s-85f`
/// makes: there the top range-checks the write strobes as it registers them and the
/// engines leave their own checks out (`CFG_CHECKED`), so a word past the end would
/// otherwise alias one in range (its high bits dropped).
#[test]
fn out_of_range_configuration_writes_change_nothing() {
    let (net, opts, g) = example_on_85f("examples/digits/bnn.yaml", None);
    assert!(opts.cfg_regs && opts.replicate);
    assert!(top_of(&g).contains(".CFG_CHECKED(1)"));
    let (ub, wb, lb) = g.design.cfg_fields();
    let addr =
        |u: usize, w: usize, l: usize| ((u as u64) << (wb + lb)) | ((w as u64) << lb) | l as u64;
    let mut rng = SplitMix64::new(17);
    let mut s = build(&g);
    s.load(&g.images);
    let mut junk = 0;
    for (u, unit) in g.design.units.iter().enumerate() {
        for w in unit.depth..1 << wb {
            for l in 0..unit.lanes().min(2) {
                s.write_cfg(addr(u, w, l), rng.next() as u32);
                junk += 1;
            }
        }
        for w in 0..unit.depth.min(2) {
            for l in unit.lanes()..1 << lb {
                s.write_cfg(addr(u, w, l), rng.next() as u32);
                junk += 1;
            }
        }
    }
    for u in g.design.units.len()..1 << ub {
        s.write_cfg(addr(u, 0, 0), rng.next() as u32);
        junk += 1;
    }
    assert!(junk > 100, "{junk} writes");
    let batch = input::load(&net, &root().join("examples/digits/test.npz")).expect("test set");
    let rep = s
        .run(&net, &batch.samples[..60], Drive::default())
        .expect("runs");
    assert_eq!((rep.agree, rep.first_mismatch), (60, None));
}

// ---------------------------------------------------------------------------------
// Random networks
// ---------------------------------------------------------------------------------

/// A random BNN structure as YAML, with `@T<n>`, `@D<n>`, `@S`, `@B`, `@W<n>` standing
/// for thresholds, directions, scales, biases and weights (filled per weight set).
fn structure(seed: u64) -> String {
    let mut r = Rng(seed);
    let mut y = String::from("version: 1\nname: rtl-random\n");
    let pick = |r: &mut Rng, v: &[usize]| v[r.below(v.len() as u64) as usize];
    let divisor = |r: &mut Rng, n: usize| {
        let d: Vec<usize> = (1..=n).filter(|d| n.is_multiple_of(*d)).collect();
        // 1, all, or any divisor.
        match r.below(3) {
            0 => 1,
            1 => n,
            _ => pick(r, &d),
        }
    };
    // Whole-window foldings (simd = K_H·K_W·Cin, `hdlgen_winbuf`), and some with several
    // but not all taps a beat (`hdlgen_chunk` behind it), from a generator of their own,
    // so the structures are otherwise those of the divisor-only foldings.
    let mut ww = Rng(seed ^ 0x3171_0000);
    let mut simd = |r: &mut Rng, taps: usize, c: usize| {
        let d = divisor(r, c);
        if taps > 1 && ww.chance(0.35) {
            let ks: Vec<usize> = (2..taps).filter(|&k| taps.is_multiple_of(k)).collect();
            if !ks.is_empty() && ww.chance(0.4) {
                ks[ww.below(ks.len() as u64) as usize] * c
            } else {
                taps * c
            }
        } else {
            d
        }
    };
    let vector = r.chance(0.15);
    let (mut h, mut w, mut c) = if vector {
        (1, 1, r.range(1, 12) as usize)
    } else {
        (
            r.range(1, 7) as usize,
            r.range(1, 7) as usize,
            r.range(1, 4) as usize,
        )
    };
    let mut binary = r.chance(0.4);
    let first_int = !binary;
    if binary {
        if vector {
            writeln!(y, "input: {{shape: [{c}], binary: true}}").unwrap();
        } else {
            writeln!(y, "input: {{shape: [{h}, {w}, {c}], binary: true}}").unwrap();
        }
    } else {
        let bits = r.range(1, 8);
        let signed = bits >= 2 && r.chance(0.4);
        if vector {
            writeln!(y, "input: {{shape: [{c}], bits: {bits}, signed: {signed}}}").unwrap();
        } else {
            writeln!(
                y,
                "input: {{shape: [{h}, {w}, {c}], bits: {bits}, signed: {signed}}}"
            )
            .unwrap();
        }
    }
    y.push_str("layers:\n");
    let mut n = 0;
    let mut tn = 0;
    if !vector && !binary && r.chance(0.15) {
        let s = r.range(1, 2.min(h.min(w)) as i64) as usize;
        writeln!(y, "  - maxpool: {{size: {s}}}").unwrap();
        (h, w) = (h / s, w / s);
    }
    if !binary && r.chance(0.1) {
        writeln!(
            y,
            "  - threshold: {{thresholds: @T{tn}, direction: @D{tn}}}"
        )
        .unwrap();
        tn += 1;
        binary = true;
    }
    let nconv = if vector { 0 } else { r.below(3) };
    for li in 0..nconv {
        let filters = r.range(1, 6) as usize;
        let kh = r.range(1, 3) as usize;
        let kw = if r.chance(0.3) {
            r.range(1, 3) as usize
        } else {
            kh
        };
        let stride = pick(&mut r, &[1, 1, 2, 3]);
        let fits = kh <= h && kw <= w;
        let mut pad = if binary {
            pick(&mut r, &[0, 1, 2])
        } else {
            pick(&mut r, &[0, 2])
        };
        if pad == 2 && !fits {
            pad = 0;
        }
        let pname = ["zero", "one", "none"][pad];
        let pe = divisor(&mut r, filters);
        let mut opts = format!(
            "name: conv{li}, filters: {filters}, kernel: [{kh}, {kw}], stride: {stride}, padding: {pname}, pe: {pe}, simd: {}",
            simd(&mut r, kh * kw, c)
        );
        if !binary && pad == 0 && r.chance(0.5) && n == 0 && first_int {
            write!(opts, ", pad_value: {}", r.range(-20, 20)).unwrap();
        }
        writeln!(y, "  - binary_conv2d: {{{opts}, weights: @W{n}}}").unwrap();
        n += 1;
        (h, w) = if pad == 2 {
            ((h - kh) / stride + 1, (w - kw) / stride + 1)
        } else {
            (h.div_ceil(stride), w.div_ceil(stride))
        };
        c = filters;
        binary = false;
        if r.chance(0.8) {
            writeln!(
                y,
                "  - threshold: {{thresholds: @T{tn}, direction: @D{tn}}}"
            )
            .unwrap();
            tn += 1;
            binary = true;
        }
        if r.chance(0.4) && h >= 1 && w >= 1 {
            let s = r.range(1, 2.min(h.min(w)) as i64) as usize;
            let st = if r.chance(0.3) {
                r.range(1, s as i64 + 1) as usize
            } else {
                s
            };
            writeln!(y, "  - maxpool: {{size: {s}, stride: {st}}}").unwrap();
            (h, w) = ((h - s) / st + 1, (w - s) / st + 1);
        }
    }
    if !vector {
        y.push_str("  - flatten\n");
    }
    let hidden = r.below(2);
    for li in 0..=hidden {
        let units = r.range(1, 6) as usize;
        let pe = divisor(&mut r, units);
        // After flatten the window is the whole h×w map (a vector: one tap).
        let taps = h * w;
        writeln!(
            y,
            "  - binary_dense: {{name: fc{li}, units: {units}, pe: {pe}, simd: {}, weights: @W{n}}}",
            simd(&mut r, taps, c)
        )
        .unwrap();
        n += 1;
        (h, w, c) = (1, 1, units);
        if li < hidden {
            writeln!(
                y,
                "  - threshold: {{thresholds: @T{tn}, direction: @D{tn}}}"
            )
            .unwrap();
            tn += 1;
        }
    }
    let _ = (h, w);
    // A third without scale and bias: the plain output layer (hdlgen_argmax_plain).
    if r.chance(0.33) {
        y.push_str("  - output\n");
    } else {
        y.push_str("  - output: {scale: @S, bias: @B}\n");
    }
    y
}

/// A nested YAML list of `v` in `shape`.
fn nested(v: &[i64], shape: &[usize]) -> String {
    if shape.len() == 1 {
        return list(v);
    }
    let n = v.len() / shape[0];
    format!(
        "[{}]",
        v.chunks(n)
            .map(|c| nested(c, &shape[1..]))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn list(v: &[i64]) -> String {
    format!(
        "[{}]",
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Fills a structure: first with `{random}` parameters (to learn the value ranges), then
/// with explicit thresholds (including the edges), directions, scales and biases.
fn instantiate(template: &str, seed: u64, dir: &Path) -> Network {
    let load = |text: &str| {
        let p = dir.join(format!("net{seed}.yaml"));
        std::fs::write(&p, text).expect("write");
        Network::load(&p).unwrap_or_else(|e| panic!("{e:?}\n{text}"))
    };
    let mut t = template.to_string();
    for i in (0..16).rev() {
        t = t
            .replace(&format!("@W{i}"), &format!("{{random: {}}}", seed * 31 + i))
            .replace(&format!("@T{i}"), "{random: 1}")
            .replace(&format!("@D{i}"), "{random: 2}");
    }
    let probe = load(&t.replace("@S", "1").replace("@B", "0"));
    let mut g = SplitMix64::new(seed);
    let mut t = template.to_string();
    for i in (0..16).rev() {
        t = t.replace(&format!("@W{i}"), &format!("{{random: {}}}", seed * 31 + i));
    }
    let mut ti = 0;
    for l in &probe.layers {
        match &l.op {
            Op::Threshold(th) => {
                let ValType::Int { lo, hi } = l.input.val else {
                    unreachable!()
                };
                let ge: Vec<bool> = (0..th.channels)
                    .map(|_| g.next().is_multiple_of(2))
                    .collect();
                // ge: T in [lo, hi + 1]; le: T in [lo − 1, hi]; edges now and then.
                let ts: Vec<i64> = ge
                    .iter()
                    .map(|&ge| {
                        let (a, b) = if ge { (lo, hi + 1) } else { (lo - 1, hi) };
                        match g.next() % 8 {
                            0 => a,
                            1 => b,
                            _ => {
                                let r = ((hi - lo) / 4).max(1);
                                g.uniform(-r, r).clamp(a, b)
                            }
                        }
                    })
                    .collect();
                let ds: Vec<i64> = ge.iter().map(|&x| if x { 1 } else { -1 }).collect();
                t = t.replacen(&format!("@T{ti}"), &list(&ts), 1).replacen(
                    &format!("@D{ti}"),
                    &list(&ds),
                    1,
                );
                ti += 1;
            }
            Op::Output(o) => {
                let ValType::Int { lo, hi } = l.input.val else {
                    unreachable!()
                };
                let extreme = lo.abs().max(hi.abs()) < 1 << 28;
                let val = |g: &mut SplitMix64| match g.next() % 10 {
                    0 if extreme => -(1i64 << 31),
                    1 if extreme => (1i64 << 31) - 1,
                    _ => g.uniform(-5, 5),
                };
                let s: Vec<i64> = (0..o.classes).map(|_| val(&mut g)).collect();
                let b: Vec<i64> = (0..o.classes).map(|_| val(&mut g)).collect();
                t = t.replace("@S", &list(&s)).replace("@B", &list(&b));
            }
            _ => {}
        }
    }
    load(&t)
}

#[test]
fn random_bnns_are_bit_exact_and_take_the_estimated_cycles() {
    let cases = env_usize("HDLGEN_RTL_CASES", 300);
    let structures = env_usize("HDLGEN_RTL_STRUCTURES", 12).max(1);
    let dir = tempfile::tempdir_in(root().join("target")).expect("temp dir");
    let t0 = Instant::now();
    let mut sims: HashMap<usize, NetSim> = HashMap::new();
    let mut cycles_checked = vec![false; structures];
    let (mut whole_windows, mut chunked, mut plain) = (0, 0, 0);
    for case in 0..cases {
        let st = case % structures;
        let template = structure(1000 + st as u64);
        let net = instantiate(&template, case as u64 + 1, dir.path());
        let g = generate(&net, &sim_options()).unwrap_or_else(|e| panic!("{e:?}\n{template}"));
        let s = sims.entry(st).or_insert_with(|| build(&g));
        s.load(&g.images);
        let mut rng = Rng(case as u64 * 7 + 3);
        let n = if cycles_checked[st] { 3 } else { 6 };
        let samples: Vec<Sample> = (0..n).map(|_| random_sample(&net, &mut rng)).collect();
        let stall = if cycles_checked[st] && case % 2 == 1 {
            30
        } else {
            0
        };
        let rep = s
            .run(
                &net,
                &samples,
                Drive {
                    stall_pct: stall,
                    seed: case as u64,
                },
            )
            .unwrap_or_else(|e| panic!("case {case}: {e}\n{template}"));
        if let Some(m) = &rep.first_mismatch {
            panic!("case {case} (structure {st}): {m}\n{template}");
        }
        assert_eq!(rep.agree, n);
        if !cycles_checked[st] {
            let iv = rep.interval.expect("interval");
            let est = g.estimate.interval as f64;
            assert!(
                (iv - est).abs() <= (0.02 * est).max(1.0),
                "structure {st}: measured interval {iv} vs estimated {est}\n{template}"
            );
            cycles_checked[st] = true;
            whole_windows += winbuf_engines(&g).len();
            chunked += chunked_engines(&g).len();
            plain +=
                usize::from(g.design.engines.iter().any(|e| {
                    matches!(e.kind, hdlgen::rtl::lower::Kind::Argmax { plain: true, .. })
                }));
        }
    }
    eprintln!(
        "{cases} random weight/input sets over {structures} structures ({whole_windows} whole-window engines, {chunked} with several taps a beat, {plain} plain outputs) in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    if structures >= 12 {
        assert!(plain >= 1, "no structure without output scale and bias");
        assert!(
            whole_windows >= 3,
            "only {whole_windows} whole-window foldings among the structures"
        );
        assert!(
            chunked >= 1,
            "no folding with several taps a beat among the structures"
        );
    }
}

#[test]
fn generated_verilog_is_lint_clean_and_deterministic() {
    let mut designs = vec![];
    for p in ["examples/digits/bnn.yaml", "examples/mnist_bnn.yaml"] {
        let net = Network::load(&root().join(p)).expect("loads");
        let g = generate(&net, &GenOptions::default()).expect("generates");
        let again = generate(&net, &GenOptions::default()).expect("generates");
        assert_eq!(g.files, again.files, "{p}: same input, same bytes");
        designs.push(g);
        let g = generate(&net, &sim_options()).expect("generates");
        designs.push(g);
        // As `build --board ulx3s-85f` makes it: per-engine configuration registers and
        // registered write strobes of weights kept in flip-flops.
        let board = hdlgen::flow::Board::by_name("ulx3s-85f").expect("board");
        let opts = hdlgen::build::board_gen_options(board.device(), None);
        designs.push(generate(&net, &opts).expect("generates"));
    }
    let dir = tempfile::tempdir_in(root().join("target")).expect("temp dir");
    for st in 0..6 {
        let net = instantiate(&structure(1000 + st), 1, dir.path());
        designs.push(generate(&net, &sim_options()).expect("generates"));
    }
    for g in &designs {
        let mut d = hdlgen_sim::Design::new(g.top_name.clone());
        for (n, t) in g.verilog() {
            d = d.text(n.clone(), t.clone());
        }
        let warnings = hdlgen_sim::lint(&d, &[]).expect("lint runs");
        assert!(warnings.is_empty(), "{}: {warnings:#?}", g.top_name);
    }
}
