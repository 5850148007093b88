"""Durable storage of articles, story clusters and cluster aliases in SQLite.

The store is the source of truth: the in-memory indexes are rebuilt from it
at startup, and an article is acknowledged only after the transaction that
wrote it has committed. With durability "full" every commit is fsynced
(WAL mode, synchronous=FULL) and survives power loss; with "normal" a commit
survives a killed process but the last ones may be lost on power loss.

An empty data directory name keeps the database in memory, for tests and
throwaway runs. Not thread-safe: the engine serialises every call.

Damage is detected, never served: every blob the indexes are rebuilt from
carries an xxh3 checksum, checked when it is read, and a store that was not
closed cleanly (a crash, a kill -9, a power cut) gets SQLite's quick_check
before it is used. Either failure raises DataCorrupted, naming the file and
what to do; at startup the server then refuses to start.

Articles and clusters are keyed by integer sequence numbers that only grow
(AUTOINCREMENT), so "ingested earlier" is "smaller seq" and "the older of two
clusters" is "smaller cluster seq". Timestamps are microseconds since the
Unix epoch, UTC.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import xxhash

from newsdedup.changesets import TABLES, ChangeCapture, Changeset, TableChanges
from newsdedup.errors import DataCorrupted, IncompatibleData, NewsdedupError, StorageUnavailable
from newsdedup.models import ClusterOrder, Verdict

DATABASE_FILE = "newsdedup.sqlite3"
# Held (flock) by the one server using a data directory, for as long as it runs.
LOCK_FILE = "newsdedup.lock"
SCHEMA_VERSION = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS clusters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    first_published_at INTEGER NOT NULL,
    last_published_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS clusters_by_size ON clusters (size DESC, seq);
CREATE INDEX IF NOT EXISTS clusters_by_update ON clusters (updated_at DESC, seq);
CREATE TABLE IF NOT EXISTS cluster_aliases (
    alias TEXT PRIMARY KEY,
    cluster_seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS cluster_aliases_by_cluster ON cluster_aliases (cluster_seq);
CREATE TABLE IF NOT EXISTS articles (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    url TEXT NOT NULL,
    source TEXT NOT NULL,
    language TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    ingested_at INTEGER NOT NULL,
    content_hash INTEGER NOT NULL,
    verdict INTEGER NOT NULL,
    duplicate_of INTEGER,
    cluster_seq INTEGER NOT NULL,
    -- Last: a long body spills into overflow pages, which reading the columns before it never touches.
    body TEXT NOT NULL
);
-- Apart from the text, so that startup reads 640 bytes per article, not pages of bodies.
CREATE TABLE IF NOT EXISTS article_signatures (
    seq INTEGER PRIMARY KEY,
    near_signature BLOB NOT NULL,
    story_signature BLOB NOT NULL,
    checksum INTEGER NOT NULL  -- _checksum(near_signature, story_signature)
);
-- Read at startup (document frequencies) and when a cluster's centroid is reloaded.
CREATE TABLE IF NOT EXISTS article_terms (
    seq INTEGER PRIMARY KEY,
    salient_ids BLOB NOT NULL,
    salient_counts BLOB NOT NULL,
    term_buckets BLOB NOT NULL,
    -- Two checksums: startup reads the buckets of every article, the salient terms only when needed.
    salient_checksum INTEGER NOT NULL,  -- _checksum(salient_ids, salient_counts)
    buckets_checksum INTEGER NOT NULL  -- _checksum(term_buckets)
);
-- Per source, the line counts that teach which lines are its chrome (boilerplate.RecurringLines);
-- rewritten whole when the source is observed, so rowid order is least recently observed first.
CREATE TABLE IF NOT EXISTS source_lines (
    source TEXT PRIMARY KEY,
    counts BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_by_hash_and_age ON articles (content_hash, published_at, seq);
CREATE INDEX IF NOT EXISTS articles_by_cluster ON articles (cluster_seq, published_at, seq);
CREATE INDEX IF NOT EXISTS articles_by_original ON articles (duplicate_of);
-- Eviction takes the oldest published first (retention, capacity).
CREATE INDEX IF NOT EXISTS articles_by_age ON articles (published_at, seq);
"""

_ROW_COLUMNS = (
    "seq, id, title, url, source, language, published_at, ingested_at, content_hash, verdict, duplicate_of, cluster_seq"
)


def _signed(value: int) -> int:
    """A uint64 as the int64 SQLite stores."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _checksum(*blobs: bytes) -> int:
    """xxh3-64 of the blobs, each prefixed by its length (so moving bytes between them is caught), as SQLite's int64."""
    digest = xxhash.xxh3_64()
    for blob in blobs:
        digest.update(len(blob).to_bytes(8, "little"))
        digest.update(blob)
    return _signed(digest.intdigest())


def _unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


@dataclass(frozen=True)
class ArticleRow:
    """An article's metadata as stored (no text, no signatures)."""

    seq: int
    id: str
    title: str
    url: str
    source: str
    language: str
    published_at: int
    ingested_at: int
    content_hash: int
    verdict: Verdict
    duplicate_of: int | None
    cluster_seq: int

    @property
    def age_key(self) -> tuple[int, int]:
        """Sort key for "earliest": publication time, then ingest order."""
        return (self.published_at, self.seq)

    @classmethod
    def from_sql(cls, row: Sequence) -> ArticleRow:
        seq, id_, title, url, source, language, published, ingested, content_hash, verdict, original, cluster = row
        return cls(
            seq, id_, title, url, source, language, published, ingested, _unsigned(content_hash), Verdict(verdict),
            original, cluster,
        )  # fmt: skip


@dataclass(frozen=True)
class NewArticle:
    """Everything stored for a new article."""

    id: str
    title: str
    body: str
    url: str
    source: str
    language: str
    published_at: int
    ingested_at: int
    content_hash: int
    verdict: Verdict
    duplicate_of: int | None
    cluster_seq: int
    # None for an article too thin to judge (VERDICT_LOW_CONTENT): it is never indexed.
    near_signature: np.ndarray | None
    story_signature: np.ndarray | None
    salient_ids: np.ndarray
    salient_counts: np.ndarray
    term_buckets: np.ndarray


@dataclass(frozen=True)
class SignatureChunk:
    """Stored signatures of consecutive articles, to rebuild the indexes from."""

    seqs: np.ndarray  # int64
    near: np.ndarray  # uint32[len(seqs), num_perm]
    story: np.ndarray  # uint32[len(seqs), story_num_perm]


@dataclass(frozen=True)
class TermChunk:
    """Stored document buckets of consecutive articles: buckets[offsets[i]:offsets[i + 1]] are article i's."""

    buckets: np.ndarray
    offsets: np.ndarray


@dataclass(frozen=True)
class ClusterRow:
    """A story cluster's stored aggregates."""

    seq: int
    id: str
    size: int
    first_published_at: int
    last_published_at: int
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class Counts:
    articles: int
    clusters: int
    multi_article_clusters: int
    exact_duplicates: int
    near_duplicates: int


def _lock_data_dir(data_dir: Path) -> TextIO:
    """Take the data directory for this process alone, for as long as the returned file stays open.

    Two servers on one data directory would each keep their own in-memory
    indexes of one SQLite file and miss each other's writes: duplicates
    unseen, stories split, silently. The lock is an flock, which the kernel
    drops when the process ends however it ends (kill -9 included).
    """
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = open(data_dir / LOCK_FILE, "a+")  # noqa: SIM115 - held open for the store's lifetime
    except OSError as error:
        raise StorageUnavailable(f"cannot open the store in {data_dir}: {error}") from error
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise StorageUnavailable(
            f"another newsdedup server (pid {holder}) is using the data directory {data_dir}: stop it, or give "
            f"this one another --data-dir (with --store, each replica needs its own)",
            reason="DATA_DIR_IN_USE",
            metadata={"data_dir": str(data_dir), "pid": holder},
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def _unusable(location: str, error: Exception) -> IncompatibleData:
    return IncompatibleData(
        f"{location} is not a usable newsdedup store ({error}); move it aside or restore it from a backup",
        reason="STORE_UNUSABLE",
    )


def cluster_id_for(seq: int) -> str:
    """The public id of the cluster with this sequence number."""
    return f"story-{seq}"


class Store:
    """SQLite storage; see the module docstring for the guarantees."""

    def __init__(self, connection: sqlite3.Connection, location: str) -> None:
        self._db = connection
        self.location = location
        self._marked_open = False  # whether this run has marked the store open (see _check_after_a_crash)
        # A copy of a shared state (shared.py): what each write changes is captured and handed to `on_commit`
        # just before its commit, which fails the write if it raises.
        self._capture: ChangeCapture | None = None
        self.on_commit: Callable[[Changeset], None] | None = None
        self._dir_lock: TextIO | None = None

    @classmethod
    def open(cls, data_dir: str, durability: str, parameters: dict[str, object]) -> Store:
        """Open (or create) the store and check it was written with the same signature parameters."""
        if not data_dir:
            return cls._open(data_dir, durability, parameters)
        lock = _lock_data_dir(Path(data_dir))
        try:
            store = cls._open(data_dir, durability, parameters)
        except BaseException:
            lock.close()
            raise
        store._dir_lock = lock
        return store

    @classmethod
    def _open(cls, data_dir: str, durability: str, parameters: dict[str, object]) -> Store:
        location = str(Path(data_dir) / DATABASE_FILE) if data_dir else ":memory:"
        try:
            connection = sqlite3.connect(location, isolation_level=None, check_same_thread=False)
            if data_dir:
                connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(f"PRAGMA synchronous={'FULL' if durability == 'full' else 'NORMAL'}")
        except (OSError, sqlite3.OperationalError) as error:
            raise StorageUnavailable(f"cannot open the store {location}: {error}") from error
        except sqlite3.DatabaseError as error:
            raise _unusable(location, error) from error
        store = cls(connection, location)
        store._initialise(parameters)
        if data_dir:
            with store.detecting_damage():
                store._check_after_a_crash()
        return store

    @contextlib.contextmanager
    def detecting_damage(self) -> Iterator[None]:
        """Report SQLite finding the file malformed (a torn or flipped page) as DataCorrupted, naming the file."""
        try:
            yield
        except sqlite3.DatabaseError as error:
            if isinstance(error, sqlite3.OperationalError):
                raise  # locked, full, I/O: not damage
            raise self._damaged(f"SQLite reported {error}") from error

    def _initialise(self, parameters: dict[str, object]) -> None:
        try:
            # Every statement is CREATE ... IF NOT EXISTS, so this is safe on an existing store.
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as error:
            raise _unusable(self.location, error) from error
        with self.transaction():
            stored = self.get_meta("parameters")
            wanted = json.dumps({"schema": SCHEMA_VERSION, **parameters}, sort_keys=True)
            if stored is None:
                self.set_meta("parameters", wanted)
            elif stored != wanted:
                raise IncompatibleData(
                    f"the store at {self.location} was written with parameters {stored}, but this server is "
                    f"configured with {wanted}. Signatures made with other parameters cannot be compared: start "
                    f"the server with the settings the store was written with, or move the data directory aside "
                    f"and ingest the articles again.",
                    metadata={"stored": stored, "configured": wanted},
                )

    def _damaged(self, what: str) -> DataCorrupted:
        return DataCorrupted(
            f"{self.location} is damaged: {what} failed its check. Stop the server and restore the file from a "
            f"backup, or move the data directory aside and ingest the articles again.",
            metadata={"file": self.location},
        )

    def _check_after_a_crash(self) -> None:
        """Run SQLite's quick_check if the store was not closed cleanly last time; raise DataCorrupted if it fails.

        Only then: the check reads every page (seconds per GB), and a store
        closed cleanly was whole when it was closed. The first transaction of
        a run that changes anything also sets the flag, and `close` clears it:
        a run that never writes (a server started on a full disk, to serve
        reads) leaves the store as it found it.
        """
        if self.get_meta("open") == "1":
            try:
                problems = [row[0] for row in self._db.execute("PRAGMA quick_check(5)")]
            except sqlite3.DatabaseError as error:  # a page so damaged the check cannot go on
                problems = [str(error)]
            if problems != ["ok"]:
                raise self._damaged(f"SQLite's quick_check ({'; '.join(problems)})")

    def close(self) -> None:
        """Mark the store closed cleanly (so the next open skips the crash check) and close it.

        If that last write fails (a full disk), the next open checks the file:
        the safe side.
        """
        if self._marked_open:
            with contextlib.suppress(NewsdedupError), self.transaction():
                self.set_meta("open", "0")
        self._db.close()
        if self._dir_lock is not None:
            self._dir_lock.close()  # and with it the lock

    @contextlib.contextmanager
    def transaction(self, shipped: bool = True) -> Iterator[None]:
        """Run the block as one transaction: all of it is committed, or none of it.

        In a copy of a shared state, the changes are first handed to
        `on_commit` (unless not `shipped`: another replica's, being applied).
        """
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise StorageUnavailable(f"cannot start a write to the store: {error}") from error
        try:
            changes = self._db.total_changes
            yield
            if self._capture is not None and shipped:
                changeset = self._capture.collect()
                if changeset and self.on_commit is not None:
                    self.on_commit(changeset)
            elif self._capture is not None:  # not read back: a copy of the shared state would be every row
                self._capture.forget()
            marking = not self._marked_open and self._db.total_changes != changes
            if marking:  # in the same commit as the first change of this run
                self.set_meta("open", "1")
            self._db.execute("COMMIT")
            self._marked_open |= marking
        except BaseException as error:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            if isinstance(error, sqlite3.Error):
                raise StorageUnavailable(f"the store refused a write, nothing was changed: {error}") from error
            raise

    # --- a copy of a shared state (shared.py)

    def capture_changes(self) -> None:
        """From now on, capture what each write changes (for `on_commit`)."""
        self._capture = ChangeCapture(self._db)

    def replicate(self, changeset: Changeset) -> None:
        """Apply another replica's changeset, inside the caller's transaction (`shipped=False`)."""
        assert self._capture is not None, "capture_changes first"
        self._capture.apply(changeset)

    def clear_shared_tables(self) -> None:
        """Delete every shared table's rows, before copying the shared state (inside the caller's transaction)."""
        assert self._capture is not None, "capture_changes first"
        self._capture.clear()

    def put_rows(self, table: str, rows: Sequence[tuple[object, ...]]) -> None:
        """Insert rows of a shared table, in this store's column order (inside the caller's transaction)."""
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            self._db.executemany(f"INSERT OR REPLACE INTO {table} VALUES ({marks})", rows)

    def raise_sequences(self, sequences: dict[str, int]) -> None:
        assert self._capture is not None, "capture_changes first"
        self._capture.raise_sequences(sequences)

    def sequences(self) -> dict[str, int]:
        assert self._capture is not None, "capture_changes first"
        return self._capture.sequences()

    def table_pages(self, table: str, page: int = 1000) -> Iterator[TableChanges]:
        """Every row of a shared table, `page` at a time, for creating the shared state from this copy."""
        assert table in TABLES
        cursor = self._db.execute(f"SELECT * FROM {table}")
        columns = [description[0] for description in cursor.description]
        while rows := cursor.fetchmany(page):
            yield TableChanges(columns=columns, rows=rows)

    # --- metadata

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # --- articles

    def article_by_id(self, article_id: str) -> ArticleRow | None:
        row = self._db.execute(f"SELECT {_ROW_COLUMNS} FROM articles WHERE id = ?", (article_id,)).fetchone()
        return ArticleRow.from_sql(row) if row else None

    def articles_by_seq(self, seqs: Sequence[int]) -> dict[int, ArticleRow]:
        if not seqs:
            return {}
        marks = ",".join("?" * len(seqs))
        rows = self._db.execute(f"SELECT {_ROW_COLUMNS} FROM articles WHERE seq IN ({marks})", list(seqs))
        return {row[0]: ArticleRow.from_sql(row) for row in rows}

    def exact_copies(
        self, content_hash: int, limit: int, exclude: Sequence[int] = (), before: int | None = None
    ) -> list[ArticleRow]:
        """The earliest `limit` articles with this content hash (not in `exclude`, seq below `before`), earliest first.

        Low-content articles are never anyone's original. Bounded: a wire story
        syndicated thousands of times must not cost a read of every copy on
        each ingest.
        """
        marks = ",".join("?" * len(exclude))
        rows = self._db.execute(
            f"SELECT {_ROW_COLUMNS} FROM articles WHERE content_hash = ? AND seq NOT IN ({marks}) AND seq < ? "
            "AND verdict != ? ORDER BY published_at, seq LIMIT ?",
            (
                _signed(content_hash), *exclude, (1 << 63) - 1 if before is None else before,
                int(Verdict.LOW_CONTENT), limit,
            ),
        )  # fmt: skip
        return [ArticleRow.from_sql(row) for row in rows]

    def duplicates_of(self, seq: int) -> list[ArticleRow]:
        """Articles whose duplicate_of is `seq`, in ingest order."""
        rows = self._db.execute(f"SELECT {_ROW_COLUMNS} FROM articles WHERE duplicate_of = ? ORDER BY seq", (seq,))
        return [ArticleRow.from_sql(row) for row in rows]

    def salient_terms(self, seqs: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """(ids, counts) of the salient terms of each article."""
        if not seqs:
            return {}
        marks = ",".join("?" * len(seqs))
        rows = self._db.execute(
            f"SELECT seq, salient_ids, salient_counts, salient_checksum FROM article_terms WHERE seq IN ({marks})",
            list(seqs),
        )
        return {seq: self._salient(seq, ids, counts, checksum) for seq, ids, counts, checksum in rows}

    def cluster_salient_terms(self, cluster_seq: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """(ids, counts) of the salient terms of each member of a cluster: what its centroid sums."""
        rows = self._db.execute(
            "SELECT t.seq, t.salient_ids, t.salient_counts, t.salient_checksum FROM articles a "
            "JOIN article_terms t ON t.seq = a.seq WHERE a.cluster_seq = ?",
            (cluster_seq,),
        )
        return [self._salient(seq, ids, counts, checksum) for seq, ids, counts, checksum in rows]

    def _verify(self, what: str, seq: int, checksum: int, *blobs: bytes) -> None:
        """Raise DataCorrupted unless the blobs of article `seq` match the checksum stored with them."""
        if _checksum(*blobs) != checksum:
            raise self._damaged(f"the {what} of article seq {seq}")

    def _salient(self, seq: int, ids: bytes, counts: bytes, checksum: int) -> tuple[np.ndarray, np.ndarray]:
        self._verify("salient terms", seq, checksum, ids, counts)
        return np.frombuffer(ids, dtype=np.uint64), np.frombuffer(counts, dtype=np.float64)

    def present(self, table: str, seqs: Iterable[int]) -> list[int]:
        """Which of these sequence numbers have a row in `table` (articles, article_terms, ...)."""
        seqs = list(seqs)
        found: list[int] = []
        for start in range(0, len(seqs), 500):
            chunk = seqs[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            found += [seq for (seq,) in self._db.execute(f"SELECT seq FROM {table} WHERE seq IN ({marks})", chunk)]
        return found

    def term_buckets(self, seq: int) -> np.ndarray:
        blob, checksum = self._db.execute(
            "SELECT term_buckets, buckets_checksum FROM article_terms WHERE seq = ?", (seq,)
        ).fetchone()
        self._verify("term counts", seq, checksum, blob)
        return np.frombuffer(blob, dtype=np.uint32)

    def oldest(self, limit: int, published_before: int | None = None) -> list[ArticleRow]:
        """The `limit` articles published first (optionally only those published before a time), oldest first."""
        if published_before is None:
            query, arguments = "", [limit]
        else:
            query, arguments = "WHERE published_at < ? ", [published_before, limit]
        rows = self._db.execute(
            f"SELECT {_ROW_COLUMNS} FROM articles INDEXED BY articles_by_age {query}ORDER BY published_at, seq LIMIT ?",
            arguments,
        )
        return [ArticleRow.from_sql(row) for row in rows]

    def article_count(self) -> int:
        (count,) = self._db.execute("SELECT count(*) FROM articles").fetchone()
        return int(count)

    def article_texts(self, seqs: Sequence[int]) -> dict[int, tuple[str, str, str]]:
        """(title, body, source) of each stored article among `seqs`."""
        if not seqs:
            return {}
        marks = ",".join("?" * len(seqs))
        rows = self._db.execute(f"SELECT seq, title, body, source FROM articles WHERE seq IN ({marks})", list(seqs))
        return {seq: (title, body, source) for seq, title, body, source in rows}

    # --- learned chrome

    def save_source_lines(self, source: str, counts: bytes) -> None:
        # REPLACE deletes and inserts, so the row moves to the end of rowid order.
        self._db.execute("INSERT OR REPLACE INTO source_lines (source, counts) VALUES (?, ?)", (source, counts))

    def forget_source_lines(self, source: str) -> None:
        self._db.execute("DELETE FROM source_lines WHERE source = ?", (source,))

    def source_lines(self) -> Iterator[tuple[str, bytes]]:
        """Every source's line counts, least recently observed first."""
        yield from self._db.execute("SELECT source, counts FROM source_lines ORDER BY rowid")

    def insert_article(self, article: NewArticle) -> int:
        cursor = self._db.execute(
            "INSERT INTO articles (id, title, body, url, source, language, published_at, ingested_at, content_hash, "
            "verdict, duplicate_of, cluster_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                article.id, article.title, article.body, article.url, article.source, article.language,
                article.published_at, article.ingested_at, _signed(article.content_hash), int(article.verdict),
                article.duplicate_of, article.cluster_seq,
            ),
        )  # fmt: skip
        seq = cursor.lastrowid
        assert seq is not None
        if article.near_signature is not None and article.story_signature is not None:
            near = article.near_signature.astype(np.uint32).tobytes()
            story = article.story_signature.astype(np.uint32).tobytes()
            self._db.execute(
                "INSERT INTO article_signatures (seq, near_signature, story_signature, checksum) VALUES (?, ?, ?, ?)",
                (seq, near, story, _checksum(near, story)),
            )
        ids, counts = (
            article.salient_ids.astype(np.uint64).tobytes(),
            article.salient_counts.astype(np.float64).tobytes(),
        )
        buckets = article.term_buckets.astype(np.uint32).tobytes()
        self._db.execute(
            "INSERT INTO article_terms (seq, salient_ids, salient_counts, term_buckets, salient_checksum, "
            "buckets_checksum) VALUES (?, ?, ?, ?, ?, ?)",
            (seq, ids, counts, buckets, _checksum(ids, counts), _checksum(buckets)),
        )
        return seq

    def set_verdict(self, seq: int, verdict: Verdict, duplicate_of: int | None) -> None:
        self._db.execute(
            "UPDATE articles SET verdict = ?, duplicate_of = ? WHERE seq = ?", (int(verdict), duplicate_of, seq)
        )

    def delete_article(self, seq: int) -> None:
        for table in ("articles", "article_signatures", "article_terms"):
            self._db.execute(f"DELETE FROM {table} WHERE seq = ?", (seq,))

    def signatures(self, num_perm: int, story_num_perm: int, chunk: int = 1 << 16) -> Iterator[SignatureChunk]:
        """Every indexed article's signatures (low-content articles have none), in ingest order, `chunk` at a time."""
        rows = self._db.execute(
            "SELECT seq, near_signature, story_signature, checksum FROM article_signatures ORDER BY seq"
        )
        while batch := rows.fetchmany(chunk):
            seqs, near, story, checksums = zip(*batch, strict=True)
            for seq, near_blob, story_blob, checksum in zip(seqs, near, story, checksums, strict=True):
                self._verify("signatures", seq, checksum, near_blob, story_blob)
            near_bytes, story_bytes = b"".join(near), b"".join(story)
            if len(near_bytes) != 4 * num_perm * len(seqs) or len(story_bytes) != 4 * story_num_perm * len(seqs):
                raise IncompatibleData(f"{self.location} holds signatures of the wrong length")
            yield SignatureChunk(
                np.array(seqs, dtype=np.int64),
                np.frombuffer(near_bytes, dtype=np.uint32).reshape(len(seqs), num_perm),
                np.frombuffer(story_bytes, dtype=np.uint32).reshape(len(seqs), story_num_perm),
            )

    def article_clusters(self, chunk: int = 1 << 16) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(seqs, cluster seqs) of every stored article, `chunk` at a time, from the covering cluster index."""
        rows = self._db.execute("SELECT seq, cluster_seq FROM articles INDEXED BY articles_by_cluster")
        while batch := rows.fetchmany(chunk):
            pairs = np.array(batch, dtype=np.int64)
            yield pairs[:, 0], pairs[:, 1]

    def cluster_spans(self, chunk: int = 1 << 16) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(seqs, first published, last published) of every cluster, `chunk` at a time."""
        rows = self._db.execute("SELECT seq, first_published_at, last_published_at FROM clusters")
        while batch := rows.fetchmany(chunk):
            spans = np.array(batch, dtype=np.int64)
            yield spans[:, 0], spans[:, 1], spans[:, 2]

    def term_sets(self, chunk: int = 1 << 14) -> Iterator[TermChunk]:
        """Every stored article's document buckets, `chunk` articles at a time."""
        rows = self._db.execute("SELECT seq, term_buckets, buckets_checksum FROM article_terms")
        while batch := rows.fetchmany(chunk):
            for seq, blob, checksum in batch:
                self._verify("term counts", seq, checksum, blob)
            batch = [(blob,) for _, blob, _ in batch]
            lengths = np.array([len(blob) // 4 for (blob,) in batch])
            yield TermChunk(
                np.frombuffer(b"".join(blob for (blob,) in batch), dtype=np.uint32),
                np.concatenate(([0], np.cumsum(lengths))),
            )

    # --- clusters

    def create_cluster(self, published_at: int, now: int) -> int:
        """A new, empty cluster (the caller adds its first article); returns its seq."""
        cursor = self._db.execute(
            "INSERT INTO clusters (id, size, first_published_at, last_published_at, created_at, updated_at) "
            "VALUES ('', 0, ?, ?, ?, ?)",
            (published_at, published_at, now, now),
        )
        seq = cursor.lastrowid
        assert seq is not None
        self._db.execute("UPDATE clusters SET id = ? WHERE seq = ?", (cluster_id_for(seq), seq))
        return seq

    def add_to_cluster(self, cluster_seq: int, published_at: int, now: int) -> None:
        self._db.execute(
            "UPDATE clusters SET size = size + 1, first_published_at = min(first_published_at, ?), "
            "last_published_at = max(last_published_at, ?), updated_at = ? WHERE seq = ?",
            (published_at, published_at, now, cluster_seq),
        )

    def refresh_cluster(self, cluster_seq: int, now: int) -> ClusterRow | None:
        """Recompute a cluster's aggregates from its members; delete it (and its aliases) if it has none.

        Returns the cluster as it is now, or None once it is deleted.
        """
        size, first, last = self._db.execute(
            "SELECT count(*), min(published_at), max(published_at) FROM articles WHERE cluster_seq = ?",
            (cluster_seq,),
        ).fetchone()
        if size == 0:
            self._db.execute("DELETE FROM clusters WHERE seq = ?", (cluster_seq,))
            self._db.execute("DELETE FROM cluster_aliases WHERE cluster_seq = ?", (cluster_seq,))
            return None
        self._db.execute(
            "UPDATE clusters SET size = ?, first_published_at = ?, last_published_at = ?, updated_at = ? WHERE seq = ?",
            (size, first, last, now, cluster_seq),
        )
        return self.cluster(cluster_seq)

    def merge_clusters(self, survivor: int, merged: Sequence[int], now: int) -> None:
        """Move every article of `merged` into `survivor`; the merged ids become aliases of the survivor."""
        for seq in merged:
            self._db.execute("UPDATE articles SET cluster_seq = ? WHERE cluster_seq = ?", (survivor, seq))
            self._db.execute("UPDATE cluster_aliases SET cluster_seq = ? WHERE cluster_seq = ?", (survivor, seq))
            self._db.execute(
                "INSERT INTO cluster_aliases (alias, cluster_seq) VALUES (?, ?)", (cluster_id_for(seq), survivor)
            )
            self._db.execute("DELETE FROM clusters WHERE seq = ?", (seq,))
        self.refresh_cluster(survivor, now)

    def cluster(self, cluster_seq: int) -> ClusterRow | None:
        row = self._db.execute(
            "SELECT seq, id, size, first_published_at, last_published_at, created_at, updated_at "
            "FROM clusters WHERE seq = ?",
            (cluster_seq,),
        ).fetchone()
        return ClusterRow(*row) if row else None

    def resolve_cluster(self, cluster_id: str) -> int | None:
        """The seq of the cluster with this id, or of the cluster it was merged into."""
        row = self._db.execute("SELECT seq FROM clusters WHERE id = ?", (cluster_id,)).fetchone()
        if row is None:
            row = self._db.execute("SELECT cluster_seq FROM cluster_aliases WHERE alias = ?", (cluster_id,)).fetchone()
        return row[0] if row else None

    def cluster_members(self, cluster_seq: int) -> list[ArticleRow]:
        """The cluster's articles in publication order."""
        rows = self._db.execute(
            f"SELECT {_ROW_COLUMNS} FROM articles WHERE cluster_seq = ? ORDER BY published_at, seq", (cluster_seq,)
        )
        return [ArticleRow.from_sql(row) for row in rows]

    def cluster_aliases(self, cluster_seq: int) -> list[str]:
        rows = self._db.execute(
            "SELECT alias FROM cluster_aliases WHERE cluster_seq = ? ORDER BY alias", (cluster_seq,)
        )
        return [alias for (alias,) in rows]

    def list_clusters(
        self, order: ClusterOrder, min_size: int, after: tuple[int, int] | None, limit: int
    ) -> list[ClusterRow]:
        """Clusters of at least `min_size` in `order`, starting after the (sort value, seq) key `after`."""
        column = "size" if order == ClusterOrder.LARGEST else "updated_at"
        query = (
            "SELECT seq, id, size, first_published_at, last_published_at, created_at, updated_at FROM clusters "
            "WHERE size >= ?"
        )
        arguments: list[int] = [min_size]
        if after is not None:
            query += f" AND ({column} < ? OR ({column} = ? AND seq > ?))"
            arguments += [after[0], after[0], after[1]]
        query += f" ORDER BY {column} DESC, seq LIMIT ?"
        arguments.append(limit)
        return [ClusterRow(*row) for row in self._db.execute(query, arguments)]

    # --- counts

    def counts(self) -> Counts:
        articles, exact, near = self._db.execute(
            "SELECT count(*), coalesce(sum(verdict = ?), 0), coalesce(sum(verdict = ?), 0) FROM articles",
            (int(Verdict.EXACT_DUPLICATE), int(Verdict.NEAR_DUPLICATE)),
        ).fetchone()
        clusters, multi = self._db.execute("SELECT count(*), coalesce(sum(size > 1), 0) FROM clusters").fetchone()
        return Counts(articles, clusters, multi, exact, near)
