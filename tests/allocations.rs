//! The kernel's steady state allocates (almost) nothing per event: a counting global
//! allocator around a calm stretch of a bundled perpetual scenario. Its own binary, so
//! the allocator counts nothing but this test.

// The counting allocator is the one unsafe impl in the project: it only forwards.
#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn a_calm_stretch_allocates_per_simulated_minute_not_per_event() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/liquidity-drought.toml");
    let overrides = vec!["agents[2].count=5000".to_string()];
    let scenario = liqsim_scenario::load(&path, &overrides).unwrap();
    let mut world =
        liqsim_sim::World::new(liqsim_scenario::sim_config(&scenario).unwrap()).unwrap();
    // Warm up through the entries (the first hour) to a calm stretch before the 6h shock.
    let mut events = 0u64;
    while events < 100_000 {
        assert!(world.step().unwrap());
        events += 1;
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let from = world.now();
    let stretch = 100_000u64;
    for _ in 0..stretch {
        assert!(world.step().unwrap());
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    let minutes = world.now().since(from).as_seconds_f64() / 60.0;
    eprintln!("{allocations} allocations over {stretch} events, {minutes:.1} simulated minutes");
    // What remains is per simulated minute (a margin refresh, a metrics row): about 4 a
    // minute, where one per event would be about 400.
    assert!(allocations as f64 <= 8.0 * minutes, "{allocations} in {minutes:.1} minutes");
    assert!(allocations * 50 < stretch, "{allocations} allocations over {stretch} events");
}
