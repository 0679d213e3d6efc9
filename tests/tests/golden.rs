//! hdlgen's reference model against the independent naive model on every example network
//! (`examples/*.yaml`, and `examples/*/*.yaml` when present), on deterministic random
//! inputs: the outcome (values, prediction, dropped events) and every layer's traced
//! output must agree exactly. Where a directory holds fixtures from a third
//! implementation (`NAME_expected.npz` next to `test.npz`), those are checked too.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hdlgen::encode::Encoder;
use hdlgen::input::Sample;
use hdlgen::layers::Op;
use hdlgen::tensor::ValType;
use hdlgen::Network;
use hdlgen_tests::check::{self, Rng};
use hdlgen_tests::naive;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// All example networks: `examples/*.yaml` and `examples/*/*.yaml`, sorted.
fn all_examples() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(examples_dir()) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Ok(sub) = std::fs::read_dir(&p) {
                out.extend(
                    sub.flatten()
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|x| x == "yaml")),
                );
            }
        } else if p.extension().is_some_and(|x| x == "yaml") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Rough naive-model work per sample (multiply-accumulates over all steps).
fn work(net: &Network) -> u64 {
    let steps = net.temporal.as_ref().map_or(1, |t| t.steps as u64);
    let macs: u64 = net
        .layers
        .iter()
        .map(|l| l.op.cost().macs.max(l.output.shape.len() as u64))
        .sum();
    macs * steps
}

/// Checks `samples` random samples (seeded from `seed`), panicking on the first mismatch.
fn check_network(path: &Path, samples: Option<usize>, seed: u64) {
    let net = Network::load(path).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    // Enough samples for a few seconds in a debug build.
    let n = samples.unwrap_or_else(|| (30_000_000 / work(&net).max(1)).clamp(1, 16) as usize);
    let start = Instant::now();
    for k in 0..n {
        let mut rng = Rng(seed ^ (k as u64).wrapping_mul(0x1000_0000_01b3));
        let sample = check::random_sample(&net, &mut rng);
        if let Err(e) = check::compare(&net, &sample) {
            panic!(
                "{}: sample {k} (Rng seed {:#x}; {}): {e}",
                path.display(),
                rng_seed(seed, k),
                check::describe(&sample)
            );
        }
    }
    eprintln!(
        "{}: {n} samples agree ({:.2?})",
        path.display(),
        start.elapsed()
    );
}

fn rng_seed(seed: u64, k: usize) -> u64 {
    seed ^ (k as u64).wrapping_mul(0x1000_0000_01b3)
}

/// Parameters given as `{random: SEED}` must lie in the documented ranges.
fn check_random_param_ranges(net: &Network) {
    for l in &net.layers {
        match &l.op {
            Op::BinaryConv2d(c) => assert!(
                c.weights.data.iter().all(|&w| w == 1 || w == -1),
                "{}",
                l.name
            ),
            Op::BinaryDense(d) => assert!(
                d.weights.data.iter().all(|&w| w == 1 || w == -1),
                "{}",
                l.name
            ),
            Op::Conv2d(c) => {
                let m = (1i64 << (c.weight_bits - 1)) - 1;
                assert!(
                    c.weights.data.iter().all(|&w| (-m..=m).contains(&w)),
                    "{}",
                    l.name
                );
            }
            Op::Dense(d) => {
                let m = (1i64 << (d.weight_bits - 1)) - 1;
                assert!(
                    d.weights.data.iter().all(|&w| (-m..=m).contains(&w)),
                    "{}",
                    l.name
                );
            }
            Op::Threshold(t) => {
                let ValType::Int { hi, .. } = l.input.val else {
                    panic!("threshold on bits")
                };
                let r = (hi as f64).sqrt().floor() as i64;
                assert!(
                    t.thresholds.iter().all(|&x| (-r..=r).contains(&x)),
                    "{}: random thresholds outside ±⌊√{hi}⌋ = ±{r}: {:?}",
                    l.name,
                    t.thresholds
                );
            }
            _ => {}
        }
    }
}

fn example(name: &str) -> Option<PathBuf> {
    let p = examples_dir().join(format!("{name}.yaml"));
    if p.exists() {
        Some(p)
    } else {
        eprintln!("{} not found; skipped", p.display());
        None
    }
}

#[test]
fn mnist_bnn() {
    if let Some(p) = example("mnist_bnn") {
        check_random_param_ranges(&Network::load(&p).unwrap());
        check_network(&p, Some(4), 0xB00);
    }
}

#[test]
fn nmnist_snn() {
    if let Some(p) = example("nmnist_snn") {
        check_random_param_ranges(&Network::load(&p).unwrap());
        check_network(&p, Some(2), 0x5A1);
    }
}

#[test]
fn dvs_digits_snn() {
    if let Some(p) = example("dvs_digits_snn") {
        check_random_param_ranges(&Network::load(&p).unwrap());
        check_network(&p, Some(1), 0xD75);
    }
}

#[test]
fn fashion_snn() {
    if let Some(p) = example("fashion_snn") {
        check_random_param_ranges(&Network::load(&p).unwrap());
        check_network(&p, Some(6), 0xFA5);
    }
}

/// Every other example (e.g. `examples/digits/*.yaml`), with a sample count from its size.
#[test]
fn other_examples() {
    let known = ["mnist_bnn", "nmnist_snn", "dvs_digits_snn", "fashion_snn"];
    let others: Vec<PathBuf> = all_examples()
        .into_iter()
        .filter(|p| {
            !(p.parent() == Some(examples_dir().as_path())
                && known.iter().any(|k| p.file_stem().is_some_and(|s| s == *k)))
        })
        .collect();
    if others.is_empty() {
        eprintln!("no further example networks; skipped");
    }
    for (i, p) in others.iter().enumerate() {
        // Examples in other directories may be work in progress: one that does not load
        // is reported, not failed (the parser's own tests own that).
        if let Err(e) = Network::load(p) {
            eprintln!("WARNING: {} does not load; skipped: {e:?}", p.display());
            continue;
        }
        check_network(p, None, 0x0E0 + i as u64);
    }
}

/// An example with the events encoder, also on edge-case event streams: none at all,
/// every event late, and one pixel flooded with events (clip).
#[test]
fn events_edge_cases() {
    let Some(p) = example("nmnist_snn").or_else(|| example("dvs_digits_snn")) else {
        return;
    };
    let net = Network::load(&p).unwrap();
    let t = net.temporal.as_ref().unwrap();
    let Encoder::Events { bin_us, .. } = t.encoder else {
        panic!("expected an events encoder")
    };
    let steps = t.steps as i64;
    let ev = |x, y, p, t_us| hdlgen::input::Event { x, y, p, t_us };
    let cases = vec![
        vec![],
        (0..5)
            .map(|i| ev(i, i, i % 2, steps * bin_us + i))
            .collect(),
        (0..40)
            .map(|i| ev(3, 4, i % 2, (i % steps) * bin_us + bin_us - 1))
            .chain([ev(0, 0, 0, 0), ev(0, 0, 1, steps * bin_us - 1)])
            .collect(),
    ];
    for (k, e) in cases.into_iter().enumerate() {
        let s = Sample::Events(e);
        if let Err(m) = check::compare(&net, &s) {
            panic!("{}: edge case {k}: {m}", p.display());
        }
    }
}

/// One array of an `.npz` file: name, shape, values.
type NamedArray = (String, Vec<u64>, Vec<i64>);

/// Reads integer arrays from an `.npz` file.
fn read_npz(path: &Path) -> Option<Vec<NamedArray>> {
    let mut z = npyz::npz::NpzArchive::open(path).ok()?;
    let names: Vec<String> = z.array_names().map(str::to_string).collect();
    let mut out = Vec::new();
    for n in names {
        let a = z.by_name(&n).ok()??;
        let shape = a.shape().to_vec();
        let data: Vec<i64> = a.into_vec::<i64>().ok()?;
        out.push((n, shape, data));
    }
    Some(out)
}

/// Fixtures from a third implementation (e.g. `examples/digits/intref.py`): for a network
/// `DIR/NAME.yaml` with `DIR/NAME_expected.npz` (`scores` or `counts`, and `pred`) and
/// `DIR/test.npz` (`x`), hdlgen and the naive model must both reproduce them.
#[test]
fn fixtures_from_third_implementation() {
    let mut checked = 0;
    for p in all_examples() {
        let dir = p.parent().unwrap();
        let stem = p.file_stem().unwrap().to_string_lossy();
        let exp = dir.join(format!("{stem}_expected.npz"));
        let inputs = dir.join("test.npz");
        if !exp.exists() || !inputs.exists() {
            continue;
        }
        let net = match Network::load(&p) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("WARNING: {} does not load; skipped: {e:?}", p.display());
                continue;
            }
        };
        let batch = hdlgen::input::load(&net, &inputs)
            .unwrap_or_else(|e| panic!("{}: {e:?}", inputs.display()));
        let Some(arrays) = read_npz(&exp) else {
            eprintln!("{}: unreadable; skipped", exp.display());
            continue;
        };
        let get = |k: &str| arrays.iter().find(|(n, _, _)| n == k);
        let Some((_, vshape, values)) = get("scores").or(get("counts")) else {
            eprintln!("{}: no scores/counts; skipped", exp.display());
            continue;
        };
        let pred = get("pred").map(|(_, _, d)| d.clone());
        let n = batch.samples.len();
        assert_eq!(vshape[0] as usize, n, "{}: sample count", exp.display());
        let per = values.len() / n;
        let mut bad = Vec::new();
        for (i, s) in batch.samples.iter().enumerate() {
            let want = &values[i * per..(i + 1) * per];
            let nv = naive::run(&net, s);
            let got = net.run(s, false);
            assert_eq!(
                got.outcome.values,
                nv.values,
                "{}: sample {i}: hdlgen vs naive",
                p.display()
            );
            if nv.values != want
                || pred
                    .as_ref()
                    .is_some_and(|pr| pr[i] != nv.prediction as i64)
            {
                bad.push(format!(
                    "sample {i}: fixture {want:?} (pred {:?}), naive = hdlgen {:?} (pred {})",
                    pred.as_ref().map(|pr| pr[i]),
                    nv.values,
                    nv.prediction
                ));
            }
        }
        assert!(
            bad.is_empty(),
            "{}: {} of {n} samples differ from {}; first: {}",
            p.display(),
            bad.len(),
            exp.display(),
            bad[0]
        );
        eprintln!("{}: {n} fixture samples agree", p.display());
        checked += 1;
    }
    if checked == 0 {
        eprintln!("no fixtures found; skipped");
    }
}
