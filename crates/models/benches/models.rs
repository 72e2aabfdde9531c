//! Throughput of the price processes (steps per second) and of Black-76 with all Greeks.
//!
//! Each benchmark prints a checksum of what it computed once before timing, so a change
//! that speeds a process up by changing its output shows in the log. Run with
//! `cargo bench -p liqsim-models --bench models -- --warm-up-time 1 --measurement-time 3`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use liqsim_core::{SimDuration, SimTime, StreamId};
use liqsim_models::process::build;
use liqsim_models::{
    Bar, OptionKind, PriceProcess, ProcessSpec, RateUnit, Replay, black76_greeks,
    black76_implied_vol,
};
use std::hint::black_box;

const STEPS: u64 = 10_000;

fn specs() -> Vec<(&'static str, Box<dyn PriceProcess>)> {
    let unit = RateUnit::PerYear;
    let minute = 60_000_000_000u64;
    let bars: Vec<Bar> = (0..1000u64)
        .map(|i| {
            let p = 100.0 + (i as f64 * 0.1).sin();
            Bar { time_ns: i * minute, open: p, high: p * 1.01, low: p * 0.99, close: p * 1.001 }
        })
        .collect();
    let replay: Box<dyn PriceProcess> = match Replay::new(bars) {
        Ok(r) => Box::new(r),
        Err(e) => panic!("bench bars are valid: {e}"),
    };
    vec![
        ("gbm", build(&ProcessSpec::Gbm { vol: 0.8, drift: 0.0 }, unit)),
        (
            "merton",
            build(
                &ProcessSpec::Merton {
                    vol: 0.6,
                    drift: 0.0,
                    jump_intensity: 50.0,
                    jump_mean: -0.02,
                    jump_vol: 0.05,
                },
                unit,
            ),
        ),
        (
            "kou",
            build(
                &ProcessSpec::Kou {
                    vol: 0.6,
                    drift: 0.0,
                    jump_intensity: 50.0,
                    p_up: 0.4,
                    eta_up: 30.0,
                    eta_down: 20.0,
                },
                unit,
            ),
        ),
        (
            "svcj",
            build(
                &ProcessSpec::Svcj {
                    drift: 0.0,
                    kappa: 5.0,
                    theta: 0.36,
                    sigma_v: 1.0,
                    rho: -0.5,
                    v0: 0.36,
                    jump_intensity: 50.0,
                    jump_mean: -0.02,
                    jump_vol: 0.04,
                    jump_var_mean: 0.1,
                    jump_corr: -0.5,
                },
                unit,
            ),
        ),
        (
            "garch_t",
            build(
                &ProcessSpec::GarchT { omega: 1e-8, alpha: 0.08, beta: 0.9, nu: 5.0, drift: 0.0 },
                unit,
            ),
        ),
        ("replay", replay),
    ]
}

fn run(p: &mut dyn PriceProcess, steps: u64, seed: u64) -> f64 {
    let mut rng = StreamId::named("bench").rng(seed);
    let dt = SimDuration::from_secs(1);
    let mut t = SimTime::START;
    let mut x = 0.0;
    for _ in 0..steps {
        x += p.step(t, dt, 1.0, &mut rng);
        // Replay ends after its bars; wrap so every step does real work.
        t = SimTime::from_nanos((t.nanos() + dt.nanos()) % 59_000_000_000_000);
    }
    x
}

fn processes(c: &mut Criterion) {
    let mut group = c.benchmark_group("process_steps");
    group.throughput(Throughput::Elements(STEPS));
    for (name, mut p) in specs() {
        println!("checksum {name}: {:.12}", run(p.as_mut(), STEPS, 1));
        group.bench_function(name, |b| b.iter(|| black_box(run(p.as_mut(), STEPS, 2))));
    }
    group.finish();
}

fn black76(c: &mut Criterion) {
    let g = black76_greeks(OptionKind::Call, 100.0, 105.0, 0.6, 0.25, 0.03);
    println!("checksum black76: {:?}", g);
    c.bench_function("black76_greeks", |b| {
        b.iter(|| {
            black76_greeks(
                black_box(OptionKind::Call),
                black_box(100.0),
                black_box(105.0),
                black_box(0.6),
                black_box(0.25),
                black_box(0.03),
            )
        })
    });
    c.bench_function("black76_implied_vol", |b| {
        b.iter(|| {
            black76_implied_vol(
                black_box(OptionKind::Call),
                black_box(g.price),
                black_box(100.0),
                black_box(105.0),
                black_box(0.25),
                black_box(0.03),
            )
        })
    });
}

criterion_group!(benches, processes, black76);
criterion_main!(benches);
