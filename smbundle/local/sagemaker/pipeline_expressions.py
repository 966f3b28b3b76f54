"""The SageMaker Pipelines definition language: ``Get``, ``Std:Join``, ``Std:JsonGet`` and conditions.

A definition refers to parameters (``Parameters.X``), execution variables (``Execution.PipelineExecutionId``),
properties of earlier steps (``Steps.Train.ModelArtifacts.S3ModelArtifacts``, lists indexed by name as in
``Outputs['train']``) and property files (``Steps.Evaluate.PropertyFiles.Report``). ``Context`` holds what an
execution knows so far; ``resolve`` turns any argument tree into plain values.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
# Fields by which the API's lists are indexed with ['name'] in property paths.
_LIST_KEYS = ("OutputName", "InputName", "ChannelName", "Name", "MetricName")


class ExpressionError(Exception):
    """A reference that cannot be resolved (unknown parameter, step or property)."""


@dataclass
class Context:
    parameters: dict[str, Any]
    execution: dict[str, Any]
    steps: dict[str, dict] = field(default_factory=dict)
    property_files: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # step -> file name -> parsed JSON


def tokens(path: str) -> list[str | int]:
    result: list[str | int] = []
    for match in _TOKEN.finditer(path):
        name, index, single, double = match.groups()
        if index is not None:
            result.append(int(index))
        else:
            result.append(name if name is not None else (single if single is not None else double))
    return result


def _step_into(value: Any, token: str | int, path: str) -> Any:
    if isinstance(token, int):
        if isinstance(value, list) and token < len(value):
            return value[token]
    elif isinstance(value, dict) and token in value:
        return value[token]
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and any(item.get(k) == token for k in _LIST_KEYS):
                return item
    raise ExpressionError(f"cannot resolve {path!r}: no {token!r}")


def get(path: str, context: Context) -> Any:
    parts = tokens(path)
    root, rest = parts[0], parts[1:]
    if root == "Parameters":
        name = rest[0]
        if name not in context.parameters:
            raise ExpressionError(f"unknown pipeline parameter {name!r}")
        return context.parameters[name]
    if root == "Execution":
        return context.execution[rest[0]]
    if root == "Steps":
        step_name = rest[0]
        if len(rest) >= 3 and rest[1] == "PropertyFiles" and step_name in context.property_files:
            return context.property_files[step_name].get(rest[2])
        if step_name not in context.steps:
            raise ExpressionError(f"step {step_name!r} has not run (referenced by {path!r})")
        value: Any = context.steps[step_name]
        for token in rest[1:]:
            value = _step_into(value, token, path)
        return value
    raise ExpressionError(f"unsupported reference {path!r}")


def json_get(spec: dict, context: Context) -> Any:
    document = spec["PropertyFile"]
    if isinstance(document, dict) and "Get" in document:
        document = get(document["Get"], context)
    if document is None:
        raise ExpressionError(f"property file {spec['PropertyFile']} was not produced")
    if isinstance(document, str):
        document = json.loads(document)
    value = document
    for token in tokens(spec["Path"]):
        value = _step_into(value, token, spec["Path"])
    return value


def resolve(value: Any, context: Context) -> Any:
    if isinstance(value, list):
        return [resolve(v, context) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Get"}:
        return get(value["Get"], context)
    if set(value) == {"Std:Join"}:
        spec = value["Std:Join"]
        return spec.get("On", "").join(str(resolve(v, context)) for v in spec["Values"])
    if set(value) == {"Std:JsonGet"}:
        return json_get(value["Std:JsonGet"], context)
    return {k: resolve(v, context) for k, v in value.items()}


def references(value: Any) -> set[str]:
    """Names of the steps an argument tree reads from."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Get" and isinstance(item, str) and item.startswith("Steps."):
                found.add(str(tokens(item)[1]))
            else:
                found |= references(item)
    return found


def _number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def evaluate_condition(condition: dict, context: Context) -> bool:
    kind = condition["Type"]
    if kind == "Not":
        return not evaluate_condition(condition["Expression"], context)
    if kind == "Or":
        return any(evaluate_condition(c, context) for c in condition["Conditions"])
    if kind == "In":
        left = resolve(condition["QueryValue"], context)
        return left in [resolve(v, context) for v in condition["Values"]]
    left = _number(resolve(condition["LeftValue"], context))
    right = _number(resolve(condition["RightValue"], context))
    comparisons = {
        "Equals": lambda a, b: a == b,
        "GreaterThan": lambda a, b: a > b,
        "GreaterThanOrEqualTo": lambda a, b: a >= b,
        "LessThan": lambda a, b: a < b,
        "LessThanOrEqualTo": lambda a, b: a <= b,
    }
    if kind not in comparisons:
        raise ExpressionError(f"unsupported condition type {kind}")
    return comparisons[kind](left, right)
