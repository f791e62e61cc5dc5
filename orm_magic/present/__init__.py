"""Presentation: plain data in, text, HTML and diagrams out.

Pure rendering. It never reads the workspace, a session or the configuration:
what it needs (limits, flags) comes in with the data.
"""
