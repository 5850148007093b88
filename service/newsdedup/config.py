"""Every server setting, declared once.

`Settings` is the single source: `newsdedup serve` turns each field into a
`--flag` with a `NEWSDEDUP_*` environment variable and the help text given
here, and the README's configuration table is checked against it by a test.
Values are validated when a Settings is made, so a bad value fails at startup
with a message that names it.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from newsdedup import credentials

ENV_PREFIX = "NEWSDEDUP_"
DEFAULT_PORT = 50051
DURABILITY_MODES = ("full", "normal")
WHEN_FULL_MODES = ("evict", "refuse")
SENTINEL_SCHEME = "redis+sentinel:"
STORE_SCHEMES = ("redis:", "rediss:", "unix:", SENTINEL_SCHEME)
LOG_FORMATS = ("auto", "json", "text")
# A URL's password: after the user name (percent-encoded, so no / or @ in it), or a query argument.
_USER_PASSWORD = re.compile(r"^([a-z+]+://[^/@:]*):[^/@]*@", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)
# A story window beyond a century is no window; the bound also keeps microsecond arithmetic far from overflow.
MAX_STORY_WINDOW_DAYS = 36_500.0


def without_password(url: str) -> str:
    """`url` with its password, in the user part or a `password=` query argument, shown as ***.

    For every message and log line that names the shared store: messages
    reach API clients, and log lines end up in log stores.
    """
    return _QUERY_PASSWORD.sub(r"\1***", _USER_PASSWORD.sub(r"\1:***@", url, count=1))


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """The server's configuration; see each field's help text."""

    host: str = _setting("127.0.0.1", "Address to listen on; 0.0.0.0 listens on every interface.")
    port: int = _setting(DEFAULT_PORT, "Port to listen on; 0 picks a free port (see --port-file).")
    port_file: str = _setting("", "Write the bound port to this file once the server is serving.")
    tls_cert: str = _setting(
        "", "PEM certificate chain the server presents; with --tls-key the server speaks TLS only. Empty: plaintext."
    )
    tls_key: str = _setting("", "PEM private key of --tls-cert, unencrypted (keep it readable by the server alone).")
    tls_client_ca: str = _setting(
        "", "PEM CA certificates; when set, every client must present a certificate they signed (mutual TLS)."
    )
    auth_token_file: str = _setting(
        "",
        "File holding a bearer token that every call but grpc.health.v1.Health must carry "
        "(authorization: Bearer <token>), or get UNAUTHENTICATED. Empty: no token.",
    )
    data_dir: str = _setting(
        "./newsdedup-data", "Directory of the SQLite store; an empty value keeps everything in memory only."
    )
    store: str = _setting(
        "",
        "Shared state for several replicas: redis://host:port/db, redis://user:password@host:port/db, rediss:// "
        "for TLS, redis+sentinel://host:port,host:port/service/db for the master the Sentinels name. Each "
        "replica keeps a full copy in its data dir and in memory, and every write goes to Redis first. Empty: "
        "this server alone.",
    )
    durability: str = _setting(
        "full",
        "When an acknowledged write is safe: 'full' fsyncs every commit (survives power loss), "
        "'normal' survives a killed process but may lose the last commits on power loss.",
    )
    retention_days: float = _setting(
        0.0,
        "Days an article is kept after its published_at; older ones are evicted as new ones arrive (their "
        "clusters shrink or go). 0 keeps every article.",
    )
    max_articles: int = _setting(0, "Most articles stored at once; 0 means no limit (see when_full).")
    when_full: str = _setting(
        "evict",
        "What ingesting a new article into a full store does: 'evict' the oldest by published_at to make room, "
        "or 'refuse' it with RESOURCE_EXHAUSTED (reads keep working).",
    )
    workers: int = _setting(8, "Threads serving RPCs.")
    max_concurrent_rpcs: int = _setting(
        64,
        "Calls (streams included) running or waiting at once; one more gets RESOURCE_EXHAUSTED at once instead "
        "of queueing without bound.",
    )
    grace_period: float = _setting(10.0, "Seconds that in-flight calls get to finish on SIGTERM.")
    shutdown_delay: float = _setting(
        0.0,
        "Seconds on SIGTERM between reporting NOT_SERVING and refusing new calls, still serving meanwhile, so "
        "that load balancers polling Health.Check move traffic away first.",
    )
    max_text_bytes: int = _setting(1_000_000, "Largest title plus body accepted, in UTF-8 bytes.")
    max_message_bytes: int = _setting(64 * 1024 * 1024, "Largest gRPC message accepted or sent, in bytes.")
    max_batch_size: int = _setting(1000, "Most articles in one BatchIngestArticles call.")
    max_id_length: int = _setting(512, "Longest article id accepted, in characters.")
    max_matches: int = _setting(10, "Most matches reported in an ingest or check result.")
    num_perm: int = _setting(
        128, "MinHash bins per near-duplicate signature, a power of two (fixed for a data directory)."
    )
    story_num_perm: int = _setting(
        32, "MinHash bins per story signature over salient terms, a power of two (fixed for a data directory)."
    )
    seed: int = _setting(1, "Seed of the MinHash permutations (fixed for a data directory).")
    shingle_size: int = _setting(3, "Words per shingle in the near-duplicate tier (fixed for a data directory).")
    near_threshold: float = _setting(
        0.5, "Estimated Jaccard similarity of shingles at or above which an article is a near duplicate."
    )
    near_lsh_threshold: float = _setting(
        0.3, "Jaccard similarity the near-duplicate LSH is tuned for; below near_threshold so that few are missed."
    )
    # Fewer words than a headline: real one-sentence briefs (ECB+ has 10- to 19-word ones) are judged.
    min_content_words: int = _setting(
        8,
        "Fewest words (title and body, once site chrome is removed) an article needs to be judged; one with "
        "fewer gets VERDICT_LOW_CONTENT: stored in a story of its own, never a duplicate nor duplicated.",
    )
    salient_terms: int = _setting(64, "Salient terms kept per article for the story tier (fixed for a data directory).")
    story_threshold: float = _setting(
        0.2, "Cosine similarity of salient terms an article needs with a story cluster to join it."
    )
    story_merge_threshold: float = _setting(
        0.35,
        "Cosine similarity two story clusters' centroids need for an article that reaches both to merge them "
        "(a cluster of one article needs only story_threshold); at least story_threshold, so that one article "
        "alone does not chain look-alike events together.",
    )
    story_window_days: float = _setting(
        3.0,
        "Days a story cluster stays open: it takes an article (even a duplicate of one of its own) only if that "
        "was published within this many days of the cluster's first to last article.",
    )
    story_term_share: float = _setting(
        0.01,
        "Largest share of articles a term may appear in to be a story term; the story signature signs an "
        "article's story terms.",
    )
    story_lsh_threshold: float = _setting(
        0.1, "Jaccard similarity of salient-term sets the story LSH is tuned for when finding candidate clusters."
    )
    centroid_cache: int = _setting(
        50_000,
        "Story centroids kept in memory, most recently used first; others are summed again from the store "
        "when a new article needs them.",
    )
    term_prior_weight: float = _setting(
        300.0,
        "Weight, in articles, of the built-in word-frequency prior on document frequencies; it lets a fresh "
        "service tell common words from story terms. 0 turns it off.",
    )
    log_level: str = _setting("INFO", "Logging level: DEBUG, INFO, WARNING or ERROR.")
    log_format: str = _setting(
        "auto",
        "Log lines on stderr: 'json' (one JSON object per line), 'text' (for people), or 'auto': text when "
        "stderr is a terminal, JSON otherwise.",
    )
    metrics_port: int = _setting(
        0,
        "Port of the Prometheus metrics endpoint (http://host:port/metrics, on --host; https:// with --tls-cert); "
        "0 turns it off.",
    )

    def __post_init__(self) -> None:
        problems = list(self._problems())
        if problems:
            raise ValueError("invalid settings: " + "; ".join(problems))

    def _problems(self):
        if not 0 <= self.port <= 65535:
            yield f"port must be in 0..65535, got {self.port}"
        yield from credentials.tls_problems(self.tls_cert, self.tls_key, self.tls_client_ca)
        yield from credentials.token_problems(self.auth_token_file)
        if self.durability not in DURABILITY_MODES:
            yield f"durability must be one of {', '.join(DURABILITY_MODES)}, got {self.durability!r}"
        for name in (
            "workers",
            "max_text_bytes",
            "max_message_bytes",
            "max_batch_size",
            "max_id_length",
            "max_matches",
            "max_concurrent_rpcs",
            "min_content_words",
        ):
            if getattr(self, name) < 1:
                yield f"{name} must be at least 1, got {getattr(self, name)}"
        for name in ("grace_period", "shutdown_delay"):
            if not 0 <= getattr(self, name) < float("inf"):  # written so that NaN fails too
                yield f"{name} must be a number of seconds, zero or more, got {getattr(self, name)}"
        for name in ("num_perm", "story_num_perm"):
            value = getattr(self, name)
            if not 16 <= value <= 1024 or value & (value - 1):
                yield f"{name} must be a power of two in 16..1024, got {value}"
        if not 0 <= self.seed <= 2**32 - 1:  # datasketch's range (RandomState), so a seed means the same there
            yield f"seed must be in 0..4294967295, got {self.seed}"
        if not 1 <= self.shingle_size <= 10:
            yield f"shingle_size must be in 1..10, got {self.shingle_size}"
        if not 8 <= self.salient_terms <= 1024:
            yield f"salient_terms must be in 8..1024, got {self.salient_terms}"
        if self.centroid_cache < 1:
            yield f"centroid_cache must be at least 1, got {self.centroid_cache}"
        for name in (
            "near_threshold",
            "near_lsh_threshold",
            "story_threshold",
            "story_merge_threshold",
            "story_lsh_threshold",
            "story_term_share",
        ):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                yield f"{name} must be strictly between 0 and 1, got {value}"
        if not 0 < self.story_window_days <= MAX_STORY_WINDOW_DAYS:  # NaN fails too
            yield (
                f"story_window_days must be more than 0 and at most {MAX_STORY_WINDOW_DAYS}, "
                f"got {self.story_window_days}"
            )
        if self.store and not self.store.startswith(STORE_SCHEMES):
            yield (
                f"store must be empty or a Redis URL (redis://host:port/db, rediss://, unix://, "
                f"redis+sentinel://host:port/service/db), "
                f"got {without_password(self.store)!r}"
            )
        if self.when_full not in WHEN_FULL_MODES:
            yield f"when_full must be one of {', '.join(WHEN_FULL_MODES)}, got {self.when_full!r}"
        if self.max_articles < 0:
            yield f"max_articles must be 0 (no limit) or more, got {self.max_articles}"
        if not 0 <= self.retention_days <= MAX_STORY_WINDOW_DAYS:  # NaN fails too
            yield f"retention_days must be 0 (keep everything) to {MAX_STORY_WINDOW_DAYS}, got {self.retention_days}"
        if not 0 <= self.term_prior_weight < float("inf"):  # NaN fails too; a negative weight makes idf NaN
            yield f"term_prior_weight must be a finite number of articles, zero or more, got {self.term_prior_weight}"
        if self.story_merge_threshold < self.story_threshold:
            yield (
                f"story_merge_threshold ({self.story_merge_threshold}) must not be below story_threshold "
                f"({self.story_threshold}): clusters would merge on less evidence than an article needs to join one"
            )
        if self.near_lsh_threshold > self.near_threshold:
            yield (
                f"near_lsh_threshold ({self.near_lsh_threshold}) must not exceed near_threshold "
                f"({self.near_threshold}): the LSH would miss most pairs just above the threshold"
            )
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            yield f"log_level must be DEBUG, INFO, WARNING or ERROR, got {self.log_level!r}"
        if self.log_format not in LOG_FORMATS:
            yield f"log_format must be one of {', '.join(LOG_FORMATS)}, got {self.log_format!r}"
        if not 0 <= self.metrics_port <= 65535:
            yield f"metrics_port must be in 0..65535 (0 turns the endpoint off), got {self.metrics_port}"

    @property
    def in_memory(self) -> bool:
        """True when nothing is written to disk (an empty data_dir)."""
        return not self.data_dir

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def describe(cls) -> list[tuple[str, type, Any, str]]:
        """(name, type, default, help) of every setting, in declaration order."""
        types = {"str": str, "int": int, "float": float}
        return [(f.name, types[str(f.type)], f.default, f.metadata["help"]) for f in dataclasses.fields(cls)]

    @staticmethod
    def env_var(name: str) -> str:
        return ENV_PREFIX + name.upper()
