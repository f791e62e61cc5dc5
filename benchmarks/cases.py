"""The in-process benchmark cases: one shell, orm_magic and plain SQLAlchemy side by side.

Both sides run as notebook cells through ``shell.run_cell`` in the same
InteractiveShell, and both display through IPython's display formatter, which
renders every mime type (``text/plain`` and ``text/html``) as a notebook does.
The plain side uses its own engine, models and session, which orm_magic does
not listen to, so it is the same work "without the extension".
"""

from __future__ import annotations

import importlib.util
import io
import logging
import os
from collections.abc import Callable
from typing import Any

from harness import Result, growth, interleaved, median
from IPython.core.displaypub import CapturingDisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import display
from IPython.utils.capture import capture_output
from sqlalchemy import Column, Integer, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.pool import StaticPool

COLUMNS = ("name", "fullname", "nickname")


def populate_sql(table: str, rows: int) -> str:
    """One statement that fills ``table`` with ``rows`` rows, generated inside SQLite."""
    return (
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) "
        f"INSERT INTO {table} (id, name, fullname, nickname) "
        "SELECT i, 'user' || i, 'User number ' || i, 'nick' || i FROM n"
    )


def model_source(sizes: list[int]) -> str:
    """A %%model cell defining one users table per size."""
    parts = []
    for size in sizes:
        parts.append(
            f"class User{size}(Base):\n"
            f"    __tablename__ = 'users_{size}'\n"
            "    id = Column(Integer, primary_key=True)\n"
            "    name = Column(String)\n"
            "    fullname = Column(String)\n"
            "    nickname = Column(String)\n"
        )
    return "%%model\n" + "\n".join(parts)


class PlainBase(DeclarativeBase):
    pass


def plain_models(sizes: list[int]) -> dict[int, type]:
    """The same tables for the plain side, on a Base of its own."""
    models: dict[int, type] = {}
    for size in sizes:
        namespace = {
            "__tablename__": f"users_{size}",
            "id": Column(Integer, primary_key=True),
            **{name: Column(String) for name in COLUMNS},
        }
        models[size] = type(f"PlainUser{size}", (PlainBase,), namespace)
    return models


#: The plain notebook cell for "add one row": what a user sees without orm_magic,
#: by hand: the SQL as ``echo=True`` prints it (the plain engine echoes), the
#: first rows as a DataFrame and the row count.
PLAIN_ADD_CELL = """\
plain_session.add(plain_obj)
plain_session.flush()
plain_conn = plain_session.connection()
plain_df = pd.read_sql(select(plain_table).order_by(plain_table.c.id).limit(10), plain_conn)
plain_total = plain_conn.execute(select(func.count()).select_from(plain_table)).scalar_one()
display(plain_df)
"""


class Bench:
    """A shell with orm_magic loaded and a plain engine, tables filled once per size."""

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes
        self.shell = InteractiveShell.instance()
        # Collect displays instead of printing them; formatting still happens.
        self.shell.display_pub = CapturingDisplayPublisher()
        self.cell("%load_ext orm_magic")
        self.cell(model_source(sizes))
        ns = self.shell.user_ns
        self.workspace = self.shell._orm_magic.workspace
        self.engine = create_engine("sqlite://", poolclass=StaticPool)
        self.models = plain_models(sizes)
        PlainBase.metadata.create_all(self.engine)
        # echo=True's own handler and format, writing to a stream that is
        # emptied between rounds, as a notebook's output area takes it
        # (add_one turns echo on; the bulk case compares with add_all + flush alone)
        self.echoed = io.StringIO()
        self.engine.echo = True
        for handler in logging.getLogger("sqlalchemy.engine.Engine").handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(self.echoed)
        self.engine.echo = False
        self.session = Session(self.engine)
        for size in sizes:
            for engine in (self.workspace.engine, self.engine):
                with engine.begin() as conn:
                    conn.exec_driver_sql(populate_sql(f"users_{size}", size))
        exec("import pandas as pd\nfrom sqlalchemy import select, func", ns)
        ns.update(plain_session=self.session, display=display)
        self.clear()

    def cell(self, source: str) -> Any:
        result = self.shell.run_cell(source, store_history=False)
        if not result.success:
            raise RuntimeError(f"cell failed: {source[:60]!r}: {result.error_in_exec!r}")
        return result

    def clear(self) -> list[dict[str, str]]:
        """The displays since the last call, as mime bundles, and forget them."""
        outputs = [output["data"] for output in self.shell.display_pub.outputs]
        self.shell.display_pub.outputs.clear()
        return outputs

    def new_user(self, cls: type, index: int) -> Any:
        return cls(name=f"new{index}", fullname=f"New user {index}", nickname=f"n{index}")

    def orm_model(self, size: int) -> type:
        return self.shell.user_ns[f"User{size}"]

    def rollback(self) -> None:
        """Back to the filled tables, untimed."""
        self.shell.user_ns["session"].rollback()
        self.session.rollback()
        self.clear()
        self.echoed.seek(0)
        self.echoed.truncate()

    # -- cases -------------------------------------------------------------------
    def add_one(self, rounds: int) -> list[Result]:
        """%orm_add obj --flush, rendered, against the plain cell, at every size.

        The sizes are interleaved round by round (10, 10,000, 1,000,000 rows,
        then again), so that a machine that slows down between rounds slows
        every size alike, and the size-independence figure compares rounds
        that ran side by side.
        """
        samples: dict[int, tuple[list[float], list[float]]] = {s: ([], []) for s in self.sizes}
        self.engine.echo = True
        warmup = 1
        for index in range(warmup + rounds):
            for size in self.sizes:
                a, b = interleaved(
                    lambda: self.cell("%orm_add obj --flush"),
                    lambda: self.cell(PLAIN_ADD_CELL),
                    1,
                    *self._add_one_steps(size),
                    warmup=0,
                    start=index,
                )
                if index >= warmup:
                    samples[size][0].extend(a)
                    samples[size][1].extend(b)
        self.engine.echo = False
        results = [
            Result(
                f"add one row, {size:,} rows",
                median(a),
                median(b),
                1.10,  # issue 19: against a plain cell that echoes its SQL
                runs=rounds,
                samples={"orm_magic": a, "baseline": b},
            )
            for size, (a, b) in samples.items()
        ]
        small, big = results[0], results[-1]
        results.append(
            growth(
                f"size independence, {max(self.sizes):,} vs {min(self.sizes):,} rows",
                big,
                small,
                1.2,
                "orm_magic at the big table less the database's own growth, over orm_magic "
                "at the small table",
            )
        )
        return results

    def _add_one_steps(self, size: int) -> tuple[Callable[[], None], ...]:
        """The untimed steps around one add-one round at ``size``: the two
        setups (a new object) and the two checks (it was shown; roll back)."""
        ns = self.shell.user_ns
        orm_cls, plain_cls = self.orm_model(size), self.models[size]

        def setup_a() -> None:
            ns["obj"] = self.new_user(orm_cls, 0)

        def setup_b() -> None:
            ns["plain_obj"] = self.new_user(plain_cls, 0)
            ns["plain_table"] = plain_cls.__table__

        def check_a() -> None:
            bundles = self.clear()
            html = "".join(bundle.get("text/html", "") for bundle in bundles)
            if f"users_{size}" not in html or "INSERT" not in html:
                raise RuntimeError(f"%orm_add rendered no HTML report: {bundles!r}"[:300])
            self.rollback()

        def check_b() -> None:
            bundles = self.clear()
            if not any("text/html" in bundle for bundle in bundles):
                raise RuntimeError("the plain cell rendered no HTML")
            if "INSERT INTO" not in self.echoed.getvalue():
                raise RuntimeError("the plain engine echoed no SQL")
            self.rollback()

        return setup_a, setup_b, check_a, check_b

    def bulk(self, count: int, rounds: int) -> Result:
        """%orm_add of ``count`` new objects then %orm_flush, against add_all + flush."""
        ns = self.shell.user_ns
        size = min(self.sizes)
        orm_cls, plain_cls = self.orm_model(size), self.models[size]

        def setup_a() -> None:
            ns["objs"] = [self.new_user(orm_cls, i) for i in range(count)]

        def setup_b() -> None:
            ns["plain_objs"] = [self.new_user(plain_cls, i) for i in range(count)]

        def run_a() -> None:
            self.cell("%orm_add objs")
            self.cell("%orm_flush")

        def run_b() -> None:
            self.cell("plain_session.add_all(plain_objs)")
            self.cell("plain_session.flush()")

        def after() -> None:
            self.rollback()
            ns.pop("objs", None)
            ns.pop("plain_objs", None)

        a, b = interleaved(run_a, run_b, rounds, setup_a, setup_b, after, after)
        return Result(
            f"bulk, {count:,} objects",
            median(a),
            median(b),
            1.10,
            runs=rounds,
            samples={"orm_magic": a, "baseline": b},
        )

    def noise(self, count: int, rounds: int) -> Result:
        """Informative: the plain bulk work against itself (an A/A run).

        Both sides are the same code, so the ratio is 1.00 but for the
        machine: how far from 1.00 it lands is the noise of the statistic.
        """
        ns = self.shell.user_ns
        plain_cls = self.models[min(self.sizes)]

        def setup() -> None:
            ns["plain_objs"] = [self.new_user(plain_cls, i) for i in range(count)]

        def run() -> None:
            self.cell("plain_session.add_all(plain_objs)")
            self.cell("plain_session.flush()")

        def after() -> None:
            self.rollback()
            ns.pop("plain_objs", None)

        a, b = interleaved(run, run, rounds, setup, setup, after, after)
        return Result(
            f"A/A: plain bulk, {count:,} objects, vs itself",
            median(a),
            median(b),
            None,
            kind="info",
            runs=rounds,
            note="the same code on both sides: the distance from 1.00 is the noise",
            samples={"orm_magic": a, "baseline": b},
        )

    def jupysql(self, rounds: int) -> Result:
        """Informative: jupysql's %sql SELECT * against %orm_show on the biggest table."""
        size = max(self.sizes)
        name = f"jupysql %sql SELECT * vs %orm_show, {size:,} rows"
        if importlib.util.find_spec("sql") is None:
            return Result(name, None, None, None, kind="info", note="jupysql not installed")
        # jupysql's telemetry would reach for the network on every magic
        os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")
        self.cell("%load_ext sql")
        self.shell.user_ns["orm_engine"] = self.workspace.engine
        self.cell("%sql orm_engine")
        self.clear()

        def quietly(source: str) -> None:
            # %sql returns its result to the displayhook, which prints; both
            # sides are rendered (every mime type) and captured alike.
            with capture_output():
                self.cell(source)

        a, b = interleaved(
            lambda: quietly(f"%orm_show User{size}"),
            lambda: quietly(f"%sql SELECT * FROM users_{size}"),
            rounds,
            after_a=self.clear,
            after_b=self.clear,
        )
        return Result(
            name,
            median(a),
            median(b),
            None,
            kind="info",
            runs=rounds,
            note="orm_magic / jupysql, both rendered to HTML; informative only",
            samples={"orm_magic": a, "baseline": b},
        )
