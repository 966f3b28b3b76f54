"""SageMaker UpdateProject: move a project to another provisioning artifact of its product, as SageMaker does it.

``ServiceCatalogProvisioningUpdateDetails`` names the artifact (by default the product's newest active one, as the
API documents) and the parameters; SageMaker adds ``SageMakerProjectName`` and ``SageMakerProjectId`` itself, as at
creation, and asks Service Catalog to update the provisioned product (``UpdateProvisionedProduct``: the stack
update runs as the launch role, in the background). The call answers at once; ``DescribeProject`` shows
``UpdateInProgress``, then ``UpdateCompleted`` with the new artifact and parameters, or ``UpdateFailed`` with the
reason (the stack rolled back, the project stays on its artifact). A project being created, updated or deleted,
or whose creation failed, is refused.

A project created from an S3 project template is updated with ``TemplateProvidersToUpdate`` instead (its template
and parameters; ``template_providers.start_update``), the same way: in the background, ``UpdateCompleted`` or
``UpdateFailed`` with the stack's reason (the stack rolled back). Each kind of project takes only its own kind of
update details.
"""

from __future__ import annotations

from datetime import UTC, datetime

from moto.core.responses import ActionResult
from moto.sagemaker import responses
from moto.sagemaker.exceptions import ValidationError

from smbundle.local.sagemaker import projects, template_providers
from smbundle.local.servicecatalog import catalog, provisioned_updates

RESERVED = ("SageMakerProjectName", "SageMakerProjectId")
STEADY = ("CreateCompleted", "UpdateCompleted", "UpdateFailed")


def _newest_active(service_catalog, product_id: str) -> str:
    active = [a for a in catalog.state(service_catalog).artifacts.get(product_id, []) if a.active]
    if not active:
        raise ValidationError(message=f"Product {product_id} has no active provisioning artifact.")
    return max(active, key=lambda a: a.created).id


def update_project(
    backend,
    name: str,
    description: str | None,
    details: dict | None,
    tags: list[dict],
    template_updates: list | None = None,
):
    project = projects._find(backend, name)
    from_template = project.template_provider is not None
    if (details and from_template) or (template_updates and not from_template):
        given, kind = (
            ("ServiceCatalogProvisioningUpdateDetails", "an S3 project template")
            if from_template
            else ("TemplateProvidersToUpdate", "a Service Catalog product")
        )
        raise ValidationError(
            message=f"Project {name} was created from {kind}: {given} does not apply to it."
        )
    if project.status not in STEADY:
        why = (
            "its creation failed; delete it and create it again"
            if project.status == "CreateFailed"
            else "wait until it is no longer in progress"
        )
        raise ValidationError(message=f"Project {name} is {project.status} and cannot be updated: {why}.")
    if description is not None:
        project.description = description
    if tags:
        keys = {t["Key"] for t in tags}
        project.tags = [t for t in project.tags if t["Key"] not in keys] + list(tags)
    project.last_modified = datetime.now(UTC)
    if template_updates:
        template_providers.start_update(backend, project, template_updates)
        return project
    if not details:
        return project
    service_catalog = catalog.backend_for(backend.account_id, backend.region_name)
    product_id = project.provisioning["ProductId"]
    before = project.status, project.status_message
    try:
        artifact_id = details.get("ProvisioningArtifactId") or _newest_active(service_catalog, product_id)
        given = [p for p in details.get("ProvisioningParameters") or [] if p.get("Key") not in RESERVED]
        parameters = [
            *given,
            {"Key": "SageMakerProjectName", "Value": project.name},
            {"Key": "SageMakerProjectId", "Value": project.project_id},
        ]

        def done(record: dict) -> None:
            project.last_modified = datetime.now(UTC)
            if record["Status"] == "SUCCEEDED":
                project.provisioning = {
                    **project.provisioning,
                    "ProvisioningArtifactId": artifact_id,
                    "ProvisioningParameters": given,
                }
                project.status, project.status_message = "UpdateCompleted", None
            else:
                project.status = "UpdateFailed"
                project.status_message = "; ".join(e["Description"] for e in record["RecordErrors"])

        project.status, project.status_message = "UpdateInProgress", None  # before the update can end
        provisioned_updates.start(
            service_catalog,
            {
                "ProvisionedProductId": project.provisioned_product_id,
                "ProductId": product_id,
                "ProvisioningArtifactId": artifact_id,
                "ProvisioningParameters": parameters,
            },
            on_done=done,
        )
    except catalog.CatalogError as exc:  # refused before anything started: the project is as it was
        if project.status == "UpdateInProgress":
            project.status, project.status_message = before
        raise ValidationError(message=str(exc)) from None
    return project


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return

    def r_update_project(self):
        project = update_project(
            self.sagemaker_backend,
            self._get_param("ProjectName"),
            self._get_param("ProjectDescription"),
            self._get_param("ServiceCatalogProvisioningUpdateDetails"),
            self._get_param("Tags") or [],
            self._get_param("TemplateProvidersToUpdate"),
        )
        return ActionResult({"ProjectArn": project.arn})

    responses.SageMakerResponse.update_project = r_update_project
    _applied = True
