"""Direct get: `$JS.API.DIRECT.GET.<stream>` (a JSON request) and
`$JS.API.DIRECT.GET.<stream>.<subject>` (the last message of that subject), answered with the raw
stored message and nats-server's headers and status lines (stream.go processDirectGetRequest,
getDirectRequest, getDirectMulti).

A stream with allow_direct has two queue subscriptions (group `_sys_`, as nats-server, see
DirectGets); a stream without it, or no stream, gets "no responders". Python runs per request; a
`batch` of N runs in C (natsx.jetstream._dgbatch: the store's replay interface, headers stamped in
a C buffer, no Python object per message); `multi_last` loads one message per subject from Python
(at most 1024, nats-server's cap).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from natsx.gofmt import go_time
from natsx.jetstream.advisories import requesting_client
from natsx.jetstream.api import REQUIRED_API_LEVEL_HEADER, header_value
from natsx.jetstream.getreq import (
    MsgGetRequest, RequestDecodeError, TooManyResults, decode_get_request, load_by_seq, load_last,
    load_next, multi_last_seqs, seq_from_time,
)
from natsx.jetstream._dgbatch import send_batch
from natsx.store import MsgLog, StoredMsg, SubjectFilter

if TYPE_CHECKING:
    from natsx._core.sublist import Subscription

DIRECT_PREFIX = "$JS.API.DIRECT.GET."
DIRECT_GROUP = "_sys_"
MAX_MULTI_RESPONSES = 1024    # nats-server's maxAllowedResponses

# (header block or None for a plain MSG, payload)
Reply = tuple[Optional[bytes], bytes]


def status(line: str) -> Reply:
    return b"NATS/1.0 " + line.encode() + b"\r\n\r\n", b""


EMPTY_REQUEST = status("408 Empty Request")
MALFORMED_REQUEST = status("408 Malformed Request")
BAD_REQUEST = status("408 Bad Request")
NOT_FOUND = status("404 Message Not Found")
NO_RESULTS = status("404 No Results")
TOO_MANY_RESULTS = status("413 Too Many Results")
REQUIRED_API_LEVEL = status("412 Required Api Level")
NO_RESPONDERS = b"NATS/1.0 503\r\nNats-Subject: "


def stamp(stored_hdr: bytes, pairs: list[tuple[bytes, bytes]]) -> bytes:
    """nats-server's genHeader, repeated: the pairs appended to the stored header block."""
    base = stored_hdr[:-2] if len(stored_hdr) > 2 else b"NATS/1.0\r\n"
    return base + b"".join(k + b": " + v + b"\r\n" for k, v in pairs) + b"\r\n"


def _msg_pairs(stream: bytes, m: StoredMsg) -> list[tuple[bytes, bytes]]:
    return [(b"Nats-Stream", stream), (b"Nats-Subject", m.subject),
            (b"Nats-Sequence", b"%d" % m.seq), (b"Nats-Time-Stamp", go_time(m.ts).encode())]


def _batch_pairs(stream: bytes, m: StoredMsg, pending: int, last: int) -> list[tuple[bytes, bytes]]:
    return _msg_pairs(stream, m) + [(b"Nats-Num-Pending", b"%d" % pending), (b"Nats-Last-Sequence", b"%d" % last)]


def _wire_size(m: StoredMsg) -> int:
    return len(m.subject) + len(m.hdr) + len(m.data)


# ---- deciding what a request means -------------------------------------------------------------

def parse_request(payload: bytes) -> MsgGetRequest | Reply:
    """The JSON form's request, or the status nats-server answers it with."""
    if not payload:
        return EMPTY_REQUEST
    try:
        req = decode_get_request(payload)
    except RequestDecodeError:
        return MALFORMED_REQUEST
    if not (req.seq or req.last_by_subj or req.next_by_subj or req.multi_last or req.start_time is not None):
        return EMPTY_REQUEST
    if ((req.seq and req.last_by_subj) or (req.seq and req.start_time is not None)
            or (req.start_time is not None and req.last_by_subj)
            or (req.last_by_subj and req.next_by_subj) or (req.last_by_subj and req.batch > 0)
            or (req.last_by_subj and req.multi_last) or (req.next_by_subj and req.multi_last)
            or (req.up_to_seq and req.up_to_time is not None)):
        return BAD_REQUEST
    return req


def parse_last_by_subject(subject_tail: str, payload: bytes) -> MsgGetRequest | Reply:
    """`$JS.API.DIRECT.GET.<stream>.<subject>`: the body may only carry no_hdr/max_bytes."""
    req = MsgGetRequest()
    if payload:
        try:
            req = decode_get_request(payload)
        except RequestDecodeError:
            return MALFORMED_REQUEST
    if not subject_tail:
        return BAD_REQUEST
    if (req.last_by_subj or req.next_by_subj or req.multi_last or req.seq or req.batch
            or req.start_time is not None or req.up_to_seq or req.up_to_time is not None):
        return BAD_REQUEST
    req.last_by_subj = subject_tail
    return req


# ---- answering ---------------------------------------------------------------------------------

def start_seq(store: MsgLog, req: MsgGetRequest) -> int:
    return seq_from_time(store, req.start_time) if req.start_time is not None else req.seq


def single_get(store: MsgLog, stream_name: str, req: MsgGetRequest) -> Reply:
    """One message by sequence, next by subject, or last by subject."""
    seq = start_seq(store, req)
    if seq > 0 and not req.next_by_subj:
        m = load_by_seq(store, seq)
    elif req.next_by_subj:
        m = load_next(store, req.next_by_subj, seq)
    else:
        m = load_last(store, req.last_by_subj)
    if m is None:
        return NOT_FOUND
    return (None if req.no_hdr else stamp(m.hdr, _msg_pairs(stream_name.encode(), m))), m.data


def send_batch_get(server: Any, store: MsgLog, stream_name: str, req: MsgGetRequest, reply: bytes) -> None:
    """`batch`: the messages from the store's C replay (natsx.jetstream._dgbatch), then the EOB
    with what is left pending after the last one (exact: the store cannot change meanwhile)."""
    seq = start_seq(store, req)
    pending = store.num_pending(req.next_by_subj.encode(), seq)
    flt = SubjectFilter(req.next_by_subj.encode()) if req.next_by_subj else None
    sent, last, pending = send_batch(server.core, store, reply, stream_name.encode(), seq, flt, req.batch,
                                     req.max_bytes or server.options.max_pending, req.no_hdr, pending)
    end = NOT_FOUND if sent == 0 else status_with(b"204 EOB", [(b"Nats-Num-Pending", pending),
                                                                (b"Nats-Last-Sequence", last)])
    server.publish(reply, end[1], b"", end[0])


def status_with(line: bytes, pairs: list[tuple[bytes, int]]) -> Reply:
    return (b"NATS/1.0 " + line + b"\r\n" + b"".join(k + b": %d\r\n" % v for k, v in pairs) + b"\r\n", b"")


def multi_last(store: MsgLog, name: bytes, req: MsgGetRequest, max_pending: int) -> list[Reply]:
    budget = req.max_bytes or max_pending
    up_to = req.up_to_seq
    if req.up_to_time is not None:
        up_to = seq_from_time(store, req.up_to_time)
        first = store.first_seq if store.msgs else store.last_seq + 1
        if up_to <= first:
            return [NO_RESULTS]
        up_to -= 1    # the first sequence at/after the time is the ceiling, exclusive
    if up_to == 0:
        up_to = store.last_seq
    try:
        seqs = multi_last_seqs(store, req.multi_last, up_to, MAX_MULTI_RESPONSES)
    except TooManyResults:
        return [TOO_MANY_RESULTS]
    if not seqs:
        return [NO_RESULTS]
    out: list[Reply] = []
    pending = len(seqs)
    last = sent = sent_bytes = 0
    for seq in seqs:
        pending = max(pending - 1, 0)
        if seq < req.seq:
            continue
        m = load_by_seq(store, seq)
        if m is None:
            return out + [NOT_FOUND]
        # nats-server stamps multi-last replies even with no_hdr
        out.append((stamp(m.hdr, _batch_pairs(name, m, pending, last)), m.data))
        last = m.seq
        sent_bytes += _wire_size(m)
        if sent_bytes >= budget:
            break
        sent += 1
        if req.batch > 0 and sent >= req.batch:
            break
    out.append(status_with(b"204 EOB", [(b"Nats-Num-Pending", pending), (b"Nats-Last-Sequence", last),
                                        (b"Nats-UpTo-Sequence", up_to)]))
    return out


# ---- subscriptions -----------------------------------------------------------------------------

def required_level_refused(hdr: Optional[bytes], api_level: int) -> bool:
    """Nats-Required-Api-Level above natsx's level (or not a number): 412."""
    wanted = header_value(hdr, REQUIRED_API_LEVEL_HEADER)
    if wanted is None:
        return False
    try:
        return int(wanted) > api_level
    except ValueError:
        return True


class DirectGets:
    """The direct-get subscriptions of every stream with allow_direct (queue group `_sys_`, as
    nats-server): two per stream, the JSON form and the last-by-subject form."""

    def __init__(self, server: Any, streams: dict[str, Any], api_level: int) -> None:
        self.server = server
        self.streams = streams          # the registry's name -> Stream (read per request)
        self.api_level = api_level
        self.subs: dict[str, list["Subscription"]] = {}

    def sync(self, stream: Any) -> None:
        """Serve direct gets for the stream exactly when its config allows them."""
        wanted = stream.config is not None and stream.store is not None and stream.config.get("allow_direct")
        if wanted and stream.name not in self.subs:
            base = DIRECT_PREFIX + stream.name
            self.subs[stream.name] = [
                self.server.subscribe_internal(base, self._on_json, queue=DIRECT_GROUP),
                self.server.subscribe_internal(base + ".>", self._on_last_by_subject, queue=DIRECT_GROUP)]
        elif not wanted:
            self.drop(stream.name)

    def unserved(self, subject: bytes, reply: bytes) -> None:
        """A direct get the API router saw: if no stream serves it, the requester gets the
        no-responders status it would get from nats-server, whose $JS.API import leaves direct
        gets out (natsx's router subscription covers all of $JS.API, so the kernel sees a match)."""
        name = subject.decode("utf-8", "surrogateescape")[len(DIRECT_PREFIX):].partition(".")[0]
        if name in self.subs:
            return
        client = requesting_client(self.server, reply)
        if client is not None and client.no_responders and client.headers:
            self.server.publish(reply, b"", b"", NO_RESPONDERS + subject + b"\r\n\r\n")

    def drop(self, name: str) -> None:
        for sub in self.subs.pop(name, ()):
            self.server.unsubscribe_internal(sub)

    def stop(self) -> None:
        for name in list(self.subs):
            self.drop(name)

    def _on_json(self, _sub: Any, subject: bytes, reply: Optional[bytes], hdr: Optional[bytes],
                 payload: bytes) -> None:
        if reply:
            name = subject.decode("utf-8", "surrogateescape")[len(DIRECT_PREFIX):]
            self._answer(name, reply, hdr, lambda: parse_request(payload))

    def _on_last_by_subject(self, _sub: Any, subject: bytes, reply: Optional[bytes], hdr: Optional[bytes],
                            payload: bytes) -> None:
        if reply:
            name, _, tail = subject.decode("utf-8", "surrogateescape")[len(DIRECT_PREFIX):].partition(".")
            self._answer(name, reply, hdr, lambda: parse_last_by_subject(tail, payload))

    def _answer(self, name: str, reply: bytes, hdr: Optional[bytes], parse: Any) -> None:
        if required_level_refused(hdr, self.api_level):
            replies = [REQUIRED_API_LEVEL]
        else:
            req = parse()
            stream = self.streams.get(name)
            if isinstance(req, tuple):
                replies = [req]
            elif stream is None or stream.store is None:
                replies = [NOT_FOUND]
            elif req.multi_last:
                replies = multi_last(stream.store, name.encode(), req, self.server.options.max_pending)
            elif req.batch > 0:
                send_batch_get(self.server, stream.store, name, req, reply)
                return
            else:
                replies = [single_get(stream.store, name, req)]
        for h, data in replies:
            self.server.publish(reply, data, b"", h)
