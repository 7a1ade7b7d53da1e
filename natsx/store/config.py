"""Store configuration and state records (field names mirror nats-server's StreamConfig/StreamState)."""
from __future__ import annotations

from dataclasses import dataclass, field

SYNC_ALWAYS = "always"
SYNC_INTERVAL = "interval"
SYNC_NEVER = "never"


@dataclass
class StoreConfig:
    """Limits and storage knobs. A limit <= 0 means "no limit" (nats-server uses -1)."""

    max_msgs: int = -1
    max_bytes: int = -1
    max_age_ns: int = 0
    max_msgs_per_subject: int = -1
    max_msg_size: int = -1
    discard: str = "old"  # "old" | "new"
    discard_new_per_subject: bool = False
    # Durability: "always" = an append is durable (and its future resolves) only after fdatasync;
    # "interval" = fdatasync every sync_interval seconds; "never" = leave it to the OS.
    sync: str = SYNC_ALWAYS
    sync_interval: float = 120.0
    compression: str = "none"  # "none" | "zstd" (sealed blocks only)
    compression_level: int = 3
    # 4 MiB: see docs/storage.rst ("Why 4 MiB blocks").
    block_size: int = 4 << 20
    # Decoded sealed blocks kept in memory (LRU); the active block is always resident.
    cache_size: int = 256 << 20

    def validate(self) -> None:
        if self.discard not in ("old", "new"):
            raise ValueError(f"discard must be 'old' or 'new', not {self.discard!r}")
        if self.sync not in (SYNC_ALWAYS, SYNC_INTERVAL, SYNC_NEVER):
            raise ValueError(f"sync must be always|interval|never, not {self.sync!r}")
        if self.sync == SYNC_INTERVAL and self.sync_interval <= 0:
            raise ValueError("sync_interval must be > 0")
        if self.compression not in ("none", "zstd"):
            raise ValueError(f"compression must be none|zstd, not {self.compression!r}")
        if not 4096 <= self.block_size <= 1 << 30:
            raise ValueError("block_size must be between 4 KiB and 1 GiB")


@dataclass
class StreamState:
    msgs: int = 0
    bytes: int = 0
    first_seq: int = 0
    first_ts: int = 0  # unix ns; 0 when empty
    last_seq: int = 0
    last_ts: int = 0
    num_deleted: int = 0
    deleted: list[int] | None = None  # only when asked for
    num_subjects: int = 0
    # Sequences that recovery could not read back (corruption), as (first, last) ranges.
    lost: list[tuple[int, int]] = field(default_factory=list)
