"""NKey-style identifiers: base32 of (prefix byte, key bytes, CRC16). Server ids use prefix 'N'.

The security issue extends this module with ed25519 signatures for NKey authentication.
"""
from __future__ import annotations

import base64
import os

PREFIX_SERVER = 13 << 3   # encodes as a leading 'N'


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
