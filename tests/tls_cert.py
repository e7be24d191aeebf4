"""Throwaway self-signed certificates for the TLS tests, made in-process with ``cryptography``.

The certificate is what ``openssl req -x509 -newkey ... -subj /CN=localhost -addext
subjectAltName=DNS:localhost,IP:127.0.0.1`` makes (README, "TLS"): its own issuer, a CA, valid
for ``localhost`` and ``127.0.0.1``, so a client that trusts the file (``cafile=`` in Python,
``NODE_EXTRA_CA_CERTS`` in Node) verifies the server with no option turned off.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class CertificateFiles:
    """PEM files: the certificate (also the CA file clients trust) and its unencrypted key."""

    cert: Path
    key: Path


def make_self_signed(directory: Path, name: str = "server") -> CertificateFiles:
    """Write ``<name>-cert.pem`` and ``<name>-key.pem`` (ECDSA P-256, a day) to ``directory``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    files = CertificateFiles(directory / f"{name}-cert.pem", directory / f"{name}-key.pem")
    files.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files
