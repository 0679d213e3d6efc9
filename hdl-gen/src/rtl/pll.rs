//! PLLs that multiply a board's oscillator to the design clock: iCE40 `SB_PLL40_CORE` and
//! ECP5 `EHXPLLL`, wrapped in a module `hdlgen_pll (clk_in, clk_out, locked)` that the board
//! top instantiates.
//!
//! The divider search follows the devices' documented ranges (iCE40 sysCLOCK PLL: PFD
//! 10–133 MHz, VCO 533–1066 MHz; ECP5 sysCLOCK: PFD ≥ 3.125 MHz, VCO 400–800 MHz) and picks
//! the output closest to the request without exceeding it, so timing closure at the request
//! implies closure at the PLL's actual output.

use super::ast::{Expr, Item, Module, Param};
use super::print;
use crate::flow::Family;

/// A PLL configuration: the dividers and the frequency they give.
#[derive(Clone, Debug, PartialEq)]
pub enum PllConfig {
    Ice40 {
        divr: u32,
        divf: u32,
        divq: u32,
        filter_range: u32,
    },
    Ecp5 {
        clki_div: u32,
        clkfb_div: u32,
        clkop_div: u32,
    },
}

/// A PLL for one input and requested output frequency.
#[derive(Clone, Debug, PartialEq)]
pub struct Pll {
    pub family: Family,
    pub in_mhz: f64,
    pub requested_mhz: f64,
    /// The frequency the dividers give (≤ requested).
    pub out_mhz: f64,
    pub config: PllConfig,
    /// iCE40: the oscillator enters on the PLL's own pad (`SB_PLL40_PAD`, e.g. iCEBreaker
    /// pin 35); otherwise it comes through a global buffer (`SB_PLL40_CORE`, e.g. HX8K J3).
    /// nextpnr rejects the wrong one, so the board table says which.
    pub ice40_pad: bool,
}

/// Why no PLL setting exists.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("no {family} PLL setting turns {in_mhz} MHz into at most {requested_mhz} MHz (the output range is {lo}–{hi} MHz)")]
pub struct PllError {
    pub family: Family,
    pub in_mhz: f64,
    pub requested_mhz: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Pll {
    /// The setting whose output is closest to `out_mhz` from below.
    pub fn new(family: Family, in_mhz: f64, out_mhz: f64) -> Result<Pll, PllError> {
        let best = match family {
            Family::Ice40 => ice40(in_mhz, out_mhz),
            Family::Ecp5 => ecp5(in_mhz, out_mhz),
        };
        let (lo, hi) = match family {
            Family::Ice40 => (16.0, 275.0),
            Family::Ecp5 => (3.125, 400.0),
        };
        best.map(|(f, config)| Pll {
            family,
            in_mhz,
            requested_mhz: out_mhz,
            out_mhz: f,
            config,
            ice40_pad: false,
        })
        .ok_or(PllError {
            family,
            in_mhz,
            requested_mhz: out_mhz,
            lo,
            hi,
        })
    }

    /// The `hdlgen_pll` module (printed Verilog).
    pub fn verilog(&self) -> String {
        let mut m = Module::new("hdlgen_pll");
        m.header = vec![format!(
            "{} PLL: {} MHz in, {:.3} MHz out (requested {} MHz).",
            self.family, self.in_mhz, self.out_mhz, self.requested_mhz
        )];
        let clk_in = m.input("clk_in", 1);
        let clk_out = m.output("clk_out", 1);
        let locked = m.output("locked", 1);
        let (module, params, conns) = match self.config {
            PllConfig::Ice40 {
                divr,
                divf,
                divq,
                filter_range,
            } => (
                if self.ice40_pad {
                    "SB_PLL40_PAD"
                } else {
                    "SB_PLL40_CORE"
                },
                vec![
                    ("FEEDBACK_PATH".into(), Param::Str("SIMPLE".into())),
                    ("DIVR".into(), bits(4, divr)),
                    ("DIVF".into(), bits(7, divf)),
                    ("DIVQ".into(), bits(3, divq)),
                    ("FILTER_RANGE".into(), bits(3, filter_range)),
                ],
                vec![
                    (
                        if self.ice40_pad {
                            "PACKAGEPIN"
                        } else {
                            "REFERENCECLK"
                        }
                        .into(),
                        clk_in,
                    ),
                    ("PLLOUTGLOBAL".into(), clk_out),
                    ("LOCK".into(), locked),
                    ("RESETB".into(), Expr::lit(1, 1)),
                    ("BYPASS".into(), Expr::lit(1, 0)),
                ],
            ),
            PllConfig::Ecp5 {
                clki_div,
                clkfb_div,
                clkop_div,
            } => (
                "EHXPLLL",
                vec![
                    ("CLKI_DIV".into(), Param::Int(clki_div.into())),
                    ("CLKFB_DIV".into(), Param::Int(clkfb_div.into())),
                    ("CLKOP_DIV".into(), Param::Int(clkop_div.into())),
                    // Zero phase: the coarse phase counts CLKOP_DIV − 1 VCO cycles.
                    ("CLKOP_CPHASE".into(), Param::Int(i64::from(clkop_div) - 1)),
                    ("CLKOP_FPHASE".into(), Param::Int(0)),
                    ("CLKOP_ENABLE".into(), Param::Str("ENABLED".into())),
                    ("FEEDBK_PATH".into(), Param::Str("CLKOP".into())),
                ],
                vec![
                    ("CLKI".into(), clk_in),
                    ("CLKFB".into(), clk_out.clone()),
                    ("CLKOP".into(), clk_out),
                    ("LOCK".into(), locked),
                    ("RST".into(), Expr::lit(1, 0)),
                    ("STDBY".into(), Expr::lit(1, 0)),
                    ("PHASESEL0".into(), Expr::lit(1, 0)),
                    ("PHASESEL1".into(), Expr::lit(1, 0)),
                    ("PHASEDIR".into(), Expr::lit(1, 0)),
                    ("PHASESTEP".into(), Expr::lit(1, 0)),
                    ("PHASELOADREG".into(), Expr::lit(1, 0)),
                    ("PLLWAKESYNC".into(), Expr::lit(1, 0)),
                    ("ENCLKOP".into(), Expr::lit(1, 0)),
                ],
            ),
        };
        m.items.push(Item::Instance {
            module: module.into(),
            name: "pll".into(),
            params,
            conns,
        });
        print::module(&m)
    }
}

fn bits(width: u32, v: u32) -> Param {
    Param::Bits {
        width,
        value: v.into(),
    }
}

/// iCE40 `SIMPLE` feedback: f_out = f_in · (DIVF+1) / ((DIVR+1) · 2^DIVQ).
fn ice40(fin: f64, want: f64) -> Option<(f64, PllConfig)> {
    if !(10.0..=133.0).contains(&fin) {
        return None;
    }
    let mut best: Option<(f64, PllConfig)> = None;
    for divr in 0..16u32 {
        let pfd = fin / f64::from(divr + 1);
        if !(10.0..=133.0).contains(&pfd) {
            continue;
        }
        for divf in 0..128u32 {
            let vco = pfd * f64::from(divf + 1);
            if !(533.0..=1066.0).contains(&vco) {
                continue;
            }
            for divq in 1..7u32 {
                let f = vco / f64::from(1u32 << divq);
                if !(16.0..=275.0).contains(&f) || f > want + 1e-9 {
                    continue;
                }
                if best.as_ref().is_none_or(|b| f > b.0 + 1e-9) {
                    let filter_range = match pfd {
                        p if p < 17.0 => 1,
                        p if p < 26.0 => 2,
                        p if p < 44.0 => 3,
                        p if p < 66.0 => 4,
                        p if p < 101.0 => 5,
                        _ => 6,
                    };
                    best = Some((
                        f,
                        PllConfig::Ice40 {
                            divr,
                            divf,
                            divq,
                            filter_range,
                        },
                    ));
                }
            }
        }
    }
    best
}

/// ECP5 with CLKOP feedback: f_out = f_in · CLKFB_DIV / CLKI_DIV, VCO = f_out · CLKOP_DIV.
fn ecp5(fin: f64, want: f64) -> Option<(f64, PllConfig)> {
    if !(8.0..=400.0).contains(&fin) {
        return None;
    }
    let mut best: Option<(f64, PllConfig)> = None;
    for clki_div in 1..=128u32 {
        let pfd = fin / f64::from(clki_div);
        if pfd < 3.125 {
            break;
        }
        for clkfb_div in 1..=80u32 {
            let f = pfd * f64::from(clkfb_div);
            if !(3.125..=400.0).contains(&f) || f > want + 1e-9 {
                continue;
            }
            // The smallest output divider that lifts the VCO into range.
            let Some(clkop_div) = (1..=128u32).find(|d| {
                let vco = f * f64::from(*d);
                (400.0..=800.0).contains(&vco)
            }) else {
                continue;
            };
            if best.as_ref().is_none_or(|b| f > b.0 + 1e-9) {
                best = Some((
                    f,
                    PllConfig::Ecp5 {
                        clki_div,
                        clkfb_div,
                        clkop_div,
                    },
                ));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(c: &PllConfig, fin: f64) -> f64 {
        match *c {
            PllConfig::Ice40 {
                divr, divf, divq, ..
            } => fin * f64::from(divf + 1) / f64::from(divr + 1) / f64::from(1u32 << divq),
            PllConfig::Ecp5 {
                clki_div,
                clkfb_div,
                ..
            } => fin * f64::from(clkfb_div) / f64::from(clki_div),
        }
    }

    #[test]
    fn ice40_settings_are_in_range_and_never_above_the_request() {
        for want in [17.0, 30.0, 48.0, 50.25, 100.0, 133.0, 200.0] {
            let p = Pll::new(Family::Ice40, 12.0, want).unwrap();
            assert!(p.out_mhz <= want + 1e-9 && p.out_mhz > want * 0.97, "{p:?}");
            assert!((out(&p.config, 12.0) - p.out_mhz).abs() < 1e-9);
            let PllConfig::Ice40 { divr, divf, .. } = p.config else {
                panic!()
            };
            let vco = 12.0 / f64::from(divr + 1) * f64::from(divf + 1);
            assert!((533.0..=1066.0).contains(&vco), "{p:?}");
        }
        // 48 MHz from 12 MHz is exact (icepll: DIVR 0, DIVF 63, DIVQ 4).
        let p = Pll::new(Family::Ice40, 12.0, 48.0).unwrap();
        assert_eq!(p.out_mhz, 48.0);
        assert!(Pll::new(Family::Ice40, 12.0, 10.0).is_err());
    }

    #[test]
    fn ecp5_settings_are_in_range_and_never_above_the_request() {
        for want in [25.0, 48.0, 100.0, 125.0, 150.0, 200.0, 333.0] {
            let p = Pll::new(Family::Ecp5, 25.0, want).unwrap();
            assert!(p.out_mhz <= want + 1e-9 && p.out_mhz > want * 0.97, "{p:?}");
            assert!((out(&p.config, 25.0) - p.out_mhz).abs() < 1e-9);
            let PllConfig::Ecp5 { clkop_div, .. } = p.config else {
                panic!()
            };
            assert!((400.0..=800.0).contains(&(p.out_mhz * f64::from(clkop_div))));
        }
        assert_eq!(Pll::new(Family::Ecp5, 25.0, 150.0).unwrap().out_mhz, 150.0);
        assert!(Pll::new(Family::Ecp5, 25.0, 1.0).is_err());
    }

    #[test]
    fn module_text() {
        let v = Pll::new(Family::Ice40, 12.0, 48.0).unwrap().verilog();
        assert!(v.contains("module hdlgen_pll"), "{v}");
        assert!(
            v.contains("SB_PLL40_CORE") && v.contains(".REFERENCECLK(clk_in)"),
            "{v}"
        );
        let mut p = Pll::new(Family::Ice40, 12.0, 48.0).unwrap();
        p.ice40_pad = true;
        let v = p.verilog();
        assert!(
            v.contains("SB_PLL40_PAD") && v.contains(".PACKAGEPIN(clk_in)"),
            "{v}"
        );
        let v = Pll::new(Family::Ecp5, 25.0, 150.0).unwrap().verilog();
        assert!(v.contains("EHXPLLL"), "{v}");
    }
}
