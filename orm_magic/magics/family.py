"""The base of every magic family: the shared :class:`~.orm.OrmMagic` and what it holds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, magics_class

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from ..core.workspace import Workspace
    from .orm import OrmMagic
    from .reporting import Reporter


@magics_class
class MagicFamily(Magics):
    """Magics of one family. They hold no state: the workspace, the settings
    and the reporter are the :class:`~.orm.OrmMagic`'s, read at each call, so
    that a family always acts on the current database with the current
    ``%config``."""

    def __init__(self, shell: Any, orm: OrmMagic) -> None:
        super().__init__(shell=shell)
        self.orm = orm

    @property
    def workspace(self) -> Workspace:
        return self.orm.workspace

    @property
    def reporter(self) -> Reporter:
        return self.orm.reporter

    @property
    def user_shell(self) -> InteractiveShell:
        return self.orm.user_shell
