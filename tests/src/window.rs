//! The harness shared by the window-generator tests (`rtl_swg.rs`: `hdlgen_swg`, a tap
//! chunk a beat; `rtl_winbuf.rs`: `hdlgen_winbuf`, a whole window a beat): geometry,
//! random images, the windows straight from `hdlgen::layers::geom::Window`, and a stream
//! driver that checks every output beat. What a beat holds stays with each test.

use hdlgen::arith::SplitMix64;
use hdlgen::layers::geom::Window;
use hdlgen_sim::{build, lint, BuildOptions, Design, Instance, PortHandle};

use crate::wide::pack;

/// An image: `IN_H·IN_W` pixels of `C` elements.
pub type Image = Vec<Vec<u64>>;

/// A window generator's parameters. `simd`: elements a beat carries of each tap
/// (`hdlgen_winbuf` carries whole taps: `c`).
#[derive(Clone, Copy, Debug)]
pub struct Cfg {
    pub in_h: usize,
    pub in_w: usize,
    pub c: usize,
    pub dw: usize,
    pub k_h: usize,
    pub k_w: usize,
    pub stride: usize,
    pub same: bool,
    pub simd: usize,
    pub pad_value: u64,
    pub pad_mask: bool,
}

#[allow(clippy::too_many_arguments)]
pub const fn cfg(
    (in_h, in_w, c): (usize, usize, usize),
    dw: usize,
    (k_h, k_w): (usize, usize),
    stride: usize,
    same: bool,
    simd: usize,
    pad_value: u64,
    pad_mask: bool,
) -> Cfg {
    Cfg {
        in_h,
        in_w,
        c,
        dw,
        k_h,
        k_w,
        stride,
        same,
        simd,
        pad_value,
        pad_mask,
    }
}

/// One tap of a window: `C` values and their mask bits.
pub struct Tap {
    pub vals: Vec<u64>,
    pub mask: Vec<u64>,
}

/// One output window and where it comes from; taps in (ky, kx) order.
pub struct Win {
    pub image: usize,
    pub oy: usize,
    pub ox: usize,
    pub taps: Vec<Tap>,
}

impl Cfg {
    pub fn window(&self) -> Window {
        if self.same {
            Window::same(self.in_h, self.in_w, self.k_h, self.k_w, self.stride)
        } else {
            Window::valid(self.in_h, self.in_w, self.k_h, self.k_w, self.stride)
                .expect("valid window fits")
        }
    }

    /// The ring hdlgen sizes (`Swg::ring_rows`).
    pub fn ring_rows(&self) -> usize {
        hdlgen::rtl::lower::Swg {
            win: self.window(),
            c: self.c,
            dw: self.dw as u32,
            simd: self.simd,
            pad_value: 0,
            pad_mask: self.pad_mask,
        }
        .ring_rows()
    }

    /// The Verilog parameters both generators take (`SIMD` and `NR` are each test's).
    pub fn params(&self) -> Vec<String> {
        let w = self.window();
        vec![
            format!("-GIN_H={}", self.in_h),
            format!("-GIN_W={}", self.in_w),
            format!("-GC={}", self.c),
            format!("-GDW={}", self.dw),
            format!("-GK_H={}", self.k_h),
            format!("-GK_W={}", self.k_w),
            format!("-GSTRIDE={}", self.stride),
            format!("-GPAD_T={}", w.pad_top),
            format!("-GPAD_L={}", w.pad_left),
            format!("-GOUT_H={}", w.out_h),
            format!("-GOUT_W={}", w.out_w),
            format!("-GPAD_VALUE={}'d{}", self.dw, self.pad_value),
            format!("-GPAD_MASK={}", self.pad_mask as u8),
        ]
    }

    /// The geometry, for messages (without `simd`).
    pub fn name(&self) -> String {
        let w = self.window();
        format!(
            "{}x{}x{} DW={} k{}x{} s{} {} pad(t{} l{}) out {}x{} pad={}/{}",
            self.in_h,
            self.in_w,
            self.c,
            self.dw,
            self.k_h,
            self.k_w,
            self.stride,
            if self.same { "same" } else { "valid" },
            w.pad_top,
            w.pad_left,
            w.out_h,
            w.out_w,
            self.pad_value,
            self.pad_mask as u8
        )
    }

    /// A random image of `DW`-bit elements.
    pub fn image(&self, g: &mut SplitMix64) -> Image {
        (0..self.in_h * self.in_w)
            .map(|_| {
                (0..self.c)
                    .map(|_| g.next() & ((1u64 << self.dw) - 1))
                    .collect()
            })
            .collect()
    }

    /// Every output window of `images` in stream order, straight from the definition:
    /// padded taps hold `pad_value` with mask `pad_mask`, the others the pixel, mask 1.
    pub fn windows(&self, images: &[Image]) -> Vec<Win> {
        let w = self.window();
        let mut wins = vec![];
        for (image, px) in images.iter().enumerate() {
            for oy in 0..w.out_h {
                for ox in 0..w.out_w {
                    let mut taps = vec![];
                    for ky in 0..self.k_h {
                        for kx in 0..self.k_w {
                            taps.push(match (w.in_y(oy, ky), w.in_x(ox, kx)) {
                                (Some(iy), Some(ix)) => Tap {
                                    vals: px[iy * self.in_w + ix].clone(),
                                    mask: vec![1; self.c],
                                },
                                _ => Tap {
                                    vals: vec![self.pad_value; self.c],
                                    mask: vec![self.pad_mask as u64; self.c],
                                },
                            });
                        }
                    }
                    wins.push(Win {
                        image,
                        oy,
                        ox,
                        taps,
                    });
                }
            }
        }
        wins
    }
}

/// Lint with the given `-G` parameters must be warning-free.
pub fn assert_lint_clean(design: &Design, params: &[String], name: &str) {
    let warnings = lint(
        design,
        &params.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .unwrap_or_else(|e| panic!("lint: {e}"));
    assert!(warnings.is_empty(), "{name}: {warnings:?}");
}

/// One output beat, as both generators' ports carry it.
#[derive(Clone, Debug, PartialEq)]
pub struct Beat {
    pub data: Vec<u32>,
    pub mask: Vec<u32>,
    pub last: bool,
}

/// How the streams are driven.
#[derive(Clone, Copy, Debug)]
pub enum Drive {
    /// in_valid always (while pixels remain); the consumer takes a beat every `nf`
    /// cycles, as `hdlgen_mvau` with SF = 1 and NF folds does (nf = 1: out_ready high).
    Free { nf: u64 },
    /// Random input gaps and output back-pressure.
    Stalls,
}

/// What a run saw, in cycles from the one after reset.
pub struct Seen {
    /// The first accepted input beat.
    pub first_in: Option<u64>,
    /// Every accepted output beat.
    pub outs: Vec<u64>,
}

struct Ports {
    clk: PortHandle,
    rst: PortHandle,
    iv: PortHandle,
    ir: PortHandle,
    id: PortHandle,
    ov: PortHandle,
    or: PortHandle,
    od: PortHandle,
    om: PortHandle,
    ol: PortHandle,
}

/// A built window generator and the name its messages carry.
pub struct Dut {
    pub cfg: Cfg,
    pub name: String,
    sim: Instance,
    p: Ports,
}

impl Dut {
    /// `design` built with the Verilator arguments `args`.
    pub fn build(design: &Design, cfg: &Cfg, args: Vec<String>, name: String) -> Dut {
        let opts = BuildOptions {
            verilator_args: args,
            ..BuildOptions::default()
        };
        let model = build(design, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        let sim = model.instance().expect("instance");
        let port = |s: &str| sim.port(s).unwrap_or_else(|e| panic!("{e}"));
        let p = Ports {
            clk: port("clk"),
            rst: port("rst"),
            iv: port("in_valid"),
            ir: port("in_ready"),
            id: port("in_data"),
            ov: port("out_valid"),
            or: port("out_ready"),
            od: port("out_data"),
            om: port("out_mask"),
            ol: port("out_last"),
        };
        Dut {
            cfg: *cfg,
            name,
            sim,
            p,
        }
    }

    /// Resets, streams every pixel of `images` in and checks each output beat against
    /// `want` in order (`what(i)` says where beat i comes from), that a stalled beat holds,
    /// that nothing comes after the last and that every input is taken. `limit`: the
    /// cycles after which the generator counts as stuck.
    pub fn stream(
        &mut self,
        images: &[Image],
        want: &[Beat],
        drive: Drive,
        limit: u64,
        g: &mut SplitMix64,
        what: &dyn Fn(usize) -> String,
    ) -> Seen {
        let (sim, p, name) = (&mut self.sim, &self.p, &self.name);
        let pixels: Vec<Vec<u32>> = images
            .iter()
            .flatten()
            .map(|px| pack(px, self.cfg.dw))
            .collect();
        sim.set(p.iv, 0);
        sim.set(p.or, 0);
        sim.set(p.rst, 1);
        sim.tick(p.clk);
        sim.set(p.rst, 0);
        let (mut next, mut got, mut cycle) = (0usize, 0usize, 0u64);
        let mut seen = Seen {
            first_in: None,
            outs: vec![],
        };
        let mut held: Option<Beat> = None;
        // Cycles until the NF consumer is ready again.
        let mut fold = 0u64;
        // Input/output duty cycles vary per run: each side either sparse (on 1 in n cycles)
        // or dense (off 1 in n), n in 2..=5.
        let duty = |g: &mut SplitMix64| (g.next() % 4 + 2, g.next() & 1 == 1);
        let ((gap, sparse_in), (bp, sparse_out)) = (duty(g), duty(g));
        let on = |g: &mut SplitMix64, n: u64, sparse: bool| g.next().is_multiple_of(n) == sparse;
        while got < want.len() {
            cycle += 1;
            assert!(
                cycle < limit,
                "{name} ({drive:?}): stuck after {got} of {} beats",
                want.len()
            );
            let (give, ready) = match drive {
                Drive::Free { .. } => (next < pixels.len(), fold == 0),
                Drive::Stalls => (
                    next < pixels.len() && on(g, gap, sparse_in),
                    on(g, bp, sparse_out),
                ),
            };
            sim.set(p.iv, give as u64);
            sim.set_wide(p.id, pixels.get(next).unwrap_or(&pixels[0]));
            sim.set(p.or, ready as u64);
            sim.eval();
            let took = give && sim.get(p.ir) == 1;
            let valid = sim.get(p.ov) == 1;
            let beat = Beat {
                data: sim.get_words(p.od),
                mask: sim.get_words(p.om),
                last: sim.get(p.ol) == 1,
            };
            if let Some(h) = held.take() {
                assert!(
                    valid,
                    "{name}: out_valid dropped while stalled (beat {got})"
                );
                assert_eq!(beat, h, "{name}: output changed while stalled (beat {got})");
            }
            fold = fold.saturating_sub(1);
            if valid {
                assert_eq!(
                    beat,
                    want[got],
                    "{name} ({drive:?}): beat {got} = {}",
                    what(got)
                );
                if ready {
                    got += 1;
                    seen.outs.push(cycle);
                    if let Drive::Free { nf } = drive {
                        fold = nf - 1;
                    }
                } else {
                    held = Some(beat);
                }
            }
            sim.tick(p.clk);
            if took {
                seen.first_in.get_or_insert(cycle);
                next += 1;
            }
        }
        // Input rows no window reads (valid geometry's leftover bottom rows) may still be
        // waiting: they must all be taken, and nothing more may come out (no duplicates).
        sim.set(p.or, 1);
        for _ in 0..(2 * pixels.len() + 20) {
            let give = next < pixels.len();
            sim.set(p.iv, give as u64);
            sim.set_wide(p.id, pixels.get(next).unwrap_or(&pixels[0]));
            sim.eval();
            assert_eq!(sim.get(p.ov), 0, "{name}: extra output beat");
            let took = give && sim.get(p.ir) == 1;
            sim.tick(p.clk);
            next += took as usize;
        }
        assert_eq!(next, pixels.len(), "{name}: input beats left over");
        seen
    }
}
