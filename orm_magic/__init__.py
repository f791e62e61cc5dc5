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
_EXPLORE_ATTRIBUTE = "_orm_magic_explore"


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
    from .explore_magics import ExploreMagics
    from .magics import OrmMagic
    from .models import EXECUTING_ATTRIBUTE, ExecutingCell

    magics = OrmMagic(shell=shell)
    # the id of each cell Jupyter runs, so that a re-run model cell replaces itself
    executing = ExecutingCell()
    setattr(magics, EXECUTING_ATTRIBUTE, executing)
    shell.register_magics(magics)
    explore = ExploreMagics(shell, magics)
    shell.register_magics(explore)
    explore.install_completion()
    setattr(shell, _EXPLORE_ATTRIBUTE, explore)
    shell.events.register("pre_run_cell", executing.started)
    shell.events.register("pre_run_cell", magics.reporter.start_cell)
    shell.events.register("post_run_cell", magics.reporter.finish_cell)
    setattr(shell, _ATTRIBUTE, magics)
    magics.push_namespace()


def unload_ipython_extension(shell: Any) -> None:
    """Called by ``%unload_ext orm_magic``: undo everything load did."""
    from .models import EXECUTING_ATTRIBUTE

    magics = getattr(shell, _ATTRIBUTE, None)
    if magics is None:
        return
    for name, callback in (
        ("pre_run_cell", getattr(magics, EXECUTING_ATTRIBUTE).started),
        ("pre_run_cell", magics.reporter.start_cell),
        ("post_run_cell", magics.reporter.finish_cell),
    ):
        if callback in shell.events.callbacks[name]:
            shell.events.unregister(name, callback)
    explore = getattr(shell, _EXPLORE_ATTRIBUTE, None)
    if explore is not None:
        explore.uninstall_completion()
        _unregister(shell, explore)
        delattr(shell, _EXPLORE_ATTRIBUTE)
    _unregister(shell, magics)
    magics.pop_namespace()
    magics.reporter.end_cell()
    magics.workspace.close()
    delattr(shell, _ATTRIBUTE)
