//! Error messages name what the user wrote: the flag, the last of two overrides of one
//! key, the valid range rather than a Rust type, the key of a TOML syntax error.

use crate::support::{Scratch, liqsim};

const Q: &str = "scenarios/quickstart.toml";

fn refused(args: &[&str]) -> String {
    let out = liqsim(args);
    assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
    out.stderr
}

#[test]
fn errors_of_grid_seed_and_seeds_name_those_flags_not_set() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let e = refused(&[
        "sweep",
        Q,
        "--grid",
        "margin.confidence=0.99,abc",
        "--seeds",
        "1",
        "--out",
        out,
    ]);
    assert!(
        e.starts_with("error: --grid margin.confidence=0.99,abc: key `margin.confidence`"),
        "{e}"
    );
    let e = refused(&["run", Q, "--seed", "18446744073709551615"]);
    assert!(e.starts_with("error: --seed 18446744073709551615: key `seed`"), "{e}");
    // The last of three seeds is past the range: refused before any run, naming --seeds.
    let e =
        refused(&["sweep", Q, "--seeds", "3", "--set", "seed=9223372036854775806", "--out", out]);
    assert!(e.starts_with("error: --seeds 3 (seed 9223372036854775808)"), "{e}");
    assert!(
        !dir.path().join("runs").exists()
            || std::fs::read_dir(dir.path().join("runs")).unwrap().count() == 0
    );
    let e = refused(&["compare", Q, "--seeds", "3", "--set", "seed=9223372036854775806"]);
    assert!(e.starts_with("error: --seeds 3 (seed 9223372036854775808)"), "{e}");
}

#[test]
fn the_last_override_of_a_key_is_blamed() {
    let e = refused(&["validate", Q, "--set", "agents[1].count=5", "--set", "agents[1].count=abc"]);
    assert!(e.starts_with("error: --set agents[1].count=abc:"), "{e}");
}

#[test]
fn a_value_of_the_wrong_type_gets_the_valid_range_not_a_rust_type() {
    for (set, valid) in [
        ("agents[1].count=abc", "expected an integer (valid: 1 <= count <= 10000000)"),
        ("agents[1].count=1.5", "expected an integer (valid: 1 <= count <= 10000000)"),
        ("margin.confidence=\"x\"", "expected a number (valid: 0 < x < 1)"),
    ] {
        let e = refused(&["validate", Q, "--set", set]);
        assert!(e.contains(valid), "{set}: {e}");
        assert!(!e.contains("i64") && !e.contains("f64"), "{e}");
    }
}

#[test]
fn duplicate_keys_and_deep_nesting_name_the_key() {
    let s = Scratch::new();
    let cases = [
        (
            "name = \"a\"\nname = \"b\"\n".to_string(),
            ":2:1: key `name`: TOML syntax error: duplicate key",
        ),
        ("[market]\ntick_size = 1\n[market]\nstep = \"1s\"\n".into(), ":3:2: key `market`:"),
        (
            "[market]\ntick_size = 1\ntick_size = 2\n".into(),
            ":3:1: key `market.tick_size`: TOML syntax error: duplicate key",
        ),
        (
            format!("a = {}{}\n", "[".repeat(200), "]".repeat(200)),
            "key `a`: TOML syntax error: cannot recurse",
        ),
    ];
    for (text, needle) in cases {
        let file = s.write("s.toml", &text);
        let e = refused(&["validate", file.to_str().unwrap()]);
        assert!(e.contains(needle), "{needle} not in {e}");
    }
}

/// An entry of an array of tables replaced whole by an inline table keeps what it says;
/// a value that is no table is refused naming the override.
#[test]
fn a_table_entry_replaced_by_set_keeps_its_keys() {
    let ok =
        liqsim(&["validate", Q, "--set", "market.shocks[0]={kind=\"jump\", at=\"1h\", size=-0.5}"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let e = refused(&["validate", Q, "--set", "market.shocks[0]=5"]);
    assert!(e.starts_with("error: --set market.shocks[0]=5:") && e.contains("must be one"), "{e}");
}
