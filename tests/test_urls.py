"""No part of a password in any output of %orm_connect or %config, for any URL a user can type.

(safe_url and url_problem called directly: tests/core/test_urls.py.)
"""

from __future__ import annotations

import html
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orm_magic.core.urls import SECRET_KEYS

from .core.test_urls import SHAPES  # the URL shapes a user may type around a secret
from .helpers import run

#: Secrets alternate these letters, which no output holds, with any character:
#: every 4 characters of a secret hold 2 of them, so a match is a leak.
LETTERS = "QXZJKVW"
SPECIALS = "@:/%?#[]&!$ '\"*"


@pytest.fixture(autouse=True)
def _in_a_scratch_directory(tmp_path, monkeypatch):
    """A sqlite:/// URL made around a secret names a file: it goes here, not in the checkout."""
    monkeypatch.chdir(tmp_path)


@st.composite
def secrets(draw: st.DrawFn) -> str:
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(LETTERS), st.sampled_from(LETTERS + SPECIALS)),
            min_size=3,
            max_size=8,
        )
    )
    return "".join(a + b for a, b in pairs)


@st.composite
def urls(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A URL around a secret, and the forms of the secret that must never be shown."""
    secret = draw(secrets())
    encoding = draw(st.sampled_from(["raw", "percent", "at-only"]))
    typed = {
        "raw": secret,
        "percent": quote(secret, safe=""),
        "at-only": secret.replace("@", "%40"),
    }[encoding]
    url = draw(st.sampled_from(SHAPES)).format(
        scheme=draw(st.sampled_from(["postgresql+psycopg", "postgresql", "sqlite", "mysql+nodb"])),
        pw=typed,
        host=draw(st.sampled_from(["localhost:1", "127.0.0.1:1", "[::1]:1"])),
        key=draw(st.sampled_from(sorted(SECRET_KEYS))),
    )
    return url, [secret, typed]


def leaks(text: str, forms: list[str]) -> list[str]:
    """Every 4 characters of a secret's forms that ``text`` shows."""
    return sorted(
        {
            form[i : i + 4]
            for form in forms
            for i in range(len(form) - 3)
            if form[i : i + 4] in text
        }
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=urls())
@example(case=("postgresql+psycopg://ann:QXZJKV@localhost:abc/shop", ["QXZJKV"]))
@example(case=("postgresql+psycopg://ann:QXZJKV@[localhost/shop", ["QXZJKV"]))
@example(case=("postgresql+psycopg//ann:QXZJKV@localhost/shop", ["QXZJKV"]))
@example(case=("postgresql+psycopg:///ann:QXZJKV@localhost/shop", ["QXZJKV"]))
@example(case=("postgresql+psycopg://ann:QXZ@JKVW@localhost/shop", ["QXZ@JKVW"]))
@example(case=("postgresql+psycopg:///ann:QQQQQ?@localhost:1/shop", ["QQQQQ?"]))
@example(case=("postgresql+psycopg://ann@QXZJKV:localhost:5432/shop", ["QXZJKV"]))
def test_no_output_shows_any_part_of_the_password(ip, case):
    url, forms = case
    out = run(ip, f"%orm_connect {url}", ok=False)
    error = out.result.error_in_exec or out.result.error_before_exec
    shown = [out.stdout, out.stderr, out.text, out.html, html.unescape(out.html), str(error)]
    for line in ("%orm_connect", "%orm_log"):
        after = run(ip, line)
        shown += [after.stdout, after.stderr, after.text, after.html, html.unescape(after.html)]
    found = leaks("\n".join(shown), forms)
    assert not found, f"{url!r} shows {found}:\n{out.stderr}{out.text}"
    assert len(str(error).splitlines()) <= 1


def test_config_orm_magic_does_not_show_the_url_password(shell, monkeypatch, tmp_path):
    monkeypatch.delenv("ORM_MAGIC_URL", raising=False)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}?password=QXZJKV"
    shell.run_line_magic("config", f"OrmMagic.url = {url!r}")
    try:
        shell.run_line_magic("load_ext", "orm_magic")
        out = run(shell, "%config OrmMagic")
        assert "QXZJKV" not in out.stdout + out.text and "url" in out.stdout + out.text
        assert shell._orm_magic.workspace.url == url  # the workspace has the real one
        shell.run_line_magic("unload_ext", "orm_magic")
        shell.run_line_magic("load_ext", "orm_magic")  # and the next load does too
        assert shell._orm_magic.workspace.url == url
        later = "postgresql+psycopg://ann:KVWQXZ@db/shop"
        shell.run_line_magic("config", f"OrmMagic.url = {later!r}")  # set after the load
        out = run(shell, "%config OrmMagic")
        assert "KVWQXZ" not in out.stdout + out.text
    finally:
        shell.run_line_magic("unload_ext", "orm_magic")
        shell.config.pop("OrmMagic", None)
