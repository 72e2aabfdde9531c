//! Any text as a scenario file: it loads and converts for the kernel, or it is refused
//! as bad input (exit code 2). A panic or an internal error is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Data files named by the text resolve against the bundled scenarios' directory.
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    match liqsim_scenario::load_str(text, "fuzz.toml", &base, &[]) {
        Ok(scenario) => {
            if let Err(e) = liqsim_scenario::sim_config(&scenario) {
                assert_eq!(e.exit_code(), 2, "a valid scenario failed to convert: {e}");
            }
        }
        Err(e) => assert_eq!(e.exit_code(), 2, "not an input error: {e}"),
    }
});
