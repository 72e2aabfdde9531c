//! The one integration-test binary: behaviour through the CLI and the public APIs, with
//! the scenario library as test data, plus the architecture rules.

// A failed expectation in a test is the test failing; it never meets user input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod architecture;
mod backtest;
mod bad_input;
mod calibrate;
mod cascade;
mod collateral;
mod compare;
mod extremes;
mod fidelity;
mod fuzz;
mod history;
mod invariants;
mod logs;
mod options;
mod price;
mod progress;
mod provenance;
mod risk;
mod run;
mod scenarios;
mod stylized;
mod support;
mod sweep;
mod target;
mod wording;
mod world;
