//! A small YAML node tree with byte spans, built from saphyr-parser events, so every
//! later check can point at the exact text it complains about.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

use super::source::{Source, Span};
use crate::error::{SpecError, SpecErrorExt};

#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

impl Node {
    /// Short description of the node's type, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Parses the whole text as exactly one YAML document.
pub fn parse(src: &Source) -> Result<Node, Box<SpecError>> {
    let text = src.text.as_str();
    // saphyr-parser reports character indices; diagnostics want byte offsets.
    let mut char_to_byte: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
    char_to_byte.push(text.len());
    let byte = |ci: usize| char_to_byte[ci.min(char_to_byte.len() - 1)];

    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        expanded: 0,
        docs: Vec::new(),
    };
    for ev in Parser::new_from_str(text) {
        let (ev, sp) = match ev {
            Ok(x) => x,
            Err(e) => {
                let at = byte(e.marker().index());
                return Err(SpecError::new(
                    src,
                    Span::new(at, at + 1),
                    format!("YAML syntax error: {}", e.info()),
                )
                .with_label("here")
                .with_help("check indentation, colons after keys and matching brackets/quotes"));
            }
        };
        let span = Span::new(byte(sp.start.index()), byte(sp.end.index()));
        b.event(src, ev, span)?;
    }
    match b.docs.len() {
        0 => Ok(Node {
            value: Value::Null,
            span: Span::new(0, 0),
        }),
        1 => Ok(b.docs.pop().unwrap_or(Node {
            value: Value::Null,
            span: Span::new(0, 0),
        })),
        _ => Err(SpecError::new(
            src,
            b.docs[1].span,
            "more than one YAML document in the file",
        )
        .with_help("a network description is a single document; remove the extra `---`")),
    }
}

enum Open {
    Seq(Vec<Node>, usize, usize), // items, start, anchor
    Map(Vec<(Node, Node)>, Option<Node>, usize, usize), // entries, pending key, start, anchor
}

struct Builder {
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    docs: Vec<Node>,
    /// Nodes copied by alias expansion so far (bounded: no "billion laughs").
    expanded: usize,
}

const MAX_EXPANDED: usize = 1 << 20;

/// Number of nodes in a tree, counting no further than `limit`.
fn count_nodes(n: &Node, limit: usize) -> usize {
    let mut c = 1;
    match &n.value {
        Value::Seq(items) => {
            for it in items {
                if c > limit {
                    break;
                }
                c += count_nodes(it, limit - c);
            }
        }
        Value::Map(entries) => {
            for (_, v) in entries {
                if c > limit {
                    break;
                }
                c += 1 + count_nodes(v, limit - c);
            }
        }
        _ => {}
    }
    c
}

impl Builder {
    fn event(&mut self, src: &Source, ev: Event<'_>, span: Span) -> Result<(), Box<SpecError>> {
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let forced_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = if style != ScalarStyle::Plain || forced_str {
                    Value::Str(text.into_owned())
                } else {
                    resolve_plain(&text)
                };
                let node = Node { value, span };
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push(src, node)
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(n) => {
                    self.expanded += count_nodes(n, MAX_EXPANDED);
                    if self.expanded > MAX_EXPANDED {
                        return Err(SpecError::new(
                            src,
                            span,
                            "aliases expand to more than a million YAML nodes",
                        )
                        .with_help(
                            "a network description needs far fewer; check for nested aliases",
                        ));
                    }
                    let mut n = n.clone();
                    n.span = span;
                    self.push(src, n)
                }
                None => Err(SpecError::new(
                    src,
                    span,
                    "alias refers to an unknown anchor",
                )),
            },
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Open::Seq(Vec::new(), span.start, anchor));
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                self.stack
                    .push(Open::Map(Vec::new(), None, span.start, anchor));
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, start, anchor) = match self.stack.pop() {
                    Some(Open::Seq(items, s, a)) => (Value::Seq(items), s, a),
                    Some(Open::Map(entries, _, s, a)) => (Value::Map(merge_keys(entries)), s, a),
                    None => return Ok(()),
                };
                let node = Node {
                    value,
                    span: Span::new(start, span.end.max(start)),
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push(src, node)
            }
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => Ok(()),
        }
    }

    fn push(&mut self, src: &Source, node: Node) -> Result<(), Box<SpecError>> {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Open::Seq(items, ..)) => items.push(node),
            Some(Open::Map(entries, pending, ..)) => match pending.take() {
                None => {
                    if let Value::Str(k) = &node.value {
                        if entries
                            .iter()
                            .any(|(ek, _)| matches!(&ek.value, Value::Str(e) if e == k))
                        {
                            return Err(SpecError::new(
                                src,
                                node.span,
                                format!("duplicate key `{k}`"),
                            )
                            .with_label("second occurrence")
                            .with_help("each key may appear once in a mapping"));
                        }
                    }
                    *pending = Some(node);
                }
                Some(key) => entries.push((key, node)),
            },
        }
        Ok(())
    }
}

/// Applies YAML merge keys (`<<: *anchor`): explicit keys win over merged ones.
fn merge_keys(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    let is_merge = |k: &Node| matches!(&k.value, Value::Str(s) if s == "<<");
    if !entries.iter().any(|(k, _)| is_merge(k)) {
        return entries;
    }
    let mut merged = Vec::new();
    let mut out = Vec::new();
    for (k, v) in entries {
        if is_merge(&k) {
            match v.value {
                Value::Map(m) => merged.extend(m),
                Value::Seq(items) => {
                    for it in items {
                        if let Value::Map(m) = it.value {
                            merged.extend(m);
                        }
                    }
                }
                _ => out.push((k, v)),
            }
        } else {
            out.push((k, v));
        }
    }
    let key = |n: &Node| match &n.value {
        Value::Str(s) => Some(s.clone()),
        _ => None,
    };
    for (k, v) in merged {
        if !out
            .iter()
            .any(|(ok, _)| key(ok).is_some() && key(ok) == key(&k))
        {
            out.push((k, v));
        }
    }
    out
}

fn resolve_plain(t: &str) -> Value {
    match t {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" => return Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let (neg, digits) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let int = if let Some(h) = digits.strip_prefix("0x") {
        i128::from_str_radix(h, 16).ok()
    } else if let Some(o) = digits.strip_prefix("0o") {
        i128::from_str_radix(o, 8).ok()
    } else if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
        digits.parse::<i128>().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Value::Int(if neg { -i } else { i });
    }
    let looks_float = t.bytes().any(|c| c.is_ascii_digit())
        && t.bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'));
    if looks_float {
        if let Ok(f) = t.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::Str(t.to_string())
}
