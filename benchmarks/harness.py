"""Timing helpers shared by the benchmark cases: interleaved rounds and results."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

#: Below this many rounds per side the low decile is too close to the minimum
#: to be steady, and an undisturbed time falls back to the median.
DECILE_ROUNDS = 10


def low_decile(values: list[float]) -> float:
    """The first decile of ``values``: the time of a run that nothing disturbed.

    Another process on the machine only ever adds time to a run, so the fast
    end of the distribution is the code's own cost (timeit takes the minimum
    for the same reason). The first decile is that end without resting on a
    single lucky round.
    """
    return statistics.quantiles(values, n=10, method="inclusive")[0]


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
    #: the figure of each worker process the rounds came from, in order
    by_process: list[float] = field(default_factory=list)
    #: for a growth figure: the two cases it compares (see :func:`growth`)
    of: list[str] = field(default_factory=list)
    #: what the ratio is: "paired" (the median of the paired rounds' ratios,
    #: see :attr:`ratio`) or "decile" (the ratio of the two sides' first deciles)
    by: str = "paired"

    def _pairs(self) -> list[float]:
        a, b = self.samples.get("orm_magic"), self.samples.get("baseline")
        if not a or not b or len(a) != len(b) or not all(b):
            return []
        return [x / y for x, y in zip(a, b)]

    @property
    def paired(self) -> float | None:
        """The median of the per-round ratios (round i of A over round i of B)."""
        pairs = self._pairs()
        return statistics.median(pairs) if pairs else None

    @property
    def spread(self) -> tuple[float, float] | None:
        """The quartiles of the per-round ratios.

        The rounds are interleaved, so each pair ran on the machine as it was
        at that moment: their ratios vary far less than either side's times.
        """
        pairs = sorted(self._pairs())
        if len(pairs) < 4:
            return None
        q1, _, q3 = statistics.quantiles(pairs, n=4)
        return q1, q3

    @property
    def ratio(self) -> float | None:
        """The figure compared with a ratio target.

        The median of the paired rounds' ratios: the two sides of a round run
        back to back (AB, then BA), so that a machine busier or slower for a
        while weighs on both. Since the rounds alternate (before, every round
        after the first ran B first), the A/A row (the same code on both
        sides) gave paired medians of 1.004 and 0.998 in two full runs, where
        the first deciles' ratio gave 1.020 and 0.930; for bulk, 1.096 and 1.087
        against 1.043 and 1.104. With ``by="decile"`` (which no case uses
        now), the first deciles' ratio, or with few rounds the medians'; without
        pairs, the ratio of the medians.
        """
        if self.by == "paired" and self.paired is not None:
            return self.paired
        a, b = self.undisturbed
        if self.by == "decile" and a is not None and b:
            return a / b
        if self.paired is not None:
            return self.paired
        if self.orm_magic is None or not self.baseline:
            return None
        return self.orm_magic / self.baseline

    @property
    def undisturbed(self) -> tuple[float | None, float | None]:
        """Each side's own cost: its first decile, or its median with few rounds.

        What an absolute time is best measured by (see :func:`low_decile`):
        the growth figure rests on these.
        """
        a, b = self.samples.get("orm_magic"), self.samples.get("baseline")
        if self.kind != "difference" and a and b and min(len(a), len(b)) >= DECILE_ROUNDS:
            return low_decile(a), low_decile(b)
        return self.orm_magic, self.baseline

    @property
    def times(self) -> tuple[float | None, float | None]:
        """The two times shown: the medians, or the first deciles for ``by="decile"``."""
        if self.by == "decile":
            return self.undisturbed
        return self.orm_magic, self.baseline

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
        data.update(
            ratio=self.ratio,
            times=self.times,
            paired=self.paired,
            figure=self.figure,
            met=self.met,
            spread=self.spread,
            undisturbed=self.undisturbed,
        )
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        """A Result as ``as_json`` wrote it (the derived figures are recomputed)."""
        names = {name for name in cls.__dataclass_fields__}
        return cls(**{key: value for key, value in data.items() if key in names})


def growth(case: str, big: Result, small: Result, target: float, note: str) -> Result:
    """orm_magic's own growth from the ``small`` table to the ``big`` one.

    Its time at the big table, less what the database itself costs more
    there (the plain side's growth: a deeper b-tree to insert into, a longer
    ``count(*)``), over its time at the small table: 1.00 when orm_magic adds
    nothing that grows with the table. This rests on both sides doing the same
    database work that grows (on SQLite, orm_magic's count is exact, as the
    plain cell's ``count(*)`` is): a growing step of the plain side's alone
    would hide as much of orm_magic's own growth. (The quotient of the two ratios would
    not do: orm_magic takes half the plain cell's time, so the same added
    0.7 ms of the database's own raises its ratio more than the plain one.)
    The four times are first deciles, each side's undisturbed cost: two full
    runs gave 1.021 and 0.995 so, and 1.005 and 0.928 with medians.
    """
    (a_big, b_big), (a_small, b_small) = big.undisturbed, small.undisturbed
    known = a_big is not None and b_big is not None and b_small is not None
    return Result(
        case,
        a_big - (b_big - b_small) if known else None,  # type: ignore[operator]
        a_small,
        target,
        runs=min(big.runs, small.runs),
        note=note,
        of=[big.case, small.case],
    )


def merge_all(parts: dict[str, list[Result]]) -> list[Result]:
    """Each case's results from several worker processes as one (see :func:`merge`).

    A growth figure is worked out again from the two pooled cases it
    compares, and each process's own figure is kept as its spread.
    """
    merged = {case: merge(results) for case, results in parts.items()}
    for case, results in parts.items():
        first = results[0]
        if first.of:
            top, bottom = (merged[name] for name in first.of)
            merged[case] = growth(case, top, bottom, first.target or 0.0, first.note)
            if len(results) > 1:
                merged[case].by_process = [r.figure for r in results if r.figure is not None]
    return list(merged.values())


def merge(parts: list[Result]) -> Result:
    """One Result from the same case measured in several worker processes.

    The rounds are pooled (pairs stay pairs) and each process's own figure is
    kept in ``by_process``, so that the spread across processes is shown
    beside the pooled figure.
    """
    first = parts[0]
    samples: dict[str, list[float]] = {}
    for part in parts:
        for side, values in part.samples.items():
            samples.setdefault(side, []).extend(values)
    merged = Result(
        first.case,
        median(samples.get("orm_magic", [])),
        median(samples.get("baseline", [])),
        first.target,
        unit=first.unit,
        kind=first.kind,
        runs=sum(part.runs for part in parts),
        note=first.note,
        samples=samples,
        by=first.by,
    )
    if len(parts) > 1:
        merged.by_process = [part.figure for part in parts if part.figure is not None]
    return merged


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
    start: int = 0,
) -> tuple[list[float], list[float]]:
    """Time ``run_a`` and ``run_b`` alternately, ``rounds`` times each.

    The order flips every round (AB, BA, ...), so that a machine that gets
    busier or quieter affects both sides alike. ``setup_*`` and ``after_*``
    run untimed around each run; garbage is collected before each and the
    collector is off during it. A run
    that returns a float has timed itself, and that figure is used.
    ``start`` is the index of the first round in a longer series that the
    caller interleaves with other cases, round by round (its order flips too).
    """
    times: dict[str, list[float]] = {"a": [], "b": []}
    sides = {"a": (setup_a, run_a, after_a), "b": (setup_b, run_b, after_b)}
    for index in range(warmup + rounds):
        order = ("a", "b") if (start + index) % 2 == 0 else ("b", "a")
        for side in order:
            setup, run, after = sides[side]
            if setup is not None:
                setup()
            gc.collect()
            # As timeit does: a collection that happens to fall inside one run
            # (and not the other) would decide the ratio by chance.
            gc.disable()
            try:
                began = clock()
                measured = run()
                elapsed = clock() - began
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
