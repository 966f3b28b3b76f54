"""SageMaker Projects as Studio calls them: CreateProject provisions the Service Catalog product, or creates the
stack of an S3 project template (``TemplateProviders``: ``template_providers.py``).

CreateProject passes ``SageMakerProjectName`` and ``SageMakerProjectId`` to the template, tags the stack with
``sagemaker:project-name`` / ``sagemaker:project-id``, and reports ``CreateCompleted`` or ``CreateFailed``.
A request gives exactly one of ``ServiceCatalogProvisioningDetails`` and ``TemplateProviders``.
DescribeProject, ListProjects, DeleteProject (terminates the provisioned product, or deletes the template's stack)
and ListTags/AddTags on a project ARN (moto errors on them) complete the picture; UpdateProject is in
``project_updates.py``.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime

from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker import models, responses
from moto.sagemaker.exceptions import ValidationError

from smbundle.local.sagemaker import template_providers
from smbundle.local.servicecatalog import catalog

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")


@dataclass
class Project:
    name: str
    project_id: str
    arn: str
    description: str
    provisioning: dict
    provisioned_product_id: str | None
    status: str
    status_message: str | None
    tags: list[dict]
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_modified: datetime | None = None
    template_provider: template_providers.CfnProvider | None = None  # a project from an S3 project template
    account: str = ""
    region: str = ""

    def describe(self) -> dict:
        answer = {
            "ProjectArn": self.arn,
            "ProjectName": self.name,
            "ProjectId": self.project_id,
            "ProjectDescription": self.description,
            "ProjectStatus": self.status,
            "CreationTime": self.created,
        }
        if self.template_provider is not None:
            answer["TemplateProviderDetails"] = [self.template_provider.detail(self.account, self.region)]
        else:
            answer["ServiceCatalogProvisioningDetails"] = self.provisioning
            answer["ServiceCatalogProvisionedProductDetails"] = {
                "ProvisionedProductId": self.provisioned_product_id or "",
                "ProvisionedProductStatusMessage": self.status_message or "",
            }
        if self.last_modified is not None:
            answer["LastModifiedTime"] = self.last_modified
        return answer

    def summary(self) -> dict:
        return {
            "ProjectName": self.name,
            "ProjectDescription": self.description,
            "ProjectArn": self.arn,
            "ProjectId": self.project_id,
            "CreationTime": self.created,
            "ProjectStatus": self.status,
        }


def _projects(backend) -> dict[str, Project]:
    if not hasattr(backend, "local_projects"):
        backend.local_projects = {}
    return backend.local_projects


def create_project(
    backend,
    name: str,
    description: str,
    provisioning: dict | None,
    tags: list[dict],
    template_provider_list: list | None = None,
) -> Project:
    if not name or not NAME_PATTERN.match(name):
        raise ValidationError(
            message=f"Value '{name}' at 'projectName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,31}}"
        )
    projects = _projects(backend)
    if name in projects:
        raise ValidationError(message=f"Project {name} already exists.")
    if bool(provisioning) == bool(template_provider_list):
        raise ValidationError(
            message="Specify either ServiceCatalogProvisioningDetails or TemplateProviders, and only one of them."
        )
    if template_provider_list:
        return _create_from_template(backend, name, description, tags, template_provider_list)
    if not provisioning.get("ProductId"):
        raise ValidationError(message="ServiceCatalogProvisioningDetails.ProductId is required.")
    project_id = _new_id()
    arn = f"arn:aws:sagemaker:{backend.region_name}:{backend.account_id}:project/{name.lower()}"
    project_tags = [
        *tags,
        {"Key": "sagemaker:project-name", "Value": name},
        {"Key": "sagemaker:project-id", "Value": project_id},
    ]
    parameters = [
        *provisioning.get("ProvisioningParameters", []),
        {"Key": "SageMakerProjectName", "Value": name},
        {"Key": "SageMakerProjectId", "Value": project_id},
    ]
    # The project exists (CreateInProgress) while its product is provisioned: the pipelines start on creation
    # and may read its tags before provisioning ends.
    project = Project(
        name, project_id, arn, description or "", provisioning, None, "CreateInProgress", None, project_tags
    )
    projects[name] = project
    service_catalog = catalog.backend_for(backend.account_id, backend.region_name)
    status, message = "CreateCompleted", None
    try:
        record = catalog.provision(
            service_catalog,
            provisioning["ProductId"],
            provisioning.get("ProvisioningArtifactId"),
            f"SageMaker-{name}-{project_id}",
            parameters,
            project_tags,
        )
        project.provisioned_product_id = record["ProvisionedProductId"]
        if record["Status"] != "SUCCEEDED":
            status = "CreateFailed"
            message = "; ".join(e["Description"] for e in record["RecordErrors"])
    except catalog.CatalogError as exc:
        status, message = "CreateFailed", str(exc)
    project.status, project.status_message = status, message
    return project


def _new_id() -> str:
    return "p-" + "".join(random.choices(string.ascii_lowercase + string.digits, k=12))


def _create_from_template(backend, name: str, description: str, tags: list[dict], providers: list) -> Project:
    """CreateProject with TemplateProviders: checked as SageMaker checks it, then the stack (template_providers)."""
    provider = template_providers.provider_of(providers, "templateProviders")
    body = template_providers.read_template(backend, provider["TemplateURL"])
    template_providers.check_parameters(body, provider.get("Parameters") or [])
    template_providers.check_role(provider.get("RoleARN"))
    project_id = _new_id()
    project = Project(
        name,
        project_id,
        f"arn:aws:sagemaker:{backend.region_name}:{backend.account_id}:project/{name.lower()}",
        description or "",
        {},
        None,
        "CreateInProgress",
        None,
        [
            *tags,
            {"Key": "sagemaker:project-name", "Value": name},
            {"Key": "sagemaker:project-id", "Value": project_id},
        ],
        account=backend.account_id,
        region=backend.region_name,
    )
    _projects(backend)[name] = project  # the pipelines start while the stack is created and read its tags
    template_providers.create(backend, project, provider, body)
    return project


def _find(backend, name: str) -> Project:
    project = _projects(backend).get(name)
    if project is None:
        raise ValidationError(message=f"Project {name} does not exist.")
    return project


def delete_project(backend, name: str) -> None:
    project = _find(backend, name)
    if project.template_provider is not None:
        if not template_providers.delete(backend, project):
            project.status = "DeleteFailed"
            return
    elif project.provisioned_product_id:
        service_catalog = catalog.backend_for(backend.account_id, backend.region_name)
        try:
            record = catalog.terminate(service_catalog, project.provisioned_product_id, None)
        except catalog.CatalogError:
            record = None  # the provisioned product is already gone
        if record is not None and record["Status"] != "SUCCEEDED":
            project.status = "DeleteFailed"
            project.status_message = "; ".join(e["Description"] for e in record["RecordErrors"])
            return
    del _projects(backend)[name]


def _project_by_arn(backend, arn: str) -> Project | None:
    return next((p for p in _projects(backend).values() if p.arn == arn), None)


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    response = responses.SageMakerResponse
    backend_class = models.SageMakerModelBackend

    def r_create_project(self):
        project = create_project(
            self.sagemaker_backend,
            self._get_param("ProjectName"),
            self._get_param("ProjectDescription"),
            self._get_param("ServiceCatalogProvisioningDetails"),
            self._get_param("Tags") or [],
            self._get_param("TemplateProviders"),
        )
        return ActionResult({"ProjectArn": project.arn, "ProjectId": project.project_id})

    def r_describe_project(self):
        return ActionResult(_find(self.sagemaker_backend, self._get_param("ProjectName")).describe())

    def r_list_projects(self):
        projects = sorted(_projects(self.sagemaker_backend).values(), key=lambda p: p.created, reverse=True)
        return ActionResult({"ProjectSummaryList": [p.summary() for p in projects]})

    def r_delete_project(self):
        delete_project(self.sagemaker_backend, self._get_param("ProjectName"))
        return EmptyResult()

    original_list_tags = backend_class.list_tags
    original_add_tags = backend_class.add_tags

    def list_tags(self, arn, *args, **kwargs):
        project = _project_by_arn(self, arn)
        if project is not None:
            return project.tags, None
        return original_list_tags(self, arn, *args, **kwargs)

    def add_tags(self, arn, tags):
        project = _project_by_arn(self, arn)
        if project is not None:
            keys = {t["Key"] for t in tags}
            project.tags = [t for t in project.tags if t["Key"] not in keys] + list(tags)
            return project.tags
        return original_add_tags(self, arn, tags)

    response.create_project = r_create_project
    response.describe_project = r_describe_project
    response.list_projects = r_list_projects
    response.delete_project = r_delete_project
    backend_class.list_tags = list_tags
    backend_class.add_tags = add_tags
    _applied = True
