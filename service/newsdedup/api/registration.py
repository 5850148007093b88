"""DedupService's method handlers, built from the service descriptor, that refuse undecodable requests.

grpc's generated registration decodes each request with `FromString`; when
that raises (a string field that is not valid UTF-8, a truncated message),
grpc logs "Exception deserializing request!" and answers INTERNAL, as if the
server were at fault. Here the decoder turns a DecodeError into an
`_Undecodable` marker instead, and the handler answers it with
INVALID_ARGUMENT (reason MALFORMED_REQUEST) naming the message type and what
was wrong. A stream ends with that status at its first undecodable message;
the results sent before it stand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import descriptor, message, message_factory

from newsdedup.errors import InvalidArgument
from newsdedup.v1 import dedup_service_pb2 as pb

from .errors import abort

SERVICE = pb.DESCRIPTOR.services_by_name["DedupService"]


@dataclass(frozen=True)
class _Undecodable:
    """What the decoder hands a handler in place of a request it could not decode."""

    type_name: str
    problem: str

    def error(self) -> InvalidArgument:
        return InvalidArgument(
            f"the request is not a valid {self.type_name} protobuf message: {self.problem} "
            "(every string field must hold valid UTF-8)",
            reason="MALFORMED_REQUEST",
            metadata={"message_type": self.type_name},
        )


def _decoder(request_type: type[message.Message]) -> Callable[[bytes], Any]:
    type_name = request_type.DESCRIPTOR.full_name

    def decode(data: bytes) -> message.Message | _Undecodable:
        try:
            return request_type.FromString(data)
        except message.DecodeError as error:
            # "Error parsing message with type 'T': String field had bad UTF-8": keep what follows the type.
            return _Undecodable(type_name, str(error).rpartition("': ")[2] or str(error))

    return decode


def _unary_request(behaviour: Callable[..., Any]) -> Callable[..., Any]:
    def handle(request: Any, context: grpc.ServicerContext) -> Any:
        if isinstance(request, _Undecodable):
            abort(context, request.error())
        return behaviour(request, context)

    return handle


def _decoded(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
    for request in requests:
        if isinstance(request, _Undecodable):
            abort(context, request.error())
        yield request


def _request_stream(behaviour: Callable[..., Any]) -> Callable[..., Any]:
    def handle(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
        return behaviour(_decoded(requests, context), context)

    return handle


_HANDLER_KINDS = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def _handler(method: descriptor.MethodDescriptor, behaviour: Callable[..., Any]) -> grpc.RpcMethodHandler:
    request_type = message_factory.GetMessageClass(method.input_type)
    response_type = message_factory.GetMessageClass(method.output_type)
    wrap = _request_stream if method.client_streaming else _unary_request
    make = _HANDLER_KINDS[method.client_streaming, method.server_streaming]
    return make(
        wrap(behaviour),
        request_deserializer=_decoder(request_type),
        response_serializer=response_type.SerializeToString,
    )


def add_dedup_service(servicer: Any, server: grpc.Server) -> None:
    """Register every DedupService method of `servicer` on `server` (in place of the generated function)."""
    handlers = {method.name: _handler(method, getattr(servicer, method.name)) for method in SERVICE.methods}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),))
    server.add_registered_method_handlers(SERVICE.full_name, handlers)
