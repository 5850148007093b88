"""Reading article files: formats, line numbers, and bad records reported without stopping the rest."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from newsdedup.v1 import dedup_service_pb2 as pb
from newsdedup_client.inputs import (
    InputError,
    Problem,
    Record,
    article_from_dict,
    files_below,
    parse_timestamp,
    read_one,
    read_paths,
)


def read(*paths: Path | str, stdin: bytes | None = None) -> tuple[list[Record], list[Problem]]:
    items = list(read_paths([str(p) for p in paths], io.BytesIO(stdin) if stdin is not None else None))
    return [i for i in items if isinstance(i, Record)], [i for i in items if isinstance(i, Problem)]


def ids(records: list[Record]) -> list[str]:
    return [record.article.id for record in records]


def test_txt_file_stem_is_the_id_and_whole_text_is_the_body(tmp_path: Path) -> None:
    """A .txt file is one article: its name without the extension is the id, its whole text the body."""
    text = "Headline\n\n\tFirst paragraph.\r\nSecond paragraph.\n"
    (tmp_path / "reuters-17.txt").write_text(text, encoding="utf-8", newline="")
    records, problems = read(tmp_path / "reuters-17.txt")
    assert problems == []
    assert [(r.article.id, r.article.body, r.location) for r in records] == [
        ("reuters-17", text, f"{tmp_path / 'reuters-17.txt'}:1")
    ]


def test_seed_files_are_read_as_five_articles(shared_data: Path, seeds: list) -> None:
    """The real seed folder yields one article per file, with the fixture's ids and bodies."""
    records, problems = read(shared_data / "seeds")
    assert problems == []
    assert [(r.article.id, r.article.body) for r in records] == [(s.id, s.body) for s in seeds]


def test_json_object_keeps_every_field(tmp_path: Path) -> None:
    """A .json object maps to an Article field by field, published_at included."""
    record = {
        "id": "a-1",
        "title": "Title",
        "body": "Body text",
        "url": "https://example.com/a-1",
        "source": "Example",
        "published_at": "2026-02-22T09:30:00+01:00",
        "language": "en",
    }
    (tmp_path / "one.json").write_text(json.dumps(record))
    (found,), problems = read(tmp_path / "one.json")
    assert problems == []
    expected = pb.Article(id="a-1", title="Title", body="Body text", url="https://example.com/a-1")
    expected.source, expected.language = "Example", "en"
    expected.published_at.FromJsonString("2026-02-22T08:30:00Z")
    assert found.article == expected


def test_json_list_records_know_their_lines(tmp_path: Path) -> None:
    """Each object of a .json list is located at the line it starts on."""
    (tmp_path / "list.json").write_text('[\n  {"id": "a"},\n\n  {\n    "id": "b"\n  }, {"id": "c"}\n]\n')
    records, problems = read(tmp_path / "list.json")
    assert problems == []
    assert [(r.article.id, r.line) for r in records] == [("a", 2), ("b", 4), ("c", 6)]


def test_invalid_json_in_a_list_keeps_the_records_before_it(tmp_path: Path) -> None:
    """Invalid JSON inside a .json list is reported at its line; the records before it are still read."""
    (tmp_path / "list.json").write_text('[\n{"id": "a"},\n{"id": "b",,},\n{"id": "c"}\n]\n')
    records, problems = read(tmp_path / "list.json")
    assert ids(records) == ["a"]
    assert [(p.line, p.message.split(":")[0]) for p in problems] == [(3, "invalid JSON")]


def test_jsonl_skips_blank_lines_and_accepts_crlf(tmp_path: Path) -> None:
    """A .jsonl file is one object per line; blank lines are skipped and CRLF endings accepted."""
    (tmp_path / "lines.jsonl").write_bytes(b'{"id": "a"}\r\n\r\n  {"id": "b"}  \r\n')
    records, problems = read(tmp_path / "lines.jsonl")
    assert problems == []
    assert [(r.article.id, r.line) for r in records] == [("a", 1), ("b", 3)]


def test_jsonl_line_separator_inside_a_string_does_not_split_the_line(tmp_path: Path) -> None:
    """U+2028 and U+2029 are valid inside JSON strings and do not end a JSON line."""
    body = "first\u2028second\u2029third"
    (tmp_path / "lines.jsonl").write_text(json.dumps({"id": "a", "body": body}, ensure_ascii=False) + "\n")
    records, problems = read(tmp_path / "lines.jsonl")
    assert problems == []
    assert [r.article.body for r in records] == [body]


def test_folder_is_read_recursively_in_sorted_order_with_only_article_files(tmp_path: Path) -> None:
    """A folder yields every .txt/.json/.jsonl below it, sorted by path; other files are ignored."""
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "deep").mkdir()
    (tmp_path / "b" / "deep" / "z.txt").write_text("zed text")
    (tmp_path / "b" / "a.jsonl").write_text('{"id": "from-jsonl"}\n')
    (tmp_path / "a.json").write_text('{"id": "from-json"}')
    (tmp_path / "c.TXT").write_text("upper-case extension")
    (tmp_path / "notes.md").write_text("not an article")
    (tmp_path / "data.csv").write_text("id,body\n")
    assert files_below(tmp_path) == [
        tmp_path / "a.json",
        tmp_path / "b" / "a.jsonl",
        tmp_path / "b" / "deep" / "z.txt",
        tmp_path / "c.TXT",
    ]
    records, problems = read(tmp_path)
    assert problems == []
    assert ids(records) == ["from-json", "from-jsonl", "z", "c"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"id": "a", "body": "x"}', [("a", 1)]),
        (b'{\n  "id": "a",\n  "body": "x"\n}\n', [("a", 1)]),
        (b'[{"id": "a"},\n {"id": "b"}]', [("a", 1), ("b", 2)]),
        (b'{"id": "a"}\n{"id": "b"}\n', [("a", 1), ("b", 2)]),
        (b'\n{"id": "a"}\n\n{"id": "b"}', [("a", 2), ("b", 4)]),
    ],
    ids=["object", "pretty-object", "list", "json-lines", "json-lines-with-blanks"],
)
def test_stdin_holds_an_object_a_list_or_json_lines(data: bytes, expected: list[tuple[str, int]]) -> None:
    """Standard input is recognised as one JSON object, a JSON list, or JSON lines."""
    records, problems = read("-", stdin=data)
    assert problems == []
    assert [(r.article.id, r.line) for r in records] == expected
    assert {r.source for r in records} == {"<stdin>"}


def test_stdin_json_lines_with_a_bad_line_keep_the_others() -> None:
    """A bad line in JSON lines on stdin is reported and the lines around it are still read."""
    records, problems = read("-", stdin=b'{"id": "a"}\n{"id": oops}\n{"id": "c"}\n')
    assert ids(records) == ["a", "c"]
    assert [str(p).split(": invalid JSON")[0] for p in problems] == ["<stdin>:2"]


BAD_RECORDS = [
    pytest.param('{"id": "x", "body": "unclosed}', "invalid JSON", id="invalid-json"),
    pytest.param('{"id": "x", "titel": "typo"}', "unknown field 'titel'", id="unknown-field"),
    pytest.param('{"id": "x", "body": 42}', "field 'body' must be a string, got a number", id="wrong-type"),
    pytest.param('{"id": ["x"]}', "field 'id' must be a string, got a list", id="wrong-type-id"),
    pytest.param('{"id": "x", "published_at": "yesterday"}', "published_at 'yesterday'", id="timestamp-word"),
    pytest.param('{"id": "x", "published_at": "2026-02-22"}', "RFC 3339", id="timestamp-no-time"),
    pytest.param('{"id": "x", "published_at": "2026-02-22T09:30:00"}', "time zone", id="timestamp-no-zone"),
    pytest.param('{"id": "x", "published_at": "2026-13-01T00:00:00Z"}', "RFC 3339", id="timestamp-month-13"),
    pytest.param('{"id": "x", "published_at": 1700000000}', "must be an RFC 3339 string", id="timestamp-number"),
    pytest.param('{"id": "x", "body": "\\ud800 alone"}', "lone surrogate U+D800", id="lone-surrogate"),
    pytest.param('{"id": "x", "body": "nul \\u0000 here"}', "control character U+0000", id="control-nul"),
    pytest.param('{"id": "x", "title": "bell \\u0007"}', "field 'title' holds control character U+0007", id="control"),
    pytest.param('{"id": "x\\ty", "body": "tab in id"}', "field 'id' holds control character U+0009", id="tab-in-id"),
    pytest.param('{"id": "x", "id": "y"}', "field 'id' is given twice", id="duplicate-key"),
    pytest.param('["x"]', "expected an article object, got a list", id="not-an-object"),
]


@pytest.mark.parametrize(("line", "message"), BAD_RECORDS)
def test_bad_jsonl_record_is_reported_at_its_line_and_the_others_are_read(
    tmp_path: Path, line: str, message: str
) -> None:
    """A bad record becomes one "path:line: what is wrong" problem; the good records around it are read."""
    path = tmp_path / "mixed.jsonl"
    path.write_text(f'{{"id": "good-1", "body": "fine"}}\n{line}\n{{"id": "good-2", "body": "also fine"}}\n')
    records, problems = read(path)
    assert ids(records) == ["good-1", "good-2"]
    assert len(problems) == 1
    assert str(problems[0]).startswith(f"{path}:2: ")
    assert message in str(problems[0])


@pytest.mark.parametrize(("line", "message"), BAD_RECORDS)
def test_bad_record_in_a_json_list_is_reported_at_its_line(tmp_path: Path, line: str, message: str) -> None:
    """In a .json list a bad element is reported at the line it starts on, and the earlier elements are read."""
    path = tmp_path / "list.json"
    path.write_text(f'[\n{{"id": "good-1", "body": "fine"}},\n{line},\n{{"id": "good-2", "body": "fine"}}\n]\n')
    records, problems = read(path)
    assert str(problems[0]).startswith(f"{path}:3: ")
    assert message in str(problems[0])
    assert ids(records)[0] == "good-1"


def test_tab_newline_and_carriage_return_are_allowed_in_text() -> None:
    """Tab, newline and carriage return are ordinary text, unlike other control characters."""
    article = article_from_dict({"id": "a", "title": "t\tt", "body": "line\r\nline\n"})
    assert (article.title, article.body) == ("t\tt", "line\r\nline\n")


def test_null_leaves_a_field_unset() -> None:
    """null means "not given", as exporters often write it (ECB+ has null source URLs)."""
    article = article_from_dict({"id": "a", "body": "text", "url": None, "published_at": None})
    assert article == pb.Article(id="a", body="text")
    assert not article.HasField("published_at")


def test_txt_file_that_is_not_utf8_is_reported_at_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    """A .txt file with invalid UTF-8 is one problem naming the line and byte; the next file is still read."""
    (tmp_path / "a-latin1.txt").write_bytes("first line\ncaf\xe9\n".encode("latin-1"))
    (tmp_path / "b-good.txt").write_text("good text")
    records, problems = read(tmp_path)
    assert ids(records) == ["b-good"]
    assert [str(p) for p in problems] == [
        f"{tmp_path / 'a-latin1.txt'}:2: not valid UTF-8: byte 0xe9 at offset 14 (invalid continuation byte)"
    ]


def test_control_character_in_a_txt_file_is_reported_at_its_line(tmp_path: Path) -> None:
    """A control character in a .txt body is located by line."""
    (tmp_path / "x.txt").write_text("one\ntwo\nthree \x1b[31m red\n")
    records, problems = read(tmp_path / "x.txt")
    assert records == []
    assert str(problems[0]).startswith(f"{tmp_path / 'x.txt'}:3: field 'body' holds control character U+001B")


def test_json_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    """Invalid UTF-8 in a .jsonl file is reported with its line instead of crashing the reader."""
    (tmp_path / "x.jsonl").write_bytes(b'{"id": "a"}\n{"id": "\xff"}\n')
    records, problems = read(tmp_path / "x.jsonl")
    assert records == []
    assert str(problems[0]).startswith(f"{tmp_path / 'x.jsonl'}:2: not valid UTF-8: byte 0xff")


def test_byte_order_mark_is_not_part_of_the_text(tmp_path: Path) -> None:
    """A UTF-8 byte order mark at the start of a file is dropped, not taken as text."""
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfHello")
    (tmp_path / "bom.json").write_bytes(b'\xef\xbb\xbf{"id": "j"}')
    records, problems = read(tmp_path / "bom.txt", tmp_path / "bom.json")
    assert problems == []
    assert [(r.article.id, r.article.body) for r in records] == [("bom", "Hello"), ("j", "")]


def test_missing_path_and_wrong_extension_are_problems_not_crashes(tmp_path: Path) -> None:
    """A path that does not exist, or a file of another kind named explicitly, is reported by name."""
    (tmp_path / "notes.md").write_text("hello")
    (tmp_path / "ok.txt").write_text("hello")
    records, problems = read(tmp_path / "nope.json", tmp_path / "notes.md", tmp_path / "ok.txt")
    assert ids(records) == ["ok"]
    assert [str(p) for p in problems] == [
        f"{tmp_path / 'nope.json'}: no such file or folder",
        f"{tmp_path / 'notes.md'}: not an article file: the name must end in .txt, .json, .jsonl",
    ]


def test_empty_and_trailing_data_json_documents_are_reported(tmp_path: Path) -> None:
    """An empty .json file and data after the document are problems."""
    (tmp_path / "empty.json").write_text("  \n")
    (tmp_path / "extra.json").write_text('{"id": "a"}\n{"id": "b"}\n')
    records, problems = read(tmp_path / "empty.json", tmp_path / "extra.json")
    assert [str(p) for p in problems] == [
        f"{tmp_path / 'empty.json'}: no JSON: the input is empty",
        f"{tmp_path / 'extra.json'}:2: invalid JSON: extra data after the end of the document",
    ]
    assert ids(records) == ["a"]


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2026-02-22T09:30:00Z", "2026-02-22T09:30:00+00:00"),
        ("2026-02-22T09:30:00.250Z", "2026-02-22T09:30:00.250000+00:00"),
        ("2026-02-22t09:30:00z", "2026-02-22T09:30:00+00:00"),
        ("2026-02-22 09:30:00+05:30", "2026-02-22T09:30:00+05:30"),
        ("2026-02-22T09:30:00-08:00", "2026-02-22T09:30:00-08:00"),
    ],
    ids=["utc", "fraction", "lower-case", "space-and-offset", "negative-offset"],
)
def test_rfc3339_timestamps_are_parsed_with_their_offset(text: str, iso: str) -> None:
    """RFC 3339 timestamps are accepted in their permitted spellings and keep their offset."""
    assert parse_timestamp(text).isoformat() == iso


def test_read_one_returns_the_single_article(tmp_path: Path) -> None:
    """read_one gives the only article of a file."""
    (tmp_path / "a.txt").write_text("text")
    assert read_one(str(tmp_path / "a.txt")) == pb.Article(id="a", body="text")


def test_read_one_refuses_several_articles_or_a_bad_one(tmp_path: Path) -> None:
    """read_one needs exactly one good article and says what it found otherwise."""
    (tmp_path / "two.jsonl").write_text('{"id": "a"}\n{"id": "b"}\n')
    (tmp_path / "bad.jsonl").write_text('{"id": "a", "size": 3}\n')
    with pytest.raises(InputError, match=r"two\.jsonl: expected one article, found 2"):
        read_one(str(tmp_path / "two.jsonl"))
    with pytest.raises(InputError, match=r"bad\.jsonl:1: unknown field 'size'"):
        read_one(str(tmp_path / "bad.jsonl"))
