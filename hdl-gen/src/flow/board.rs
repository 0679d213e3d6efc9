//! The boards `hdlgen build --board` knows. Pin constraints live in `constraints/` (the files
//! users read and copy); this table holds what the build needs besides them and what
//! `hdlgen boards` prints. A test checks that each file constrains exactly the pins listed
//! here.

use serde::Serialize;

use super::device::Device;
use super::error::FlowError;
use super::Family;

/// One board: its FPGA, oscillator, UART and LEDs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Board {
    /// `--board` name.
    pub name: &'static str,
    pub title: &'static str,
    /// nextpnr device name (see [`Device`]).
    pub device: &'static str,
    pub package: &'static str,
    /// File name under `constraints/`.
    pub constraints: &'static str,
    #[serde(skip)]
    pub constraints_text: &'static str,
    pub clock_site: &'static str,
    pub clock_mhz: f64,
    /// iCE40 only: the oscillator enters on the PLL's pad (`SB_PLL40_PAD`).
    pub pll_pad: bool,
    /// The design clock `build` asks for by default (a PLL makes it from the oscillator).
    pub default_mhz: f64,
    /// Pin of the FPGA's UART input (host → board) and output.
    pub uart_rx: &'static str,
    pub uart_tx: &'static str,
    pub leds: &'static [&'static str],
    pub led_active_low: bool,
    /// `(name, pin)`; documented, not used by the board top.
    pub buttons: &'static [(&'static str, &'static str)],
    pub note: &'static str,
}

macro_rules! constraints {
    ($f:literal) => {
        ($f, include_str!(concat!("../../../constraints/", $f)))
    };
}

const ICEBREAKER: (&str, &str) = constraints!("icebreaker.pcf");
const HX8K: (&str, &str) = constraints!("hx8k-breakout.pcf");
const ULX3S: (&str, &str) = constraints!("ulx3s.lpf");
const ORANGECRAB: (&str, &str) = constraints!("orangecrab.lpf");

/// Every board, the default (iCEBreaker) first.
pub const BOARDS: &[Board] = &[
    Board {
        name: "icebreaker",
        title: "iCEBreaker v1.0",
        device: "up5k",
        package: "sg48",
        constraints: ICEBREAKER.0,
        constraints_text: ICEBREAKER.1,
        clock_site: "35",
        clock_mhz: 12.0,
        pll_pad: true,
        default_mhz: 48.0,
        uart_rx: "6",
        uart_tx: "9",
        leds: &["11", "37"],
        led_active_low: true,
        buttons: &[("BTN_N", "10")],
        note: "FTDI channel B is the UART",
    },
    Board {
        name: "hx8k",
        title: "Lattice iCE40-HX8K breakout",
        device: "hx8k",
        package: "ct256",
        constraints: HX8K.0,
        constraints_text: HX8K.1,
        clock_site: "J3",
        clock_mhz: 12.0,
        pll_pad: false,
        default_mhz: 100.0,
        uart_rx: "B10",
        uart_tx: "B12",
        leds: &["B5", "B4", "A2", "A1", "C5", "C4", "B3", "C3"],
        led_active_low: false,
        buttons: &[],
        note: "FTDI channel B is the UART",
    },
    Board {
        name: "ulx3s-25f",
        title: "Radiona ULX3S, LFE5U-25F",
        device: "25k",
        package: "CABGA381",
        constraints: ULX3S.0,
        constraints_text: ULX3S.1,
        clock_site: "G2",
        clock_mhz: 25.0,
        pll_pad: false,
        default_mhz: 150.0,
        uart_rx: "M1",
        uart_tx: "L4",
        leds: &["B2", "C2", "C1", "D2", "D1", "E2", "E1", "H3"],
        led_active_low: false,
        buttons: &[
            ("PWR", "D6"),
            ("FIRE1", "R1"),
            ("FIRE2", "T1"),
            ("UP", "R18"),
            ("DOWN", "V1"),
            ("LEFT", "U1"),
            ("RIGHT", "H16"),
        ],
        note: "FT231X on US1 is the UART",
    },
    Board {
        name: "ulx3s-85f",
        title: "Radiona ULX3S, LFE5U-85F",
        device: "85k",
        package: "CABGA381",
        constraints: ULX3S.0,
        constraints_text: ULX3S.1,
        clock_site: "G2",
        clock_mhz: 25.0,
        pll_pad: false,
        default_mhz: 150.0,
        uart_rx: "M1",
        uart_tx: "L4",
        leds: &["B2", "C2", "C1", "D2", "D1", "E2", "E1", "H3"],
        led_active_low: false,
        buttons: &[
            ("PWR", "D6"),
            ("FIRE1", "R1"),
            ("FIRE2", "T1"),
            ("UP", "R18"),
            ("DOWN", "V1"),
            ("LEFT", "U1"),
            ("RIGHT", "H16"),
        ],
        note: "FT231X on US1 is the UART",
    },
    Board {
        name: "orangecrab",
        title: "OrangeCrab r0.2, LFE5U-25F",
        device: "25k",
        package: "CSFBGA285",
        constraints: ORANGECRAB.0,
        constraints_text: ORANGECRAB.1,
        clock_site: "A9",
        clock_mhz: 48.0,
        pll_pad: false,
        default_mhz: 150.0,
        uart_rx: "N17",
        uart_tx: "M18",
        leds: &["K4", "M3", "J3"],
        led_active_low: true,
        buttons: &[("usr_btn", "J17")],
        note: "no UART bridge: a 3.3 V USB-serial adapter on Feather pins 0 (RX) and 1 (TX)",
    },
];

impl Board {
    pub fn by_name(name: &str) -> Option<&'static Board> {
        BOARDS
            .iter()
            .find(|b| b.name.eq_ignore_ascii_case(name.trim()))
    }

    pub fn device(&self) -> &'static Device {
        Device::by_name(self.device).expect("board table names known devices")
    }

    pub fn family(&self) -> Family {
        self.device().family
    }

    /// The error for an unknown `--board`, listing the known ones.
    pub fn unknown(name: &str) -> FlowError {
        let known: Vec<&str> = BOARDS.iter().map(|b| b.name).collect();
        FlowError::Options(format!(
            "unknown board {name:?}; known: {} (or give --device, --package and --pcf/--lpf for a custom board)",
            known.join(", ")
        ))
    }
}

/// `(port, pin)` pairs a constraint file assigns: `set_io [-opts] PORT PIN` (PCF) or
/// `LOCATE COMP "PORT" SITE "PIN";` (LPF). Comments are ignored.
pub fn constrained_pins(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let words: Vec<&str> = line
            .split_whitespace()
            .filter(|w| !w.starts_with('-'))
            .collect();
        match words.as_slice() {
            ["set_io", port, pin, ..] => out.push((port.to_string(), pin.to_string())),
            ["LOCATE", "COMP", port, "SITE", pin, ..] => out.push((
                port.trim_matches('"').to_string(),
                pin.trim_end_matches(';').trim_matches('"').to_string(),
            )),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_constraint_file_pins_exactly_the_table() {
        for b in BOARDS {
            let pins = constrained_pins(b.constraints_text);
            let mut want = vec![
                ("clk_in".to_string(), b.clock_site.to_string()),
                ("uart_rx".into(), b.uart_rx.into()),
                ("uart_tx".into(), b.uart_tx.into()),
            ];
            for (i, l) in b.leds.iter().enumerate() {
                want.push((format!("led[{i}]"), l.to_string()));
            }
            let mut got: Vec<(String, String)> = pins
                .into_iter()
                .filter(|(p, _)| !p.starts_with("btn"))
                .collect();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{}", b.name);
            assert_eq!(
                b.device().family == Family::Ice40,
                b.constraints.ends_with(".pcf")
            );
            assert!(b.default_mhz >= b.clock_mhz);
        }
        assert_eq!(BOARDS[0].name, "icebreaker");
        assert!(Board::by_name("ULX3S-85F").is_some());
        assert!(Board::unknown("de10").to_string().contains("icebreaker"));
    }
}
