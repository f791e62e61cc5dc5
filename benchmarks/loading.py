"""``%orm_load MODEL frame --flush`` against what a user writes without it.

The plain side is the cell a user writes to load a DataFrame with plain
SQLAlchemy: ``session.add_all([Item(**row) for row in frame.to_dict("records")])``
then ``session.flush()``, on an engine and models of its own that orm_magic
does not listen to. Both sides make the same objects from the same frame and
flush them in one transaction, rolled back (untimed) after each round.
"""

from __future__ import annotations

from typing import Any

from harness import Result, interleaved, median
from IPython.core.displaypub import CapturingDisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from sqlalchemy import Float, Integer, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import StaticPool

MODEL_CELL = """%%model
class LoadItem(Base):
    __tablename__ = 'load_items'
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    qty: Mapped[int] = mapped_column(Integer)
    price: Mapped[float] = mapped_column(Float)
"""


class _PlainBase(DeclarativeBase):
    pass


class PlainLoadItem(_PlainBase):
    __tablename__ = "load_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    qty: Mapped[int] = mapped_column(Integer)
    price: Mapped[float] = mapped_column(Float)


def frame_of(rows: int) -> Any:
    """A DataFrame of ``rows`` new items, with the dtypes ``read_csv`` would give."""
    import pandas

    return pandas.DataFrame(
        {
            "id": range(1, rows + 1),
            "name": [f"item {i}" for i in range(rows)],
            "qty": [i % 17 for i in range(rows)],
            "price": [round(i * 0.37, 2) for i in range(rows)],
        }
    )


def load_case(rows: int, rounds: int) -> Result:
    """``%orm_load LoadItem frame --flush`` of ``rows`` rows against plain add_all + flush."""
    shell = InteractiveShell.instance()
    shell.display_pub = CapturingDisplayPublisher()  # formatted, not printed

    def cell(source: str) -> None:
        result = shell.run_cell(source, store_history=False)
        if not result.success:
            raise RuntimeError(f"cell failed: {source[:60]!r}: {result.error_in_exec!r}")

    if getattr(shell, "_orm_magic", None) is None:
        cell("%load_ext orm_magic")
    cell(MODEL_CELL)
    engine = create_engine("sqlite://", poolclass=StaticPool)
    _PlainBase.metadata.create_all(engine)
    plain_session = Session(engine)
    ns = shell.user_ns
    ns.update(load_frame=frame_of(rows), plain_session=plain_session, PlainLoadItem=PlainLoadItem)

    def run_a() -> None:
        cell("%orm_load LoadItem load_frame --flush")

    def run_b() -> None:
        cell(
            "plain_session.add_all([PlainLoadItem(**row) for row in"
            " load_frame.to_dict('records')])\nplain_session.flush()"
        )

    def after() -> None:
        ns["session"].rollback()
        plain_session.rollback()
        shell.display_pub.outputs.clear()

    try:
        a, b = interleaved(run_a, run_b, rounds, after_a=after, after_b=after)
    finally:
        plain_session.close()
        engine.dispose()
        for name in ("load_frame", "plain_session", "PlainLoadItem"):
            ns.pop(name, None)
    return Result(
        f"%orm_load of {rows:,} rows + flush (vs add_all + flush)",
        median(a),
        median(b),
        1.2,
        runs=rounds,
        note="plain: add_all([Item(**row) for row in frame.to_dict('records')]) + flush",
        samples={"orm_magic": a, "baseline": b},
    )


if __name__ == "__main__":
    import sys

    result = load_case(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, 5)
    print(f"{result.case}: ratio {result.ratio:.2f} (quartiles {result.spread}), "
          f"{result.orm_magic:.2f} s vs {result.baseline:.2f} s")  # fmt: skip
