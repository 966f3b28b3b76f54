"""Role sessions for the local executors, through the API (so they work against any embedded AWS endpoint).

A local executor that stands in for a service (CodeBuild, CodePipeline, EventBridge) assumes the role that
service would assume, with the same check STS makes (the role exists and its trust policy names the service),
and then signs its calls with the session's credentials: the embedded IAM evaluates them against the role's
policies. Calls a service makes internally, which have no public API (CodePipeline's ``codecommit:UploadArchive``,
``codebuild:StartBuild`` of a local build...), are authorized with ``iam:SimulatePrincipalPolicy``, which the
embedded IAM answers with the same evaluator.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from urllib.parse import unquote

from botocore.config import Config
from botocore.exceptions import ClientError

from smbundle.local import boto_sessions
from smbundle.local.iam.evaluation import denial_message
from smbundle.local.iam.principals import Credentials, trusts


class RoleUnusable(Exception):
    """The service cannot act as the role (missing role, trust policy that does not name the service)."""


class Denied(Exception):
    """A call the role may not make; the message reads as AWS's."""


@dataclass
class RoleSession:
    role_arn: str
    session_name: str
    credentials: Credentials
    region: str | None
    endpoint_url: str | None
    _clients: dict = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def principal_arn(self) -> str:
        account = self.role_arn.split(":")[4]
        return f"arn:aws:sts::{account}:assumed-role/{self.role_arn.rsplit('/', 1)[-1]}/{self.session_name}"

    def client(self, service: str):
        """A client signed with the session's credentials (one per service: creating one costs milliseconds)."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = boto_sessions.client(
                    service,
                    self.region,
                    self.endpoint_url,
                    Config(retries={"mode": "standard"}),
                    **self.credentials.session_kwargs(),
                )
            return self._clients[service]

    def authorize(
        self, action: str, resource: str, context: dict[str, str | list[str]] | None = None
    ) -> None:
        """Ask the embedded IAM whether the role may make a call that has no public API; raise Denied if not.
        Decided as a request is (the executors run in the embedded AWS's process): with the resource's live tags,
        which the policy simulator, as AWS's, does not read."""
        from smbundle.local.iam import enforcement
        from smbundle.local.iam.principals import Principal

        principal = Principal(self.role_arn, self.session_name)
        try:
            enforcement.authorize(principal, action, resource, context, self.region or "us-east-1")
        except enforcement.AccessDenied as denial:
            raise Denied(
                denial_message(self.principal_arn, action, resource, denial.decision.decision)
            ) from None


def assume(
    region: str | None,
    endpoint_url: str | None,
    role_arn: str,
    service: str,
    session_name: str | None = None,
) -> RoleSession:
    """Assume ``role_arn`` as ``service`` would, with the process's own credentials (the embedded AWS's
    administrator's), in ``region`` of the embedded AWS at ``endpoint_url``."""
    iam = boto_sessions.admin_client("iam", region, endpoint_url)
    name = role_arn.rsplit("/", 1)[-1]
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError:
        role = None
    if role is None or role["Arn"] != role_arn:
        raise RoleUnusable(f"{service} cannot assume role {role_arn}: the role does not exist")
    document = role["AssumeRolePolicyDocument"]
    if isinstance(document, str):
        document = json.loads(unquote(document))
    if not trusts(document, service):
        raise RoleUnusable(
            f"{service} cannot assume role {role_arn}: its trust policy does not allow {service} to call sts:AssumeRole"
        )
    session_name = (session_name or f"{service.split('.')[0]}-{uuid.uuid4().hex[:12]}")[:64]
    answer = boto_sessions.admin_client("sts", region, endpoint_url).assume_role(
        RoleArn=role_arn, RoleSessionName=session_name
    )
    raw = answer["Credentials"]
    credentials = Credentials(raw["AccessKeyId"], raw["SecretAccessKey"], raw["SessionToken"])
    return RoleSession(role_arn, session_name, credentials, region, endpoint_url)
