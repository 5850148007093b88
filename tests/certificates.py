"""Certificate authorities and certificates made on the fly for the TLS tests (the `cryptography` package).

`Pki.make(folder)` writes the files of a whole test deployment.
`Authority.new("name")` is a self-signed CA; `authority.issue(...)` signs a
server certificate (valid for 127.0.0.1, ::1 and localhost) or a client
certificate with it; `write` puts the PEM files where a server or the CLI
can read them. Keys are P-256: quick to make, and what TLS 1.3 prefers.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK_NAMES = ("localhost",)
LOOPBACK_ADDRESSES = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class Pem:
    """A certificate and its private key, PEM-encoded."""

    certificate: bytes
    private_key: bytes

    def write(self, folder: Path, name: str) -> tuple[Path, Path]:
        """Write <name>.crt and <name>.key into `folder`; returns their paths."""
        folder.mkdir(parents=True, exist_ok=True)
        certificate, key = folder / f"{name}.crt", folder / f"{name}.key"
        certificate.write_bytes(self.certificate)
        key.write_bytes(self.private_key)
        return certificate, key


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Pem:
    return Pem(
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


@dataclass(frozen=True)
class Authority:
    """A certificate authority that signs server and client certificates."""

    name: x509.Name
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @classmethod
    def new(cls, common_name: str) -> Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(_name(common_name), key, certificate)

    @property
    def pem(self) -> bytes:
        """The CA certificate, as a server's --tls-client-ca or a client's --tls-ca reads it."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def write(self, folder: Path, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.crt"
        path.write_bytes(self.pem)
        return path

    def issue(self, common_name: str, *, server: bool) -> Pem:
        """A certificate signed by this CA: for a server on loopback, or for a client."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        if server:
            names: list[x509.GeneralName] = [x509.DNSName(name) for name in LOOPBACK_NAMES]
            names += [x509.IPAddress(ipaddress.ip_address(address)) for address in LOOPBACK_ADDRESSES]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return _pem(builder.sign(self.key, hashes.SHA256()), key)


@dataclass(frozen=True)
class Pki:
    """The files of a test deployment: a CA, a server and a client it signed, and a client of another CA."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path
    stranger_cert: Path
    stranger_key: Path

    @classmethod
    def make(cls, folder: Path) -> Pki:
        ca, other = Authority.new("newsdedup test CA"), Authority.new("another CA")
        server_cert, server_key = ca.issue("newsdedup server", server=True).write(folder, "server")
        client_cert, client_key = ca.issue("ingest pipeline", server=False).write(folder, "client")
        stranger_cert, stranger_key = other.issue("stranger", server=False).write(folder, "stranger")
        return cls(
            ca.write(folder, "ca"),
            server_cert,
            server_key,
            client_cert,
            client_key,
            other.write(folder, "other-ca"),
            stranger_cert,
            stranger_key,
        )
