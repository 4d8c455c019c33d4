"""CyberDB 0.9.3-compatible API on redis-py (import name `cyberdb`): remote dicts and lists stored in
respdb — or any Redis — with CyberDB's defects fixed. See docs/compat.md for the migration guide."""

from cyberdb.aio import aioconnect
from cyberdb.client import Client, Proxy, connect
from cyberdb.cyberdict import CyberDict
from cyberdb.cyberlist import CyberList
from cyberdb.server import Server

__all__ = ["Client", "CyberDict", "CyberList", "Proxy", "Server", "aioconnect", "connect"]
