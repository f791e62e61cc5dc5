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
    r"(\s*=\s*)(\{[^}]*\}?|[^;&]*)"
)
#: A URL with an ``@`` in it, in running text: up to the next blank or quote.
_URL_WITH_USER = re.compile(r"[A-Za-z][\w+.-]*://[^\s'\"]*@[^\s'\"]*")
#: ``user:password@`` (after ``://``, a space or at the start) in text that is
#: not a parseable URL.
_USERINFO = re.compile(r"((?:^|://|\s)[^:/@\s]*:)(?!//)[^@\s]*@")
#: The form every URL takes, for error messages.
URL_FORM = "dialect+driver://user:password@host:port/database"


def mask_secrets(text: str) -> str:
    """``text`` with passwords in ``user:pass@`` and ``PWD=...`` forms replaced by ``***``.

    A URL in the text that contains an ``@`` is shown as :func:`safe_url` shows it.
    """
    text = _URL_WITH_USER.sub(lambda m: safe_url(m.group(0)), text)
    text = _USERINFO.sub(r"\1***@", text)
    return _SECRET_PAIR.sub(r"\1\2***", text)


def _parse(url: str | URL) -> URL | None:
    if isinstance(url, URL):
        return url
    try:
        return make_url(url)
    except (ArgumentError, ValueError, TypeError):  # ValueError: a port that is no number
        return None


def _misplaced_userinfo(parsed: URL, raw: str) -> bool:
    """True when part of a password may have landed outside the password.

    A well-formed URL has one ``@`` after ``://`` when it names a user and
    none otherwise (an ``@`` in a password is written ``%40``). Any other
    count means the parser split the text elsewhere than the user meant: a
    ``?`` or ``/`` in the password, one ``/`` too many, swapped separators.
    """
    if "@" in (parsed.username or "") or "@" in (parsed.host or ""):
        return True
    after = raw.split("://", 1)[1] if "://" in raw else raw
    named = parsed.username is not None or parsed.password is not None
    return after.count("@") != (1 if named else 0)


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
    if _misplaced_userinfo(parsed, url):
        if not parsed.host and "@" in (parsed.database or ""):
            return f"user:password@host after ':///' (one '/' too many); the form is {URL_FORM}"
        return f"an '@' after the password; write '@' in a password as %40; the form is {URL_FORM}"
    if "[" in (parsed.host or "") or "]" in (parsed.host or ""):
        return "the host has an unmatched '[' or ']' (an IPv6 address is written [::1])"
    return None


def _mask_unparsed(text: str) -> str:
    """An unparseable URL with everything after its scheme masked.

    Which part of a malformed URL is the password cannot be known (swapped
    separators, an unencoded ``@`` or ``/`` in it), so nothing past the
    scheme is shown: ``postgresql+psycopg://***``. The reason a URL is
    refused is said apart from it, in words (:func:`url_problem`).
    """
    scheme_end = text.find("://")
    if scheme_end >= 0:
        return text[: scheme_end + 3] + "***"
    cut = min((i for i in (text.find(c) for c in ":/@?") if i >= 0), default=-1)
    return text if cut < 0 else text[: cut + 1] + "***"


def safe_url(url: str | URL) -> str:
    """The URL as it may be shown: the password and secrets in the query string masked.

    Query values are shown decoded, for reading; the result is not meant to be
    parsed again. A URL that does not parse, or whose password may have spilt
    into another part, is shown as its scheme alone (``postgresql://***``).
    """
    parsed = _parse(url)
    if parsed is None:
        return _SECRET_PAIR.sub(r"\1\2***", _mask_unparsed(str(url)))
    if _misplaced_userinfo(parsed, str(url)):
        return f"{parsed.drivername}://***"
    text = parsed.set(query={}).render_as_string(hide_password=True)
    pairs = []
    for key, value in parsed.query.items():
        for item in (value,) if isinstance(value, str) else value:
            shown = "***" if key.lower() in SECRET_KEYS else mask_secrets(item)
            pairs.append(f"{key}={shown}")
    return text + ("?" + "&".join(pairs) if pairs else "")
