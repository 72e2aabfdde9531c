//! Whole-run benchmarks: `liqsim run` on bundled scenarios, timed by criterion and
//! reported as events per second. Each bench prints the digest of what it ran, so a
//! speed-up that changes results shows in the output.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::path::Path;

fn scenario(name: &str, overrides: &[&str]) -> liqsim_sim::SimConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name);
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let loaded = liqsim_scenario::load(&path, &overrides).unwrap_or_else(|e| panic!("{name}: {e}"));
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

criterion_group!(benches, runs);
criterion_main!(benches);
