"""The newsdedup Python client and the `newsdedup` command-line tool.

- `DedupClient` (`client.py`): a typed client of newsdedup.v1.DedupService.
- `inputs.py`: reading .txt, .json and .jsonl article files into messages.
- `errors.py`: reading a failed call's reason and saying it in one line.
- `cli.py` and `render.py`: the `newsdedup` command and what it prints.
"""

from .client import DedupClient
from .errors import describe_rpc_error, error_reason

__all__ = ["DedupClient", "describe_rpc_error", "error_reason"]
