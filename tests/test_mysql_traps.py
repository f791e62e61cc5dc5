"""MySQL's traps on a real MariaDB: one line saying what to change, and nothing changed.

(what_to_change and driver_message called directly: tests/core/test_mysql_traps.py.)
"""

from __future__ import annotations

import pytest
import sqlalchemy
from IPython.core.error import UsageError

from .helpers import run

pytestmark = pytest.mark.mariadb


@pytest.fixture
def db_url(mariadb_empty_url: str) -> str:
    """Every `ip` here runs on MariaDB only."""
    return mariadb_empty_url


def model_error(ip, body: str) -> str:
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("model", "", body)
    message = str(info.value)
    assert "\n" not in message
    return message


def tables(ip) -> list[str]:
    return sqlalchemy.inspect(ip.user_ns["engine"]).get_table_names()


CLASSIC = """
class User(Base):
    __tablename__ = 'users'
    id = Column(Integer, primary_key=True)
    name = Column(String)
"""

TYPED = """
class User(Base):
    __tablename__ = 'users'
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
"""


@pytest.mark.parametrize("body", [CLASSIC, TYPED], ids=["classic", "typed"])
def test_a_string_without_length_says_to_write_string_50(ip, body):
    message = model_error(ip, body)
    assert "need a length for every `String` (column users.name)" in message
    assert "`String(50)`" in message and "`mapped_column(String(50))`" in message
    assert "the earlier models are unchanged" in message
    assert tables(ip) == []
    fixed = body.replace("Column(String)", "Column(String(50))").replace(
        "name: Mapped[str]", "name: Mapped[str] = mapped_column(String(50))"
    )
    assert "CREATE TABLE users" in run(ip, "%%model\n" + fixed).text


def test_connecting_models_without_lengths_says_what_to_change_and_stays(ip, mariadb_url):
    run(ip, "%orm_connect sqlite://")
    run(ip, "%%model\n" + CLASSIC)
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("orm_connect", mariadb_url)
    assert "`String(50)` in place of `String`" in str(info.value)
    assert "mariadb-test-secret" not in str(info.value)
    assert ip.user_ns["engine"].dialect.name == "sqlite"  # the workspace stayed


def test_text_in_a_primary_key_says_to_use_a_string(ip):
    message = model_error(
        ip,
        "class Country(Base):\n    __tablename__ = 'countries'\n"
        "    code = Column(Text, primary_key=True)\n",
    )
    assert "cannot be `Text`: use `String(255)` (column 'code')" in message
    assert "MySQL error 1170" in message
    assert tables(ip) == []


@pytest.mark.parametrize("where", ["table", "column"])
def test_a_name_over_64_characters_says_to_choose_a_shorter_one(ip, where):
    table, column = ("x" * 65, "id") if where == "table" else ("t", "x" * 65)
    message = model_error(
        ip,
        f"class Long(Base):\n    __tablename__ = '{table}'\n"
        f"    {column} = Column(Integer, primary_key=True)\n",
    )
    assert "at most 64 characters: choose a shorter name" in message
    assert tables(ip) == []


def test_a_foreign_key_of_another_type_says_the_types_must_match(ip):
    run(
        ip,
        "%%model\nclass Team(Base):\n    __tablename__ = 'teams'\n"
        "    id = Column(Integer, primary_key=True)\n",
    )
    message = model_error(
        ip,
        "from sqlalchemy import BigInteger\n"
        "class Player(Base):\n    __tablename__ = 'players'\n"
        "    id = Column(Integer, primary_key=True)\n"
        "    team_id = Column(BigInteger, ForeignKey('teams.id'))\n",
    )
    assert "needs the same type as the column it references" in message
    assert tables(ip) == ["teams"]


def test_a_driver_error_reads_as_words_not_a_tuple(ip):
    run(
        ip,
        "%%model\nclass Tag(Base):\n    __tablename__ = 'tags'\n"
        "    id = Column(Integer, primary_key=True)\n",
    )
    run(ip, "%orm_add Tag(id=1)\n%orm_commit")
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("orm_add", "Tag(id=1) --flush")
    message = str(info.value)
    assert "IntegrityError in table tags: Duplicate entry '1' for key 'PRIMARY'" in message
    assert "(MySQL error 1062)" in message and "(1062," not in message


def test_a_type_mysql_lacks_says_what_to_use_instead(ip):
    message = model_error(
        ip,
        "from sqlalchemy import ARRAY\n"
        "class Post(Base):\n    __tablename__ = 'posts'\n"
        "    id = Column(Integer, primary_key=True)\n    tags = Column(ARRAY(Integer))\n",
    )
    assert "MySQL has no ARRAY type: use a type every database has" in message
    assert tables(ip) == []


def test_a_long_string_primary_key_says_how_long_a_key_may_be(ip):
    message = model_error(
        ip,
        "class Page(Base):\n    __tablename__ = 'pages'\n"
        "    url = Column(String(1000), primary_key=True)\n",
    )
    assert "Specified key was too long" in message and "(MySQL error 1071)" in message
    assert "at most `String(768)`: shorten it, or key on an `Integer` id" in message
    assert tables(ip) == []
    run(
        ip,
        "%%model\n" + "class Page(Base):\n    __tablename__ = 'pages'\n"
        "    url = Column(String(768), primary_key=True)\n",
    )
    assert tables(ip) == ["pages"]


@pytest.mark.parametrize("kind", ["unique", "index"])
def test_a_long_string_in_a_unique_key_or_index_is_accepted_by_mariadb(ip, kind):
    # MySQL refuses both (error 1071); MariaDB makes a hash key for the
    # unique one and a prefix index for the other. Not a trap here: the
    # 1071 line for these is untested on MySQL itself.
    run(
        ip,
        "%%model\nclass Page(Base):\n    __tablename__ = 'pages'\n"
        "    id = Column(Integer, primary_key=True)\n"
        f"    url = Column(String(1000), {kind}=True)\n",
    )
    assert tables(ip) == ["pages"]


@pytest.mark.parametrize("default", ["now()", "CURRENT_TIMESTAMP"])
def test_a_quoted_sql_default_says_to_write_func_now(ip, default):
    message = model_error(
        ip,
        "class Event(Base):\n    __tablename__ = 'events'\n"
        "    id = Column(Integer, primary_key=True)\n"
        f"    at = Column(DateTime, server_default={default!r})\n",
    )
    assert "Invalid default value for 'at' (MySQL error 1067)" in message
    assert "for the current time write `server_default=func.now()`" in message
    assert tables(ip) == []
    fixed = "from sqlalchemy import func\n" + (
        "class Event(Base):\n    __tablename__ = 'events'\n"
        "    id = Column(Integer, primary_key=True)\n"
        "    at = Column(DateTime, server_default=func.now())\n"
    )
    run(ip, "%%model\n" + fixed)
    assert tables(ip) == ["events"]


def test_a_string_longer_than_a_varchar_says_to_use_text(ip):
    message = model_error(
        ip,
        "class Note(Base):\n    __tablename__ = 'notes'\n"
        "    id = Column(Integer, primary_key=True)\n    body = Column(String(20000))\n",
    )
    assert "(MySQL error 1074)" in message
    assert "at most 16383 characters under utf8mb4: use `Text` for longer text" in message
    assert "(column 'body')" in message
    assert tables(ip) == []


def test_a_row_too_large_says_to_make_long_strings_text(ip):
    message = model_error(
        ip,
        "class Note(Base):\n    __tablename__ = 'notes'\n"
        "    id = Column(Integer, primary_key=True)\n"
        "    a = Column(String(9000))\n    b = Column(String(9000))\n",
    )
    assert "Row size too large" in message and "(MySQL error 1118)" in message
    assert "make the long `String` columns `Text`" in message
    assert tables(ip) == []


def test_a_text_default_is_accepted_by_mariadb(ip):
    # MySQL refuses it (error 1101, its line is in core/mysql_traps.py);
    # MariaDB stores it, so that line is not tested on a real server here.
    run(
        ip,
        "%%model\nclass Note(Base):\n    __tablename__ = 'notes'\n"
        "    id = Column(Integer, primary_key=True)\n"
        "    body = Column(Text, server_default='empty')\n",
    )
    run(ip, "%orm_add Note(id=1)\n%orm_commit")
    with ip.user_ns["engine"].connect() as conn:
        assert conn.exec_driver_sql("SELECT body FROM notes").scalar() == "empty"
