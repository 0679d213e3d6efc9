//! Measures build and simulation speed:
//! `cargo run --release -p hdlgen-sim --example build_times [-- CXX_OPT]`.
//! Run with `OBJCACHE=` (empty) for a build without ccache.
//!
//! Builds into a fresh cache directory: an 8-bit counter and a generated layer of 64
//! XNOR-popcount neurons over 256 inputs (registered), then loads each again from the
//! cache, then clocks them.

use hdlgen_sim::{build, BuildOptions, Design, Model, SimError, Verilator};
use std::fmt::Write;
use std::time::Instant;

const COUNTER: &str = "module counter(input clk, input rst, input en, output reg [7:0] q);
    always @(posedge clk) if (rst) q <= 8'd0; else if (en) q <= q + 8'd1;
endmodule
";

/// 64 neurons, 256 inputs, fixed pseudo-random ±1 weights.
fn layer() -> String {
    let mut v = String::from(
        "module layer(input clk, input [255:0] x, output reg [64*9-1:0] y);\n    always @(posedge clk) begin\n",
    );
    let mut r: u64 = 0x9e37_79b9_7f4a_7c15;
    for m in 0..64 {
        let mut w = String::new();
        for _ in 0..4 {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            let _ = write!(w, "{r:016x}");
        }
        let _ = writeln!(v, "        y[{m}*9 +: 9] <= $countones(~(x ^ 256'h{w}));");
    }
    v.push_str("    end\nendmodule\n");
    v
}

fn cycles_per_second(m: &Model, input: Option<&str>) -> Result<f64, SimError> {
    let mut s = m.instance()?;
    let clk = s.port("clk")?;
    let x = input.map(|n| s.port(n)).transpose()?;
    let n = 2_000_000u64;
    let t = Instant::now();
    for i in 0..n {
        if let Some(x) = x {
            s.set_wide(x, &[i as u32, (i >> 7) as u32, 3, 4, 5, 6, 7, i as u32]);
        }
        s.tick(clk);
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

fn main() -> Result<(), SimError> {
    let dir = tempfile::tempdir().map_err(|e| SimError::Trace(e.to_string()))?;
    let mut opts = BuildOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        ..BuildOptions::default()
    };
    if let Some(o) = std::env::args().nth(1) {
        opts.cxx_opt = o;
    }
    let t = Instant::now();
    let v = Verilator::find()?;
    println!(
        "{} (--version: {:.3} s)",
        v.version(),
        t.elapsed().as_secs_f64()
    );
    println!(
        "OBJCACHE={:?}, C++ {}, jobs {}",
        std::env::var("OBJCACHE").ok(),
        opts.cxx_opt,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let designs = [
        (Design::new("counter").text("counter.v", COUNTER), None),
        (Design::new("layer").text("layer.v", layer()), Some("x")),
    ];
    for (d, input) in designs {
        let fresh = build(&d, &opts)?;
        let cached = build(&d, &opts)?;
        println!(
            "{}: build {:.2} s, cached {:.2} ms, {:.2} M cycles/s",
            d.top,
            fresh.info().seconds,
            cached.info().seconds * 1e3,
            cycles_per_second(&fresh, input)? / 1e6
        );
    }
    Ok(())
}
