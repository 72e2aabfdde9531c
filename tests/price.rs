//! `liqsim price` through the binary: textbook values, the JSON shape, and bad flags
//! rejected with exit code 2 and the flag's name.

use crate::support::liqsim;

fn json(args: &[&str]) -> serde_json::Value {
    let out = liqsim(args);
    assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

fn num(v: &serde_json::Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("`{key}` missing in {v}"))
}

#[test]
fn bsm_matches_hull() {
    // Hull, Example 15.6: S0 = 42, K = 40, r = 10%, sigma = 20%, T = 0.5: c = 4.76, p = 0.81.
    let base = ["price", "--model", "bsm", "--spot", "42", "--strike", "40", "--vol", "0.2"];
    let tail = ["--t", "0.5", "--rate", "0.1", "--format", "json"];
    let call = json(&[&base[..], &["--kind", "call"], &tail[..]].concat());
    let put = json(&[&base[..], &["--kind", "put"], &tail[..]].concat());
    assert!((num(&call, "price") - 4.76).abs() < 0.005);
    assert!((num(&put, "price") - 0.81).abs() < 0.005);
    for key in ["price", "delta", "gamma", "vega", "theta", "rho"] {
        assert!(call[key].is_number(), "{key}");
    }
    assert_eq!(call.as_object().unwrap().len(), 6);
    // Fields in the documented order.
    let out = liqsim(&[&base[..], &["--kind", "call"], &tail[..]].concat()).stdout;
    let at = |k: &str| out.find(&format!("\"{k}\"")).unwrap();
    assert!(at("price") < at("delta") && at("delta") < at("gamma") && at("gamma") < at("vega"));
    assert!(at("vega") < at("theta") && at("theta") < at("rho"));
    // Call delta minus put delta is 1 without dividends; theta negative for the call.
    assert!((num(&call, "delta") - num(&put, "delta") - 1.0).abs() < 1e-12);
    assert!(num(&call, "theta") < 0.0);
}

#[test]
fn black76_matches_haug_and_merton_reduces_to_bsm() {
    // Haug's Black-76 example: F = 19, X = 19, T = 0.75, r = 10%, v = 28%: 1.7011.
    let v = json(&[
        "price",
        "--model",
        "black76",
        "--kind",
        "put",
        "--forward",
        "19",
        "--strike",
        "19",
        "--vol",
        "0.28",
        "--t",
        "0.75",
        "--rate",
        "0.1",
        "--format",
        "json",
    ]);
    assert!((num(&v, "price") - 1.7011).abs() < 5e-5);
    // rho holds the forward fixed: -t x price.
    assert!((num(&v, "rho") + 0.75 * num(&v, "price")).abs() < 1e-12);
    let merton = json(&[
        "price",
        "--model",
        "merton",
        "--kind",
        "call",
        "--spot",
        "100",
        "--strike",
        "110",
        "--vol",
        "0.3",
        "--t",
        "1",
        "--rate",
        "0.02",
        "--div",
        "0.01",
        "--jump-intensity",
        "0",
        "--jump-mean",
        "-0.1",
        "--jump-vol",
        "0.2",
        "--format",
        "json",
    ]);
    let bsm = json(&[
        "price", "--model", "bsm", "--kind", "call", "--spot", "100", "--strike", "110", "--vol",
        "0.3", "--t", "1", "--rate", "0.02", "--div", "0.01", "--format", "json",
    ]);
    assert!((num(&merton, "price") - num(&bsm, "price")).abs() < 1e-12);
    // With crash jumps the out-of-the-money put gains value.
    let put = |intensity: &str| {
        num(
            &json(&[
                "price",
                "--model",
                "merton",
                "--kind",
                "put",
                "--spot",
                "100",
                "--strike",
                "80",
                "--vol",
                "0.3",
                "--t",
                "0.5",
                "--rate",
                "0.02",
                "--jump-intensity",
                intensity,
                "--jump-mean",
                "-0.15",
                "--jump-vol",
                "0.1",
                "--format",
                "json",
            ]),
            "price",
        )
    };
    assert!(put("2") > put("0") + 0.5);
}

#[test]
fn table_format_lists_every_figure() {
    let out = liqsim(&[
        "price", "--model", "bsm", "--kind", "call", "--spot", "49", "--strike", "50", "--vol",
        "0.2", "--t", "0.3846", "--rate", "0.05",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for key in ["price", "delta", "gamma", "vega", "theta", "rho"] {
        assert!(out.stdout.lines().any(|l| l.starts_with(key)), "{key} in {}", out.stdout);
    }
    // Hull's delta for this option is 0.522.
    let delta: f64 = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("delta"))
        .map(|x| x.trim().parse().unwrap())
        .unwrap();
    assert!((delta - 0.522).abs() < 0.0005);
}

#[test]
fn bad_values_exit_2_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--model", "bsm", "--kind", "call", "--spot", "100", "--strike", "100", "--vol",
                "-0.2", "--t", "1", "--rate", "0",
            ],
            "--vol",
        ),
        (
            &[
                "--model", "bsm", "--kind", "call", "--spot", "100", "--strike", "100", "--vol",
                "0.2", "--t", "-1", "--rate", "0",
            ],
            "--t",
        ),
        (
            &[
                "--model", "bsm", "--kind", "call", "--spot", "0", "--strike", "100", "--vol",
                "0.2", "--t", "1", "--rate", "0",
            ],
            "--spot",
        ),
        (
            &[
                "--model", "bsm", "--kind", "call", "--strike", "100", "--vol", "0.2", "--t", "1",
                "--rate", "0",
            ],
            "--spot",
        ),
        (
            &[
                "--model",
                "black76",
                "--kind",
                "put",
                "--spot",
                "100",
                "--forward",
                "100",
                "--strike",
                "100",
                "--vol",
                "0.2",
                "--t",
                "1",
                "--rate",
                "0",
            ],
            "--spot",
        ),
        (
            &[
                "--model", "black76", "--kind", "put", "--strike", "100", "--vol", "0.2", "--t",
                "1", "--rate", "0",
            ],
            "--forward",
        ),
        (
            &[
                "--model",
                "merton",
                "--kind",
                "put",
                "--spot",
                "100",
                "--strike",
                "100",
                "--vol",
                "0.2",
                "--t",
                "1",
                "--rate",
                "0",
                "--jump-intensity",
                "1",
                "--jump-mean",
                "0",
            ],
            "--jump-vol",
        ),
        (
            &[
                "--model",
                "merton",
                "--kind",
                "put",
                "--spot",
                "100",
                "--strike",
                "100",
                "--vol",
                "0.2",
                "--t",
                "1",
                "--rate",
                "0",
                "--jump-intensity",
                "-1",
                "--jump-mean",
                "0",
                "--jump-vol",
                "0.1",
            ],
            "--jump-intensity",
        ),
        (
            &[
                "--model", "bsm", "--kind", "call", "--spot", "100", "--strike", "100", "--vol",
                "NaN", "--t", "1", "--rate", "0",
            ],
            "--vol",
        ),
        (
            &[
                "--model", "heston", "--kind", "call", "--spot", "100", "--strike", "100", "--vol",
                "0.2", "--t", "1", "--rate", "0",
            ],
            "--model",
        ),
    ];
    for (args, flag) in cases {
        let out = liqsim(&[&["price"][..], args].concat());
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(flag), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty());
    }
    // The valid range is named too.
    let out = liqsim(&[
        "price", "--model", "bsm", "--kind", "call", "--spot", "100", "--strike", "100", "--vol",
        "-1", "--t", "1", "--rate", "0",
    ]);
    assert!(out.stderr.contains("[0, 20]"), "{}", out.stderr);
}

#[test]
fn expiry_and_zero_vol_give_intrinsic_value() {
    let v = json(&[
        "price", "--model", "bsm", "--kind", "put", "--spot", "90", "--strike", "100", "--vol",
        "0.3", "--t", "0", "--rate", "0.05", "--format", "json",
    ]);
    assert_eq!(num(&v, "price"), 10.0);
    assert_eq!(num(&v, "delta"), -1.0);
    assert_eq!(num(&v, "gamma"), 0.0);
}
