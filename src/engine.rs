//! The one place the command line turns a validated scenario into an outcome.

use liqsim_core::Error;
use liqsim_scenario::Scenario;
use liqsim_sim::Outcome;

/// Runs `scenario` with its seed and policy.
pub fn run_scenario(scenario: &Scenario) -> Result<Outcome, Error> {
    liqsim_sim::run(liqsim_scenario::sim_config(scenario)?)
}
