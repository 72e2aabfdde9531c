//! The one place the command line turns a validated scenario into an outcome.

use liqsim_core::Error;
use liqsim_scenario::Scenario;
use liqsim_sim::Outcome;

/// Runs `scenario` with its seed and policy.
pub fn run_scenario(scenario: &Scenario) -> Result<Outcome, Error> {
    run_with(scenario, false)
}

/// As [`run_scenario`], checking every invariant after every event when `check` is set.
pub fn run_with(scenario: &Scenario, check: bool) -> Result<Outcome, Error> {
    let mut world = liqsim_sim::World::new(liqsim_scenario::sim_config(scenario)?)?;
    world.check_every_event(check);
    world.run()
}

/// As [`run_with`], with progress in simulated seconds on stderr (see
/// [`crate::progress`]), and the event logs when `keep_log` is set.
pub fn run_with_progress(
    scenario: &Scenario,
    check: bool,
    keep_log: bool,
) -> Result<(Outcome, Option<liqsim_sim::EventLog>), Error> {
    let mut world = liqsim_sim::World::new(liqsim_scenario::sim_config(scenario)?)?;
    world.check_every_event(check);
    if keep_log {
        world.keep_event_log();
    }
    let total_s = scenario.duration.as_seconds_f64().ceil().max(1.0) as u64;
    let progress = crate::progress::Progress::new(total_s, &scenario.name, "simulated s");
    // Often enough for a smooth bar, rare enough that reading the clock costs nothing.
    const EVERY_EVENTS: u64 = 1 << 14;
    let done = world.run_with_progress(EVERY_EVENTS, |now| {
        progress.set(now.since(liqsim_core::SimTime::START).as_seconds_f64() as u64);
    })?;
    progress.set(total_s);
    progress.finish();
    Ok(done)
}
