"""Stack updates that honour resource conditions, as CloudFormation does.

moto diffs templates by their text: a resource whose ``Condition`` is false was still "modified" when something it
refers to changed (and then created, condition or not), one whose condition turned false was kept, and one whose
condition turned true was never created. Here, after the diff (and the reference cascade of ``updates``), each
conditional resource is placed by its condition under the update's parameters: false and existing, it is
removed; false and absent, left alone; true and absent, added.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.parsing import ResourceMap


class _Unknown(Exception):
    """A condition this evaluator cannot decide (then the diff is left as it was)."""


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def condition_values(template: dict, parameters: dict, pseudo: dict[str, str]) -> dict[str, bool]:
    values = {
        name: _text(spec["Default"])
        for name, spec in (template.get("Parameters") or {}).items()
        if isinstance(spec, dict) and "Default" in spec
    }
    values.update({k: _text(v) for k, v in (parameters or {}).items()})
    values.update(pseudo)
    conditions = template.get("Conditions") or {}
    decided: dict[str, bool] = {}

    def evaluate(expression: Any) -> Any:
        if not isinstance(expression, dict):
            return expression
        if "Ref" in expression:
            if expression["Ref"] not in values:
                raise _Unknown(expression["Ref"])
            return values[expression["Ref"]]
        if "Condition" in expression:
            return condition(expression["Condition"])
        if len(expression) != 1:
            raise _Unknown(expression)
        ((function, arguments),) = expression.items()
        if function == "Fn::Equals":
            return _text(evaluate(arguments[0])) == _text(evaluate(arguments[1]))
        if function == "Fn::Not":
            return not evaluate(arguments[0])
        if function == "Fn::And":
            return all(evaluate(a) for a in arguments)
        if function == "Fn::Or":
            return any(evaluate(a) for a in arguments)
        raise _Unknown(function)

    def condition(name: str) -> bool:
        if name not in decided:
            if name not in conditions:
                raise _Unknown(name)
            decided[name] = bool(evaluate(conditions[name]))
        return decided[name]

    return {name: condition(name) for name in conditions}


def place_conditional(diff: dict, template: dict, existing: set[str], truth: dict[str, bool]) -> dict:
    """The diff with every conditional resource where its condition puts it."""
    add, modify, remove = list(diff["Add"]), list(diff["Modify"]), list(diff["Remove"])
    for name, resource in (template.get("Resources") or {}).items():
        condition = resource.get("Condition") if isinstance(resource, dict) else None
        if condition is None or condition not in truth:
            continue
        if truth[condition]:
            if name not in existing and name not in add:
                add.append(name)
                modify = [m for m in modify if m != name]
        else:
            add = [a for a in add if a != name]
            modify = [m for m in modify if m != name]
            if name in existing and name not in remove:
                remove.append(name)
    return {**diff, "Add": add, "Modify": modify, "Remove": remove}


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    original = ResourceMap.build_resource_diff

    def build_resource_diff(self, other_template, parameters=None):
        diff = original(self, other_template, parameters)
        pseudo = {
            "AWS::Region": self._region_name,
            "AWS::AccountId": self._account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        try:
            truth = condition_values(other_template, parameters or dict(self.input_parameters or {}), pseudo)
        except (_Unknown, IndexError, TypeError):
            return diff
        existing = {name for name, resource in self._parsed_resources.items() if resource is not None}
        existing &= set(self._resource_json_map)
        placed = place_conditional(diff, other_template, existing, truth)
        for name in placed["Add"]:
            if name in self._parsed_resources and self._parsed_resources[name] is None:
                del self._parsed_resources[name]  # a placeholder of a resource that did not exist: create it
        # removed because their condition turned false: they stay in the template, not in the stack
        self.smbundle_condition_removed = [
            n for n in placed["Remove"] if n in other_template.get("Resources", {})
        ]
        return placed

    original_update = ResourceMap.update

    def update(self, template, parameters=None):
        self.smbundle_condition_removed = []
        original_update(self, template, parameters)
        for name in self.smbundle_condition_removed:
            self._parsed_resources.pop(name, None)

    ResourceMap.build_resource_diff = build_resource_diff
    ResourceMap.update = update
    _applied = True
