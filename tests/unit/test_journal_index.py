"""The journal's compact digest index behaves exactly like a plain dict."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from talkstack_async.campaigns.ledgers._journal_index import DigestIndex

# Few distinct digests, many with the same first half: collisions and long probe chains.
_digest = st.builds(
    lambda hi, lo: hi.to_bytes(8, "big") + lo.to_bytes(8, "big"),
    st.sampled_from([0, 1, 2**63, 2**64 - 1, 64, 128]),
    st.integers(0, 40),
)
_op = st.tuples(st.sampled_from(["set", "discard", "get", "add"]), _digest, st.integers(0, 2**62))


@settings(max_examples=300, deadline=None)
@given(st.lists(_op, max_size=400))
def test_the_index_agrees_with_a_dict(ops: list[tuple[str, bytes, int]]) -> None:
    index, plain = DigestIndex(), {}
    for op, digest, value in ops:
        if op == "set":
            index.set(digest, value)
            plain[digest] = value
        elif op == "discard":
            index.discard(digest)
            plain.pop(digest, None)
        elif op == "add":  # test-and-set: as a set's membership then add
            assert index.add(digest) == (digest not in plain)
            plain.setdefault(digest, 0)
        assert index.get(digest) == plain.get(digest)
        assert (digest in index) == (digest in plain)
    assert len(index) == len(plain)
    assert dict(index.items()) == plain


def test_a_hundred_thousand_entries_stay_small_and_exact() -> None:
    import hashlib

    index = DigestIndex()
    digests = [hashlib.blake2b(str(n).encode(), digest_size=16).digest() for n in range(100_000)]
    for n, digest in enumerate(digests):
        index.set(digest, n)
    for n in range(0, 100_000, 2):
        index.discard(digests[n])
    assert len(index) == 50_000
    assert all(index.get(d) == n for n, d in enumerate(digests) if n % 2)
    assert all(d not in index for d in digests[::2])
    assert index._values.itemsize * len(index._values) * 3 <= 100_000 * 72
