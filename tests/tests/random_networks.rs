//! Property tests: random small networks, written as YAML (inline weights, `.npy` files
//! or `{random: SEED}`), parsed by hdlgen and run on random inputs; hdlgen's reference
//! model must agree with the naive model on the outcome and on every traced layer.
//!
//! The network structure comes from a vector of "knobs" chosen by proptest (shrinking
//! them towards 0 gives simpler networks); weights and inputs come from a seed.
//! `PROPTEST_CASES` overrides the case counts.

use std::fmt::Write as _;
use std::path::Path;

use hdlgen::arith::Leak;
use hdlgen::layers::Op;
use hdlgen::spec::source::Source;
use hdlgen::Network;
use hdlgen_tests::check::{self, Rng};
use hdlgen_tests::naive::{self, Dims};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn cases(default: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------
// Choices
// ---------------------------------------------------------------------------------

/// Structural choices from proptest's knobs (0 = the simplest choice), values from a
/// seeded generator.
struct Knobs {
    k: Vec<u32>,
    i: usize,
    rng: Rng,
}

impl Knobs {
    fn new(k: Vec<u32>, seed: u64) -> Knobs {
        Knobs {
            k,
            i: 0,
            rng: Rng(seed),
        }
    }
    /// A choice in [0, n).
    fn pick(&mut self, n: usize) -> usize {
        let v = self.k[self.i % self.k.len()];
        self.i += 1;
        v as usize % n
    }
    /// A choice in [lo, hi] (small ranges).
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.pick((hi - lo + 1) as usize) as i64
    }
    /// true with probability `pct`% (false when shrunk).
    fn maybe(&mut self, pct: usize) -> bool {
        self.pick(100) >= 100 - pct
    }
    /// A value in [lo, hi] from the seeded generator.
    fn val(&mut self, lo: i64, hi: i64) -> i64 {
        self.rng.range(lo, hi)
    }
}

// ---------------------------------------------------------------------------------
// YAML rendering
// ---------------------------------------------------------------------------------

fn list(v: &[i64]) -> String {
    let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// A C-order array as a nested YAML flow list.
fn nested(v: &[i64], shape: &[usize]) -> String {
    if shape.len() <= 1 {
        return list(v);
    }
    let per: usize = shape[1..].iter().product();
    let parts: Vec<String> = (0..shape[0])
        .map(|i| nested(&v[i * per..(i + 1) * per], &shape[1..]))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Element type of a generated `.npy` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dtype {
    I64,
    I8,
    F64,
    /// Binary weights: true = +1, false = −1.
    Bool,
}

fn npy_out<T: npyz::AutoSerialize>(path: &Path, shape: &[u64], data: impl Iterator<Item = T>) {
    use npyz::WriterBuilder;
    let f = std::fs::File::create(path).unwrap();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(std::io::BufWriter::new(f))
        .begin_nd()
        .unwrap();
    w.extend(data).unwrap();
    w.finish().unwrap();
}

/// Writes an `.npy` file and returns its name (relative to `dir`).
fn write_npy(dir: &Path, name: &str, shape: &[usize], data: &[i64], dtype: Dtype) -> String {
    let file = format!("{name}.npy");
    let path = dir.join(&file);
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let it = data.iter().copied();
    match dtype {
        Dtype::I64 => npy_out(&path, &shape, it),
        Dtype::I8 => npy_out(&path, &shape, it.map(|x| i8::try_from(x).unwrap())),
        Dtype::F64 => npy_out(&path, &shape, it.map(|x| x as f64)),
        Dtype::Bool => npy_out(&path, &shape, it.map(|x| x == 1)),
    }
    file
}

/// What the parsed network must hold for a parameter that was written out explicitly.
#[derive(Debug)]
enum Expect {
    Weights(Vec<i64>),
    /// Per output element (index within the layer's output map).
    Bias(Vec<i64>),
    Theta(Vec<i64>),
    Leak(Vec<Leak>),
    VMin(Option<Vec<i64>>),
    Thresholds(Vec<i64>, Vec<bool>),
    Scale(Vec<i64>, Vec<i64>),
}

/// A generated network.
struct Gen {
    yaml: String,
    expects: Vec<(String, Expect)>,
    layer: usize,
    /// Expected output shape of each layer, in order (computed here from the docs).
    shapes: Vec<Option<Dims>>,
}

impl Gen {
    fn new(head: &str) -> Gen {
        Gen {
            yaml: head.to_string(),
            expects: vec![],
            layer: 0,
            shapes: vec![],
        }
    }
    fn name(&mut self, kind: &str) -> String {
        self.layer += 1;
        format!("{kind}_{}", self.layer)
    }
    fn push(&mut self, line: String) {
        writeln!(self.yaml, "  - {line}").unwrap();
        self.shapes.push(None);
    }
    /// The output shape of the layer pushed last.
    fn out(&mut self, d: Dims) {
        *self.shapes.last_mut().unwrap() = Some(d);
    }
}

/// A weight array in one of the parameter forms: inline nested list, `.npy` (int64, int8,
/// float64, or bool for binary) or `{random: S}` (then nothing to expect).
fn weights(
    k: &mut Knobs,
    dir: &Path,
    name: &str,
    shape: &[usize],
    lo: i64,
    hi: i64,
    binary: bool,
) -> (String, Option<Vec<i64>>) {
    let n: usize = shape.iter().product();
    let data: Vec<i64> = (0..n)
        .map(|_| {
            if binary {
                if k.rng.chance(0.5) {
                    1
                } else {
                    -1
                }
            } else {
                k.val(lo, hi)
            }
        })
        .collect();
    match k.pick(5) {
        0 | 1 => (nested(&data, shape), Some(data)),
        2 | 3 => {
            let small = data.iter().all(|&x| i8::try_from(x).is_ok());
            let dtype = match k.pick(4) {
                1 if binary => Dtype::Bool,
                2 if small => Dtype::I8,
                3 => Dtype::F64,
                _ => Dtype::I64,
            };
            (write_npy(dir, name, shape, &data, dtype), Some(data))
        }
        _ => (format!("{{random: {}}}", k.val(1, 1 << 20)), None),
    }
}

/// A per-neuron constant written as a scalar, per channel `[C]` or per neuron (the
/// layer's shape); returns the YAML and the per-neuron values.
fn per_neuron(
    k: &mut Knobs,
    d: Dims,
    mut gen: impl FnMut(&mut Knobs) -> i64,
) -> (String, Vec<i64>) {
    match k.pick(3) {
        0 => {
            let v = gen(k);
            (v.to_string(), vec![v; d.len()])
        }
        1 => {
            let pc: Vec<i64> = (0..d.c).map(|_| gen(k)).collect();
            (list(&pc), (0..d.len()).map(|i| pc[i % d.c]).collect())
        }
        _ => {
            let v: Vec<i64> = (0..d.len()).map(|_| gen(k)).collect();
            (nested(&v, &d.shape()), v)
        }
    }
}

// ---------------------------------------------------------------------------------
// Random binary networks
// ---------------------------------------------------------------------------------

/// Value range of a tensor: ±1 bits or integers [lo, hi].
#[derive(Clone, Copy, Debug)]
enum Val {
    Bits,
    Int(i64, i64),
}

impl Val {
    fn max_abs(self) -> i64 {
        match self {
            Val::Bits => 1,
            Val::Int(lo, hi) => lo.abs().max(hi.abs()),
        }
    }
}

fn isqrt(x: i64) -> i64 {
    (x.max(0) as f64).sqrt() as i64
}

/// A threshold layer for an accumulator in [lo, hi] with `c` channels.
fn threshold_layer(k: &mut Knobs, g: &mut Gen, dir: &Path, c: usize, lo: i64, hi: i64) {
    let name = g.name("bn");
    let ge: Vec<bool> = match k.pick(3) {
        0 => vec![true; c],
        1 => vec![false; c],
        _ => (0..c).map(|_| k.rng.chance(0.5)).collect(),
    };
    let dir_yaml = if ge.iter().all(|&x| x) && k.maybe(70) {
        "ge".to_string()
    } else if ge.iter().all(|&x| !x) && k.maybe(70) {
        "le".to_string()
    } else {
        list(
            &ge.iter()
                .map(|&x| if x { 1 } else { -1 })
                .collect::<Vec<_>>(),
        )
    };
    let s = isqrt(hi).max(1);
    let mut t: Vec<i64> = (0..c)
        .map(|ch| match k.rng.below(8) {
            0 => k.val(lo, hi),
            1 => {
                // The ends of the allowed range (constant channels).
                match (ge[ch], k.rng.chance(0.5)) {
                    (true, true) => hi + 1,
                    (true, false) => lo,
                    (false, true) => lo - 1,
                    (false, false) => hi,
                }
            }
            _ => k.val(-s, s).clamp(lo, hi),
        })
        .collect();
    let t_yaml = match k.pick(4) {
        0 if c > 0 => {
            // A scalar: valid for every channel's direction.
            let v = k.val(-s, s).clamp(lo, hi);
            t = vec![v; c];
            v.to_string()
        }
        1 => write_npy(dir, &name, &[c], &t, Dtype::I64),
        // `{random: S}` draws from ±⌊√hi⌋, which only fits a range reaching below
        // −⌊√hi⌋ (see `random_thresholds_fit_their_range`).
        2 if k.maybe(50) && lo <= -s => {
            g.push(format!(
                "threshold: {{name: {name}, thresholds: {{random: {}}}, direction: {dir_yaml}}}",
                k.val(1, 1000)
            ));
            g.expects.push((name, Expect::Thresholds(vec![], ge)));
            return;
        }
        _ => list(&t),
    };
    g.push(format!(
        "threshold: {{name: {name}, thresholds: {t_yaml}, direction: {dir_yaml}}}"
    ));
    g.expects.push((name, Expect::Thresholds(t, ge)));
}

fn gen_bnn(k: &mut Knobs, dir: &Path) -> Gen {
    let mut g = Gen::new("version: 1\nname: random-bnn\n");
    let vector_in = k.maybe(15);
    let binary_in = k.maybe(40);
    let mut d = if vector_in {
        Dims::vec(k.int(1, 12) as usize)
    } else {
        let c = if k.maybe(10) {
            k.int(60, 70)
        } else {
            k.int(1, 4)
        };
        Dims::map(k.int(1, 6) as usize, k.int(1, 6) as usize, c as usize)
    };
    let mut val = if binary_in {
        writeln!(g.yaml, "input: {{shape: {:?}, binary: true}}", d.shape()).unwrap();
        Val::Bits
    } else {
        let bits = match k.pick(20) {
            18 => k.int(9, 16),
            19 => 32,
            _ => k.int(1, 8),
        };
        let signed = bits >= 2 && k.maybe(40);
        writeln!(
            g.yaml,
            "input: {{shape: {:?}, bits: {bits}, signed: {signed}}}",
            d.shape()
        )
        .unwrap();
        if signed {
            Val::Int(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
        } else {
            Val::Int(0, (1 << bits) - 1)
        }
    };
    g.yaml.push_str("layers:\n");
    // Now and then pool and/or binarise the input itself.
    if !vector_in && k.maybe(10) {
        let size = k.int(1, 2.min(d.h.min(d.w)) as i64) as usize;
        let name = g.name("inpool");
        g.push(format!("maxpool: {{name: {name}, size: {size}}}"));
        d = Dims::map(d.h / size, d.w / size, d.c);
        g.out(d);
    }
    if let (Val::Int(lo, hi), true) = (val, k.maybe(10)) {
        threshold_layer(k, &mut g, dir, d.c, lo, hi);
        g.out(d);
        val = Val::Bits;
    }
    let nconv = if vector_in { 0 } else { k.pick(3) };
    for _ in 0..nconv {
        let name = g.name("conv");
        let filters = k.int(1, 5) as usize;
        let kh = k.int(1, 3) as usize;
        let kw = if k.maybe(30) {
            k.int(1, 3) as usize
        } else {
            kh
        };
        let stride = if k.maybe(15) { 3 } else { k.int(1, 2) as usize };
        let fits = kh <= d.h && kw <= d.w;
        let mut pad = match (val, k.pick(3)) {
            (_, 0) => "zero",
            (Val::Bits, 1) => "one",
            (_, _) => "none",
        };
        if pad == "none" && !fits {
            pad = "zero";
        }
        let mut opts = format!("name: {name}, filters: {filters}, ");
        if kh == kw && k.maybe(60) {
            write!(opts, "kernel: {kh}").unwrap();
        } else {
            write!(opts, "kernel: [{kh}, {kw}]").unwrap();
        }
        if stride != 1 || k.maybe(20) {
            write!(opts, ", stride: {stride}").unwrap();
        }
        // `padding` is required (hdlgen never guesses).
        write!(opts, ", padding: {pad}").unwrap();
        // The padded value counts towards the largest input magnitude.
        let mut m = val.max_abs();
        if let (Val::Int(lo, hi), "zero") = (val, pad) {
            if k.maybe(50) {
                // Usually inside the input range, now and then outside it.
                let pv = if k.rng.below(5) == 0 {
                    k.val(-100, 100)
                } else {
                    k.val(lo, hi)
                };
                write!(opts, ", pad_value: {pv}").unwrap();
                m = m.max(pv.abs());
            }
        }
        let (w, exp) = weights(k, dir, &name, &[filters, kh, kw, d.c], -1, 1, true);
        g.push(format!("binary_conv2d: {{{opts}, weights: {w}}}"));
        if let Some(e) = exp {
            g.expects.push((name.clone(), Expect::Weights(e)));
        }
        let p = (kh * kw * d.c) as i64;
        let geo = naive::geom(d, kh, kw, stride, pad != "none");
        d = Dims::map(geo.out_h, geo.out_w, filters);
        g.out(d);
        val = Val::Int(-p * m, p * m);
        // Always binarise a wide accumulator (its ranges would overflow further on).
        if k.pick(5) != 0 || p * m > 1 << 30 {
            let Val::Int(lo, hi) = val else {
                unreachable!()
            };
            threshold_layer(k, &mut g, dir, filters, lo, hi);
            g.out(d);
            val = Val::Bits;
        }
        if k.maybe(40) && d.h >= 1 && d.w >= 1 {
            let size = k.int(1, 2.min(d.h.min(d.w)) as i64) as usize;
            let name = g.name("pool");
            if k.maybe(30) {
                let stride = k.int(1, size as i64 + 1) as usize;
                g.push(format!(
                    "maxpool: {{name: {name}, size: {size}, stride: {stride}}}"
                ));
                let geo = naive::geom(d, size, size, stride, false);
                d = Dims::map(geo.out_h, geo.out_w, d.c);
            } else {
                g.push(format!("maxpool: {{name: {name}, size: {size}}}"));
                d = Dims::map(d.h / size, d.w / size, d.c);
            }
            g.out(d);
        }
    }
    if !d.flat {
        if k.maybe(50) {
            g.push("flatten".into());
        } else {
            let name = g.name("flat");
            g.push(format!("flatten: {{name: {name}}}"));
        }
        d = Dims::vec(d.len());
        g.out(d);
    }
    let hidden = k.pick(2);
    for li in 0..=hidden {
        let last = li == hidden;
        let name = g.name("fc");
        let units = k.int(1, 6) as usize;
        let (w, exp) = weights(k, dir, &name, &[units, d.len()], -1, 1, true);
        g.push(format!(
            "binary_dense: {{name: {name}, units: {units}, weights: {w}}}"
        ));
        if let Some(e) = exp {
            g.expects.push((name.clone(), Expect::Weights(e)));
        }
        let p = d.len() as i64;
        let m = val.max_abs();
        d = Dims::vec(units);
        g.out(d);
        val = Val::Int(-p * m, p * m);
        if !last {
            threshold_layer(k, &mut g, dir, units, -p * m, p * m);
            g.out(d);
            val = Val::Bits;
        }
    }
    let name = g.name("out");
    let c = d.len();
    // Extreme 32-bit scales and biases where the scores stay within 62 bits.
    let extreme = val.max_abs() < 1 << 28;
    let gen_scale = |k: &mut Knobs| -> i64 {
        match k.rng.below(10) {
            0 if extreme => -(1 << 31),
            1 if extreme => (1 << 31) - 1,
            _ => k.val(-5, 5),
        }
    };
    let mut opts = format!("name: {name}");
    let mut scale = vec![1; c];
    let mut bias = vec![0; c];
    match k.pick(3) {
        0 => {}
        1 => {
            let s = gen_scale(k);
            scale = vec![s; c];
            write!(opts, ", scale: {s}").unwrap();
        }
        _ => {
            scale = (0..c).map(|_| gen_scale(k)).collect();
            write!(opts, ", scale: {}", list(&scale)).unwrap();
        }
    }
    match k.pick(3) {
        0 => {}
        1 => {
            let b = gen_scale(k);
            bias = vec![b; c];
            write!(opts, ", bias: {b}").unwrap();
        }
        _ => {
            bias = (0..c).map(|_| gen_scale(k)).collect();
            write!(opts, ", bias: {}", list(&bias)).unwrap();
        }
    }
    g.push(format!("output: {{{opts}}}"));
    g.out(Dims::vec(c));
    g.expects.push((name, Expect::Scale(scale, bias)));
    g
}

// ---------------------------------------------------------------------------------
// Random spiking networks
// ---------------------------------------------------------------------------------

/// A synapse's bias: absent, scalar, per output, or random.
fn bias(
    k: &mut Knobs,
    dir: &Path,
    name: &str,
    outs: usize,
    per_elem: impl Fn(&[i64]) -> Vec<i64>,
) -> (String, Option<Vec<i64>>) {
    let lim = 50;
    match k.pick(5) {
        0 | 1 => (String::new(), Some(per_elem(&vec![0; outs]))),
        2 => {
            let b = k.val(-lim, lim);
            (format!(", bias: {b}"), Some(per_elem(&vec![b; outs])))
        }
        3 => {
            let b: Vec<i64> = (0..outs).map(|_| k.val(-lim, lim)).collect();
            let yaml = if k.maybe(30) {
                write_npy(dir, &format!("{name}_b"), &[outs], &b, Dtype::I64)
            } else {
                list(&b)
            };
            (format!(", bias: {yaml}"), Some(per_elem(&b)))
        }
        _ => (format!(", bias: {{random: {}}}", k.val(1, 1 << 20)), None),
    }
}

/// A LIF layer over `d` whose input currents reach about ±`scale`; returns its output
/// value range.
fn lif_layer(k: &mut Knobs, g: &mut Gen, d: Dims, scale: i64) -> Val {
    let name = g.name("lif");
    let multi = k.maybe(25);
    let (reset, fire, timing) = if multi {
        ("subtract", "ge", "immediate")
    } else {
        (
            ["subtract", "zero", "none"][k.pick(3)],
            ["gt", "ge"][k.pick(2)],
            ["delayed", "immediate"][k.pick(2)],
        )
    };
    // Small widths saturate; wide ones exercise the i128 paths.
    let v_bits: u32 = match k.pick(10) {
        _ if multi => k.int(2, 14) as u32,
        7 if fire == "ge" => 2,
        8 => [16, 24, 32][k.pick(3)],
        9 => [48, 63, 64][k.pick(3)],
        _ => k.int(3, 12) as u32,
    };
    let vmax: i64 = if v_bits >= 64 {
        i64::MAX
    } else {
        (1i64 << (v_bits - 1)) - 1
    };
    let tmax = if fire == "gt" { vmax - 1 } else { vmax };
    let hi_t = (scale / 4).clamp(1, tmax);
    // Log-uniform in [1, hi_t]: from every-step firing to rare firing.
    let log_uniform = |k: &mut Knobs, hi: i64| -> i64 {
        let e = k.rng.below(1 << 20) as f64 / (1 << 20) as f64 * (hi as f64).ln();
        (e.exp() as i64).clamp(1, hi)
    };
    let (t_yaml, theta) = per_neuron(k, d, |k| {
        if k.rng.below(20) == 0 {
            k.val(1, tmax.min(1 << 40))
        } else {
            log_uniform(k, hi_t)
        }
    });
    let mut opts = format!("name: {name}, threshold: {t_yaml}");
    let leak_kind = k.pick(3);
    let leak: Vec<Leak> = match leak_kind {
        0 => {
            opts.push_str(", leak: none");
            vec![Leak::None; d.len()]
        }
        1 => {
            let sh = if k.maybe(10) {
                [62, 63][k.pick(2)]
            } else {
                k.int(1, 6)
            };
            write!(opts, ", leak: {{shift: {sh}}}").unwrap();
            vec![Leak::Shift(sh as u32); d.len()]
        }
        _ => {
            let f = if k.maybe(10) {
                [0, 20, 32][k.pick(3)]
            } else {
                k.int(1, 6)
            };
            let (q_yaml, q) = per_neuron(k, d, |k| k.val(0, 1 << f));
            write!(opts, ", leak: {{beta: {q_yaml}, frac_bits: {f}}}").unwrap();
            q.iter().map(|&q| Leak::Beta { q, f: f as u32 }).collect()
        }
    };
    write!(
        opts,
        ", reset: {reset}, fire: {fire}, reset_timing: {timing}, v_bits: {v_bits}"
    )
    .unwrap();
    let vmin_lo = if v_bits >= 64 {
        i64::MIN
    } else {
        -(1i64 << (v_bits - 1))
    };
    let v_min = if k.maybe(35) {
        let (yaml, m) = per_neuron(k, d, |k| match k.rng.below(4) {
            0 => vmin_lo,
            1 => 0,
            _ => k.val(vmin_lo.max(-4 * hi_t), 0),
        });
        write!(opts, ", v_min: {yaml}").unwrap();
        Some(m)
    } else {
        None
    };
    if multi {
        opts.push_str(", multi_spike: true");
    } else if k.maybe(10) {
        opts.push_str(", multi_spike: false");
    }
    g.push(format!("lif: {{{opts}}}"));
    g.out(d);
    g.expects.push((name.clone(), Expect::Theta(theta.clone())));
    g.expects.push((name.clone(), Expect::Leak(leak)));
    g.expects.push((name, Expect::VMin(v_min)));
    if multi {
        let tmin = *theta.iter().min().unwrap_or(&1);
        Val::Int(0, vmax / tmin)
    } else {
        Val::Int(0, 1)
    }
}

fn gen_snn(k: &mut Knobs, dir: &Path) -> Gen {
    let steps = match k.pick(20) {
        18 => k.int(7, 16),
        19 => 40,
        _ => k.int(1, 6),
    };
    let mut g = Gen::new(&format!(
        "version: 1\nname: random-snn\ntime_steps: {steps}\n"
    ));
    let enc = k.pick(5);
    let mut map_in = k.pick(4) != 0;
    let mut d;
    let mut val;
    let small = |k: &mut Knobs| k.int(1, 5) as usize;
    match enc {
        0 => {
            // events
            let pol = k.int(1, 2) as usize;
            d = Dims::map(small(k), small(k), pol);
            map_in = true;
            let bin = k.int(1, 100);
            let clip = if k.maybe(50) { k.int(1, 4) } else { 1 };
            let clip_yaml = if clip == 1 && k.maybe(50) {
                String::new()
            } else {
                format!(", clip: {clip}")
            };
            writeln!(g.yaml, "encoder: {{events: {{bin_us: {bin}{clip_yaml}}}}}").unwrap();
            writeln!(g.yaml, "input: {{shape: {:?}}}", d.shape()).unwrap();
            val = Val::Int(0, clip);
        }
        _ => {
            d = if map_in {
                Dims::map(small(k), small(k), k.int(1, 3) as usize)
            } else {
                Dims::vec(k.int(1, 10) as usize)
            };
            let bits = if k.maybe(10) {
                [16, 31, 32][k.pick(3)]
            } else {
                k.int(1, 8)
            };
            let signed = enc == 1 && bits >= 2 && k.maybe(40);
            match enc {
                1 => {
                    if k.maybe(30) {
                        writeln!(g.yaml, "encoder: {{direct: {{sequence: true}}}}").unwrap();
                    } else if k.maybe(50) {
                        writeln!(g.yaml, "encoder: direct").unwrap();
                    } // else the default (direct)
                }
                2 => writeln!(
                    g.yaml,
                    "encoder: {{rate: {{seed: {}}}}}",
                    k.val(1, u32::MAX as i64)
                )
                .unwrap(),
                3 => writeln!(g.yaml, "encoder: latency").unwrap(),
                _ => writeln!(
                    g.yaml,
                    "encoder: {{delta: {{threshold: {}}}}}",
                    k.val(1, 1 << bits.min(10))
                )
                .unwrap(),
            }
            writeln!(
                g.yaml,
                "input: {{shape: {:?}, bits: {bits}, signed: {signed}}}",
                d.shape()
            )
            .unwrap();
            val = match enc {
                1 if signed => Val::Int(-(1 << (bits - 1)), (1 << (bits - 1)) - 1),
                1 => Val::Int(0, (1i64 << bits) - 1),
                _ => Val::Int(0, 1),
            };
        }
    }
    let decoder = k.pick(3);
    match decoder {
        0 => {}
        1 => writeln!(g.yaml, "decoder: count").unwrap(),
        _ => writeln!(g.yaml, "decoder: first_spike").unwrap(),
    }
    g.yaml.push_str("layers:\n");
    if map_in && k.maybe(10) {
        // Pool the encoder's output.
        let size = k.int(1, 2.min(d.h.min(d.w)) as i64) as usize;
        let name = g.name("inpool");
        let kind = if k.maybe(50) { "sumpool" } else { "maxpool" };
        g.push(format!("{kind}: {{name: {name}, size: {size}}}"));
        d = Dims::map(d.h / size, d.w / size, d.c);
        g.out(d);
        if kind == "sumpool" {
            let (lo, hi) = match val {
                Val::Int(lo, hi) => (lo, hi),
                Val::Bits => unreachable!(),
            };
            let n = (size * size) as i64;
            val = Val::Int(lo.min(0) * n, hi * n);
        }
    }
    if k.maybe(10) {
        // Neurons straight on the encoder's output (no synapse).
        val = lif_layer(k, &mut g, d, val.max_abs().max(2));
    }
    let nconv = if map_in { k.pick(3) } else { 0 };
    for _ in 0..nconv {
        let name = g.name("conv");
        let filters = k.int(1, 4) as usize;
        let kh = k.int(1, 3) as usize;
        let kw = if k.maybe(30) {
            k.int(1, 3) as usize
        } else {
            kh
        };
        let stride = k.int(1, 2) as usize;
        let fits = kh <= d.h && kw <= d.w;
        let same = !fits || k.maybe(50);
        let wb = match k.pick(20) {
            18 => 16,
            19 if val.max_abs() <= 16 => 32,
            _ => k.int(2, 8) as u32,
        };
        let wlim = 1i64 << (wb - 1);
        // Half the synapses lean excitatory, so that deep layers still spike.
        let wlo = if k.maybe(50) { -wlim / 4 } else { -wlim };
        let (w, exp) = weights(k, dir, &name, &[filters, kh, kw, d.c], wlo, wlim - 1, false);
        let geo = naive::geom(d, kh, kw, stride, same);
        let od = Dims::map(geo.out_h, geo.out_w, filters);
        let (b, bexp) = bias(k, dir, &name, filters, |b| {
            (0..od.len()).map(|i| b[i % filters]).collect()
        });
        let pad = if same {
            "zero"
        } else if k.maybe(50) {
            "none"
        } else {
            // `none` is the default? Say it explicitly anyway.
            "none"
        };
        let mut kernel = format!("{kh}");
        if kh != kw {
            kernel = format!("[{kh}, {kw}]");
        }
        g.push(format!(
            "conv2d: {{name: {name}, filters: {filters}, kernel: {kernel}, stride: {stride}, padding: {pad}, weight_bits: {wb}, weights: {w}{b}}}"
        ));
        if let Some(e) = exp {
            g.expects.push((name.clone(), Expect::Weights(e)));
        }
        g.out(od);
        if let Some(e) = bexp {
            g.expects.push((name.clone(), Expect::Bias(e)));
        }
        let scale = (kh * kw * d.c) as i64 * val.max_abs() * wlim / 2;
        d = od;
        val = lif_layer(k, &mut g, d, scale.max(2));
        if k.maybe(40) {
            let size = k.int(1, 2.min(d.h.min(d.w)) as i64) as usize;
            let name = g.name("pool");
            let kind = if k.maybe(50) { "sumpool" } else { "maxpool" };
            if k.maybe(30) {
                let stride = k.int(1, size as i64 + 1) as usize;
                g.push(format!(
                    "{kind}: {{name: {name}, size: {size}, stride: {stride}}}"
                ));
                let geo = naive::geom(d, size, size, stride, false);
                d = Dims::map(geo.out_h, geo.out_w, d.c);
            } else {
                g.push(format!("{kind}: {{name: {name}, size: {size}}}"));
                d = Dims::map(d.h / size, d.w / size, d.c);
            }
            g.out(d);
            if kind == "sumpool" {
                val = Val::Int(0, val.max_abs() * (size * size) as i64);
            }
        }
    }
    if !d.flat {
        g.push("flatten".into());
        d = Dims::vec(d.len());
        g.out(d);
    }
    let ndense = k.int(1, 2);
    for _ in 0..ndense {
        let name = g.name("fc");
        let units = k.int(1, 6) as usize;
        let wb = match k.pick(20) {
            18 => 16,
            19 if val.max_abs() <= 16 => 32,
            _ => k.int(2, 8) as u32,
        };
        let wlim = 1i64 << (wb - 1);
        let wlo = if k.maybe(50) { -wlim / 4 } else { -wlim };
        let (w, exp) = weights(k, dir, &name, &[units, d.len()], wlo, wlim - 1, false);
        let (b, bexp) = bias(k, dir, &name, units, |b| b.to_vec());
        g.push(format!(
            "dense: {{name: {name}, units: {units}, weight_bits: {wb}, weights: {w}{b}}}"
        ));
        if let Some(e) = exp {
            g.expects.push((name.clone(), Expect::Weights(e)));
        }
        if let Some(e) = bexp {
            g.expects.push((name.clone(), Expect::Bias(e)));
        }
        let scale = d.len() as i64 * val.max_abs() * wlim / 2;
        d = Dims::vec(units);
        g.out(d);
        val = lif_layer(k, &mut g, d, scale.max(2));
    }
    g
}

// ---------------------------------------------------------------------------------
// Checking
// ---------------------------------------------------------------------------------

/// The parsed network holds the parameters the YAML wrote out.
fn check_params(net: &Network, g: &Gen) -> Result<(), String> {
    if net.layers.len() != g.shapes.len() {
        return Err(format!(
            "{} layers parsed, {} written",
            net.layers.len(),
            g.shapes.len()
        ));
    }
    for (l, d) in net.layers.iter().zip(&g.shapes) {
        let d = d.ok_or_else(|| format!("generator: no shape for `{}`", l.name))?;
        let s = l.output.shape;
        if (s.h, s.w, s.c, s.flat) != (d.h, d.w, d.c, d.flat) {
            return Err(format!(
                "layer `{}`: output shape {s}, expected {:?}",
                l.name,
                d.shape()
            ));
        }
    }
    for (name, e) in &g.expects {
        let l = net
            .layers
            .iter()
            .find(|l| &l.name == name)
            .ok_or_else(|| format!("no layer `{name}`"))?;
        let n = l.output.shape.len();
        let c = l.output.shape.c;
        let bad = |what: &str, i: usize| {
            format!("layer `{name}`: parsed {what} differs from the YAML at index {i}")
        };
        match (e, &l.op) {
            (Expect::Weights(w), Op::BinaryConv2d(x)) if &x.weights.data != w => {
                return Err(bad("weights", 0))
            }
            (Expect::Weights(w), Op::BinaryDense(x)) if &x.weights.data != w => {
                return Err(bad("weights", 0))
            }
            (Expect::Weights(w), Op::Conv2d(x)) if &x.weights.data != w => {
                return Err(bad("weights", 0))
            }
            (Expect::Weights(w), Op::Dense(x)) if &x.weights.data != w => {
                return Err(bad("weights", 0))
            }
            (Expect::Bias(b), Op::Conv2d(x)) => {
                if let Some(i) = (0..n).find(|&i| naive::pick(&x.bias, i, i % c, c, 0) != b[i]) {
                    return Err(bad("bias", i));
                }
            }
            (Expect::Bias(b), Op::Dense(x)) => {
                if let Some(i) = (0..n).find(|&i| naive::pick(&x.bias, i, i % c, c, 0) != b[i]) {
                    return Err(bad("bias", i));
                }
            }
            (Expect::Theta(t), Op::Lif(x)) => {
                if let Some(i) = (0..n).find(|&i| naive::pick(&x.theta, i, i % c, c, 0) != t[i]) {
                    return Err(bad("threshold", i));
                }
            }
            (Expect::Leak(t), Op::Lif(x)) => {
                if let Some(i) =
                    (0..n).find(|&i| naive::pick(&x.leak, i, i % c, c, Leak::None) != t[i])
                {
                    return Err(bad("leak", i));
                }
            }
            (Expect::VMin(v), Op::Lif(x)) => match (v, &x.v_min) {
                (None, None) => {}
                (Some(v), Some(p)) => {
                    if let Some(i) = (0..n).find(|&i| naive::pick(p, i, i % c, c, 0) != v[i]) {
                        return Err(bad("v_min", i));
                    }
                }
                _ => return Err(bad("v_min presence", 0)),
            },
            (Expect::Thresholds(t, ge), Op::Threshold(x)) => {
                if !t.is_empty() && &x.thresholds != t {
                    return Err(bad("thresholds", 0));
                }
                if &x.ge != ge {
                    return Err(bad("direction", 0));
                }
            }
            (Expect::Scale(s, b), Op::Output(x)) => {
                for i in 0..x.classes {
                    if naive::pick(&x.scale, i, i, x.classes, 1) != s[i] {
                        return Err(bad("scale", i));
                    }
                    if naive::pick(&x.bias, i, i, x.classes, 0) != b[i] {
                        return Err(bad("bias", i));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Parses the generated network and compares both models on `samples` random inputs.
fn run_case(g: &Gen, dir: &Path, input_seed: u64, samples: usize) -> Result<(), TestCaseError> {
    let src = Source::new("random.yaml", g.yaml.clone(), dir);
    let net = Network::parse(src).map_err(|e| {
        TestCaseError::fail(format!(
            "hdlgen rejected a network the generator believes valid:\n{}\n{:?}",
            g.yaml, e
        ))
    })?;
    check_params(&net, g).map_err(|e| TestCaseError::fail(format!("{e}\n{}", g.yaml)))?;
    let mut rng = Rng(input_seed);
    for s in 0..samples {
        let sample = check::random_sample(&net, &mut rng);
        if let Err(e) = check::compare(&net, &sample) {
            return Err(TestCaseError::fail(format!(
                "{e}\nsample {s}: {}\nnetwork:\n{}",
                check::describe(&sample),
                g.yaml
            )));
        }
    }
    Ok(())
}

fn knobs() -> impl Strategy<Value = (Vec<u32>, u64, u64)> {
    (
        prop::collection::vec(any::<u32>(), 64),
        any::<u64>(),
        any::<u64>(),
    )
}

proptest! {
    #![proptest_config(cases(1000))]

    #[test]
    fn random_bnn_agrees((kn, seed, input_seed) in knobs()) {
        let dir = tempfile::tempdir().unwrap();
        let mut k = Knobs::new(kn, seed);
        let g = gen_bnn(&mut k, dir.path());
        run_case(&g, dir.path(), input_seed, 3)?;
    }

    #[test]
    fn random_snn_agrees((kn, seed, input_seed) in knobs()) {
        let dir = tempfile::tempdir().unwrap();
        let mut k = Knobs::new(kn, seed);
        let g = gen_snn(&mut k, dir.path());
        run_case(&g, dir.path(), input_seed, 3)?;
    }
}

// ---------------------------------------------------------------------------------
// Focused: one binary convolution, padding `one` / `zero` / `none`, any Cin
// ---------------------------------------------------------------------------------

/// The binary convolution written differently from the naive model: the ±1 dot product
/// over the taps inside the input, plus (padding `one`) Σ w over the padded taps.
#[allow(clippy::too_many_arguments)]
fn direct_binary_conv(
    x: &[i64],
    h: usize,
    w: usize,
    cin: usize,
    wt: &[i64],
    cout: usize,
    kh: usize,
    kw: usize,
    s: usize,
    pad: &str,
) -> (Vec<i64>, usize, usize) {
    let (oh, ow, pt, pl) = if pad == "none" {
        ((h - kh) / s + 1, (w - kw) / s + 1, 0i64, 0i64)
    } else {
        let oh = h.div_ceil(s);
        let ow = w.div_ceil(s);
        let th = ((oh - 1) * s + kh).saturating_sub(h);
        let tw = ((ow - 1) * s + kw).saturating_sub(w);
        (oh, ow, (th / 2) as i64, (tw / 2) as i64)
    };
    let mut out = Vec::with_capacity(oh * ow * cout);
    for oy in 0..oh {
        for ox in 0..ow {
            for co in 0..cout {
                let mut acc = 0;
                for ky in 0..kh {
                    for kx in 0..kw {
                        let iy = (oy * s + ky) as i64 - pt;
                        let ix = (ox * s + kx) as i64 - pl;
                        let inside = iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w;
                        for ci in 0..cin {
                            let wv = wt[((co * kh + ky) * kw + kx) * cin + ci];
                            if inside {
                                acc += wv * x[((iy as usize) * w + ix as usize) * cin + ci];
                            } else if pad == "one" {
                                acc += wv;
                            }
                        }
                    }
                }
                out.push(acc);
            }
        }
    }
    (out, oh, ow)
}

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn binary_conv_padding(
        h in 1usize..9, w in 1usize..9, cin in 1usize..130, cout in 1usize..4,
        kh in 1usize..6, kw in 1usize..6, s in 1usize..4, pad in 0usize..3, seed in any::<u64>(),
    ) {
        let pad = if pad == 2 && (kh > h || kw > w) { 0 } else { pad };
        let pad = ["one", "zero", "none"][pad];
        let mut rng = Rng(seed);
        let pm = |rng: &mut Rng| if rng.chance(0.5) { 1 } else { -1 };
        let wt: Vec<i64> = (0..cout * kh * kw * cin).map(|_| pm(&mut rng)).collect();
        let x: Vec<i64> = (0..h * w * cin).map(|_| pm(&mut rng)).collect();
        let (want, oh, ow) = direct_binary_conv(&x, h, w, cin, &wt, cout, kh, kw, s, pad);
        let fc: Vec<i64> = (0..oh * ow * cout).map(|_| pm(&mut rng)).collect();
        let yaml = format!(
            "version: 1\ninput: {{shape: [{h}, {w}, {cin}], binary: true}}\nlayers:\n  - binary_conv2d: {{name: conv, filters: {cout}, kernel: [{kh}, {kw}], stride: {s}, padding: {pad}, weights: {}}}\n  - flatten\n  - binary_dense: {{name: fc, units: 1, weights: {}}}\n  - output\n",
            nested(&wt, &[cout, kh, kw, cin]),
            nested(&fc, &[1, oh * ow * cout]),
        );
        let net = Network::parse(Source::new("conv.yaml", yaml.clone(), "."))
            .map_err(|e| TestCaseError::fail(format!("{e:?}\n{yaml}")))?;
        let sample = hdlgen::input::Sample::Values(x);
        let run = net.run(&sample, true);
        let got = &run.trace.as_ref().unwrap()[0];
        prop_assert_eq!(&got.dims, &vec![oh, ow, cout]);
        if let Some(i) = (0..want.len()).find(|&i| got.data[i] != want[i]) {
            return Err(TestCaseError::fail(format!(
                "conv padding {pad}: flat index {i} (y {}, x {}, c {}): direct {}, hdlgen {}\n{yaml}",
                i / cout / ow, (i / cout) % ow, i % cout, want[i], got.data[i]
            )));
        }
        // The naive model agrees too (and on the rest of the network).
        check::compare(&net, &sample).map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
    }
}

/// Not a check: prints what the generators produce (layer kinds, LIF options, encoders,
/// how often layers are silent), to keep them honest. Run with
/// `cargo test -p hdlgen-tests --test random_networks generator_statistics -- --ignored --nocapture`.
#[test]
#[ignore = "diagnostic output only"]
fn generator_statistics() {
    use std::collections::BTreeMap;
    let mut hist: BTreeMap<String, usize> = BTreeMap::new();
    let mut bump = |k: String| *hist.entry(k).or_default() += 1;
    let mut r = Rng(7);
    for case in 0..1000 {
        let kn: Vec<u32> = (0..64).map(|_| r.next_u64() as u32).collect();
        let dir = tempfile::tempdir().unwrap();
        let mut k = Knobs::new(kn, r.next_u64());
        let g = if case % 2 == 0 {
            gen_bnn(&mut k, dir.path())
        } else {
            gen_snn(&mut k, dir.path())
        };
        let net = Network::parse(Source::new("r.yaml", g.yaml.clone(), dir.path())).unwrap();
        let nr = naive::run(&net, &check::random_sample(&net, &mut r));
        if let Some(t) = &net.temporal {
            bump(format!("encoder {}", t.encoder.name()));
            bump(format!("T {:02}", t.steps));
        }
        let skip = usize::from(net.is_snn());
        for (l, t) in net.layers.iter().zip(&nr.trace[skip..]) {
            bump(format!("kind {}", l.op.kind()));
            let active = t.data.iter().filter(|&&v| v > 0).count() as f64 / t.data.len() as f64;
            match &l.op {
                Op::Lif(f) => {
                    bump(format!(
                        "lif {:?}/{:?}/{:?} multi={}",
                        f.rule.reset, f.rule.fire, f.rule.timing, f.rule.multi_spike
                    ));
                    bump(format!("lif active fraction {active:.1}"));
                    if t.data.iter().any(|&v| v > 1) {
                        bump("lif emits counts > 1".into());
                    }
                }
                Op::Threshold(_) => bump(format!("threshold +1 fraction {active:.1}")),
                _ => {}
            }
        }
    }
    for (k, v) in hist {
        println!("{k}: {v}");
    }
}

/// Random thresholds must be valid thresholds: on an accumulator range that does not reach
/// −⌊√hi⌋ (e.g. a threshold straight on an unsigned input, lo = 0) hdlgen once drew values
/// outside the range it accepts and rejected its own `{random: S}`.
#[test]
fn random_thresholds_fit_their_range() {
    let mut rejected = vec![];
    for seed in 1..=20 {
        let yaml = format!(
            "version: 1\ninput: {{shape: [2, 2, 4], bits: 4, signed: false}}\nlayers:\n  - threshold: {{thresholds: {{random: {seed}}}, direction: ge}}\n  - flatten\n  - binary_dense: {{units: 2, weights: {{random: 1}}}}\n  - output\n"
        );
        if let Err(e) = Network::parse(Source::new("t.yaml", yaml, ".")) {
            rejected.push(format!("seed {seed}: {}", e.message));
        }
    }
    assert!(
        rejected.is_empty(),
        "{} of 20 seeds rejected; first: {}",
        rejected.len(),
        rejected[0]
    );
}

proptest! {
    #![proptest_config(cases(200))]

    /// An integer-input binary convolution at the ends of its range: every input (and
    /// the pad value) at the input's extremes, weights mostly of one sign, widths up to
    /// 32 bits and Cin up to 70, so that accumulators reach ±|P|·m.
    #[test]
    fn int_input_conv_extremes(
        h in 1usize..5, w in 1usize..5, cin in 1usize..71, cout in 1usize..3,
        k in 1usize..4, s in 1usize..3, bits in 1u32..33, signed in any::<bool>(),
        pad in 0usize..2, seed in any::<u64>(),
    ) {
        let signed = signed && bits >= 2;
        let (lo, hi) = if signed {
            (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
        } else {
            (0, (1i64 << bits) - 1)
        };
        let pad = if pad == 1 && k <= h && k <= w { "none" } else { "zero" };
        let mut rng = Rng(seed);
        // Weights: all +1, all −1, or random.
        let mode = rng.below(3);
        let wt: Vec<i64> = (0..cout * k * k * cin)
            .map(|_| match mode {
                0 => 1,
                1 => -1,
                _ => if rng.chance(0.5) { 1 } else { -1 },
            })
            .collect();
        let xmode = rng.below(3);
        let x: Vec<i64> = (0..h * w * cin)
            .map(|_| match xmode {
                0 => hi,
                1 => lo,
                _ => if rng.chance(0.5) { hi } else { lo },
            })
            .collect();
        let pv = if rng.chance(0.5) { hi } else { lo };
        let pad_opt = if pad == "zero" { format!(", pad_value: {pv}") } else { String::new() };
        let yaml = format!(
            "version: 1\ninput: {{shape: [{h}, {w}, {cin}], bits: {bits}, signed: {signed}}}\nlayers:\n  - binary_conv2d: {{name: conv, filters: {cout}, kernel: {k}, stride: {s}, padding: {pad}{pad_opt}, weights: {}}}\n  - maxpool: {{name: pool, size: 1}}\n  - threshold: {{name: bn, thresholds: 0, direction: ge}}\n  - flatten\n  - binary_dense: {{name: fc, units: 2, weights: {{random: 3}}}}\n  - output\n",
            nested(&wt, &[cout, k, k, cin]),
        );
        let net = Network::parse(Source::new("conv.yaml", yaml.clone(), "."))
            .map_err(|e| TestCaseError::fail(format!("{e:?}\n{yaml}")))?;
        check::compare(&net, &hdlgen::input::Sample::Values(x))
            .map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
    }
}
