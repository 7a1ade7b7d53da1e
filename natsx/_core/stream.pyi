"""Python face of the JetStream ingest kernel (natsx/_core/stream.pyx; design in stream.pxd)."""
from collections.abc import Mapping

from natsx._core.account import Account
from natsx._core.conn import ServerCore
from natsx._core.msglog import MsgLog
from natsx._core.sublist import Subscriber

DEFAULT_DUPLICATE_WINDOW_NS: int
UNSUPPORTED_SWITCHES: tuple[str, ...]

class StreamIngest(Subscriber):
    """The publish path of one stream: subscribe it (Subscription(subject, sid, ingest)) on each
    of the stream's subjects; it stores, dedupes and acks in C."""

    core: ServerCore
    store: MsgLog
    name: bytes
    domain: bytes | None
    account: Account
    stored: int
    duplicates: int
    errors: int
    acks_sent: int
    def __init__(self, core: ServerCore, store: MsgLog, name: bytes,
                 config: Mapping[str, object] | None = None, domain: bytes | None = None,
                 account: Account | None = None) -> None: ...
    def reconfigure(self, config: Mapping[str, object]) -> None: ...
    def rebuild_dedupe(self) -> int: ...
    def expire_dedupe(self) -> None: ...
    def dedupe_seq(self, msg_id: bytes) -> int: ...
    def process(self, subject: bytes, payload: bytes = b"", reply: bytes | None = None,
                hdr: bytes | None = None) -> None: ...
    def close(self) -> None: ...
    @property
    def last_seq(self) -> int: ...
    @property
    def last_msg_id(self) -> bytes: ...
    @property
    def dedupe_count(self) -> int: ...
    @property
    def acks_pending(self) -> int: ...
    @property
    def duplicate_window_ns(self) -> int: ...
