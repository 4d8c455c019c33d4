"""TLS for encrypt=True: the server's self-signed certificate, and the client's trust-on-first-use pin.

Server side: `ensure_certificate(dir)` makes `cyberdb-cert.pem` / `cyberdb-key.pem` beside the data file
once (EC P-256, 10 years) and reuses them, so the pin clients keep stays valid across restarts.
Client side without a CA: the first connection to host:port fetches the server's certificate and stores it
under $CYBERDB_TRUST_DIR (default ~/.cyberdb/trusted); later connections must present exactly that
certificate (it is the only CA they accept), like ssh's known_hosts. What each choice protects against
is in docs/compat.md.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import socket
import ssl
import tempfile
from pathlib import Path

CERT_NAME = "cyberdb-cert.pem"
KEY_NAME = "cyberdb-key.pem"


def trust_dir() -> Path:
    return Path(os.environ.get("CYBERDB_TRUST_DIR") or Path.home() / ".cyberdb" / "trusted")


def _pin_path(host: str, port: int) -> Path:
    safe = re.sub(r"[^A-Za-z0-9.-]", "_", host)
    return trust_dir() / f"{safe}_{port}.pem"


def _fetch_certificate(host: str, port: int) -> str:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Deliberately unverified: this is the first contact, whose certificate we are about to pin.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=10) as raw, context.wrap_socket(raw) as sock:
        der = sock.getpeercert(binary_form=True)
    if der is None:
        raise ssl.SSLError("the server sent no certificate")
    return ssl.DER_cert_to_PEM_cert(der)


def trusted_certificate(host: str, port: int) -> str:
    """Path of the pinned certificate for host:port, pinning it now if this is the first contact."""
    path = _pin_path(host, port)
    if path.exists():
        return str(path)
    pem = _fetch_certificate(host, port)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written to a temp file and renamed: gunicorn workers may pin concurrently and must never read half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".pin-")
    with os.fdopen(fd, "w") as f:
        f.write(pem)
    os.replace(tmp, path)
    return str(path)


def forget(host: str, port: int) -> None:
    """Drop the pin for host:port (after a deliberate certificate change on the server)."""
    _pin_path(host, port).unlink(missing_ok=True)


def ensure_certificate(directory: str | Path, hosts: list[str] | None = None) -> tuple[str, str]:
    """(cert path, key path) in `directory`, generated on first use with the `cryptography` package."""
    directory = Path(directory)
    cert_path, key_path = directory / CERT_NAME, directory / KEY_NAME
    if cert_path.exists() and key_path.exists():
        return str(cert_path), str(key_path)
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for h in ["127.0.0.1", "::1", *(hosts or [])]:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cyberdb server")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        # CA:TRUE so the pinned certificate can act as its own trust anchor on the client.
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(cert_path), str(key_path)
