"""Reading article files into newsdedup.v1 `Article` messages.

Formats, chosen by the file's extension:

- ``.txt``: one article; the file name without its extension is the id and
  the whole text is the body.
- ``.json``: one article object, or a list of them.
- ``.jsonl``: one article object per line (blank lines are skipped).
- a folder: every ``.txt``, ``.json`` and ``.jsonl`` file below it, in sorted
  order; other files are ignored.
- ``-``: standard input, holding a JSON object, a JSON list, or JSON lines.

An article object uses the proto's field names: ``id``, ``title``, ``body``,
``url``, ``source``, ``language`` (strings) and ``published_at`` (an RFC 3339
timestamp such as ``"2026-02-22T09:30:00Z"``). ``null`` leaves a field unset.

A bad record never stops the reading. It becomes a `Problem` that names the
file, the line the record starts on and what is wrong, and the records
around it are still read. Everything protobuf or the server would refuse
later is caught here, where the line is still known: invalid JSON or UTF-8,
an unknown field, a wrong type, a bad timestamp, a lone surrogate (which
cannot be encoded as UTF-8) and control characters other than tab, newline
and carriage return.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from newsdedup.v1 import dedup_service_pb2 as pb

STDIN = "-"
STDIN_NAME = "<stdin>"
SUFFIXES = (".txt", ".json", ".jsonl")
STRING_FIELDS = ("id", "title", "body", "url", "source", "language")
FIELDS = (*STRING_FIELDS, "published_at")
_ALLOWED_CONTROLS = frozenset("\t\n\r")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


@dataclass(frozen=True)
class Record:
    """An article and where it was read: `source` (a path or "<stdin>") and the line it starts on."""

    article: pb.Article
    source: str
    line: int

    @property
    def location(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass(frozen=True)
class Problem:
    """Why a record or a file could not be read; `str()` gives "path:line: what is wrong"."""

    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.message}"


class InputError(ValueError):
    """A file does not hold what the command needs; the message says which file and why."""


class _BadRecord(ValueError):
    """A record is invalid; `position` is the character in the offending value, when known."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _check_text(name: str, value: str) -> None:
    """Refuse what protobuf cannot encode (lone surrogates) and control characters."""
    for position, char in enumerate(value):
        category = unicodedata.category(char)
        if category == "Cs":
            raise _BadRecord(
                f"field {name!r} holds a lone surrogate U+{ord(char):04X} at character {position}; "
                f"it is not valid Unicode and cannot be sent",
                position,
            )
        if category == "Cc" and (char not in _ALLOWED_CONTROLS or name == "id"):
            allowed = "an id may hold none" if name == "id" else "only tab, newline and carriage return are allowed"
            raise _BadRecord(
                f"field {name!r} holds control character U+{ord(char):04X} at character {position}; {allowed}",
                position,
            )


def parse_timestamp(value: str) -> datetime:
    """An RFC 3339 timestamp with a time zone ("2026-02-22T09:30:00Z", "...+01:00") as an aware datetime.

    Raises ValueError for anything else, including a timestamp without a
    time zone, which would be ambiguous.
    """
    if _RFC3339.fullmatch(value):
        normalized = value.upper().replace(" ", "T").replace("Z", "+00:00")
        try:
            return datetime.fromisoformat(normalized)
        except ValueError:
            pass  # matches the pattern but names no real moment, like month 13
    raise ValueError(
        f"published_at {value!r} is not an RFC 3339 timestamp with a time zone, such as '2026-02-22T09:30:00Z'"
    )


def article_from_dict(record: Any) -> pb.Article:
    """An Article from one decoded JSON value; raises ValueError saying what is wrong."""
    if not isinstance(record, dict):
        raise ValueError(f"expected an article object, got {_json_type(record)}")
    unknown = [name for name in record if name not in FIELDS]
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}; an article has the fields {', '.join(FIELDS)}")
    article = pb.Article()
    for name in STRING_FIELDS:
        value = record.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ValueError(f"field {name!r} must be a string, got {_json_type(value)}")
        _check_text(name, value)
        setattr(article, name, value)
    published_at = record.get("published_at")
    if published_at is not None:
        if not isinstance(published_at, str):
            raise ValueError(
                f"field 'published_at' must be an RFC 3339 string such as '2026-02-22T09:30:00Z', "
                f"got {_json_type(published_at)}"
            )
        article.published_at.FromDatetime(parse_timestamp(published_at))
    return article


def _without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _BadRecord(f"field {key!r} is given twice")
        result[key] = value
    return result


# Strict about duplicate keys, which json otherwise resolves silently by keeping the last one.
_DECODER = json.JSONDecoder(object_pairs_hook=_without_duplicate_keys)
_LENIENT = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _skip_space(text: str, offset: int) -> int:
    match = _WHITESPACE.match(text, offset)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _invalid_json(error: json.JSONDecodeError) -> str:
    return f"invalid JSON: {error.msg} (column {error.colno})"


def _record(source: str, line: int, value: Any) -> Record | Problem:
    try:
        return Record(article_from_dict(value), source, line)
    except ValueError as error:
        return Problem(source, line, str(error))


def _decode_at(source: str, text: str, offset: int) -> tuple[Record | Problem, int | None]:
    """Decode the JSON value at `offset`: the record or its problem, and where the value ends (None if unknown)."""
    line = _line_of(text, offset)
    try:
        value, end = _DECODER.raw_decode(text, offset)
    except json.JSONDecodeError as error:
        return Problem(source, error.lineno, _invalid_json(error)), None
    except _BadRecord as error:  # a key given twice; the value is still well-formed JSON
        _, end = _LENIENT.raw_decode(text, offset)
        return Problem(source, line, str(error)), end
    return _record(source, line, value), end


def _json_document(source: str, text: str) -> Iterator[Record | Problem]:
    """A JSON object, or a list of objects, each with the line it starts on.

    The list is decoded element by element so that every article knows its
    line; invalid JSON ends the list there, since nothing after it can be
    located with certainty.
    """
    offset = _skip_space(text, 0)
    if offset == len(text):
        yield Problem(source, None, "no JSON: the input is empty")
        return
    if text[offset] != "[":
        item, end = _decode_at(source, text, offset)
        yield item
        if end is not None:
            yield from _trailing(source, text, end)
        return
    offset = _skip_space(text, offset + 1)
    if text.startswith("]", offset):
        yield from _trailing(source, text, offset + 1)
        return
    while True:
        item, end = _decode_at(source, text, offset)
        if end is None:
            assert isinstance(item, Problem)
            yield Problem(item.source, item.line, item.message + "; the rest of the list is not read")
            return
        yield item
        offset = _skip_space(text, end)
        if text.startswith(",", offset):
            offset = _skip_space(text, offset + 1)
        elif text.startswith("]", offset):
            yield from _trailing(source, text, offset + 1)
            return
        else:
            line = _line_of(text, offset)
            yield Problem(source, line, "invalid JSON: expected ',' or ']' in the list; the rest is not read")
            return


def _trailing(source: str, text: str, offset: int) -> Iterator[Problem]:
    offset = _skip_space(text, offset)
    if offset < len(text):
        yield Problem(source, _line_of(text, offset), "invalid JSON: extra data after the end of the document")


def _lines(text: str) -> list[str]:
    """The lines of a text split at "\\n" only: JSON strings may hold U+2028 and others that splitlines() splits at."""
    return text.split("\n")


def _json_lines(source: str, text: str) -> Iterator[Record | Problem]:
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        item, end = _decode_at(source, line, _skip_space(line, 0))
        if isinstance(item, Problem):
            item = Problem(source, number, item.message)
        elif end is not None and line[end:].strip():
            item = Problem(source, number, "invalid JSON: extra data after the object; one object per line")
        else:
            item = Record(item.article, source, number)
        yield item


def _text_file(source: str, article_id: str, text: str) -> Iterator[Record | Problem]:
    try:
        _check_text("id", article_id)
    except _BadRecord as error:
        yield Problem(source, None, f"the file name is the article id: {error}")
        return
    try:
        _check_text("body", text)
    except _BadRecord as error:
        yield Problem(source, _line_of(text, error.position or 0), str(error))
        return
    yield Record(pb.Article(id=article_id, body=text), source, 1)


def _decode(source: str, data: bytes) -> str | Problem:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        byte = data[error.start : error.start + 1].hex()
        return Problem(source, line, f"not valid UTF-8: byte 0x{byte} at offset {error.start} ({error.reason})")


def _is_json_lines(text: str) -> bool:
    """True when stdin is JSON lines rather than one JSON document.

    One document is one object or one list; otherwise, if any line holds an
    object on its own, the input is JSON lines (a pretty-printed object has
    no such line: its lines are fragments like '"id": "a",').
    """
    if text.lstrip().startswith("["):
        return False
    try:
        json.loads(text)
    except json.JSONDecodeError:
        pass
    else:
        return False
    for line in _lines(text):
        try:
            if isinstance(json.loads(line), dict):
                return True
        except json.JSONDecodeError:
            continue
    return False


def read_stdin(stream: BinaryIO) -> Iterator[Record | Problem]:
    """Articles from a stream holding a JSON object, a JSON list, or JSON lines."""
    text = _decode(STDIN_NAME, stream.read())
    if isinstance(text, Problem):
        yield text
    elif _is_json_lines(text):
        yield from _json_lines(STDIN_NAME, text)
    else:
        yield from _json_document(STDIN_NAME, text)


def read_file(path: Path) -> Iterator[Record | Problem]:
    """Articles from one .txt, .json or .jsonl file."""
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        yield Problem(source, None, f"not an article file: the name must end in {', '.join(SUFFIXES)}")
        return
    try:
        data = path.read_bytes()
    except OSError as error:
        yield Problem(source, None, f"cannot read: {error.strerror or error}")
        return
    text = _decode(source, data)
    if isinstance(text, Problem):
        yield text
    elif suffix == ".txt":
        yield from _text_file(source, path.stem, text)
    elif suffix == ".json":
        yield from _json_document(source, text)
    else:
        yield from _json_lines(source, text)


def files_below(folder: Path) -> list[Path]:
    """The article files anywhere below `folder`, sorted by path."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())


def read_paths(paths: Iterable[str], stdin: BinaryIO | None = None) -> Iterator[Record | Problem]:
    """Articles from files, folders and "-" (standard input, read from `stdin`), in the order given."""
    for name in paths:
        if name == STDIN:
            if stdin is None:
                yield Problem(STDIN_NAME, None, "standard input is not available here")
            else:
                yield from read_stdin(stdin)
            continue
        path = Path(name)
        if path.is_dir():
            for file in files_below(path):
                yield from read_file(file)
        elif path.exists():
            yield from read_file(path)
        else:
            yield Problem(name, None, "no such file or folder")


def read_one(path: str, stdin: BinaryIO | None = None) -> pb.Article:
    """The one article a file holds; raises InputError if it holds none, several, or a bad record."""
    items = list(read_paths([path], stdin))
    problems = [item for item in items if isinstance(item, Problem)]
    if problems:
        raise InputError(str(problems[0]))
    if len(items) != 1:
        raise InputError(f"{path}: expected one article, found {len(items)}")
    record = items[0]
    assert isinstance(record, Record)
    return record.article
