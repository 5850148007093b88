"""Who may call the server: TLS, mutual TLS, and a bearer token.

- `server_credentials`: with --tls-cert and --tls-key the server speaks TLS
  only; with --tls-client-ca as well, a client must present a certificate
  signed by one of those CAs, or its handshake fails (the client sees
  UNAVAILABLE: no call is made).
- `TokenAuth`: with --auth-token-file, every call must carry the metadata
  `authorization: Bearer <token>`. One without it gets UNAUTHENTICATED with
  reason MISSING_TOKEN; one with another token (or another scheme),
  INVALID_TOKEN. The comparison takes the same time however much of the
  token matches (`hmac.compare_digest`). The standard health service stays
  open, so that load balancers and container probes need no secret; it says
  only whether the server is serving. Server reflection needs the token like
  DedupService does: it describes the API to whoever may use it.

The token travels in the clear unless TLS is on; run with a token but
without TLS only behind something that encrypts (a loopback-only server, a
service mesh).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import grpc
from grpc_health.v1 import health

from newsdedup import credentials
from newsdedup.config import Settings
from newsdedup.errors import Unauthenticated

from .errors import abort

OPEN_SERVICES = frozenset({health.SERVICE_NAME})
"""Services answered without a token."""

_SCHEME = "bearer"


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS credentials (requiring client certificates when tls_client_ca is set), or None for plaintext.

    Settings has checked the files; OSError if one went away since.
    """
    if not settings.tls_cert:
        return None
    pair = (credentials.read_pem(settings.tls_key), credentials.read_pem(settings.tls_cert))
    client_ca = credentials.read_pem(settings.tls_client_ca) if settings.tls_client_ca else None
    return grpc.ssl_server_credentials([pair], root_certificates=client_ca, require_client_auth=client_ca is not None)


def describe(settings: Settings) -> str:
    """How the server is secured, for its startup log line: "TLS, client certificates, bearer token"."""
    parts = ["TLS" if settings.tls_cert else "plaintext"]
    if settings.tls_client_ca:
        parts.append("client certificates")
    if settings.auth_token_file:
        parts.append("bearer token")
    return ", ".join(parts)


# The handler factory for each (request streaming, response streaming) kind of method.
_HANDLER_KINDS: dict[tuple[bool, bool], Callable[..., grpc.RpcMethodHandler]] = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def _refusing(handler: grpc.RpcMethodHandler, error: Unauthenticated) -> grpc.RpcMethodHandler:
    """A handler of the same kind as `handler` that ends the call with `error`.

    It has no request deserializer: a request that will be refused is never parsed.
    """

    def refuse(request: Any, context: grpc.ServicerContext) -> Any:
        abort(context, error)

    return _HANDLER_KINDS[handler.request_streaming, handler.response_streaming](refuse)


class TokenAuth(grpc.ServerInterceptor):
    """Refuses, with UNAUTHENTICATED, every call but health checks that lacks `authorization: Bearer <token>`."""

    def __init__(self, token: str) -> None:
        if not credentials.is_token(token):
            raise ValueError("a bearer token is one word of printable ASCII characters")
        self._token = token.encode("ascii")

    @classmethod
    def from_file(cls, path: str) -> TokenAuth:
        """The check for the token in `path` (read now, once; ValueError naming the file if it is unusable)."""
        return cls(credentials.read_token(path))

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        service = handler_call_details.method.strip("/").partition("/")[0]
        if handler is None or service in OPEN_SERVICES:
            return handler
        error = self.refusal(handler_call_details.invocation_metadata)
        return handler if error is None else _refusing(handler, error)

    def refusal(self, metadata: Any) -> Unauthenticated | None:
        """Why a call with this metadata is refused, or None when it carries the token."""
        values = [value for key, value in metadata or () if key == "authorization"]
        if not values:
            return Unauthenticated(
                "this server needs a bearer token: send the metadata 'authorization: Bearer <token>'",
                reason="MISSING_TOKEN",
            )
        scheme, _, token = str(values[0]).strip().partition(" ")
        given = token.strip().encode("ascii", errors="replace")
        if len(values) > 1 or scheme.lower() != _SCHEME or not hmac.compare_digest(given, self._token):
            return Unauthenticated(
                "the bearer token is not this server's (the metadata must be 'authorization: Bearer <token>')",
                reason="INVALID_TOKEN",
            )
        return None
