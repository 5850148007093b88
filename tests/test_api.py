"""The gRPC API against a real server on a free port: every RPC, its errors, health and reflection."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import descriptor_pb2
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from newsdedup.api.server import SERVICE_NAME
from newsdedup.v1 import dedup_service_pb2 as pb

from .articles import edited_copy, invented_words, story_text


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    """The ErrorInfo detail of a failed call."""
    status = rpc_status.from_call(error)
    assert status is not None, "the error carries no google.rpc.Status"
    info = error_details_pb2.ErrorInfo()
    assert status.details and status.details[0].Unpack(info)
    return info


def ingest(stub, article_id: str, body: str, **fields) -> pb.ArticleResult:
    return stub.IngestArticle(pb.IngestArticleRequest(article=pb.Article(id=article_id, body=body, **fields))).result


def test_ingest_reports_verdicts_and_clusters(stub, seeds) -> None:
    """Ingest over gRPC: unique first, then exact and near duplicates pointing at it, in its cluster."""
    first = ingest(stub, "original", seeds[0].body, source="Outlet A", url="https://a.example/1")
    assert (first.verdict, first.cluster_size) == (pb.VERDICT_UNIQUE, 1)
    copy = ingest(stub, "copy", seeds[0].body)
    assert (copy.verdict, copy.duplicate_of, copy.cluster_id) == (
        pb.VERDICT_EXACT_DUPLICATE,
        "original",
        first.cluster_id,
    )
    assert copy.matches[0].relation == pb.RELATION_EXACT_DUPLICATE and copy.matches[0].similarity == 1.0
    title, body = edited_copy(seeds[0].body)
    near = ingest(stub, "rewrite", body, title=title)
    assert (near.verdict, near.duplicate_of) == (pb.VERDICT_NEAR_DUPLICATE, "original")
    assert near.cluster_size == 3


def test_seeds_form_one_cluster_through_the_api(stub, seeds, ecbplus) -> None:
    """The five seed outlets form one story; ECB+ articles about other events stay out of it."""
    others = [doc for doc in ecbplus if doc["topic"] in (4, 8, 12, 16, 20)][:15]
    articles = [pb.Article(id=doc["doc_id"], body=doc["text"]) for doc in others[:8]]
    articles += [pb.Article(id=seed.id, body=seed.body) for seed in seeds]
    articles += [pb.Article(id=doc["doc_id"], body=doc["text"]) for doc in others[8:]]
    results = stub.BatchIngestArticles(pb.BatchIngestArticlesRequest(articles=articles)).results
    assert [r.article_id for r in results] == [a.id for a in articles]
    cluster = stub.GetCluster(pb.GetClusterRequest(article_id=seeds[0].id)).cluster
    assert sorted(cluster.article_ids) == sorted(seed.id for seed in seeds)
    assert cluster.size == 5


def test_idempotent_reingest_and_conflict(stub, seeds) -> None:
    """The same id and text is acknowledged again; other text under the id is ALREADY_EXISTS."""
    ingest(stub, "a", seeds[0].body)
    again = ingest(stub, "a", seeds[0].body)
    assert again.already_ingested and again.verdict == pb.VERDICT_UNIQUE
    with pytest.raises(grpc.RpcError) as raised:
        ingest(stub, "a", seeds[1].body)
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_info(raised.value).reason == "ARTICLE_ID_CONFLICT"
    assert stub.GetStats(pb.GetStatsRequest()).article_count == 1


@pytest.mark.parametrize(
    ("article", "reason", "words"),
    [
        (pb.Article(id="", body="words here"), "MISSING_ID", "required"),
        (pb.Article(id="x", body="  \n\t "), "NO_USABLE_TEXT", "no words"),
        (pb.Article(id="x", body="y " * 600_000), "TEXT_TOO_LARGE", "limit is 1000000 bytes"),
        (pb.Article(id="i" * 600, body="words here"), "ID_TOO_LONG", "limit is 512"),
    ],
    ids=["missing-id", "whitespace-only", "too-large", "id-too-long"],
)
def test_bad_articles_are_invalid_argument_with_a_reason(stub, article, reason, words) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stub.IngestArticle(pb.IngestArticleRequest(article=article))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in raised.value.details()
    info = error_info(raised.value)
    assert (info.reason, info.domain) == (reason, "newsdedup")
    assert stub.GetStats(pb.GetStatsRequest()).article_count == 0


def test_invalid_timestamp_is_invalid_argument(stub) -> None:
    article = pb.Article(id="t", body="some words")
    article.published_at.seconds = 300_000_000_000
    with pytest.raises(grpc.RpcError) as raised:
        stub.IngestArticle(pb.IngestArticleRequest(article=article))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).reason == "INVALID_TIMESTAMP"


def test_message_over_the_grpc_limit_is_refused_and_the_server_keeps_serving(stub) -> None:
    huge = pb.Article(id="huge", body="x" * (65 * 1024 * 1024))
    with pytest.raises(grpc.RpcError) as raised:
        stub.IngestArticle(pb.IngestArticleRequest(article=huge))
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    after = "The server refused one oversized message and went on serving every later call as before. " * 2
    assert ingest(stub, "small", after).verdict == pb.VERDICT_UNIQUE


def test_batch_reports_each_bad_article_in_place(stub, seeds) -> None:
    """One rejected article in a batch gets its status; the others are stored."""
    bad_time = pb.Article(id="bad-time", body="words")
    bad_time.published_at.nanos = -5
    request = pb.BatchIngestArticlesRequest(
        articles=[
            pb.Article(id="a", body=seeds[0].body),
            pb.Article(id="", body="x"),
            bad_time,
            pb.Article(id="b", body=seeds[0].body),
        ]
    )
    results = stub.BatchIngestArticles(request).results
    assert [r.article_id for r in results] == ["a", "", "bad-time", "b"]
    assert results[0].verdict == pb.VERDICT_UNIQUE and not results[0].HasField("error")
    assert results[1].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert (
        results[2].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        and "published_at" in results[2].error.message
    )
    assert (results[3].verdict, results[3].duplicate_of) == (pb.VERDICT_EXACT_DUPLICATE, "a")
    assert stub.GetStats(pb.GetStatsRequest()).article_count == 2


def test_batch_over_the_limit_is_refused_whole(stub) -> None:
    articles = [pb.Article(id=f"a{i}", body="words") for i in range(1001)]
    with pytest.raises(grpc.RpcError) as raised:
        stub.BatchIngestArticles(pb.BatchIngestArticlesRequest(articles=articles))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).reason == "BATCH_TOO_LARGE"
    assert stub.GetStats(pb.GetStatsRequest()).article_count == 0


def test_stream_answers_every_article_in_order(stub, seeds) -> None:
    """The bidi stream returns one result per article, in order, errors in place, and keeps going."""
    articles = [pb.Article(id=seed.id, body=seed.body) for seed in seeds]
    articles.insert(2, pb.Article(id="", body="no id"))
    articles.append(pb.Article(id="copy", body=seeds[0].body))
    responses = list(stub.StreamIngestArticles(pb.StreamIngestArticlesRequest(article=a) for a in articles))
    assert [r.result.article_id for r in responses] == [a.id for a in articles]
    assert responses[2].result.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert responses[-1].result.duplicate_of == seeds[0].id
    assert stub.GetStats(pb.GetStatsRequest()).article_count == 6


def test_check_stores_nothing(stub, seeds) -> None:
    ingest(stub, "stored", seeds[1].body)
    result = stub.CheckArticle(pb.CheckArticleRequest(article=pb.Article(id="probe", body=seeds[1].body))).result
    assert (result.verdict, result.duplicate_of) == (pb.VERDICT_EXACT_DUPLICATE, "stored")
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetArticle(pb.GetArticleRequest(article_id="probe"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_info(raised.value).reason == "ARTICLE_NOT_FOUND"


def test_get_article_returns_the_stored_record(stub, seeds) -> None:
    article = pb.Article(
        id="a", title="Headline", body=seeds[0].body, url="https://a.example", source="A", language="en"
    )
    article.published_at.FromJsonString("2026-02-22T10:00:00Z")
    stub.IngestArticle(pb.IngestArticleRequest(article=article))
    ingest(stub, "b", seeds[0].body)
    stored = stub.GetArticle(pb.GetArticleRequest(article_id="b")).article
    assert (stored.verdict, stored.duplicate_of) == (pb.VERDICT_NEAR_DUPLICATE, "a")
    first = stub.GetArticle(pb.GetArticleRequest(article_id="a")).article
    assert (first.title, first.url, first.source, first.language) == ("Headline", "https://a.example", "A", "en")
    assert first.published_at.ToJsonString() == "2026-02-22T10:00:00Z"
    assert first.ingested_at.seconds > first.published_at.seconds
    assert len(first.content_hash) == 16
    # "b" is published now, months later: a duplicate of "a", but its story window has closed.
    assert first.cluster_id != stored.cluster_id
    assert list(stub.GetCluster(pb.GetClusterRequest(cluster_id=first.cluster_id)).cluster.article_ids) == ["a"]


def test_delete_keeps_groups_and_clusters_consistent(stub, seeds) -> None:
    ingest(stub, "original", seeds[0].body)
    ingest(stub, "copy", seeds[0].body)
    stub.DeleteArticle(pb.DeleteArticleRequest(article_id="original"))
    copy = stub.GetArticle(pb.GetArticleRequest(article_id="copy")).article
    assert (copy.verdict, copy.duplicate_of) == (pb.VERDICT_UNIQUE, "")
    assert list(stub.GetCluster(pb.GetClusterRequest(cluster_id=copy.cluster_id)).cluster.article_ids) == ["copy"]
    with pytest.raises(grpc.RpcError) as raised:
        stub.DeleteArticle(pb.DeleteArticleRequest(article_id="original"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_search_by_id_and_by_text(stub, seeds) -> None:
    for seed in seeds:
        ingest(stub, seed.id, seed.body)
    by_id = stub.SearchSimilarArticles(pb.SearchSimilarArticlesRequest(article_id=seeds[0].id, max_results=3)).matches
    assert 0 < len(by_id) <= 3 and seeds[0].id not in [m.article_id for m in by_id]
    assert all(m.relation == pb.RELATION_SAME_STORY for m in by_id)
    assert all("coalition" in m.shared_terms for m in by_id)  # the explanation travels over the wire
    by_text = stub.SearchSimilarArticles(
        pb.SearchSimilarArticlesRequest(article=pb.Article(body=seeds[2].body), min_similarity=0.9)
    ).matches
    assert [(m.article_id, m.similarity) for m in by_text] == [(seeds[2].id, 1.0)]
    assert len(by_text[0].shared_shingles) == 20
    with pytest.raises(grpc.RpcError) as raised:
        stub.SearchSimilarArticles(pb.SearchSimilarArticlesRequest(article_id=seeds[0].id, min_similarity=2.0))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_merged_cluster_id_keeps_resolving(stub) -> None:
    """After a bridging article merges two stories, GetCluster by the old id returns the merged cluster."""
    alpha, beta = invented_words(1, 20), invented_words(2, 20)
    older = ingest(stub, "alpha", story_text(alpha, 1)).cluster_id
    newer = ingest(stub, "beta", story_text(beta, 2)).cluster_id
    bridge = ingest(stub, "bridge", story_text(alpha + beta, 3, length=240))
    assert bridge.cluster_id == older
    merged = stub.GetCluster(pb.GetClusterRequest(cluster_id=newer)).cluster
    assert merged.cluster_id == older and list(merged.merged_cluster_ids) == [newer]
    assert merged.first_published_at.seconds <= merged.last_published_at.seconds
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetCluster(pb.GetClusterRequest(cluster_id="story-999"))
    assert (raised.value.code(), error_info(raised.value).reason) == (grpc.StatusCode.NOT_FOUND, "CLUSTER_NOT_FOUND")


def test_list_clusters_pages_and_rejects_bad_tokens(stub) -> None:
    for i in range(5):
        ingest(stub, f"s{i}", story_text(invented_words(50 + i, 20), i))
    first = stub.ListClusters(pb.ListClustersRequest(page_size=2, order_by=pb.CLUSTER_ORDER_RECENTLY_UPDATED))
    assert len(first.clusters) == 2 and first.next_page_token
    rest = stub.ListClusters(
        pb.ListClustersRequest(
            page_size=10, page_token=first.next_page_token, order_by=pb.CLUSTER_ORDER_RECENTLY_UPDATED
        )
    )
    ids = [c.cluster_id for c in first.clusters] + [c.cluster_id for c in rest.clusters]
    assert len(set(ids)) == 5 and rest.next_page_token == ""
    for token in ("garbage", first.next_page_token[:-3]):
        with pytest.raises(grpc.RpcError) as raised:
            stub.ListClusters(pb.ListClustersRequest(page_token=token, order_by=pb.CLUSTER_ORDER_RECENTLY_UPDATED))
        assert (raised.value.code(), error_info(raised.value).reason) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_PAGE_TOKEN",
        )
    with pytest.raises(grpc.RpcError) as raised:
        stub.ListClusters(pb.ListClustersRequest(order_by=42))  # type: ignore[arg-type]
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "42" in raised.value.details()


def test_compare_explains_the_score(stub, seeds) -> None:
    response = stub.CompareArticles(
        pb.CompareArticlesRequest(first=pb.Article(body=seeds[0].body), second=pb.Article(body=seeds[3].body))
    )
    assert response.relation == pb.RELATION_SAME_STORY
    assert response.exact_similarity < 0.1 and response.story_similarity >= 0.2
    assert "ukraine" in response.shared_terms
    assert response.first_shingle_count > 0 and response.second_shingle_count > 0


def test_stats_report_counts_and_parameters(stub, seeds) -> None:
    ingest(stub, "a", seeds[0].body)
    ingest(stub, "b", seeds[0].body)
    stats = stub.GetStats(pb.GetStatsRequest())
    assert (stats.article_count, stats.cluster_count, stats.duplicate_count, stats.exact_duplicate_count) == (
        2,
        1,
        1,
        1,
    )
    near = stats.parameters.near_duplicate
    assert (stats.parameters.num_perm, stats.parameters.shingle_size) == (128, 3)
    assert stats.parameters.scheme == "oph-binfill32"
    assert stats.parameters.story_num_perm == 32 and stats.parameters.story.rows == 1
    assert near.threshold == 0.5 and near.bands * near.rows <= 128 and near.rows >= 2


def test_health_and_reflection(channel) -> None:
    """The standard health service says SERVING; reflection describes DedupService."""
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", SERVICE_NAME):
        assert (
            health.Check(health_pb2.HealthCheckRequest(service=service)).status
            == health_pb2.HealthCheckResponse.SERVING
        )
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE_NAME),
    ]
    listing, files = list(reflection.ServerReflectionInfo(iter(requests)))
    assert SERVICE_NAME in [s.name for s in listing.list_services_response.service]
    descriptor = descriptor_pb2.FileDescriptorProto.FromString(files.file_descriptor_response.file_descriptor_proto[0])
    assert "CompareArticles" in [m.name for m in descriptor.service[0].method]
