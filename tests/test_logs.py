"""Log lines: one JSON object per line off a terminal, key=value text on one; one line per call, never the text."""

from __future__ import annotations

import json
import logging
import os
import pty
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from newsdedup import logs
from newsdedup.v1 import dedup_service_pb2 as pb
from newsdedup.v1 import dedup_service_pb2_grpc as pb_grpc

from .articles import invented_words, story_text
from .conftest import ServerProcess

SERVICE = "newsdedup.v1.DedupService"
# Made-up words that appear only in the articles' titles and bodies: the log must never hold one.
SECRET_WORDS = invented_words(6006, 40)


def secret_article(number: int) -> pb.Article:
    words = SECRET_WORDS[number * 10 : number * 10 + 10]
    return pb.Article(id=f"logged-{number}", title=" ".join(words[:3]), body=story_text(words, number, 80))


def make_calls(server: ServerProcess) -> None:
    """One of each kind: unary, batch, streams both ways, a text-only check and compare, two errors."""
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.DedupServiceStub(channel)
        stub.IngestArticle(pb.IngestArticleRequest(article=secret_article(0)))
        stub.BatchIngestArticles(pb.BatchIngestArticlesRequest(articles=[secret_article(1), secret_article(2)]))
        requests = [pb.StreamIngestArticlesRequest(article=secret_article(n)) for n in (0, 3)]
        assert len(list(stub.StreamIngestArticles(iter(requests)))) == 2
        stub.CheckArticle(pb.CheckArticleRequest(article=pb.Article(body=secret_article(1).body)))
        stub.CompareArticles(pb.CompareArticlesRequest(first=secret_article(1), second=secret_article(2)))
        stub.GetCluster(pb.GetClusterRequest(article_id="logged-0"))
        with pytest.raises(grpc.RpcError):
            stub.GetArticle(pb.GetArticleRequest(article_id="never-stored"))
        with pytest.raises(grpc.RpcError):
            stub.IngestArticle(pb.IngestArticleRequest(article=pb.Article(id="logged-0", body=secret_article(3).body)))


def calls(records: list[dict]) -> dict[str, list[dict]]:
    """The per-call records, by method."""
    by_method: dict[str, list[dict]] = {}
    for record in records:
        if record["message"] == "rpc":
            by_method.setdefault(record["method"], []).append(record)
    return by_method


def test_calls_are_logged_as_json_lines_without_article_text(server_process, tmp_path: Path) -> None:
    """Off a terminal every line is a JSON object; each call is one, with its method, code, latency, peer and ids."""
    server = server_process(tmp_path / "data")
    make_calls(server)
    assert server.stop() == 0
    text = server.log()
    records = [json.loads(line) for line in text.splitlines()]  # every line, grpc's and ours
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    assert any(record["message"].startswith("serving newsdedup on 127.0.0.1:") for record in records)
    by_method = calls(records)

    (ingest, conflict) = by_method["IngestArticle"]
    assert ingest["service"] == SERVICE and ingest["code"] == "OK" and ingest["level"] == "INFO"
    assert ingest["article_id"] == "logged-0"
    assert isinstance(ingest["latency_ms"], float) and ingest["latency_ms"] > 0
    assert ingest["peer"].startswith("ipv4:127.0.0.1:")
    assert "reason" not in ingest and "error" not in ingest
    assert conflict["code"] == "ALREADY_EXISTS" and conflict["reason"] == "ARTICLE_ID_CONFLICT"
    assert "logged-0" in conflict["error"]
    (batch,) = by_method["BatchIngestArticles"]
    assert batch["article_ids"] == ["logged-1", "logged-2"] and batch["article_count"] == 2
    (stream,) = by_method["StreamIngestArticles"]
    assert stream["code"] == "OK" and stream["article_ids"] == ["logged-0", "logged-3"]
    (compare,) = by_method["CompareArticles"]
    assert compare["article_ids"] == ["logged-1", "logged-2"]
    (check,) = by_method["CheckArticle"]
    assert check["code"] == "OK" and "article_id" not in check  # a text without an id: nothing to name
    (cluster,) = by_method["GetCluster"]
    assert cluster["article_id"] == "logged-0"
    (missing,) = by_method["GetArticle"]
    assert missing["code"] == "NOT_FOUND" and missing["reason"] == "ARTICLE_NOT_FOUND"
    assert missing["article_id"] == "never-stored" and missing["level"] == "INFO"
    assert "Check" not in by_method  # health probes log at DEBUG only

    leaked = [word for word in SECRET_WORDS if word in text]
    assert not leaked, f"article text in the log: {leaked}"


def test_text_format_and_level_are_configurable(server_process, tmp_path: Path) -> None:
    """--log-format text writes key=value lines; --log-level DEBUG adds the health probes' calls."""
    server = server_process(tmp_path / "data", "--log-format", "text", "--log-level", "DEBUG")
    make_calls(server)
    assert server.stop() == 0
    lines = server.log().splitlines()
    for line in lines:
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)
    ingest = [line for line in lines if f"rpc service={SERVICE} method=IngestArticle code=OK" in line]
    assert len(ingest) == 1 and " INFO newsdedup.api.observability: " in ingest[0]
    assert "article_id=logged-0" in ingest[0] and " latency_ms=" in ingest[0]
    assert any(" DEBUG " in line and "method=Check code=OK" in line for line in lines)
    assert any('article_ids=["logged-1","logged-2"]' in line for line in lines)
    assert not [word for word in SECRET_WORDS if word in "\n".join(lines)]


def test_a_warning_level_leaves_out_successful_calls(server_process, tmp_path: Path) -> None:
    """At --log-level WARNING, neither the calls nor the startup lines are logged."""
    server = server_process(tmp_path / "data", "--log-level", "WARNING")
    make_calls(server)
    assert server.stop() == 0
    records = [json.loads(line) for line in server.log().splitlines()]
    assert [r for r in records if r["level"] in ("DEBUG", "INFO")] == []


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure() replaces the root logger's handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_auto_format_is_text_on_a_terminal_and_json_elsewhere(restored_logging, tmp_path: Path) -> None:
    """--log-format auto (the default) gives people text on a terminal and machines JSON in a file or pipe."""
    controller, terminal_fd = pty.openpty()
    with os.fdopen(terminal_fd, "w") as terminal:
        logs.configure("INFO", "auto", terminal)
        logging.getLogger("newsdedup.test").info("rpc", extra={"fields": {"method": "GetStats", "code": "OK"}})
        terminal.flush()
        written = os.read(controller, 4096).decode()
    os.close(controller)
    assert " INFO newsdedup.test: rpc method=GetStats code=OK" in written
    assert not written.lstrip().startswith("{")

    with open(tmp_path / "log", "w") as file:
        logs.configure("INFO", "auto", file)
        logging.getLogger("newsdedup.test").info("rpc", extra={"fields": {"method": "GetStats", "code": "OK"}})
    (line,) = (tmp_path / "log").read_text().splitlines()
    record = json.loads(line)
    assert record["message"] == "rpc" and record["method"] == "GetStats" and record["logger"] == "newsdedup.test"
    assert record["time"].endswith("Z") and record["level"] == "INFO"


def test_a_traceback_stays_on_its_json_line(restored_logging, tmp_path: Path) -> None:
    """An exception's traceback is a field of its record, so a collector never splits it into lines."""
    with open(tmp_path / "log", "w") as file:
        logs.configure("INFO", "json", file)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("newsdedup.test").exception("failed")
    (line,) = (tmp_path / "log").read_text().splitlines()
    record = json.loads(line)
    assert record["level"] == "ERROR" and "RuntimeError: boom" in record["exception"]
