//! Passes over the yosys JSON netlist between synthesis and place and route.
//!
//! [`fill_ice40_bram_init`] (iCE40): yosys's block-RAM techmap derives one template per
//! distinct memory content, and each derivation evaluates the contents' bit permutation in
//! its Verilog interpreter: 1.3–1.5 s per block RAM with its own contents, 20 of the 28 s
//! of synthesis for the digits network on a UP5K. So the synthesis script dumps the
//! contents yosys's memory mapper chose for every block (`INIT`, 4096 bits), maps the
//! blocks without contents (`synth::BRAMS_MAP`), and this pass writes `INIT_0`…`INIT_F` of
//! each block into the netlist: the same values the techmap computes, `INIT_k[i] =
//! INIT[256·k + (i & 0xF0) + reverse4(i & 0xF)]` (the bit order of yosys's
//! `ice40/brams_map.v`, the same in 0.23 and 0.70; a test checks the result against a
//! normal synthesis).
//!
//! [`fold_bram_output_registers`] (ECP5): yosys maps every memory to a `DP16KD` with its
//! output register off (`REGMODE_x = NOREG`, hard-coded in its techmap): the block's
//! clock-to-out is then 5.6–5.8 ns, most of a 150 MHz cycle. hdlgen's engines put a
//! flip-flop straight behind every block-RAM read port (the memory's output feeds nothing
//! else), so that flip-flop can move into the block: `REGMODE_x = OUTREG` with the
//! flip-flop's clock enable on `OCEx`, and the block's clock-to-out drops to about 1 ns.
//! Cycle for cycle the same: the output register samples the read latch on the port's
//! clock when OCE is high, which is what the flip-flop did with the same enable.
//!
//! A read port is folded only when every data output in use drives exactly one load, the
//! `DI` input of a `TRELLIS_FF` on the port's clock (positive edge), with no set/reset
//! (`LSR` constant 0, reset value 0, which is also the output register's power-up value),
//! and one enable shared by all of them (a net, or none); the port's own reset must be
//! unused. Anything else is left as yosys wrote it and counted.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

/// What the pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutregFold {
    /// Read ports whose flip-flops moved into the block's output register.
    pub folded: usize,
    /// Read ports left unregistered (some output had another load, or no flip-flop).
    pub left: usize,
    /// Flip-flops removed.
    pub ffs: usize,
}

/// Folds the flip-flops behind `DP16KD` read ports of the top module into the blocks'
/// output registers (see the module documentation). `Err` names what in the netlist was
/// not as yosys writes it.
pub fn fold_bram_output_registers(netlist: &mut Value) -> Result<OutregFold, String> {
    let m = top_module(netlist)?;

    // Loads of every net bit: cell inputs, and the module's output ports.
    let mut loads: HashMap<u64, Vec<(String, String)>> = HashMap::new();
    let cells = m
        .get("cells")
        .and_then(Value::as_object)
        .ok_or("top module has no `cells` object")?;
    for (name, c) in cells {
        let conns = c["connections"]
            .as_object()
            .ok_or_else(|| format!("cell {name} has no connections"))?;
        for (port, bits) in conns {
            if c["port_directions"][port] == "output" {
                continue;
            }
            for b in bits
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_u64)
            {
                loads
                    .entry(b)
                    .or_default()
                    .push((name.clone(), port.clone()));
            }
        }
    }
    if let Some(ports) = m.get("ports").and_then(Value::as_object) {
        for (pname, port) in ports {
            if port["direction"] != "input" {
                for b in port["bits"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_u64)
                {
                    loads
                        .entry(b)
                        .or_default()
                        .push((String::new(), pname.clone()));
                }
            }
        }
    }

    let cells = m
        .get_mut("cells")
        .and_then(Value::as_object_mut)
        .ok_or("top module has no `cells` object")?;
    let brams: Vec<String> = cells
        .iter()
        .filter(|(_, c)| c["type"] == "DP16KD")
        .map(|(n, _)| n.clone())
        .collect();
    let mut out = OutregFold::default();
    for b in brams {
        for x in ["A", "B"] {
            let c = &cells[&b];
            let conn = &c["connections"];
            let used: Vec<(String, u64)> = (0..18)
                .filter_map(|i| {
                    let p = format!("DO{x}{i}");
                    let bit = conn[&p][0].as_u64()?;
                    loads.contains_key(&bit).then_some((p, bit))
                })
                .collect();
            if used.is_empty() {
                continue; // a write-only port
            }
            match registers_behind(cells, &loads, c, x, &used) {
                Some((ffs, ce)) => {
                    for (p, f) in &ffs {
                        let q = cells[f]["connections"]["Q"].clone();
                        cells[&b]["connections"][p] = q;
                        cells.remove(f);
                    }
                    let c = &mut cells[&b];
                    c["parameters"][format!("REGMODE_{x}")] = "OUTREG".into();
                    c["connections"][format!("OCE{x}")] = ce;
                    out.folded += 1;
                    out.ffs += ffs.len();
                }
                None => out.left += 1,
            }
        }
    }
    Ok(out)
}

/// The flip-flop behind each used output of port `x` of block `c`, and their shared
/// enable (`["1"]` for none), when the port can be folded.
fn registers_behind(
    cells: &serde_json::Map<String, Value>,
    loads: &HashMap<u64, Vec<(String, String)>>,
    c: &Value,
    x: &str,
    used: &[(String, u64)],
) -> Option<(Vec<(String, String)>, Value)> {
    let conn = &c["connections"];
    let reset_unused = conn[format!("RST{x}")][0] == "0";
    let noreg = c["parameters"][format!("REGMODE_{x}")] == "NOREG";
    if !reset_unused || !noreg {
        return None;
    }
    let mut ce: Option<Value> = None;
    let mut ffs = vec![];
    for (p, bit) in used {
        let l = &loads[bit];
        if l.len() != 1 || l[0].1 != "DI" {
            return None;
        }
        let f = cells.get(&l[0].0).filter(|f| f["type"] == "TRELLIS_FF")?;
        let pr = &f["parameters"];
        let fc = &f["connections"];
        let this_ce = match pr["CEMUX"].as_str().map(str::trim) {
            Some("CE") => fc["CE"].clone(),
            Some("1") | None => serde_json::json!(["1"]),
            _ => return None,
        };
        let plain = fc["CLK"] == conn[format!("CLK{x}")]
            && (fc["LSR"].is_null() || fc["LSR"][0] == "0")
            && pr["REGSET"].as_str().unwrap_or("RESET") == "RESET"
            && pr["CLKMUX"].as_str().unwrap_or("CLK") == "CLK"
            && ce.as_ref().is_none_or(|c| *c == this_ce);
        if !plain {
            return None;
        }
        ce = Some(this_ce);
        ffs.push((p.clone(), l[0].0.clone()));
    }
    Some((ffs, ce?))
}

/// The module yosys marked `top`.
fn top_module(netlist: &mut Value) -> Result<&mut serde_json::Map<String, Value>, String> {
    netlist
        .get_mut("modules")
        .and_then(Value::as_object_mut)
        .ok_or("no `modules` object")?
        .values_mut()
        .find(|m| m["attributes"]["top"].is_string() || m["attributes"]["top"].is_number())
        .ok_or("no module with the `top` attribute")?
        .as_object_mut()
        .ok_or_else(|| "top module is not an object".to_string())
}

/// Contents of every `$__ICE40_RAM4K_` cell in a yosys `dump` (RTLIL text): cell name
/// (without the leading `\`) → its 4096-bit `INIT`, most significant bit first, one of
/// `0 1 x z` per bit.
pub fn parse_ice40_ram_dump(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut cell: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("cell"), Some(ty), Some(name)) => {
                if ty != "$__ICE40_RAM4K_" {
                    return Err(format!("line {}: unexpected cell type {ty}", n + 1));
                }
                cell = Some(name.strip_prefix('\\').unwrap_or(name).to_string());
            }
            (Some("end"), None, None) => cell = None,
            (Some("parameter"), Some("\\INIT"), Some(value)) => {
                let name = cell
                    .as_ref()
                    .ok_or_else(|| format!("line {}: INIT outside a cell", n + 1))?;
                let bits = init_bits(value).map_err(|m| format!("line {}: {m}", n + 1))?;
                if out.insert(name.clone(), bits).is_some() {
                    return Err(format!("line {}: cell {name} twice", n + 1));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// An RTLIL constant `4096'0101…` (or `4096'x`, yosys's form for all-undefined) as 4096
/// characters.
fn init_bits(value: &str) -> Result<String, String> {
    let (width, bits) = value
        .split_once('\'')
        .ok_or_else(|| format!("INIT {value:.40} is not a sized constant"))?;
    if width != "4096" {
        return Err(format!("INIT has {width} bits, not 4096"));
    }
    if !bits.chars().all(|c| matches!(c, '0' | '1' | 'x' | 'z')) {
        return Err(format!("INIT {value:.40} is not a bit string"));
    }
    match bits.len() {
        4096 => Ok(bits.to_string()),
        1 if bits == "x" => Ok("x".repeat(4096)),
        n => Err(format!("INIT has {n} digits, not 4096")),
    }
}

/// `INIT_0`…`INIT_F` (256 bits each, most significant first) of an `SB_RAM40_4K` holding
/// `init` (4096 bits, most significant first), in the bit order of yosys's techmap.
pub fn ice40_init_slices(init: &str) -> Vec<String> {
    let init = init.as_bytes();
    debug_assert_eq!(init.len(), 4096);
    (0..16usize)
        .map(|k| {
            let slice: Vec<u8> = (0..256usize)
                .rev()
                .map(|i| {
                    let low = i & 0xF;
                    let rev = ((low & 1) << 3) | ((low & 2) << 1) | ((low & 4) >> 1) | (low >> 3);
                    let a = 256 * k + (i & 0xF0) + rev;
                    init[4095 - a]
                })
                .collect();
            String::from_utf8(slice).unwrap_or_default()
        })
        .collect()
}

/// Writes the contents of each block RAM in `inits` ([`parse_ice40_ram_dump`]) into its
/// `SB_RAM40_4K*` cell of the top module. Every block must be there exactly once; a block
/// missing (merged or renamed by a later pass) is an error, and the caller synthesises
/// again the normal way. Returns the number of blocks written.
pub fn fill_ice40_bram_init(
    netlist: &mut Value,
    inits: &BTreeMap<String, String>,
) -> Result<usize, String> {
    let cells = top_module(netlist)?
        .get_mut("cells")
        .and_then(Value::as_object_mut)
        .ok_or("top module has no `cells` object")?;
    let mut done = 0;
    for (name, init) in inits {
        let c = cells
            .get_mut(name)
            .ok_or_else(|| format!("block RAM {name} is not in the netlist"))?;
        let ty = c["type"].as_str().unwrap_or_default();
        if !ty.starts_with("SB_RAM40_4K") {
            return Err(format!("cell {name} is a {ty}, not a block RAM"));
        }
        let params = c
            .get_mut("parameters")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| format!("block RAM {name} has no parameters"))?;
        for (k, bits) in ice40_init_slices(init).into_iter().enumerate() {
            params.insert(format!("INIT_{k:X}"), Value::String(bits));
        }
        done += 1;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A DP16KD whose port B drives two flip-flops (bits 10, 11 → 20, 21) with enable
    /// net 5, plus whatever `extra` adds.
    fn netlist(extra: impl FnOnce(&mut Value)) -> Value {
        let mut n = json!({"modules": {"top": {
        "attributes": {"top": "00000000000000000000000000000001"},
        "ports": {"q": {"direction": "output", "bits": [20, 21]}},
        "cells": {
            "ram": {"type": "DP16KD",
                "parameters": {"REGMODE_A": "NOREG", "REGMODE_B": "NOREG"},
                "port_directions": {"DOB0": "output", "DOB1": "output", "CLKB": "input",
                    "RSTB": "input", "OCEB": "input"},
                "connections": {"DOB0": [10], "DOB1": [11], "CLKB": [2], "RSTB": ["0"],
                    "OCEB": ["1"], "RSTA": ["0"], "CLKA": [2]}},
            "ff0": {"type": "TRELLIS_FF",
                "parameters": {"CEMUX": "CE", "CLKMUX": "CLK", "REGSET": "RESET"},
                "port_directions": {"CLK": "input", "CE": "input", "DI": "input",
                    "LSR": "input", "Q": "output"},
                "connections": {"CLK": [2], "CE": [5], "DI": [10], "LSR": ["0"], "Q": [20]}},
            "ff1": {"type": "TRELLIS_FF",
                "parameters": {"CEMUX": "CE", "CLKMUX": "CLK", "REGSET": "RESET"},
                "port_directions": {"CLK": "input", "CE": "input", "DI": "input",
                    "LSR": "input", "Q": "output"},
                "connections": {"CLK": [2], "CE": [5], "DI": [11], "LSR": ["0"], "Q": [21]}}
        }}}});
        extra(&mut n);
        n
    }

    fn cells(n: &Value) -> &serde_json::Map<String, Value> {
        n["modules"]["top"]["cells"].as_object().unwrap()
    }

    #[test]
    fn flip_flops_behind_a_read_port_move_into_the_block() {
        let mut n = netlist(|_| {});
        let r = fold_bram_output_registers(&mut n).unwrap();
        assert_eq!(
            r,
            OutregFold {
                folded: 1,
                left: 0,
                ffs: 2
            }
        );
        let c = cells(&n);
        assert!(!c.contains_key("ff0") && !c.contains_key("ff1"));
        let ram = &c["ram"];
        assert_eq!(ram["parameters"]["REGMODE_B"], "OUTREG");
        assert_eq!(ram["parameters"]["REGMODE_A"], "NOREG");
        assert_eq!(ram["connections"]["DOB0"], json!([20]));
        assert_eq!(ram["connections"]["DOB1"], json!([21]));
        assert_eq!(ram["connections"]["OCEB"], json!([5]));
    }

    #[test]
    fn ports_that_do_not_qualify_are_left_alone() {
        type Edit = fn(&mut Value);
        let cases: [(&str, Edit); 6] = [
            ("second load", |n| {
                n["modules"]["top"]["ports"]["tap"] = json!({"direction": "output", "bits": [10]});
            }),
            ("different enables", |n| {
                n["modules"]["top"]["cells"]["ff1"]["connections"]["CE"] = json!([6]);
            }),
            ("set/reset", |n| {
                n["modules"]["top"]["cells"]["ff0"]["connections"]["LSR"] = json!([7]);
            }),
            ("reset value 1", |n| {
                n["modules"]["top"]["cells"]["ff0"]["parameters"]["REGSET"] = json!("SET");
            }),
            ("other clock", |n| {
                n["modules"]["top"]["cells"]["ff1"]["connections"]["CLK"] = json!([3]);
            }),
            ("port reset in use", |n| {
                n["modules"]["top"]["cells"]["ram"]["connections"]["RSTB"] = json!([8]);
            }),
        ];
        for (what, edit) in cases {
            let mut n = netlist(edit);
            let before = n.clone();
            let r = fold_bram_output_registers(&mut n).unwrap();
            assert_eq!(
                r,
                OutregFold {
                    folded: 0,
                    left: 1,
                    ffs: 0
                },
                "{what}"
            );
            assert_eq!(n, before, "{what}: unchanged");
        }
    }

    #[test]
    fn no_enable_means_an_always_enabled_register() {
        let mut n = netlist(|n| {
            for f in ["ff0", "ff1"] {
                let c = &mut n["modules"]["top"]["cells"][f];
                c["parameters"]["CEMUX"] = json!("1");
                c["connections"].as_object_mut().unwrap().remove("CE");
            }
        });
        assert_eq!(fold_bram_output_registers(&mut n).unwrap().folded, 1);
        assert_eq!(cells(&n)["ram"]["connections"]["OCEB"], json!(["1"]));
    }

    #[test]
    fn malformed_netlists_are_errors() {
        assert!(fold_bram_output_registers(&mut json!({})).is_err());
        assert!(fold_bram_output_registers(&mut json!({"modules": {"m": {}}})).is_err());
    }

    #[test]
    fn ram_dumps_parse_and_fill_the_blocks() {
        let ones = format!("4096'1{}", "0".repeat(4095));
        let dump = format!(
            "\n  cell $__ICE40_RAM4K_ \\a.mem.0.0\n    parameter \\INIT {ones}\n    \
             parameter \\PORT_R_WIDTH 16\n  end\n  cell $__ICE40_RAM4K_ \\b\n    \
             parameter \\INIT 4096'x\n  end\n"
        );
        let inits = parse_ice40_ram_dump(&dump).unwrap();
        assert_eq!(inits.len(), 2);
        assert_eq!(inits["b"], "x".repeat(4096));
        // INIT bit 4095 (the top one) is address 4095 → INIT_F, bit 255 - 0 after the
        // low-nibble reversal (15 → 15): the top bit of INIT_F.
        let s = ice40_init_slices(&inits["a.mem.0.0"]);
        assert!(s[15].starts_with('1') && s[15][1..].chars().all(|c| c == '0'));
        assert!(s[..15].iter().all(|x| !x.contains('1')));
        // Bit 1 of INIT (address 1) lands at i with reverse4(i) = 1, i = 8, in INIT_0.
        let mut one = vec![b'0'; 4096];
        one[4095 - 1] = b'1';
        let s = ice40_init_slices(std::str::from_utf8(&one).unwrap());
        assert_eq!(s[0].find('1'), Some(255 - 8));

        let mut n = json!({"modules": {"top": {
            "attributes": {"top": "00000000000000000000000000000001"},
            "cells": {
                "a.mem.0.0": {"type": "SB_RAM40_4K", "parameters": {"INIT_0": "0"}},
                "b": {"type": "SB_RAM40_4KNR", "parameters": {}},
            }
        }}});
        assert_eq!(fill_ice40_bram_init(&mut n, &inits), Ok(2));
        let cells = &n["modules"]["top"]["cells"];
        let want = ice40_init_slices(&inits["a.mem.0.0"]);
        assert_eq!(
            cells["a.mem.0.0"]["parameters"]["INIT_F"].as_str(),
            Some(&*want[15])
        );
        assert_eq!(
            cells["b"]["parameters"]["INIT_3"].as_str().unwrap(),
            "x".repeat(256)
        );

        // A block the netlist lost, a block of another type, a malformed dump.
        let mut lost = json!({"modules": {"top": {
            "attributes": {"top": "00000000000000000000000000000001"},
            "cells": {"b": {"type": "SB_RAM40_4K", "parameters": {}}}
        }}});
        assert!(fill_ice40_bram_init(&mut lost, &inits)
            .unwrap_err()
            .contains("a.mem.0.0"));
        let mut other = json!({"modules": {"top": {
            "attributes": {"top": "00000000000000000000000000000001"},
            "cells": {"a.mem.0.0": {"type": "SB_LUT4", "parameters": {}},
                      "b": {"type": "SB_RAM40_4K", "parameters": {}}}
        }}});
        assert!(fill_ice40_bram_init(&mut other, &inits).is_err());
        assert!(
            parse_ice40_ram_dump("cell $__ICE40_RAM4K_ \\a\nparameter \\INIT 256'0\n").is_err()
        );
        assert!(
            parse_ice40_ram_dump("cell $__ICE40_RAM4K_ \\a\nparameter \\INIT 4096'01\n").is_err()
        );
        assert!(parse_ice40_ram_dump("cell $mem \\a\n").is_err());
        assert!(parse_ice40_ram_dump("parameter \\INIT 4096'x\n").is_err());
    }
}
