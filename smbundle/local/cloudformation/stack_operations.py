"""Stack operations as CloudFormation runs them: as the stack's principal, resource by resource, with rollback.

- **Who acts.** A stack with a role (``RoleARN``, or the launch role Service Catalog provisions with) is created,
  updated and deleted as that role, which CloudFormation must be able to assume; otherwise as the caller. Before
  each resource operation, every call it causes (``smbundle.resource_permissions``) is authorized by the embedded
  IAM. An administrator's stack is not checked.
- **Failure semantics.** A resource that cannot be created goes ``CREATE_FAILED`` with the reason; the stack goes
  ``ROLLBACK_IN_PROGRESS``, deletes what it created (``DeletionPolicy: Retain`` resources are kept), and ends
  ``ROLLBACK_COMPLETE``. A failed update rolls back to the previous template and parameters
  (``UPDATE_ROLLBACK_COMPLETE``); a failed deletion leaves the stack ``DELETE_FAILED``. ``DescribeStackEvents``
  tells each resource's story. moto instead raised out of CreateStack and left half a stack.
- **Updates touch what changed.** A resource whose resolved properties and attributes are unchanged is left
  alone (no event, no call), even when moto's diff lists it; a replaced resource whose ``UpdateReplacePolicy`` is
  ``Retain`` is kept in the cleanup (``DELETE_SKIPPED``), as CloudFormation keeps it; a type that cannot be
  updated in place locally fails the update with the reason rather than losing the resource.
- **Validation at the API**: template ``Rules`` (assertions on parameters) and parameter constraints
  (AllowedValues, AllowedPattern, Min/MaxValue, Min/MaxLength) are checked when a stack is created or updated,
  and a role that CloudFormation cannot assume is refused, all with ``ValidationError`` as AWS answers.
- ``DescribeStackResources`` lists only resources that exist (moto listed a blank entry for each resource whose
  condition is false).
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import logging
from dataclasses import dataclass, field
from typing import Any

from moto.cloudformation import models, parsing
from moto.cloudformation.exceptions import ValidationError

from smbundle import resource_permissions
from smbundle.local.cloudformation import validation
from smbundle.local.iam import enforcement, principals
from smbundle.local.iam.principals import Principal

log = logging.getLogger(__name__)

SERVICE = "cloudformation.amazonaws.com"


class ResourceFailed(BaseException):
    """A resource operation failed: the stack operation stops here and rolls back.

    A BaseException, so that moto's retry loops (which catch Exception to retry dependency-ordering problems)
    let it through at once instead of retrying a failure that will not go away.
    """

    def __init__(self, logical_id: str, resource_type: str, reason: str):
        super().__init__(f"{logical_id} ({resource_type}): {reason}")
        self.logical_id, self.resource_type, self.reason = logical_id, resource_type, reason


class StackDeleteFailed(Exception):
    pass


@dataclass
class Operation:
    stack: Any
    principal: Principal | None
    created: list[tuple[str, Any]] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)  # resources an update changed, in order
    replaced: list[tuple[str, Any, dict]] = field(default_factory=list)  # old resource, new json: the cleanup


_operation: contextvars.ContextVar[Operation | None] = contextvars.ContextVar("stack_operation", default=None)


def _event(
    stack, logical_id: str, physical_id: str, resource_type: str, status: str, reason: str | None = None
):
    stack.events.append(
        models.Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical_id,
            physical_resource_id=physical_id or "",
            resource_type=resource_type,
            resource_status=status,
            resource_status_reason=reason,
            resource_properties=None,
        )
    )


def _where(stack) -> resource_permissions.Where:
    return resource_permissions.Where(region=stack.region_name, account=stack.account_id)


def _service_name(action: str) -> str:
    return {"s3": "S3", "sagemaker": "SageMaker", "iam": "Iam", "sns": "Sns"}.get(
        action.split(":")[0], action.split(":")[0].capitalize()
    )


def handler_message(denial: enforcement.AccessDenied) -> str:
    """A denial as CloudFormation reports it on the resource."""
    return (
        f'Resource handler returned message: "{denial} (Service: {_service_name(denial.action)}, '
        f'Status Code: 403)" (HandlerErrorCode: AccessDenied)'
    )


def _authorize(operation: Operation, calls: list[resource_permissions.Call]) -> None:
    if operation.principal is None:
        return
    for call in calls:
        enforcement.authorize(
            operation.principal, call.action, call.resource, call.context, operation.stack.region_name
        )


def principal_for(role_arn: str | None) -> Principal | None:
    """The principal a stack acts as: its role, assumed by CloudFormation, or the caller."""
    if role_arn and enforcement.is_enabled():
        try:
            principals.assume(role_arn, SERVICE, "AWSCloudFormation")
        except principals.AssumeRoleFailed as failure:
            raise ValidationError(
                message=f"Role {role_arn} is invalid or cannot be assumed: {failure}"
            ) from None
        return Principal(role_arn, "AWSCloudFormation")
    return principals.caller.get()


# -- resource operations ------------------------------------------------------------------------------------
def parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name):
    condition = resource_json.get("Condition")
    if condition and not resources_map.lazy_condition_map[condition]:
        return None
    resource_type = resource_json["Type"]
    operation = _operation.get()
    parsed = parsing.parse_resource_and_generate_name(logical_id, resource_json, resources_map)
    if not parsed:
        if operation is not None and operation.principal is not None:
            _event(operation.stack, logical_id, "", resource_type, "CREATE_IN_PROGRESS")
            _fail(operation, logical_id, resource_type, f"{resource_type} is not supported locally")
        return None
    resource_class, parsed_json, physical_name = parsed
    # A copy: some models (moto's rules) rewrite the properties they are given.
    properties = copy.deepcopy(parsed_json.get("Properties") or {})
    if operation is not None:
        _event(operation.stack, logical_id, "", resource_type, "CREATE_IN_PROGRESS")
        try:
            calls = resource_permissions.resource_calls(
                resource_type,
                resource_permissions.CREATE,
                str(physical_name),
                properties,
                _where(operation.stack),
            )
            _authorize(operation, calls)
        except enforcement.AccessDenied as denial:
            _fail(operation, logical_id, resource_type, handler_message(denial))
        except resource_permissions.UnknownResourceType as unknown:
            if operation.principal is not None:
                _fail(operation, logical_id, resource_type, str(unknown))
    try:
        resource = resource_class.create_from_cloudformation_json(
            physical_name,
            parsed_json,
            account_id,
            region_name,
            LogicalId=logical_id,
            StackId=resources_map.stack_id,
            ResourceType=resource_type,
        )
    except ResourceFailed:
        raise
    except Exception as exc:
        if operation is None:
            raise
        _fail(operation, logical_id, resource_type, _reason(exc))
    resource.cf_resource_type = resource_type
    resource.logical_resource_id = logical_id
    resource.smbundle_properties = properties
    resource.smbundle_name = str(physical_name)
    resource.smbundle_json = resource_json
    if operation is not None:
        operation.created.append((logical_id, resource))
        _event(operation.stack, logical_id, _physical_id(resource), resource_type, "CREATE_COMPLETE")
    return resource


# The service's error code -> the CloudFormation handler error code resource handlers report for it.
HANDLER_ERROR_CODES = {
    "ValidationException": "InvalidRequest",
    "ValidationError": "InvalidRequest",
    "InvalidParameterValue": "InvalidRequest",
    "ResourceNotFound": "NotFound",
    "ResourceNotFoundException": "NotFound",
    "ResourceInUse": "AlreadyExists",
    "ResourceInUseException": "AlreadyExists",
    "AccessDenied": "AccessDenied",
    "AccessDeniedException": "AccessDenied",
    "ResourceLimitExceeded": "ServiceLimitExceeded",
}


def _reason(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    code = getattr(
        exc, "code", None
    )  # moto's service exceptions: the error code; its REST errors: the status
    service_code = getattr(exc, "error_type", None) or (code if isinstance(code, str) else type(exc).__name__)
    code = HANDLER_ERROR_CODES.get(service_code, service_code)
    return f'Resource handler returned message: "{message}" (HandlerErrorCode: {code})'


def _fail(
    operation: Operation, logical_id: str, resource_type: str, reason: str, status: str = "CREATE_FAILED"
):
    _event(operation.stack, logical_id, "", resource_type, status, reason)
    raise ResourceFailed(logical_id, resource_type, reason)


def _name(resource) -> str:
    """The name the resource was created with (its ARN is built from it; a physical id may be an opaque id)."""
    return getattr(resource, "smbundle_name", None) or _physical_id(resource)


def _physical_id(resource) -> str:
    try:
        return str(resource.physical_resource_id)
    except Exception:
        return ""


def parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name):
    operation = _operation.get()
    resource_type = resource_json["Type"]
    if operation is None:
        return _original_update(logical_id, resource_json, resources_map, account_id, region_name)
    condition = resource_json.get("Condition")
    wanted = not condition or resources_map.lazy_condition_map[condition]
    original = resources_map._parsed_resources.get(logical_id)
    if original is None or isinstance(original, str):  # its condition was false: now it is created, or not
        return parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name)
    if not wanted:  # its condition became false: CloudFormation deletes it
        resources_map._delete_resource(original, getattr(original, "smbundle_json", resource_json))
        return None
    parsed = parsing.parse_resource_and_generate_name(logical_id, resource_json, resources_map)
    new_properties = copy.deepcopy(parsed[1].get("Properties") or {}) if parsed else {}
    old_properties = getattr(original, "smbundle_properties", {}) or {}
    if (
        parsed
        and new_properties == old_properties
        and _attributes(resource_json) == _attributes(getattr(original, "smbundle_json", None) or {})
    ):
        return original  # nothing CloudFormation would change: no event, no call
    _event(operation.stack, logical_id, _physical_id(original), resource_type, "UPDATE_IN_PROGRESS")
    where = _where(operation.stack)
    retained = resource_json.get("UpdateReplacePolicy") == "Retain"
    try:
        if resource_permissions.replaced_by(resource_type, old_properties, new_properties):
            calls = resource_permissions.resource_calls(
                resource_type, resource_permissions.CREATE, str(parsed[2]), new_properties, where
            )
            if not retained:
                calls += resource_permissions.resource_calls(
                    resource_type, resource_permissions.DELETE, _name(original), old_properties, where
                )
        else:
            calls = resource_permissions.resource_calls(
                resource_type,
                resource_permissions.UPDATE,
                _name(original),
                new_properties,
                where,
                old_properties,
            )
        _authorize(operation, calls)
    except enforcement.AccessDenied as denial:
        _fail(operation, logical_id, resource_type, handler_message(denial), "UPDATE_FAILED")
    except resource_permissions.UnknownResourceType as unknown:
        if operation.principal is not None:
            _fail(operation, logical_id, resource_type, str(unknown), "UPDATE_FAILED")
    try:
        if parsed and resource_permissions.replaced_by(resource_type, old_properties, new_properties):
            # Replacement, as CloudFormation does it: the new resource first; the old one goes in the cleanup.
            resource_class, parsed_json, new_name = parsed
            updated = resource_class.create_from_cloudformation_json(
                new_name,
                parsed_json,
                account_id,
                region_name,
                LogicalId=logical_id,
                StackId=resources_map.stack_id,
                ResourceType=resource_type,
            )
            updated.cf_resource_type, updated.logical_resource_id = resource_type, logical_id
            updated.smbundle_json = resource_json
            operation.replaced.append((logical_id, original, resource_json))
        else:
            updated = _original_update(logical_id, resource_json, resources_map, account_id, region_name)
    except ResourceFailed:
        raise
    except Exception as exc:
        _fail(operation, logical_id, resource_type, _reason(exc), "UPDATE_FAILED")
    if updated is None and parsed:  # moto would drop the resource from the stack
        reason = f"updating {resource_type} in place is not supported locally"
        _fail(operation, logical_id, resource_type, reason, "UPDATE_FAILED")
    if updated is not None:
        updated.smbundle_properties = new_properties
        updated.smbundle_name = str(parsed[2]) if parsed else _name(original)
        updated.smbundle_json = resource_json
    operation.updated.append(logical_id)
    _event(operation.stack, logical_id, _physical_id(updated or original), resource_type, "UPDATE_COMPLETE")
    return updated


_ATTRIBUTES = ("Metadata", "DeletionPolicy", "UpdateReplacePolicy", "CreationPolicy", "UpdatePolicy")


def _attributes(resource_json: dict) -> dict:
    """The resource attributes an update can change besides its properties."""
    return {key: resource_json.get(key) for key in _ATTRIBUTES}


def _delete_resource(self, parsed_resource, resource_json):
    operation = _operation.get()
    if operation is None:
        return _original_delete_resource(self, parsed_resource, resource_json)
    logical_id = getattr(parsed_resource, "logical_resource_id", "")
    resource_type = resource_json.get("Type", "")
    physical = _physical_id(parsed_resource)
    _event(operation.stack, logical_id, physical, resource_type, "DELETE_IN_PROGRESS")
    try:
        calls = resource_permissions.resource_calls(
            resource_type,
            resource_permissions.DELETE,
            _name(parsed_resource),
            getattr(parsed_resource, "smbundle_properties", {}) or {},
            _where(operation.stack),
        )
        _authorize(operation, calls)
        _original_delete_resource(self, parsed_resource, resource_json)
    except enforcement.AccessDenied as denial:
        _fail(operation, logical_id, resource_type, handler_message(denial), "DELETE_FAILED")
    except resource_permissions.UnknownResourceType as unknown:
        if operation.principal is not None:
            _fail(operation, logical_id, resource_type, str(unknown), "DELETE_FAILED")
        _original_delete_resource(self, parsed_resource, resource_json)
    _event(operation.stack, logical_id, physical, resource_type, "DELETE_COMPLETE")


# -- stack operations ---------------------------------------------------------------------------------------
def create_resources(self) -> None:
    operation = Operation(self, getattr(self, "smbundle_principal", None))
    token = _operation.set(operation)
    acting = principals.caller.set(operation.principal)  # the services it calls see the stack's principal
    try:
        _original_create_resources(self)
    except ResourceFailed as failure:
        _roll_back_creation(self, operation, failure)
    finally:
        principals.caller.reset(acting)
        _operation.reset(token)


def _roll_back_creation(stack, operation: Operation, failure: ResourceFailed) -> None:
    stack.status = "ROLLBACK_IN_PROGRESS"
    stack._add_stack_event(
        "ROLLBACK_IN_PROGRESS",
        resource_status_reason=f"The following resource(s) failed to create: [{failure.logical_id}]. "
        "Rollback requested by user.",
    )
    templates = stack.template_dict.get("Resources", {})
    failed = False
    for logical_id, resource in reversed(operation.created):
        resource_json = templates.get(logical_id, {})
        stack.resource_map._parsed_resources.pop(logical_id, None)
        if resource_json.get("DeletionPolicy") == "Retain":
            _event(stack, logical_id, _physical_id(resource), resource_json.get("Type", ""), "DELETE_SKIPPED")
            continue
        try:
            stack.resource_map._delete_resource(resource, resource_json)
        except ResourceFailed:
            failed = True
        except Exception as exc:  # a moto delete that fails: the rollback fails, as it can on AWS
            _event(
                stack,
                logical_id,
                _physical_id(resource),
                resource_json.get("Type", ""),
                "DELETE_FAILED",
                _reason(exc),
            )
            failed = True
    stack.status = "ROLLBACK_FAILED" if failed else "ROLLBACK_COMPLETE"
    stack._add_stack_event(stack.status)
    log.info("stack %s: %s (%s)", stack.name, stack.status, failure)


@dataclass
class _Before:
    """What a stack was before an update, to roll back to."""

    template: Any
    resource_json: dict
    input_parameters: dict
    resolved_parameters: dict


def update(self, template, role_arn=None, parameters=None, tags=None):
    resources = self.resource_map
    before = _Before(
        self.template,
        dict(resources._resource_json_map),
        dict(resources.input_parameters or {}),
        dict(resources.resolved_parameters or {}),
    )
    operation = Operation(self, principal_for(role_arn or self.role_arn))
    token = _operation.set(operation)
    acting = principals.caller.set(operation.principal)  # the services it calls see the stack's principal
    self.status = "UPDATE_IN_PROGRESS"
    resources.resolved_parameters = {}  # a parameter the new template drops goes (moto kept it)
    try:
        _original_update_stack(self, template, role_arn, parameters, tags)
        _clean_up(self, operation)
    except ResourceFailed as failure:
        _roll_back_update(self, before, operation, failure)
    finally:
        principals.caller.reset(acting)
        _operation.reset(token)


def _clean_up(stack, operation: Operation) -> None:
    """After a successful update, CloudFormation deletes the resources it replaced."""
    if not operation.replaced:
        return
    completed = (
        stack.events.pop() if stack.events and stack.events[-1].resource_status == "UPDATE_COMPLETE" else None
    )
    stack._add_stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    for logical_id, old, new_json in reversed(operation.replaced):
        if new_json.get("UpdateReplacePolicy") == "Retain":  # kept, outside the stack from now on
            _event(stack, logical_id, _physical_id(old), new_json.get("Type", ""), "DELETE_SKIPPED")
            continue
        # CloudFormation reports a failed deletion in the cleanup and completes the update anyway.
        with contextlib.suppress(ResourceFailed):
            stack.resource_map._delete_resource(old, old.smbundle_json)
    if completed is not None:
        stack.events.append(completed)


def _roll_back_update(stack, before: _Before, operation: Operation, failure: ResourceFailed) -> None:
    """Undo what the update did: resources it added go, resources it changed get their old properties back."""
    stack._add_stack_event(
        "UPDATE_ROLLBACK_IN_PROGRESS",
        resource_status_reason=f"The following resource(s) failed to update: [{failure.logical_id}].",
    )
    resources = stack.resource_map
    stack.template = before.template
    stack._parse_template()
    resources._template = stack.template_dict
    resources._resource_json_map = before.resource_json
    resources.input_parameters = before.input_parameters
    resources.resolved_parameters = before.resolved_parameters
    resources.load_conditions()
    try:
        for logical_id, resource in reversed(operation.created):
            resources._parsed_resources.pop(logical_id, None)
            resources._delete_resource(resource, resource.smbundle_json)
        replaced = {logical_id: old for logical_id, old, _ in operation.replaced}
        for logical_id in reversed(operation.updated):
            if logical_id in replaced:  # the old resource still exists: the new one goes
                new = resources._parsed_resources.get(logical_id)
                resources._parsed_resources[logical_id] = replaced[logical_id]
                if new is not None and new is not replaced[logical_id]:
                    resources._delete_resource(new, new.smbundle_json)
                continue
            restored = parse_and_update_resource(
                logical_id, before.resource_json[logical_id], resources, stack.account_id, stack.region_name
            )
            if restored is not None:
                resources._parsed_resources[logical_id] = restored
        stack.output_map = stack._create_output_map()
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
    except Exception as exc:  # the rollback itself failed
        log.info("stack %s: rollback failed: %s", stack.name, exc)
        stack.status = "UPDATE_ROLLBACK_FAILED"
    stack._add_stack_event(stack.status)


def delete(self) -> None:
    operation = Operation(self, principal_for(self.role_arn))
    token = _operation.set(operation)
    acting = principals.caller.set(operation.principal)  # the services it calls see the stack's principal
    try:
        _original_delete_stack(self)
    except ResourceFailed as failure:
        self.status = "DELETE_FAILED"
        self._add_stack_event(
            "DELETE_FAILED",
            resource_status_reason=f"The following resource(s) failed to delete: [{failure.logical_id}].",
        )
        raise StackDeleteFailed(str(failure)) from None
    except Exception as exc:
        self.status = "DELETE_FAILED"
        self._add_stack_event("DELETE_FAILED", resource_status_reason=str(exc))
        raise StackDeleteFailed(str(exc)) from None
    finally:
        principals.caller.reset(acting)
        _operation.reset(token)


def stack_resources(self):
    """The resources that exist (moto's lazy map would create any other one when asked for it)."""
    parsed = self.resource_map._parsed_resources
    return [
        parsed[logical_id]
        for logical_id in self.resource_map._resource_json_map
        if parsed.get(logical_id) is not None and not isinstance(parsed[logical_id], str)
    ]


_NO_OUTPUTS = (
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "ROLLBACK_IN_PROGRESS",
    "CREATE_FAILED",
    "DELETE_COMPLETE",
)


def outputs(self):
    """A stack that rolled back has no outputs (they would refer to resources that no longer exist)."""
    if self.status in _NO_OUTPUTS:
        return None
    return _original_outputs.fget(self)


# -- the backend: validation, the stack's principal, failed deletions ---------------------------------------
def create_stack(self, name, template, parameters, *args, **kwargs):
    role_arn = kwargs.get("role_arn")
    validation.validate(template, parameters)
    principal = principal_for(role_arn)
    token = _pending_principal.set(principal)
    try:
        return _original_create_stack(self, name, template, parameters, *args, **kwargs)
    finally:
        _pending_principal.reset(token)


def update_stack(self, name, template, role_arn, parameters, tags):
    stack = self.get_stack(name)
    parameters = previous_values(stack, parameters)
    validation.validate(template, {p["ParameterKey"]: p["ParameterValue"] for p in parameters})
    return _original_update_backend(self, name, template, role_arn, parameters, tags)


def previous_values(stack, parameters: list[dict] | None) -> list[dict]:
    """``UsePreviousValue`` as CloudFormation reads it: the value the stack uses now, a default included (moto
    knew only the values given at creation)."""
    resolved = stack.resource_map.resolved_parameters or {}
    explicit = []
    for parameter in parameters or []:
        key = parameter["ParameterKey"]
        if parameter.get("UsePreviousValue"):
            if key not in resolved:
                raise ValidationError(
                    message=f"Invalid input for parameter key {key}. Cannot specify usePreviousValue as true for a parameter key not in the previous template"
                )
            value = resolved[key]
            value = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            explicit.append({"ParameterKey": key, "ParameterValue": value})
        else:
            explicit.append({"ParameterKey": key, "ParameterValue": parameter.get("ParameterValue", "")})
    return explicit


def delete_stack(self, name_or_stack_id):
    stack = next((s for s in self.stacks.values() if name_or_stack_id in (s.stack_id, s.name)), None)
    try:
        return _original_delete_backend(self, name_or_stack_id)
    except StackDeleteFailed:
        if stack is not None:
            self.stacks[stack.stack_id] = stack
        return None


_pending_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("pending", default=None)


def _stack_init(self, *args, **kwargs):
    _original_stack_init(self, *args, **kwargs)
    self.smbundle_principal = _pending_principal.get()


_original_update = parsing.parse_and_update_resource
_original_delete_resource = parsing.ResourceMap._delete_resource
_original_create_resources = models.Stack.create_resources
_original_update_stack = models.Stack.update
_original_delete_stack = models.Stack.delete
_original_stack_init = models.Stack.__init__
_original_outputs = models.Stack.outputs
_original_create_stack = models.CloudFormationBackend.create_stack
_original_update_backend = models.CloudFormationBackend.update_stack
_original_delete_backend = models.CloudFormationBackend.delete_stack

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    parsing.parse_and_create_resource = parse_and_create_resource
    parsing.parse_and_update_resource = parse_and_update_resource
    parsing.ResourceMap._delete_resource = _delete_resource
    models.Stack.__init__ = _stack_init
    models.Stack.create_resources = create_resources
    models.Stack.update = update
    models.Stack.delete = delete
    models.Stack.stack_resources = property(stack_resources)
    models.Stack.outputs = property(outputs)
    models.CloudFormationBackend.create_stack = create_stack
    models.CloudFormationBackend.update_stack = update_stack
    models.CloudFormationBackend.delete_stack = delete_stack
    _applied = True
