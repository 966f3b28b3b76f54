"""Identity-based policy evaluation, as IAM documents it.

For one request (an action, one resource ARN, and the request context) against a principal's policy documents:
an explicit ``Deny`` that applies wins; otherwise an ``Allow`` that applies allows; otherwise the request is
implicitly denied. A statement applies when its ``Action``/``NotAction`` matches the action (case-insensitive,
``*`` and ``?`` wildcards), its ``Resource``/``NotResource`` matches the resource (ARN segment by segment; policy
variables such as ``${aws:PrincipalAccount}`` are filled from the context, an unknown variable matches nothing),
and every condition holds.

Conditions: the operators and keys AWS's managed policies use, and their documented semantics: string, ARN,
numeric and ``Bool`` operators, ``Null``, the ``...IfExists`` suffix (a missing key satisfies it), negated
operators (a missing key satisfies them), and the set prefixes ``ForAnyValue:`` (a missing key fails) and
``ForAllValues:`` (a missing key satisfies it). Values of one key are ORed; keys and operators are ANDed.
An operator this module does not know raises :class:`UnsupportedCondition` rather than guessing.

This module is pure: no moto, no boto3. The embedded AWS gives it the documents and the context.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ALLOWED = "allowed"
EXPLICIT_DENY = "explicitDeny"
IMPLICIT_DENY = "implicitDeny"

# A context value is a string, or a list of strings for multi-valued keys (aws:TagKeys).
Context = Mapping[str, Any]


class UnsupportedCondition(Exception):
    """A policy uses a condition operator the evaluator does not implement."""


def denial_message(principal_arn: str, action: str, resource: str, decision: str) -> str:
    """A denied call, in AWS's words."""
    if decision == EXPLICIT_DENY:
        why = "with an explicit deny in an identity-based policy"
    else:
        why = f"because no identity-based policy allows the {action} action"
    return f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource} {why}"


@dataclass(frozen=True)
class Decision:
    decision: str  # allowed | explicitDeny | implicitDeny
    statement: dict | None = None  # the statement that decided (Deny or Allow), if any
    missing_context: tuple[str, ...] = ()  # condition keys the policies asked for and the context lacked

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOWED


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern:
    return re.compile(fnmatch.translate(pattern), re.DOTALL)


@functools.lru_cache(maxsize=4096)
def _glob_ignore_case(pattern: str) -> re.Pattern:
    return re.compile(fnmatch.translate(pattern), re.DOTALL | re.IGNORECASE)


def _wildcard(pattern: str, value: str, ignore_case: bool = False) -> bool:
    # fnmatch treats [...] as a character class; IAM does not.
    escaped = pattern.replace("[", "[[]")
    compiled = _glob_ignore_case(escaped) if ignore_case else _glob(escaped)
    return compiled.match(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    return _wildcard(pattern, action, ignore_case=True)


_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


def substitute(pattern: str, context: Context) -> str | None:
    """Fill policy variables from the context; None when one cannot be filled (the element then matches nothing)."""
    if "${" not in pattern:
        return pattern
    missing = False

    def replace(match: re.Match) -> str:
        nonlocal missing
        name = match.group(1)
        if name in _ESCAPES:
            return _ESCAPES[name]
        value = context.get(name)
        if value is None or isinstance(value, list):
            missing = True
            return ""
        return str(value)

    filled = _VARIABLE.sub(replace, pattern)
    return None if missing else filled


def resource_matches(pattern: str, resource: str, context: Context) -> bool:
    pattern = substitute(pattern, context)
    if pattern is None:
        return False
    if pattern == "*":
        return True
    if resource == "*":
        # An action that supports no resource type is authorized against "*": only "*" matches it.
        return False
    if not pattern.startswith("arn:") or not resource.startswith("arn:"):
        return _wildcard(pattern, resource)
    wanted = pattern.split(":", 5)
    actual = resource.split(":", 5)
    if len(wanted) != 6 or len(actual) != 6:
        return _wildcard(pattern, resource)
    return all(_wildcard(w, a) for w, a in zip(wanted, actual, strict=True))


# -- conditions -------------------------------------------------------------------------------------------------
def _string(op: str, expected: str, actual: str) -> bool:
    if op == "StringEquals":
        return expected == actual
    if op == "StringEqualsIgnoreCase":
        return expected.lower() == actual.lower()
    if op == "StringLike":
        return _wildcard(expected, actual)
    raise UnsupportedCondition(op)


def _arn(op: str, expected: str, actual: str) -> bool:
    if op == "ArnEquals":
        return expected == actual
    if op == "ArnLike":
        wanted, got = expected.split(":", 5), actual.split(":", 5)
        if len(wanted) != 6 or len(got) != 6:
            return False
        return all(_wildcard(w, a) for w, a in zip(wanted, got, strict=True))
    raise UnsupportedCondition(op)


def _numeric(op: str, expected: str, actual: str) -> bool:
    try:
        left, right = float(actual), float(expected)
    except ValueError:
        return False
    return {
        "NumericEquals": left == right,
        "NumericLessThan": left < right,
        "NumericLessThanEquals": left <= right,
        "NumericGreaterThan": left > right,
        "NumericGreaterThanEquals": left >= right,
    }[op]


_POSITIVE = {
    "StringEquals": _string,
    "StringEqualsIgnoreCase": _string,
    "StringLike": _string,
    "ArnEquals": _arn,
    "ArnLike": _arn,
    "NumericEquals": _numeric,
    "NumericLessThan": _numeric,
    "NumericLessThanEquals": _numeric,
    "NumericGreaterThan": _numeric,
    "NumericGreaterThanEquals": _numeric,
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


def _single(base: str, expected: str, actual: str) -> bool:
    if base in _NEGATED:
        positive = _NEGATED[base]
        return not _POSITIVE[positive](positive, expected, actual)
    if base == "Bool":
        return expected.lower() == actual.lower()
    if base in _POSITIVE:
        return _POSITIVE[base](base, expected, actual)
    raise UnsupportedCondition(base)


def condition_holds(operator: str, key: str, expected: Any, context: Context) -> bool:
    """One operator/key pair of a Condition block."""
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
    expected_values = [str(v).lower() if isinstance(v, bool) else str(v) for v in _as_list(expected)]
    present = key in context and context[key] is not None
    if base == "Null":
        wants_absent = expected_values[0].lower() == "true"
        return (not present) == wants_absent
    if base not in _POSITIVE and base not in _NEGATED and base != "Bool":
        raise UnsupportedCondition(operator)
    filled = [substitute(v, context) for v in expected_values]
    expected_values = [v for v in filled if v is not None]
    if not present:
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return if_exists or base in _NEGATED
    actual_values = [str(v) for v in _as_list(context[key])]
    if qualifier == "ForAnyValue":
        return any(_matches_any(base, expected_values, value) for value in actual_values)
    if qualifier == "ForAllValues":
        return all(_matches_any(base, expected_values, value) for value in actual_values)
    if qualifier:
        raise UnsupportedCondition(operator)
    # A single-valued key; several values in the context (unexpected) must all satisfy the condition.
    return all(_matches_any(base, expected_values, value) for value in actual_values)


def _matches_any(base: str, expected_values: Sequence[str], actual: str) -> bool:
    if base in _NEGATED:
        # StringNotEquals [a, b]: the value equals none of them.
        return all(_single(base, expected, actual) for expected in expected_values)
    return any(_single(base, expected, actual) for expected in expected_values)


def conditions_hold(condition: Mapping[str, Mapping[str, Any]], context: Context) -> bool:
    return all(
        condition_holds(operator, key, expected, context)
        for operator, entries in condition.items()
        for key, expected in entries.items()
    )


def condition_keys(condition: Mapping[str, Mapping[str, Any]]) -> set[str]:
    return {key for entries in condition.values() for key in entries}


# -- statements and policies ------------------------------------------------------------------------------------
def statements(documents: Iterable[Mapping]) -> list[dict]:
    found = []
    for document in documents:
        found.extend(_as_list(document.get("Statement")))
    return found


@functools.lru_cache(maxsize=1024)
def _actions_pattern(patterns: tuple[str, ...]) -> re.Pattern:
    """One case-insensitive regex for a statement's whole action list (statements list hundreds of actions)."""
    return re.compile(
        "|".join(f"(?:{fnmatch.translate(p.replace('[', '[[]'))})" for p in patterns),
        re.DOTALL | re.IGNORECASE,
    )


def _action_applies(statement: Mapping, action: str) -> bool:
    if "Action" in statement:
        return _actions_pattern(tuple(_as_list(statement["Action"]))).match(action) is not None
    if "NotAction" in statement:
        return _actions_pattern(tuple(_as_list(statement["NotAction"]))).match(action) is None
    return False


def _resource_applies(statement: Mapping, resource: str, context: Context) -> bool:
    if "Resource" in statement:
        return any(resource_matches(p, resource, context) for p in _as_list(statement["Resource"]))
    if "NotResource" in statement:
        return not any(resource_matches(p, resource, context) for p in _as_list(statement["NotResource"]))
    return False


def statement_applies(statement: Mapping, action: str, resource: str, context: Context) -> bool:
    return (
        _action_applies(statement, action)
        and _resource_applies(statement, resource, context)
        and conditions_hold(statement.get("Condition") or {}, context)
    )


def evaluate(documents: Iterable[Mapping], action: str, resource: str, context: Context) -> Decision:
    """The decision for one action on one resource."""
    allow = None
    missing: set[str] = set()
    for statement in statements(documents):
        if not _action_applies(statement, action) or not _resource_applies(statement, resource, context):
            continue
        condition = statement.get("Condition") or {}
        missing |= {key for key in condition_keys(condition) if key not in context}
        if not conditions_hold(condition, context):
            continue
        if statement.get("Effect") == "Deny":
            return Decision(EXPLICIT_DENY, statement)
        if allow is None and statement.get("Effect") == "Allow":
            allow = statement
    if allow is not None:
        return Decision(ALLOWED, allow)
    return Decision(IMPLICIT_DENY, None, tuple(sorted(missing)))
