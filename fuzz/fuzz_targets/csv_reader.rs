//! Any text as a price history: it reads and replays, or it is refused as bad input
//! (exit code 2). A panic or an internal error is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match liqsim_scenario::replay::parse_bars(text, "fuzz.csv") {
        Ok(history) => {
            if let Err(e) = liqsim_models::Replay::new(history.bars) {
                assert_eq!(e.exit_code(), 2, "bars read from a CSV were refused: {e}");
            }
        }
        Err(e) => assert_eq!(e.exit_code(), 2, "not an input error: {e}"),
    }
});
