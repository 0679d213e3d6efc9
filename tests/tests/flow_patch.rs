//! Weights swapped in a finished bitstream: the digits BNN built with weights A, its
//! block-RAM contents patched to weights B (icebram / ecpbram), compared byte for byte with
//! a full build of B, on an iCE40 UP5K and an ECP5-85F.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use hdlgen::flow::patch::{self, MemoryImages};
use hdlgen::flow::{self, Device, Family, FlowError, PnrOptions, SynthOptions};
use hdlgen::rtl::gen::{generate, GenOptions, Generated};
use hdlgen::rtl::lower::{Unit, UnitKind};
use hdlgen::rtl::params::UnitImage;
use hdlgen::Network;

/// One place and route at a time: the machine is shared.
static FLOW: Mutex<()> = Mutex::new(());

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("hdlgen-patch-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The digits BNN with some parameters replaced: `(layer field as written in bnn.yaml,
/// replacement)`, e.g. `("weights: bnn_fc_w.npy", "weights: {random: 3}")`. The copy
/// lives in `dir` and names the example's `.npy` files by absolute path.
fn digits_variant(dir: &Path, subs: &[(&str, &str)]) -> Network {
    let ex = root().join("examples/digits");
    let mut text = std::fs::read_to_string(ex.join("bnn.yaml")).unwrap();
    for (from, to) in subs {
        assert!(text.contains(from), "bnn.yaml has no `{from}`");
        text = text.replace(from, to);
    }
    for f in std::fs::read_dir(&ex).unwrap() {
        let n = f.unwrap().file_name().into_string().unwrap();
        if n.ends_with(".npy") {
            text = text.replace(&format!(" {n}"), &format!(" {}", ex.join(&n).display()));
        }
    }
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join("bnn.yaml");
    std::fs::write(&p, text).unwrap();
    Network::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

fn gen(net: &Network, family: Family) -> Generated {
    generate(
        net,
        &GenOptions {
            lut_budget: Some(4224),
            reg_every: if family == Family::Ice40 { 2 } else { 1 },
            ..GenOptions::default()
        },
    )
    .expect("generates")
}

/// A wrapper with three pins (the idea of `wrapper()` in rtl_synth.rs): every input of the
/// top comes from a shift register fed by `din`, every output is registered and
/// XOR-reduced to `dout`, so nothing is optimised away and a UP5K's I/Os suffice.
fn wrapper(g: &Generated) -> String {
    let d = &g.design;
    let (ub, wb, lb) = d.cfg_fields();
    let Some(hdlgen::rtl::lower::Kind::Argmax { cls, sw, .. }) = d.engines.last().map(|e| &e.kind)
    else {
        panic!("the digits BNN ends in argmax")
    };
    let ins = [
        ("in_valid", 1),
        ("in_data", d.input_shape.c * d.input_bits as usize),
        ("out_ready", 1),
        ("cfg_we", 1),
        ("cfg_addr", (ub + wb + lb) as usize),
        ("cfg_data", 32),
    ];
    let outs = [
        ("out_score", *sw as usize),
        ("out_last", 1),
        ("out_pred", hdlgen::rtl::lower::field_bits(*cls) as usize),
        ("in_ready", 1),
        ("out_valid", 1),
    ];
    let n_in: usize = ins.iter().map(|x| x.1).sum();
    let n_out: usize = outs.iter().map(|x| x.1).sum();
    let mut v = format!(
        "module patch_wrap (input wire clk, input wire din, output reg dout);\n  reg [{}:0] sr;\n  reg [3:0] rc = 4'hf;\n  always @(posedge clk) begin sr <= {{sr[{}:0], din}}; if (rc != 0) rc <= rc - 1'b1; end\n  wire rst = rc != 0;\n",
        n_in - 1,
        n_in - 2
    );
    let mut conns = vec![".clk(clk)".to_string(), ".rst(rst)".to_string()];
    let mut off = 0;
    for (n, w) in ins {
        conns.push(format!(".{n}(sr[{}:{}])", off + w - 1, off));
        off += w;
    }
    let mut o = vec![];
    for (n, w) in outs {
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

/// Writes the generated files and the wrapper into `dir` and runs yosys, nextpnr and the
/// packer there; returns the bitstream's path and the place-and-route report.
fn build(g: &Generated, dir: &Path, family: Family) -> (PathBuf, flow::PnrReport, f64) {
    let start = Instant::now();
    let mut files = vec![];
    for (n, t) in &g.files {
        std::fs::write(dir.join(n), t).unwrap();
        if n.ends_with(".v") {
            files.push(dir.join(n));
        }
    }
    std::fs::write(dir.join("patch_wrap.v"), wrapper(g)).unwrap();
    files.push(dir.join("patch_wrap.v"));
    let s = flow::synth(&SynthOptions::new(family, files, "patch_wrap", dir))
        .unwrap_or_else(|e| panic!("{family}: {e}"));
    let device = match family {
        Family::Ice40 => "up5k",
        Family::Ecp5 => "85k",
    };
    let mut p = PnrOptions::new(
        *Device::by_name(device).unwrap(),
        s.netlist.clone().unwrap(),
        dir,
    );
    p.freq_mhz = Some(if family == Family::Ice40 { 48.0 } else { 150.0 });
    p.allow_timing_fail = true;
    let r = flow::pnr(&p).unwrap_or_else(|e| panic!("{family}: {e}"));
    let b = flow::pack(&r).unwrap_or_else(|e| panic!("{family}: {e}"));
    (b.bitstream, r, start.elapsed().as_secs_f64())
}

/// Parameters of B: every block-RAM memory of the digits BNN but conv2's weights changes
/// (conv1 weights, conv2 thresholds, fc weights, output bias); conv1's thresholds (4 words,
/// flip-flops) stay.
const B: &[(&str, &str)] = &[
    ("weights: bnn_conv1_w.npy", "weights: {random: 11}"),
    ("thresholds: bnn_bn2_t.npy", "thresholds: {random: 12}"),
    ("weights: bnn_fc_w.npy", "weights: {random: 13}"),
    ("bias: bnn_out_b.npy", "bias: {random: 14}"),
];

fn weights_patch_like_a_full_rebuild(family: Family) {
    let _one = FLOW.lock().unwrap_or_else(|p| p.into_inner());
    let a = gen(
        &digits_variant(&tmp(&format!("yaml-a-{family}")), &[]),
        family,
    );
    let b = gen(
        &digits_variant(&tmp(&format!("yaml-b-{family}")), B),
        family,
    );
    let changed: Vec<String> = patch::plan(&a, &b)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|u| hdlgen::rtl::top::unit_file(&b.design, u))
        .collect();
    assert_eq!(
        changed,
        [
            "conv1_bn1_w.hex",
            "conv2_bn2_t.hex",
            "fc_w.hex",
            "output8_sb.hex"
        ]
    );

    let (dir_a, dir_b) = (tmp(&format!("a-{family}")), tmp(&format!("b-{family}")));
    let (bit_a, pnr_a, secs_a) = build(&a, &dir_a, family);
    let (bit_b, _, secs_b) = build(&b, &dir_b, family);
    let (bytes_a, bytes_b) = (
        std::fs::read(&bit_a).unwrap(),
        std::fs::read(&bit_b).unwrap(),
    );
    assert_ne!(
        bytes_a, bytes_b,
        "{family}: A and B must differ for the test to mean anything"
    );
    let config = pnr_a.output.clone();
    let config_a = std::fs::read(&config).unwrap();

    // Wrong old contents (not what the bitstream was built with): found nowhere, and the
    // build directory is left as it was.
    let c = gen(
        &digits_variant(
            &tmp(&format!("yaml-c-{family}")),
            &[("weights: bnn_fc_w.npy", "weights: {random: 99}")],
        ),
        family,
    );
    let e = patch::patch_generated(family, &dir_a, &c, &b).unwrap_err();
    assert!(
        matches!(e, FlowError::PatchNotFound { .. }),
        "{family}: {e:?}"
    );
    assert!(e.to_string().contains("fc_w.hex"), "{e}");
    assert_eq!(std::fs::read(&config).unwrap(), config_a);
    assert_eq!(std::fs::read(&bit_a).unwrap(), bytes_a);

    // A → B equals the full build of B, byte for byte; B → A gives A back. The old
    // images come from the build directory, as `hdlgen build` would find them; after a
    // patch the directory gets the new files.
    let old = patch::read_built(&dir_a, &b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(old.images, a.images);
    let r = patch::patch_generated(family, &dir_a, &old, &b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.changed, changed);
    assert_eq!(r.bitstream, bit_a);
    assert!(
        std::fs::read(&bit_a).unwrap() == bytes_b,
        "{family}: the patched bitstream differs from a full build of B"
    );
    for (n, t) in &b.files {
        std::fs::write(dir_a.join(n), t).unwrap();
    }
    let old = patch::read_built(&dir_a, &a).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(old.images, b.images);
    let back = patch::patch_generated(family, &dir_a, &old, &a).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        std::fs::read(&bit_a).unwrap() == bytes_a,
        "{family}: patching back does not give A's bitstream"
    );
    assert_eq!(
        std::fs::read(&config).unwrap(),
        config_a,
        "{family}: B → A text"
    );
    eprintln!(
        "{family}: full build {secs_a:.1} s (A) / {secs_b:.1} s (B); patch A→B {:.2} s \
         ({} slices of {}, {} {:.2} s, pack {:.2} s), B→A {:.2} s; block RAM {}/{}",
        r.seconds,
        r.slices,
        r.changed.len(),
        r.tool,
        r.patch_seconds,
        r.pack_seconds,
        back.seconds,
        pnr_a.bram.used,
        pnr_a.bram.available
    );
}

#[test]
fn ice40_up5k_weights_patch_like_a_full_rebuild() {
    weights_patch_like_a_full_rebuild(Family::Ice40);
}

#[test]
fn ecp5_85f_weights_patch_like_a_full_rebuild() {
    weights_patch_like_a_full_rebuild(Family::Ecp5);
}

#[test]
fn changes_beyond_block_ram_are_not_patchable() {
    let dir = tmp("plan");
    let a = gen(&digits_variant(&dir.join("a"), &[]), Family::Ice40);
    let not = |g: &Generated| match patch::plan(&a, g) {
        Err(FlowError::NotPatchable { reasons }) => reasons.join("; "),
        other => panic!("expected NotPatchable, got {other:?}"),
    };
    // The same network from another file: nothing to patch (comments aside).
    let same = gen(&digits_variant(&dir.join("same"), &[]), Family::Ice40);
    assert_ne!(a.files, same.files, "the header names the YAML file");
    assert_eq!(patch::plan(&a, &same).unwrap(), Vec::<usize>::new());
    // conv1's thresholds are 4 words in flip-flops.
    let t1 = gen(
        &digits_variant(
            &dir.join("t1"),
            &[("thresholds: bnn_bn1_t.npy", "thresholds: {random: 5}")],
        ),
        Family::Ice40,
    );
    let why = not(&t1);
    assert!(
        why.contains("conv1_bn1_t.hex") && why.contains("flip-flops"),
        "{why}"
    );
    // Another folding changes the Verilog.
    let net = digits_variant(&dir.join("a"), &[]);
    let folded = generate(
        &net,
        &GenOptions {
            lut_budget: None,
            ..GenOptions::default()
        },
    )
    .unwrap();
    let why = not(&folded);
    assert!(why.contains("changed"), "{why}");
    // Register spacing of the adder trees (the ECP5 setting) is a Verilog change too.
    let why = not(&gen(&net, Family::Ecp5));
    assert!(
        why.contains("digits_bnn_top.v") || why.contains("changed"),
        "{why}"
    );
}

/// An `.asc` with one 256×16 block per entry of `blocks` (row r = word r).
fn asc_with(blocks: &[&UnitImage]) -> String {
    let mut s = String::from(".comment synthetic\n");
    for (k, img) in blocks.iter().enumerate() {
        s += &format!(".ram_data 0 {}\n", 2 * k + 1);
        let bit = |i: usize| img.get(i / 16, i % 16);
        for l in 0..16 {
            for p in 0..64 {
                let base = 256 * l + 4 * (63 - p);
                let nib = (0..4).fold(0u32, |n, b| n | u32::from(bit(base + b)) << b);
                s.push(char::from_digit(nib, 16).unwrap());
            }
            s.push('\n');
        }
    }
    s
}

#[test]
fn ambiguous_missing_and_misshapen_contents_are_typed_errors() {
    // 256 words fill a whole block: no filler rows, so the data alone must be unique.
    let unit = Unit {
        engine: 0,
        kind: UnitKind::Weights,
        width: 16,
        depth: 256,
        spram: false,
    };
    let img = |seed: u64| UnitImage {
        words: (0..256u64)
            .map(|r| vec![((r * 0x9e37 + seed * 0x85eb) >> 3) as u32 & 0xffff])
            .collect(),
    };
    let (old, new) = (img(1), img(2));
    let mem = |o: &UnitImage| MemoryImages {
        name: "w.hex".into(),
        unit,
        old: o.clone(),
        new: new.clone(),
    };
    let dir = tmp("synthetic");
    let asc = dir.join("top.asc");
    // Twice in the bitstream.
    std::fs::write(&asc, asc_with(&[&old, &old])).unwrap();
    let e = patch::patch(Family::Ice40, &dir, &[mem(&old)]).unwrap_err();
    assert!(matches!(e, FlowError::PatchAmbiguous { .. }), "{e:?}");
    eprintln!("{e}");
    // Not there at all.
    std::fs::write(&asc, asc_with(&[&new])).unwrap();
    let e = patch::patch(Family::Ice40, &dir, &[mem(&old)]).unwrap_err();
    assert!(matches!(e, FlowError::PatchNotFound { .. }), "{e:?}");
    eprintln!("{e}");
    // Two equal bit columns, only one of them in the bitstream: found once, but twice
    // at the same place.
    let set_col1 = |f: fn(u32) -> u32| UnitImage {
        words: old
            .words
            .iter()
            .map(|w| vec![(w[0] & !2) | (f(w[0]) & 1) << 1])
            .collect(),
    };
    let (dup, built) = (set_col1(|w| w), set_col1(|w| !w));
    std::fs::write(&asc, asc_with(&[&built])).unwrap();
    let e = patch::patch(Family::Ice40, &dir, &[mem(&dup)]).unwrap_err();
    assert!(
        matches!(e, FlowError::PatchAmbiguous { .. }) && e.to_string().contains("equals"),
        "{e:?}"
    );
    eprintln!("{e}");
    std::fs::write(&asc, asc_with(&[&new])).unwrap();
    // An image of the wrong depth.
    let mut short = mem(&old);
    short.new.words.pop();
    let e = patch::patch(Family::Ice40, &dir, &[short]).unwrap_err();
    assert!(matches!(e, FlowError::ImageMismatch { .. }), "{e:?}");
    // Nothing was written.
    assert_eq!(std::fs::read_to_string(&asc).unwrap(), asc_with(&[&new]));
}

/// The layer-sequential engine (MNIST on a UP5K): new front-end weights and sequencer
/// thresholds are block-RAM patches, new sequencer weights live in SPRAM (a host writes
/// them; nothing in the bitstream changes), another structure is not patchable. (A build
/// patched this way was byte-identical to a full rebuild: docs/board-flow.md.)
#[test]
fn layer_sequential_weights_are_patchable() {
    let dir = tmp("seq");
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = std::fs::read_to_string(root().join("examples/mnist_bnn.yaml")).unwrap();
    let gen_seq = |subs: &[(&str, &str)]| {
        let mut y = yaml.clone();
        for (a, b) in subs {
            let z = y.replacen(a, b, 1);
            assert_ne!(z, y, "{a}");
            y = z;
        }
        let p = dir.join("mnist_bnn.yaml");
        std::fs::write(&p, y).unwrap();
        let net = Network::load(&p).unwrap();
        generate(
            &net,
            &GenOptions {
                seq: Some(hdlgen::rtl::gen::SeqOptions { spram: true }),
                cfg_regs: true,
                ..GenOptions::default()
            },
        )
        .unwrap()
    };
    let a = gen_seq(&[]);
    let b = gen_seq(&[
        (
            "name: conv1, filters: 32, kernel: 3, padding: zero, weights: {random: 1}",
            "name: conv1, filters: 32, kernel: 3, padding: zero, weights: {random: 5}",
        ),
        ("thresholds: {random: 12}", "thresholds: {random: 22}"),
        (
            "name: fc, units: 10, weights: {random: 4}",
            "name: fc, units: 10, weights: {random: 7}",
        ),
    ]);
    let changed: Vec<String> = patch::plan(&a, &b)
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|&u| hdlgen::rtl::top::unit_file(&b.design, u))
        .collect();
    assert_eq!(changed, ["conv1_fc_fw.hex", "conv1_fc_t.hex"]);
    let other = gen_seq(&[("name: conv3, filters: 128", "name: conv3, filters: 64")]);
    assert!(matches!(
        patch::plan(&a, &other),
        Err(FlowError::NotPatchable { .. })
    ));
}
