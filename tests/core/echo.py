"""What ``echo=True`` logs, recorded from SQLAlchemy's engine logger.

The same records as ``create_engine(..., echo=True)``, taken at the logger
(its level set to INFO for the block) rather than through the stream handler
that ``echo=True`` adds for good to a logger without one.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any


class EchoLog(logging.Handler):
    """The statements and transaction boundaries logged, with their parameters."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        #: (statement or BEGIN/COMMIT/ROLLBACK, parameters or None), in order
        self.sent: list[tuple[str, Any]] = []

    @property
    def lines(self) -> list[str]:
        return [sql for sql, _ in self.sent]

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith("["):  # "[generated in 0.0001s] %r": the parameters
            if record.args and self.sent:
                shown = record.args[-1]  # type: ignore[index]
                self.sent[-1] = (self.sent[-1][0], getattr(shown, "params", shown))
            return
        self.sent.append((record.getMessage().strip(), None))


@contextlib.contextmanager
def echo_log() -> Iterator[EchoLog]:
    """Record what the engines log while the block runs, as ``echo=True`` would."""
    handler = EchoLog()
    logger = logging.getLogger("sqlalchemy.engine.Engine")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
