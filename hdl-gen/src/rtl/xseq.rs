//! The layer-sequential engine's map layout and layer descriptors (`hdlgen_xseq`): where
//! a feature map's words live in the four banks, and the descriptor values one
//! convolution (+ threshold, + 2×2 pool, or plain sums) runs from. Not yet used by
//! generated designs; the primitive tests drive `hdlgen_xseq` with these.

/// A feature map of `h`×`w` pixels, `ch` words of SIMD bits each, from word `base` of
/// every bank: pixel (y, x) word k is in bank (y mod 2)·2 + (x mod 2) at
/// `base + (y/2)·rs + (x/2)·ch + k`, `rs = ceil(w/2)·ch`. The last word of a bank
/// (2^BA − 1) is the engine's word of ones (padding `one`): maps end below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapLayout {
    pub h: usize,
    pub w: usize,
    pub ch: usize,
    pub base: usize,
}

impl MapLayout {
    /// Words of one bank's row of pixel pairs.
    pub fn rs(&self) -> usize {
        self.w.div_ceil(2) * self.ch
    }

    /// Words the map takes in each bank.
    pub fn words(&self) -> usize {
        self.h.div_ceil(2) * self.rs()
    }

    /// (bank, word) of pixel (y, x), word k.
    pub fn at(&self, y: usize, x: usize, k: usize) -> (usize, usize) {
        (
            (y % 2) * 2 + x % 2,
            self.base + (y / 2) * self.rs() + (x / 2) * self.ch + k,
        )
    }
}

/// The descriptor of one `hdlgen_xseq` run (its `d_*` inputs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Desc {
    pub input: MapLayout,
    pub k: usize,
    /// Padding rows/columns on the top/left: output (oy, ox) reads input (oy + ky − p,
    /// ox + kx − p).
    pub p: usize,
    /// Padded taps are +1 (padding `one`), else they count 0 (padding `zero`).
    pub pad_one: bool,
    pub oh: usize,
    pub ow: usize,
    /// Output groups: C_out / PE.
    pub groups: usize,
    pub pool: bool,
    /// The written map (None: the sums leave on acc_*, no threshold, no write).
    pub output: Option<MapLayout>,
    pub wbase: usize,
    pub tbase: usize,
}

impl Desc {
    /// `d_row0` as its two BA-bit parts (parity 0, 1): base + floor(i/2)·rs mod 2^ba for
    /// the input row i of that parity among −p and −p + 1.
    pub fn row0(&self, ba: u32) -> [u64; 2] {
        origin(self.p, self.input.rs(), self.input.base, ba)
    }

    /// `d_col0`: floor(j/2)·ch mod 2^ba over the columns j.
    pub fn col0(&self, ba: u32) -> [u64; 2] {
        origin(self.p, self.input.ch, 0, ba)
    }

    /// Beats the layer issues (one a cycle).
    pub fn beats(&self) -> usize {
        self.oh.div_ceil(2) * self.ow.div_ceil(2) * self.groups * self.k * self.k * self.input.ch
    }
}

fn origin(p: usize, stride: usize, base: usize, ba: u32) -> [u64; 2] {
    let m = 1i64 << ba;
    let mut out = [0u64; 2];
    for j in 0..2 {
        let i = j as i64 - p as i64;
        out[i.rem_euclid(2) as usize] =
            (base as i64 + i.div_euclid(2) * stride as i64).rem_euclid(m) as u64;
    }
    out
}

/// Cycles from the cycle `start` is high to the cycle `done` is, of one `hdlgen_xseq`
/// run: one beat a cycle, the two issue stages, the core, the bits' and `done`'s
/// registers.
pub fn xseq_cycles(d: &Desc, simd: usize, reg_every: usize) -> usize {
    d.beats() + XSEQ_FILL + super::lib::xcore_latency(simd, reg_every)
}

/// Cycles of `hdlgen_xseq`'s pipeline besides the beats and the core: `start`'s edge,
/// S1, S2 (the core's input), the thresholded bits' register, `done`'s register.
pub const XSEQ_FILL: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_is_the_floor_of_the_first_rows() {
        // p = 1: rows −1 (odd: floor −1) and 0 (even: 0).
        assert_eq!(origin(1, 7, 0, 8), [0, 256 - 7]);
        // p = 0: rows 0 and 1, both floor 0; from base 5.
        assert_eq!(origin(0, 7, 5, 8), [5, 5]);
        // p = 2: rows −2 (even: −1), −1 (odd: −1).
        assert_eq!(origin(2, 3, 0, 8), [253, 253]);
    }

    #[test]
    fn layout_puts_a_2x2_block_in_four_banks() {
        let m = MapLayout {
            h: 5,
            w: 5,
            ch: 2,
            base: 10,
        };
        assert_eq!(m.rs(), 6);
        let banks: Vec<usize> = [(2, 2), (2, 3), (3, 2), (3, 3)]
            .iter()
            .map(|&(y, x)| m.at(y, x, 1).0)
            .collect();
        assert_eq!(banks, [0, 1, 2, 3]);
        assert_eq!(m.at(3, 3, 1), (3, 10 + 6 + 2 + 1));
    }
}
