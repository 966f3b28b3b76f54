"""``iam:SimulatePrincipalPolicy``, answered by the embedded IAM's own evaluator.

The publisher's preflight asks it, in a real account, whether the roles a template uses may make the calls the
template needs; the local executors ask it about calls that have no public API. Answering it with the same
evaluator that enforces requests keeps the preflight, the executors and the enforcement in agreement.

Supported: ``PolicySourceArn`` (a role), ``ActionNames``, ``ResourceArns`` (default ``*``), ``ContextEntries``.
Each result has ``EvalDecision`` (allowed, explicitDeny, implicitDeny), ``MatchedStatements`` and
``MissingContextValues`` (condition keys the relevant statements use that the context lacked).
"""

from __future__ import annotations

from moto.core.responses import ActionResult
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


def simulate(
    role_arn: str, action_names: list[str], resource_arns: list[str], context: dict, region: str
) -> list[dict]:
    if principals.role(role_arn) is None:
        raise NotFoundException(f"Role {role_arn} not found")
    principal = Principal(role_arn, "simulation")
    results = []
    for action in action_names:
        for resource in resource_arns or ["*"]:
            decision = enforcement.decide(principal, action, resource, context, region)
            matched = []
            if decision.statement is not None:
                matched.append(
                    {"SourcePolicyId": decision.statement.get("Sid", ""), "SourcePolicyType": "IAM Policy"}
                )
            results.append(
                {
                    "EvalActionName": action,
                    "EvalResourceName": resource,
                    "EvalDecision": decision.decision,
                    "MatchedStatements": matched,
                    "MissingContextValues": list(decision.missing_context),
                }
            )
    return results


def simulate_principal_policy(self: IamResponse) -> ActionResult:
    results = simulate(
        self._get_param("PolicySourceArn"),
        self._get_param("ActionNames") or [],
        self._get_param("ResourceArns") or [],
        _context(self._get_param("ContextEntries") or []),
        self.region,
    )
    return ActionResult({"EvaluationResults": results, "IsTruncated": False})


def apply() -> None:
    IamResponse.simulate_principal_policy = simulate_principal_policy
