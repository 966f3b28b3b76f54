"""``iam:SimulatePrincipalPolicy``, answered by the embedded IAM's own evaluator.

The publisher's preflight asks it, in a real account, whether the roles a template uses may make the calls the
template needs; the local executors ask it about calls that have no public API. Answering it with the same
evaluator that enforces requests keeps the preflight, the executors and the enforcement in agreement.

Supported: ``PolicySourceArn`` (a role), ``ActionNames``, ``ResourceArns`` (default ``*``), ``ContextEntries``.
As the IAM API reference describes the simulator today (API_EvaluationResult), the answer holds one result per
action, whatever the number of resources: its ``EvalDecision`` is the most restrictive across the resources
(explicitDeny, then implicitDeny, then allowed), its ``MatchedStatements`` and ``MissingContextValues`` (condition
keys the relevant statements use that the context lacked) those of all of them, and ``ResourceSpecificResults``
holds each resource's own decision. ``EvalResourceName`` names the resource when there is one; with several, which
one AWS would name is not documented, so it is left out. As AWS's simulator, it reads no tags of the account's
resources: a condition on ``aws:ResourceTag/...`` that ``ContextEntries`` do not answer is listed in
``MissingContextValues``. With the embedded IAM off (``--iam off``), every call is ``allowed``.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from moto.iam.exceptions import NotFoundException
from moto.iam.responses import IamResponse

from smbundle.local.iam import enforcement, principals
from smbundle.local.iam.principals import Principal


def _context(entries: list[dict]) -> dict:
    context = {}
    for entry in entries or []:
        values = entry.get("ContextKeyValues") or []
        kind = str(entry.get("ContextKeyType", "string"))
        context[entry["ContextKeyName"]] = (
            list(values) if kind.endswith("List") else (values[0] if values else "")
        )
    return context


RESTRICTIVENESS = ("allowed", "implicitDeny", "explicitDeny")


def simulate(
    role_arn: str, action_names: list[str], resource_arns: list[str], context: dict, region: str
) -> list[dict]:
    if principals.role(role_arn) is None:
        raise NotFoundException(f"Role {role_arn} not found")
    principal = Principal(role_arn, "simulation")
    resources = resource_arns or ["*"]
    results = []
    for action in action_names:
        each = [_resource_result(principal, action, resource, context, region) for resource in resources]
        result = {"EvalActionName": action}  # the members in the order of the API's EvaluationResult
        if len(resources) == 1:
            result["EvalResourceName"] = resources[0]
        result["EvalDecision"] = max((r["EvalResourceDecision"] for r in each), key=RESTRICTIVENESS.index)
        result["MatchedStatements"] = _union(s for r in each for s in r["MatchedStatements"])
        result["MissingContextValues"] = _union(v for r in each for v in r["MissingContextValues"])
        result["ResourceSpecificResults"] = each
        results.append(result)
    return results


def _resource_result(principal: Principal, action: str, resource: str, context: dict, region: str) -> dict:
    if not enforcement.is_enabled():  # --iam off: every call goes through, and the simulator says so
        return {
            "EvalResourceName": resource,
            "EvalResourceDecision": "allowed",
            "MatchedStatements": [],
            "MissingContextValues": [],
        }
    # As AWS's simulator: only the given ContextEntries, never the resources' live tags.
    decision = enforcement.decide(principal, action, resource, context, region, live=False)
    matched = []
    if decision.statement is not None:
        matched.append(
            {"SourcePolicyId": decision.statement.get("Sid", ""), "SourcePolicyType": "IAM Policy"}
        )
    return {
        "EvalResourceName": resource,
        "EvalResourceDecision": decision.decision,
        "MatchedStatements": matched,
        "MissingContextValues": list(decision.missing_context),
    }


def _union(items) -> list:
    union = []
    for item in items:
        if item not in union:
            union.append(item)
    return union


def answer(self: IamResponse) -> dict:
    """The SimulatePrincipalPolicy result for the request ``self`` holds."""
    results = simulate(
        self._get_param("PolicySourceArn"),
        self._get_param("ActionNames") or [],
        self._get_param("ResourceArns") or [],
        _context(self._get_param("ContextEntries") or []),
        self.region,
    )
    return {"EvaluationResults": results, "IsTruncated": False}


def simulate_principal_policy(self: IamResponse) -> tuple[str, dict]:
    return _query_response("SimulatePrincipalPolicy", answer(self)), {"Content-Type": "text/xml"}


def _query_response(operation: str, result: dict) -> str:
    """The IAM query protocol's XML answer (moto fills in the RequestId). Rendered here rather than by moto's
    model-driven serializer, which took more than half the time of a simulation of many resources; the publisher's
    preflight asks thousands of them in the test suite. The XML is the same as that serializer's (tested)."""
    return (
        f'<{operation}Response xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        f"<{operation}Result>{_xml(result)}</{operation}Result>"
        f"<ResponseMetadata><RequestId>-</RequestId></ResponseMetadata></{operation}Response>"
    )


def _xml(value) -> str:
    if isinstance(value, dict):
        return "".join(f"<{key}>{_xml(item)}</{key}>" for key, item in value.items())
    if isinstance(value, list):
        return "".join(f"<member>{_xml(item)}</member>" for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def apply() -> None:
    IamResponse.simulate_principal_policy = simulate_principal_policy
