//! Input files for `hdlgen run`: one sample or a batch in `.npy`, or `.npz` with `x`
//! (and optional labels `y`); DVS events as (x, y, polarity, t_us) rows. Every value is
//! checked against the network's declared input before anything runs.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use npyz::NpyFile;

use crate::encode::Encoder;
use crate::error::Error;
use crate::network::Network;
use crate::spec::param::{fmt_index, read_npy_ints, Array};
use crate::tensor::ValType;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub x: i64,
    pub y: i64,
    pub p: i64,
    pub t_us: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sample {
    /// Input values in HWC order (a sequence: T frames one after another).
    Values(Vec<i64>),
    Events(Vec<Event>),
}

#[derive(Clone, Debug)]
pub struct Batch {
    pub samples: Vec<Sample>,
    pub labels: Option<Vec<i64>>,
    /// The file held a batch (leading N axis) rather than one sample.
    pub batched: bool,
}

fn shape_str(s: &[usize]) -> String {
    format!(
        "[{}]",
        s.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Reads `path` and checks it against `net`'s input.
pub fn load(net: &Network, path: &Path) -> Result<Batch, Error> {
    let arrays = read_arrays(path)?;
    let events = matches!(
        net.temporal.as_ref().map(|t| &t.encoder),
        Some(Encoder::Events { .. })
    );
    let labels_arr = arrays
        .iter()
        .find(|(n, _)| n == "y")
        .map(|(_, a)| a.clone());
    let data: Vec<(String, Array)> = arrays.into_iter().filter(|(n, _)| n != "y").collect();
    let batch = if events {
        let samples = data
            .iter()
            .map(|(name, a)| events_sample(net, path, name, a))
            .collect::<Result<Vec<_>, _>>()?;
        if samples.is_empty() {
            return Err(Error::input(path, "no event arrays found"));
        }
        let batched = samples.len() > 1;
        Batch {
            samples,
            labels: None,
            batched,
        }
    } else {
        let (name, a) = match data.iter().find(|(n, _)| n == "x").or(if data.len() == 1 {
            data.first()
        } else {
            None
        }) {
            Some(x) => x,
            None => {
                return Err(
                    Error::input(path, "cannot tell which array holds the inputs")
                        .with_help("name the input array `x` (and labels `y`)"),
                )
            }
        };
        values_batch(net, path, name, a)?
    };
    let labels = match labels_arr {
        None => None,
        Some(y) => {
            if y.shape.len() != 1 || y.shape[0] != batch.samples.len() {
                return Err(Error::input(
                    path,
                    format!(
                        "labels `y` have shape {} but there are {} samples",
                        shape_str(&y.shape),
                        batch.samples.len()
                    ),
                ));
            }
            Some(y.data)
        }
    };
    Ok(Batch { labels, ..batch })
}

fn read_arrays(path: &Path) -> Result<Vec<(String, Array)>, Error> {
    let file = File::open(path).map_err(|e| Error::Read {
        path: path.to_path_buf(),
        source: e,
    })?;
    let bad = |m: String| Error::input(path, m);
    match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => {
            let bytes = std::fs::read(path).map_err(|e| Error::Read {
                path: path.to_path_buf(),
                source: e,
            })?;
            crate::spec::param::npy_header_shape_ok(&bytes)
                .map_err(|m| bad(format!("not a valid .npy file: {m}")))?;
            let npy = NpyFile::new(std::io::Cursor::new(bytes))
                .map_err(|e| bad(format!("not a valid .npy file: {e}")))?;
            Ok(vec![("x".into(), read_npy_ints(npy).map_err(bad)?)])
        }
        Some("npz") => {
            let mut z = npyz::npz::NpzArchive::new(BufReader::new(file))
                .map_err(|e| bad(format!("not a valid .npz file: {e}")))?;
            let names: Vec<String> = z.array_names().map(str::to_string).collect();
            let mut out = Vec::new();
            for n in names {
                let npy = z
                    .by_name(&n)
                    .map_err(|e| bad(format!("cannot read array `{n}`: {e}")))?
                    .ok_or_else(|| bad(format!("array `{n}` vanished")))?;
                out.push((
                    n.clone(),
                    read_npy_ints(npy).map_err(|m| bad(format!("array `{n}`: {m}")))?,
                ));
            }
            Ok(out)
        }
        _ => Err(bad("expected a .npy or .npz file".into())
            .with_help("save inputs with numpy.save or numpy.savez(x=..., y=...)")),
    }
}

fn values_batch(net: &Network, path: &Path, name: &str, a: &Array) -> Result<Batch, Error> {
    let mut sample_dims = net.input.ty.shape.dims();
    let seq = net.temporal.as_ref().filter(|t| t.encoder.is_sequence());
    if let Some(t) = seq {
        sample_dims.insert(0, t.steps);
    }
    let (n, batched) =
        if a.shape == sample_dims {
            (1, false)
        } else if a.shape.len() == sample_dims.len() + 1 && a.shape[1..] == sample_dims[..] {
            (a.shape[0], true)
        } else {
            let what = if seq.is_some() {
                " (T frames of the input)"
            } else {
                ""
            };
            return Err(Error::input(
                path,
                format!(
                "array `{name}` has shape {} but the network expects {}{what} or a batch [N, {}]",
                shape_str(&a.shape),
                shape_str(&sample_dims),
                sample_dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
            ),
            )
            .with_help("reshape the input (e.g. x[..., None] adds the channel axis)"));
        };
    let (lo, hi, what) = match net.input.ty.val {
        ValType::Bits => (-1, 1, "binary (±1)".to_string()),
        ValType::Int { lo, hi } => (
            lo,
            hi,
            format!(
                "{}-bit {}",
                net.input.bits,
                if net.input.signed {
                    "signed"
                } else {
                    "unsigned"
                }
            ),
        ),
    };
    for (i, &v) in a.data.iter().enumerate() {
        let ok = if net.input.ty.val == ValType::Bits {
            v == 1 || v == -1
        } else {
            v >= lo && v <= hi
        };
        if !ok {
            return Err(Error::input(
                path,
                format!(
                    "value {v}{} in `{name}` is out of range for the {what} input [{lo}, {hi}]",
                    fmt_index(&a.shape, i)
                ),
            )
            .with_help(
                "hdlgen's inputs are the integers the hardware sees: quantise and clip first",
            ));
        }
    }
    let per = a.data.len() / n.max(1);
    let samples = a
        .data
        .chunks(per.max(1))
        .take(n)
        .map(|c| Sample::Values(c.to_vec()))
        .collect();
    Ok(Batch {
        samples,
        labels: None,
        batched,
    })
}

fn events_sample(net: &Network, path: &Path, name: &str, a: &Array) -> Result<Sample, Error> {
    if a.shape.len() != 2 || a.shape[1] != 4 {
        return Err(Error::input(
            path,
            format!(
                "event array `{name}` has shape {}; expected [N, 4]",
                shape_str(&a.shape)
            ),
        )
        .with_help("one row per event: x, y, polarity (0/1), t_us"));
    }
    let s = net.input.ty.shape;
    let mut ev = Vec::with_capacity(a.shape[0]);
    for (i, r) in a.data.chunks(4).enumerate() {
        let e = Event {
            x: r[0],
            y: r[1],
            p: r[2],
            t_us: r[3],
        };
        let problem = if e.x < 0 || e.x as usize >= s.w {
            Some(format!("x = {} outside [0, {})", e.x, s.w))
        } else if e.y < 0 || e.y as usize >= s.h {
            Some(format!("y = {} outside [0, {})", e.y, s.h))
        } else if e.p != 0 && e.p != 1 {
            Some(format!("polarity {} is not 0 or 1", e.p))
        } else if e.t_us < 0 {
            Some(format!("negative time {}", e.t_us))
        } else {
            None
        };
        if let Some(p) = problem {
            return Err(Error::input(path, format!("event {i} of `{name}`: {p}")));
        }
        ev.push(e);
    }
    Ok(Sample::Events(ev))
}

/// Writes an int64 `.npy` (traces, fixtures).
pub fn write_npy(path: &Path, dims: &[usize], data: &[i64]) -> Result<(), Error> {
    use npyz::WriterBuilder;
    let werr = |e: std::io::Error| Error::Write {
        path: path.to_path_buf(),
        source: e,
    };
    let f = File::create(path).map_err(werr)?;
    let shape: Vec<u64> = dims.iter().map(|&d| d as u64).collect();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&shape)
        .writer(std::io::BufWriter::new(f))
        .begin_nd()
        .map_err(werr)?;
    w.extend(data.iter().copied()).map_err(werr)?;
    w.finish().map_err(werr)
}
