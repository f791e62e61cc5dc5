"""Database URLs as they may be shown: no password, no secret, in any output."""

from __future__ import annotations

import re

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

#: Query-string keys whose value is a secret, compared in lower case.
SECRET_KEYS = {"password", "passwd", "pwd", "sslpassword", "secret", "token", "access_token"}
#: ``PWD=...;`` and the like inside a value (ODBC connection strings).
_SECRET_PAIR = re.compile(
    r"(?i)\b(password|passwd|pwd|sslpassword|secret|token|access_token)(\s*=\s*)([^;&]*)"
)
#: ``user:password@`` (after ``://``, a space or at the start) in text that is
#: not a parseable URL.
_USERINFO = re.compile(r"((?:^|://|\s)[^:/@\s]*:)[^@\s]*@")


def mask_secrets(text: str) -> str:
    """``text`` with passwords in ``user:pass@`` and ``PWD=...`` forms replaced by ``***``."""
    text = _USERINFO.sub(r"\1***@", text)
    return _SECRET_PAIR.sub(r"\1\2***", text)


def safe_url(url: str | URL) -> str:
    """The URL as it may be shown: the password and secrets in the query string masked.

    Query values are shown decoded, for reading; the result is not meant to be
    parsed again.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        return mask_secrets(str(url))
    text = parsed.set(query={}).render_as_string(hide_password=True)
    pairs = []
    for key, value in parsed.query.items():
        for item in (value,) if isinstance(value, str) else value:
            shown = "***" if key.lower() in SECRET_KEYS else mask_secrets(item)
            pairs.append(f"{key}={shown}")
    return text + ("?" + "&".join(pairs) if pairs else "")
