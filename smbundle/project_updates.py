"""Roll a new version out to the projects created from it: preview each one, update, verify.

Two kinds of project, one procedure. A project created from a Service Catalog product stays on the provisioning
artifact it was created from until it is updated (SageMaker ``UpdateProject`` with
``ServiceCatalogProvisioningUpdateDetails``, which updates its provisioned product, i.e. its ``SC-*`` stack, as the
launch role; ``catalog_project_updates``). A project created from an S3 project template keeps the template its
stack was last made from; its new version is the template now at its ``TemplateURL`` (where ``publish_product.py
--target s3`` writes each version) or at ``template_url`` (``UpdateProject`` with ``TemplateProvidersToUpdate``,
which updates its ``SP-*`` stack as the stack's role; ``template_project_updates``).

Before that, each project's update is previewed as CloudFormation will run it: a change set of the project's stack
for the target template with the project's current parameter values (new parameters take their defaults, removed
ones are dropped, ``parameters`` overrides). Each change is Add, Modify (in place or replacing the resource, with
the properties that cause it) or Remove. A replacement or deletion of a stateful resource (a repository, the
artifact bucket, a model package group) loses what it holds, so such a project is skipped with the reason unless
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

from smbundle import aws_clients
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
    # The Service Catalog product whose projects are updated. None: with project_names, each project's own
    # product; without, DEFAULT_PRODUCT_NAME (unless template_url chooses S3-template projects instead).
    product_name: str | None = None
    project_names: list[str] = field(default_factory=list)  # empty: every project of the product or template
    to_version: str | None = None  # a version label (v-...) or artifact id (pa-...); None: the newest active
    # The S3 project template to update S3-template projects to. Without project_names it also chooses them:
    # every project created from a template at this URL. None: each project's own TemplateURL, as it is now.
    template_url: str | None = None
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
    kind: str = "servicecatalog"  # or "s3": created from an S3 project template
    provisioned_product_id: str | None = None
    template_name: str | None = None  # S3 template projects: the CfnTemplateProvider's TemplateName
    current_template_url: str | None = None
    target_template_url: str | None = None
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
            "kind": self.kind,
            "provisioned_product_id": self.provisioned_product_id,
            "template_name": self.template_name,
            "stack": self.stack,
            "current": {
                "version": self.current_version,
                "artifact_id": self.current_artifact_id,
                "template_url": self.current_template_url,
            },
            "target": {
                "version": self.target_version,
                "artifact_id": self.target_artifact_id,
                "template_url": self.target_template_url,
            },
            "parameters": asdict(self.parameters) if self.parameters else None,
            "changes": [change.as_dict() for change in self.changes],
            "outcome": self.outcome,
            "reason": self.reason,
            "seconds": self.seconds,
            "stack_status": self.stack_status,
        }


@dataclass
class TemplateTarget:
    """An S3 project template as it is now: what its projects are updated to."""

    url: str
    version: str  # the published version label (v-...) the template carries, or sha256:<12 hex> of it
    digest: str  # SHA-256 of the parsed template: equal for the same template, whatever its text's layout
    parameters: list[dict] = field(default_factory=list)  # GetTemplateSummary's
    projects: int = 0

    def as_dict(self) -> dict:
        return {"template_url": self.url, "version": self.version, "projects": self.projects}


@dataclass
class RolloutReport:
    dry_run: bool
    allow_replacement: bool
    # The Service Catalog product and its target version (None when only S3-template projects are updated).
    product_id: str | None = None
    product_name: str | None = None
    target_artifact_id: str | None = None
    target_version: str | None = None
    target_is_newest: bool = False
    templates: list[TemplateTarget] = field(default_factory=list)  # the S3 templates projects are updated to
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
        with_product = self.product_id is not None
        return {
            "product": {"id": self.product_id, "name": self.product_name} if with_product else None,
            "target": {
                "version": self.target_version,
                "artifact_id": self.target_artifact_id,
                "newest_active": self.target_is_newest,
            }
            if with_product
            else None,
            "templates": [template.as_dict() for template in self.templates],
            "dry_run": self.dry_run,
            "allow_replacement": self.allow_replacement,
            "projects": [project.as_dict() for project in self.projects],
            "counts": self.counts(),
        }


# progress(event, report, project): event is "target" (once: the product's target version and the S3 templates are
# known), "preview", "skipped", "updating", "finished"
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


def _text(value) -> str:
    return "" if value is None else str(value)


def kind_of(project: dict) -> str:
    """``s3`` for a project created from an S3 project template (DescribeProject answers its
    ``TemplateProviderDetails``), ``servicecatalog`` for one created from a Service Catalog product."""
    return "s3" if project.get("TemplateProviderDetails") else "servicecatalog"


class Rollout:
    def __init__(self, options: RolloutOptions, session=None, progress: Progress | None = None):
        self.options = options
        self.session = session or aws_clients.session(options.profile, options.region)
        self.progress = progress or (lambda event, report, project: None)
        self._clients: dict = {}
        self.account = ""
        self.sides: dict = {}  # kind -> CatalogProjects | TemplateProjects

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = aws_clients.client_with_retries(
                self.session, service, self.options.endpoint_url
            )
        return self._clients[service]

    # -- which projects ---------------------------------------------------------------------------------------
    def named_projects(self) -> list[dict]:
        """DescribeProject of each --project-name, in the order given."""
        sagemaker, found = self.client("sagemaker"), []
        for name in dict.fromkeys(self.options.project_names):
            try:
                found.append(sagemaker.describe_project(ProjectName=name))
            except ClientError as exc:
                if exc.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
                    raise UsageError(
                        f"--project-name {name}: no such project (aws sagemaker list-projects lists them)"
                    ) from None
                raise
        return found

    def all_projects(self, kind: str) -> list[dict]:
        """DescribeProject of every project of this kind in the account and Region, by name."""
        sagemaker, names, token = self.client("sagemaker"), [], None
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
            if kind_of(project) == kind:
                found.append(project)
        return found

    def selection(self) -> tuple[list[dict] | None, list[dict] | None]:
        """(Service Catalog projects, S3-template projects) to update; None where that kind is not asked for,
        an empty list where it is but no project matches (the named projects are split by kind)."""
        options = self.options
        if options.project_names:
            named = self.named_projects()
            catalog = [p for p in named if kind_of(p) == "servicecatalog"]
            template = [p for p in named if kind_of(p) == "s3"]
            if options.template_url and not template:
                raise UsageError(
                    "--template-url applies to projects created from an S3 project template; none of the named "
                    "projects is (they take --to-version)"
                )
            if options.to_version and not catalog:
                raise UsageError(
                    "--to-version names a version of a Service Catalog product; the named projects were created "
                    "from S3 project templates (they take --template-url, or the template at their TemplateURL)"
                )
            return catalog or None, template or None
        if options.template_url:
            if options.product_name is not None:
                raise UsageError(
                    "--product-name and --template-url choose different projects: give one, or name the "
                    "projects with --project-name"
                )
            if options.to_version:
                raise UsageError(
                    "--to-version names a version of a Service Catalog product; S3-template projects are updated "
                    "to the template at --template-url"
                )
            return None, []
        return [], None

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

    @staticmethod
    def parameters_unchanged(plan: ProjectPlan, stack: dict) -> bool:
        """The planned values are the stack's own, and the target adds none."""
        unchanged = all(
            plan.parameters.values.get(k) == _text(v)
            for k, v in ((p["ParameterKey"], p.get("ParameterValue")) for p in stack.get("Parameters", []))
            if k in plan.parameters.values
        )
        return unchanged and not plan.parameters.added

    def check_parameters(self, known: set[str], what: str) -> None:
        """Every --parameter is one the target declares (``what`` names the target in the message)."""
        for key in self.options.parameters:
            if key in RESERVED_PARAMETERS:
                raise UsageError(f"--parameter {key}: SageMaker sets it; leave it out")
            if key not in known:
                raise UsageError(
                    f"--parameter {key}: {what} has no such parameter "
                    f"({', '.join(sorted(known - set(RESERVED_PARAMETERS)))})"
                )

    def up_to_date_or_previewed(
        self,
        report: RolloutReport,
        plan: ProjectPlan,
        stack: dict,
        target_parameters: list[dict],
        same_source: bool,
        template_url: str,
    ) -> bool:
        """With the project's stack read: plan its parameters. True (and reported) when it already runs the target
        (``same_source``) with them; else the change set's preview goes into ``plan.changes``."""
        plan.parameters = self.parameter_plan(stack.get("Parameters", []), target_parameters)
        if same_source and self.parameters_unchanged(plan, stack):
            plan.outcome = "up to date"
            self.progress("preview", report, plan)
            return True
        plan.changes = self.preview(plan, template_url)
        return False

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

    def proceed(self, report: RolloutReport, plan: ProjectPlan, start: Callable) -> ProjectPlan:
        """After a preview: report it, then (unless a dry run) skip the project for its reason or start the
        update with ``start(report, plan)``."""
        plan.outcome = "previewed"
        blocked = self.blocked(plan)
        if self.options.dry_run:
            plan.reason = blocked  # what a real run would do: skip for this reason, or update
            self.progress("preview", report, plan)
            return plan
        self.progress("preview", report, plan)
        if plan.parameters.previous:
            return self.fail(report, plan, blocked)
        if blocked:
            return self.skip(report, plan, blocked)
        return start(report, plan)

    def blocked(self, plan: ProjectPlan) -> str | None:
        """Why a real run would not update this project (None: it would)."""
        if plan.parameters.previous:
            keys = ", ".join(plan.parameters.previous)
            return f"NoEcho parameter(s) {keys}: UpdateProject needs their values; pass --parameter KEY=VALUE"
        if plan.losses and not self.options.allow_replacement:
            what = "; ".join(f"{c.logical_id} ({c.resource_type}): {c.loss}" for c in plan.losses)
            return f"{what}. Pass --allow-replacement to update anyway"
        return None

    def started(self, report: RolloutReport, plan: ProjectPlan) -> ProjectPlan:
        plan.outcome, plan.started = "updating", time.monotonic()
        self.progress("updating", report, plan)
        return plan

    def skip(self, report, plan: ProjectPlan, reason: str) -> ProjectPlan:
        plan.outcome, plan.reason = "skipped", reason
        self.progress("skipped", report, plan)
        return plan

    def fail(self, report, plan: ProjectPlan, reason: str) -> ProjectPlan:
        plan.outcome, plan.reason = "failed", reason
        self.progress("finished", report, plan)
        return plan

    # -- waiting ----------------------------------------------------------------------------------------------
    def check(self, report: RolloutReport) -> list[ProjectPlan]:
        """Report the started updates that have ended; returns those still in progress."""
        waiting = []
        for plan in [p for p in report.projects if p.outcome == "updating"]:
            project = self.client("sagemaker").describe_project(ProjectName=plan.name)
            if project["ProjectStatus"] in ("UpdateInProgress", "Pending"):
                waiting.append(plan)
            else:
                self.finish(report, plan, project)
        return waiting

    def wait(self, report: RolloutReport) -> None:
        """Follow every started update until it ends; each is reported when it does."""
        delay, deadline = 0.2, time.monotonic() + self.options.wait_seconds
        while True:
            waiting = self.check(report)
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

    def finish(self, report: RolloutReport, plan: ProjectPlan, project: dict) -> None:
        plan.seconds = round(time.monotonic() - (plan.started or time.monotonic()), 2)
        plan.project_status = project["ProjectStatus"]
        try:
            stack = self.client("cloudformation").describe_stacks(StackName=plan.stack)["Stacks"][0]
            plan.stack_status = stack["StackStatus"]
        except ClientError:
            plan.stack_status = None
        self.sides[plan.kind].finish(plan, project)
        self.progress("finished", report, plan)

    def failure(self, plan: ProjectPlan, message: str | None) -> None:
        plan.outcome = "failed"
        plan.reason = (
            f"{plan.project_status}: {message or 'no reason given'} (the project stays on "
            f"{plan.current_version}; aws cloudformation describe-stack-events --stack-name {plan.stack} "
            "tells each resource's story)"
        )

    # -- the whole thing ---------------------------------------------------------------------------------------
    def run(self) -> RolloutReport:
        from smbundle.catalog_project_updates import CatalogProjects
        from smbundle.template_project_updates import TemplateProjects

        self.account = self.client("sts").get_caller_identity()["Account"]
        catalog_projects, template_projects = self.selection()
        report = RolloutReport(self.options.dry_run, self.options.allow_replacement)
        work = []
        if catalog_projects is not None:
            self.sides["servicecatalog"] = side = CatalogProjects(self)
            work += [(side, project) for project in side.prepare(report, catalog_projects)]
        if template_projects is not None:
            self.sides["s3"] = side = TemplateProjects(self)
            work += [(side, project) for project in side.prepare(report, template_projects)]
        report.planned = len(work)
        self.progress("target", report, None)
        for side, project in work:
            side.plan_project(report, project)
            self.check(report)  # an update started earlier may have ended: say so as it goes
        self.wait(report)
        return report


def _message(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', exc)}"
    return str(exc)


def roll_out(options: RolloutOptions, session=None, progress: Progress | None = None) -> RolloutReport:
    return Rollout(options, session, progress).run()
