//! An independent, deliberately naive reference model.
//!
//! Written from `docs/network-format.md` and DESIGN.md §3 only, without looking at
//! hdlgen's evaluation code. Every tensor is a plain `Vec<i64>` in HWC order; binary
//! values are ±1 (never packed); every layer is evaluated in "gather" form (each output
//! sums over its own window); every time step evaluates every element. Only parameters
//! (weights, thresholds, per-neuron constants, options) are taken from the parsed
//! [`hdlgen::Network`]; geometry and all arithmetic are computed here.

use hdlgen::arith::{Fire, Leak, Reset, ResetTiming};
use hdlgen::encode::{Decoder, Encoder};
use hdlgen::input::Sample;
use hdlgen::layers::binary_conv2d::Padding;
use hdlgen::layers::{Layer, Op};
use hdlgen::tensor::ValType;
use hdlgen::Network;

/// Shape of a value array: a feature map `H×W×C` or a vector `[N]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub flat: bool,
}

impl Dims {
    pub fn map(h: usize, w: usize, c: usize) -> Dims {
        Dims {
            h,
            w,
            c,
            flat: false,
        }
    }
    pub fn vec(n: usize) -> Dims {
        Dims {
            h: 1,
            w: 1,
            c: n,
            flat: true,
        }
    }
    pub fn len(&self) -> usize {
        self.h * self.w * self.c
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// As an array shape (`[H, W, C]` or `[N]`), the way traces report it.
    pub fn shape(&self) -> Vec<usize> {
        if self.flat {
            vec![self.c]
        } else {
            vec![self.h, self.w, self.c]
        }
    }
    /// Index of element (y, x, c) in HWC order.
    pub fn at(&self, y: usize, x: usize, c: usize) -> usize {
        (y * self.w + x) * self.c + c
    }
}

/// One traced tensor: a layer output (for an SNN: all steps, `[T, ...]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    pub name: String,
    pub dims: Vec<usize>,
    pub data: Vec<i64>,
}

/// Cost counters of one layer, summed over the time steps (docs: "Cost counters").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Multiply-accumulates of dense (BNN) layers, all taps counted.
    pub macs: u64,
    /// For every non-zero input element of a synapse, the number of outputs it reaches.
    pub synops: u64,
    pub neuron_updates: u64,
    /// Sum of the spike counts a neuron layer emitted.
    pub spikes: u64,
}

#[derive(Clone, Debug)]
pub struct NaiveRun {
    /// BNN: scores; SNN: spike counts (`count`) or first-spike steps (`first_spike`).
    pub values: Vec<i64>,
    pub prediction: usize,
    /// SNN: the encoder output as `input`, then every layer; BNN: every layer.
    pub trace: Vec<Trace>,
    /// SNN with the events encoder: events at t ≥ T.
    pub dropped_events: u64,
    /// Per layer.
    pub counters: Vec<Counters>,
    /// SNN: sum of the encoder's positive output values over all steps.
    pub input_spikes: u64,
}

// ---------------------------------------------------------------------------------
// Geometry
// ---------------------------------------------------------------------------------

/// Valid window: out = ⌊(n − k)/s⌋ + 1, or `None` if the window does not fit.
pub fn valid_out(n: usize, k: usize, s: usize) -> Option<usize> {
    if k > n || s == 0 {
        None
    } else {
        Some((n - k) / s + 1)
    }
}

/// TensorFlow "same": out = ⌈n/s⌉, total = max((out − 1)·s + k − n, 0), the
/// top/left side gets ⌊total/2⌋. Returns (out, pad_before).
pub fn same_out(n: usize, k: usize, s: usize) -> (usize, usize) {
    let out = n.div_ceil(s);
    let need = (out as i64 - 1) * s as i64 + k as i64 - n as i64;
    let total = need.max(0) as usize;
    (out, total / 2)
}

/// Geometry of a 2-D window over an input: output size and padding before.
#[derive(Clone, Copy, Debug)]
pub struct Geom {
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub out_h: usize,
    pub out_w: usize,
    pub pad_top: usize,
    pub pad_left: usize,
}

pub fn geom(inp: Dims, kh: usize, kw: usize, stride: usize, same: bool) -> Geom {
    if same {
        let (out_h, pad_top) = same_out(inp.h, kh, stride);
        let (out_w, pad_left) = same_out(inp.w, kw, stride);
        Geom {
            kh,
            kw,
            stride,
            out_h,
            out_w,
            pad_top,
            pad_left,
        }
    } else {
        let out_h = valid_out(inp.h, kh, stride).expect("window does not fit");
        let out_w = valid_out(inp.w, kw, stride).expect("window does not fit");
        Geom {
            kh,
            kw,
            stride,
            out_h,
            out_w,
            pad_top: 0,
            pad_left: 0,
        }
    }
}

impl Geom {
    /// Input position of tap (ky, kx) of output (oy, ox); `None` when it is padding.
    fn tap(&self, inp: Dims, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
        let y = (oy * self.stride + ky) as i64 - self.pad_top as i64;
        let x = (ox * self.stride + kx) as i64 - self.pad_left as i64;
        if y < 0 || x < 0 || y >= inp.h as i64 || x >= inp.w as i64 {
            None
        } else {
            Some((y as usize, x as usize))
        }
    }
}

// ---------------------------------------------------------------------------------
// BNN layers
// ---------------------------------------------------------------------------------

/// How padded taps of a binary convolution are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinPad {
    None,
    /// Binary input: padded taps left out of P. Integer input: padded taps are `pad_value`.
    Zero,
    /// Binary input only: padded taps are +1 and count in P.
    One,
}

/// Index of weight `w[co][ky][kx][ci]` in a `(Cout, kh, kw, Cin)` array.
fn w4_at(kh: usize, kw: usize, cin: usize, co: usize, ky: usize, kx: usize, ci: usize) -> usize {
    ((co * kh + ky) * kw + kx) * cin + ci
}

/// Weight `w[co][ky][kx][ci]` of a `(Cout, kh, kw, Cin)` array.
#[allow(clippy::too_many_arguments)]
fn w4(
    w: &[i64],
    kh: usize,
    kw: usize,
    cin: usize,
    co: usize,
    ky: usize,
    kx: usize,
    ci: usize,
) -> i64 {
    w[w4_at(kh, kw, cin, co, ky, kx, ci)]
}

/// Binary convolution. `x` is ±1 (binary input) or integers (`int_input`).
/// Binary: acc = 2·p − |P|, p = number of taps in P where x == w (XNOR).
/// Integer: acc = Σ (w = +1 ? x : −x), padded taps (padding `zero`) are `pad_value`.
#[allow(clippy::too_many_arguments)]
pub fn binary_conv2d(
    x: &[i64],
    inp: Dims,
    int_input: bool,
    weights: &[i64],
    filters: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    pad: BinPad,
    pad_value: i64,
) -> (Vec<i64>, Dims) {
    let g = geom(inp, kh, kw, stride, pad != BinPad::None);
    let od = Dims::map(g.out_h, g.out_w, filters);
    let cin = inp.c;
    assert_eq!(weights.len(), filters * kh * kw * cin, "weight array size");
    let mut out = vec![0i64; od.len()];
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            for co in 0..filters {
                let acc: i64 = if int_input {
                    let mut s = 0i64;
                    for ky in 0..kh {
                        for kx in 0..kw {
                            for ci in 0..cin {
                                let xv = match g.tap(inp, oy, ox, ky, kx) {
                                    Some((y, xx)) => x[inp.at(y, xx, ci)],
                                    None => match pad {
                                        BinPad::Zero => pad_value,
                                        BinPad::One => {
                                            panic!("padding `one` is not defined for integer input")
                                        }
                                        BinPad::None => {
                                            unreachable!("valid windows have no padding")
                                        }
                                    },
                                };
                                let wv = w4(weights, kh, kw, cin, co, ky, kx, ci);
                                s += if wv == 1 { xv } else { -xv };
                            }
                        }
                    }
                    s
                } else {
                    // p = Σ XNOR(x, w) over taps in P, acc = 2p − |P|.
                    let mut p = 0i64;
                    let mut n_p = 0i64;
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let xs: Option<(usize, usize)> = g.tap(inp, oy, ox, ky, kx);
                            for ci in 0..cin {
                                let wv = w4(weights, kh, kw, cin, co, ky, kx, ci);
                                let xv = match xs {
                                    Some((y, xx)) => x[inp.at(y, xx, ci)],
                                    None => match pad {
                                        BinPad::One => 1,
                                        BinPad::Zero => continue,
                                        BinPad::None => {
                                            unreachable!("valid windows have no padding")
                                        }
                                    },
                                };
                                let xbit = xv >= 0;
                                let wbit = wv >= 0;
                                if xbit == wbit {
                                    p += 1;
                                }
                                n_p += 1;
                            }
                        }
                    }
                    2 * p - n_p
                };
                out[od.at(oy, ox, co)] = acc;
            }
        }
    }
    (out, od)
}

/// Binary dense: weights `(units, in)`, same arithmetic as the convolution with |P| = in.
pub fn binary_dense(x: &[i64], int_input: bool, weights: &[i64], units: usize) -> Vec<i64> {
    let n = x.len();
    assert_eq!(weights.len(), units * n, "weight array size");
    (0..units)
        .map(|o| {
            let row = &weights[o * n..(o + 1) * n];
            if int_input {
                row.iter()
                    .zip(x)
                    .map(|(&w, &xv)| if w == 1 { xv } else { -xv })
                    .sum()
            } else {
                let p = row
                    .iter()
                    .zip(x)
                    .filter(|(&w, &xv)| (w >= 0) == (xv >= 0))
                    .count() as i64;
                2 * p - n as i64
            }
        })
        .collect()
}

/// Threshold: channel c = index mod C; +1 iff acc ≥ T (ge) or acc ≤ T (le).
pub fn threshold(x: &[i64], channels: usize, t: &[i64], ge: &[bool]) -> Vec<i64> {
    x.iter()
        .enumerate()
        .map(|(i, &a)| {
            let c = i % channels;
            let th = t[c];
            let bit = if ge[c] { a >= th } else { a <= th };
            if bit {
                1
            } else {
                -1
            }
        })
        .collect()
}

/// Pooling without padding (a remainder is dropped): max (= OR on ±1 bits and on 0/1
/// spikes) or sum.
pub fn pool(x: &[i64], inp: Dims, k: (usize, usize), stride: usize, sum: bool) -> (Vec<i64>, Dims) {
    let g = geom(inp, k.0, k.1, stride, false);
    let od = Dims::map(g.out_h, g.out_w, inp.c);
    let mut out = vec![0; od.len()];
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            for c in 0..inp.c {
                let mut acc: Option<i64> = None;
                for ky in 0..g.kh {
                    for kx in 0..g.kw {
                        let v = x[inp.at(oy * stride + ky, ox * stride + kx, c)];
                        acc = Some(match acc {
                            None => v,
                            Some(a) if sum => a + v,
                            Some(a) => a.max(v),
                        });
                    }
                }
                out[od.at(oy, ox, c)] = acc.unwrap();
            }
        }
    }
    (out, od)
}

// ---------------------------------------------------------------------------------
// SNN layers
// ---------------------------------------------------------------------------------

/// Spiking conv synapse, gather form: I = Σ w·x + b over the taps inside the input
/// (zero padding adds nothing).
#[allow(clippy::too_many_arguments)]
pub fn conv2d(
    x: &[i64],
    inp: Dims,
    weights: &[i64],
    bias: &[i64],
    filters: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    same: bool,
) -> (Vec<i64>, Dims) {
    let g = geom(inp, kh, kw, stride, same);
    let od = Dims::map(g.out_h, g.out_w, filters);
    let cin = inp.c;
    assert_eq!(weights.len(), filters * kh * kw * cin, "weight array size");
    let mut out = vec![0; od.len()];
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            // Each output sums its bias and, over the taps inside the input, w·x.
            for co in 0..filters {
                out[od.at(oy, ox, co)] = pick(bias, od.at(oy, ox, co), co, filters, 0);
            }
            for ky in 0..kh {
                for kx in 0..kw {
                    let Some((y, xx)) = g.tap(inp, oy, ox, ky, kx) else {
                        continue; // zero padding adds nothing
                    };
                    // The Cin input values of the tap.
                    let xs = &x[inp.at(y, xx, 0)..][..cin];
                    for co in 0..filters {
                        let ws = &weights[w4_at(kh, kw, cin, co, ky, kx, 0)..][..cin];
                        let mut s = 0;
                        for (wv, xv) in ws.iter().zip(xs) {
                            s += wv * xv;
                        }
                        out[od.at(oy, ox, co)] += s;
                    }
                }
            }
        }
    }
    (out, od)
}

/// Spiking dense synapse: I_o = Σ_i w[o][i]·x[i] + b_o.
pub fn dense(x: &[i64], weights: &[i64], bias: &[i64], units: usize) -> Vec<i64> {
    let n = x.len();
    assert_eq!(weights.len(), units * n, "weight array size");
    (0..units)
        .map(|o| {
            let mut s = pick(bias, o, o, units, 0);
            for i in 0..n {
                s += weights[o * n + i] * x[i];
            }
            s
        })
        .collect()
}

/// A per-neuron constant stored as a scalar, per channel or per neuron (`default` when
/// absent).
pub fn pick<T: Copy>(v: &[T], neuron: usize, channel: usize, channels: usize, default: T) -> T {
    match v.len() {
        0 => default,
        1 => v[0],
        n if n == channels => v[channel],
        _ => v[neuron],
    }
}

/// floor(v / 2^k) for k ≥ 0.
fn floor_shift(v: i128, k: u32) -> i128 {
    if k >= 126 {
        if v < 0 {
            -1
        } else {
            0
        }
    } else {
        v.div_euclid(1i128 << k)
    }
}

/// leak(v): none → v; shift K → v − ⌊v/2^K⌋; beta Q/2^F → ⌊v·Q/2^F⌋.
pub fn leak(v: i64, l: Leak) -> i128 {
    let v = v as i128;
    match l {
        Leak::None => v,
        Leak::Shift(k) => v - floor_shift(v, k),
        Leak::Beta { q, f } => {
            floor_shift(v.checked_mul(q as i128).expect("v·Q overflows i128"), f)
        }
    }
}

/// Options of a LIF layer, read from the parsed layer.
#[derive(Clone, Debug)]
pub struct LifParams {
    pub reset: Reset,
    pub fire: Fire,
    pub timing: ResetTiming,
    pub v_bits: u32,
    pub multi_spike: bool,
    pub theta: Vec<i64>,
    pub leak: Vec<Leak>,
    pub v_min: Option<Vec<i64>>,
}

/// One LIF step for all neurons. `v` the membranes, `prev` the layer's output at t − 1.
/// Returns the output (spikes 0/1, or counts with multi-spike).
pub fn lif_step(
    p: &LifParams,
    channels: usize,
    v: &mut [i64],
    prev: &[i64],
    input: &[i64],
) -> Vec<i64> {
    let lo: i128 = -(1i128 << (p.v_bits - 1));
    let hi: i128 = (1i128 << (p.v_bits - 1)) - 1;
    let sat = |a: i128| -> i64 {
        if a < lo {
            lo as i64
        } else if a > hi {
            hi as i64
        } else {
            a as i64
        }
    };
    let fires = |vv: i64, th: i64| -> bool {
        match p.fire {
            Fire::Gt => vv > th,
            Fire::Ge => vv >= th,
        }
    };
    let mut out = vec![0i64; v.len()];
    for i in 0..v.len() {
        let c = i % channels;
        let th = pick(&p.theta, i, c, channels, 0);
        let lk = pick(&p.leak, i, c, channels, Leak::None);
        let cur = input[i] as i128;
        let s: i64;
        match p.timing {
            ResetTiming::Delayed => {
                assert!(!p.multi_spike, "multi-spike needs immediate reset");
                let r = prev[i];
                let nv = match p.reset {
                    Reset::Subtract => sat(leak(v[i], lk) + cur - r as i128 * th as i128),
                    Reset::Zero => sat(if r != 0 { 0 } else { leak(v[i], lk) } + cur),
                    Reset::None => sat(leak(v[i], lk) + cur),
                };
                v[i] = nv;
                s = fires(nv, th) as i64;
            }
            ResetTiming::Immediate => {
                let mut nv = sat(leak(v[i], lk) + cur);
                if p.multi_spike {
                    assert!(p.fire == Fire::Ge && p.reset == Reset::Subtract);
                    if nv >= th {
                        let n = nv.div_euclid(th);
                        nv -= n * th;
                        s = n;
                    } else {
                        s = 0;
                    }
                } else if fires(nv, th) {
                    s = 1;
                    match p.reset {
                        Reset::Subtract => nv -= th,
                        Reset::Zero => nv = 0,
                        Reset::None => {}
                    }
                } else {
                    s = 0;
                }
                v[i] = nv;
            }
        }
        if let Some(vm) = &p.v_min {
            let m = pick(vm, i, c, channels, i64::MIN);
            if v[i] < m {
                v[i] = m;
            }
        }
        out[i] = s;
    }
    out
}

// ---------------------------------------------------------------------------------
// Encoders and decoders
// ---------------------------------------------------------------------------------

/// xorshift32 from its definition: x ^= x<<13; x ^= x>>17; x ^= x<<5 (on 32 bits).
pub fn xorshift32(state: &mut u32) -> u32 {
    let mut x = *state as u64;
    x = (x ^ (x << 13)) & 0xffff_ffff;
    x = (x ^ (x >> 17)) & 0xffff_ffff;
    x = (x ^ (x << 5)) & 0xffff_ffff;
    *state = x as u32;
    *state
}

/// The encoder's output frames, one per step. Also returns dropped events.
pub fn encode(net: &Network, sample: &Sample) -> (Vec<Vec<i64>>, u64) {
    let t = net.temporal.as_ref().expect("an SNN");
    let steps = t.steps;
    let shape = net.input.ty.shape;
    let n = shape.len();
    let bits = net.input.bits;
    let values = || match sample {
        Sample::Values(v) => v.clone(),
        Sample::Events(_) => panic!("this encoder takes values, not events"),
    };
    match &t.encoder {
        Encoder::Direct { sequence: false } => {
            let v = values();
            assert_eq!(v.len(), n);
            (vec![v; steps], 0)
        }
        Encoder::Direct { sequence: true } => {
            let v = values();
            assert_eq!(v.len(), n * steps);
            (
                (0..steps).map(|s| v[s * n..(s + 1) * n].to_vec()).collect(),
                0,
            )
        }
        Encoder::Rate { seed } => {
            let v = values();
            let mut st = *seed;
            let mut frames = Vec::new();
            for _ in 0..steps {
                let mut f = vec![0; n];
                for (i, fi) in f.iter_mut().enumerate() {
                    let r = xorshift32(&mut st) as u64;
                    let top = r >> (32 - bits);
                    *fi = ((top as i64) < v[i]) as i64;
                }
                frames.push(f);
            }
            (frames, 0)
        }
        Encoder::Latency => {
            let v = values();
            let xmax: i128 = (1i128 << bits) - 1;
            let mut frames = vec![vec![0; n]; steps];
            for i in 0..n {
                let x = v[i] as i128;
                if x == 0 {
                    continue;
                }
                let ts = (xmax - x) * (steps as i128 - 1) / xmax;
                assert!(ts >= 0 && (ts as usize) < steps);
                frames[ts as usize][i] = 1;
            }
            (frames, 0)
        }
        Encoder::Delta { threshold } => {
            let v = values();
            assert_eq!(v.len(), n * steps);
            let mut frames = Vec::new();
            for s in 0..steps {
                let f = (0..n)
                    .map(|i| {
                        let cur = v[s * n + i];
                        let prev = if s == 0 { 0 } else { v[(s - 1) * n + i] };
                        (cur - prev >= *threshold) as i64
                    })
                    .collect();
                frames.push(f);
            }
            (frames, 0)
        }
        Encoder::Events { bin_us, clip } => {
            let Sample::Events(ev) = sample else {
                panic!("the events encoder takes events")
            };
            let d = Dims::map(shape.h, shape.w, shape.c);
            let mut counts = vec![vec![0i64; n]; steps];
            let mut dropped = 0;
            for e in ev {
                let step = e.t_us / bin_us;
                if step >= steps as i64 {
                    dropped += 1;
                    continue;
                }
                let ch = if shape.c == 2 { e.p as usize } else { 0 };
                counts[step as usize][d.at(e.y as usize, e.x as usize, ch)] += 1;
            }
            for f in counts.iter_mut() {
                for v in f.iter_mut() {
                    *v = (*v).min(*clip);
                }
            }
            (counts, dropped)
        }
    }
}

/// argmax, ties → lowest index.
pub fn argmax(v: &[i64]) -> usize {
    let mut best = 0;
    for i in 1..v.len() {
        if v[i] > v[best] {
            best = i;
        }
    }
    best
}

/// argmin, ties → lowest index.
pub fn argmin(v: &[i64]) -> usize {
    let mut best = 0;
    for i in 1..v.len() {
        if v[i] < v[best] {
            best = i;
        }
    }
    best
}

// ---------------------------------------------------------------------------------
// The network
// ---------------------------------------------------------------------------------

fn dims_of(s: hdlgen::tensor::Shape) -> Dims {
    if s.flat {
        Dims::vec(s.c)
    } else {
        Dims::map(s.h, s.w, s.c)
    }
}

/// Padding of a spiking conv: the parsed layer keeps only its window, so read the mode
/// off the output shape (valid and same geometry agree exactly when neither pads).
fn conv_is_same(l: &Layer, inp: Dims, kh: usize, kw: usize, s: usize) -> bool {
    let out = l.output.shape;
    let valid = (valid_out(inp.h, kh, s), valid_out(inp.w, kw, s));
    if valid == (Some(out.h), Some(out.w)) {
        return false;
    }
    let same = (same_out(inp.h, kh, s).0, same_out(inp.w, kw, s).0);
    assert_eq!(
        same,
        (out.h, out.w),
        "layer `{}`: output {}×{} is neither valid nor same geometry",
        l.name,
        out.h,
        out.w
    );
    true
}

/// State of a stateful layer.
struct LifState {
    v: Vec<i64>,
    prev: Vec<i64>,
}

/// Evaluates one layer on one step's input.
fn eval(
    l: &Layer,
    x: &[i64],
    inp: Dims,
    state: &mut Option<LifState>,
    cnt: &mut Counters,
) -> (Vec<i64>, Dims) {
    let (y, od) = eval_values(l, x, inp, state);
    count(l, x, inp, &y, od, cnt);
    (y, od)
}

/// Adds one evaluation's cost counters.
fn count(l: &Layer, x: &[i64], inp: Dims, y: &[i64], od: Dims, cnt: &mut Counters) {
    match &l.op {
        Op::BinaryConv2d(c) => {
            cnt.macs += (od.len() * c.win.kh * c.win.kw * inp.c) as u64;
        }
        Op::BinaryDense(d) => cnt.macs += (d.units * x.len()) as u64,
        Op::Dense(d) => {
            cnt.synops += (x.iter().filter(|&&v| v != 0).count() * d.units) as u64;
        }
        Op::Conv2d(c) => {
            // Count, for every output position, the non-zero inputs under its window
            // (padding taps reach nothing); each reaches all filters.
            let same = conv_is_same(l, inp, c.win.kh, c.win.kw, c.win.stride);
            let g = geom(inp, c.win.kh, c.win.kw, c.win.stride, same);
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    for ky in 0..g.kh {
                        for kx in 0..g.kw {
                            if let Some((yy, xx)) = g.tap(inp, oy, ox, ky, kx) {
                                let nz =
                                    (0..inp.c).filter(|&ci| x[inp.at(yy, xx, ci)] != 0).count();
                                cnt.synops += (nz * c.filters) as u64;
                            }
                        }
                    }
                }
            }
        }
        Op::Lif(_) => {
            cnt.neuron_updates += y.len() as u64;
            cnt.spikes += y.iter().sum::<i64>() as u64;
        }
        _ => {}
    }
}

fn eval_values(l: &Layer, x: &[i64], inp: Dims, state: &mut Option<LifState>) -> (Vec<i64>, Dims) {
    let int_input = !matches!(l.input.val, ValType::Bits);
    match &l.op {
        Op::BinaryConv2d(c) => {
            let pad = match c.padding {
                Padding::None => BinPad::None,
                Padding::Zero => BinPad::Zero,
                Padding::One => BinPad::One,
            };
            binary_conv2d(
                x,
                inp,
                int_input,
                &c.weights.data,
                c.filters,
                c.win.kh,
                c.win.kw,
                c.win.stride,
                pad,
                c.pad_value,
            )
        }
        Op::BinaryDense(d) => (
            binary_dense(x, int_input, &d.weights.data, d.units),
            Dims::vec(d.units),
        ),
        Op::Threshold(t) => {
            assert!(int_input, "threshold takes integers");
            (threshold(x, inp.c, &t.thresholds, &t.ge), inp)
        }
        Op::MaxPool(p) => pool(x, inp, (p.win.kh, p.win.kw), p.win.stride, false),
        Op::SumPool(p) => pool(x, inp, (p.win.kh, p.win.kw), p.win.stride, true),
        Op::Flatten(_) => (x.to_vec(), Dims::vec(inp.len())),
        Op::Output(o) => {
            let s = x
                .iter()
                .enumerate()
                .map(|(i, &a)| {
                    a * pick(&o.scale, i, i, o.classes, 1) + pick(&o.bias, i, i, o.classes, 0)
                })
                .collect();
            (s, Dims::vec(o.classes))
        }
        Op::Conv2d(c) => {
            let same = conv_is_same(l, inp, c.win.kh, c.win.kw, c.win.stride);
            conv2d(
                x,
                inp,
                &c.weights.data,
                &c.bias,
                c.filters,
                c.win.kh,
                c.win.kw,
                c.win.stride,
                same,
            )
        }
        Op::Dense(d) => (
            dense(x, &d.weights.data, &d.bias, d.units),
            Dims::vec(d.units),
        ),
        Op::Lif(f) => {
            let p = LifParams {
                reset: f.rule.reset,
                fire: f.rule.fire,
                timing: f.rule.timing,
                v_bits: f.rule.v_bits,
                multi_spike: f.rule.multi_spike,
                theta: f.theta.clone(),
                leak: f.leak.clone(),
                v_min: f.v_min.clone(),
            };
            let st = state.get_or_insert_with(|| LifState {
                v: vec![0; x.len()],
                prev: vec![0; x.len()],
            });
            let out = lif_step(&p, inp.c, &mut st.v, &st.prev, x);
            st.prev = out.clone();
            (out, inp)
        }
    }
}

fn prefixed(t: usize, d: &[usize]) -> Vec<usize> {
    let mut v = vec![t];
    v.extend_from_slice(d);
    v
}

/// Runs the naive model on one sample.
pub fn run(net: &Network, sample: &Sample) -> NaiveRun {
    let in_dims = dims_of(net.input.ty.shape);
    match &net.temporal {
        None => {
            let mut x = match sample {
                Sample::Values(v) => v.clone(),
                Sample::Events(_) => panic!("a binary network takes values"),
            };
            assert_eq!(x.len(), in_dims.len());
            if net.input.ty.val == ValType::Bits {
                // ±1 input; sign(0) = +1.
                x = x.iter().map(|&v| if v >= 0 { 1 } else { -1 }).collect();
            }
            let mut d = in_dims;
            let mut trace = Vec::new();
            let mut counters = vec![Counters::default(); net.layers.len()];
            for (k, l) in net.layers.iter().enumerate() {
                let (y, od) = eval(l, &x, d, &mut None, &mut counters[k]);
                trace.push(Trace {
                    name: l.name.clone(),
                    dims: od.shape(),
                    data: y.clone(),
                });
                x = y;
                d = od;
            }
            let prediction = argmax(&x);
            NaiveRun {
                values: x,
                prediction,
                trace,
                dropped_events: 0,
                counters,
                input_spikes: 0,
            }
        }
        Some(t) => {
            let (frames, dropped) = encode(net, sample);
            // Spikes (or event counts) the encoder produced. The docs do not define this
            // counter for a direct encoder's integer currents; hdlgen sums the positive
            // values (Σ max(x, 0)), which is what is checked here.
            let input_spikes = frames.iter().flatten().map(|&v| v.max(0)).sum::<i64>() as u64;
            let mut counters = vec![Counters::default(); net.layers.len()];
            let steps = t.steps;
            let mut trace: Vec<Trace> = Vec::new();
            trace.push(Trace {
                name: "input".into(),
                dims: prefixed(steps, &in_dims.shape()),
                data: frames.concat(),
            });
            for l in &net.layers {
                trace.push(Trace {
                    name: l.name.clone(),
                    dims: vec![],
                    data: vec![],
                });
            }
            let mut states: Vec<Option<LifState>> = net.layers.iter().map(|_| None).collect();
            let mut last: Vec<Vec<i64>> = Vec::new();
            for frame in frames {
                let mut x = frame;
                let mut d = in_dims;
                for (k, l) in net.layers.iter().enumerate() {
                    let (y, od) = eval(l, &x, d, &mut states[k], &mut counters[k]);
                    let tr = &mut trace[k + 1];
                    tr.dims = prefixed(steps, &od.shape());
                    tr.data.extend_from_slice(&y);
                    x = y;
                    d = od;
                }
                last.push(x);
            }
            let outs = last.first().map_or(0, |v| v.len());
            let (values, prediction) = match t.decoder {
                Decoder::Count => {
                    let v: Vec<i64> = (0..outs).map(|o| last.iter().map(|f| f[o]).sum()).collect();
                    let p = argmax(&v);
                    (v, p)
                }
                Decoder::FirstSpike => {
                    let v: Vec<i64> = (0..outs)
                        .map(|o| {
                            last.iter()
                                .position(|f| f[o] > 0)
                                .map_or(steps as i64, |s| s as i64)
                        })
                        .collect();
                    let p = argmin(&v);
                    (v, p)
                }
            };
            NaiveRun {
                values,
                prediction,
                trace,
                dropped_events: dropped,
                counters,
                input_spikes,
            }
        }
    }
}
