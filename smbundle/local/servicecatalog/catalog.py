"""Service Catalog as SageMaker Projects use it, on top of moto's portfolios and products.

moto implements 11 of Service Catalog's operations. This adds what publishing and provisioning need:
provisioning artifacts (create, list, describe, update/deprecate, delete), product/portfolio associations,
principals, LAUNCH constraints, product search, launch paths, and ProvisionProduct / TerminateProvisionedProduct,
which run the artifact's template through the embedded CloudFormation (UpdateProvisionedProduct:
``provisioned_updates.py``). State lives on moto's backend object, so
``/moto-api/reset`` clears it with everything else.
"""

from __future__ import annotations

import json
import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from moto.cloudformation.models import cloudformation_backends
from moto.servicecatalog.models import ServiceCatalogBackend, servicecatalog_backends

from smbundle.local.iam import enforcement, principals
from smbundle.local.iam.principals import Principal
from smbundle.local.s3 import objects


class CatalogError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _id(prefix: str) -> str:
    return prefix + "".join(random.choices(string.ascii_lowercase + string.digits, k=13))


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Artifact:
    id: str
    name: str
    description: str
    template_url: str
    template_body: str = ""  # Service Catalog's own copy, taken when the artifact is created
    type: str = "CLOUD_FORMATION_TEMPLATE"
    active: bool = True
    guidance: str = "DEFAULT"
    created: datetime = field(default_factory=_now)

    def detail(self) -> dict:
        return {
            "Id": self.id,
            "Name": self.name,
            "Description": self.description,
            "Type": self.type,
            "CreatedTime": self.created,
            "Active": self.active,
            "Guidance": self.guidance,
        }


@dataclass
class Provisioned:
    id: str
    name: str
    arn: str
    product_id: str
    artifact_id: str
    stack_id: str | None
    status: str
    created: datetime
    tags: list[dict]
    last_record_id: str
    last_successful_record_id: str | None = None  # differs from the last one after a failed update
    status_message: str | None = None

    def detail(self) -> dict:
        detail = {
            "Name": self.name,
            "Arn": self.arn,
            "Type": "CFN_STACK",
            "Id": self.id,
            "Status": self.status,
            "CreatedTime": self.created,
            "LastRecordId": self.last_record_id,
            "LastProvisioningRecordId": self.last_record_id,
            "LastSuccessfulProvisioningRecordId": self.last_successful_record_id or self.last_record_id,
            "ProductId": self.product_id,
            "ProvisioningArtifactId": self.artifact_id,
            "PhysicalId": self.stack_id or "",
            "Tags": self.tags,
        }
        if self.status_message:
            detail["StatusMessage"] = self.status_message
        return detail


@dataclass
class CatalogState:
    artifacts: dict[str, list[Artifact]] = field(default_factory=dict)  # product id -> artifacts
    portfolio_products: dict[str, list[str]] = field(default_factory=dict)
    principals: dict[str, list[dict]] = field(default_factory=dict)
    constraints: list[dict] = field(default_factory=list)
    provisioned: dict[str, Provisioned] = field(default_factory=dict)
    records: dict[str, dict] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)


def state(backend: ServiceCatalogBackend) -> CatalogState:
    if not hasattr(backend, "catalog_state"):
        backend.catalog_state = CatalogState()
    return backend.catalog_state


def backend_for(account_id: str, region: str) -> ServiceCatalogBackend:
    return servicecatalog_backends[account_id][region]


def product(backend: ServiceCatalogBackend, product_id: str):
    found = backend.products.get(product_id)
    if found is None:
        raise CatalogError("ResourceNotFoundException", f"Product {product_id} not found.")
    return found


def portfolio(backend: ServiceCatalogBackend, portfolio_id: str):
    """The portfolio, or ResourceNotFoundException as AWS answers (moto answers an empty portfolio)."""
    found = backend.portfolios.get(portfolio_id)
    if found is None:
        raise CatalogError("ResourceNotFoundException", f"Portfolio {portfolio_id} not found.")
    return found


def artifact(
    backend: ServiceCatalogBackend, product_id: str, artifact_id: str | None, name: str | None = None
) -> Artifact:
    for candidate in state(backend).artifacts.get(product(backend, product_id).id, []):
        if candidate.id == artifact_id or (name and candidate.name == name):
            return candidate
    raise CatalogError("ResourceNotFoundException", f"Provisioning artifact {artifact_id or name} not found.")


def add_artifact(
    backend: ServiceCatalogBackend, product_id: str, parameters: dict, token: str | None = None
) -> Artifact:
    key = f"artifact:{product_id}:{token}" if token else None
    catalog = state(backend)
    if key and key in catalog.tokens:
        return artifact(backend, product_id, catalog.tokens[key])
    url = (parameters.get("Info") or {}).get("LoadTemplateFromURL")
    if not url:
        raise CatalogError("InvalidParametersException", "Info.LoadTemplateFromURL is required.")
    body = read_template(backend.account_id, url)
    created = Artifact(
        id=_id("pa-"),
        name=parameters.get("Name") or "v1",
        description=parameters.get("Description") or "",
        template_url=url,
        template_body=body,
        type=parameters.get("Type", "CLOUD_FORMATION_TEMPLATE"),
    )
    catalog.artifacts.setdefault(product_id, []).append(created)
    if key:
        catalog.tokens[key] = created.id
    return created


def read_template(account_id: str, url: str) -> str:
    """The template body behind an S3 HTTPS URL (virtual-hosted, path-style or regional) in the embedded S3."""
    parsed = urlparse(url)
    host, path = parsed.netloc, parsed.path.lstrip("/")
    if ".s3" in host and not host.startswith("s3"):
        bucket, key = host.split(".s3", 1)[0], path
    else:
        bucket, _, key = path.partition("/")
    try:
        return objects.get_bytes(f"s3://{bucket}/{key}", account_id).decode()
    except Exception as exc:
        raise CatalogError(
            "InvalidParametersException", f"Unable to load the template from {url}: {exc}"
        ) from exc


def provision(
    backend: ServiceCatalogBackend,
    product_id: str,
    artifact_id: str | None,
    name: str,
    parameters: list[dict],
    tags: list[dict],
    artifact_name: str | None = None,
) -> dict:
    """ProvisionProduct: run the artifact's template as a stack; returns the record."""
    chosen = artifact(backend, product_id, artifact_id, artifact_name)
    if not chosen.active:
        raise CatalogError("InvalidParametersException", f"Provisioning artifact {chosen.id} is not active.")
    catalog = state(backend)
    if any(p.name == name for p in catalog.provisioned.values()):
        raise CatalogError(
            "DuplicateResourceException", f"A provisioned product named {name} already exists."
        )
    pp_id = _id("pp-")
    record_id = _id("rec-")
    stack_name = f"SC-{backend.account_id}-{pp_id}"
    cloudformation = cloudformation_backends[backend.account_id][backend.region_name]
    errors, status, stack_id, outputs = [], "SUCCEEDED", None, []
    try:
        launcher = launch_principal(backend, product_id)
        stack_tags = {t["Key"]: t["Value"] for t in tags}
        _authorize_launch(backend, launcher, chosen, stack_name, stack_tags)
        token = principals.caller.set(launcher)
        try:
            stack = cloudformation.create_stack(
                name=stack_name,
                template=chosen.template_body,
                parameters={p["Key"]: p["Value"] for p in parameters},
                tags=stack_tags,
            )
        finally:
            principals.caller.reset(token)
        stack_id = stack.stack_id
        if stack.status != "CREATE_COMPLETE":
            raise CatalogError("StackFailed", stack_failure(stack))
        outputs = [
            {
                "OutputKey": o["OutputKey"],
                "OutputValue": str(o["OutputValue"]),
                "Description": o["Description"] or "",
            }
            for o in stack.outputs or []
        ]
    except Exception as exc:
        status = "FAILED"
        errors = [{"Code": _code(exc), "Description": _message(exc)}]
    provisioned = Provisioned(
        id=pp_id,
        name=name,
        arn=f"arn:aws:servicecatalog:{backend.region_name}:{backend.account_id}:stack/{name}/{pp_id}",
        product_id=product_id,
        artifact_id=chosen.id,
        stack_id=stack_id,
        status="AVAILABLE" if status == "SUCCEEDED" else "ERROR",
        created=_now(),
        tags=tags,
        last_record_id=record_id,
    )
    catalog.provisioned[pp_id] = provisioned
    record = {
        "RecordId": record_id,
        "ProvisionedProductName": name,
        "Status": status,
        "CreatedTime": provisioned.created,
        "UpdatedTime": _now(),
        "ProvisionedProductType": "CFN_STACK",
        "RecordType": "PROVISION_PRODUCT",
        "ProvisionedProductId": pp_id,
        "ProductId": product_id,
        "ProvisioningArtifactId": chosen.id,
        "RecordErrors": errors,
        "RecordTags": tags,
        "outputs": outputs,
    }
    catalog.records[record_id] = record
    return record


def _code(exc: Exception) -> str:
    for attribute in ("error_type", "code"):
        value = getattr(exc, attribute, None)
        if isinstance(value, str):
            return value
    return type(exc).__name__


def _message(exc: Exception) -> str:
    return getattr(exc, "message", None) or str(exc)


def stack_failure(stack) -> str:
    """Why a stack failed, as its events tell it: the stack's reason, then each failed resource's."""
    failed = [
        e
        for e in stack.events
        if e.resource_status.endswith("_FAILED") and e.logical_resource_id != stack.name
    ]
    rollback = next(
        (e.resource_status_reason for e in stack.events if e.resource_status == "ROLLBACK_IN_PROGRESS"), None
    )
    reasons = dict.fromkeys(f"{e.logical_resource_id}: {e.resource_status_reason}" for e in failed)
    details = " ".join(reasons)
    return " ".join(p for p in (f"stack {stack.name} is {stack.status}.", rollback, details) if p)


def launch_role_arn(backend: ServiceCatalogBackend, product_id: str) -> str | None:
    """The RoleArn of the LAUNCH constraint on the product, if any (Service Catalog provisions as it)."""
    for constraint in state(backend).constraints:
        if constraint["ProductId"] == product_id and constraint["Type"] == "LAUNCH":
            return json.loads(constraint["Parameters"]).get("RoleArn")
    return None


def launch_principal(backend: ServiceCatalogBackend, product_id: str) -> Principal | None:
    """Service Catalog assumes the launch role; without a launch constraint it uses the caller's credentials."""
    role_arn = launch_role_arn(backend, product_id)
    if role_arn is None or not enforcement.is_enabled():
        return principals.caller.get()
    try:
        principals.assume(role_arn, "servicecatalog.amazonaws.com", "servicecatalog", backend.region_name)
    except principals.AssumeRoleFailed as failure:
        raise CatalogError(
            "InvalidParametersException", f"the launch role cannot be used: {failure}"
        ) from None
    return Principal(role_arn, "servicecatalog")


def _authorize_launch(
    backend, launcher: Principal | None, chosen: Artifact, stack_name: str, tags: dict
) -> None:
    """What the launch role itself must be allowed: read Service Catalog's copy of the template (a
    service-owned object tagged servicecatalog:provisioning=true), create the SC-* stack, and tag it."""
    if launcher is None:
        return
    region, account = backend.region_name, backend.account_id
    template_copy = f"arn:aws:s3:::sc-{account}-{region}-templates/{chosen.id}/template.yaml"
    stack_arn = f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/*"
    visible = {k: v for k, v in tags.items() if not k.startswith("aws:")}
    tag_context = {f"aws:RequestTag/{k}": v for k, v in visible.items()}
    tag_context.update({f"aws:ResourceTag/{k}": v for k, v in visible.items()})
    tag_context["aws:TagKeys"] = sorted(visible)
    checks = [
        ("s3:GetObject", template_copy, {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"}),
        ("cloudformation:CreateStack", stack_arn, {}),
    ]
    if visible:
        checks.append(("cloudformation:TagResource", stack_arn, tag_context))
    for action, resource, context in checks:
        enforcement.authorize(launcher, action, resource, context, region)


def terminate(backend: ServiceCatalogBackend, pp_id: str | None, name: str | None) -> dict:
    catalog = state(backend)
    found = next(
        (p for p in catalog.provisioned.values() if p.id == pp_id or (name and p.name == name)), None
    )
    if found is None:
        raise CatalogError("ResourceNotFoundException", f"Provisioned product {pp_id or name} not found.")
    errors = []
    if found.stack_id:
        cloudformation = cloudformation_backends[backend.account_id][backend.region_name]
        token = principals.caller.set(launch_principal(backend, found.product_id))
        try:
            cloudformation.delete_stack(found.stack_id)
        finally:
            principals.caller.reset(token)
        remaining = cloudformation.stacks.get(found.stack_id)
        if remaining is not None and remaining.status == "DELETE_FAILED":
            errors = [{"Code": "StackFailed", "Description": stack_failure(remaining)}]
    if errors:
        found.status = "TAINTED"
    else:
        del catalog.provisioned[found.id]
    record_id = _id("rec-")
    record = {
        "RecordId": record_id,
        "ProvisionedProductName": found.name,
        "Status": "FAILED" if errors else "SUCCEEDED",
        "CreatedTime": _now(),
        "UpdatedTime": _now(),
        "ProvisionedProductType": "CFN_STACK",
        "RecordType": "TERMINATE_PROVISIONED_PRODUCT",
        "ProvisionedProductId": found.id,
        "ProductId": found.product_id,
        "ProvisioningArtifactId": found.artifact_id,
        "RecordErrors": errors,
        "outputs": [],
    }
    catalog.records[record_id] = record
    return record


def public_record(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "outputs"}


def new_constraint(backend: ServiceCatalogBackend, body: dict[str, Any]) -> dict:
    catalog = state(backend)
    portfolio(backend, body["PortfolioId"])
    product(backend, body["ProductId"])
    if body["ProductId"] not in catalog.portfolio_products.get(body["PortfolioId"], []):
        raise CatalogError(
            "InvalidParametersException",
            f"Product {body['ProductId']} is not associated with portfolio {body['PortfolioId']}.",
        )
    token = body.get("IdempotencyToken")
    for existing in catalog.constraints:
        same = (existing["PortfolioId"], existing["ProductId"], existing["Type"]) == (
            body["PortfolioId"],
            body["ProductId"],
            body["Type"],
        )
        if same and (existing.get("token") == token or body["Type"] == "LAUNCH"):
            if existing.get("token") == token:
                return existing
            raise CatalogError(
                "DuplicateResourceException", "A LAUNCH constraint already exists for this product."
            )
    parameters = body["Parameters"]
    json.loads(parameters)
    constraint = {
        "ConstraintId": f"cons-{uuid.uuid4().hex[:13]}",
        "Type": body["Type"],
        "Description": body.get("Description", ""),
        "Owner": backend.account_id,
        "ProductId": body["ProductId"],
        "PortfolioId": body["PortfolioId"],
        "Parameters": parameters,
        "token": token,
    }
    catalog.constraints.append(constraint)
    return constraint
