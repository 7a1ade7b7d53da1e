"""Sublist (natsx/_core/sublist.pyx) against a plain reference matcher, plus validity rules and stats."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from natsx._core.sublist import (
    CallbackSubscriber,
    Sublist,
    Subscriber,
    Subscription,
    is_literal,
    is_valid_literal_subject,
    is_valid_publish_subject,
    is_valid_subject,
    subject_matches,
)


# -- reference model -----------------------------------------------------------------------------

def ref_matches(pattern: bytes, literal: bytes) -> bool:
    """Token-by-token NATS matching, written independently of the kernel."""
    pt = pattern.split(b".")
    lt = literal.split(b".")
    for i, p in enumerate(pt):
        if p == b">":
            return len(lt) > i
        if i >= len(lt):
            return False
        if p != b"*" and p != lt[i]:
            return False
    return len(pt) == len(lt)


def as_sets(result):
    """(set of plain subs, {queue: set of subs}); each queue group must be a single list."""
    psubs = set(result.psubs)
    assert len(psubs) == len(result.psubs), "duplicate plain sub in result"
    groups = {}
    for group in result.qsubs:
        assert group, "empty queue group in result"
        queue = group[0].queue
        assert queue is not None
        assert all(s.queue == queue for s in group)
        assert queue not in groups, "queue group split across lists"
        assert len(set(group)) == len(group)
        groups[queue] = set(group)
    return psubs, groups


def ref_result(subs, literal):
    psubs, groups = set(), {}
    for s in subs:
        if ref_matches(s.subject, literal):
            if s.queue is None:
                psubs.add(s)
            else:
                groups.setdefault(s.queue, set()).add(s)
    return psubs, groups


# -- strategies ----------------------------------------------------------------------------------

TOKENS = [b"a", b"b", b"c", b"foo", b"bar"]
literal_token = st.sampled_from(TOKENS)
pattern_token = st.sampled_from(TOKENS + [b"*", b"*"])


@st.composite
def sub_subjects(draw):
    toks = draw(st.lists(pattern_token, min_size=1, max_size=4))
    if draw(st.integers(0, 3)) == 0:
        if len(toks) < 4:
            toks.append(b">")
        else:
            toks[-1] = b">"
    return b".".join(toks)


literal_subjects = st.lists(literal_token, min_size=1, max_size=5).map(b".".join)
queues = st.sampled_from([None, None, b"q1", b"q2"])

# An operation: ("ins", subject, queue) | ("del", index into the live subs) | ("match", subject)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("ins"), sub_subjects(), queues),
        st.tuples(st.just("del"), st.integers(0, 1000)),
        st.tuples(st.just("match"), literal_subjects),
    ),
    min_size=1,
    max_size=60,
)

PROBES = [b".".join(t) for t in
          [(a,) for a in TOKENS]
          + [(a, b) for a in TOKENS[:3] for b in TOKENS[:3]]
          + [(b"a", b"b", b"c"), (b"foo", b"bar", b"a", b"b"), (b"a", b"a", b"a", b"a", b"a")]]


def check_all(sl, live, subjects):
    for subj in subjects:
        assert as_sets(sl.match(subj)) == ref_result(live, subj), subj


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_random_ops_agree_with_reference(operations):
    sl = Sublist()
    live = []
    sid = 0
    for op in operations:
        if op[0] == "ins":
            sid += 1
            sub = Subscription(op[1], str(sid).encode(), None, op[2])
            genid = sl.genid
            sl.insert(sub)
            assert sl.genid > genid
            live.append(sub)
        elif op[0] == "del":
            if live:
                sub = live.pop(op[1] % len(live))
                genid = sl.genid
                assert sl.remove(sub) is True
                assert sl.genid > genid
                assert sl.remove(sub) is False
        else:
            # Match twice: cold then from the cache; both must agree with the reference.
            first = sl.match(op[1])
            assert as_sets(first) == ref_result(live, op[1])
            assert sl.match(op[1]) is first
        assert len(sl) == sl.count == len(live)
    check_all(sl, live, PROBES)
    # Warm cache, then mutate everything away and check again.
    while live:
        sl.remove(live.pop())
        check_all(sl, live, PROBES[::5])
    assert sl.num_levels() == 0, "trie not pruned"
    assert sl.all_subscriptions() == []


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(sub_subjects(), queues), min_size=1, max_size=30),
       st.lists(literal_subjects, min_size=1, max_size=10))
def test_warm_cache_then_insert_and_remove(subs, probes):
    sl = Sublist()
    live = [Subscription(s, b"%d" % i, None, q) for i, (s, q) in enumerate(subs)]
    half = len(live) // 2
    for s in live[:half]:
        sl.insert(s)
    check_all(sl, live[:half], probes)            # warm the cache
    old = {p: sl.match(p) for p in probes}
    old_sets = {p: as_sets(r) for p, r in old.items()}
    for s in live[half:]:
        sl.insert(s)
    check_all(sl, live, probes)
    for s in live[:half]:
        assert sl.remove(s)
    check_all(sl, live[half:], probes)
    # Results handed out earlier were not mutated by later inserts/removes.
    assert {p: as_sets(r) for p, r in old.items()} == old_sets


@settings(max_examples=200, deadline=None)
@given(sub_subjects(), literal_subjects)
def test_subject_matches_agrees_with_reference(pattern, literal):
    assert subject_matches(literal, pattern) == ref_matches(pattern, literal)


# -- unit tests ----------------------------------------------------------------------------------

def test_basic_match_and_queue_grouping():
    sl = Sublist()
    a = Subscription(b"foo.bar", b"1")
    b = Subscription(b"foo.*", b"2")
    c = Subscription(b">", b"3")
    d = Subscription(b"foo.>", b"4")
    q1 = Subscription(b"foo.bar", b"5", queue=b"q")
    q2 = Subscription(b"foo.*", b"6", queue=b"q")
    q3 = Subscription(b"*.bar", b"7", queue=b"r")
    for s in (a, b, c, d, q1, q2, q3):
        sl.insert(s)
    psubs, groups = as_sets(sl.match(b"foo.bar"))
    assert psubs == {a, b, c, d}
    assert groups == {b"q": {q1, q2}, b"r": {q3}}
    assert as_sets(sl.match(b"foo")) == ({c}, {})
    assert as_sets(sl.match(b"foo.bar.baz")) == ({c, d}, {})
    assert as_sets(sl.match(b"bar.bar")) == ({c}, {b"r": {q3}})


def test_empty_tokens_match_nothing_and_are_not_cached():
    sl = Sublist()
    sl.insert(Subscription(b">", b"1"))
    for bad in (b"", b"foo..bar", b".foo", b"foo."):
        assert len(sl.match(bad)) == 0
    assert sl.num_cache == 0


# What nats-server's Sublist.Insert rejects (the client sees -ERR 'Invalid Subject').
NOT_INSERTABLE = [b"", b".", b"foo..bar", b".foo", b"foo.", b"foo.>.bar", b">.foo", b">.>", b"a.>.*"]
# Accepted by Insert although IsValidSubject would say no (whitespace is not Insert's concern).
INSERTABLE_ODD = [b"foo\x0cbar", b"a.\x0b", b"foo*", b"*foo.>bar", b"\xff.x", b"a\x00b"]


def test_insert_rejects_invalid_subjects():
    sl = Sublist()
    for bad in NOT_INSERTABLE:
        with pytest.raises(ValueError, match="Invalid Subject"):
            sl.insert(Subscription(bad, b"1"))
        assert sl.remove(Subscription(bad, b"1")) is False
    assert len(sl) == 0 and sl.inserts == 0 and sl.genid == 0
    for i, odd in enumerate(INSERTABLE_ODD):
        sub = Subscription(odd, b"%d" % i)
        sl.insert(sub)
        assert sub in sl.match(odd).psubs
    assert len(sl) == len(INSERTABLE_ODD)


def test_insert_rules_match_nats_server(ref_factory):
    """Differential: SUB on the real nats-server errors exactly where Sublist.insert raises."""
    from conftest import raw_connect

    srv = ref_factory()
    c = raw_connect(srv, {"verbose": False, "pedantic": False})
    try:
        for i, subject in enumerate(NOT_INSERTABLE[1:] + INSERTABLE_ODD):   # b"" is not a SUB line
            reply = c.transact(b"SUB " + subject + b" %d\r\n" % i)
            try:
                Sublist().insert(Subscription(subject, b"1"))
                ours = b""
            except ValueError as e:
                ours = b"-ERR '" + str(e).encode() + b"'\r\n"
            assert reply == ours, subject
    finally:
        c.close()


def test_insert_is_idempotent_and_remove_unknown():
    sl = Sublist()
    s = Subscription(b"foo", b"1")
    sl.insert(s)
    genid = sl.genid
    sl.insert(s)
    assert len(sl) == 1 and sl.genid == genid
    assert sl.remove(Subscription(b"foo", b"1")) is False     # equal-looking but a different sub
    assert sl.remove(Subscription(b"foo.bar", b"1")) is False
    assert sl.remove(Subscription(b"foo", b"2", queue=b"q")) is False
    assert sl.genid == genid
    assert sl.remove(s) is True and len(sl) == 0


def test_result_returned_is_not_mutated_by_changes():
    sl = Sublist()
    a, b = Subscription(b"foo", b"1"), Subscription(b"*", b"2")
    sl.insert(a)
    r1 = sl.match(b"foo")
    sl.insert(b)
    r2 = sl.match(b"foo")
    assert r1.psubs == [a]
    assert set(r2.psubs) == {a, b}
    sl.remove(a)
    assert r2.psubs.count(a) == 1
    assert sl.match(b"foo").psubs == [b]


def test_cache_is_bounded():
    sl = Sublist()
    sl.insert(Subscription(b">", b"1"))
    for i in range(1025):
        sl.match(b"s.%d" % i)
    assert sl.num_cache == 256
    for i in range(1000):
        sl.match(b"t.%d" % i)
    assert 256 <= sl.num_cache <= 1024
    sl.clear_cache()
    assert sl.num_cache == 0


def test_remove_batch():
    sl = Sublist()
    subs = [Subscription(b"foo.%d" % i, b"%d" % i) for i in range(10)] + [Subscription(b"foo.*", b"x")]
    for s in subs:
        sl.insert(s)
    assert len(sl.match(b"foo.1")) == 2
    stranger = Subscription(b"foo.1", b"y")
    assert sl.remove_batch(subs[:5] + [stranger]) == 5
    assert len(sl) == 6
    assert sl.match(b"foo.1").psubs == [subs[-1]]
    assert set(sl.match(b"foo.7").psubs) == {subs[7], subs[-1]}


def test_stats_field_names_and_values():
    sl = Sublist()
    st0 = sl.stats()
    assert st0 == {"num_subscriptions": 0, "num_cache": 0, "num_inserts": 0, "num_removes": 0,
                   "num_matches": 0, "cache_hit_rate": 0.0, "max_fanout": 0, "avg_fanout": 0.0}
    subs = [Subscription(b"foo", b"1"), Subscription(b"*", b"2"), Subscription(b"bar", b"3"),
            Subscription(b"foo", b"4", queue=b"q"), Subscription(b"foo", b"5", queue=b"q")]
    for s in subs:
        sl.insert(s)
    sl.remove(subs[2])
    sl.match(b"foo")      # miss: fanout 2 psubs + 1 queue group = 3
    sl.match(b"foo")      # hit
    sl.match(b"baz")      # miss: fanout 1
    sl.match(b"foo")      # hit
    st = sl.stats()
    assert st["num_subscriptions"] == 4
    assert st["num_inserts"] == 5 and st["num_removes"] == 1
    assert st["num_matches"] == 4
    assert st["cache_hit_rate"] == pytest.approx(0.5)
    assert st["num_cache"] == sl.num_cache == 2
    assert st["max_fanout"] == 3
    assert st["avg_fanout"] == pytest.approx(2.0)
    assert sl.matches == 4 and sl.cache_hits == 2


def test_all_subscriptions():
    sl = Sublist()
    subs = [Subscription(b"a", b"1"), Subscription(b"a.*", b"2"), Subscription(b"a.>", b"3", queue=b"q"),
            Subscription(b"b.c.d", b"4"), Subscription(b"*.>", b"5")]
    for s in subs:
        sl.insert(s)
    assert set(sl.all_subscriptions()) == set(subs)
    assert len(sl.all_subscriptions()) == len(subs)
    assert sl.num_levels() == 3


def test_subscription_fields():
    owner = Subscriber()
    s = Subscription(b"foo", b"7", owner, b"", 5)
    assert s.queue is None and s.sid == b"7" and s.owner is owner and s.max_msgs == 5
    assert s.delivered == 0 and s.closed is False
    s.delivered += 1
    s.closed = True
    assert Subscription(b"foo", b"7", queue=b"g").queue == b"g"
    assert Subscription(b"foo", b"7").owner is None


def test_subscriber_base_deliver_raises_and_callback_subscriber():
    base = Subscriber()
    sub = Subscription(b"foo", b"1", base)
    with pytest.raises(NotImplementedError):
        base.deliver_py(sub, b"foo", None, None, b"x")
    assert base.closed is False
    base.closed = True
    assert base.closed is True

    got = []
    cb = CallbackSubscriber(lambda *a: got.append(a))
    sub2 = Subscription(b"foo", b"2", cb)
    cb.deliver_py(sub2, b"foo", b"_INBOX.1", None, b"hello")
    cb.deliver_py(sub2, b"foo", None, b"NATS/1.0\r\n\r\n", b"")
    assert got == [(sub2, b"foo", b"_INBOX.1", None, b"hello"),
                   (sub2, b"foo", None, b"NATS/1.0\r\n\r\n", b"")]


# -- validity (nats-server IsValidSubject / IsValidPublishSubject / IsValidLiteralSubject) -------

VALID = [b"foo", b"foo.bar", b"*", b">", b"foo.*", b"foo.>", b"*.*.>", b"foo*", b"foo.b*r", b"foo>",
         b">bar", b"a.*.c", b"\xc3\xa9t\xc3\xa9", b"$JS.API.>", b"_INBOX.abc"]
INVALID = [b"", b".", b"..", b"foo.", b".foo", b"foo..bar", b"foo.>.bar", b">.>", b"foo bar", b" ",
           b"foo\t", b"\n", b"a.\r", b"a\fb", b"> "]


@pytest.mark.parametrize("subject", VALID)
def test_valid_subjects(subject):
    assert is_valid_subject(subject)


@pytest.mark.parametrize("subject", INVALID)
def test_invalid_subjects(subject):
    assert not is_valid_subject(subject)
    assert not is_valid_publish_subject(subject)


def test_publish_and_literal_rules():
    assert is_valid_publish_subject(b"foo.bar")
    assert is_valid_publish_subject(b"foo*.>bar")        # wildcards inside tokens are plain chars
    for s in (b"*", b">", b"foo.*", b"foo.>", b"*.bar"):
        assert not is_valid_publish_subject(s)
        assert not is_valid_subject(s, wildcards_ok=False)
        assert not is_literal(s)
        assert not is_valid_literal_subject(s)
    assert is_literal(b"foo*") and is_literal(b"a.b>")
    # IsValidLiteralSubject only checks tokens, not whitespace (as in nats-server).
    assert is_valid_literal_subject(b"foo bar")
    assert not is_valid_literal_subject(b"") and not is_valid_literal_subject(b"a..b")
    assert is_valid_subject("foo.bar")                   # str accepted


def test_check_runes():
    assert is_valid_subject(b"foo\x00bar")
    assert not is_valid_subject(b"foo\x00bar", check_runes=True)
    assert not is_valid_subject(b"foo\xffbar", check_runes=True)
    assert not is_valid_subject("foo\ufffd", check_runes=True)
    assert is_valid_subject("f\u00f6\u00f6.*", check_runes=True)


def test_literal_rule_and_matching_agree_with_nats_server(ref_factory):
    """Differential: pedantic PUB errors where is_valid_literal_subject says no, and the set of
    SIDs nats-server delivers a publish to equals the plain subs Sublist.match returns."""
    from conftest import frames, raw_connect

    srv = ref_factory()
    c = raw_connect(srv, {"verbose": False, "pedantic": True})
    try:
        for subject in [b"foo.*", b"foo.>", b">", b"*", b"foo..bar", b"foo\x0cbar", b"foo*", b"a.b>"]:
            reply = c.transact(b"PUB " + subject + b" 0\r\n\r\n")
            assert (b"Invalid Publish Subject" in reply) == (not is_valid_literal_subject(subject)), subject

        patterns = [b"a", b"a.b", b"a.*", b"a.>", b"*.b", b"*.*", b">", b"*", b"a.b.c", b"a.*.c", b"*.b.>",
                    b"b.>", b"a.b.*", b"*.*.*"]
        sl = Sublist()
        c2 = raw_connect(srv, {"verbose": False, "pedantic": False})
        for i, p in enumerate(patterns):
            sl.insert(Subscription(p, b"%d" % i))
            c2.send(b"SUB " + p + b" %d\r\n" % i)
        c2.sync()
        for subject in [b"a", b"b", b"a.b", b"b.b", b"a.c", b"a.b.c", b"b.b.c", b"a.x.c", b"a.b.c.d", b"c.d.e.f"]:
            c.send(b"PUB " + subject + b" 0\r\n\r\n")
            c.sync()
            got = {f.split(b" ")[2] for f in frames(c2.sync()) if f.startswith(b"MSG ")}
            assert got == {s.sid for s in sl.match(subject).psubs}, subject
        c2.close()
    finally:
        c.close()
