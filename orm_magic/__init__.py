"""orm_magic: IPython magics that show what the SQLAlchemy ORM does.

``%load_ext orm_magic`` gives a notebook one engine, ``Base`` and session, the
``%%model`` and ``%orm_*`` magics, and below every cell the SQL it caused with
the tables it touched.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

#: The live OrmMagic instance of each shell, so unload finds what load made.
_ATTRIBUTE = "_orm_magic"


def _unregister(shell: Any, magics: Any) -> None:
    """Remove one Magics instance's magics, as register_magics added them."""
    manager = shell.magics_manager
    for kind, names in magics.magics.items():
        for name in names:
            manager.magics[kind].pop(name, None)
    manager.registry.pop(type(magics).__name__, None)
    if magics in shell.configurables:
        shell.configurables.remove(magics)


def load_ipython_extension(shell: Any) -> None:
    """Called by ``%load_ext orm_magic``: create the workspace and register the magics."""
    from .magics.concurrency import ConcurrencyMagics
    from .magics.connect import ConnectMagics
    from .magics.explore import ExploreMagics
    from .magics.models import ModelMagics
    from .magics.orm import OrmMagic
    from .magics.project import ProjectMagics
    from .magics.session import SessionMagics
    from .magics.sources import SourceMagics

    orm = OrmMagic(shell=shell)
    shell.register_magics(orm)
    families = (
        SessionMagics,
        ModelMagics,
        ConnectMagics,
        ExploreMagics,
        SourceMagics,
        ConcurrencyMagics,
        ProjectMagics,
    )
    orm.families = [family(shell, orm) for family in families]
    for family in orm.families:
        shell.register_magics(family)
        if isinstance(family, ExploreMagics):
            family.install_completion()
    # the id of each cell Jupyter runs, so that a re-run model cell replaces itself
    shell.events.register("pre_run_cell", orm.executing.started)
    shell.events.register("pre_run_cell", orm.reporter.start_cell)
    shell.events.register("post_run_cell", orm.reporter.finish_cell)
    setattr(shell, _ATTRIBUTE, orm)
    orm.push_namespace()


def unload_ipython_extension(shell: Any) -> None:
    """Called by ``%unload_ext orm_magic``: undo everything load did."""
    orm = getattr(shell, _ATTRIBUTE, None)
    if orm is None:
        return
    for name, callback in (
        ("pre_run_cell", orm.executing.started),
        ("pre_run_cell", orm.reporter.start_cell),
        ("post_run_cell", orm.reporter.finish_cell),
    ):
        if callback in shell.events.callbacks[name]:
            shell.events.unregister(name, callback)
    for family in reversed(orm.families):
        uninstall = getattr(family, "uninstall_completion", None)
        if uninstall is not None:
            uninstall()
        _unregister(shell, family)
    orm.families = []
    _unregister(shell, orm)
    orm.pop_namespace()
    orm.reporter.end_cell()
    orm.workspace.close()
    delattr(shell, _ATTRIBUTE)
