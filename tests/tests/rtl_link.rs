//! The board top in Verilator, driven bit by bit over its UART pins as a host would:
//! INFO, the digits BNN's parameters in configuration frames, test images in image frames,
//! RESULT frames compared with the reference model on every score; corrupted, truncated
//! and back-to-back frames. The frames are encoded here from docs/protocol.md, not with
//! the generator's code.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hdlgen::input::{self, Sample};
use hdlgen::rtl::gen::{generate, GenOptions, Generated};
use hdlgen::rtl::params::cfg_writes;
use hdlgen::rtl::shell::{board_top, BoardTop, ShellOptions};
use hdlgen::Network;
use hdlgen_sim::{build, BuildOptions, Design, Instance, Model, PortHandle};

/// Clocks per UART bit in the simulation (the generator's minimum).
const CPB: u64 = 8;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// CRC-8/SMBUS (poly 0x07, init 0), bitwise as in the protocol document.
fn crc8(bytes: &[u8]) -> u8 {
    let mut c = 0u8;
    for &b in bytes {
        c ^= b;
        for _ in 0..8 {
            c = if c & 0x80 != 0 {
                (c << 1) ^ 0x07
            } else {
                c << 1
            };
        }
    }
    c
}

fn frame(sync: u8, ty: u8, payload: &[u8]) -> Vec<u8> {
    let mut body = vec![ty, payload.len() as u8, (payload.len() >> 8) as u8];
    body.extend_from_slice(payload);
    let mut f = vec![sync];
    f.extend_from_slice(&body);
    f.push(crc8(&body));
    f
}

struct Setup {
    net: Network,
    g: Generated,
    bt: BoardTop,
    model: Model,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let net = Network::load(&root().join("examples/digits/bnn.yaml")).expect("loads");
        let g = generate(
            &net,
            &GenOptions {
                lut_budget: Some(3574),
                hex: false,
                ..GenOptions::default()
            },
        )
        .expect("generates");
        let bt = board_top(
            &g,
            &ShellOptions {
                sys_hz: 8_000_000,
                baud: 1_000_000,
                leds: 2,
                led_active_low: true,
                pll: false,
                // The ECP5 variant: the network's results reach the link through a slice.
                out_slice: true,
                in_slices: 2,
            },
        )
        .expect("board top");
        assert_eq!(u64::from(bt.link.clocks_per_bit), CPB);
        let mut d = Design::new(bt.name.clone()).text(format!("{}.v", bt.name), bt.verilog.clone());
        for (n, t) in g.verilog().chain(bt.files.iter()) {
            d = d.text(n.clone(), t.clone());
        }
        let lint = hdlgen_sim::lint(&d, &["-Wall"]).expect("lints");
        assert!(lint.is_empty(), "lint: {lint:?}");
        let model = build(&d, &BuildOptions::default()).expect("builds");
        Setup { net, g, bt, model }
    })
}

/// A host on the other end of the UART: shifts bytes out on `uart_rx`, decodes `uart_tx`.
struct Host {
    sim: Instance,
    clk: PortHandle,
    rx: PortHandle,
    tx: PortHandle,
    led: PortHandle,
    /// Bytes received from the board.
    got: Vec<u8>,
    // Receiver state: cycles until the next sample, bits so far.
    rx_wait: u64,
    rx_bits: Option<(u32, u16)>,
    cycles: u64,
}

impl Host {
    fn new(s: &Setup) -> Host {
        let p = |n: &str| s.model.port(n).expect("port");
        let mut h = Host {
            sim: s.model.instance().expect("instance"),
            clk: p("clk_in"),
            rx: p("uart_rx"),
            tx: p("uart_tx"),
            led: p("led"),
            got: vec![],
            rx_wait: 0,
            rx_bits: None,
            cycles: 0,
        };
        h.sim.set(h.rx, 1);
        h.step(40);
        h
    }

    /// `n` clock cycles with the line held, decoding what the board sends.
    fn step(&mut self, n: u64) {
        for _ in 0..n {
            self.sim.tick(self.clk);
            self.cycles += 1;
            let line = self.sim.get(self.tx) as u16;
            match &mut self.rx_bits {
                None => {
                    if line == 0 {
                        // Start bit: sample data bits at their middles.
                        self.rx_bits = Some((0, 0));
                        self.rx_wait = CPB + CPB / 2;
                    }
                }
                Some((k, v)) => {
                    self.rx_wait -= 1;
                    if self.rx_wait == 0 {
                        if *k < 8 {
                            *v |= line << *k;
                            *k += 1;
                            self.rx_wait = CPB;
                        } else {
                            assert_eq!(line, 1, "stop bit");
                            self.got.push(*v as u8);
                            self.rx_bits = None;
                        }
                    }
                }
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.send_with_stop(bytes, 1);
    }

    /// Bytes with the given stop bit (0: a framing error on every byte).
    fn send_with_stop(&mut self, bytes: &[u8], stop: u64) {
        for &b in bytes {
            let bits = std::iter::once(0)
                .chain((0..8).map(|i| u64::from(b >> i & 1)))
                .chain(std::iter::once(stop));
            for bit in bits {
                self.sim.set(self.rx, bit);
                self.step(CPB);
            }
        }
        self.sim.set(self.rx, 1);
    }

    /// The next complete board frame `(type, payload)`, waiting up to `max` cycles.
    fn recv(&mut self, max: u64) -> (u8, Vec<u8>) {
        let t0 = self.cycles;
        loop {
            if let Some(f) = self.take_frame() {
                return f;
            }
            assert!(
                self.cycles - t0 < max,
                "no frame within {max} cycles; got {:02x?}",
                self.got
            );
            self.step(CPB);
        }
    }

    fn take_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        let g = &self.got;
        if g.len() < 5 {
            return None;
        }
        assert_eq!(g[0], 0x5A, "board frames start with 5A: {g:02x?}");
        let len = usize::from(g[2]) | usize::from(g[3]) << 8;
        if g.len() < 5 + len {
            return None;
        }
        assert_eq!(crc8(&g[1..4 + len]), g[4 + len], "CRC of {g:02x?}");
        let f = (g[1], g[4..4 + len].to_vec());
        self.got.drain(..5 + len);
        Some(f)
    }

    /// Sends a host frame and returns the board's reply (ACK/NACK/INFO).
    fn request(&mut self, ty: u8, payload: &[u8]) -> (u8, Vec<u8>) {
        self.send(&frame(0xA5, ty, payload));
        self.recv(200_000)
    }

    fn quiet(&mut self) {
        // The board ignores the line until it has been idle 16 byte times after a bad frame.
        self.step(20 * 10 * CPB);
    }
}

fn configure(h: &mut Host, s: &Setup) {
    let writes = cfg_writes(&s.g.design, &s.g.images);
    assert!(!writes.is_empty());
    let per_frame = s.bt.link.buffer_bytes / 8;
    for chunk in writes.chunks(per_frame) {
        let mut p = vec![];
        for &(a, d) in chunk {
            p.extend_from_slice(&(a as u32).to_le_bytes());
            p.extend_from_slice(&d.to_le_bytes());
        }
        assert_eq!(h.request(0x01, &p), (0x81, vec![0x01]), "cfg frame ACKed");
    }
}

fn image_payload(s: &Setup, x: &Sample) -> Vec<u8> {
    let Sample::Values(v) = x else { panic!() };
    let bytes = s.bt.link.beat_bytes as usize;
    let c = s.g.design.input_shape.c;
    let bits = s.g.design.input_bits;
    let mut p = vec![];
    for px in v.chunks(c) {
        let mut word = 0u64;
        for (i, &e) in px.iter().enumerate() {
            word |= ((e as u64) & ((1 << bits) - 1)) << (i as u32 * bits);
        }
        p.extend_from_slice(&word.to_le_bytes()[..bytes]);
    }
    p
}

/// Checks a RESULT payload against the reference model's scores and prediction.
fn check_result(s: &Setup, payload: &[u8], x: &Sample, what: &str) {
    let run = s.net.run(x, false);
    let sb = s.bt.link.score_bytes as usize;
    let cls = s.bt.link.classes;
    assert_eq!(payload.len(), cls * sb + 1, "{what}");
    for (c, want) in run.outcome.values.iter().enumerate() {
        let mut raw = [0u8; 8];
        raw[..sb].copy_from_slice(&payload[c * sb..(c + 1) * sb]);
        let got = i64::from_le_bytes(raw) << (64 - 8 * sb) >> (64 - 8 * sb);
        assert_eq!(got, *want, "{what}: class {c} score");
    }
    assert_eq!(
        usize::from(payload[cls * sb]),
        run.outcome.prediction,
        "{what}: prediction"
    );
}

fn test_images(n: usize) -> Vec<Sample> {
    let s = setup();
    let b = input::load(&s.net, &root().join("examples/digits/test.npz")).expect("test set");
    b.samples.into_iter().take(n).collect()
}

#[test]
fn info_configuration_and_images_over_the_uart_match_the_reference() {
    let s = setup();
    let mut h = Host::new(s);
    let (ty, p) = h.request(0x03, &[]);
    assert_eq!(ty, 0x83, "INFO reply");
    assert_eq!(
        u32::from_le_bytes(p[0..4].try_into().unwrap()),
        s.bt.link.design_id
    );
    assert_eq!(usize::from(u16::from_le_bytes([p[4], p[5]])), 64, "beats");
    assert_eq!((p[6], p[7], p[8]), (5, 10, s.bt.link.score_bits as u8));
    configure(&mut h, s);
    let images = test_images(20);
    for (i, x) in images.iter().enumerate() {
        assert_eq!(h.request(0x02, &image_payload(s, x)), (0x81, vec![0x02]));
        let (ty, p) = h.recv(400_000);
        assert_eq!(ty, 0x84, "RESULT");
        check_result(s, &p, x, &format!("image {i}"));
    }
    // The green LED (led[1], active low) is off: no frame was rejected.
    assert_eq!(h.sim.get(h.led) >> 1 & 1, 1);
}

#[test]
fn corrupted_and_truncated_frames_are_rejected_and_change_nothing() {
    let s = setup();
    let mut h = Host::new(s);
    configure(&mut h, s);
    let images = test_images(6);
    // A flipped bit in a configuration frame: NACK (CRC), and the weights stay as loaded.
    let mut bad = frame(0xA5, 0x01, &[0x00, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    bad[5] ^= 0x10;
    h.send(&bad);
    assert_eq!(h.recv(100_000), (0x82, vec![1]), "NACK: CRC");
    assert_eq!(h.sim.get(h.led) >> 1 & 1, 0, "error LED on (active low)");
    h.quiet();
    // A flipped bit in an image: NACK, no result; the next good image is right.
    let mut bad = frame(0xA5, 0x02, &image_payload(s, &images[0]));
    bad[20] ^= 0x01;
    h.send(&bad);
    assert_eq!(h.recv(100_000), (0x82, vec![1]), "NACK: CRC");
    h.quiet();
    assert!(h.got.is_empty(), "nothing else sent: {:02x?}", h.got);
    // A wrong length for the type.
    assert_eq!(h.request(0x02, &[1, 2, 3]), (0x82, vec![3]), "NACK: length");
    h.quiet();
    // An unknown type.
    assert_eq!(h.request(0x09, &[]), (0x82, vec![2]), "NACK: type");
    h.quiet();
    // A truncated image frame: the board gives up after 16 idle byte times.
    let f = frame(0xA5, 0x02, &image_payload(s, &images[1]));
    h.send(&f[..30]);
    assert_eq!(h.recv(100_000), (0x82, vec![4]), "NACK: timeout");
    h.quiet();
    // A byte with a low stop bit inside a frame: NACK (framing), the frame is dropped.
    let f = frame(0xA5, 0x02, &image_payload(s, &images[1]));
    h.send(&f[..10]);
    h.send_with_stop(&f[10..11], 0);
    h.step(2 * 10 * CPB);
    h.send(&f[11..]);
    assert_eq!(h.recv(100_000), (0x82, vec![5]), "NACK: framing");
    h.quiet();
    assert!(h.got.is_empty(), "nothing else sent: {:02x?}", h.got);
    for (i, x) in images.iter().enumerate().skip(1) {
        assert_eq!(h.request(0x02, &image_payload(s, x)).0, 0x81, "ACK");
        let (ty, p) = h.recv(400_000);
        assert_eq!(ty, 0x84);
        check_result(s, &p, x, &format!("image {i} after bad frames"));
    }
    assert_eq!(
        h.sim.get(h.led) >> 1 & 1,
        1,
        "a good frame clears the error LED"
    );
}

#[test]
fn back_to_back_images_come_back_in_order() {
    let s = setup();
    let mut h = Host::new(s);
    configure(&mut h, s);
    let images = test_images(8);
    // Send every image as soon as the previous one is acknowledged, without waiting for
    // results; collect all frames afterwards.
    let mut frames = vec![];
    for x in &images {
        h.send(&frame(0xA5, 0x02, &image_payload(s, x)));
        loop {
            let f = h.recv(400_000);
            let ack = f.0 == 0x81;
            frames.push(f);
            if ack {
                break;
            }
        }
    }
    while frames.iter().filter(|f| f.0 == 0x84).count() < images.len() {
        frames.push(h.recv(400_000));
    }
    let results: Vec<&Vec<u8>> = frames
        .iter()
        .filter(|f| f.0 == 0x84)
        .map(|f| &f.1)
        .collect();
    assert_eq!(frames.iter().filter(|f| f.0 == 0x81).count(), images.len());
    for (i, (x, p)) in images.iter().zip(results).enumerate() {
        check_result(s, p, x, &format!("back-to-back image {i}"));
    }
}

/// The host side in `hdlgen::protocol` against the board: its frames are accepted and its
/// decoders read the board's replies (the tests above encode frames independently).
#[test]
fn the_protocol_module_talks_to_the_board() {
    use hdlgen::protocol::{self, Frame};
    let s = setup();
    let mut h = Host::new(s);
    h.send(
        &protocol::encode(
            protocol::HOST_SYNC,
            &Frame {
                ty: protocol::T_INFO,
                payload: vec![],
            },
        )
        .unwrap(),
    );
    let t0 = h.cycles;
    let info = loop {
        if let Some((f, n)) = protocol::decode(protocol::BOARD_SYNC, &h.got).unwrap() {
            h.got.drain(..n);
            break protocol::parse_info(&f).unwrap();
        }
        assert!(h.cycles - t0 < 200_000, "no INFO reply; got {:02x?}", h.got);
        h.step(CPB);
    };
    assert_eq!(info.design_id, s.bt.link.design_id);
    assert_eq!(usize::from(info.beats), s.bt.link.beats);
    let writes = cfg_writes(&s.g.design, &s.g.images);
    for f in protocol::cfg_frames(&s.bt.link, &writes) {
        h.send(&protocol::encode(protocol::HOST_SYNC, &f).unwrap());
        assert_eq!(h.recv(200_000), (protocol::R_ACK, vec![protocol::T_CFG]));
    }
    let x = &test_images(1)[0];
    let Sample::Values(v) = x else { panic!() };
    let c = s.g.design.input_shape.c;
    let pixels: Vec<Vec<i64>> = v.chunks(c).map(|p| p.to_vec()).collect();
    let img = protocol::image_frame(&s.bt.link, s.g.design.input_bits, &pixels);
    h.send(&protocol::encode(protocol::HOST_SYNC, &img).unwrap());
    assert_eq!(h.recv(200_000), (protocol::R_ACK, vec![protocol::T_IMAGE]));
    let t0 = h.cycles;
    let r = loop {
        if let Some((f, n)) = protocol::decode(protocol::BOARD_SYNC, &h.got).unwrap() {
            h.got.drain(..n);
            break protocol::parse_result(&s.bt.link, &f).unwrap();
        }
        assert!(h.cycles - t0 < 400_000, "no RESULT; got {:02x?}", h.got);
        h.step(CPB);
    };
    let run = s.net.run(x, false);
    assert_eq!(r.scores, run.outcome.values);
    assert_eq!(r.prediction, run.outcome.prediction);
}
