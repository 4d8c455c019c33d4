"""Who may connect: TLS listeners, the IP allowlist, protected mode and maxclients.

Redis checks these when a connection is accepted, before reading a byte: a refused peer gets one
error line and is closed. The allowlist (`ip-allowlist`, a respdb extension taking addresses and
CIDR blocks, IPv4 and IPv6) serves deployments that must limit peers without a firewall.
"""

from __future__ import annotations

import ipaddress
import ssl
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from respdb.config import ConfigError, param

if TYPE_CHECKING:
    from respdb.config import Config

PROTECTED_DENIED = (
    b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set "
    b"for the default user. In this mode connections are only accepted from the loopback interface. If you want "
    b"to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable "
    b"protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting "
    b"to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from "
    b"internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just "
    b"disable the protected mode by editing the Redis configuration file, and setting the protected mode option "
    b"to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it "
    b"with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You "
    b"only need to do one of the above things in order for the server to start accepting connections from the "
    b"outside.\r\n"
)
NOT_ALLOWED = b"-ERR connection refused: address not in ip-allowlist\r\n"

param("protected-mode", "bool", True)
param("ip-allowlist", "string", "")
param("tls-port", "int", 0, mutable=False, hi=65535)
param("tls-cert-file", "string", "", mutable=False)
param("tls-key-file", "string", "", mutable=False)
param("tls-key-file-pass", "string", "", mutable=False, secret=True)
param("tls-ca-cert-file", "string", "", mutable=False)
param("tls-ca-cert-dir", "string", "", mutable=False)
param("tls-auth-clients", "enum", "yes", mutable=False, choices=("yes", "no", "optional"))
param("tls-protocols", "string", "", mutable=False)


@lru_cache(maxsize=8)
def parse_allowlist(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    nets = []
    for word in text.replace(",", " ").split():
        try:
            nets.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            raise ConfigError(f"invalid address or network '{word}'") from None
    return tuple(nets)


def peer_ip(peer: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The peer's address (IPv4-mapped IPv6 folded to IPv4); None for a Unix socket."""
    if not isinstance(peer, tuple) or not peer:
        return None
    try:
        ip = ipaddress.ip_address(peer[0].split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def refusal(config: Config, peer: Any, nopass: bool | None = None) -> bytes | None:
    """The error line to send a new connection that may not stay, or None to admit it. `nopass`:
    whether the default user needs no password (Redis's test; ACL rules can set one without
    requirepass); None falls back to requirepass."""
    ip = peer_ip(peer)
    if ip is None:
        return None  # Unix socket: local by definition
    if config.ip_allowlist:
        if not any(ip in net for net in parse_allowlist(config.ip_allowlist)):
            return NOT_ALLOWED
    if nopass is None:
        nopass = not config.requirepass
    if config.protected_mode and nopass and not ip.is_loopback:
        return PROTECTED_DENIED
    return None


_PROTOCOLS = {"tlsv1.2": ssl.TLSVersion.TLSv1_2, "tlsv1.3": ssl.TLSVersion.TLSv1_3}


def tls_context(config: Config) -> ssl.SSLContext:
    """Server-side context from Redis's tls-* parameters."""
    if not config.tls_cert_file or not config.tls_key_file:
        raise ConfigError("tls-port requires tls-cert-file and tls-key-file")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(config.tls_cert_file, config.tls_key_file, password=config.tls_key_file_pass or None)
    if config.tls_protocols:
        versions = []
        for word in config.tls_protocols.split():
            if word.lower() not in _PROTOCOLS:
                raise ConfigError(f"Invalid tls-protocols specified: {word}")
            versions.append(_PROTOCOLS[word.lower()])
        ctx.minimum_version, ctx.maximum_version = min(versions), max(versions)
    else:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    mode = config.tls_auth_clients
    if mode != "no":
        if not (config.tls_ca_cert_file or config.tls_ca_cert_dir):
            raise ConfigError("tls-auth-clients requires tls-ca-cert-file or tls-ca-cert-dir")
        ctx.load_verify_locations(cafile=config.tls_ca_cert_file or None, capath=config.tls_ca_cert_dir or None)
        ctx.verify_mode = ssl.CERT_REQUIRED if mode == "yes" else ssl.CERT_OPTIONAL
    return ctx
