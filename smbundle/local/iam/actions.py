"""IAM's action data: which resource types an action is authorized against, and their ARN formats.

The data is the Service Authorization Reference as cfn-lint ships it (``cfnlint/data/AdditionalSpecs/
Policies.json``: service prefix -> Actions -> Resources; Resources -> ARNFormats). An action that lists no
resource type is authorized against ``*``.
"""

from __future__ import annotations

import functools
import json

from smbundle import cfnlint_data


class UnknownAction(Exception):
    """The action is not in IAM's action data (a typo, or an action IAM does not know)."""


@functools.cache
def _data() -> dict:
    path = cfnlint_data.data_directory() / "AdditionalSpecs" / "Policies.json"
    return json.loads(path.read_text())


def resource_types(action: str) -> list[str]:
    """Resource types of ``service:Action`` ([] for an action authorized against ``*``)."""
    service, _, name = action.partition(":")
    entry = (_data().get(service) or {}).get("Actions", {}).get(name.lower())
    if entry is None:
        raise UnknownAction(f"{action} is not an IAM action")
    return list(entry.get("Resources") or [])


def is_service(service: str) -> bool:
    """Whether ``service`` is an IAM service prefix."""
    return service in _data()


def is_action(action: str) -> bool:
    try:
        resource_types(action)
    except UnknownAction:
        return False
    return True


def arn_prefix(service: str, resource_type: str, region: str, account: str, partition: str = "aws") -> str:
    """The fixed part of a resource type's ARN (everything before its first ``.*``)."""
    resources = (_data().get(service) or {}).get("Resources", {})
    entry = resources.get(resource_type) or resources.get(resource_type.lower())
    if not entry:
        raise UnknownAction(f"{service} has no resource type {resource_type}")
    arn_format = entry["ARNFormats"][0]
    fixed = arn_format.split(".*", 1)[0]
    return (
        fixed.replace("${Partition}", partition).replace("${Region}", region).replace("${Account}", account)
    )
