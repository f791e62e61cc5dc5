"""A real IPython InteractiveShell with orm_magic loaded, fresh for each test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell

from . import mariadb, pg

# Strings have a length: MySQL and MariaDB refuse a VARCHAR without one.
SEED_MODEL = """
class User(Base):
    __tablename__ = 'users'
    id = Column(Integer, primary_key=True)
    name = Column(String(50))
    fullname = Column(String(50))
    nickname = Column(String(50))

    def __repr__(self):
        return "<User(name='%s', fullname='%s', nickname='%s')>" % (
            self.name, self.fullname, self.nickname)
"""

TYPED_MODEL = """
class User(Base):
    __tablename__ = 'users'
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(50))
    fullname: Mapped[str | None] = mapped_column(String(50))
    nickname: Mapped[str | None] = mapped_column(String(50))

    def __repr__(self):
        return "<User(name='%s', fullname='%s', nickname='%s')>" % (
            self.name, self.fullname, self.nickname)
"""


@pytest.fixture(scope="session")
def shell() -> InteractiveShell:
    return InteractiveShell.instance()


# -- the databases every `ip` test runs on -----------------------------------------
@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.PostgresServer]:
    """A real PostgreSQL server for the whole run, started here and stopped after.

    Skipped with the reason when the binaries are absent, unless
    ORM_MAGIC_REQUIRE_POSTGRES=1 (as in .ci/run) makes that an error.
    """
    reason = pg.unavailable_reason()
    if reason:
        if os.environ.get("ORM_MAGIC_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required (ORM_MAGIC_REQUIRE_POSTGRES=1): {reason}")
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    server = pg.PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_database(pg_server: pg.PostgresServer) -> str:
    """The database the `ip` tests share, one after the other."""
    return pg_server.create_database()


@pytest.fixture
def pg_url(pg_server: pg.PostgresServer, pg_database: str) -> str:
    """The URL of an empty database on the test server (emptied before each test)."""
    pg_server.empty_database(pg_database)
    return pg_server.url(pg_database)


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[mariadb.MariaDBServer]:
    """A real MariaDB server for the whole run, started here and stopped after.

    Skipped with the reason when the binaries are absent, unless
    ORM_MAGIC_REQUIRE_MARIADB=1 (as in .ci/run) makes that an error.
    """
    reason = mariadb.unavailable_reason()
    if reason:
        if os.environ.get("ORM_MAGIC_REQUIRE_MARIADB") == "1":
            pytest.fail(f"MariaDB required (ORM_MAGIC_REQUIRE_MARIADB=1): {reason}")
        pytest.skip(f"MariaDB tests skipped: {reason}")
    server = mariadb.MariaDBServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mariadb_url(mariadb_server: mariadb.MariaDBServer) -> str:
    """The URL (``mysql+pymysql://``) of a fresh database of its own, made once per run.

    Not emptied between tests: a test that uses it cleans up after itself.
    """
    return mariadb_server.url(mariadb_server.create_database())


@pytest.fixture(scope="session")
def mariadb_database(mariadb_server: mariadb.MariaDBServer) -> str:
    """The database the `ip` tests share on MariaDB, one after the other."""
    return mariadb_server.create_database()


@pytest.fixture
def mariadb_empty_url(mariadb_server: mariadb.MariaDBServer, mariadb_database: str) -> str:
    """The URL of an empty database on the MariaDB server (emptied before each test)."""
    mariadb_server.empty_database(mariadb_database)
    return mariadb_server.url(mariadb_database)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def db_url(request: pytest.FixtureRequest) -> str:
    """Each database the workspace is tested on: in-memory SQLite, PostgreSQL, MariaDB."""
    if request.param == "sqlite":
        return "sqlite://"
    if request.param == "mariadb":
        return request.getfixturevalue("mariadb_empty_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def ip(shell: InteractiveShell, db_url: str, monkeypatch: pytest.MonkeyPatch):
    """The shell with orm_magic freshly loaded on an empty namespace, on ``db_url``.

    The URL comes in through ORM_MAGIC_URL, as a user's would.
    """
    monkeypatch.setenv("ORM_MAGIC_URL", db_url)
    shell.reset(new_session=False)
    shell.run_line_magic("load_ext", "orm_magic")
    yield shell
    shell.run_line_magic("unload_ext", "orm_magic")
    shell.config.pop("OrmMagic", None)  # %config in one test must not leak into the next
    shell.reset(new_session=False)
