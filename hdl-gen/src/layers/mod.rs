//! Layer kinds. Each kind lives in one file and owns its schema (YAML keys and checks),
//! its reference evaluation and its cost figures, through [`LayerKind`]. The closed
//! [`Op`] enum dispatches; adding a kind without every facet does not compile.

pub mod binary_conv2d;
pub mod binary_dense;
pub mod conv2d;
pub mod dense;
pub mod flatten;
pub mod fold;
pub mod geom;
pub mod lif;
pub mod maxpool;
pub mod output;
pub mod sumpool;
pub mod threshold;

use serde::Serialize;

use crate::spec::decode::{Obj, R};
use crate::spec::source::Span;
use crate::tensor::{TType, Tensor};

/// What a layer parser knows about its place in the network.
pub struct ParseCx<'a> {
    pub name: &'a str,
    pub index: usize,
    /// `Some(T)` in a spiking network.
    pub time_steps: Option<usize>,
}

/// Static cost figures shown by `hdlgen check` (per inference for a BNN, per time step
/// for an SNN).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Cost {
    /// Stored parameters (weights, thresholds, per-neuron constants).
    pub params: u64,
    /// Multiply-accumulates of a dense evaluation (binary MACs for binary layers).
    pub macs: u64,
    /// Largest number of outputs one input element reaches (synapses).
    pub fanout: u64,
    /// Stateful neurons.
    pub neurons: u64,
}

/// Counters gathered while evaluating (same definitions the hardware will count).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Multiply-accumulates performed (dense layers: all of them).
    pub macs: u64,
    /// Synaptic operations: for each non-zero input element, the outputs it reaches.
    pub synops: u64,
    /// Neuron state updates.
    pub neuron_updates: u64,
    /// Spikes emitted (sum of spike counts) by a neuron layer.
    pub spikes: u64,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        self.macs += o.macs;
        self.synops += o.synops;
        self.neuron_updates += o.neuron_updates;
        self.spikes += o.spikes;
    }
}

/// Run-time state of a layer across time steps.
#[derive(Clone, Debug)]
pub enum State {
    None,
    Neurons(lif::Membranes),
}

/// The facets every layer kind must provide.
pub trait LayerKind: Sized {
    const KIND: &'static str;
    /// One line for `hdlgen layers`.
    const SUMMARY: &'static str;
    /// Allowed YAML keys (besides these, none).
    const KEYS: &'static [&'static str];
    /// Reads and checks the layer given its input type; returns it and its output type.
    fn parse(o: &Obj, input: &TType, cx: &ParseCx) -> R<(Self, TType)>;
    /// Evaluates one inference (BNN) or one time step (SNN).
    fn eval(&self, x: &Tensor, state: &mut State, stats: &mut Stats) -> Tensor;
    fn cost(&self) -> Cost;
    fn init_state(&self) -> State {
        State::None
    }
}

macro_rules! layer_kinds {
    ($($variant:ident => $module:ident :: $ty:ident),* $(,)?) => {
        /// A checked layer of one of the known kinds.
        #[derive(Clone, Debug)]
        pub enum Op { $($variant($module::$ty)),* }

        /// Kind names and summaries, in documentation order.
        pub const KINDS: &[(&str, &str)] = &[$(($module::$ty::KIND, $module::$ty::SUMMARY)),*];

        impl Op {
            pub fn kind(&self) -> &'static str {
                match self { $(Op::$variant(_) => $module::$ty::KIND),* }
            }
            pub fn eval(&self, x: &Tensor, state: &mut State, stats: &mut Stats) -> Tensor {
                match self { $(Op::$variant(l) => l.eval(x, state, stats)),* }
            }
            pub fn cost(&self) -> Cost {
                match self { $(Op::$variant(l) => l.cost()),* }
            }
            pub fn init_state(&self) -> State {
                match self { $(Op::$variant(l) => l.init_state()),* }
            }
            /// Parses a layer of kind `kind` (already known to be valid).
            pub fn parse(kind: &str, o: &Obj, input: &TType, cx: &ParseCx) -> Option<R<(Op, TType)>> {
                $(if kind == $module::$ty::KIND {
                    return Some($module::$ty::parse(o, input, cx).map(|(l, t)| (Op::$variant(l), t)));
                })*
                None
            }
            pub fn keys(kind: &str) -> &'static [&'static str] {
                $(if kind == $module::$ty::KIND { return $module::$ty::KEYS; })*
                &[]
            }
        }
    };
}

layer_kinds! {
    BinaryConv2d => binary_conv2d::BinaryConv2d,
    BinaryDense => binary_dense::BinaryDense,
    Threshold => threshold::Threshold,
    MaxPool => maxpool::MaxPool,
    SumPool => sumpool::SumPool,
    Flatten => flatten::Flatten,
    Output => output::Output,
    Conv2d => conv2d::Conv2d,
    Dense => dense::Dense,
    Lif => lif::Lif,
}

/// A checked layer with its place in the network.
#[derive(Clone, Debug)]
pub struct Layer {
    pub name: String,
    /// The layer's entry in the YAML (for later diagnostics, e.g. folding).
    pub span: Span,
    pub input: TType,
    pub output: TType,
    pub op: Op,
}
