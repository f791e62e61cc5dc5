"""The kernel-wide SQL log as a DataFrame (``%orm_log``), one row per statement."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from ..data.statements import Statement
from .sql import clock
from .tables import NO_MATH

if TYPE_CHECKING:
    import pandas as pd


def log_frame(statements: list[Statement]) -> pd.DataFrame:
    """The SQL log as a DataFrame, one row per statement, oldest first."""
    records = [
        {
            "seq": s.seq,
            "time": clock(s.started),
            "statement": s.sql.strip(),
            "parameters": s.parameters,
            "executemany": s.executemany,
            "duration_ms": None if s.duration is None else round(s.duration * 1000, 3),
            "rowcount": s.rowcount,
        }
        for s in statements
    ]
    columns = ["seq", "time", "statement", "parameters", "executemany", "duration_ms", "rowcount"]
    if any(s.session is not None for s in statements):  # several sessions: name each one's
        for record, s in zip(records, statements, strict=True):
            record["session"] = s.session
        columns.insert(2, "session")
    frame = _log_frame_class().from_records(records, columns=columns)
    # nullable dtypes: a BEGIN has no duration or rowcount, which reads <NA>, not NaN
    dtypes = {"duration_ms": "Float64", "rowcount": "Int64"}
    if "session" in columns:
        dtypes["session"] = "string"
    return frame.astype(dtypes)


@functools.cache
def _log_frame_class() -> type[pd.DataFrame]:
    """A DataFrame whose HTML MathJax leaves alone (``$1``, ``$x$`` in SQL or values).

    Defined on first use, so that pandas is imported only then.
    """
    import pandas as pd

    class SqlLog(pd.DataFrame):
        @property
        def _constructor(self) -> type[pd.DataFrame]:
            return SqlLog

        def _repr_html_(self) -> str | None:
            inner = super()._repr_html_()
            return None if inner is None else f'<div class="{NO_MATH}">{inner}</div>'

    return SqlLog
