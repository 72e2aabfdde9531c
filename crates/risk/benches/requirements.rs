//! Requirements of 100,000 accounts holding 1 to 8 positions (a perpetual and 20
//! options) over 1,000 Monte Carlo scenarios: the matrix refresh, the per-account ES on
//! one thread, and the same accounts split over 1, 2 and 4 threads. Before timing, the
//! split results are checked bit for bit against the single-thread ones and a digest of
//! the figures is printed, so a speed-up that changes results shows.
//!
//! `es_100k_accounts_1_thread_whole_vector` times the method the crate used before tail
//! selection and block skipping (every loss, one pass per leg, `select_nth_unstable`),
//! so the two figures come from the same run on the same machine; its figures agree
//! with the crate's to 1e-9 relative (its tail sum runs in whatever order the selection
//! leaves, the crate's in ascending order).

use criterion::{Criterion, criterion_group, criterion_main};
use liqsim_core::StreamId;
use liqsim_models::OptionKind;
use liqsim_risk::hotpath::{Accounts, PnlMatrix, measure_range};
use liqsim_risk::linear::Measure;
use liqsim_risk::portfolio::{Instrument, Market};
use liqsim_risk::scenarios::{ScenarioSet, monte_carlo_set};
use rand::RngExt;
use rayon::prelude::*;
use statrs::distribution::Normal;
use std::hint::black_box;

const ACCOUNTS: usize = 100_000;
const SCENARIOS: usize = 1_000;
const MARKET: Market = Market { forward: 30_000.0, vol: 0.6, rate: 0.0 };

fn setup() -> (Vec<Instrument>, ScenarioSet, Accounts) {
    let mut instruments = vec![Instrument::Perpetual];
    for k in 0..10 {
        let strike = 20_000.0 + 2_000.0 * k as f64;
        for kind in [OptionKind::Call, OptionKind::Put] {
            let expiry_years = (7 + 14 * (k % 4)) as f64 / 365.0;
            instruments.push(Instrument::Option { kind, strike, expiry_years });
        }
    }
    let normal = Normal::standard();
    let mut rng = StreamId::named("bench-scenarios").rng(1);
    let set = monte_carlo_set(SCENARIOS, 1.0 / 365.0, &mut rng, |r| {
        use rand::distr::Distribution;
        (0.6 / 365f64.sqrt() * normal.sample(r), 0.1 * normal.sample(r))
    });
    let mut rng = StreamId::named("bench-accounts").rng(1);
    let mut accounts = Accounts::default();
    let mut positions = Vec::with_capacity(8);
    for _ in 0..ACCOUNTS {
        positions.clear();
        let k = rng.random_range(1..=8);
        for _ in 0..k {
            let i = rng.random_range(0..instruments.len() as u32);
            positions.push((i, rng.random_range(-5.0..5.0)));
        }
        accounts.push(&positions);
    }
    (instruments, set, accounts)
}

fn split(matrix: &PnlMatrix, accounts: &Accounts, threads: usize, out: &mut [f64]) {
    let chunk = ACCOUNTS.div_ceil(threads);
    out.par_chunks_mut(chunk).enumerate().for_each(|(c, slots)| {
        let start = c * chunk;
        let mut scratch = Vec::with_capacity(SCENARIOS);
        measure_range(
            matrix,
            accounts,
            start..start + slots.len(),
            Measure::Es,
            0.99,
            slots,
            &mut scratch,
        );
    });
}

/// The whole-vector method: every loss, one pass over the vector per leg, then
/// `select_nth_unstable` and the tail summed in the order it leaves.
fn whole_vector_es(
    matrix: &PnlMatrix,
    accounts: &Accounts,
    out: &mut [f64],
    losses: &mut Vec<f64>,
) {
    let n = matrix.scenarios();
    let tail = n as f64 * (1.0 - 0.99);
    let k = (tail.floor() as usize).min(n - 1);
    for (a, slot) in out.iter_mut().enumerate() {
        let (instruments, quantities) = accounts.positions(a);
        losses.clear();
        losses.resize(n, 0.0);
        for (i, q) in instruments.iter().zip(quantities) {
            for (l, p) in losses.iter_mut().zip(matrix.row(*i as usize)) {
                *l -= q * p;
            }
        }
        let (_, boundary, worst) = losses.select_nth_unstable_by(n - k - 1, f64::total_cmp);
        let boundary = *boundary;
        let sum: f64 = worst.iter().sum();
        *slot = ((sum + (tail - k as f64) * boundary) / tail).max(0.0);
    }
}

fn digest(values: &[f64]) -> u64 {
    // FNV-1a over the bits: any changed figure changes it.
    values.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, v| {
        (h ^ v.to_bits()).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn bench(c: &mut Criterion) {
    let (instruments, set, accounts) = setup();
    let matrix = PnlMatrix::new(&instruments, &MARKET, &set);
    let mut single = vec![0.0; ACCOUNTS];
    let mut scratch = Vec::with_capacity(SCENARIOS);
    measure_range(&matrix, &accounts, 0..ACCOUNTS, Measure::Es, 0.99, &mut single, &mut scratch);
    for threads in [1, 2, 4] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
        let Ok(pool) = pool else { return };
        let mut out = vec![0.0; ACCOUNTS];
        pool.install(|| split(&matrix, &accounts, threads, &mut out));
        assert_eq!(digest(&out), digest(&single), "{threads} threads differ");
    }
    let mut whole = vec![0.0; ACCOUNTS];
    whole_vector_es(&matrix, &accounts, &mut whole, &mut scratch);
    for (a, (x, y)) in single.iter().zip(&whole).enumerate() {
        assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "account {a}: {x} against {y}");
    }
    println!(
        "ES 0.99 of {ACCOUNTS} accounts over {SCENARIOS} scenarios: digest {:016x}",
        digest(&single)
    );

    let mut g = c.benchmark_group("requirements");
    g.sample_size(10);
    g.bench_function("matrix_refresh_21_instruments", |b| {
        let mut m = PnlMatrix::default();
        b.iter(|| m.refresh(black_box(&instruments), &MARKET, &set));
    });
    g.bench_function("es_100k_accounts_1_thread", |b| {
        b.iter(|| {
            measure_range(
                &matrix,
                &accounts,
                0..ACCOUNTS,
                Measure::Es,
                0.99,
                &mut single,
                &mut scratch,
            );
            black_box(&single);
        });
    });
    g.bench_function("es_100k_accounts_1_thread_whole_vector", |b| {
        b.iter(|| {
            whole_vector_es(&matrix, &accounts, &mut whole, &mut scratch);
            black_box(&whole);
        });
    });
    for threads in [2, 4] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
        let Ok(pool) = pool else { return };
        let mut out = vec![0.0; ACCOUNTS];
        g.bench_function(format!("es_100k_accounts_{threads}_threads"), |b| {
            b.iter(|| pool.install(|| split(&matrix, &accounts, threads, &mut out)));
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
