"""Plain data passed between the layers: statements, table snapshots, unit-of-work marks.

The lowest floor. It imports nothing of orm_magic and nothing of SQLAlchemy's
stateful objects: the core fills these in, the presentation renders them.
"""
