"""Conversions between newsdedup.v1 messages and the core's `models` values.

Checks that only make sense on the wire (a timestamp out of range, an enum
number this server does not know) are made here and raise InvalidArgument.
"""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2

from newsdedup.errors import InvalidArgument, NewsdedupError
from newsdedup.models import (
    ArticleInput,
    ArticleResult,
    ClusterOrder,
    ClusterView,
    Comparison,
    IndexParameters,
    Match,
    Stats,
    StoredArticle,
    TierParameters,
)
from newsdedup.v1 import dedup_service_pb2 as pb

from .errors import to_status

# google.protobuf.Timestamp's valid range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
_MIN_SECONDS = -62_135_596_800
_MAX_SECONDS = 253_402_300_799


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(moment)
    return message


def _published_at(article: pb.Article) -> datetime | None:
    if not article.HasField("published_at"):
        return None
    value = article.published_at
    if not (_MIN_SECONDS <= value.seconds <= _MAX_SECONDS and 0 <= value.nanos <= 999_999_999):
        raise InvalidArgument(
            f"article {article.id!r}: published_at (seconds={value.seconds}, nanos={value.nanos}) is not a valid "
            f"timestamp; seconds must be in {_MIN_SECONDS}..{_MAX_SECONDS} and nanos in 0..999999999",
            reason="INVALID_TIMESTAMP",
            metadata={"article_id": article.id},
        )
    return value.ToDatetime(tzinfo=UTC)


def article_input(article: pb.Article) -> ArticleInput:
    return ArticleInput(
        id=article.id,
        title=article.title,
        body=article.body,
        url=article.url,
        source=article.source,
        published_at=_published_at(article),
        language=article.language,
    )


def cluster_order(value: int) -> ClusterOrder:
    try:
        return ClusterOrder(value)
    except ValueError:
        known = ", ".join(f"{o.value} ({'CLUSTER_ORDER_' + o.name})" for o in ClusterOrder)
        raise InvalidArgument(
            f"order_by {value} is not a known ClusterOrder; use one of {known}",
            reason="UNKNOWN_ENUM_VALUE",
            metadata={"field": "order_by", "value": str(value)},
        ) from None


def match(value: Match) -> pb.Match:
    return pb.Match(
        article_id=value.article_id,
        similarity=value.similarity,
        relation=int(value.relation),  # type: ignore[arg-type]
        cluster_id=value.cluster_id,
        shared_shingles=value.shared_shingles,
        shared_terms=value.shared_terms,
    )


def article_result(value: ArticleResult | NewsdedupError, article_id: str = "") -> pb.ArticleResult:
    """A result message; a rejected article gets its error status and its id."""
    if isinstance(value, NewsdedupError):
        return pb.ArticleResult(article_id=article_id, error=to_status(value))
    return pb.ArticleResult(
        article_id=value.article_id,
        verdict=int(value.verdict),  # type: ignore[arg-type]
        duplicate_of=value.duplicate_of,
        matches=[match(m) for m in value.matches],
        cluster_id=value.cluster_id,
        cluster_size=value.cluster_size,
        already_ingested=value.already_ingested,
    )


def stored_article(value: StoredArticle) -> pb.StoredArticle:
    return pb.StoredArticle(
        id=value.id,
        title=value.title,
        url=value.url,
        source=value.source,
        published_at=timestamp(value.published_at),
        ingested_at=timestamp(value.ingested_at),
        verdict=int(value.verdict),  # type: ignore[arg-type]
        duplicate_of=value.duplicate_of,
        cluster_id=value.cluster_id,
        content_hash=value.content_hash,
        language=value.language,
    )


def cluster(value: ClusterView) -> pb.Cluster:
    return pb.Cluster(
        cluster_id=value.cluster_id,
        size=value.size,
        article_ids=value.article_ids,
        representative_article_id=value.representative_article_id,
        title=value.title,
        first_published_at=timestamp(value.first_published_at),
        last_published_at=timestamp(value.last_published_at),
        merged_cluster_ids=value.merged_cluster_ids,
        updated_at=timestamp(value.updated_at),
    )


def comparison(value: Comparison) -> pb.CompareArticlesResponse:
    return pb.CompareArticlesResponse(
        similarity=value.similarity,
        exact_similarity=value.exact_similarity,
        story_similarity=value.story_similarity,
        relation=int(value.relation),  # type: ignore[arg-type]
        shared_shingles=value.shared_shingles,
        shared_terms=value.shared_terms,
        first_shingle_count=value.first_shingle_count,
        second_shingle_count=value.second_shingle_count,
    )


def _tier(value: TierParameters) -> pb.TierParameters:
    return pb.TierParameters(threshold=value.threshold, bands=value.bands, rows=value.rows)


def _parameters(value: IndexParameters) -> pb.IndexParameters:
    return pb.IndexParameters(
        shingle_size=value.shingle_size,
        num_perm=value.num_perm,
        scheme=value.scheme,
        seed=value.seed,
        near_duplicate=_tier(value.near_duplicate),
        story=_tier(value.story),
        salient_terms=value.salient_terms,
        story_num_perm=value.story_num_perm,
    )


def stats(value: Stats) -> pb.GetStatsResponse:
    return pb.GetStatsResponse(
        article_count=value.article_count,
        cluster_count=value.cluster_count,
        duplicate_count=value.duplicate_count,
        exact_duplicate_count=value.exact_duplicate_count,
        near_duplicate_count=value.near_duplicate_count,
        parameters=_parameters(value.parameters),
        multi_article_cluster_count=value.multi_article_cluster_count,
    )
