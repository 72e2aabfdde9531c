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
