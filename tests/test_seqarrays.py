"""SeqRows: rows by sequence number, read as a default where none is held, in memory that follows what is held."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from newsdedup.seqarrays import SeqRows


def test_rows_read_back_and_numbers_without_a_row_read_as_the_default() -> None:
    """Rows put are read back in the order asked; other numbers, beyond the end too, read as the default."""
    rows = SeqRows(np.array([-1, -2], dtype=np.int64))
    rows.put(np.array([3, 5000]), np.array([[30, 31], [50, 51]]))
    assert rows.get(np.array([5000, 3, 4, 10**9])).tolist() == [[50, 51], [30, 31], [-1, -2], [-1, -2]]
    assert rows.held(np.array([3, 4, 5000])).tolist() == [True, False, True]
    assert len(rows) == 2 and 3 in rows and 4 not in rows
    rows.drop(np.array([3, 3, 7]))
    assert rows.get(np.array([3])).tolist() == [[-1, -2]] and len(rows) == 1


def test_memory_follows_the_rows_held_when_the_oldest_leave_first() -> None:
    """A stream of 300,000 numbers of which the newest 5,000 are held takes no more memory than 20,000 numbers did."""
    rows = SeqRows(np.zeros(128, dtype=np.uint32))
    signature = np.arange(128, dtype=np.uint32)
    sizes = {}
    for start in range(0, 300_000, 100):  # a hundred at a time, to keep the test quick
        rows.put(np.arange(start, start + 100), signature)
        rows.drop(np.arange(start - 5_000, start - 4_900))
        if start + 100 in (20_000, 300_000):
            sizes[start + 100] = rows.nbytes
    assert len(rows) == 5_000
    assert sizes[300_000] <= sizes[20_000] <= 8 * 5_000 * signature.nbytes
    assert (rows.get(np.array([299_999, 295_000])) == signature).all()


def test_a_row_left_behind_by_the_moving_window_is_kept() -> None:
    """An old row still held when its neighbours are gone (an article published in the future) reads as before."""
    rows = SeqRows(np.int64(-1))
    rows.put(np.array([7]), 70)
    for start in range(30, 100_000, 10):
        rows.put(np.arange(start, start + 10), np.arange(start, start + 10))
        rows.drop(np.arange(start - 20, start - 10))
    assert rows.get(np.array([7, 99_999, 99_975, 5])).tolist() == [70, 99_999, -1, -1]
    rows.put(np.array([7]), 71)  # an old row changed (a story that keeps going)
    assert rows.get(np.array([7])).tolist() == [71] and len(rows) == 21
    rows.drop(np.array([7]))
    assert 7 not in rows and len(rows) == 20


def test_saved_puts_rows_back_across_a_move_of_the_window() -> None:
    """The undo of a change restores held and unheld numbers alike, even after the array was cut and grown."""
    rows = SeqRows(np.int64(-1))
    rows.put(np.arange(0, 1000), 1)
    undo = rows.saved(np.array([5, 2000]))
    rows.put(np.array([5, 2000]), 9)
    rows.drop(np.arange(0, 1000))
    rows.put(np.arange(2000, 9000), 2)
    undo()
    assert rows.get(np.array([5, 2000, 6])).tolist() == [1, -1, -1]
    assert len(rows) == 1 + 6999


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["put", "drop", "undone"]),
            st.lists(st.integers(0, 5000), min_size=1, max_size=20),
            st.integers(-5, 5),
        ),
        max_size=60,
    )
)
def test_reads_agree_with_a_dict_whatever_is_put_dropped_or_undone(operations: list) -> None:
    """Any sequence of puts, drops, and puts undone through `saved` reads back exactly as a plain dict does."""
    rows = SeqRows(np.int64(-1))
    model: dict[int, int] = {}
    for operation, seqs, value in operations:
        if operation == "put":
            rows.put(np.array(seqs), value)
            model.update(dict.fromkeys(seqs, value))
        elif operation == "drop":
            rows.drop(np.array(seqs))
            for seq in seqs:
                model.pop(seq, None)
        else:
            undo = rows.saved(np.array(seqs))
            rows.put(np.array(seqs), value)
            rows.drop(np.array(seqs[::2]))
            undo()
        probe = np.arange(0, 5002)
        assert rows.get(probe).tolist() == [model.get(seq, -1) for seq in probe.tolist()]
        assert len(rows) == len(model)
