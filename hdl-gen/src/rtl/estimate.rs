//! Estimates (cycles per image, LUT4, FF, block RAM) per engine, and the folding search
//! that balances compute layers under a LUT budget (the slowest engine sets throughput).
//!
//! Cycle counts are exact steady-state intervals of the RTL (tests compare them with
//! Verilator's measurements). Resource figures are a linear model in iCE40 LUT4s fitted
//! to yosys `synth_ice40` results of the primitives (see docs/bnn-hardware.md).

use serde::Serialize;

use super::lower::{compute_layers, divisors, lower, Design, Engine, Fold, Kind, Mvau, Swg};
use crate::error::Error;
use crate::layers::fold::FoldKeys;
use crate::network::Network;

/// Per-engine estimate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EngineEstimate {
    pub name: String,
    pub kind: &'static str,
    pub pe: Option<usize>,
    pub simd: Option<usize>,
    /// Steady-state cycles per image.
    pub cycles: u64,
    /// Binary MACs per image (compute engines).
    pub macs: u64,
    pub lut4: u64,
    pub ff: u64,
    /// iCE40 `SB_RAM40_4K` blocks (256 × 16 bit).
    pub bram: u64,
    /// iCE40 logic cells (see [`logic_cells`]).
    pub lc: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Estimate {
    pub engines: Vec<EngineEstimate>,
    /// Cycles between images in steady state (the slowest engine).
    pub interval: u64,
    pub lut4: u64,
    pub ff: u64,
    pub bram: u64,
    /// iCE40 logic cells, the figure the folding budget bounds.
    pub lc: u64,
    /// Ideal cycles (MACs / (pe·simd)) of the slowest compute engine over the interval.
    pub efficiency: f64,
}

fn clog2(n: usize) -> u64 {
    if n <= 1 {
        0
    } else {
        (usize::BITS - (n - 1).leading_zeros()) as u64
    }
}

/// iCE40 EBR blocks for a `width` × `depth` memory (256×16, 512×8, 1024×4, 2048×2),
/// or 0 when it stays in flip-flops (`hdlgen_cfgmem` keeps up to 4 words in registers).
pub fn ebr_blocks(width: usize, depth: usize) -> u64 {
    if depth <= 4 || width == 0 {
        return 0;
    }
    [(256, 16), (512, 8), (1024, 4), (2048, 2)]
        .iter()
        .map(|&(d, w)| (width.div_ceil(w) * depth.div_ceil(d)) as u64)
        .min()
        .expect("modes")
}

/// Window-generator write side and ring memory: (cycles to accept an image, bram, lut, ff).
fn swg_cost(s: &Swg) -> (u64, u64, u64, u64) {
    let w = &s.win;
    let ring_words = s.ring_rows() * w.in_w;
    let bram = ebr_blocks(s.c * s.dw as usize, ring_words);
    let beat = (s.simd * s.dw as usize + s.simd) as u64;
    // Coordinate counters and compares (~190 LUT4 in yosys for the examples' geometries).
    let lut = 150 + beat + 4 * clog2(ring_words);
    let ff = 55 + 2 * beat;
    ((w.in_h * w.in_w) as u64, bram, lut, ff)
}

/// MVAU alone (without its window generator): (lut, ff, bram).
fn mvau_cost(m: &Mvau) -> (u64, u64, u64) {
    let lanes = (m.pe * m.simd) as u64;
    let (pe, acc, tw) = (m.pe as u64, m.acc_w as u64, m.tw as u64 + 1);
    let out = (m.mh * m.ob as usize) as u64;
    let thr = m.thr as u64;
    // XNOR + popcount ~2.5 LUT4 per lane (DESIGN: 2.7 with loadable weights); an integer
    // lane negates and adds IN_W + 1 bits.
    let mut lane_lut = if m.int { 2 * (m.in_w as u64 + 1) } else { 5 } * lanes / 2;
    if m.logic {
        // Constant weights: the XNOR folds away (~2.1 LUT4 per lane, DESIGN §4); more
        // than one word adds a ROM of about a LUT4 per 4 words per bit.
        let words = (m.sf() * m.nf()) as u64;
        lane_lut = lane_lut * 21 / 25
            + if words > 1 {
                lanes * words.div_ceil(4)
            } else {
                0
            };
    }
    let lane_ff = if m.int { m.in_w as u64 + 1 } else { 2 } * lanes * 5 / 6;
    let small_t = thr * (m.nf() <= 4) as u64 * pe * tw * m.nf() as u64;
    let lut = lane_lut + pe * (3 * acc + thr * tw) + 3 * out + small_t / 2 + 60;
    let ff =
        lane_ff + 2 * pe * acc + 3 * out + small_t + 2 * (m.simd * m.in_w as usize) as u64 + 40;
    let mut bram = if m.logic {
        0
    } else {
        ebr_blocks(m.pe * m.simd, m.sf() * m.nf())
    };
    if m.thr {
        bram += ebr_blocks(m.pe * (m.tw as usize + 1), m.nf());
    }
    if m.nf() > 1 && m.sf() > 4 {
        bram += ebr_blocks(m.simd * (m.in_w as usize + 1), m.sf());
    }
    (lut, ff, bram)
}

/// iCE40 logic cells: a cell holds a LUT4 and a flip-flop, but most pipeline and
/// parameter registers do not pair with a LUT (fitted to nextpnr's ICESTORM_LC counts).
pub fn logic_cells(lut4: u64, ff: u64) -> u64 {
    lut4 + ff * 3 / 5
}

/// Estimates one engine.
pub fn engine(e: &Engine) -> EngineEstimate {
    let (kind, pe, simd, cycles, macs, lut4, ff, bram) = match &e.kind {
        Kind::Mvau { swg, mvau: m, .. } => {
            let (wr, sb, sl, sf_) = swg_cost(swg);
            let (ml, mf, mb) = mvau_cost(m);
            let vectors = (swg.win.out_h * swg.win.out_w) as u64;
            let reads = vectors * (m.sf() * m.nf()) as u64;
            let macs = vectors * (m.mw * m.mh) as u64;
            (
                "mvau",
                Some(m.pe),
                Some(m.simd),
                reads.max(wr),
                macs,
                ml + sl,
                mf + sf_,
                mb + sb,
            )
        }
        Kind::Pool { swg, c, ew, .. } => {
            let (wr, sb, sl, sf_) = swg_cost(swg);
            let k = (swg.win.kh * swg.win.kw) as u64;
            let reads = (swg.win.out_h * swg.win.out_w) as u64 * k;
            let width = (*c * *ew as usize) as u64;
            (
                "pool",
                None,
                None,
                reads.max(wr),
                0,
                sl + 2 * width + 10,
                sf_ + 2 * width + 30,
                sb,
            )
        }
        Kind::Thresh { c, tw, in_w, .. } => {
            let pixels = (e.out_shape.h * e.out_shape.w) as u64;
            let c = *c as u64;
            (
                "thresh",
                None,
                None,
                pixels,
                0,
                c * (*in_w as u64 + *tw as u64) + 10,
                c * (*tw as u64 + 3) + 20,
                0,
            )
        }
        Kind::Argmax { cls, in_w, sw, .. } => (
            "argmax",
            None,
            None,
            argmax_cycles(*cls, *in_w),
            0,
            4 * *sw as u64 + 200,
            8 * *sw as u64 + (*cls as u64) * (*in_w as u64) + 200,
            ebr_blocks(64, *cls),
        ),
    };
    EngineEstimate {
        name: e.name.clone(),
        kind,
        pe,
        simd,
        cycles,
        macs,
        lut4,
        ff,
        bram,
        lc: logic_cells(lut4, ff),
    }
}

/// Steady-state cycles per image of `hdlgen_argmax` (see its header comment).
pub fn argmax_cycles(cls: usize, in_w: u32) -> u64 {
    cls as u64 * in_w.max(2) as u64
}

/// Estimates a lowered design.
pub fn estimate(d: &Design) -> Estimate {
    let engines: Vec<EngineEstimate> = d.engines.iter().map(engine).collect();
    let interval = engines.iter().map(|e| e.cycles).max().unwrap_or(1).max(1);
    let ideal = engines
        .iter()
        .filter_map(|e| Some(e.macs.div_ceil((e.pe? * e.simd?) as u64)))
        .max()
        .unwrap_or(interval);
    Estimate {
        interval,
        lut4: engines.iter().map(|e| e.lut4).sum::<u64>() + 40,
        ff: engines.iter().map(|e| e.ff).sum::<u64>() + 40,
        bram: engines.iter().map(|e| e.bram).sum(),
        lc: engines.iter().map(|e| e.lc).sum::<u64>() + 80,
        efficiency: ideal as f64 / interval as f64,
        engines,
    }
}

/// Picks `pe`/`simd` for every compute layer: the smallest interval whose cheapest
/// foldings keep the whole design within `lc_budget` iCE40 logic cells, honouring
/// user-fixed keys. With no budget, the fastest.
pub fn choose_folding(net: &Network, lc_budget: Option<u64>) -> Result<Vec<Fold>, Error> {
    let layers = compute_layers(net);
    for (d, keys) in &layers {
        super::lower::check_fixed(net, d, keys)?;
    }
    // The smallest folding fixes everything the folding does not change (widths, the
    // other engines); candidates vary pe/simd of one compute engine at a time.
    let base_folds: Vec<Fold> = layers
        .iter()
        .map(|(_, k)| Fold {
            pe: k.pe.map_or(1, |p| p.value),
            simd: k.simd.map_or(1, |s| s.value),
        })
        .collect();
    let base = lower(net, &base_folds, 2)?;
    let compute: Vec<(&Swg, &Mvau)> = base
        .engines
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::Mvau { swg, mvau, .. } => Some((swg, mvau)),
            _ => None,
        })
        .collect();
    let fixed_lc: u64 = base
        .engines
        .iter()
        .filter(|e| !matches!(e.kind, Kind::Mvau { .. }))
        .map(|e| engine(e).lc)
        .sum::<u64>()
        + 80;
    let mut options: Vec<Vec<(u64, u64, Fold)>> = vec![];
    for ((d, keys), (swg, m)) in layers.iter().zip(&compute) {
        let FoldKeys { pe, simd, .. } = keys;
        let pes = pe.map_or_else(|| divisors(d.mh), |p| vec![p.value]);
        let simds = simd.map_or_else(|| divisors(d.cin), |s| vec![s.value]);
        let (_, _, swl, swf) = swg_cost(swg);
        let mut v = vec![];
        for &p in &pes {
            for &s in &simds {
                let f = Fold { pe: p, simd: s };
                let mut mm = **m;
                mm.pe = p;
                mm.simd = s;
                let (l, ff, _) = mvau_cost(&mm);
                v.push((d.cycles(f), logic_cells(l + swl, ff + swf), f));
            }
        }
        options.push(v);
    }
    // For an interval T, every layer takes its cheapest folding that meets T.
    let pick = |t: u64| -> Option<(u64, Vec<Fold>)> {
        let mut total = fixed_lc;
        let mut folds = vec![];
        for v in &options {
            let best = v
                .iter()
                .filter(|o| o.0 <= t)
                .min_by_key(|o| (o.1, o.2.pe * o.2.simd, o.2.pe))?;
            total += best.1;
            folds.push(best.2);
        }
        Some((total, folds))
    };
    let mut ts: Vec<u64> = options.iter().flatten().map(|o| o.0).collect();
    ts.sort_unstable();
    ts.dedup();
    // Feasibility is monotone in T: binary search the smallest feasible interval.
    let fits = |t: u64| pick(t).is_some_and(|(l, _)| lc_budget.is_none_or(|b| l <= b));
    let (mut lo, mut hi) = (0usize, ts.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if fits(ts[mid]) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    match ts.get(lo) {
        Some(&t) => Ok(pick(t).expect("feasible").1),
        None if ts.is_empty() => Ok(vec![]),
        None => {
            let t = *ts.last().expect("non-empty");
            let (l, _) = pick(t).expect("slowest always exists");
            Err(Error::Input {
                path: net.src.name.clone().into(),
                message: format!(
                    "no folding fits the budget of {} logic cells: the smallest needs about {l}",
                    lc_budget.unwrap_or(0)
                ),
                help: Some(
                    "raise the budget (`--luts N`), choose a larger board (`--board`), or reduce the network"
                        .into(),
                ),
            })
        }
    }
}
