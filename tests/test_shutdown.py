"""Graceful shutdown of the real `newsdedup serve` process (issue 5, item 5).

On SIGTERM the server reports NOT_SERVING (Health.Watch streams hear it),
stops taking calls, lets in-flight calls finish within --grace-period, cancels
those that outlive it, closes the store and exits 0. Every acknowledged
article is there after a restart.
"""

from __future__ import annotations

import json
import queue
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from newsdedup.api.server import SERVICE_NAME
from newsdedup.v1 import dedup_service_pb2 as pb
from newsdedup.v1 import dedup_service_pb2_grpc as pb_grpc

from .conftest import ServerProcess
from .test_logs import calls
from .test_metrics import free_port, scrape, value

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
DRAINING = "not serving; in-flight calls have"  # logged once the server has stopped taking calls


def wait_for_log(server: ServerProcess, text: str, timeout: float = 30.0) -> None:
    """Poll the server's log until it holds `text`."""
    deadline = time.monotonic() + timeout
    while text not in server.log():
        assert time.monotonic() < deadline, f"{text!r} not logged within {timeout} s:\n{server.log()}"
        time.sleep(0.02)


def terminate(server: ServerProcess) -> None:
    """SIGTERM without waiting for the exit."""
    assert server.process is not None
    server.process.send_signal(signal.SIGTERM)


def exit_code(server: ServerProcess, timeout: float) -> int:
    assert server.process is not None
    return server.process.wait(timeout=timeout)


def wait_until_working(metrics_port: int, call: grpc.Future) -> None:
    """Wait until the call's handler is running: the server's metrics count it in flight.

    Receiving a batch of megabytes is not instant; a SIGTERM before the handler
    starts would test refusal, not draining or cancelling. (Waiting for some CPU
    time instead failed once on a loaded machine: the time went on receiving.)
    """
    deadline = time.monotonic() + 60
    while value(scrape(metrics_port), "newsdedup_rpc_in_flight") < 1:
        assert not call.done(), "the call ended before the server got to work on it"
        assert time.monotonic() < deadline, "the server did not start on the call within 60 s"
        time.sleep(0.01)
    assert not call.done(), "the call finished before SIGTERM: the test needs a longer one"


def stored_ids(server: ServerProcess, ids: list[str]) -> set[str]:
    """Which of `ids` the (restarted) server has, checked one by one."""
    present = set()
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.DedupServiceStub(channel)
        for article_id in ids:
            try:
                stub.GetArticle(pb.GetArticleRequest(article_id=article_id), timeout=10)
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.NOT_FOUND, error
            else:
                present.add(article_id)
    return present


def articles(docs: list[dict], copies: int = 1) -> list[pb.Article]:
    """ECB+ documents as articles; `copies` > 1 repeats them under new ids, for a batch that takes seconds."""
    return [
        pb.Article(id=doc["doc_id"] if copy == 0 else f"{doc['doc_id']}/{copy}", body=doc["text"])
        for copy in range(copies)
        for doc in docs
    ]


# A batch this big takes seconds even on a fast idle machine (ECB+ 981 articles: 1.5 s to 6 s here).
BIG_BATCH = ("--max-batch-size", "5000")


class ControlledStream:
    """A StreamIngestArticles call whose requests the test sends one by one."""

    def __init__(self, stub: pb_grpc.DedupServiceStub) -> None:
        self._requests: queue.Queue[pb.Article | None] = queue.Queue()
        self.responses = stub.StreamIngestArticles(self._iterate(), timeout=120)

    def _iterate(self) -> Iterator[pb.StreamIngestArticlesRequest]:
        while (article := self._requests.get()) is not None:
            yield pb.StreamIngestArticlesRequest(article=article)

    def send(self, article: pb.Article) -> pb.ArticleResult:
        """Send one article and wait for its result (its acknowledgement)."""
        self._requests.put(article)
        result = next(self.responses).result
        assert result.article_id == article.id and not result.HasField("error"), result
        return result

    def close(self) -> None:
        self._requests.put(None)


def test_sigterm_drains_an_in_flight_stream(server_process, tmp_path: Path, ecbplus) -> None:
    """A stream open at SIGTERM goes on until its client ends it; new calls are refused meanwhile; exit 0."""
    docs = articles(ecbplus[:120])
    server = server_process(tmp_path / "data", "--grace-period", "60")
    with grpc.insecure_channel(server.target) as channel:
        stream = ControlledStream(pb_grpc.DedupServiceStub(channel))
        for article in docs[:40]:
            stream.send(article)
        terminate(server)
        wait_for_log(server, DRAINING)
        with grpc.insecure_channel(server.target) as other:  # a new connection, a new call: refused
            with pytest.raises(grpc.RpcError) as refused:
                pb_grpc.DedupServiceStub(other).GetStats(pb.GetStatsRequest(), timeout=5)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        for article in docs[40:]:  # the call in flight is still served, article after article
            stream.send(article)
        stream.close()
        assert list(stream.responses) == []  # the stream ends normally
    assert exit_code(server, timeout=30) == 0
    log = server.log()
    assert "received SIGTERM, shutting down" in log and "closed the store" in log
    assert "grace period" not in log  # nothing was cancelled
    restarted = server_process(tmp_path / "data")
    assert stored_ids(restarted, [a.id for a in docs]) == {a.id for a in docs}
    assert restarted.stop() == 0


def test_sigterm_lets_an_in_flight_batch_finish(server_process, tmp_path: Path, ecbplus) -> None:
    """A BatchIngestArticles call (several seconds of work) running at SIGTERM completes and is stored."""
    docs = articles(ecbplus, copies=3)
    metrics_port = free_port()
    server = server_process(tmp_path / "data", "--grace-period", "60", "--metrics-port", str(metrics_port), *BIG_BATCH)
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.DedupServiceStub(channel)
        batch = stub.BatchIngestArticles.future(pb.BatchIngestArticlesRequest(articles=docs), timeout=120)
        wait_until_working(metrics_port, batch)
        terminate(server)
        try:
            results = batch.result(timeout=120).results
        except grpc.RpcError as error:  # the reply was lost as the connection closed (server.py, step 4)
            assert error.code() == grpc.StatusCode.UNAVAILABLE, error
            results = None
    if results is not None:
        assert [r.article_id for r in results] == [a.id for a in docs]
        assert not any(r.HasField("error") for r in results)
    assert exit_code(server, timeout=30) == 0
    logged = calls([json.loads(line) for line in server.log().splitlines()])
    assert [call["code"] for call in logged["BatchIngestArticles"]] == ["OK"]
    restarted = server_process(tmp_path / "data")
    with grpc.insecure_channel(restarted.target) as channel:
        stub = pb_grpc.DedupServiceStub(channel)
        assert stub.GetStats(pb.GetStatsRequest()).article_count == len(docs)
        if results is None:  # what a client does with a lost reply: send the batch again; ingest is idempotent
            retried = stub.BatchIngestArticles(pb.BatchIngestArticlesRequest(articles=docs), timeout=120).results
            assert [r.article_id for r in retried] == [a.id for a in docs]
            assert all(r.already_ingested and not r.HasField("error") for r in retried)
    assert restarted.stop() == 0


def test_health_watch_hears_not_serving_and_does_not_hold_shutdown(server_process, tmp_path: Path) -> None:
    """A Health.Watch opened before SIGTERM receives NOT_SERVING, then its stream ends; exit long before the grace."""
    server = server_process(tmp_path / "data", "--grace-period", "60")
    with grpc.insecure_channel(server.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        watches = [health.Watch(health_pb2.HealthCheckRequest(service=name), timeout=60) for name in ("", SERVICE_NAME)]
        assert [next(watch).status for watch in watches] == [SERVING, SERVING]
        started = time.monotonic()
        terminate(server)
        assert [next(watch).status for watch in watches] == [NOT_SERVING, NOT_SERVING]
        try:  # right after NOT_SERVING the server may still answer a Check; it never says SERVING again
            assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == NOT_SERVING
        except grpc.RpcError as error:  # refused; CANCELLED when the call meets the shutdown on an open connection
            assert error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
        for watch in watches:
            assert list(watch) == []  # ended by the server with OK, not cut off
    assert exit_code(server, timeout=30) == 0
    assert time.monotonic() - started < 20, "an open Watch held the server for its grace period"


def test_calls_outliving_the_grace_period_are_cancelled_and_nothing_acknowledged_is_lost(
    server_process, tmp_path: Path, ecbplus
) -> None:
    """With --grace-period 1, a stream kept open is cancelled after a second; the process exits 0 promptly."""
    docs = articles(ecbplus[:400])
    server = server_process(tmp_path / "data", "--grace-period", "1")
    acknowledged: list[str] = []
    with grpc.insecure_channel(server.target) as channel:
        stream = ControlledStream(pb_grpc.DedupServiceStub(channel))
        for article in docs[:20]:
            acknowledged.append(stream.send(article).article_id)
        terminate(server)
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as cancelled:
            for article in docs[20:]:  # the client goes on sending, well past the grace period
                acknowledged.append(stream.send(article).article_id)
                time.sleep(0.02)
        assert cancelled.value.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)
        stream.close()
        assert exit_code(server, timeout=30) == 0
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 15, f"exited {elapsed:.1f} s after SIGTERM with a 1 s grace period"
    assert len(acknowledged) < len(docs), "the stream outlived the grace period"
    assert "the grace period of 1 s is over" in server.log()
    restarted = server_process(tmp_path / "data")
    stored = stored_ids(restarted, [a.id for a in docs])
    assert set(acknowledged) <= stored
    assert len(stored) <= len(acknowledged) + 1  # at most the article in hand when cancelled, unacknowledged
    assert restarted.stop() == 0


def test_a_batch_cancelled_at_the_grace_period_still_commits_before_the_store_closes(
    server_process, tmp_path: Path, ecbplus
) -> None:
    """A batch still running when the grace period ends is cancelled; its handler finishes before the store closes."""
    docs = articles(ecbplus, copies=3)
    metrics_port = free_port()
    server = server_process(tmp_path / "data", "--grace-period", "0.2", "--metrics-port", str(metrics_port), *BIG_BATCH)
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.DedupServiceStub(channel)
        stub.IngestArticle(pb.IngestArticleRequest(article=pb.Article(id="before", body=docs[0].body)), timeout=10)
        batch = stub.BatchIngestArticles.future(pb.BatchIngestArticlesRequest(articles=docs[1:]), timeout=120)
        wait_until_working(metrics_port, batch)
        terminate(server)
        with pytest.raises(grpc.RpcError) as cancelled:
            batch.result(timeout=120)
        # grpc's cancel_all_calls reaches the client as UNAVAILABLE "Cancelling all calls"
        assert cancelled.value.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)
    assert exit_code(server, timeout=120) == 0
    log = server.log()
    assert "Traceback" not in log and "closed the store" in log, log
    restarted = server_process(tmp_path / "data")
    with grpc.insecure_channel(restarted.target) as channel:
        count = pb_grpc.DedupServiceStub(channel).GetStats(pb.GetStatsRequest()).article_count
    # Unacknowledged, the batch could be absent and the promise kept; but its handler was running, and the
    # store closes only after handlers return, so its one transaction committed: all of it is there.
    assert count == len(docs)
    assert stored_ids(restarted, ["before", docs[1].id, docs[-1].id]) == {"before", docs[1].id, docs[-1].id}
    assert restarted.stop() == 0


@pytest.mark.parametrize("attempt", range(5))
def test_second_signal_during_the_drain_changes_nothing(server_process, tmp_path: Path, attempt: int) -> None:
    """SIGINT right after SIGTERM (an impatient Ctrl-C) neither deadlocks nor cuts the drain short; exit 0."""
    server = server_process(tmp_path / "data", "--grace-period", "5")
    terminate(server)
    assert server.process is not None
    server.process.send_signal(signal.SIGINT)
    assert exit_code(server, timeout=30) == 0
    assert server.log().count("shutting down") == 1 and "closed the store" in server.log()


def test_with_a_shutdown_delay_pollers_see_not_serving_while_calls_still_work(server_process, tmp_path: Path) -> None:
    """--shutdown-delay: after SIGTERM, Health.Check answers NOT_SERVING and calls still succeed, then it exits 0."""
    server = server_process(tmp_path / "data", "--shutdown-delay", "3")
    with grpc.insecure_channel(server.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        stub = pb_grpc.DedupServiceStub(channel)
        terminate(server)
        wait_for_log(server, "still taking calls")
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == NOT_SERVING
        assert health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=5).status == NOT_SERVING
        assert stub.GetStats(pb.GetStatsRequest(), timeout=5).article_count == 0
    assert exit_code(server, timeout=30) == 0
