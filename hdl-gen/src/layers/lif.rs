//! Leaky integrate-and-fire neurons (IF with `leak: none`), with the conventions of
//! snnTorch (`fire: gt`, `reset_timing: delayed`) and sinabs (`ge`, `immediate`,
//! `v_min`, multi-spike) named explicitly. The update itself is `arith::lif_step`.

use super::{Cost, LayerKind, ParseCx, State, Stats};
use crate::arith::{lif_step, signed_range, Fire, Leak, LifRule, Reset, ResetTiming};
use crate::error::SpecErrorExt;
use crate::spec::decode::{boolean, choice, int_in, Obj, R};
use crate::spec::param::{self, Kind, Want};
use crate::spec::yaml::{Node, Value};
use crate::tensor::{IntTensor, TType, Tensor, ValType};

#[derive(Clone, Debug)]
pub struct Lif {
    pub rule: LifRule,
    pub neurons: usize,
    /// Per neuron (HWC order).
    pub theta: Vec<i64>,
    pub leak: Vec<Leak>,
    pub v_min: Option<Vec<i64>>,
    /// Values given in the YAML (a per-layer scalar counts once).
    given: u64,
}

/// Membranes and last outputs of one neuron layer.
#[derive(Clone, Debug)]
pub struct Membranes {
    pub v: Vec<i64>,
    pub prev: Vec<i64>,
}

fn per_neuron(
    o: &Obj,
    node: &Node,
    input: &TType,
    what: &str,
    lo: i64,
    hi: i64,
    help: &str,
) -> R<(Vec<i64>, u64)> {
    let c = input.shape.c;
    let dims = input.shape.dims();
    let mut shapes = vec![vec![], vec![c]];
    if dims != [c] {
        shapes.push(dims);
    }
    let a = param::load(
        o.cx,
        node,
        &Want {
            what,
            shapes: &shapes,
            kind: Kind::Int { lo, hi },
            random: (lo, hi),
            range_help: help,
        },
    )?;
    let n = input.shape.len();
    let given = a.data.len() as u64;
    let v = match a.data.len() {
        1 => vec![a.data[0]; n],
        l if l == c => (0..n).map(|i| a.data[i % c]).collect(),
        _ => a.data,
    };
    Ok((v, given))
}

impl LayerKind for Lif {
    const KIND: &'static str = "lif";
    const SUMMARY: &'static str =
        "LIF/IF neurons: leak none|shift|beta, reset subtract|zero|none, fire gt|ge, reset_timing delayed|immediate, saturating v_bits";
    const KEYS: &'static [&'static str] = &[
        "name",
        "threshold",
        "leak",
        "reset",
        "fire",
        "reset_timing",
        "v_bits",
        "v_min",
        "multi_spike",
    ];

    fn parse(o: &Obj, input: &TType, cx: &ParseCx) -> R<(Self, TType)> {
        let cxy = o.cx;
        if cx.time_steps.is_none() {
            return Err(cxy
                .err(
                    o.node.span,
                    format!(
                        "{}: neurons need time steps, but the network has no `time_steps`",
                        o.what()
                    ),
                )
                .with_help(
                    "add `time_steps: T` (with `encoder:` and `decoder:`) at the top level",
                ));
        }
        let ValType::Int { hi: i_hi, .. } = input.val else {
            return Err(cxy
                .err(
                    o.node.span,
                    format!(
                        "{}: neurons integrate integer currents, but the input is binary (±1)",
                        o.what()
                    ),
                )
                .with_help("put a `dense` or `conv2d` synapse before the neurons"));
        };
        let v_bits = int_in(
            cxy,
            o.req(
                "v_bits",
                "membrane width in bits (saturating), e.g. `v_bits: 16`",
            )?,
            "v_bits",
            2,
            64,
            "the membrane is a signed register of 2 to 64 bits",
        )? as u32;
        let (vlo, vhi) = signed_range(v_bits);
        let reset = match choice(
            cxy,
            o.req(
                "reset",
                "`subtract` (θ is subtracted), `zero` (membrane set to 0) or `none`",
            )?,
            "reset",
            &["subtract", "zero", "none"],
            "",
        )? {
            "subtract" => Reset::Subtract,
            "zero" => Reset::Zero,
            _ => Reset::None,
        };
        let fire_n = o.req("fire", "`gt` (v > θ, snnTorch) or `ge` (v ≥ θ, sinabs)")?;
        let fire = if choice(
            cxy,
            fire_n,
            "fire",
            &["gt", "ge"],
            "gt = v > θ (snnTorch), ge = v ≥ θ (sinabs)",
        )? == "gt"
        {
            Fire::Gt
        } else {
            Fire::Ge
        };
        let timing = match choice(cxy, o.req("reset_timing", "`delayed` (reset by the previous step's spike, snnTorch) or `immediate` (same step, sinabs)")?, "reset_timing", &["delayed", "immediate"], "")? {
            "delayed" => ResetTiming::Delayed,
            _ => ResetTiming::Immediate,
        };
        let multi_spike = match o.get("multi_spike") {
            Some(n) => {
                let m = boolean(cxy, n, "multi_spike")?;
                if m && (fire != Fire::Ge
                    || reset != Reset::Subtract
                    || timing != ResetTiming::Immediate)
                {
                    return Err(cxy
                        .err(n.span, "multi_spike needs `fire: ge`, `reset: subtract` and `reset_timing: immediate`")
                        .with_help("sinabs' multi-spike emits floor(v/θ) spikes and subtracts them at once"));
                }
                m
            }
            None => false,
        };
        let what = format!("threshold of layer `{}`", cx.name);
        let tmax = if fire == Fire::Gt { vhi - 1 } else { vhi };
        let th_node = o.req(
            "threshold",
            "firing threshold θ (a positive integer, per layer or per neuron)",
        )?;
        let (theta, mut given) = per_neuron(o, th_node, input, &what, 1, tmax.max(1), &format!(
            "θ must be positive and reachable: with v_bits: {v_bits} the membrane saturates at {vhi}, so θ ≤ {tmax} (fire {})",
            if fire == Fire::Gt { "gt" } else { "ge" }
        ))?;
        if i_hi <= 0 {
            return Err(cxy
                .err(th_node.span, format!("{what}: can never be reached: the input current is never positive (at most {i_hi})"))
                .with_help("check the synapse's weights and bias"));
        }
        let leak_n = o.req(
            "leak",
            "`none` (IF), `{shift: K}` (v − v>>>K) or `{beta: Q, frac_bits: F}` (β = Q/2^F)",
        )?;
        let (leak, g) = parse_leak(o, leak_n, input, cx)?;
        given += g;
        let v_min = match o.get("v_min") {
            None => None,
            Some(n) => {
                let what = format!("v_min of layer `{}`", cx.name);
                let (v, g) = per_neuron(o, n, input, &what, vlo, 0, &format!("v_min is a lower clamp in [{vlo}, 0] (the v_bits: {v_bits} range, at most 0)"))?;
                given += g;
                Some(v)
            }
        };
        let n = input.shape.len();
        let max_count = if multi_spike {
            vhi / theta.iter().copied().min().unwrap_or(1).max(1)
        } else {
            1
        };
        let rule = LifRule {
            reset,
            fire,
            timing,
            v_bits,
            multi_spike,
        };
        Ok((
            Lif {
                rule,
                neurons: n,
                theta,
                leak,
                v_min,
                given,
            },
            TType {
                shape: input.shape,
                val: ValType::Int {
                    lo: 0,
                    hi: max_count,
                },
            },
        ))
    }

    fn init_state(&self) -> State {
        State::Neurons(Membranes {
            v: vec![0; self.neurons],
            prev: vec![0; self.neurons],
        })
    }

    fn eval(&self, x: &Tensor, state: &mut State, stats: &mut Stats) -> Tensor {
        let t = x.as_int();
        let State::Neurons(m) = state else {
            unreachable!("lif state is created by init_state")
        };
        let mut out = IntTensor::zeros(t.shape);
        let mut spikes = 0;
        for i in 0..self.neurons {
            let vmin = self.v_min.as_ref().map(|v| v[i]);
            let (v, s) = lif_step(
                &self.rule,
                m.v[i],
                t.data[i],
                m.prev[i],
                self.theta[i],
                self.leak[i],
                vmin,
            );
            m.v[i] = v;
            m.prev[i] = s;
            out.data[i] = s;
            spikes += s as u64;
        }
        stats.neuron_updates += self.neurons as u64;
        stats.spikes += spikes;
        Tensor::Int(out)
    }

    fn cost(&self) -> Cost {
        Cost {
            params: self.given,
            neurons: self.neurons as u64,
            ..Cost::default()
        }
    }
}

fn parse_leak(o: &Obj, n: &Node, input: &TType, cx: &ParseCx) -> R<(Vec<Leak>, u64)> {
    let count = input.shape.len();
    let help = "`none` (IF), `{shift: K}` (v − v>>>K) or `{beta: Q, frac_bits: F}` (β = Q/2^F)";
    if let Value::Str(_) = n.value {
        choice(o.cx, n, "leak", &["none"], help)?;
        return Ok((vec![Leak::None; count], 0));
    }
    let lo = Obj::new(o.cx, n, "leak", &["shift", "beta", "frac_bits"])?;
    if let Some(s) = lo.get("shift") {
        if lo.get("beta").is_some() {
            return Err(o
                .cx
                .err(n.span, "leak: give either `shift` or `beta`, not both")
                .with_help(help));
        }
        let what = format!("leak shift of layer `{}`", cx.name);
        let (k, g) = per_neuron(
            o,
            s,
            input,
            &what,
            1,
            63,
            "shift K gives v − (v >>> K); K in [1, 63]",
        )?;
        return Ok((k.into_iter().map(|k| Leak::Shift(k as u32)).collect(), g));
    }
    let b = lo.req("beta", help)?;
    let f = int_in(
        o.cx,
        lo.req(
            "frac_bits",
            "β = Q / 2^frac_bits, e.g. `{beta: 1, frac_bits: 1}` for β = 0.5",
        )?,
        "frac_bits",
        0,
        32,
        "frac_bits in [0, 32]",
    )? as u32;
    let what = format!("leak beta of layer `{}`", cx.name);
    let (q, g) = per_neuron(
        o,
        b,
        input,
        &what,
        0,
        1 << f,
        &format!("β = Q/2^{f} must lie in [0, 1], so Q in [0, {}]", 1u64 << f),
    )?;
    Ok((q.into_iter().map(|q| Leak::Beta { q, f }).collect(), g))
}
