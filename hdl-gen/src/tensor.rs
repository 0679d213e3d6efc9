//! Shapes, value types and the tensors that flow between layers.
//! Feature maps are HWC; a vector is a 1×1×N map with `flat` set.

use std::fmt;

use crate::arith::{get_bit, words_for};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    /// A vector (after `flatten`, or a vector input): printed as `[N]`.
    pub flat: bool,
}

impl Shape {
    pub fn map(h: usize, w: usize, c: usize) -> Self {
        Shape {
            h,
            w,
            c,
            flat: false,
        }
    }
    pub fn vec(n: usize) -> Self {
        Shape {
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
    pub fn pixels(&self) -> usize {
        self.h * self.w
    }
    /// Dimensions as an array shape (`[H, W, C]` or `[N]`).
    pub fn dims(&self) -> Vec<usize> {
        if self.flat {
            vec![self.c]
        } else {
            vec![self.h, self.w, self.c]
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.flat {
            write!(f, "[{}]", self.c)
        } else {
            write!(f, "{}×{}×{}", self.h, self.w, self.c)
        }
    }
}

/// What the values of a tensor are: binary (±1, packed) or integers within a range
/// (spikes are integers in [0, 1]). Ranges are exact bounds used to size hardware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValType {
    Bits,
    Int { lo: i64, hi: i64 },
}

impl ValType {
    pub fn spikes() -> Self {
        ValType::Int { lo: 0, hi: 1 }
    }
    /// Largest magnitude a value can have (1 for ±1).
    pub fn max_abs(&self) -> i64 {
        match *self {
            ValType::Bits => 1,
            ValType::Int { lo, hi } => lo
                .unsigned_abs()
                .max(hi.unsigned_abs())
                .min(i64::MAX as u64) as i64,
        }
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ValType::Bits => write!(f, "±1"),
            ValType::Int { lo: 0, hi: 1 } => write!(f, "spikes"),
            ValType::Int { lo, hi } => write!(f, "int[{lo}, {hi}]"),
        }
    }
}

/// Shape and value type of a layer's input or output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TType {
    pub shape: Shape,
    pub val: ValType,
}

/// Packed binary map: each pixel holds `wpp` words, channel `c` at bit `c`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitTensor {
    pub shape: Shape,
    pub wpp: usize,
    pub data: Vec<u64>,
}

impl BitTensor {
    pub fn zeros(shape: Shape) -> Self {
        let wpp = words_for(shape.c);
        BitTensor {
            shape,
            wpp,
            data: vec![0; shape.pixels() * wpp],
        }
    }
    #[inline]
    pub fn pixel(&self, y: usize, x: usize) -> &[u64] {
        let o = (y * self.shape.w + x) * self.wpp;
        &self.data[o..o + self.wpp]
    }
    #[inline]
    pub fn pixel_mut(&mut self, y: usize, x: usize) -> &mut [u64] {
        let o = (y * self.shape.w + x) * self.wpp;
        &mut self.data[o..o + self.wpp]
    }
    /// Element `i` in HWC order as ±1.
    pub fn get(&self, i: usize) -> i64 {
        let (p, c) = (i / self.shape.c, i % self.shape.c);
        if get_bit(&self.data[p * self.wpp..(p + 1) * self.wpp], c) {
            1
        } else {
            -1
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntTensor {
    pub shape: Shape,
    pub data: Vec<i64>,
}

impl IntTensor {
    pub fn zeros(shape: Shape) -> Self {
        IntTensor {
            shape,
            data: vec![0; shape.len()],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tensor {
    Bits(BitTensor),
    Int(IntTensor),
}

impl Tensor {
    pub fn shape(&self) -> Shape {
        match self {
            Tensor::Bits(b) => b.shape,
            Tensor::Int(t) => t.shape,
        }
    }
    /// Values in HWC order as integers (binary as ±1).
    pub fn to_ints(&self) -> Vec<i64> {
        match self {
            Tensor::Bits(b) => (0..b.shape.len()).map(|i| b.get(i)).collect(),
            Tensor::Int(t) => t.data.clone(),
        }
    }
    /// Builds a tensor of the given type from HWC integers (binary: ±1, sign(0) = +1).
    pub fn from_ints(ty: &TType, v: &[i64]) -> Tensor {
        match ty.val {
            ValType::Bits => {
                let mut b = BitTensor::zeros(ty.shape);
                let c = ty.shape.c;
                for (i, &x) in v.iter().enumerate() {
                    if x >= 0 {
                        let (p, ch) = (i / c, i % c);
                        b.data[p * b.wpp + ch / 64] |= 1 << (ch % 64);
                    }
                }
                Tensor::Bits(b)
            }
            ValType::Int { .. } => Tensor::Int(IntTensor {
                shape: ty.shape,
                data: v.to_vec(),
            }),
        }
    }
    pub fn as_int(&self) -> &IntTensor {
        match self {
            Tensor::Int(t) => t,
            Tensor::Bits(_) => unreachable!("validation guarantees an integer tensor here"),
        }
    }
}
