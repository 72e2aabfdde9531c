//! `liqsim risk` through the binary: closed-form values, a P&L file in both layouts, and
//! bad input rejected with exit code 2 naming the flag or the file and line.

use crate::support::{Scratch, liqsim};

fn value(args: &[&str]) -> f64 {
    let out = liqsim(&[&["risk"], args, &["--format", "json"]].concat());
    assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 3, "{v}");
    assert!(v["measure"].is_string() && v["alpha"].is_number());
    v["value"].as_f64().unwrap()
}

#[test]
fn closed_forms() {
    // Standard normal: VaR 99% 2.326348, ES 97.5% 2.337803 (the Basel FRTB pair).
    assert!(
        (value(&["--measure", "var", "--alpha", "0.99", "--dist", "normal"]) - 2.326_348).abs()
            < 1e-6
    );
    assert!(
        (value(&["--measure", "es", "--alpha", "0.975", "--dist", "normal"]) - 2.337_803).abs()
            < 1e-6
    );
    // P&L mean +1, sigma 2: the loss is N(-1, 4): VaR 99% = -1 + 2 x 2.326348.
    let v = value(&[
        "--measure",
        "var",
        "--alpha",
        "0.99",
        "--dist",
        "normal",
        "--mu",
        "1",
        "--sigma",
        "2",
    ]);
    assert!((v - (-1.0 + 2.0 * 2.326_348)).abs() < 1e-5, "{v}");
    // Student-t with 4 degrees of freedom: 0.99 quantile 3.746947, scaled by 0.02.
    let v = value(&["--measure", "var", "--alpha", "0.99", "--dist", "t:4", "--sigma", "0.02"]);
    assert!((v - 0.02 * 3.746_947).abs() < 1e-7, "{v}");
    // t ES exceeds t VaR at the same level.
    let e = value(&["--measure", "es", "--alpha", "0.99", "--dist", "t:4", "--sigma", "0.02"]);
    assert!(e > v);
}

#[test]
fn pnl_file_plain_and_csv() {
    let scratch = Scratch::new();
    // P&L -10..-1 then 0: losses 10, 9, ..., 1, 0 over 11 lines (and a blank one).
    let plain: String = (0..=10).map(|i| format!("{}\n", -i)).collect::<String>() + "\n";
    let p = scratch.write("pnl.txt", &plain);
    // VaR 0.9: ceil(11 x 0.9) = 10th smallest loss of 0..10 = 9.
    assert_eq!(value(&["--measure", "var", "--alpha", "0.9", "--pnl", p.to_str().unwrap()]), 9.0);
    // ES 0.8: tail 2.2 observations: (10 + 9 + 0.2 x 8) / 2.2.
    let es = value(&["--measure", "es", "--alpha", "0.8", "--pnl", p.to_str().unwrap()]);
    assert!((es - 20.6 / 2.2).abs() < 1e-12, "{es}");
    let csv: String =
        "day,pnl\n".to_string() + &(0..=10).map(|i| format!("{i},{}\n", -i)).collect::<String>();
    let c = scratch.write("pnl.csv", &csv);
    assert_eq!(value(&["--measure", "var", "--alpha", "0.9", "--pnl", c.to_str().unwrap()]), 9.0);
}

#[test]
fn bad_input_exits_2_naming_the_problem() {
    let scratch = Scratch::new();
    let broken = scratch.write("broken.txt", "1\n2\nabc\n");
    let no_column = scratch.write("nocol.csv", "day,loss\n1,2\n");
    let cases: [(&[&str], &[&str]); 7] = [
        (&["--measure", "var", "--alpha", "1.5", "--dist", "normal"], &["--alpha", "1e-12 to"]),
        // A tail too far for any quantile (the t quantile's beta inversion fails there).
        (
            &["--measure", "var", "--alpha", "1e-300", "--dist", "t:4"],
            &["--alpha 1e-300 is out of range", "from 1e-12 to 1 - 1e-12"],
        ),
        (&["--measure", "es", "--alpha", "0.99", "--dist", "t:1"], &["--dist", "> 1"]),
        (&["--measure", "es", "--alpha", "0.99", "--dist", "cauchy"], &["--dist", "t:NU"]),
        (
            &["--measure", "var", "--alpha", "0.99", "--dist", "normal", "--sigma", "0"],
            &["--sigma"],
        ),
        (
            &["--measure", "var", "--alpha", "0.99", "--pnl", broken.to_str().unwrap()],
            &["broken.txt", "3", "abc"],
        ),
        (
            &["--measure", "var", "--alpha", "0.99", "--pnl", no_column.to_str().unwrap()],
            &["nocol.csv", "pnl"],
        ),
    ];
    for (args, needles) in cases {
        let out = liqsim(&[&["risk"], args].concat());
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        for n in needles {
            assert!(out.stderr.contains(n), "{args:?}: `{n}` not in {}", out.stderr);
        }
    }
}
