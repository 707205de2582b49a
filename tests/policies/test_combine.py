"""Per-statement inheritance and cross-mechanism combination (docs/purposes.md) as truth tables."""

from __future__ import annotations

import itertools

import pytest

from consentry.policies.combine import combine, resolve
from consentry.policies.model import Signal
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Verdict

A, D, U = Verdict.ALLOW, Verdict.DENY, Verdict.UNKNOWN
P = Purpose


def _signal(statement: dict[Purpose, Verdict], *, hierarchical: bool = False, counted: bool = True,
            mechanism: Mechanism = Mechanism.X_ROBOTS_TAG) -> Signal:
    return Signal(mechanism, Scope.RESPONSE, "https://ex.com/a", "test", statement,
                  hierarchical=hierarchical, counted=counted)


@pytest.mark.parametrize(("first", "second", "expected"), [
    (A, A, A), (A, D, D), (A, U, A),
    (D, A, D), (D, D, D), (D, U, D),
    (U, A, A), (U, D, D), (U, U, U),
])
def test_combination_truth_table_3x3(first: Verdict, second: Verdict, expected: Verdict) -> None:
    signals = [_signal({P.SEARCH: v} if v is not U else {}) for v in (first, second)]
    result = combine(signals)
    assert result.verdicts[P.SEARCH] is expected
    assert (P.SEARCH in result.conflicts) == ({first, second} == {A, D})


@pytest.mark.parametrize(("statement", "hierarchical", "expected"), [
    # DENY on a parent always propagates down.
    ({P.TDM: D}, False, {P.TDM: D, P.AI_TRAIN: D, P.GENAI_TRAIN: D, P.ML_TRAIN: D, P.AI_INPUT: D, P.SEARCH: D}),
    ({P.AI_TRAIN: D}, False, {P.TDM: U, P.AI_TRAIN: D, P.GENAI_TRAIN: D, P.ML_TRAIN: D, P.AI_INPUT: U, P.SEARCH: U}),
    # ALLOW on a parent propagates only from hierarchical vocabularies.
    ({P.TDM: A}, True, {P.TDM: A, P.AI_TRAIN: A, P.GENAI_TRAIN: A, P.ML_TRAIN: A, P.AI_INPUT: A, P.SEARCH: A}),
    ({P.TDM: A}, False, {P.TDM: A, P.AI_TRAIN: U, P.GENAI_TRAIN: U, P.ML_TRAIN: U, P.AI_INPUT: U, P.SEARCH: U}),
    ({P.AI_TRAIN: A}, False, {P.TDM: U, P.AI_TRAIN: A, P.GENAI_TRAIN: U, P.ML_TRAIN: U, P.AI_INPUT: U, P.SEARCH: U}),
    # An explicit child beats the inherited parent (docs/purposes.md "One statement").
    ({P.TDM: D, P.ML_TRAIN: A}, False,
     {P.TDM: D, P.AI_TRAIN: D, P.GENAI_TRAIN: D, P.ML_TRAIN: A, P.AI_INPUT: D, P.SEARCH: D}),
    # A flat ALLOW stops the walk: a grand-parent DENY does not reach past it.
    ({P.TDM: D, P.AI_TRAIN: A}, False,
     {P.TDM: D, P.AI_TRAIN: A, P.GENAI_TRAIN: U, P.ML_TRAIN: U, P.AI_INPUT: D, P.SEARCH: D}),
    ({P.TDM: D, P.AI_TRAIN: A}, True,
     {P.TDM: D, P.AI_TRAIN: A, P.GENAI_TRAIN: A, P.ML_TRAIN: A, P.AI_INPUT: D, P.SEARCH: D}),
    ({}, True, dict.fromkeys(P, U)),
])
def test_resolve_inheritance_rules(statement: dict[Purpose, Verdict], hierarchical: bool,
                                   expected: dict[Purpose, Verdict]) -> None:
    assert resolve(statement, hierarchical=hierarchical) == expected


def test_uncounted_signals_do_not_enter_the_combination() -> None:
    result = combine([_signal({P.AI_TRAIN: D}, counted=False), _signal({P.AI_TRAIN: A})])
    assert result.verdicts[P.AI_TRAIN] is A
    assert result.verdicts[P.GENAI_TRAIN] is U  # flat ALLOW does not leak


def test_deciders_name_the_signals_behind_each_verdict() -> None:
    deny = _signal({P.AI_TRAIN: D}, mechanism=Mechanism.TDMREP_FILE)
    allow = _signal({P.GENAI_TRAIN: A}, mechanism=Mechanism.C2PA)
    result = combine([deny, allow])
    assert result.deciders[P.GENAI_TRAIN] == (deny,)
    assert result.conflicts == frozenset({P.GENAI_TRAIN})
    assert result.deciders[P.SEARCH] == ()


@pytest.mark.parametrize("verdicts", list(itertools.product([A, D, U], repeat=3)))
def test_combination_is_order_independent(verdicts: tuple[Verdict, ...]) -> None:
    signals = [_signal({P.AI_INPUT: v}) for v in verdicts if v is not U]
    forward = combine(signals).verdicts
    backward = combine(list(reversed(signals))).verdicts
    assert forward == backward
    expected = D if D in verdicts else A if A in verdicts else U
    assert forward[P.AI_INPUT] is expected
