//! Parameter arrays (weights, thresholds, per-neuron constants): inline YAML lists,
//! `.npy`/`.npz` files relative to the YAML, or `{random: SEED}`. Everything becomes
//! checked `i64` data; shape, integrality and range errors point at the YAML node.

use std::path::Path;

use npyz::{DType, NpyFile, TypeChar};

use super::decode::{int, Cx, Obj, R};
use super::yaml::{Node, Value};
use crate::arith::SplitMix64;
use crate::error::SpecErrorExt;

/// A dense row-major integer array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<i64>,
}

impl Array {
    pub fn scalar(v: i64) -> Self {
        Array {
            shape: vec![],
            data: vec![v],
        }
    }
    pub fn len(&self) -> usize {
        self.data.len()
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// ±1 values (bool true/false accepted as ±1).
    Binary,
    /// Integers in `[lo, hi]`.
    Int { lo: i64, hi: i64 },
}

/// What a parameter must look like.
pub struct Want<'a> {
    /// Names the parameter in messages, e.g. "weights of layer `conv1`".
    pub what: &'a str,
    /// Accepted shapes; `[]` is a scalar. Random draws take the last one.
    pub shapes: &'a [Vec<usize>],
    pub kind: Kind,
    /// Inclusive range of `{random: SEED}` draws (for `Binary`, ±1 regardless).
    pub random: (i64, i64),
    /// Says what the allowed range means, for out-of-range errors.
    pub range_help: &'a str,
}

fn shape_str(s: &[usize]) -> String {
    if s.is_empty() {
        "a scalar".into()
    } else {
        format!(
            "[{}]",
            s.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn index_str(shape: &[usize], mut flat: usize) -> String {
    if shape.is_empty() {
        return String::new();
    }
    let mut idx = vec![0; shape.len()];
    for (i, d) in shape.iter().enumerate().rev() {
        idx[i] = flat % d.max(&1);
        flat /= d.max(&1);
    }
    format!(
        " at index [{}]",
        idx.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Raw numbers as read, before the integrality check.
enum Raw {
    Int(Vec<i128>),
    Float(Vec<f64>),
    Bool(Vec<bool>),
}

/// Largest parameter array hdlgen accepts (elements); far beyond any FPGA's memory.
pub const MAX_PARAM_ELEMS: usize = 1 << 28;

pub fn load(cx: Cx, node: &Node, want: &Want) -> R<Array> {
    for s in want.shapes {
        let n = s.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if n.is_none_or(|n| n > MAX_PARAM_ELEMS) {
            return Err(cx
                .err(
                    node.span,
                    format!(
                        "{}: shape {} is too large (limit {MAX_PARAM_ELEMS} elements)",
                        want.what,
                        shape_str(s)
                    ),
                )
                .with_label("too many parameters")
                .with_help("check the layer's sizes; no FPGA holds this many parameters"));
        }
    }
    let (shape, raw, origin) = match &node.value {
        Value::Int(i) => (vec![], Raw::Int(vec![*i]), String::new()),
        Value::Float(f) => (vec![], Raw::Float(vec![*f]), String::new()),
        Value::Bool(b) => (vec![], Raw::Bool(vec![*b]), String::new()),
        Value::Seq(_) => {
            let (shape, raw) = inline(cx, node, want.what)?;
            (shape, raw, String::new())
        }
        Value::Str(path) => {
            if path.ends_with(".npz") {
                return Err(cx
                    .err(
                        node.span,
                        format!("{}: an .npz file needs the array's name", want.what),
                    )
                    .with_help(format!("write `{{file: {path}, key: NAME}}`")));
            }
            let (s, r) = read_npy_file(cx, node, &cx.src.resolve(path), None, want.what)?;
            (s, r, format!(" in {path}"))
        }
        Value::Map(_) => {
            let o = Obj::new(cx, node, want.what, &["random", "file", "key"])?;
            if let Some(seed) = o.get("random") {
                if o.get("file").is_some() {
                    return Err(cx.err(
                        node.span,
                        format!("{}: give either `random` or `file`, not both", want.what),
                    ));
                }
                let seed = int(cx, seed, "random seed")?;
                return Ok(random(want, seed as u64));
            }
            let f = o.req(
                "file",
                "give `file: NAME.npy`, `{file: NAME.npz, key: ARRAY}` or `{random: SEED}`",
            )?;
            let path = super::decode::string(cx, f, "file")?;
            let key = match o.get("key") {
                Some(k) => Some(super::decode::string(cx, k, "key")?),
                None => None,
            };
            let (s, r) = read_npy_file(cx, f, &cx.src.resolve(path), key, want.what)?;
            (s, r, format!(" in {path}"))
        }
        Value::Null => {
            return Err(cx
                .err(node.span, format!("{}: no value given", want.what))
                .with_help("give a number, an inline list, a .npy file name or {random: SEED}"))
        }
    };
    if !want.shapes.contains(&shape) {
        let accepted = want
            .shapes
            .iter()
            .map(|s| shape_str(s))
            .collect::<Vec<_>>()
            .join(" or ");
        return Err(cx
            .err(node.span, format!("{}: shape {}{origin} does not fit; expected {accepted}", want.what, shape_str(&shape)))
            .with_label("wrong shape")
            .with_help("hdlgen's layouts: conv weights (Cout, kh, kw, Cin), dense weights (out, in) with `in` in HWC-flatten order"));
    }
    let n = shape.iter().product::<usize>();
    let mut data = Vec::with_capacity(n);
    let bad = |i: usize, v: String, why: &str| {
        cx.err(
            node.span,
            format!(
                "{}: value {v}{}{origin} {why}",
                want.what,
                index_str(&shape, i)
            ),
        )
        .with_label("bad value")
    };
    for i in 0..n {
        let v: i128 = match &raw {
            Raw::Int(x) => x[i],
            Raw::Bool(x) => match want.kind {
                Kind::Binary => {
                    if x[i] {
                        1
                    } else {
                        -1
                    }
                }
                Kind::Int { .. } => x[i] as i128,
            },
            Raw::Float(x) => {
                let f = x[i];
                if !f.is_finite() || f.fract() != 0.0 || f.abs() > 9.0e15 {
                    return Err(bad(i, f.to_string(), "is not an integer")
                        .with_help("hdlgen's network format holds integers only; quantise (and scale) before exporting"));
                }
                f as i128
            }
        };
        match want.kind {
            Kind::Binary if v != 1 && v != -1 => {
                return Err(bad(i, v.to_string(), "is not +1 or -1")
                    .with_help("binary values are +1 or -1 (bit 1 = +1, bit 0 = -1)"))
            }
            Kind::Int { lo, hi } if v < lo as i128 || v > hi as i128 => {
                return Err(
                    bad(i, v.to_string(), &format!("is out of range [{lo}, {hi}]"))
                        .with_help(want.range_help.to_string()),
                )
            }
            _ => {}
        }
        data.push(v as i64);
    }
    Ok(Array { shape, data })
}

fn random(want: &Want, seed: u64) -> Array {
    let shape = want.shapes.last().cloned().unwrap_or_default();
    let n = shape.iter().product::<usize>();
    let mut g = SplitMix64::new(seed);
    let data = match want.kind {
        Kind::Binary => (0..n)
            .map(|_| if g.next() & 1 == 1 { 1 } else { -1 })
            .collect(),
        Kind::Int { .. } => (0..n)
            .map(|_| g.uniform(want.random.0, want.random.1))
            .collect(),
    };
    Array { shape, data }
}

fn inline(cx: Cx, node: &Node, what: &str) -> R<(Vec<usize>, Raw)> {
    // Shape from the first element at each depth; then every element must agree.
    let mut shape = vec![];
    let mut n = node;
    while let Value::Seq(items) = &n.value {
        shape.push(items.len());
        match items.first() {
            Some(f) => n = f,
            None => break,
        }
    }
    let mut ints = Vec::new();
    let mut floats = Vec::new();
    let mut any_float = false;
    #[allow(clippy::too_many_arguments)]
    fn walk(
        cx: Cx,
        n: &Node,
        depth: usize,
        shape: &[usize],
        what: &str,
        ints: &mut Vec<i128>,
        floats: &mut Vec<f64>,
        any_float: &mut bool,
    ) -> R<()> {
        if depth < shape.len() {
            let Value::Seq(items) = &n.value else {
                return Err(cx.err(
                    n.span,
                    format!(
                        "{what}: ragged list: expected a list of {} here",
                        shape[depth]
                    ),
                ));
            };
            if items.len() != shape[depth] {
                return Err(cx.err(
                    n.span,
                    format!(
                        "{what}: ragged list: {} items where {} were expected",
                        items.len(),
                        shape[depth]
                    ),
                ));
            }
            for it in items {
                walk(cx, it, depth + 1, shape, what, ints, floats, any_float)?;
            }
            return Ok(());
        }
        match &n.value {
            Value::Int(i) => {
                ints.push(*i);
                floats.push(*i as f64);
            }
            Value::Float(f) => {
                *any_float = true;
                ints.push(0);
                floats.push(*f);
            }
            _ => {
                return Err(cx.err(
                    n.span,
                    format!("{what}: expected a number, found {}", n.type_name()),
                ))
            }
        }
        Ok(())
    }
    walk(
        cx,
        node,
        0,
        &shape,
        what,
        &mut ints,
        &mut floats,
        &mut any_float,
    )?;
    Ok((
        shape,
        if any_float {
            Raw::Float(floats)
        } else {
            Raw::Int(ints)
        },
    ))
}

fn read_npy_file(
    cx: Cx,
    node: &Node,
    path: &Path,
    key: Option<&str>,
    what: &str,
) -> R<(Vec<usize>, Raw)> {
    let fail = |msg: String| {
        cx.err(node.span, format!("{what}: {msg}"))
            .with_label("this file")
    };
    let bytes = std::fs::read(path).map_err(|e| {
        fail(format!("cannot open {}: {e}", path.display()))
            .with_help("paths are relative to the YAML file's folder")
    })?;
    if key.is_none() {
        npy_header_shape_ok(&bytes)
            .map_err(|m| fail(format!("{} is not a valid .npy file: {m}", path.display())))?;
    }
    let file = std::io::Cursor::new(bytes);
    let r = match key {
        None => {
            let npy = NpyFile::new(file)
                .map_err(|e| fail(format!("{} is not a valid .npy file: {e}", path.display())))?;
            read_npy(npy)
        }
        Some(k) => {
            let mut npz = npyz::npz::NpzArchive::new(file)
                .map_err(|e| fail(format!("{} is not a valid .npz file: {e}", path.display())))?;
            let names: Vec<String> = npz.array_names().map(|s| s.to_string()).collect();
            let found = npz.by_name(k);
            match found {
                Ok(Some(npy)) => read_npy(npy),
                Ok(None) => {
                    return Err(fail(format!("{} has no array `{k}`", path.display()))
                        .with_help(format!("arrays in the file: {}", names.join(", "))))
                }
                Err(e) => {
                    return Err(fail(format!(
                        "cannot read `{k}` from {}: {e}",
                        path.display()
                    )))
                }
            }
        }
    };
    r.map_err(|m| fail(format!("{}: {m}", path.display())))
}

/// Reads any integer, float or bool `.npy` into raw numbers.
fn read_npy<Rd: std::io::Read>(npy: NpyFile<Rd>) -> Result<(Vec<usize>, Raw), String> {
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    if npy.order() == npyz::Order::Fortran && shape.len() > 1 {
        return Err(
            "Fortran-ordered arrays are not supported; save with np.ascontiguousarray(a)".into(),
        );
    }
    let DType::Plain(ts) = npy.dtype() else {
        return Err("structured dtypes are not supported; save a plain numeric array".into());
    };
    let e = |e: std::io::Error| format!("read error: {e}");
    let ints = |v: Vec<i128>| Ok((shape.clone(), Raw::Int(v)));
    match (ts.type_char(), ts.size_field()) {
        (TypeChar::Bool, 1) => Ok((shape.clone(), Raw::Bool(npy.into_vec::<bool>().map_err(e)?))),
        (TypeChar::Int, 1) => ints(
            npy.into_vec::<i8>()
                .map_err(e)?
                .into_iter()
                .map(i128::from)
                .collect(),
        ),
        (TypeChar::Int, 2) => ints(
            npy.into_vec::<i16>()
                .map_err(e)?
                .into_iter()
                .map(i128::from)
                .collect(),
        ),
        (TypeChar::Int, 4) => ints(
            npy.into_vec::<i32>()
                .map_err(e)?
                .into_iter()
                .map(i128::from)
                .collect(),
        ),
        (TypeChar::Int, 8) => ints(
            npy.into_vec::<i64>()
                .map_err(e)?
                .into_iter()
                .map(i128::from)
                .collect(),
        ),
        (TypeChar::Uint, 1) => ints(
            npy.into_vec::<u8>()
                .map_err(e)?
                .into_iter()
                .map(i128::from)
                .collect(),
        ),
        (TypeChar::Uint, 2) => ints(
            npy.into_vec::<u16>()
                .map_err(e)?
                .into_iter()
                .map(i128::from)
                .collect(),
        ),
        (TypeChar::Uint, 4) => ints(
            npy.into_vec::<u32>()
                .map_err(e)?
                .into_iter()
                .map(i128::from)
                .collect(),
        ),
        (TypeChar::Uint, 8) => ints(
            npy.into_vec::<u64>()
                .map_err(e)?
                .into_iter()
                .map(i128::from)
                .collect(),
        ),
        (TypeChar::Float, 4) => Ok((
            shape.clone(),
            Raw::Float(
                npy.into_vec::<f32>()
                    .map_err(e)?
                    .into_iter()
                    .map(f64::from)
                    .collect(),
            ),
        )),
        (TypeChar::Float, 8) => Ok((shape.clone(), Raw::Float(npy.into_vec::<f64>().map_err(e)?))),
        _ => Err(format!(
            "dtype {ts} is not supported; use an integer, float or bool array"
        )),
    }
}

/// Reads an `.npy` array of integers (integral floats accepted) for input files.
pub(crate) fn read_npy_ints<Rd: std::io::Read>(npy: NpyFile<Rd>) -> Result<Array, String> {
    let (shape, raw) = read_npy(npy)?;
    let data = match raw {
        Raw::Int(v) => v
            .into_iter()
            .enumerate()
            .map(|(i, x)| {
                i64::try_from(x).map_err(|_| {
                    format!("value {x}{} does not fit in 64 bits", index_str(&shape, i))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        Raw::Bool(v) => v.into_iter().map(i64::from).collect(),
        Raw::Float(v) => v
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                if f.is_finite() && f.fract() == 0.0 && f.abs() <= 9.0e15 {
                    Ok(f as i64)
                } else {
                    Err(format!(
                        "value {f}{} is not an integer (inputs are integers: quantise first)",
                        index_str(&shape, i)
                    ))
                }
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(Array { shape, data })
}

pub(crate) fn fmt_index(shape: &[usize], flat: usize) -> String {
    index_str(shape, flat)
}

/// Checks the shape in an `.npy` header before npyz sees it: a forged header with a huge
/// shape must be an error, not an overflow inside the reader.
pub(crate) fn npy_header_shape_ok(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("missing the .npy magic bytes".into());
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = bytes
        .get(start..start.saturating_add(len))
        .ok_or("truncated header")?;
    let header = String::from_utf8_lossy(header);
    let shape = header
        .split("'shape':")
        .nth(1)
        .and_then(|r| r.split('(').nth(1))
        .and_then(|r| r.split(')').next())
        .ok_or("no shape in the header")?;
    let mut n: u64 = 1;
    for d in shape.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let d: u64 = d
            .trim_end_matches('L')
            .parse()
            .map_err(|_| format!("bad dimension `{d}` in the header"))?;
        n = n
            .checked_mul(d)
            .filter(|&n| n <= 1 << 40)
            .ok_or("the header's shape is impossibly large")?;
    }
    if n.saturating_mul(1) > (bytes.len() as u64).saturating_mul(8) + 8 {
        return Err(format!(
            "the header promises {n} elements but the file is only {} bytes",
            bytes.len()
        ));
    }
    Ok(())
}
