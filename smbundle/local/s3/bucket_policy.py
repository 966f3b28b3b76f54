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


def _with_error_body(key_response):
    """moto refuses some anonymous object requests with a bare 403; S3 answers AccessDenied in its XML error body."""

    def answer(self, request, full_url, headers):
        status, response_headers, body = key_response(self, request, full_url, headers)
        if status == 403 and not body:
            from moto.core.responses import ActionResult
            from moto.s3.exceptions import S3ClientError

            error = S3ClientError("AccessDenied", "Access Denied")
            error.http_status = 403
            return self.serialized(ActionResult(error))
        return status, response_headers, body

    return answer


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    from moto.s3.responses import S3Response

    FakeBucket.get_permission = get_permission
    S3Response.key_response = _with_error_body(S3Response.key_response)
    _applied = True


def _names_principal(statement: dict, principal_ids: set[str]) -> bool:
    named = statement.get("Principal")
    if named == "*":
        return True
    if not isinstance(named, dict):
        return False
    values = named.get("AWS", [])
    values = values if isinstance(values, list) else [values]
    return any(v == "*" or v in principal_ids for v in values)


def grants_everyone(policy_document: str | None, action: str, resource: str) -> bool:
    """Whether a bucket's policy grants ``action`` on ``resource`` to anyone at all, anonymous callers included
    (an Allow whose Principal is ``*``), with no Deny to everyone."""
    return _grants(policy_document, action, resource, set(), {})


def denies_everyone(policy_document: str | None, action: str, resource: str) -> bool:
    """Whether a bucket's policy denies ``action`` on ``resource`` to everyone (a Deny whose Principal is ``*``)."""
    from smbundle.local.iam import evaluation

    if not policy_document:
        return False
    return any(
        statement.get("Effect") == "Deny"
        and _names_principal(statement, set())
        and evaluation.statement_applies(statement, action, resource, dict(REQUEST_CONTEXT))
        for statement in evaluation.statements([json.loads(policy_document)])
    )


def grants_cross_account(
    policy_document: str | None, action: str, resource: str, account: str, role_arn: str | None
) -> bool:
    """Whether a bucket's policy lets a caller of another ``account`` (a session of ``role_arn``, or the account's
    own administrator when None) perform ``action`` on ``resource``: an Allow that names it, its account or ``*``,
    and no Deny that does. Another account's request needs this besides its own identity policy; without a bucket
    policy it is denied."""
    principal_ids = {account, f"arn:aws:iam::{account}:root"} | ({role_arn} if role_arn else set())
    return _grants(policy_document, action, resource, principal_ids, {"aws:PrincipalAccount": account})


def _grants(
    policy_document: str | None, action: str, resource: str, principal_ids: set[str], context: dict
) -> bool:
    from smbundle.local.iam import evaluation

    if not policy_document:
        return False
    context = {**REQUEST_CONTEXT, **context}
    allowed = False
    for statement in evaluation.statements([json.loads(policy_document)]):
        if not _names_principal(statement, principal_ids):
            continue
        if not evaluation.statement_applies(statement, action, resource, context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed
