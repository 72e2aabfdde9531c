//! `liqsim backtest`: margin coverage of a policy on real BTC daily history (2017-2025).

use crate::support::liqsim;

fn backtest(policy: &str, file: &str) -> serde_json::Value {
    let out = liqsim(&["backtest", file, "--policy", policy, "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn var_99_passes_coverage_and_a_flat_one_percent_fails() {
    let var = backtest("var", "scenarios/calm-baseline.toml");
    let tests = var["tests"].as_f64().unwrap();
    let breaches = var["breaches"].as_f64().unwrap();
    // About 2,558 daily tests after a 500-day window: 1% expected, about 26 breaches.
    assert!(tests > 2000.0, "{var}");
    assert!((breaches - 0.01 * tests).abs() < 3.0 * (0.01 * 0.99 * tests).sqrt(), "{var}");
    assert!(var["kupiec"]["p_value"].as_f64().unwrap() > 0.05, "{var}");
    let fixed = backtest("fixed", "scenarios/calm-baseline.toml");
    assert!(fixed["kupiec"]["p_value"].as_f64().unwrap() < 1e-6, "{fixed}");
    // ES 99% sits above VaR 99%, so it is breached less often.
    let es = backtest("es", "scenarios/calm-baseline.toml");
    assert!(es["breaches"].as_f64().unwrap() < breaches);
}

#[test]
fn backtests_need_a_history() {
    let out = liqsim(&["backtest", "scenarios/quickstart.toml", "--policy", "es"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("margin.history") || out.stderr.contains("margin.method"),
        "{}",
        out.stderr
    );
}
