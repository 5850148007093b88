"""The newsdedup Python client and the `newsdedup` command-line tool.

- `DedupClient` (`client.py`): a typed client of newsdedup.v1.DedupService;
  `AsyncDedupClient` (`aio.py`): the same, for asyncio.
- `channel.py`: how both connect: `Tls`, bearer tokens (`read_token` reads a
  token file as the server does), `RetryPolicy`.
- `inputs.py`: reading .txt, .json and .jsonl article files into messages.
- `errors.py`: reading a failed call's reason and saying it in one line.
- `cli.py` and `render.py`: the `newsdedup` command and what it prints.
"""

from newsdedup.credentials import read_token

from .aio import AsyncDedupClient
from .channel import NO_RETRIES, RetryPolicy, Tls
from .client import DedupClient
from .errors import describe_rpc_error, error_reason

__all__ = [
    "NO_RETRIES",
    "AsyncDedupClient",
    "DedupClient",
    "RetryPolicy",
    "Tls",
    "describe_rpc_error",
    "error_reason",
    "read_token",
]
