"""orm_magic.core.urls: no part of a password in what a URL is shown as, and why a URL is refused.

Every URL a user may type around a secret (well-formed, or with a separator
missing, doubled or swapped, an unencoded ``@``, ``/`` or ``[`` in the password,
the secret in the query string) goes through :func:`safe_url`,
:func:`url_problem` and :func:`mask_secrets` directly; none may show 4
characters of the secret in a row. (tests/test_urls.py checks the same
through %orm_connect in a shell, on URLs Hypothesis draws.)
"""

from __future__ import annotations

from itertools import product
from urllib.parse import quote

import pytest
from sqlalchemy.engine import URL, make_url

from orm_magic.core.urls import SECRET_KEYS, mask_secrets, safe_url, url_problem

SHAPES = [
    "{scheme}://ann:{pw}@{host}/shop",  # well-formed, unless the password is not
    "{scheme}//ann:{pw}@{host}/shop",  # the ':' missing
    "{scheme}:ann:{pw}@{host}/shop",  # the '//' missing
    "{scheme}:///ann:{pw}@{host}/shop",  # one '/' too many
    "{scheme}://ann:{pw}@{host}x/shop",  # a port that is no number
    "{scheme}://ann:{pw}@[{host}/shop",  # an unclosed '['
    "{scheme}://ann:{pw}@[::1/shop",
    "{scheme}://ann:{pw}@{host}]/shop",
    "{scheme}://ann@{host}/shop?{key}={pw}",  # secrets in the query string
    "{scheme}://ann@{host}/shop?sslmode=disable&{key}={pw}&application_name=x",
    "{scheme}://ann:{pw}@{host}/shop?connect_timeout=1",
]
#: Letters no output holds (Q, X, Z, J, K, V, W) around every character a
#: password may hold that a URL gives a meaning to.
SECRETS = [
    "QXZJKVWQ",
    "Q@X:Z/J%K?V#W[",
    "Q]X&Z!J$K V'W\"Q*",
    "QX@ZJ@KV",
    "Q/X/Z?J",
    "QX%41ZJ",
]
SCHEMES = ["postgresql+psycopg", "sqlite", "mysql+nodb"]
HOSTS = ["localhost:1", "127.0.0.1:1", "[::1]:1"]
SHAPE_IDS = [
    "well-formed",
    "no-colon",
    "no-slashes",
    "three-slashes",
    "port-not-a-number",
    "unclosed-bracket",
    "unclosed-ipv6",
    "stray-bracket",
    "query-secret",
    "query-secret-among-others",
    "well-formed-with-query",
]


def typed_forms(secret: str) -> set[str]:
    """The secret as a user may type it: raw, percent-encoded, only its '@' encoded."""
    return {secret, quote(secret, safe=""), secret.replace("@", "%40")}


def leaks(text: str, forms: list[str]) -> list[str]:
    """Every 4 characters of a secret's forms that ``text`` shows."""
    return sorted(
        {
            form[i : i + 4]
            for form in forms
            for i in range(len(form) - 3)
            if form[i : i + 4] in text
        }
    )


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_no_part_of_the_password_is_shown_for_any_typed_url(shape: str) -> None:
    keys = sorted(SECRET_KEYS) if "{key}" in shape else ["token"]
    for scheme, host, key, secret in product(SCHEMES, HOSTS, keys, SECRETS):
        for typed in typed_forms(secret):
            url = shape.format(scheme=scheme, pw=typed, host=host, key=key)
            shown = f"{safe_url(url)}\n{url_problem(url) or ''}"
            assert not leaks(shown, [secret, typed]), (url, shown)


@pytest.mark.parametrize(
    "url, problem",
    [
        ("postgresql+psycopg://ann:QXZJKV@localhost:abc/shop", "the port is not a number"),
        ("postgresql+psycopg://ann:QXZJKV@[localhost/shop", "unmatched '['"),
        ("postgresql+psycopg//ann:QXZJKV@localhost/shop", "no '://'"),
        ("postgresql+psycopg:///ann:QXZJKV@localhost/shop", "one '/' too many"),
        ("postgresql+psycopg://ann:QXZ@JKVW@localhost/shop", "write '@' in a password as %40"),
    ],
)
def test_a_malformed_url_is_refused_before_any_driver_sees_it(url, problem):
    assert problem in (url_problem(url) or "")
    assert "QXZ" not in safe_url(url) and "JKV" not in safe_url(url)


def test_a_well_formed_url_is_shown_with_its_password_masked():
    url = "postgresql+psycopg://ann:QX%40ZJ@db:5432/shop?sslmode=require&token=KVWQ"
    assert url_problem(url) is None
    assert safe_url(url) == "postgresql+psycopg://ann:***@db:5432/shop?sslmode=require&token=***"


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql+psycopg://ann:QXZ@JKVW@localhost/shop", "postgresql+psycopg://***"),
        ("postgresql+psycopg:///ann:QXZJ@localhost/shop", "postgresql+psycopg://***"),
        ("postgresql+psycopg//ann:QXZJ@localhost/shop", "postgresql+psycopg/***"),
        ("postgresql+psycopg:ann:QXZJ@localhost/shop", "postgresql+psycopg:***"),
    ],
)
def test_a_url_whose_password_may_have_spilt_shows_no_more_than_its_scheme(url, shown):
    assert safe_url(url) == shown


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///data/course.db",
        "postgresql://ann@[::1]:5432/shop",
        "postgresql+psycopg://ann:QX:ZJ@localhost/shop",
        "postgresql+psycopg://ann:QX%2FZJ@localhost:5432/shop",
        "mysql+pymysql://ann:QX%40ZJ@127.0.0.1/shop?charset=utf8mb4",
    ],
)
def test_a_url_sqlalchemy_parses_is_shown_as_sqlalchemy_hides_it(url: str) -> None:
    assert url_problem(url) is None
    assert safe_url(url) == make_url(url).render_as_string(hide_password=True)


def test_a_url_object_is_masked_like_its_text() -> None:
    url = URL.create("postgresql+psycopg", "ann", "QX@ZJ/KV", "db", 5432, "shop")
    assert safe_url(url) == "postgresql+psycopg://ann:***@db:5432/shop"


def test_secret_query_keys_are_masked_in_any_case_and_every_repeat() -> None:
    url = "postgresql://ann@db/shop?PassWord=QXZJ&token=KVWQ&token=ZJKV&sslmode=require"
    assert (
        safe_url(url)
        == "postgresql://ann@db/shop?PassWord=***&token=***&token=***&sslmode=require"
    )


@pytest.mark.parametrize(
    "shape", [SHAPES[0], SHAPES[8], SHAPES[10]], ids=[SHAPE_IDS[0], SHAPE_IDS[8], SHAPE_IDS[10]]
)
def test_a_url_in_running_text_is_shown_as_safe_url_shows_it(shape: str) -> None:
    for scheme, secret in product(SCHEMES, SECRETS):
        for typed in typed_forms(secret):
            url = shape.format(scheme=scheme, pw=typed, host="db:5432", key="password")
            if any(c in url for c in " '\""):  # a blank or a quote ends a URL in text
                continue
            assert mask_secrets(f"cannot use {url}") == f"cannot use {safe_url(url)}"


@pytest.mark.parametrize(
    "text, shown",
    [
        ("login ann:QXZJ@db failed", "login ann:***@db failed"),
        ("Driver={x};Server=db;PWD={QX;ZJ};UID=ann", "Driver={x};Server=db;PWD=***;UID=ann"),
        ("Password = QXZJ; Server=db", "Password = ***; Server=db"),
        (
            "password authentication failed for user ann",
            "password authentication failed for user ann",
        ),
    ],
)
def test_mask_secrets_masks_user_password_and_key_value_forms(text: str, shown: str) -> None:
    assert mask_secrets(text) == shown
