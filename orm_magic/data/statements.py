"""The statements a block of code emitted, as recorded: plain data, bounded.

:class:`Statement` is one statement or transaction boundary as the engine sent
it. :class:`Capture` collects those of one block (a magic, a cell), keeping the
first and the last of them and counting the rest, with the SELECTs that
repeat (N+1). The recorder in :mod:`orm_magic.core.capture` fills them in.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any

#: How many distinct SELECT texts one capture counts repeats of; a block that
#: emits more distinct ones than this stops counting new ones.
REPEAT_KEYS = 200


@dataclass(slots=True)
class Statement:
    """One statement or transaction boundary, as the engine sent it.

    The recorder keeps each one as a plain list of these fields in this order
    (an :data:`Entry`, cheaper to make 100,000 times in a bulk flush) and
    builds a Statement only for the few it keeps: ``Statement(*entry)``.
    """

    seq: int
    sql: str
    parameters: Any = None
    executemany: bool = False
    #: how many parameter sets (executemany) or values were left out
    parameters_omitted: int = 0
    started: float = 0.0  # time.time() when it was sent
    duration: float | None = None  # seconds, None until it completed
    rowcount: int | None = None
    table: str | None = None  # target table of an INSERT/UPDATE/DELETE
    is_transaction: bool = False  # BEGIN (implicit) / COMMIT / ROLLBACK
    #: the relationship this SELECT loads, e.g. ``Author.books`` (see LOADER_OPTION)
    loader: str | None = None
    #: the named session whose transaction sent it, once a workspace has several
    session: str | None = None


#: A statement as recorded: Statement's fields, in order, in a list.
Entry = list[Any]
# Positions in an Entry that the recorder and Capture.add read or fill in.
AT_SQL, AT_PARAMETERS = 1, 2
AT_DURATION, AT_ROWCOUNT, AT_TABLE, AT_IS_TRANSACTION, AT_LOADER = 6, 7, 8, 9, 10
AT_SESSION = 11


@dataclass
class Repeat:
    """One SELECT text as sent again and again within a capture."""

    sql: str
    count: int
    first_parameters: Any
    #: True once a later execution had parameters unlike the first's
    varied: bool = False
    loader: str | None = None


@dataclass(eq=False)  # identity, not field equality: captures nest and are removed by identity
class Capture:
    """The statements emitted while one block ran, bounded at both ends.

    ``head`` keeps the first statements and ``tail`` the last ones; ``count``
    counts them all, so a block that emits 100,000 statements costs a few
    dozen references.
    """

    keep: int = 50
    head: list[Entry] = field(default_factory=list)
    tail: deque[Entry] = field(default_factory=deque)
    count: int = 0
    tables: dict[str, None] = field(default_factory=dict)  # ordered set
    #: database time and rows affected by DML, summed over every statement,
    #: kept or not, as each completes
    elapsed: float = 0.0
    rowcount: int = 0
    #: SELECT texts and how often each was sent, at most REPEAT_KEYS of them
    repeats: dict[str, Repeat] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tail = deque(self.tail, maxlen=self.keep)

    def add(self, entry: Entry) -> None:
        self.count += 1
        table = entry[AT_TABLE]
        if table is not None:
            self.tables.setdefault(table, None)
        elif not entry[AT_IS_TRANSACTION] and entry[AT_SQL][:6].upper() == "SELECT":
            self._count_repeat(entry)
        if len(self.head) < self.keep:
            self.head.append(entry)
        else:
            self.tail.append(entry)  # a bounded deque drops the oldest itself

    def _count_repeat(self, entry: Entry) -> None:
        # One dict lookup per SELECT; the parameters are compared, not copied.
        sql, parameters, loader = entry[AT_SQL], entry[AT_PARAMETERS], entry[AT_LOADER]
        repeat = self.repeats.get(sql)
        if repeat is None:
            if len(self.repeats) < REPEAT_KEYS:
                self.repeats[sql] = Repeat(sql, 1, parameters, loader=loader)
            return
        repeat.count += 1
        if not repeat.varied and parameters != repeat.first_parameters:
            repeat.varied = True
        if repeat.loader is None:
            repeat.loader = loader

    def repeated(self, threshold: int) -> list[Repeat]:
        """SELECTs sent at least ``threshold`` times with differing parameters (N+1)."""
        if threshold <= 1:
            threshold = 2
        return [r for r in self.repeats.values() if r.count >= threshold and r.varied]

    @property
    def statements(self) -> list[Statement]:
        """The kept statements, oldest first."""
        return [Statement(*entry) for entry in itertools.chain(self.head, self.tail)]

    @property
    def omitted(self) -> int:
        """How many statements between head and tail were not kept."""
        return self.count - len(self.head) - len(self.tail)
