//! Lowering: a checked BNN becomes a chain of streaming engines.
//!
//! | layers                                   | engine                          |
//! |------------------------------------------|---------------------------------|
//! | binary_conv2d [+ threshold]              | window generator + MVAU         |
//! | (flatten +) binary_dense [+ threshold]   | window generator + MVAU         |
//! | maxpool                                  | window generator + pool reducer |
//! | threshold (not after conv/dense)         | threshold unit                  |
//! | output                                   | scale/bias + argmax             |
//!
//! A dense layer after `flatten` is a convolution whose kernel covers the whole map (the
//! HWC stream order is the flatten order), so flatten costs nothing. A threshold right
//! after a conv/dense is fused into its MVAU. Streams carry one pixel per beat: C lanes,
//! each a bit (±1, bit 1 = +1) or a signed integer of the derived range's width.

use crate::arith::signed_bits;
use crate::error::{Error, SpecError, SpecErrorExt};
use crate::layers::binary_conv2d::Padding;
use crate::layers::fold::FoldKeys;
use crate::layers::geom::Window;
use crate::layers::Op;
use crate::network::Network;
use crate::spec::source::Span;
use crate::tensor::{Shape, ValType};

/// Largest `store: logic` weight table (one Verilog constant; Verilator's limit is 65,536).
pub const MAX_LOGIC_BITS: usize = 32_768;

/// Widest integer lane the engines carry.
pub const MAX_LANE_BITS: u32 = 32;

/// The format of a pixel stream: `lanes` elements of `bits` each (1: ±1 bits; else signed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fmt {
    pub lanes: usize,
    pub bits: u32,
}

impl Fmt {
    pub fn width(&self) -> usize {
        self.lanes * self.bits as usize
    }
    pub fn binary(&self) -> bool {
        self.bits == 1
    }
}

/// `hdlgen_swg` parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Swg {
    pub win: Window,
    pub c: usize,
    pub dw: u32,
    pub simd: usize,
    /// Element emitted for taps outside the map (two's complement in `dw` bits).
    pub pad_value: i64,
    /// Mask bit for taps outside the map (0: left out of the count).
    pub pad_mask: bool,
}

impl Swg {
    /// Rows in the window generator's ring: enough for the writer to fill the next
    /// image's first rows while the reader finishes this one, so in steady state the
    /// window stream never waits for input (an image costs max(reads, writes) cycles).
    pub fn ring_rows(&self) -> usize {
        let w = &self.win;
        let (h, kh, s, pt) = (
            w.in_h as i64,
            w.kh as i64,
            w.stride as i64,
            w.pad_top as i64,
        );
        let oh = w.out_h as i64;
        let tail = h - ((oh - 1) * s - pt).max(0) + (kh - pt).min(h);
        ((kh + s).max(tail) + 1) as usize
    }
    /// Beats per window.
    pub fn beats(&self) -> usize {
        self.win.kh * self.win.kw * self.c / self.simd
    }
}

/// `hdlgen_mvau` parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mvau {
    /// Integer inputs (Σ ±x) instead of XNOR-popcount.
    pub int: bool,
    pub mw: usize,
    pub mh: usize,
    pub pe: usize,
    pub simd: usize,
    pub in_w: u32,
    pub masked: bool,
    /// Fused threshold: the output is bits.
    pub thr: bool,
    pub ob: u32,
    pub acc_w: u32,
    pub tw: u32,
    /// Range of the dot product (clamps thresholds).
    pub lo: i64,
    pub hi: i64,
    /// Weights are constants in logic (`store: logic`), not a loadable memory.
    pub logic: bool,
}

impl Mvau {
    pub fn sf(&self) -> usize {
        self.mw / self.simd
    }
    pub fn nf(&self) -> usize {
        self.mh / self.pe
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Mvau {
        swg: Swg,
        mvau: Mvau,
        /// Index of the conv/dense layer, and of the fused threshold layer.
        layer: usize,
        thr_layer: Option<usize>,
    },
    Pool {
        swg: Swg,
        c: usize,
        ew: u32,
        max: bool,
    },
    Thresh {
        c: usize,
        in_w: u32,
        tw: u32,
        lo: i64,
        hi: i64,
        layer: usize,
    },
    Argmax {
        cls: usize,
        in_w: u32,
        sw: u32,
        layer: usize,
    },
}

/// A streaming engine and the layers it computes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Engine {
    /// Instance name: the layer names it covers, joined by `_`.
    pub name: String,
    /// Layer indices covered; the engine's output stream carries the last one's output.
    pub first: usize,
    pub last: usize,
    pub input: Fmt,
    pub output: Fmt,
    /// Map shape of the output stream (a vector is 1×1×N).
    pub out_shape: Shape,
    pub kind: Kind,
}

/// What a configuration memory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitKind {
    Weights,
    Thresholds,
    ScaleBias,
}

/// A memory written over the configuration bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unit {
    pub engine: usize,
    pub kind: UnitKind,
    pub width: usize,
    pub depth: usize,
}

impl Unit {
    pub fn lanes(&self) -> usize {
        self.width.div_ceil(32)
    }
}

/// The lowered network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Design {
    pub name: String,
    /// Raw input: pixels of `input.lanes` values of `input_bits` (signed or not).
    pub input_shape: Shape,
    pub input_bits: u32,
    pub input_signed: bool,
    /// Lane format the first engine receives (inputs widened to it).
    pub input: Fmt,
    pub engines: Vec<Engine>,
    pub units: Vec<Unit>,
    /// Popcount/adder tree register spacing.
    pub reg_every: usize,
}

/// Bits of an address field that counts `n` things (at least 1).
pub fn field_bits(n: usize) -> u32 {
    if n <= 1 {
        1
    } else {
        usize::BITS - (n - 1).leading_zeros()
    }
}

impl Design {
    /// Widths of the configuration address fields `{unit, word, lane}`.
    pub fn cfg_fields(&self) -> (u32, u32, u32) {
        let u = field_bits(self.units.len());
        let w = self
            .units
            .iter()
            .map(|x| field_bits(x.depth))
            .max()
            .unwrap_or(1);
        let l = self
            .units
            .iter()
            .map(|x| field_bits(x.lanes()))
            .max()
            .unwrap_or(1);
        (u, w, l)
    }
    /// The output stream: the argmax scores, or the last engine's pixels.
    pub fn ends_in_argmax(&self) -> bool {
        matches!(
            self.engines.last().map(|e| &e.kind),
            Some(Kind::Argmax { .. })
        )
    }
}

/// Folding chosen for one compute layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fold {
    pub pe: usize,
    pub simd: usize,
}

/// The compute layer's dimensions the folding must divide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ComputeDims {
    pub layer: usize,
    /// Outputs (MH) and stream channels (SIMD must divide them).
    pub mh: usize,
    pub cin: usize,
    pub win: Window,
    /// Input pixels per image (the window generator's write side).
    pub in_pixels: usize,
}

impl ComputeDims {
    pub fn mw(&self) -> usize {
        self.win.kh * self.win.kw * self.cin
    }
    /// Cycles per image at a folding: max(reads, writes) of the window generator + MVAU.
    pub fn cycles(&self, f: Fold) -> u64 {
        let vectors = (self.win.out_h * self.win.out_w) as u64;
        let reads = vectors * (self.mw() / f.simd) as u64 * (self.mh / f.pe) as u64;
        reads.max(self.in_pixels as u64)
    }
    /// Binary MACs per image (the ideal-cycles numerator).
    pub fn macs(&self) -> u64 {
        (self.win.out_h * self.win.out_w * self.mw() * self.mh) as u64
    }
}

pub(crate) fn divisors(n: usize) -> Vec<usize> {
    (1..=n).filter(|d| n % d == 0).collect()
}

fn list(v: &[usize]) -> String {
    v.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Compute layers (conv/dense) with their stream geometry, in order.
pub fn compute_layers(net: &Network) -> Vec<(ComputeDims, FoldKeys)> {
    let mut map = net.input.ty.shape;
    let mut out = vec![];
    for (i, l) in net.layers.iter().enumerate() {
        match &l.op {
            Op::BinaryConv2d(c) => {
                out.push((
                    ComputeDims {
                        layer: i,
                        mh: c.filters,
                        cin: c.cin,
                        win: c.win,
                        in_pixels: c.win.in_h * c.win.in_w,
                    },
                    c.fold,
                ));
                map = l.output.shape;
            }
            Op::BinaryDense(d) => {
                let win = Window::valid(map.h, map.w, map.h, map.w, 1).expect("whole map");
                out.push((
                    ComputeDims {
                        layer: i,
                        mh: d.units,
                        cin: map.c,
                        win,
                        in_pixels: map.h * map.w,
                    },
                    d.fold,
                ));
                map = l.output.shape;
            }
            Op::Flatten(_) => {}
            _ => map = l.output.shape,
        }
    }
    out
}

/// Checks user-fixed `pe`/`simd` values against the layer (with their YAML location).
pub fn check_fixed(net: &Network, d: &ComputeDims, keys: &FoldKeys) -> Result<(), Error> {
    let name = &net.layers[d.layer].name;
    if let Some(pe) = keys.pe {
        if d.mh % pe.value != 0 {
            return Err(SpecError::new(
                &net.src,
                pe.span,
                format!(
                    "layer `{name}`: `pe: {}` must divide its {} outputs",
                    pe.value, d.mh
                ),
            )
            .with_label("does not divide the outputs")
            .with_help(format!("use one of {}", list(&divisors(d.mh))))
            .into());
        }
    }
    if let Some(simd) = keys.simd {
        if d.cin % simd.value != 0 {
            return Err(SpecError::new(
                &net.src,
                simd.span,
                format!(
                    "layer `{name}`: `simd: {}` must divide the {} input channels it reads per pixel",
                    simd.value, d.cin
                ),
            )
            .with_label("does not divide the input channels")
            .with_help(format!("use one of {}", list(&divisors(d.cin))))
            .into());
        }
    }
    Ok(())
}

fn lane_bits(net: &Network, layer: usize, val: &ValType) -> Result<u32, Error> {
    match *val {
        ValType::Bits => Ok(1),
        ValType::Int { lo, hi } => {
            let b = signed_bits(lo, hi);
            if b > MAX_LANE_BITS {
                let l = &net.layers[layer];
                return Err(SpecError::new(
                    &net.src,
                    l.span,
                    format!(
                        "layer `{}`: its values in [{lo}, {hi}] need {b}-bit lanes; the hardware holds at most {MAX_LANE_BITS}",
                        l.name
                    ),
                )
                .with_help("use narrower inputs or a smaller fan-in")
                .into());
            }
            // A signed lane of at least 2 bits, so a 1-bit lane always means ±1 bits.
            Ok(b.max(2))
        }
    }
}

fn unsupported(net: &Network, span: Span, msg: String, help: &str) -> Error {
    SpecError::new(&net.src, span, msg).with_help(help).into()
}

/// Lowers a checked BNN with one folding per compute layer (in [`compute_layers`] order).
pub fn lower(net: &Network, folds: &[Fold], reg_every: usize) -> Result<Design, Error> {
    if net.temporal.is_some() {
        return Err(unsupported(
            net,
            net.input.span,
            format!(
                "network `{}` is spiking; spiking hardware is not built yet",
                net.name
            ),
            "hardware generation covers binary networks (BNN layers) for now",
        ));
    }
    let input_bits = match net.input.ty.val {
        ValType::Bits => 1,
        ValType::Int { .. } => net.input.bits,
    };
    let mut engines: Vec<Engine> = vec![];
    let mut units = vec![];
    let mut fmt = Fmt {
        lanes: net.input.ty.shape.c,
        bits: lane_bits(net, 0, &net.input.ty.val)?,
    };
    let input_fmt = fmt;
    let mut map = net.input.ty.shape;
    let mut folds = folds.iter();
    let layers = &net.layers;
    let mut i = 0;
    while i < layers.len() {
        let l = &layers[i];
        if engines
            .last()
            .is_some_and(|e| matches!(e.kind, Kind::Argmax { .. }))
        {
            return Err(unsupported(
                net,
                l.span,
                format!("layer `{}` follows `output`", l.name),
                "`output` must be the last layer for hardware",
            ));
        }
        let first = i;
        let (kind, out_bits, last) = match &l.op {
            Op::BinaryConv2d(_) | Op::BinaryDense(_) => {
                let f = *folds.next().expect("one folding per compute layer");
                let logic = match &l.op {
                    Op::BinaryConv2d(c) => c.fold.logic,
                    Op::BinaryDense(d) => d.fold.logic,
                    _ => unreachable!(),
                };
                let (win, cin, mh, pad, pad_value, int) = match &l.op {
                    Op::BinaryConv2d(c) => {
                        (c.win, c.cin, c.filters, c.padding, c.pad_value, c.int_input)
                    }
                    Op::BinaryDense(d) => (
                        Window::valid(map.h, map.w, map.h, map.w, 1).expect("whole map"),
                        map.c,
                        d.units,
                        Padding::None,
                        0,
                        d.int_input,
                    ),
                    _ => unreachable!(),
                };
                let ValType::Int { lo, hi } = l.output.val else {
                    unreachable!("conv/dense output integers")
                };
                let mut in_bits = fmt.bits;
                if int && pad != Padding::None {
                    // The padding value must fit the input lanes.
                    let (ilo, ihi) = match l.input.val {
                        ValType::Int { lo, hi } => (lo, hi),
                        ValType::Bits => (-1, 1),
                    };
                    let need = signed_bits(ilo.min(pad_value), ihi.max(pad_value)).max(2);
                    if need > in_bits {
                        if i == 0 {
                            in_bits = need;
                        } else {
                            return Err(unsupported(
                                net,
                                l.span,
                                format!("layer `{}`: pad_value {pad_value} is outside its input range", l.name),
                                "the hardware pads integer maps only with values inside the input's range, except on the first layer",
                            ));
                        }
                    }
                }
                if i == 0 {
                    fmt.bits = in_bits;
                }
                let masked = !int && pad == Padding::Zero;
                let swg = Swg {
                    win,
                    c: cin,
                    dw: in_bits,
                    simd: f.simd,
                    pad_value: if int {
                        pad_value
                    } else {
                        (pad == Padding::One) as i64
                    },
                    pad_mask: pad != Padding::Zero || int,
                };
                let thr_layer = match layers.get(i + 1).map(|n| &n.op) {
                    Some(Op::Threshold(_)) => Some(i + 1),
                    _ => None,
                };
                let acc_w = signed_bits(lo, hi).max(2);
                let ob = if thr_layer.is_some() {
                    1
                } else {
                    lane_bits(net, i, &l.output.val)?
                };
                let mvau = Mvau {
                    int,
                    mw: win.kh * win.kw * cin,
                    mh,
                    pe: f.pe,
                    simd: f.simd,
                    in_w: in_bits,
                    masked,
                    thr: thr_layer.is_some(),
                    ob,
                    acc_w,
                    tw: signed_bits(lo - 1, hi + 2),
                    lo,
                    hi,
                    logic,
                };
                let e = engines.len();
                if logic {
                    let bits = mvau.mw * mvau.mh;
                    if bits > MAX_LOGIC_BITS {
                        return Err(unsupported(
                            net,
                            l.span,
                            format!("layer `{}`: `store: logic` holds at most {MAX_LOGIC_BITS} weight bits in a constant, this layer has {bits}", l.name),
                            "use `store: bram` (the default) for large layers",
                        ));
                    }
                } else {
                    units.push(Unit {
                        engine: e,
                        kind: UnitKind::Weights,
                        width: f.pe * f.simd,
                        depth: mvau.sf() * mvau.nf(),
                    });
                }
                if thr_layer.is_some() {
                    units.push(Unit {
                        engine: e,
                        kind: UnitKind::Thresholds,
                        width: f.pe * (mvau.tw as usize + 1),
                        depth: mvau.nf(),
                    });
                }
                (
                    Kind::Mvau {
                        swg,
                        mvau,
                        layer: i,
                        thr_layer,
                    },
                    ob,
                    thr_layer.unwrap_or(i),
                )
            }
            Op::Threshold(_) => {
                let ValType::Int { lo, hi } = l.input.val else {
                    unreachable!("threshold input is integers")
                };
                let tw = signed_bits(lo - 1, hi + 2);
                units.push(Unit {
                    engine: engines.len(),
                    kind: UnitKind::Thresholds,
                    width: map.c * (tw as usize + 1),
                    depth: 1,
                });
                (
                    Kind::Thresh {
                        c: map.c,
                        in_w: fmt.bits,
                        tw,
                        lo,
                        hi,
                        layer: i,
                    },
                    1,
                    i,
                )
            }
            Op::MaxPool(p) => {
                let swg = Swg {
                    win: p.win,
                    c: p.channels,
                    dw: fmt.bits,
                    simd: p.channels,
                    pad_value: 0,
                    pad_mask: true,
                };
                (
                    Kind::Pool {
                        swg,
                        c: p.channels,
                        ew: fmt.bits,
                        max: !fmt.binary(),
                    },
                    fmt.bits,
                    i,
                )
            }
            Op::Flatten(_) => {
                i += 1;
                continue;
            }
            Op::Output(o) => {
                let ValType::Int { lo, hi } = l.output.val else {
                    unreachable!("scores are integers")
                };
                let sw = fmt.bits + 33;
                debug_assert!(signed_bits(lo, hi) <= sw);
                units.push(Unit {
                    engine: engines.len(),
                    kind: UnitKind::ScaleBias,
                    width: 64,
                    depth: o.classes,
                });
                (
                    Kind::Argmax {
                        cls: o.classes,
                        in_w: fmt.bits,
                        sw,
                        layer: i,
                    },
                    sw,
                    i,
                )
            }
            Op::SumPool(_) | Op::Conv2d(_) | Op::Dense(_) | Op::Lif(_) => {
                return Err(unsupported(
                    net,
                    l.span,
                    format!("layer `{}` ({}) has no hardware yet", l.name, l.op.kind()),
                    "hardware generation covers binary networks (BNN layers) for now",
                ))
            }
        };
        let out_shape = layers[last].output.shape;
        let name = layers[first..=last]
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>()
            .join("_");
        let output = Fmt {
            lanes: if matches!(kind, Kind::Argmax { .. }) {
                1
            } else {
                out_shape.c
            },
            bits: out_bits,
        };
        engines.push(Engine {
            name,
            first,
            last,
            input: fmt,
            output,
            out_shape,
            kind,
        });
        fmt = output;
        map = out_shape;
        i = last + 1;
    }
    let input = if let Some(e) = engines.first() {
        e.input
    } else {
        input_fmt
    };
    Ok(Design {
        name: net.name.clone(),
        input_shape: net.input.ty.shape,
        input_bits,
        input_signed: net.input.signed,
        input,
        engines,
        units,
        reg_every,
    })
}
