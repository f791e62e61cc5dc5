"""An ``Inspection`` (``%orm_state``, ``%orm_session``) that renders itself."""

from __future__ import annotations

import html
from dataclasses import dataclass

from ..data.tables import Inspection
from .tables import DEFAULT_MAXCHARS, NO_MATH, TABLE_STYLE, frame_html, frame_text


@dataclass
class InspectionReport:
    """A titled view: a few lines, then small tables, each value bounded."""

    inspection: Inspection
    maxchars: int = DEFAULT_MAXCHARS

    def _repr_html_(self) -> str:
        view = self.inspection
        parts = [f'<div class="orm-magic {NO_MATH}" style="font-size:13px">{TABLE_STYLE}']
        parts.append(f'<div style="opacity:.75">{html.escape(view.title)}</div>')
        parts.extend(f"<div>{html.escape(line)}</div>" for line in view.lines)
        parts.extend(frame_html(frame, self.maxchars) for frame in view.frames)
        parts.append("</div>")
        return "".join(parts)

    def __repr__(self) -> str:
        view = self.inspection
        lines = [f"-- {view.title}"]
        lines.extend(f"-- {line}" for line in view.lines)
        lines.extend(frame_text(frame, self.maxchars) for frame in view.frames)
        return "\n".join(lines)

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}
