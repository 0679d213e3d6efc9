//! Builds small hand-written designs and checks them against Rust-computed values.
//! Shared designs are built once per process and land in the default cache
//! (`target/hdlgen-sim-cache`), so reruns only load them.

use hdlgen_sim::{build, lint, BuildOptions, Design, Dir, Model, SimError, Trace};
use proptest::prelude::*;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

const ADDER: &str = r#"
module adder (
    input          a,
    input  [7:0]   b,
    input  [32:0]  c,
    input  [63:0]  d,
    input  [99:0]  e,
    input  [99:0]  f,
    output [7:0]   s8,
    output [32:0]  s33,
    output [63:0]  s64,
    output [99:0]  s100,
    output [100:0] s101,
    output         p
);
    assign s8 = b + {7'd0, a};
    assign s33 = c + {25'd0, b};
    assign s64 = d + {31'd0, c};
    assign s100 = e + f;
    assign s101 = {1'b0, e} + {1'b0, f};
    assign p = ^e;
endmodule
"#;

const COUNTER: &str = r#"
module counter (
    input            clk,
    input            rst,
    input            en,
    output reg [7:0] q,
    output           full
);
    always @(posedge clk) begin
        if (rst) q <= 8'd0;
        else if (en) q <= q + 8'd1;
    end
    assign full = &q;
endmodule
"#;

fn adder_design() -> Design {
    Design::new("adder").text("adder.v", ADDER)
}

fn counter_design() -> Design {
    Design::new("counter").text("counter.v", COUNTER)
}

fn built(cell: &'static OnceLock<Model>, design: Design, opts: BuildOptions) -> &'static Model {
    cell.get_or_init(|| match build(&design, &opts) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    })
}

fn adder() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    built(&M, adder_design(), BuildOptions::default())
}

fn counter() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    built(&M, counter_design(), BuildOptions::default())
}

fn words(v: u128) -> [u32; 4] {
    [
        v as u32,
        (v >> 32) as u32,
        (v >> 64) as u32,
        (v >> 96) as u32,
    ]
}

fn from_words(w: &[u32]) -> u128 {
    w.iter()
        .rev()
        .fold(0u128, |acc, &x| (acc << 32) | u128::from(x))
}

fn mask(bits: u32) -> u128 {
    (1u128 << bits) - 1
}

fn build_dirs(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".build-"))
        .collect()
}

#[test]
fn ports_come_from_the_verilog() {
    let m = adder();
    // Verilator groups ports by C++ type; compare by name.
    let mut got: Vec<_> = m
        .ports()
        .iter()
        .map(|p| (p.name.as_str(), p.width, p.dir))
        .collect();
    got.sort_by_key(|p| p.0);
    assert_eq!(
        got,
        [
            ("a", 1, Dir::In),
            ("b", 8, Dir::In),
            ("c", 33, Dir::In),
            ("d", 64, Dir::In),
            ("e", 100, Dir::In),
            ("f", 100, Dir::In),
            ("p", 1, Dir::Out),
            ("s100", 100, Dir::Out),
            ("s101", 101, Dir::Out),
            ("s33", 33, Dir::Out),
            ("s64", 64, Dir::Out),
            ("s8", 8, Dir::Out),
        ]
    );
    let err = m.port("nope").unwrap_err();
    assert!(matches!(err, SimError::NoPort { .. }), "{err}");
    assert!(err.to_string().contains("s101"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn adder_matches_rust(a: bool, b: u8, c in 0u64..1 << 33, d: u64, e in 0u128..1 << 100, f in 0u128..1 << 100) {
        let m = adder();
        let mut s = m.instance().unwrap();
        let p = |n| s.port(n).unwrap();
        let (pa, pb, pc, pd, pe, pf) = (p("a"), p("b"), p("c"), p("d"), p("e"), p("f"));
        let (s8, s33, s64, s100, s101, par) = (p("s8"), p("s33"), p("s64"), p("s100"), p("s101"), p("p"));
        s.set(pa, a.into());
        s.set(pb, b.into());
        s.set(pc, c);
        s.set(pd, d);
        s.set_wide(pe, &words(e));
        s.set_wide(pf, &words(f));
        s.eval();
        prop_assert_eq!(s.get(s8), u64::from(b.wrapping_add(a.into())));
        prop_assert_eq!(s.get(s33), (c + u64::from(b)) & ((1 << 33) - 1));
        prop_assert_eq!(s.get(s64), d.wrapping_add(c));
        prop_assert_eq!(from_words(&s.get_words(s100)), (e + f) & mask(100));
        prop_assert_eq!(from_words(&s.get_words(s101)), e + f);
        prop_assert_eq!(s.get(s100), (e + f) as u64);
        prop_assert_eq!(s.get(par), u64::from(e.count_ones() & 1));
        // Inputs read back as set.
        prop_assert_eq!(from_words(&s.get_words(pe)), e);
        prop_assert_eq!(s.get(pc), c);
    }
}

#[test]
fn values_are_truncated_to_the_port_width() {
    let m = adder();
    let mut s = m.instance().unwrap();
    let (b, c, e, f, s101) = (
        s.port("b").unwrap(),
        s.port("c").unwrap(),
        s.port("e").unwrap(),
        s.port("f").unwrap(),
        s.port("s101").unwrap(),
    );
    s.set(b, 0x1ff);
    s.set(c, u64::MAX);
    assert_eq!(s.get(b), 0xff);
    assert_eq!(s.get(c), (1 << 33) - 1);
    // Narrow values into a wide port: upper words become 0; extra words are dropped.
    s.set_wide(e, &[u32::MAX; 4]);
    s.set(e, u64::MAX);
    s.set_wide(f, &[1, 0, 0, 0xffff_ffff, 7]);
    s.eval();
    assert_eq!(from_words(&s.get_words(e)), u128::from(u64::MAX));
    assert_eq!(
        from_words(&s.get_words(s101)),
        u128::from(u64::MAX) + 1 + ((0xfu128) << 96)
    );
    // A longer buffer is zero-filled.
    let mut out = [9u32; 6];
    s.get_wide(e, &mut out);
    assert_eq!(out, [u32::MAX, u32::MAX, 0, 0, 0, 0]);
    // Narrow ports through the wide interface.
    s.set_wide(c, &[5, 1]);
    assert_eq!(s.get_words(c), [5, 1]);
}

#[test]
#[should_panic(expected = "is an output")]
fn setting_an_output_panics() {
    let m = adder();
    let mut s = m.instance().unwrap();
    let p = s.port("p").unwrap();
    s.set(p, 1);
}

#[derive(Debug, Clone, Copy)]
struct Step {
    rst: bool,
    en: bool,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (prop::bool::weighted(0.05), prop::bool::weighted(0.8))
            .prop_map(|(rst, en)| Step { rst, en }),
        1..600,
    )
}

proptest! {
    #[test]
    fn counter_matches_rust(steps in steps()) {
        let m = counter();
        let mut s = m.instance().unwrap();
        let p = |n| s.port(n).unwrap();
        let (clk, rst, en, q, full) = (p("clk"), p("rst"), p("en"), p("q"), p("full"));
        s.set(rst, 1);
        s.tick(clk);
        let mut want = 0u8;
        for st in steps {
            s.set(rst, st.rst.into());
            s.set(en, st.en.into());
            s.tick(clk);
            want = if st.rst { 0 } else if st.en { want.wrapping_add(1) } else { want };
            prop_assert_eq!(s.get(q), u64::from(want));
            prop_assert_eq!(s.get(full), u64::from(want == 255));
        }
    }
}

#[test]
fn instances_are_independent_and_per_thread() {
    let m = counter().clone();
    let threads: Vec<_> = (0..2u64)
        .map(|t| {
            let m = m.clone();
            std::thread::spawn(move || {
                let mut s = m.instance().unwrap();
                let (clk, rst, en, q) = (
                    s.port("clk").unwrap(),
                    s.port("rst").unwrap(),
                    s.port("en").unwrap(),
                    s.port("q").unwrap(),
                );
                s.set(rst, 1);
                s.tick(clk);
                s.set(rst, 0);
                s.set(en, 1);
                let n = 1000 + 7 * t;
                s.ticks(clk, n);
                assert_eq!(s.time(), 2 * (n + 1));
                s.get(q)
            })
        })
        .collect();
    let got: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(got, [1000 % 256, 1007 % 256]);
}

#[test]
fn second_build_hits_the_cache() {
    let first = adder();
    let t = Instant::now();
    let again = build(&adder_design(), &BuildOptions::default()).unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(again.info().cached, "{:?}", again.info());
    assert!(again.info().log.is_empty());
    assert_eq!(again.info().path, first.info().path);
    assert!(secs < 0.5, "cached build took {secs} s");
}

#[test]
fn fresh_cache_builds_then_hits_and_leaves_no_temp_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let opts = BuildOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        ..BuildOptions::default()
    };
    let cold = build(&counter_design(), &opts).unwrap();
    assert!(!cold.info().cached);
    let warm = build(&counter_design(), &opts).unwrap();
    assert!(warm.info().cached);
    eprintln!(
        "counter: fresh build {:.2} s, cached {:.4} s",
        cold.info().seconds,
        warm.info().seconds
    );
    assert!(build_dirs(dir.path()).is_empty());
    // A different option is a different library.
    let traced = BuildOptions {
        trace: Trace::Vcd,
        ..opts.clone()
    };
    let t = build(&counter_design(), &traced).unwrap();
    assert_ne!(t.info().path, cold.info().path);
}

#[test]
fn syntax_error_is_a_build_error_with_verilators_message() {
    let dir = tempfile::tempdir().unwrap();
    let opts = BuildOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        ..BuildOptions::default()
    };
    let d = Design::new("broken").text(
        "broken.v",
        "module broken(input a, output y);\n  assign y = a +;\nendmodule\n",
    );
    match build(&d, &opts) {
        Err(SimError::Build { top, log }) => {
            assert_eq!(top, "broken");
            assert!(log.contains("broken.v:2"), "{log}");
            assert!(log.contains("syntax error"), "{log}");
        }
        other => panic!("expected a build error, got {other:?}"),
    }
    assert!(build_dirs(dir.path()).is_empty());
}

#[test]
fn invalid_designs_are_rejected_before_verilator() {
    for (d, what) in [
        (Design::new("top;rm").text("a.v", ""), "top module name"),
        (Design::new("t"), "no sources"),
        (Design::new("t").text("../a.v", ""), "plain file name"),
        (
            Design::new("t").text("a.v", "").text("a.v", ""),
            "two sources",
        ),
    ] {
        let e = build(&d, &BuildOptions::default()).unwrap_err();
        assert!(
            matches!(e, SimError::Design(_)) && e.to_string().contains(what),
            "{e}"
        );
    }
}

#[test]
fn missing_verilator_names_the_install_command() {
    let opts = BuildOptions {
        verilator: Some("/nonexistent/verilator".into()),
        ..BuildOptions::default()
    };
    let e = build(&adder_design(), &opts).unwrap_err();
    assert!(matches!(e, SimError::ToolMissing { .. }), "{e}");
    assert!(e.to_string().contains("scripts/install.sh"), "{e}");
    assert!(e.to_string().contains("/nonexistent/verilator"), "{e}");
}

/// `HDLGEN_VERILATOR` is process-global: check it in a child process running
/// `missing_verilator_env_child` alone.
#[test]
fn missing_verilator_from_env() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "missing_verilator_env_child", "--nocapture"])
        .env("HDLGEN_VERILATOR", "/nonexistent")
        .env("HDLGEN_SIM_TEST_CHILD", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("child ok"), "{text}");
}

#[test]
fn missing_verilator_env_child() {
    if std::env::var_os("HDLGEN_SIM_TEST_CHILD").is_none() {
        return;
    }
    for e in [
        build(&adder_design(), &BuildOptions::default()).unwrap_err(),
        lint(&adder_design(), &[]).unwrap_err(),
    ] {
        assert!(matches!(e, SimError::ToolMissing { .. }), "{e}");
        assert!(e.to_string().contains("/nonexistent"), "{e}");
        assert!(e.to_string().contains("scripts/install.sh"), "{e}");
    }
    println!("child ok");
}

#[test]
fn vcd_waveform_has_the_signals() {
    static M: OnceLock<Model> = OnceLock::new();
    let m = built(
        &M,
        counter_design(),
        BuildOptions {
            trace: Trace::Vcd,
            ..BuildOptions::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let vcd = dir.path().join("counter.vcd");
    let mut s = m.instance().unwrap();
    let (clk, rst, en) = (
        s.port("clk").unwrap(),
        s.port("rst").unwrap(),
        s.port("en").unwrap(),
    );
    // Tracing may start mid-simulation.
    s.ticks(clk, 3);
    s.trace_to(&vcd).unwrap();
    s.set(rst, 1);
    s.tick(clk);
    s.set(rst, 0);
    s.set(en, 1);
    s.ticks(clk, 10);
    s.trace_close();
    let text = std::fs::read_to_string(&vcd).unwrap();
    for needle in [
        "$enddefinitions",
        " clk ",
        " rst ",
        " en ",
        " q ",
        " full ",
        "#6",
        "#27",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from\n{text}");
    }
    // q counts to 10 = 0b1010.
    assert!(text.contains("b00001010 "), "{text}");

    // A second file for the same instance.
    let second = dir.path().join("second.vcd");
    s.trace_to(&second).unwrap();
    s.ticks(clk, 2);
    s.trace_close();
    let text = std::fs::read_to_string(&second).unwrap();
    assert!(text.contains(" q ") && text.contains("#31"), "{text}");

    let e = s
        .trace_to(&dir.path().join("no/such/dir/x.vcd"))
        .unwrap_err();
    assert!(matches!(e, SimError::Trace(_)), "{e}");
    let e = counter().instance().unwrap().trace_to(&vcd).unwrap_err();
    assert!(e.to_string().contains("without trace"), "{e}");
}

#[test]
fn fst_waveform_is_written() {
    let m = build(
        &counter_design(),
        &BuildOptions {
            trace: Trace::Fst,
            ..BuildOptions::default()
        },
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fst = dir.path().join("counter.fst");
    {
        let mut s = m.instance().unwrap();
        s.trace_to(&fst).unwrap();
        let clk = s.port("clk").unwrap();
        s.ticks(clk, 20);
    } // dropping the instance closes the file
    let bytes = std::fs::read(&fst).unwrap();
    assert!(bytes.len() > 100, "{} bytes", bytes.len());
    assert!(bytes.windows(3).any(|w| w == b"clk"));
}

#[test]
fn finish_stop_and_fatal_do_not_end_the_process() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/verilog");
    let m = build(
        &Design::new("finisher").file(dir.join("finisher.v")),
        &BuildOptions::default(),
    )
    .unwrap();
    assert_eq!(m.port("n").unwrap().width(), 4, "width from the include");
    let run = |cmd: u64| {
        let mut s = m.instance().unwrap();
        let (clk, c, n) = (
            s.port("clk").unwrap(),
            s.port("cmd").unwrap(),
            s.port("n").unwrap(),
        );
        s.ticks(clk, 2);
        assert!(!s.finished());
        s.set(c, cmd);
        // Twice: Verilator's default exits the process with status 0 on a second $finish.
        s.ticks(clk, 2);
        assert!(s.finished());
        assert_eq!(s.get(n), 4);
        s.error()
    };
    assert_eq!(run(1), None);
    let stop = run(2).unwrap();
    assert!(
        stop.contains("$stop") && stop.contains("finisher.v:12"),
        "{stop}"
    );
    let fatal = run(3).unwrap();
    assert!(fatal.contains("finisher.v:13"), "{fatal}");
}

#[test]
fn lint_reports_warnings() {
    assert_eq!(lint(&adder_design(), &[]).unwrap(), Vec::<String>::new());
    assert_eq!(lint(&counter_design(), &[]).unwrap(), Vec::<String>::new());
    let unused = Design::new("unused").text(
        "unused.v",
        "module unused(input [3:0] a, output [3:0] y);\n  wire [3:0] spare = a ^ 4'h5;\n  assign y = a;\nendmodule\n",
    );
    let w = lint(&unused, &[]).unwrap();
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0].contains("UNUSED") && w[0].contains("spare") && w[0].contains("unused.v:2"),
        "{w:#?}"
    );
    // Flags pass through.
    assert!(lint(&unused, &["-Wno-UNUSED"]).unwrap().is_empty());
    // Errors are errors, not warnings.
    let broken = Design::new("broken").text("broken.v", "module broken(; endmodule\n");
    assert!(matches!(lint(&broken, &[]), Err(SimError::Build { .. })));
}

#[test]
fn thread_safety_markers() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Model>();
    send_sync::<SimError>();
    send::<hdlgen_sim::Instance>();
}
