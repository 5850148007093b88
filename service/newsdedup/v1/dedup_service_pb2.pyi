import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_UNSPECIFIED: _ClassVar[Verdict]
    VERDICT_UNIQUE: _ClassVar[Verdict]
    VERDICT_NEAR_DUPLICATE: _ClassVar[Verdict]
    VERDICT_EXACT_DUPLICATE: _ClassVar[Verdict]
    VERDICT_LOW_CONTENT: _ClassVar[Verdict]

class Relation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RELATION_UNSPECIFIED: _ClassVar[Relation]
    RELATION_EXACT_DUPLICATE: _ClassVar[Relation]
    RELATION_NEAR_DUPLICATE: _ClassVar[Relation]
    RELATION_SAME_STORY: _ClassVar[Relation]

class ClusterOrder(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLUSTER_ORDER_UNSPECIFIED: _ClassVar[ClusterOrder]
    CLUSTER_ORDER_LARGEST: _ClassVar[ClusterOrder]
    CLUSTER_ORDER_RECENTLY_UPDATED: _ClassVar[ClusterOrder]
VERDICT_UNSPECIFIED: Verdict
VERDICT_UNIQUE: Verdict
VERDICT_NEAR_DUPLICATE: Verdict
VERDICT_EXACT_DUPLICATE: Verdict
VERDICT_LOW_CONTENT: Verdict
RELATION_UNSPECIFIED: Relation
RELATION_EXACT_DUPLICATE: Relation
RELATION_NEAR_DUPLICATE: Relation
RELATION_SAME_STORY: Relation
CLUSTER_ORDER_UNSPECIFIED: ClusterOrder
CLUSTER_ORDER_LARGEST: ClusterOrder
CLUSTER_ORDER_RECENTLY_UPDATED: ClusterOrder

class Article(_message.Message):
    __slots__ = ("id", "title", "body", "url", "source", "published_at", "language")
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    body: str
    url: str
    source: str
    published_at: _timestamp_pb2.Timestamp
    language: str
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., body: _Optional[str] = ..., url: _Optional[str] = ..., source: _Optional[str] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., language: _Optional[str] = ...) -> None: ...

class Match(_message.Message):
    __slots__ = ("article_id", "similarity", "relation", "cluster_id", "shared_shingles", "shared_terms")
    ARTICLE_ID_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    SHARED_SHINGLES_FIELD_NUMBER: _ClassVar[int]
    SHARED_TERMS_FIELD_NUMBER: _ClassVar[int]
    article_id: str
    similarity: float
    relation: Relation
    cluster_id: str
    shared_shingles: _containers.RepeatedScalarFieldContainer[str]
    shared_terms: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, article_id: _Optional[str] = ..., similarity: _Optional[float] = ..., relation: _Optional[_Union[Relation, str]] = ..., cluster_id: _Optional[str] = ..., shared_shingles: _Optional[_Iterable[str]] = ..., shared_terms: _Optional[_Iterable[str]] = ...) -> None: ...

class ArticleResult(_message.Message):
    __slots__ = ("article_id", "verdict", "duplicate_of", "matches", "cluster_id", "cluster_size", "already_ingested", "error")
    ARTICLE_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_OF_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_SIZE_FIELD_NUMBER: _ClassVar[int]
    ALREADY_INGESTED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    article_id: str
    verdict: Verdict
    duplicate_of: str
    matches: _containers.RepeatedCompositeFieldContainer[Match]
    cluster_id: str
    cluster_size: int
    already_ingested: bool
    error: _status_pb2.Status
    def __init__(self, article_id: _Optional[str] = ..., verdict: _Optional[_Union[Verdict, str]] = ..., duplicate_of: _Optional[str] = ..., matches: _Optional[_Iterable[_Union[Match, _Mapping]]] = ..., cluster_id: _Optional[str] = ..., cluster_size: _Optional[int] = ..., already_ingested: _Optional[bool] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class StoredArticle(_message.Message):
    __slots__ = ("id", "title", "url", "source", "published_at", "ingested_at", "verdict", "duplicate_of", "cluster_id", "content_hash", "language")
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    INGESTED_AT_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_OF_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    url: str
    source: str
    published_at: _timestamp_pb2.Timestamp
    ingested_at: _timestamp_pb2.Timestamp
    verdict: Verdict
    duplicate_of: str
    cluster_id: str
    content_hash: str
    language: str
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., url: _Optional[str] = ..., source: _Optional[str] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ingested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., verdict: _Optional[_Union[Verdict, str]] = ..., duplicate_of: _Optional[str] = ..., cluster_id: _Optional[str] = ..., content_hash: _Optional[str] = ..., language: _Optional[str] = ...) -> None: ...

class Cluster(_message.Message):
    __slots__ = ("cluster_id", "size", "article_ids", "representative_article_id", "title", "first_published_at", "last_published_at", "merged_cluster_ids", "updated_at")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ARTICLE_IDS_FIELD_NUMBER: _ClassVar[int]
    REPRESENTATIVE_ARTICLE_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    FIRST_PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    MERGED_CLUSTER_IDS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    size: int
    article_ids: _containers.RepeatedScalarFieldContainer[str]
    representative_article_id: str
    title: str
    first_published_at: _timestamp_pb2.Timestamp
    last_published_at: _timestamp_pb2.Timestamp
    merged_cluster_ids: _containers.RepeatedScalarFieldContainer[str]
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, cluster_id: _Optional[str] = ..., size: _Optional[int] = ..., article_ids: _Optional[_Iterable[str]] = ..., representative_article_id: _Optional[str] = ..., title: _Optional[str] = ..., first_published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., merged_cluster_ids: _Optional[_Iterable[str]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TierParameters(_message.Message):
    __slots__ = ("threshold", "bands", "rows")
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    BANDS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    threshold: float
    bands: int
    rows: int
    def __init__(self, threshold: _Optional[float] = ..., bands: _Optional[int] = ..., rows: _Optional[int] = ...) -> None: ...

class IndexParameters(_message.Message):
    __slots__ = ("shingle_size", "num_perm", "scheme", "seed", "near_duplicate", "story", "salient_terms", "story_num_perm")
    SHINGLE_SIZE_FIELD_NUMBER: _ClassVar[int]
    NUM_PERM_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    NEAR_DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    STORY_FIELD_NUMBER: _ClassVar[int]
    SALIENT_TERMS_FIELD_NUMBER: _ClassVar[int]
    STORY_NUM_PERM_FIELD_NUMBER: _ClassVar[int]
    shingle_size: int
    num_perm: int
    scheme: str
    seed: int
    near_duplicate: TierParameters
    story: TierParameters
    salient_terms: int
    story_num_perm: int
    def __init__(self, shingle_size: _Optional[int] = ..., num_perm: _Optional[int] = ..., scheme: _Optional[str] = ..., seed: _Optional[int] = ..., near_duplicate: _Optional[_Union[TierParameters, _Mapping]] = ..., story: _Optional[_Union[TierParameters, _Mapping]] = ..., salient_terms: _Optional[int] = ..., story_num_perm: _Optional[int] = ...) -> None: ...

class IngestArticleRequest(_message.Message):
    __slots__ = ("article",)
    ARTICLE_FIELD_NUMBER: _ClassVar[int]
    article: Article
    def __init__(self, article: _Optional[_Union[Article, _Mapping]] = ...) -> None: ...

class IngestArticleResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: ArticleResult
    def __init__(self, result: _Optional[_Union[ArticleResult, _Mapping]] = ...) -> None: ...

class BatchIngestArticlesRequest(_message.Message):
    __slots__ = ("articles",)
    ARTICLES_FIELD_NUMBER: _ClassVar[int]
    articles: _containers.RepeatedCompositeFieldContainer[Article]
    def __init__(self, articles: _Optional[_Iterable[_Union[Article, _Mapping]]] = ...) -> None: ...

class BatchIngestArticlesResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ArticleResult]
    def __init__(self, results: _Optional[_Iterable[_Union[ArticleResult, _Mapping]]] = ...) -> None: ...

class StreamIngestArticlesRequest(_message.Message):
    __slots__ = ("article",)
    ARTICLE_FIELD_NUMBER: _ClassVar[int]
    article: Article
    def __init__(self, article: _Optional[_Union[Article, _Mapping]] = ...) -> None: ...

class StreamIngestArticlesResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: ArticleResult
    def __init__(self, result: _Optional[_Union[ArticleResult, _Mapping]] = ...) -> None: ...

class CheckArticleRequest(_message.Message):
    __slots__ = ("article",)
    ARTICLE_FIELD_NUMBER: _ClassVar[int]
    article: Article
    def __init__(self, article: _Optional[_Union[Article, _Mapping]] = ...) -> None: ...

class CheckArticleResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: ArticleResult
    def __init__(self, result: _Optional[_Union[ArticleResult, _Mapping]] = ...) -> None: ...

class GetArticleRequest(_message.Message):
    __slots__ = ("article_id",)
    ARTICLE_ID_FIELD_NUMBER: _ClassVar[int]
    article_id: str
    def __init__(self, article_id: _Optional[str] = ...) -> None: ...

class GetArticleResponse(_message.Message):
    __slots__ = ("article",)
    ARTICLE_FIELD_NUMBER: _ClassVar[int]
    article: StoredArticle
    def __init__(self, article: _Optional[_Union[StoredArticle, _Mapping]] = ...) -> None: ...

class DeleteArticleRequest(_message.Message):
    __slots__ = ("article_id",)
    ARTICLE_ID_FIELD_NUMBER: _ClassVar[int]
    article_id: str
    def __init__(self, article_id: _Optional[str] = ...) -> None: ...

class DeleteArticleResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SearchSimilarArticlesRequest(_message.Message):
    __slots__ = ("article_id", "article", "max_results", "min_similarity")
    ARTICLE_ID_FIELD_NUMBER: _ClassVar[int]
    ARTICLE_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    MIN_SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    article_id: str
    article: Article
    max_results: int
    min_similarity: float
    def __init__(self, article_id: _Optional[str] = ..., article: _Optional[_Union[Article, _Mapping]] = ..., max_results: _Optional[int] = ..., min_similarity: _Optional[float] = ...) -> None: ...

class SearchSimilarArticlesResponse(_message.Message):
    __slots__ = ("matches",)
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    matches: _containers.RepeatedCompositeFieldContainer[Match]
    def __init__(self, matches: _Optional[_Iterable[_Union[Match, _Mapping]]] = ...) -> None: ...

class GetClusterRequest(_message.Message):
    __slots__ = ("cluster_id", "article_id")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    ARTICLE_ID_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    article_id: str
    def __init__(self, cluster_id: _Optional[str] = ..., article_id: _Optional[str] = ...) -> None: ...

class GetClusterResponse(_message.Message):
    __slots__ = ("cluster",)
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    cluster: Cluster
    def __init__(self, cluster: _Optional[_Union[Cluster, _Mapping]] = ...) -> None: ...

class ListClustersRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "min_size", "order_by")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MIN_SIZE_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    min_size: int
    order_by: ClusterOrder
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., min_size: _Optional[int] = ..., order_by: _Optional[_Union[ClusterOrder, str]] = ...) -> None: ...

class ListClustersResponse(_message.Message):
    __slots__ = ("clusters", "next_page_token")
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    clusters: _containers.RepeatedCompositeFieldContainer[Cluster]
    next_page_token: str
    def __init__(self, clusters: _Optional[_Iterable[_Union[Cluster, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CompareArticlesRequest(_message.Message):
    __slots__ = ("first", "second")
    FIRST_FIELD_NUMBER: _ClassVar[int]
    SECOND_FIELD_NUMBER: _ClassVar[int]
    first: Article
    second: Article
    def __init__(self, first: _Optional[_Union[Article, _Mapping]] = ..., second: _Optional[_Union[Article, _Mapping]] = ...) -> None: ...

class CompareArticlesResponse(_message.Message):
    __slots__ = ("similarity", "exact_similarity", "story_similarity", "relation", "shared_shingles", "shared_terms", "first_shingle_count", "second_shingle_count")
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    EXACT_SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    STORY_SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    SHARED_SHINGLES_FIELD_NUMBER: _ClassVar[int]
    SHARED_TERMS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SHINGLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SECOND_SHINGLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    similarity: float
    exact_similarity: float
    story_similarity: float
    relation: Relation
    shared_shingles: _containers.RepeatedScalarFieldContainer[str]
    shared_terms: _containers.RepeatedScalarFieldContainer[str]
    first_shingle_count: int
    second_shingle_count: int
    def __init__(self, similarity: _Optional[float] = ..., exact_similarity: _Optional[float] = ..., story_similarity: _Optional[float] = ..., relation: _Optional[_Union[Relation, str]] = ..., shared_shingles: _Optional[_Iterable[str]] = ..., shared_terms: _Optional[_Iterable[str]] = ..., first_shingle_count: _Optional[int] = ..., second_shingle_count: _Optional[int] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ("article_count", "cluster_count", "duplicate_count", "exact_duplicate_count", "near_duplicate_count", "parameters", "multi_article_cluster_count")
    ARTICLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_COUNT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    EXACT_DUPLICATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    NEAR_DUPLICATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    MULTI_ARTICLE_CLUSTER_COUNT_FIELD_NUMBER: _ClassVar[int]
    article_count: int
    cluster_count: int
    duplicate_count: int
    exact_duplicate_count: int
    near_duplicate_count: int
    parameters: IndexParameters
    multi_article_cluster_count: int
    def __init__(self, article_count: _Optional[int] = ..., cluster_count: _Optional[int] = ..., duplicate_count: _Optional[int] = ..., exact_duplicate_count: _Optional[int] = ..., near_duplicate_count: _Optional[int] = ..., parameters: _Optional[_Union[IndexParameters, _Mapping]] = ..., multi_article_cluster_count: _Optional[int] = ...) -> None: ...
