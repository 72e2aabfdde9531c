//! `liqsim target`: the bisection lands within one step of a threshold known in closed
//! form, gives the same bytes at 1 and 2 threads, and refuses bad flags with exit 2.

use crate::support::{Scratch, liqsim};

/// 100 traders at exactly 10x (50 long, 50 short, crossed at the start), a flat price and
/// a -12% gap, with no book, no liquidation engine and no ADL: a long held at 10x loses
/// 120% of its equity in the gap, so there is bad debt exactly when the venue lets the
/// traders hold 10x, that is when the initial margin (twice the maintenance rate m) is at
/// most 10%: the cheapest m with no bad debt is just above 1/(2 x 10) = 0.05. Above it
/// the venue halves them to 5x, which the gap does not take past bankruptcy.
const GAP: &str = r#"name = "gap"
seed = 1
duration = "2h"

[market]
initial_price = 100.0
tick_size = 0.01
lot_size = 0.01
process = { kind = "gbm", vol = 0.0001 }

[[market.shocks]]
at = "1h"
kind = "jump"
size = -0.12

[[instruments]]
kind = "perpetual"
symbol = "P"

[margin]
policy = "fixed"

[liquidation]
engine = "none"
adl = false

[insurance_fund]
initial = 0.0

[[agents]]
kind = "leveraged_trader"
count = 100
deposit = { dist = "constant", value = 1000.0 }
leverage = { dist = "constant", value = 10.0 }
long_fraction = 0.5
open_at_start = true
"#;

fn target(path: &str, extra: &[&str]) -> crate::support::Output {
    let mut args = vec!["target", path, "--policies", "fixed", "--seeds", "2", "--format", "json"];
    args.extend_from_slice(extra);
    liqsim(&args)
}

#[test]
fn bisection_lands_within_one_step_of_a_closed_form_threshold() {
    let scratch = Scratch::new();
    let path = scratch.write("gap.toml", GAP);
    let path = path.to_str().unwrap();
    let out = target(path, &["--bad-debt", "0", "--steps", "12"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let fixed = &v["policies"][0];
    let m = fixed["setting"].as_f64().unwrap();
    // Twelve halvings of ln(0.5 / 0.001) from the ends of the range.
    let step = (0.5f64 / 0.001).ln() / 4096.0;
    assert!(m > 0.05 && m.ln() - 0.05f64.ln() <= step, "maintenance {m}");
    assert_eq!(v["least_margin"], "fixed");
    // Every evaluated setting at or below 0.05 leaves bad debt, every one above none.
    for s in fixed["evaluated"].as_array().unwrap() {
        let (x, meets) = (s["setting"].as_f64().unwrap(), s["meets"].as_bool().unwrap());
        assert_eq!(meets, x > 0.05, "{s}");
    }
    // Margin in quote units falls at 0.05: the venue halves the positions there. The
    // search says so.
    assert_eq!(fixed["monotone"], false);
    assert!(fixed["monotonicity"].as_str().unwrap().contains("mean margin falls"));
}

#[test]
fn target_is_the_same_at_any_thread_count_and_refuses_bad_flags() {
    let scratch = Scratch::new();
    let path = scratch.write("gap.toml", GAP);
    let path = path.to_str().unwrap();
    let one = target(path, &["--bad-debt", "0", "--steps", "5", "--threads", "1"]);
    let two = target(path, &["--bad-debt", "0", "--steps", "5", "--threads", "2"]);
    assert_eq!(one.code, 0, "{}", one.stderr);
    assert_eq!(one.stdout, two.stdout);
    for (flags, needle) in [
        (&["--bad-debt", "-1"][..], "--bad-debt"),
        (&["--bad-debt", "0", "--prob", "1.5"][..], "--prob"),
        (&["--bad-debt", "0", "--policies", "fixed,cheap"][..], "cheap"),
    ] {
        let mut args = vec!["target", path];
        args.extend_from_slice(flags);
        let out = liqsim(&args);
        assert_eq!(out.code, 2, "{flags:?}: {}", out.stderr);
        assert!(out.stderr.contains(needle), "{needle:?} not in {:?}", out.stderr);
    }
}
