"""Tab completion for the magics, through IPython's ``complete_command`` hook.

``%orm_show`` and ``%orm_diagram`` complete model names; ``%orm_add``,
``%orm_merge``, ``%orm_delete`` and ``%orm_state`` complete the names of user
variables that hold mapped instances (or lists of them). :func:`install` and
:func:`uninstall` mirror each other, so unloading the extension leaves
IPython's completer as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import islice
from typing import Any

from ..core.instances import is_mapped_instance

#: Magics whose argument is a model name, and those whose argument is an instance.
MODEL_MAGICS = ("orm_show", "orm_diagram")
INSTANCE_MAGICS = ("orm_add", "orm_merge", "orm_delete", "orm_state")
#: Namespace entries looked at per completion: a huge namespace stays quick.
SCAN_LIMIT = 10_000

HOOK = "complete_command"


def holds_instances(value: Any) -> bool:
    """A mapped instance, or a non-empty list/tuple whose first item is one."""
    if isinstance(value, (list, tuple)):
        return bool(value) and is_mapped_instance(value[0])
    return is_mapped_instance(value)


def instance_names(namespace: Mapping[str, Any], hidden: Mapping[str, Any]) -> list[str]:
    """User variables holding mapped instances, sorted; IPython's own names left out."""
    names = [
        name
        for name, value in islice(namespace.items(), SCAN_LIMIT)
        if not name.startswith("_") and name not in hidden and holds_instances(value)
    ]
    return sorted(names)


def _keys(magic: str) -> list[str]:
    # with automagic a line may start without the %
    return [f"%{magic}", magic]


def install(shell: Any, models: Callable[[], list[str]]) -> list[tuple[str, Callable]]:
    """Register the completers on ``shell``; return what :func:`uninstall` takes."""

    def complete_models(_shell: Any, event: Any) -> list[str]:
        if event.symbol.startswith("-"):
            return []
        return sorted(models())

    def complete_instances(_shell: Any, event: Any) -> list[str]:
        if "." in event.symbol or event.symbol.startswith("-"):
            return []  # an attribute path: IPython's own completer knows better
        return instance_names(shell.user_ns, getattr(shell, "user_ns_hidden", {}))

    installed = []
    for magics, hook in ((MODEL_MAGICS, complete_models), (INSTANCE_MAGICS, complete_instances)):
        for magic in magics:
            for key in _keys(magic):
                shell.set_hook(HOOK, hook, str_key=key)
                installed.append((key, hook))
    return installed


def uninstall(shell: Any, installed: list[tuple[str, Callable]]) -> None:
    """Remove exactly the completers :func:`install` registered."""
    dispatcher = shell.strdispatchers.get(HOOK)
    if dispatcher is None:
        return
    for key, hook in installed:
        chain = dispatcher.strs.get(key)
        if chain is None:
            continue
        # set_hook bound the function to the shell; compare the function itself
        chain.chain = [(p, f) for p, f in chain.chain if getattr(f, "__func__", f) is not hook]
        if not chain.chain:
            del dispatcher.strs[key]
