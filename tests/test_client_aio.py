"""AsyncDedupClient against real servers: the same calls and answers as DedupClient, deadlines, errors, retries."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2
from newsdedup.api.server import NewsdedupServer
from newsdedup.v1 import dedup_service_pb2 as pb
from newsdedup_client import AsyncDedupClient, DedupClient, describe_rpc_error, error_reason

from .test_channel import QUICK, FlakyServicer, flaky  # noqa: F401  (flaky is a fixture)
from .test_client import edited, recording  # noqa: F401  (recording is a fixture)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_async_client_does_what_the_sync_one_does(grpc_server: NewsdedupServer, seeds: list) -> None:
    """Writes through the asyncio client; then every read gives the sync client's answer."""
    target = f"127.0.0.1:{grpc_server.port}"
    articles = [pb.Article(id=seed.id, body=seed.body) for seed in seeds]
    near = pb.Article(id="near", body=edited(seeds[0].body))

    async def write() -> tuple[list[pb.ArticleResult], pb.ArticleResult, pb.ArticleResult]:
        async with AsyncDedupClient(target, timeout=30) as client:
            batch = await client.ingest_batch(articles[:4])
            last = await client.ingest(articles[4])
            copy = await client.ingest(near)
            await client.ingest(pb.Article(id="doomed", body=seeds[1].body))
            await client.delete_article("doomed")
            return batch, last, copy

    batch, last, copy = run(write())
    assert [result.article_id for result in [*batch, last]] == [seed.id for seed in seeds]
    assert (copy.verdict, copy.duplicate_of) == (pb.VERDICT_NEAR_DUPLICATE, seeds[0].id)

    def reads(client: Any) -> list[Callable[[], Any]]:
        """Every read, as calls that return a result (or, from the asyncio client, an awaitable of one)."""
        return [
            lambda: client.check(pb.Article(body=seeds[2].body)),
            lambda: client.get_article("near"),
            lambda: client.search_similar(article_id=seeds[0].id),
            lambda: client.search_similar(article=pb.Article(body=seeds[3].body), max_results=2),
            lambda: client.get_cluster(article_id=seeds[0].id),
            lambda: client.list_clusters(page_size=1),
            lambda: client.compare(articles[0], near),
            lambda: client.stats(),
            lambda: client.health(),
        ]

    async def read_async() -> list[Any]:
        async with AsyncDedupClient(target, timeout=30) as client:
            answers = [await read() for read in reads(client)]
            answers.append([cluster async for cluster in client.iter_clusters(page_size=1)])
            return answers

    with DedupClient(target, timeout=30) as client:
        expected = [read() for read in reads(client)]
        expected.append(list(client.iter_clusters(page_size=1)))
    assert run(read_async()) == expected
    assert expected[-2] == health_pb2.HealthCheckResponse.SERVING
    assert expected[-3].article_count == 6  # five seeds and the near copy; "doomed" is gone


def test_async_errors_read_like_sync_ones(grpc_server: NewsdedupServer) -> None:
    """A failed call raises a grpc.RpcError whose reason and one-line description the errors module reads."""
    target = f"127.0.0.1:{grpc_server.port}"

    async def fail() -> grpc.RpcError:
        async with AsyncDedupClient(target, timeout=30) as client:
            with pytest.raises(grpc.RpcError) as raised:
                await client.get_article("absent")
            with pytest.raises(ValueError, match="give exactly one of cluster_id or article_id"):
                await client.get_cluster()
            return raised.value

    error = run(fail())
    assert (error.code(), error_reason(error)) == (grpc.StatusCode.NOT_FOUND, "ARTICLE_NOT_FOUND")
    assert describe_rpc_error(error, target, 30) == "NOT_FOUND: no stored article has id 'absent'"


def test_every_async_call_carries_the_deadline(recording: tuple[str, dict[str, float | None]]) -> None:  # noqa: F811
    """Each asyncio client method sends its RPC with a deadline of `timeout` seconds."""
    target, remaining = recording
    article = pb.Article(id="a", body="text")

    async def call_everything() -> None:
        async with AsyncDedupClient(target, timeout=7.5) as client:
            await client.ingest(article)
            await client.ingest_batch([article])
            await client.check(article)
            await client.get_article("a")
            await client.delete_article("a")
            await client.search_similar(article_id="a")
            await client.get_cluster(cluster_id="c")
            await client.list_clusters()
            await client.compare(article, article)
            await client.stats()
            await client.health()

    run(call_everything())
    assert len(remaining) == 11
    assert all(seconds is not None and 7.0 < seconds < 7.6 for seconds in remaining.values()), remaining


def test_async_client_retries_unavailable(flaky: Callable[..., tuple[str, FlakyServicer]]) -> None:  # noqa: F811
    """The asyncio channel carries the same retry policy: two UNAVAILABLE answers, then the third attempt's."""
    target, servicer = flaky(2)

    async def stats() -> pb.GetStatsResponse:
        async with AsyncDedupClient(target, timeout=30, retry=QUICK) as client:
            return await client.stats()

    assert run(stats()).article_count == 7
    assert servicer.calls == 3
