//! Simulation speed: `cargo bench -p hdlgen-sim --bench counter`.
//! Each iteration simulates 1,000 clock cycles of an 8-bit counter.

use hdlgen_sim::{build, BuildOptions, Design, Instance, Model, PortHandle};
use std::sync::OnceLock;

const COUNTER: &str = r#"
module counter (
    input            clk,
    input            rst,
    input            en,
    output reg [7:0] q,
    output           full
);
    always @(posedge clk) begin
        if (rst) q <= 8'd0;
        else if (en) q <= q + 8'd1;
    end
    assign full = &q;
endmodule
"#;

const CYCLES: u64 = 1000;

fn main() {
    divan::main();
}

fn model() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| {
        let d = Design::new("counter").text("counter.v", COUNTER);
        match build(&d, &BuildOptions::default()) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        }
    })
}

fn setup() -> (Instance, PortHandle, PortHandle) {
    let mut s = model().instance().expect("instance");
    let p = |n| model().port(n).expect("port");
    let (clk, rst, en, q) = (p("clk"), p("rst"), p("en"), p("q"));
    s.set(rst, 1);
    s.tick(clk);
    s.set(rst, 0);
    s.set(en, 1);
    (s, clk, q)
}

/// Clock only.
#[divan::bench]
fn ticks(b: divan::Bencher) {
    let (mut s, clk, _) = setup();
    b.counter(divan::counter::ItemsCount::new(CYCLES))
        .bench_local(|| s.ticks(clk, CYCLES));
}

/// Clock plus a per-cycle check against a Rust model, as co-simulation does.
#[divan::bench]
fn ticks_checked(b: divan::Bencher) {
    let (mut s, clk, q) = setup();
    let mut want = s.get(q) as u8;
    b.counter(divan::counter::ItemsCount::new(CYCLES))
        .bench_local(|| {
            for _ in 0..CYCLES {
                s.tick(clk);
                want = want.wrapping_add(1);
                assert_eq!(s.get(q), u64::from(want));
            }
        });
}
