"""Sans-IO RESP: the request parser and the reply encoder. No sockets, no event loop."""

from respdb.protocol.encoder import encode_resp2, encode_resp3
from respdb.protocol.parser import ProtocolError, RequestParser

__all__ = ["ProtocolError", "RequestParser", "encode_resp2", "encode_resp3"]
