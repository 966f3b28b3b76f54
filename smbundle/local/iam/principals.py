"""Who is calling: role sessions, as AWS services create them, and the policies behind them.

A service acts as a role by assuming it: CodeBuild assumes a build project's service role, CodePipeline its
pipeline role, EventBridge a target's role, Service Catalog the launch-constraint role, CloudFormation a stack's
role, SageMaker a pipeline's or a model's role. :func:`assume` does that here: the role must exist and trust the
service (its trust policy allows ``sts:AssumeRole`` for the service principal, as on AWS), and the session's
temporary credentials are issued by the embedded STS, so a subprocess can sign with them like any AWS SDK does.

Anything signed with other keys (the default ``testing`` keys, or any IAM user's) is the account's administrator; a
request with no signature at all is anonymous (``enforcement``: S3 answers it by the bucket's policy, other services
refuse it).
"""

from __future__ import annotations

import contextvars
import json
import threading
from dataclasses import dataclass

from moto.iam.models import iam_backends
from moto.sts.models import sts_backends

PARTITION = "aws"


class AssumeRoleFailed(Exception):
    """The service cannot assume the role (missing role, or a trust policy that does not name the service)."""


@dataclass(frozen=True)
class Principal:
    """A role session."""

    role_arn: str
    session_name: str

    @property
    def account(self) -> str:
        return self.role_arn.split(":")[4]

    @property
    def role_name(self) -> str:
        return self.role_arn.rsplit("/", 1)[-1]

    @property
    def arn(self) -> str:
        return f"arn:{PARTITION}:sts::{self.account}:assumed-role/{self.role_name}/{self.session_name}"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str

    def environment(self) -> dict[str, str]:
        """As CodeBuild exposes a role's credentials to the build's commands."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }

    def session_kwargs(self) -> dict[str, str]:
        return {
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "aws_session_token": self.session_token,
        }


# The principal of the request being handled (None: the administrator). The HTTP hook sets it for every API
# request; in-process callers acting for a service (Service Catalog provisioning as the launch role) set it too.
caller: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("caller", default=None)
# The request being handled carries no signature at all (anonymous): S3 answers it by the bucket's policy.
anonymous: contextvars.ContextVar[bool] = contextvars.ContextVar("anonymous", default=False)

_sessions: dict[str, Principal] = {}
_lock = threading.Lock()


def _iam(account: str):
    return iam_backends[account][PARTITION]


def role(role_arn: str):
    """The moto role behind an ARN, or None."""
    parts = role_arn.split(":")
    if len(parts) < 6 or not parts[4]:
        return None
    return next((r for r in _iam(parts[4]).roles.values() if r.arn == role_arn), None)


def trusts(trust_policy: str | dict, service: str) -> bool:
    """Whether a role's trust policy lets ``service`` call sts:AssumeRole."""
    document = json.loads(trust_policy) if isinstance(trust_policy, str) else trust_policy
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        actions = actions if isinstance(actions, list) else [actions]
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        principal = (statement.get("Principal") or {}).get("Service", [])
        principal = principal if isinstance(principal, list) else [principal]
        if service in principal:
            return True
    return False


def assume(role_arn: str, service: str, session_name: str, region: str = "us-east-1") -> Credentials:
    """Temporary credentials of ``role_arn`` for ``service``, after the checks STS makes."""
    found = role(role_arn)
    if found is None:
        raise AssumeRoleFailed(f"{service} cannot assume role {role_arn}: the role does not exist")
    if not trusts(found.assume_role_policy_document, service):
        raise AssumeRoleFailed(
            f"{service} cannot assume role {role_arn}: its trust policy does not allow {service} to call "
            "sts:AssumeRole"
        )
    account = role_arn.split(":")[4]
    assumed = sts_backends[account][PARTITION].assume_role(
        region_name=region,
        role_session_name=session_name[:64],
        role_arn=role_arn,
        policy="",
        duration=3600,
        external_id="",
    )
    with _lock:
        _sessions[assumed.access_key_id] = Principal(role_arn, session_name[:64])
    return Credentials(assumed.access_key_id, assumed.secret_access_key, assumed.session_token)


def for_access_key(account: str, access_key_id: str) -> Principal | None:
    """The role session an access key belongs to; None for anything else (the administrator)."""
    known = _sessions.get(access_key_id)
    if known is not None:
        return known
    if not access_key_id.startswith("ASIA"):
        return None
    for assumed in sts_backends[account][PARTITION].assumed_roles:
        if assumed.access_key_id == access_key_id:
            principal = Principal(assumed.role_arn, assumed.session_name)
            with _lock:
                _sessions[access_key_id] = principal
            return principal
    return None


_documents: dict[str, tuple[tuple, list[dict]]] = {}


def policy_documents(role_arn: str) -> list[dict]:
    """Identity-based policies of a role: attached managed policies (their default version) and inline ones."""
    return policies(role_arn)[1]


def policies(role_arn: str) -> tuple[tuple, list[dict]]:
    """(a fingerprint of the role's policies, their parsed documents). Parsed documents are kept until the
    fingerprint changes (another attachment, a new default version, an edited inline policy)."""
    found = role(role_arn)
    if found is None:
        return (), []
    managed = list(found.managed_policies.values())
    fingerprint = (
        tuple((policy.arn, policy.default_version_id) for policy in managed),
        tuple(sorted(found.policies.items())),
    )
    cached = _documents.get(role_arn)
    if cached is not None and cached[0] == fingerprint:
        return cached
    documents = []
    for policy in managed:
        version = next((v for v in policy.versions if v.is_default), None)
        text = version.document if version else getattr(policy, "document", "{}")
        documents.append(json.loads(text) if isinstance(text, str) else text)
    for text in found.policies.values():
        documents.append(json.loads(text) if isinstance(text, str) else text)
    _documents[role_arn] = (fingerprint, documents)
    return fingerprint, documents
