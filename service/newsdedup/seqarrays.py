"""Arrays indexed by sequence number (of an article or a cluster).

The store never reuses a sequence number, so per-article state lives in
numpy arrays indexed by it: no Python object per article. They grow by
doubling as numbers are handed out, and are read for numbers beyond their
end (an article not indexed yet) as a default.

Not thread-safe: the engine holds its lock around every call.
"""

from __future__ import annotations

import numpy as np


def grown(array: np.ndarray, size: int, fill: object = 0) -> np.ndarray:
    """`array` if it holds `size` rows, else a copy at least twice as long whose new rows are `fill`."""
    if size <= len(array):
        return array
    bigger = np.full((max(size, 2 * len(array)), *array.shape[1:]), fill, dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger


def gather(array: np.ndarray, positions: np.ndarray, default: object) -> np.ndarray:
    """array[positions], with `default` for positions beyond its end."""
    positions = np.asarray(positions, dtype=np.int64)
    inside = positions < len(array)
    values = np.full(len(positions), default, dtype=array.dtype)
    values[inside] = array[positions[inside]]
    return values
