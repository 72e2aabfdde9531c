//! The one integration-test binary: behaviour through the CLI and the public APIs, with
//! the scenario library as test data, plus the architecture rules.

mod architecture;
mod bad_input;
mod support;
