"""orm_magic against plain SQLAlchemy doing the same work, as ratios.

    python benchmarks/run.py              # the full run quoted in the README
    python benchmarks/run.py --quick      # a small smoke run (the test suite runs it)
    python benchmarks/run.py --json out.json

Each case times orm_magic (A) and its baseline (B) in alternating rounds. The
in-process cases run in several worker processes, one after another, each with
a fixed hash seed; their rounds are pooled. A ratio is the median of the
paired rounds' ratios (see harness.Result.ratio), shown beside the ratio of
the two sides' first deciles and the range of the processes' own figures; the
times shown are the two sides' medians (for the growth row, the two times
its figure divides: see harness.growth).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
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
    processes: int  # worker processes for the in-process cases, each with its own hash seed
    rounds: int  # per worker process
    load_rounds: int
    bulk_objects: int
    bulk_rounds: int
    memory_rows: int
    memory_objects: int
    memory_rounds: int
    load_rows: int  # %orm_load of a DataFrame (issue 16)
    load_case_rounds: int  # per worker process


# Bulk rounds of 25,000 objects: the cost per object is the same as at
# 100,000 (one INSERT per object either way), and four times the rounds fit in
# the same time.
# Add-one rounds: 40 per process, 200 pooled. With 30 pooled, two runs of the
# size-independence figure differed by up to 0.09; with 200, two runs of the
# add-one case alone by 0.004, two full runs on 2026-12-02 by 0.07.
# Bulk rounds: 12 per process, 60 pooled (with 30, three runs gave 1.09, 1.09
# and 1.04, by first deciles and while every round but the first ran B first).
FULL = Plan([10, 10_000, 1_000_000], 5, 40, 30, 25_000, 12, 1_000_000, 100_000, 3, 100_000, 2)
QUICK = Plan([10, 1_000, 10_000], 2, 2, 2, 1_000, 2, 10_000, 1_000, 1, 1_000, 1)
PLANS = {"full": FULL, "quick": QUICK}


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
    # beside the figure: the first deciles' ratio, the other way to read the rounds
    low_a, low_b = result.undisturbed
    plain = result.kind != "difference" and not result.of  # a growth row has no rounds
    deciles = low_a / low_b if plain and low_a and low_b else None
    spread = result.by_process if result.kind != "difference" else []
    processes = f"{min(spread):.2f}–{max(spread):.2f}" if spread else "-"
    print(
        f"{result.case:<48} {fmt(result.times[0], result.unit):>11} "
        f"{fmt(result.times[1], result.unit):>11} {figure:>9} "
        f"{'-' if deciles is None else f'{deciles:.3f}':>8} {processes:>11} {target:>11}  "
        f"{verdict(result)}"
        + (f"  ({result.note})" if result.note and result.kind == "info" else ""),
        flush=True,
    )


def in_process(plan: Plan) -> list[Result]:
    """The cases timed inside one shell: run by each worker process."""
    from cases import Bench
    from loading import load_case

    bench = Bench(plan.sizes)
    results = bench.add_one(plan.rounds)
    results.append(bench.bulk(plan.bulk_objects, plan.bulk_rounds))
    results.append(bench.noise(plan.bulk_objects, plan.bulk_rounds))
    results.append(load_case(plan.load_rows, plan.load_case_rounds))
    results.append(bench.jupysql(plan.rounds))
    return results


def workers(plan_name: str, clock: str) -> list[Result]:
    """Run ``in_process`` in fresh processes, one after another, and pool their rounds.

    Each worker has a fixed PYTHONHASHSEED (1, 2, ...): one process can run the
    same code markedly slower than the next, and with the seeds fixed a second
    run meets the same processes again.
    """
    plan = PLANS[plan_name]
    parts: dict[str, list[Result]] = {}
    for seed in range(1, plan.processes + 1):
        import processes

        done = subprocess.run(
            [sys.executable, __file__, "--worker", plan_name, "--clock", clock],
            check=True,
            env=processes.environment() | {"PYTHONHASHSEED": str(seed)},
            cwd=HERE.parent,
            capture_output=True,
            text=True,
        )
        for data in json.loads(done.stdout.strip().splitlines()[-1]):
            result = Result.from_json(data)
            parts.setdefault(result.case, []).append(result)
    return harness.merge_all(parts)


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
    parser.add_argument("--worker", choices=sorted(PLANS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    harness.use_clock(args.clock)
    if args.worker:  # one worker process: its results as JSON on the last line
        print(json.dumps([result.as_json() for result in in_process(PLANS[args.worker])]))
        return 0
    plan_name = "quick" if args.quick else "full"
    plan = PLANS[plan_name]

    import processes

    info = machine() | versions() | {"quick": args.quick, "clock": args.clock}
    info["processes"] = plan.processes
    print(" · ".join(f"{k} {v}" for k, v in info.items()))
    header = (
        f"{'case':<48} {'orm_magic':>11} {'baseline':>11} {'ratio':>9} {'deciles':>8} "
        f"{'processes':>11} {'target':>11}"
    )
    print(header)
    print("-" * len(header))
    results: list[Result] = []

    def record(result: Result) -> None:
        results.append(result)
        print_row(result)

    record(processes.load(plan.load_rounds))
    for result in workers(plan_name, args.clock):
        record(result)
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
