"""The server's log lines: one JSON object per line for machines, key=value text for people.

`configure` sends every logger's records (grpc's own included) to stderr in
one of two shapes, chosen by --log-format: `json` for log collectors, `text`
for a terminal, `auto` for whichever fits where stderr goes. A record's
structured fields travel in `extra={"fields": {...}}`: JSON lines carry them
as keys beside the message, text lines as key=value pairs after it.

    {"time": "2026-12-01T09:30:00.123Z", "level": "INFO", "logger": "newsdedup.api.calls",
     "message": "rpc", "method": "IngestArticle", "code": "OK", "latency_ms": 3.2, ...}

    2026-12-01 09:30:00,123 INFO newsdedup.api.calls: rpc method=IngestArticle code=OK latency_ms=3.2 ...
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a record was logged with (`extra={"fields": {...}}`)."""
    value = getattr(record, "fields", None)
    return value if isinstance(value, dict) else {}


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON: time (UTC, ISO 8601), level, logger, message, its fields, any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(fields(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # default=str: a field that is not JSON (an enum, a path) is written as its text rather than lost.
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """A record as people read it: time, level, logger, message, then its fields as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        pairs = " ".join(f"{key}={_text_value(value)}" for key, value in fields(record).items())
        message = super().formatMessage(record)
        return f"{message} {pairs}" if pairs else message


def _text_value(value: Any) -> str:
    """A string bare unless it needs quotes (empty, spaces, quotes); anything else as compact JSON."""
    if not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    if not value or any(c.isspace() or c in '"=' for c in value):
        return json.dumps(value, ensure_ascii=False)
    return value


def wants_json(log_format: str, stream: IO[str]) -> bool:
    """'json' and 'text' are what they say; 'auto' is text on a terminal, JSON anywhere else."""
    if log_format == "auto":
        return not stream.isatty()
    return log_format == "json"


def configure(level: str, log_format: str, stream: IO[str] | None = None) -> None:
    """Send every record at `level` or above to `stream` (stderr) as `log_format` (auto, json or text)."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if wants_json(log_format, stream) else TextFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
