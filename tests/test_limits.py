"""Every display is bounded in bytes; every numeric setting is checked."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from .conftest import SEED_MODEL
from .helpers import run

DOC_MODEL = """
from sqlalchemy import LargeBinary
from sqlalchemy.dialects.mysql import LONGBLOB, LONGTEXT

class Doc(Base):
    __tablename__ = 'docs'
    id = Column(Integer, primary_key=True)
    # MySQL's TEXT and BLOB hold 64 KB; a megabyte needs their LONG kinds
    body = Column(Text().with_variant(LONGTEXT, 'mysql', 'mariadb'))
    data = Column(LargeBinary().with_variant(LONGBLOB, 'mysql', 'mariadb'))
"""
MEGABYTE = 2**20


def assert_small(out, limit=8_000):
    assert len(out.text) < limit, len(out.text)
    assert len(out.html) < 2 * limit, len(out.html)


def test_a_megabyte_value_makes_a_display_of_a_few_kilobytes(ip):
    run(ip, "%%model\n" + DOC_MODEL)
    run(ip, f"doc = Doc(body='x' * {MEGABYTE}, data=b'\\0' * {MEGABYTE})")
    pending = run(ip, "%orm_add doc")  # the session's row: no SQL yet
    flushed = run(ip, "%orm_flush")  # the database's row
    run(ip, f"doc.body = 'y' * {MEGABYTE}")
    modified = run(ip, "%orm_show Doc")  # old → new
    queried = run(ip, "%orm_query select(Doc.id, Doc.body, Doc.data)")
    for out in (pending, flushed, modified, queried):
        assert_small(out)
        assert f"… ({MEGABYTE:,} characters)" in out.text
        assert f"<bytes: {MEGABYTE:,}>" in out.text
        assert f"&lt;bytes: {MEGABYTE:,}&gt;" in out.html
    table = flushed.text.split("-- docs:")[1]  # below the INSERT's (bounded) parameters
    assert "x" * 200 + "…" in table
    assert "x" * 201 not in table


def test_maxchars_is_configurable(ip):
    run(ip, "%%model\n" + SEED_MODEL)
    run(ip, "%config OrmMagic.maxchars = 20")
    out = run(ip, "%orm_add User(name='n' * 50, fullname='f' * 20) --flush")
    assert "n" * 20 + "… (50 characters)" in out.text
    assert "n" * 21 not in out.text.replace("'" + "n" * 50 + "'", "")  # the INSERT's parameters
    assert "f" * 20 in out.text and "(20 characters)" not in out.text


@pytest.mark.parametrize(
    "trait, bad, minimum",
    [
        ("displaylimit", -1, 1),
        ("countlimit", -1, 1),
        ("loglimit", 0, 1),
        ("maxitems", 0, 1),
        ("maxchars", 3, 10),
        ("nplusone_threshold", -1, 0),
    ],
)
def test_a_value_out_of_range_is_refused_in_one_line(ip, caplog, trait, bad, minimum):
    before = getattr(ip._orm_magic, trait)
    out = run(ip, f"%config OrmMagic.{trait} = {bad}")
    # IPython's %config logs the TraitError (in a notebook: one line on stderr)
    # (the same record may reach both caplog and stderr, by the handlers other
    # tests leave on the root logger: one distinct line is the promise)
    shown = [r.getMessage() for r in caplog.records] + out.stderr.splitlines()
    assert shown and set(shown) == {
        f"OrmMagic.{trait} must be an integer of {minimum} or more, not {bad}"
    }
    assert getattr(ip._orm_magic, trait) == before
    run(ip, f"%config OrmMagic.{trait} = {minimum}")
    assert getattr(ip._orm_magic, trait) == minimum


def test_a_refused_value_stays_refused_on_load(ip, caplog):
    run(ip, "%config OrmMagic.countlimit = -1")
    ip.run_line_magic("unload_ext", "orm_magic")
    with pytest.raises(UsageError, match=r"^orm_magic: OrmMagic.countlimit must be .* 1 or more"):
        ip.run_line_magic("load_ext", "orm_magic")
    run(ip, "%config OrmMagic.countlimit = 5")
    ip.run_line_magic("load_ext", "orm_magic")
    assert ip._orm_magic.countlimit == 5


def test_displaylimit_one_shows_one_row_of_many(ip):
    run(ip, "%%model\n" + SEED_MODEL)
    out = run(ip, "%orm_add [User(name=f'u{n}') for n in range(3)] --flush")
    run(ip, "%config OrmMagic.displaylimit = 1")
    assert "first 1 of 3 rows" in run(ip, "%orm_show User").text
    assert "first 10" not in out.text
