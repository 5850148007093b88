"""Bad input at the gRPC edge: any request gets OK or a documented status with a reason, and the server goes on.

The documented statuses are the README's error table: INVALID_ARGUMENT,
NOT_FOUND, ALREADY_EXISTS and RESOURCE_EXHAUSTED, each with a
google.rpc.ErrorInfo whose domain is "newsdedup". INTERNAL or UNKNOWN would
mean the server failed, not the request.
"""

from __future__ import annotations

import itertools

import grpc
import pytest
from google.protobuf import timestamp_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from newsdedup.api.server import SERVICE_NAME
from newsdedup.v1 import dedup_service_pb2 as pb

from .strategies import any_character, unicode_text, word_text
from .test_api import error_info

DOCUMENTED = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
# Property tests share one in-process server across examples; it only grows by a few hundred articles.
EDGE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
GOOD_TEXT = "The harbour council approved the new budget for the district on Tuesday after a long debate."
INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)

# --- strategies: what a careless or hostile client can put in an Article

_whitespace = st.text(st.sampled_from(" \t\n\r\x0b\x0c\u00a0\u2028\u3000"), max_size=20)
_control_text = st.text(st.characters(categories=("Cc", "Cf")), max_size=30)
texts = st.one_of(st.just(""), _whitespace, _control_text, unicode_text, word_text(max_words=40))
ids = st.one_of(
    st.text(any_character, max_size=24),
    st.text(st.characters(categories=("Cc",)), min_size=1, max_size=4),
    st.text(any_character, min_size=500, max_size=700),  # around the 512-character limit
    st.text("abcdefghij-0123456789", min_size=1, max_size=16),  # plausible ids, so that some ingests succeed
)


@st.composite
def timestamps(draw: st.DrawFn) -> timestamp_pb2.Timestamp:
    """In range or far out of it (seconds beyond year 9999, negative or overlong nanos)."""
    seconds = draw(st.one_of(st.integers(0, 2_000_000_000), INT64))
    nanos = draw(st.one_of(st.integers(0, 999_999_999), st.integers(-(2**31), 2**31 - 1)))
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


@st.composite
def articles(draw: st.DrawFn) -> pb.Article:
    article = pb.Article(
        id=draw(ids),
        title=draw(texts),
        body=draw(texts),
        url=draw(st.one_of(st.just(""), unicode_text)),
        source=draw(st.one_of(st.just(""), unicode_text, st.sampled_from(["Reuters", "AP"]))),
        language=draw(st.one_of(st.just(""), st.sampled_from(["en", "zh-Hant", "xx-INVALID", "EN"]), unicode_text)),
    )
    if draw(st.booleans()):
        article.published_at.CopyFrom(draw(timestamps()))
    return article


# --- helpers


def outcome(call, request) -> grpc.StatusCode:
    """OK, or a documented status with a newsdedup ErrorInfo; anything else fails the test."""
    try:
        call(request, timeout=30)
    except grpc.RpcError as error:
        assert error.code() in DOCUMENTED, f"{error.code()}: {error.details()}"
        info = error_info(error)
        assert info.domain == "newsdedup" and info.reason, info
        assert error.details(), "an error must say what was wrong"
        return error.code()
    return grpc.StatusCode.OK


_fresh_ids = (f"after-{i}" for i in itertools.count())


def assert_still_serving(channel: grpc.Channel, stub) -> None:
    """Health says SERVING and an ordinary article is ingested."""
    health = health_pb2_grpc.HealthStub(channel)
    assert health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME)).status == (
        health_pb2.HealthCheckResponse.SERVING
    )
    result = stub.IngestArticle(pb.IngestArticleRequest(article=pb.Article(id=next(_fresh_ids), body=GOOD_TEXT)))
    assert result.result.verdict in (pb.VERDICT_UNIQUE, pb.VERDICT_EXACT_DUPLICATE)


# --- property tests


@EDGE
@given(article=articles())
def test_any_article_gets_ok_or_a_documented_status(channel, stub, article: pb.Article) -> None:
    """Ingest, check, compare and search with an arbitrary Article never fail inside the server."""
    codes = [
        outcome(stub.IngestArticle, pb.IngestArticleRequest(article=article)),
        outcome(stub.CheckArticle, pb.CheckArticleRequest(article=article)),
        outcome(stub.CompareArticles, pb.CompareArticlesRequest(first=article, second=pb.Article(body=GOOD_TEXT))),
        outcome(stub.CompareArticles, pb.CompareArticlesRequest(first=article, second=article)),
        outcome(stub.SearchSimilarArticles, pb.SearchSimilarArticlesRequest(article=article)),
    ]
    if codes[0] == grpc.StatusCode.OK:  # acknowledged, so stored under its id
        assert stub.GetArticle(pb.GetArticleRequest(article_id=article.id)).article.id == article.id
    if any(code != grpc.StatusCode.OK for code in codes):
        assert_still_serving(channel, stub)


@EDGE
@given(batch=st.lists(articles(), max_size=6))
def test_any_batch_gets_a_result_or_an_error_per_article(channel, stub, batch: list[pb.Article]) -> None:
    """A batch of arbitrary articles answers OK, one result per article in order, errors in place."""
    results = stub.BatchIngestArticles(pb.BatchIngestArticlesRequest(articles=batch), timeout=30).results
    assert [r.article_id for r in results] == [a.id for a in batch]
    for result in results:
        if result.HasField("error"):
            assert result.error.code in {code.value[0] for code in DOCUMENTED}, result.error
            assert result.error.message and result.error.details
        else:
            assert result.verdict != pb.VERDICT_UNSPECIFIED
    assert_still_serving(channel, stub)


@EDGE
@given(
    article_id=ids,
    cluster_id=st.one_of(ids, st.just("story-1")),
    max_results=INT32,
    min_similarity=st.floats(allow_nan=True, allow_infinity=True),
    page_size=INT32,
    page_token=st.one_of(st.just(""), unicode_text),
    min_size=INT32,
    order_by=st.one_of(st.sampled_from([0, 1, 2]), INT32),
)
def test_any_lookup_or_listing_gets_ok_or_a_documented_status(
    channel, stub, article_id, cluster_id, max_results, min_similarity, page_size, page_token, min_size, order_by
) -> None:
    """Get, delete, search by id, GetCluster and ListClusters with arbitrary numbers and strings."""
    stub.IngestArticle(pb.IngestArticleRequest(article=pb.Article(id="known", body=GOOD_TEXT)))
    requests = [
        (stub.GetArticle, pb.GetArticleRequest(article_id=article_id)),
        (
            stub.SearchSimilarArticles,
            pb.SearchSimilarArticlesRequest(
                article_id=article_id, max_results=max_results, min_similarity=min_similarity
            ),
        ),
        (
            stub.SearchSimilarArticles,
            pb.SearchSimilarArticlesRequest(article_id="known", max_results=max_results, min_similarity=min_similarity),
        ),
        (stub.GetCluster, pb.GetClusterRequest(cluster_id=cluster_id)),
        (stub.GetCluster, pb.GetClusterRequest(article_id=article_id)),
        (
            stub.ListClusters,
            pb.ListClustersRequest(page_size=page_size, page_token=page_token, min_size=min_size, order_by=order_by),
        ),
        (stub.DeleteArticle, pb.DeleteArticleRequest(article_id=article_id)),
    ]
    codes = [outcome(call, request) for call, request in requests]
    if any(code != grpc.StatusCode.OK for code in codes):
        assert_still_serving(channel, stub)


# --- unknown enum values


@pytest.mark.parametrize("value", [3, 99, -1, 2**31 - 1], ids=["next", "99", "negative", "int32-max"])
def test_unknown_cluster_order_is_invalid_argument_naming_the_field(channel, stub, value: int) -> None:
    """proto3 enums are open, so any int32 arrives; one this server does not know is refused by name."""
    with pytest.raises(grpc.RpcError) as raised:
        stub.ListClusters(pb.ListClustersRequest(order_by=value))  # type: ignore[arg-type]
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"order_by {value} is not a known ClusterOrder" in raised.value.details()
    assert "CLUSTER_ORDER_LARGEST" in raised.value.details()
    info = error_info(raised.value)
    assert (info.reason, dict(info.metadata)) == ("UNKNOWN_ENUM_VALUE", {"field": "order_by", "value": str(value)})
    assert_still_serving(channel, stub)


def test_no_request_carries_another_enum() -> None:
    """order_by is the only enum a request holds (Verdict and Relation are only ever answered)."""
    enum_fields = []
    for message in pb.DESCRIPTOR.message_types_by_name.values():
        if message.name.endswith("Request"):
            enum_fields += [f"{message.name}.{f.name}" for f in message.fields if f.enum_type is not None]
    assert enum_fields == ["ListClustersRequest.order_by"]


# --- requests that are not valid protobuf


def _raw_ingest(article_id: bytes, body: bytes = b"The council met on Tuesday evening.") -> bytes:
    """An IngestArticleRequest encoded by hand, so that its strings can hold any bytes."""
    article = b"\x0a" + bytes([len(article_id)]) + article_id + b"\x1a" + bytes([len(body)]) + body
    return b"\x0a" + bytes([len(article)]) + article


BAD_WIRE = [
    ("IngestArticle", _raw_ingest(b"id-\xff\xfe"), "UTF-8"),
    ("IngestArticle", _raw_ingest(b"ok-id", b"caf\xc3 overlong \xc0\xaf and lone surrogate \xed\xa0\x80"), "UTF-8"),
    ("CheckArticle", _raw_ingest(b"\x80"), "UTF-8"),
    ("GetArticle", b"\x0a\x02\xc3\x28", "UTF-8"),
    ("ListClusters", b"\x12\x03\xe2\x82\x28", "UTF-8"),  # page_token
    ("IngestArticle", _raw_ingest(b"ok-id")[:-5], "newsdedup.v1.IngestArticleRequest"),  # truncated
    ("GetStats", b"\x0f", "newsdedup.v1.GetStatsRequest"),  # a field number of 1 with wire type 7
]


@pytest.mark.parametrize(
    ("method", "data", "words"),
    BAD_WIRE,
    ids=["id", "body", "check", "get", "page-token", "truncated", "bad-wire-type"],
)
def test_undecodable_request_is_invalid_argument_not_internal(channel, stub, method, data, words) -> None:
    """Bytes that are not the request message get INVALID_ARGUMENT (MALFORMED_REQUEST), and nothing is stored."""
    call = channel.unary_unary(f"/{SERVICE_NAME}/{method}")  # no serializers: the bytes go as they are
    with pytest.raises(grpc.RpcError) as raised:
        call(data, timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raised.value.details()
    assert "is not a valid" in raised.value.details() and words in raised.value.details()
    info = error_info(raised.value)
    assert (info.reason, info.domain) == ("MALFORMED_REQUEST", "newsdedup")
    assert info.metadata["message_type"].startswith("newsdedup.v1.")
    assert stub.GetStats(pb.GetStatsRequest()).article_count == 0
    assert_still_serving(channel, stub)


def test_well_formed_raw_request_is_served(stub, channel) -> None:
    """The hand encoding above is right: with valid UTF-8 the same bytes are an ordinary ingest."""
    call = channel.unary_unary(f"/{SERVICE_NAME}/IngestArticle")
    data = _raw_ingest(b"raw", GOOD_TEXT.encode())
    response = pb.IngestArticleResponse.FromString(call(data, timeout=10))
    assert (response.result.article_id, response.result.verdict) == ("raw", pb.VERDICT_UNIQUE)


def test_undecodable_message_ends_a_stream_after_the_results_before_it(channel, stub, seeds) -> None:
    """In StreamIngestArticles, results sent before a bad message stand; the stream ends INVALID_ARGUMENT."""
    good = [
        pb.StreamIngestArticlesRequest(article=pb.Article(id=seed.id, body=seed.body)).SerializeToString()
        for seed in seeds[:2]
    ]
    stream = channel.stream_stream(f"/{SERVICE_NAME}/StreamIngestArticles")
    responses = stream(iter([good[0], _raw_ingest(b"\xff"), good[1]]), timeout=10)
    first = pb.StreamIngestArticlesResponse.FromString(next(responses))
    assert (first.result.article_id, first.result.HasField("error")) == (seeds[0].id, False)
    with pytest.raises(grpc.RpcError) as raised:
        next(responses)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "UTF-8" in raised.value.details()
    assert error_info(raised.value).reason == "MALFORMED_REQUEST"
    assert stub.GetArticle(pb.GetArticleRequest(article_id=seeds[0].id)).article.id == seeds[0].id
    assert_still_serving(channel, stub)


# --- control characters in the text


WORDS = GOOD_TEXT.rstrip(".").split()


@pytest.mark.parametrize(
    "separator",
    ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\r\n", "\x0c", "\x00\x01\x02"],
    ids=["nul", "bel", "escape", "del", "nel", "crlf", "form-feed", "run"],
)
def test_control_characters_in_text_separate_words_like_spaces(stub, separator: str) -> None:
    """Title and body may hold control characters (C0, DEL, C1): they are accepted and split words as a space does.

    Unlike the CLI, which refuses them in input files (there they mean a file
    that is not text), the API takes text as sent: a scraped page often holds
    stray controls, and refusing it would lose the article.
    """
    stub.IngestArticle(pb.IngestArticleRequest(article=pb.Article(id="spaced", body=" ".join(WORDS))))
    body = separator.join(WORDS)
    result = stub.IngestArticle(
        pb.IngestArticleRequest(article=pb.Article(id="controls", title=separator, body=body))
    ).result
    assert (result.verdict, result.duplicate_of) == (pb.VERDICT_EXACT_DUPLICATE, "spaced")
    assert stub.GetArticle(pb.GetArticleRequest(article_id="controls")).article.title == separator


def test_text_of_only_control_characters_has_no_usable_text(stub) -> None:
    """Controls alone are no words: INVALID_ARGUMENT with NO_USABLE_TEXT, as whitespace-only text is."""
    with pytest.raises(grpc.RpcError) as raised:
        stub.IngestArticle(pb.IngestArticleRequest(article=pb.Article(id="c", title="\x00\x1b", body="\x01\x7f\x85")))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "has no words" in raised.value.details()
    assert error_info(raised.value).reason == "NO_USABLE_TEXT"


def test_control_character_in_an_id_is_refused(stub) -> None:
    """An id is a key, printed in logs and CLI output: a control character in it is INVALID_ID."""
    with pytest.raises(grpc.RpcError) as raised:
        stub.IngestArticle(pb.IngestArticleRequest(article=pb.Article(id="bad\x1b[2Jid", body=GOOD_TEXT)))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "control characters" in raised.value.details()
    assert error_info(raised.value).reason == "INVALID_ID"
