"""Encryption at rest: AES-256-GCM with a key derived from a passphrase by scrypt.

A file stores its scrypt parameters, a 16-byte salt and a 16-byte key-check value (an HMAC of a fixed
label under a second derived key), so a wrong passphrase is reported as such instead of looking like a
corrupt file. Each sealed unit (a snapshot, or one append-only-log record) gets a fresh random 96-bit
nonce; GCM's tag authenticates the ciphertext and the caller's associated data (the file header, or
the record's position in the log), so a flipped bit, a swapped record or a wrong key never yields data.
scrypt is slow on purpose (~0.1 s), so derived keys are cached per (passphrase, salt, parameters).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass
from functools import lru_cache

from Crypto.Cipher import AES
from Crypto.Protocol.KDF import scrypt

SCRYPT_LOG2_N = 15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_LEN = 16
CHECK_LEN = 16
NONCE_LEN = 12
TAG_LEN = 16
# log2(N), r, p, salt, key check: the part of a file header that describes the key.
KEY_HEADER = struct.Struct(f"<BBB{SALT_LEN}s{CHECK_LEN}s")


class KeyError_(ValueError):
    """Wrong or missing key (the message says which)."""


class AuthError(ValueError):
    """The GCM tag did not verify: the data was modified or truncated."""


@lru_cache(maxsize=8)
def _derive(passphrase: bytes, salt: bytes, log2n: int, r: int, p: int) -> tuple[bytes, bytes]:
    material = scrypt(passphrase, salt, 64, N=1 << log2n, r=r, p=p)  # type: ignore[arg-type]
    enc_key, mac_key = material[:32], material[32:]
    check = hmac.new(mac_key, b"respdb cdb key check", hashlib.sha256).digest()[:CHECK_LEN]
    return enc_key, check


@dataclass(frozen=True)
class Sealer:
    """A derived key plus the header bytes that let a reader re-derive and check it."""

    key: bytes
    header: bytes  # KEY_HEADER-packed

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """nonce || ciphertext || tag."""
        nonce = os.urandom(NONCE_LEN)
        cipher = AES.new(self.key, AES.MODE_GCM, nonce=nonce)
        cipher.update(aad)
        ct, tag = cipher.encrypt_and_digest(plaintext)
        return nonce + ct + tag

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        if len(sealed) < NONCE_LEN + TAG_LEN:
            raise AuthError("sealed data too short")
        nonce, ct, tag = sealed[:NONCE_LEN], sealed[NONCE_LEN:-TAG_LEN], sealed[-TAG_LEN:]
        cipher = AES.new(self.key, AES.MODE_GCM, nonce=nonce)
        cipher.update(aad)
        try:
            return cipher.decrypt_and_verify(ct, tag)
        except ValueError:
            raise AuthError("authentication tag mismatch (data modified or truncated)") from None


def new_sealer(passphrase: bytes, salt: bytes | None = None) -> Sealer:
    """A sealer for writing, with this process's salt (new files reuse it; the nonce is what is fresh)."""
    salt = salt if salt is not None else os.urandom(SALT_LEN)
    key, check = _derive(passphrase, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
    return Sealer(key, KEY_HEADER.pack(SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, salt, check))


def sealer_for(header: bytes, passphrase: bytes | None) -> Sealer:
    """Re-derive the key described by a file's key header; KeyError_ when absent or wrong."""
    log2n, r, p, salt, check = KEY_HEADER.unpack(header)
    if passphrase is None:
        raise KeyError_("the file is encrypted but no cdb-encryption-key (or cdb-encryption-key-file) is set")
    # Bounds keep a crafted header from asking for gigabytes of scrypt memory.
    if not (10 <= log2n <= 20 and 1 <= r <= 32 and 1 <= p <= 16):
        raise KeyError_("invalid key-derivation parameters")
    key, expected = _derive(passphrase, salt, log2n, r, p)
    if not hmac.compare_digest(check, expected):
        raise KeyError_("wrong encryption key")
    return Sealer(key, header)


def read_passphrase(key: str, key_file: str) -> bytes | None:
    """The configured passphrase: cdb-encryption-key, else the first line of cdb-encryption-key-file."""
    if key:
        return key.encode()
    if key_file:
        with open(key_file, "rb") as f:
            data = f.read().rstrip(b"\r\n")
        if not data:
            raise OSError(f"encryption key file {key_file} is empty")
        return data
    return None
