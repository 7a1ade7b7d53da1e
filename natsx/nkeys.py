"""NKey-style identifiers: base32 of (prefix byte, key bytes, CRC16). Server ids use prefix 'N',
curve (x25519) public keys prefix 'X'.

The security issue extends this module with ed25519 signatures for NKey authentication.
"""
from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

PREFIX_SERVER = 13 << 3   # encodes as a leading 'N'
PREFIX_CURVE = 23 << 3    # encodes as a leading 'X'


def crc16(data: bytes) -> int:
    """CRC-16/XMODEM, as nkeys uses."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def encode(prefix: int, key: bytes) -> str:
    raw = bytes([prefix]) + key
    raw += crc16(raw).to_bytes(2, "little")
    return base64.b32encode(raw).decode().rstrip("=")


def new_server_id() -> str:
    """A fresh 56-character server id, like nats-server's public server nkey."""
    return encode(PREFIX_SERVER, os.urandom(32))


def decode(prefix: int, text: str) -> bytes:
    """The key bytes of an encoded key; ValueError if the prefix or checksum is wrong."""
    raw = base64.b32decode(text + "=" * (-len(text) % 8))
    body, crc = raw[:-2], int.from_bytes(raw[-2:], "little")
    if not body or body[0] != prefix or crc16(body) != crc:
        raise ValueError(f"not an nkey with prefix {prefix}: {text!r}")
    return body[1:]


def new_curve_key() -> tuple[X25519PrivateKey, str]:
    """A fresh x25519 key pair and its public key as nkeys writes it ('X...', 56 characters): the
    server's xkey, which nats-server announces in INFO for encrypting auth callout messages."""
    private = X25519PrivateKey.generate()
    return private, encode(PREFIX_CURVE, private.public_key().public_bytes_raw())
