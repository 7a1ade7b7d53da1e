"""The one subject kernel (natsx/_core/subject): one argument order, one empty filter, and the sublist
and the store agree with it."""
from hypothesis import given, settings
from hypothesis import strategies as st

from natsx._core import sublist
from natsx._core.subject import is_literal, subject_matches
from natsx.store import MemStore, SubjectFilter
from test_sublist import ref_matches as token_reference

tokens = st.sampled_from([b"a", b"b", b"foo", b"*", b">", b""])
subjects = st.lists(tokens, min_size=1, max_size=5).map(b".".join)


def ref_matches(subject: bytes, flt: bytes) -> bool:
    """The sublist tests' token-by-token reference, plus the empty filter and subject."""
    if flt == b"":
        return True
    if subject == b"":
        return False
    return token_reference(flt, subject)


@settings(max_examples=400, deadline=None)
@given(subjects, subjects)
def test_matches_reference_model(subject, flt):
    assert subject_matches(subject, flt) == ref_matches(subject, flt)


def test_argument_order_is_subject_then_filter():
    assert subject_matches(b"foo.bar", b"foo.*")
    assert not subject_matches(b"foo.*", b"foo.bar")
    assert subject_matches("foo.bar", ">")          # str works as well as bytes
    assert sublist.subject_matches is subject_matches   # the sublist re-exports the kernel's


def test_empty_filter_matches_everything_and_empty_subject_nothing_else():
    # nats-server treats an empty filter_subject as "all subjects"; so do the store and the kernel.
    assert subject_matches(b"foo", b"") and subject_matches(b"a.b.c", b"")
    assert not subject_matches(b"", b">") and not subject_matches(b"", b"*")
    s = MemStore()
    s.append(b"a.b", b"x")
    s.append(b"c", b"y")
    assert s.num_pending(b"", 0) == s.num_pending(SubjectFilter(b""), 0) == 2
    assert s.load_next(b"", 2).data == b"y" and s.load_last(b"").data == b"y"


def test_literal_test():
    assert is_literal(b"foo.bar") and is_literal(b"foo*.b>") and is_literal(b"")
    assert not is_literal(b"foo.*") and not is_literal(b">") and not is_literal(b"a.>")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"b.c", b"b.d", b"e.f.g"]), min_size=1, max_size=20),
       st.sampled_from([b"", b">", b"a", b"b.*", b"*.*", b"b.>", b"*", b"e.*.g", b"zz"]))
def test_store_filters_use_the_same_matcher(subjs, flt):
    s = MemStore()
    for subj in subjs:
        s.append(subj, b"x")
    want = {subj for subj in subjs if subject_matches(subj, flt)}
    assert set(s.subjects_state(flt)) == want
    assert s.num_pending(flt, 0) == sum(1 for subj in subjs if subj in want)
