"""Change sets as CloudFormation computes them for the resource types we use.

moto lists a resource as modified when its template text (or a parameter it names) changed, says nothing of
replacement and ignores conditions. Here each resource of the new template is resolved as the update would resolve
it (moto's own evaluation of the intrinsic functions, against the stack's live resources) and compared with what
the stack resolved when it created or last updated it:

- a property whose value changes is a change (``Evaluation: Static``); a property that refers to a resource the
  update adds or replaces cannot be known before the update runs (``Evaluation: Dynamic``, ``ChangeSource``
  ``ResourceReference`` or ``ResourceAttribute``, ``CausingEntity`` the resource or ``resource.attribute``);
- ``RequiresRecreation`` is ``Always`` for the type's ``createOnlyProperties`` (the registry schemas cfn-lint
  ships, :func:`smbundle.resource_permissions.create_only_properties`), ``Never`` otherwise. ``Replacement`` is
  ``True`` for a static change of such a property, ``Conditional`` for a dynamic one, ``False`` otherwise, and a
  replacement makes the resources that refer to it change in turn, until nothing more changes;
- ``ChangeSource`` is ``ParameterReference`` (``CausingEntity`` the parameter) when the property's template text
  is the same and a parameter it uses, directly or through a condition, has a new value; ``DirectModification``
  otherwise (the text, a mapping or a condition changed);
- a ``Tags`` change is reported with ``Attribute: Tags``; ``Metadata``, ``DeletionPolicy``,
  ``UpdateReplacePolicy``, ``CreationPolicy`` and ``UpdatePolicy`` changes as their attribute;
- ``PolicyAction`` says what happens to the physical resource: ``Delete``/``Retain`` for a removal (its
  ``DeletionPolicy``), ``ReplaceAndDelete``/``ReplaceAndRetain`` for a replacement (its ``UpdateReplacePolicy``);
- a resource whose condition turns false is removed, one whose condition turns true is added; a changed ``Type``
  fails the change set, as CloudFormation refuses it.

A change set that changes nothing is ``FAILED`` with CloudFormation's reason. ``ExecuteChangeSet`` runs the stack
update through :mod:`smbundle.local.cloudformation.stack_operations` (as the stack's principal, with rollback).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from moto.cloudformation import models, parsing, responses
from moto.cloudformation.exceptions import ValidationError

from smbundle import resource_permissions
from smbundle.local.cloudformation import validation
from smbundle.local.cloudformation.updates import referenced_names

NO_CHANGES = (
    "The submitted information didn't contain changes. Submit different information to create a change set."
)
ATTRIBUTES = ("Metadata", "CreationPolicy", "UpdatePolicy", "DeletionPolicy", "UpdateReplacePolicy")
_PENDING = re.compile(r"\{\{pending:([A-Za-z0-9]+)(?:\.([A-Za-z0-9.]+))?\}\}")


class ChangeSetFailed(Exception):
    """The change set cannot be made; CloudFormation marks it FAILED with this reason."""


@dataclass
class Change:
    """One ``ResourceChange`` (moto's wire layer wraps it in a ``Change`` of type ``Resource``)."""

    action: str
    logical_resource_id: str
    resource_type: str
    physical_resource_id: str | None = None
    replacement: str | None = None
    policy_action: str | None = None
    scope: list[str] = field(default_factory=list)
    details: list[dict] = field(default_factory=list)


class _Pending:
    """A resource the update adds or replaces: its name and attributes exist only once the update made it."""

    def __init__(self, logical_id: str):
        self.logical_id = logical_id

    @property
    def physical_resource_id(self) -> str:
        return "{{pending:" + self.logical_id + "}}"

    def get_cfn_attribute(self, attribute: str) -> str:
        return "{{pending:" + self.logical_id + "." + attribute + "}}"


def _exists(resource) -> bool:
    return resource is not None and not isinstance(resource, str)


def _scratch(stack, template: dict, parameters: dict, pending: set[str]) -> parsing.ResourceMap:
    """A resource map for the new template whose resources are the stack's live ones (or pending)."""
    backend = models.cloudformation_backends[stack.account_id][stack.region_name]
    scratch = parsing.ResourceMap(
        stack.stack_id,
        stack.name,
        dict(parameters),
        stack.tags,
        region_name=stack.region_name,
        account_id=stack.account_id,
        template=template,
        cross_stack_resources=backend.exports,
    )
    scratch.load()
    live = stack.resource_map._parsed_resources
    for logical_id, resource_json in template["Resources"].items():
        if not _wanted(scratch, resource_json):
            scratch._parsed_resources[logical_id] = None
        elif logical_id in pending or not _exists(live.get(logical_id)):
            scratch._parsed_resources[logical_id] = _Pending(logical_id)
        else:
            scratch._parsed_resources[logical_id] = live[logical_id]
    return scratch


def _wanted(resources: parsing.ResourceMap, resource_json: dict) -> bool:
    condition = resource_json.get("Condition")
    return not condition or bool(resources.lazy_condition_map[condition])


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def _parameters_used(node: Any, conditions: dict, seen: set[str] | None = None) -> set[str]:
    """Names a template node refers to, through the conditions it uses too."""
    seen = set() if seen is None else seen
    names = set(referenced_names(node))
    for condition in _conditions_in(node):
        if condition not in seen and condition in conditions:
            seen.add(condition)
            names |= _parameters_used(conditions[condition], conditions, seen)
    return names


def _conditions_in(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _conditions_in(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::If" and isinstance(value, list) and value:
                found.add(str(value[0]))
            elif key == "Condition" and isinstance(value, str):
                found.add(value)
            found |= _conditions_in(value)
    return found


@dataclass
class _Context:
    stack: Any
    template: dict
    scratch: parsing.ResourceMap
    old_parameters: dict[str, str]
    new_parameters: dict[str, str]


def _property_details(context: _Context, logical_id: str, name: str, old: Any, new: Any) -> list[dict]:
    """The ResourceChangeDetails of one changed top-level property."""
    resource_type = context.template["Resources"][logical_id]["Type"]
    tags = name == "Tags"
    target = {"Attribute": "Tags"} if tags else {"Attribute": "Properties", "Name": name}
    create_only = name in resource_permissions.create_only_properties(resource_type)
    target["RequiresRecreation"] = "Always" if create_only and not tags else "Never"
    details = []
    pending = sorted(set(_PENDING.findall(json.dumps(new, default=str))))
    for referenced, attribute in pending:
        details.append(
            {
                "Target": dict(target),
                "Evaluation": "Dynamic",
                "ChangeSource": "ResourceAttribute" if attribute else "ResourceReference",
                "CausingEntity": f"{referenced}.{attribute}" if attribute else referenced,
            }
        )
    raw_old = (
        (context.stack.resource_map._resource_json_map.get(logical_id) or {}).get("Properties") or {}
    ).get(name)
    raw_new = (context.template["Resources"][logical_id].get("Properties") or {}).get(name)
    if raw_old != raw_new:
        details.append({"Target": dict(target), "Evaluation": "Static", "ChangeSource": "DirectModification"})
        return details
    conditions = context.template.get("Conditions") or {}
    changed = sorted(
        parameter
        for parameter in _parameters_used(raw_new, conditions)
        if parameter in context.new_parameters
        and context.old_parameters.get(parameter) != context.new_parameters[parameter]
    )
    for parameter in changed:
        details.append(
            {
                "Target": dict(target),
                "Evaluation": "Static",
                "ChangeSource": "ParameterReference",
                "CausingEntity": parameter,
            }
        )
    if not details:  # same text, same parameters: a mapping, a pseudo parameter or a condition changed
        details.append({"Target": dict(target), "Evaluation": "Static", "ChangeSource": "DirectModification"})
    return details


def _modification(context: _Context, logical_id: str) -> Change | None:
    live = context.stack.resource_map._parsed_resources[logical_id]
    old_json = context.stack.resource_map._resource_json_map[logical_id]
    new_json = context.template["Resources"][logical_id]
    old = getattr(live, "smbundle_properties", None)
    if old is None:  # created outside the stack operations: its template text is all we know
        old = parsing.clean_json(copy.deepcopy(old_json.get("Properties") or {}), context.stack.resource_map)
    new = parsing.clean_json(copy.deepcopy(new_json.get("Properties") or {}), context.scratch)
    details = []
    order = list(new) + [k for k in old if k not in new]
    for name in order:
        before, after = old.get(name), new.get(name)
        if before == after and not _PENDING.search(json.dumps(after, default=str)):
            continue
        details.extend(_property_details(context, logical_id, name, before, after))
    for attribute in ATTRIBUTES:
        if old_json.get(attribute) != new_json.get(attribute):
            details.append(
                {
                    "Target": {"Attribute": attribute, "RequiresRecreation": "Never"},
                    "Evaluation": "Static",
                    "ChangeSource": "DirectModification",
                }
            )
    if not details:
        return None
    always = [d for d in details if d["Target"]["RequiresRecreation"] == "Always"]
    if any(d["Evaluation"] == "Static" for d in always):
        replacement = "True"
    elif always:
        replacement = "Conditional"
    else:
        replacement = "False"
    change = Change(
        "Modify",
        logical_id,
        new_json["Type"],
        physical_resource_id=_physical_id(live),
        replacement=replacement,
        scope=list(dict.fromkeys(d["Target"]["Attribute"] for d in details)),
        details=details,
    )
    if replacement != "False":
        retained = new_json.get("UpdateReplacePolicy") == "Retain"
        change.policy_action = "ReplaceAndRetain" if retained else "ReplaceAndDelete"
    return change


def _physical_id(resource) -> str:
    try:
        return str(resource.physical_resource_id)
    except Exception:
        return ""


def compute(stack, template: dict, parameters: dict[str, str]) -> list[Change]:
    """What updating ``stack`` to ``template`` with ``parameters`` (every value, as strings) would change."""
    if "Resources" not in template:
        raise ChangeSetFailed("Template format error: At least one Resources member must be defined.")
    new_resources = template["Resources"]
    old_resources = stack.resource_map._resource_json_map
    live = stack.resource_map._parsed_resources
    existing = [logical_id for logical_id in old_resources if _exists(live.get(logical_id))]
    retyped = [
        logical_id
        for logical_id in existing
        if logical_id in new_resources
        and new_resources[logical_id]["Type"] != old_resources[logical_id]["Type"]
    ]
    if retyped:
        raise ChangeSetFailed(
            "Update of resource type is not permitted. The new template modifies resource type of the "
            f"following resources: [{', '.join(retyped)}]"
        )
    old_parameters = {k: _text(v) for k, v in (stack.resource_map.resolved_parameters or {}).items()}
    pending: set[str] = set()
    while True:
        scratch = _scratch(stack, template, parameters, pending)
        context = _Context(
            stack,
            template,
            scratch,
            old_parameters,
            {k: _text(v) for k, v in scratch.resolved_parameters.items()},
        )
        wanted = [lid for lid, resource in new_resources.items() if _wanted(scratch, resource)]
        added = [lid for lid in wanted if lid not in existing]
        modified = {}
        for logical_id in wanted:
            if logical_id in existing:
                change = _modification(context, logical_id)
                if change is not None:
                    modified[logical_id] = change
        again = set(added) | {lid for lid, change in modified.items() if change.replacement != "False"}
        if again == pending:
            break
        pending = again
    changes = [Change("Add", lid, new_resources[lid]["Type"]) for lid in added]
    changes += [modified[lid] for lid in wanted if lid in modified]
    for logical_id in existing:
        if logical_id not in wanted:
            retained = old_resources[logical_id].get("DeletionPolicy") == "Retain"
            changes.append(
                Change(
                    "Remove",
                    logical_id,
                    old_resources[logical_id]["Type"],
                    physical_resource_id=_physical_id(live[logical_id]),
                    policy_action="Retain" if retained else "Delete",
                )
            )
    return changes


# -- moto patches -------------------------------------------------------------------------------------------
def _diff(self) -> list[Change]:
    self.smbundle_failure = None
    parameters = {k: _text(v) for k, v in (self.parameters or {}).items()}
    try:
        return compute(self.stack, self.template_dict, parameters)
    except ChangeSetFailed as failure:
        self.smbundle_failure = str(failure)
    except Exception as exc:  # a template the update would refuse (a missing parameter, a bad reference...)
        self.smbundle_failure = getattr(exc, "message", None) or str(exc)
    return []


def create_change_set(self, stack_name, change_set_name, template, parameters, *args, **kwargs):
    change_set_type = kwargs.get("change_set_type", args[3] if len(args) > 3 else "CREATE")
    by_id = self.stacks.get(stack_name)
    if by_id is not None:  # CloudFormation takes the stack's id as well as its name (moto only the name)
        stack_name = by_id.name
    if change_set_type == "UPDATE":
        validation.validate(template, {k: _text(v) for k, v in (parameters or {}).items()})
    change_set_id, stack_id = _original_create_change_set(
        self, stack_name, change_set_name, template, parameters, *args, **kwargs
    )
    change_set = self.change_sets[change_set_id]
    failure = getattr(change_set, "smbundle_failure", None)
    if change_set_type == "UPDATE" and failure is None and not change_set.changes:
        stack = change_set.stack
        same_parameters = {k: _text(v) for k, v in (parameters or {}).items()} == {
            k: _text(v) for k, v in (stack.resource_map.resolved_parameters or {}).items()
        }
        if change_set.template_dict == stack.template_dict and same_parameters:
            failure = NO_CHANGES
    if failure:
        change_set.status, change_set.execution_status, change_set.status_reason = (
            "FAILED",
            "UNAVAILABLE",
            failure,
        )
    else:
        change_set.status, change_set.execution_status = "CREATE_COMPLETE", "AVAILABLE"
    return change_set_id, stack_id


def execute_change_set(self, change_set_name, stack_name=None):
    change_set = self.describe_change_set(change_set_name)
    if change_set.change_set_type != "UPDATE":
        return _original_execute_change_set(self, change_set_name, stack_name)
    if change_set.execution_status != "AVAILABLE":
        raise ValidationError(
            message=f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current execution status "
            f"of [{change_set.execution_status}]"
        )
    stack = self.stacks[change_set.stack_id]
    change_set.execution_status = "EXECUTE_IN_PROGRESS"
    parameters = [
        {"ParameterKey": k, "ParameterValue": _text(v)} for k, v in (change_set.parameters or {}).items()
    ]
    self.update_stack(
        stack.name, change_set.template, change_set.role_arn, parameters, change_set.tags or None
    )
    change_set.execution_status = (
        "EXECUTE_COMPLETE" if stack.status == "UPDATE_COMPLETE" else "EXECUTE_FAILED"
    )
    for other in self.change_sets.values():  # the stack moved on: its other change sets no longer apply
        if (
            other is not change_set
            and other.stack_id == stack.stack_id
            and other.execution_status == "AVAILABLE"
        ):
            other.execution_status = "OBSOLETE"


def _no_early_refusal(self, incoming_params, stack_body, old_stack) -> None:
    """CloudFormation makes a FAILED change set when nothing changes; it does not refuse the request."""


_original_create_change_set = models.CloudFormationBackend.create_change_set
_original_execute_change_set = models.CloudFormationBackend.execute_change_set
_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    models.ChangeSet.diff = _diff
    models.CloudFormationBackend.create_change_set = create_change_set
    models.CloudFormationBackend.execute_change_set = execute_change_set
    responses.CloudFormationResponse._validate_different_update = _no_early_refusal
    _applied = True
