"""Disk full during ingest: writes fail with a clear status, reads go on, nothing is lost, writes resume.

A real `newsdedup serve` keeps its store on a small tmpfs that also holds a
2 MiB filler file. Articles are ingested until the disk is full; deleting the
filler then frees room without touching the store. Two sizes fill the disk at
the two places SQLite's WAL can hit it: while the WAL is still growing
(nothing checkpointed yet) and after a checkpoint copied the WAL into the
database file.

The room freed must cover the checkpoint SQLite runs after the next commit:
it copies the WAL (about 4 MiB by then) into the database file, which grows
by about 1.5 MiB here. Freeing less lets that checkpoint take all of it, and
writes fail again at once; that is SQLite's WAL, not something the service
can avoid. For the same reason the final restart of the first test runs on an
enlarged filesystem (a shutdown checkpoints too); restarting on a disk that is
still full is the second test.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from newsdedup.store import DATABASE_FILE
from newsdedup.v1 import dedup_service_pb2 as pb
from newsdedup.v1 import dedup_service_pb2_grpc as pb_grpc

from .conftest import ServerProcess

# The codes issue 5 allows for "the disk is full, try again later".
FULL_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)
BATCH_SIZE = 20
FILLER_BYTES = 2 << 20
# Fewer stored articles than this when the disk fills means the filesystem was too small to be a test of anything.
MIN_ARTICLES_BEFORE_FULL = 100
# Every SEARCH_STRIDE-th stored article is searched for, before and after the restart.
SEARCH_STRIDE = 25
RPC_TIMEOUT = 30


@dataclass(frozen=True)
class Scenario:
    """How big the filesystem is, and where that makes SQLite run out of room."""

    size_kib: int
    # Whether a WAL checkpoint has written pages into the database file before the disk fills.
    checkpointed: bool


SCENARIOS = {
    # 3 MiB beside the filler: the WAL fills it before it reaches the 1000 pages (4 MiB) that trigger a checkpoint.
    "full-in-the-wal": Scenario(size_kib=5120, checkpointed=False),
    # 5 MiB beside the filler: the WAL reaches 4 MiB, is checkpointed into the database file, and the two fill it.
    "full-after-a-checkpoint": Scenario(size_kib=7168, checkpointed=True),
}


@dataclass(frozen=True)
class SmallDisk:
    """A mounted tmpfs: the data directory lives on it, beside a filler file that can be deleted to free room."""

    mount_point: Path
    scenario: Scenario

    @property
    def data_dir(self) -> Path:
        return self.mount_point / "data"

    @property
    def filler(self) -> Path:
        return self.mount_point / "filler"

    def free_bytes(self) -> int:
        stats = os.statvfs(self.mount_point)
        return stats.f_bavail * stats.f_frsize

    def fill_up(self) -> None:
        """Take every byte left with a second filler file."""
        with open(self.mount_point / "ballast", "wb") as ballast:
            try:
                while True:
                    ballast.write(bytes(64 * 1024))
                    ballast.flush()
            except OSError:
                pass
        assert self.free_bytes() < 64 * 1024, f"{self.free_bytes()} bytes still free after filling the disk"

    def enlarge(self, factor: int) -> None:
        """Remount the tmpfs `factor` times as large: its files stay as they are."""
        size_kib = factor * self.scenario.size_kib
        command = ["mount", "-o", f"remount,size={size_kib}k", str(self.mount_point)]
        remounted = subprocess.run(command, capture_output=True, text=True, check=False)
        assert remounted.returncode == 0, f"`{' '.join(command)}` failed: {remounted.stderr.strip()}"


@pytest.fixture
def small_disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SmallDisk]:
    """A tmpfs of the scenario's size on a temporary directory, unmounted at teardown whatever happened.

    Request it before `server_process`, so that the servers are stopped before the unmount.
    """
    scenario: Scenario = request.param
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", f"size={scenario.size_kib}k", "tmpfs", str(mount_point)]
    mounted = subprocess.run(command, capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.fail(
            f"cannot mount a {scenario.size_kib} KiB tmpfs on {mount_point}: `{' '.join(command)}` exited with "
            f"{mounted.returncode} ({mounted.stderr.strip() or 'no message'}). The disk-full test needs to mount a "
            f"small filesystem: run it as root (or with CAP_SYS_ADMIN), as CI does.",
            pytrace=False,
        )
    try:
        disk = SmallDisk(mount_point, scenario)
        disk.filler.write_bytes(bytes(FILLER_BYTES))
        yield disk
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True, check=False).returncode != 0:
            lazy = subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, text=True, check=False)
            assert lazy.returncode == 0, f"cannot unmount the tmpfs on {mount_point}: {lazy.stderr.strip()}"


# --- helpers


def article(doc: dict) -> pb.Article:
    return pb.Article(id=doc["doc_id"], body=doc["text"])


def batches(docs: Sequence[dict], size: int) -> Iterator[list[dict]]:
    for start in range(0, len(docs), size):
        yield list(docs[start : start + size])


def assert_disk_full_error(error: grpc.RpcError, call: str, server: ServerProcess) -> None:
    """The call failed the way a full disk should fail: a retryable code, a message that says so, an ErrorInfo."""
    context = (
        f"{call} on a full disk failed with {error.code()}: {error.details()!r}\nserver log:\n{server.log()[-3000:]}"
    )
    assert error.code() in FULL_CODES, context
    message = error.details().lower()
    assert "full" in message, f"the message does not say the disk is full; {context}"
    status = rpc_status.from_call(error)
    assert status is not None and status.details, f"no google.rpc.Status with an ErrorInfo; {context}"
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info), context
    assert info.domain == "newsdedup" and info.reason not in ("", "INTERNAL"), f"ErrorInfo {info}; {context}"


def assert_not_stored(stub: pb_grpc.DedupServiceStub, article_ids: Sequence[str], why: str) -> None:
    for article_id in article_ids:
        with pytest.raises(grpc.RpcError) as raised:
            stub.GetArticle(pb.GetArticleRequest(article_id=article_id), timeout=RPC_TIMEOUT)
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND, f"{article_id} ({why}): {raised.value.details()}"


def all_clusters(stub: pb_grpc.DedupServiceStub) -> list[pb.Cluster]:
    clusters: list[pb.Cluster] = []
    token = ""
    while True:
        page = stub.ListClusters(pb.ListClustersRequest(page_size=100, page_token=token), timeout=RPC_TIMEOUT)
        clusters += page.clusters
        token = page.next_page_token
        if not token:
            return clusters


def assert_acknowledged_intact(stub: pb_grpc.DedupServiceStub, acknowledged: dict[str, pb.ArticleResult]) -> None:
    """Every acknowledged article is stored with the verdict it was given, in the cluster it joined (or its heir).

    Verdicts never change without a deletion; a cluster id may have been merged
    into another, and then resolves to it. The clusters listed hold exactly the
    stored articles, and the counts agree.
    """
    clusters = all_clusters(stub)
    members = {article_id: cluster.cluster_id for cluster in clusters for article_id in cluster.article_ids}
    for article_id, result in acknowledged.items():
        stored = stub.GetArticle(pb.GetArticleRequest(article_id=article_id), timeout=RPC_TIMEOUT).article
        assert (stored.verdict, stored.duplicate_of) == (result.verdict, result.duplicate_of), article_id
        joined = stub.GetCluster(pb.GetClusterRequest(cluster_id=result.cluster_id), timeout=RPC_TIMEOUT).cluster
        assert article_id in joined.article_ids, f"{article_id} left its cluster {result.cluster_id}"
        assert members.get(article_id) == stored.cluster_id == joined.cluster_id, article_id
    assert sorted(members) == sorted(acknowledged), "the clusters list other articles than the acknowledged ones"
    assert all(cluster.size == len(cluster.article_ids) for cluster in clusters)
    stats = stub.GetStats(pb.GetStatsRequest(), timeout=RPC_TIMEOUT)
    assert (stats.article_count, stats.cluster_count) == (len(acknowledged), len(clusters))


def assert_searches_find_themselves(
    stub: pb_grpc.DedupServiceStub, docs: dict[str, dict], acknowledged: dict[str, pb.ArticleResult]
) -> None:
    """A stored article's own text finds it as an exact duplicate; a search by its id answers."""
    for article_id in list(acknowledged)[::SEARCH_STRIDE]:
        by_text = stub.SearchSimilarArticles(
            pb.SearchSimilarArticlesRequest(article=pb.Article(body=docs[article_id]["text"]), max_results=50),
            timeout=RPC_TIMEOUT,
        )
        found = {match.article_id: match for match in by_text.matches}
        assert article_id in found, f"searching for {article_id}'s own text did not find it"
        assert (found[article_id].relation, found[article_id].similarity) == (pb.RELATION_EXACT_DUPLICATE, 1.0)
        stub.SearchSimilarArticles(pb.SearchSimilarArticlesRequest(article_id=article_id), timeout=RPC_TIMEOUT)


def assert_serving(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=RPC_TIMEOUT)
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def snapshot(stub: pb_grpc.DedupServiceStub, article_ids: Sequence[str]) -> dict:
    """Everything the server says about the stored articles, to compare across a failed write or a restart."""
    searches = {
        article_id: [
            (match.article_id, match.relation, round(match.similarity, 9))
            for match in stub.SearchSimilarArticles(
                pb.SearchSimilarArticlesRequest(article_id=article_id, max_results=20), timeout=RPC_TIMEOUT
            ).matches
        ]
        for article_id in list(article_ids)[::SEARCH_STRIDE]
    }
    stats = stub.GetStats(pb.GetStatsRequest(), timeout=RPC_TIMEOUT)
    stats.ClearField("parameters")
    return {
        "articles": {
            article_id: stub.GetArticle(pb.GetArticleRequest(article_id=article_id), timeout=RPC_TIMEOUT).article
            for article_id in article_ids
        },
        "clusters": sorted(
            (c.cluster_id, c.size, tuple(c.article_ids), c.representative_article_id, tuple(c.merged_cluster_ids))
            for c in all_clusters(stub)
        ),
        "stats": stats,
        "searches": searches,
    }


def delete_victim(stub: pb_grpc.DedupServiceStub, article_ids: Sequence[str]) -> str:
    """The stored article whose deletion changes the most: one that others duplicate, else one in a big cluster."""
    stored = [stub.GetArticle(pb.GetArticleRequest(article_id=i), timeout=RPC_TIMEOUT).article for i in article_ids]
    originals = [a.duplicate_of for a in stored if a.duplicate_of]
    if originals:
        return max(set(originals), key=originals.count)
    biggest = max(all_clusters(stub), key=lambda cluster: cluster.size)
    return biggest.article_ids[0]


def fill_the_disk(
    stub: pb_grpc.DedupServiceStub, ecbplus: list[dict], disk: SmallDisk, server: ServerProcess
) -> tuple[dict[str, pb.ArticleResult], list[dict], dict]:
    """Ingest batches, then single articles, until each fails as a full disk should.

    Returns what was acknowledged, the batch that failed (refused whole: none
    of its articles is stored) and the single article that failed.
    """
    acknowledged: dict[str, pb.ArticleResult] = {}
    failed_batch: list[dict] = []
    for batch in batches(ecbplus, BATCH_SIZE):
        try:
            response = stub.BatchIngestArticles(
                pb.BatchIngestArticlesRequest(articles=[article(doc) for doc in batch]), timeout=RPC_TIMEOUT
            )
        except grpc.RpcError as error:
            assert_disk_full_error(error, "BatchIngestArticles", server)
            failed_batch = batch
            break
        for doc, result in zip(batch, response.results, strict=True):
            assert not result.HasField("error"), f"{doc['doc_id']}: {result.error}"
            acknowledged[doc["doc_id"]] = result
    assert failed_batch, f"the {disk.scenario.size_kib} KiB disk never filled: all {len(acknowledged)} articles fit"
    assert len(acknowledged) >= MIN_ARTICLES_BEFORE_FULL, f"the disk filled after {len(acknowledged)} articles"
    database_bytes = (disk.data_dir / DATABASE_FILE).stat().st_size
    assert (database_bytes > 256 * 1024) == disk.scenario.checkpointed, (
        f"not the scenario meant: the database file holds {database_bytes} bytes when the disk fills "
        f"(a checkpoint {'was' if disk.scenario.checkpointed else 'was not'} expected before)"
    )
    assert_not_stored(stub, [doc["doc_id"] for doc in failed_batch], "in the batch that failed")

    # A single article can fit where a batch did not: go on until one fails too.
    for doc in ecbplus[len(acknowledged) + len(failed_batch) :]:
        try:
            result = stub.IngestArticle(pb.IngestArticleRequest(article=article(doc)), timeout=RPC_TIMEOUT).result
        except grpc.RpcError as error:
            assert_disk_full_error(error, "IngestArticle", server)
            assert_not_stored(stub, [doc["doc_id"]], "the single article that failed")
            return acknowledged, failed_batch, doc
        acknowledged[doc["doc_id"]] = result
    raise AssertionError("single articles kept fitting on the full disk")


def assert_integrity(disk: SmallDisk) -> None:
    """SQLite's own check of every page, read-only, beside the running server."""
    location = disk.data_dir / DATABASE_FILE
    with contextlib.closing(sqlite3.connect(f"file:{location}?mode=ro", uri=True)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


# --- the tests

DISKS = pytest.mark.parametrize("small_disk", list(SCENARIOS.values()), ids=list(SCENARIOS), indirect=True)


@DISKS
def test_disk_full_refuses_writes_keeps_reads_and_recovers(
    small_disk: SmallDisk, server_process: Callable[..., ServerProcess], ecbplus: list[dict]
) -> None:
    """On a full disk writes fail with UNAVAILABLE/RESOURCE_EXHAUSTED, reads work, nothing stored is damaged,
    and once space is freed the same server takes the failed articles; a restart keeps everything."""
    docs = {doc["doc_id"]: doc for doc in ecbplus}
    server = server_process(small_disk.data_dir)
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.DedupServiceStub(channel)
        acknowledged, failed_batch, failed_single = fill_the_disk(stub, ecbplus, small_disk, server)

        # Reads keep working, and everything acknowledged is intact.
        assert_serving(channel)
        assert_acknowledged_intact(stub, acknowledged)
        assert_searches_find_themselves(stub, docs, acknowledged)
        before_delete = snapshot(stub, list(acknowledged))

        # A deletion on the full disk may be refused, but must change nothing if it is.
        victim = delete_victim(stub, list(acknowledged))
        try:
            stub.DeleteArticle(pb.DeleteArticleRequest(article_id=victim), timeout=RPC_TIMEOUT)
        except grpc.RpcError as error:
            assert_disk_full_error(error, "DeleteArticle", server)
            assert snapshot(stub, list(acknowledged)) == before_delete, "a refused deletion changed what is served"
        else:  # it fit: the article is gone, and those that duplicated it are judged again
            assert_not_stored(stub, [victim], "deleted")
            del acknowledged[victim]
            for article_id in acknowledged:
                stored = stub.GetArticle(pb.GetArticleRequest(article_id=article_id), timeout=RPC_TIMEOUT).article
                if before_delete["articles"][article_id].duplicate_of == victim:
                    acknowledged[article_id].verdict = stored.verdict
                    acknowledged[article_id].duplicate_of = stored.duplicate_of
        assert_acknowledged_intact(stub, acknowledged)
        assert_serving(channel)

        # Free space: the same server, without a restart, takes the articles it refused.
        small_disk.filler.unlink()
        retried = stub.BatchIngestArticles(
            pb.BatchIngestArticlesRequest(articles=[article(doc) for doc in failed_batch]), timeout=RPC_TIMEOUT
        )
        for doc, result in zip(failed_batch, retried.results, strict=True):
            assert not result.HasField("error") and not result.already_ingested, f"{doc['doc_id']}: {result}"
            acknowledged[doc["doc_id"]] = result
        single = stub.IngestArticle(pb.IngestArticleRequest(article=article(failed_single)), timeout=RPC_TIMEOUT)
        assert not single.result.already_ingested
        acknowledged[failed_single["doc_id"]] = single.result
        assert_acknowledged_intact(stub, acknowledged)
        assert_searches_find_themselves(stub, docs, acknowledged)
        before_restart = snapshot(stub, list(acknowledged))

    # Room for the shutdown's checkpoint, so that this restart checks what was kept, not a full disk.
    small_disk.enlarge(factor=4)
    assert server.stop() == 0, f"the server did not exit cleanly:\n{server.log()[-3000:]}"
    restarted = server_process(small_disk.data_dir)
    with grpc.insecure_channel(restarted.target) as channel:
        stub = pb_grpc.DedupServiceStub(channel)
        assert snapshot(stub, list(acknowledged)) == before_restart
        assert_acknowledged_intact(stub, acknowledged)
        assert_serving(channel)
    assert_integrity(small_disk)


# One scenario is enough here: the WAL the restart opens is the larger one, already past its checkpoint size.
@pytest.mark.parametrize(
    "small_disk", [SCENARIOS["full-after-a-checkpoint"]], ids=["full-after-a-checkpoint"], indirect=True
)
def test_server_restarted_on_a_full_disk_serves_reads(
    small_disk: SmallDisk, server_process: Callable[..., ServerProcess], ecbplus: list[dict]
) -> None:
    """A server restarted while the disk is still full starts, serves every acknowledged article, refuses writes
    with the disk-full status, and takes them once space is freed."""
    server = server_process(small_disk.data_dir)
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.DedupServiceStub(channel)
        acknowledged, failed_batch, _ = fill_the_disk(stub, ecbplus, small_disk, server)
        before_restart = snapshot(stub, list(acknowledged))
    small_disk.fill_up()  # whatever the refused writes left
    assert server.stop() == 0, f"the server did not exit cleanly on a full disk:\n{server.log()[-3000:]}"

    restarted = server_process(small_disk.data_dir)
    with grpc.insecure_channel(restarted.target) as channel:
        stub = pb_grpc.DedupServiceStub(channel)
        assert_serving(channel)
        assert snapshot(stub, list(acknowledged)) == before_restart
        assert_acknowledged_intact(stub, acknowledged)
        with pytest.raises(grpc.RpcError) as refused:
            stub.BatchIngestArticles(
                pb.BatchIngestArticlesRequest(articles=[article(doc) for doc in failed_batch]), timeout=RPC_TIMEOUT
            )
        assert_disk_full_error(refused.value, "BatchIngestArticles after a restart", restarted)
        assert_not_stored(stub, [doc["doc_id"] for doc in failed_batch], "in the batch that failed")

        (small_disk.mount_point / "ballast").unlink()
        small_disk.filler.unlink()
        retried = stub.BatchIngestArticles(
            pb.BatchIngestArticlesRequest(articles=[article(doc) for doc in failed_batch]), timeout=RPC_TIMEOUT
        )
        assert [result.HasField("error") for result in retried.results] == [False] * len(failed_batch)
        for doc, result in zip(failed_batch, retried.results, strict=True):
            acknowledged[doc["doc_id"]] = result
        assert_acknowledged_intact(stub, acknowledged)
