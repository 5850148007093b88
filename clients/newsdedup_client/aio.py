"""`AsyncDedupClient`: the asyncio client of newsdedup.v1.DedupService, on grpc.aio.

The same methods as `DedupClient`, awaited, with the same requests (built by
the functions in `client.py`), deadlines, retries, TLS and token (the
channel comes from `channel.open_aio_channel`). Make it inside a running
event loop; errors are `grpc.aio.AioRpcError`, a `grpc.RpcError` that
`newsdedup_client.errors` reads like the sync client's. Example::

    import asyncio

    from newsdedup.v1 import dedup_service_pb2 as pb
    from newsdedup_client import AsyncDedupClient

    async def main() -> None:
        async with AsyncDedupClient("localhost:50051", timeout=10) as client:
            results = await asyncio.gather(*(client.check(pb.Article(body=text)) for text in texts))
            async for cluster in client.iter_clusters(min_size=2):
                print(cluster.size, cluster.title)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from types import TracebackType

from grpc_health.v1 import health_pb2
from newsdedup.v1 import dedup_service_pb2 as pb

from .channel import open_aio_channel
from .client import ClientBase, cluster_request, list_request, search_request


class AsyncDedupClient(ClientBase):
    """An asyncio connection to one newsdedup server; each method is `DedupClient`'s, awaited.

    Use it as an async context manager, or await `close()`.
    """

    _open = staticmethod(open_aio_channel)

    async def __aenter__(self) -> AsyncDedupClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the channel; calls still running are cancelled."""
        await self._channel.close()

    # --- articles

    async def ingest(self, article: pb.Article) -> pb.ArticleResult:
        """Store one article; see `DedupClient.ingest`."""
        request = pb.IngestArticleRequest(article=article)
        return (await self._stub.IngestArticle(request, timeout=self.timeout)).result

    async def ingest_batch(self, articles: Iterable[pb.Article]) -> list[pb.ArticleResult]:
        """Store several articles in one durable commit; see `DedupClient.ingest_batch`."""
        request = pb.BatchIngestArticlesRequest(articles=articles)
        return list((await self._stub.BatchIngestArticles(request, timeout=self.timeout)).results)

    async def check(self, article: pb.Article) -> pb.ArticleResult:
        """What ingesting the article would report now; see `DedupClient.check`."""
        request = pb.CheckArticleRequest(article=article)
        return (await self._stub.CheckArticle(request, timeout=self.timeout)).result

    async def get_article(self, article_id: str) -> pb.StoredArticle:
        """A stored article; see `DedupClient.get_article`."""
        request = pb.GetArticleRequest(article_id=article_id)
        return (await self._stub.GetArticle(request, timeout=self.timeout)).article

    async def delete_article(self, article_id: str) -> None:
        """Remove a stored article; see `DedupClient.delete_article`."""
        await self._stub.DeleteArticle(pb.DeleteArticleRequest(article_id=article_id), timeout=self.timeout)

    async def search_similar(
        self,
        *,
        article_id: str | None = None,
        article: pb.Article | None = None,
        max_results: int = 0,
        min_similarity: float = 0.0,
    ) -> list[pb.Match]:
        """Stored articles similar to a stored article or a text; see `DedupClient.search_similar`."""
        request = search_request(
            article_id=article_id, article=article, max_results=max_results, min_similarity=min_similarity
        )
        return list((await self._stub.SearchSimilarArticles(request, timeout=self.timeout)).matches)

    # --- clusters

    async def get_cluster(self, *, cluster_id: str | None = None, article_id: str | None = None) -> pb.Cluster:
        """One story cluster, by id or by one of its articles; see `DedupClient.get_cluster`."""
        request = cluster_request(cluster_id=cluster_id, article_id=article_id)
        return (await self._stub.GetCluster(request, timeout=self.timeout)).cluster

    async def list_clusters(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        min_size: int = 0,
        order: pb.ClusterOrder = pb.CLUSTER_ORDER_LARGEST,
    ) -> pb.ListClustersResponse:
        """One page of story clusters; see `DedupClient.list_clusters`."""
        request = list_request(page_size=page_size, page_token=page_token, min_size=min_size, order=order)
        response: pb.ListClustersResponse = await self._stub.ListClusters(request, timeout=self.timeout)
        return response

    async def iter_clusters(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        min_size: int = 0,
        order: pb.ClusterOrder = pb.CLUSTER_ORDER_LARGEST,
    ) -> AsyncIterator[pb.Cluster]:
        """Every cluster from `page_token` on, fetching pages as they are needed; see `DedupClient.iter_clusters`."""
        while True:
            page = await self.list_clusters(page_size=page_size, page_token=page_token, min_size=min_size, order=order)
            for cluster in page.clusters:
                yield cluster
            if not page.next_page_token:
                return
            page_token = page.next_page_token

    # --- analysis

    async def compare(self, first: pb.Article, second: pb.Article) -> pb.CompareArticlesResponse:
        """Score two texts against each other; see `DedupClient.compare`."""
        request = pb.CompareArticlesRequest(first=first, second=second)
        response: pb.CompareArticlesResponse = await self._stub.CompareArticles(request, timeout=self.timeout)
        return response

    async def stats(self) -> pb.GetStatsResponse:
        """Counts and the index parameters in force; see `DedupClient.stats`."""
        response: pb.GetStatsResponse = await self._stub.GetStats(pb.GetStatsRequest(), timeout=self.timeout)
        return response

    async def health(self, service: str = "") -> health_pb2.HealthCheckResponse.ServingStatus:
        """The server's serving status; see `DedupClient.health`."""
        request = health_pb2.HealthCheckRequest(service=service)
        return (await self._health.Check(request, timeout=self.timeout)).status
