"""The embedded IAM's one decision point: may this role session do this action on this resource?

:func:`authorize` is called in-process by the executors and by the CloudFormation extension (a stack's resources
are created as the stack's role), and, through :func:`apply`, for every API request the embedded AWS receives
signed with a role session's keys (a CodeBuild build's commands, a pipeline's actions). Requests signed with any
other keys are the administrator's and are not checked. :func:`set_enabled` switches enforcement off
(``--iam off``), for exploring only.

A denial reads as AWS's: ``User: <assumed-role ARN> is not authorized to perform: <action> on resource:
<ARN> because no identity-based policy allows the <action> action``, with the error code of the service's
protocol (``AccessDeniedException`` for JSON services, ``AccessDenied`` for query and S3 ones).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import JsonRESTError, _RESTError

from smbundle.local.iam import actions, evaluation, principals, requests, resource_state
from smbundle.local.iam.principals import PARTITION, Principal

log = logging.getLogger(__name__)

_enabled = True
_lock = threading.Lock()


def set_enabled(enabled: bool) -> None:
    global _enabled
    _enabled = enabled


def is_enabled() -> bool:
    return _enabled


class AccessDenied(Exception):
    def __init__(self, principal: Principal, action: str, resource: str, decision: evaluation.Decision):
        self.principal, self.action, self.resource, self.decision = principal, action, resource, decision
        super().__init__(evaluation.denial_message(principal.arn, action, resource, decision.decision))


class LazyContext(Mapping):
    """The request context; resource tags and object tags are looked up only when a policy asks for them."""

    def __init__(self, base: dict[str, Any], resource: str, region: str, live: bool = True):
        self._base = base
        self._resource = resource
        self._region = region
        self._live = live  # False: only what the caller gave (the policy simulator reads no tags)
        self._loaded: dict[str, dict[str, str] | None] = {}
        self.looked_up = False  # whether a decision depended on the account's state (tags)

    def _tags(self, prefix: str) -> dict[str, str]:
        if not self._live:
            return {}
        self.looked_up = True
        if prefix not in self._loaded:
            if prefix == "aws:ResourceTag/":
                self._loaded[prefix] = resource_state.resource_tags(self._resource, self._region)
            else:
                self._loaded[prefix] = resource_state.object_tags(self._resource)
        return self._loaded[prefix] or {}

    def __getitem__(self, key: str) -> Any:
        if key in self._base:
            return self._base[key]
        for prefix in ("aws:ResourceTag/", "s3:ExistingObjectTag/"):
            if key.startswith(prefix):
                tags = self._tags(prefix)
                name = key[len(prefix) :]
                if name in tags:
                    return tags[name]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        keys = dict(self._base)
        keys.update({f"aws:ResourceTag/{k}": v for k, v in self._tags("aws:ResourceTag/").items()})
        keys.update({f"s3:ExistingObjectTag/{k}": v for k, v in self._tags("s3:ExistingObjectTag/").items()})
        return iter(keys)

    def __len__(self) -> int:
        return sum(1 for _ in self)


_decisions: dict[tuple, evaluation.Decision] = {}
_MAX_DECISIONS = 4096


def decide(
    principal: Principal,
    action: str,
    resource: str,
    context: Mapping[str, Any] | None = None,
    region: str = "us-east-1",
    live: bool = True,
) -> evaluation.Decision:
    """The decision for one call. Decisions that depended only on the request (not on resource or object tags)
    are remembered for as long as the role's policies stay the same, so a load test pays for evaluation once.
    ``live=False`` decides on ``context`` alone, reading no resource or object tags (as the policy simulator)."""
    fingerprint, documents = principals.policies(principal.role_arn)
    key = (
        live,
        principal.role_arn,
        fingerprint,
        action,
        resource,
        region,
        tuple(sorted((k, str(v)) for k, v in (context or {}).items())),
    )
    cached = _decisions.get(key)
    if cached is not None:
        return cached
    base = {
        "aws:PrincipalArn": principal.role_arn,
        "aws:PrincipalAccount": principal.account,
        "aws:PrincipalType": "AssumedRole",
        "aws:SecureTransport": "true",
        "aws:RequestedRegion": region,
        "aws:ResourceAccount": principal.account,
        **dict(context or {}),
    }
    lazy = LazyContext(base, resource, region, live)
    decision = evaluation.evaluate(documents, action, resource, lazy)
    if not lazy.looked_up:
        if len(_decisions) >= _MAX_DECISIONS:
            _decisions.clear()
        _decisions[key] = decision
    return decision


def authorize(
    principal: Principal,
    action: str,
    resource: str,
    context: Mapping[str, Any] | None = None,
    region: str = "us-east-1",
) -> None:
    """Raise :class:`AccessDenied` unless the role's policies allow ``action`` on ``resource``."""
    if not _enabled:
        return
    decision = decide(principal, action, resource, context, region)
    if not decision.allowed:
        log.info("denied %s %s on %s", principal.arn, action, resource)
        raise AccessDenied(principal, action, resource, decision)


# -- the HTTP hooks -----------------------------------------------------------------------------------------------
# Services whose signing name is not their IAM service prefix.
SIGNING_NAMES = {"monitoring": "cloudwatch"}


class Unsigned(Exception):
    """A request that carries no signature: an anonymous one."""


def _credential_scope(response) -> tuple[str, str, str]:
    """(access key id, region, signing name) of whoever signed the request: in the Authorization header (SigV4 or
    SigV2), or in the query string of a presigned URL (``X-Amz-Credential``, or SigV2's ``AWSAccessKeyId``).
    Raises :class:`Unsigned` for a request signed neither way."""
    header = response.headers.get("Authorization") or ""
    if "Credential=" in header:
        scope = header.split("Credential=", 1)[1].split(",", 1)[0].strip().split("/")
        if len(scope) >= 4:
            return scope[0], scope[2], scope[3]
    if header.startswith("AWS "):  # SigV2: "AWS <key id>:<signature>"
        return header[4:].split(":", 1)[0], response.region, _signing_name(response)
    query = getattr(response, "querystring", None) or {}
    credential = (query.get("X-Amz-Credential") or [""])[0]
    scope = credential.split("/")
    if len(scope) >= 4:
        return scope[0], scope[2], scope[3]
    key = (query.get("AWSAccessKeyId") or [""])[0]
    if key:
        return key, response.region, _signing_name(response)
    raise Unsigned()


def _signing_name(response) -> str:
    return getattr(response, "service_name", None) or "s3"


def _denied(response, message: str, protocol: str | None):
    protocol = protocol or _protocol(response)
    if protocol == "rest-xml":
        from moto.s3.exceptions import S3ClientError

        error = S3ClientError("AccessDenied", message)
        error.http_status = 403
        return error
    if protocol in ("json", "rest-json"):
        error = JsonRESTError("AccessDeniedException", message)
        error.code = 400
        return error
    error = _RESTError("AccessDenied", message)
    error.code = 403
    return error


def _protocol(response) -> str:
    """The protocol the request came in (a service may speak several: CloudWatch's model lists
    smithy-rpc-v2-cbor, json and query, and the SDK picks one), so the denial is one the caller can read."""
    from moto.core.request import determine_request_protocol
    from moto.core.utils import get_service_model

    try:
        model = get_service_model(response.boto3_service_name)
        return determine_request_protocol(model, response.headers.get("Content-Type"))
    except Exception:  # an unknown service model or protocol: answer in JSON
        return "json"


def _request_params(response) -> dict:
    try:
        response.parse_parameters(response.normalized_request)
        params = response.params
        return dict(params) if isinstance(params, dict) else {}
    except Exception:
        import json

        try:
            return json.loads(response.body or "{}")
        except (TypeError, ValueError):
            return {}


def _missing_token(response, protocol: str | None):
    """What AWS answers a request without a signature, where nothing is public."""
    protocol = protocol or _protocol(response)
    if protocol == "rest-xml":
        from moto.s3.exceptions import S3ClientError

        error = S3ClientError("AccessDenied", "Access Denied")
        error.http_status = 403
        return error
    if protocol in ("json", "rest-json"):
        error = JsonRESTError("MissingAuthenticationTokenException", "Missing Authentication Token")
        error.code = 403
        return error
    error = _RESTError("MissingAuthenticationToken", "Request is missing Authentication Token")
    error.code = 403
    return error


def _check_request(response, operation: str | None, params: dict | None, protocol: str | None) -> None:
    try:
        scope = _credential_scope(response)
    except Unsigned:
        principals.caller.set(None)
        principals.anonymous.set(True)
        if _enabled and protocol != "rest-xml":  # S3 decides by the bucket's policy (_check_anonymous)
            raise _missing_token(response, protocol) from None
        return
    principals.anonymous.set(False)
    principal = principals.for_access_key(response.current_account, scope[0])
    principals.caller.set(principal)
    if principal is None or not _enabled:
        return
    _, region, signing_name = scope
    prefix = SIGNING_NAMES.get(signing_name, signing_name)
    operation = operation or response._get_action()
    action = f"{prefix}:{operation}"
    if action == "sts:GetCallerIdentity":  # IAM always allows it
        return
    if params is None:
        params = _request_params(response)
    try:
        checks = requests.checks(
            action,
            params,
            region=region,
            account=principal.account,
            stateful=resource_state.STATEFUL_RESOLVERS,
        )
    except (requests.CannotResolve, actions.UnknownAction) as exc:
        raise _denied(
            response, f"User: {principal.arn} is not authorized to perform: {action}: {exc}", protocol
        ) from None
    for check in checks:
        try:
            authorize(principal, check.action, check.resource, check.context, region)
        except AccessDenied as denial:
            raise _denied(response, str(denial), protocol) from None


def _normal_action(self, resource: str = "*") -> None:
    _check_request(self, None, None, None)


# Bucket subresources moto does not tell apart (it labels them CreateBucket, DeleteBucket or ListBucket): the IAM
# action S3 authorizes each as, by HTTP method and query parameter.
_BUCKET_SUBRESOURCES = {
    "PUT": {
        "accelerate": "PutAccelerateConfiguration",
        "acl": "PutBucketAcl",
        "analytics": "PutAnalyticsConfiguration",
        "cors": "PutBucketCORS",
        "encryption": "PutEncryptionConfiguration",
        "intelligent-tiering": "PutIntelligentTieringConfiguration",
        "inventory": "PutInventoryConfiguration",
        "lifecycle": "PutLifecycleConfiguration",
        "logging": "PutBucketLogging",
        "metrics": "PutMetricsConfiguration",
        "notification": "PutBucketNotification",
        "object-lock": "PutBucketObjectLockConfiguration",
        "ownershipControls": "PutBucketOwnershipControls",
        "policy": "PutBucketPolicy",
        "publicAccessBlock": "PutBucketPublicAccessBlock",
        "replication": "PutReplicationConfiguration",
        "requestPayment": "PutBucketRequestPayment",
        "tagging": "PutBucketTagging",
        "versioning": "PutBucketVersioning",
        "website": "PutBucketWebsite",
    },
    "DELETE": {
        "analytics": "PutAnalyticsConfiguration",
        "cors": "PutBucketCORS",
        "encryption": "PutEncryptionConfiguration",
        "intelligent-tiering": "PutIntelligentTieringConfiguration",
        "inventory": "PutInventoryConfiguration",
        "lifecycle": "PutLifecycleConfiguration",
        "metrics": "PutMetricsConfiguration",
        "ownershipControls": "PutBucketOwnershipControls",
        "policy": "DeleteBucketPolicy",
        "publicAccessBlock": "PutBucketPublicAccessBlock",
        "replication": "PutReplicationConfiguration",
        "tagging": "PutBucketTagging",
        "website": "DeleteBucketWebsite",
    },
    "GET": {
        "encryption": "GetEncryptionConfiguration",
        "object-lock": "GetBucketObjectLockConfiguration",
        "ownershipControls": "GetBucketOwnershipControls",
        "publicAccessBlock": "GetBucketPublicAccessBlock",
        "replication": "GetReplicationConfiguration",
        "requestPayment": "GetBucketRequestPayment",
    },
}


def _bucket_operation(response, operation: str) -> str:
    """The IAM action of a bucket request, where moto's label is its method's default."""
    method = str(getattr(response, "method", "") or "").upper()
    query = getattr(response, "querystring", None) or {}
    for parameter, action in _BUCKET_SUBRESOURCES.get(method, {}).items():
        if parameter in query:
            return action
    return operation


def _deleted_keys(response) -> list[str]:
    """The keys a DeleteObjects request names (its XML body)."""
    from xml.etree import ElementTree

    body = response.body or b""
    try:
        root = ElementTree.fromstring(body if isinstance(body, bytes) else body.encode())
    except ElementTree.ParseError:
        return []
    return [element.text or "" for element in root.iter() if element.tag.rsplit("}", 1)[-1] == "Key"]


def _copy_source(header: str) -> tuple[str, str]:
    """(bucket, key) of an x-amz-copy-source, decoded as S3 (and moto) decode it."""
    from urllib.parse import unquote, urlparse

    bucket, _, key = unquote(urlparse(header).path).lstrip("/").partition("/")
    return bucket, key


def _s3_action(self, bucket_name: str | None = None, key_name: str | None = None) -> None:
    operation = self.data.get("Action") if isinstance(getattr(self, "data", None), dict) else None
    operation = requests.S3_ACTION_NAMES.get(operation, operation) or "ListAllMyBuckets"
    query = getattr(self, "querystring", None) or {}
    if bucket_name and key_name is None:
        operation = _bucket_operation(self, operation)
        if operation == "DeleteObject" and "delete" in query:  # DeleteObjects: each key is a DeleteObject
            for key in _deleted_keys(self) or [""]:
                _s3_checks(self, "DeleteObject", bucket_name, key, None)
            return
    _s3_checks(self, operation, bucket_name, key_name, self.headers.get("x-amz-tagging"))
    source = self.headers.get("x-amz-copy-source")
    if source and key_name:
        source_bucket, source_key = _copy_source(source)
        _s3_checks(self, "GetObject", source_bucket, source_key, None)


def _s3_checks(response, operation: str, bucket: str | None, key: str | None, tagging: str | None) -> None:
    params = {"Bucket": bucket, "Key": key, "Tagging": tagging}
    _check_request(response, operation, params, "rest-xml")
    _check_anonymous(response, operation, bucket, key)
    _check_other_account(response, operation, bucket, key)


def _bucket_policy(bucket_name: str) -> tuple[str | None, str | None]:
    """(owner account, policy text) of a bucket; (None, None) when there is no such bucket."""
    from moto.s3.models import s3_backends

    from smbundle.local.s3 import public_samples

    public_samples.serve_if_sample(bucket_name)  # AWS's sample buckets exist before anyone names them
    partition, owner = s3_backends.bucket_accounts.get(bucket_name, (PARTITION, None))
    if owner is None:
        return None, None
    bucket = s3_backends[owner][partition].buckets.get(bucket_name)
    return owner, (bucket.policy.decode() if bucket is not None and bucket.policy else None)


def _check_anonymous(response, operation: str, bucket_name: str | None, key_name: str | None) -> None:
    """An unsigned S3 request is anonymous. It gets what the bucket makes public, as S3 decides it: a bucket policy
    that grants everyone (``"Principal": "*"``) unless Block Public Access restricts public buckets, or a
    public-read ACL where the bucket's object ownership enables ACLs and Block Public Access does not ignore them;
    a policy's Deny to everyone wins. A bucket without these settings has S3's defaults for new buckets (public
    access blocked, ACLs disabled). Nothing else: AccessDenied, as S3 answers it."""
    from smbundle.local.s3 import bucket_policy

    if not _enabled or not principals.anonymous.get():
        return
    owner, policy = _bucket_policy(bucket_name) if bucket_name else (None, None)
    bucket = _bucket(owner, bucket_name) if owner else None
    if bucket is None:
        raise _missing_token(response, "rest-xml")
    action, resource = f"s3:{operation}", f"arn:aws:s3:::{bucket_name}" + (f"/{key_name}" if key_name else "")
    if bucket_policy.denies_everyone(policy, action, resource):
        raise _missing_token(response, "rest-xml")
    block = _public_access_block(bucket, owner)
    if not block["RestrictPublicBuckets"] and bucket_policy.grants_everyone(policy, action, resource):
        return
    if not block["IgnorePublicAcls"] and _public_by_acl(bucket, key_name, operation):
        return
    raise _missing_token(response, "rest-xml")


def _bucket(owner: str, bucket_name: str):
    from moto.s3.models import s3_backends

    partition, _ = s3_backends.bucket_accounts.get(bucket_name, (PARTITION, owner))
    return s3_backends[owner][partition].buckets.get(bucket_name)


def _public_access_block(bucket, owner: str) -> dict[str, bool]:
    """The bucket's Block Public Access settings; S3's defaults (all on) when it has none. AWS's own public sample
    buckets (another account's, served by sample_data) are public by their owner's choice."""
    from smbundle.local.sample_data import PUBLIC_SAMPLE_OWNER

    configured = getattr(bucket, "public_access_block", None)
    if configured is None:
        blocked = owner != PUBLIC_SAMPLE_OWNER
        return {"IgnorePublicAcls": blocked, "RestrictPublicBuckets": blocked}
    return {
        "IgnorePublicAcls": bool(configured.ignore_public_acls),
        "RestrictPublicBuckets": bool(configured.restrict_public_buckets),
    }


def _public_by_acl(bucket, key_name: str | None, operation: str) -> bool:
    """A public-read ACL (the bucket's for listing, the object's for reading) lets anyone read, where the bucket's
    object ownership enables ACLs (ObjectWriter or BucketOwnerPreferred; new buckets have them disabled)."""
    if operation not in ("GetObject", "ListBucket", "HeadObject"):
        return False
    rule = getattr(bucket, "ownership_rule", None)  # moto keeps the ObjectOwnership value itself
    ownership = rule.get("ObjectOwnership") if isinstance(rule, dict) else rule
    if ownership in (None, "BucketOwnerEnforced"):
        return False
    if key_name is None:
        return bool(bucket.acl and bucket.acl.public_read)
    key = bucket.keys.get(key_name)
    return bool(key is not None and key.acl and key.acl.public_read)


def _check_other_account(response, operation: str, bucket_name: str | None, key_name: str | None) -> None:
    """A bucket of another account (AWS's public sample buckets) answers only what its bucket policy grants the
    caller: the caller's own policies are not enough, and an administrator of this account is no exception."""
    from smbundle.local.s3 import bucket_policy

    creating = operation == "CreateBucket"  # a true CreateBucket: subresource PUTs are told apart above
    if not _enabled or not bucket_name or creating:  # a taken name is BucketAlreadyExists
        return
    if principals.anonymous.get():
        return  # _check_anonymous decided
    owner, policy = _bucket_policy(bucket_name)
    principal = principals.caller.get()
    account = principal.account if principal is not None else response.current_account
    if owner is None or owner == account:
        return
    resource = f"arn:aws:s3:::{bucket_name}" + (f"/{key_name}" if key_name else "")
    action = f"s3:{operation}"
    if not bucket_policy.grants_cross_account(
        policy, action, resource, account, principal.role_arn if principal else None
    ):
        who = principal.arn if principal is not None else f"arn:aws:iam::{account}:root"
        raise _denied(
            response,
            f'User: {who} is not authorized to perform: {action} on resource: "{resource}" because no '
            f"resource-based policy allows the {action} action",
            "rest-xml",
        )


_applied = False


def apply() -> None:
    global _applied
    with _lock:
        if _applied:
            return
        ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = _normal_action
        ActionAuthenticatorMixin._authenticate_and_authorize_s3_action = _s3_action
        _applied = True
