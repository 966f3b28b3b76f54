"""What CloudFormation validates when a stack is created or updated, before any resource is touched.

- Parameters: every declared parameter gets a value (given, or its ``Default``); no undeclared parameter is
  given; AllowedValues, AllowedPattern, MinValue/MaxValue, MinLength/MaxLength hold (moto checks none of them).
- ``Rules``: each rule whose ``RuleCondition`` holds must satisfy every ``Assert``; the first that does not fails
  the request with its ``AssertDescription`` (moto ignores the section). Rule functions: ``Fn::And``,
  ``Fn::Or``, ``Fn::Not``, ``Fn::Equals``, ``Fn::Contains``, ``Fn::EachMemberEquals``, ``Fn::EachMemberIn``, ``Ref``.

Both fail with ``ValidationError``, as CreateStack and UpdateStack answer on AWS.
"""

from __future__ import annotations

import re
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import Stack


def parse(template: str | dict) -> dict:
    if isinstance(template, dict):
        return template
    return Stack.parse_template(template) or {}


def check_parameters(template: dict, parameters: dict[str, str]) -> dict[str, str]:
    """The resolved parameter values; raises ValidationError as CloudFormation does."""
    declared = template.get("Parameters") or {}
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ValidationError(message=f"Parameters: {unknown} do not exist in the template")
    missing = sorted(n for n, spec in declared.items() if parameters.get(n, spec.get("Default")) is None)
    if missing:
        raise ValidationError(message=f"Parameters: {missing} must have values")
    resolved = {}
    for name, spec in declared.items():
        value = str(parameters.get(name, spec.get("Default")))
        _check_constraints(name, value, spec)
        resolved[name] = value
    return resolved


def _violation(name: str, spec: dict, default: str) -> ValidationError:
    description = spec.get("ConstraintDescription")
    if description:
        return ValidationError(message=f"Parameter '{name}' failed to satisfy constraint: {description}")
    return ValidationError(message=f"Parameter '{name}' {default}")


def _check_constraints(name: str, value: str, spec: dict) -> None:
    kind = str(spec.get("Type", "String"))
    values = (
        [v.strip() for v in value.split(",")]
        if kind.startswith("List<") or kind == "CommaDelimitedList"
        else [value]
    )
    for item in values:
        allowed = spec.get("AllowedValues")
        if allowed is not None and item not in [str(a) for a in allowed]:
            raise _violation(name, spec, "must be one of AllowedValues")
        pattern = spec.get("AllowedPattern")
        if pattern and not re.fullmatch(pattern, item):
            raise _violation(name, spec, f"must match pattern {pattern}")
        if kind == "Number":
            try:
                number = float(item)
            except ValueError:
                raise _violation(name, spec, "must be a number") from None
            if "MinValue" in spec and number < float(spec["MinValue"]):
                raise _violation(name, spec, f"must be a number not less than {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                raise _violation(name, spec, f"must be a number not greater than {spec['MaxValue']}")
        if "MinLength" in spec and len(item) < int(spec["MinLength"]):
            raise _violation(name, spec, f"must contain at least {spec['MinLength']} characters")
        if "MaxLength" in spec and len(item) > int(spec["MaxLength"]):
            raise _violation(name, spec, f"must contain at most {spec['MaxLength']} characters")


def _value(expression: Any, parameters: dict[str, str]) -> Any:
    if isinstance(expression, dict) and len(expression) == 1:
        ((function, argument),) = expression.items()
        if function == "Ref":
            if argument not in parameters:
                raise ValidationError(
                    message=f"Template format error: Unresolved reference {argument} in Rules"
                )
            return parameters[argument]
        if function == "Fn::Equals":
            left, right = (_value(a, parameters) for a in argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not _value(argument[0], parameters)
        if function == "Fn::And":
            return all(_value(a, parameters) for a in argument)
        if function == "Fn::Or":
            return any(_value(a, parameters) for a in argument)
        if function == "Fn::Contains":
            values, item = _value(argument[0], parameters), _value(argument[1], parameters)
            return str(item) in [str(v) for v in values]
        if function == "Fn::EachMemberEquals":
            values, item = _value(argument[0], parameters), _value(argument[1], parameters)
            return all(str(v) == str(item) for v in _as_list(values))
        if function == "Fn::EachMemberIn":
            values, allowed = _value(argument[0], parameters), _value(argument[1], parameters)
            return all(str(v) in [str(a) for a in _as_list(allowed)] for v in _as_list(values))
        raise ValidationError(message=f"Template format error: {function} is not supported in Rules")
    if isinstance(expression, list):
        return [_value(item, parameters) for item in expression]
    return expression


def _as_list(value: Any) -> list:
    if isinstance(value, list):
        return value
    return [v.strip() for v in str(value).split(",")]


def check_rules(template: dict, parameters: dict[str, str]) -> None:
    for name, rule in (template.get("Rules") or {}).items():
        condition = rule.get("RuleCondition")
        if condition is not None and not _value(condition, parameters):
            continue
        for assertion in rule.get("Assertions") or []:
            if not _value(assertion["Assert"], parameters):
                raise ValidationError(
                    message=assertion.get("AssertDescription") or f"Assertion of rule {name} failed"
                )


def validate(template: str | dict, parameters: dict[str, str]) -> None:
    parsed = parse(template)
    resolved = check_parameters(parsed, {k: v for k, v in (parameters or {}).items() if v is not None})
    check_rules(parsed, resolved)
