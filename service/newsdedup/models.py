"""The values the engine takes and returns: plain dataclasses, no gRPC.

The enums mirror the proto enums number for number, so the gRPC edge converts
them with a plain int().
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Verdict(enum.IntEnum):
    """Whether an article's text was seen before (mirrors newsdedup.v1.Verdict)."""

    UNSPECIFIED = 0
    UNIQUE = 1
    NEAR_DUPLICATE = 2
    EXACT_DUPLICATE = 3
    LOW_CONTENT = 4


class Relation(enum.IntEnum):
    """How a matching article relates to the one in question (mirrors newsdedup.v1.Relation)."""

    UNSPECIFIED = 0
    EXACT_DUPLICATE = 1
    NEAR_DUPLICATE = 2
    SAME_STORY = 3


class ClusterOrder(enum.IntEnum):
    """The order of ListClusters (mirrors newsdedup.v1.ClusterOrder)."""

    UNSPECIFIED = 0
    LARGEST = 1
    RECENTLY_UPDATED = 2


@dataclass(frozen=True)
class ArticleInput:
    """An article as a caller sent it. `published_at` is None when the caller did not say."""

    id: str
    title: str = ""
    body: str = ""
    url: str = ""
    source: str = ""
    published_at: datetime | None = None
    language: str = ""


@dataclass(frozen=True)
class Match:
    """A stored article that matches the article in question.

    Search results also say why (`explanations`): the shared shingles and the
    most telling shared salient terms. Ingest and check leave them empty.
    """

    article_id: str
    similarity: float
    relation: Relation
    cluster_id: str
    shared_shingles: tuple[str, ...] = ()
    shared_terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class ArticleResult:
    """What the service says about one article."""

    article_id: str
    verdict: Verdict
    duplicate_of: str
    matches: list[Match]
    cluster_id: str
    cluster_size: int
    already_ingested: bool = False


@dataclass(frozen=True)
class StoredArticle:
    """A stored article's metadata and current standing."""

    id: str
    title: str
    url: str
    source: str
    language: str
    published_at: datetime
    ingested_at: datetime
    verdict: Verdict
    duplicate_of: str
    cluster_id: str
    content_hash: str


@dataclass(frozen=True)
class ClusterView:
    """A story cluster as GetCluster and ListClusters report it."""

    cluster_id: str
    size: int
    article_ids: list[str]
    representative_article_id: str
    title: str
    first_published_at: datetime
    last_published_at: datetime
    updated_at: datetime
    merged_cluster_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ClusterPage:
    """One page of ListClusters; `next_page_token` is empty on the last page."""

    clusters: list[ClusterView]
    next_page_token: str


@dataclass(frozen=True)
class Comparison:
    """CompareArticles: the scores of two texts and the evidence behind them."""

    similarity: float
    exact_similarity: float
    story_similarity: float
    relation: Relation
    shared_shingles: list[str]
    shared_terms: list[str]
    first_shingle_count: int
    second_shingle_count: int


@dataclass(frozen=True)
class TierParameters:
    """The decision threshold and LSH banding of one index tier."""

    threshold: float
    bands: int
    rows: int


@dataclass(frozen=True)
class IndexParameters:
    """The parameters the indexes were built with."""

    shingle_size: int
    num_perm: int
    scheme: str
    seed: int
    near_duplicate: TierParameters
    story: TierParameters
    salient_terms: int
    story_num_perm: int


@dataclass(frozen=True)
class Stats:
    """Counts of stored things and the parameters in force."""

    article_count: int
    cluster_count: int
    multi_article_cluster_count: int
    exact_duplicate_count: int
    near_duplicate_count: int
    parameters: IndexParameters

    @property
    def duplicate_count(self) -> int:
        return self.exact_duplicate_count + self.near_duplicate_count
