"""The CodePipeline CloudFormation deploy action (CREATE_UPDATE / REPLACE_ON_FAILURE), run locally.

It does what the action does on AWS: read ``TemplatePath`` and ``TemplateConfiguration`` from input artifacts,
merge ``ParameterOverrides``, then create or update the stack with the action's role and capabilities and wait
for it. The embedded CloudFormation validates parameters and rules as CloudFormation does, and runs the stack as
the action's ``RoleArn``; a failed stack is reported with the failing resource and its reason.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from botocore.exceptions import ClientError
from cfnlint.decode import decode_str

log = logging.getLogger(__name__)

_FAILED_STATES = {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED"}


class DeployError(Exception):
    """The deploy action failed; the message says why, as the CodePipeline console would."""


def artifact_file(reference: str, artifacts: dict[str, Path]) -> Path:
    """Resolve ``ArtifactName::path/in/artifact``."""
    name, _, relative = reference.partition("::")
    if name not in artifacts:
        raise DeployError(f"{reference}: artifact {name!r} is not an input of this action")
    path = artifacts[name] / relative
    if not path.is_file():
        raise DeployError(f"{reference}: file {relative!r} is not in artifact {name}")
    return path


def deploy(cloudformation, configuration: dict, artifacts: dict[str, Path], diagnostics=None) -> dict:
    """Run the action with ``cloudformation`` (a client of the pipeline's role); returns the stack description.

    ``diagnostics`` (default: the same client) reads the stack's events to explain a failure, as the console
    does for a person; the pipeline role itself may only describe stacks.
    """
    diagnostics = diagnostics or cloudformation
    mode = configuration.get("ActionMode", "CREATE_UPDATE")
    if mode not in ("CREATE_UPDATE", "REPLACE_ON_FAILURE"):
        raise DeployError(f"ActionMode {mode} is not supported by the local runner")
    stack_name = configuration["StackName"]
    template_path = artifact_file(configuration["TemplatePath"], artifacts)
    body = template_path.read_text()
    template, matches = decode_str(body)
    if template is None:
        raise DeployError(f"{configuration['TemplatePath']} is not a valid template: {matches[0].message}")

    parameters: dict[str, str] = {}
    tags: dict[str, str] = {}
    if configuration.get("TemplateConfiguration"):
        config_path = artifact_file(configuration["TemplateConfiguration"], artifacts)
        try:
            config = json.loads(config_path.read_text())
        except json.JSONDecodeError as exc:
            raise DeployError(f"{configuration['TemplateConfiguration']} is not valid JSON: {exc}") from exc
        for key, value in (config.get("Parameters") or {}).items():
            if not isinstance(value, str):
                raise DeployError(
                    f"{configuration['TemplateConfiguration']}: parameter {key} must be a string, "
                    f"got {type(value).__name__}"
                )
            parameters[key] = value
        tags = dict(config.get("Tags") or {})
    parameters.update(json.loads(configuration.get("ParameterOverrides") or "{}"))

    kwargs = {
        "StackName": stack_name,
        "TemplateBody": body,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }
    if configuration.get("Capabilities"):
        kwargs["Capabilities"] = configuration["Capabilities"].split(",")
    if configuration.get("RoleArn"):
        kwargs["RoleARN"] = configuration["RoleArn"]

    existing = _describe(cloudformation, stack_name)
    if existing and existing["StackStatus"] in _FAILED_STATES and mode == "REPLACE_ON_FAILURE":
        log.info("stack %s is %s: deleting it before re-creating", stack_name, existing["StackStatus"])
        cloudformation.delete_stack(StackName=stack_name)
        _wait(cloudformation, stack_name)
        existing = None
    elif existing and existing["StackStatus"] in _FAILED_STATES:
        raise DeployError(f"stack {stack_name} is in state {existing['StackStatus']} and cannot be updated")
    try:
        if existing:
            cloudformation.update_stack(**kwargs)
        else:
            cloudformation.create_stack(**kwargs)
    except ClientError as exc:
        error = exc.response["Error"]
        message = error.get("Message", str(exc))
        if "No updates are to be performed" not in message:
            raise DeployError(f"{error.get('Code')}: {message}") from exc
    stack = _wait(cloudformation, stack_name)
    if stack is None or not stack["StackStatus"].endswith("_COMPLETE") or "ROLLBACK" in stack["StackStatus"]:
        reason = _failure_reason(diagnostics, stack_name) if stack else "stack vanished"
        status = stack["StackStatus"] if stack else "DELETED"
        raise DeployError(f"stack {stack_name} ended {status}: {reason}")
    return stack


def _describe(cloudformation, stack_name: str) -> dict | None:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in exc.response["Error"].get("Message", ""):
            return None
        raise
    return stacks[0] if stacks else None


def _wait(cloudformation, stack_name: str, timeout_s: float = 120.0) -> dict | None:
    deadline = time.monotonic() + timeout_s
    while True:
        stack = _describe(cloudformation, stack_name)
        if stack is None or not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        if time.monotonic() > deadline:
            reason = _failure_reason(cloudformation, stack_name)
            raise DeployError(
                f"stack {stack_name} still {stack['StackStatus']} after {timeout_s:.0f} s: {reason}"
            )
        time.sleep(0.05)


def _failure_reason(cloudformation, stack_name: str) -> str:
    try:
        events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
    except ClientError:
        return "no stack events"
    for event in events:
        if event.get("ResourceStatus", "").endswith("FAILED") and event.get("ResourceStatusReason"):
            return f"{event['LogicalResourceId']}: {event['ResourceStatusReason']}"
    return "no failure reason recorded"
