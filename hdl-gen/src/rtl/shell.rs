//! The board top: the network top behind the host link (`hdlgen_link`: framed UART
//! protocol, see docs/protocol.md), a power-on reset held until the PLL locks, and status
//! LEDs. Ports: `clk_in`, `uart_rx`, `uart_tx`, `led[n]` — what `constraints/` pins.

use serde::Serialize;

use super::ast::{BinOp, Expr, Item, Module, NetKind, Param, Stmt, UnOp};
use super::gen::Generated;
use super::lower::{field_bits, Kind};
use super::print;
use crate::error::Error;

/// The primitives a board top adds to the network's.
pub const SERIAL_RX: (&str, &str) = (
    "hdlgen_serial_rx.v",
    include_str!("../../rtl/lib/hdlgen_serial_rx.v"),
);
pub const SERIAL_TX: (&str, &str) = (
    "hdlgen_serial_tx.v",
    include_str!("../../rtl/lib/hdlgen_serial_tx.v"),
);
pub const LINK: (&str, &str) = ("hdlgen_link.v", include_str!("../../rtl/lib/hdlgen_link.v"));

/// Clock, UART and LEDs of the board top.
#[derive(Clone, Debug)]
pub struct ShellOptions {
    /// The design clock.
    pub sys_hz: u64,
    pub baud: u32,
    pub leds: usize,
    pub led_active_low: bool,
    /// Instantiate `hdlgen_pll (clk_in, clk_out, locked)`; otherwise `clk_in` is the clock.
    pub pll: bool,
    /// A register slice (`hdlgen_skid`) between the link and the network on the result
    /// stream (ECP5: the link's transmit logic was pulled toward the network and spread
    /// out).
    pub out_slice: bool,
    /// Two-entry register slices on the image stream after the link's one-entry slice (at
    /// least 1): each is a hop the placer can put between the link and the first engine.
    pub in_slices: usize,
}

/// What the host must know to talk to a board top (also sent in the INFO reply).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LinkParams {
    pub design_id: u32,
    pub clocks_per_bit: u32,
    /// Input beats per image and bits (bytes on the wire) per beat.
    pub beats: usize,
    pub beat_bits: u32,
    pub beat_bytes: u32,
    pub classes: usize,
    pub score_bits: u32,
    pub score_bytes: u32,
    /// Frame buffer bytes: the most a configuration frame may carry.
    pub buffer_bytes: usize,
    pub cfg_addr_bits: u32,
    /// Memories in SPRAM (`store: spram`), by image file: the bitstream cannot hold their
    /// contents, so a host writes them after configuration (all other memories boot
    /// with the parameters they were built with).
    #[serde(default)]
    pub spram_units: Vec<String>,
}

/// A generated board top.
#[derive(Clone, Debug)]
pub struct BoardTop {
    pub name: String,
    pub verilog: String,
    /// Primitives beyond the network's (`(file name, text)`).
    pub files: Vec<(String, String)>,
    pub link: LinkParams,
}

/// FNV-1a (32 bit) of the design description: the id INFO reports, so a host can tell
/// whether the bitstream on the board is the one it has the parameters of.
pub fn design_id(g: &Generated) -> u32 {
    let json = g
        .files
        .iter()
        .find(|f| f.0 == "design.json")
        .map_or("", |f| f.1.as_str());
    json.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// An `hdlgen_skid` register slice named `name`, W = `width`, from the stream
/// (valid, ready, data) `from` to the stream `to`.
fn skid(name: &str, width: u32, clk: &Expr, rst: &Expr, from: [Expr; 3], to: [Expr; 3]) -> Item {
    let [iv, ir, id] = from;
    let [ov, or, od] = to;
    Item::Instance {
        module: "hdlgen_skid".into(),
        name: name.into(),
        params: vec![("W".into(), Param::Int(width.into()))],
        conns: vec![
            ("clk".into(), clk.clone()),
            ("rst".into(), rst.clone()),
            ("in_valid".into(), iv),
            ("in_ready".into(), ir),
            ("in_data".into(), id),
            ("out_valid".into(), ov),
            ("out_ready".into(), or),
            ("out_data".into(), od),
        ],
    }
}

fn shell_error(g: &Generated, message: String) -> Error {
    Error::input(g.design.name.clone(), message)
}

/// The link's parameters for a design and clock.
pub fn link_params(g: &Generated, opts: &ShellOptions) -> Result<LinkParams, Error> {
    let d = &g.design;
    let Some(Kind::Argmax { cls, .. }) = d.engines.last().map(|e| &e.kind) else {
        return Err(shell_error(
            g,
            "a board top needs a network that ends in an `output` layer (class scores)".into(),
        ));
    };
    let beat_bits = (d.input_shape.c * d.input_bits as usize) as u32;
    let beat_bytes = beat_bits.div_ceil(8);
    if beat_bytes > 8 {
        return Err(shell_error(
            g,
            format!(
                "an input pixel is {beat_bits} bits; the board link carries at most 64 bits per pixel"
            ),
        ));
    }
    let score_bits = d.engines.last().map_or(0, |e| e.output.width()) as u32;
    let beats = d.input_shape.h * d.input_shape.w;
    let image = beats * beat_bytes as usize;
    // Room for an image and for at least 128 configuration writes.
    let buffer_bytes = image.max(1024).next_power_of_two();
    if buffer_bytes > 1 << 15 {
        return Err(shell_error(
            g,
            format!("an input image is {image} bytes; the board link buffers at most 32 KiB"),
        ));
    }
    let cpb = (opts.sys_hz as f64 / f64::from(opts.baud)).round();
    let err = (opts.sys_hz as f64 / cpb - f64::from(opts.baud)).abs() / f64::from(opts.baud);
    if !(8.0..=65_535.0).contains(&cpb) || err > 0.02 {
        return Err(shell_error(
            g,
            format!(
                "{} baud from a {} Hz clock: {cpb} clocks per bit, {:.1} % off; need at least 8 clocks per bit and at most 2 % error",
                opts.baud,
                opts.sys_hz,
                100.0 * err
            ),
        ));
    }
    let (ub, wb, lb) = d.cfg_fields();
    Ok(LinkParams {
        design_id: design_id(g),
        clocks_per_bit: cpb as u32,
        beats,
        beat_bits,
        beat_bytes,
        classes: *cls,
        score_bits,
        score_bytes: score_bits.div_ceil(8),
        buffer_bytes,
        cfg_addr_bits: ub + wb + lb,
        spram_units: (0..d.units.len())
            .filter(|&u| d.units[u].spram)
            .map(|u| super::top::unit_file(d, u))
            .collect(),
    })
}

/// The board top for a generated network.
pub fn board_top(g: &Generated, opts: &ShellOptions) -> Result<BoardTop, Error> {
    let lp = link_params(g, opts)?;
    let d = &g.design;
    let name = format!("{}_board", g.top_name.trim_end_matches("_top"));
    let mut m = Module::new(&name);
    m.header = vec![
        format!(
            "{name}: `{}` behind the UART host link ({} baud at {} Hz, {} clocks per bit); design id {:08x}.",
            g.top_name, opts.baud, opts.sys_hz, lp.clocks_per_bit, lp.design_id
        ),
        "Generated by hdlgen; see docs/protocol.md for the frames.".into(),
    ];
    let clk_in = m.input("clk_in", 1);
    let uart_rx = m.input("uart_rx", 1);
    let uart_tx = m.output("uart_tx", 1);
    let led = (opts.leds > 0).then(|| m.output("led", opts.leds as u32));

    let clk = m.wire("clk", 1);
    let locked = m.wire("locked", 1);
    if opts.pll {
        m.items.push(Item::Instance {
            module: "hdlgen_pll".into(),
            name: "pll".into(),
            params: vec![],
            conns: vec![
                ("clk_in".into(), clk_in),
                ("clk_out".into(), clk.clone()),
                ("locked".into(), locked.clone()),
            ],
        });
    } else {
        m.assign(clk.clone(), clk_in);
        m.assign(locked.clone(), Expr::lit(1, 1));
    }
    // Power-on reset: 16 cycles after the clock is stable.
    m.items.push(Item::Net {
        kind: NetKind::Reg,
        name: "por".into(),
        width: 4,
        signed: false,
        init: Some(Expr::lit(4, 15)),
    });
    let por = Expr::id("por");
    m.items.push(Item::Always {
        clock: "clk".into(),
        body: vec![Stmt::If {
            cond: Expr::un(UnOp::LogicNot, locked),
            then: vec![Stmt::Assign(por.clone(), Expr::lit(4, 15))],
            otherwise: vec![Stmt::If {
                cond: por.clone().bin(BinOp::Ne, Expr::lit(4, 0)),
                then: vec![Stmt::Assign(
                    por.clone(),
                    por.clone().bin(BinOp::Sub, Expr::lit(4, 1)),
                )],
                otherwise: vec![],
            }],
        }],
        keep: false,
    });
    // The reset is a flip-flop: it fans out to every engine, and a gate in front of that
    // fanout would be the critical path. The link has its own copy, kept apart: the
    // reset's fanout into the network pulled the link's reset logic across an ECP5-85F.
    // Both registers are kept: opt_merge spares a pair of identical flip-flops only when
    // both cells carry keep (with only rst_link kept, the two were one register).
    let mut reset_reg = |name: &str| {
        m.items.push(Item::Net {
            kind: NetKind::Reg,
            name: name.into(),
            width: 1,
            signed: false,
            init: Some(Expr::lit(1, 1)),
        });
        let r = Expr::id(name);
        m.items.push(Item::Always {
            clock: "clk".into(),
            body: vec![Stmt::Assign(
                r.clone(),
                por.clone().bin(BinOp::Ne, Expr::lit(4, 0)),
            )],
            keep: true,
        });
        r
    };
    let rst = reset_reg("rst");
    let rst_link = reset_reg("rst_link");

    let rx_valid = m.wire("rx_valid", 1);
    let rx_data = m.wire("rx_data", 8);
    let rx_ferr = m.wire("rx_ferr", 1);
    let cpb = Param::Int(lp.clocks_per_bit.into());
    m.items.push(Item::Instance {
        module: "hdlgen_serial_rx".into(),
        name: "uart_in".into(),
        params: vec![("CPB".into(), cpb.clone())],
        conns: vec![
            ("clk".into(), clk.clone()),
            ("rst".into(), rst.clone()),
            ("rx".into(), uart_rx),
            ("valid".into(), rx_valid.clone()),
            ("data".into(), rx_data.clone()),
            ("ferr".into(), rx_ferr.clone()),
        ],
    });
    let tx_valid = m.wire("tx_valid", 1);
    let tx_ready = m.wire("tx_ready", 1);
    let tx_data = m.wire("tx_data", 8);
    m.items.push(Item::Instance {
        module: "hdlgen_serial_tx".into(),
        name: "uart_out".into(),
        params: vec![("CPB".into(), cpb.clone())],
        conns: vec![
            ("clk".into(), clk.clone()),
            ("rst".into(), rst.clone()),
            ("valid".into(), tx_valid.clone()),
            ("ready".into(), tx_ready.clone()),
            ("data".into(), tx_data.clone()),
            ("tx".into(), uart_tx),
        ],
    });

    let cw = lp.cfg_addr_bits;
    let pw = field_bits(lp.classes);
    let (cfg_we, cfg_addr, cfg_data) = (
        m.wire("cfg_we", 1),
        m.wire("cfg_addr", cw),
        m.wire("cfg_data", 32),
    );
    // The link's image beats reach the network through a one-entry register slice: the
    // link sits by the UART pins, the first window generator wherever the placer puts
    // it, and the wire between them (into the generator's issue logic) limited an
    // ECP5-85F to 141 MHz. Half rate is ample: the link needs several cycles per beat.
    let (in_valid, in_ready, in_data) = (
        m.wire("link_in_valid", 1),
        m.wire("link_in_ready", 1),
        m.wire("link_in_data", lp.beat_bits),
    );
    let (net_in_valid, net_in_data, net_in_ready) = (
        m.reg("in_valid", 1),
        m.reg("in_data", lp.beat_bits),
        m.wire("in_ready", 1),
    );
    m.assign(
        in_ready.clone(),
        Expr::un(UnOp::LogicNot, net_in_valid.clone()),
    );
    m.items.push(Item::Always {
        clock: "clk".into(),
        body: vec![Stmt::If {
            cond: rst.clone(),
            then: vec![Stmt::Assign(net_in_valid.clone(), Expr::lit(1, 0))],
            otherwise: vec![Stmt::If {
                cond: net_in_valid.clone(),
                then: vec![Stmt::If {
                    cond: net_in_ready.clone(),
                    then: vec![Stmt::Assign(net_in_valid.clone(), Expr::lit(1, 0))],
                    otherwise: vec![],
                }],
                otherwise: vec![Stmt::If {
                    cond: in_valid.clone(),
                    then: vec![
                        Stmt::Assign(net_in_valid.clone(), Expr::lit(1, 1)),
                        Stmt::Assign(net_in_data.clone(), in_data.clone()),
                    ],
                    otherwise: vec![],
                }],
            }],
        }],
        keep: false,
    });
    // A two-entry slice after it as well, so the beat crosses the chip in two hops (the
    // one-entry slice sat by the link and its valid ran 3.9 ns into conv1's window
    // generator on an 85F, 128.2 MHz; 5.0 ns on a UP5K, 44.4 MHz).
    // On ECP5 a second one (`in_slices`): with one, the slice sat between the link and
    // conv1's window generator with 9 ns of routing into the generator (MNIST, 85F).
    let mut net_in = (net_in_valid, net_in_ready, net_in_data);
    for k in 0..opts.in_slices.max(1) {
        let name = if k == 0 {
            "in_slice".to_string()
        } else {
            format!("in_slice{}", k + 1)
        };
        let (v, r, d) = (
            m.wire(&format!("{name}_valid"), 1),
            m.wire(&format!("{name}_ready"), 1),
            m.wire(&format!("{name}_data"), lp.beat_bits),
        );
        m.items.push(skid(
            &name,
            lp.beat_bits,
            &clk,
            &rst,
            [net_in.0, net_in.1, net_in.2],
            [v.clone(), r.clone(), d.clone()],
        ));
        net_in = (v, r, d);
    }
    let (net_in_valid, net_in_ready, net_in_data) = net_in;
    let (out_valid, out_ready, out_score, out_last, out_pred) = (
        m.wire("out_valid", 1),
        m.wire("out_ready", 1),
        m.wire("out_score", lp.score_bits),
        m.wire("out_last", 1),
        m.wire("out_pred", pw),
    );
    let (busy, error) = (m.wire("busy", 1), m.wire("error", 1));
    let int = |v: u64| Param::Int(v as i64);
    m.items.push(Item::Instance {
        module: "hdlgen_link".into(),
        name: "link".into(),
        params: vec![
            ("CPB".into(), cpb),
            ("IN_W".into(), int(lp.beat_bits.into())),
            ("IN_BYTES".into(), int(lp.beat_bytes.into())),
            ("BEATS".into(), int(lp.beats as u64)),
            (
                "BUF_AW".into(),
                int(u64::from(lp.buffer_bytes.trailing_zeros())),
            ),
            ("CFG_AW".into(), int(cw.into())),
            ("CLS".into(), int(lp.classes as u64)),
            ("SW".into(), int(lp.score_bits.into())),
            ("SB".into(), int(lp.score_bytes.into())),
            ("PW".into(), int(pw.into())),
            (
                "DESIGN_ID".into(),
                Param::Bits {
                    width: 32,
                    value: lp.design_id.into(),
                },
            ),
        ],
        conns: vec![
            ("clk".into(), clk.clone()),
            ("rst".into(), rst_link),
            ("rx_valid".into(), rx_valid),
            ("rx_data".into(), rx_data),
            ("rx_ferr".into(), rx_ferr),
            ("tx_valid".into(), tx_valid),
            ("tx_ready".into(), tx_ready),
            ("tx_data".into(), tx_data),
            ("cfg_we".into(), cfg_we.clone()),
            ("cfg_addr".into(), cfg_addr.clone()),
            ("cfg_data".into(), cfg_data.clone()),
            ("in_valid".into(), in_valid.clone()),
            ("in_ready".into(), in_ready.clone()),
            ("in_data".into(), in_data.clone()),
            ("out_valid".into(), out_valid.clone()),
            ("out_ready".into(), out_ready.clone()),
            ("out_score".into(), out_score.clone()),
            ("out_last".into(), out_last.clone()),
            ("out_pred".into(), out_pred.clone()),
            ("busy".into(), busy.clone()),
            ("error".into(), error.clone()),
        ],
    });
    // The network's output stream, straight to the link or through a register slice.
    let (n_valid, n_ready, n_score, n_last, n_pred) = if opts.out_slice {
        let sb = lp.score_bits;
        let w = sb + 1 + pw;
        let nv = m.wire("net_out_valid", 1);
        let nr = m.wire("net_out_ready", 1);
        let ns = m.wire("net_out_score", sb);
        let nl = m.wire("net_out_last", 1);
        let np = m.wire("net_out_pred", pw);
        let si = m.wire("out_slice_in", w);
        let so = m.wire("out_slice_out", w);
        m.assign(
            si.clone(),
            Expr::Concat(vec![np.clone(), nl.clone(), ns.clone()]),
        );
        m.assign(out_score.clone(), so.clone().slice(sb - 1, 0));
        m.assign(out_last.clone(), so.clone().bit(sb));
        m.assign(out_pred.clone(), so.clone().slice(w - 1, sb + 1));
        m.items.push(skid(
            "out_slice",
            w,
            &clk,
            &rst,
            [nv.clone(), nr.clone(), si],
            [out_valid.clone(), out_ready.clone(), so],
        ));
        (nv, nr, ns, nl, np)
    } else {
        (out_valid, out_ready, out_score, out_last, out_pred)
    };
    m.items.push(Item::Instance {
        module: g.top_name.clone(),
        name: "net".into(),
        params: vec![],
        conns: vec![
            ("clk".into(), clk),
            ("rst".into(), rst),
            ("in_valid".into(), net_in_valid),
            ("in_ready".into(), net_in_ready),
            ("in_data".into(), net_in_data),
            ("out_valid".into(), n_valid),
            ("out_ready".into(), n_ready),
            ("out_score".into(), n_score),
            ("out_last".into(), n_last),
            ("out_pred".into(), n_pred),
            ("cfg_we".into(), cfg_we),
            ("cfg_addr".into(), cfg_addr),
            ("cfg_data".into(), cfg_data),
        ],
    });
    // led[0] heartbeat (about 1 Hz: the clock is running), led[1] the last frame was
    // rejected, led[2] a frame is being applied; further LEDs stay off. The pins are
    // driven from registers of their own, so the link's state registers need not sit by
    // the pins (the link's `error` placed by its LED was an 85F critical path).
    let mut unused = vec![];
    if let Some(led) = led {
        let hb_w = 64 - (opts.sys_hz.max(2) - 1).leading_zeros();
        let hb = m.reg("heartbeat", hb_w);
        m.items.push(Item::Always {
            clock: "clk".into(),
            body: vec![Stmt::Assign(
                hb.clone(),
                hb.clone().bin(BinOp::Add, Expr::lit(hb_w, 1)),
            )],
            keep: false,
        });
        let mut bits = vec![hb.bit(hb_w - 1), error, busy];
        unused = bits.split_off(opts.leds.min(3));
        while bits.len() < opts.leds {
            bits.push(Expr::lit(1, 0));
        }
        bits.reverse();
        let on = Expr::Concat(bits);
        let led_q = m.reg("led_q", opts.leds as u32);
        m.items.push(Item::Always {
            clock: "clk".into(),
            body: vec![Stmt::Assign(
                led_q.clone(),
                if opts.led_active_low {
                    Expr::un(UnOp::Not, on)
                } else {
                    on
                },
            )],
            keep: false,
        });
        m.assign(led, led_q);
    } else {
        unused = vec![busy, error];
    }
    if !unused.is_empty() {
        let w = m.wire("_unused_ok", 1);
        let mut all = vec![Expr::lit(1, 0)];
        all.extend(unused);
        all.push(Expr::lit(1, 0));
        m.assign(w, Expr::un(UnOp::ReduceAnd, Expr::Concat(all)));
    }
    let _ = d;
    let verilog = print::module(&m);
    // The shell's own primitives, and its register slices' where the network has none.
    let files = super::lib::used(&[SERIAL_RX, SERIAL_TX, LINK, super::lib::SKID], &[&verilog])
        .iter()
        .filter(|(n, _)| !g.files.iter().any(|f| f.0 == *n))
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    Ok(BoardTop {
        name,
        verilog,
        files,
        link: lp,
    })
}
