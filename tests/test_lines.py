"""Magic lines reach the magic as typed: no {…} or $ expansion, options only outside code."""

from __future__ import annotations

import pytest

from orm_magic.magics.lines import split_options

from .conftest import SEED_MODEL
from .helpers import run

#: The magics whose line is a Python expression or a URL.
EXPRESSION_MAGICS = ["orm_add", "orm_merge", "orm_delete", "orm_state", "orm_query", "orm_connect"]


@pytest.mark.parametrize("name", EXPRESSION_MAGICS)
def test_expression_magics_are_not_var_expanded(ip, name):
    assert getattr(ip.find_line_magic(name), "_ipython_magic_no_var_expand", False)


def test_braces_in_a_comprehension_are_the_comprehensions(ip):
    run(ip, "%%model\n" + SEED_MODEL)
    run(ip, "i = 7")
    out = run(ip, "%orm_add [User(name=f'user{i}') for i in range(3)] --flush")
    names = ip.user_ns["session"].scalars(ip.ev("select(User.name).order_by(User.id)")).all()
    assert names == ["user0", "user1", "user2"]
    assert "user7" not in out.text


def test_a_dollar_in_a_string_stays_a_dollar(ip):
    run(ip, "%%model\n" + SEED_MODEL)
    run(ip, "b = 'expanded'\nann = User(name='a$b')")
    run(ip, "%orm_add ann --flush")
    out = run(ip, "found = %orm_query select(User).where(User.name == 'a$b')")
    assert [u.name for u in ip.user_ns["found"]] == ["a$b"]
    assert "expanded" not in out.text
    assert "a$b" in run(ip, "%orm_state found[0]").text


def test_an_option_inside_a_string_is_part_of_the_string(ip):
    run(ip, "%%model\n" + SEED_MODEL)
    out = run(ip, "%orm_add User(name='a --flush')")
    assert "no SQL emitted" in out.text  # not flushed
    assert [u.name for u in ip.user_ns["session"].new] == ["a --flush"]


def test_an_option_after_the_expression_still_counts(ip):
    run(ip, "%%model\n" + SEED_MODEL)
    out = run(ip, "%orm_add User(name='x --flush y', fullname=('--flush')) --flush")
    assert "INSERT INTO users" in out.text
    assert ip.user_ns["session"].query(ip.user_ns["User"]).one().name == "x --flush y"


def test_a_valued_option_inside_brackets_is_code(ip):
    run(ip, "%%model\n" + SEED_MODEL)
    run(ip, "%orm_add [User(name=n) for n in ('--limit 1', 'b', 'c')] --flush")
    out = run(ip, "rows = %orm_query select(User).where(User.name != '--limit 1') --limit 1")
    assert [u.name for u in ip.user_ns["rows"]] == ["b", "c"]  # all rows returned, 1 shown
    assert "first 1 of 2" in out.text or "2 rows" in out.text


@pytest.mark.parametrize(
    "line, options, expression",
    [
        ("User(name='a --flush')", [], "User(name='a --flush')"),
        ("User(name='a --flush') --flush", ["--flush"], "User(name='a --flush')"),
        ('--flush f"{x} --flush"', ["--flush"], 'f"{x} --flush"'),
        ("[u for u in (a, b) if u != '--x'] --x", ["--x"], "[u for u in (a, b) if u != '--x']"),
        # a unary minus is no option, and a comment holds none
        ("a if b else -c", [], "a if b else -c"),
        ("u  # note --flush", [], "u  # note --flush"),
        ("--limit 5 select(User)", ["--limit", "5"], "select(User)"),
        ("select(User) --limit=5", ["--limit=5"], "select(User)"),
        ("f(a, [b --flush", [], "f(a, [b --flush"),  # unclosed: all code
        ("x 'unclosed --flush", [], "x 'unclosed --flush"),
        ("a - b", [], "a - b"),
    ],
)
def test_split_options_reads_the_line_as_python_does(line, options, expression):
    assert split_options(line, valued=("--limit",)) == (options, expression)
