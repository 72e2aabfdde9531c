"""The Python interface against the command line: same digests, tables that agree with
the summary, errors that name the key."""

import json
import os
import subprocess
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

import liqsim

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "scenarios" / "quickstart.toml"
SMALL = {"agents[1].count": 300, "duration": "3h"}


def liqsim_cli(*args: str) -> dict:
    """`liqsim run ... --format json` from the command line the tests were built with."""
    binary = os.environ.get("LIQSIM_BIN", str(ROOT / "target" / "release" / "liqsim"))
    out = subprocess.run(
        [binary, "run", *args, "--format", "json"], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_the_digest_is_the_command_lines():
    r = liqsim.run(QUICKSTART, seed=11, policy="fixed", set=SMALL)
    cli = liqsim_cli(
        str(QUICKSTART), "--seed", "11", "--policy", "fixed",
        "--set", "agents[1].count=300", "--set", 'duration="3h"',
    )
    assert r.digest == cli["digest"]
    assert r.summary == cli


def test_logs_are_arrow_tables_that_agree_with_the_summary():
    r = liqsim.run(QUICKSTART, policy="fixed", set=SMALL)
    assert set(r.logs) == {"timeseries", "liquidations", "trades", "forced_closes", "funding", "fund"}
    assert all(isinstance(t, pa.Table) for t in r.logs.values())
    liquidations = pl.from_arrow(r.liquidations)
    assert liquidations.height == r.summary["liquidations"]["count"]
    assert liquidations["notional"].sum() == pytest.approx(r.summary["liquidations"]["notional"])
    series = r.timeseries.to_pandas()
    assert "index" not in series.columns and "index_price" in series.columns
    assert len(series) == 180
    adl = pl.from_arrow(r.forced_closes).filter(pl.col("kind") == "adl").height
    assert adl == r.summary["adl"]["count"]


def test_without_logs_only_the_series_and_liquidations():
    r = liqsim.run(QUICKSTART, set=SMALL, logs=False)
    assert set(r.logs) == {"timeseries", "liquidations"}


def test_a_replay_has_utc_times():
    r = liqsim.run(
        ROOT / "scenarios" / "black-thursday-2020.toml",
        set={"duration": "30m", "agents[1].count": 300},
    )
    utc = r.timeseries.column("utc")
    assert pa.types.is_timestamp(utc.type) and utc.type.tz == "UTC"
    assert str(utc[0].as_py().date()) == "2020-03-12"


def test_compare_and_sweep_return_one_row_per_run():
    c = pl.from_arrow(liqsim.compare(QUICKSTART, policies=["es", "fixed"], seeds=2, set=SMALL))
    assert c["policy"].to_list() == ["es", "es", "fixed", "fixed"]
    assert c["seed"].to_list() == [7, 8, 7, 8]
    single = liqsim.run(QUICKSTART, seed=8, policy="fixed", set=SMALL, logs=False)
    assert c["digest"][3] == single.digest
    s = pl.from_arrow(
        liqsim.sweep(QUICKSTART, grid={"liquidation.fee": [0.005, 0.01]}, seeds=2, set=SMALL)
    )
    assert s.height == 4
    assert s["liquidation.fee"].to_list() == ["0.005", "0.005", "0.01", "0.01"]
    assert s["digest"].n_unique() == 4


def test_bad_input_raises_value_error_naming_the_key():
    with pytest.raises(ValueError, match="margin.confidence"):
        liqsim.run(QUICKSTART, set={"margin.confidence": 2.0})
    with pytest.raises(ValueError, match="cannot read"):
        liqsim.run(ROOT / "scenarios" / "no-such.toml")


def test_the_readme_three_lines():
    """The README's example, as written there."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- python example: tested by python/tests -->", 1)[1]
    code = block.split("```python", 1)[1].split("```", 1)[0]
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        scope: dict = {}
        exec(code, scope)
    finally:
        os.chdir(cwd)
    df = scope["liquidations"]
    assert isinstance(df, pl.DataFrame) and df.height > 0
    assert {"time_s", "utc", "fill_price", "group", "leverage", "depth"} <= set(df.columns)
