//! The FPGA flow wrappers against the real tools (installed by `scripts/install.sh`):
//! discovery, synthesis on both families, place and route and packing.
//!
//! The tools must be present: a missing tool fails these tests. Only with
//! `HDLGEN_SKIP_YOWASP=1` (install.sh then skips YoWASP) the ECP5 place and route, which has
//! no other route here, is skipped.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use hdlgen::flow::{
    self, Device, Family, FlowError, PnrOptions, SynthOptions, SynthReport, Tool, ToolKind,
};

/// A fresh build directory under `target/tmp` (outside `/tmp`, kept for inspection).
fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("hdlgen-flow-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const COUNTER: &str = "\
module counter #(parameter W = 8) (input clk, input rst, output reg [W-1:0] q);
  always @(posedge clk)
    if (rst) q <= {W{1'b0}};
    else q <= q + 1'b1;
endmodule
";

/// 512 × 16 simple dual-port RAM, registered read, in a submodule (so yosys ≥ 0.40 leaves a
/// `$scopeinfo` cell when it flattens — the flow must delete it).
const MEMORY: &str = "\
module mem #(parameter AW = 9, DW = 16) (
  input clk, input we, input [AW-1:0] wa, input [AW-1:0] ra, input [DW-1:0] wd,
  output reg [DW-1:0] rd);
  (* ram_style = \"block\" *) reg [DW-1:0] m [0:(1<<AW)-1];
  always @(posedge clk) begin
    if (we) m[wa] <= wd;
    rd <= m[ra];
  end
endmodule
module memtop (input clk, input we, input [8:0] wa, input [8:0] ra, input [15:0] wd,
               output [15:0] rd);
  mem u (.clk(clk), .we(we), .wa(wa), .ra(ra), .wd(wd), .rd(rd));
endmodule
";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn env_of<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
    move |k: &str| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| OsString::from(v))
    }
}

fn skip_yowasp() -> bool {
    std::env::var("HDLGEN_SKIP_YOWASP").is_ok_and(|v| v == "1")
}

#[test]
fn override_to_missing_file_names_the_variable() {
    for kind in ToolKind::ALL {
        let var = kind.env_var();
        let vars = [(var, "/nonexistent/hdlgen/tool")];
        let err = Tool::find_with(kind, &env_of(&vars)).unwrap_err();
        assert!(matches!(err, FlowError::BadOverride { .. }), "{err:?}");
        let msg = err.to_string();
        eprintln!("{msg}");
        assert!(msg.contains(var) && msg.contains("does not exist"), "{msg}");
    }
    // A bare name not on PATH.
    let vars = [("HDLGEN_YOSYS", "no-such-yosys"), ("PATH", "")];
    let msg = Tool::find_with(ToolKind::Yosys, &env_of(&vars))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("HDLGEN_YOSYS") && msg.contains("not on PATH"),
        "{msg}"
    );
    // Something that runs but is not yosys.
    let vars = [("HDLGEN_YOSYS", "/bin/true")];
    let msg = Tool::find_with(ToolKind::Yosys, &env_of(&vars))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("HDLGEN_YOSYS") && msg.contains("not yosys"),
        "{msg}"
    );
    // A venv override that is not a directory.
    let vars = [("HDLGEN_VENV", "/nonexistent/venv")];
    let msg = Tool::find_with(ToolKind::Yosys, &env_of(&vars))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("HDLGEN_VENV"), "{msg}");
}

#[test]
fn nothing_found_names_the_install_command() {
    let empty = dir("empty-venv");
    let vars = [("HDLGEN_VENV", empty.to_str().unwrap()), ("PATH", "")];
    for kind in ToolKind::ALL {
        let err = Tool::find_with(kind, &env_of(&vars)).unwrap_err();
        assert!(matches!(err, FlowError::ToolMissing { .. }), "{err:?}");
        let msg = err.to_string();
        eprintln!("{msg}");
        assert!(
            msg.contains("bash scripts/install.sh") && msg.contains(kind.env_var()),
            "{msg}"
        );
    }
}

#[test]
fn discovery_finds_the_installed_tools() {
    let yosys = Tool::find(ToolKind::Yosys).unwrap();
    eprintln!("{yosys}");
    assert!(yosys.version_number().is_some(), "{}", yosys.banner());
    let nextpnr = Tool::find(ToolKind::NextpnrIce40).unwrap();
    eprintln!("{nextpnr}");
    assert!(!nextpnr.version().is_empty());
    eprintln!("{}", Tool::find(ToolKind::Icepack).unwrap());
    if !skip_yowasp() {
        // install.sh installs both yosys builds; the YoWASP one is preferred.
        assert!(yosys.is_yowasp(), "{yosys}");
        for kind in [ToolKind::NextpnrEcp5, ToolKind::Ecppack] {
            eprintln!("{}", Tool::find(kind).unwrap());
        }
    }
}

fn synth_counter(family: Family, yosys: Option<&Tool>, tag: &str) -> SynthReport {
    let d = dir(&format!("counter-{family}-{tag}"));
    let v = write(&d, "counter.v", COUNTER);
    let opts = SynthOptions::new(family, [v], "counter", d.join("build")).param("W", 12);
    let r = match yosys {
        Some(t) => flow::synth_with(t, &opts),
        None => flow::synth(&opts),
    }
    .unwrap();
    eprintln!(
        "{family} counter ({}): {:?} in {:.2} s",
        r.tool, r.cells, r.seconds
    );
    assert_eq!(r.ff, 12, "{r:?}");
    assert!(r.lut4 + r.carry > 0, "{r:?}");
    assert!(r.carry > 0, "{r:?}");
    assert_eq!((r.bram, r.dsp, r.spram), (0, 0, 0), "{r:?}");
    assert!(r.log.is_file() && r.stat.is_file());
    assert!(r.netlist.as_ref().is_some_and(|n| n.is_file()));
    r
}

#[test]
fn synth_counter_both_families() {
    let r = synth_counter(Family::Ice40, None, "default");
    assert!(r.lut4 > 0, "{r:?}");
    synth_counter(Family::Ecp5, None, "default");
}

#[test]
fn synth_counter_with_debian_yosys() {
    // Debian's yosys 0.23 (install.sh installs it too); PATH is searched for `yosys`.
    let vars: Vec<(&str, String)> = vec![
        ("HDLGEN_YOSYS", "yosys".into()),
        ("PATH", std::env::var("PATH").unwrap_or_default()),
    ];
    let env = |k: &str| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| OsString::from(v))
    };
    let yosys = Tool::find_with(ToolKind::Yosys, &env).unwrap();
    assert!(!yosys.is_yowasp());
    synth_counter(Family::Ice40, Some(&yosys), "debian");
}

#[test]
fn synth_block_ram_both_families() {
    for family in [Family::Ice40, Family::Ecp5] {
        let d = dir(&format!("memory-{family}"));
        let v = write(&d, "mem.v", MEMORY);
        let opts = SynthOptions::new(family, [v], "memtop", &d);
        let r = flow::synth(&opts).unwrap();
        eprintln!("{family} 512x16 RAM: {:?} in {:.2} s", r.cells, r.seconds);
        assert!(r.bram >= 1, "{r:?}");
        assert!(!r.cells.contains_key("$scopeinfo"), "{r:?}");
        let netlist = std::fs::read_to_string(r.netlist.unwrap()).unwrap();
        assert!(!netlist.contains("$scopeinfo"));
    }
}

#[test]
fn synth_errors_carry_the_log() {
    let d = dir("broken");
    let v = write(
        &d,
        "broken.v",
        "module broken(input a, output b);\n  assign b = ;\nendmodule\n",
    );
    let err = flow::synth(&SynthOptions::new(Family::Ice40, [&v], "broken", &d)).unwrap_err();
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(matches!(err, FlowError::ToolFailed { .. }), "{err:?}");
    assert!(
        msg.contains("synth.log") && msg.contains("broken.v"),
        "{msg}"
    );
    // A missing input file and an unsafe parameter are caught before yosys runs.
    let err = flow::synth(&SynthOptions::new(
        Family::Ice40,
        [d.join("nope.v")],
        "x",
        &d,
    ))
    .unwrap_err();
    assert!(err.to_string().contains("nope.v"), "{err}");
    let opts = SynthOptions::new(Family::Ice40, [&v], "broken", &d).param("W", "1; shell");
    assert!(matches!(flow::synth(&opts), Err(FlowError::Options(_))));
}

/// Checks the report against the device table: the table's numbers are nextpnr's.
fn check_pnr(r: &flow::PnrReport, dev: &Device, ff: u64) {
    eprintln!(
        "{} counter: logic {:?}, fmax {:?} MHz ({:?}), {} in {:.2} s",
        dev, r.logic, r.fmax_mhz, r.clocks, r.tool, r.seconds
    );
    assert!(r.fmax_mhz.is_some_and(|f| f > 0.0), "{r:?}");
    assert!(r.timing_met);
    assert!(r.logic.used >= ff && r.logic.used < 100, "{r:?}");
    assert_eq!(r.logic.available, u64::from(dev.logic));
    assert_eq!(
        r.bram,
        flow::Usage {
            used: 0,
            available: u64::from(dev.bram)
        }
    );
    assert_eq!(r.dsp.available, u64::from(dev.dsp));
    assert_eq!(r.spram.available, u64::from(dev.spram));
    assert!(r.io.used > 0 && r.output.is_file() && r.report.is_file());
}

#[test]
fn pnr_counter_up5k() {
    let s = synth_counter(Family::Ice40, None, "pnr");
    let dev = Device::by_name("up5k").unwrap();
    let out = s.netlist.as_ref().unwrap().parent().unwrap().join("pnr");
    let mut opts = PnrOptions::new(*dev, s.netlist.clone().unwrap(), &out);
    opts.freq_mhz = Some(24.0);
    opts.seed = Some(3);
    let r = flow::pnr(&opts).unwrap();
    check_pnr(&r, dev, 12);
    let b = flow::pack(&r).unwrap();
    assert!(std::fs::metadata(&b.bitstream).unwrap().len() > 0);
    eprintln!("packed with {} in {:.2} s", b.tool, b.seconds);

    // A missed target is an error carrying the full report, unless allowed.
    opts.freq_mhz = Some(2000.0);
    match flow::pnr(&opts) {
        Err(FlowError::TimingFailed { report, detail }) => {
            assert!(!report.timing_met && report.fmax_mhz.unwrap() < 2000.0);
            assert!(detail.contains("2000"), "{detail}");
        }
        other => panic!("expected a timing failure, got {other:?}"),
    }
    opts.allow_timing_fail = true;
    let r = flow::pnr(&opts).unwrap();
    assert!(!r.timing_met && r.fmax_mhz.is_some());
}

#[test]
fn pnr_counter_ecp5_85k() {
    if skip_yowasp() {
        eprintln!("skipped: HDLGEN_SKIP_YOWASP=1 (nextpnr-ecp5 exists only as YoWASP)");
        return;
    }
    let s = synth_counter(Family::Ecp5, None, "pnr");
    let dev = Device::by_name("85k").unwrap();
    let out = s.netlist.as_ref().unwrap().parent().unwrap().join("pnr");
    let mut opts = PnrOptions::new(*dev, s.netlist.clone().unwrap(), &out);
    opts.freq_mhz = Some(50.0);
    let r = flow::pnr(&opts).unwrap();
    check_pnr(&r, dev, 12);
    assert_eq!(r.package, "CABGA381");
    let b = flow::pack(&r).unwrap();
    assert!(std::fs::metadata(&b.bitstream).unwrap().len() > 0);
    eprintln!("packed with {} in {:.2} s", b.tool, b.seconds);
}

/// Four initialised ROMs, one per iCE40 block-RAM width mode (256×16, 512×8, 1024×4,
/// 2048×2), two of them split over two blocks by width, contents from a hash.
const ROMS: &str = "\
module rom #(parameter AW = 8, DW = 16, FILE = \"m16.hex\") (
  input clk, input [AW-1:0] a, output reg [DW-1:0] q);
  reg [DW-1:0] m [0:(1<<AW)-1];
  initial $readmemh(FILE, m);
  always @(posedge clk) q <= m[a];
endmodule
module roms (input clk, input [10:0] a, output [69:0] q);
  rom #(.AW(8), .DW(16), .FILE(\"m16.hex\")) r16 (.clk(clk), .a(a[7:0]), .q(q[15:0]));
  rom #(.AW(9), .DW(8), .FILE(\"m8.hex\")) r8 (.clk(clk), .a(a[8:0]), .q(q[23:16]));
  rom #(.AW(10), .DW(4), .FILE(\"m4.hex\")) r4 (.clk(clk), .a(a[9:0]), .q(q[27:24]));
  rom #(.AW(11), .DW(2), .FILE(\"m2.hex\")) r2 (.clk(clk), .a(a[10:0]), .q(q[29:28]));
  rom #(.AW(8), .DW(24), .FILE(\"m24.hex\")) r24 (.clk(clk), .a(a[7:0]), .q(q[53:30]));
  rom #(.AW(9), .DW(16), .FILE(\"m9.hex\")) r9 (.clk(clk), .a(a[8:0]), .q(q[69:54]));
endmodule
";

/// Every block RAM of a netlist: name → parameters.
fn brams(netlist: &Path) -> std::collections::BTreeMap<String, serde_json::Value> {
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(netlist).unwrap()).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for m in j["modules"].as_object().unwrap().values() {
        for (name, c) in m["cells"].as_object().unwrap() {
            if c["type"].as_str().unwrap().starts_with("SB_RAM40_4K") {
                out.insert(name.clone(), c["parameters"].clone());
            }
        }
    }
    out
}

#[test]
fn deferred_block_ram_contents_equal_yosys_own() {
    let d = dir("deferred-init");
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
    for (file, words, digits) in [
        ("m16.hex", 256, 4),
        ("m8.hex", 512, 2),
        ("m4.hex", 1024, 1),
        ("m2.hex", 2048, 1),
        ("m24.hex", 256, 6),
        ("m9.hex", 512, 4),
    ] {
        let mut text = String::new();
        for _ in 0..words {
            h ^= h << 13;
            h ^= h >> 7;
            h ^= h << 17;
            let mut w = format!("{h:016x}");
            w.truncate(digits);
            if file == "m2.hex" {
                w = format!("{}", h % 4);
            }
            text.push_str(&w);
            text.push('\n');
        }
        write(&d, file, &text);
    }
    let v = write(&d, "roms.v", ROMS);
    let mut opts = SynthOptions::new(Family::Ice40, [&v], "roms", d.join("deferred"));
    for f in ["m16.hex", "m8.hex", "m4.hex", "m2.hex", "m24.hex", "m9.hex"] {
        std::fs::create_dir_all(&opts.out_dir).unwrap();
        std::fs::copy(d.join(f), opts.out_dir.join(f)).unwrap();
    }
    assert!(opts.defer_bram_init, "the default on iCE40");
    let deferred = flow::synth(&opts).unwrap();
    assert!(
        opts.out_dir.join(flow::synth::BRAMS_MAP).is_file(),
        "yosys's brams_map.v was found and mapped without its contents"
    );
    opts.defer_bram_init = false;
    opts.out_dir = d.join("yosys");
    for f in ["m16.hex", "m8.hex", "m4.hex", "m2.hex", "m24.hex", "m9.hex"] {
        std::fs::create_dir_all(&opts.out_dir).unwrap();
        std::fs::copy(d.join(f), opts.out_dir.join(f)).unwrap();
    }
    let own = flow::synth(&opts).unwrap();
    eprintln!(
        "deferred {:.2} s, yosys {:.2} s, {} blocks",
        deferred.seconds, own.seconds, own.bram
    );
    assert_eq!(deferred.bram_init_filled, Some(own.bram as usize));
    assert_eq!(own.bram_init_filled, None);
    assert_eq!(deferred.cells, own.cells);
    let (a, b) = (
        brams(deferred.netlist.as_ref().unwrap()),
        brams(own.netlist.as_ref().unwrap()),
    );
    assert!(a.len() >= 8, "{} blocks", a.len());
    let modes: std::collections::BTreeSet<String> = b
        .values()
        .map(|p| p["READ_MODE"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(modes.len(), 4, "all four width modes: {modes:?}");
    for (name, p) in &b {
        let q = &a[name];
        for k in 0..16 {
            let key = format!("INIT_{k:X}");
            let bits = p[&key].as_str().unwrap();
            assert!(
                bits.contains('1') && bits.contains('0'),
                "{name} {key}: {bits}"
            );
        }
        assert_eq!(q, p, "{name}");
    }
}
