//! Reference-model benchmarks for the targets of the foundation issue:
//! `hdlgen check` on each example, BNN images/s on example (a), SNN time steps/s on
//! example (b) with random input at 10 % spike density.
//!
//! Run: `cargo bench -p hdlgen --bench reference`

use std::path::PathBuf;

use divan::counter::ItemsCount;
use divan::Bencher;
use hdlgen::arith::SplitMix64;
use hdlgen::input::{Event, Sample};
use hdlgen::Network;

fn main() {
    divan::main();
}

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

fn load(name: &str) -> Network {
    match Network::load(&example(name)) {
        Ok(n) => n,
        Err(e) => panic!("{name}: {e}"),
    }
}

#[divan::bench(args = ["mnist_bnn.yaml", "nmnist_snn.yaml", "dvs_digits_snn.yaml", "fashion_snn.yaml", "digits/bnn.yaml", "digits/snn.yaml"])]
fn check(b: Bencher, name: &str) {
    if !example(name).exists() {
        return;
    }
    b.bench(|| load(name));
}

/// Random 8-bit MNIST-sized images.
fn images(n: usize) -> Vec<Sample> {
    let mut g = SplitMix64::new(1);
    (0..n)
        .map(|_| Sample::Values((0..784).map(|_| g.uniform(0, 255)).collect()))
        .collect()
}

#[divan::bench]
fn bnn_mnist_image(b: Bencher) {
    let net = load("mnist_bnn.yaml");
    let xs = images(16);
    let mut i = 0;
    b.counter(ItemsCount::new(1usize)).bench_local(|| {
        i = (i + 1) % xs.len();
        net.run(&xs[i], false)
    });
}

/// DVS events with each (step, pixel, polarity) spiking with probability `density`.
fn events(h: i64, w: i64, steps: i64, bin_us: i64, density: f64, seed: u64) -> Sample {
    let mut g = SplitMix64::new(seed);
    let mut ev = Vec::new();
    let thresh = (density * (u64::MAX as f64)) as u64;
    for t in 0..steps {
        for y in 0..h {
            for x in 0..w {
                for p in 0..2 {
                    if g.next() < thresh {
                        ev.push(Event {
                            x,
                            y,
                            p,
                            t_us: t * bin_us + (g.next() % bin_us as u64) as i64,
                        });
                    }
                }
            }
        }
    }
    Sample::Events(ev)
}

#[divan::bench]
fn snn_nmnist_sample_of_25_steps(b: Bencher) {
    let net = load("nmnist_snn.yaml");
    let steps = net.temporal.as_ref().map_or(1, |t| t.steps);
    let sample = events(34, 34, steps as i64, 1000, 0.10, 7);
    b.counter(ItemsCount::new(steps))
        .bench_local(|| net.run(&sample, false));
}
