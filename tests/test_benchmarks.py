"""benchmarks/run.py keeps working: a --quick run completes and prints every case.

Timings are not asserted: the machines that run the tests are shared and noisy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CASES = [
    "load",
    "add one row, 10 rows",
    "add one row, 1,000 rows",
    "add one row, 10,000 rows",
    "size independence",
    "bulk",
    "A/A",
    "%orm_load",
    "jupysql",
    "memory",
]


def test_quick_benchmark_prints_every_case(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    for case in CASES:
        assert any(line.startswith(case) for line in lines), f"{case!r} missing:\n{done.stdout}"
    figures = json.loads(out.read_text())["cases"]
    assert len(figures) == len(CASES)
    measured = [case for case in figures if case["kind"] != "info"]
    assert all(case["orm_magic"] > 0 and case["baseline"] > 0 for case in measured)
    by_name = {case["case"]: case for case in figures}
    independence = next(c for c in figures if c["case"].startswith("size independence"))
    big, small = (by_name[name] for name in independence["of"])
    # orm_magic at the big table less the plain side's growth, over orm_magic at the small
    (a_big, b_big), (a_small, b_small) = big["undisturbed"], small["undisturbed"]
    assert independence["figure"] == pytest.approx((a_big - (b_big - b_small)) / a_small)
    assert big["case"].endswith("10,000 rows") and small["case"].endswith(" 10 rows")


def harness_module():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import harness
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return harness


def test_interleaved_rounds_alternate_which_side_runs_first() -> None:
    """AB, BA, AB, ...: a machine that slows down or warms up meets both sides alike.

    (The timer once reused the name of the ``start`` argument, and every round
    after the first ran B first.)
    """
    harness = harness_module()
    calls: list[str] = []
    a, b = harness.interleaved(
        lambda: calls.append("a"), lambda: calls.append("b"), rounds=4, warmup=1
    )
    assert len(a) == len(b) == 4
    assert calls == ["a", "b", "b", "a", "a", "b", "b", "a", "a", "b"]
    calls.clear()
    harness.interleaved(
        lambda: calls.append("a"), lambda: calls.append("b"), rounds=2, warmup=0, start=1
    )
    assert calls == ["b", "a", "a", "b"]


def test_a_ratio_is_the_median_of_the_rounds_ratios_and_survives_pooling() -> None:
    harness = harness_module()
    # rounds far apart from one another, each pair close: 1.1, 1.2, 1.0, ... 1.1
    a = [1.1, 2.4, 1.0, 3.3, 1.1, 2.2, 1.05, 1.1, 2.2, 1.1]
    b = [1.0, 2.0, 1.0, 3.0, 1.0, 2.0, 1.0, 1.0, 2.0, 1.0]
    samples = {"orm_magic": a, "baseline": b}
    paired = harness.Result("load", 1.0, 1.0, 1.15, samples=samples)
    assert paired.ratio == pytest.approx(1.1)
    decile = harness.Result("load", 1.0, 1.0, 1.15, samples=samples, by="decile")
    assert decile.ratio == pytest.approx(harness.low_decile(a) / harness.low_decile(b))
    pooled = harness.merge([paired, harness.Result.from_json(paired.as_json())])
    assert pooled.by == "paired" and pooled.ratio == pytest.approx(1.1)
