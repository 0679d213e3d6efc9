//! Packing values into the 32-bit words of a wide Verilator port.

/// `dw`-bit values packed as 32-bit words for a wide port (element i at bits
/// `[i*dw +: dw]`).
pub fn pack(vals: &[u64], dw: usize) -> Vec<u32> {
    let mut w = vec![0u32; (vals.len() * dw).div_ceil(32).max(1)];
    for (i, &v) in vals.iter().enumerate() {
        for b in 0..dw {
            if (v >> b) & 1 == 1 {
                let bit = i * dw + b;
                w[bit / 32] |= 1 << (bit % 32);
            }
        }
    }
    w
}
