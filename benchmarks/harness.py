"""Timing helpers shared by the benchmark cases: interleaved rounds and results."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Result:
    """One row of the benchmark table: orm_magic against its baseline."""

    case: str
    orm_magic: float | None  # median seconds, or MB for memory
    baseline: float | None
    target: float | None  # the highest ratio (or MB difference) that meets the goal
    unit: str = "s"
    kind: str = "ratio"  # "ratio", "difference" (memory) or "info"
    runs: int = 0
    note: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def spread(self) -> tuple[float, float] | None:
        """The quartiles of the per-round ratios (round i of A over round i of B).

        The rounds are interleaved, so each pair ran on the machine as it was
        at that moment: their ratios vary far less than either side's times.
        """
        a, b = self.samples.get("orm_magic"), self.samples.get("baseline")
        if not a or not b or len(a) != len(b) or len(a) < 4:
            return None
        ratios = sorted(x / y for x, y in zip(a, b) if y)
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        return q1, q3

    @property
    def ratio(self) -> float | None:
        """The median of the per-round ratios where the rounds were paired, else
        the ratio of the medians.

        A pair ran back to back on the machine as it was at that moment; the
        median of pairs is steadier than a ratio of two medians, each of which
        a busy spell on one side can move (bulk rounds here vary by ±30%).
        """
        a, b = self.samples.get("orm_magic"), self.samples.get("baseline")
        if a and b and len(a) == len(b) and all(b):
            return statistics.median(x / y for x, y in zip(a, b))
        if self.orm_magic is None or not self.baseline:
            return None
        return self.orm_magic / self.baseline

    @property
    def figure(self) -> float | None:
        """The figure compared with the target: the ratio, or the MB difference."""
        if self.kind == "difference":
            if self.orm_magic is None or self.baseline is None:
                return None
            return self.orm_magic - self.baseline
        return self.ratio

    @property
    def met(self) -> bool | None:
        if self.target is None or self.figure is None:
            return None
        return self.figure <= self.target

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(ratio=self.ratio, figure=self.figure, met=self.met, spread=self.spread)
        return data


#: What the in-process cases measure: "cpu" (this process's CPU time, which
#: other processes on a shared machine barely disturb) or "wall".
CLOCK = {"cpu": time.process_time, "wall": time.perf_counter}
clock = CLOCK["cpu"]


def use_clock(name: str) -> None:
    """Measure with ``name`` ("cpu" or "wall") from now on."""
    global clock, clock_name
    clock, clock_name = CLOCK[name], name


clock_name = "cpu"


def interleaved(
    run_a: Callable[[], Any],
    run_b: Callable[[], Any],
    rounds: int,
    setup_a: Callable[[], Any] | None = None,
    setup_b: Callable[[], Any] | None = None,
    after_a: Callable[[], Any] | None = None,
    after_b: Callable[[], Any] | None = None,
    warmup: int = 1,
) -> tuple[list[float], list[float]]:
    """Time ``run_a`` and ``run_b`` alternately, ``rounds`` times each.

    The order flips every round (AB, BA, ...), so that a machine that gets
    busier or quieter affects both sides alike. ``setup_*`` and ``after_*``
    run untimed around each run; garbage is collected before each and the
    collector is off during it. A run
    that returns a float has timed itself, and that figure is used.
    """
    times: dict[str, list[float]] = {"a": [], "b": []}
    sides = {"a": (setup_a, run_a, after_a), "b": (setup_b, run_b, after_b)}
    for index in range(warmup + rounds):
        order = ("a", "b") if index % 2 == 0 else ("b", "a")
        for side in order:
            setup, run, after = sides[side]
            if setup is not None:
                setup()
            gc.collect()
            # As timeit does: a collection that happens to fall inside one run
            # (and not the other) would decide the ratio by chance.
            gc.disable()
            try:
                start = clock()
                measured = run()
                elapsed = clock() - start
            finally:
                gc.enable()
            if isinstance(measured, float):  # the run timed itself (a child process)
                elapsed = measured
            if after is not None:
                after()
            if index >= warmup:
                times[side].append(elapsed)
    return times["a"], times["b"]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
