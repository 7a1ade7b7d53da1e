"""A stateful property test of one stream: hypothesis drives publishes, purges (all, by subject
filter, up to a sequence, keeping the last N), message deletes and restarts against an embedded
`natsx.Server(jetstream=True)` through its real $JS.API with nats-py, and checks every ack, every
STREAM.INFO state and every MSG.GET against `StreamModel`, a plain Python stream with nats-server's
limit rules (max_msgs, max_bytes, max_msgs_per_subject, discard old / new, discard_new_per_subject;
filestore.go storeRawMsg, PurgeEx, compact).

CI runs a few examples (NATSX_MODEL_EXAMPLES, default 30, a few seconds); run longer with e.g.
NATSX_MODEL_EXAMPLES=500. NATSX_MODEL_SERVER=nats-server runs the same machine against nats-server
(a subprocess) to check the model itself."""
from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Coroutine, Optional

import nats
import pytest
from hypothesis import HealthCheck, assume, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import natsx
from conftest import REF, ServerProcess

API = "$JS.API."
STREAM = "M"
SUBJECTS = ["m.a", "m.b", "m.c", "m.d"]
FILTERS = SUBJECTS[:2] + ["m.*"]
REQUEST_TIMEOUT = 5.0
EXAMPLES = int(os.environ.get("NATSX_MODEL_EXAMPLES", "30"))
AGAINST = os.environ.get("NATSX_MODEL_SERVER", "natsx")

MAX_MSGS = "maximum messages exceeded"
MAX_BYTES = "maximum bytes exceeded"
MAX_PER_SUBJECT = "maximum messages per subject exceeded"


def record_size(subject: str, data: bytes) -> int:
    """nats-server's file store record size for a message without headers (fileStoreMsgSizeRaw)."""
    return 30 + len(subject) + len(data)


def subject_matches(filter_: str, subject: str) -> bool:
    f, s = filter_.split("."), subject.split(".")
    if f and f[-1] == ">":
        return len(s) >= len(f) and all(a in ("*", b) for a, b in zip(f[:-1], s))
    return len(f) == len(s) and all(a in ("*", b) for a, b in zip(f, s))


@dataclass
class StreamModel:
    """The messages of a limits-retention file stream, kept as nats-server keeps them."""

    max_msgs: int = -1
    max_bytes: int = -1
    max_msgs_per_subject: int = -1
    discard: str = "old"
    discard_new_per_subject: bool = False
    msgs: dict[int, tuple[str, bytes]] = field(default_factory=dict)   # seq -> (subject, data)
    first_seq: int = 0   # 0 until the first message, as nats-server reports a new stream
    last_seq: int = 0

    @property
    def nbytes(self) -> int:
        return sum(record_size(s, d) for s, d in self.msgs.values())

    def seqs_of(self, filter_: str) -> list[int]:
        return sorted(q for q, (s, _) in self.msgs.items() if subject_matches(filter_, s))

    def _remove(self, seq: int) -> None:
        del self.msgs[seq]
        self.first_seq = min(self.msgs) if self.msgs else self.last_seq + 1

    def publish(self, subject: str, data: bytes) -> int | str:
        """The sequence the message is stored at, or the error it is refused with."""
        size, per_subject = record_size(subject, data), self.seqs_of(subject)
        over_per_subject = 0 < self.max_msgs_per_subject <= len(per_subject)
        if self.discard == "new":
            if over_per_subject and self.discard_new_per_subject:
                return MAX_PER_SUBJECT
            # a message that will replace its subject's oldest is let through the stream limits
            if 0 < self.max_msgs <= len(self.msgs) and not over_per_subject:
                return MAX_MSGS
            if 0 < self.max_bytes < self.nbytes + size and (
                    not over_per_subject or record_size(*self.msgs[per_subject[0]]) < size):
                return MAX_BYTES
        self.last_seq += 1
        if not self.msgs:
            self.first_seq = self.last_seq
        self.msgs[self.last_seq] = (subject, data)
        while 0 < self.max_msgs_per_subject < len(self.seqs_of(subject)):
            self._remove(self.seqs_of(subject)[0])
        if self.discard == "old":
            while 0 < self.max_msgs < len(self.msgs):
                self._remove(min(self.msgs))
            while 0 < self.max_bytes < self.nbytes:
                self._remove(min(self.msgs))
        return self.last_seq

    def purge(self, filter_: Optional[str], seq: int, keep: int) -> int:
        """Remove what STREAM.PURGE {filter, seq, keep} removes; the number purged."""
        if seq == 1:   # "up to but not including 1"
            return 0
        whole = filter_ is None and keep == 0
        if whole and seq > self.last_seq:   # purge all; compacting past the end moves both ends there
            purged = len(self.msgs)
            self.msgs.clear()
            self.first_seq = max(self.last_seq + 1, seq)
            self.last_seq = self.first_seq - 1
            return purged
        matching = self.seqs_of(filter_ or ">")
        victims = (matching[:max(len(matching) - keep, 0)] if keep
                   else [q for q in matching if seq == 0 or q < seq])
        for q in victims:
            del self.msgs[q]
        if victims or whole:
            self.first_seq = min(self.msgs) if self.msgs else self.last_seq + 1
        return len(victims)

    def delete(self, seq: int) -> dict[str, Any]:
        """STREAM.MSG.DELETE's answer, nats-server's errors included."""
        if seq > self.last_seq:
            return {"error": {"code": 500, "err_code": 10057, "description": "stream store EOF"}}
        if not self.msgs or seq < self.first_seq:   # no block holds it (the stream has one block here)
            return {"error": {"code": 500, "err_code": 10057, "description": "no message found"}}
        if seq not in self.msgs:
            return {"error": {"code": 400, "err_code": 10043, "description": f"sequence {seq} not found"}}
        self._remove(seq)
        return {"success": True}

    def state(self) -> dict[str, int]:
        n = len(self.msgs)
        return {"messages": n, "bytes": self.nbytes, "first_seq": self.first_seq, "last_seq": self.last_seq,
                "num_subjects": len({s for s, _ in self.msgs.values()}),
                "num_deleted": (self.last_seq - self.first_seq + 1 - n) if n else 0}


class ServerThread:
    """An asyncio loop on its own thread hosting the server under test and a nats-py client, so the
    (synchronous) state machine can run coroutines on it."""

    def __init__(self, store_dir: Path) -> None:
        self.store_dir = store_dir
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: Any = None
        self.nc: Optional[nats.NATS] = None
        self.run(self._start())

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(REQUEST_TIMEOUT * 4)

    async def _start(self) -> None:
        if AGAINST == REF:
            if self.server is None:
                self.server = ServerProcess(REF, self.store_dir)
                self.server.start(["-js", "-sd", str(self.store_dir)])
            else:
                self.server.restart()
            url = self.server.url
        else:
            self.server = natsx.Server(port=0, host="127.0.0.1", jetstream=True, store_dir=str(self.store_dir))
            await self.server.start()
            url = self.server.client_url
        self.nc = await nats.connect(url, allow_reconnect=False)

    async def _stop(self) -> None:
        await self.nc.close()
        if AGAINST == REF:
            self.server.stop()
        else:
            await self.server.shutdown()

    def restart(self) -> None:
        self.run(self._stop())
        self.run(self._start())

    def request(self, subject: str, body: Any = b"") -> dict[str, Any]:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()

        async def go() -> dict[str, Any]:
            return json.loads((await self.nc.request(subject, payload, timeout=REQUEST_TIMEOUT)).data)
        doc = self.run(go())
        doc.pop("type", None)   # the API response's type name: not what the model is about
        return doc

    def close(self) -> None:
        self.run(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


limits = st.fixed_dictionaries({
    "max_msgs": st.sampled_from([-1, 3, 8]),
    "max_bytes": st.sampled_from([-1, 150, 400]),
    "max_msgs_per_subject": st.sampled_from([-1, 1, 2]),
    "discard": st.sampled_from(["old", "new"]),
    "discard_new_per_subject": st.booleans(),
})


class StreamMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store_dir = Path(tempfile.mkdtemp(prefix="natsx-model-"))
        self.srv = ServerThread(self.store_dir)
        self.model = StreamModel()

    @initialize(cfg=limits)
    def create(self, cfg: dict[str, Any]) -> None:
        if not (cfg["discard"] == "new" and cfg["max_msgs_per_subject"] > 0):
            cfg["discard_new_per_subject"] = False   # nats-server refuses it otherwise
        self.model = StreamModel(**cfg)
        r = self.srv.request(f"{API}STREAM.CREATE.{STREAM}",
                             {"name": STREAM, "subjects": ["m.*"], "storage": "file", **cfg})
        assert "error" not in r, r

    @rule(subject=st.sampled_from(SUBJECTS), data=st.binary(max_size=40))
    def publish(self, subject: str, data: bytes) -> None:
        expected = self.model.publish(subject, data)
        ack = self.srv.request(subject, data)
        if isinstance(expected, int):
            assert ack == {"stream": STREAM, "seq": expected}, (ack, expected)
        else:
            assert ack["error"]["description"] == expected and ack["error"]["err_code"] == 10077, (ack, expected)

    @rule(filter_=st.none() | st.sampled_from(FILTERS), seq=st.integers(0, 30), keep=st.integers(0, 4),
          use=st.sampled_from(["seq", "keep", "neither"]))
    def purge(self, filter_: Optional[str], seq: int, keep: int, use: str) -> None:
        seq, keep = (seq if use == "seq" else 0), (keep if use == "keep" else 0)
        # natsx still answers first_seq 0 there (nats-server 1): test_purge_of_a_never_written_stream
        assume(not (filter_ is None and seq == 0 and keep == 0 and self.model.last_seq == 0))
        body: dict[str, Any] = {k: v for k, v in (("filter", filter_), ("seq", seq), ("keep", keep)) if v}
        purged = self.model.purge(filter_, seq, keep)
        r = self.srv.request(f"{API}STREAM.PURGE.{STREAM}", body or b"")
        assert r == {"success": True, "purged": purged}, (body, r, purged)

    @rule(data=st.data())
    def delete_msg(self, data: st.DataObject) -> None:
        seq = data.draw(st.integers(1, self.model.last_seq + 2), label="seq")
        expected = self.model.delete(seq)
        r = self.srv.request(f"{API}STREAM.MSG.DELETE.{STREAM}", {"seq": seq})
        assert r == expected, (seq, r, expected)

    @rule(data=st.data())
    def get_msg(self, data: st.DataObject) -> None:
        seq = data.draw(st.integers(1, self.model.last_seq + 2), label="seq")
        self.check_get({"seq": seq}, self.model.msgs.get(seq) and (seq, *self.model.msgs[seq]))

    @rule(subject=st.sampled_from(SUBJECTS))
    def get_last_by_subject(self, subject: str) -> None:
        seqs = self.model.seqs_of(subject)
        self.check_get({"last_by_subj": subject}, seqs and (seqs[-1], *self.model.msgs[seqs[-1]]))

    def check_get(self, body: dict[str, Any], expected: Any) -> None:
        r = self.srv.request(f"{API}STREAM.MSG.GET.{STREAM}", body)
        if not expected:
            assert r["error"]["err_code"] == 10037, (body, r)
            return
        seq, subject, data = expected
        m = r["message"]
        assert (m["seq"], m["subject"], base64.b64decode(m.get("data", ""))) == (seq, subject, data), (body, r)

    @rule()
    def restart(self) -> None:
        self.srv.restart()

    @invariant()
    def state_matches(self) -> None:
        r = self.srv.request(f"{API}STREAM.INFO.{STREAM}")
        if "error" in r and r["error"]["err_code"] == 10059:
            return   # before create
        got = {k: r["state"].get(k, 0) for k in ("messages", "bytes", "first_seq", "last_seq", "num_subjects",
                                                 "num_deleted")}
        assert got == self.model.state(), (got, self.model.state())

    def teardown(self) -> None:
        self.srv.close()
        shutil.rmtree(self.store_dir, ignore_errors=True)


StreamMachine.TestCase.settings = settings(max_examples=EXAMPLES, stateful_step_count=25, deadline=None,
                                           suppress_health_check=list(HealthCheck))
test_stream_matches_the_model = StreamMachine.TestCase


@pytest.mark.xfail(AGAINST != REF, strict=True, reason="natsx reports first_seq 0 for a purged stream that never held a "
                                       "message (BaseStore.state: first is 0 while msgs == last == 0); "
                                       "nats-server reports 1, before and after a restart")
def test_purge_of_a_never_written_stream(tmp_path):
    srv = ServerThread(tmp_path)
    try:
        assert "error" not in srv.request(f"{API}STREAM.CREATE.E", {"name": "E", "subjects": ["e"]})
        assert srv.request(f"{API}STREAM.PURGE.E") == {"success": True, "purged": 0}
        assert srv.request(f"{API}STREAM.INFO.E")["state"]["first_seq"] == 1
    finally:
        srv.close()
