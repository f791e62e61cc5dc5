"""Database URLs as they may be shown: no password, no secret, in any output.

A URL a user types may be malformed in ways that put the password where no
password belongs: an unencoded ``@`` in it leaves part of it in the host, a
missing ``:`` or an extra ``/`` leaves the whole URL unparsed. Such a URL is
refused before any driver sees it (:func:`url_problem`), and shown with
everything that may be a password masked (:func:`safe_url`).
"""

from __future__ import annotations

import re

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

#: Query-string keys whose value is a secret, compared in lower case.
SECRET_KEYS = {
    "password",
    "passwd",
    "pwd",
    "sslpassword",
    "secret",
    "token",
    "access_token",
    "api_key",
    "apikey",
    "passphrase",
}
#: ``PWD=...;`` and the like inside a value (ODBC connection strings).
_SECRET_PAIR = re.compile(
    r"(?i)\b(password|passwd|pwd|sslpassword|secret|token|access_token|api_?key|passphrase)"
    r"(\s*=\s*)([^;&]*)"
)
#: ``user:password@`` (after ``://``, a space or at the start) in text that is
#: not a parseable URL.
_USERINFO = re.compile(r"((?:^|://|\s)[^:/@\s]*:)[^@\s]*@")
#: The form every URL takes, for error messages.
URL_FORM = "dialect+driver://user:password@host:port/database"


def mask_secrets(text: str) -> str:
    """``text`` with passwords in ``user:pass@`` and ``PWD=...`` forms replaced by ``***``."""
    text = _USERINFO.sub(r"\1***@", text)
    return _SECRET_PAIR.sub(r"\1\2***", text)


def _parse(url: str | URL) -> URL | None:
    if isinstance(url, URL):
        return url
    try:
        return make_url(url)
    except (ArgumentError, ValueError, TypeError):  # ValueError: a port that is no number
        return None


def _misplaced_userinfo(parsed: URL) -> bool:
    """True when part of a password may have landed outside the password.

    No host or user name holds an ``@``; a database name that holds a ``:``
    before an ``@`` is ``user:password@...`` after one ``/`` too many.
    """
    if "@" in (parsed.username or "") or "@" in (parsed.host or ""):
        return True
    database = parsed.database or ""
    return "@" in database and ":" in database[: database.rindex("@")]


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be used, in words that quote no part of it; None if it can."""
    if "://" not in url:
        return f"no '://' after the dialect and driver; the form is {URL_FORM}"
    parsed = _parse(url)
    if parsed is None:
        try:
            make_url(url)
        except ValueError:
            return "the port is not a number (an unencoded ':' or '[' in the password?)"
        except Exception:
            pass
        return f"the form is {URL_FORM}"
    if _misplaced_userinfo(parsed):
        if not parsed.host and "@" in (parsed.database or ""):
            return f"user:password@host after ':///' (one '/' too many); the form is {URL_FORM}"
        return f"an '@' after the password; write '@' in a password as %40; the form is {URL_FORM}"
    if "[" in (parsed.host or "") or "]" in (parsed.host or ""):
        return "the host has an unmatched '[' or ']' (an IPv6 address is written [::1])"
    return None


def _mask_unparsed(text: str) -> str:
    """An unparseable URL with everything that may be a password masked.

    The password is taken to run from the first ``:`` that does not start
    ``://`` to the last ``@`` (to the end, without an ``@``): wider than any
    password, never narrower.
    """
    end = text.rfind("@")
    colon = next(
        (m.start() for m in re.finditer(":", text) if not text.startswith("://", m.start())),
        -1,
    )
    if colon >= 0 and end < 0:
        text = text[: colon + 1] + "***"
    elif 0 <= colon < end:
        text = text[: colon + 1] + "***" + text[end:]
    return _SECRET_PAIR.sub(r"\1\2***", text)


def safe_url(url: str | URL) -> str:
    """The URL as it may be shown: the password and secrets in the query string masked.

    Query values are shown decoded, for reading; the result is not meant to be
    parsed again. A URL that does not parse, or whose password may have spilt
    into another part, is masked from its first ``:`` to its last ``@``.
    """
    parsed = _parse(url)
    if parsed is None:
        return _mask_unparsed(str(url))
    if _misplaced_userinfo(parsed):
        return f"{parsed.drivername}://***"
    text = parsed.set(query={}).render_as_string(hide_password=True)
    pairs = []
    for key, value in parsed.query.items():
        for item in (value,) if isinstance(value, str) else value:
            shown = "***" if key.lower() in SECRET_KEYS else mask_secrets(item)
            pairs.append(f"{key}={shown}")
    return text + ("?" + "&".join(pairs) if pairs else "")
