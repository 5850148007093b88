"""Torn and corrupted store files are detected and refused with a message naming the file, never served.

Damage is made in the real file on disk, byte by byte, the way a bad disk or
a torn write leaves it; SQLite itself checks nothing in a blob, so the
store's checksums are what catch a flipped bit in a signature.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import grpc
import numpy as np
import pytest
from newsdedup.config import Settings
from newsdedup.engine import Engine
from newsdedup.errors import DataCorrupted, IncompatibleData
from newsdedup.models import ArticleInput
from newsdedup.store import DATABASE_FILE
from newsdedup.v1 import dedup_service_pb2 as pb
from newsdedup.v1 import dedup_service_pb2_grpc as pb_grpc


def stored_store(data: Path, ecbplus: list[dict], count: int = 40) -> Path:
    """A store of `count` ECB+ articles, closed cleanly (so its pages are all in the main file)."""
    engine = Engine(Settings(data_dir=str(data)))
    for doc in ecbplus[:count]:
        engine.ingest(ArticleInput(id=doc["doc_id"], body=doc["text"]))
    engine.close()
    return data / DATABASE_FILE


def flip_bit_in(path: Path, needle: bytes, bit: int = 3) -> None:
    """Flip one bit in the middle of the only occurrence of `needle` in the file."""
    content = bytearray(path.read_bytes())
    at = content.find(needle)
    assert at >= 0 and content.find(needle, at + 1) < 0, "the bytes to damage must occur exactly once"
    content[at + len(needle) // 2] ^= 1 << bit
    path.write_bytes(bytes(content))


def blob_of(path: Path, query: str) -> bytes:
    with sqlite3.connect(path) as connection:
        (blob,) = connection.execute(query).fetchone()
    return bytes(blob)


@pytest.mark.parametrize(
    ("column", "what"),
    [
        ("near_signature FROM article_signatures", "signatures"),
        ("term_buckets FROM article_terms", "term counts"),
    ],
)
def test_a_flipped_bit_in_what_startup_reads_is_refused(tmp_path: Path, ecbplus, column: str, what: str) -> None:
    """One bit of one article's blob flipped in the file: the engine refuses to open it, naming file and article."""
    path = stored_store(tmp_path / "data", ecbplus)
    flip_bit_in(path, blob_of(path, f"SELECT {column} WHERE seq = 17"))
    with pytest.raises(DataCorrupted) as raised:
        Engine(Settings(data_dir=str(tmp_path / "data")))
    message = raised.value.message
    assert str(path) in message and f"the {what} of article seq 17" in message
    assert "restore the file from a backup" in message


def test_a_flipped_bit_in_salient_terms_is_a_data_loss_error_not_an_answer(tmp_path: Path, ecbplus) -> None:
    """Salient terms are read on demand: a damaged one fails that request with DataCorrupted, others still work."""
    path = stored_store(tmp_path / "data", ecbplus)
    flip_bit_in(path, blob_of(path, "SELECT salient_counts FROM article_terms WHERE seq = 5"))
    engine = Engine(Settings(data_dir=str(tmp_path / "data")))
    try:
        with pytest.raises(DataCorrupted, match="salient terms of article seq 5"):
            engine.search_similar(article_id=ecbplus[4]["doc_id"])
        assert engine.get_article(ecbplus[10]["doc_id"]).id == ecbplus[10]["doc_id"]
    finally:
        engine.close()


def test_a_truncated_file_is_refused(tmp_path: Path, ecbplus) -> None:
    """A store cut short (a torn copy, a full disk during a backup) does not open; the message names the file."""
    path = stored_store(tmp_path / "data", ecbplus)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) * 2 // 3])
    with pytest.raises((DataCorrupted, IncompatibleData)) as raised:
        Engine(Settings(data_dir=str(tmp_path / "data")))
    assert str(path) in raised.value.message


def tear_a_page_of_the_articles_table(path: Path) -> None:
    """Overwrite the header of a leaf page of the articles table: a torn write of a B-tree page.

    Startup never reads that table's pages (it reads a covering index), so
    only SQLite's own check can find the damage before a request does.
    """
    with sqlite3.connect(path) as connection:
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        (page,) = connection.execute(
            "SELECT pageno FROM dbstat WHERE name = 'articles' AND pagetype = 'leaf' ORDER BY pageno LIMIT 1"
        ).fetchone()
    content = bytearray(path.read_bytes())
    start = (page - 1) * page_size
    content[start : start + 8] = bytes([0x0D, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00])  # 65,535 cells
    path.write_bytes(bytes(content))


def test_a_torn_page_after_a_crash_is_found_before_serving(tmp_path: Path, ecbplus) -> None:
    """A store left open by a crash gets SQLite's quick_check first; a damaged page refuses the start."""
    data = tmp_path / "data"
    path = stored_store(data, ecbplus, count=120)
    with sqlite3.connect(path) as connection:  # what a crash leaves: the store still marked open
        connection.execute("UPDATE meta SET value = '1' WHERE key = 'open'")
    tear_a_page_of_the_articles_table(path)
    with pytest.raises(DataCorrupted) as raised:
        Engine(Settings(data_dir=str(data)))
    assert "quick_check" in raised.value.message and str(path) in raised.value.message


def test_a_clean_close_skips_the_check_and_a_crash_does_not(tmp_path: Path, ecbplus, monkeypatch) -> None:
    """quick_check reads every page, so it runs only after a run that wrote and did not close cleanly."""
    data = tmp_path / "data"
    stored_store(data, ecbplus, count=5)
    checks: list[str] = []
    original = sqlite3.Connection.execute

    class Recording(sqlite3.Connection):
        def execute(self, sql: str, *args):  # type: ignore[override]
            if "quick_check" in sql:
                checks.append(sql)
            return original(self, sql, *args)

    real_connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: real_connect(*a, **k, factory=Recording))
    Engine(Settings(data_dir=str(data))).close()
    assert checks == []
    killed(Engine(Settings(data_dir=str(data))))  # reads only, never closed: nothing to check
    Engine(Settings(data_dir=str(data))).close()
    assert checks == []
    crashed = Engine(Settings(data_dir=str(data)))  # writes, never closed: as if killed
    crashed.ingest(ArticleInput(id="late", body=ecbplus[50]["text"]))
    killed(crashed)
    Engine(Settings(data_dir=str(data))).close()
    assert len(checks) == 1


def killed(engine: Engine) -> None:
    """Leave an engine as a killed process leaves its store: unclosed, its data-directory lock dropped
    (the kernel drops a dead process's flock)."""
    lock = engine._store._dir_lock
    assert lock is not None
    lock.close()


def test_the_server_refuses_a_damaged_store_and_says_what_to_do(server_process, tmp_path: Path, ecbplus) -> None:
    """A real server on a damaged file exits non-zero with the file and the remedy in its log; nothing is served."""
    data = tmp_path / "data"
    path = stored_store(data, ecbplus)
    flip_bit_in(path, blob_of(path, "SELECT story_signature FROM article_signatures WHERE seq = 3"))
    with pytest.raises(AssertionError, match="exited with") as raised:
        server_process(data)
    assert str(path) in str(raised.value) and "restore the file from a backup" in str(raised.value)


def test_damage_found_while_serving_is_data_loss_over_grpc(server_process, tmp_path: Path, ecbplus) -> None:
    """A damaged record met by a request answers DATA_LOSS naming the file; the server keeps serving the rest."""
    data = tmp_path / "data"
    path = stored_store(data, ecbplus)
    flip_bit_in(path, blob_of(path, "SELECT salient_ids FROM article_terms WHERE seq = 8"))
    server = server_process(data)
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.DedupServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.SearchSimilarArticles(pb.SearchSimilarArticlesRequest(article_id=ecbplus[7]["doc_id"]))
        assert raised.value.code() == grpc.StatusCode.DATA_LOSS
        assert str(path) in raised.value.details()
        healthy = stub.GetArticle(pb.GetArticleRequest(article_id=ecbplus[20]["doc_id"])).article
        assert healthy.id == ecbplus[20]["doc_id"]
    assert np.isfinite(server.stop())
