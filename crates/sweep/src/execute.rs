//! Parallel execution across runs.
//!
//! Runs execute on a rayon pool of exactly `threads` workers. Results come back in the
//! order of the input, whatever order the runs finish in, and every aggregate is computed
//! afterwards, serially, from that ordered vector: float sums in parallel would depend on
//! how work was split. `on_done` is called as each run finishes (from the worker that ran
//! it), for progress and for writing each result the moment it exists.

use liqsim_core::{Error, Result};
use rayon::prelude::*;

pub fn execute<T, R, F, D>(items: &[T], threads: usize, run: F, on_done: D) -> Result<Vec<R>>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> Result<R> + Sync,
    D: Fn(&T, &R) -> Result<()> + Sync,
{
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| Error::Internal(format!("thread pool: {e}")))?;
    pool.install(|| {
        items
            .par_iter()
            .map(|item| {
                let result = run(item)?;
                on_done(item, &result)?;
                Ok(result)
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn results_are_in_input_order_for_any_thread_count() {
        let items: Vec<u64> = (0..500).collect();
        // Uneven work so that runs finish out of order.
        let work = |&x: &u64| -> Result<u64> {
            Ok((0..(x % 17) * 1000).fold(x, |a, b| a.wrapping_mul(31).wrapping_add(b)))
        };
        let one = execute(&items, 1, work, |_, _| Ok(())).unwrap();
        let two = execute(&items, 2, work, |_, _| Ok(())).unwrap();
        let four = execute(&items, 4, work, |_, _| Ok(())).unwrap();
        assert_eq!(one, two);
        assert_eq!(one, four);
        let serial: Vec<u64> = items.iter().map(|x| work(x).unwrap()).collect();
        assert_eq!(one, serial);
    }

    #[test]
    fn every_run_is_reported_once_and_errors_propagate() {
        let done = AtomicUsize::new(0);
        let items: Vec<u32> = (0..100).collect();
        execute(
            &items,
            2,
            |&x| Ok(x),
            |_, _| {
                done.fetch_add(1, Ordering::Relaxed);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(done.load(Ordering::Relaxed), 100);
        let failed = execute(
            &items,
            2,
            |&x| if x == 42 { Err(Error::Internal("run 42".into())) } else { Ok(x) },
            |_, _| Ok(()),
        );
        assert!(failed.unwrap_err().to_string().contains("run 42"));
    }
}
