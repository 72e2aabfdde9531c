# %% [markdown]
# # A liquidation cascade against the price
#
# Replays Black Thursday (12 March 2020) with liqsim, loads the liquidation log and the
# time series with polars, and draws the liquidated notional per minute, by cascade
# depth, under the mark price. Runs as a script (`python examples/cascade.py`) or cell by
# cell in an editor that knows `# %%` cells; the figure goes to `cascade.png` (or the
# path in `LIQSIM_FIGURE`).

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import polars as pl

import liqsim

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The first six hours keep the example under a minute; drop `duration` for the whole day.
run = liqsim.run(
    os.path.join(ROOT, "scenarios", "black-thursday-2020.toml"),
    set={"duration": os.environ.get("LIQSIM_EXAMPLE_DURATION", "6h")},
)
print(run.digest, run.summary["liquidations"])

# %%
liquidations = pl.from_arrow(run.logs["liquidations"])
series = pl.from_arrow(run.logs["timeseries"])
per_minute = (
    liquidations.with_columns(
        pl.col("utc").dt.truncate("1m").alias("minute"),
        pl.when(pl.col("depth") >= 3).then(3).otherwise(pl.col("depth")).alias("depth"),
    )
    .group_by("minute", "depth")
    .agg(pl.col("notional").sum() / 1e6)
    .sort("minute")
)
print(per_minute.group_by("depth").agg(pl.col("notional").sum()).sort("depth"))

# %%
fig, (price, flow) = plt.subplots(2, 1, sharex=True, figsize=(10, 6), height_ratios=[2, 1])
price.plot(series["utc"].to_list(), series["mark"].to_list(), color="black", lw=1)
price.set_ylabel("mark price")
price.set_title("Black Thursday replay: liquidations by cascade depth")
for depth, color in zip(range(4), ["#4477aa", "#ee6677", "#ccbb44", "#aa3377"]):
    rows = per_minute.filter(pl.col("depth") == depth)
    if rows.height:
        flow.bar(
            rows["minute"].to_list(),
            rows["notional"].to_list(),
            width=1 / 1440,
            color=color,
            label="exogenous" if depth == 0 else f"depth {depth}" + ("+" if depth == 3 else ""),
        )
flow.set_ylabel("liquidated, million USDT / min")
flow.legend(loc="upper left")
fig.tight_layout()
figure = os.environ.get("LIQSIM_FIGURE", "cascade.png")
fig.savefig(figure, dpi=100)
print("wrote", figure)
