"""The sequence-set kernel (natsx/_core/seqset) against a Python set."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from natsx._core.seqset import SeqSet

seqs = st.integers(min_value=0, max_value=60)
ops = st.lists(st.one_of(
    st.tuples(st.just("add"), seqs),
    st.tuples(st.just("range"), seqs, st.integers(min_value=0, max_value=8)),
    st.tuples(st.just("remove"), seqs),
    st.tuples(st.just("below"), seqs),
), max_size=80)


def check(s: SeqSet, model: set[int]) -> None:
    assert list(s) == sorted(model)
    assert len(s) == len(model)
    assert s.min() == (min(model) if model else 0)
    assert s.max() == (max(model) if model else 0)
    runs = s.ranges()
    # runs are sorted, disjoint and never adjacent (adjacent runs are merged)
    assert all(a <= b for a, b in runs)
    assert all(runs[i][1] + 1 < runs[i + 1][0] for i in range(len(runs) - 1))
    for q in range(-1, 63):
        assert (q in s) == (q in model)
    assert SeqSet.decode(s.encode()) == s


@settings(max_examples=400, deadline=None)
@given(ops)
def test_matches_a_python_set(operations):
    s, model = SeqSet(), set()
    for op in operations:
        if op[0] == "add":
            assert s.insert(op[1]) == (op[1] not in model)
            model.add(op[1])
        elif op[0] == "range":
            new = set(range(op[1], op[1] + op[2] + 1))
            assert s.insert_range(op[1], op[1] + op[2]) == bool(new - model)
            model |= new
        elif op[0] == "remove":
            assert s.remove(op[1]) == (op[1] in model)
            model.discard(op[1])
        else:
            s.remove_below(op[1])
            model = {q for q in model if q >= op[1]}
        check(s, model)


def test_extremes_and_long_runs():
    top = 2**64 - 1
    s = SeqSet()
    s.insert_range(top - 2, top)
    s.insert(0)
    assert s.ranges() == [(0, 0), (top - 2, top)] and len(s) == 4
    s.insert_range(1, 10**12)   # one run, however long
    assert s.ranges() == [(0, 10**12), (top - 2, top)] and len(s) == 10**12 + 4
    s.remove(5)
    assert s.ranges() == [(0, 4), (6, 10**12), (top - 2, top)]


def test_decode_refuses_what_encode_cannot_write():
    good = SeqSet([1, 2, 3, 7]).encode()
    assert SeqSet.decode(good).ranges() == [(1, 3), (7, 7)]
    with pytest.raises(ValueError):
        SeqSet.decode(good[:-1])
    with pytest.raises(ValueError):
        SeqSet.decode(b"XXXX" + good[4:])
    overlapping = SeqSet([1, 2, 3, 7]).encode()[:16] + (5).to_bytes(8, "little") * 2 + \
        (3).to_bytes(8, "little") * 2
    with pytest.raises(ValueError):
        SeqSet.decode(overlapping)
