//! `hdlgen build` and `hdlgen boards` through the real binary: bitstreams for the digits
//! BNN on a UP5K (iCEBreaker) and an ECP5-85F (ULX3S) with their report fields checked,
//! a missed clock (exit 6), over-capacity errors before any tool runs, custom boards.
//!
//! The full builds run yosys and nextpnr (about a minute each with a warm YoWASP cache).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_hdlgen");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    /// Stderr without whitespace and miette's gutter, so wrapped phrases still match.
    fn squashed(&self) -> String {
        self.stderr
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '│')
            .collect()
    }
}

fn hdlgen(args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut c = Command::new(BIN);
    c.current_dir(root())
        .args(args)
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().expect("runs hdlgen");
    Out {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
    }
}

fn report(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json written");
    serde_json::from_str(&text).expect("report.json is JSON")
}

fn f(v: &Value, path: &str) -> f64 {
    path.split('.')
        .fold(v, |v, k| &v[k])
        .as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number in {v}"))
}

/// The fields every successful build reports, checked against each other and the device.
fn check_report(r: &Value, device: &str, bitstream: &str, dir: &Path) {
    assert_eq!(r["device"], device);
    assert_eq!(r["network"], "digits-bnn");
    assert_eq!(r["bitstream"], bitstream);
    let bits = std::fs::metadata(dir.join(bitstream)).expect("bitstream written");
    assert!(bits.len() > 10_000, "{} bytes", bits.len());
    for k in ["logic", "bram", "io", "dsp"] {
        let used = f(r, &format!("resources.{k}.used"));
        let avail = f(r, &format!("resources.{k}.available"));
        // The HX8K has no multipliers: nothing is available and nothing used.
        assert!(
            used <= avail && (avail > 0.0 || k == "dsp"),
            "{k}: {used}/{avail}"
        );
    }
    assert!(f(r, "resources.logic.used") > 500.0);
    assert!(f(r, "resources.lut4") > 500.0 && f(r, "resources.ff") > 500.0);
    assert!(f(r, "resources.carry") > 0.0);
    assert!(f(r, "resources.bram.used") > 0.0);
    assert!(f(r, "resources.io.used") >= 4.0, "clk, rx, tx, leds");
    assert_eq!(r["clock"]["met"], true);
    let mhz = f(r, "clock.design_mhz");
    assert!(f(r, "clock.achieved_mhz") >= mhz);
    let cycles = f(r, "cycles_per_inference");
    // The interval is the estimate's, which the co-simulation tests prove exact.
    let est_cycles: f64 = r["folding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["cycles"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert_eq!(cycles, est_cycles);
    assert!((f(r, "inferences_per_second") - mhz * 1e6 / cycles).abs() < 1e-6);
    let macs = f(r, "binary_macs_per_inference");
    let density = macs / cycles / f(r, "resources.lut4");
    assert!((f(r, "binary_macs_per_cycle_per_lut") - density).abs() < 1e-9);
    assert!(r["critical_path"]["delay_ns"].as_f64().unwrap() > 0.0);
    // What a host needs (docs/protocol.md).
    assert_eq!(r["link"]["baud"], 115_200);
    assert_eq!(r["link"]["beats"], 64);
    assert_eq!(r["link"]["classes"], 10);
    let cpb = f(r, "link.clocks_per_bit");
    assert!(
        (mhz * 1e6 / cpb - 115_200.0).abs() / 115_200.0 < 0.02,
        "{cpb}"
    );
    for log in [
        "synth.log",
        "pnr.log",
        "summary.txt",
        "stat.json",
        "pnr.json",
    ] {
        assert!(dir.join(log).exists(), "{log} kept next to the outputs");
    }
}

/// The digits BNN copied into `dir` (YAML and weight files), optionally with conv2's
/// weights replaced by seeded random ones.
fn digits_copy(dir: &Path, name: &str, new_conv2: Option<u64>) -> PathBuf {
    let digits = root().join("examples/digits");
    for e in std::fs::read_dir(&digits).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "npy") {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    let mut yaml = std::fs::read_to_string(digits.join("bnn.yaml")).unwrap();
    if let Some(seed) = new_conv2 {
        let y = yaml.replacen(
            "weights: bnn_conv2_w.npy",
            &format!("weights: {{random: {seed}}}"),
            1,
        );
        assert_ne!(y, yaml);
        yaml = y;
    }
    let p = dir.join(name);
    std::fs::write(&p, yaml).unwrap();
    p
}

/// `hdlgen build YAML -o DIR` for the default board (iCEBreaker): succeeds, and its
/// report has every field.
fn icebreaker_build(yaml: &Path, dir: &Path) -> (Out, Value) {
    let o = hdlgen(
        &["build", yaml.to_str().unwrap(), "-o", dir.to_str().unwrap()],
        &[],
    );
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    let r = report(dir);
    check_report(&r, "iCE40UP5K", "top.bin", dir);
    (o, r)
}

#[test]
fn digits_bitstream_for_the_icebreaker_and_a_weights_only_patch() {
    let t = TempDir::new().unwrap();
    let dir = t.path().join("b");
    let a = digits_copy(t.path(), "a.yaml", None);
    let (o, r) = icebreaker_build(&a, &dir);
    assert_eq!(r["board"], "icebreaker");
    assert_eq!(
        r["clock"]["pll"], true,
        "12 MHz oscillator, 48 MHz design clock"
    );
    assert_eq!(f(&r, "clock.design_mhz"), 48.0);
    assert!(r["patched"].is_null());
    assert!(o.stdout.contains("inferences/s"), "{}", o.stdout);
    assert!(
        o.stderr.contains("place and route"),
        "progress: {}",
        o.stderr
    );
    // nextpnr's steps, read from its log as it runs.
    for step in ["placing ", "refining the placement", "routing ", "routed"] {
        assert!(o.stderr.contains(step), "no {step:?} in: {}", o.stderr);
    }
    eprintln!("{}", o.stdout);
    let bin_a = std::fs::read(dir.join("top.bin")).unwrap();

    // New conv2 weights, same structure: patched into the bitstream, no synthesis.
    let b = digits_copy(t.path(), "b.yaml", Some(77));
    let o = hdlgen(
        &["build", b.to_str().unwrap(), "-o", dir.to_str().unwrap()],
        &[],
    );
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    assert!(!o.stderr.contains("synthesis"), "{}", o.stderr);
    let r = report(&dir);
    assert_eq!(r["patched"]["memories"][0], "conv2_bn2_w.hex", "{r}");
    let patched = std::fs::read(dir.join("top.bin")).unwrap();
    assert_ne!(patched, bin_a);
    // A full build of the same network gives the same bytes.
    let full = t.path().join("full");
    let o = hdlgen(
        &[
            "build",
            b.to_str().unwrap(),
            "-o",
            full.to_str().unwrap(),
            "--rebuild",
        ],
        &[],
    );
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    assert!(report(&full)["patched"].is_null());
    assert!(
        std::fs::read(full.join("top.bin")).unwrap() == patched,
        "patched bitstream differs from a full rebuild"
    );
    // A structural change (another clock) is a full build again.
    let o = hdlgen(
        &[
            "build",
            b.to_str().unwrap(),
            "-o",
            dir.to_str().unwrap(),
            "--freq",
            "40",
        ],
        &[],
    );
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("synthesis"), "{}", o.stderr);
    assert!(report(&dir)["patched"].is_null());
}

/// The digits BNN in `dir` with conv2's weights in SPRAM (and, with `seed`, random).
fn digits_spram(dir: &Path, name: &str, seed: Option<u64>) -> PathBuf {
    let p = digits_copy(dir, name, seed);
    let yaml = std::fs::read_to_string(&p).unwrap();
    let y = yaml.replacen("name: conv2,", "name: conv2, store: spram,", 1);
    assert_ne!(y, yaml);
    std::fs::write(&p, y).unwrap();
    p
}

/// `store: spram` on the UP5K: conv2's weights become SB_SPRAM256KA blocks (as many as
/// the estimate counts), the report and summary name the memory a host writes after
/// configuration, and new conv2 weights need no new bitstream (SPRAM is not in it). On an
/// ECP5 board the same network is an error at the `store` key before any tool runs.
#[test]
fn spram_weights_on_the_icebreaker() {
    let t = TempDir::new().unwrap();
    let dir = t.path().join("b");
    let a = digits_spram(t.path(), "a.yaml", None);
    let (o, r) = icebreaker_build(&a, &dir);
    let spram = f(&r, "estimate.spram");
    assert!(spram >= 1.0, "{r}");
    assert_eq!(f(&r, "resources.spram.used"), spram, "{r}");
    assert_eq!(r["link"]["spram_units"][0], "conv2_bn2_w.hex", "{r}");
    assert!(o.stdout.contains("conv2_bn2_w.hex"), "{}", o.stdout);
    eprintln!("{}", o.stdout);
    let bin_a = std::fs::read(dir.join("top.bin")).unwrap();

    let b = digits_spram(t.path(), "b.yaml", Some(77));
    let o = hdlgen(
        &["build", b.to_str().unwrap(), "-o", dir.to_str().unwrap()],
        &[],
    );
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    assert!(!o.stderr.contains("synthesis"), "{}", o.stderr);
    let r = report(&dir);
    assert_eq!(
        r["patched"]["memories"].as_array().map(Vec::len),
        Some(0),
        "{r}"
    );
    assert_eq!(std::fs::read(dir.join("top.bin")).unwrap(), bin_a);

    let e = t.path().join("e");
    let o = hdlgen(
        &[
            "build",
            a.to_str().unwrap(),
            "--board",
            "ulx3s-85f",
            "-o",
            e.to_str().unwrap(),
        ],
        &[("HDLGEN_YOSYS", "/nonexistent/yosys")],
    );
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    let s = o.squashed();
    assert!(
        s.contains("`store:spram`needsSPRAM,andtheulx3s-85f"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("a.yaml:"),
        "points at the key: {}",
        o.stderr
    );
    assert!(!e.exists(), "nothing written");
}

/// Builds the digits BNN for `board` (with `extra` options) and checks the report.
fn digits_board_build(board: &str, extra: &[&str], device: &str, bitstream: &str) {
    let t = TempDir::new().unwrap();
    let dir = t.path().join("b");
    let mut args = vec![
        "build",
        "examples/digits/bnn.yaml",
        "--board",
        board,
        "-o",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = hdlgen(&args, &[]);
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    check_report(&report(&dir), device, bitstream, &dir);
    eprintln!("{}", o.stdout);
}

#[test]
fn digits_bitstream_for_the_ulx3s_85f() {
    // The board's default 150 MHz is not met reliably at the whole-window folding the
    // search picks (128-153 MHz over the fifth session's placements: short control paths
    // with long routes; docs/board-flow.md); this test is about the flow and the report.
    digits_board_build("ulx3s-85f", &["--freq", "100"], "LFE5U-85F", "top.bit");
}

/// The default plan for the HX8K breakout places, routes and meets the board's 100 MHz:
/// at 80 % of the device the search picked a folding whose placement did not finish.
#[test]
fn digits_bitstream_for_the_hx8k_at_the_default_budget() {
    digits_board_build("hx8k", &[], "iCE40HX8K", "top.bin");
}

/// The best Fmax in a nextpnr `--report` file.
fn pnr_fmax(path: &Path) -> f64 {
    let text = std::fs::read_to_string(path).expect("nextpnr report kept");
    let j: Value = serde_json::from_str(&text).expect("JSON");
    j["fmax"]
        .as_object()
        .expect("fmax")
        .values()
        .map(|c| c["achieved"].as_f64().expect("achieved"))
        .fold(f64::INFINITY, f64::min)
}

/// Also the seed sweep: two placer seeds tried (neither can reach 120 MHz on a UP5K), the
/// first attempt's log and report kept under its seed's name, the faster placement kept.
#[test]
fn a_missed_clock_fails_with_exit_6_and_no_bitstream() {
    let t = TempDir::new().unwrap();
    let dir = t.path().join("b");
    let o = hdlgen(
        &[
            "build",
            "examples/digits/bnn.yaml",
            "--freq",
            "120",
            "--seeds",
            "2",
            "-o",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        o.stderr.contains("placer seed default:") && o.stderr.contains("trying seed 1 (2 of 2)"),
        "{}",
        o.stderr
    );
    // The attempt not kept is set aside (log and report; its placement deleted).
    let aside: Vec<&str> = ["default", "1"]
        .into_iter()
        .filter(|s| dir.join(format!("pnr.seed-{s}.json")).exists())
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(dir.join(format!("pnr.seed-{}.log", aside[0])).exists());
    assert!(!dir.join(format!("top.seed-{}.asc", aside[0])).exists());
    let other = pnr_fmax(&dir.join(format!("pnr.seed-{}.json", aside[0])));
    let kept = pnr_fmax(&dir.join("pnr.json"));
    assert!(kept >= other, "kept {kept} MHz, set aside {other}");
    let r0 = report(&dir);
    assert_eq!(r0["seed"].as_u64(), (aside[0] == "default").then_some(1));
    assert!((f(&r0, "clock.achieved_mhz") - kept).abs() < 0.01);
    assert_eq!(o.code, Some(6), "{}\n{}", o.stdout, o.stderr);
    let s = o.squashed();
    assert!(s.contains("timingnotmet"), "{}", o.stderr);
    assert!(
        s.contains("MHzachieved,") && s.contains("criticalpath"),
        "{}",
        o.stderr
    );
    assert!(s.contains("--allow-timing-fail"), "{}", o.stderr);
    let r = report(&dir);
    assert_eq!(r["clock"]["met"], false);
    assert!(f(&r, "clock.achieved_mhz") < f(&r, "clock.design_mhz"));
    assert!(r["bitstream"].is_null());
    assert!(!dir.join("top.bin").exists());
    assert!(o.stdout.contains("NOT MET"), "{}", o.stdout);
}

#[test]
fn boards_are_listed_with_their_constraint_files() {
    let o = hdlgen(&["boards"], &[]);
    assert_eq!(o.code, Some(0));
    for (b, file) in [
        ("icebreaker", "icebreaker.pcf"),
        ("hx8k", "hx8k-breakout.pcf"),
        ("ulx3s-25f", "ulx3s.lpf"),
        ("ulx3s-85f", "ulx3s.lpf"),
        ("orangecrab", "orangecrab.lpf"),
    ] {
        let line = o
            .stdout
            .lines()
            .find(|l| l.starts_with(b))
            .unwrap_or_else(|| panic!("{b} missing: {}", o.stdout));
        assert!(line.contains(&format!("constraints/{file}")), "{line}");
        assert!(root().join("constraints").join(file).exists());
    }
}

#[test]
fn too_big_for_the_board_is_an_error_before_any_tool_runs() {
    let t = TempDir::new().unwrap();
    let dir = t.path().join("b");
    // MNIST as a chain of engines does not fit a UP5K; the layer-sequential engine does.
    // A yosys that cannot exist: the error must come before synthesis is attempted.
    let run = |extra: &[&str]| {
        let mut args = vec![
            "build",
            "examples/mnist_bnn.yaml",
            "-o",
            dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        hdlgen(&args, &[("HDLGEN_YOSYS", "/nonexistent/yosys")])
    };
    let o = run(&["--engine", "dataflow"]);
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    let s = o.squashed();
    assert!(
        s.contains("doesnotfittheicebreaker(iCE40UP5K)"),
        "{}",
        o.stderr
    );
    assert!(
        s.contains("thelayer-sequentialenginefits(25016cycles/image):`--engineseq`"),
        "{}",
        o.stderr
    );
    assert!(!dir.exists(), "nothing written");
    // By default (`--engine auto`) the plan takes that engine and the build goes on to
    // synthesis.
    let o = run(&[]);
    assert_eq!(o.code, Some(4), "{}", o.stderr);
    assert!(o.stderr.contains("/nonexistent/yosys"), "{}", o.stderr);
    assert!(!o.squashed().contains("doesnotfit"), "{}", o.stderr);
    // A network of another form cannot take it: the error names the layer.
    let yaml = "version: 1\nname: v\ninput: {shape: [64], bits: 1, signed: false}\nlayers:\n  - binary_dense: {name: fc, units: 10, weights: {random: 1}}\n  - output: {name: o}\n";
    let net = t.path().join("v.yaml");
    std::fs::write(&net, yaml).unwrap();
    let o = hdlgen(
        &[
            "build",
            net.to_str().unwrap(),
            "--engine",
            "seq",
            "-o",
            dir.to_str().unwrap(),
        ],
        &[("HDLGEN_YOSYS", "/nonexistent/yosys")],
    );
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(
        o.squashed().contains("nolayer-sequentialengine:layer`fc`"),
        "{}",
        o.stderr
    );
}

/// ECP5 block RAM is counted in DP16KD and checked before any tool runs: a million
/// weight bits (at least 64 blocks) exceed a 25F's 56 less the shell's one, and fit an
/// 85F, where the build goes on to synthesis.
#[test]
fn too_much_block_ram_for_an_ecp5_part_is_an_error_before_any_tool_runs() {
    let t = TempDir::new().unwrap();
    let yaml = "version: 1\nname: big\ninput: {shape: [8192], bits: 1, signed: false}\nlayers:\n  - binary_dense: {name: fc, units: 128, pe: 1, simd: 32, weights: {random: 1}}\n  - output: {name: o}\n";
    let net = t.path().join("big.yaml");
    std::fs::write(&net, yaml).unwrap();
    let dir = t.path().join("b");
    let run = |board: &str| {
        hdlgen(
            &[
                "build",
                net.to_str().unwrap(),
                "--board",
                board,
                "-o",
                dir.to_str().unwrap(),
            ],
            &[("HDLGEN_YOSYS", "/nonexistent/yosys")],
        )
    };
    let o = run("ulx3s-25f");
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    let s = o.squashed();
    assert!(s.contains("doesnotfittheulx3s-25f"), "{}", o.stderr);
    assert!(
        s.contains("the55blockRAMsthenetworkmayuse:theslowestneeds67"),
        "{}",
        o.stderr
    );
    assert!(s.contains("itfitson:ulx3s-85f"), "{}", o.stderr);
    assert!(!dir.exists(), "nothing written");
    let o = run("ulx3s-85f");
    assert_eq!(o.code, Some(4), "{}", o.stderr);
    assert!(o.stderr.contains("/nonexistent/yosys"), "{}", o.stderr);
}

#[test]
fn a_fixed_folding_too_big_names_the_folding_fit_would_pick() {
    let t = TempDir::new().unwrap();
    let digits = root().join("examples/digits");
    for e in std::fs::read_dir(&digits).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "npy") {
            std::fs::copy(&p, t.path().join(p.file_name().unwrap())).unwrap();
        }
    }
    let yaml = std::fs::read_to_string(digits.join("bnn.yaml")).unwrap();
    // Fully parallel conv2 (pe = 32 outputs, simd = 16 channels): far beyond a UP5K.
    let big = yaml.replacen("name: conv2,", "name: conv2, pe: 32, simd: 16,", 1);
    assert_ne!(big, yaml, "the example names conv2 as expected");
    let net = t.path().join("big.yaml");
    std::fs::write(&net, big).unwrap();
    let dir = t.path().join("b");
    let run = |extra: &[&str]| {
        let mut args = vec!["build", net.to_str().unwrap(), "-o", dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        hdlgen(&args, &[("HDLGEN_YOSYS", "/nonexistent/yosys")])
    };
    let o = run(&[]);
    let o_fit = run(&["--fit"]);
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    let s = o.squashed();
    assert!(
        s.contains("doesnotfit") && s.contains("logiccells"),
        "{}",
        o.stderr
    );
    assert!(
        s.contains("`--fit`picksthefastestfoldingthatfits"),
        "{}",
        o.stderr
    );
    assert!(s.contains("conv2_bn2pe"), "{}", o.stderr);
    // With --fit the plan succeeds and the build gets as far as looking for yosys.
    assert_eq!(o_fit.code, Some(4), "{}", o_fit.stderr);
    assert!(
        o_fit.stderr.contains("/nonexistent/yosys"),
        "{}",
        o_fit.stderr
    );
    assert!(!o_fit.squashed().contains("doesnotfit"), "{}", o_fit.stderr);
}

#[test]
fn custom_boards_are_checked() {
    let t = TempDir::new().unwrap();
    let pcf = t.path().join("mine.pcf");
    std::fs::write(&pcf, "set_io clk_in 35\nset_io uart_tx 9\n").unwrap();
    let p = pcf.to_str().unwrap();
    let o = hdlgen(
        &[
            "build",
            "examples/digits/bnn.yaml",
            "--device",
            "up5k",
            "--pcf",
            p,
            "--clock-mhz",
            "12",
        ],
        &[],
    );
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(o.squashed().contains("doesnotpin`uart_rx`"), "{}", o.stderr);
    let o = hdlgen(
        &[
            "build",
            "examples/digits/bnn.yaml",
            "--device",
            "xc7a35t",
            "--pcf",
            p,
            "--clock-mhz",
            "12",
        ],
        &[],
    );
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(o.stderr.contains("unknown device"), "{}", o.stderr);
    let o = hdlgen(
        &[
            "build",
            "examples/digits/bnn.yaml",
            "--device",
            "85k",
            "--pcf",
            p,
            "--clock-mhz",
            "25",
        ],
        &[],
    );
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(o.squashed().contains("needsa.lpf"), "{}", o.stderr);
    let o = hdlgen(
        &["build", "examples/digits/bnn.yaml", "--board", "de10"],
        &[],
    );
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(o.stderr.contains("unknown board") && o.stderr.contains("icebreaker"));
    // --device without --clock-mhz is a usage error from clap.
    let o = hdlgen(
        &[
            "build",
            "examples/digits/bnn.yaml",
            "--device",
            "up5k",
            "--pcf",
            p,
        ],
        &[],
    );
    assert_eq!(o.code, Some(2), "{}", o.stderr);
}
