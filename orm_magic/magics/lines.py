"""A magic's line as typed: options found with Python's tokenizer, outside strings and brackets."""

from __future__ import annotations

import io
import re
import tokenize

#: An option word: ``--name`` or ``--name=value``. No short ``-x`` form: in a
#: Python expression ``-c`` is a unary minus (``a if b else -c``).
_OPTION = re.compile(r"--[A-Za-z][\w-]*(?:=.*)?", re.DOTALL)
#: Tokens that open and close an f-string (Python 3.12+) or a t-string (3.14+).
_STRING_STARTS = {getattr(tokenize, f"{k}STRING_START", None) for k in "FT"} - {None}
_STRING_ENDS = {getattr(tokenize, f"{k}STRING_END", None) for k in "FT"} - {None}


def _protected_spans(line: str) -> list[tuple[int, int]]:
    """Where ``line`` is inside a string literal, brackets or a comment, as (start, end).

    Read with Python's own tokenizer. An unclosed bracket or string runs to
    the end of the line.
    """
    starts = [0]  # offset of each physical line, for the tokenizer's (row, col)
    for part in line.splitlines(keepends=True):
        starts.append(starts[-1] + len(part))

    def offset(position: tuple[int, int]) -> int:
        row, col = position
        return min(starts[max(0, min(row, len(starts)) - 1)] + col, len(line))

    spans: list[tuple[int, int]] = []
    opened = 0  # where the outermost open bracket or f-string began
    depth = 0  # brackets and f-strings open
    try:
        for token in tokenize.generate_tokens(io.StringIO(line).readline):
            kind, text = token.type, token.string
            if kind in _STRING_STARTS or (kind == tokenize.OP and text in ("(", "[", "{")):
                if depth == 0:
                    opened = offset(token.start)
                depth += 1
            elif kind in _STRING_ENDS or (kind == tokenize.OP and text in (")", "]", "}")):
                depth = max(depth - 1, 0)
                if depth == 0:
                    spans.append((opened, offset(token.end)))
            elif depth == 0 and kind == tokenize.STRING:
                spans.append((offset(token.start), offset(token.end)))
            elif depth == 0 and kind == tokenize.COMMENT:
                spans.append((offset(token.start), len(line)))  # `x  # --flush` is a comment
                break
            elif depth == 0 and kind == tokenize.ERRORTOKEN and text in ("'", '"'):
                opened, depth = offset(token.start), 1  # an unterminated string (3.11)
                break
    except (tokenize.TokenError, SyntaxError) as exc:
        # 3.12+ stops at an unterminated string; an open bracket ends in EOF
        position = exc.args[1] if len(exc.args) > 1 else None
        if depth == 0 and isinstance(position, tuple) and len(position) >= 2:
            opened, depth = offset(position[:2]), 1
    if depth:
        spans.append((opened, len(line)))
    return spans


def _words(line: str) -> list[tuple[int, int]]:
    """(start, end) of each word: split at blanks outside strings and brackets."""
    protected = bytearray(len(line))
    for begin, end in _protected_spans(line):
        protected[begin:end] = b"\x01" * (end - begin)
    words: list[tuple[int, int]] = []
    start: int | None = None  # of the word being read
    for index, char in enumerate(line):
        if char.isspace() and not protected[index]:
            if start is not None:
                words.append((start, index))
            start = None
        elif start is None:
            start = index
    if start is not None:
        words.append((start, len(line)))
    return words


def split_options(line: str, valued: tuple[str, ...] = ()) -> tuple[list[str], str]:
    """Split options at either end of ``line`` from the Python expression between.

    Options are ``--name``, ``--name=value`` and ``-x`` words outside string
    literals and brackets, as Python's tokenizer reads the line: in
    ``User(name='a --flush') --flush`` only the last word is an option. An
    option named in ``valued`` takes the next word as its value (``--limit 5``).
    """
    words = _words(line)
    texts = [line[start:end] for start, end in words]

    def is_option(index: int) -> bool:
        return bool(_OPTION.fullmatch(texts[index]))

    first, last = 0, len(words)  # the expression is words[first:last]
    while first < last and is_option(first):
        first += 1
        if texts[first - 1] in valued and first < last:
            first += 1
    while last > first:
        if is_option(last - 1):
            last -= 1
        elif last - 2 >= first and texts[last - 2] in valued and is_option(last - 2):
            last -= 2
        else:
            break
    options = texts[:first] + texts[last:]
    if first >= last:
        return options, ""
    return options, line[words[first][0] : words[last - 1][1]]


def unquoted(word: str) -> str:
    """A word as typed, without the quotes that keep a blank in it (``"order items"``).

    IPython's ``arg_split``, under ``magic_arguments``, keeps them.
    """
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "'\"":
        return word[1:-1]
    return word
