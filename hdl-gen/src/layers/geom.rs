//! Sliding-window geometry shared by convolutions and pooling (TensorFlow's "same":
//! out = ceil(in / stride), the odd padding pixel goes to the bottom/right).

use crate::error::SpecErrorExt;
use crate::spec::decode::{seq, size, Obj, R};
use crate::spec::yaml::Value;
use crate::tensor::Shape;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub out_h: usize,
    pub out_w: usize,
}

fn same_1d(n: usize, k: usize, s: usize) -> (usize, usize) {
    let out = n.div_ceil(s);
    let total = ((out - 1) * s + k).saturating_sub(n);
    (out, total / 2)
}

impl Window {
    pub fn same(in_h: usize, in_w: usize, kh: usize, kw: usize, stride: usize) -> Self {
        let (out_h, pad_top) = same_1d(in_h, kh, stride);
        let (out_w, pad_left) = same_1d(in_w, kw, stride);
        Window {
            kh,
            kw,
            stride,
            pad_top,
            pad_left,
            in_h,
            in_w,
            out_h,
            out_w,
        }
    }
    /// No padding; `None` when the window does not fit the input.
    pub fn valid(in_h: usize, in_w: usize, kh: usize, kw: usize, stride: usize) -> Option<Self> {
        if kh > in_h || kw > in_w {
            return None;
        }
        Some(Window {
            kh,
            kw,
            stride,
            pad_top: 0,
            pad_left: 0,
            in_h,
            in_w,
            out_h: (in_h - kh) / stride + 1,
            out_w: (in_w - kw) / stride + 1,
        })
    }
    /// Input row of output row `oy`, tap `ky`; `None` in the padding.
    #[inline]
    pub fn in_y(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy * self.stride + ky)
            .checked_sub(self.pad_top)
            .filter(|&y| y < self.in_h)
    }
    #[inline]
    pub fn in_x(&self, ox: usize, kx: usize) -> Option<usize> {
        (ox * self.stride + kx)
            .checked_sub(self.pad_left)
            .filter(|&x| x < self.in_w)
    }
    /// Window positions of one output pixel.
    pub fn taps(&self) -> usize {
        self.kh * self.kw
    }
}

/// Reads `kernel: K` or `kernel: [KH, KW]`.
pub fn kernel(o: &Obj) -> R<(usize, usize)> {
    let n = o.req(
        "kernel",
        "give the window size, e.g. `kernel: 3` or `kernel: [3, 3]`",
    )?;
    if let Value::Seq(_) = n.value {
        let items = seq(o.cx, n, "kernel")?;
        if items.len() != 2 {
            return Err(o
                .cx
                .err(n.span, "kernel: expected [KH, KW]")
                .with_help("or a single number for a square window"));
        }
        Ok((
            size(o.cx, &items[0], "kernel height")?,
            size(o.cx, &items[1], "kernel width")?,
        ))
    } else {
        let k = size(o.cx, n, "kernel")?;
        Ok((k, k))
    }
}

/// A spatial input is required for windows.
pub fn need_map(o: &Obj, input: &Shape) -> R<()> {
    if input.flat {
        return Err(o
            .cx
            .err(
                o.node.span,
                format!(
                    "{}: needs an H×W×C feature map, but its input is a vector {input}",
                    o.what()
                ),
            )
            .with_help("spatial layers must come before `flatten`"));
    }
    Ok(())
}

/// Window for a layer with `padding` none/valid or same-geometry; errors when it does not fit.
pub fn window(
    o: &Obj,
    input: &Shape,
    kh: usize,
    kw: usize,
    stride: usize,
    same: bool,
) -> R<Window> {
    if same {
        return Ok(Window::same(input.h, input.w, kh, kw, stride));
    }
    Window::valid(input.h, input.w, kh, kw, stride).ok_or_else(|| {
        o.cx.err(
            o.node.span,
            format!(
                "{}: a {kh}×{kw} window does not fit the {input} input without padding",
                o.what()
            ),
        )
        .with_label("shapes do not chain")
        .with_help("use a smaller kernel, add padding, or remove a pooling layer before this one")
    })
}
