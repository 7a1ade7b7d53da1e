"""The stream API differentially: the same $JS.API requests (and publishes) to nats-server and
natsx, every answer validated against the shared schemas and compared after normalising times,
server ids, version and API level (tests/jetstream/jsdiff.py)."""
from __future__ import annotations

import pytest

from jetstream.jsdiff import PUB, ServerPair, compare

API = "$JS.API."


@pytest.fixture
def pair(tmp_path):
    p = ServerPair(tmp_path)
    yield p
    p.close()


def create(name: str, **cfg) -> tuple[str, dict]:
    return f"{API}STREAM.CREATE.{name}", {"name": name, **cfg}


def update(name: str, **cfg) -> tuple[str, dict]:
    return f"{API}STREAM.UPDATE.{name}", {"name": name, **cfg}


LIFECYCLE = [
    (f"{API}INFO", b""),
    create("S", subjects=["foo.>"]),
    create("S", subjects=["foo.>"]),                 # identical: the same stream again
    create("S", subjects=["bar"]),                   # 10058
    create("T", subjects=["foo.x"]),                 # 10065 overlap
    (f"{API}STREAM.CREATE.X", {"name": "Y"}),        # 10056
    (f"{API}STREAM.CREATE.M", b""),                  # empty body: 10056
    (f"{API}STREAM.CREATE.M", b"garbage"),           # 10025
    (f"{API}STREAM.INFO.S", b""),
    (f"{API}STREAM.INFO.NOPE", b""),
    (f"{API}STREAM.NAMES", b""),
    (f"{API}STREAM.LIST", b""),
    (f"{API}STREAM.PURGE.S", b""),
    (f"{API}STREAM.PURGE.NOPE", b""),
    (f"{API}STREAM.LEADER.STEPDOWN.S", b""),
    (f"{API}STREAM.PEER.REMOVE.S", {"peer": "x"}),
    (f"{API}FOO", b""),                              # unknown subjects: no answer at all
    (f"{API}STREAM.FOO.S", b""),
    (f"{API}CONSUMER.INFO.S.C", b""),
    (f"{API}CONSUMER.INFO.NOPE.C", b""),
    (f"{API}CONSUMER.DELETE.S.C", b""),
    (f"{API}CONSUMER.NAMES.S", b""),
    (f"{API}CONSUMER.LIST.S", b""),
    (f"{API}CONSUMER.NAMES.NOPE", b""),
    (f"{API}STREAM.DELETE.S", b""),
    (f"{API}STREAM.DELETE.S", b""),
    (f"{API}INFO", b""),
]

INVALID_CONFIGS = [
    create("a.b"), create("a*"), create("x" * 256),
    create("R3", num_replicas=3), create("RN", num_replicas=-1), create("R6", num_replicas=6),
    create("AGE", max_age=-1), create("AGE", max_age=50_000_000),
    create("DW", max_age=1_000_000_000, duplicate_window=2_000_000_000),
    create("DW", duplicate_window=50_000_000), create("DW", duplicate_window=-5),
    create("RU", deny_purge=True, allow_rollup_hdrs=True),
    create("DN", discard_new_per_subject=True),
    create("DN", discard="new", discard_new_per_subject=True),
    create("SUB", subjects=["a..b"]), create("SUB", subjects=["a", "a"]),
    create("SUB", subjects=[">"]), create("SUB", subjects=["$JS.API.>"]),
    create("SUB", subjects=["$SYS.>"]), create("SUB", subjects=["a.*", "a.b"]),
    create("SEAL", sealed=True), create("MD", mirror_direct=True),
    create("MI", mirror={"name": "ORIGIN"}, subjects=["x"]),
    create("MI", mirror={"name": "ORIGIN"}, first_seq=5),
    create("MI", mirror={"name": "ORIGIN"}, sources=[{"name": "O2"}]),
    create("MI", mirror={"name": "a.b"}),
    create("SO", sources=[{"name": "O"}, {"name": "O"}]),
    create("SO", sources=[{"name": "a b"}]),
    create("EN", retention="forever"), create("EN", storage="disk"), create("EN", discard="oldest"),
    create("EN", compression="lz4"),
    create("TY", max_msgs="10"), create("TY", subjects="x"), create("TY", no_ack=1),
    create("TY", max_msg_size=1 << 40),
    create("UF", bogus=True),
    create("PL", placement={"preferred": "srv"}),
    (f"{API}STREAM.CREATE.PD", {"name": "PD", "max_msgs": -5, "pedantic": True}),
    (f"{API}STREAM.CREATE.PD", {"name": "PD", "max_age": 1_000_000_000, "pedantic": True}),
    (f"{API}STREAM.CREATE.PD", {"name": "PD", "pedantic": "yes"}),
]

VALID_CONFIGS = [
    create("DEF"),                                           # subjects default to the name
    create("ALL", subjects=["everything.>"], retention="interest", max_consumers=5, max_msgs=10,
           max_bytes=1 << 20, max_age=60_000_000_000, max_msgs_per_subject=3, max_msg_size=1024,
           discard="new", discard_new_per_subject=True, storage="memory", num_replicas=1, no_ack=True,
           duplicate_window=30_000_000_000, description="all the fields", allow_direct=True,
           deny_delete=True, compression="none", metadata={"owner": "team"}),
    create("WQ", subjects=["wq"], retention="workqueue"),
    create("AGE", subjects=["age"], max_age=10_000_000_000),  # duplicate_window follows max_age
    create("S2", subjects=["s2"], compression="s2"),
    create("MS2", subjects=["ms2"], compression="s2", storage="memory"),
    create("NEG", subjects=["neg"], max_msgs=-5, max_bytes=-2),
    (f"{API}STREAM.CREATE.PED", {"name": "PED", "max_age": 1_000_000_000, "duplicate_window": 500_000_000,
                                 "pedantic": True}),
    create("FS", subjects=["fs"], first_seq=100),
    create("PLC", subjects=["plc"], placement={}),
    create("RU", subjects=["ru"], allow_rollup_hdrs=True, discard="NEW"),
    create("NA", subjects=["na.>"], no_ack=True),
    create("EV", subjects=["$JS.EVENT.QUIET.>"]),
    create("MIR", mirror={"name": "ALL"}),
    create("SRC", sources=[{"name": "ALL", "filter_subject": "everything.a"}, {"name": "WQ"}]),
    (f"{API}STREAM.LIST", b""),
    (f"{API}STREAM.INFO.MIR", b""),
    (f"{API}INFO", b""),
]

UPDATES = [
    create("U", subjects=["u.>"], deny_delete=True, deny_purge=True),
    create("OTHER", subjects=["other"]),
    update("U", subjects=["u.>"], storage="memory"),
    update("U", subjects=["u.>"], retention="workqueue"),
    update("U", subjects=["u.>"]),                           # cancels deny_delete
    update("U", subjects=["u.>"], deny_delete=True),         # cancels deny_purge
    update("U", subjects=["other"], deny_delete=True, deny_purge=True),   # 10065
    update("U", subjects=["u.>", "v"], deny_delete=True, deny_purge=True, max_msgs=5,
           description="changed", retention="interest"),
    (f"{API}STREAM.UPDATE.X", {"name": "U"}),
    update("NOPE", subjects=["n"]),
    update("U", subjects=["u.>"], deny_delete=True, deny_purge=True, num_replicas=3),
    update("U", subjects=["u.>"], deny_delete=True, deny_purge=True, sealed=True),
    update("U", subjects=["u.>"], deny_delete=True, deny_purge=True),       # unseal: refused
    (f"{API}STREAM.PURGE.U", b""),                                           # sealed
    create("M", mirror={"name": "OTHER"}),
    update("M", mirror={"name": "U"}),
    update("M"),                                                            # promote the mirror
    (f"{API}STREAM.INFO.U", b""),
    create("E", subjects=["e"], metadata={"_nats.ver": "9", "_nats.level": "9", "_nats.req.level": "7",
                                          "k": "v"}),                       # dynamic keys dropped
    update("E", subjects=["e"], metadata={"k": "w"}),
]

# Updates that the publish path must see at once (the ingest subscriber is reconfigured).
LIVE_UPDATES = [
    create("L", subjects=["l.*"]),
    *[(f"{PUB}l.{i % 2}", b"x" * 10) for i in range(6)],
    update("L", subjects=["l.*"], max_msgs=3),                              # drops the oldest
    update("L", subjects=["l.*"], max_msgs=3, max_msg_size=5),
    (f"{PUB}l.0", b"y" * 10),                                               # too large now
    update("L", subjects=["l.*"], max_msgs=3, max_msg_size=5, discard="new"),
    (f"{PUB}l.0", b"z"),                                                    # full, discard new
    update("L", subjects=["l.*", "m"], max_msgs=10),
    (f"{PUB}m", b"m"),                                                      # a new subject captured
    update("L", subjects=["m"], max_msgs=10),
    (f"{PUB}l.1", b"gone"),                                                 # no longer captured
    update("L", subjects=["m"], max_msgs=10, no_ack=True),
    update("L", subjects=["m"], max_msgs=10, sealed=True),
    (f"{PUB}m", b"sealed"),
    (f"{API}STREAM.INFO.L", {"subjects_filter": ">"}),
]

PURGES = [
    create("P", subjects=["p.*"]),
    *[(f"{PUB}p.{'abc'[i % 3]}", b"x" * i) for i in range(12)],
    (f"{API}STREAM.INFO.P", {"subjects_filter": ">"}),
    (f"{API}STREAM.INFO.P", {"subjects_filter": "p.a"}),
    (f"{API}STREAM.PURGE.P", {"filter": "p.a", "keep": 2}),
    (f"{API}STREAM.PURGE.P", {"seq": 5}),
    (f"{API}STREAM.PURGE.P", {"seq": 5, "keep": 1}),
    (f"{API}STREAM.PURGE.P", {"filter": "p.b"}),
    (f"{API}STREAM.INFO.P", {"deleted_details": True}),
    (f"{API}STREAM.PURGE.P", {"filter": "p.c", "seq": 11}),
    (f"{API}STREAM.INFO.P", {"deleted_details": True, "subjects_filter": "p.*"}),
    (f"{API}STREAM.PURGE.P", b"not json"),
    (f"{API}STREAM.PURGE.P", b""),
    (f"{API}STREAM.INFO.P", b""),
    create("DP", subjects=["dp"], deny_purge=True),
    (f"{API}STREAM.PURGE.DP", b""),
    (f"{API}INFO", b""),
]

PAGING = [
    *[create(f"N{i}", subjects=[f"n{i}.>"]) for i in range(5)],
    (f"{API}STREAM.NAMES", {"offset": 2}),
    (f"{API}STREAM.NAMES", {"subject": "n3.x"}),
    (f"{API}STREAM.NAMES", {"subject": "n3.*"}),
    (f"{API}STREAM.NAMES", {"subject": "nothing"}),
    (f"{API}STREAM.LIST", {"offset": 4}),
    (f"{API}STREAM.LIST", {"subject": "n1.>"}),
    (f"{API}STREAM.NAMES", {"offset": 10}),
    (f"{API}STREAM.NAMES", {"offset": -1}),
    (f"{API}STREAM.NAMES", b"[1]"),
]


@pytest.mark.parametrize("scenario", ["LIFECYCLE", "INVALID_CONFIGS", "VALID_CONFIGS", "UPDATES",
                                      "LIVE_UPDATES", "PURGES", "PAGING"])
async def test_stream_api_matches_nats_server(pair, scenario):
    ref, cand = pair.start()
    await compare(ref, cand, globals()[scenario])


LIMITED = """
jetstream {
  store_dir: "<store>"
  max_memory_store: 1MB
  max_file_store: 10MB
}
"""

LIMITS = [
    (f"{API}INFO", b""),
    create("BIG", storage="memory", max_bytes=2 << 20),      # 10028
    create("HALF", storage="memory", max_bytes=600 << 10),
    create("HALF2", storage="memory", max_bytes=600 << 10),  # the reservation would exceed
    create("F", max_bytes=20 << 20),                         # 10047
    create("F", max_bytes=5 << 20),
    update("F", max_bytes=11 << 20),
    update("F", max_bytes=6 << 20),
    (f"{API}INFO", b""),
]


async def test_server_limits_match_nats_server(pair):
    ref, cand = pair.start(config=LIMITED)
    await compare(ref, cand, LIMITS)
