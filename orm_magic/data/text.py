"""Text bounded for display: the one shortening rule every layer uses."""

from __future__ import annotations


def shorten(text: str, limit: int) -> str:
    """``text`` cut at ``limit`` characters, saying how many more there were."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]} … ({len(text) - limit:,} characters more)"
