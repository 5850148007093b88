"""The DedupService implementation: convert the request, call the engine, convert the answer."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

import grpc

from newsdedup.engine import Engine
from newsdedup.errors import InvalidArgument, NewsdedupError
from newsdedup.models import ArticleInput, ArticleResult
from newsdedup.v1 import dedup_service_pb2 as pb
from newsdedup.v1 import dedup_service_pb2_grpc as pb_grpc

from . import convert
from .errors import streaming, unary


def _deadline(context: grpc.ServicerContext) -> float | None:
    """The call's deadline as a time.monotonic() value (None without one): writes are not committed past it."""
    remaining = context.time_remaining()
    return None if remaining is None else time.monotonic() + remaining


def _converted(article: pb.Article) -> ArticleInput | InvalidArgument:
    try:
        return convert.article_input(article)
    except InvalidArgument as error:
        return error


class DedupServicer(pb_grpc.DedupServiceServicer):
    """newsdedup.v1.DedupService over an Engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _ingest_in_order(self, articles: Iterable[pb.Article], context: grpc.ServicerContext) -> list[pb.ArticleResult]:
        """Ingest the convertible articles in one commit; every article gets a result in its place."""
        articles = list(articles)
        converted = [_converted(article) for article in articles]
        valid = [c for c in converted if isinstance(c, ArticleInput)]
        outcomes = iter(self._engine.ingest_many(valid, _deadline(context)))
        results: list[pb.ArticleResult] = []
        for article, item in zip(articles, converted, strict=True):
            outcome: ArticleResult | NewsdedupError = next(outcomes) if isinstance(item, ArticleInput) else item
            results.append(convert.article_result(outcome, article.id))
        return results

    @unary
    def IngestArticle(
        self, request: pb.IngestArticleRequest, context: grpc.ServicerContext
    ) -> pb.IngestArticleResponse:
        result = self._engine.ingest(convert.article_input(request.article), _deadline(context))
        return pb.IngestArticleResponse(result=convert.article_result(result))

    @unary
    def BatchIngestArticles(
        self, request: pb.BatchIngestArticlesRequest, context: grpc.ServicerContext
    ) -> pb.BatchIngestArticlesResponse:
        limit = self._engine.settings.max_batch_size
        if len(request.articles) > limit:
            raise InvalidArgument(
                f"a batch holds at most {limit} articles (max_batch_size); this one has {len(request.articles)}",
                reason="BATCH_TOO_LARGE",
                metadata={"limit": str(limit), "size": str(len(request.articles))},
            )
        return pb.BatchIngestArticlesResponse(results=self._ingest_in_order(request.articles, context))

    @streaming
    def StreamIngestArticles(
        self, request_iterator: Iterator[pb.StreamIngestArticlesRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.StreamIngestArticlesResponse]:
        for request in request_iterator:
            try:
                (result,) = self._ingest_in_order([request.article], context)
            except NewsdedupError as error:  # the store refused the write: report it and go on
                result = convert.article_result(error, request.article.id)
            yield pb.StreamIngestArticlesResponse(result=result)

    @unary
    def CheckArticle(self, request: pb.CheckArticleRequest, context: grpc.ServicerContext) -> pb.CheckArticleResponse:
        result = self._engine.check(convert.article_input(request.article))
        return pb.CheckArticleResponse(result=convert.article_result(result))

    @unary
    def GetArticle(self, request: pb.GetArticleRequest, context: grpc.ServicerContext) -> pb.GetArticleResponse:
        return pb.GetArticleResponse(article=convert.stored_article(self._engine.get_article(request.article_id)))

    @unary
    def DeleteArticle(
        self, request: pb.DeleteArticleRequest, context: grpc.ServicerContext
    ) -> pb.DeleteArticleResponse:
        self._engine.delete_article(request.article_id, _deadline(context))
        return pb.DeleteArticleResponse()

    @unary
    def SearchSimilarArticles(
        self, request: pb.SearchSimilarArticlesRequest, context: grpc.ServicerContext
    ) -> pb.SearchSimilarArticlesResponse:
        query = request.WhichOneof("query")
        matches = self._engine.search_similar(
            article_id=request.article_id if query == "article_id" else "",
            article=convert.article_input(request.article) if query == "article" else None,
            max_results=request.max_results,
            min_similarity=request.min_similarity,
        )
        return pb.SearchSimilarArticlesResponse(matches=[convert.match(m) for m in matches])

    @unary
    def GetCluster(self, request: pb.GetClusterRequest, context: grpc.ServicerContext) -> pb.GetClusterResponse:
        cluster = self._engine.get_cluster(cluster_id=request.cluster_id, article_id=request.article_id)
        return pb.GetClusterResponse(cluster=convert.cluster(cluster))

    @unary
    def ListClusters(self, request: pb.ListClustersRequest, context: grpc.ServicerContext) -> pb.ListClustersResponse:
        page = self._engine.list_clusters(
            page_size=request.page_size,
            page_token=request.page_token,
            min_size=request.min_size,
            order=convert.cluster_order(request.order_by),
        )
        return pb.ListClustersResponse(
            clusters=[convert.cluster(c) for c in page.clusters], next_page_token=page.next_page_token
        )

    @unary
    def CompareArticles(
        self, request: pb.CompareArticlesRequest, context: grpc.ServicerContext
    ) -> pb.CompareArticlesResponse:
        first, second = convert.article_input(request.first), convert.article_input(request.second)
        return convert.comparison(self._engine.compare(first, second))

    @unary
    def GetStats(self, request: pb.GetStatsRequest, context: grpc.ServicerContext) -> pb.GetStatsResponse:
        return convert.stats(self._engine.stats())
