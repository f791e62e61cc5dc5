"""A real, throwaway MariaDB server for the tests: ``mariadb-install-db`` + ``mariadbd``.

Like tests/pg.py: the server lives in a temporary directory, listens on a free
loopback port (and a Unix socket in the same directory) and is stopped
afterwards. As root it runs as the ``mysql`` user. Durability is off
(no flush at commit, no doublewrite, no binary log): the data is thrown away,
and it keeps the suite fast.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .pg import free_port

#: The test user's password; TCP connections must give it.
PASSWORD = "mariadb-test-secret"
USER = "orm_magic"

#: Run by a detached Python: wait for the test process, then kill its server
#: (the pid in its pid file: a restart changes it) and remove its directory.
WATCHER = """
import os, shutil, signal, sys, time
owner, root = int(sys.argv[1]), sys.argv[2]
while os.path.isdir(root):
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        break
    time.sleep(1)
if os.path.isdir(root):
    try:
        with open(os.path.join(root, "mysqld.pid")) as pid_file:
            os.kill(int(pid_file.read()), signal.SIGKILL)
    except (OSError, ValueError):
        pass
    shutil.rmtree(root, ignore_errors=True)
"""

# Durability and memory traded for speed: a test server holds a few rows.
SERVER_OPTIONS = [
    "--skip-log-bin",
    "--skip-performance-schema",
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-doublewrite=0",
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=16M",
    "--skip-name-resolve",
    # Debian's configuration says utf8mb4, which --no-defaults leaves out.
    "--character-set-server=utf8mb4",
]


def find_server() -> tuple[str, str] | None:
    """The paths of ``mariadb-install-db`` and ``mariadbd``, or None when absent."""
    install = shutil.which("mariadb-install-db")
    server = shutil.which("mariadbd") or (
        "/usr/sbin/mariadbd" if os.access("/usr/sbin/mariadbd", os.X_OK) else None
    )
    return (install, server) if install and server else None


def memory_dir() -> str | None:
    """``/dev/shm`` when it is a writable directory, else None (the default temp dir).

    InnoDB syncs its files at every CREATE and DROP, whatever the options say;
    on a memory file system a sync costs nothing (a test's DDL runs 3-4x faster).
    """
    return "/dev/shm" if os.access("/dev/shm", os.W_OK | os.X_OK) else None


def unavailable_reason() -> str | None:
    """Why no server can be started here, or None when one can."""
    if find_server() is None:
        return (
            "MariaDB binaries (mariadb-install-db, mariadbd) not found; install Debian's "
            "`mariadb-server` package (.ci/run does) to run the MariaDB tests"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("mysql")
        except KeyError:
            return "running as root and there is no `mysql` user to run the server as"
    try:
        import pymysql  # noqa: F401
    except ImportError:
        return "PyMySQL is not installed: pip install -e '.[test]'"
    return None


class MariaDBServer:
    """One server process; :meth:`create_database` gives each user its own database."""

    def __init__(self) -> None:
        found = find_server()
        if found is None:
            raise RuntimeError(unavailable_reason())
        self.install_db, self.mariadbd = found
        self.root = Path(tempfile.mkdtemp(prefix="orm_magic_mariadb_", dir=memory_dir()))
        self.data = self.root / "data"
        self.socket = self.root / "mysqld.sock"
        self.port = free_port()
        self._as_user: list[str] = []
        self._user_option: list[str] = []
        if os.geteuid() == 0:
            entry = pwd.getpwnam("mysql")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self._as_user = ["runuser", "-u", "mysql", "--"]
            # the server drops root itself, so that our child is the server
            # (runuser would stand between, and outlive a kill of itself)
            self._user_option = ["--user=mysql"]
        self._names = itertools.count(1)
        self._process: subprocess.Popen[bytes] | None = None
        self._admin_connection: Any = None
        self._install()
        self._watch_owner()

    def _install(self) -> None:
        command = self._as_user + [
            self.install_db,
            "--no-defaults",
            f"--datadir={self.data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
        ]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        """Start the server and wait until it answers on its socket."""
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 (closed below: the server has its copy)
        self._process = subprocess.Popen(
            [
                self.mariadbd,
                "--no-defaults",
                *self._user_option,
                f"--datadir={self.data}",
                f"--socket={self.socket}",
                f"--pid-file={self.root / 'mysqld.pid'}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                *SERVER_OPTIONS,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=self.root,
        )
        log.close()
        self._wait_ready()
        self._admin(
            f"CREATE USER IF NOT EXISTS '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'",
            f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'127.0.0.1'",
        )

    def _wait_ready(self, timeout: float = 60.0) -> None:
        import pymysql

        deadline = time.monotonic() + timeout
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                log = (self.root / "server.log").read_text(errors="replace")
                raise RuntimeError(f"mariadbd exited ({self._process.returncode}):\n{log}")
            try:
                pymysql.connect(unix_socket=str(self.socket), user="root").close()
                return
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _watch_owner(self) -> None:
        # If this process is killed (SIGTERM from a timeout, SIGKILL), no
        # finalizer runs: a small watcher outlives it, then kills the server
        # and removes its directory.
        subprocess.Popen(
            [sys.executable, "-c", WATCHER, str(os.getpid()), str(self.root)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def restart(self) -> None:
        """Stop (every session is cut off) and start again, on the same port and data."""
        assert self._process is not None
        self._close_admin()
        self._process.terminate()  # a clean shutdown: InnoDB needs no recovery after
        self._process.wait(timeout=60)
        self.start()

    def _close_admin(self) -> None:
        if self._admin_connection is not None:
            with contextlib.suppress(Exception):  # the server may be gone already
                self._admin_connection.close()
            self._admin_connection = None

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        self._close_admin()
        try:
            if self._process is not None and self._process.poll() is None:
                # the data is thrown away: no clean shutdown to wait for
                self._process.kill()
                self._process.wait(timeout=30)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str, password: str = PASSWORD) -> str:
        """A SQLAlchemy URL for ``database`` over TCP, with the password."""
        return (
            f"mysql+pymysql://{USER}:{password}@127.0.0.1:{self.port}/{database}?charset=utf8mb4"
        )

    def _admin(self, *statements: str) -> list[tuple]:
        """Run ``statements`` as root on the socket; one connection kept for all calls."""
        import pymysql

        if self._admin_connection is None:
            self._admin_connection = pymysql.connect(
                unix_socket=str(self.socket), user="root", autocommit=True
            )
        rows: list[tuple] = []
        with self._admin_connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
                rows.extend(cursor.fetchall())
        return rows

    def create_database(self) -> str:
        """A new empty database; returns its name."""
        name = f"test_{next(self._names)}"
        self._admin(f"CREATE DATABASE {name}")
        return name

    def _kill_sessions(self, name: str) -> None:
        import pymysql

        # Sessions a test left behind may hold metadata locks that would block
        # the DROP (MySQL has no DROP DATABASE ... WITH (FORCE)).
        rows = self._admin(
            "SELECT id FROM information_schema.processlist "
            f"WHERE db = '{name}' AND id <> CONNECTION_ID()"
        )
        for (session_id,) in rows:
            with contextlib.suppress(pymysql.err.OperationalError):  # it ended meanwhile
                self._admin(f"KILL {int(session_id)}")

    def empty_database(self, name: str) -> None:
        """Make ``name`` empty again: sessions in it cut off, then drop and create."""
        self._kill_sessions(name)
        self._admin(f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")

    def drop_database(self, name: str) -> None:
        """Drop ``name``, cutting off any session a test left connected."""
        self._kill_sessions(name)
        self._admin(f"DROP DATABASE IF EXISTS {name}")
