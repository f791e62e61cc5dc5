"""The magics: IPython only. Each parses its line, calls the core, displays a report.

One module per family: :mod:`.orm` holds the settings and the workspace,
:mod:`.session` the session operations, :mod:`.models` the ``%%model`` cell,
:mod:`.connect` connecting and resetting, :mod:`.explore` the read-only views.
"""
