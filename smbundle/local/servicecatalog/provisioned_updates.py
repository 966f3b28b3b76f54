"""UpdateProvisionedProduct as Service Catalog runs it: a stack update, as the launch role, in the background.

The request answers at once with a record (``IN_PROGRESS``; the provisioned product is ``UNDER_CHANGE``). The update
then runs the chosen artifact's template (Service Catalog's own copy) through the embedded CloudFormation as the
launch constraint's role, which must be allowed to read that copy and ``cloudformation:UpdateStack`` on the
``SC-*`` stack; the stack authorizes each resource change as that role (stack_operations). Parameters:
``UsePreviousValue`` keeps the value the stack has (refused together with a ``Value``, as AWS refuses it); a
parameter not given takes the template's default, as CloudFormation's UpdateStack does. The record ends
``SUCCEEDED`` (the provisioned product ``AVAILABLE`` on the new artifact) or ``FAILED`` with the stack's reasons (the
product ``TAINTED``: the stack rolled back to what it was). Updates run one at a time, in the order they came.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from moto.cloudformation.models import cloudformation_backends
from moto.servicecatalog.models import ServiceCatalogBackend
from moto.servicecatalog.responses import ServiceCatalogResponse

from smbundle.local import crashes
from smbundle.local.iam import enforcement, principals
from smbundle.local.iam.principals import Principal
from smbundle.local.servicecatalog import catalog
from smbundle.local.servicecatalog.catalog import CatalogError
from smbundle.local.servicecatalog.responses import _handler

log = logging.getLogger(__name__)

_one_at_a_time = threading.Lock()
BUSY = ("UNDER_CHANGE", "PLAN_IN_PROGRESS")


def _provisioned(backend: ServiceCatalogBackend, pp_id: str | None, name: str | None) -> catalog.Provisioned:
    for provisioned in catalog.state(backend).provisioned.values():
        if provisioned.id == pp_id or (name and provisioned.name == name):
            return provisioned
    raise CatalogError("ResourceNotFoundException", f"Provisioned product {pp_id or name} not found.")


def _parameters(given: list[dict]) -> list[dict]:
    """The UpdateStack parameters for Service Catalog's ProvisioningParameters."""
    parameters = []
    for parameter in given:
        key = parameter.get("Key")
        if not key:
            raise CatalogError("InvalidParametersException", "Each provisioning parameter needs a Key.")
        if parameter.get("UsePreviousValue"):
            if parameter.get("Value"):
                raise CatalogError(
                    "InvalidParametersException",
                    f"Invalid input for parameter key {key}. Cannot specify usePreviousValue as true and non "
                    "empty value for a parameter",
                )
            parameters.append({"ParameterKey": key, "UsePreviousValue": True})
        else:
            parameters.append({"ParameterKey": key, "ParameterValue": parameter.get("Value", "")})
    return parameters


def _authorize_update(backend, launcher: Principal | None, chosen: catalog.Artifact, stack_name: str) -> None:
    """What the launch role itself must be allowed: read Service Catalog's copy of the template and update the
    SC-* stack."""
    if launcher is None:
        return
    region, account = backend.region_name, backend.account_id
    template_copy = f"arn:aws:s3:::sc-{account}-{region}-templates/{chosen.id}/template.yaml"
    stack_arn = f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/*"
    enforcement.authorize(
        launcher,
        "s3:GetObject",
        template_copy,
        {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"},
        region,
    )
    enforcement.authorize(launcher, "cloudformation:UpdateStack", stack_arn, {}, region)


def start(
    backend: ServiceCatalogBackend,
    body: dict,
    on_done: Callable[[dict], None] | None = None,
) -> dict:
    """UpdateProvisionedProduct: check the request, record it IN_PROGRESS, and run the update in the background;
    ``on_done(record)`` is called when it ends."""
    provisioned = _provisioned(backend, body.get("ProvisionedProductId"), body.get("ProvisionedProductName"))
    if provisioned.status in BUSY:
        raise CatalogError(
            "InvalidStateException",
            f"Provisioned product {provisioned.id} is {provisioned.status}; try later.",
        )
    product_id = body.get("ProductId") or provisioned.product_id
    if product_id != provisioned.product_id:
        raise CatalogError(
            "InvalidParametersException",
            f"Provisioned product {provisioned.id} was launched from product {provisioned.product_id}.",
        )
    chosen = catalog.artifact(
        backend,
        product_id,
        body.get("ProvisioningArtifactId")
        or (None if body.get("ProvisioningArtifactName") else provisioned.artifact_id),
        body.get("ProvisioningArtifactName"),
    )
    if not chosen.active:
        raise CatalogError("InvalidParametersException", f"Provisioning artifact {chosen.id} is not active.")
    if provisioned.stack_id is None:
        raise CatalogError(
            "InvalidStateException", f"Provisioned product {provisioned.id} has no stack to update."
        )
    given = list(body.get("ProvisioningParameters") or [])
    _parameters(given)  # a malformed request is refused now, before anything is recorded
    record_id = catalog._id("rec-")
    record = {
        "RecordId": record_id,
        "ProvisionedProductName": provisioned.name,
        "Status": "IN_PROGRESS",
        "CreatedTime": catalog._now(),
        "UpdatedTime": catalog._now(),
        "ProvisionedProductType": "CFN_STACK",
        "RecordType": "UPDATE_PROVISIONED_PRODUCT",
        "ProvisionedProductId": provisioned.id,
        "ProductId": product_id,
        "ProvisioningArtifactId": chosen.id,
        "RecordErrors": [],
        "RecordTags": provisioned.tags,
        "outputs": [],
    }
    catalog.state(backend).records[record_id] = record
    if provisioned.status == "AVAILABLE" and provisioned.last_successful_record_id is None:
        provisioned.last_successful_record_id = provisioned.last_record_id
    provisioned.status, provisioned.last_record_id, provisioned.status_message = (
        "UNDER_CHANGE",
        record_id,
        None,
    )

    def work() -> None:
        with _one_at_a_time:
            try:
                _run(backend, provisioned, chosen, given, record)
            except Exception as exc:  # never leave the record IN_PROGRESS
                crashes.report(log, "update of %s crashed", provisioned.id)
                _finish(provisioned, record, failure=f"{type(exc).__name__}: {exc}")
        if on_done is not None:
            on_done(record)

    threading.Thread(target=work, name=f"sc-update-{provisioned.id}", daemon=True).start()
    return record


def _run(
    backend, provisioned: catalog.Provisioned, chosen: catalog.Artifact, given: list[dict], record
) -> None:
    cloudformation = cloudformation_backends[backend.account_id][backend.region_name]
    stack = cloudformation.get_stack(provisioned.stack_id)
    before = len(stack.events)
    try:
        launcher = catalog.launch_principal(backend, provisioned.product_id)
        _authorize_update(backend, launcher, chosen, stack.name)
        token = principals.caller.set(launcher)
        try:
            cloudformation.update_stack(stack.name, chosen.template_body, None, _parameters(given), None)
        finally:
            principals.caller.reset(token)
    except Exception as exc:  # refused before the stack changed (a rule, a parameter, a denied call)
        _finish(provisioned, record, failure=f"{catalog._code(exc)}: {catalog._message(exc)}")
        return
    if stack.status != "UPDATE_COMPLETE":
        _finish(
            provisioned,
            record,
            failure=_update_failure(stack, before),
            broken=stack.status.endswith("_FAILED"),
        )
        return
    provisioned.artifact_id = chosen.id
    record["outputs"] = [
        {
            "OutputKey": o["OutputKey"],
            "OutputValue": str(o["OutputValue"]),
            "Description": o["Description"] or "",
        }
        for o in stack.outputs or []
    ]
    _finish(provisioned, record)


def _update_failure(stack, since: int) -> str:
    """Why the update failed, as the stack's events since it started tell it."""
    events = stack.events[since:]
    rollback = next(
        (e.resource_status_reason for e in events if e.resource_status == "UPDATE_ROLLBACK_IN_PROGRESS"), None
    )
    failed = dict.fromkeys(
        f"{e.logical_resource_id}: {e.resource_status_reason}"
        for e in events
        if e.resource_status.endswith("_FAILED") and e.logical_resource_id != stack.name
    )
    return " ".join(p for p in (f"stack {stack.name} is {stack.status}.", rollback, *failed) if p)


def _finish(
    provisioned: catalog.Provisioned, record: dict, failure: str | None = None, broken: bool = False
) -> None:
    record["UpdatedTime"] = catalog._now()
    if failure is None:
        record["Status"] = "SUCCEEDED"
        provisioned.status, provisioned.last_successful_record_id = "AVAILABLE", record["RecordId"]
        return
    record["Status"] = "FAILED"
    record["RecordErrors"] = [{"Code": "StackFailed", "Description": failure}]
    # The stack is back on what it was: usable, but not what was asked for (ERROR when even the rollback failed).
    provisioned.status, provisioned.status_message = ("ERROR" if broken else "TAINTED"), failure


def update_provisioned_product(backend, body):
    return {"RecordDetail": catalog.public_record(start(backend, body))}


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    ServiceCatalogResponse.update_provisioned_product = _handler(update_provisioned_product)
    _applied = True
