"""liqsim from Python: runs, comparisons and sweeps as pyarrow tables.

    import liqsim, polars as pl
    r = liqsim.run("scenarios/black-thursday-2020.toml", seed=7)
    liquidations = pl.from_arrow(r.logs["liquidations"])

Each function runs the same code as the ``liqsim`` command line: the digest of a run
equals the command line's for the same scenario, seed, policy and overrides.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence

import pyarrow as pa
import pyarrow.ipc

from . import _liqsim

__all__ = ["Run", "run", "compare", "sweep", "version"]


def version() -> str:
    """The version of liqsim this package was built from."""
    return _liqsim.version()


def _toml_value(value: Any) -> str:
    """A Python value as the TOML text of a ``--set`` override."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as a scenario value")


def _overrides(set: Optional[Mapping[str, Any]]) -> list:
    return [f"{k}={_toml_value(v)}" for k, v in (set or {}).items()]


def _table(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(data).read_all()


@dataclass
class Run:
    """One run: the summary (the same JSON as ``liqsim run --format json``), its digest,
    and its logs as ``pyarrow.Table``s by name: ``timeseries``, ``liquidations``, and with
    ``logs=True`` ``trades``, ``forced_closes``, ``funding`` and ``fund``."""

    summary: Dict[str, Any]
    digest: str
    logs: Dict[str, pa.Table] = field(default_factory=dict)

    def __getattr__(self, name: str) -> pa.Table:
        logs = self.__dict__.get("logs", {})
        if name in logs:
            return logs[name]
        raise AttributeError(name)


def run(
    path: "str | os.PathLike[str]",
    seed: Optional[int] = None,
    policy: Optional[str] = None,
    set: Optional[Mapping[str, Any]] = None,
    logs: bool = True,
) -> Run:
    """Runs the scenario at ``path``; ``set`` overrides fields by key path, as
    ``--set`` does (``{"margin.confidence": 0.995}``). A bad scenario or value raises
    ``ValueError`` naming the file, line and key."""
    summary, digest, tables = _liqsim.run(
        os.fspath(path), seed=seed, policy=policy, set=_overrides(set), logs=logs
    )
    return Run(
        summary=json.loads(summary),
        digest=digest,
        logs={name: _table(data) for name, data in tables},
    )


def compare(
    path: "str | os.PathLike[str]",
    policies: Sequence[str] = ("es", "var", "fixed", "grid"),
    seeds: int = 20,
    set: Optional[Mapping[str, Any]] = None,
    threads: Optional[int] = None,
) -> pa.Table:
    """Every policy on the same seeds (the scenario's seed, seed+1, ...): one row per
    run, policies in the order given, seeds within each."""
    return _table(
        _liqsim.compare(
            os.fspath(path), list(policies), seeds=seeds, set=_overrides(set), threads=threads
        )
    )


def sweep(
    path: "str | os.PathLike[str]",
    grid: Mapping[str, Iterable[Any]],
    seeds: int = 1,
    set: Optional[Mapping[str, Any]] = None,
    threads: Optional[int] = None,
) -> pa.Table:
    """A grid (``{"liquidation.fee": [0.005, 0.01]}``) x seeds: one row per run, a text
    column per grid key first (its TOML value), the last key varying fastest and seeds
    fastest of all."""
    axes = [(k, [_toml_value(v) for v in values]) for k, values in grid.items()]
    return _table(
        _liqsim.sweep(os.fspath(path), axes, seeds=seeds, set=_overrides(set), threads=threads)
    )
