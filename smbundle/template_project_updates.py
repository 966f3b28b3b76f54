"""The S3 project template side of a rollout (``project_updates``): projects created with ``TemplateProviders``,
updated to a new version of their template.

What "the new version" is: ``publish_product.py --target s3`` writes every version of the product to the same object
(``templates/<product>.yaml`` in the domain's ``sagemaker:projectS3TemplatesLocation``), which is the URL a project
is created from. So by default a project is updated to the template now at its own ``TemplateURL``; ``--template-url``
names another one (it must be in the domain's templates location and tagged ``sagemaker:studio-visibility=true``,
as SageMaker checks). Without ``--project-name``, ``--template-url`` also chooses the projects: every project
created from a template at that URL.

A project is up to date when its stack's template (``GetTemplate``) is the target template (compared parsed, so
YAML and the JSON CloudFormation may answer compare equal) and its parameters would not change. Otherwise its
``SP-*`` stack is previewed with a change set, as for a Service Catalog project, and updated with SageMaker
``UpdateProject`` and ``TemplateProvidersToUpdate`` (the same ``TemplateName``, the target ``TemplateURL``, every
parameter value: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CfnUpdateTemplateProvider.html ).
The stack update runs as the stack's role (the RoleARN the project was created with, which cannot change).

Versions are shown as the label the publisher gives a version (``v-...``, found in the seed-code keys of the
template's ``Mappings.SeedCode.S3``), or ``sha256:`` and 12 hex digits of the parsed template for other templates.
"""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import unquote, urlparse

from botocore.exceptions import ClientError

from smbundle.project_updates import (
    UPDATABLE,
    ProjectPlan,
    RolloutError,
    RolloutReport,
    TemplateTarget,
    _message,
)

_VERSION_IN_KEY = re.compile(r"/(v-[0-9a-f]{12})/")


def object_of(url: str) -> tuple[str, str]:
    """(bucket, key) of an S3 HTTPS URL, virtual-hosted (``bucket.s3.<region>.amazonaws.com/key``) or path-style
    (``s3.<region>.amazonaws.com/bucket/key``)."""
    parsed = urlparse(url)
    host, path = parsed.netloc.split(":")[0], unquote(parsed.path.lstrip("/"))
    if ".s3." in host or ".s3-" in host:
        return host.split(".s3", 1)[0], path
    bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise RolloutError(f"{url} is not the URL of an S3 object")
    return bucket, key


def parsed(body) -> dict:
    """A template's document: GetTemplate answers a JSON template as a document already, YAML as text."""
    if isinstance(body, dict):
        return body
    from cfnlint.decode import decode_str  # imported when needed, as the publisher does

    template, matches = decode_str(body)
    if template is None or matches:
        raise RolloutError(
            f"the template cannot be parsed: {matches[0].message if matches else 'not a document'}"
        )
    if not isinstance(template, dict):
        raise RolloutError("the template is not a CloudFormation template: its document is not a mapping")
    return template


def fingerprint(body) -> tuple[str, str]:
    """(version label, digest) of a template."""
    document = parsed(body)
    digest = hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()
    seed = ((document.get("Mappings") or {}).get("SeedCode") or {}).get("S3") or {}
    found = _VERSION_IN_KEY.search(str(seed.get("BuildKey", "")))
    return (found.group(1) if found else f"sha256:{digest[:12]}"), digest


def provider_detail(project: dict) -> dict:
    return project["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]


class TemplateProjects:
    def __init__(self, rollout):
        self.rollout = rollout
        self.options = rollout.options
        self.targets: dict[str, TemplateTarget] = {}

    def client(self, service: str):
        return self.rollout.client(service)

    # -- what to roll out, and where --------------------------------------------------------------------------
    def read_target(self, url: str) -> TemplateTarget:
        bucket, key = object_of(url)
        try:
            body = self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
            summary = self.client("cloudformation").get_template_summary(TemplateURL=url)
        except ClientError as exc:
            raise RolloutError(f"cannot read the template {url}: {_message(exc)}") from None
        except UnicodeDecodeError:
            raise RolloutError(
                f"{url} is not a template: it is not text (a CloudFormation template is YAML or JSON)"
            ) from None
        version, digest = fingerprint(body)
        return TemplateTarget(url, version, digest, summary.get("Parameters", []))

    def target_url(self, project: dict) -> str:
        return self.options.template_url or provider_detail(project)["TemplateURL"]

    def prepare(self, report: RolloutReport, named: list[dict]) -> list[dict]:
        """Read each target template (into the report); the projects to update."""
        if named:
            projects = named
        else:
            projects = [
                project
                for project in self.rollout.all_projects("s3")
                if provider_detail(project)["TemplateURL"] == self.options.template_url
            ]
        urls = [self.target_url(project) for project in projects] or [self.options.template_url]
        for url in dict.fromkeys(urls):
            target = self.targets[url] = self.read_target(url)
            self.rollout.check_parameters(
                {spec["ParameterKey"] for spec in target.parameters}, f"the template {url}"
            )
            report.templates.append(target)
        for project in projects:
            self.targets[self.target_url(project)].projects += 1
        return projects

    # -- one project ------------------------------------------------------------------------------------------
    def plan_project(self, report: RolloutReport, project: dict) -> ProjectPlan:
        rollout = self.rollout
        detail = provider_detail(project)
        target = self.targets[self.target_url(project)]
        stack_detail = detail.get("StackDetail") or {}
        plan = ProjectPlan(
            project["ProjectName"],
            project["ProjectId"],
            project["ProjectStatus"],
            kind="s3",
            template_name=detail["TemplateName"],
            current_template_url=detail["TemplateURL"],
            target_template_url=target.url,
            target_version=target.version,
            stack=stack_detail.get("Id") or stack_detail.get("Name"),
        )
        report.projects.append(plan)
        if plan.project_status not in UPDATABLE:
            return rollout.skip(
                report, plan, f"the project is {plan.project_status}: only a created project is updated"
            )
        cloudformation = self.client("cloudformation")
        try:
            stack = cloudformation.describe_stacks(StackName=plan.stack)["Stacks"][0]
            plan.stack, plan.stack_status = stack["StackId"], stack["StackStatus"]
            body = cloudformation.get_template(StackName=plan.stack, TemplateStage="Original")["TemplateBody"]
            plan.current_version, digest = fingerprint(body)
            if plan.stack_status.endswith("_IN_PROGRESS"):
                return rollout.skip(
                    report, plan, f"its stack is {plan.stack_status}: run again when it is done"
                )
            same_source = digest == target.digest and plan.current_template_url == target.url
            if rollout.up_to_date_or_previewed(
                report, plan, stack, target.parameters, same_source, target.url
            ):
                return plan
        except (RolloutError, ClientError) as exc:
            return rollout.fail(report, plan, f"preview failed: {_message(exc)}")
        return rollout.proceed(report, plan, self.start_update)

    def start_update(self, report: RolloutReport, plan: ProjectPlan) -> ProjectPlan:
        provider = {
            "TemplateName": plan.template_name,
            "TemplateURL": plan.target_template_url,
            "Parameters": [{"Key": k, "Value": v} for k, v in plan.parameters.values.items()],
        }
        try:
            self.client("sagemaker").update_project(
                ProjectName=plan.name, TemplateProvidersToUpdate=[{"CfnTemplateProvider": provider}]
            )
        except ClientError as exc:
            return self.rollout.fail(report, plan, f"UpdateProject refused: {_message(exc)}")
        return self.rollout.started(report, plan)

    def finish(self, plan: ProjectPlan, project: dict) -> None:
        """The outcome of a finished update: updated when the project is UpdateCompleted on the target template."""
        detail = provider_detail(project)
        if plan.project_status == "UpdateCompleted" and detail["TemplateURL"] == plan.target_template_url:
            plan.outcome = "updated"
            plan.current_version, plan.current_template_url = plan.target_version, plan.target_template_url
            return
        self.rollout.failure(plan, (detail.get("StackDetail") or {}).get("StatusMessage"))
