"""Tests of orm_magic.present, one file per module, on plain data (no IPython shell)."""
