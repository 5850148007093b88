"""The use cases of newsdedup: ingest, check, look up, search, compare, delete.

No gRPC here: the API edge converts messages to `models` values, calls one
method, and converts the answer back.

How an article is judged (see the README's "How it works"):

1. Outside the lock, its text is normalised, tokenised, shingled and signed
   (`signatures.Fingerprinter`); that is most of the CPU time.
2. Under the lock, the near-duplicate LSH yields candidates, verified against
   the stored signatures; the content hash finds exact copies. The verdict and
   `duplicate_of` (the earliest published duplicate) follow.
3. The story tier picks the article's salient terms, signs them, and its LSH
   yields candidate articles whose clusters are scored (`stories.place`).
4. Everything is written in one SQLite transaction; the in-memory state
   (indexes, centroids, document frequencies) is changed alongside, and each
   change registers an undo step so that a failed commit leaves memory exactly
   as it was. Only after the commit is the result returned.

Thread safety: datasketch's MinHashLSH is not safe under concurrent mutation,
and the store and centroids must change together, so every method that
touches shared state holds one lock; text analysis runs before taking it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import numpy as np

from newsdedup import stories, text
from newsdedup.boilerplate import RecurringLines
from newsdedup.changesets import Changeset
from newsdedup.config import Settings
from newsdedup.errors import (
    CapacityExhausted,
    Conflict,
    DeadlineExceeded,
    InvalidArgument,
    NewsdedupError,
    NotFound,
    StorageUnavailable,
)
from newsdedup.explanations import Side, explain
from newsdedup.index import SignatureIndex
from newsdedup.models import (
    ArticleInput,
    ArticleResult,
    ClusterOrder,
    ClusterPage,
    ClusterView,
    Comparison,
    IndexParameters,
    Match,
    Relation,
    Stats,
    StoredArticle,
    TierParameters,
    Verdict,
)
from newsdedup.pagination import PagePosition, PageTokens
from newsdedup.replica import SharedCopy
from newsdedup.shared import LEASE_AFTER_LOSSES, Behind, Leased, Stale, lease_seconds
from newsdedup.signatures import (
    SCHEME,
    Analysis,
    Fingerprinter,
    OnePermutationHasher,
    article_text,
    estimate_jaccard,
    exact_jaccard,
)
from newsdedup.store import ArticleRow, ClusterRow, NewArticle, Store, cluster_id_for
from newsdedup.stories import TermVector

log = logging.getLogger(__name__)

DEFAULT_SEARCH_RESULTS = 10
MAX_SEARCH_RESULTS = 1000
# Expired articles evicted by an ingest beyond the size of its batch: a backlog (after a pause,
# or a shorter retention) drains a little faster than articles arrive, without stalling one call.
EVICTIONS_PER_BATCH = 100
# Near-duplicate candidates judged by exact Jaccard per article (see _find_duplicates): each
# costs a stored text read and shingled, so a story rewritten hundreds of times stays cheap.
NEAR_VERIFICATIONS = 32
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
# Reports of one event share only about an eighth of their salient terms, so
# the story LSH must find pairs near Jaccard 0.1; a missed candidate costs a
# split story while an extra one costs one cosine. Weighing misses higher makes
# datasketch's optimiser choose one-row bands (22 x 1 at threshold 0.1), which
# on ECB+ finds more of each story than 64 x 2 with a third of the memory.
STORY_LSH_WEIGHTS = (0.3, 0.7)
# Story-LSH candidates considered per article, most similar salient-term sets first.
STORY_CANDIDATES = 50
# Newest articles taken from each story-LSH bucket. With one-row bands a bucket is
# one story term's minimum: a term common across stories fills a bucket with
# thousands of articles, and candidates grew linearly with the store (2,600 per
# query at 100k). A story's recent articles share many buckets, so the newest few
# of each find it.
STORY_BUCKET_LIMIT = 64
# How many shared shingles and terms CompareArticles shows.
# Bumped whenever tokenisation or hashing changes what a text hashes to.
HASHING_VERSION = 5

_MICROS = 1_000_000
_MICROS_PER_DAY = 86_400 * _MICROS
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Undo = list[Callable[[], None]]
_T = TypeVar("_T")
# With a shared store, how often a write is judged again because another replica committed first.
WRITE_ATTEMPTS = 20


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _MICROS + delta.microseconds


def _check_deadline(deadline: float | None) -> None:
    """Called just before a commit: a caller that gave up (or whose deadline passed waiting for the lock)
    must not find its write done behind its back."""
    if deadline is not None and time.monotonic() > deadline:
        raise DeadlineExceeded("the call's deadline passed before its write was committed; nothing was stored")


def from_micros(micros: int) -> datetime:
    # Integer arithmetic: a float round trip can carry 0.999999 s over into the next second.
    return _EPOCH + timedelta(microseconds=micros)


@dataclass(frozen=True)
class _Duplicates:
    """The stored articles with the same text (earliest first) and nearly the same text (most similar first)."""

    exact: list[ArticleRow]
    near: list[tuple[ArticleRow, float]]

    @property
    def verdict(self) -> Verdict:
        if self.exact:
            return Verdict.EXACT_DUPLICATE
        return Verdict.NEAR_DUPLICATE if self.near else Verdict.UNIQUE

    @property
    def original(self) -> ArticleRow | None:
        """The earliest published article duplicated: an exact copy if there is one."""
        if self.exact:
            return self.exact[0]
        if self.near:
            return min((row for row, _ in self.near), key=lambda row: row.age_key)
        return None

    @property
    def seqs(self) -> set[int]:
        return {row.seq for row in self.exact} | {row.seq for row, _ in self.near}


@dataclass(frozen=True)
class _Judged:
    """An article's text as it is judged (title and body without chrome) and the analysis of that text."""

    text: str
    analysis: Analysis


@dataclass(frozen=True)
class StoryCandidate:
    """A stored article the story LSH found (most similar story signatures first), with its cluster.

    No article row is read for most of them: only the few reported as matches.
    """

    seq: int
    cluster_seq: int


@dataclass(frozen=True)
class _Assessment:
    """Everything decided about an article before anything is written."""

    duplicates: _Duplicates
    salient: TermVector
    story_signature: np.ndarray
    story_candidates: list[StoryCandidate]
    placement: stories.Placement
    low_content: bool = False  # too thin to judge: no duplicates, no candidates, a story of its own

    @property
    def verdict(self) -> Verdict:
        return Verdict.LOW_CONTENT if self.low_content else self.duplicates.verdict


class Engine:
    """The newsdedup core: one instance per data directory."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))
        self._fingerprinter = Fingerprinter(settings.num_perm, settings.seed, settings.shingle_size)
        self._story_hasher = OnePermutationHasher(settings.story_num_perm, settings.seed)
        # A copy of a shared state needs no fsync of its own: what is acknowledged is in Redis first.
        durability = "normal" if settings.store else settings.durability
        self._store = Store.open(settings.data_dir, durability, self._signature_parameters())
        # Four standard deviations of the MinHash estimate at the threshold (0.18 at 128 bins):
        # an estimate further from the threshold than this is on the wrong side once in 30,000 pairs.
        t = settings.near_threshold
        self._near_margin = 4 * math.sqrt(t * (1 - t) / settings.num_perm)
        # Articles evicted since this engine started, by cause (a metric; a rolled-back write takes its own back).
        self._evicted = {"retention": 0, "capacity": 0}
        # With a shared store (metrics): other replicas' writes applied here, and this replica's writes
        # judged again because another one committed first. Conflicts that keep rising mean replicas
        # spend their time redoing each other's work.
        self._replication = {"applied": 0, "conflicts": 0}
        self._lock = threading.Lock()
        self._shared: SharedCopy | None = None
        if settings.store:
            self._shared = SharedCopy(settings.store, self._store)
            try:
                self._shared.join(self._page_token_key().hex())
            except BaseException:
                self._shared.close()
                self._store.close()
                raise
        self._page_tokens = PageTokens(self._page_token_key())
        self._rebuild()
        with self._current():  # the writes committed while the indexes were loading
            pass

    def _new_indexes(self) -> None:
        """Empty in-memory indexes, for `_load_indexes` to fill."""
        s = self.settings
        self._near = SignatureIndex(num_perm=s.num_perm, lsh_threshold=s.near_lsh_threshold)
        self._story = SignatureIndex(
            num_perm=s.story_num_perm,
            lsh_threshold=s.story_lsh_threshold,
            weights=STORY_LSH_WEIGHTS,
            bucket_limit=STORY_BUCKET_LIMIT,
        )
        self._terms = stories.TermStatistics(s.term_prior_weight, s.story_term_share)
        self._centroids = stories.Centroids(self._load_centroid, s.centroid_cache)
        self._memberships = stories.Memberships()
        self._spans = stories.ClusterSpans()
        self._recurring = RecurringLines()
        self._article_count = self._store.article_count()

    def _signature_parameters(self) -> dict[str, object]:
        """What stored signatures depend on; a store written with other values is refused."""
        s = self.settings
        return {
            "scheme": SCHEME,
            "hashing": HASHING_VERSION,
            "num_perm": s.num_perm,
            "story_num_perm": s.story_num_perm,
            "seed": s.seed,
            "shingle_size": s.shingle_size,
            "salient_terms": s.salient_terms,
            "df_buckets": stories.DF_BUCKETS,
        }

    def _page_token_key(self) -> bytes:
        with self._store.transaction():
            key = self._store.get_meta("page_token_key")
            if key is None:
                key = secrets.token_hex(32)
                self._store.set_meta("page_token_key", key)
        return bytes.fromhex(key)

    def _rebuild(self) -> None:
        """Load every stored article's signatures and terms into new in-memory indexes."""
        started = time.perf_counter()
        self._new_indexes()
        with self._store.detecting_damage():
            self._load_indexes()
        log.info(
            "loaded %d articles from %s in %.1f s", len(self._near), self._store.location, time.perf_counter() - started
        )

    def _load_indexes(self) -> None:
        s = self.settings
        for chunk in self._store.signatures(s.num_perm, s.story_num_perm):
            self._near.insert_many(chunk.seqs, chunk.near)
            self._story.insert_many(chunk.seqs, chunk.story)
        for terms in self._store.term_sets():
            self._terms.add_many(terms.buckets, terms.offsets)
        for seqs, clusters in self._store.article_clusters():
            self._memberships.assign(seqs, clusters)
        for clusters, first, last in self._store.cluster_spans():
            self._spans.set(clusters, first, last)
        for source, counts in self._store.source_lines():
            self._recurring.load(source, counts)

    def _load_centroid(self, cluster: int) -> TermVector:
        """A cluster's centroid from the store: the sum of its members' salient terms."""
        members = self._store.cluster_salient_terms(cluster)
        if not members:
            return stories.EMPTY_VECTOR
        ids, counts = zip(*members, strict=True)
        return stories.sum_vectors(np.concatenate(ids), np.concatenate(counts))

    def close(self) -> None:
        with self._lock:
            self._store.close()
            if self._shared is not None:
                self._shared.close()

    # --- the shared state (--store redis://...)

    @contextlib.contextmanager
    def _current(self) -> Iterator[None]:
        """Hold the lock, with this replica's copy caught up with every write committed anywhere before.

        The log is read before the lock is taken, so that concurrent calls do
        not queue behind each other's round trip to Redis; under the lock,
        what was read is applied, unless another call moved the copy on
        meanwhile (then the log is read again). Without a shared store, only
        the lock.
        """
        shared = self._shared
        if shared is None:
            with self._lock:
                yield
            return
        position = shared.position
        try:
            read: list[tuple[str, Changeset]] | None = list(shared.changes(position))
        except Behind:
            read = None  # copied again under the lock
        with self._lock:
            if read is not None and shared.position == position:
                for entry, changeset in read:
                    self._apply_shared(changeset, entry, shared)
            else:
                self._catch_up(shared)
            yield

    def _catch_up(self, shared: SharedCopy) -> None:
        try:
            for position, changeset in shared.changes(shared.position):
                self._apply_shared(changeset, position, shared)
        except Behind:
            log.warning("this replica fell behind the shared log; copying the shared state again")
            shared.copy()
            self._rebuild()

    def _apply_shared(self, changeset: Changeset, position: str, shared: SharedCopy) -> None:
        """Apply another replica's write: to the store, then to the in-memory indexes, as if made here."""
        terms = changeset.rows("article_terms")
        replaced = self._store.present(
            "article_terms", [*terms.deleted_integers().tolist(), *terms.integers("seq").tolist()]
        )
        old_buckets = [self._store.term_buckets(seq) for seq in replaced]
        articles = changeset.rows("articles")
        touched = [*articles.deleted_integers().tolist(), *articles.integers("seq").tolist()]
        stored_before = len(self._store.present("articles", touched))
        with self._store.transaction(shipped=False):
            self._store.replicate(changeset)
            shared.applied(position)
        shared.position = position
        self._replication["applied"] += 1
        self._article_count += len(self._store.present("articles", touched)) - stored_before
        removed = articles.deleted_integers()
        for seq in removed.tolist():
            self._near.remove(seq)
            self._story.remove(seq)
        self._memberships.forget(removed)
        for buckets in old_buckets:
            self._terms.remove(buckets)
        for buckets in terms.uint32_arrays("term_buckets"):
            self._terms.add(buckets)
        signatures = changeset.rows("article_signatures")
        near, story = signatures.uint32_arrays("near_signature"), signatures.uint32_arrays("story_signature")
        for seq, near_signature, story_signature in zip(signatures.integers("seq").tolist(), near, story, strict=True):
            if seq not in self._near:
                self._near.insert(seq, near_signature)
                self._story.insert(seq, story_signature)
        self._memberships.assign(articles.integers("seq"), articles.integers("cluster_seq"))
        clusters = changeset.rows("clusters")
        spans = clusters.integers("first_published_at"), clusters.integers("last_published_at")
        self._spans.set(clusters.integers("seq"), *spans)
        gone = clusters.deleted_integers()
        self._spans.set(gone, *(np.full(len(gone), end) for end in stories.UNKNOWN_SPAN))
        for cluster in gone.tolist():
            self._memberships.forget_cluster(cluster)
        for cluster in [*clusters.integers("seq").tolist(), *gone.tolist()]:
            self._centroids.drop(cluster)  # loaded again from the store when next needed
        lines = changeset.rows("source_lines")
        for source, counts in zip(lines.column("source"), lines.column("counts"), strict=True):
            self._recurring.load(str(source), bytes(counts))  # type: ignore[call-overload]
        for source in lines.deleted:
            self._recurring.drop(str(source))

    def _writing(self, body: Callable[[Undo, list[int]], _T], deadline: float | None = None) -> _T:
        """Run `body` as one write (`_write`), under the lock; with a shared store, judged again on a copy
        caught up anew when another replica committed first, up to WRITE_ATTEMPTS times.

        A write that lost twice in a row goes next: it takes the write lease
        and is judged again holding it, which no other replica's commit can
        overtake. A write refused because another replica holds the lease,
        or that sees it held when it catches up (before it is judged, so
        not judged in vain), waits until it ends (see shared.py). Both wait
        outside the lock, so that reads go on, and until `deadline` at most.
        """
        lease, losses = "", 0
        try:
            for _ in range(WRITE_ATTEMPTS):
                started = time.monotonic()
                refused: Stale | None = None
                with self._current():
                    # Unless it is another replica's turn (it holds the lease): a commit now would be refused.
                    if self._shared is None or not self._shared.shared.leased_to_another(lease):
                        try:
                            with self._write(lease) as (undo, removed):
                                return body(undo, removed)
                        except Stale as lost:
                            self._replication["conflicts"] += 1  # under the lock, which _current still holds
                            refused = lost
                assert self._shared is not None  # only a shared store raises Stale or has a lease
                state = self._shared.shared
                if refused is not None:
                    losses += 1
                    if lease:  # it lapsed while the write was judged: take it anew
                        state.release_lease(lease)
                        lease = ""
                if refused is not None and losses >= LEASE_AFTER_LOSSES:
                    lease = state.take_lease(lease_seconds(time.monotonic() - started), until=deadline)
                elif refused is None or isinstance(refused, Leased):
                    state.await_lease_end(until=deadline)
                _check_deadline(deadline)
            raise StorageUnavailable(
                f"other replicas committed first {WRITE_ATTEMPTS} times in a row; nothing was stored, try again"
            )
        except BaseException:
            if lease and self._shared is not None:  # a commit that holds it ends it; a failed write gives it back
                self._shared.shared.release_lease(lease)
            raise

    def _now(self) -> int:
        return to_micros(self._clock())

    @staticmethod
    def _published(article: ArticleInput, now: int) -> int:
        """When an article was published, in microseconds: as given, else now (its ingest time)."""
        return to_micros(article.published_at) if article.published_at else now

    # --- validation and analysis (no lock)

    def _validate_id(self, article_id: str, *, required: bool) -> None:
        if not article_id.strip():
            if required:
                raise InvalidArgument("article id is required and must not be blank", reason="MISSING_ID")
            return
        if len(article_id) > self.settings.max_id_length:
            raise InvalidArgument(
                f"article id is {len(article_id)} characters long; the limit is {self.settings.max_id_length}",
                reason="ID_TOO_LONG",
                metadata={"limit": str(self.settings.max_id_length), "length": str(len(article_id))},
            )
        if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in article_id):
            raise InvalidArgument(
                f"article id {article_id!r} contains control characters",
                reason="INVALID_ID",
                metadata={"article_id": article_id},
            )

    def _judged_texts(self, articles: Sequence[ArticleInput]) -> list[str]:
        """The text each article is judged by: title and body without known or learned chrome.

        The learned lines of each source are read under the lock, once per
        source, with this replica's copy caught up (`_current`); the stripping
        itself runs outside it. So a call that analyses its articles first
        has its copy caught up with every write committed before it began,
        and reads on under the lock alone: no second round trip to Redis.
        """
        sources = {article.source for article in articles if article.source}
        with self._current():
            learned = {source: self._recurring.learned(source) for source in sources}
        return [article_text(a.title, a.body, learned.get(a.source, frozenset())) for a in articles]

    def _analyze_many(self, articles: Sequence[ArticleInput], *, id_required: bool) -> list[_Judged | InvalidArgument]:
        """Validate articles and analyse their judged texts in one batch; a bad article gets the error saying why.

        Catches this replica's copy up (see `_judged_texts`).
        """
        outcomes: list[_Judged | InvalidArgument | None] = []
        positions: list[int] = []
        for i, article in enumerate(articles):
            try:
                self._validate(article, id_required=id_required)
            except InvalidArgument as error:
                outcomes.append(error)
                continue
            outcomes.append(None)
            positions.append(i)
        texts = self._judged_texts([articles[i] for i in positions])
        for i, judged, analysis in zip(positions, texts, self._fingerprinter.analyze_batch(texts), strict=True):
            if analysis is None:
                outcomes[i] = InvalidArgument(
                    f"article {articles[i].id!r} has no words in its title or body (after removing site chrome)",
                    reason="NO_USABLE_TEXT",
                    metadata={"article_id": articles[i].id},
                )
            else:
                outcomes[i] = _Judged(judged, analysis)
        return [outcome for outcome in outcomes if outcome is not None]

    def _analyze_all(self, articles: Sequence[ArticleInput]) -> list[_Judged]:
        """Validate and analyse texts to check, search by or compare (ids optional); raises InvalidArgument
        saying what is wrong with the first bad one. Catches this replica's copy up (see `_judged_texts`)."""
        outcomes = self._analyze_many(articles, id_required=False)
        for outcome in outcomes:
            if isinstance(outcome, InvalidArgument):
                raise outcome
        return [outcome for outcome in outcomes if isinstance(outcome, _Judged)]

    def _validate(self, article: ArticleInput, *, id_required: bool) -> None:
        self._validate_id(article.id, required=id_required)
        size = len(article.title.encode("utf-8", "surrogatepass")) + len(article.body.encode("utf-8", "surrogatepass"))
        if size > self.settings.max_text_bytes:
            raise InvalidArgument(
                f"article {article.id!r} has {size} bytes of title and body; the limit is "
                f"{self.settings.max_text_bytes} bytes (max_text_bytes)",
                reason="TEXT_TOO_LARGE",
                metadata={"limit": str(self.settings.max_text_bytes), "size": str(size), "article_id": article.id},
            )

    def _story_features(self, analyses: Sequence[Analysis]) -> list[tuple[TermVector, np.ndarray]]:
        """Each article's salient terms (for cluster centroids) and story signature (over its story terms).

        Under the lock: both read the document frequencies.
        """
        if not analyses:
            return []
        batch = text.concatenate_terms([analysis.terms for analysis in analyses])
        salient = stories.select_salient(batch, self._terms, self.settings.salient_terms)
        story_terms = stories.story_set(batch.ids, batch.offsets, self._terms)
        signatures = self._story_hasher.sign_batch(*story_terms)
        return [(stories.vector(salient.text(i)), signatures[i]) for i in range(len(analyses))]

    # --- evidence (under the lock)

    def _find_duplicates(
        self,
        near_signature: np.ndarray,
        content_hash: int,
        shingle_set: Callable[[], np.ndarray],
        limit: int,
        exclude: frozenset[int] = frozenset(),
        before: int | None = None,
    ) -> _Duplicates:
        """Stored exact and near duplicates, optionally only those ingested before seq `before`.

        Exact copies: the earliest `limit` (the most any result reports).
        Near duplicates: the MinHash estimate decides only where it is sure.
        Within `_near_margin` (four standard deviations) of the threshold it
        is a coin toss for pairs just either side, so those candidates are
        judged by exact Jaccard, from the stored texts and `shingle_set()`
        (the article's distinct shingles, computed only when needed), and
        report it as their similarity. At most NEAR_VERIFICATIONS are
        verified, the closest estimates first; any beyond are judged by estimate.
        """

        def eligible(seq: int) -> bool:
            return seq not in exclude and (before is None or seq < before)

        exact = self._store.exact_copies(content_hash, limit, sorted(exclude), before)
        exact_seqs = {row.seq for row in exact}
        threshold, margin = self.settings.near_threshold, self._near_margin
        candidates = [
            (seq, estimate)
            for seq, estimate in self._near.query(near_signature, threshold - margin)
            if eligible(seq) and seq not in exact_seqs
        ]
        sure = [(seq, estimate) for seq, estimate in candidates if estimate >= threshold + margin]
        unsure = [(seq, estimate) for seq, estimate in candidates if estimate < threshold + margin]
        verify, unverified = unsure[:NEAR_VERIFICATIONS], unsure[NEAR_VERIFICATIONS:]
        verified: list[tuple[int, float]] = []
        if verify:
            mine = shingle_set()
            texts = self._stored_texts([seq for seq, _ in verify])
            stored = self._fingerprinter.shingle_sets(list(texts.values()))
            verified = [(seq, exact_jaccard(mine, theirs)) for seq, theirs in zip(texts, stored, strict=True)]
        hits = sure + [(seq, similarity) for seq, similarity in verified + unverified if similarity >= threshold]
        hits.sort(key=lambda hit: -hit[1])  # stable: equal similarities keep the index's newest-first order
        rows = self._store.articles_by_seq([seq for seq, _ in hits])
        near = [(rows[seq], similarity) for seq, similarity in hits if seq in rows]
        return _Duplicates(exact=exact, near=near)

    def _stored_texts(self, seqs: Sequence[int]) -> dict[int, str]:
        """The texts stored articles are judged by (title and body without chrome), for those still stored.

        An article evicted earlier in the same write is still in the LSH
        indexes until the commit, so a candidate may be missing here.
        """
        texts = self._store.article_texts(seqs)
        learned = {source: self._recurring.learned(source) for _, _, source in texts.values() if source}
        return {
            seq: article_text(title, body, learned.get(source, frozenset()))
            for seq, (title, body, source) in texts.items()
        }

    def _stored_shingle_set(self, seq: int) -> np.ndarray:
        return self._fingerprinter.shingle_sets([self._stored_texts([seq])[seq]])[0]

    def _find_story_candidates(self, story_signature: np.ndarray, exclude: frozenset[int]) -> list[StoryCandidate]:
        hits = self._story.query(story_signature, 0.0, limit=STORY_CANDIDATES + len(exclude))
        seqs = [seq for seq, _ in hits if seq not in exclude][:STORY_CANDIDATES]
        clusters = self._memberships.clusters_of(np.array(seqs, dtype=np.int64)).tolist()
        return [StoryCandidate(seq, cluster) for seq, cluster in zip(seqs, clusters, strict=True) if cluster >= 0]

    def _is_single_article_cluster(self, cluster: int) -> bool:
        row = self._store.cluster(cluster)
        return row is not None and row.size == 1

    def _in_story_window(self, clusters: list[int], published: int) -> list[bool]:
        """Whether each cluster is still open to an article published at `published` (see ClusterSpans)."""
        window = round(self.settings.story_window_days * _MICROS_PER_DAY)
        return self._spans.reach(np.array(clusters, dtype=np.int64), published, window).tolist()

    def _assess(
        self,
        analysis: Analysis,
        salient: TermVector,
        story_signature: np.ndarray,
        published: int,
        limit: int,
        pending: np.ndarray | None,
    ) -> _Assessment:
        """Decide verdict and cluster for an article published at `published` that is not stored (yet).

        Only clusters whose span it falls within the story window of are
        candidates, those of its duplicates included: an old text published
        again a year later is still a duplicate, but of a story long closed.
        An article with fewer than min_content_words words (what is left of
        a consent wall or a rate-limit page once chrome is stripped) is not
        compared at all: a match on a few words would be a confident answer
        about nothing.
        """
        if analysis.token_count < self.settings.min_content_words:
            nothing = _Duplicates(exact=[], near=[])
            return _Assessment(nothing, salient, story_signature, [], stories.NEW_STORY, low_content=True)
        duplicates = self._find_duplicates(analysis.near_signature, analysis.content_hash, analysis.shingle_set, limit)
        candidates = self._find_story_candidates(story_signature, frozenset())
        in_window = self._in_story_window([candidate.cluster_seq for candidate in candidates], published)
        candidates = [candidate for candidate, keep in zip(candidates, in_window, strict=True) if keep]
        original = duplicates.original
        duplicate_clusters = []
        if original is not None:
            duplicate_clusters = [original.cluster_seq, *(row.cluster_seq for row in duplicates.exact)]
            duplicate_clusters += [row.cluster_seq for row, _ in duplicates.near]
            in_window = self._in_story_window(duplicate_clusters, published)
            duplicate_clusters = [cluster for cluster, keep in zip(duplicate_clusters, in_window, strict=True) if keep]
        placement = stories.place(
            salient,
            [candidate.cluster_seq for candidate in candidates],
            duplicate_clusters,
            self._centroids,
            self._terms,
            self.settings.story_threshold,
            self.settings.story_merge_threshold,
            self._is_single_article_cluster,
            pending,
        )
        return _Assessment(duplicates, salient, story_signature, candidates, placement)

    def _matches(
        self,
        duplicates: _Duplicates,
        salient: TermVector,
        story_candidates: list[StoryCandidate],
        story_clusters: set[int],
        survivor: Callable[[int], int],
        limit: int,
        min_similarity: float = 0.0,
        pending: np.ndarray | None = None,
    ) -> list[Match]:
        """Exact duplicates, then near duplicates, then same-story articles (members of `story_clusters`)."""

        def match(row: ArticleRow, similarity: float, relation: Relation) -> Match:
            return Match(row.id, similarity, relation, cluster_id_for(survivor(row.cluster_seq)))

        # Heavily syndicated text has hundreds of duplicates: build matches only for those reported.
        matches = [match(row, 1.0, Relation.EXACT_DUPLICATE) for row in duplicates.exact[:limit]]
        near = [(row, sim) for row, sim in duplicates.near if sim >= min_similarity]
        matches += [match(row, sim, Relation.NEAR_DUPLICATE) for row, sim in near[: limit - len(matches)]]
        room = limit - len(matches)
        if room > 0:
            taken = duplicates.seqs
            same_story = [
                candidate.seq
                for candidate in story_candidates
                if candidate.cluster_seq in story_clusters and candidate.seq not in taken
            ][:room]
            rows = self._store.articles_by_seq(same_story)
            # An article evicted earlier in this write is still indexed until the commit.
            same_story = [seq for seq in same_story if seq in rows]
            terms = self._store.salient_terms(same_story)
            similarities = stories.cosines(
                salient, [TermVector(*terms[seq]) for seq in same_story], self._terms, pending
            )
            scored = [(sim, rows[seq]) for sim, seq in zip(similarities.tolist(), same_story, strict=True)]
            scored.sort(key=lambda pair: (-pair[0], pair[1].age_key))
            matches += [match(row, sim, Relation.SAME_STORY) for sim, row in scored if sim >= min_similarity]
        return matches

    # --- ingest

    def ingest(self, article: ArticleInput, deadline: float | None = None) -> ArticleResult:
        """Store one article; raises NewsdedupError if it is rejected."""
        (outcome,) = self.ingest_many([article], deadline)
        if isinstance(outcome, NewsdedupError):
            raise outcome
        return outcome

    def ingest_many(
        self, articles: Sequence[ArticleInput], deadline: float | None = None
    ) -> list[ArticleResult | NewsdedupError]:
        """Store articles in order, in one transaction; a rejected article gets its error in its place.

        Salient terms are chosen with the document frequencies as they were
        before the batch (each article counting itself), so a batch is
        analysed in a few array passes. Raises StorageUnavailable (and stores
        none of them) if the commit fails, and DeadlineExceeded (storing
        none) if `deadline` (a time.monotonic() value) passes before it.
        """
        prepared = self._analyze_many(articles, id_required=True)
        analyses = [item.analysis for item in prepared if isinstance(item, _Judged)]

        def write(undo: Undo, removed: list[int]) -> list[ArticleResult | NewsdedupError]:
            outcomes: list[ArticleResult | NewsdedupError] = []
            now = self._now()
            self._evict_expired(now, EVICTIONS_PER_BATCH + len(articles), undo, removed)
            features = iter(self._story_features(analyses))
            for article, item in zip(articles, prepared, strict=True):
                if isinstance(item, NewsdedupError):
                    outcomes.append(item)
                    continue
                salient, story_signature = next(features)
                try:
                    outcomes.append(
                        self._ingest_one(article, item.analysis, salient, story_signature, now, undo, removed)
                    )
                except (Conflict, CapacityExhausted) as error:
                    outcomes.append(error)
            stored = [
                article
                for article, outcome in zip(articles, outcomes, strict=True)
                if isinstance(outcome, ArticleResult) and not outcome.already_ingested
            ]
            self._learn_chrome(stored, undo)
            _check_deadline(deadline)
            return outcomes

        return self._writing(write, deadline)

    @contextlib.contextmanager
    def _write(self, lease: str = "") -> Iterator[tuple[Undo, list[int]]]:
        """One write, under the lock the caller holds, committed holding the write `lease` if given (a shared
        store's): (undo steps, seqs of the articles it removes).

        All of it is committed or none: if the transaction fails, the
        in-memory changes are undone, newest first. Removed articles leave
        the LSH indexes only after the commit, since that cannot be undone;
        until then readers skip what the store no longer has.
        """
        undo: Undo = []
        removed: list[int] = []
        if self._shared is not None:
            self._shared.lease = lease
        try:
            with self._store.transaction():
                yield undo, removed
        except BaseException:
            for step in reversed(undo):
                step()
            if self._shared is not None:
                self._shared.settle(committed=False)
            raise
        if self._shared is not None:
            self._shared.settle(committed=True)
        for seq in removed:
            self._near.remove(seq)
            self._story.remove(seq)

    def evict_expired(self, limit: int = 1000) -> int:
        """Evict up to `limit` articles past the retention window now (for a periodic sweep); returns how many."""
        if not self.settings.retention_days:
            return 0

        def write(undo: Undo, removed: list[int]) -> int:
            self._evict_expired(self._now(), limit, undo, removed)
            return len(removed)

        return self._writing(write)

    def _evict_expired(self, now: int, limit: int, undo: Undo, removed: list[int]) -> None:
        """Remove up to `limit` articles published before the retention window, oldest first."""
        if self.settings.retention_days:
            cutoff = now - round(self.settings.retention_days * _MICROS_PER_DAY)
            self._evict(self._store.oldest(limit, published_before=cutoff), "retention", now, undo, removed)

    def _make_room(self, now: int, undo: Undo, removed: list[int]) -> None:
        """Before a new article goes in: at max_articles, evict the oldest published, or refuse (when_full)."""
        limit = self.settings.max_articles
        if not limit or self._article_count < limit:
            return
        if self.settings.when_full == "refuse":
            raise CapacityExhausted(
                f"the store holds {self._article_count} articles, its max_articles; with when_full=refuse it "
                f"takes no new article until some are deleted or expire (reads keep working)",
                metadata={"max_articles": str(limit)},
            )
        self._evict(self._store.oldest(self._article_count - limit + 1), "capacity", now, undo, removed)

    def _evict(self, rows: Sequence[ArticleRow], cause: str, now: int, undo: Undo, removed: list[int]) -> None:
        """Remove articles for `cause` (retention or capacity), counting them in evictions()."""
        for row in rows:
            self._remove(row, now, undo, removed)
            self._count_eviction(cause, 1)
            undo.append(functools.partial(self._count_eviction, cause, -1))

    def _count_eviction(self, cause: str, change: int) -> None:
        self._evicted[cause] += change

    def evictions(self) -> dict[str, int]:
        """Articles evicted since this engine started, by cause: 'retention' (retention_days), 'capacity'
        (max_articles). Read under the lock, so a write that is rolled back is never counted."""
        with self._lock:
            return dict(self._evicted)

    def replication(self) -> dict[str, int] | None:
        """With a shared store, since this engine started: 'applied', writes of other replicas applied to
        this copy; 'conflicts', writes judged again because another replica committed first. None without."""
        if self._shared is None:
            return None
        with self._lock:
            return dict(self._replication)

    def _count_articles(self, change: int) -> None:
        self._article_count += change

    def _learn_chrome(self, stored: Sequence[ArticleInput], undo: Undo) -> None:
        """Count newly stored articles' lines toward their sources' chrome, and save each source's counts.

        After the batch is judged, so its articles are all judged by the same
        learned lines whatever their order. Removing an article takes its
        counts back (`_remove`).
        """
        sources = list(dict.fromkeys(article.source for article in stored if article.source))
        for source in sources:
            undo.append(self._recurring.snapshot(source))
        for article in stored:
            if article.source:
                forgotten = self._recurring.observe(article.source, article.body)
                if forgotten is not None:
                    undo.append(functools.partial(self._recurring.readmit, forgotten))
                    self._store.forget_source_lines(forgotten.source)
        for source in sources:
            # A batch with more new sources than max_sources forgets some of its own.
            if source in self._recurring:
                self._store.save_source_lines(source, self._recurring.export(source))

    def _ingest_one(
        self,
        article: ArticleInput,
        analysis: Analysis,
        salient: TermVector,
        story_signature: np.ndarray,
        now: int,
        undo: Undo,
        removed: list[int],
    ) -> ArticleResult:
        existing = self._store.article_by_id(article.id)
        if existing is not None:
            if existing.verdict != Verdict.LOW_CONTENT or self._same_text(existing, analysis):
                return self._existing_result(existing, analysis)
            # A page fetched again after a consent wall or a rate limit replaces the little that was
            # stored.
            self._remove(existing, now, undo, removed)
        self._make_room(now, undo, removed)
        buckets = stories.document_buckets(analysis.terms.ids)
        self._terms.add(buckets)
        undo.append(lambda: self._terms.remove(buckets))
        published = self._published(article, now)
        assessment = self._assess(
            analysis, salient, story_signature, published, self.settings.max_matches, pending=None
        )
        cluster = self._apply_placement(assessment.placement, assessment.salient, published, now, undo)
        original = assessment.duplicates.original
        seq = self._store.insert_article(
            NewArticle(
                id=article.id, title=article.title, body=article.body, url=article.url, source=article.source,
                language=article.language, published_at=published, ingested_at=now,
                content_hash=analysis.content_hash, verdict=assessment.verdict,
                duplicate_of=original.seq if original else None, cluster_seq=cluster,
                near_signature=None if assessment.low_content else analysis.near_signature,
                story_signature=None if assessment.low_content else assessment.story_signature,
                salient_ids=assessment.salient.ids, salient_counts=assessment.salient.counts, term_buckets=buckets,
            )
        )  # fmt: skip
        self._count_articles(1)
        undo.append(functools.partial(self._count_articles, -1))
        if not assessment.low_content:
            self._near.insert(seq, analysis.near_signature)
            undo.append(lambda: self._near.remove(seq))
            self._story.insert(seq, assessment.story_signature)
            undo.append(lambda: self._story.remove(seq))
        undo.append(self._memberships.assign(np.array([seq]), np.array([cluster])))
        cluster_row = self._store.cluster(cluster)
        assert cluster_row is not None
        return self._assessed_result(article.id, assessment, cluster, cluster_row.size, self.settings.max_matches)

    def _assessed_result(
        self,
        article_id: str,
        assessment: _Assessment,
        cluster: int | None,
        cluster_size: int,
        limit: int,
        min_similarity: float = 0.0,
        pending: np.ndarray | None = None,
    ) -> ArticleResult:
        """The result for an assessed article in `cluster` (None: a cluster not created yet).

        The clusters its placement merges count as `cluster`, so matches in them report its id.
        """
        involved = set(assessment.placement.clusters)
        original = assessment.duplicates.original
        return ArticleResult(
            article_id=article_id,
            verdict=assessment.verdict,
            duplicate_of=original.id if original else "",
            matches=self._matches(
                assessment.duplicates,
                assessment.salient,
                assessment.story_candidates,
                involved | ({cluster} if cluster is not None else set()),
                lambda c: cluster if cluster is not None and c in involved else c,
                limit,
                min_similarity,
                pending,
            ),
            cluster_id=cluster_id_for(cluster) if cluster is not None else "",
            cluster_size=cluster_size,
        )

    def _apply_placement(
        self, placement: stories.Placement, salient: TermVector, published: int, now: int, undo: Undo
    ) -> int:
        """Create, join or merge clusters as placed; returns the article's cluster seq."""
        involved = placement.clusters
        undo.append(self._centroids.snapshot(involved))
        if involved:
            # The oldest cluster's id survives a merge; the others become its aliases.
            cluster, *merged = involved
            if merged:
                self._store.merge_clusters(cluster, merged, now)
                for other in merged:
                    self._centroids.merge(cluster, other)
                    undo.append(self._memberships.merge(cluster, other))
                    undo.append(self._spans.widen(cluster, *self._spans.span(other)))
        else:
            cluster = self._store.create_cluster(published, now)
            undo.append(self._centroids.snapshot([cluster]))
        self._store.add_to_cluster(cluster, published, now)
        self._centroids.add(cluster, salient)
        undo.append(self._spans.widen(cluster, published, published))
        return cluster

    def _same_text(self, existing: ArticleRow, analysis: Analysis) -> bool:
        """Whether a stored article and a new analysis hold the same text, as judged now.

        The stored content hash was taken with the chrome its source had
        taught by then; once the source has learned more lines, a retried
        article hashes differently. So a mismatch is checked again on the
        stored text stripped the way the new one was: a retry stays a retry.
        """
        if existing.content_hash == analysis.content_hash:
            return True
        again = self._fingerprinter.analyze_batch([self._stored_texts([existing.seq])[existing.seq]])[0]
        return again is not None and again.content_hash == analysis.content_hash

    def _existing_result(self, existing: ArticleRow, analysis: Analysis) -> ArticleResult:
        """The idempotent answer for an id that is already stored, or a Conflict if its text differs."""
        if not self._same_text(existing, analysis):
            raise Conflict(
                f"article id {existing.id!r} is already stored with different text; "
                f"delete it first or use a new id for the new text",
                metadata={"article_id": existing.id},
            )
        return replace(self._stored_result(existing, self.settings.max_matches), already_ingested=True)

    def _stored_result(self, row: ArticleRow, limit: int, min_similarity: float = 0.0) -> ArticleResult:
        """A stored article's standing, with its current matches among the other stored articles.

        A low-content article is not indexed and matches nothing.
        """
        salient = TermVector(*self._store.salient_terms([row.seq])[row.seq])
        myself = frozenset([row.seq])
        if row.verdict == Verdict.LOW_CONTENT:
            duplicates, candidates = _Duplicates(exact=[], near=[]), []
        else:
            duplicates = self._find_duplicates(
                self._near.signature(row.seq),
                row.content_hash,
                functools.partial(self._stored_shingle_set, row.seq),
                limit,
                exclude=myself,
            )
            candidates = self._find_story_candidates(self._story.signature(row.seq), myself)
        original = self._original_of(row)
        cluster = self._store.cluster(row.cluster_seq)
        assert cluster is not None
        return ArticleResult(
            article_id=row.id,
            verdict=row.verdict,
            duplicate_of=original.id if original else "",
            matches=self._matches(
                duplicates, salient, candidates, {row.cluster_seq}, lambda c: c, limit, min_similarity
            ),
            cluster_id=cluster.id,
            cluster_size=cluster.size,
        )

    # --- check and search

    def check(self, article: ArticleInput) -> ArticleResult:
        """What ingesting the article would say now; nothing is stored.

        A cluster that does not exist yet is reported with an empty cluster_id.
        """
        analysis = self._analyze_all([article])[0].analysis
        with self._lock:  # the copy was caught up by the analysis, after this call began
            existing = self._store.article_by_id(article.id) if article.id else None
            if existing is not None:
                return self._existing_result(existing, analysis)
            limit = self.settings.max_matches
            published = self._published(article, self._now())
            features = self._story_features([analysis])[0]
            assessment = self._assess(analysis, *features, published, limit, pending=analysis.terms.ids)
            return self._hypothetical_result(article.id, analysis, assessment, limit)

    def _hypothetical_result(
        self, article_id: str, analysis: Analysis, assessment: _Assessment, limit: int, min_similarity: float = 0.0
    ) -> ArticleResult:
        """What ingesting would say: the cluster it would join (the oldest of those it would merge)."""
        involved = assessment.placement.clusters
        size = 1 + sum(row.size for row in map(self._store.cluster, involved) if row is not None)
        survivor = involved[0] if involved else None
        return self._assessed_result(
            article_id, assessment, survivor, size, limit, min_similarity, pending=analysis.terms.ids
        )

    def search_similar(
        self,
        *,
        article_id: str = "",
        article: ArticleInput | None = None,
        max_results: int = 0,
        min_similarity: float = 0.0,
    ) -> list[Match]:
        """Stored articles similar to a stored article (left out of its own results) or to a text."""
        if max_results < 0:
            raise InvalidArgument(f"max_results must not be negative, got {max_results}")
        if not 0.0 <= min_similarity <= 1.0:
            raise InvalidArgument(f"min_similarity must be in [0, 1], got {min_similarity}")
        limit = min(max_results or DEFAULT_SEARCH_RESULTS, MAX_SEARCH_RESULTS)
        if article is not None:
            (query,) = self._analyze_all([article])
            query_text, analysis = query.text, query.analysis
            with self._lock:  # the copy was caught up by the analysis, after this call began
                features = self._story_features([analysis])[0]
                published = self._published(article, self._now())
                pending = analysis.terms.ids
                assessment = self._assess(analysis, *features, published, limit, pending)
                result = self._hypothetical_result(article.id, analysis, assessment, limit, min_similarity)
                return self._explained(result.matches, query_text, assessment.salient, pending)
        if not article_id:
            raise InvalidArgument("give either article_id or article to search for", reason="MISSING_QUERY")
        with self._current():
            row = self._row(article_id)
            matches = self._stored_result(row, limit, min_similarity).matches
            salient = TermVector(*self._store.salient_terms([row.seq])[row.seq])
            return self._explained(matches, self._stored_texts([row.seq])[row.seq], salient, None)

    def _explained(
        self, matches: list[Match], query_text: str, query_salient: TermVector, pending: np.ndarray | None
    ) -> list[Match]:
        """The matches of a search, each with the shared shingles and terms behind its score (see explanations)."""
        if not matches:
            return matches
        seqs = [self._row(match.article_id).seq for match in matches]  # under the lock: every match is stored
        texts = self._stored_texts(seqs)
        tokens = text.tokenize_batch([query_text, *(texts[seq] for seq in seqs)])
        salient = self._store.salient_terms(seqs)
        query = Side(tokens.text(0), query_salient, query_salient.weights(self._terms, pending))
        explained = []
        for i, (match, seq) in enumerate(zip(matches, seqs, strict=True)):
            other = TermVector(*salient[seq])
            evidence = explain(
                self._fingerprinter,
                query_text,
                query,
                Side(tokens.text(i + 1), other, other.weights(self._terms, pending)),
            )
            explained.append(
                replace(match, shared_shingles=evidence.shared_shingles, shared_terms=evidence.shared_terms)
            )
        return explained

    def _original_of(self, row: ArticleRow) -> ArticleRow | None:
        """The stored article that `row` duplicates, if any."""
        if row.duplicate_of is None:
            return None
        return self._store.articles_by_seq([row.duplicate_of]).get(row.duplicate_of)

    def _row(self, article_id: str) -> ArticleRow:
        row = self._store.article_by_id(article_id)
        if row is None:
            raise NotFound(
                f"no stored article has id {article_id!r}",
                reason="ARTICLE_NOT_FOUND",
                metadata={"article_id": article_id},
            )
        return row

    # --- articles

    def get_article(self, article_id: str) -> StoredArticle:
        with self._current():
            row = self._row(article_id)
            original = self._original_of(row)
            return StoredArticle(
                id=row.id,
                title=row.title,
                url=row.url,
                source=row.source,
                language=row.language,
                published_at=from_micros(row.published_at),
                ingested_at=from_micros(row.ingested_at),
                verdict=row.verdict,
                duplicate_of=original.id if original else "",
                cluster_id=cluster_id_for(row.cluster_seq),
                content_hash=f"{row.content_hash:016x}",
            )

    def delete_article(self, article_id: str, deadline: float | None = None) -> None:
        """Remove an article; its cluster shrinks (or goes), and articles that duplicated it are judged again."""

        def write(undo: Undo, removed: list[int]) -> None:
            self._remove(self._row(article_id), self._now(), undo, removed)
            _check_deadline(deadline)

        self._writing(write, deadline)

    def _remove(self, row: ArticleRow, now: int, undo: Undo, removed: list[int]) -> None:
        """Delete a stored article and update its cluster, the term counts, its source's learned chrome
        and its duplicates; it joins `removed`, which leaves the indexes after the commit (`_write`)."""
        removed.append(row.seq)
        salient = TermVector(*self._store.salient_terms([row.seq])[row.seq])
        buckets = self._store.term_buckets(row.seq)
        if row.source and self._recurring.tracked_lines(row.source):
            _, body, _ = self._store.article_texts([row.seq])[row.seq]
            undo.append(self._recurring.snapshot(row.source))
            self._recurring.forget(row.source, body)
            self._store.save_source_lines(row.source, self._recurring.export(row.source))
        self._count_articles(-1)
        undo.append(functools.partial(self._count_articles, 1))
        # Before the delete: a centroid loaded after it would lack the article already.
        undo.append(self._centroids.snapshot([row.cluster_seq]))
        self._store.delete_article(row.seq)
        self._centroids.subtract(row.cluster_seq, salient)
        undo.append(self._memberships.forget(np.array([row.seq])))
        remaining = self._store.refresh_cluster(row.cluster_seq, now)
        if remaining is None:
            self._centroids.drop(row.cluster_seq)
            undo.append(self._memberships.forget_cluster(row.cluster_seq))
            first, last = stories.UNKNOWN_SPAN
        else:
            first, last = remaining.first_published_at, remaining.last_published_at
        undo.append(self._spans.set(np.array([row.cluster_seq]), np.array([first]), np.array([last])))
        self._terms.remove(buckets)
        undo.append(lambda: self._terms.add(buckets))
        self._rejudge_duplicates_of(row.seq)

    def _rejudge_duplicates_of(self, deleted: int) -> None:
        """Point the articles that duplicated a deleted one at what they duplicate now (or make them unique).

        An article is judged against the articles ingested before it, as at
        its own ingest, so the outcome does not depend on when it is redone.
        """
        for dependent in self._store.duplicates_of(deleted):
            duplicates = self._find_duplicates(
                self._near.signature(dependent.seq),
                dependent.content_hash,
                functools.partial(self._stored_shingle_set, dependent.seq),
                1,  # only the original is needed
                exclude=frozenset([deleted, dependent.seq]),
                before=dependent.seq,
            )
            original = duplicates.original
            self._store.set_verdict(dependent.seq, duplicates.verdict, original.seq if original else None)

    # --- clusters

    def get_cluster(self, *, cluster_id: str = "", article_id: str = "") -> ClusterView:
        with self._current():
            if article_id:
                return self._cluster_view(self._row(article_id).cluster_seq)
            if not cluster_id:
                raise InvalidArgument("give either cluster_id or article_id", reason="MISSING_QUERY")
            seq = self._store.resolve_cluster(cluster_id)
            if seq is None:
                raise NotFound(
                    f"no story cluster has id {cluster_id!r}",
                    reason="CLUSTER_NOT_FOUND",
                    metadata={"cluster_id": cluster_id},
                )
            return self._cluster_view(seq)

    def _cluster_view(self, seq: int, row: ClusterRow | None = None) -> ClusterView:
        row = row or self._store.cluster(seq)
        assert row is not None, f"cluster {seq} vanished while locked"
        members = self._store.cluster_members(seq)
        originals = [m for m in members if m.verdict == Verdict.UNIQUE]
        representative = (originals or members)[0]
        return ClusterView(
            cluster_id=row.id,
            size=row.size,
            article_ids=[m.id for m in members],
            representative_article_id=representative.id,
            title=representative.title,
            first_published_at=from_micros(row.first_published_at),
            last_published_at=from_micros(row.last_published_at),
            updated_at=from_micros(row.updated_at),
            merged_cluster_ids=self._store.cluster_aliases(seq),
        )

    def list_clusters(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        min_size: int = 0,
        order: ClusterOrder = ClusterOrder.UNSPECIFIED,
    ) -> ClusterPage:
        if page_size < 0:
            raise InvalidArgument(f"page_size must not be negative, got {page_size}")
        if min_size < 0:
            raise InvalidArgument(f"min_size must not be negative, got {min_size}")
        order = order or ClusterOrder.LARGEST
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        after = self._page_tokens.verify(page_token, order, min_size).after if page_token else None
        with self._current():
            rows = self._store.list_clusters(order, min_size, after, size + 1)
            page = [self._cluster_view(row.seq, row) for row in rows[:size]]
        next_token = ""
        if len(rows) > size:
            last = rows[size - 1]
            key = last.size if order == ClusterOrder.LARGEST else last.updated_at
            next_token = self._page_tokens.issue(PagePosition(order, min_size, (key, last.seq)))
        return ClusterPage(clusters=page, next_page_token=next_token)

    # --- compare and stats

    def compare(self, first: ArticleInput, second: ArticleInput) -> Comparison:
        """Score two texts against each other and show the shared evidence; nothing is stored."""
        judged = self._analyze_all([first, second])
        texts = [side.text for side in judged]
        analyses = [side.analysis for side in judged]
        tokens = text.tokenize_batch(texts)
        with self._lock:  # the copy was caught up by the analysis, after this call began
            (first_salient, _), (second_salient, _) = self._story_features(analyses)
            story_similarity = stories.cosine(first_salient, second_salient, self._terms)
            weights = [vector.weights(self._terms) for vector in (first_salient, second_salient)]
        a, b = analyses
        similarity = float(estimate_jaccard(a.near_signature, b.near_signature[None, :])[0])
        if a.content_hash == b.content_hash:
            relation = Relation.EXACT_DUPLICATE
        elif similarity >= self.settings.near_threshold:
            relation = Relation.NEAR_DUPLICATE
        elif story_similarity >= self.settings.story_threshold:
            relation = Relation.SAME_STORY
        else:
            relation = Relation.UNSPECIFIED
        first_tokens, second_tokens = tokens.text(0), tokens.text(1)
        first_shingles = self._fingerprinter.shingle_set(first_tokens)
        second_shingles = self._fingerprinter.shingle_set(second_tokens)
        evidence = explain(
            self._fingerprinter,
            texts[0],
            Side(first_tokens, first_salient, weights[0]),
            Side(second_tokens, second_salient, weights[1]),
        )
        return Comparison(
            similarity=similarity,
            exact_similarity=exact_jaccard(first_shingles, second_shingles),
            story_similarity=story_similarity,
            relation=relation,
            shared_shingles=list(evidence.shared_shingles),
            shared_terms=list(evidence.shared_terms),
            first_shingle_count=len(first_shingles),
            second_shingle_count=len(second_shingles),
        )

    def parameters(self) -> IndexParameters:
        s = self.settings
        return IndexParameters(
            shingle_size=s.shingle_size,
            num_perm=s.num_perm,
            scheme=SCHEME,
            seed=s.seed,
            near_duplicate=TierParameters(s.near_threshold, self._near.bands, self._near.rows),
            story=TierParameters(s.story_threshold, self._story.bands, self._story.rows),
            salient_terms=s.salient_terms,
            story_num_perm=s.story_num_perm,
        )

    def index_bytes(self) -> int:
        """Bytes held by the in-memory indexes: signatures, LSH bands, story state and cached centroids."""
        with self._lock:
            parts = (self._near, self._story, self._memberships, self._spans, self._terms, self._centroids)
            return sum(part.nbytes for part in parts)

    def stats(self) -> Stats:
        with self._current():
            counts = self._store.counts()
        return Stats(
            article_count=counts.articles,
            cluster_count=counts.clusters,
            multi_article_cluster_count=counts.multi_article_clusters,
            exact_duplicate_count=counts.exact_duplicates,
            near_duplicate_count=counts.near_duplicates,
            parameters=self.parameters(),
        )
