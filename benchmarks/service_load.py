"""End-to-end load on a real server: ingest throughput, check latency, memory and startup.

    python benchmarks/service_load.py [--sizes 10000] [--batch 500] [--callers 2] [--check-callers 8]
        [--checks 2000] [--probe 5000] [--seed 0] [--data ../shared/data] [--data-dir DIR]
        [--server-args "--durability normal"] [--store sqlite|redis|both]

Starts `newsdedup serve` (the one beside this Python) on 127.0.0.1 as a
separate process with an empty data directory, and drives it over gRPC with
an asyncio client (grpc.aio), so the client costs little CPU; on a 2-core
machine the two still share the cores, so the client's and the server's CPU
use are reported for every phase. For each index size N in `--sizes`, in
increasing order:

1. Ingest: BatchIngestArticles of `--batch` articles until the index holds N.
   The bulk goes with `--callers` concurrent callers; the last 2 x P articles
   (P = `--probe`, at most N/10) are two probes at size ~N, one with one
   caller and one with two, so both rates are measured on the same index.
   Reported: articles/s overall and over the last 10% of the articles added
   for this size, batch latency percentiles, the verdicts the server gave.
2. Memory: the server's VmRSS and VmHWM (/proc/PID/status), and RSS per
   article = (RSS at N - RSS of the empty server just after it started) / N.
3. Check: `--checks` CheckArticle calls from C callers in a closed loop
   (each sends its next request when the previous returns), once for each
   count C in `--check-callers` (comma-separated, e.g. 1,8; default 8), in
   increasing order, on the same index and with the same requests: mostly
   new articles of stored stories, some near-duplicates (lightly edited
   copies of stored articles), some exact copies. Latency percentiles,
   checks/s, and the verdicts per kind of check article. Beside each run,
   the named baseline: the same closed loop of grpc.health.v1 Health/Check
   calls, which do no work, so their latency is what the gRPC server, the
   client and the shared cores cost per call (the transport floor under
   CheckArticle's latency), and the ratio of the two p99s.
   Why more than one count: a closed loop that saturates the server (8
   callers against one engine lock, the client on the same 2 cores) makes
   its latency callers / throughput, mostly time spent queueing; it says
   nothing of what one caller sees on a lightly loaded server, which one
   caller alone measures. The runs share the server's caches, so a later
   run may find warm what an earlier one loaded.
4. Startup: SIGTERM, wait for the exit, start the server again on the same
   data directory, and time from process start until grpc.health.v1
   Health/Check("") says SERVING; then the RSS after the reload.

The corpus is generated from the real ECB+ texts, deterministically (`--seed`)
and one batch at a time: article j belongs to a story (an ECB+ document and
its headline, with every proper name in the ECB+ text replaced by a name
invented for the story, so that stories grown from one document or topic
still differ in their names, as real stories do); its body mixes a quarter of
that document's sentences with sentences of the other documents of its event
(subtopic) and of its topic, two sentences naming the story's person and
place and one with a number unique to the article, shuffled, 400 to 700
words. Stories start one after another and take articles for a
while; every 50th is a big story that draws a quarter of all articles in its
time. About 5% of the articles are near-duplicates of a recent one (a
sentence dropped, three words changed, a byline added) and 2% exact copies.
Article j is a pure function of (seed, j), so a duplicate regenerates its
original instead of keeping it.

`--store` says which store the server keeps its articles in: `sqlite` (the
default) is the embedded store; `redis` is the shared store of replicas
(`newsdedup serve --store redis://...`) on a redis-server this program starts
on a free loopback port with a temporary folder, an append-only file fsynced
once a second (`appendfsync everysec`) and no snapshots; `both` runs the whole
benchmark against each in turn, on the same corpus, and reports both side by
side with the redis/sqlite ratios of ingest rates and check latencies (the
check p99 also for each caller count). With
Redis, the CPU columns include redis-server's, and the memory section its
memory and file sizes.

The data directory is a temporary one, removed at the end, unless `--data-dir`
names one (it must be empty or absent; it is kept, with the server's log; with
`--store both`, each store's in a folder of its own inside it).
The server's log goes to a file; if the server dies, its tail is printed and
the exit status is 1. Progress goes to stderr; one JSON object to stdout. In
it, each size's check runs are under `check_by_callers`, keyed by caller
count ("1", "8"). The summaries (`targets`, `shared_store_targets`,
`redis_vs_sqlite`) read the run with the most callers, the saturated one the
targets were set for, and give the check p99 of every caller count beside it
(`check_p99_ms_by_callers`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
import procfs
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from newsdedup.v1 import dedup_service_pb2 as pb
from newsdedup.v1 import dedup_service_pb2_grpc as pb_grpc
from redis_process import RedisProcess

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SERVER = Path(sys.executable).parent / "newsdedup"
HOST = "127.0.0.1"
MESSAGE_BYTES = 64 * 1024 * 1024
EXACT_SHARE, NEAR_SHARE = 0.02, 0.05  # of the ingested articles
CHECK_MIX = {"new_same_story": 0.80, "near_duplicate": 0.15, "exact_copy": 0.05}
STORY_ARTICLES = 20  # a new story starts every this many articles
STORY_WINDOW = 50.0  # mean age, in stories, of the story an article joins
BIG_STORY_EVERY, BIG_STORY_SHARE = 50, 0.25
DUPLICATE_LAG = 1000.0  # mean distance back to the article a duplicate copies
EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z; article j is published EPOCH + 2 j seconds
WARMUP_CHECKS = 40
BATCH_TIMEOUT, CHECK_TIMEOUT = 600.0, 60.0
STORES = ("sqlite", "redis")
# Redis's default; a deployment that must not lose the last second on a crash of the Redis host runs "always".
REDIS_APPENDFSYNC = "everysec"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“‘'(])")
CAPITALISED = re.compile(r"\b([A-Z][a-z]{2,})\b")
SYLLABLES = [
    "ka", "ver", "lo", "mi", "dan", "tor", "sel", "vi", "ra", "nu", "bek", "zo",
    "han", "ti", "mar", "gol", "pe", "ris", "ul", "fen", "jo", "cas", "dre", "wy",
]  # fmt: skip
OUTLETS = (
    "Reuters", "Associated Press", "AFP", "BBC News", "The Guardian", "Le Monde", "Der Spiegel", "El País",
    "NHK", "Al Jazeera", "The Hindu", "ABC News", "CBC", "The Straits Times", "Kyiv Post", "Daily Nation",
)  # fmt: skip
STORY_TEMPLATES = (
    "{person} said on {day} that the situation in {place} remained unclear.",
    "Officials in {place} confirmed the account, according to {person}.",
    "{person}, a spokesperson in {place}, declined to comment further.",
    "The events in {place} have drawn attention since {person} first spoke about them.",
    "Local media in {place} quoted {person} at length on {day}.",
    "{person} is expected to give more details in {place} later this week.",
    "Residents of {place} said they had heard from {person} only once.",
)
UNIQUE_TEMPLATES = (
    "The report was filed under reference {number}.",
    "A total of {number} people had signed the petition by {day}.",
    "The agency logged the case as number {number}.",
)
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December",
]  # fmt: skip
EDIT_WORDS = ["reportedly", "also", "now", "still", "officially", "apparently", "again"]


# --- the corpus


def _name(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(syllables)).capitalize()


# A sentence with its proper names cut out: literal text, and ints where a name goes (the name's slot).
Template = str | tuple[str | int, ...]


def _templates(texts: Sequence[str]) -> list[Template]:
    """The texts with their proper names made slots.

    A proper name is a capitalised word seen inside a sentence and never in
    lower case anywhere (so "Lohan" and "Betty", not "The" or "Officials").
    """
    lower, inside = set(), set()
    for text in texts:
        for i, word in enumerate(re.findall(r"[A-Za-z]+", text)):
            if word.islower():
                lower.add(word)
            elif i and CAPITALISED.fullmatch(word):
                inside.add(word)
    proper = sorted(w for w in inside if w.lower() not in lower and w not in DAYS and w not in MONTHS)
    slot = {name: i for i, name in enumerate(proper)}
    templates: list[Template] = []
    for text in texts:
        parts = CAPITALISED.split(text)  # literal, word, literal, word, ..., literal
        if not any(word in slot for word in parts[1::2]):
            templates.append(text)
            continue
        merged: list[str | int] = [parts[0]]
        for word, literal in zip(parts[1::2], parts[2::2], strict=True):
            if word in slot:
                merged += [slot[word], literal]
            else:
                merged[-1] = f"{merged[-1]}{word}{literal}"
        templates.append(tuple(merged))
    return templates


@dataclass(frozen=True)
class Story:
    """One story: the ECB+ document it grows from, and the names its articles share."""

    doc: int
    person: str
    place: str


@dataclass
class Text:
    """An article's words before they become a message: its headline, its sentences, and its story."""

    title: str
    sentences: list[str]
    story: int


@dataclass
class Corpus:
    """A deterministic, unbounded stream of news-like articles over the ECB+ sentences."""

    seed: int
    sentences: list[Template]
    words: np.ndarray  # words per sentence
    titles: list[Template]  # per document
    doc_sentences: list[list[int]]  # per document, its sentence ids
    event_pool: list[list[int]]  # per document, the sentences of its subtopic
    event_docs: list[list[int]]  # per document, the documents of its subtopic
    topic_pool: list[list[int]]  # per document, the sentences of its topic
    doc_order: list[int]  # story k grows from document doc_order[k % len]
    _rng: random.Random = field(default_factory=random.Random)
    _stories: dict[int, Story] = field(default_factory=dict)
    _names: dict[tuple[int, int], str] = field(default_factory=dict)

    @classmethod
    def load(cls, data: Path, seed: int) -> Corpus:
        source = data / "ecbplus" / "ecbplus_docs.jsonl"
        if not source.is_file():
            sys.exit(f"data not found: {source} (pass --data)")
        with open(source, encoding="utf-8") as lines:
            documents = [json.loads(line) for line in lines]
        sentences: list[str] = []
        titles, doc_sentences = [], []
        for document in documents:
            paragraphs = [line.strip() for line in document["text"].split("\n") if line.strip()]
            first = paragraphs[0]
            if len(first.split()) <= 25:  # a headline: the title, not a sentence of the body
                titles.append(first.rstrip("."))
                paragraphs = paragraphs[1:]
            else:
                titles.append(" ".join(first.split()[:12]))
            ids = []
            for line in paragraphs:
                for sentence in SENTENCE_END.split(line):
                    if len(sentence.split()) >= 3:
                        ids.append(len(sentences))
                        sentences.append(sentence)
            doc_sentences.append(ids)
        by_event: dict[str, list[int]] = {}
        event_docs: dict[str, list[int]] = {}
        by_topic: dict[int, list[int]] = {}
        for i, (document, ids) in enumerate(zip(documents, doc_sentences, strict=True)):
            by_event.setdefault(document["subtopic"], []).extend(ids)
            event_docs.setdefault(document["subtopic"], []).append(i)
            by_topic.setdefault(document["topic"], []).extend(ids)
        order = [i for i, ids in enumerate(doc_sentences) if len(ids) >= 3]
        random.Random(seed).shuffle(order)
        templates = _templates(sentences + titles)
        return cls(
            seed=seed,
            sentences=templates[: len(sentences)],
            words=np.array([len(s.split()) for s in sentences]),
            titles=templates[len(sentences) :],
            doc_sentences=doc_sentences,
            event_pool=[by_event[d["subtopic"]] for d in documents],
            event_docs=[event_docs[d["subtopic"]] for d in documents],
            topic_pool=[by_topic[d["topic"]] for d in documents],
            doc_order=order,
        )

    def story(self, k: int) -> Story:
        """Story k: the document it grows from (in a seeded order, round and round) and its person and place."""
        story = self._stories.get(k)
        if story is None:
            rng = random.Random(f"{self.seed}/story/{k}")
            person = f"{_name(rng, 2)} {_name(rng, rng.choice((3, 4)))}"
            story = Story(self.doc_order[k % len(self.doc_order)], person, _name(rng, rng.choice((3, 4))))
            if len(self._stories) > 100_000:
                self._stories.clear()
            self._stories[k] = story
        return story

    def render(self, template: Template, story: int) -> str:
        """The text with each proper name replaced by the story's own invented name for it."""
        if isinstance(template, str):
            return template
        return "".join(part if isinstance(part, str) else self._name(story, part) for part in template)

    def _name(self, story: int, slot: int) -> str:
        name = self._names.get((story, slot))
        if name is None:
            if len(self._names) > 500_000:
                self._names.clear()
            name = self._names[story, slot] = _name(random.Random(hash((self.seed, story, slot))), 3)
        return name

    def _seed(self, j: int, salt: int = 0) -> random.Random:
        self._rng.seed(hash((self.seed, salt, j)))  # hashes of int tuples do not vary between runs
        return self._rng

    def story_of(self, j: int) -> int:
        """The story article j belongs to: a recent one, or now and then one of the big stories."""
        rng = self._seed(j, salt=1)
        k = max(0, j // STORY_ARTICLES - int(rng.expovariate(1 / STORY_WINDOW)))
        if rng.random() < BIG_STORY_SHARE:
            k -= k % BIG_STORY_EVERY
        return k

    def text(self, j: int, story: int | None = None) -> Text:
        """The title and sentences of article j (of `story`, if given: then never a duplicate)."""
        rng = self._seed(j)
        kind = rng.random()
        if story is None and j > 0 and kind < EXACT_SHARE + NEAR_SHARE:
            original = max(0, j - 1 - int(rng.expovariate(1 / DUPLICATE_LAG)))
            copy = self.text(original)
            return copy if kind < EXACT_SHARE else self.edited(copy, j)
        k = self.story_of(j) if story is None else story
        rng = self._seed(j)  # story_of drew from the same generator: start article j's draws again
        rng.random()  # (its kind)
        s = self.story(k)
        words = rng.randint(400, 700)
        base = self.doc_sentences[s.doc]
        chosen = set(rng.sample(base, max(1, len(base) // 4)))
        total = int(self.words[list(chosen)].sum())
        event, topic = self.event_pool[s.doc], self.topic_pool[s.doc]
        event_budget = int(self.words[event].sum()) * 0.1
        for _ in range(400):
            if total >= words:
                break
            pool = event if total < event_budget else topic
            sentence = pool[rng.randrange(len(pool))]
            if sentence not in chosen:
                chosen.add(sentence)
                total += int(self.words[sentence])
        sentences = [self.render(self.sentences[i], k) for i in chosen]
        day = rng.choice(DAYS)
        for template in rng.sample(STORY_TEMPLATES, 2):
            sentences.append(template.format(person=s.person, place=s.place, day=day))
        number = j * 2654435761 % 2**48  # odd multiplier: distinct for every j below 2**48
        sentences.append(rng.choice(UNIQUE_TEMPLATES).format(number=number, day=day))
        rng.shuffle(sentences)
        # Mostly the headline of the story's document, sometimes another outlet's headline of the same event.
        title = self.render(self.titles[s.doc if rng.random() < 0.7 else rng.choice(self.event_docs[s.doc])], k)
        if rng.random() < 0.5:
            title = f"{s.place}: {title}"
        return Text(title, sentences, k)

    def edited(self, original: Text, j: int) -> Text:
        """A lightly edited copy: one sentence dropped, three words changed, a byline appended."""
        rng = self._seed(j, salt=2)
        sentences = list(original.sentences)
        if len(sentences) > 5:
            del sentences[rng.randrange(len(sentences))]
        for _ in range(3):
            i = rng.randrange(len(sentences))
            words = sentences[i].split(" ")
            words[rng.randrange(len(words))] = rng.choice(EDIT_WORDS)
            sentences[i] = " ".join(words)
        sentences.append(f"(Reporting by {_name(rng, 2)} {_name(rng, 3)}; editing by {_name(rng, 2)} {_name(rng, 3)})")
        return Text(original.title, sentences, original.story)

    def article(self, j: int, text: Text | None = None, article_id: str = "", published: int = -1) -> pb.Article:
        """Article j as sent: its text (or `text`), id, outlet and publication time (EPOCH + 2 j s unless given)."""
        text = text or self.text(j)
        body = "\n\n".join(" ".join(text.sentences[i : i + 4]) for i in range(0, len(text.sentences), 4))
        outlet = OUTLETS[(j * 7 + text.story) % len(OUTLETS)]
        domain = re.sub(r"\W", "", outlet.lower())
        return pb.Article(
            id=article_id or f"art-{j:08d}",
            title=text.title,
            body=body,
            url=f"https://{domain}.example/news/{text.story}/{j}",
            source=outlet,
            published_at=Timestamp(seconds=EPOCH + 2 * j if published < 0 else published),
            language="en",
        )

    def batch(self, first: int, stop: int) -> pb.BatchIngestArticlesRequest:
        """The request that ingests articles first..stop-1."""
        return pb.BatchIngestArticlesRequest(articles=[self.article(j) for j in range(first, stop)])

    def checks(self, stored: int, count: int, seed: int) -> list[tuple[str, pb.CheckArticleRequest]]:
        """`count` check requests against an index of articles 0..stored-1, of the kinds in CHECK_MIX."""
        rng = np.random.default_rng([self.seed, seed, stored])
        kinds = rng.choice(list(CHECK_MIX), size=count, p=list(CHECK_MIX.values()))
        targets = rng.integers(0, stored, size=count)
        requests = []
        for n, (kind, target) in enumerate(zip(kinds.tolist(), targets.tolist(), strict=True)):
            # Check article n takes an index past anything ingested, so its unique number is new.
            j = 10**12 + stored * 10**5 + n
            if kind == "new_same_story":
                text = self.text(j, story=self.text(target).story)
            elif kind == "near_duplicate":
                text = self.edited(self.text(target), j)
            else:
                text = self.text(target)
            article = self.article(j, text, article_id=f"check-{stored}-{n}", published=EPOCH + 2 * stored + n)
            requests.append((kind, pb.CheckArticleRequest(article=article)))
        return requests


# --- the server process


class ServerDied(RuntimeError):
    """The server process exited when it should be serving."""


@dataclass
class CpuClock:
    """CPU seconds used by the server process and by this one, and the wall time, since `start`."""

    server: Server
    wall: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    redis_cpu: float = 0.0

    @staticmethod
    def own() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def start(self) -> CpuClock:
        self.wall, self.server_cpu, self.client_cpu = time.perf_counter(), self.server.cpu_seconds(), self.own()
        if self.server.redis is not None:
            self.redis_cpu = self.server.redis.cpu_seconds()
        return self

    def read(self) -> dict[str, float]:
        wall = time.perf_counter() - self.wall
        cores = {
            "server_cpu_cores": round((self.server.cpu_seconds() - self.server_cpu) / wall, 2),
            "client_cpu_cores": round((self.own() - self.client_cpu) / wall, 2),
        }
        if self.server.redis is not None:
            cores["redis_cpu_cores"] = round((self.server.redis.cpu_seconds() - self.redis_cpu) / wall, 2)
        return cores


class Server:
    """One `newsdedup serve` process on 127.0.0.1, its port read from --port-file; with `redis`, its shared
    store (passed as --store)."""

    def __init__(
        self, data_dir: Path, log_path: Path, extra_args: Sequence[str], redis: RedisProcess | None = None
    ) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.port_file = log_path.with_name("server.port")
        self.extra_args = list(extra_args) + (["--store", redis.url] if redis is not None else [])
        self.redis = redis
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.channel: grpc.aio.Channel | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def start(self) -> float:
        """Start the process; returns the seconds from its start until Health/Check says SERVING."""
        self.port_file.unlink(missing_ok=True)
        command = [str(SERVER), "serve", "--data-dir", str(self.data_dir), "--host", HOST, "--port", "0"]
        command += ["--port-file", str(self.port_file), *self.extra_args]
        with open(self.log_path, "ab") as log:
            started = time.perf_counter()
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        while True:
            if not self.alive():
                raise ServerDied(f"the server exited with status {self.process.returncode} while starting")
            if not self.port and self.port_file.exists():
                self.port = int(self.port_file.read_text())
            if self.port and await self._serving():
                seconds = time.perf_counter() - started
                break
            await asyncio.sleep(0.01)
        self.channel = grpc.aio.insecure_channel(
            f"{HOST}:{self.port}",
            options=[
                ("grpc.max_receive_message_length", MESSAGE_BYTES),
                ("grpc.max_send_message_length", MESSAGE_BYTES),
            ],
        )
        return seconds

    async def _serving(self) -> bool:
        # A fresh channel per attempt: a channel that failed to connect waits out a reconnect backoff.
        async with grpc.aio.insecure_channel(f"{HOST}:{self.port}") as channel:
            try:
                reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1.0)
            except grpc.aio.AioRpcError:
                return False
            return reply.status == health_pb2.HealthCheckResponse.SERVING

    async def stop(self, timeout: float = 120.0) -> float:
        """SIGTERM, and wait for the exit; returns the seconds it took."""
        if self.channel is not None:
            await self.channel.close()
            self.channel = None
        self.port = 0
        assert self.process is not None
        started = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.process.wait, timeout)
        except subprocess.TimeoutExpired as error:
            raise ServerDied(f"the server did not exit within {timeout:.0f} s of SIGTERM") from error
        if self.process.returncode != 0:
            raise ServerDied(f"the server exited with status {self.process.returncode} after SIGTERM")
        return time.perf_counter() - started

    def kill(self) -> None:
        """Make sure the process is gone: SIGTERM, then SIGKILL."""
        if not self.alive():
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def memory(self) -> dict[str, int]:
        """VmRSS and VmHWM of the server process, in bytes."""
        return procfs.memory(self.pid)

    def cpu_seconds(self) -> float:
        return procfs.cpu_seconds(self.pid)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as error:
            return f"(no log: {error})"

    def stub(self) -> pb_grpc.DedupServiceStub:
        assert self.channel is not None
        return pb_grpc.DedupServiceStub(self.channel)


# --- measurements


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentiles(seconds: Sequence[float]) -> dict[str, float | None]:
    if not seconds:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    values = np.asarray(seconds) * 1000
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "p50_ms": round(float(p50), 2),
        "p95_ms": round(float(p95), 2),
        "p99_ms": round(float(p99), 2),
        "max_ms": round(float(values.max()), 2),
    }


@dataclass
class IngestLog:
    """Completion time and size of every batch, and what the server said about the articles."""

    finished: list[tuple[float, int]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    verdicts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


async def ingest(
    server: Server, corpus: Corpus, first: int, stop: int, callers: int, batch: int, log: IngestLog
) -> dict:
    """Ingest articles first..stop-1 in batches with `callers` concurrent callers; the phase's rates and latencies."""
    if stop <= first:
        return {"callers": callers, "articles": 0}
    ranges = deque((start, min(start + batch, stop)) for start in range(first, stop, batch))
    # Batches are built on a thread, `callers` ahead, so a lone caller never waits for the generator.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="corpus")
    ready: deque[tuple[int, Future[pb.BatchIngestArticlesRequest]]] = deque()

    def refill() -> None:
        while ranges and len(ready) < callers + 1:
            start, end = ranges.popleft()
            ready.append((end - start, pool.submit(corpus.batch, start, end)))

    stub = server.stub()
    latencies: list[float] = []

    async def caller() -> None:
        while True:
            refill()
            if not ready:
                return
            size, request = ready.popleft()
            message = await asyncio.wrap_future(request)
            sent = time.perf_counter()
            reply = await stub.BatchIngestArticles(message, timeout=BATCH_TIMEOUT)
            done = time.perf_counter()
            latencies.append(done - sent)
            log.finished.append((done, size))
            for result in reply.results:
                if result.error.code:
                    log.errors[result.error.message.split(":")[0][:80]] += 1
                else:
                    log.verdicts[pb.Verdict.Name(result.verdict)] += 1

    clock = CpuClock(server).start()
    try:
        await asyncio.gather(*(caller() for _ in range(callers)))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    seconds = time.perf_counter() - clock.wall
    log.latencies += latencies
    return {
        "callers": callers,
        "articles": stop - first,
        "seconds": round(seconds, 2),
        "articles_per_second": round((stop - first) / seconds, 1),
        "batch_latency": percentiles(latencies),
        **clock.read(),
    }


def last_share_rate(finished: Sequence[tuple[float, int]], started: float, share: float = 0.1) -> float | None:
    """Articles/s over the last `share` of the articles, from the batch completion times."""
    if not finished:
        return None
    finished = sorted(finished)
    total = sum(size for _, size in finished)
    done, mark = 0, started
    for moment, size in finished:
        if total - done <= share * total:
            break
        done, mark = done + size, moment
    seconds = finished[-1][0] - mark
    return round((total - done) / seconds, 1) if seconds > 0 else None


async def closed_loop(server: Server, caller: Callable[[], Awaitable[None]], callers: int) -> tuple[float, dict]:
    """Run `callers` copies of `caller` at once: the wall seconds, and the CPU server and client used."""
    clock = CpuClock(server).start()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return time.perf_counter() - clock.wall, clock.read()


async def check_load(server: Server, requests: Sequence[tuple[str, pb.CheckArticleRequest]], callers: int) -> dict:
    """Closed loop: `callers` callers, each sending its next CheckArticle when the previous one returns."""
    stub = server.stub()
    for _, request in requests[:WARMUP_CHECKS]:
        await stub.CheckArticle(request, timeout=CHECK_TIMEOUT)
    queue = deque(requests[WARMUP_CHECKS:])
    latencies: list[float] = []
    by_kind: dict[str, list[float]] = {kind: [] for kind in CHECK_MIX}
    verdicts: dict[str, Counter[str]] = {kind: Counter() for kind in CHECK_MIX}
    joined: Counter[str] = Counter()

    async def caller() -> None:
        while queue:
            kind, request = queue.popleft()
            sent = time.perf_counter()
            reply = await stub.CheckArticle(request, timeout=CHECK_TIMEOUT)
            latency = time.perf_counter() - sent
            latencies.append(latency)
            by_kind[kind].append(latency)
            verdicts[kind][pb.Verdict.Name(reply.result.verdict)] += 1
            joined[kind] += bool(reply.result.cluster_id)  # empty: it would start a new story

    seconds, cpu = await closed_loop(server, caller, callers)
    return {
        "callers": callers,
        "checks": len(latencies),
        "seconds": round(seconds, 2),
        "checks_per_second": round(len(latencies) / seconds, 1),
        **percentiles(latencies),
        **cpu,
        "by_kind": {
            kind: {
                "checks": len(values),
                **percentiles(values),
                "verdicts": dict(sorted(verdicts[kind].items())),
                "joins_existing_cluster": joined[kind],
            }
            for kind, values in by_kind.items()
        },
    }


async def transport_floor(server: Server, calls: int, callers: int) -> dict:
    """The check loop's shape with Health/Check, a call that does no work: gRPC's own cost per call here."""
    assert server.channel is not None
    stub = health_pb2_grpc.HealthStub(server.channel)
    request = health_pb2.HealthCheckRequest()
    latencies: list[float] = []
    remaining = calls

    async def caller() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            sent = time.perf_counter()
            await stub.Check(request, timeout=CHECK_TIMEOUT)
            latencies.append(time.perf_counter() - sent)

    seconds, cpu = await closed_loop(server, caller, callers)
    return {
        "callers": callers,
        "calls": len(latencies),
        "calls_per_second": round(len(latencies) / seconds, 1),
        **percentiles(latencies),
        **cpu,
    }


async def check_beside_floor(
    server: Server, requests: Sequence[tuple[str, pb.CheckArticleRequest]], callers: int
) -> dict:
    """One check run: the CheckArticle loop, then the Health/Check loop of the same shape and as many calls
    (the transport floor), and the ratio of their p99s."""
    checks = await check_load(server, requests, callers)
    floor = await transport_floor(server, checks["checks"], callers)
    return {**checks, "transport_floor": floor, "p99_vs_transport_floor": round(checks["p99_ms"] / floor["p99_ms"], 1)}


async def stats(server: Server) -> dict[str, int]:
    reply = await server.stub().GetStats(pb.GetStatsRequest(), timeout=60)
    return {
        "articles": reply.article_count,
        "clusters": reply.cluster_count,
        "multi_article_clusters": reply.multi_article_cluster_count,
        "exact_duplicates": reply.exact_duplicate_count,
        "near_duplicates": reply.near_duplicate_count,
    }


def redis_memory(redis: RedisProcess) -> dict[str, float]:
    """The shared store's side of the memory figures: what Redis holds, and its append-only file."""
    memory = redis.memory()
    return {
        "used_memory_mb": megabytes(memory["used_memory_bytes"]),
        "rss_mb": megabytes(memory["rss_bytes"]),
        "files_mb": megabytes(memory["files_bytes"]),
    }


def megabytes(value: float) -> float:
    return round(value / 2**20, 1)


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


async def measure_size(
    server: Server, corpus: Corpus, stored: int, size: int, options: argparse.Namespace, empty_rss: int
) -> dict:
    """Grow the index from `stored` to `size` articles, then measure memory, checks and a restart."""
    probe = min(options.probe, size // 10) // options.batch * options.batch
    bulk_stop = max(stored, size - 2 * probe)
    log = IngestLog()
    started = time.perf_counter()
    phases = {}
    progress(f"size {size:,}: ingesting {stored:,}..{bulk_stop:,} with {options.callers} callers")
    phases["bulk"] = await ingest(server, corpus, stored, bulk_stop, options.callers, options.batch, log)
    for callers, first in ((1, bulk_stop), (2, bulk_stop + probe)):
        if first < size:
            progress(f"size {size:,}: probe of {probe:,} articles with {callers} caller(s)")
            phases[f"probe_{callers}_caller"] = await ingest(
                server, corpus, first, min(first + probe, size), callers, options.batch, log
            )
    seconds = time.perf_counter() - started
    for name, phase in phases.items():
        if phase["articles"]:
            progress(f"size {size:,}: {name}: {phase['articles_per_second']:,.0f} articles/s")
    counts = await stats(server)
    memory = server.memory()
    progress(f"size {size:,}: RSS {megabytes(memory['rss_bytes'])} MB")
    requests = corpus.checks(size, options.checks + WARMUP_CHECKS, options.seed)
    check_by_callers = {}
    for callers in options.check_callers:
        progress(f"size {size:,}: {options.checks:,} checks with {callers} caller(s)")
        checks = check_by_callers[str(callers)] = await check_beside_floor(server, requests, callers)
        progress(
            f"size {size:,}: {callers} caller(s): checks p50 {checks['p50_ms']} ms, p99 {checks['p99_ms']} ms "
            f"(Health/Check p99 {checks['transport_floor']['p99_ms']} ms)"
        )
    progress(f"size {size:,}: restarting")
    memory_after_checks = server.memory()
    stop_seconds = await server.stop()
    startup = await server.start()
    reloaded = server.memory()
    counts_after = await stats(server)
    progress(f"size {size:,}: serving again after {startup:.1f} s")
    return {
        "articles": counts["articles"],
        "ingest": {
            "articles": size - stored,
            "seconds": round(seconds, 2),
            "articles_per_second": round((size - stored) / seconds, 1),
            "last_10_percent_articles_per_second": last_share_rate(log.finished, started),
            "batch_size": options.batch,
            "batch_latency": percentiles(log.latencies),
            "verdicts": dict(sorted(log.verdicts.items())),
            "errors": dict(log.errors),
            "phases": phases,
        },
        "index": counts,
        "memory": {
            "rss_mb": megabytes(memory["rss_bytes"]),
            "hwm_mb": megabytes(memory["hwm_bytes"]),
            "rss_bytes_per_article": round((memory["rss_bytes"] - empty_rss) / counts["articles"], 1),
            "rss_mb_after_checks": megabytes(memory_after_checks["rss_bytes"]),
            "rss_mb_after_restart": megabytes(reloaded["rss_bytes"]),
            "rss_bytes_per_article_after_restart": round((reloaded["rss_bytes"] - empty_rss) / counts["articles"], 1),
            "store_mb": megabytes(directory_bytes(server.data_dir)),
            **({"redis": redis_memory(server.redis)} if server.redis is not None else {}),
        },
        "check_by_callers": check_by_callers,
        "restart": {
            "stop_seconds": round(stop_seconds, 2),
            "startup_seconds": round(startup, 2),
            "articles_after_restart": counts_after["articles"],
        },
    }


def corpus_rate(corpus: Corpus, start: int, count: int = 2000) -> float:
    """Articles/s the client builds (text and protobuf) on one core."""
    started = time.perf_counter()
    corpus.batch(start, start + count)
    return round(count / (time.perf_counter() - started), 1)


def machine() -> dict:
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    with open("/proc/meminfo") as meminfo:
        total = int(meminfo.readline().split()[1]) * 1024
    return {
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "processor": model or platform.processor(),
        "memory_gb": round(total / 2**30, 1),
    }


def code_version() -> dict:
    """Which newsdedup the server runs: its folder and, if it is a git checkout, the commit and whether it is dirty."""
    import newsdedup

    folder = Path(newsdedup.__file__).resolve().parent
    version: dict[str, object] = {"package": str(folder)}
    try:
        commit = subprocess.run(["git", "-C", folder, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        status = subprocess.run(["git", "-C", folder, "status", "--porcelain", "."], capture_output=True, text=True)
        version.update(commit=commit.stdout.strip(), uncommitted_changes=bool(status.stdout.strip()))
    except (OSError, subprocess.CalledProcessError):
        pass
    return version


def best_probe(result: dict) -> float | None:
    """A size's ingest rate at ~N: the better of its probes (else the rate over its last 10%)."""
    rates = [p["articles_per_second"] for k, p in result["ingest"]["phases"].items() if k.startswith("probe")]
    return max(rates) if rates else result["ingest"]["last_10_percent_articles_per_second"]


def saturated_check(result: dict) -> dict:
    """A size's check run with the most callers: the saturated loop, the one the summaries and targets read."""
    runs = result["check_by_callers"]
    return runs[max(runs, key=int)]


def p99(result: dict) -> float | None:
    """The check p99 of the saturated run."""
    return saturated_check(result)["p99_ms"]


def p99_by_callers(result: dict) -> dict[str, float | None]:
    """The check p99 of every run, by caller count: the latency one caller sees beside the queueing of many."""
    return {callers: run["p99_ms"] for callers, run in result["check_by_callers"].items()}


# A figure of one size's result, for the targets and the comparison of stores.
Reading = Callable[[dict], float | None]
# A target: where it is measured, the target, the figure (one number, or one per caller count), the size.
TargetRow = tuple[str, str, Reading | Callable[[dict], dict[str, float | None]], int]


def target_rows(sizes: dict[int, dict], rows: dict[str, TargetRow]) -> dict:
    """Each target: where it is measured, the target, its value at its size and at every size measured."""

    def at(size: int, read: Callable[[dict], object]) -> dict:
        return {"size": size, "value": read(sizes[size]) if size in sizes else None}

    def by_size(read: Callable[[dict], object]) -> dict[str, object]:
        return {str(size): read(result) for size, result in sizes.items()}

    return {
        name: {"where": where, "target": target, **at(size, read), "by_size": by_size(read)}
        for name, (where, target, read, size) in rows.items()
    }


def check_p99_rows(where: str, target: str, size: int) -> dict[str, TargetRow]:
    """The check p99 target, read from the saturated run, and beside it the p99 of every caller count."""
    return {
        "check_p99_ms_8_callers": (f"{where}, the run with the most --check-callers (8 by default)", target, p99, size),
        "check_p99_ms_by_callers": (
            f"{where}, every --check-callers count",
            "none: one caller's latency beside the saturated loop's",
            p99_by_callers,
            size,
        ),
    }


def targets(sizes: dict[int, dict]) -> dict:
    def floor_p99(result: dict) -> float | None:
        return saturated_check(result)["transport_floor"]["p99_ms"]

    def per_article(result: dict) -> float:
        return result["memory"]["rss_bytes_per_article"]

    def startup(result: dict) -> float:
        return result["restart"]["startup_seconds"]

    rows: dict[str, TargetRow] = {
        "ingest_articles_per_second": (
            "at 100k, the better of the 1- and 2-caller probes",
            ">= 2000",
            best_probe,
            100_000,
        ),
        **check_p99_rows("at 1M", "<= 5", 1_000_000),
        "health_check_p99_ms_8_callers": (
            "at 1M, the saturated check run's loop",
            "none: the transport floor",
            floor_p99,
            1_000_000,
        ),
        "rss_bytes_per_article": ("at 1M", "<= 2560", per_article, 1_000_000),
        "startup_seconds": ("at 1M", "<= 60", startup, 1_000_000),
    }
    return target_rows(sizes, rows)


def shared_store_targets(sizes: dict[int, dict]) -> dict:
    """The shared store's targets (issue 7), through one replica on a local Redis."""
    rows: dict[str, TargetRow] = {
        "ingest_articles_per_second": (
            "at 100k, BatchIngestArticles, the better of the 1- and 2-caller probes",
            ">= 1500",
            best_probe,
            100_000,
        ),
        **check_p99_rows("at 100k", "<= 10", 100_000),
    }
    return target_rows(sizes, rows)


# The figures compared between stores, size by size (the check figures of the saturated run).
COMPARED: dict[str, Reading] = {
    "ingest_articles_per_second": lambda result: result["ingest"]["articles_per_second"],
    "ingest_best_probe_articles_per_second": best_probe,
    "check_p50_ms": lambda result: saturated_check(result)["p50_ms"],
    "check_p99_ms": p99,
    "checks_per_second": lambda result: saturated_check(result)["checks_per_second"],
    "server_rss_mb": lambda result: result["memory"]["rss_mb"],
    "startup_seconds": lambda result: result["restart"]["startup_seconds"],
}


def side_by_side(reports: dict[str, dict]) -> dict:
    """The reports of both stores, and for every size the compared figures with their redis/sqlite ratio,
    the check p99 also for each caller count."""
    sqlite, redis = reports["sqlite"], reports["redis"]

    def compared(sqlite_value: float | None, redis_value: float | None) -> dict[str, float | None]:
        ratio = round(redis_value / sqlite_value, 2) if redis_value is not None and sqlite_value else None
        return {"sqlite": sqlite_value, "redis": redis_value, "redis_vs_sqlite": ratio}

    comparison: dict[str, dict[str, dict]] = {}
    for size, base in sqlite["sizes"].items():
        shared = redis["sizes"][size]
        redis_p99s = p99_by_callers(shared)
        comparison[size] = {
            **{name: compared(read(base), read(shared)) for name, read in COMPARED.items()},
            "check_p99_ms_by_callers": {
                callers: compared(sqlite_p99, redis_p99s[callers])
                for callers, sqlite_p99 in p99_by_callers(base).items()
            },
        }
    return {
        "benchmark": "service_load",
        "stores": list(reports),
        "machine": sqlite["machine"],
        "redis": redis["server"]["redis"],
        "redis_vs_sqlite": comparison,
        "shared_store_targets": redis["shared_store_targets"],
        "reports": reports,
        "total_seconds": round(sum(report["total_seconds"] for report in reports.values()), 1),
    }


async def run(options: argparse.Namespace, corpus: Corpus, server: Server) -> dict:
    store = "sqlite" if server.redis is None else "redis"
    progress(f"starting an empty server ({SERVER}), store: {store}")
    startup_empty = await server.start()
    empty = server.memory()
    progress(f"empty server: serving after {startup_empty:.1f} s, RSS {megabytes(empty['rss_bytes'])} MB")
    results: dict[int, dict] = {}
    stored = 0
    began = time.perf_counter()
    for size in options.sizes:
        results[size] = await measure_size(server, corpus, stored, size, options, empty["rss_bytes"])
        stored = size
    await server.stop()
    shared = {} if server.redis is None else {"shared_store_targets": shared_store_targets(results)}
    redis = {} if server.redis is None else {"redis": server.redis.info()}
    return {
        "benchmark": "service_load",
        "store": store,
        "machine": machine(),
        "server": {"command": f"{SERVER} serve", "extra_args": server.extra_args, **redis, **code_version()},
        "settings": {
            "sizes": options.sizes,
            "batch": options.batch,
            "callers": options.callers,
            "probe": options.probe,
            "check_callers": options.check_callers,
            "checks": options.checks,
            "warmup_checks": WARMUP_CHECKS,
            "seed": options.seed,
            "corpus": {
                "exact_share": EXACT_SHARE,
                "near_share": NEAR_SHARE,
                "articles_per_new_story": STORY_ARTICLES,
                "check_mix": CHECK_MIX,
            },
        },
        "corpus_articles_per_second_one_core": corpus_rate(corpus, stored),
        "empty_server": {
            "startup_seconds": round(startup_empty, 2),
            "rss_mb": megabytes(empty["rss_bytes"]),
            "hwm_mb": megabytes(empty["hwm_bytes"]),
        },
        "sizes": {str(size): result for size, result in results.items()},
        "targets": targets(results),
        **shared,
        "total_seconds": round(time.perf_counter() - began, 1),
    }


def increasing_counts(what: str) -> Callable[[str], list[int]]:
    """An argparse type: comma-separated positive counts in increasing order, e.g. 1,8 or 10_000,100_000."""

    def parse(value: str) -> list[int]:
        try:
            counts = [int(part.replace("_", "")) for part in value.split(",") if part.strip()]
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{what} are comma-separated counts, got {value!r}") from error
        if not counts or counts != sorted(set(counts)) or counts[0] < 1:
            raise argparse.ArgumentTypeError(
                f"{what} must be positive counts in increasing order, each once, got {value!r}"
            )
        return counts

    return parse


def report_failure(error: Exception, server: Server) -> None:
    """Say on stderr what failed, whether the server is still running, and the tail of its log."""
    died = server.process is not None and not server.alive()
    status = f"exited with status {server.process.returncode}" if died and server.process else "is running"
    print(f"error: {error}\nthe server {status}; the tail of its log:", file=sys.stderr)
    print(server.log_tail(), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sizes", type=increasing_counts("sizes"), default=[10_000], help="index sizes, e.g. 10000,100000"
    )
    parser.add_argument("--batch", type=int, default=500, help="articles per BatchIngestArticles call (default 500)")
    parser.add_argument("--callers", type=int, default=2, help="concurrent ingest callers for the bulk (default 2)")
    parser.add_argument(
        "--probe", type=int, default=5000, help="articles per ingest probe, at most N/10 (default 5000)"
    )
    parser.add_argument(
        "--check-callers",
        type=increasing_counts("check callers"),
        default=[8],
        metavar="N[,N...]",
        help="closed-loop CheckArticle callers; a list, e.g. 1,8, runs the check phase once per count (default 8)",
    )
    parser.add_argument(
        "--checks", type=int, default=2000, help="timed CheckArticle calls per size and caller count (default 2000)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--data-dir", type=Path, help="keep the server's data (and log) here; empty or absent")
    parser.add_argument("--server-args", default="", help='extra `newsdedup serve` flags, e.g. "--workers 4"')
    parser.add_argument(
        "--store",
        choices=(*STORES, "both"),
        default="sqlite",
        help="the embedded SQLite store, the shared store on a redis-server started for the run, or both in turn",
    )
    options = parser.parse_args(argv)
    for name in ("batch", "callers", "checks"):
        if getattr(options, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(options, name)}")
    if options.data_dir and options.data_dir.exists() and any(options.data_dir.iterdir()):
        parser.error(f"--data-dir {options.data_dir} is not empty: the benchmark starts from an empty index")
    if not SERVER.exists():
        sys.exit(f"{SERVER} not found: install the project into this environment (pip install -e .)")
    stores = STORES if options.store == "both" else (options.store,)
    if "redis" in stores and shutil.which("redis-server") is None:
        sys.exit("redis-server not found: --store redis needs it (Debian: apt-get install redis-server)")
    corpus = Corpus.load(options.data.resolve(), options.seed)
    work = Path(tempfile.mkdtemp(prefix="newsdedup-load-"))
    reports = {}
    try:
        for store in stores:
            # Kept with --data-dir: the store's own folder in it when there are two.
            kept = options.data_dir.resolve() if options.data_dir else None
            folder = kept / store if kept and len(stores) > 1 else kept
            report = run_store(store, options, corpus, work / store, folder)
            if report is None:
                return 1
            reports[store] = report
    finally:
        shutil.rmtree(work, ignore_errors=True)
    json.dump(reports[stores[0]] if len(stores) == 1 else side_by_side(reports), sys.stdout, indent=2)
    print()
    return 0


def run_store(store: str, options: argparse.Namespace, corpus: Corpus, work: Path, kept: Path | None) -> dict | None:
    """The whole benchmark against one store, in `work` (or `kept`, left in place); None if it failed.

    The SQLite store's data directory is `kept` itself (as before there were
    two stores); with Redis, `kept` holds the replica's data directory and
    Redis's folder side by side.
    """
    folder = kept or work
    if store == "sqlite":
        data_dir = kept or work / "data"
        redis = None
    else:
        data_dir = folder / "replica"
        redis = RedisProcess(folder / "redis", REDIS_APPENDFSYNC)
    work.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    server = Server(data_dir, work / "server.log", shlex.split(options.server_args), redis)
    try:
        if redis is not None:
            redis.start()
            progress(
                f"redis-server {redis.info()['version']} on {redis.url}: append-only file with appendfsync "
                f"{REDIS_APPENDFSYNC} (fsynced once a second: a crash of the host can lose the last second), "
                f"no snapshots"
            )
        return asyncio.run(run(options, corpus, server))
    except (ServerDied, grpc.aio.AioRpcError, OSError, RuntimeError) as error:
        report_failure(error, server)
        if redis is not None:
            print(f"redis-server's log:\n{redis.log_tail()}", file=sys.stderr)
        return None
    finally:
        server.kill()
        if redis is not None:
            redis.stop()
        if kept and server.log_path.exists():
            shutil.copy(server.log_path, folder / "server.log")


if __name__ == "__main__":
    sys.exit(main())
