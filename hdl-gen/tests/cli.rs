//! The `hdlgen` binary on the shipped examples: summaries, JSON, traces, and golden
//! outputs of the trained digits networks from the independent numpy reference
//! (examples/digits/intref.py, written from the format spec, not from this code).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn hdlgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hdlgen"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .expect("run hdlgen")
}

fn ok(args: &[&str]) -> String {
    let o = hdlgen(args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "hdlgen {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf-8 stdout")
}

fn read_npz(path: &Path, key: &str) -> (Vec<u64>, Vec<i64>) {
    let mut z = npyz::npz::NpzArchive::open(path).expect("open npz");
    let a = z.by_name(key).expect("read npz").expect("key present");
    (a.shape().to_vec(), a.into_vec::<i64>().expect("int64"))
}

fn read_npy(path: &Path) -> (Vec<u64>, Vec<i64>) {
    let a = npyz::NpyFile::new(std::fs::File::open(path).expect("open npy")).expect("npy");
    (a.shape().to_vec(), a.into_vec::<i64>().expect("int64"))
}

const EXAMPLES: &[&str] = &[
    "examples/mnist_bnn.yaml",
    "examples/nmnist_snn.yaml",
    "examples/dvs_digits_snn.yaml",
    "examples/fashion_snn.yaml",
    "examples/digits/bnn.yaml",
    "examples/digits/snn.yaml",
];

#[test]
fn every_example_checks() {
    for ex in EXAMPLES {
        let out = ok(&["check", ex]);
        assert!(out.contains("total:"), "{ex}: {out}");
        let j: serde_json::Value =
            serde_json::from_str(&ok(&["check", ex, "--json"])).expect("json");
        assert!(
            j["layers"].as_array().is_some_and(|l| !l.is_empty()),
            "{ex}"
        );
    }
}

#[test]
fn mnist_bnn_summary_has_the_course_shapes_and_macs() {
    let j: serde_json::Value =
        serde_json::from_str(&ok(&["check", "examples/mnist_bnn.yaml", "--json"])).unwrap();
    let shapes: Vec<String> = j["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["output_shape"].to_string())
        .collect();
    // 28×28×1 → conv 32 same → pool → conv 64 same → pool → conv 128 valid → dense 10.
    assert_eq!(shapes[0], "[28,28,32]");
    assert_eq!(shapes[3], "[14,14,64]");
    assert_eq!(shapes[6], "[5,5,128]");
    assert_eq!(shapes[9], "[10]");
    // MACs by hand: 28·28·32·9 + 14·14·64·288 + 5·5·128·576 + 3200·10.
    assert_eq!(
        j["macs"],
        28 * 28 * 32 * 9 + 14 * 14 * 64 * 288 + 5 * 5 * 128 * 576 + 3200 * 10
    );
}

/// `check --board/--luts` plans the folding as `gen`/`build` do for that budget.
#[test]
fn check_estimates_for_the_board_asked_for() {
    let est = |args: &[&str]| -> serde_json::Value {
        let mut a = vec!["check", "examples/mnist_bnn.yaml", "--json"];
        a.extend_from_slice(args);
        serde_json::from_str::<serde_json::Value>(&ok(&a)).unwrap()["hardware_estimate"].clone()
    };
    // A UP5K holds no folding of the chain, but the layer-sequential engine.
    let ice = est(&["--engine", "dataflow"]);
    assert_eq!(ice["board"], "icebreaker");
    assert_eq!(ice["fits"], false, "{ice}");
    assert!(ice["note"].as_str().unwrap().contains("no folding fits"));
    let seq = est(&[]);
    assert_eq!(seq["fits"], true, "{seq}");
    assert_eq!(seq["estimate"]["engines"][0]["kind"], "seq", "{seq}");
    assert_eq!(seq["estimate"]["interval"], 25_016, "{seq}");
    let big = est(&["--board", "ulx3s-85f"]);
    assert_eq!(big["board"], "ulx3s-85f");
    assert_eq!(big["fits"], true, "{big}");
    let (i_ice, i_big) = (
        ice["estimate"]["interval"].as_u64().unwrap(),
        big["estimate"]["interval"].as_u64().unwrap(),
    );
    assert!(
        i_big * 100 < i_ice,
        "85F {i_big} vs smallest folding {i_ice}"
    );
    // An explicit budget bounds the estimate it reports, in the board's unit (ECP5 LUT4
    // slots: the larger of 1.25 × LUT4 and FF). The board's block RAM still binds: on
    // the default iCEBreaker no folding of the chain has few enough EBRs.
    let slots = |e: &serde_json::Value| {
        let (l, f) = (e["lut4"].as_u64().unwrap(), e["ff"].as_u64().unwrap());
        (l * 5 / 4).max(f)
    };
    let cap = est(&["--board", "ulx3s-85f", "--luts", "20000"]);
    assert_eq!(cap["fits"], true, "{cap}");
    assert!(slots(&cap["estimate"]) <= 20000, "{cap}");
    assert!(
        slots(&big["estimate"]) > 20000
            || cap["estimate"]["interval"] == big["estimate"]["interval"]
    );
    let up = est(&["--luts", "20000", "--engine", "dataflow"]);
    assert_eq!(up["fits"], false, "{up}");
    assert!(
        up["note"].as_str().unwrap().contains("28 block RAMs"),
        "{up}"
    );
    let text = ok(&["check", "examples/digits/bnn.yaml", "--board", "hx8k"]);
    assert!(text.contains("hardware estimate (hx8k budget"), "{text}");
}

fn golden(net: &str, fixture: &str, key: &str) {
    let j: serde_json::Value = serde_json::from_str(&ok(&[
        "run",
        net,
        "--input",
        "examples/digits/test.npz",
        "--json",
    ]))
    .unwrap();
    let (shape, want) = read_npz(&root().join(fixture), key);
    let (_, want_pred) = read_npz(&root().join(fixture), "pred");
    let results = j["results"].as_array().unwrap();
    assert_eq!(results.len() as u64, shape[0]);
    let field = if key == "scores" {
        "scores"
    } else {
        "spike_counts"
    };
    for (i, r) in results.iter().enumerate() {
        let got: Vec<i64> = r[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(got, want[i * 10..(i + 1) * 10], "{net}: sample {i}");
        assert_eq!(
            r["prediction"].as_i64(),
            Some(want_pred[i]),
            "{net}: sample {i}"
        );
    }
}

#[test]
fn digits_bnn_matches_the_numpy_reference_on_every_test_image() {
    golden(
        "examples/digits/bnn.yaml",
        "examples/digits/bnn_expected.npz",
        "scores",
    );
}

#[test]
fn digits_snn_matches_the_numpy_reference_on_every_test_image() {
    golden(
        "examples/digits/snn.yaml",
        "examples/digits/snn_expected.npz",
        "counts",
    );
}

#[test]
fn digits_accuracy_is_reported() {
    // The accuracies stated in the docs (measured by this command).
    assert!(ok(&[
        "run",
        "examples/digits/bnn.yaml",
        "--input",
        "examples/digits/test.npz"
    ])
    .contains("accuracy: 349/360"));
    assert!(ok(&[
        "run",
        "examples/digits/snn.yaml",
        "--input",
        "examples/digits/test.npz"
    ])
    .contains("accuracy: 352/360"));
}

#[test]
fn trace_writes_every_layer_and_ends_in_the_scores() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let j: serde_json::Value = serde_json::from_str(&ok(&[
        "run",
        "examples/digits/bnn.yaml",
        "--input",
        "examples/digits/test.npz",
        "--json",
        "--trace",
        d,
    ]))
    .unwrap();
    let mut files: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 9, "{files:?}");
    let (shape, conv1) = read_npy(&files[0]);
    assert_eq!(shape, [360, 8, 8, 16]);
    assert!(conv1.iter().all(|v| v.abs() <= 279));
    let (_, bn1) = read_npy(&files[1]);
    assert!(
        bn1.iter().all(|&v| v == 1 || v == -1),
        "binary layers trace as ±1"
    );
    let (shape, scores) = read_npy(files.last().unwrap());
    assert_eq!(shape, [360, 10]);
    let first: Vec<i64> = j["results"][0]["scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(scores[..10], first[..]);
}

#[test]
fn snn_trace_is_stacked_over_time() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let x = dir.path().join("one.npy");
    // One digit from the test set, as a single sample (no batch axis).
    let (_, all) = read_npz(&root().join("examples/digits/test.npz"), "x");
    hdlgen::input::write_npy(&x, &[8, 8, 1], &all[..64]).unwrap();
    ok(&[
        "run",
        "examples/digits/snn.yaml",
        "--input",
        x.to_str().unwrap(),
        "--trace",
        d,
    ]);
    let (shape, input) = read_npy(&Path::new(d).join("00_input.npy"));
    assert_eq!(shape, [16, 8, 8, 1]);
    assert_eq!(
        input[..64],
        all[..64],
        "direct encoding repeats the input every step"
    );
    let (shape, spikes) = read_npy(&Path::new(d).join("05_lif2.npy"));
    assert_eq!(shape, [16, 10]);
    assert!(spikes.iter().all(|&s| s == 0 || s == 1));
}

#[test]
fn layers_lists_every_kind() {
    let out = ok(&["layers"]);
    for k in [
        "binary_conv2d",
        "binary_dense",
        "threshold",
        "maxpool",
        "sumpool",
        "flatten",
        "output",
        "conv2d",
        "dense",
        "lif",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(k)),
            "{k} missing from:\n{out}"
        );
    }
}
