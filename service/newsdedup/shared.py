"""The state that replicas share, in Redis: every table's rows, and the log of the changesets that made them.

Several `newsdedup serve` processes started with one `--store redis://...`
serve one state. Each keeps a full copy of it (its own SQLite store and
in-memory indexes, as a single server does), so every read is answered
locally; Redis holds what they share:

- `{newsdedup}:t:<table>`: a hash per table of the store (articles with
  their texts, signatures, salient terms, clusters, cluster aliases, learned
  chrome): primary key -> the row, msgpack. A new replica copies these.
- `{newsdedup}:log`: a stream of changesets (`changesets.Changeset`), one
  per write, in commit order. Replicas read it to catch up.
- `{newsdedup}:meta`: the signature parameters every replica must share, the
  page-token key, the highest sequence numbers handed out, and an epoch (a
  random id made when the state was created: a Redis that lost its data has
  none, or another, and replicas refuse to carry on as if nothing happened).

Writes are serialised across replicas optimistically. A replica catches up
with the log, judges its articles against its copy, and commits with one Lua
script that writes the rows and appends the changeset only if the log's last
entry is still the one it caught up to; otherwise nothing is written and the
replica catches up and judges again (`Stale`). So every write sees every write
committed before it, as with a single server: merges of the same clusters by
two replicas at once end as one merge, and an article ingested through one
replica is a duplicate when its copy reaches another a moment later.

A write that lost that race twice in a row goes next: it waits for the
write lease (`{newsdedup}:lease`), and while a replica holds it the script
refuses every other replica's commit (`Leased`); a write refused so, or
that sees the lease held as it catches up (the log read fetches it too),
waits until the lease has ended before it is judged. Without the lease a
long write (a batch of 500 takes a second to judge) never commits while
another replica commits small writes all the time: it lost 20 times in a
row, for over a minute, in a test. Taking it at the first loss made small
writes refuse each other in turn: a soak of four writers on two replicas
made 13% fewer calls in its first minute. The lease ends with the commit
that holds it, or lapses after a few times the lost attempt's duration
(`lease_seconds`), so a replica that dies holding it holds up the others'
writes only that long.

Every key carries the hash tag `{newsdedup}`, so all of them live in one slot
and the script runs on Redis Cluster as on a single Redis.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import redis
import redis.sentinel
from redis.cluster import RedisCluster

from newsdedup.changesets import TABLES, Changeset, Row, TableChanges, packed, unpacked
from newsdedup.config import SENTINEL_SCHEME, without_password
from newsdedup.errors import IncompatibleData, StorageUnavailable

log = logging.getLogger(__name__)

PREFIX = "{newsdedup}"
LOG = f"{PREFIX}:log"
META = f"{PREFIX}:meta"
LEASE = f"{PREFIX}:lease"
TABLE_KEYS = {table: f"{PREFIX}:t:{table}" for table in TABLES}
# The log keeps about the last this many minutes of changesets (trimmed by age, since a changeset holds its
# articles' texts and a count of entries says nothing of their size); a replica further behind copies the
# tables anew. At 500 articles/s of 10 KB each, ten minutes of log take about 3 GB of Redis memory.
LOG_MINUTES = 10
# Entries read per round trip when catching up, and rows per HSCAN page when copying the tables.
_PAGE = 1000
# How long a replica waits for another to finish putting its copy into an empty Redis.
SEED_WAIT_SECONDS = 120.0
_NO_ENTRY = "0-0"
# A write takes the lease after losing this many times in a row.
LEASE_AFTER_LOSSES = 2
# A write lease lasts this many times the attempt that lost (a write judged again takes about as long), within
# these bounds; the bounds also cap how long a write waits for the lease before it gives up.
LEASE_FACTOR = 4.0
LEASE_SECONDS = (2.0, 120.0)
_LEASE_POLL_SECONDS = 0.005

# KEYS: the log, meta, the write lease, then the table hashes in TABLES order.
# ARGV: epoch, the log entry the writer caught up to, the log's age in ms, the changeset, the writer's lease
# ('' for none), then for each table (TABLES order) the number of rows put, their (field, row) pairs, the
# number of keys deleted, those keys.
_COMMIT = """
if redis.call('HGET', KEYS[2], 'epoch') ~= ARGV[1] then return {-1, ''} end
local head = redis.call('HGET', KEYS[2], 'head') or '0-0'
local lease = redis.call('GET', KEYS[3])
if lease and lease ~= ARGV[5] then return {2, head} end
if head ~= ARGV[2] then return {0, head} end
if lease then redis.call('DEL', KEYS[3]) end
local i = 6
for t = 4, #KEYS do
  local puts = tonumber(ARGV[i]); i = i + 1
  for _ = 1, puts do redis.call('HSET', KEYS[t], ARGV[i], ARGV[i + 1]); i = i + 2 end
  local deletes = tonumber(ARGV[i]); i = i + 1
  for _ = 1, deletes do redis.call('HDEL', KEYS[t], ARGV[i]); i = i + 1 end
end
local now = redis.call('TIME')
local oldest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[3])
local id = redis.call('XADD', KEYS[1], 'MINID', '~', oldest, '*', 'p', head, 'c', ARGV[4])
redis.call('HSET', KEYS[2], 'head', id)
return {1, id}
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
"""


_TIMEOUTS: dict[str, Any] = {"socket_timeout": 10, "socket_connect_timeout": 5}


def _connect(url: str) -> redis.Redis | RedisCluster:
    """A client of the Redis at `url`: through Sentinel for redis+sentinel://; for a node of a Redis Cluster,
    a cluster client.

    newsdedup's keys share one hash tag, so one node holds them all; the
    cluster client finds it whichever node `url` names, and follows the keys
    when they move to another node (MOVED, ASK), or to a replica that took
    over from a crashed node; it keeps the other nodes' addresses, so even
    the crash of the node `url` names does not leave it lost. A plain client
    would get MOVED from every other node.
    """
    if url.startswith(SENTINEL_SCHEME):
        return _sentinel_master(url)
    client = redis.Redis.from_url(url, **_TIMEOUTS)
    try:
        clustered = client.info("cluster").get("cluster_enabled") == 1
    except redis.ResponseError:  # INFO refused to this user by an ACL: a cluster client needs CLUSTER commands
        clustered = False
    if not clustered:
        return client
    client.close()
    return RedisCluster.from_url(url, **_TIMEOUTS)


class _Sentinel(redis.sentinel.Sentinel):
    """Sentinels asked for the master the way Redis's client guidelines say: SENTINEL get-master-addr-by-name.

    It names the promoted replica as soon as the failover promotes it.
    redis-py's way (SENTINEL MASTERS) names the old master until the
    failover ends, and the old master takes writes until Sentinel demotes
    it, which throws them away.
    """

    def discover_master(self, service_name: str) -> tuple[str, int]:
        for sentinel in self.sentinels:
            try:
                address = sentinel.execute_command("SENTINEL GET-MASTER-ADDR-BY-NAME", service_name)
            except (redis.ConnectionError, redis.TimeoutError):
                continue  # the next Sentinel
            if address:
                host, port = address
                return _text(host), int(port)
        raise redis.sentinel.MasterNotFoundError(f"no Sentinel names a master for {service_name!r}")


def _sentinel_master(url: str) -> redis.Redis:
    """A client of the master Sentinel names: redis+sentinel://[user:password@]host:port[,host:port...]/service[/db].

    The user and password are the master's. The client asks the Sentinels
    for the master's address when it connects, and again after a failover:
    a call that meets the demoted master fails (UNAVAILABLE), and the next
    one goes to the new master.
    """
    parts = urllib.parse.urlsplit(url)
    user, _, hosts = parts.netloc.rpartition("@")
    username, _, password = user.partition(":")
    service, _, db = parts.path.strip("/").partition("/")
    try:
        sentinels = [(host, int(port)) for host, _, port in (address.rpartition(":") for address in hosts.split(","))]
    except ValueError:
        sentinels = []
    if not service or not sentinels or not all(host for host, _ in sentinels) or not (db or "0").isdigit():
        raise ValueError(f"a Sentinel URL is {SENTINEL_SCHEME}//[user:password@]host:port[,host:port...]/service[/db]")
    sentinel = _Sentinel(sentinels, sentinel_kwargs=_TIMEOUTS)
    return sentinel.master_for(
        service,
        db=int(db or 0),
        username=urllib.parse.unquote(username) or None,
        password=urllib.parse.unquote(password) or None,
        **_TIMEOUTS,
    )


class Stale(Exception):
    """Another replica committed since this one caught up: catch up and judge the write again."""


class Leased(Stale):
    """Another replica holds the write lease: wait until it ends (`await_lease_end`), catch up and judge the
    write again."""


def lease_seconds(lost_attempt_seconds: float) -> float:
    """How long a write lease lasts, for a write whose lost attempt took `lost_attempt_seconds`."""
    low, high = LEASE_SECONDS
    return min(max(LEASE_FACTOR * lost_attempt_seconds, low), high)


class Behind(Exception):
    """The log no longer holds this replica's position: it must copy the tables anew."""


class SharedState:
    """One connection to the shared state in Redis (see the module docstring)."""

    def __init__(self, url: str, parameters: str) -> None:
        """`parameters`: the store's signature parameters (JSON); a Redis holding others is refused."""
        self.where = without_password(url)  # for messages: they reach clients and logs
        self.parameters = parameters
        try:
            with self._reaching("connecting"):
                self._redis = _connect(url)
        except ValueError as error:
            raise StorageUnavailable(f"cannot use the shared store {self.where!r}: {error}") from error
        pool = getattr(self._redis, "connection_pool", None)  # a cluster client has one per node
        self._sentinel = pool if isinstance(pool, redis.sentinel.SentinelConnectionPool) else None
        self._commit = self._redis.register_script(_COMMIT)
        self._release = self._redis.register_script(_RELEASE)
        self.epoch = ""
        # The write lease's holder as the last catch-up saw it ('' for none): a hint, read with the log for no
        # extra round trip, that lets a write wait for another replica's turn instead of being judged in vain.
        self.lease_seen = ""

    def close(self) -> None:
        self._redis.close()

    @contextlib.contextmanager
    def _reaching(self, doing: str, outcome: str = "nothing was changed") -> Iterator[None]:
        """Redis unreachable, restarting or loading its data: StorageUnavailable, saying so."""
        try:
            yield
        except redis.RedisError as error:
            raise StorageUnavailable(
                f"the shared store (Redis at {self.where}) failed while {doing}: {error}; {outcome}"
            ) from error

    # --- joining

    def claim(self) -> bool:
        """Whether this replica creates the shared state (Redis holds none yet) and must put its copy in."""
        with self._reaching("joining the shared state"):
            epoch = secrets.token_hex(16)
            if self._redis.hsetnx(META, "epoch", epoch):
                self.epoch = epoch
                return True
            return False

    def _check_parameters(self) -> None:
        stored = self._wait_for("parameters")
        if stored != self.parameters:
            raise IncompatibleData(
                f"the shared store at {self.where} holds articles signed with parameters {stored}, but this "
                f"server is configured with {self.parameters}: start it with the same settings as the other "
                f"replicas, or point it at another Redis",
                metadata={"stored": stored, "configured": self.parameters},
            )

    def _wait_for(self, field: str) -> str:
        """A field of meta that the replica creating the state writes last; waits while it is being created."""
        waited_until = time.monotonic() + SEED_WAIT_SECONDS
        while (value := self._redis.hget(META, field)) is None:
            if time.monotonic() > waited_until:
                raise StorageUnavailable(
                    f"the shared store at {self.where} has been being created by another replica for over "
                    f"{SEED_WAIT_SECONDS:.0f} s; if that replica died, delete the keys {PREFIX}:* and start again"
                )
            time.sleep(0.1)
        return _text(value)

    def put_rows(self, table: str, changes: TableChanges) -> None:
        """Put rows of this replica's copy into the shared state, while creating it (after `claim` said so)."""
        hash_key = TABLE_KEYS[table]
        with self._reaching("creating the shared state"):
            pipe = self._redis.pipeline(transaction=False)
            for row in changes.rows:
                pipe.hset(hash_key, str(changes.key_of(row, table)), packed(row))
            pipe.execute()

    def finish_creating(self, sequences: dict[str, int], page_token_key: str) -> str:
        """Open the shared state to the other replicas, once every row is in; returns the log position."""
        with self._reaching("creating the shared state"):
            position = self._redis.xadd(LOG, {"p": _NO_ENTRY, "c": Changeset(sequences=sequences).encode()})
            self._redis.hset(META, "head", position)
            for name, seq in sequences.items():
                self._redis.hset(META, f"seq:{name}", seq)
            self._redis.hset(META, "page_token_key", page_token_key)
            self._redis.hset(META, "parameters", self.parameters)  # last: the others wait for it
        return _text(position)

    def start_copy(self) -> tuple[str, str]:
        """Before copying the tables: (the log position to catch up from afterwards, the page-token key).

        Writes go on while the tables are copied; replaying the log from this
        position over the copy makes it exact, since a changeset sets rows to
        their final values.
        """
        self.join()
        with self._reaching("copying the shared state"):
            return self._head(), self._wait_for("page_token_key")

    def join(self) -> str:
        """Join the shared state another replica created; returns its epoch."""
        with self._reaching("joining the shared state"):
            self.epoch = self._wait_for("epoch")
            self._check_parameters()
        return self.epoch

    def holds(self, position: str) -> bool:
        """Whether a replica at `position` can catch up from the log: the log holds what followed it."""
        with self._reaching("joining the shared state"):
            following: list = self._redis.xrange(LOG, f"({position}", count=1)  # type: ignore[assignment]
            if following:
                return _text(following[0][1][b"p"]) == position
            return self._head() == position

    def table_rows(self, table: str) -> Iterator[list[Row]]:
        """The rows of one shared table, a page at a time."""
        hash_key = TABLE_KEYS[table]
        with self._reaching("copying the shared state"):
            page: list[Row] = []
            for _, row in self._redis.hscan_iter(hash_key, count=_PAGE):
                page.append(unpacked(row))
                if len(page) == _PAGE:
                    yield page
                    page = []
            yield page

    def sequences(self) -> dict[str, int]:
        """The highest sequence numbers handed out, by table."""
        with self._reaching("copying the shared state"):
            meta = self._redis.hgetall(META)
        fields = {_text(key): value for key, value in meta.items()}
        return {key[4:]: int(value) for key, value in fields.items() if key.startswith("seq:")}

    def _head(self) -> str:
        """The position of the log's last entry, which the commit script keeps in meta: reading the entry itself
        would fetch its changeset, megabytes for a big batch."""
        head = self._redis.hget(META, "head")
        return _text(head) if head is not None else _NO_ENTRY

    # --- catching up and committing

    def changes_since(self, position: str) -> Iterator[tuple[str, Changeset]]:
        """The changesets committed after `position`, in order, with their positions.

        Each entry names the one it was committed on top of, so a gap (the
        log trimmed past `position` while this replica was away) shows:
        Behind. So does a log that ends before `position`: Redis restored
        from an older append-only file, or a failover that lost the last
        writes, which this replica has and Redis no longer. StorageUnavailable
        if Redis lost the shared state altogether (its epoch changed).
        """
        with self._reaching("catching up with the other replicas"):
            while True:
                pipe = self._redis.pipeline(transaction=False)
                pipe.hget(META, "epoch")
                pipe.xrange(LOG, f"({position}", count=_PAGE)
                pipe.hget(META, "head")
                pipe.get(LEASE)
                epoch, entries, head, lease = pipe.execute()
                self._check_epoch(epoch)
                self.lease_seen = _text(lease) if lease is not None else ""
                if not entries and head is not None and _order(_text(head)) < _order(position):
                    raise Behind(position)
                for entry_id, fields in entries:
                    if _text(fields[b"p"]) != position:
                        raise Behind(position)
                    position = _text(entry_id)
                    yield position, Changeset.decode(fields[b"c"])
                if len(entries) < _PAGE:
                    return

    def _check_epoch(self, epoch: bytes | None) -> None:
        if epoch is None or epoch.decode() != self.epoch:
            raise StorageUnavailable(
                f"the shared store at {self.where} lost its data (its epoch is {epoch!r}, this replica joined "
                f"{self.epoch!r}): restore Redis from its append-only file, or restart the replicas so that "
                f"the first one started puts its copy back"
            )

    def commit(self, changeset: Changeset, position: str, lease: str = "") -> str:
        """Commit a changeset made on top of `position`, holding `lease` (a token of `take_lease`, which the
        commit ends) or none; returns its own position. Raises Stale if another replica committed since,
        Leased if another holds the write lease, and StorageUnavailable (nothing written) if Redis cannot
        be reached."""
        args: list[bytes | str | int] = [self.epoch, position, LOG_MINUTES * 60_000, changeset.encode(), lease]
        for table in TABLES:
            changes = changeset.rows(table)
            args.append(len(changes.rows))
            for row in changes.rows:
                args += [str(changes.key_of(row, table)), packed(row)]
            args.append(len(changes.deleted))
            args += [str(key) for key in changes.deleted]
        # A reply lost on the way back leaves a committed write unacknowledged; sending it again is safe.
        with self._reaching("committing a write", "it may or may not have been stored: sending it again is safe"):
            if self._sentinel is not None:
                # Sentinel promotes a replica before it tells the old master; until then the old master
                # still takes writes, which its demotion throws away. Asking first (one round trip to
                # Sentinel) sends the write to the new master: the pool drops connections to the old one.
                self._sentinel.get_master_address()
            status, result = self._commit(keys=[LOG, META, LEASE, *TABLE_KEYS.values()], args=args)
        if status == -1:
            self._check_epoch(None)
        if status == 0:
            raise Stale(result.decode())
        if status == 2:
            raise Leased(result.decode())
        return result.decode()

    def take_lease(self, seconds: float, until: float | None = None) -> str:
        """Wait until no replica holds the write lease, and take it for `seconds`; returns its token, or ''
        if `until` (a time.monotonic() value: the caller's deadline) came first."""
        token = secrets.token_hex(8)
        milliseconds = max(1, round(seconds * 1000))
        taken = self._await_lease(lambda: bool(self._redis.set(LEASE, token, nx=True, px=milliseconds)), until)
        return token if taken else ""

    def leased_to_another(self, lease: str) -> bool:
        """Whether, as the last catch-up saw it, a write lease other than `lease` is held."""
        return self.lease_seen not in ("", lease)

    def await_lease_end(self, until: float | None = None) -> None:
        """Wait until no replica holds the write lease, or `until` (the caller's deadline) comes."""
        self._await_lease(lambda: not self._redis.exists(LEASE), until)

    def _await_lease(self, done: Callable[[], bool], until: float | None) -> bool:
        """Poll `done()` until it is true (True) or `until` comes (False). StorageUnavailable if other replicas
        hold the lease for longer than the longest one lasts: replicas taking turns with long writes, say."""
        give_up = time.monotonic() + LEASE_SECONDS[1]
        with self._reaching("waiting for the write lease"):
            while not done():
                if until is not None and time.monotonic() > until:
                    return False
                if time.monotonic() > give_up:
                    raise StorageUnavailable(
                        f"other replicas have held the write lease at {self.where} for over "
                        f"{LEASE_SECONDS[1]:.0f} s; nothing was stored, try again"
                    )
                time.sleep(_LEASE_POLL_SECONDS)
        return True

    def release_lease(self, token: str) -> None:
        """End the write lease `token` if it still holds it (a write that failed before its commit ended it).

        Never raises: it runs while the write's own error is on its way to
        the caller, and if Redis cannot be reached the lease lapses anyway.
        """
        try:
            self._release(keys=[LEASE], args=[token])
        except redis.RedisError as error:
            log.warning("could not end the write lease at %s (it lapses on its own): %s", self.where, error)


def _order(position: str) -> tuple[int, int]:
    """A stream entry id ("milliseconds-sequence") as something that compares in log order."""
    milliseconds, _, sequence = position.partition("-")
    return int(milliseconds), int(sequence or 0)


def _text(value: bytes | str) -> str:
    """A reply of redis-py (bytes, as the client does not decode: rows are binary) as text."""
    return value.decode() if isinstance(value, bytes) else value
