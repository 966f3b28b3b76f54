"""Bucket policies evaluated as S3 evaluates them, for requests that reach S3 over TLS.

moto treats a statement whose Condition does not match as an explicit Deny, so the product's TLS-only policy
(Deny when aws:SecureTransport is false) would deny every request. Here a statement whose condition does not
hold simply does not apply. The embedded AWS stands in for AWS's HTTPS endpoints: requests count as
aws:SecureTransport=true.
"""

from __future__ import annotations

import json

from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3.models import FakeBucket

REQUEST_CONTEXT = {"aws:SecureTransport": "true"}


def conditions_hold(condition: dict, context: dict[str, str]) -> bool:
    """Bool and String(Not)Equals(IgnoreCase) operators; a key the request lacks makes the condition false."""
    for operator, entries in condition.items():
        for key, expected in entries.items():
            expected_values = [
                str(v).lower() for v in (expected if isinstance(expected, list) else [expected])
            ]
            actual = context.get(key)
            if actual is None:
                return False
            matched = actual.lower() in expected_values
            if operator in ("Bool", "StringEquals", "StringEqualsIgnoreCase"):
                if not matched:
                    return False
            elif operator in ("StringNotEquals", "StringNotEqualsIgnoreCase"):
                if matched:
                    return False
            else:
                return False  # operators we do not model never match
    return True


def permission(policy_document: str, action: str, resource: str) -> PermissionResult:
    policy = json.loads(policy_document)
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    applicable = []
    for statement in statements:
        if "Condition" in statement:
            if not conditions_hold(statement["Condition"], REQUEST_CONTEXT):
                continue
            statement = {k: v for k, v in statement.items() if k != "Condition"}
        applicable.append(statement)
    if not applicable:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps({"Version": "2012-10-17", "Statement": applicable})).is_action_permitted(
        action, resource
    )


def get_permission(self: FakeBucket, action: str, resource: str):
    if self.policy is None:
        return PermissionResult.NEUTRAL
    return permission(self.policy.decode(), action, resource)


def apply() -> None:
    FakeBucket.get_permission = get_permission
