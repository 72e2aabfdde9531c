//! `liqsim compare` throughput: quickstart under four policies x 20 seeds, on one and on
//! two threads, reported as runs per second. The results must not depend on the thread
//! count: the bench checks that both give the same digests before timing.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::path::Path;

fn configs() -> Vec<liqsim_sim::SimConfig> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml");
    let mut out = Vec::new();
    for policy in liqsim_scenario::Policy::NAMES {
        for seed in 7..27 {
            let overrides = vec![format!("margin.policy=\"{policy}\""), format!("seed={seed}")];
            let s = liqsim_scenario::load(&path, &overrides).unwrap_or_else(|e| panic!("{e}"));
            out.push(liqsim_scenario::sim_config(&s).unwrap_or_else(|e| panic!("{e}")));
        }
    }
    out
}

fn digests(configs: &[liqsim_sim::SimConfig], threads: usize) -> Vec<String> {
    liqsim_sweep::execute(
        configs,
        threads,
        |c| liqsim_sim::run(c.clone()).map(|o| o.digest),
        |_, _| Ok(()),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn compare(c: &mut Criterion) {
    let configs = configs();
    assert_eq!(digests(&configs, 1), digests(&configs, 2), "results depend on the thread count");
    let mut group = c.benchmark_group("compare_quickstart_4x20");
    group.sample_size(10);
    group.throughput(Throughput::Elements(configs.len() as u64));
    for threads in [1, 2] {
        group.bench_function(format!("threads_{threads}"), |b| {
            b.iter(|| digests(&configs, threads))
        });
    }
    group.finish();
}

criterion_group!(benches, compare);
criterion_main!(benches);
