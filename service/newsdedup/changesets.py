"""What a write changed in the SQLite store, as rows: for replicas that share one state.

With a shared store (`--store redis://...`), each replica keeps a full copy
of the state in its own SQLite store and in memory, and every write it makes
is shipped to the others as a `Changeset`: the final contents of every row it
inserted or updated, the keys of the rows it deleted, and the last sequence
numbers handed out. Applying a changeset to another copy makes that copy's
rows equal to the writer's, whatever SQL the writer ran (a cluster refreshed
from its members, a merge that moved hundreds of articles): the engine's SQL
stays in one place, and replicas never re-run its logic.

`ChangeCapture` records which rows change with temporary triggers (a TEMP
trigger lives in the connection, so the file and other processes never see
it), and `collect` reads their final contents just before the commit.
The `meta` table is not captured: it holds this copy's own bookkeeping.

Encoded with msgpack: rows hold integers, text, blobs and NULLs, which JSON
cannot carry without inflating the blobs, and each row is packed on its own
so that Redis can store it in its table's hash without unpacking it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import msgpack
import numpy as np

# Captured tables and their primary keys; the order is the order in which they are applied.
TABLES: dict[str, str] = {
    "clusters": "seq",
    "cluster_aliases": "alias",
    "articles": "seq",
    "article_signatures": "seq",
    "article_terms": "seq",
    "source_lines": "source",
}
# The tables whose AUTOINCREMENT sequence numbers are handed out; they are never reused, on any replica.
SEQUENCED = ("articles", "clusters")
# SQLite binds at most 32,766 parameters per statement; reads go in chunks well below that.
_CHUNK = 500

Key = int | str
Row = tuple[object, ...]


@dataclass
class TableChanges:
    """The rows of one table a write left (full rows, `columns` order) and the keys of those it deleted."""

    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    deleted: list[Key] = field(default_factory=list)

    def key_of(self, row: Row, table: str) -> Key:
        return row[self.columns.index(TABLES[table])]  # type: ignore[return-value]

    def column(self, name: str) -> list[object]:
        """The values of one column in the rows left, or none if the table was not changed."""
        if not self.rows:
            return []
        position = self.columns.index(name)
        return [row[position] for row in self.rows]

    def integers(self, name: str) -> np.ndarray:
        return np.array(self.column(name), dtype=np.int64)

    def uint32_arrays(self, name: str) -> list[np.ndarray]:
        """A blob column of uint32 arrays (signatures, term buckets)."""
        return [np.frombuffer(blob, dtype=np.uint32) for blob in self.column(name)]  # type: ignore[call-overload]

    def deleted_integers(self) -> np.ndarray:
        return np.array(self.deleted, dtype=np.int64)


@dataclass
class Changeset:
    """Everything one write changed, by table; see the module docstring."""

    tables: dict[str, TableChanges] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return any(changes.rows or changes.deleted for changes in self.tables.values())

    def rows(self, table: str) -> TableChanges:
        """The changes to `table` (none: an empty TableChanges)."""
        return self.tables.get(table) or TableChanges(columns=[])

    def encode(self) -> bytes:
        """msgpack: [[table, columns, [[key, packed row], ...], [deleted key, ...]], ...], [[table, seq], ...]].

        Text in the outer layers is packed as msgpack's old raw type, which the
        Lua of Redis (cmsgpack) reads; each row inside is a blob of its own.
        """
        tables = [
            [
                table,
                changes.columns,
                [[_field(changes.key_of(row, table)), packed(row)] for row in changes.rows],
                [_field(key) for key in changes.deleted],
            ]
            for table, changes in self.tables.items()
        ]
        return msgpack.packb([tables, list(self.sequences.items())], use_bin_type=False)

    @classmethod
    def decode(cls, data: bytes) -> Changeset:
        tables, sequences = msgpack.unpackb(data, raw=True)
        changeset = cls(sequences={name.decode(): seq for name, seq in sequences})
        for name, columns, rows, deleted in tables:
            table = name.decode()
            changeset.tables[table] = TableChanges(
                columns=[column.decode() for column in columns],
                rows=[unpacked(row) for _, row in rows],
                deleted=[key_of_field(table, key) for key in deleted],
            )
        return changeset


def packed(row: Row) -> bytes:
    """One row as msgpack, as a table's hash in Redis holds it."""
    return msgpack.packb(list(row), use_bin_type=True)


def unpacked(data: bytes) -> Row:
    return tuple(msgpack.unpackb(data, raw=False))


def _field(key: Key) -> str:
    """A primary key as a Redis hash field."""
    return str(key)


def key_of_field(table: str, field_: str | bytes) -> Key:
    """A Redis hash field back as the table's primary key."""
    text = field_.decode() if isinstance(field_, bytes) else field_
    return int(text) if TABLES[table] == "seq" else text


class ChangeCapture:
    """Records the rows each transaction changes, on one SQLite connection (see the module docstring)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._columns = {table: [row[1] for row in db.execute(f"PRAGMA table_info({table})")] for table in TABLES}
        db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS changed_rows (tbl TEXT NOT NULL, key NOT NULL, PRIMARY KEY (tbl, key)) "
            "WITHOUT ROWID"
        )
        for table, key in TABLES.items():
            for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
                db.execute(
                    f"CREATE TEMP TRIGGER IF NOT EXISTS capture_{table}_{event.lower()} AFTER {event} ON main.{table} "
                    f"BEGIN INSERT OR IGNORE INTO changed_rows (tbl, key) VALUES ('{table}', {row}.{key}); END"
                )

    def columns(self, table: str) -> list[str]:
        return self._columns[table]

    def collect(self) -> Changeset:
        """What the current transaction changed so far; forgets it, so the next collect starts afresh."""
        changed: dict[str, list[Key]] = {}
        for table, key in self._db.execute("SELECT tbl, key FROM changed_rows"):
            changed.setdefault(table, []).append(key)
        self.forget()
        changeset = Changeset()
        for table, keys in changed.items():
            columns = self._columns[table]
            changes = changeset.tables[table] = TableChanges(columns=columns)
            changes.rows = list(self._rows(table, keys))
            present = {changes.key_of(row, table) for row in changes.rows}
            changes.deleted = [key for key in keys if key not in present]
        if changeset:
            changeset.sequences = self.sequences()
        return changeset

    def forget(self) -> None:
        """Drop what was recorded: another replica's changeset applied, or a copy of the shared state, is not
        this replica's to ship."""
        self._db.execute("DELETE FROM changed_rows")

    def sequences(self) -> dict[str, int]:
        names = ", ".join(f"'{table}'" for table in SEQUENCED)
        return dict(self._db.execute(f"SELECT name, seq FROM sqlite_sequence WHERE name IN ({names})"))

    def _rows(self, table: str, keys: Sequence[Key]) -> Iterator[Row]:
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            yield from self._db.execute(f"SELECT * FROM {table} WHERE {TABLES[table]} IN ({marks})", chunk)

    def apply(self, changeset: Changeset) -> None:
        """Make this copy's rows what the changeset says, inside the caller's transaction (one not shipped,
        which drops what the triggers record of it)."""
        for table in TABLES:
            changes = changeset.tables.get(table)
            if changes is None:
                continue
            key = TABLES[table]
            for start in range(0, len(changes.deleted), _CHUNK):
                chunk = changes.deleted[start : start + _CHUNK]
                self._db.execute(f"DELETE FROM {table} WHERE {key} IN ({', '.join('?' * len(chunk))})", chunk)
            if changes.rows:
                names = ", ".join(changes.columns)
                marks = ", ".join("?" * len(changes.columns))
                self._db.executemany(f"INSERT OR REPLACE INTO {table} ({names}) VALUES ({marks})", changes.rows)
        self.raise_sequences(changeset.sequences)

    def raise_sequences(self, sequences: dict[str, int]) -> None:
        """Never hand out a number another replica has: AUTOINCREMENT goes on from the highest seen anywhere."""
        for table, seq in sequences.items():
            updated = self._db.execute(
                "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (seq, table)
            ).rowcount
            if not updated:
                self._db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, seq))

    def clear(self) -> None:
        """Delete every captured table's rows and sequence numbers (before copying another replica's state)."""
        for table in TABLES:
            self._db.execute(f"DELETE FROM {table}")
        self._db.execute("DELETE FROM sqlite_sequence")
