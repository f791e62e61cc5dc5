"""orm_magic against plain SQLAlchemy doing the same work, as ratios.

    python benchmarks/run.py              # the full run quoted in the README
    python benchmarks/run.py --quick      # a small smoke run (the test suite runs it)
    python benchmarks/run.py --json out.json

Each case times orm_magic (A) and its baseline (B) in alternating rounds and
prints the medians and their ratio against the target ratio of issue 7.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # harness/cases, and orm_magic from the checkout

import harness  # noqa: E402
from harness import Result  # noqa: E402


@dataclass
class Plan:
    """How big and how often each case runs."""

    sizes: list[int]
    rounds: int
    load_rounds: int
    bulk_objects: int
    bulk_rounds: int
    memory_rows: int
    memory_objects: int
    memory_rounds: int


FULL = Plan([10, 10_000, 1_000_000], 25, 15, 100_000, 9, 1_000_000, 100_000, 3)
QUICK = Plan([10, 1_000, 10_000], 3, 2, 1_000, 2, 10_000, 1_000, 1)


def machine() -> dict[str, object]:
    return {
        "machine": platform.machine(),
        "system": platform.system(),
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "date": datetime.date.today().isoformat(),
    }


def versions() -> dict[str, str]:
    import IPython
    import pandas
    import sqlalchemy

    return {
        "ipython": IPython.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "pandas": pandas.__version__,
    }


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "MB":
        return f"{value:.1f} MB"
    return f"{value * 1000:.2f} ms" if value < 1 else f"{value:.3f} s"


def verdict(result: Result) -> str:
    if result.kind == "info":
        return "info"
    return {True: "ok", False: "MISSED", None: "-"}[result.met]


def print_row(result: Result) -> None:
    if result.kind == "difference":
        figure = "-" if result.figure is None else f"{result.figure:+.1f} MB"
        target = f"<= +{result.target:.0f} MB"
    else:
        figure = "-" if result.figure is None else f"{result.figure:.3f}"
        target = "-" if result.target is None else f"<= {result.target:.2f}"
    spread = result.spread if result.kind != "difference" else None
    quartiles = f"{spread[0]:.2f}–{spread[1]:.2f}" if spread else "-"
    print(
        f"{result.case:<48} {fmt(result.orm_magic, result.unit):>11} "
        f"{fmt(result.baseline, result.unit):>11} {figure:>9} {quartiles:>11} {target:>11}  "
        f"{verdict(result)}"
        + (f"  ({result.note})" if result.note and result.kind == "info" else ""),
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few rounds")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="cpu: CPU time of the process doing the work (default; steady on a shared "
        "machine); wall: elapsed time",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    harness.use_clock(args.clock)

    import processes
    from cases import Bench

    info = machine() | versions() | {"quick": args.quick, "clock": args.clock}
    print(" · ".join(f"{k} {v}" for k, v in info.items()))
    header = (
        f"{'case':<48} {'orm_magic':>11} {'baseline':>11} {'ratio':>9} {'quartiles':>11} "
        f"{'target':>11}"
    )
    print(header)
    print("-" * len(header))
    results: list[Result] = []

    def record(result: Result) -> None:
        results.append(result)
        print_row(result)

    record(processes.load(plan.load_rounds))
    bench = Bench(plan.sizes)
    for result in bench.add_one(plan.rounds):
        record(result)
    record(bench.bulk(plan.bulk_objects, plan.bulk_rounds))
    record(bench.jupysql(plan.rounds))
    record(processes.memory(plan.memory_rows, plan.memory_objects, plan.memory_rounds))

    missed = [r.case for r in results if r.met is False]
    print(
        f"\n{len(results)} cases; "
        + (f"missed: {', '.join(missed)}" if missed else "every target met")
    )
    if args.json:
        payload = {"info": info, "cases": [r.as_json() for r in results]}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
