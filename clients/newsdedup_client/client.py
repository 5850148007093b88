"""`DedupClient`: a typed, synchronous client of newsdedup.v1.DedupService.

newsdedup answers two questions about a news article: has this text been
seen before (an exact duplicate has the same normalised text, a near
duplicate nearly the same word shingles), and which story does it belong to
(a cluster of articles about one event, found by their salient terms)?

Each method is one RPC. Arguments and results are the newsdedup.v1 messages
themselves (`newsdedup.v1.dedup_service_pb2`), so nothing is lost in
translation and the proto comments document every field. Every call carries a
deadline of `timeout` seconds, and is tried again while it fails with
UNAVAILABLE (`retry`, a `RetryPolicy`). A failed call raises `grpc.RpcError`;
see `newsdedup_client.errors` for reading its reason and saying it in one
line. `tls` (a `Tls`) and `token` (a bearer token) are how a client proves
itself to a server that asks for them (see `channel.py`).

`AsyncDedupClient` (`aio.py`) has the same methods, awaited; both build their
requests with the functions here.

Example::

    from newsdedup.v1 import dedup_service_pb2 as pb
    from newsdedup_client import DedupClient, Tls

    tls = Tls.from_files(ca="ca.crt", cert="client.crt", key="client.key")  # or None for plaintext
    with DedupClient("news-dedup.internal:50051", timeout=10, tls=tls, token="s3cr3t") as client:
        result = client.ingest(pb.Article(id="reuters-1", title="...", body="..."))
        if result.verdict in (pb.VERDICT_EXACT_DUPLICATE, pb.VERDICT_NEAR_DUPLICATE):
            print(f"{result.article_id} repeats {result.duplicate_of}")
        for cluster in client.iter_clusters(min_size=2):
            print(cluster.size, cluster.title)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from grpc_health.v1 import health_pb2, health_pb2_grpc
from newsdedup.v1 import dedup_service_pb2 as pb
from newsdedup.v1 import dedup_service_pb2_grpc as pb_grpc

from .channel import DEFAULT_RETRY, DEFAULT_TARGET, DEFAULT_TIMEOUT, RetryPolicy, Tls, open_channel


def search_request(
    *, article_id: str | None, article: pb.Article | None, max_results: int, min_similarity: float
) -> pb.SearchSimilarArticlesRequest:
    """The SearchSimilarArticles request; exactly one of article_id and article must be given."""
    if (article_id is None) == (article is None):
        raise ValueError("give exactly one of article_id (a stored article) or article (a text to search for)")
    request = pb.SearchSimilarArticlesRequest(max_results=max_results, min_similarity=min_similarity)
    if article is not None:
        request.article.CopyFrom(article)
    else:
        request.article_id = article_id or ""
    return request


def cluster_request(*, cluster_id: str | None, article_id: str | None) -> pb.GetClusterRequest:
    """The GetCluster request; exactly one of cluster_id and article_id must be given."""
    if (cluster_id is None) == (article_id is None):
        raise ValueError("give exactly one of cluster_id or article_id (the cluster of that article)")
    if cluster_id is not None:
        return pb.GetClusterRequest(cluster_id=cluster_id)
    return pb.GetClusterRequest(article_id=article_id)


def list_request(*, page_size: int, page_token: str, min_size: int, order: pb.ClusterOrder) -> pb.ListClustersRequest:
    return pb.ListClustersRequest(page_size=page_size, page_token=page_token, min_size=min_size, order_by=order)


class ClientBase:
    """What the sync and asyncio clients share: target, deadline, and the channel's stubs.

    `target` is a gRPC address ("host:port"); `timeout` is the deadline of
    every call, in seconds (all its attempts included). `tls` turns TLS on
    (None: plaintext); `token` is sent as `authorization: Bearer <token>`
    with every call; `retry` says how calls failing with UNAVAILABLE are
    tried again (`NO_RETRIES` turns that off). The channel connects on the
    first call, so making a client never fails because the server is down;
    the first call then fails with UNAVAILABLE once its retries are spent.
    """

    _open: Callable[..., Any]  # the channel factory: open_channel, or open_aio_channel

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        tls: Tls | None = None,
        token: str | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        if not timeout > 0:  # gRPC treats a zero timeout as "no deadline at all"
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
        self.target = target
        self.timeout = timeout
        self._channel = self._open(target, tls=tls, token=token, retry=retry)
        self._stub = pb_grpc.DedupServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(target={self.target!r}, timeout={self.timeout!r})"


class DedupClient(ClientBase):
    """A connection to one newsdedup server (see `ClientBase` for the arguments).

    Use the client as a context manager, or call `close()`, to release the
    channel.
    """

    _open = staticmethod(open_channel)

    def __enter__(self) -> DedupClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel; later calls raise ValueError."""
        self._channel.close()

    # --- articles

    def ingest(self, article: pb.Article) -> pb.ArticleResult:
        """Store one article and return its verdict and story cluster.

        Re-sending the same id with the same text is harmless (the result has
        `already_ingested` set); the same id with other text raises
        ALREADY_EXISTS. A rejected article raises INVALID_ARGUMENT.
        """
        request = pb.IngestArticleRequest(article=article)
        return self._stub.IngestArticle(request, timeout=self.timeout).result

    def ingest_batch(self, articles: Iterable[pb.Article]) -> list[pb.ArticleResult]:
        """Store several articles in one durable commit; one result per article, in order.

        Later articles are judged against earlier ones in the same batch. A
        rejected article does not fail the call: its result has `error` set
        (a google.rpc.Status) and the others are stored. The whole call fails
        only if the batch itself is refused, for example when it holds more
        than the server's max_batch_size articles.
        """
        request = pb.BatchIngestArticlesRequest(articles=articles)
        return list(self._stub.BatchIngestArticles(request, timeout=self.timeout).results)

    def check(self, article: pb.Article) -> pb.ArticleResult:
        """What ingesting the article would report now; nothing is stored.

        A story cluster that the article would start is reported with an
        empty cluster_id. The id may be empty.
        """
        request = pb.CheckArticleRequest(article=article)
        return self._stub.CheckArticle(request, timeout=self.timeout).result

    def get_article(self, article_id: str) -> pb.StoredArticle:
        """A stored article's metadata and current verdict; NOT_FOUND if no article has that id."""
        request = pb.GetArticleRequest(article_id=article_id)
        return self._stub.GetArticle(request, timeout=self.timeout).article

    def delete_article(self, article_id: str) -> None:
        """Remove a stored article; duplicates of it and its cluster are updated. NOT_FOUND if absent."""
        self._stub.DeleteArticle(pb.DeleteArticleRequest(article_id=article_id), timeout=self.timeout)

    def search_similar(
        self,
        *,
        article_id: str | None = None,
        article: pb.Article | None = None,
        max_results: int = 0,
        min_similarity: float = 0.0,
    ) -> list[pb.Match]:
        """Stored articles similar to a stored article or to a text, best first.

        Give `article_id` (the article is left out of its own results) or
        `article` (a text that need not be stored), not both. Exact duplicates
        come first, then near duplicates, then other articles of the same
        story. `max_results` 0 means the server's default.
        """
        request = search_request(
            article_id=article_id, article=article, max_results=max_results, min_similarity=min_similarity
        )
        return list(self._stub.SearchSimilarArticles(request, timeout=self.timeout).matches)

    # --- clusters

    def get_cluster(self, *, cluster_id: str | None = None, article_id: str | None = None) -> pb.Cluster:
        """One story cluster, by its id (a former id of a merged cluster works too) or by one of its articles."""
        request = cluster_request(cluster_id=cluster_id, article_id=article_id)
        return self._stub.GetCluster(request, timeout=self.timeout).cluster

    def list_clusters(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        min_size: int = 0,
        order: pb.ClusterOrder = pb.CLUSTER_ORDER_LARGEST,
    ) -> pb.ListClustersResponse:
        """One page of story clusters and the token of the next page ("" on the last page).

        A page token is only valid with the same `min_size` and `order` it
        was issued for. `page_size` 0 means the server's default.
        """
        request = list_request(page_size=page_size, page_token=page_token, min_size=min_size, order=order)
        return self._stub.ListClusters(request, timeout=self.timeout)

    def iter_clusters(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        min_size: int = 0,
        order: pb.ClusterOrder = pb.CLUSTER_ORDER_LARGEST,
    ) -> Iterator[pb.Cluster]:
        """Every cluster from `page_token` on (the first page when ""), fetching pages as they are needed.

        The server's tokens are keyset positions, so a cluster is neither
        skipped nor repeated while pages are being fetched; each page is a
        separate call with its own deadline.
        """
        while True:
            page = self.list_clusters(page_size=page_size, page_token=page_token, min_size=min_size, order=order)
            yield from page.clusters
            if not page.next_page_token:
                return
            page_token = page.next_page_token

    # --- analysis

    def compare(self, first: pb.Article, second: pb.Article) -> pb.CompareArticlesResponse:
        """Score two texts against each other and show the shared shingles and terms; nothing is stored."""
        request = pb.CompareArticlesRequest(first=first, second=second)
        return self._stub.CompareArticles(request, timeout=self.timeout)

    def stats(self) -> pb.GetStatsResponse:
        """Article, duplicate and cluster counts and the index parameters in force."""
        return self._stub.GetStats(pb.GetStatsRequest(), timeout=self.timeout)

    def health(self, service: str = "") -> health_pb2.HealthCheckResponse.ServingStatus:
        """The server's serving status from the standard grpc.health.v1 service.

        SERVING while the server takes calls; NOT_SERVING while it shuts
        down. `service` "" asks about the server as a whole, or name one
        service ("newsdedup.v1.DedupService").
        """
        request = health_pb2.HealthCheckRequest(service=service)
        return self._health.Check(request, timeout=self.timeout).status
