"""DedupClient against a real in-process server: every RPC, paging, deadlines, errors."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from newsdedup.api.server import NewsdedupServer
from newsdedup.v1 import dedup_service_pb2 as pb
from newsdedup.v1 import dedup_service_pb2_grpc as pb_grpc
from newsdedup_client import DedupClient, describe_rpc_error, error_reason
from newsdedup_client.errors import describe_status

from .articles import edited_copy


@pytest.fixture
def client(grpc_server: NewsdedupServer) -> Iterator[DedupClient]:
    with DedupClient(f"127.0.0.1:{grpc_server.port}", timeout=30) as client:
        yield client


@pytest.fixture
def dead_target() -> Iterator[str]:
    """A loopback port that refuses connections: bound by this test, never listening, so nothing else takes it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def seed_articles(seeds: list) -> list[pb.Article]:
    return [pb.Article(id=seed.id, body=seed.body) for seed in seeds]


def edited(body: str) -> str:
    """A syndicated copy's body: a near duplicate of `body`, not an exact one."""
    return edited_copy(body)[1]


def test_ingest_then_get_then_delete(client: DedupClient, seeds: list) -> None:
    """An ingested article can be read back, and after delete it is NOT_FOUND with reason ARTICLE_NOT_FOUND."""
    article = pb.Article(id="a-1", title="Coalition ready", body=seeds[0].body, source="Example", language="en")
    article.published_at.FromJsonString("2026-02-22T09:30:00Z")
    result = client.ingest(article)
    assert (result.article_id, result.verdict, result.cluster_size) == ("a-1", pb.VERDICT_UNIQUE, 1)
    stored = client.get_article("a-1")
    assert (stored.title, stored.source, stored.language, stored.cluster_id) == (
        "Coalition ready",
        "Example",
        "en",
        result.cluster_id,
    )
    assert stored.published_at.ToJsonString() == "2026-02-22T09:30:00Z"
    client.delete_article("a-1")
    with pytest.raises(grpc.RpcError) as raised:
        client.get_article("a-1")
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_reason(raised.value) == "ARTICLE_NOT_FOUND"


def test_exact_and_near_copies_name_the_original(client: DedupClient, seeds: list) -> None:
    """An exact copy is EXACT_DUPLICATE and an edited copy NEAR_DUPLICATE, both of the original."""
    client.ingest(pb.Article(id="original", body=seeds[0].body))
    copy = client.ingest(pb.Article(id="copy", body=seeds[0].body))
    near = client.ingest(pb.Article(id="near", body=edited(seeds[0].body)))
    assert (copy.verdict, copy.duplicate_of) == (pb.VERDICT_EXACT_DUPLICATE, "original")
    assert (near.verdict, near.duplicate_of) == (pb.VERDICT_NEAR_DUPLICATE, "original")


def test_ingest_batch_reports_a_rejected_article_in_its_place(client: DedupClient, seeds: list) -> None:
    """In a batch, an article the server rejects gets an error result in its position; the others are stored."""
    results = client.ingest_batch(
        [
            pb.Article(id="s0", body=seeds[0].body),
            pb.Article(id="empty", body="  "),
            pb.Article(id="s1", body=seeds[1].body),
        ]
    )
    assert [r.article_id for r in results] == ["s0", "empty", "s1"]
    assert [r.HasField("error") for r in results] == [False, True, False]
    assert error_reason(results[1].error) == "NO_USABLE_TEXT"
    assert describe_status(results[1].error).startswith("INVALID_ARGUMENT: article 'empty' has no words")
    assert client.stats().article_count == 2


def test_check_stores_nothing(client: DedupClient, seeds: list) -> None:
    """A check reports the verdict an ingest would give, and the counts do not change."""
    client.ingest(pb.Article(id="original", body=seeds[0].body))
    before = client.stats()
    result = client.check(pb.Article(id="probe", body=seeds[0].body))
    assert (result.verdict, result.duplicate_of) == (pb.VERDICT_EXACT_DUPLICATE, "original")
    assert client.stats() == before
    with pytest.raises(grpc.RpcError) as raised:
        client.get_article("probe")
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_search_similar_by_id_and_by_text(client: DedupClient, seeds: list) -> None:
    """Similar articles are found for a stored id (itself left out) and for an unstored text."""
    client.ingest_batch([pb.Article(id="original", body=seeds[0].body), pb.Article(id="copy", body=seeds[0].body)])
    by_id = client.search_similar(article_id="original")
    assert [(m.article_id, m.relation) for m in by_id][:1] == [("copy", pb.RELATION_EXACT_DUPLICATE)]
    assert "original" not in [m.article_id for m in by_id]
    by_text = client.search_similar(article=pb.Article(body=edited(seeds[0].body)), max_results=1)
    assert len(by_text) == 1
    assert by_text[0].relation == pb.RELATION_NEAR_DUPLICATE


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.search_similar(),
        lambda c: c.search_similar(article_id="a", article=pb.Article(body="x")),
        lambda c: c.get_cluster(),
        lambda c: c.get_cluster(cluster_id="story-1", article_id="a"),
    ],
    ids=["search-neither", "search-both", "cluster-neither", "cluster-both"],
)
def test_one_of_two_selectors_is_required(client: DedupClient, call: Callable[[DedupClient], Any]) -> None:
    """search_similar and get_cluster need exactly one way of naming what they are about."""
    with pytest.raises(ValueError, match="exactly one"):
        call(client)


def test_get_cluster_by_id_and_by_article(client: DedupClient, seeds: list) -> None:
    """A cluster is found by its id and by the id of one of its articles."""
    result = client.ingest(pb.Article(id="a", body=seeds[0].body))
    by_id = client.get_cluster(cluster_id=result.cluster_id)
    assert by_id == client.get_cluster(article_id="a")
    assert (list(by_id.article_ids), by_id.representative_article_id) == (["a"], "a")


def test_iter_clusters_follows_page_tokens_and_yields_each_cluster_once(
    client: DedupClient, ecbplus: list[dict]
) -> None:
    """Paging through clusters two at a time yields every cluster exactly once, largest first."""
    articles = [pb.Article(id=doc["doc_id"], body=doc["text"]) for doc in ecbplus[:40]]
    client.ingest_batch(articles)
    first_page = client.list_clusters(page_size=2)
    assert len(first_page.clusters) == 2 and first_page.next_page_token
    listed = list(client.iter_clusters(page_size=2))
    cluster_ids = [c.cluster_id for c in listed]
    assert len(cluster_ids) == len(set(cluster_ids)) == client.stats().cluster_count
    assert sorted(i for c in listed for i in c.article_ids) == sorted(a.id for a in articles)
    assert [c.size for c in listed] == sorted((c.size for c in listed), reverse=True)
    assert listed[:2] == list(first_page.clusters)


def test_compare_two_seeds_reports_the_same_story(client: DedupClient, seeds: list) -> None:
    """Two outlets' reports of one story compare as SAME_STORY, sharing salient terms but few shingles."""
    comparison = client.compare(pb.Article(body=seeds[0].body), pb.Article(body=seeds[1].body))
    assert comparison.relation == pb.RELATION_SAME_STORY
    assert "coalition" in comparison.shared_terms
    assert comparison.similarity < 0.5
    assert client.stats().article_count == 0


def test_stats_count_articles_duplicates_and_clusters(client: DedupClient, seeds: list) -> None:
    """Stats count what was stored: articles, exact and near duplicates, clusters."""
    client.ingest_batch(
        [
            pb.Article(id="original", body=seeds[0].body),
            pb.Article(id="copy", body=seeds[0].body),
            pb.Article(id="near", body=edited(seeds[0].body)),
        ]
    )
    stats = client.stats()
    assert (stats.article_count, stats.exact_duplicate_count, stats.near_duplicate_count) == (3, 1, 1)
    assert stats.duplicate_count == 2
    assert stats.parameters.num_perm == 128


def test_health_is_serving(client: DedupClient) -> None:
    """A running server reports SERVING, as a whole and for DedupService."""
    assert client.health() == health_pb2.HealthCheckResponse.SERVING
    assert client.health("newsdedup.v1.DedupService") == health_pb2.HealthCheckResponse.SERVING


def test_closed_client_refuses_calls(grpc_server: NewsdedupServer) -> None:
    """Leaving the with block closes the channel; a later call fails instead of reconnecting."""
    with DedupClient(f"127.0.0.1:{grpc_server.port}") as client:
        assert client.stats().article_count == 0
    with pytest.raises(ValueError):
        client.stats()


def test_unreachable_server_is_unavailable_and_described_by_target(dead_target: str) -> None:
    """A server that cannot be reached fails fast with UNAVAILABLE, described in one line naming the target."""
    with DedupClient(dead_target, timeout=10) as client, pytest.raises(grpc.RpcError) as raised:
        client.stats()
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    message = describe_rpc_error(raised.value, dead_target, 10)
    assert message.startswith(f"cannot reach newsdedup at {dead_target} (UNAVAILABLE)")
    assert "\n" not in message


def test_server_errors_are_described_by_code_and_message(client: DedupClient) -> None:
    """An error the server raised is described as "CODE: message"."""
    with pytest.raises(grpc.RpcError) as raised:
        client.get_cluster(cluster_id="no-such-cluster")
    assert describe_rpc_error(raised.value, client.target, 30) == (
        "NOT_FOUND: no story cluster has id 'no-such-cluster'"
    )


@pytest.mark.parametrize("timeout", [0, -1.0], ids=["zero", "negative"])
def test_timeout_must_be_positive(timeout: float) -> None:
    """A zero timeout would mean "no deadline" to gRPC, so it is refused up front."""
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):
        DedupClient("127.0.0.1:1", timeout=timeout)


# --- deadlines: a server that records the time each call had left


class RecordingServicer(pb_grpc.DedupServiceServicer):
    """Answers every unary RPC with an empty response and records the deadline it saw."""

    def __init__(self) -> None:
        self.remaining: dict[str, float | None] = {}
        for method in pb.DESCRIPTOR.services_by_name["DedupService"].methods:
            response = getattr(pb, method.output_type.name)
            setattr(self, method.name, self._recorder(method.name, response))

    def _recorder(self, name: str, response: type) -> Callable[[Any, grpc.ServicerContext], Any]:
        def handle(request: Any, context: grpc.ServicerContext) -> Any:
            self.remaining[name] = context.time_remaining()
            return response()

        return handle


class RecordingHealth(health.HealthServicer):
    def __init__(self, remaining: dict[str, float | None]) -> None:
        super().__init__()
        self.remaining = remaining

    def Check(self, request: health_pb2.HealthCheckRequest, context: grpc.ServicerContext) -> Any:
        self.remaining["Check"] = context.time_remaining()
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


@pytest.fixture
def recording() -> Iterator[tuple[str, dict[str, float | None]]]:
    servicer = RecordingServicer()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    pb_grpc.add_DedupServiceServicer_to_server(servicer, server)
    health_pb2_grpc.add_HealthServicer_to_server(RecordingHealth(servicer.remaining), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", servicer.remaining
    server.stop(0)


def test_every_call_carries_the_deadline(recording: tuple[str, dict[str, float | None]]) -> None:
    """Each client method sends its RPC with a deadline of `timeout` seconds."""
    target, remaining = recording
    article = pb.Article(id="a", body="text")
    with DedupClient(target, timeout=7.5) as client:
        client.ingest(article)
        client.ingest_batch([article])
        client.check(article)
        client.get_article("a")
        client.delete_article("a")
        client.search_similar(article_id="a")
        client.get_cluster(cluster_id="c")
        client.list_clusters()
        list(client.iter_clusters())
        client.compare(article, article)
        client.stats()
        client.health()
    assert set(remaining) == {
        "IngestArticle",
        "BatchIngestArticles",
        "CheckArticle",
        "GetArticle",
        "DeleteArticle",
        "SearchSimilarArticles",
        "GetCluster",
        "ListClusters",
        "CompareArticles",
        "GetStats",
        "Check",
    }
    # The wire format rounds a timeout up to a coarser unit, so the server may see a little more than 7.5 s.
    assert all(seconds is not None and 7.0 < seconds < 7.6 for seconds in remaining.values()), remaining
