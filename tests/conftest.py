"""A real IPython InteractiveShell with orm_magic loaded, fresh for each test."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

SEED_MODEL = """
class User(Base):
    __tablename__ = 'users'
    id = Column(Integer, primary_key=True)
    name = Column(String)
    fullname = Column(String)
    nickname = Column(String)

    def __repr__(self):
        return "<User(name='%s', fullname='%s', nickname='%s')>" % (
            self.name, self.fullname, self.nickname)
"""

TYPED_MODEL = """
class User(Base):
    __tablename__ = 'users'
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None]
    fullname: Mapped[str | None]
    nickname: Mapped[str | None]

    def __repr__(self):
        return "<User(name='%s', fullname='%s', nickname='%s')>" % (
            self.name, self.fullname, self.nickname)
"""


@pytest.fixture(scope="session")
def shell() -> InteractiveShell:
    return InteractiveShell.instance()


@pytest.fixture
def ip(shell: InteractiveShell):
    """The shell with orm_magic freshly loaded on an empty namespace."""
    shell.reset(new_session=False)
    shell.run_line_magic("load_ext", "orm_magic")
    yield shell
    shell.run_line_magic("unload_ext", "orm_magic")
    shell.reset(new_session=False)
