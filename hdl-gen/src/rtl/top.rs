//! The network top: engine instances joined by valid/ready streams, the input widening,
//! the configuration-bus decode and (optionally) taps on every inter-engine stream.
//!
//! Ports: `clk rst`; input stream `in_valid in_ready in_data` (one input pixel per beat,
//! channel c at `[c*B +: B]` in the declared input width B); output stream `out_valid
//! out_ready` with `out_score out_last out_pred` (one beat per class; `out_pred` = argmax
//! on the last) or `out_data` (the last engine's pixels); configuration `cfg_we cfg_addr
//! cfg_data` (address `{unit, word, lane}`, see [`Design::cfg_fields`]); with taps,
//! `tap<k>_fire tap<k>_data` for the stream leaving engine k (all but the last).

use super::ast::{BinOp, Expr, Item, Module, NetKind, Param, Stmt, UnOp};
use super::lower::{field_bits, Design, Kind, Swg, UnitKind};

/// How to print the top.
#[derive(Clone, Debug, Default)]
pub struct TopOptions {
    /// Expose every inter-engine stream as `tap<k>_fire`/`tap<k>_data`.
    pub taps: bool,
    /// Initialise memories from `<prefix><unit>.hex` files; `None`: no initial contents
    /// (weights arrive over the configuration bus, so one build serves every weight set).
    pub hex_prefix: Option<String>,
    /// Lines for the header comment (network, tool version).
    pub header: Vec<String>,
    /// Per engine: the `store: logic` weight constant (width, hex digits).
    pub wconst: Vec<Option<(u32, String)>>,
    /// Register the configuration bus again at each engine with parameters (see
    /// `GenOptions::cfg_regs`).
    pub cfg_regs: bool,
    /// Register slices between engines and per-engine reset and configuration copies
    /// (`GenOptions::replicate`).
    pub replicate: bool,
}

/// A Verilog identifier from a layer or network name.
pub fn ident(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.insert(0, 'n');
    }
    out
}

pub fn top_name(d: &Design) -> String {
    format!("{}_top", ident(&d.name))
}

/// File name of a unit's hex image.
pub fn unit_file(d: &Design, u: usize) -> String {
    let unit = &d.units[u];
    let what = match unit.kind {
        UnitKind::Weights => "w",
        UnitKind::Thresholds => "t",
        UnitKind::ScaleBias => "sb",
        UnitKind::FrontWeights => "fw",
        UnitKind::FrontThresholds => "ft",
    };
    format!("{}_{what}.hex", ident(&d.engines[unit.engine].name))
}

fn p(v: usize) -> Param {
    Param::Int(v as i64)
}

struct Cx {
    m: Module,
    unused: Vec<Expr>,
}

impl Cx {
    fn net(&mut self, kind: NetKind, name: &str, width: usize, init: Option<Expr>) -> Expr {
        self.m.items.push(Item::Net {
            kind,
            name: name.into(),
            width: width as u32,
            signed: false,
            init,
        });
        Expr::id(name)
    }
    fn wire(&mut self, name: &str, width: usize) -> Expr {
        self.net(NetKind::Wire, name, width, None)
    }
    fn inst(
        &mut self,
        module: &str,
        name: &str,
        params: Vec<(&str, Param)>,
        conns: Vec<(&str, Expr)>,
    ) {
        self.m.items.push(Item::Instance {
            module: module.into(),
            name: name.into(),
            params: params.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            conns: conns.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        });
    }
}

/// A stream's three signals.
#[derive(Clone)]
struct Stream {
    valid: Expr,
    ready: Expr,
    data: Expr,
}

fn stream(cx: &mut Cx, prefix: &str, width: usize) -> Stream {
    Stream {
        valid: cx.wire(&format!("{prefix}_valid"), 1),
        ready: cx.wire(&format!("{prefix}_ready"), 1),
        data: cx.wire(&format!("{prefix}_data"), width),
    }
}

/// `split`: the generator's WR_SPLIT (ECP5 plans: the upstream valid enters its handshake
/// sums after their carry chains).
fn swg(
    cx: &mut Cx,
    name: &str,
    s: &Swg,
    input: &Stream,
    rst: &Expr,
    split: bool,
) -> (Stream, Expr) {
    // Several taps per beat: whole windows from `hdlgen_winbuf`, split by `hdlgen_chunk`.
    let chunks = s.window_chunks();
    let gen_simd = chunks.map_or(s.simd, |n| n * s.simd);
    let gen_name = if chunks.is_some() {
        format!("{name}_whole")
    } else {
        format!("{name}_win")
    };
    let out = stream(cx, &gen_name, gen_simd * s.dw as usize);
    let mask = cx.wire(&format!("{gen_name}_mask"), gen_simd);
    let last = cx.wire(&format!("{gen_name}_last"), 1);
    cx.unused.push(last.clone());
    let w = &s.win;
    let pad = (s.pad_value as i128 & ((1i128 << s.dw) - 1)) as u128;
    // A whole window per beat: `hdlgen_winbuf` (the same ports and beat stream).
    let (module, inst) = if s.uses_winbuf() {
        ("hdlgen_winbuf", format!("{name}_winbuf"))
    } else {
        ("hdlgen_swg", format!("{name}_swg"))
    };
    let simd = (!s.uses_winbuf()).then(|| ("SIMD", p(s.simd)));
    cx.inst(
        module,
        &inst,
        vec![
            ("IN_H", p(w.in_h)),
            ("IN_W", p(w.in_w)),
            ("C", p(s.c)),
            ("DW", p(s.dw as usize)),
            ("K_H", p(w.kh)),
            ("K_W", p(w.kw)),
            ("STRIDE", p(w.stride)),
            ("PAD_T", p(w.pad_top)),
            ("PAD_L", p(w.pad_left)),
            ("OUT_H", p(w.out_h)),
            ("OUT_W", p(w.out_w)),
        ]
        .into_iter()
        .chain(simd)
        .chain([
            ("NR", p(s.ring_rows())),
            (
                "PAD_VALUE",
                Param::Bits {
                    width: s.dw,
                    value: pad,
                },
            ),
            ("PAD_MASK", p(s.pad_mask as usize)),
        ])
        .chain(split.then(|| ("WR_SPLIT", p(1))))
        .collect(),
        vec![
            ("clk", Expr::id("clk")),
            ("rst", rst.clone()),
            ("in_valid", input.valid.clone()),
            ("in_ready", input.ready.clone()),
            ("in_data", input.data.clone()),
            ("out_valid", out.valid.clone()),
            ("out_ready", out.ready.clone()),
            ("out_data", out.data.clone()),
            ("out_mask", mask.clone()),
            ("out_last", last),
        ],
    );
    let Some(n) = chunks else {
        return (out, mask);
    };
    let beats = stream(cx, &format!("{name}_win"), s.simd * s.dw as usize);
    let bmask = cx.wire(&format!("{name}_win_mask"), s.simd);
    let blast = cx.wire(&format!("{name}_win_last"), 1);
    cx.unused.push(blast.clone());
    cx.inst(
        "hdlgen_chunk",
        &format!("{name}_chunk"),
        vec![("N", p(n)), ("SIMD", p(s.simd)), ("DW", p(s.dw as usize))],
        vec![
            ("clk", Expr::id("clk")),
            ("rst", rst.clone()),
            ("in_valid", out.valid.clone()),
            ("in_ready", out.ready.clone()),
            ("in_data", out.data.clone()),
            ("in_mask", mask),
            ("out_valid", beats.valid.clone()),
            ("out_ready", beats.ready.clone()),
            ("out_data", beats.data.clone()),
            ("out_mask", bmask.clone()),
            ("out_last", blast),
        ],
    );
    (beats, bmask)
}

/// Whether engine `k` is the layer-sequential engine and computes the output layer after it
/// too (`hdlgen_xnet` with ARGMAX: a plain output layer, the design's last engine), so that
/// engine `k + 1` instantiates nothing: its class stream comes from engine `k`.
pub fn folds_argmax(d: &Design, k: usize) -> bool {
    matches!(d.engines.get(k).map(|e| &e.kind), Some(Kind::Seq(_)))
        && k + 2 == d.engines.len()
        && matches!(d.engines[k + 1].kind, Kind::Argmax { plain: true, .. })
}

/// Engine `k`'s instance name in the top, the prefix of its wires.
fn engine_name(d: &Design, k: usize) -> String {
    format!("e{k}_{}", ident(&d.engines[k].name))
}

/// Builds the top module of a lowered design.
pub fn top(d: &Design, opts: &TopOptions) -> Module {
    let mut cx = Cx {
        m: Module::new(top_name(d)),
        unused: vec![],
    };
    cx.m.header = opts.header.clone();
    let clk = cx.m.input("clk", 1);
    cx.m.input("rst", 1);
    let in_w = d.input_shape.c * d.input_bits as usize;
    let in_valid = cx.m.input("in_valid", 1);
    let in_ready = cx.m.output("in_ready", 1);
    let in_data = cx.m.input("in_data", in_w as u32);
    let argmax = d.ends_in_argmax();
    let last_w = d
        .engines
        .last()
        .map_or(d.input.width(), |e| e.output.width());
    let out_valid = cx.m.output("out_valid", 1);
    let out_ready = cx.m.input("out_ready", 1);
    let (out_data, out_last, out_pred) = if argmax {
        let Some(Kind::Argmax { cls, .. }) = d.engines.last().map(|e| &e.kind) else {
            unreachable!()
        };
        (
            cx.m.output("out_score", last_w as u32),
            Some(cx.m.output("out_last", 1)),
            Some(cx.m.output("out_pred", field_bits(*cls))),
        )
    } else {
        (cx.m.output("out_data", last_w as u32), None, None)
    };
    let (ub, wb, lb) = d.cfg_fields();
    let cfg_we = cx.m.input("cfg_we", 1);
    let cfg_addr = cx.m.input("cfg_addr", ub + wb + lb);
    let cfg_data = cx.m.input("cfg_data", 32);
    if opts.taps {
        for (k, e) in d
            .engines
            .iter()
            .enumerate()
            .take(d.engines.len().saturating_sub(1))
        {
            cx.m.output(&format!("tap{k}_fire"), 1);
            cx.m.output(&format!("tap{k}_data"), e.output.width() as u32);
        }
    }

    // Configuration bus: registered once, then decoded per unit.
    cx.m.items.push(Item::Comment(
        "configuration bus: address {unit, word, lane}, registered then decoded".into(),
    ));
    let we_q = cx.net(NetKind::Reg, "cfg_we_q", 1, Some(Expr::lit(1, 0)));
    let addr_q = cx.net(NetKind::Reg, "cfg_addr_q", (ub + wb + lb) as usize, None);
    let data_q = cx.net(NetKind::Reg, "cfg_data_q", 32, None);
    cx.m.items.push(Item::Always {
        clock: "clk".into(),
        body: vec![
            Stmt::Assign(we_q.clone(), cfg_we),
            Stmt::Assign(addr_q.clone(), cfg_addr),
            Stmt::Assign(data_q.clone(), cfg_data),
        ],
        keep: false,
    });
    let unit = cx.wire("cfg_unit", ub as usize);
    cx.m.assign(
        unit.clone(),
        addr_q.clone().slice(ub + wb + lb - 1, wb + lb),
    );
    let word = cx.wire("cfg_word", wb as usize);
    cx.m.assign(word.clone(), addr_q.clone().slice(wb + lb - 1, lb));
    let lane = cx.wire("cfg_lane", lb as usize);
    cx.m.assign(lane.clone(), addr_q.slice(lb - 1, 0));
    let mut unit_we = vec![];
    for u in 0..d.units.len() {
        let w = cx.wire(&format!("cfg_we_u{u}"), 1);
        cx.m.assign(
            w.clone(),
            we_q.clone().bin(
                BinOp::LogicAnd,
                unit.clone().bin(BinOp::Eq, Expr::lit(ub, u as u128)),
            ),
        );
        unit_we.push(w);
    }
    if d.units.is_empty() {
        cx.unused.extend([
            we_q,
            unit.clone(),
            word.clone(),
            lane.clone(),
            data_q.clone(),
        ]);
    }
    let unit_of = |e: usize, k: UnitKind| d.units.iter().position(|u| u.engine == e && u.kind == k);
    let init = |u: Option<usize>| -> Param {
        Param::Str(match (&opts.hex_prefix, u) {
            (Some(pre), Some(u)) => format!("{pre}{}", unit_file(d, u)),
            _ => String::new(),
        })
    };

    // Input: one pixel per beat, each value widened to the first engine's lanes.
    cx.m.items.push(Item::Comment(
        "input pixels, widened to the first engine's lanes".into(),
    ));
    let mut s = stream(&mut cx, "s0", d.input.width());
    cx.m.assign(s.valid.clone(), in_valid);
    cx.m.assign(in_ready, s.ready.clone());
    let (b, ew) = (d.input_bits, d.input.bits);
    let lanes: Vec<Expr> = (0..d.input_shape.c)
        .rev()
        .map(|c| {
            let v = in_data.clone().slice((c as u32 + 1) * b - 1, c as u32 * b);
            if ew == b {
                v
            } else {
                let ext = if d.input_signed {
                    in_data.clone().bit((c as u32 + 1) * b - 1)
                } else {
                    Expr::lit(1, 0)
                };
                Expr::Concat(vec![Expr::Repeat(ew - b, Box::new(ext)), v])
            }
        })
        .collect();
    cx.m.assign(
        s.data.clone(),
        if lanes.len() == 1 {
            lanes.into_iter().next().expect("one lane")
        } else {
            Expr::Concat(lanes)
        },
    );

    let (cfg_aw, cfg_lw) = (p(wb as usize), p(lb as usize));
    let n = d.engines.len();
    let shared_cfg = (opts.cfg_regs && !opts.replicate && !d.units.is_empty()).then(|| {
        let w = cx.net(NetKind::Reg, "cfg_word_e", wb as usize, None);
        let l = cx.net(NetKind::Reg, "cfg_lane_e", lb as usize, None);
        let dq = cx.net(NetKind::Reg, "cfg_data_e", 32, None);
        cx.m.items.push(Item::Always {
            clock: "clk".into(),
            body: vec![
                Stmt::Assign(w.clone(), word.clone()),
                Stmt::Assign(l.clone(), lane.clone()),
                Stmt::Assign(dq.clone(), data_q.clone()),
            ],
            keep: false,
        });
        (w, l, dq)
    });
    for (k, e) in d.engines.iter().enumerate() {
        let name = engine_name(d, k);
        cx.m.items.push(Item::Comment(format!(
            "engine {k}: {} (layers {}..={})",
            e.name, e.first, e.last
        )));
        let out_net = stream(&mut cx, &format!("s{}", k + 1), e.output.width());
        // With `replicate` (ECP5 plans), each engine also gets its own copy of the reset
        // (kept apart from the others: one flip-flop driving every engine's reset was a
        // critical path), releasing it a cycle after `rst`.
        let rst_e = if opts.replicate {
            let r = cx.net(
                NetKind::Reg,
                &format!("{name}_rst"),
                1,
                Some(Expr::lit(1, 1)),
            );
            cx.m.items.push(Item::Always {
                clock: "clk".into(),
                body: vec![Stmt::Assign(r.clone(), Expr::id("rst"))],
                keep: true,
            });
            r
        } else {
            Expr::id("rst")
        };
        // With `replicate`, the engine's output reaches the next engine through a
        // two-entry register slice (`hdlgen_skid`).
        let folded = k > 0 && folds_argmax(d, k - 1);
        let out = if opts.replicate && k + 1 < n && !folds_argmax(d, k) {
            let eo = stream(&mut cx, &format!("{name}_out"), e.output.width());
            cx.inst(
                "hdlgen_skid",
                &format!("{name}_skid"),
                vec![("W", p(e.output.width()))],
                vec![
                    ("clk", Expr::id("clk")),
                    ("rst", rst_e.clone()),
                    ("in_valid", eo.valid.clone()),
                    ("in_ready", eo.ready.clone()),
                    ("in_data", eo.data.clone()),
                    ("out_valid", out_net.valid.clone()),
                    ("out_ready", out_net.ready.clone()),
                    ("out_data", out_net.data.clone()),
                ],
            );
            eo
        } else {
            out_net.clone()
        };
        let base = |s: &Stream, out: &Stream| {
            vec![
                ("clk", Expr::id("clk")),
                ("rst", rst_e.clone()),
                ("in_valid", s.valid.clone()),
                ("in_ready", s.ready.clone()),
                ("in_data", s.data.clone()),
                ("out_valid", out.valid.clone()),
                ("out_ready", out.ready.clone()),
            ]
        };
        // With `cfg_regs`, the engine gets its own registered copy of the bus (and of
        // its units' write enables), placed near its memories; writes land a cycle later.
        // The copy loads only on a write to one of the engine's units: registers with the
        // same input and enable in every engine would be merged into one by yosys
        // (opt_merge), and the bus would cross the chip in one cycle again.
        let mine: Vec<usize> = (0..d.units.len())
            .filter(|&u| d.units[u].engine == k)
            .collect();
        // Without `replicate` the engines share one registered copy of address and data
        // (what yosys made of identical per-engine copies anyway); the write enables are
        // per engine either way.
        let (word_e, lane_e, data_e, we_e) = if opts.cfg_regs && !mine.is_empty() {
            let (w, l, dq, mut body) = match &shared_cfg {
                Some((w, l, dq)) => (w.clone(), l.clone(), dq.clone(), vec![]),
                None => {
                    let w = cx.net(NetKind::Reg, &format!("{name}_cfg_word"), wb as usize, None);
                    let l = cx.net(NetKind::Reg, &format!("{name}_cfg_lane"), lb as usize, None);
                    let dq = cx.net(NetKind::Reg, &format!("{name}_cfg_data"), 32, None);
                    let hit = mine
                        .iter()
                        .map(|&u| unit_we[u].clone())
                        .reduce(|a, b| a.bin(BinOp::LogicOr, b))
                        .unwrap_or_else(|| Expr::lit(1, 0)); // `mine` is not empty here
                    let body = vec![Stmt::If {
                        cond: hit,
                        then: vec![
                            Stmt::Assign(w.clone(), word.clone()),
                            Stmt::Assign(l.clone(), lane.clone()),
                            Stmt::Assign(dq.clone(), data_q.clone()),
                        ],
                        otherwise: vec![],
                    }];
                    (w, l, dq, body)
                }
            };
            // The strobes are range-checked as they are registered (word < depth, lane <
            // lanes), so a memory's write decode starts at flip-flops (CFG_CHECKED): the
            // checks had been three LUTs in front of it, the 85F's critical path.
            let mut we_e = unit_we.clone();
            for &u in &mine {
                let r = cx.net(
                    NetKind::Reg,
                    &format!("{name}_cfg_we_u{u}"),
                    1,
                    Some(Expr::lit(1, 0)),
                );
                let un = &d.units[u];
                let ok = [(&word, wb, un.depth), (&lane, lb, un.lanes())]
                    .into_iter()
                    .filter(|&(_, bits, n)| (n as u128) < 1u128 << bits)
                    .fold(unit_we[u].clone(), |acc, (v, bits, n)| {
                        acc.bin(
                            BinOp::LogicAnd,
                            v.clone().bin(BinOp::Lt, Expr::lit(bits, n as u128)),
                        )
                    });
                body.push(Stmt::Assign(r.clone(), ok));
                we_e[u] = r;
            }
            cx.m.items.push(Item::Always {
                clock: "clk".into(),
                body,
                keep: false,
            });
            (w, l, dq, we_e)
        } else {
            (word.clone(), lane.clone(), data_q.clone(), unit_we.clone())
        };
        let unit_we = &we_e;
        let cfg = |we: Expr| {
            vec![
                ("cfg_we", we),
                ("cfg_word", word_e.clone()),
                ("cfg_lane", lane_e.clone()),
                ("cfg_data", data_e.clone()),
            ]
        };
        match &e.kind {
            Kind::Mvau {
                swg: sw, mvau: m, ..
            } => {
                let (win, mask) = swg(&mut cx, &name, sw, &s, &rst_e, opts.replicate);
                let wu = unit_of(k, UnitKind::Weights);
                let wc = opts.wconst.get(k).cloned().flatten();
                let tu = unit_of(k, UnitKind::Thresholds);
                let mut conns = base(&win, &out);
                conns.push(("in_mask", mask));
                conns.push(("out_data", out.data.clone()));
                conns.push((
                    "wcfg_we",
                    wu.map_or(Expr::lit(1, 0), |u| unit_we[u].clone()),
                ));
                conns.push((
                    "tcfg_we",
                    tu.map_or(Expr::lit(1, 0), |t| unit_we[t].clone()),
                ));
                conns.extend(cfg(Expr::lit(1, 0)).into_iter().skip(1));
                cx.inst(
                    "hdlgen_mvau",
                    &format!("{name}_mvau"),
                    vec![
                        ("MODE", p(m.int as usize)),
                        ("MW", p(m.mw)),
                        ("MH", p(m.mh)),
                        ("PE", p(m.pe)),
                        ("SIMD", p(m.simd)),
                        ("IN_W", p(if m.int { m.in_w as usize } else { 1 })),
                        ("MASKED", p(m.masked as usize)),
                        ("ACT", p(m.thr as usize)),
                        ("OB", p(m.ob as usize)),
                        ("ACC_W", p(m.acc_w as usize)),
                        ("TW", p(m.tw as usize)),
                        ("REG_EVERY", p(d.reg_every)),
                        // SPRAM has no initial contents.
                        ("W_INIT", init(wu.filter(|_| !m.spram()))),
                        ("T_INIT", init(tu)),
                        ("CFG_AW", cfg_aw.clone()),
                        ("CFG_LW", cfg_lw.clone()),
                    ]
                    .into_iter()
                    .chain(
                        wc.map(|(width, hex)| {
                            [("STORE", p(1)), ("WCONST", Param::Wide { width, hex })]
                        })
                        .into_iter()
                        .flatten(),
                    )
                    // Weights in flip-flops (≤ 4 words) register their write strobes too;
                    // on ECP5 plans so do block-RAM weights (address, data and byte
                    // enables: MNIST conv2's 64 blocks were 8 ns of routing from the decode).
                    .chain(
                        (opts.cfg_regs && (m.sf() * m.nf() <= 4 || opts.replicate))
                            .then(|| ("CFG_REG", p(1))),
                    )
                    .chain(opts.cfg_regs.then(|| ("CFG_CHECKED", p(1))))
                    .chain(m.spram().then(|| ("W_SPRAM", p(1))))
                    .chain(m.w_pipe(opts.replicate).then(|| ("W_PIPE", p(1))))
                    .chain(m.x_copy(opts.replicate).then(|| ("X_COPY", p(1))))
                    .chain(m.en_pipe(opts.replicate).then(|| ("EN_PIPE", p(1))))
                    .collect(),
                    conns,
                );
            }
            Kind::Pool {
                swg: sw,
                c,
                ew,
                max,
                row: true,
            } => {
                let mut conns = base(&s, &out);
                conns.push(("out_data", out.data.clone()));
                cx.inst(
                    "hdlgen_rowpool",
                    &format!("{name}_pool"),
                    vec![
                        ("IN_H", p(sw.win.in_h)),
                        ("IN_W", p(sw.win.in_w)),
                        ("C", p(*c)),
                        ("EW", p(*ew as usize)),
                        ("MODE", p(*max as usize)),
                        ("K", p(sw.win.kh)),
                    ],
                    conns,
                );
            }
            Kind::Pool {
                swg: sw,
                c,
                ew,
                max,
                row: false,
            } => {
                let (win, mask) = swg(&mut cx, &name, sw, &s, &rst_e, opts.replicate);
                cx.unused.push(mask);
                let mut conns = base(&win, &out);
                conns.push(("out_data", out.data.clone()));
                cx.inst(
                    "hdlgen_pool",
                    &format!("{name}_pool"),
                    vec![
                        ("C", p(*c)),
                        ("EW", p(*ew as usize)),
                        ("MODE", p(*max as usize)),
                        ("K", p(sw.win.kh * sw.win.kw)),
                    ],
                    conns,
                );
            }
            Kind::Thresh { c, in_w, tw, .. } => {
                let tu = unit_of(k, UnitKind::Thresholds).expect("threshold unit");
                let mut conns = base(&s, &out);
                conns.push(("out_data", out.data.clone()));
                conns.extend(cfg(unit_we[tu].clone()));
                cx.inst(
                    "hdlgen_thresh",
                    &format!("{name}_thresh"),
                    vec![
                        ("C", p(*c)),
                        ("IN_W", p(*in_w as usize)),
                        ("TW", p(*tw as usize)),
                        ("T_INIT", init(Some(tu))),
                        ("CFG_AW", cfg_aw.clone()),
                        ("CFG_LW", cfg_lw.clone()),
                    ],
                    conns,
                );
            }
            Kind::Seq(x) => {
                let f = &x.front;
                let pl = &x.plan;
                let we = |kind: UnitKind| {
                    unit_of(k, kind).map_or(Expr::lit(1, 0), |u| unit_we[u].clone())
                };
                let fold = folds_argmax(d, k);
                let mut conns = base(&s, &out);
                if fold {
                    // The class stream, wired to the output layer's stream (below); the
                    // sums stream carries the tap only.
                    let cls_valid = cx.wire(&format!("{name}_cls_valid"), 1);
                    let cls_ready = cx.wire(&format!("{name}_cls_ready"), 1);
                    let sw = d.engines[k + 1].output.width();
                    let score = cx.wire(&format!("{name}_cls_score"), sw);
                    let last = cx.wire(&format!("{name}_cls_last"), 1);
                    let pred = cx.wire(&format!("{name}_cls_pred"), field_bits(x.cls) as usize);
                    conns.retain(|(n, _)| !n.starts_with("out_"));
                    conns.extend([
                        ("out_valid", cls_valid),
                        ("out_ready", cls_ready),
                        ("out_data", score),
                        ("out_last", last),
                        ("out_pred", pred),
                        ("sums_valid", out.valid.clone()),
                        ("sums_data", out.data.clone()),
                    ]);
                } else {
                    // Unused outputs: the sums beat is the stream.
                    let last = cx.wire(&format!("{name}_no_last"), 1);
                    let pred = cx.wire(&format!("{name}_no_pred"), field_bits(x.cls) as usize);
                    let sv = cx.wire(&format!("{name}_no_sums_valid"), 1);
                    let sd = cx.wire(&format!("{name}_no_sums"), e.output.width());
                    cx.unused
                        .extend([last.clone(), pred.clone(), sv.clone(), sd.clone()]);
                    conns.extend([
                        ("out_data", out.data.clone()),
                        ("out_last", last),
                        ("out_pred", pred),
                        ("sums_valid", sv),
                        ("sums_data", sd),
                    ]);
                }
                conns.push(("fw_we", we(UnitKind::FrontWeights)));
                conns.push(("ft_we", we(UnitKind::FrontThresholds)));
                conns.push(("w_we", we(UnitKind::Weights)));
                conns.push(("t_we", we(UnitKind::Thresholds)));
                conns.extend(cfg(Expr::lit(1, 0)).into_iter().skip(1));
                let (dwidth, dhex) = x.desc_table();
                let wu = unit_of(k, UnitKind::Weights);
                let w_spram = wu.is_some_and(|u| d.units[u].spram);
                cx.inst(
                    "hdlgen_xnet",
                    &format!("{name}_xnet"),
                    vec![
                        ("H", p(f.h)),
                        ("W", p(f.w)),
                        ("K", p(f.k)),
                        ("P", p(f.p)),
                        ("OH", p(f.oh)),
                        ("OW", p(f.ow)),
                        ("COUT", p(f.cout)),
                        ("IN_W", p(f.in_w as usize)),
                        ("SIGNED", p(f.signed as usize)),
                        ("PAD_VAL", Param::Int(f.pad_value)),
                        ("FTW", p(f.tw as usize)),
                        ("OCH", p(pl.inputs[0].ch)),
                        ("ORS", p(pl.inputs[0].rs())),
                        ("OBASE0", p(pl.inputs[0].base)),
                        ("OBASE1", p(pl.inputs[1].base)),
                        ("PE", p(pl.pe)),
                        ("SIMD", p(pl.simd)),
                        ("AW", p(x.aw as usize)),
                        ("TW", p(x.tw as usize)),
                        ("REG_EVERY", p(d.reg_every)),
                        ("BA", p(pl.ba as usize)),
                        ("DW", p(x.dw as usize)),
                        ("WD", p(pl.weight_words)),
                        ("TD", p(pl.threshold_words)),
                        ("NRUN", p(pl.runs.len())),
                        ("DESCW", p(x.desc_bits())),
                        (
                            "DESC",
                            Param::Wide {
                                width: dwidth,
                                hex: dhex,
                            },
                        ),
                        (
                            "ROW0_ALT",
                            Param::Bits {
                                width: 2 * pl.ba,
                                value: x.row0_alt() as u128,
                            },
                        ),
                        ("CLS", p(x.cls)),
                        ("ARGMAX", p(fold as usize)),
                        (
                            "SW",
                            p(if fold {
                                d.engines[k + 1].output.width()
                            } else {
                                x.aw as usize
                            }),
                        ),
                        ("W_SPRAM", p(w_spram as usize)),
                        ("FW_INIT", init(unit_of(k, UnitKind::FrontWeights))),
                        ("FT_INIT", init(unit_of(k, UnitKind::FrontThresholds))),
                        // SPRAM has no initial contents.
                        ("W_INIT", init(wu.filter(|_| !w_spram))),
                        ("T_INIT", init(unit_of(k, UnitKind::Thresholds))),
                        ("CFG_AW", cfg_aw.clone()),
                        ("CFG_LW", cfg_lw.clone()),
                        ("CFG_CHECKED", p(opts.cfg_regs as usize)),
                    ],
                    conns,
                );
            }
            Kind::Argmax { .. } if folded => {
                // Computed by the layer-sequential engine before it (folds_argmax): its
                // class stream is this engine's output; its sums stream ends here.
                let src = engine_name(d, k - 1);
                cx.m.assign(out.valid.clone(), Expr::id(format!("{src}_cls_valid")));
                cx.m.assign(Expr::id(format!("{src}_cls_ready")), out.ready.clone());
                cx.m.assign(out.data.clone(), Expr::id(format!("{src}_cls_score")));
                cx.m.assign(s.ready.clone(), Expr::lit(1, 1));
                cx.unused
                    .extend([s.valid.clone(), s.ready.clone(), s.data.clone()]);
                if let (Some(ol), Some(op)) = (&out_last, &out_pred) {
                    cx.m.assign(ol.clone(), Expr::id(format!("{src}_cls_last")));
                    cx.m.assign(op.clone(), Expr::id(format!("{src}_cls_pred")));
                }
            }
            Kind::Argmax {
                cls,
                in_w,
                sw,
                plain,
                ..
            } => {
                let last = cx.wire(&format!("{name}_last"), 1);
                let pred = cx.wire(&format!("{name}_pred"), field_bits(*cls) as usize);
                let mut conns = base(&s, &out);
                conns.push(("out_score", out.data.clone()));
                conns.push(("out_last", last.clone()));
                conns.push(("out_pred", pred.clone()));
                let mut params = vec![
                    ("CLS", p(*cls)),
                    ("IN_W", p(*in_w as usize)),
                    ("SW", p(*sw as usize)),
                ];
                // Scale and bias, when the layer has them: a memory on the config bus.
                if !plain {
                    let su = unit_of(k, UnitKind::ScaleBias).expect("scale/bias unit");
                    conns.extend(cfg(unit_we[su].clone()));
                    params.extend([
                        ("S_INIT", init(Some(su))),
                        ("CFG_AW", cfg_aw.clone()),
                        ("CFG_LW", cfg_lw.clone()),
                    ]);
                }
                let module = if *plain {
                    "hdlgen_argmax_plain"
                } else {
                    "hdlgen_argmax"
                };
                cx.inst(module, &format!("{name}_argmax"), params, conns);
                if let (Some(ol), Some(op)) = (&out_last, &out_pred) {
                    cx.m.assign(ol.clone(), last);
                    cx.m.assign(op.clone(), pred);
                }
            }
        }
        if opts.taps && k + 1 < n {
            cx.m.assign(
                Expr::id(format!("tap{k}_fire")),
                out_net
                    .valid
                    .clone()
                    .bin(BinOp::LogicAnd, out_net.ready.clone()),
            );
            cx.m.assign(Expr::id(format!("tap{k}_data")), out_net.data.clone());
        }
        s = out_net;
    }
    cx.m.items.push(Item::Comment("output stream".into()));
    cx.m.assign(out_valid, s.valid.clone());
    cx.m.assign(s.ready.clone(), out_ready);
    cx.m.assign(out_data, s.data.clone());
    let _ = clk;
    if !cx.unused.is_empty() {
        let mut bits = vec![Expr::lit(1, 0)];
        bits.extend(cx.unused.clone());
        bits.push(Expr::lit(1, 0));
        let u = cx.wire("_unused_ok", 1);
        cx.m.assign(u, Expr::un(UnOp::ReduceAnd, Expr::Concat(bits)));
    }
    cx.m
}
