"""What file and memory stores share: config application, state, expiry timer, durability futures."""
from __future__ import annotations

import asyncio
import heapq
import time

from natsx._core.msglog import MsgLog, StoreClosedError
from natsx.store.config import StoreConfig, StreamState


class BaseStore(MsgLog):
    """One interface for both stores; the per-message work is MsgLog's (Cython)."""

    def _init_common(self, config: StoreConfig | None) -> None:
        self.config = config or StoreConfig()
        self.config.validate()
        self.closed = False
        self.lost: list[tuple[int, int]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._expiry_handle: asyncio.TimerHandle | None = None
        self._waiters: list[tuple[int, int, asyncio.Future]] = []  # heap of (seq, tiebreak, fut)
        self._waiter_n = 0
        self._durable_seq = 0
        self._apply_limits(self.config)

    def _apply_limits(self, c: StoreConfig) -> None:
        self.max_msgs = c.max_msgs
        self.max_bytes = c.max_bytes
        self.max_age_ns = c.max_age_ns
        self.max_per_subject = c.max_msgs_per_subject
        self.max_msg_size = c.max_msg_size
        self.discard_new = c.discard == "new"
        self.discard_new_per_subject = c.discard_new_per_subject

    # -- lifecycle ---------------------------------------------------------------------------

    def update_config(self, config: StoreConfig) -> int:
        """Apply new limits at once; returns how many messages they removed."""
        self._check_open()
        config.validate()
        self.config = config
        self._apply_limits(config)
        removed = self.enforce_limits()
        self._after_op()
        self._arm_expiry()
        return removed

    def attach_loop(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Bind to an event loop: group commit and the max_age timer run on it."""
        self._loop = loop or asyncio.get_running_loop()
        self._arm_expiry()

    def _check_open(self) -> None:
        if self.closed:
            raise StoreClosedError()

    def _after_op(self) -> None:
        """Hook run after every mutating call (file store: write + sync policy)."""

    # -- state -------------------------------------------------------------------------------

    def state(self, deleted: bool = False) -> StreamState:
        if self._loop is None and self.max_age_ns > 0:
            # Without an event loop there is no timer: expire on observation instead.
            if self.expire():
                self._after_op()
        msgs = self.msgs
        last = self.last_seq
        first = self.first_seq if (msgs or last) else 0
        st = StreamState(
            msgs=msgs,
            bytes=self.total_bytes,
            first_seq=first,
            first_ts=self.first_ts,
            last_seq=last,
            last_ts=self.last_ts if last else 0,
            num_deleted=(last - first + 1 - msgs) if msgs else 0,
            num_subjects=self.num_subjects,
            lost=list(self.lost),
        )
        if deleted:
            st.deleted = self.deleted()
        return st

    def subjects_totals(self, filter: bytes | str = b">") -> dict[bytes, int]:
        return {s: v[0] for s, v in self.subjects_state(filter).items()}

    # -- durability --------------------------------------------------------------------------

    @property
    def durable_seq(self) -> int:
        """Highest sequence known durable under the sync policy."""
        return self._durable_seq

    def durable(self, seq: int | None = None) -> asyncio.Future:
        """A future resolved (with seq) once every append up to seq is durable.

        JetStream sends its publish acks from this future's callback.
        """
        loop = self._loop or asyncio.get_running_loop()
        fut = loop.create_future()
        seq = self.last_seq if seq is None else seq
        if seq <= self._durable_seq:
            fut.set_result(seq)
        else:
            self._waiter_n += 1
            heapq.heappush(self._waiters, (seq, self._waiter_n, fut))
        return fut

    def _set_durable(self, seq: int) -> None:
        if seq > self._durable_seq:
            self._durable_seq = seq
        w = self._waiters
        while w and w[0][0] <= self._durable_seq:
            s, _, fut = heapq.heappop(w)
            if not fut.done():
                fut.set_result(s)

    def _fail_waiters(self, exc: BaseException, upto: int | None = None) -> None:
        w = self._waiters
        while w and (upto is None or w[0][0] <= upto):
            _, _, fut = heapq.heappop(w)
            if not fut.done():
                fut.set_exception(exc)

    # -- max_age timer -------------------------------------------------------------------------

    def _arm_expiry(self) -> None:
        if self._expiry_handle is not None:
            self._expiry_handle.cancel()
            self._expiry_handle = None
        if self._loop is None or self.closed or self.max_age_ns <= 0:
            return
        nxt = self.next_expiry()
        now = time.time_ns()
        delay = (nxt - now) / 1e9 if nxt else self.max_age_ns / 1e9
        # Runs even when nobody appends: expired messages go on time.
        self._expiry_handle = self._loop.call_later(max(delay, 0.001), self._expiry_tick)

    def _expiry_tick(self) -> None:
        self._expiry_handle = None
        if self.closed:
            return
        if self.expire():
            self._after_op()
        self._arm_expiry()

    def _stop_timers(self) -> None:
        if self._expiry_handle is not None:
            self._expiry_handle.cancel()
            self._expiry_handle = None
