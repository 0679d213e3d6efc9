//! Block-RAM contents swapped in a finished bitstream (icebram / ecpbram), so that new
//! weights need no synthesis or place and route.
//!
//! How the tools find a memory (icestorm `icebram/icebram.cc`, prjtrellis
//! `libtrellis/tools/ecpbram.cpp`): they cut the old and the new hex image into *bit
//! slices* — one bit column over 256 (icebram) or 512 (ecpbram) consecutive words — and
//! look for every old slice among the slices of every block RAM in the bitstream (iCE40:
//! in the block's configured width mode; ECP5: in all six DP16KD widths), replacing each
//! one found by the new slice. Positions in the hex file do not matter, only the set of
//! slices; a slice that occurs twice in the old image is an error. icebram also fails
//! when the slices were not all found equally often; ecpbram checks nothing.
//!
//! So this module: checks that only block-RAM images changed ([`plan`]); cuts each
//! memory's old and new contents (with the filler rows of `rtl::params::padded` and the
//! zero rows synthesis leaves past the memory) into slices; finds every changed old slice
//! in the bitstream itself (exactly once, else [`FlowError::PatchNotFound`] /
//! [`FlowError::PatchAmbiguous`]); writes the changed slices side by side as one hex image
//! (a multiple of 4 columns, topped up with unchanged slices, since a hex digit is 4 bits);
//! runs the tool; checks its output bit for bit against the expected swap
//! ([`FlowError::PatchVerify`]); replaces `top.asc` / `top.config` and packs `top.bin` /
//! `top.bit`. Any error leaves the build directory as it was, and the caller rebuilds.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::Serialize;

use super::error::{FlowError, Result};
use super::pnr::{ASC, BIN, BIT, PACK_LOG, TEXTCFG};
use super::tool::{Tool, ToolKind};
use super::{failed, prepare_dir, remove_stale, run, Family, Ran};
use crate::rtl::gen::Generated;
use crate::rtl::lower::Unit;
use crate::rtl::params::{block_rows, padded, UnitImage};
use crate::rtl::top::unit_file;

/// Files written in the build directory.
pub const FROM_HEX: &str = "patch_from.hex";
pub const TO_HEX: &str = "patch_to.hex";
pub const LOG: &str = "patch.log";

/// One memory's contents in the bitstream (`old`) and wanted (`new`), as
/// `rtl::params::encode` makes them (filler rows are added here).
#[derive(Debug, Clone)]
pub struct MemoryImages {
    /// For messages: the hex file name (`conv1_bn1_w.hex`).
    pub name: String,
    pub unit: Unit,
    pub old: UnitImage,
    pub new: UnitImage,
}

/// What [`patch`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchReport {
    pub family: Family,
    /// Memories whose contents changed.
    pub changed: Vec<String>,
    /// Bit slices (one bit column over 256/512 words) swapped.
    pub slices: usize,
    /// The patcher (`icebram unknown (/usr/bin/icebram)`), or empty when nothing changed.
    pub tool: String,
    /// `top.asc` / `top.config`, now holding the new contents.
    pub config: PathBuf,
    /// `top.bin` / `top.bit`.
    pub bitstream: PathBuf,
    /// Seconds in the patch tool, in the packer, and in all (with the checks).
    pub patch_seconds: f64,
    pub pack_seconds: f64,
    pub seconds: f64,
}

/// Which memories differ between the design a bitstream was built from (`old`) and a new
/// one, when nothing else does: same Verilog (comments aside), same memory layout, and
/// every changed image in block RAM. Returns the indices of the changed units (possibly
/// none); otherwise [`FlowError::NotPatchable`] with every reason.
pub fn plan(old: &Generated, new: &Generated) -> Result<Vec<usize>> {
    let mut reasons = vec![];
    if old.design.units != new.design.units {
        reasons.push("the parameter memories changed shape".to_string());
    }
    if old.top_name != new.top_name {
        reasons.push(format!("the top is now `{}`", new.top_name));
    }
    let images = |g: &Generated| -> Vec<String> {
        (0..g.design.units.len())
            .map(|u| unit_file(&g.design, u))
            .collect()
    };
    let (old_hex, new_hex) = (images(old), images(new));
    // design.json only documents the design; hex images are compared as images below.
    let hardware = |g: &Generated, hex: &[String]| -> BTreeMap<String, String> {
        g.files
            .iter()
            .filter(|(n, _)| n != "design.json" && !hex.contains(n))
            .map(|(n, t)| (n.clone(), strip_comments(t)))
            .collect()
    };
    let (a, b) = (hardware(old, &old_hex), hardware(new, &new_hex));
    for (n, t) in &b {
        match a.get(n) {
            None => reasons.push(format!("`{n}` is new")),
            Some(o) if o != t => reasons.push(format!("`{n}` changed")),
            _ => {}
        }
    }
    for n in a.keys().filter(|n| !b.contains_key(*n)) {
        reasons.push(format!("`{n}` is gone"));
    }
    let has_hex =
        |g: &Generated, hex: &[String]| hex.iter().all(|h| g.files.iter().any(|f| &f.0 == h));
    if !has_hex(old, &old_hex) || !has_hex(new, &new_hex) {
        reasons.push("the memories have no initial contents (generated without hex images)".into());
    }
    let mut changed = vec![];
    if reasons.is_empty() {
        for (u, unit) in new.design.units.iter().enumerate() {
            // SPRAM contents are not in the bitstream (a host writes them).
            if old.images.get(u) == new.images.get(u) || unit.spram {
                continue;
            }
            if block_rows(unit).is_some() {
                changed.push(u);
            } else {
                reasons.push(format!(
                    "`{}` changed, and its {} words are in flip-flops, not block RAM",
                    new_hex[u], unit.depth
                ));
            }
        }
    }
    if reasons.is_empty() {
        Ok(changed)
    } else {
        Err(FlowError::NotPatchable { reasons })
    }
}

/// The design a build directory was built from, as far as [`plan`] needs it: `new` with
/// every file read back from `build_dir` and the memory images parsed from its hex files
/// (the filler rows must be this generator's: a directory written by another hdlgen
/// version is [`FlowError::NotPatchable`]). A file that is missing is a reason too.
pub fn read_built(build_dir: &Path, new: &Generated) -> Result<Generated> {
    let mut old = new.clone();
    let mut reasons = vec![];
    for (name, text) in &mut old.files {
        let p = build_dir.join(&*name);
        match std::fs::read_to_string(&p) {
            Ok(t) => *text = t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                reasons.push(format!("`{name}` is not in {}", build_dir.display()))
            }
            Err(e) => return Err(FlowError::io("read", p, e)),
        }
    }
    if reasons.is_empty() {
        for (u, unit) in old.design.units.iter().enumerate() {
            let name = unit_file(&old.design, u);
            let text = &old
                .files
                .iter()
                .find(|f| f.0 == name)
                .expect("read above")
                .1;
            match parse_hex(unit, text) {
                Some(img) => old.images[u] = img,
                None => reasons.push(format!(
                    "`{name}` is not the image of a {}-word, {}-bit memory with this \
                     generator's filler rows",
                    unit.depth, unit.width
                )),
            }
        }
    }
    if reasons.is_empty() {
        Ok(old)
    } else {
        Err(FlowError::NotPatchable { reasons })
    }
}

/// A hex image as `rtl::params::hex` writes it, back as the unit's words; `None` when its
/// shape or filler differ.
fn parse_hex(unit: &Unit, text: &str) -> Option<UnitImage> {
    let digits = unit.width.div_ceil(4);
    let mut words = vec![];
    for line in text.lines() {
        let line = line.trim();
        if line.len() != digits {
            return None;
        }
        let mut w = vec![0u32; unit.lanes()];
        for (d, c) in line.chars().rev().enumerate() {
            let v = c.to_digit(16)?;
            if 4 * d + 4 > unit.width && v >> (unit.width - 4 * d) != 0 {
                return None;
            }
            w[d / 8] |= v << (4 * (d % 8));
        }
        words.push(w);
    }
    let img = UnitImage {
        words: words.iter().take(unit.depth).cloned().collect(),
    };
    (img.words.len() == unit.depth && padded(unit, &img).words == words).then_some(img)
}

/// Patches the bitstream in `build_dir` (built from `old`) to the parameters of `new`
/// after [`plan`] allowed it. Every block-RAM memory takes part (unchanged ones only to
/// top up the tool's hex image).
pub fn patch_generated(
    family: Family,
    build_dir: &Path,
    old: &Generated,
    new: &Generated,
) -> Result<PatchReport> {
    plan(old, new)?;
    let memories: Vec<MemoryImages> = new
        .design
        .units
        .iter()
        .enumerate()
        .filter(|(_, u)| block_rows(u).is_some())
        .map(|(i, u)| MemoryImages {
            name: unit_file(&new.design, i),
            unit: *u,
            old: old.images[i].clone(),
            new: new.images[i].clone(),
        })
        .collect();
    patch(family, build_dir, &memories)
}

/// Swaps the contents of `memories` in the place-and-route output of `build_dir`
/// (`top.asc` / `top.config`, replaced on success) with the patcher [`Tool::find`] picks,
/// and packs `top.bin` / `top.bit`.
pub fn patch(family: Family, build_dir: &Path, memories: &[MemoryImages]) -> Result<PatchReport> {
    patch_with(&Tool::find(ToolKind::bram(family))?, build_dir, memories)
}

/// [`patch`] with the given icebram / ecpbram.
pub fn patch_with(
    patcher: &Tool,
    build_dir: &Path,
    memories: &[MemoryImages],
) -> Result<PatchReport> {
    let start = Instant::now();
    let family = match patcher.kind() {
        ToolKind::Icebram => Family::Ice40,
        ToolKind::Ecpbram => Family::Ecp5,
        k => {
            return Err(FlowError::Options(format!(
                "patching block RAM needs icebram or ecpbram, not {k}"
            )))
        }
    };
    let dir = prepare_dir(build_dir)?;
    let geo = Geometry::of(family);
    let config_name = match family {
        Family::Ice40 => ASC,
        Family::Ecp5 => TEXTCFG,
    };
    let config = dir.join(config_name);
    let text = std::fs::read_to_string(&config).map_err(|e| FlowError::io("read", &config, e))?;
    let blocks = parse_blocks(family, &text).map_err(|m| FlowError::report(&config, m))?;

    // Every memory's slices; the changed ones are the patch, unchanged ones top it up.
    let mut changed_names = vec![];
    let mut moves: Vec<Move> = vec![];
    let mut spare: Vec<Move> = vec![];
    for m in memories {
        let (old, new) = slices_of(m, geo.rows)?;
        let chunks = old.len() / m.unit.width;
        let mut any = false;
        for (k, (from, to)) in old.into_iter().zip(new).enumerate() {
            let mv = Move {
                memory: &m.name,
                column: k / chunks,
                word: k % chunks * geo.rows,
                from,
                to,
            };
            if mv.from == mv.to {
                spare.push(mv);
            } else {
                any = true;
                moves.push(mv);
            }
        }
        if any {
            changed_names.push(m.name.clone());
        }
    }
    let bitstream = dir.join(match family {
        Family::Ice40 => BIN,
        Family::Ecp5 => BIT,
    });
    let mut report = PatchReport {
        family,
        changed: changed_names,
        slices: moves.len(),
        tool: String::new(),
        config: config.clone(),
        bitstream: bitstream.clone(),
        patch_seconds: 0.0,
        pack_seconds: 0.0,
        seconds: 0.0,
    };
    if moves.is_empty() {
        report.seconds = start.elapsed().as_secs_f64();
        return Ok(report);
    }

    // Where each old slice is: exactly one place in the whole bitstream.
    // Two equal old slices would be found at the same one place (the other copy is not
    // in the bitstream), so places must differ too.
    let index = SliceIndex::new(&geo, &blocks);
    let mut at = vec![];
    let mut taken = HashMap::new();
    for (k, mv) in moves.iter().enumerate() {
        let p = index.find_once(mv, &config)?;
        if let Some(&other) = taken.get(&p) {
            let o: &Move = &moves[other];
            return Err(FlowError::PatchAmbiguous {
                memory: mv.memory.to_string(),
                bitstream: config,
                detail: format!(
                    "bit {} of words {}.. equals bit {} of words {}.. of {}",
                    mv.column, mv.word, o.column, o.word, o.memory
                ),
            });
        }
        taken.insert(p.clone(), k);
        at.push(p);
    }
    // A hex digit is 4 bits: top the columns up with unchanged slices found exactly once.
    let need = (4 - moves.len() % 4) % 4;
    let mut topped = 0;
    for mv in spare {
        if topped == need {
            break;
        }
        if let Ok(p) = index.find_once(&mv, &config) {
            if taken.insert(p.clone(), moves.len()).is_none() {
                at.push(p);
                moves.push(mv);
                topped += 1;
            }
        }
    }
    if topped < need {
        return Err(FlowError::PatchAmbiguous {
            memory: report.changed.join(", "),
            bitstream: config,
            detail: format!(
                "{} changed bit slices need {need} more unchanged ones found exactly once \
                 (the patch image is whole hex digits wide), and there are only {topped}",
                report.slices
            ),
        });
    }

    // The expected result, then the tool's.
    let mut expected = blocks.clone();
    for (mv, (b, s)) in moves.iter().zip(&at) {
        let bits = expected.get_mut(b).expect("found in this bitstream");
        for (r, &i) in geo.slices[*s].iter().enumerate() {
            bits[i] = mv.to[r];
        }
    }
    write_hex(&dir.join(FROM_HEX), &moves, geo.rows, true)?;
    write_hex(&dir.join(TO_HEX), &moves, geo.rows, false)?;
    let out_name = format!("{config_name}.patched");
    let out = dir.join(&out_name);
    remove_stale(&dir, &[&out_name, LOG])?;
    let ran = run_patcher(patcher, &dir, config_name, &out_name)?;
    report.tool = patcher.to_string();
    report.patch_seconds = ran.seconds;
    let log = dir.join(LOG);
    let console = format!(
        "{}{}",
        String::from_utf8_lossy(&ran.output.stdout),
        String::from_utf8_lossy(&ran.output.stderr)
    );
    std::fs::write(&log, &console).map_err(|e| FlowError::io("write", &log, e))?;
    if !ran.output.status.success() {
        let _ = std::fs::remove_file(&out);
        return Err(failed(patcher, &ran, &dir, &log));
    }
    let verify = |detail: String| FlowError::PatchVerify {
        tool: patcher.to_string(),
        bitstream: out.clone(),
        detail,
    };
    let got_text = std::fs::read_to_string(&out).map_err(|e| verify(format!("no output: {e}")))?;
    let got = parse_blocks(family, &got_text).map_err(verify)?;
    if let Some(detail) = first_difference(&expected, &got) {
        let _ = std::fs::remove_file(&out);
        return Err(verify(detail));
    }
    // icebram keeps every other line as it was; ecpbram re-serialises the whole
    // configuration (and repeats a tile name of some tile groups), so for ECP5 only its
    // checked block-RAM data is put into the original text.
    let new_text = match family {
        Family::Ice40 => got_text,
        Family::Ecp5 => splice_ecp5(&text, &got),
    };
    let _ = std::fs::remove_file(&out);
    let tmp = dir.join(format!("{config_name}.tmp"));
    std::fs::write(&tmp, new_text).map_err(|e| FlowError::io("write", &tmp, e))?;
    std::fs::rename(&tmp, &config).map_err(|e| FlowError::io("replace", &config, e))?;

    report.pack_seconds = pack(family, &dir, config_name)?;
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// Bit slices of a memory, each a run of `rows` words of one bit column.
type Slices = Vec<Vec<bool>>;

/// One bit slice of a memory: its old and new contents.
struct Move<'a> {
    memory: &'a str,
    /// Bit column and first word of the slice.
    column: usize,
    word: usize,
    from: Vec<bool>,
    to: Vec<bool>,
}

/// Old and new slices of a memory: for each bit column, each run of `rows` words of the
/// padded image followed by the zero rows of the physical block up to a multiple of
/// `rows` (synthesis initialises those to zero: checked by `tests/flow_patch.rs`).
fn slices_of(m: &MemoryImages, rows: usize) -> Result<(Slices, Slices)> {
    let mismatch = |detail: String| FlowError::ImageMismatch {
        memory: m.name.clone(),
        detail,
    };
    let Some(declared) = block_rows(&m.unit) else {
        return Err(FlowError::NotPatchable {
            reasons: vec![format!(
                "`{}` has {} words, kept in flip-flops, not block RAM",
                m.name, m.unit.depth
            )],
        });
    };
    for (what, img) in [("old", &m.old), ("new", &m.new)] {
        if img.words.len() != m.unit.depth || img.words.iter().any(|w| w.len() != m.unit.lanes()) {
            return Err(mismatch(format!(
                "the {what} image is not {} words of {} bits",
                m.unit.depth, m.unit.width
            )));
        }
    }
    let total = declared.next_multiple_of(rows);
    let cut = |img: &UnitImage| -> Slices {
        let p = padded(&m.unit, img);
        let mut out = vec![];
        for col in 0..m.unit.width {
            for chunk in 0..total / rows {
                out.push(
                    (chunk * rows..(chunk + 1) * rows)
                        .map(|r| r < p.words.len() && p.get(r, col))
                        .collect(),
                );
            }
        }
        out
    };
    Ok((cut(&m.old), cut(&m.new)))
}

/// Where a family's tools look for slices: `slices[s][r]` is the bit index (in a block's
/// flat bit vector) of row `r` of candidate slice `s`, over every width mode.
struct Geometry {
    rows: usize,
    slices: Vec<Vec<usize>>,
}

impl Geometry {
    fn of(family: Family) -> Self {
        let mut slices = vec![];
        match family {
            // SB_RAM40_4K: 4096 bits as 256 rows of 16; in mode m (16 >> m bits wide) a
            // word of P = 2^m times more rows interleaves its bits across P physical
            // columns (bit-reversed order), so a 256-word slice covers 256 / P rows
            // and P adjacent columns of one quarter/half/whole block.
            Family::Ice40 => {
                for m in 0..4u32 {
                    let p = 1usize << m;
                    for base in (0..4096).step_by(4096 / p) {
                        for col in (0..16).step_by(p) {
                            slices.push(
                                (0..256)
                                    .map(|k| {
                                        let (row, sub) = (k / p, k % p);
                                        base + col + row * 16 + reverse_bits(sub, m)
                                    })
                                    .collect(),
                            );
                        }
                    }
                }
                Geometry { rows: 256, slices }
            }
            // DP16KD: 2048 9-bit values (flat index value · 9 + bit). Widths 1, 2, 4 use 8
            // bits of each value (no parity), widths 9, 18, 36 all 9. Slice j of width w:
            // word k of column j mod w in the (j div w)-th run of 512 words.
            Family::Ecp5 => {
                for (w, nw, count) in [
                    (1, 8, 32),
                    (2, 8, 32),
                    (4, 8, 32),
                    (9, 9, 36),
                    (18, 9, 36),
                    (36, 9, 36),
                ] {
                    for j in 0..count {
                        slices.push(
                            (0..512)
                                .map(|k| {
                                    let bn = k * w + j % w + (j / w) * 512 * w;
                                    (bn / nw) * 9 + bn % nw
                                })
                                .collect(),
                        );
                    }
                }
                Geometry { rows: 512, slices }
            }
        }
    }
}

fn reverse_bits(v: usize, bits: u32) -> usize {
    (0..bits).fold(0, |r, b| r | ((v >> b) & 1) << (bits - 1 - b))
}

/// Every candidate slice of every block, by contents.
struct SliceIndex {
    at: HashMap<Vec<bool>, Vec<(String, usize)>>,
}

impl SliceIndex {
    fn new(geo: &Geometry, blocks: &BTreeMap<String, Vec<bool>>) -> Self {
        let mut at: HashMap<Vec<bool>, Vec<(String, usize)>> = HashMap::new();
        for (name, bits) in blocks {
            for (s, idx) in geo.slices.iter().enumerate() {
                let key: Vec<bool> = idx.iter().map(|&i| bits[i]).collect();
                at.entry(key).or_default().push((name.clone(), s));
            }
        }
        SliceIndex { at }
    }

    /// The one place of `mv`'s old contents.
    fn find_once(&self, mv: &Move, bitstream: &Path) -> Result<(String, usize)> {
        let what = |n: usize| {
            format!(
                "bit {} of words {}..{} occurs {n} times among the block RAMs' bit slices",
                mv.column,
                mv.word,
                mv.word + mv.from.len()
            )
        };
        match self.at.get(&mv.from).map(Vec::as_slice) {
            None | Some([]) => Err(FlowError::PatchNotFound {
                memory: mv.memory.to_string(),
                bitstream: bitstream.to_path_buf(),
                detail: what(0),
            }),
            Some([one]) => Ok(one.clone()),
            Some(many) => Err(FlowError::PatchAmbiguous {
                memory: mv.memory.to_string(),
                bitstream: bitstream.to_path_buf(),
                detail: what(many.len()),
            }),
        }
    }
}

/// Block-RAM contents of an iCE40 `.asc` (`.ram_data X Y` and 16 lines of 64 hex digits,
/// line l = bits 256·l.. most significant digit first) or an ECP5 textual configuration
/// (`.bram_init N` and 2048 9-bit values as 3-digit hex, bit b of value v = flat bit
/// 9·v + b), keyed by the block's name.
fn parse_blocks(family: Family, text: &str) -> Result<BTreeMap<String, Vec<bool>>, String> {
    let mut blocks = BTreeMap::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((n, line)) = lines.next() {
        match family {
            Family::Ice40 => {
                let Some(pos) = line.strip_prefix(".ram_data ") else {
                    continue;
                };
                let mut bits = vec![false; 4096];
                for l in 0..16 {
                    let (m, data) = lines
                        .next()
                        .ok_or(format!("line {}: `.ram_data` ends early", n + 1))?;
                    let digits: Vec<u32> =
                        data.trim().chars().filter_map(|c| c.to_digit(16)).collect();
                    if digits.len() != 64 || data.trim().len() != 64 {
                        return Err(format!("line {}: not 64 hex digits", m + 1));
                    }
                    for (p, d) in digits.iter().enumerate() {
                        for b in 0..4 {
                            bits[256 * l + 4 * (63 - p) + b] = d >> b & 1 == 1;
                        }
                    }
                }
                blocks.insert(pos.trim().to_string(), bits);
            }
            Family::Ecp5 => {
                let Some(id) = line.strip_prefix(".bram_init ") else {
                    continue;
                };
                let mut values = vec![];
                while let Some((m, data)) = lines.peek() {
                    if data.trim().is_empty() || data.starts_with('.') {
                        break;
                    }
                    for v in data.split_whitespace() {
                        values.push(
                            u16::from_str_radix(v, 16)
                                .map_err(|_| format!("line {}: bad value {v:?}", m + 1))?,
                        );
                    }
                    lines.next();
                }
                if values.len() != 2048 {
                    return Err(format!(
                        "line {}: {} values in `.bram_init`, not 2048",
                        n + 1,
                        values.len()
                    ));
                }
                let mut bits = vec![false; 2048 * 9];
                for (v, x) in values.iter().enumerate() {
                    for b in 0..9 {
                        bits[v * 9 + b] = x >> b & 1 == 1;
                    }
                }
                blocks.insert(id.trim().to_string(), bits);
            }
        }
    }
    Ok(blocks)
}

/// The original ECP5 configuration with the `.bram_init` data of `blocks` (written as
/// prjtrellis writes it: 3-digit values, 8 per line).
fn splice_ecp5(text: &str, blocks: &BTreeMap<String, Vec<bool>>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        out.push_str(line);
        out.push('\n');
        let Some(bits) = line
            .strip_prefix(".bram_init ")
            .and_then(|id| blocks.get(id.trim()))
        else {
            continue;
        };
        while lines
            .peek()
            .is_some_and(|l| !l.trim().is_empty() && !l.starts_with('.'))
        {
            lines.next();
        }
        for v in 0..2048 {
            let x = (0..9).fold(0u16, |x, b| x | u16::from(bits[v * 9 + b]) << b);
            out.push_str(&format!("{x:03x}"));
            out.push(if v % 8 == 7 { '\n' } else { ' ' });
        }
    }
    out
}

fn first_difference(
    want: &BTreeMap<String, Vec<bool>>,
    got: &BTreeMap<String, Vec<bool>>,
) -> Option<String> {
    if want.len() != got.len() || want.keys().ne(got.keys()) {
        return Some(format!(
            "{} block RAMs in the output, {} expected",
            got.len(),
            want.len()
        ));
    }
    want.iter().zip(got).find_map(|((name, w), (_, g))| {
        let bit = w.iter().zip(g).position(|(a, b)| a != b)?;
        Some(format!(
            "block {name} differs from the expected swap at bit {bit}"
        ))
    })
}

/// The moves' old (`old`) or new slices side by side: column c is slice c (bit 0 is the
/// low bit of the last digit).
fn write_hex(path: &Path, moves: &[Move], rows: usize, old: bool) -> Result<()> {
    let side = |m: &Move, r: usize| if old { m.from[r] } else { m.to[r] };
    let mut s = String::with_capacity(rows * (moves.len() / 4 + 1));
    for r in 0..rows {
        for d in (0..moves.len() / 4).rev() {
            let nib = (0..4).fold(0u32, |n, b| n | u32::from(side(&moves[4 * d + b], r)) << b);
            s.push(char::from_digit(nib, 16).expect("a nibble"));
        }
        s.push('\n');
    }
    std::fs::write(path, s).map_err(|e| FlowError::io("write", path, e))
}

/// icebram reads the `.asc` on stdin and writes it on stdout; ecpbram takes file names.
fn run_patcher(tool: &Tool, dir: &Path, input: &str, output: &str) -> Result<Ran> {
    let mut cmd: Command = tool.command();
    cmd.current_dir(dir);
    match tool.kind() {
        ToolKind::Icebram => {
            let open = |p: PathBuf, w: bool| {
                if w { File::create(&p) } else { File::open(&p) }
                    .map_err(|e| FlowError::io(if w { "create" } else { "open" }, p, e))
            };
            cmd.args(["-v", FROM_HEX, TO_HEX])
                .stdin(Stdio::from(open(dir.join(input), false)?))
                .stdout(Stdio::from(open(dir.join(output), true)?));
        }
        _ => {
            cmd.args([
                "-v", "-i", input, "-o", output, "-f", FROM_HEX, "-t", TO_HEX,
            ]);
        }
    }
    let start = Instant::now();
    let output = cmd.output().map_err(|e| FlowError::ToolMissing {
        tool: tool.kind().name(),
        var: tool.kind().env_var(),
        detail: format!("cannot run `{}`: {e}", tool.path().display()),
    })?;
    Ok(Ran {
        output,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Packs the patched `input` as `flow::pack` does; returns the packer's seconds.
fn pack(family: Family, dir: &Path, input: &str) -> Result<f64> {
    let packer = Tool::find(ToolKind::pack(family))?;
    let (out, mut args): (&str, Vec<String>) = match family {
        Family::Ice40 => (BIN, vec![]),
        Family::Ecp5 => (BIT, vec!["--compress".into()]),
    };
    args.push(input.into());
    args.push(out.into());
    remove_stale(dir, &[out, PACK_LOG])?;
    let ran = run(&packer, &args, dir)?;
    let log = dir.join(PACK_LOG);
    let console = format!(
        "{}{}",
        String::from_utf8_lossy(&ran.output.stdout),
        String::from_utf8_lossy(&ran.output.stderr)
    );
    std::fs::write(&log, console).map_err(|e| FlowError::io("write", &log, e))?;
    if !ran.output.status.success() || !dir.join(out).is_file() {
        return Err(failed(&packer, &ran, dir, &log));
    }
    Ok(ran.seconds)
}

/// Verilog text without comments (the header names the YAML file, which may move).
fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    let mut in_str = false;
    while let Some(c) = it.next() {
        if in_str {
            out.push(c);
            if c == '\\' {
                if let Some(n) = it.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match (c, it.peek()) {
            ('"', _) => {
                in_str = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for n in it.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                it.next();
                let mut prev = ' ';
                for n in it.by_ref() {
                    if prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_images_read_back() {
        use crate::rtl::lower::UnitKind;
        use crate::rtl::params::hex;
        for (width, depth) in [(4, 36), (44, 4), (1, 1280), (64, 10), (33, 300)] {
            let unit = Unit {
                engine: 2,
                kind: UnitKind::Thresholds,
                width,
                depth,
                spram: false,
            };
            let mut x = 7u32;
            let img = UnitImage {
                words: (0..depth)
                    .map(|_| {
                        (0..unit.lanes())
                            .map(|l| {
                                x = x.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
                                let bits = (width - 32 * l).min(32);
                                if bits == 32 {
                                    x
                                } else {
                                    x & ((1 << bits) - 1)
                                }
                            })
                            .collect()
                    })
                    .collect(),
            };
            let text = hex(&unit, &img);
            assert_eq!(parse_hex(&unit, &text), Some(img), "{width}x{depth}");
            // A changed filler row is not this generator's image.
            if depth > 4 {
                let mut lines: Vec<String> = text.lines().map(String::from).collect();
                let last = lines.last_mut().unwrap();
                let d = last.pop().unwrap().to_digit(16).unwrap() ^ 1;
                last.push(char::from_digit(d, 16).unwrap());
                assert_eq!(parse_hex(&unit, &(lines.join("\n") + "\n")), None);
            }
            // Nor is a bit past the width.
            if width % 4 != 0 {
                assert_eq!(parse_hex(&unit, &format!("f{}", &text[1..])), None);
            }
        }
    }

    #[test]
    fn comments_are_stripped() {
        let v = "// header a.yaml\nmodule m; /* x\ny */ wire a = \"//k\"; // c\nendmodule\n";
        assert_eq!(
            strip_comments(v),
            "\nmodule m;   wire a = \"//k\";\nendmodule"
        );
        assert_eq!(strip_comments("// b.yaml\nmodule m;"), "\nmodule m;");
    }

    #[test]
    fn geometries_cover_each_block_once_per_mode() {
        // Every mode's slices partition the block's data bits.
        for (family, bits, modes) in [
            (Family::Ice40, 4096, vec![16usize; 4]),
            (Family::Ecp5, 2048 * 9, vec![32, 32, 32, 36, 36, 36]),
        ] {
            let g = Geometry::of(family);
            let mut start = 0;
            for count in modes {
                let mut seen = vec![0u8; bits];
                for s in &g.slices[start..start + count] {
                    assert_eq!(s.len(), g.rows);
                    for &i in s {
                        seen[i] += 1;
                    }
                }
                assert!(
                    seen.iter().all(|&n| n <= 1),
                    "{family}: a bit in two slices"
                );
                let covered = seen.iter().filter(|&&n| n == 1).count();
                assert_eq!(covered, count * g.rows, "{family}");
                start += count;
            }
        }
    }

    #[test]
    fn ice40_256x16_slices_are_columns() {
        // Mode 0: slice c is physical column c, row r at bit 16 r + c.
        let g = Geometry::of(Family::Ice40);
        assert_eq!(g.slices[3][5], 5 * 16 + 3);
        // Mode 3 (2048 × 2): word k of the first slice is row k / 8, column
        // reverse3(k % 8).
        let m3 = &g.slices[48];
        assert_eq!(m3[1], 4);
        assert_eq!(m3[8], 16);
    }

    #[test]
    fn ecp5_text_round_trips() {
        let mut text = String::from(".device LFE5U-85F\n.bram_init 3\n");
        for v in 0..2048 {
            text.push_str(&format!("{:03x}", (v * 37) % 512));
            text.push(if v % 8 == 7 { '\n' } else { ' ' });
        }
        text.push_str("\n.tile_group A B\nX\n");
        let b = parse_blocks(Family::Ecp5, &text).unwrap();
        let want: Vec<bool> = (0..9).map(|b| (185 >> b) & 1 == 1).collect();
        assert_eq!(b["3"][9 * 5..9 * 6], want[..]);
        assert_eq!(splice_ecp5(&text, &b), text);
    }
}
