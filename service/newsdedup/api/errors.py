"""Core errors as gRPC statuses: one table, and the decorators that apply it.

Every error carries a google.rpc.ErrorInfo detail (domain "newsdedup", the
core error's reason, its metadata), so clients can branch on the reason
rather than parse messages (Google AIP-193). An unexpected exception is
logged with its traceback and answered with INTERNAL, without internals.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from newsdedup.errors import (
    CapacityExhausted,
    Conflict,
    DataCorrupted,
    DeadlineExceeded,
    IncompatibleData,
    InvalidArgument,
    NewsdedupError,
    NotFound,
    StorageUnavailable,
    Unauthenticated,
)

log = logging.getLogger(__name__)

DOMAIN = "newsdedup"

STATUS_CODES: dict[type[NewsdedupError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    Conflict: grpc.StatusCode.ALREADY_EXISTS,
    StorageUnavailable: grpc.StatusCode.UNAVAILABLE,
    IncompatibleData: grpc.StatusCode.FAILED_PRECONDITION,
    DataCorrupted: grpc.StatusCode.DATA_LOSS,
    CapacityExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
}


def status_code(error: NewsdedupError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return grpc.StatusCode.INTERNAL


def to_status(error: NewsdedupError) -> status_pb2.Status:
    """The google.rpc.Status for an error, with its ErrorInfo."""
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=DOMAIN, metadata=error.metadata))
    code = status_code(error).value[0]
    return status_pb2.Status(code=code, message=error.message, details=[detail])


def _internal_status() -> status_pb2.Status:
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.ErrorInfo(reason="INTERNAL", domain=DOMAIN))
    return status_pb2.Status(code=code_pb2.INTERNAL, message="internal error; see the server log", details=[detail])


def _abort(context: grpc.ServicerContext, status: status_pb2.Status) -> None:
    context.abort_with_status(rpc_status.to_status(status))


def abort(context: grpc.ServicerContext, error: NewsdedupError) -> None:
    """End the call with `error`'s status; like grpc's abort, this raises to unwind the handler."""
    _abort(context, to_status(error))


def _fail(context: grpc.ServicerContext, error: Exception, method: str) -> None:
    """End the call with the status for `error` (called from an except block)."""
    if isinstance(error, NewsdedupError):
        abort(context, error)
    if context.code() is not None:  # the handler aborted on purpose (abort raises an Exception)
        raise error
    if isinstance(error, grpc.RpcError) and not context.is_active():
        # The client went away (cancelled, or its deadline passed) while the handler read its requests:
        # nothing to answer and nothing wrong here. grpc knows this error and ends the call quietly.
        raise error
    log.exception("%s failed", method)
    _abort(context, _internal_status())


F = TypeVar("F", bound=Callable[..., Any])


def unary(method: F) -> F:
    """Answer a unary handler's NewsdedupError with its status, anything unexpected with INTERNAL."""

    @functools.wraps(method)
    def handler(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except Exception as error:
            _fail(context, error, method.__name__)

    return handler  # type: ignore[return-value]


def streaming(method: F) -> F:
    """The same for handlers that yield their responses."""

    @functools.wraps(method)
    def handler(self: Any, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            yield from method(self, request, context)
        except Exception as error:
            _fail(context, error, method.__name__)

    return handler  # type: ignore[return-value]
