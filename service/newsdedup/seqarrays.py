"""Values by sequence number (of an article or a cluster), in memory that follows what is held.

The store hands sequence numbers out in rising order and never reuses one, so
per-article state lives in a numpy array indexed by `seq - base`: no Python
object per article. Articles mostly leave oldest first (retention and
capacity evict the oldest published), so when the array runs out of room its
sparse oldest part is cut off and `base` moves up; the few values still held
there (an article published in the future, a story that keeps going) move to
a dict of stragglers. Memory is bounded by the values held, not by every
number ever handed out, however long the service runs.

Not thread-safe: the engine holds its lock around every call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

_INITIAL_ROWS = 1024
# When room runs out, the longest oldest part of the array in which at most this share of rows is
# held is cut off. A low share keeps stragglers (a dict entry each) few.
_SPARSE_SHARE = 1 / 16


class SeqRows:
    """A row of values per sequence number; a number with no row reads as the default row.

    The default (a numpy scalar or 1-D array) fixes the dtype and the row's
    shape: `SeqRows(np.int64(-1))` holds an integer per number,
    `SeqRows(np.zeros(128, np.uint32))` a signature.
    """

    def __init__(self, default: np.ndarray | np.generic) -> None:
        self._default = np.asarray(default)
        self._base = 0
        self._values = self._empty(_INITIAL_ROWS)
        self._held = np.zeros(_INITIAL_ROWS, dtype=bool)
        self._count = 0
        self._stragglers: dict[int, np.ndarray] = {}  # seq -> row, for held numbers below base

    def _empty(self, rows: int) -> np.ndarray:
        return np.full((rows, *self._default.shape), self._default, dtype=self._default.dtype)

    def __len__(self) -> int:
        """How many numbers hold a row."""
        return self._count

    def __contains__(self, seq: int) -> bool:
        return bool(self.held(np.array([seq]))[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays and the stragglers (their dict's own overhead not counted)."""
        stragglers = sum(row.nbytes + 8 for row in self._stragglers.values())
        return self._values.nbytes + self._held.nbytes + stragglers

    def _offsets(self, seqs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(positions of seqs within the array, which are inside it, which are below it)."""
        offsets = np.asarray(seqs, dtype=np.int64) - self._base
        return offsets, (offsets >= 0) & (offsets < len(self._held)), offsets < 0

    def held(self, seqs: np.ndarray) -> np.ndarray:
        """Whether each number holds a row."""
        offsets, inside, below = self._offsets(seqs)
        held = np.zeros(len(offsets), dtype=bool)
        held[inside] = self._held[offsets[inside]]
        if self._stragglers:
            for i in np.flatnonzero(below).tolist():
                held[i] = int(offsets[i]) + self._base in self._stragglers
        return held

    def get(self, seqs: np.ndarray) -> np.ndarray:
        """The row of each number (the default for one that holds none)."""
        offsets, inside, below = self._offsets(seqs)
        rows = self._empty(len(offsets))
        rows[inside] = self._values[offsets[inside]]  # rows not held hold the default
        if self._stragglers:
            for i in np.flatnonzero(below).tolist():
                row = self._stragglers.get(int(offsets[i]) + self._base)
                if row is not None:
                    rows[i] = row
        return rows

    def row(self, seq: int) -> np.ndarray:
        """The row of one number (the default if it holds none); not a copy."""
        return self._one(seq)[1]

    def _one(self, seq: int) -> tuple[bool, np.ndarray]:
        """(whether `seq` holds a row, its row): the one-number case, which most changes are, without arrays."""
        offset = seq - self._base
        if offset < 0:
            row = self._stragglers.get(seq)
            return (False, self._default) if row is None else (True, row)
        if offset < len(self._held) and self._held[offset]:
            return True, self._values[offset]
        return False, self._default

    def put(self, seqs: np.ndarray, rows: np.ndarray | int) -> None:
        """Set the row of each number (rows broadcast against the numbers, as in numpy assignment)."""
        seqs = np.asarray(seqs, dtype=np.int64)
        if len(seqs) == 0:
            return
        if seqs.min() < 0:
            raise ValueError("sequence numbers are never negative")
        rows = np.broadcast_to(np.asarray(rows, dtype=self._default.dtype), (len(seqs), *self._default.shape))
        if len(seqs) == 1:
            self._put_one(int(seqs[0]), rows[0])
            return
        self._make_room(int(seqs.max()))
        offsets, inside, below = self._offsets(seqs)
        for i in np.flatnonzero(below).tolist():
            seq = int(seqs[i])
            self._count += seq not in self._stragglers
            self._stragglers[seq] = rows[i].copy()
        placed = offsets[inside]
        self._count += int(np.count_nonzero(~self._held[np.unique(placed)]))
        self._values[placed] = rows[inside]
        self._held[placed] = True

    def _put_one(self, seq: int, row: np.ndarray) -> None:
        self._make_room(seq)  # a cut never reaches `seq` itself, the highest number asked for
        offset = seq - self._base
        if offset < 0:
            self._count += seq not in self._stragglers
            self._stragglers[seq] = row.copy()
            return
        if not self._held[offset]:
            self._count += 1
            self._held[offset] = True
        self._values[offset] = row

    def drop(self, seqs: np.ndarray) -> None:
        """Forget the rows of these numbers (they read as the default again); numbers holding none are ignored."""
        seqs = np.asarray(seqs, dtype=np.int64)
        if len(seqs) == 0:
            return
        if len(seqs) == 1:
            self._drop_one(int(seqs[0]))
            return
        offsets, inside, below = self._offsets(seqs)
        for i in np.flatnonzero(below).tolist():
            self._count -= self._stragglers.pop(int(offsets[i]) + self._base, None) is not None
        placed = np.unique(offsets[inside])
        placed = placed[self._held[placed]]
        self._count -= len(placed)
        self._held[placed] = False
        self._values[placed] = self._default

    def _drop_one(self, seq: int) -> None:
        offset = seq - self._base
        if offset < 0:
            self._count -= self._stragglers.pop(seq, None) is not None
        elif offset < len(self._held) and self._held[offset]:
            self._count -= 1
            self._held[offset] = False
            self._values[offset] = self._default

    def saved(self, seqs: np.ndarray) -> Callable[[], None]:
        """A function that puts these numbers' rows back as they are now: the undo of a change to them."""
        seqs = np.array(seqs, dtype=np.int64)
        if len(seqs) == 1:
            seq = int(seqs[0])
            was_held, row = self._one(seq)
            row = row.copy()
            return functools.partial(self._put_one, seq, row) if was_held else functools.partial(self._drop_one, seq)
        held, rows = self.held(seqs), self.get(seqs)

        def restore() -> None:
            self.drop(seqs[~held])
            self.put(seqs[held], rows[held])

        return restore

    def _make_room(self, seq: int) -> None:
        """Make the array reach `seq`: cut off its sparse oldest part, then grow it to twice what is needed."""
        if seq - self._base < len(self._held):
            return
        held_before = np.cumsum(self._held)
        sparse = np.flatnonzero(held_before <= np.arange(1, len(held_before) + 1) * _SPARSE_SHARE)
        cut = int(sparse[-1]) + 1 if len(sparse) else 0
        for offset in np.flatnonzero(self._held[:cut]).tolist():
            self._stragglers[self._base + offset] = self._values[offset].copy()
        base = self._base + cut
        # Twice the span needed: the next move is as many numbers away as this one's span, so its cost amortises.
        rows = max(_INITIAL_ROWS, 2 * (seq - base + 1))
        kept = len(self._held) - cut
        values, held = self._empty(rows), np.zeros(rows, dtype=bool)
        values[:kept], held[:kept] = self._values[cut:], self._held[cut:]
        self._base, self._values, self._held = base, values, held
