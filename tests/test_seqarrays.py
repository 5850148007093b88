"""Arrays indexed by sequence number: grown by doubling, read past their end as a default."""

from __future__ import annotations

import numpy as np
from newsdedup.seqarrays import gather, grown


def test_grown_keeps_the_rows_doubles_at_least_and_fills_the_new_ones() -> None:
    """A matrix grown to 5 rows from 2 keeps both, gets 4 or more rows, and the new ones hold `fill`."""
    matrix = np.array([[1, 2], [3, 4]], dtype=np.uint32)
    bigger = grown(matrix, 5, fill=7)
    assert bigger.dtype == np.uint32 and bigger.shape == (5, 2)
    assert bigger.tolist() == [[1, 2], [3, 4], [7, 7], [7, 7], [7, 7]]
    assert grown(matrix, 3).shape == (4, 2), "at least doubled"
    assert grown(matrix, 2) is matrix, "already long enough: no copy"


def test_gather_reads_positions_and_gives_the_default_beyond_the_end() -> None:
    """Positions inside the array read it, in the order asked; those beyond it read as the default."""
    flags = np.array([True, False, True])
    assert gather(flags, np.array([2, 7, 0, 1, 3]), False).tolist() == [True, False, True, False, False]
    assert gather(np.array([5, 6], dtype=np.int64), np.array([], dtype=np.int64), -1).tolist() == []
