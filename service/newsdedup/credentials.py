"""The server's TLS files and bearer token: read, and checked before anything listens.

`Settings` names the files (tls_cert, tls_key, tls_client_ca,
auth_token_file); `problems` says, naming the file, what keeps them from
working: a certificate without its key, a file that cannot be read, a key
that is not the certificate's, an empty token file. grpc itself would only
report that it "failed to bind". The checks load the files into a throwaway
`ssl` context, so a file that passes here is one grpc can use.

A token is one word of printable ASCII (what an HTTP/2 header value may
hold), for example from `openssl rand -hex 32`; whitespace around it in its
file, such as the final newline, is not part of it. The client reads token
files with the same `read_token`, so one file serves both ends.

Nothing here knows about grpc: `newsdedup.api.auth` turns these into grpc
credentials and the token check.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator

_TOKEN = re.compile(r"[!-~]+")  # printable ASCII, no space


def is_token(text: str) -> bool:
    """Whether `text` can be sent as a bearer token: one word of printable ASCII."""
    return _TOKEN.fullmatch(text) is not None


def read_token(path: str) -> str:
    """The token in the file at `path`, without surrounding whitespace.

    Raises ValueError naming the file when it cannot be read, is empty, or
    holds anything but one word of printable ASCII.
    """
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            token = file.read().strip()
    except OSError as error:
        raise ValueError(f"cannot read the token file {path}: {error.strerror or error}") from None
    if not token:
        raise ValueError(f"the token file {path} is empty; put a token in it, e.g. from `openssl rand -hex 32`")
    if not is_token(token):
        raise ValueError(
            f"the token file {path} must hold one word of printable ASCII characters (no spaces), "
            "e.g. from `openssl rand -hex 32`"
        )
    return token


def read_pem(path: str) -> bytes:
    """A PEM file's bytes (OSError when it cannot be read)."""
    with open(path, "rb") as file:
        return file.read()


def _no_password() -> bytes:
    """Answers OpenSSL's password prompt for an encrypted key, which would otherwise wait on the terminal."""
    raise ValueError("the private key is encrypted")


def _ssl_reason(error: Exception) -> str:
    """An ssl error's words without its source location: "key values mismatch"."""
    text = str(getattr(error, "reason", None) or error)
    return re.sub(r"\s*\(_ssl\.c:\d+\)", "", text).replace("_", " ").lower()


def _unreadable(name: str, path: str) -> str | None:
    try:
        read_pem(path)
    except OSError as error:
        return f"{name}: cannot read {path}: {error.strerror or error}"
    return None


def _certificates_problem(name: str, path: str) -> str | None:
    """Whether `path` holds PEM certificates (a chain, or CA certificates)."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
    except (ssl.SSLError, ValueError) as error:
        return f"{name}: {path} holds no PEM certificate ({_ssl_reason(error)})"
    return None


def tls_problems(cert: str, key: str, client_ca: str) -> Iterator[str]:
    """What keeps the TLS settings from working, each naming its file; nothing when TLS is off."""
    if bool(cert) != bool(key):
        yield (
            "tls_cert and tls_key go together: give both (the certificate chain and its private key) "
            "or neither (plaintext)"
        )
        return
    if client_ca and not cert:
        yield "tls_client_ca (mutual TLS) needs tls_cert and tls_key: clients are checked only over TLS"
        return
    named = [
        (name, path) for name, path in (("tls_cert", cert), ("tls_key", key), ("tls_client_ca", client_ca)) if path
    ]
    unreadable = [problem for name, path in named if (problem := _unreadable(name, path))]
    if unreadable:
        yield from unreadable
        return
    if not cert:
        return
    problem = _certificates_problem("tls_cert", cert)
    if problem:
        yield problem
    else:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key, password=_no_password)
        except ssl.SSLError as error:
            if getattr(error, "reason", None) == "KEY_VALUES_MISMATCH":
                yield f"tls_key: {key} is not the private key of the certificate in {cert}"
            else:
                yield f"tls_key: {key} holds no unencrypted PEM private key ({_ssl_reason(error)})"
        except ValueError:
            yield f"tls_key: {key} is encrypted; give the server an unencrypted key (readable by it alone)"
    if client_ca:
        problem = _certificates_problem("tls_client_ca", client_ca)
        if problem:
            yield problem


def token_problems(path: str) -> Iterator[str]:
    """What keeps the token file from working; nothing when there is none."""
    if path:
        try:
            read_token(path)
        except ValueError as error:
            yield f"auth_token_file: {error}"
