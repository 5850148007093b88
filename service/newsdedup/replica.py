"""This replica's copy of a shared state: joining it, following it, and shipping its own writes to it.

`SharedCopy` keeps the local SQLite store in step with the shared state in
Redis (`shared.SharedState`) and tracks the log position the copy reflects.
The engine asks it for the changesets to apply before every call
(`changes`), and the store hands it every write just before committing it
(`ship`): the write reaches Redis first, so a write that Redis refuses is
not committed locally either. If the local commit then fails, the position
stays where it was and the write comes back through the log, like another
replica's.

The local position is kept in the store's meta table, in the same
transaction as the rows, so a replica restarted with its data directory
catches up from where its copy is instead of copying everything again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from newsdedup.changesets import TABLES, Changeset
from newsdedup.shared import SharedState
from newsdedup.store import Store

log = logging.getLogger(__name__)


class SharedCopy:
    """The local store as a copy of the shared state at `url` (see the module docstring)."""

    def __init__(self, url: str, store: Store) -> None:
        parameters = store.get_meta("parameters")
        assert parameters is not None
        self._store = store
        self.shared = SharedState(url, parameters)
        self.position = ""
        self.lease = ""  # the write lease the write being made holds (set under the engine's lock), or none
        self._pending = ""
        store.capture_changes()
        store.on_commit = self.ship

    def join(self, page_token_key: str) -> None:
        """Create the shared state from this copy if Redis holds none, else make this copy the shared state's."""
        if self.shared.claim():
            for table in TABLES:
                for page in self._store.table_pages(table):
                    self.shared.put_rows(table, page)
            position = self.shared.finish_creating(self._store.sequences(), page_token_key)
            log.info("created the shared state at %s from this replica's copy", self.shared.where)
            self._record(position)
            return
        epoch = self.shared.join()
        kept = self._store.get_meta("shared_position")
        if self._store.get_meta("shared_epoch") == epoch and kept and self.shared.holds(kept):
            self.position = kept
            log.info("joined the shared state at %s; catching up from %s", self.shared.where, kept)
            return
        self.copy()

    def copy(self) -> None:
        """Replace this copy with the shared state's tables (joining, or after falling behind the log)."""
        position, page_token_key = self.shared.start_copy()
        with self._store.transaction(shipped=False):
            self._store.clear_shared_tables()
            for table in TABLES:
                for rows in self.shared.table_rows(table):
                    self._store.put_rows(table, rows)
            self._store.raise_sequences(self.shared.sequences())
            self._store.set_meta("page_token_key", page_token_key)
            self._store.set_meta("shared_epoch", self.shared.epoch)
            self._store.set_meta("shared_position", position)
        self.position = position
        log.info("copied the shared state from %s (%d articles)", self.shared.where, self._store.article_count())

    def _record(self, position: str) -> None:
        with self._store.transaction(shipped=False):
            self._store.set_meta("shared_epoch", self.shared.epoch)
            self._store.set_meta("shared_position", position)
        self.position = position

    def changes(self, position: str) -> Iterator[tuple[str, Changeset]]:
        """The changesets committed since `position` (this copy's, read by the caller); raises Behind if the log
        has dropped some of them."""
        return self.shared.changes_since(position)

    def applied(self, position: str) -> None:
        """Record (inside the transaction that applied it) that the copy now reflects `position`."""
        self._store.set_meta("shared_position", position)

    def ship(self, changeset: Changeset) -> None:
        """Commit a local write's changeset to the shared state first (`Store.on_commit`); raises Stale if
        another replica committed since this copy caught up (Leased if another holds the write lease),
        StorageUnavailable if Redis cannot be reached."""
        self._pending = self.shared.commit(changeset, self.position, self.lease)
        self._store.set_meta("shared_position", self._pending)

    def settle(self, committed: bool) -> None:
        """After a write's local transaction: the copy is at the shipped position only if it committed."""
        if committed and self._pending:
            self.position = self._pending
        self._pending = ""

    def close(self) -> None:
        self.shared.close()
