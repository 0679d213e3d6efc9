//! Typed reading of YAML nodes with located errors. Each layer file declares its keys
//! through [`Obj`]; unknown keys and choices get a did-you-mean.

use super::source::{Source, Span};
use super::yaml::{Node, Value};
use crate::error::{SpecError, SpecErrorExt};

pub type R<T> = Result<T, Box<SpecError>>;

/// Decoding context: the source being read.
#[derive(Clone, Copy)]
pub struct Cx<'a> {
    pub src: &'a Source,
}

impl<'a> Cx<'a> {
    pub fn err(&self, span: Span, msg: impl Into<String>) -> Box<SpecError> {
        SpecError::new(self.src, span, msg)
    }
}

/// The closest candidate to `word`, if it is plausibly a typo.
pub fn did_you_mean<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let mut best: Option<(&str, usize)> = None;
    for c in candidates {
        let d = strsim::damerau_levenshtein(&word.to_lowercase(), c);
        if best.is_none_or(|(_, bd)| d < bd) {
            best = Some((c, d));
        }
    }
    best.filter(|(c, d)| *d <= (c.len() / 3).max(2) && *d < c.len())
        .map(|(c, _)| c)
}

pub fn list_choices(c: &[&str]) -> String {
    c.iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A YAML mapping whose keys were checked against the allowed set.
pub struct Obj<'a> {
    pub cx: Cx<'a>,
    pub node: &'a Node,
    entries: &'a [(Node, Node)],
    what: &'a str,
}

impl<'a> Obj<'a> {
    /// `what` names the mapping in messages ("layer `conv1` (binary_conv2d)", "input").
    pub fn new(cx: Cx<'a>, node: &'a Node, what: &'a str, allowed: &[&str]) -> R<Self> {
        let entries: &[(Node, Node)] = match &node.value {
            Value::Map(e) => e,
            Value::Null => &[],
            _ => {
                return Err(cx
                    .err(
                        node.span,
                        format!(
                            "{what}: expected a mapping of keys, found {}",
                            node.type_name()
                        ),
                    )
                    .with_label("not a mapping")
                    .with_help(format!("allowed keys: {}", list_choices(allowed))))
            }
        };
        for (k, _) in entries {
            let Value::Str(name) = &k.value else {
                return Err(cx.err(
                    k.span,
                    format!("{what}: keys must be plain names, found {}", k.type_name()),
                ));
            };
            if !allowed.contains(&name.as_str()) {
                let mut e = cx
                    .err(k.span, format!("{what}: unknown key `{name}`"))
                    .with_label("unknown key");
                e = match did_you_mean(name, allowed) {
                    Some(s) => e.with_help(format!(
                        "did you mean `{s}`? allowed keys: {}",
                        list_choices(allowed)
                    )),
                    None => e.with_help(format!("allowed keys: {}", list_choices(allowed))),
                };
                return Err(e);
            }
        }
        Ok(Obj {
            cx,
            node,
            entries,
            what,
        })
    }

    pub fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
            .map(|(_, v)| v)
            .filter(|v| !matches!(v.value, Value::Null))
    }

    pub fn req(&self, key: &str, help: &str) -> R<&'a Node> {
        self.get(key).ok_or_else(|| {
            self.cx
                .err(
                    self.node.span,
                    format!("{}: missing key `{key}`", self.what),
                )
                .with_label(format!("`{key}` is required here"))
                .with_help(help.to_string())
        })
    }

    pub fn what(&self) -> &str {
        self.what
    }
}

pub fn int(cx: Cx, n: &Node, what: &str) -> R<i64> {
    match n.value {
        Value::Int(i) => i64::try_from(i).map_err(|_| {
            cx.err(
                n.span,
                format!("{what}: {i} does not fit in a 64-bit signed integer"),
            )
        }),
        Value::Float(f) => Err(cx
            .err(n.span, format!("{what}: expected an integer, found {f}"))
            .with_help("hdlgen's network format holds integers only; quantise first")),
        _ => Err(cx
            .err(
                n.span,
                format!("{what}: expected an integer, found {}", n.type_name()),
            )
            .with_label("not an integer")),
    }
}

/// An integer in `[lo, hi]`; `range_help` says what the range means.
pub fn int_in(cx: Cx, n: &Node, what: &str, lo: i64, hi: i64, range_help: &str) -> R<i64> {
    let v = int(cx, n, what)?;
    if v < lo || v > hi {
        return Err(cx
            .err(n.span, format!("{what}: {v} is out of range [{lo}, {hi}]"))
            .with_label("out of range")
            .with_help(range_help.to_string()));
    }
    Ok(v)
}

/// A positive size (>= 1).
pub fn size(cx: Cx, n: &Node, what: &str) -> R<usize> {
    let v = int(cx, n, what)?;
    if v < 1 {
        return Err(cx
            .err(n.span, format!("{what}: must be at least 1, found {v}"))
            .with_label("not a positive size"));
    }
    if v > (1 << 24) {
        return Err(cx
            .err(
                n.span,
                format!("{what}: {v} is implausibly large (limit {})", 1 << 24),
            )
            .with_label("too large"));
    }
    Ok(v as usize)
}

pub fn boolean(cx: Cx, n: &Node, what: &str) -> R<bool> {
    match n.value {
        Value::Bool(b) => Ok(b),
        _ => Err(cx
            .err(
                n.span,
                format!("{what}: expected true or false, found {}", n.type_name()),
            )
            .with_label("not a boolean")),
    }
}

pub fn string<'n>(cx: Cx, n: &'n Node, what: &str) -> R<&'n str> {
    match &n.value {
        Value::Str(s) => Ok(s),
        _ => Err(cx
            .err(
                n.span,
                format!("{what}: expected a string, found {}", n.type_name()),
            )
            .with_label("not a string")),
    }
}

/// One of a fixed set of words.
pub fn choice<'c>(cx: Cx, n: &Node, what: &str, choices: &[&'c str], help: &str) -> R<&'c str> {
    let s = match &n.value {
        Value::Str(s) => s.as_str(),
        Value::Bool(_) | Value::Null => {
            return Err(cx
                .err(
                    n.span,
                    format!(
                        "{what}: expected one of {}, found {}",
                        list_choices(choices),
                        n.type_name()
                    ),
                )
                .with_help(help.to_string()))
        }
        _ => "",
    };
    if let Some(c) = choices.iter().find(|c| **c == s) {
        return Ok(c);
    }
    let mut e = cx
        .err(
            n.span,
            format!(
                "{what}: expected one of {}, found `{}`",
                list_choices(choices),
                display(n)
            ),
        )
        .with_label("not allowed here");
    let h = match did_you_mean(s, choices) {
        Some(d) if !s.is_empty() => format!("did you mean `{d}`? {help}"),
        _ => help.to_string(),
    };
    if !h.is_empty() {
        e = e.with_help(h);
    }
    Err(e)
}

pub fn seq<'n>(cx: Cx, n: &'n Node, what: &str) -> R<&'n [Node]> {
    match &n.value {
        Value::Seq(items) => Ok(items),
        _ => Err(cx
            .err(
                n.span,
                format!("{what}: expected a list, found {}", n.type_name()),
            )
            .with_label("not a list")),
    }
}

/// Short text of a scalar node for messages.
pub fn display(n: &Node) -> String {
    match &n.value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Str(s) => s.clone(),
        Value::Seq(_) => "[...]".into(),
        Value::Map(_) => "{...}".into(),
    }
}

/// A node that is either a bare word (`flatten`) or a single-key mapping (`conv: {...}`):
/// returns the word, its span and the body (None for the bare word).
pub fn tagged<'n>(
    cx: Cx,
    n: &'n Node,
    what: &str,
    help: &str,
) -> R<(&'n str, Span, Option<&'n Node>)> {
    match &n.value {
        Value::Str(s) => Ok((s, n.span, None)),
        Value::Map(e) if e.len() == 1 => match &e[0].0.value {
            Value::Str(s) => Ok((s, e[0].0.span, Some(&e[0].1))),
            _ => Err(cx.err(
                e[0].0.span,
                format!("{what}: expected a name, found {}", e[0].0.type_name()),
            )),
        },
        Value::Map(e) if e.len() > 1 => Err(cx
            .err(
                e[1].0.span,
                format!(
                    "{what}: expected a single key naming the kind, found {} keys",
                    e.len()
                ),
            )
            .with_label("second key")
            .with_help(format!(
                "{help}; indent the options under the kind, e.g. `- kind: {{option: value}}`"
            ))),
        _ => Err(cx
            .err(
                n.span,
                format!(
                    "{what}: expected a kind name or `kind: {{...}}`, found {}",
                    n.type_name()
                ),
            )
            .with_help(help.to_string())),
    }
}
