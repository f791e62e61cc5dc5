"""Tests of orm_magic.core, one file per module, on plain SQLAlchemy (no IPython shell)."""
