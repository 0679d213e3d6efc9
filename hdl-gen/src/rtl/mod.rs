//! RTL: a small typed Verilog AST for generated structure (tops, wiring, per-layer
//! wrappers), printed in one place, plus the hand-written parameterised primitives in
//! `hdl-gen/rtl/lib/*.v` that carry the datapaths.

pub mod ast;
pub mod estimate;
pub mod gen;
pub mod lower;
pub mod params;
pub mod pll;
pub mod print;
pub mod shell;
pub mod top;
pub mod xseq;

/// Hand-written Verilog-2005 primitives, embedded so generated designs are self-contained.
pub mod lib {
    /// `hdlgen_popcount`: pipelined popcount adder tree (mirrors `arith::popcount`).
    pub const POPCOUNT: (&str, &str) = (
        "hdlgen_popcount.v",
        include_str!("../../rtl/lib/hdlgen_popcount.v"),
    );

    /// `hdlgen_mvau_bin`: folded XNOR-popcount matrix-vector unit (PE × SIMD) with
    /// run-time loadable weights (mirrors `arith::xnor_popcount_masked` / `binary_dot`).
    pub const MVAU_BIN: (&str, &str) = (
        "hdlgen_mvau_bin.v",
        include_str!("../../rtl/lib/hdlgen_mvau_bin.v"),
    );

    /// `hdlgen_swg`: sliding-window generator over a ring of K_H + 1 input rows in block
    /// RAM; emits each window once, SIMD elements per beat in (kh, kw, Cin) order, with
    /// padding data and mask bits (the geometry of `layers::geom::Window`).
    pub const SWG: (&str, &str) = ("hdlgen_swg.v", include_str!("../../rtl/lib/hdlgen_swg.v"));

    /// `hdlgen_winbuf`: whole-window generator: K_H·K_W copies of a ring of input rows, read
    /// at one address, so it emits a whole window per beat (SIMD = K_H·K_W·C, the stream
    /// `hdlgen_swg` would emit with that SIMD); one window per cycle.
    pub const WINBUF: (&str, &str) = (
        "hdlgen_winbuf.v",
        include_str!("../../rtl/lib/hdlgen_winbuf.v"),
    );

    /// `hdlgen_chunk`: splits a whole-window beat into N beats of SIMD elements (a SIMD
    /// spanning several taps, behind `hdlgen_winbuf`).
    pub const CHUNK: (&str, &str) = (
        "hdlgen_chunk.v",
        include_str!("../../rtl/lib/hdlgen_chunk.v"),
    );

    /// `hdlgen_cfgmem`: parameter memory written in 32-bit lanes over the configuration bus.
    pub const CFGMEM: (&str, &str) = (
        "hdlgen_cfgmem.v",
        include_str!("../../rtl/lib/hdlgen_cfgmem.v"),
    );

    /// `hdlgen_addtree`: pipelined signed adder tree (the integer sibling of popcount).
    pub const ADDTREE: (&str, &str) = (
        "hdlgen_addtree.v",
        include_str!("../../rtl/lib/hdlgen_addtree.v"),
    );

    /// `hdlgen_mvau`: folded matrix-vector-activation unit (XNOR-popcount or Σ±x, fused
    /// thresholds, NF replay, weights and thresholds loadable over the configuration bus).
    pub const MVAU: (&str, &str) = ("hdlgen_mvau.v", include_str!("../../rtl/lib/hdlgen_mvau.v"));

    /// `hdlgen_pool`: OR / signed-max reducer over the windows of a window generator.
    pub const POOL: (&str, &str) = ("hdlgen_pool.v", include_str!("../../rtl/lib/hdlgen_pool.v"));

    /// `hdlgen_rowpool`: non-overlapping max-pooling on the raster stream (no window
    /// generator; iCE40 plans).
    pub const ROWPOOL: (&str, &str) = (
        "hdlgen_rowpool.v",
        include_str!("../../rtl/lib/hdlgen_rowpool.v"),
    );

    /// `hdlgen_thresh`: per-channel threshold unit (folded BatchNorm + sign).
    pub const THRESH: (&str, &str) = (
        "hdlgen_thresh.v",
        include_str!("../../rtl/lib/hdlgen_thresh.v"),
    );

    /// `hdlgen_argmax`: output layer (acc·scale + bias per class, argmax).
    pub const ARGMAX: (&str, &str) = (
        "hdlgen_argmax.v",
        include_str!("../../rtl/lib/hdlgen_argmax.v"),
    );

    /// `hdlgen_xcore`: compute core of a layer-sequential engine: PIX pixels × PE outputs ×
    /// SIMD inputs of XNOR-popcount a cycle, one weight word for all PIX pixels,
    /// thresholds applied to each group's sums.
    pub const XCORE: (&str, &str) = (
        "hdlgen_xcore.v",
        include_str!("../../rtl/lib/hdlgen_xcore.v"),
    );

    /// `hdlgen_xseq`: layer sequencer of the layer-sequential engine: one binary
    /// convolution (+ threshold, + 2×2 pool, or sums) per start, between feature maps in
    /// four block-RAM banks, on one `hdlgen_xcore` of 2×2 pixels (`rtl::xseq`).
    pub const XSEQ: (&str, &str) = ("hdlgen_xseq.v", include_str!("../../rtl/lib/hdlgen_xseq.v"));

    /// `hdlgen_argmax_plain`: output layer without scale/bias (scores = sums, argmax).
    pub const ARGMAX_PLAIN: (&str, &str) = (
        "hdlgen_argmax_plain.v",
        include_str!("../../rtl/lib/hdlgen_argmax_plain.v"),
    );

    /// `hdlgen_xfront`: the layer-sequential engine's first layer: a one-channel integer
    /// image's binary convolution, threshold and 2×2 max-pool, written into the sequencer's
    /// banks.
    pub const XFRONT: (&str, &str) = (
        "hdlgen_xfront.v",
        include_str!("../../rtl/lib/hdlgen_xfront.v"),
    );

    /// `hdlgen_xnet`: a whole BNN on the layer-sequential engine (front end, sequencer,
    /// parameter memories, run control), `rtl::lower::lower_seq`.
    pub const XNET: (&str, &str) = ("hdlgen_xnet.v", include_str!("../../rtl/lib/hdlgen_xnet.v"));

    /// `hdlgen_skid`: two-entry register slice on a stream.
    pub const SKID: (&str, &str) = ("hdlgen_skid.v", include_str!("../../rtl/lib/hdlgen_skid.v"));

    /// The primitives a generated network top instantiates.
    pub const NETWORK: &[(&str, &str)] = &[
        POPCOUNT,
        ADDTREE,
        CFGMEM,
        SWG,
        WINBUF,
        CHUNK,
        MVAU,
        POOL,
        ROWPOOL,
        THRESH,
        ARGMAX,
        ARGMAX_PLAIN,
        SKID,
    ];

    /// The primitives a generated layer-sequential top instantiates.
    pub const SEQ_NETWORK: &[(&str, &str)] = &[
        POPCOUNT,
        ADDTREE,
        CFGMEM,
        SKID,
        XCORE,
        XSEQ,
        XFRONT,
        XNET,
        ARGMAX,
        ARGMAX_PLAIN,
    ];

    /// Whether Verilog `text` instantiates `module`: a line (outside `//` comments) that
    /// starts with its name followed by a space or `#` (how `print` and the primitives
    /// write instances).
    pub fn instantiates(text: &str, module: &str) -> bool {
        text.lines().any(|l| {
            let code = l.split("//").next().unwrap_or("").trim_start();
            code.strip_prefix(module)
                .is_some_and(|r| r.starts_with([' ', '#', '\t']))
        })
    }

    /// The primitives of `all` that `roots` instantiate, directly or through each other,
    /// in `all`'s order. A design gets only these: yosys numbers the cells of every
    /// module it reads, so an unused file's edits would still move a design's placement.
    pub fn used<'a>(all: &[(&'a str, &'a str)], roots: &[&str]) -> Vec<(&'a str, &'a str)> {
        let module = |file: &str| file.trim_end_matches(".v").to_string();
        let mut keep = vec![false; all.len()];
        let mut todo: Vec<&str> = roots.to_vec();
        while let Some(text) = todo.pop() {
            for (i, (file, body)) in all.iter().enumerate() {
                if !keep[i] && instantiates(text, &module(file)) {
                    keep[i] = true;
                    todo.push(body);
                }
            }
        }
        all.iter()
            .zip(keep)
            .filter_map(|(f, k)| k.then_some(*f))
            .collect()
    }

    /// Cycles from a beat entering `hdlgen_mvau_bin` to its fold's result in the output
    /// register (weight read, popcount tree, accumulate), with no stalls.
    pub fn mvau_bin_latency(simd: usize, reg_every: usize) -> usize {
        2 + popcount_latency(simd, reg_every)
    }

    /// Cycles from the cycle `hdlgen_mvau` issues a vector's last beat (the cycle its last
    /// input beat is accepted, plus (NF − 1)·SF replayed beats) to the cycle its output
    /// beat is valid, with no stalls; the same in both modes. A vector costs SF·NF cycles.
    /// (Operands twice registered, the trees, accumulate, result, activation, FIFO; with
    /// `w_pipe`, W_PIPE = 1, the operands' third register.)
    pub fn mvau_latency(simd: usize, reg_every: usize, w_pipe: bool) -> usize {
        6 + w_pipe as usize + popcount_latency(simd, reg_every)
    }

    /// PEs per operand copy of `hdlgen_mvau`'s W_PIPE stage (its parameter XG, left at
    /// this default by the generated tops).
    pub const MVAU_XG: usize = 8;

    /// Cycles from a group's last beat entering `hdlgen_xcore` to its results (out_valid).
    pub fn xcore_latency(simd: usize, reg_every: usize) -> usize {
        2 + popcount_latency(simd, reg_every)
    }

    /// Register stages of `hdlgen_addtree` (the same LATENCY as `hdlgen_popcount`).
    pub fn addtree_latency(n: usize, reg_every: usize) -> usize {
        popcount_latency(n, reg_every)
    }

    /// Register stages `hdlgen_popcount` inserts for `n` input bits (its LATENCY).
    pub fn popcount_latency(n: usize, reg_every: usize) -> usize {
        let levels = if n <= 1 {
            0
        } else {
            usize::BITS as usize - (n - 1).leading_zeros() as usize
        };
        if levels == 0 {
            return 1;
        }
        (1..=levels)
            .filter(|&k| k % reg_every == 0 || k == levels)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::lib;

    #[test]
    fn instances_are_told_from_comments_declarations_and_longer_names() {
        let text = "module hdlgen_mvau #(\n  // hdlgen_swg #( in a comment\n  hdlgen_popcount_x #(.N(2)) u (\n";
        for m in ["hdlgen_mvau", "hdlgen_swg", "hdlgen_popcount"] {
            assert!(!lib::instantiates(text, m), "{m}");
        }
        assert!(lib::instantiates(
            "  x;\n    hdlgen_cfgmem #(.W(4)) u_m (",
            "hdlgen_cfgmem"
        ));
        assert!(lib::instantiates("hdlgen_skid u_s (", "hdlgen_skid"));
    }

    #[test]
    fn a_design_gets_the_primitives_it_reaches_in_library_order() {
        let top = "module t;\n  hdlgen_mvau #(.MW(4)) u_a (\n  );\nendmodule\n";
        let names: Vec<&str> = lib::used(lib::NETWORK, &[top])
            .iter()
            .map(|f| f.0)
            .collect();
        // hdlgen_mvau reaches its trees and memories, nothing else.
        assert_eq!(
            names,
            [
                "hdlgen_popcount.v",
                "hdlgen_addtree.v",
                "hdlgen_cfgmem.v",
                "hdlgen_mvau.v"
            ]
        );
        assert!(lib::used(lib::NETWORK, &["module t; endmodule"]).is_empty());
    }
}
