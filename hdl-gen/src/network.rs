//! The checked network: input, optional time axis (encoder/decoder) and a chain of
//! layers whose shapes and value ranges have been derived and verified.

use std::path::Path;
use std::sync::Arc;

use crate::encode::{self, Decoder, Encoder};
use crate::error::{Error, SpecError, SpecErrorExt};
use crate::layers::{Layer, Op, ParseCx, KINDS};
use crate::spec::decode::{boolean, int_in, list_choices, seq, size, string, tagged, Cx, Obj, R};
use crate::spec::source::{Source, Span};
use crate::spec::yaml::{self, Node, Value};
use crate::tensor::{Shape, TType, ValType};

#[derive(Clone, Debug)]
pub struct InputSpec {
    pub ty: TType,
    /// Declared width (0 for binary and event inputs).
    pub bits: u32,
    pub signed: bool,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Temporal {
    pub steps: usize,
    pub encoder: Encoder,
    pub decoder: Decoder,
    /// What the encoder feeds the first layer.
    pub encoded: TType,
}

#[derive(Clone, Debug)]
pub struct Network {
    pub name: String,
    pub src: Arc<Source>,
    pub input: InputSpec,
    /// `Some` for a spiking network.
    pub temporal: Option<Temporal>,
    pub layers: Vec<Layer>,
}

/// Largest feature map (elements) between layers.
pub const MAX_ELEMS: usize = 1 << 26;

const TOP_KEYS: &[&str] = &[
    "version",
    "name",
    "description",
    "input",
    "time_steps",
    "encoder",
    "decoder",
    "layers",
];

impl Network {
    /// Reads and checks a network description file.
    pub fn load(path: &Path) -> Result<Network, Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::Read {
            path: path.to_path_buf(),
            source: e,
        })?;
        let name = path.display().to_string();
        let dir = path.parent().map(|p| p.to_path_buf()).unwrap_or_default();
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                return Err(Error::input(
                    path,
                    format!("not a text file: invalid UTF-8 at byte {at}; a network description is a YAML text file"),
                ));
            }
        };
        Ok(Network::parse(Source::new(name, text, dir))?)
    }

    pub fn parse(src: Source) -> Result<Network, Box<SpecError>> {
        let src = Arc::new(src);
        let root = yaml::parse(&src)?;
        parse_root(Cx { src: &src }, &src, &root)
    }

    pub fn is_snn(&self) -> bool {
        self.temporal.is_some()
    }

    /// Type of the first layer's input (after encoding, for an SNN).
    pub fn first_input(&self) -> TType {
        self.temporal.as_ref().map_or(self.input.ty, |t| t.encoded)
    }

    pub fn output(&self) -> TType {
        self.layers.last().map_or(self.first_input(), |l| l.output)
    }
}

fn parse_root(cx: Cx, src: &Arc<Source>, root: &Node) -> R<Network> {
    if matches!(root.value, Value::Null) {
        return Err(cx
            .err(root.span, "the file is empty: expected a network description")
            .with_help("a network needs at least `version: 1`, `input:` and `layers:`; see docs/network-format.md"));
    }
    let top = Obj::new(cx, root, "network", TOP_KEYS)?;
    int_in(
        cx,
        top.req("version", "write `version: 1` at the top")?,
        "version",
        1,
        1,
        "this hdlgen reads version 1 network descriptions",
    )?;
    let name = match top.get("name") {
        Some(n) => string(cx, n, "name")?.to_string(),
        None => Path::new(&cx.src.name)
            .file_stem()
            .map_or("network".into(), |s| s.to_string_lossy().into_owned()),
    };
    if let Some(d) = top.get("description") {
        string(cx, d, "description")?;
    }

    let steps = match top.get("time_steps") {
        Some(n) => Some(int_in(
            cx,
            n,
            "time_steps",
            1,
            1 << 20,
            "a spiking network runs T ≥ 1 time steps",
        )? as usize),
        None => None,
    };
    let encoder = match (top.get("encoder"), steps) {
        (Some(e), Some(_)) => Some(encode::parse_encoder(cx, e)?),
        (None, Some(_)) => Some(Encoder::Direct { sequence: false }),
        (Some(e), None) => {
            return Err(cx
                .err(
                    e.span,
                    "`encoder` belongs to a spiking network, but there is no `time_steps`",
                )
                .with_help("add `time_steps: T`, or remove `encoder` for a binary network"))
        }
        (None, None) => None,
    };
    let decoder = match (top.get("decoder"), steps) {
        (Some(d), Some(_)) => encode::parse_decoder(cx, d)?,
        (Some(d), None) => {
            return Err(cx
                .err(
                    d.span,
                    "`decoder` belongs to a spiking network, but there is no `time_steps`",
                )
                .with_help("add `time_steps: T`, or remove `decoder` for a binary network"))
        }
        _ => Decoder::Count,
    };

    let in_node = top.req(
        "input",
        "describe the input, e.g. `input: {shape: [28, 28, 1], bits: 8, signed: false}`",
    )?;
    let events = matches!(encoder, Some(Encoder::Events { .. }));
    let input = parse_input(cx, in_node, events)?;
    let temporal = match (steps, encoder) {
        (Some(steps), Some(encoder)) => {
            let encoded = encode::output_type(cx, &encoder, &input.ty, in_node.span)?;
            Some(Temporal {
                steps,
                encoder,
                decoder,
                encoded,
            })
        }
        _ => None,
    };

    let ln = top.req(
        "layers",
        "list the layers, e.g. `layers: [flatten, {binary_dense: {units: 10, weights: w.npy}}]`",
    )?;
    let items = seq(cx, ln, "layers")?;
    if items.is_empty() {
        return Err(cx
            .err(ln.span, "the network has no layers")
            .with_help("add at least one layer"));
    }
    let kinds: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
    let mut layers: Vec<Layer> = Vec::with_capacity(items.len());
    let mut ty = temporal.as_ref().map_or(input.ty, |t| t.encoded);
    for (index, item) in items.iter().enumerate() {
        let (kind, kspan, body) = tagged(
            cx,
            item,
            "layer",
            &format!("layer kinds: {}", list_choices(&kinds)),
        )?;
        if !kinds.contains(&kind) {
            let mut e = cx
                .err(kspan, format!("unknown layer kind `{kind}`"))
                .with_label("unknown kind");
            e = match crate::spec::decode::did_you_mean(kind, &kinds) {
                Some(d) => e.with_help(format!(
                    "did you mean `{d}`? layer kinds: {}",
                    list_choices(&kinds)
                )),
                None => e.with_help(format!(
                    "layer kinds: {} (`hdlgen layers` describes them)",
                    list_choices(&kinds)
                )),
            };
            return Err(e);
        }
        let empty = Node {
            value: Value::Null,
            span: kspan,
        };
        let body = body.unwrap_or(&empty);
        // The name first (unchecked), so every later message can say which layer.
        let name = match &body.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == "name"))
                .map(|(_, n)| string(cx, n, "name").map(str::to_string))
                .transpose()?,
            _ => None,
        }
        .unwrap_or_else(|| format!("{kind}{index}"));
        if let Some(prev) = layers.iter().find(|l| l.name == name) {
            let (line, _) = cx.src.line_col(prev.span.start);
            return Err(cx
                .err(body.span, format!("layer name `{name}` is used twice"))
                .with_help(format!(
                    "the first `{name}` is on line {line}; layer names must be unique"
                )));
        }
        let what = format!("layer `{name}` ({kind})");
        let o = Obj::new(cx, body, &what, Op::keys(kind))?;
        let pcx = ParseCx {
            name: &name,
            index,
            time_steps: steps,
        };
        let Some(parsed) = Op::parse(kind, &o, &ty, &pcx) else {
            unreachable!("kind names come from KINDS")
        };
        let (op, out) = parsed?;
        if out.shape.len() > MAX_ELEMS {
            return Err(cx
                .err(
                    item.span,
                    format!(
                        "{what}: its output {} has more than {MAX_ELEMS} elements",
                        out.shape
                    ),
                )
                .with_help("check the sizes; no FPGA holds a feature map this large"));
        }
        layers.push(Layer {
            name,
            span: Span::new(item.span.start, item.span.end),
            input: ty,
            output: out,
            op,
        });
        ty = out;
    }
    check_ends(cx, steps.is_some(), &layers)?;
    Ok(Network {
        name,
        src: src.clone(),
        input,
        temporal,
        layers,
    })
}

fn check_ends(cx: Cx, snn: bool, layers: &[Layer]) -> R<()> {
    let last = layers.last().map(|l| (l.op.kind(), l.span));
    for l in &layers[..layers.len() - 1] {
        if l.op.kind() == "output" {
            return Err(cx
                .err(l.span, "`output` must be the last layer")
                .with_help("move it to the end"));
        }
    }
    if let Some((kind, lspan)) = last {
        if snn && kind != "lif" {
            return Err(cx
                .err(
                    lspan,
                    format!("a spiking network must end with a `lif` layer, not `{kind}`"),
                )
                .with_help("the decoder reads the last layer's spikes"));
        }
        if snn {
            if let Some(l) = layers.iter().find(|l| l.op.kind() == "output") {
                return Err(cx.err(
                    l.span,
                    "`output` is a BNN layer; a spiking network uses `decoder:`",
                ));
            }
        }
        if !snn && kind != "output" {
            return Err(cx
                .err(lspan, format!("a binary network must end with an `output` layer, not `{kind}`"))
                .with_help("add `- output: {}` after the last binary_dense (scores = acc·scale + bias, prediction = argmax)"));
        }
    }
    Ok(())
}

fn parse_input(cx: Cx, n: &Node, events: bool) -> R<InputSpec> {
    let o = Obj::new(cx, n, "input", &["shape", "bits", "signed", "binary"])?;
    let sn = o.req(
        "shape",
        "`shape: [H, W, C]` for an image or `shape: [N]` for a vector",
    )?;
    let dims = seq(cx, sn, "shape")?
        .iter()
        .map(|d| size(cx, d, "input dimension"))
        .collect::<R<Vec<usize>>>()?;
    let elems = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if elems.is_none_or(|e| e > MAX_ELEMS) {
        return Err(cx
            .err(
                sn.span,
                format!("input shape: more than {MAX_ELEMS} elements"),
            )
            .with_help("check the dimensions; no FPGA holds an input this large"));
    }
    let shape = match dims[..] {
        [n] => Shape::vec(n),
        [h, w, c] => Shape::map(h, w, c),
        _ => {
            return Err(cx
                .err(
                    sn.span,
                    format!(
                        "input shape: expected [H, W, C] or [N], found {} dimensions",
                        dims.len()
                    ),
                )
                .with_help("a grey image is [H, W, 1]"))
        }
    };
    let binary = o
        .get("binary")
        .map(|b| boolean(cx, b, "binary"))
        .transpose()?
        .unwrap_or(false);
    let signed = o
        .get("signed")
        .map(|b| boolean(cx, b, "signed"))
        .transpose()?
        .unwrap_or(false);
    if binary {
        if let Some(b) = o.get("bits").or(o.get("signed")) {
            return Err(cx
                .err(b.span, "a binary (±1) input has no `bits` or `signed`")
                .with_help("remove it, or drop `binary: true`"));
        }
        return Ok(InputSpec {
            ty: TType {
                shape,
                val: ValType::Bits,
            },
            bits: 0,
            signed: false,
            span: n.span,
        });
    }
    if events {
        if let Some(b) = o.get("bits") {
            return Err(cx
                .err(
                    b.span,
                    "an event input has no `bits`: values are event counts",
                )
                .with_help("remove `bits`"));
        }
        return Ok(InputSpec {
            ty: TType {
                shape,
                val: ValType::Int { lo: 0, hi: 1 },
            },
            bits: 0,
            signed: false,
            span: n.span,
        });
    }
    let bn = o.req(
        "bits",
        "integer input width, e.g. `bits: 8` (or `binary: true` for ±1 inputs)",
    )?;
    let bits = int_in(cx, bn, "bits", 1, 32, "inputs are 1 to 32 bits wide")? as u32;
    let val = if signed {
        if bits < 2 {
            return Err(cx.err(bn.span, "a signed input needs at least 2 bits"));
        }
        let (lo, hi) = crate::arith::signed_range(bits);
        ValType::Int { lo, hi }
    } else {
        ValType::Int {
            lo: 0,
            hi: (1i64 << bits) - 1,
        }
    };
    Ok(InputSpec {
        ty: TType { shape, val },
        bits,
        signed,
        span: n.span,
    })
}
