"""Stack updates that cascade as CloudFormation's do.

When an update replaces a resource (a new physical name), every resource that refers to it with Ref, Fn::GetAtt
or Fn::Sub sees a new value and is updated too: a new model means a new endpoint config, which means an
endpoint update. moto only updates resources whose own template text or parameters changed, which left an
endpoint config pointing at a deleted model. Here the set of modified resources is closed over those references,
in template order.
"""

from __future__ import annotations

import re
from typing import Any

from moto.cloudformation.parsing import ResourceMap

_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def referenced_names(value: Any) -> set[str]:
    if isinstance(value, list):
        return set().union(*(referenced_names(v) for v in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, item in value.items():
        if key == "Ref" and isinstance(item, str):
            found.add(item)
        elif key == "Fn::GetAtt":
            found.add(item[0] if isinstance(item, list) else str(item).split(".")[0])
        elif key == "Fn::Sub":
            text = item[0] if isinstance(item, list) else item
            found |= set(_SUB_NAME.findall(text))
            if isinstance(item, list):
                found |= referenced_names(item[1:])
        else:
            found |= referenced_names(item)
    return found


def cascade(resources: dict[str, Any], changed: list[str], added: list[str]) -> list[str]:
    """``changed`` plus every resource that refers, directly or not, to a changed or added one; template order."""
    affected = set(changed) | set(added)
    grew = True
    while grew:
        grew = False
        for name, resource in resources.items():
            if name in affected:
                continue
            if referenced_names(resource) & affected:
                affected.add(name)
                grew = True
    return [name for name in resources if name in affected and name not in added]


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    original = ResourceMap.build_resource_diff

    def build_resource_diff(self, other_template, parameters=None):
        diff = original(self, other_template, parameters)
        diff["Modify"] = cascade(other_template["Resources"], diff["Modify"], diff["Add"])
        return diff

    ResourceMap.build_resource_diff = build_resource_diff
    _applied = True
