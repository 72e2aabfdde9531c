//! Whole-run benchmarks: `liqsim run` on bundled scenarios, timed by criterion and
//! reported as events per second. Each bench prints the digest of what it ran, so a
//! speed-up that changes results shows in the output.
//!
//! `one-day` is the benchmark day of `benches/one-day.toml` (1,116 agents over 6.5 hours)
//! as written and with every group 100 times larger: the cost per event of the two should
//! stay within 1.2x of each other (compare the two throughputs, in events per second).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::path::Path;

fn scenario(name: &str, overrides: &[&str]) -> liqsim_sim::SimConfig {
    load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name), overrides)
}

fn load(path: &Path, overrides: &[&str]) -> liqsim_sim::SimConfig {
    let name = path.display();
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let loaded = liqsim_scenario::load(path, &overrides).unwrap_or_else(|e| panic!("{name}: {e}"));
    liqsim_scenario::sim_config(&loaded).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn runs(c: &mut Criterion) {
    let mut group = c.benchmark_group("run");
    group.sample_size(10);
    for (name, overrides) in [
        ("quickstart.toml", &[][..]),
        ("calm-baseline.toml", &[][..]),
        ("jump-crash.toml", &["agents[2].count=10000"][..]),
        ("liquidity-drought.toml", &[][..]),
        (
            "options-gamma-squeeze.toml",
            &["agents[2].count=500", "agents[3].count=250", "agents[4].count=1000"][..],
        ),
    ] {
        let config = scenario(name, overrides);
        let outcome = liqsim_sim::run(config.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        println!("{name}: digest {} over {} events", outcome.digest, outcome.events);
        group.throughput(Throughput::Elements(outcome.events));
        group.bench_function(name, |b| b.iter(|| liqsim_sim::run(config.clone())));
    }
    group.finish();
}

/// The benchmark day at 1x and 100x its population: makers, small traders, arbitrageurs
/// and momentum traders each multiplied.
fn one_day(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches").join("one-day.toml");
    let mut group = c.benchmark_group("one-day");
    group.sample_size(10);
    for (name, overrides) in [
        ("1x", &[][..]),
        (
            "100x",
            &[
                "agents[0].count=200",
                "agents[1].count=100000",
                "agents[2].count=10200",
                "agents[3].count=1200",
            ][..],
        ),
    ] {
        let config = load(&path, overrides);
        let started = std::time::Instant::now();
        let outcome = liqsim_sim::run(config.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let per_event_ns = started.elapsed().as_nanos() as f64 / outcome.events.max(1) as f64;
        println!(
            "one-day {name}: digest {} over {} events, first run {per_event_ns:.0} ns per event",
            outcome.digest, outcome.events
        );
        group.throughput(Throughput::Elements(outcome.events));
        group.bench_function(name, |b| b.iter(|| liqsim_sim::run(config.clone())));
    }
    group.finish();
}

criterion_group!(benches, runs, one_day);
criterion_main!(benches);
