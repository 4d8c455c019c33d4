"""Hypothesis strategies for values and keys cyberdb stores (shared by the compat tests)."""

from __future__ import annotations

from hypothesis import strategies as st

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
    st.text(), st.binary(),
)
hashables = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(), st.binary()),
    lambda inner: st.one_of(st.tuples(inner, inner), st.frozensets(inner, max_size=3)),
    max_leaves=6,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=4), inner, max_size=3),
        st.dictionaries(hashables, inner, max_size=3),
        st.sets(hashables, max_size=3),
    ),
    max_leaves=12,
)
# Few distinct small keys, so sequences hit existing keys often.
small_keys = st.one_of(st.sampled_from(["a", "b", "", "é", "\x00x"]), st.integers(-2, 2), st.booleans(),
                       st.sampled_from([(1, 2), (), 1.0, 2.5, b"a"]))
