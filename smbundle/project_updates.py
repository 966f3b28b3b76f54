"""Roll a new version of the product out to the projects created from it: preview each one, update, verify.

A project stays on the provisioning artifact it was created from until it is updated (SageMaker ``UpdateProject``,
which updates its Service Catalog provisioned product, i.e. its ``SC-*`` stack, as the launch role). Before that,
each project's update is previewed as CloudFormation will run it: a change set of the project's stack for the target
artifact's template with the project's current parameter values (new parameters take their defaults, removed ones
are dropped, ``parameters`` overrides). Each change is Add, Modify (in place or replacing the resource, with the
properties that cause it) or Remove. A replacement or deletion of a stateful resource (a repository, the artifact
bucket, a model package group) loses what it holds, so such a project is skipped with the reason unless
``allow_replacement``; the others are updated (all at once), waited on and reported as they finish.

The caller gets a progress callback per event and a report (``as_dict``); only the script prints.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from smbundle.catalog_versions import created_time
from smbundle.publish import DEFAULT_PRODUCT_NAME, client_with_retries
from smbundle.validation import UsageError

log = logging.getLogger(__name__)

# Parameters SageMaker sets itself, at creation and on every update.
RESERVED_PARAMETERS = ("SageMakerProjectName", "SageMakerProjectId")
# Parameters the product renamed: new name -> the name a project created earlier has the value under.
RENAMED_PARAMETERS = {"ProdMinInstanceCount": "ProdInstanceCount"}
# Resources whose replacement or deletion loses what they hold, and what that is.
STATEFUL_TYPES = {
    "AWS::CodeCommit::Repository": ("repository", "its commits"),
    "AWS::S3::Bucket": ("bucket", "its objects (pipeline and model artifacts, data capture)"),
    "AWS::SageMaker::ModelPackageGroup": ("model package group", "its registered model versions"),
}
UPDATABLE = ("CreateCompleted", "UpdateCompleted", "UpdateFailed")


class RolloutError(Exception):
    """The rollout cannot go on; the message says why and what to do."""


@dataclass
class RolloutOptions:
    product_name: str = DEFAULT_PRODUCT_NAME
    project_names: list[str] = field(default_factory=list)  # empty: every project of the product
    to_version: str | None = None  # a version label (v-...) or artifact id (pa-...); None: the newest active
    parameters: dict[str, str] = field(default_factory=dict)  # overrides, for every project
    dry_run: bool = False
    allow_replacement: bool = False
    wait_seconds: float = 3600.0
    region: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None


@dataclass
class ResourceChange:
    action: str  # Add | Modify | Remove
    logical_id: str
    resource_type: str
    physical_id: str | None = None
    replacement: str | None = None  # True | False | Conditional, for Modify
    policy_action: str | None = None  # Delete | Retain | ReplaceAndDelete | ReplaceAndRetain ...
    details: list[dict] = field(default_factory=list)  # CloudFormation's ResourceChangeDetails

    @property
    def stateful(self) -> bool:
        return self.resource_type in STATEFUL_TYPES

    def causes(self, recreating: bool = False) -> list[str]:
        """The properties (or attributes) that change, or only those that make CloudFormation recreate it."""
        names = []
        for detail in self.details:
            target = detail.get("Target") or {}
            if recreating and target.get("RequiresRecreation") not in ("Always", "Conditionally"):
                continue
            names.append(target.get("Name") or target.get("Attribute") or "?")
        return list(dict.fromkeys(names))

    def because(self) -> list[str]:
        """What makes a conditional replacement possible: the resources or parameters it refers to."""
        return list(
            dict.fromkeys(
                d["CausingEntity"]
                for d in self.details
                if d.get("CausingEntity") and (d.get("Target") or {}).get("RequiresRecreation") != "Never"
            )
        )

    @property
    def loss(self) -> str | None:
        """What this change loses, when it replaces or deletes a stateful resource; None otherwise."""
        if not self.stateful:
            return None
        kind, content = STATEFUL_TYPES[self.resource_type]
        if self.action == "Remove":
            if self.policy_action == "Retain":
                return None  # kept outside the stack (DeletionPolicy Retain): nothing is lost
            return f"the {kind} is deleted with {content}"
        if self.action == "Modify" and self.replacement in ("True", "Conditional"):
            old = (
                f"the old one is kept with {content}, unused"
                if self.policy_action == "ReplaceAndRetain"
                else f"the old one is deleted with {content}"
            )
            maybe = "may be replaced" if self.replacement == "Conditional" else "is replaced"
            return f"the {kind} {maybe} by a new, empty one; {old}"
        return None

    def as_dict(self) -> dict:
        answer = asdict(self)
        answer.update(stateful=self.stateful, replaced_by=self.causes(recreating=True), loss=self.loss)
        return answer

    def line(self) -> str:
        """One line of a preview: the action, the resource, how it changes, and what a stateful change loses."""
        if self.action == "Add":
            what = "added"
        elif self.action == "Remove":
            what = (
                "removed from the stack, kept (DeletionPolicy Retain)"
                if self.policy_action == "Retain"
                else "deleted"
            )
        elif self.replacement == "True":
            what = f"REPLACED ({', '.join(self.causes(recreating=True))})"
        elif self.replacement == "Conditional":
            what = (
                f"MAY BE REPLACED ({', '.join(self.causes(recreating=True))}: refers to "
                f"{', '.join(self.because())})"
            )
        else:
            what = f"in place ({', '.join(self.causes())})"
        flag = f"  <== STATEFUL: {self.loss}" if self.loss else ""
        return f"  {self.action:<7} {self.logical_id:<28} {self.resource_type:<32} {what}{flag}"


@dataclass
class ParameterPlan:
    values: dict[str, str] = field(default_factory=dict)  # what the update passes (SageMaker's own excluded)
    kept: list[str] = field(default_factory=list)
    added: dict[str, str] = field(default_factory=dict)  # new in the target, with their defaults
    dropped: list[str] = field(default_factory=list)  # gone from the target
    overridden: dict[str, str] = field(default_factory=dict)  # from --parameter
    previous: list[str] = field(default_factory=list)  # values only the stack knows (NoEcho)


@dataclass
class ProjectPlan:
    name: str
    project_id: str
    project_status: str
    provisioned_product_id: str | None = None
    stack: str | None = None
    current_artifact_id: str | None = None
    current_version: str | None = None
    target_artifact_id: str | None = None
    target_version: str | None = None
    parameters: ParameterPlan | None = None
    changes: list[ResourceChange] = field(default_factory=list)
    outcome: str = "pending"  # up to date | previewed | skipped | updating | updated | failed
    reason: str | None = None
    seconds: float | None = None
    stack_status: str | None = None
    started: float | None = field(default=None, repr=False)

    @property
    def losses(self) -> list[ResourceChange]:
        return [change for change in self.changes if change.loss]

    def as_dict(self) -> dict:
        return {
            "project_name": self.name,
            "project_id": self.project_id,
            "project_status": self.project_status,
            "provisioned_product_id": self.provisioned_product_id,
            "stack": self.stack,
            "current": {"version": self.current_version, "artifact_id": self.current_artifact_id},
            "target": {"version": self.target_version, "artifact_id": self.target_artifact_id},
            "parameters": asdict(self.parameters) if self.parameters else None,
            "changes": [change.as_dict() for change in self.changes],
            "outcome": self.outcome,
            "reason": self.reason,
            "seconds": self.seconds,
            "stack_status": self.stack_status,
        }


@dataclass
class RolloutReport:
    product_id: str
    product_name: str
    target_artifact_id: str
    target_version: str
    target_is_newest: bool
    dry_run: bool
    allow_replacement: bool
    planned: int = 0  # projects found
    projects: list[ProjectPlan] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for project in self.projects:
            counts[project.outcome] = counts.get(project.outcome, 0) + 1
        return counts

    @property
    def failed(self) -> bool:
        return any(project.outcome == "failed" for project in self.projects)

    def as_dict(self) -> dict:
        return {
            "product": {"id": self.product_id, "name": self.product_name},
            "target": {
                "version": self.target_version,
                "artifact_id": self.target_artifact_id,
                "newest_active": self.target_is_newest,
            },
            "dry_run": self.dry_run,
            "allow_replacement": self.allow_replacement,
            "projects": [project.as_dict() for project in self.projects],
            "counts": self.counts(),
        }


# progress(event, report, project): event is "target", "preview", "skipped", "updating", "finished", "waiting"
Progress = Callable[[str, RolloutReport, ProjectPlan | None], None]


def wait_for_change_set(cloudformation, change_set_id: str, timeout: float = 600) -> dict:
    """DescribeChangeSet until CloudFormation has computed it (``CREATE_COMPLETE``) or could not (``FAILED``)."""
    delay, deadline = 0.2, time.monotonic() + timeout
    while True:
        described = cloudformation.describe_change_set(ChangeSetName=change_set_id)
        if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return described
        if time.monotonic() > deadline:
            raise RolloutError(
                f"change set {change_set_id} still {described['Status']} after {timeout:.0f} s"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 5.0)


def change_set_changes(cloudformation, change_set_id: str, described: dict) -> list[ResourceChange]:
    """Every resource change of a computed change set (all pages), as ``ResourceChange``."""
    changes = []
    while True:
        for change in described.get("Changes", []):
            resource = change.get("ResourceChange") or {}
            changes.append(
                ResourceChange(
                    action=resource.get("Action", "?"),
                    logical_id=resource.get("LogicalResourceId", "?"),
                    resource_type=resource.get("ResourceType", "?"),
                    physical_id=resource.get("PhysicalResourceId"),
                    replacement=resource.get("Replacement"),
                    policy_action=resource.get("PolicyAction"),
                    details=resource.get("Details", []),
                )
            )
        token = described.get("NextToken")
        if not token:
            return changes
        described = cloudformation.describe_change_set(ChangeSetName=change_set_id, NextToken=token)


def _active(artifact: dict) -> bool:
    return artifact.get("Active", True) and artifact.get("Guidance", "DEFAULT") != "DEPRECATED"


def _text(value) -> str:
    return "" if value is None else str(value)


class Rollout:
    def __init__(self, options: RolloutOptions, session=None, progress: Progress | None = None):
        import boto3  # imported when needed (0.1 s): the script answers a usage error at once

        self.options = options
        self.session = session or boto3.session.Session(
            profile_name=options.profile, region_name=options.region
        )
        self.progress = progress or (lambda event, report, project: None)
        self._clients: dict = {}
        self.account = ""

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = client_with_retries(self.session, service, self.options.endpoint_url)
        return self._clients[service]

    # -- what to roll out, and where --------------------------------------------------------------------------
    def product_id(self) -> str:
        catalog = self.client("servicecatalog")
        answer = catalog.search_products_as_admin(Filters={"FullTextSearch": [self.options.product_name]})
        for detail in answer.get("ProductViewDetails", []):
            if detail["ProductViewSummary"]["Name"] == self.options.product_name:
                return detail["ProductViewSummary"]["ProductId"]
        raise UsageError(
            f"no Service Catalog product named {self.options.product_name!r} in this account and Region: "
            "check --product-name (publish_product.py --json prints it) or publish the product first"
        )

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

    def target_parameters(self, product_id: str, artifact_id: str) -> tuple[str, list[dict]]:
        described = self.client("servicecatalog").describe_provisioning_artifact(
            ProductId=product_id, ProvisioningArtifactId=artifact_id
        )
        url = (described.get("Info") or {}).get("TemplateUrl")
        if not url:
            raise RolloutError(f"provisioning artifact {artifact_id} has no template URL")
        summary = self.client("cloudformation").get_template_summary(TemplateURL=url)
        return url, summary.get("Parameters", [])

    def projects(self, product_id: str) -> list[dict]:
        sagemaker = self.client("sagemaker")
        if self.options.project_names:
            found = []
            for name in dict.fromkeys(self.options.project_names):
                try:
                    project = sagemaker.describe_project(ProjectName=name)
                except ClientError as exc:
                    if exc.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
                        raise UsageError(
                            f"--project-name {name}: no such project (aws sagemaker list-projects lists them)"
                        ) from None
                    raise
                if (project.get("ServiceCatalogProvisioningDetails") or {}).get("ProductId") != product_id:
                    raise UsageError(
                        f"--project-name {name} was not created from {self.options.product_name!r}: leave it out"
                    )
                found.append(project)
            return found
        names, token = [], None
        while True:
            page = sagemaker.list_projects(MaxResults=100, **({"NextToken": token} if token else {}))
            names.extend(summary["ProjectName"] for summary in page.get("ProjectSummaryList", []))
            token = page.get("NextToken")
            if not token:
                break
        found = []
        for name in sorted(names):
            try:
                project = sagemaker.describe_project(ProjectName=name)
            except ClientError:
                continue  # deleted meanwhile
            if (project.get("ServiceCatalogProvisioningDetails") or {}).get("ProductId") == product_id:
                found.append(project)
        return found

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

    # -- one project ------------------------------------------------------------------------------------------
    def parameter_plan(self, current: list[dict], target: list[dict]) -> ParameterPlan:
        values_now = {p["ParameterKey"]: p.get("ParameterValue") for p in current}
        plan = ParameterPlan()
        for spec in target:
            key = spec["ParameterKey"]
            if key in RESERVED_PARAMETERS:
                continue
            if key in self.options.parameters:
                plan.values[key] = plan.overridden[key] = self.options.parameters[key]
            elif key in values_now:
                if values_now[key] == "****":  # NoEcho: only the stack knows it
                    plan.previous.append(key)
                    continue
                plan.values[key] = _text(values_now[key])
                plan.kept.append(key)
            elif RENAMED_PARAMETERS.get(key) in values_now and values_now[RENAMED_PARAMETERS[key]] != "****":
                plan.values[key] = _text(values_now[RENAMED_PARAMETERS[key]])  # the project's choice, renamed
                plan.kept.append(key)
            elif spec.get("DefaultValue") is not None:
                plan.values[key] = plan.added[key] = _text(spec["DefaultValue"])
            else:
                raise RolloutError(
                    f"the target version adds parameter {key} without a default: pass --parameter {key}=VALUE"
                )
        known = {spec["ParameterKey"] for spec in target}
        plan.dropped = [key for key in values_now if key not in known]
        return plan

    def preview(self, plan: ProjectPlan, template_url: str) -> list[ResourceChange]:
        """The change set of the project's stack for the target template, with the planned parameters."""
        cloudformation = self.client("cloudformation")
        parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in plan.parameters.values.items()]
        parameters += [
            {"ParameterKey": k, "UsePreviousValue": True}
            for k in (*RESERVED_PARAMETERS, *plan.parameters.previous)
        ]
        name = "smbundle-preview-" + datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
        change_set_id = cloudformation.create_change_set(
            StackName=plan.stack,
            ChangeSetName=name,
            ChangeSetType="UPDATE",
            TemplateURL=template_url,
            Parameters=parameters,
            Description=f"Preview of the update of project {plan.name} to {plan.target_version} (not executed)",
        )["Id"]
        try:
            described = self._wait_for_change_set(change_set_id)
            if described["Status"] == "FAILED":
                reason = described.get("StatusReason") or "no reason given"
                if "didn't contain changes" in reason or "No updates are to be performed" in reason:
                    return []
                raise RolloutError(f"CloudFormation cannot make the change set: {reason}")
            return change_set_changes(cloudformation, change_set_id, described)
        finally:
            try:
                cloudformation.delete_change_set(ChangeSetName=change_set_id)
            except ClientError as exc:  # the preview stands; a left-over change set is harmless
                log.warning("could not delete change set %s: %s", change_set_id, exc)

    def _wait_for_change_set(self, change_set_id: str) -> dict:
        return wait_for_change_set(self.client("cloudformation"), change_set_id)

    def plan_project(
        self, report: RolloutReport, project: dict, provisioned: dict, versions: dict, url, target
    ):
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
        pp = provisioned.get(plan.provisioned_product_id or "", {})
        plan.current_artifact_id = pp.get("ProvisioningArtifactId") or (
            project.get("ServiceCatalogProvisioningDetails") or {}
        ).get("ProvisioningArtifactId")
        plan.current_version = versions.get(plan.current_artifact_id, plan.current_artifact_id)
        if plan.project_status not in UPDATABLE:
            return self._skip(
                report, plan, f"the project is {plan.project_status}: only a created project is updated"
            )
        if pp.get("Status") in ("UNDER_CHANGE", "PLAN_IN_PROGRESS"):
            return self._skip(
                report, plan, f"its provisioned product is {pp['Status']}: run again when it is done"
            )
        # Service Catalog names the stack SC-<account>-<provisioned product id>; its search answers the ARN.
        plan.stack = pp.get("PhysicalId") or f"SC-{self.account}-{plan.provisioned_product_id}"
        try:
            stack = self.client("cloudformation").describe_stacks(StackName=plan.stack)["Stacks"][0]
            plan.stack, plan.stack_status = stack["StackId"], stack["StackStatus"]
            plan.parameters = self.parameter_plan(stack.get("Parameters", []), target)
            unchanged = all(
                plan.parameters.values.get(k) == _text(v)
                for k, v in (
                    (p["ParameterKey"], p.get("ParameterValue")) for p in stack.get("Parameters", [])
                )
                if k in plan.parameters.values
            )
            if (
                plan.current_artifact_id == plan.target_artifact_id
                and unchanged
                and not plan.parameters.added
            ):
                plan.outcome = "up to date"
                self.progress("preview", report, plan)
                return plan
            plan.changes = self.preview(plan, url)
        except (RolloutError, ClientError) as exc:
            return self._fail(report, plan, f"preview failed: {_message(exc)}")
        plan.outcome = "previewed"
        blocked = self.blocked(plan)
        if self.options.dry_run:
            plan.reason = blocked  # what a real run would do: skip for this reason, or update
            self.progress("preview", report, plan)
            return plan
        self.progress("preview", report, plan)
        if plan.parameters.previous:
            return self._fail(report, plan, blocked)
        if blocked:
            return self._skip(report, plan, blocked)
        return self.start_update(report, plan)

    def blocked(self, plan: ProjectPlan) -> str | None:
        """Why a real run would not update this project (None: it would)."""
        if plan.parameters.previous:
            keys = ", ".join(plan.parameters.previous)
            return f"NoEcho parameter(s) {keys}: UpdateProject needs their values; pass --parameter KEY=VALUE"
        if plan.losses and not self.options.allow_replacement:
            what = "; ".join(f"{c.logical_id} ({c.resource_type}): {c.loss}" for c in plan.losses)
            return f"{what}. Pass --allow-replacement to update anyway"
        return None

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
            return self._fail(report, plan, f"UpdateProject refused: {_message(exc)}")
        plan.outcome, plan.started = "updating", time.monotonic()
        self.progress("updating", report, plan)
        return plan

    def _skip(self, report, plan: ProjectPlan, reason: str) -> ProjectPlan:
        plan.outcome, plan.reason = "skipped", reason
        self.progress("skipped", report, plan)
        return plan

    def _fail(self, report, plan: ProjectPlan, reason: str) -> ProjectPlan:
        plan.outcome, plan.reason = "failed", reason
        self.progress("finished", report, plan)
        return plan

    # -- waiting ----------------------------------------------------------------------------------------------
    def check(self, report: RolloutReport, versions: dict) -> list[ProjectPlan]:
        """Report the started updates that have ended; returns those still in progress."""
        waiting = []
        for plan in [p for p in report.projects if p.outcome == "updating"]:
            project = self.client("sagemaker").describe_project(ProjectName=plan.name)
            if project["ProjectStatus"] in ("UpdateInProgress", "Pending"):
                waiting.append(plan)
            else:
                self.finish(report, plan, project, versions)
        return waiting

    def wait(self, report: RolloutReport, versions: dict) -> None:
        """Follow every started update until it ends; each is reported when it does."""
        delay, deadline = 0.2, time.monotonic() + self.options.wait_seconds
        while True:
            waiting = self.check(report, versions)
            if not waiting:
                return
            if time.monotonic() > deadline:
                for plan in waiting:
                    plan.outcome = "failed"
                    plan.reason = (
                        f"still UpdateInProgress after {self.options.wait_seconds:.0f} s: follow it with "
                        f"aws sagemaker describe-project --project-name {plan.name}"
                    )
                    self.progress("finished", report, plan)
                return
            time.sleep(delay)
            delay = min(delay * 1.5, 10.0)

    def finish(self, report: RolloutReport, plan: ProjectPlan, project: dict, versions: dict) -> None:
        plan.seconds = round(time.monotonic() - (plan.started or time.monotonic()), 2)
        plan.project_status = project["ProjectStatus"]
        try:
            stack = self.client("cloudformation").describe_stacks(StackName=plan.stack)["Stacks"][0]
            plan.stack_status = stack["StackStatus"]
        except ClientError:
            plan.stack_status = None
        pp_id = plan.provisioned_product_id
        now = self.client("servicecatalog").describe_provisioned_product(Id=pp_id)["ProvisionedProductDetail"]
        plan.current_artifact_id = now.get("ProvisioningArtifactId")
        plan.current_version = versions.get(plan.current_artifact_id, plan.current_artifact_id)
        if plan.project_status == "UpdateCompleted" and plan.current_artifact_id == plan.target_artifact_id:
            plan.outcome = "updated"
        else:
            message = (project.get("ServiceCatalogProvisionedProductDetails") or {}).get(
                "ProvisionedProductStatusMessage"
            )
            plan.outcome = "failed"
            plan.reason = (
                f"{plan.project_status}: {message or 'no reason given'} (the project stays on "
                f"{plan.current_version}; aws cloudformation describe-stack-events --stack-name {plan.stack} "
                "tells each resource's story)"
            )
        self.progress("finished", report, plan)

    # -- the whole thing ---------------------------------------------------------------------------------------
    def run(self) -> RolloutReport:
        self.account = self.client("sts").get_caller_identity()["Account"]
        product_id = self.product_id()
        artifacts = self.client("servicecatalog").list_provisioning_artifacts(ProductId=product_id)[
            "ProvisioningArtifactDetails"
        ]
        versions = {a["Id"]: a["Name"] for a in artifacts}
        chosen, newest = self.target(artifacts)
        url, target = self.target_parameters(product_id, chosen["Id"])
        known = {spec["ParameterKey"] for spec in target}
        for key in self.options.parameters:
            if key in RESERVED_PARAMETERS:
                raise UsageError(f"--parameter {key}: SageMaker sets it; leave it out")
            if key not in known:
                raise UsageError(
                    f"--parameter {key}: version {chosen['Name']} has no such parameter "
                    f"({', '.join(sorted(known - set(RESERVED_PARAMETERS)))})"
                )
        projects = self.projects(product_id)
        report = RolloutReport(
            product_id,
            self.options.product_name,
            chosen["Id"],
            chosen["Name"],
            newest,
            self.options.dry_run,
            self.options.allow_replacement,
            planned=len(projects),
        )
        self.progress("target", report, None)
        provisioned = self.provisioned_products() if projects else {}
        for project in projects:
            self.plan_project(report, project, provisioned, versions, url, target)
            self.check(report, versions)  # an update started earlier may have ended: say so as it goes
        self.wait(report, versions)
        return report


def _message(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', exc)}"
    return str(exc)


def roll_out(options: RolloutOptions, session=None, progress: Progress | None = None) -> RolloutReport:
    return Rollout(options, session, progress).run()
