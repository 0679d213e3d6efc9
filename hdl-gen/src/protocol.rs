//! The host ↔ board serial protocol of the board shell (`hdlgen_link.v`; the byte-level
//! reference is docs/protocol.md): frame encoding and decoding, CRC-8, and the payloads
//! (configuration writes, images, INFO, RESULT). The board side is the hand-written
//! Verilog; this is the host side, for the host driver and tests.
//!
//! Host → board: `A5 | type | len (u16 LE) | payload | crc8(type, len, payload)`;
//! board → host the same with `5A`. CRC-8/SMBUS: polynomial 0x07, initial value 0.

use crate::rtl::shell::LinkParams;

/// First byte of a host → board frame.
pub const HOST_SYNC: u8 = 0xA5;
/// First byte of a board → host frame.
pub const BOARD_SYNC: u8 = 0x5A;

/// Host → board frame types.
pub const T_CFG: u8 = 0x01;
pub const T_IMAGE: u8 = 0x02;
pub const T_INFO: u8 = 0x03;
/// Board → host frame types.
pub const R_ACK: u8 = 0x81;
pub const R_NACK: u8 = 0x82;
pub const R_INFO: u8 = 0x83;
pub const R_RESULT: u8 = 0x84;

/// Bytes of a configuration write in a CFG payload: address u32 LE, data u32 LE.
pub const CFG_WRITE_BYTES: usize = 8;
/// A frame silent for this many byte times is dropped by the board (NACK `Timeout`), and
/// after a NACK the board ignores the line until it has been quiet this long.
pub const IDLE_BYTES: u32 = 16;

/// Why the board rejected a frame (the NACK payload byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nack {
    Crc = 1,
    Type = 2,
    Length = 3,
    Timeout = 4,
    Framing = 5,
}

impl Nack {
    pub fn from_code(c: u8) -> Option<Nack> {
        Some(match c {
            1 => Nack::Crc,
            2 => Nack::Type,
            3 => Nack::Length,
            4 => Nack::Timeout,
            5 => Nack::Framing,
            _ => return None,
        })
    }

    pub fn describe(self) -> &'static str {
        match self {
            Nack::Crc => "CRC mismatch",
            Nack::Type => "unknown frame type",
            Nack::Length => "wrong payload length for the frame type",
            Nack::Timeout => "frame stopped arriving (idle timeout)",
            Nack::Framing => "UART framing error (stop bit low)",
        }
    }
}

/// CRC-8/SMBUS (polynomial 0x07, initial value 0, no reflection), bitwise.
pub fn crc8(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |mut c, &b| {
        c ^= b;
        for _ in 0..8 {
            c = if c & 0x80 != 0 {
                (c << 1) ^ 0x07
            } else {
                c << 1
            };
        }
        c
    })
}

/// A frame: its type and payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub ty: u8,
    pub payload: Vec<u8>,
}

/// Errors of [`decode`] and the payload readers.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("frame starts with {got:#04x}, expected {want:#04x}")]
    Sync { got: u8, want: u8 },
    #[error("frame CRC {got:#04x} does not match its contents ({want:#04x})")]
    Crc { got: u8, want: u8 },
    #[error("payload of {len} bytes does not fit a frame (at most 65535)")]
    TooLong { len: usize },
    #[error("{what}: {len} bytes, expected {want}")]
    Length {
        what: &'static str,
        len: usize,
        want: usize,
    },
    #[error("expected a {want:#04x} frame, got {got:#04x}")]
    Unexpected { got: u8, want: u8 },
}

/// Encodes a frame with the given sync byte ([`HOST_SYNC`] for what a host sends).
pub fn encode(sync: u8, f: &Frame) -> Result<Vec<u8>, ProtocolError> {
    let len = f.payload.len();
    if len > usize::from(u16::MAX) {
        return Err(ProtocolError::TooLong { len });
    }
    let mut out = Vec::with_capacity(len + 5);
    out.push(sync);
    out.push(f.ty);
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&f.payload);
    out.push(crc8(&out[1..]));
    Ok(out)
}

/// Decodes one frame from the front of `bytes`: `Ok(None)` while it is incomplete, else
/// the frame and the bytes it took.
pub fn decode(sync: u8, bytes: &[u8]) -> Result<Option<(Frame, usize)>, ProtocolError> {
    let Some(&first) = bytes.first() else {
        return Ok(None);
    };
    if first != sync {
        return Err(ProtocolError::Sync {
            got: first,
            want: sync,
        });
    }
    if bytes.len() < 4 {
        return Ok(None);
    }
    let len = usize::from(u16::from_le_bytes([bytes[2], bytes[3]]));
    let total = len + 5;
    if bytes.len() < total {
        return Ok(None);
    }
    let want = crc8(&bytes[1..4 + len]);
    let got = bytes[4 + len];
    if got != want {
        return Err(ProtocolError::Crc { got, want });
    }
    Ok(Some((
        Frame {
            ty: bytes[1],
            payload: bytes[4..4 + len].to_vec(),
        },
        total,
    )))
}

/// CFG frames carrying `writes` (cfg address, data), as many per frame as the board's
/// frame buffer holds.
pub fn cfg_frames(link: &LinkParams, writes: &[(u64, u32)]) -> Vec<Frame> {
    let per_frame = (link.buffer_bytes / CFG_WRITE_BYTES).max(1);
    writes
        .chunks(per_frame)
        .map(|chunk| {
            let mut p = Vec::with_capacity(chunk.len() * CFG_WRITE_BYTES);
            for &(a, d) in chunk {
                p.extend_from_slice(&(a as u32).to_le_bytes());
                p.extend_from_slice(&d.to_le_bytes());
            }
            Frame {
                ty: T_CFG,
                payload: p,
            }
        })
        .collect()
}

/// An IMAGE frame: one beat per pixel in HWC order, `beat_bytes` bytes LE each, channel c
/// at bits `[c·bits, (c+1)·bits)` of the beat (two's complement, truncated to `bits`).
pub fn image_frame(link: &LinkParams, bits_per_value: u32, pixels: &[Vec<i64>]) -> Frame {
    let mut p = Vec::with_capacity(pixels.len() * link.beat_bytes as usize);
    for px in pixels {
        let mut word = 0u64;
        for (i, &v) in px.iter().enumerate() {
            let mask = if bits_per_value >= 64 {
                u64::MAX
            } else {
                (1u64 << bits_per_value) - 1
            };
            word |= ((v as u64) & mask) << (i as u32 * bits_per_value);
        }
        p.extend_from_slice(&word.to_le_bytes()[..link.beat_bytes as usize]);
    }
    Frame {
        ty: T_IMAGE,
        payload: p,
    }
}

/// The INFO reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    pub design_id: u32,
    pub beats: u16,
    pub beat_bits: u8,
    pub classes: u8,
    pub score_bits: u8,
}

pub fn parse_info(f: &Frame) -> Result<Info, ProtocolError> {
    expect(f, R_INFO)?;
    let p = &f.payload;
    if p.len() != 9 {
        return Err(ProtocolError::Length {
            what: "INFO payload",
            len: p.len(),
            want: 9,
        });
    }
    Ok(Info {
        design_id: u32::from_le_bytes([p[0], p[1], p[2], p[3]]),
        beats: u16::from_le_bytes([p[4], p[5]]),
        beat_bits: p[6],
        classes: p[7],
        score_bits: p[8],
    })
}

/// A RESULT frame: every class score and the predicted class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassResult {
    pub scores: Vec<i64>,
    pub prediction: usize,
}

pub fn parse_result(link: &LinkParams, f: &Frame) -> Result<ClassResult, ProtocolError> {
    expect(f, R_RESULT)?;
    let sb = link.score_bytes as usize;
    let want = link.classes * sb + 1;
    if f.payload.len() != want {
        return Err(ProtocolError::Length {
            what: "RESULT payload",
            len: f.payload.len(),
            want,
        });
    }
    let scores = f.payload[..link.classes * sb]
        .chunks(sb)
        .map(|c| {
            let mut raw = [0u8; 8];
            raw[..sb].copy_from_slice(c);
            let shift = 64 - 8 * sb as u32;
            (i64::from_le_bytes(raw) << shift) >> shift
        })
        .collect();
    Ok(ClassResult {
        scores,
        prediction: usize::from(f.payload[want - 1]),
    })
}

fn expect(f: &Frame, want: u8) -> Result<(), ProtocolError> {
    if f.ty == want {
        Ok(())
    } else {
        Err(ProtocolError::Unexpected { got: f.ty, want })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> LinkParams {
        LinkParams {
            design_id: 0x1234_5678,
            clocks_per_bit: 417,
            beats: 2,
            beat_bits: 10,
            beat_bytes: 2,
            classes: 3,
            score_bits: 15,
            score_bytes: 2,
            buffer_bytes: 16,
            cfg_addr_bits: 12,
            spram_units: vec![],
        }
    }

    #[test]
    fn crc8_is_crc8_smbus() {
        // The catalogued check value of CRC-8/SMBUS.
        assert_eq!(crc8(b"123456789"), 0xF4);
        assert_eq!(crc8(&[]), 0);
    }

    #[test]
    fn frames_round_trip_and_corruption_is_caught() {
        let f = Frame {
            ty: T_IMAGE,
            payload: vec![1, 2, 3, 0xA5],
        };
        let b = encode(HOST_SYNC, &f).unwrap();
        assert_eq!(&b[..4], &[0xA5, 0x02, 4, 0]);
        for n in 0..b.len() {
            assert_eq!(decode(HOST_SYNC, &b[..n]).unwrap(), None, "prefix {n}");
        }
        assert_eq!(decode(HOST_SYNC, &b).unwrap(), Some((f, b.len())));
        for i in 1..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x08;
            // A flipped length byte makes the frame look incomplete or fail its CRC.
            assert!(!matches!(decode(HOST_SYNC, &c), Ok(Some(_))), "byte {i}");
        }
        assert!(matches!(
            decode(BOARD_SYNC, &b),
            Err(ProtocolError::Sync { .. })
        ));
        let big = Frame {
            ty: T_CFG,
            payload: vec![0; 65536],
        };
        assert!(matches!(
            encode(HOST_SYNC, &big),
            Err(ProtocolError::TooLong { .. })
        ));
    }

    #[test]
    fn payloads() {
        let l = link();
        let fr = cfg_frames(&l, &[(1, 2), (3, 4), (5, 0xdead_beef)]);
        assert_eq!(fr.len(), 2, "two writes fit 16 bytes");
        assert_eq!(
            fr[0].payload,
            [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0]
        );
        assert_eq!(fr[1].payload, [5, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde]);
        let img = image_frame(&l, 5, &[vec![1, -1], vec![31, 0]]);
        // Pixel 0: 1 | (0b11111 << 5) = 0x3e1; pixel 1: 0x1f.
        assert_eq!(img.payload, [0xe1, 0x03, 0x1f, 0x00]);
        let r = Frame {
            ty: R_RESULT,
            payload: vec![0xff, 0xff, 5, 0, 0x00, 0x80, 1],
        };
        assert_eq!(
            parse_result(&l, &r).unwrap(),
            ClassResult {
                scores: vec![-1, 5, -32768],
                prediction: 1
            }
        );
        let info = Frame {
            ty: R_INFO,
            payload: vec![0x78, 0x56, 0x34, 0x12, 2, 0, 10, 3, 15],
        };
        assert_eq!(parse_info(&info).unwrap().design_id, 0x1234_5678);
        assert!(parse_info(&r).is_err());
        assert_eq!(Nack::from_code(4), Some(Nack::Timeout));
        assert_eq!(Nack::from_code(9), None);
    }
}
