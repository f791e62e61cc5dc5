"""The core: knows SQLAlchemy, never IPython.

Engines set up for a notebook, the recorder that captures what they emit, the
workspace (engine, ``Base``, session, log), display reads as guests, model
cells and their table changes, queries, and the session's state read without
SQL. Everything here can be used and tested without a shell.
"""
