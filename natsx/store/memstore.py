"""The memory store: MsgLog with no files. Every append is "durable" as soon as it returns."""
from __future__ import annotations

import asyncio

from natsx._core.blocks import BlockIO
from natsx.store.base import BaseStore
from natsx.store.config import StoreConfig


class MemStore(BaseStore):
    def __init__(self, config: StoreConfig | None = None) -> None:
        config = config or StoreConfig()
        # Memory accounting mirrors nats-server's memStoreMsgSize; blocks are never evicted.
        self._setup(config.block_size, (1 << 63) - 1, False, True, BlockIO())
        self._init_common(config)
        try:
            self.attach_loop(asyncio.get_running_loop())
        except RuntimeError:
            pass

    @property
    def durable_seq(self) -> int:
        return self.last_seq

    def durable(self, seq: int | None = None) -> asyncio.Future:
        fut = (self._loop or asyncio.get_running_loop()).create_future()
        fut.set_result(self.last_seq if seq is None else seq)
        return fut

    def erase(self, seq: int) -> bool:
        """Remove seq and overwrite its bytes in memory."""
        self._check_open()
        return self._erase_record(seq) is not None

    def snapshot(self):
        from natsx.store.snapshot import write_snapshot

        return write_snapshot(self)

    def close(self) -> None:
        self.closed = True
        self._stop_timers()

    def delete(self) -> None:
        if not self.closed:
            self.purge()
        self.close()
