"""A real, throwaway PostgreSQL server for the tests: ``initdb`` + ``pg_ctl``.

The server lives in a temporary directory, listens on a free loopback port
(and a Unix socket in the same directory) and is stopped afterwards. As root
it runs as the ``postgres`` user, since PostgreSQL refuses to run as root.
``fsync`` is off: the data is thrown away, and it keeps the suite fast.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

#: The superuser's password; TCP connections must give it (scram-sha-256).
PASSWORD = "pg-test-secret"


#: Run by a detached Python: wait for the test process, then stop its server.
WATCHER = """
import os, shutil, subprocess, sys, time
owner, root, pg_ctl = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
while os.path.isdir(root):
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        break
    time.sleep(1)
if os.path.isdir(root):
    subprocess.run(pg_ctl + ["stop", "-m", "immediate", "-D", root + "/data"], capture_output=True)
    shutil.rmtree(root, ignore_errors=True)
"""


def find_bin_dir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``, or None when absent."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    # Debian keeps them out of PATH, one directory per major version.
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(os.path.join(directory, "initdb"), os.X_OK):
            return Path(directory)
    return None


def unavailable_reason() -> str | None:
    """Why no server can be started here, or None when one can."""
    if find_bin_dir() is None:
        return (
            "PostgreSQL binaries (initdb, pg_ctl) not found; install Debian's "
            "`postgresql` package (.ci/run does) to run the PostgreSQL tests"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` user to run the server as"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed: pip install -e '.[test]'"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One server process; :meth:`create_database` gives each test its own database."""

    def __init__(self) -> None:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise RuntimeError(unavailable_reason())
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="orm_magic_pg_"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._names = itertools.count(1)
        self._initdb()
        self._watch_owner()

    def _run(self, *args: str) -> None:
        command = self._as_user + [str(self.bin_dir / args[0]), *args[1:]]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed:\n{done.stdout}\n{done.stderr}")

    def _initdb(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        if self._as_user:
            shutil.chown(pwfile, "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            f"--pwfile={pwfile}",
        )

    def _watch_owner(self) -> None:
        # pg_ctl detaches the server: if this process is killed (SIGTERM from a
        # timeout, SIGKILL), no finalizer runs. A small watcher outlives it
        # and stops the server and removes its directory once it is gone.
        command = self._as_user + [str(self.bin_dir / "pg_ctl")]
        subprocess.Popen(
            [sys.executable, "-c", WATCHER, str(os.getpid()), str(self.root), *command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "start",
            "-w",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
        )

    def restart(self) -> None:
        """Stop (``-m fast``: every session is cut off) and start again."""
        self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data))
        self.start()

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        try:
            self._run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(self.data))
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        """A SQLAlchemy URL for ``database`` over TCP, with the password."""
        return f"postgresql+psycopg://postgres:{password}@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str, database: str = "postgres") -> None:
        import psycopg

        dsn = f"host={self.root} port={self.port} user=postgres dbname={database}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self) -> str:
        """A new empty database; returns its name."""
        name = f"test_{next(self._names)}"
        self._admin(f"CREATE DATABASE {name}")
        return name

    def empty_database(self, name: str) -> None:
        """Make ``name`` empty again, faster than a new database.

        Sessions a test left behind are cut off first, so that no lock they
        hold can block the DROP.
        """
        self._admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )
        self._admin("DROP SCHEMA public CASCADE; CREATE SCHEMA public", database=name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, cutting off any session a test left connected."""
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
