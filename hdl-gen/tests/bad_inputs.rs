//! Bad inputs to the `hdlgen` command line: every one must be rejected with the right
//! exit code (1 invalid network/weights/input, 2 usage, 3 cannot write), without a panic,
//! with a message that says what is wrong and, for problems in the YAML, where
//! (`net.yaml:LINE:COL` as miette prints it).
//!
//! Each test writes its network (and any `.npy`/`.npz` files) into a fresh temporary
//! folder and runs the real binary there, so the file name in diagnostics is `net.yaml`.
//! Expected line/column positions were counted by hand from the YAML text (1-based).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use npyz::WriterBuilder;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_hdlgen");

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// What one run of the binary produced.
struct Out {
    /// `None` when the process was killed by a signal.
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    /// Stderr without whitespace and miette's gutter bars, so phrases can be matched even
    /// where miette wrapped a long message over several lines (it wraps at 80 columns
    /// when stderr is not a terminal, also at hyphens and slashes).
    fn squashed(&self) -> String {
        squash(&self.stderr)
    }
}

fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '│')
        .collect()
}

fn command(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "200")
        .env("RUST_BACKTRACE", "0")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("FORCE_COLOR")
        .stdin(Stdio::null());
    c
}

/// Runs `hdlgen ARGS` in `dir`.
fn hdlgen(dir: &Path, args: &[&str]) -> Out {
    let o = command(dir)
        .args(args)
        .output()
        .expect("cannot start the hdlgen binary");
    Out {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Runs `hdlgen ARGS` in `dir` under a 2 GB address-space limit and a 60 s deadline, for
/// inputs that (because of a bug) make hdlgen allocate without bound.
fn hdlgen_limited(dir: &Path, args: &[&str]) -> Out {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("ulimit -v 2000000 && exec \"$@\"")
        .arg("sh")
        .arg(BIN)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "200")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("cannot start sh");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hdlgen did not answer within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = child.wait_with_output().expect("output");
    Out {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Joins YAML lines with newlines (line N of the file is `lines[N - 1]`).
fn yaml(lines: &[&str]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

/// A temporary folder holding `net.yaml` and whatever files a case needs.
struct Net {
    dir: TempDir,
}

impl Net {
    fn new(text: &str) -> Net {
        let n = Net::empty();
        n.file("net.yaml", text.as_bytes());
        n
    }
    fn lines(lines: &[&str]) -> Net {
        Net::new(&yaml(lines))
    }
    fn empty() -> Net {
        Net {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn file(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.path(name), bytes).expect("write fixture");
    }
    fn npy_i64(&self, name: &str, shape: &[u64], data: &[i64]) {
        write_npy(&self.path(name), shape, data);
    }
    fn npy_f64(&self, name: &str, shape: &[u64], data: &[f64]) {
        write_npy(&self.path(name), shape, data);
    }
    /// An `.npz` holding int64 arrays `(name, shape, data)`.
    fn npz_i64(&self, name: &str, arrays: &[(&str, &[u64], &[i64])]) {
        let mut z = npyz::npz::NpzWriter::create(self.path(name)).expect("create npz");
        for (key, shape, data) in arrays {
            let mut w = z
                .array::<i64>(key, npyz::zip::write::FileOptions::default())
                .expect("npz entry")
                .default_dtype()
                .shape(shape)
                .begin_nd()
                .expect("npz header");
            w.extend(data.iter().copied()).expect("npz data");
            w.finish().expect("npz finish");
        }
    }
    fn run(&self, args: &[&str]) -> Out {
        hdlgen(self.dir.path(), args)
    }
    fn check(&self) -> Out {
        self.run(&["check", "net.yaml"])
    }
    fn run_input(&self, input: &str) -> Out {
        self.run(&["run", "net.yaml", "--input", input])
    }
}

fn write_npy<T: npyz::AutoSerialize + Copy>(path: &Path, shape: &[u64], data: &[T]) {
    let f = File::create(path).expect("create npy");
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(BufWriter::new(f))
        .begin_nd()
        .expect("npy header");
    w.extend(data.iter().copied()).expect("npy data");
    w.finish().expect("npy finish");
}

/// The bytes of a version-1 `.npy` with a hand-written header (for shapes and orders
/// that numpy writers would not produce here).
fn raw_npy(descr: &str, fortran: bool, shape: &str, payload: &[u8]) -> Vec<u8> {
    let order = if fortran { "True" } else { "False" };
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(h.len() as u16).to_le_bytes());
    bytes.extend_from_slice(h.as_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// Asserts a clean failure: exit `code`, no panic, nothing on stdout, every phrase in the
/// message (whitespace-insensitive) and, if given, the YAML location `net.yaml:L:C`.
#[track_caller]
fn expect(out: &Out, code: i32, phrases: &[&str], loc: Option<&str>) {
    let dump = format!(
        "\n--- exit: {:?}\n--- stderr:\n{}\n--- stdout:\n{}",
        out.code, out.stderr, out.stdout
    );
    assert!(
        out.code.is_some(),
        "hdlgen was killed by a signal (abort/stack overflow?){dump}"
    );
    assert_ne!(out.code, Some(101), "hdlgen panicked (exit 101){dump}");
    assert!(!out.stderr.contains("panicked"), "hdlgen panicked{dump}");
    assert_eq!(out.code, Some(code), "wrong exit code{dump}");
    assert!(
        out.stdout.trim().is_empty(),
        "a failed command printed results on stdout{dump}"
    );
    let sq = out.squashed();
    for p in phrases {
        assert!(sq.contains(&squash(p)), "missing phrase {p:?}{dump}");
    }
    if let Some(l) = loc {
        let want = format!("[{l}]");
        assert!(
            out.stderr.contains(&want),
            "missing location {want:?} (miette's `╭─[FILE:LINE:COL]`){dump}"
        );
    }
}

/// A failure of the network description: exit 1 and a location in net.yaml.
#[track_caller]
fn spec_error(out: &Out, phrases: &[&str], line: usize, col: usize) {
    expect(out, 1, phrases, Some(&format!("net.yaml:{line}:{col}")));
}

// Lines shared by many cases.
const LIF: &str = "  - lif: {name: n1, threshold: 4, leak: none, reset: zero, fire: gt, reset_timing: delayed, v_bits: 16}";

// ---------------------------------------------------------------------------------------
// The file itself: missing, not text, not YAML, empty
// ---------------------------------------------------------------------------------------

#[test]
fn network_file_does_not_exist() {
    let n = Net::empty();
    let out = n.run(&["check", "missing.yaml"]);
    expect(&out, 1, &["cannot read missing.yaml"], None);
    if cfg!(unix) {
        expect(&out, 1, &["No such file or directory"], None);
    }
}

#[test]
fn network_path_is_a_directory() {
    let n = Net::empty();
    std::fs::create_dir(n.path("netdir.yaml")).unwrap();
    let out = n.run(&["check", "netdir.yaml"]);
    expect(&out, 1, &["cannot read netdir.yaml"], None);
}

#[test]
fn network_file_is_binary_junk() {
    let n = Net::empty();
    n.file("net.yaml", b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x00junk");
    expect(
        &n.check(),
        1,
        &[
            "net.yaml: not a text file: invalid UTF-8 at byte 0",
            "a network description is a YAML text file",
        ],
        None,
    );
}

#[test]
fn network_file_with_invalid_utf8_in_the_middle() {
    let n = Net::empty();
    n.file("net.yaml", b"version: 1\n\xc3\x28input: x\n");
    expect(&n.check(), 1, &["invalid UTF-8 at byte 11"], None);
}

#[test]
fn empty_file() {
    let n = Net::new("");
    spec_error(
        &n.check(),
        &[
            "the file is empty: expected a network description",
            "a network needs at least `version: 1`, `input:` and `layers:`",
        ],
        1,
        1,
    );
}

#[test]
fn file_with_only_a_comment_is_empty() {
    let n = Net::new("# nothing here yet\n");
    spec_error(&n.check(), &["the file is empty"], 1, 1);
}

#[test]
fn yaml_bad_indentation() {
    let n = Net::lines(&[
        "version: 1",
        "input:",
        "  shape: [4, 4, 1]",
        " bits: 8",
        "layers:",
        "  - output",
    ]);
    spec_error(
        &n.check(),
        &[
            "YAML syntax error: while parsing a block mapping, did not find expected key",
            "check indentation",
        ],
        4,
        2,
    );
}

#[test]
fn yaml_unclosed_flow_mapping() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4, 4, 1], bits: 8",
        "layers:",
        "  - output",
    ]);
    // The parser notices at the `:` after `layers`, the first token that cannot continue
    // the flow mapping.
    spec_error(
        &n.check(),
        &["YAML syntax error", "did not find expected ',' or '}'"],
        3,
        7,
    );
}

#[test]
fn yaml_unclosed_flow_sequence_at_end_of_file() {
    let n = Net::new("version: 1\ninput: {shape: [4], bits: 8}\nlayers: [flatten, output\n");
    // Noticed at the end of the input (line 4, column 1).
    spec_error(&n.check(), &["YAML syntax error"], 4, 1);
}

#[test]
fn yaml_two_documents() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "layers: [flatten]",
        "---",
        "version: 1",
    ]);
    spec_error(
        &n.check(),
        &[
            "more than one YAML document in the file",
            "remove the extra `---`",
        ],
        5,
        1,
    );
}

#[test]
fn yaml_duplicate_top_level_key() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "input: {shape: [4], bits: 8}",
        "layers: [flatten]",
    ]);
    spec_error(
        &n.check(),
        &["duplicate key `input`", "second occurrence"],
        3,
        1,
    );
}

#[test]
fn yaml_duplicate_key_in_a_flow_mapping() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [16], bits: 8}",
        "layers:",
        "  - binary_dense: {name: fc, units: 2, units: 3, weights: {random: 1}}",
        "  - output",
    ]);
    spec_error(&n.check(), &["duplicate key `units`"], 4, 40);
}

// ---------------------------------------------------------------------------------------
// Keys, kinds and types
// ---------------------------------------------------------------------------------------

#[test]
fn version_2() {
    let n = Net::lines(&[
        "version: 2",
        "input: {shape: [4], bits: 8}",
        "layers: [flatten]",
    ]);
    spec_error(
        &n.check(),
        &[
            "version: 2 is out of range [1, 1]",
            "this hdlgen reads version 1 network descriptions",
        ],
        1,
        10,
    );
}

#[test]
fn wrong_top_level_key_did_you_mean() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [16], bits: 8}",
        "layer:",
        "  - flatten",
    ]);
    spec_error(
        &n.check(),
        &["network: unknown key `layer`", "did you mean `layers`?"],
        3,
        1,
    );
}

#[test]
fn unknown_layer_kind_did_you_mean() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4, 4, 1], bits: 8}",
        "layers:",
        "  - binary_conv: {filters: 2, kernel: 3, padding: zero, weights: {random: 1}}",
        "  - output",
    ]);
    spec_error(
        &n.check(),
        &[
            "unknown layer kind `binary_conv`",
            "did you mean `binary_conv2d`?",
        ],
        4,
        5,
    );
}

#[test]
fn unknown_bare_layer_kind_did_you_mean() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4, 4, 1], bits: 8}",
        "layers:",
        "  - flaten",
        "  - output",
    ]);
    spec_error(
        &n.check(),
        &["unknown layer kind `flaten`", "did you mean `flatten`?"],
        4,
        5,
    );
}

#[test]
fn unknown_layer_option_did_you_mean() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4, 4, 1], bits: 8}",
        "layers:",
        "  - binary_conv2d: {name: c1, filtres: 2, kernel: 3, padding: zero, weights: {random: 1}}",
        "  - output",
    ]);
    spec_error(
        &n.check(),
        &["unknown key `filtres`", "did you mean `filters`?"],
        4,
        31,
    );
}

#[test]
fn unknown_choice_did_you_mean() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4, 4, 1], bits: 8}",
        "layers:",
        "  - binary_conv2d: {filters: 2, kernel: 3, padding: zeros, weights: {random: 1}}",
        "  - output",
    ]);
    spec_error(
        &n.check(),
        &[
            "padding: expected one of `one`, `zero`, `none`, found `zeros`",
            "did you mean `zero`?",
        ],
        4,
        53,
    );
}

#[test]
fn unknown_encoder_did_you_mean() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "time_steps: 4",
        "encoder: {rat: {seed: 1}}",
        "layers:",
        "  - dense: {name: fc, units: 2, weight_bits: 4, weights: {random: 1}}",
        LIF,
    ]);
    spec_error(
        &n.check(),
        &[
            "encoder: expected one of",
            "found `rat`",
            "did you mean `rate`?",
        ],
        4,
        11,
    );
}

#[test]
fn string_where_an_integer_is_expected() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4, 4, 1], bits: 8}",
        "layers:",
        "  - binary_conv2d: {filters: two, kernel: 3, padding: zero, weights: {random: 1}}",
        "  - output",
    ]);
    spec_error(
        &n.check(),
        &[
            "filters: expected an integer, found a string",
            "not an integer",
        ],
        4,
        30,
    );
}

#[test]
fn fraction_where_an_integer_is_expected() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4, 4, 1], bits: 8}",
        "layers:",
        "  - binary_conv2d: {filters: 2, kernel: 3.5, padding: zero, weights: {random: 1}}",
        "  - output",
    ]);
    spec_error(
        &n.check(),
        &["kernel: expected an integer, found 3.5", "quantise first"],
        4,
        41,
    );
}

#[test]
fn integer_too_large_for_64_bits() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4, 4, 1], bits: 8}",
        "layers:",
        "  - binary_conv2d: {filters: 99999999999999999999, kernel: 3, padding: zero, weights: {random: 1}}",
        "  - output",
    ]);
    spec_error(
        &n.check(),
        &["filters: 99999999999999999999 does not fit in a 64-bit signed integer"],
        4,
        30,
    );
}

#[test]
fn list_where_a_mapping_is_expected() {
    let n = Net::lines(&["version: 1", "input: [4, 4, 1]", "layers:", "  - flatten"]);
    spec_error(
        &n.check(),
        &[
            "input: expected a mapping of keys, found a list",
            "allowed keys: `shape`, `bits`, `signed`, `binary`",
        ],
        2,
        8,
    );
}

#[test]
fn mapping_where_a_list_is_expected() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "layers: {flatten: {}}",
    ]);
    spec_error(
        &n.check(),
        &["layers: expected a list, found a mapping"],
        3,
        9,
    );
}

#[test]
fn input_shape_with_two_dimensions() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4, 4], bits: 8}",
        "layers: [flatten]",
    ]);
    spec_error(
        &n.check(),
        &["input shape: expected [H, W, C] or [N], found 2 dimensions"],
        2,
        16,
    );
}

// ---------------------------------------------------------------------------------------
// Sizes and shapes
// ---------------------------------------------------------------------------------------

#[test]
fn zero_filters() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4, 4, 1], bits: 8}",
        "layers:",
        "  - binary_conv2d: {filters: 0, kernel: 3, padding: zero, weights: {random: 1}}",
        "  - output",
    ]);
    spec_error(
        &n.check(),
        &[
            "filters: must be at least 1, found 0",
            "not a positive size",
        ],
        4,
        30,
    );
}

#[test]
fn negative_kernel() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4, 4, 1], bits: 8}",
        "layers:",
        "  - binary_conv2d: {filters: 2, kernel: -3, padding: zero, weights: {random: 1}}",
        "  - output",
    ]);
    spec_error(&n.check(), &["kernel: must be at least 1, found -3"], 4, 41);
}

#[test]
fn kernel_larger_than_the_input_without_padding() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4, 4, 1], bits: 8}",
        "layers:",
        "  - binary_conv2d: {filters: 2, kernel: 5, padding: none, weights: {random: 1}}",
        "  - output",
    ]);
    spec_error(
        &n.check(),
        &[
            "layer `binary_conv2d0` (binary_conv2d): a 5×5 window does not fit the 4×4×1 input without padding",
            "shapes do not chain",
        ],
        4,
        20,
    );
}

#[test]
fn dense_without_flatten() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4, 4, 1], bits: 8}",
        "layers:",
        "  - binary_dense: {units: 2, weights: {random: 1}}",
        "  - output",
    ]);
    spec_error(
        &n.check(),
        &[
            "needs a vector input, but its input is the map 4×4×1",
            "add `- flatten` before this layer",
        ],
        4,
        19,
    );
}

// ---------------------------------------------------------------------------------------
// Weights and other parameters
// ---------------------------------------------------------------------------------------

/// A vector BNN whose `binary_dense` weights are `weights` (line 4, value at column 49).
fn bnn16(weights: &str) -> Net {
    Net::new(&yaml(&[
        "version: 1",
        "input: {shape: [16], bits: 8}",
        "layers:",
        &format!("  - binary_dense: {{name: fc, units: 2, weights: {weights}}}"),
        "  - output",
    ]))
}

/// A vector SNN whose `dense` weights are `weights` (line 5, value at column 58).
fn snn4(weights: &str) -> Net {
    Net::new(&yaml(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "time_steps: 4",
        "layers:",
        &format!("  - dense: {{name: fc, units: 2, weight_bits: 4, weights: {weights}}}"),
        LIF,
    ]))
}

#[test]
fn inline_weights_of_the_wrong_shape() {
    let n = bnn16("[[1, -1], [1, 1]]");
    spec_error(
        &n.check(),
        &[
            "weights of layer `fc`: shape [2, 2] does not fit; expected [2, 16]",
            "wrong shape",
        ],
        4,
        49,
    );
}

#[test]
fn npy_weights_of_the_wrong_shape() {
    let n = bnn16("w.npy");
    n.npy_i64("w.npy", &[3, 16], &[1; 48]);
    spec_error(
        &n.check(),
        &["weights of layer `fc`: shape [3, 16] in w.npy does not fit; expected [2, 16]"],
        4,
        49,
    );
}

#[test]
fn ragged_inline_list() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [2], bits: 8}",
        "layers:",
        "  - binary_dense: {name: fc, units: 2, weights: [[1, 1], [1]]}",
        "  - output",
    ]);
    spec_error(
        &n.check(),
        &["weights of layer `fc`: ragged list: 1 items where 2 were expected"],
        4,
        58,
    );
}

#[test]
fn inline_binary_weight_zero() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [16], bits: 8}",
        "layers:",
        "  - binary_dense: {name: fc, units: 1, weights: [[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1]]}",
        "  - output",
    ]);
    spec_error(
        &n.check(),
        &[
            "weights of layer `fc`: value 0 at index [0, 14] is not +1 or -1",
            "binary values are +1 or -1",
        ],
        4,
        49,
    );
}

#[test]
fn npy_binary_weight_two() {
    let n = bnn16("w.npy");
    let mut w = vec![1i64; 32];
    w[16 + 3] = 2;
    n.npy_i64("w.npy", &[2, 16], &w);
    spec_error(
        &n.check(),
        &["weights of layer `fc`: value 2 at index [1, 3] in w.npy is not +1 or -1"],
        4,
        49,
    );
}

#[test]
fn npy_float_weights_that_are_not_integers() {
    let n = snn4("w.npy");
    n.npy_f64("w.npy", &[2, 4], &[1.0, -2.0, 3.0, 0.0, 1.0, 1.0, 0.5, 2.0]);
    spec_error(
        &n.check(),
        &[
            "weights of layer `fc`: value 0.5 at index [1, 2] in w.npy is not an integer",
            "quantise (and scale) before exporting",
        ],
        5,
        58,
    );
}

#[test]
fn inline_integer_weight_out_of_weight_bits_range() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "time_steps: 4",
        "layers:",
        "  - dense: {name: fc, units: 1, weight_bits: 4, weights: [[1, 2, 8, 0]]}",
        LIF,
    ]);
    spec_error(
        &n.check(),
        &[
            "weights of layer `fc`: value 8 at index [0, 2] is out of range [-8, 7]",
            "weight_bits: 4 holds [-8, 7]",
        ],
        5,
        58,
    );
}

#[test]
fn npz_integer_weight_out_of_weight_bits_range() {
    let n = snn4("{file: w.npz, key: fc}");
    n.npz_i64("w.npz", &[("fc", &[2, 4], &[0, 1, 2, 3, -9, 7, -8, 0])]);
    spec_error(
        &n.check(),
        &["weights of layer `fc`: value -9 at index [1, 0] in w.npz is out of range [-8, 7]"],
        5,
        58,
    );
}

#[test]
fn missing_weight_file() {
    let n = bnn16("nothere.npy");
    spec_error(
        &n.check(),
        &[
            "weights of layer `fc`: cannot open nothere.npy",
            "paths are relative to the YAML file's folder",
        ],
        4,
        49,
    );
}

#[test]
fn garbage_npy_file() {
    let n = bnn16("w.npy");
    n.file("w.npy", b"this is not a numpy file at all\n");
    spec_error(
        &n.check(),
        &["weights of layer `fc`: w.npy is not a valid .npy file"],
        4,
        49,
    );
}

#[test]
fn truncated_npy_file() {
    let n = bnn16("w.npy");
    n.npy_i64("w.npy", &[2, 16], &[1; 32]);
    let bytes = std::fs::read(n.path("w.npy")).unwrap();
    n.file("w.npy", &bytes[..bytes.len() - 100]);
    spec_error(
        &n.check(),
        &["weights of layer `fc`: w.npy: read error"],
        4,
        49,
    );
}

#[test]
fn npz_without_the_key() {
    let n = bnn16("{file: w.npz, key: conv9}");
    n.npz_i64("w.npz", &[("fc", &[2, 16], &[1; 32])]);
    // The error points at the file name inside the mapping (`{` at 49, `w.npz` at 56).
    spec_error(
        &n.check(),
        &["w.npz has no array `conv9`", "arrays in the file: fc"],
        4,
        56,
    );
}

#[test]
fn fortran_ordered_npy() {
    let n = bnn16("w.npy");
    n.file("w.npy", &raw_npy("<i8", true, "(2, 16)", &[1; 256]));
    spec_error(
        &n.check(),
        &["weights of layer `fc`: w.npy: Fortran-ordered arrays are not supported"],
        4,
        49,
    );
}

#[test]
fn npy_of_an_unsupported_dtype() {
    let n = bnn16("w.npy");
    n.file("w.npy", &raw_npy("<c16", false, "(2, 16)", &[0; 512]));
    spec_error(
        &n.check(),
        &[
            "weights of layer `fc`: w.npy: dtype",
            "is not supported; use an integer, float or bool array",
        ],
        4,
        49,
    );
}

#[test]
fn npz_named_without_a_key() {
    let n = bnn16("w.npz");
    spec_error(
        &n.check(),
        &[
            "weights of layer `fc`: an .npz file needs the array's name",
            "write `{file: w.npz, key: NAME}`",
        ],
        4,
        49,
    );
}

// ---------------------------------------------------------------------------------------
// Thresholds, widths and ranges
// ---------------------------------------------------------------------------------------

#[test]
fn lif_threshold_above_the_saturated_membrane() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "time_steps: 4",
        "layers:",
        "  - dense: {name: fc, units: 2, weight_bits: 4, weights: {random: 1}}",
        "  - lif: {name: n1, threshold: 40000, leak: none, reset: zero, fire: gt, reset_timing: delayed, v_bits: 16}",
    ]);
    spec_error(
        &n.check(),
        &[
            "threshold of layer `n1`: value 40000 is out of range [1, 32766]",
            "the membrane saturates at 32767",
        ],
        6,
        32,
    );
}

#[test]
fn lif_threshold_equal_to_saturation_with_fire_gt() {
    // v > 32767 never holds in a 16-bit membrane.
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "time_steps: 4",
        "layers:",
        "  - dense: {name: fc, units: 2, weight_bits: 4, weights: {random: 1}}",
        "  - lif: {name: n1, threshold: 32767, leak: none, reset: zero, fire: gt, reset_timing: delayed, v_bits: 16}",
    ]);
    spec_error(
        &n.check(),
        &[
            "value 32767 is out of range [1, 32766]",
            "θ ≤ 32766 (fire gt)",
        ],
        6,
        32,
    );
}

/// A BNN whose threshold layer (line 5, value at column 39) sits on a 4×255 accumulator.
fn bnn_threshold(thresholds: &str, direction: &str) -> Net {
    Net::new(&yaml(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "layers:",
        "  - binary_dense: {name: fc1, units: 2, weights: {random: 1}}",
        &format!("  - threshold: {{name: bn, thresholds: {thresholds}, direction: {direction}}}"),
        "  - binary_dense: {name: fc2, units: 2, weights: {random: 2}}",
        "  - output",
    ]))
}

#[test]
fn bnn_threshold_outside_the_accumulator_range() {
    let n = bnn_threshold("2000", "ge");
    spec_error(
        &n.check(),
        &[
            "thresholds of layer `bn`: value 2000 is out of range",
            "the accumulator lies in [-1020, 1020]",
        ],
        5,
        39,
    );
}

#[test]
fn bnn_threshold_below_the_accumulator_range_for_ge() {
    let n = bnn_threshold("-1021", "ge");
    spec_error(
        &n.check(),
        &["channel 0: threshold -1021 lies beyond the accumulator range [-1020, 1020] for direction ge"],
        5,
        39,
    );
}

#[test]
fn bnn_threshold_per_channel_above_the_range_for_le() {
    let n = bnn_threshold("[0, 1021]", "le");
    spec_error(
        &n.check(),
        &["channel 1: threshold 1021 lies beyond the accumulator range [-1020, 1020] for direction le"],
        5,
        39,
    );
}

#[test]
fn bnn_threshold_not_a_number() {
    let n = bnn_threshold(".nan", "ge");
    spec_error(
        &n.check(),
        &["thresholds of layer `bn`: value NaN is not an integer"],
        5,
        39,
    );
}

#[test]
fn bnn_direction_list_with_a_zero() {
    // Message wording says "binary weight" for a direction; only the located value is asserted.
    let n = bnn_threshold("0", "[1, 0]");
    spec_error(
        &n.check(),
        &["direction of layer `bn`: value 0 at index [1]"],
        5,
        53,
    );
}

/// An SNN whose `lif` layer has `leak: LEAK` (line 6; the leak value starts at column 41).
fn snn_leak(leak: &str) -> Net {
    Net::new(&yaml(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "time_steps: 4",
        "layers:",
        "  - dense: {name: fc, units: 2, weight_bits: 4, weights: {random: 1}}",
        &format!("  - lif: {{name: n1, threshold: 4, leak: {leak}, reset: zero, fire: gt, reset_timing: delayed, v_bits: 16}}"),
    ]))
}

#[test]
fn leak_shift_zero() {
    let n = snn_leak("{shift: 0}");
    spec_error(
        &n.check(),
        &["leak shift of layer `n1`: value 0 is out of range [1, 63]"],
        6,
        49,
    );
}

#[test]
fn leak_with_shift_and_beta() {
    let n = snn_leak("{shift: 1, beta: 1}");
    spec_error(
        &n.check(),
        &["leak: give either `shift` or `beta`, not both"],
        6,
        41,
    );
}

#[test]
fn leak_beta_above_one() {
    // β = 3/2^1 > 1; `{` at 41, `beta: ` 42-47, value at 48.
    let n = snn_leak("{beta: 3, frac_bits: 1}");
    spec_error(
        &n.check(),
        &[
            "leak beta of layer `n1`: value 3 is out of range [0, 2]",
            "β = Q/2^1 must lie in [0, 1]",
        ],
        6,
        48,
    );
}

#[test]
fn latency_encoder_with_a_signed_input() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8, signed: true}",
        "time_steps: 4",
        "encoder: latency",
        "layers:",
        "  - dense: {name: fc, units: 2, weight_bits: 4, weights: {random: 1}}",
        LIF,
    ]);
    spec_error(
        &n.check(),
        &["the latency encoder needs an unsigned integer input (intensities)"],
        2,
        8,
    );
}

#[test]
fn spiking_network_with_a_binary_input() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], binary: true}",
        "time_steps: 4",
        "layers:",
        "  - dense: {name: fc, units: 2, weight_bits: 4, weights: {random: 1}}",
        LIF,
    ]);
    spec_error(
        &n.check(),
        &["a spiking network's input is integers", "not ±1"],
        2,
        8,
    );
}

#[test]
fn padding_one_on_an_integer_input() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4, 4, 1], bits: 8}",
        "layers:",
        "  - binary_conv2d: {filters: 2, kernel: 3, padding: one, weights: {random: 1}}",
        "  - output",
    ]);
    spec_error(
        &n.check(),
        &["padding `one` pads binary inputs with +1; this layer's input is integers"],
        4,
        53,
    );
}

#[test]
fn threshold_on_a_binary_input() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], binary: true}",
        "layers:",
        "  - threshold: {thresholds: 0, direction: ge}",
        "  - binary_dense: {units: 2, weights: {random: 1}}",
        "  - output",
    ]);
    spec_error(
        &n.check(),
        &["layer `threshold0` (threshold): its input is already binary"],
        4,
        16,
    );
}

#[test]
fn time_steps_zero() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "time_steps: 0",
        "layers:",
        "  - dense: {units: 2, weight_bits: 4, weights: {random: 1}}",
        LIF,
    ]);
    spec_error(
        &n.check(),
        &["time_steps: 0 is out of range [1, 1048576]", "T ≥ 1"],
        3,
        13,
    );
}

#[test]
fn v_bits_65() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "time_steps: 4",
        "layers:",
        "  - dense: {name: fc, units: 2, weight_bits: 4, weights: {random: 1}}",
        "  - lif: {name: n1, threshold: 4, leak: none, reset: zero, fire: gt, reset_timing: delayed, v_bits: 65}",
    ]);
    spec_error(
        &n.check(),
        &[
            "v_bits: 65 is out of range [2, 64]",
            "a signed register of 2 to 64 bits",
        ],
        6,
        101,
    );
}

#[test]
fn dense_current_range_would_overflow() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 32}",
        "time_steps: 4",
        "layers:",
        "  - dense: {name: fc, units: 2, weight_bits: 32, weights: {random: 1}}",
        "  - lif: {name: n1, threshold: 4, leak: none, reset: zero, fire: gt, reset_timing: delayed, v_bits: 64}",
    ]);
    spec_error(
        &n.check(),
        &[
            "layer `fc` (dense): the synaptic current range",
            "would overflow 62 bits",
        ],
        5,
        12,
    );
}

#[test]
fn output_scores_would_overflow() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 32}",
        "layers:",
        "  - binary_dense: {name: fc, units: 2, weights: {random: 1}}",
        "  - output: {name: out, scale: 2147483647}",
    ]);
    spec_error(
        &n.check(),
        &["layer `out` (output): scores in", "would overflow 63 bits"],
        5,
        13,
    );
}

#[test]
fn input_bits_zero() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 0}",
        "layers: [flatten]",
    ]);
    spec_error(
        &n.check(),
        &[
            "bits: 0 is out of range [1, 32]",
            "inputs are 1 to 32 bits wide",
        ],
        2,
        27,
    );
}

// ---------------------------------------------------------------------------------------
// Network structure
// ---------------------------------------------------------------------------------------

#[test]
fn bnn_not_ending_in_output() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "layers:",
        "  - binary_dense: {units: 2, weights: {random: 1}}",
    ]);
    spec_error(
        &n.check(),
        &[
            "a binary network must end with an `output` layer, not `binary_dense`",
            "add `- output: {}`",
        ],
        4,
        5,
    );
}

#[test]
fn output_not_last() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "layers:",
        "  - binary_dense: {units: 2, weights: {random: 1}}",
        "  - output",
        "  - flatten",
    ]);
    spec_error(&n.check(), &["`output` must be the last layer"], 5, 5);
}

#[test]
fn snn_not_ending_in_lif() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "time_steps: 4",
        "layers:",
        "  - dense: {units: 2, weight_bits: 4, weights: {random: 1}}",
    ]);
    spec_error(
        &n.check(),
        &["a spiking network must end with a `lif` layer, not `dense`"],
        5,
        5,
    );
}

#[test]
fn lif_without_time_steps() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "layers:",
        "  - dense: {units: 2, weight_bits: 4, weights: {random: 1}}",
        LIF,
    ]);
    spec_error(
        &n.check(),
        &[
            "layer `n1` (lif): neurons need time steps, but the network has no `time_steps`",
            "add `time_steps: T`",
        ],
        5,
        10,
    );
}

#[test]
fn encoder_without_time_steps() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "encoder: latency",
        "layers:",
        "  - binary_dense: {units: 2, weights: {random: 1}}",
        "  - output",
    ]);
    spec_error(
        &n.check(),
        &["`encoder` belongs to a spiking network, but there is no `time_steps`"],
        3,
        10,
    );
}

#[test]
fn multi_spike_with_fire_gt() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "time_steps: 4",
        "layers:",
        "  - dense: {name: fc, units: 2, weight_bits: 4, weights: {random: 1}}",
        "  - lif: {name: n1, threshold: 4, leak: none, reset: subtract, fire: gt, reset_timing: immediate, v_bits: 16, multi_spike: true}",
    ]);
    spec_error(
        &n.check(),
        &["multi_spike needs `fire: ge`, `reset: subtract` and `reset_timing: immediate`"],
        6,
        124,
    );
}

#[test]
fn lif_missing_fire() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "time_steps: 4",
        "layers:",
        "  - dense: {name: fc, units: 2, weight_bits: 4, weights: {random: 1}}",
        "  - lif: {name: n1, threshold: 4, leak: none, reset: zero, reset_timing: delayed, v_bits: 16}",
    ]);
    spec_error(
        &n.check(),
        &[
            "layer `n1` (lif): missing key `fire`",
            "`fire` is required here",
            "`gt` (v > θ, snnTorch) or `ge` (v ≥ θ, sinabs)",
        ],
        6,
        10,
    );
}

#[test]
fn rate_encoder_with_seed_zero() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "time_steps: 4",
        "encoder: {rate: {seed: 0}}",
        "layers:",
        "  - dense: {name: fc, units: 2, weight_bits: 4, weights: {random: 1}}",
        LIF,
    ]);
    spec_error(
        &n.check(),
        &[
            "seed: 0 is out of range [1, 4294967295]",
            "0 is a fixed point",
        ],
        4,
        24,
    );
}

#[test]
fn duplicate_layer_names() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "layers:",
        "  - binary_dense: {name: fc, units: 2, weights: {random: 1}}",
        "  - output: {name: fc}",
    ]);
    spec_error(
        &n.check(),
        &[
            "layer name `fc` is used twice",
            "the first `fc` is on line 4",
        ],
        5,
        13,
    );
}

#[test]
fn events_encoder_with_bits() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [8, 8, 2], bits: 8}",
        "time_steps: 4",
        "encoder: {events: {bin_us: 1000}}",
        "layers:",
        "  - flatten",
        "  - dense: {name: fc, units: 2, weight_bits: 4, weights: {random: 1}}",
        LIF,
    ]);
    spec_error(
        &n.check(),
        &["an event input has no `bits`: values are event counts"],
        2,
        33,
    );
}

// ---------------------------------------------------------------------------------------
// Input files for `hdlgen run`
// ---------------------------------------------------------------------------------------

/// A small valid BNN on 2×3×1 8-bit unsigned images.
fn image_bnn() -> Net {
    Net::lines(&[
        "version: 1",
        "input: {shape: [2, 3, 1], bits: 8}",
        "layers:",
        "  - flatten",
        "  - binary_dense: {name: fc, units: 2, weights: {random: 1}}",
        "  - output",
    ])
}

/// A small valid SNN on 8×8 DVS events (two polarities).
fn events_snn() -> Net {
    Net::lines(&[
        "version: 1",
        "input: {shape: [8, 8, 2]}",
        "time_steps: 4",
        "encoder: {events: {bin_us: 1000}}",
        "layers:",
        "  - flatten",
        "  - dense: {name: fc, units: 2, weight_bits: 4, weights: {random: 1}}",
        LIF,
    ])
}

#[test]
fn valid_networks_used_below_are_accepted() {
    // Guards the input-file cases: they must fail because of the input, not the network.
    for n in [image_bnn(), events_snn()] {
        let out = n.check();
        assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    }
    let n = image_bnn();
    n.npy_i64("in.npy", &[2, 3, 1], &[0, 1, 2, 3, 4, 255]);
    let out = n.run_input("in.npy");
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
}

#[test]
fn input_npy_of_the_wrong_shape() {
    let n = image_bnn();
    n.npy_i64("in.npy", &[3, 2], &[0; 6]);
    expect(
        &n.run_input("in.npy"),
        1,
        &["in.npy: array `x` has shape [3, 2] but the network expects [2, 3, 1] or a batch [N, 2, 3, 1]"],
        None,
    );
}

#[test]
fn input_value_out_of_range() {
    let n = image_bnn();
    n.npy_i64("in.npy", &[2, 3, 1], &[0, 1, 2, 3, 4, 300]);
    expect(
        &n.run_input("in.npy"),
        1,
        &[
            "in.npy: value 300 at index [1, 2, 0] in `x` is out of range for the 8-bit unsigned input [0, 255]",
            "quantise and clip first",
        ],
        None,
    );
}

#[test]
fn input_batch_value_negative() {
    let n = image_bnn();
    let mut x = vec![7i64; 12];
    x[7] = -1;
    n.npy_i64("in.npy", &[2, 2, 3, 1], &x);
    expect(
        &n.run_input("in.npy"),
        1,
        &["value -1 at index [1, 0, 1, 0] in `x` is out of range for the 8-bit unsigned input [0, 255]"],
        None,
    );
}

#[test]
fn input_with_non_integer_floats() {
    let n = image_bnn();
    n.npy_f64("in.npy", &[2, 3, 1], &[0.0, 1.0, 2.0, 3.0, 2.5, 5.0]);
    expect(
        &n.run_input("in.npy"),
        1,
        &["in.npy: value 2.5 at index [1, 1, 0] is not an integer"],
        None,
    );
}

#[test]
fn input_uint64_beyond_i64() {
    let n = image_bnn();
    let x: Vec<u64> = vec![1 << 63, 0, 0, 0, 0, 0];
    write_npy(&n.path("in.npy"), &[2, 3, 1], &x);
    expect(
        &n.run_input("in.npy"),
        1,
        &["in.npy: value 9223372036854775808 at index [0, 0, 0] does not fit in 64 bits"],
        None,
    );
}

#[test]
fn delta_encoder_input_without_the_time_axis() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "time_steps: 3",
        "encoder: {delta: {threshold: 2}}",
        "layers:",
        "  - dense: {name: fc, units: 2, weight_bits: 4, weights: {random: 1}}",
        LIF,
    ]);
    assert_eq!(n.check().code, Some(0), "the network itself is valid");
    n.npy_i64("in.npy", &[4], &[1, 2, 3, 4]);
    expect(
        &n.run_input("in.npy"),
        1,
        &["array `x` has shape [4] but the network expects [3, 4] (T frames of the input) or a batch [N, 3, 4]"],
        None,
    );
}

#[test]
fn input_file_does_not_exist() {
    let n = image_bnn();
    expect(
        &n.run_input("nothere.npy"),
        1,
        &["cannot read nothere.npy"],
        None,
    );
}

#[test]
fn input_file_with_an_unknown_extension() {
    let n = image_bnn();
    n.file("in.txt", b"0 1 2 3 4 5\n");
    expect(
        &n.run_input("in.txt"),
        1,
        &["in.txt: expected a .npy or .npz file"],
        None,
    );
}

#[test]
fn input_garbage_npy() {
    let n = image_bnn();
    n.file("in.npy", b"\x93NUMPY\x01\x00garbage");
    expect(
        &n.run_input("in.npy"),
        1,
        &["in.npy: not a valid .npy file"],
        None,
    );
}

#[test]
fn input_npz_without_x() {
    let n = image_bnn();
    n.npz_i64(
        "in.npz",
        &[("a", &[2, 3, 1], &[0; 6]), ("b", &[2, 3, 1], &[0; 6])],
    );
    expect(
        &n.run_input("in.npz"),
        1,
        &[
            "in.npz: cannot tell which array holds the inputs",
            "name the input array `x`",
        ],
        None,
    );
}

#[test]
fn input_npz_labels_of_the_wrong_length() {
    let n = image_bnn();
    n.npz_i64(
        "in.npz",
        &[("x", &[2, 2, 3, 1], &[0; 12]), ("y", &[3], &[0, 1, 0])],
    );
    expect(
        &n.run_input("in.npz"),
        1,
        &["in.npz: labels `y` have shape [3] but there are 2 samples"],
        None,
    );
}

#[test]
fn events_with_x_out_of_range() {
    let n = events_snn();
    n.npy_i64("ev.npy", &[2, 4], &[1, 1, 0, 10, 9, 2, 1, 20]);
    expect(
        &n.run_input("ev.npy"),
        1,
        &["ev.npy: event 1 of `x`: x = 9 outside [0, 8)"],
        None,
    );
}

#[test]
fn events_with_a_bad_polarity() {
    let n = events_snn();
    n.npy_i64("ev.npy", &[2, 4], &[1, 1, 0, 10, 3, 2, 2, 20]);
    expect(
        &n.run_input("ev.npy"),
        1,
        &["event 1 of `x`: polarity 2 is not 0 or 1"],
        None,
    );
}

#[test]
fn events_array_of_the_wrong_shape() {
    let n = events_snn();
    n.npy_i64("ev.npy", &[2, 3], &[1, 1, 0, 3, 2, 1]);
    expect(
        &n.run_input("ev.npy"),
        1,
        &["event array `x` has shape [2, 3]; expected [N, 4]"],
        None,
    );
}

// ---------------------------------------------------------------------------------------
// Command line usage (exit 2) and output failures (exit 3)
// ---------------------------------------------------------------------------------------

#[test]
fn unknown_subcommand() {
    let n = image_bnn();
    expect(
        &n.run(&["frobnicate", "net.yaml"]),
        2,
        &["unrecognized subcommand 'frobnicate'"],
        None,
    );
}

#[test]
fn unknown_flag() {
    let n = image_bnn();
    expect(
        &n.run(&["check", "--frobnicate", "net.yaml"]),
        2,
        &["unexpected argument '--frobnicate'"],
        None,
    );
}

#[test]
fn run_without_input() {
    let n = image_bnn();
    expect(
        &n.run(&["run", "net.yaml"]),
        2,
        &[
            "the following required arguments were not provided",
            "--input",
        ],
        None,
    );
}

#[test]
fn no_subcommand() {
    let n = image_bnn();
    expect(&n.run(&[]), 2, &["Usage:"], None);
}

#[test]
fn trace_directory_under_a_regular_file() {
    let n = image_bnn();
    n.npy_i64("in.npy", &[2, 3, 1], &[0, 1, 2, 3, 4, 5]);
    n.file("blocker", b"a regular file, not a folder\n");
    let out = n.run(&[
        "run",
        "net.yaml",
        "--input",
        "in.npy",
        "--trace",
        "blocker/sub",
    ]);
    expect(&out, 3, &["cannot write blocker/sub"], None);
}

// ---------------------------------------------------------------------------------------
// Bugs found by this file (ignored until fixed; see the report in the commit/PR)
// ---------------------------------------------------------------------------------------

#[test]
fn huge_input_shape_whose_size_overflows() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [16777216, 16777216, 16777216], bits: 8}",
        "layers:",
        "  - flatten",
        "  - output",
    ]);
    // Expected: a located error on the input shape (line 2, `[` at column 16).
    spec_error(&n.check(), &["input"], 2, 16);
}

#[test]
fn sumpool_range_overflow_then_threshold() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [50, 50, 1], bits: 32}",
        "layers:",
        "  - binary_conv2d: {name: c1, filters: 1, kernel: 1, padding: none, weights: [[[[1]]]]}",
        "  - sumpool: {name: p1, size: 8, stride: 1}",
        "  - sumpool: {name: p2, size: 8, stride: 1}",
        "  - sumpool: {name: p3, size: 8, stride: 1}",
        "  - sumpool: {name: p4, size: 8, stride: 1}",
        "  - sumpool: {name: p5, size: 8, stride: 1}",
        "  - sumpool: {name: p6, size: 8, stride: 1}",
        "  - threshold: {name: t, thresholds: 0, direction: ge}",
        "  - flatten",
        "  - binary_dense: {name: fc, units: 2, weights: {random: 1}}",
        "  - output",
    ]);
    // The first layer whose range no longer fits 62-bit signed values (|v| < 2^61) is
    // reported: p5, 2^32 · 64^5 = 2^62 (line 9, body `{` at column 14).
    spec_error(&n.check(), &["layer `p5` (sumpool)", "62 bits"], 9, 14);
}

#[test]
fn npy_header_with_an_overflowing_shape() {
    let n = bnn16("w.npy");
    n.file(
        "w.npy",
        &raw_npy("<i8", false, "(1099511627776, 1099511627776)", &[0; 16]),
    );
    spec_error(&n.check(), &["weights of layer `fc`", "w.npy"], 4, 49);
}

#[test]
fn output_bias_two_to_the_31() {
    let n = Net::lines(&[
        "version: 1",
        "input: {shape: [4], bits: 8}",
        "layers:",
        "  - binary_dense: {name: fc, units: 2, weights: {random: 1}}",
        "  - output: {name: out, bias: 2147483648}",
    ]);
    spec_error(
        &n.check(),
        &["bias of layer `out`: value 2147483648 is out of range"],
        5,
        31,
    );
}

#[test]
fn yaml_alias_bomb() {
    let mut lines = vec![
        "version: 1".to_string(),
        "input: {shape: [4], bits: 8}".to_string(),
        "a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]".to_string(),
    ];
    for i in 1..9 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        lines.push(format!("a{i}: &a{i} [{refs}]"));
    }
    lines.push("layers: [flatten]".to_string());
    let n = Net::new(&(lines.join("\n") + "\n"));
    // 10^9 nodes once expanded. Expected: exit 1 (an alias-expansion limit, or the unknown
    // key `a0` on line 3), not an allocation failure.
    expect(
        &hdlgen_limited(n.dir.path(), &["check", "net.yaml"]),
        1,
        &[],
        None,
    );
}

#[test]
fn layer_sizes_whose_product_is_absurd() {
    let cases: &[(&str, &[&str])] = &[
        // 2^48 random weights: "memory allocation of 2251799813685248 bytes failed", abort.
        (
            "kernel 2^24 with same padding",
            &[
                "version: 1",
                "input: {shape: [4, 4, 1], bits: 8}",
                "layers:",
                "  - binary_conv2d: {filters: 1, kernel: 16777216, padding: zero, weights: {random: 1}}",
                "  - output",
            ],
        ),
        // 2^72 weights: multiply overflow panic in the shape product (exit 101).
        (
            "filters and kernel 2^24",
            &[
                "version: 1",
                "input: {shape: [4, 4, 1], bits: 8}",
                "layers:",
                "  - binary_conv2d: {filters: 16777216, kernel: 16777216, padding: zero, weights: {random: 1}}",
                "  - output",
            ],
        ),
        // 2^30 inputs × 16 units = 128 GiB of weights: allocation failure (abort).
        (
            "4096x4096x64 input into a dense layer",
            &[
                "version: 1",
                "input: {shape: [4096, 4096, 64], bits: 8}",
                "layers:",
                "  - flatten",
                "  - binary_dense: {units: 16, weights: {random: 1}}",
                "  - output",
            ],
        ),
    ];
    let mut failures = vec![];
    for (what, lines) in cases {
        let n = Net::lines(lines);
        let out = hdlgen_limited(n.dir.path(), &["check", "net.yaml"]);
        if out.code != Some(1) || out.stderr.contains("panicked") {
            failures.push(format!(
                "{what}: exit {:?}, stderr:\n{}",
                out.code, out.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ---------------------------------------------------------------------------------------
// Hardware generation: folding, budgets, kinds without hardware, missing Verilator
// ---------------------------------------------------------------------------------------

/// A small BNN with `pe`/`simd` given on its conv (line 5) and dense (line 8).
fn hw_net(conv_fold: &str, dense_fold: &str) -> Net {
    Net::lines(&[
        "version: 1",
        "name: hw",
        "input: {shape: [4, 4, 2], binary: true}",
        "layers:",
        &format!("  - binary_conv2d: {{name: c, filters: 6, kernel: 3, padding: one, {conv_fold}weights: {{random: 1}}}}"),
        "  - threshold: {name: t, thresholds: 0, direction: ge}",
        "  - flatten",
        &format!("  - binary_dense: {{name: d, units: 4, {dense_fold}weights: {{random: 2}}}}"),
        "  - output: {}",
    ])
}

#[test]
fn pe_that_does_not_divide_the_filters() {
    let n = hw_net("pe: 4, ", "");
    let out = n.run(&["gen", "net.yaml", "-o", "out"]);
    spec_error(
        &out,
        &[
            "layer `c`: `pe: 4` must divide its 6 outputs",
            "use one of 1, 2, 3, 6",
        ],
        5,
        71,
    );
    assert!(!n.path("out").exists(), "nothing written before the error");
}

#[test]
fn simd_that_does_not_divide_the_channels() {
    // The dense layer reads the 4×4×6 map before the flatten: simd must divide 6, or be
    // a multiple of 6 dividing the window (the map, 96 elements).
    let out = hw_net("", "simd: 4, ").run(&["gen", "net.yaml", "-o", "out"]);
    spec_error(
        &out,
        &[
            "layer `d`: `simd: 4` must divide the 6 input channels",
            "or be a multiple of them dividing the window, 96 (4×4×6)",
            "use one of 1, 2, 3, 6, 12, 24, 48, or 96 (the whole window)",
        ],
        8,
        45,
    );
    let out = hw_net("simd: 9, ", "").run(&["gen", "net.yaml", "-o", "out"]);
    spec_error(
        &out,
        &[
            "layer `c`: `simd: 9` must divide the 2 input channels",
            "or be a multiple of them dividing the window, 18 (3×3×2)",
            "use one of 1, 2, 6, or 18 (the whole window)",
        ],
        5,
        73,
    );
    // The whole window is accepted, and so are several taps per beat.
    let n = hw_net("simd: 18, ", "simd: 96, ");
    let out = n.run(&["gen", "net.yaml", "-o", "out", "--luts", "20000"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let n = hw_net("simd: 6, ", "simd: 24, ");
    let out = n.run(&["gen", "net.yaml", "-o", "out", "--luts", "20000"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

/// `store: spram` for a board without SPRAM: an error at the key from `gen` (as from
/// `build`), whatever the folding; the default board (a UP5K) takes it.
#[test]
fn spram_store_on_a_board_without_spram() {
    let n = hw_net("store: spram, ", "");
    let out = n.run(&["gen", "net.yaml", "-o", "out", "--board", "hx8k"]);
    spec_error(
        &out,
        &[
            "`store: spram` needs SPRAM, and the hx8k (iCE40HX8K) has none",
            "use `store: bram`",
        ],
        5,
        74,
    );
    assert!(!n.path("out").exists(), "nothing written before the error");
    let out = n.run(&["gen", "net.yaml", "-o", "out"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn budget_that_no_folding_meets() {
    let n = hw_net("", "");
    let out = n.run(&["gen", "net.yaml", "-o", "out", "--luts", "100"]);
    expect(
        &out,
        1,
        &["no folding fits the budget of 100 logic cells", "--luts"],
        None,
    );
    assert!(!n.path("out").exists(), "nothing written before the error");
}

#[test]
fn spiking_network_has_no_hardware_yet() {
    let out = Net::lines(&[
        "version: 1",
        "name: s",
        "input: {shape: [4], bits: 4, signed: false}",
        "time_steps: 2",
        "encoder: direct",
        "decoder: count",
        "layers:",
        "  - dense: {name: d, units: 2, weights: {random: 1}, weight_bits: 4}",
        LIF,
    ])
    .run(&["gen", "net.yaml"]);
    expect(&out, 1, &["spiking hardware is not built yet"], None);
}

#[test]
fn sim_without_verilator_names_the_install_command() {
    let n = hw_net("", "");
    n.npy_i64("x.npy", &[4, 4, 2], &[1; 32]);
    let out = command(n.dir.path())
        .args(["sim", "net.yaml", "--input", "x.npy"])
        .env("HDLGEN_VERILATOR", n.path("no-such-verilator"))
        .output()
        .expect("runs");
    let out = Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    expect(&out, 4, &["scripts/install.sh"], None);
}
