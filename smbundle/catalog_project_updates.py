"""The Service Catalog side of a rollout (``project_updates``): projects created from a product, moved to one of its
provisioning artifacts.

The target is ``--to-version`` (a version label or artifact id) or the product's newest active artifact. The
product is ``--product-name``, or, when projects are named without it, the product they were created from
(``ServiceCatalogProvisioningDetails.ProductId``; all of them from one product). Each project's stack is its
provisioned product's ``SC-<account>-<provisioned product id>``; the update is SageMaker ``UpdateProject`` with
``ServiceCatalogProvisioningUpdateDetails`` (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateProject.html),
which has Service Catalog update that stack as the launch role.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from smbundle.catalog_versions import created_time
from smbundle.project_updates import (
    UPDATABLE,
    ProjectPlan,
    RolloutError,
    RolloutReport,
    _message,
)
from smbundle.publish import DEFAULT_PRODUCT_NAME
from smbundle.validation import UsageError


def _active(artifact: dict) -> bool:
    return artifact.get("Active", True) and artifact.get("Guidance", "DEFAULT") != "DEPRECATED"


class CatalogProjects:
    def __init__(self, rollout):
        self.rollout = rollout
        self.options = rollout.options
        self.versions: dict[str, str] = {}  # artifact id -> version label
        self.template_url = ""
        self.target_parameters: list[dict] = []
        self.provisioned: dict[str, dict] = {}

    def client(self, service: str):
        return self.rollout.client(service)

    # -- what to roll out, and where --------------------------------------------------------------------------
    def product_id(self, name: str) -> str:
        catalog = self.client("servicecatalog")
        answer = catalog.search_products_as_admin(Filters={"FullTextSearch": [name]})
        for detail in answer.get("ProductViewDetails", []):
            if detail["ProductViewSummary"]["Name"] == name:
                return detail["ProductViewSummary"]["ProductId"]
        raise UsageError(
            f"no Service Catalog product named {name!r} in this account and Region: "
            "check --product-name (publish_product.py --json prints it) or publish the product first"
        )

    def product_of(self, projects: list[dict]) -> tuple[str, str]:
        """(id, name) of the product: --product-name's (each named project must come from it), or the one the
        named projects were created from."""
        if self.options.product_name is not None or not projects:
            name = self.options.product_name or DEFAULT_PRODUCT_NAME
            product_id = self.product_id(name)
            for project in projects:
                if (project.get("ServiceCatalogProvisioningDetails") or {}).get("ProductId") != product_id:
                    raise UsageError(
                        f"--project-name {project['ProjectName']} was not created from {name!r}: leave it out"
                    )
            return product_id, name
        products = {}
        for project in projects:
            product = (project.get("ServiceCatalogProvisioningDetails") or {}).get("ProductId")
            products.setdefault(product, []).append(project["ProjectName"])
        if len(products) > 1:
            which = "; ".join(f"{', '.join(names)} from {product}" for product, names in products.items())
            raise UsageError(
                f"the named projects come from different products ({which}): update each product's in its own run"
            )
        (product_id,) = products
        try:
            described = self.client("servicecatalog").describe_product_as_admin(Id=product_id)
        except ClientError as exc:
            raise RolloutError(
                f"project {projects[0]['ProjectName']}'s product {product_id}: {_message(exc)}"
            ) from None
        return product_id, described["ProductViewDetail"]["ProductViewSummary"]["Name"]

    def target(self, artifacts: list[dict]) -> tuple[dict, bool]:
        active = sorted((a for a in artifacts if _active(a)), key=created_time)
        newest = active[-1] if active else None
        wanted = self.options.to_version
        if wanted is None:
            if newest is None:
                raise UsageError("the product has no active version: publish one with publish_product.py")
            return newest, True
        matches = sorted((a for a in artifacts if wanted in (a["Id"], a["Name"])), key=created_time)
        if not matches:
            known = ", ".join(a["Name"] for a in reversed(active[-5:])) or "none"
            raise UsageError(f"--to-version {wanted}: the product has no such version (active: {known})")
        chosen = next((a for a in reversed(matches) if _active(a)), None)
        if chosen is None:
            raise UsageError(
                f"--to-version {wanted} is deprecated (inactive): publish it again to reactivate it, or choose an "
                "active version"
            )
        return chosen, chosen is newest

    def read_target(self, product_id: str, artifact_id: str) -> tuple[str, list[dict]]:
        described = self.client("servicecatalog").describe_provisioning_artifact(
            ProductId=product_id, ProvisioningArtifactId=artifact_id
        )
        url = (described.get("Info") or {}).get("TemplateUrl")
        if not url:
            raise RolloutError(f"provisioning artifact {artifact_id} has no template URL")
        summary = self.client("cloudformation").get_template_summary(TemplateURL=url)
        return url, summary.get("Parameters", [])

    def projects(self, product_id: str) -> list[dict]:
        return [
            project
            for project in self.rollout.all_projects("servicecatalog")
            if (project.get("ServiceCatalogProvisioningDetails") or {}).get("ProductId") == product_id
        ]

    def provisioned_products(self) -> dict[str, dict]:
        catalog, found, token = self.client("servicecatalog"), {}, None
        while True:
            kwargs = {"AccessLevelFilter": {"Key": "Account", "Value": "self"}, "PageSize": 100}
            if token:
                kwargs["PageToken"] = token
            page = catalog.search_provisioned_products(**kwargs)
            for product in page.get("ProvisionedProducts", []):
                found[product["Id"]] = product
            token = page.get("NextPageToken")
            if not token:
                return found

    def prepare(self, report: RolloutReport, named: list[dict]) -> list[dict]:
        """Find the product and its target version (into the report); the projects to update."""
        product_id, name = self.product_of(named)
        artifacts = self.client("servicecatalog").list_provisioning_artifacts(ProductId=product_id)[
            "ProvisioningArtifactDetails"
        ]
        self.versions = {a["Id"]: a["Name"] for a in artifacts}
        chosen, newest = self.target(artifacts)
        self.template_url, self.target_parameters = self.read_target(product_id, chosen["Id"])
        self.rollout.check_parameters(
            {spec["ParameterKey"] for spec in self.target_parameters}, f"version {chosen['Name']}"
        )
        report.product_id, report.product_name = product_id, name
        report.target_artifact_id, report.target_version, report.target_is_newest = (
            chosen["Id"],
            chosen["Name"],
            newest,
        )
        projects = named or self.projects(product_id)
        self.provisioned = self.provisioned_products() if projects else {}
        return projects

    # -- one project ------------------------------------------------------------------------------------------
    def plan_project(self, report: RolloutReport, project: dict) -> ProjectPlan:
        rollout = self.rollout
        details = project.get("ServiceCatalogProvisionedProductDetails") or {}
        plan = ProjectPlan(
            project["ProjectName"],
            project["ProjectId"],
            project["ProjectStatus"],
            provisioned_product_id=details.get("ProvisionedProductId"),
            target_artifact_id=report.target_artifact_id,
            target_version=report.target_version,
        )
        report.projects.append(plan)
        pp = self.provisioned.get(plan.provisioned_product_id or "", {})
        plan.current_artifact_id = pp.get("ProvisioningArtifactId") or (
            project.get("ServiceCatalogProvisioningDetails") or {}
        ).get("ProvisioningArtifactId")
        plan.current_version = self.versions.get(plan.current_artifact_id, plan.current_artifact_id)
        if plan.project_status not in UPDATABLE:
            return rollout.skip(
                report, plan, f"the project is {plan.project_status}: only a created project is updated"
            )
        if pp.get("Status") in ("UNDER_CHANGE", "PLAN_IN_PROGRESS"):
            return rollout.skip(
                report, plan, f"its provisioned product is {pp['Status']}: run again when it is done"
            )
        # Service Catalog names the stack SC-<account>-<provisioned product id>; its search answers the ARN.
        plan.stack = pp.get("PhysicalId") or f"SC-{rollout.account}-{plan.provisioned_product_id}"
        try:
            stack = self.client("cloudformation").describe_stacks(StackName=plan.stack)["Stacks"][0]
            plan.stack, plan.stack_status = stack["StackId"], stack["StackStatus"]
            same_source = plan.current_artifact_id == plan.target_artifact_id
            if rollout.up_to_date_or_previewed(
                report, plan, stack, self.target_parameters, same_source, self.template_url
            ):
                return plan
        except (RolloutError, ClientError) as exc:
            return rollout.fail(report, plan, f"preview failed: {_message(exc)}")
        return rollout.proceed(report, plan, self.start_update)

    def start_update(self, report: RolloutReport, plan: ProjectPlan) -> ProjectPlan:
        try:
            self.client("sagemaker").update_project(
                ProjectName=plan.name,
                ServiceCatalogProvisioningUpdateDetails={
                    "ProvisioningArtifactId": plan.target_artifact_id,
                    "ProvisioningParameters": [
                        {"Key": k, "Value": v} for k, v in plan.parameters.values.items()
                    ],
                },
            )
        except ClientError as exc:
            return self.rollout.fail(report, plan, f"UpdateProject refused: {_message(exc)}")
        return self.rollout.started(report, plan)

    def finish(self, plan: ProjectPlan, project: dict) -> None:
        """The outcome of a finished update: updated when the provisioned product is on the target."""
        pp_id = plan.provisioned_product_id
        now = self.client("servicecatalog").describe_provisioned_product(Id=pp_id)["ProvisionedProductDetail"]
        plan.current_artifact_id = now.get("ProvisioningArtifactId")
        plan.current_version = self.versions.get(plan.current_artifact_id, plan.current_artifact_id)
        if plan.project_status == "UpdateCompleted" and plan.current_artifact_id == plan.target_artifact_id:
            plan.outcome = "updated"
            return
        message = (project.get("ServiceCatalogProvisionedProductDetails") or {}).get(
            "ProvisionedProductStatusMessage"
        )
        self.rollout.failure(plan, message)
