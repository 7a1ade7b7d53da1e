"""The same stream and the same publishes on nats-server -js and on natsx's ingest kernel: every
pub ack (success, duplicate, each error) must be byte for byte the same."""
from __future__ import annotations

import signal

import pytest

from conftest import REF, ServerProcess
from jetstream.ingest_support import Pub, RawPub, Step, run_nats_server, run_natsx

BASE = {"name": "S", "subjects": ["s.>"], "storage": "file"}


def cfg(**kw):
    return {**BASE, **kw}


def on(subject: str, *headers: dict[str, str], data: bytes = b"") -> list[Pub]:
    """One publish per header set, all on subject."""
    return [Pub(subject, data, h) for h in headers]

CASES: dict[str, tuple[dict, list]] = {
    "plain": (cfg(), [Pub("s.a", b"1"), Pub("s.b", b"2"), Pub("s.a", b"", {"X": "y"})]),
    "dedupe": (cfg(), [Pub("s.a", b"1", {"Nats-Msg-Id": "m1"}), Pub("s.a", b"2", {"Nats-Msg-Id": "m1"}),
                       Pub("s.b", b"3", {"Nats-Msg-Id": "m2"}), Pub("s.c", b"4", {"Nats-Msg-Id": "m1"}),
                       Pub("s.c", b"4", {"Nats-Msg-Id": ""})]),
    "dedupe_off": (cfg(duplicate_window=0), [Pub("s.a", b"1", {"Nats-Msg-Id": "m1"}),
                                             Pub("s.a", b"1", {"Nats-Msg-Id": "m1"})]),
    "expected_stream": (cfg(), [Pub("s.a", b"", {"Nats-Expected-Stream": "T"}),
                                Pub("s.a", b"", {"Nats-Expected-Stream": "S"})]),
    "expected_last_seq": (cfg(), [Pub("s.a", b"", {"Nats-Expected-Last-Sequence": "0"}),
                                  Pub("s.a", b"", {"Nats-Expected-Last-Sequence": "0"}),
                                  Pub("s.a", b"", {"Nats-Expected-Last-Sequence": "1"}),
                                  Pub("s.a", b"", {"Nats-Expected-Last-Sequence": "x"})]),
    "expected_last_subject_seq": (cfg(), [
        Pub("s.a", b"", {"Nats-Expected-Last-Subject-Sequence": "0"}),
        Pub("s.b", b"", {"Nats-Expected-Last-Subject-Sequence": "0"}),
        Pub("s.a", b"", {"Nats-Expected-Last-Subject-Sequence": "2"}),
        Pub("s.a", b"", {"Nats-Expected-Last-Subject-Sequence": "1"}),
        Pub("s.c", b"", {"Nats-Expected-Last-Subject-Sequence": "3",
                         "Nats-Expected-Last-Subject-Sequence-Subject": "s.a"}),
        Pub("s.c", b"", {"Nats-Expected-Last-Subject-Sequence": "4",
                         "Nats-Expected-Last-Subject-Sequence-Subject": "s.*"}),
        Pub("s.c", b"", {"Nats-Expected-Last-Subject-Sequence": "5",
                         "Nats-Expected-Last-Subject-Sequence-Subject": "s.*"}),
        Pub("s.c", b"", {"Nats-Expected-Last-Subject-Sequence-Subject": "s.a"}),
        Pub("s.d", b"", {"Nats-Expected-Last-Subject-Sequence": "7"}),
    ]),
    "expected_last_msg_id": (cfg(), [
        Pub("s.a", b"", {"Nats-Expected-Last-Msg-Id": "x"}),
        Pub("s.a", b"", {"Nats-Msg-Id": "a<&>\"\\é"}),
        Pub("s.a", b"", {"Nats-Expected-Last-Msg-Id": "b"}),
        Pub("s.a", b"", {"Nats-Expected-Last-Msg-Id": "a<&>\"\\é", "Nats-Msg-Id": "c"}),
        Pub("s.a", b""),
        Pub("s.a", b"", {"Nats-Expected-Last-Msg-Id": "c"}),
    ]),
    "rollup_refused": (cfg(), [Pub("s.a", b"", {"Nats-Rollup": "sub"})]),
    "rollup": (cfg(allow_rollup_hdrs=True), [
        Pub("s.a", b"1"), Pub("s.a", b"2"), Pub("s.b", b"3"),
        Pub("s.a", b"4", {"Nats-Rollup": "sub"}),
        Pub("s.a", b"", {"Nats-Expected-Last-Subject-Sequence": "4"}),
        Pub("s.c", b"", {"Nats-Rollup": "SUB"}),
        Pub("s.d", b"", {"Nats-Rollup": "foo"}),
        Pub("s.d", b"", {"Nats-Rollup": "Bad\"Value"}),
        Pub("s.d", b"", {"Nats-Rollup": "all"}),
        Pub("s.a", b"", {"Nats-Expected-Last-Subject-Sequence": "0"}),
    ]),
    "ttl_disabled": (cfg(), [Pub("s.a", b"", {"Nats-TTL": v})
                             for v in ("5s", "never", "NEVER", "60", "abc", "0", "500ms", "00", "-1", "1h2m",
                                       "-5s", "1.5s")]),
    "counter_disabled": (cfg(), [Pub("s.a", b"", {"Nats-Incr": v}) for v in ("1", "+2", "-3", "x", "1.5", "")]),
    "atomic_disabled": (cfg(), [Pub("s.a", b"", {"Nats-Batch-Id": "b1", "Nats-Batch-Sequence": "1"}),
                                Pub("s.a", b"", {"Nats-Batch-Id": ""}),
                                Pub("s.a", b"", {"Nats-Batch-Sequence": "1"}),
                                Pub("s.a", b"", {"Nats-Batch-Commit": "1"}),
                                Pub("s.a", b"", {"Nats-Batch-Id": "x", "Nats-Msg-Id": "m"}),
                                Pub("s.a", b"", reply="r.x.$FI"),
                                Pub("s.a", b"", {"K": "v"}, reply="r.b.10.ok.1.0.$FI")]),
    "schedules_disabled": (cfg(), on("s.a", {"Nats-Schedule": "@every 1s"},
        {"Nats-Schedule": "nonsense"},
        {"Nats-Schedule-Time-Zone": ""},
        {"Nats-Schedule-Time-Zone": "Europe/Paris"},
        {"Nats-Schedule-Time-Zone": "Not/AZone"},
        {"Nats-Scheduler": "s.b"},
        {"Nats-Schedule-Next": "purge"},
        {"Nats-Schedule-Next": "purge", "Nats-Scheduler": "s.b"},
        {"Nats-Schedule-Next": "later", "Nats-Scheduler": "s.b"},
        {"Nats-Stream-Source": "X 1 s.a"})),
    "api_level_header": (cfg(), [Pub("s.a", b"", {"Nats-Required-Api-Level": "1"}),
                                 Pub("s.a", b"", {"Nats-Required-Api-Level": "999"}),
                                 Pub("s.a", b"", {"Nats-Required-Api-Level": "x"})]),
    "max_msg_size": (cfg(max_msg_size=10), [Pub("s.a", b"x" * 10), Pub("s.a", b"x" * 11),
                                            Pub("s.a", b"x", {"K": "v"})]),
    "max_msg_size_zero_is_unlimited": (cfg(max_msg_size=0), [Pub("s.a", b"x" * 1000)]),
    "max_msgs_discard_new": (cfg(max_msgs=2, discard="new"), [Pub("s.a"), Pub("s.b"), Pub("s.c"),
                                                              Pub("s.a", b"", {"Nats-Msg-Id": "z"})]),
    "max_msgs_discard_old": (cfg(max_msgs=2), [Pub("s.a"), Pub("s.b"), Pub("s.c"),
                                               Pub("s.a", b"", {"Nats-Expected-Last-Subject-Sequence": "1"})]),
    "max_bytes_discard_new": (cfg(max_bytes=100, discard="new"), [Pub("s.a", b"x" * 20) for _ in range(4)]),
    "memory_max_bytes_discard_new": (cfg(storage="memory", max_bytes=100, discard="new"),
                                     [Pub("s.a", b"x" * 20) for _ in range(5)]),
    "memory_per_subject_replaces_bytes": (
        cfg(storage="memory", max_bytes=120, max_msgs_per_subject=1, discard="new"),
        [Pub("s.a", b"x" * 40), Pub("s.b", b"x" * 40), Pub("s.a", b"x" * 40), Pub("s.a", b"x" * 41),
         Pub("s.c", b"x")]),
    "file_per_subject_replaces_bytes": (
        cfg(max_bytes=200, max_msgs_per_subject=1, discard="new"),
        [Pub("s.a", b"x" * 40), Pub("s.b", b"x" * 40), Pub("s.a", b"x" * 40), Pub("s.a", b"x" * 41),
         Pub("s.c", b"x" * 60), Pub("s.c", b"x")]),
    "per_subject_discard_old": (cfg(max_msgs_per_subject=2), [
        Pub("s.a"), Pub("s.a"), Pub("s.a"),
        Pub("s.a", b"", {"Nats-Expected-Last-Subject-Sequence": "3"}),
        Pub("s.b", b"", {"Nats-Expected-Last-Sequence": "4"})]),
    "per_subject_discard_new": (cfg(max_msgs_per_subject=1, discard="new", discard_new_per_subject=True),
                                [Pub("s.a"), Pub("s.a"), Pub("s.b")]),
    "per_subject_replaces": (cfg(max_msgs_per_subject=1, max_msgs=1, discard="new"),
                             [Pub("s.a"), Pub("s.a"), Pub("s.b")]),
    "sealed": (cfg(), [Pub("s.a"), Step({"sealed": True}), Pub("s.a"),
                       Pub("s.a", b"", {"Nats-Batch-Id": "b"}), Pub("s.a", reply="r.$FI")]),
    "no_ack": (cfg(no_ack=True), [Pub("s.a"), Pub("s.a", b"", {"Nats-Expected-Stream": "T"})]),
    "memory": (cfg(storage="memory"), [Pub("s.a"), Pub("s.a", b"", {"Nats-Msg-Id": "1"}),
                                       Pub("s.a", b"", {"Nats-Msg-Id": "1"})]),
    # Which check answers first when a publish breaks several rules (measured on nats-server 2.15).
    "order_of_checks": (cfg(max_msg_size=200, max_msgs=3, discard="new"), [
        Pub("s.a", b"x" * 300, {"Nats-Expected-Stream": "T"}),
        Pub("s.a", b"x" * 300, {"Nats-Incr": "1"}),
        Pub("s.a", b"x" * 300, {"Nats-Msg-Id": "q"}),
        Pub("s.a", b"x" * 300, {"Nats-TTL": "bad"}),
        *on("s.a", {"Nats-TTL": "bad", "Nats-Rollup": "all"},
            {"Nats-Incr": "1", "Nats-Expected-Stream": "T"},
            {"Nats-Expected-Stream": "T", "Nats-TTL": "5s"},
            {"Nats-TTL": "5s", "Nats-Expected-Last-Sequence": "9"},
            {"Nats-TTL": "bad", "Nats-Expected-Last-Sequence": "9"},
            {"Nats-TTL": "bad", "Nats-Msg-Id": "zz"},
            {"Nats-Rollup": "sub", "Nats-Expected-Last-Sequence": "9"},
            {"Nats-Expected-Last-Msg-Id": "q", "Nats-Expected-Last-Sequence": "9"},
            {"Nats-Schedule": "@every 1s", "Nats-Expected-Last-Sequence": "9"},
            {"Nats-Schedule": "@every 1s", "Nats-Expected-Last-Subject-Sequence": "9"},
            {"Nats-Expected-Last-Sequence": "8", "Nats-Expected-Last-Subject-Sequence": "9"},
            {"Nats-Stream-Source": "x", "Nats-Expected-Last-Sequence": "9"},
            {"Nats-Stream-Source": "x", "Nats-Schedule": "@every 1s"},
            {"Nats-Msg-Id": "A"},
            {"Nats-Msg-Id": "A", "Nats-Expected-Last-Sequence": "9"},
            {"Nats-Msg-Id": "A", "Nats-Expected-Last-Msg-Id": "B"},
            {"Nats-Msg-Id": "A", "Nats-Stream-Source": "x"},
            {"Nats-Msg-Id": "A", "Nats-TTL": "5s"},
            {"Nats-Msg-Id": "A", "Nats-TTL": "bad"},
            {"Nats-Msg-Id": "A", "Nats-Rollup": "sub"}, data=b"ok"),
        Pub("s.a", b"x" * 300, {"Nats-Msg-Id": "A"}),
        Pub("s.a", b"ok", {"Nats-Batch-Id": "x", "Nats-Expected-Stream": "T"}),
        Pub("s.a", b"x" * 300, {"Nats-Batch-Id": "x"}),
        Pub("s.b"), Pub("s.c"),
        Pub("s.d", b"ok", {"Nats-TTL": "bad"}),
        Pub("s.d", b"ok", {"Nats-Msg-Id": "A"}),
        Pub("s.d", b"ok", {"Nats-Msg-Id": "new"}),
    ]),
    # The stream captures its own acks' reply subject: each ack is stored too (nested delivery).
    "acks_captured_by_the_stream": (cfg(subjects=["s.>", "r.>"]), [
        Pub("s.a", b"1", reply="r.1"), Pub("s.a", b"2", {"Nats-Expected-Stream": "T"}, reply="r.2"),
        Pub("s.a", b"3", {"Nats-Msg-Id": "d"}, reply="r.3"), Pub("s.a", b"4", {"Nats-Msg-Id": "d"}, reply="r.4"),
        Pub("s.a", b"", {"Nats-Expected-Last-Sequence": "0"}),
        Pub("s.a", b"", {"Nats-Expected-Last-Subject-Sequence": "0",
                         "Nats-Expected-Last-Subject-Sequence-Subject": "r.*"})]),
    # Stored headers lose a status line and Nats-Request-Info, as nats-server strips them.
    "headers_stripped_before_storing": (cfg(max_msg_size=40), [
        RawPub("s.a", b"NATS/1.0 503 No Responders\r\nK: v\r\n\r\n"),
        RawPub("s.b", b"NATS/1.0 503\r\n\r\n"),
        RawPub("s.c", b"NATS/1.0\r\nNats-Request-Info: {}\r\nK: v\r\nNats-Request-Info: x\r\n\r\n"),
        RawPub("s.d", b"NATS/1.0\r\nNats-Request-Info: {\"acc\":\"A\"}\r\n\r\n", b"x" * 30),
        RawPub("s.e", b"NATS/1.0 100 Idle Heartbeat\r\nNats-Msg-Id: z\r\n\r\n"),
        Pub("s.e", b"", {"Nats-Msg-Id": "z"})]),
    "rollup_with_discard_new_per_subject": (
        cfg(allow_rollup_hdrs=True, max_msgs_per_subject=1, discard="new", discard_new_per_subject=True),
        [Pub("s.a", b"1"), Pub("s.a", b"2"), Pub("s.a", b"3", {"Nats-Rollup": "sub"}),
         Pub("s.a", b"", {"Nats-Expected-Last-Subject-Sequence": "2"})]),
}


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("ref")
    srv = ServerProcess(REF, d).start(["-js", "-sd", str(d / "js")])
    yield srv
    srv.stop(signal.SIGTERM)


@pytest.mark.parametrize("case", list(CASES))
async def test_pub_acks_match_nats_server(case, nats_server, tmp_path):
    config, steps = CASES[case]
    want = await run_nats_server(nats_server.url, config, steps)
    got = await run_natsx(config, steps, tmp_path / "S")
    assert got == want


async def test_domain_in_success_and_duplicate_acks_only(tmp_path):
    d = tmp_path / "ref"
    d.mkdir()
    conf = "jetstream { store_dir: %s, domain: HUB }\n" % (d / "js")
    srv = ServerProcess(REF, d).start(config=conf)
    steps = [Pub("s.a", b"", {"Nats-Msg-Id": "1"}), Pub("s.a", b"", {"Nats-Msg-Id": "1"}),
             Pub("s.a", b"", {"Nats-Expected-Stream": "T"})]
    try:
        want = await run_nats_server(srv.url, cfg(), steps)
    finally:
        srv.stop(signal.SIGTERM)
    got = await run_natsx(cfg(), steps, tmp_path / "S", domain=b"HUB")
    assert got == want
    assert b'"domain":"HUB"' in got[0] and b'"domain"' not in got[2]


def random_publishes(seed: int, n: int) -> list[Pub]:
    """Publishes with random mixes of every header the kernel reads, valid and not."""
    import random

    rnd = random.Random(seed)
    palette = {
        "Nats-Msg-Id": ["a", "b", "c", "d", ""],
        "Nats-Expected-Stream": ["S", "T"],
        "Nats-Expected-Last-Sequence": lambda: str(rnd.randrange(0, n)),
        "Nats-Expected-Last-Subject-Sequence": lambda: str(rnd.randrange(0, n)),
        "Nats-Expected-Last-Subject-Sequence-Subject": ["s.a", "s.*", "s.>"],
        "Nats-Expected-Last-Msg-Id": ["a", "b", "c", ""],
        "Nats-Rollup": ["sub", "all", "bad"],
        "Nats-TTL": ["5s", "bad", "0", "00"],
        "Nats-Incr": ["1", "x"],
        "Nats-Batch-Id": ["b"],
        "Nats-Schedule": ["@every 1s"],
        "Nats-Stream-Source": ["x"],
        "Nats-Required-Api-Level": ["0", "99"],
    }
    pubs = []
    for _ in range(n):
        headers = {}
        for key in rnd.sample(sorted(palette), rnd.choice([0, 0, 1, 1, 2, 3])):
            values = palette[key]
            headers[key] = values() if callable(values) else rnd.choice(values)
        pubs.append(Pub(rnd.choice(["s.a", "s.b", "s.c"]), b"x" * rnd.choice([0, 5, 60]), headers or None))
    return pubs


@pytest.mark.parametrize("seed,config", [
    (1, cfg(allow_rollup_hdrs=True)),
    (2, cfg(max_msgs=10, discard="new", max_msg_size=40)),
    (3, cfg(allow_rollup_hdrs=True, max_msgs_per_subject=2, discard="new", discard_new_per_subject=True,
            storage="memory")),
    (4, cfg(max_bytes=600, max_msgs_per_subject=3)),
])
async def test_random_publishes_match_nats_server(seed, config, nats_server, tmp_path):
    steps = random_publishes(seed, 120)
    want = await run_nats_server(nats_server.url, config, steps)
    got = await run_natsx(config, steps, tmp_path / "S")
    assert got == want
