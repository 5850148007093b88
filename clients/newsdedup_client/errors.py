"""Reading the errors newsdedup returns, and saying them in one line.

The clients raise `grpc.RpcError` unchanged (from the asyncio client, its
subclass `grpc.aio.AioRpcError`): its `code()` is the canonical status
(NOT_FOUND, INVALID_ARGUMENT, ...) and `details()` the server's message.
Every error the server raises on purpose also carries a
google.rpc.ErrorInfo (domain "newsdedup") whose reason names the problem, so a
program can branch on it instead of parsing messages (Google AIP-193)::

    try:
        client.get_article("a-1")
    except grpc.RpcError as error:
        if error_reason(error) != "ARTICLE_NOT_FOUND":
            raise

A rejected article in a batch is not an exception: its result's `error` field
holds the same information as a google.rpc.Status (`describe_status`).

An UNAVAILABLE without an ErrorInfo did not come from newsdedup at all: gRPC
could not reach the server. `describe_rpc_error` says so and names the target.
"""

from __future__ import annotations

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

DOMAIN = "newsdedup"
"""The ErrorInfo domain of every error the server raises on purpose."""


def _is_call(error: grpc.RpcError) -> bool:
    """Whether `error` is a finished call, with a code, details and trailing metadata (sync or asyncio)."""
    return isinstance(error, grpc.Call | grpc.aio.AioRpcError)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _reason(status: status_pb2.Status | None) -> str:
    if status is None:
        return ""
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            if info.domain == DOMAIN:
                return info.reason
    return ""


def rpc_error_status(error: grpc.RpcError) -> status_pb2.Status | None:
    """The google.rpc.Status a failed call carries, or None (for example when the server was never reached)."""
    if not _is_call(error):
        return None
    try:
        return rpc_status.from_call(error)
    except ValueError:  # a malformed status trailer: treat it as absent
        return None


def error_reason(error: grpc.RpcError | status_pb2.Status) -> str:
    """The newsdedup ErrorInfo reason (such as "ARTICLE_NOT_FOUND"), or "" when there is none."""
    status = error if isinstance(error, status_pb2.Status) else rpc_error_status(error)
    return _reason(status)


def describe_status(status: status_pb2.Status) -> str:
    """A rejected article's error as one line: "INVALID_ARGUMENT: article 'a' has no words ..."."""
    return f"{code_pb2.Code.Name(status.code)}: {_one_line(status.message)}"


def describe_rpc_error(error: grpc.RpcError, target: str, timeout: float) -> str:
    """A failed call as one line that says what went wrong and, where it helps, what to do."""
    call = _is_call(error)
    code = error.code() if call else grpc.StatusCode.UNKNOWN
    details = _one_line(error.details() or "") if call else _one_line(str(error))
    if code == grpc.StatusCode.UNAVAILABLE and not error_reason(error):
        return (
            f"cannot reach newsdedup at {target} (UNAVAILABLE): {details}; "
            "is the server running? (set --target or NEWSDEDUP_TARGET; a TLS server needs --tls-ca or --tls, "
            "one that checks clients also --tls-cert and --tls-key)"
        )
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return f"UNAUTHENTICATED: {details} (give the server's token with --token-file or NEWSDEDUP_TOKEN_FILE)"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return (
            f"DEADLINE_EXCEEDED: newsdedup at {target} did not answer within {timeout:g} s "
            f"(raise --timeout or NEWSDEDUP_TIMEOUT)"
        )
    return f"{code.name}: {details}"
