//! The devices the flow targets, with the resources the place-and-route tools report as
//! available (checked against nextpnr's chip databases: see `tests/flow.rs`).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::error::FlowError;
use super::Family;

/// One FPGA die: what nextpnr calls it, its default package and its resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Device {
    /// nextpnr's device option without the dashes: `up5k` → `--up5k`, `85k` → `--85k`.
    pub name: &'static str,
    pub family: Family,
    /// The vendor's part name.
    pub part: &'static str,
    /// The package used when none is given (the boards this project targets).
    pub package: &'static str,
    /// Logic cells (iCE40: LUT4 + FF + carry) or LUT4s (ECP5).
    pub logic: u32,
    /// Block RAMs (iCE40 EBR `SB_RAM40_4K`, ECP5 `DP16KD`).
    pub bram: u32,
    /// Bits per block RAM (iCE40: 4 kbit; ECP5: 18 kbit with parity).
    pub bram_bits: u32,
    /// iCE40 UltraPlus single-port RAMs (`SB_SPRAM256KA`, 256 kbit each).
    pub spram: u32,
    /// Multipliers: iCE40 `SB_MAC16`, ECP5 `MULT18X18D`.
    pub dsp: u32,
}

/// Every device the flow knows, iCE40 first.
pub const DEVICES: &[Device] = &[
    Device {
        name: "up5k",
        family: Family::Ice40,
        part: "iCE40UP5K",
        package: "sg48",
        logic: 5280,
        bram: 30,
        bram_bits: 4096,
        spram: 4,
        dsp: 8,
    },
    Device {
        name: "hx8k",
        family: Family::Ice40,
        part: "iCE40HX8K",
        package: "ct256",
        logic: 7680,
        bram: 32,
        bram_bits: 4096,
        spram: 0,
        dsp: 0,
    },
    Device {
        name: "hx1k",
        family: Family::Ice40,
        part: "iCE40HX1K",
        package: "tq144",
        logic: 1280,
        bram: 16,
        bram_bits: 4096,
        spram: 0,
        dsp: 0,
    },
    Device {
        name: "25k",
        family: Family::Ecp5,
        part: "LFE5U-25F",
        package: "CABGA381",
        logic: 24288,
        bram: 56,
        bram_bits: 18432,
        spram: 0,
        dsp: 28,
    },
    Device {
        name: "45k",
        family: Family::Ecp5,
        part: "LFE5U-45F",
        package: "CABGA381",
        logic: 43848,
        bram: 108,
        bram_bits: 18432,
        spram: 0,
        dsp: 72,
    },
    Device {
        name: "85k",
        family: Family::Ecp5,
        part: "LFE5U-85F",
        package: "CABGA381",
        logic: 83640,
        bram: 208,
        bram_bits: 18432,
        spram: 0,
        dsp: 156,
    },
];

impl Device {
    /// The device called `name`: nextpnr's name (`up5k`, `85k`), the part (`iCE40UP5K`,
    /// `LFE5U-85F`) or `ecp5-85k`; case does not matter.
    pub fn by_name(name: &str) -> Option<&'static Device> {
        let n = name.trim().to_ascii_lowercase();
        let n = n
            .strip_prefix("ice40")
            .or_else(|| n.strip_prefix("ecp5-"))
            .unwrap_or(&n);
        DEVICES
            .iter()
            .find(|d| d.name == n || d.part.eq_ignore_ascii_case(name.trim()))
    }

    /// The nextpnr option selecting the device (`--up5k`).
    pub fn nextpnr_arg(&self) -> String {
        format!("--{}", self.name)
    }

    /// Total block-RAM bits.
    pub fn bram_bits_total(&self) -> u64 {
        u64::from(self.bram) * u64::from(self.bram_bits)
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.part)
    }
}

impl FromStr for Device {
    type Err = FlowError;
    fn from_str(s: &str) -> Result<Self, FlowError> {
        Device::by_name(s).copied().ok_or_else(|| {
            let known: Vec<&str> = DEVICES.iter().map(|d| d.name).collect();
            FlowError::Options(format!("unknown device {s:?}; known: {}", known.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(Device::by_name("UP5K").unwrap().part, "iCE40UP5K");
        assert_eq!(Device::by_name("iCE40UP5K").unwrap().name, "up5k");
        assert_eq!(Device::by_name("ecp5-85k").unwrap().logic, 83640);
        assert_eq!(Device::by_name("LFE5U-25F").unwrap().bram, 56);
        assert!("xc7a35t".parse::<Device>().is_err());
        assert_eq!(
            Device::by_name("85k").unwrap().bram_bits_total(),
            208 * 18432
        );
    }
}
