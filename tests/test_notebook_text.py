"""The course notebooks' counted claims about SQL match the saved outputs under them.

A markdown cell that counts statements ("one `UPDATE` statement", "two SELECTs",
"no SQL", "with two sets of parameters", "3 statements") makes a claim that the
outputs below it can check. Each claim is checked against the saved outputs:

- a count of zero ("no SQL", "no `SELECT`") against the next code cell;
- any other count against the next code cell that shows SQL, since a plain
  Python cell (no SQL) may come between the sentence and the flush it describes.

Only counts are checked; the rest of the prose is read by people.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

import pytest

from .test_notebooks import NAMES, read, reports, sql_text

NUMBERS = {"no": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
NUMBER = r"(?P<number>(?i:no|one|two|three|four|five|six)|\d+)"
VERBS = ("SELECT", "INSERT", "UPDATE", "DELETE", "COMMIT", "ROLLBACK", "SAVEPOINT", "BEGIN")
VERB = r"(?P<verb>SQL|" + "|".join(VERBS) + r")"
#: "one UPDATE", "two SELECTs", "no SQL" (code spans unmarked first)
COUNTED_VERB = re.compile(rf"\b{NUMBER}\s+{VERB}(?:s|es)?\b")
#: "one UPDATE statement with two sets of parameters"
PARAMETER_SETS = re.compile(rf"\b{VERB}\b[^.:;]*?\bwith\s+{NUMBER}\s+sets? of parameters\b")
#: "3 statements", as the summary line of a report counts them
STATEMENTS = re.compile(rf"\b{NUMBER}\s+statements?\b")
SUMMARY = re.compile(r"^-- (\d+) statements? ·", re.M)


@dataclass(frozen=True)
class Claim:
    notebook: str
    markdown: str  # the markdown cell's id
    text: str  # the words that make the claim
    verb: str | None  # None: a count of all statements
    number: int
    parameter_sets: bool = False

    def __str__(self) -> str:
        return f"{self.notebook}, cell {self.markdown!r}: {self.text!r}"


def number(word: str) -> int:
    return int(word) if word.isdigit() else NUMBERS[word.lower()]


def plain(markdown: str) -> str:
    """The cell's words, code spans unmarked, lines joined.

    Emphasis stays: "cells that emit **no** SQL" speaks of cells in general.
    """
    return re.sub(r"\s+", " ", markdown.replace("`", ""))


def claims(name: str) -> list[tuple[Claim, list]]:
    """Every counted claim in the notebook, with the code cells after it."""
    cells = read(name).cells
    found = []
    for index, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        after = [c for c in cells[index + 1 :] if c.cell_type == "code"]
        text = plain(cell.source)
        for m in COUNTED_VERB.finditer(text):
            verb = None if m["verb"] == "SQL" else m["verb"]
            found.append((Claim(name, cell.id, m[0], verb, number(m["number"])), after))
        for m in PARAMETER_SETS.finditer(text):
            claim = Claim(name, cell.id, m[0], m["verb"], number(m["number"]), True)
            found.append((claim, after))
        for m in STATEMENTS.finditer(text):
            found.append((Claim(name, cell.id, m[0], None, number(m["number"])), after))
    return found


def statements(sql: str) -> list[tuple[str, str | None]]:
    """The shown statements as (first line, parameters line or None)."""
    shown: list[tuple[str, str | None]] = []
    lines = sql.splitlines()
    for i, line in enumerate(lines):
        if not line or line[0].isspace() or not line.split()[0].isupper():
            continue
        if line.split()[0] in ("FROM", "WHERE", "ORDER", "JOIN", "GROUP", "HAVING", "LIMIT"):
            continue
        parameters = None
        for follow in lines[i + 1 :]:
            if follow.startswith("  ") and follow.strip()[:1] in "([":
                parameters = follow.strip()
                break
            if follow and not follow[0].isspace() and follow.split()[0] in VERBS:
                break
        shown.append((line, parameters))
    return shown


def summary_count(cell: Any) -> int | None:
    for data in reports(cell):
        m = SUMMARY.search(data["text/plain"])
        if m:
            return int(m[1])
    return None


def check(claim: Claim, after: list) -> None:
    if claim.number == 0:
        assert after, f"{claim}: no code cell follows"
        target = after[0]
    else:
        target = next((c for c in after if sql_text(c)), None)
        assert target is not None, f"{claim}: no code cell after it shows SQL"
    sql = sql_text(target)
    if claim.verb is None and claim.number and STATEMENTS.fullmatch(claim.text):
        assert summary_count(target) == claim.number, f"{claim}; cell {target.id!r}:\n{sql}"
        return
    matching = [
        (line, parameters)
        for line, parameters in statements(sql)
        if claim.verb is None or line.split()[0] == claim.verb
    ]
    where = f"{claim}; cell {target.id!r} shows:\n{sql or '(no SQL)'}"
    if not claim.parameter_sets:
        assert len(matching) == claim.number, where
        return
    assert matching, where
    for _, parameters in matching:
        assert parameters is not None, where
        value = ast.literal_eval(parameters)
        sets = len(value) if isinstance(value, list) else 1
        assert sets == claim.number, where


ALL = [pair for name in NAMES for pair in claims(name)]


def test_the_course_makes_counted_claims() -> None:
    """The patterns still find the claims, so the test below checks something."""
    assert len(ALL) >= 5, [str(claim) for claim, _ in ALL]


@pytest.mark.parametrize(("claim", "after"), ALL, ids=[str(claim) for claim, _ in ALL])
def test_counted_claim_matches_the_output_under_it(claim: Claim, after: list) -> None:
    check(claim, after)
