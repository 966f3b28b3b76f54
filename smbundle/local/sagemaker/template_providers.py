"""Projects from S3 project templates: CreateProject, DescribeProject, UpdateProject and DeleteProject with
``TemplateProviders`` (one ``CfnTemplateProvider``: ``TemplateName``, ``TemplateURL``, optional ``RoleARN``,
``Parameters``), the path AWS recommends over Service Catalog products since 2025.

API reference: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateProject.html ,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CfnCreateTemplateProvider.html ("RoleARN: The IAM role
that CloudFormation assumes when creating the stack"), API_CfnTemplateProviderDetail.html, API_CfnStackDetail.html,
API_CfnUpdateTemplateProvider.html. Setup (template object tagged ``sagemaker:studio-visibility=true``, domain tagged
``sagemaker:projectS3TemplatesLocation=s3://<bucket>/<prefix>/``, the Studio role's CloudFormation permissions on
``SP-*`` stacks and ``iam:PassRole`` of the launch role): AWS's own setup guide,
https://github.com/aws-samples/sagemaker-custom-project-templates/tree/main/s3_templates (2025-11), which links
https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-projects-templates-custom.html .

Who acts (the strictest reading of what AWS documents, see docs/local.md "Projects from S3 project templates"):

- **the caller of CreateProject** (in Studio, the user's execution role) reads the template (``s3:GetObject``; and
  ``s3:GetObjectTagging``, which AWS's guide names as the permission most often missing), passes ``RoleARN`` to
  CloudFormation (``iam:PassRole``) and creates the ``SP-*`` stack (``cloudformation:CreateStack``, tagged
  ``sagemaker:project-name`` / ``sagemaker:project-id``: ``cloudformation:TagResource``);
- **the stack's resources** are created as ``RoleARN``, which CloudFormation assumes (it must trust
  ``cloudformation.amazonaws.com``); without ``RoleARN`` as the caller, as CloudFormation does for a stack without a
  service role ("CloudFormation uses a temporary session that is generated from your user credentials",
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html , RoleARN). Updates and
  the deletion run as the same role (the stack keeps it), requested by the caller.

A request AWS would refuse is refused with ``ValidationException`` before anything is created: a template outside
every domain's ``sagemaker:projectS3TemplatesLocation``, an object not tagged ``sagemaker:studio-visibility=true``, a
parameter the template does not declare (or one of the two SageMaker sets itself), a ``RoleARN`` that does not
exist. A denied call or a failed stack leaves the project ``CreateFailed`` with the reason in
``TemplateProviderDetails[0].CfnTemplateProviderDetail.StackDetail.StatusMessage``.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from moto.cloudformation.models import cloudformation_backends
from moto.s3.models import s3_backends
from moto.sagemaker.exceptions import ValidationError

from smbundle.local import crashes
from smbundle.local.cloudformation.template_parsing import parse_template
from smbundle.local.iam import enforcement, principals
from smbundle.local.iam.principals import Principal
from smbundle.local.servicecatalog import catalog

log = logging.getLogger(__name__)

RESERVED = ("SageMakerProjectName", "SageMakerProjectId")
LOCATION_TAG = "sagemaker:projectS3TemplatesLocation"
VISIBILITY_TAG = "sagemaker:studio-visibility"
CLOUDFORMATION = "cloudformation.amazonaws.com"
# botocore's model of CfnTemplateName, CfnTemplateURL and RoleArn.
TEMPLATE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
TEMPLATE_URL = re.compile(r"^https://([^/]+)/(.+)$")
ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
_one_at_a_time = threading.Lock()


@dataclass
class CfnProvider:
    """A project's CloudFormation template provider and the stack it made."""

    template_name: str
    template_url: str
    role_arn: str | None
    parameters: list[dict]  # as given, without the two SageMaker sets
    stack_name: str
    stack_id: str | None = None
    failure: str | None = None  # why the stack could not be made or changed (when no stack event says it)

    def detail(self, account: str, region: str) -> dict:
        detail = {
            "TemplateName": self.template_name,
            "TemplateURL": self.template_url,
            "Parameters": [{"Key": p["Key"], "Value": p.get("Value", "")} for p in self.parameters],
            "StackDetail": {"Name": self.stack_name, "StatusMessage": self.status_message(account, region)},
        }
        if self.role_arn:
            detail["RoleARN"] = self.role_arn
        if self.stack_id:
            detail["StackDetail"]["Id"] = self.stack_id
        return {"CfnTemplateProviderDetail": detail}

    def stack(self, account: str, region: str):
        if not self.stack_id:
            return None
        return cloudformation_backends[account][region].stacks.get(self.stack_id)

    def status_message(self, account: str, region: str) -> str:
        stack = self.stack(account, region)
        if stack is None:
            return self.failure or "The stack does not exist."
        if self.failure:
            return f"{stack.status}: {self.failure}"
        if stack.status.endswith(("_FAILED", "ROLLBACK_COMPLETE")):
            return f"{stack.status}: {catalog.stack_failure(stack)}"
        return stack.status


# -- the request ----------------------------------------------------------------------------------------------
def _invalid(message: str) -> ValidationError:
    return ValidationError(message=message)


def provider_of(providers: list | None, member: str) -> dict:
    """The one CfnTemplateProvider of a TemplateProviders / TemplateProvidersToUpdate list, checked as the API
    model constrains it (one item; TemplateName, TemplateURL and RoleARN patterns)."""
    if not isinstance(providers, list) or len(providers) != 1:
        raise _invalid(
            f"1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length less than or equal to 1 and greater than or equal to 1"
        )
    provider = (providers[0] or {}).get("CfnTemplateProvider")
    if not isinstance(provider, dict):
        raise _invalid(f"{member}[0] must have a CfnTemplateProvider.")
    name, url = provider.get("TemplateName") or "", provider.get("TemplateURL") or ""
    if not (1 <= len(name) <= 32 and TEMPLATE_NAME.fullmatch(name)):
        raise _invalid(
            f"Value '{name}' at '{member}.1.member.cfnTemplateProvider.templateName' failed to satisfy constraint: Member must satisfy regular expression pattern: (?=.{{1,32}}$)[a-zA-Z0-9](-*[a-zA-Z0-9])*"
        )
    if not TEMPLATE_URL.fullmatch(url) or len(url) > 1024:
        raise _invalid(
            f"Value '{url}' at '{member}.1.member.cfnTemplateProvider.templateURL' failed to satisfy constraint: Member must satisfy regular expression pattern: (?=.{{1,1024}}$)(https)://([^/]+)/(.+)"
        )
    role = provider.get("RoleARN")
    if role is not None and not ROLE_ARN.fullmatch(role):
        raise _invalid(
            f"Value '{role}' at '{member}.1.member.cfnTemplateProvider.roleARN' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws[a-z\\-]*:iam::\\d{{12}}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"
        )
    return provider


def object_location(url: str) -> tuple[str, str]:
    """(bucket, key) of an S3 HTTPS URL: virtual-hosted (``bucket.s3.region.amazonaws.com/key``) or path-style."""
    parsed = urlparse(url)
    host, path = parsed.netloc, unquote(parsed.path.lstrip("/"))
    if ".s3" in host and not host.startswith("s3"):
        return host.split(".s3", 1)[0], path
    bucket, _, key = path.partition("/")
    return bucket, key


def templates_locations(backend) -> list[str]:
    """The ``sagemaker:projectS3TemplatesLocation`` of each Studio domain of the account and Region."""
    tags = getattr(backend, "domain_tags", {})
    found = []
    for domain in backend.domains.values():
        location = tags.get(domain.arn, {}).get(LOCATION_TAG)
        if location:
            found.append(location if location.endswith("/") else location + "/")
    return found


def read_template(backend, url: str) -> str:
    """The template body, after the checks SageMaker makes on an S3 project template: inside a domain's
    templates location, tagged for Studio."""
    bucket, key = object_location(url)
    uri = f"s3://{bucket}/{key}"
    locations = templates_locations(backend)
    if not any(uri.startswith(location) for location in locations):
        where = ", ".join(locations) if locations else "none: no domain is tagged " + LOCATION_TAG
        raise _invalid(
            f"TemplateURL {url} is not in the S3 project templates location of a SageMaker domain of this "
            f"account ({LOCATION_TAG}: {where})."
        )
    s3 = s3_backends[backend.account_id]["aws"]
    try:
        obj = s3.get_object(bucket, key)
    except Exception:
        obj = None
    if obj is None:
        raise _invalid(f"TemplateURL {url}: the object s3://{bucket}/{key} does not exist.")
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(obj).get("Tags", [])}
    if tags.get(VISIBILITY_TAG) != "true":
        raise _invalid(
            f"TemplateURL {url}: the template is not tagged {VISIBILITY_TAG}=true, so it is not a SageMaker "
            "project template."
        )
    return obj.value.decode()


def check_parameters(body: str, given: list[dict]) -> dict:
    """The template's declared parameters; refuses keys it does not declare and the two SageMaker sets itself."""
    try:
        declared = parse_template(body).get("Parameters") or {}
    except Exception as exc:
        raise _invalid(f"Template format error: {exc}") from None
    for parameter in given:
        key = parameter.get("Key")
        if key in RESERVED:
            raise _invalid(f"Parameter {key} is set by SageMaker for every project; do not pass it.")
        if key not in declared:
            raise _invalid(f"Parameters: [{key}] do not exist in the template")
    return declared


def check_role(role_arn: str | None) -> None:
    if role_arn and principals.role(role_arn) is None:
        raise _invalid(f"Role {role_arn} is invalid or cannot be assumed: the role does not exist.")


# -- acting -----------------------------------------------------------------------------------------------------
def _stack_arn(backend, stack_name: str) -> str:
    return f"arn:aws:cloudformation:{backend.region_name}:{backend.account_id}:stack/{stack_name}/*"


def _authorize(caller: Principal | None, backend, checks: list[tuple[str, str, dict]]) -> None:
    if caller is None:
        return
    for action, resource, context in checks:
        enforcement.authorize(caller, action, resource, context, backend.region_name)


def _template_checks(url: str) -> list[tuple[str, str, dict]]:
    bucket, key = object_location(url)
    arn = f"arn:aws:s3:::{bucket}/{key}"
    return [("s3:GetObject", arn, {}), ("s3:GetObjectTagging", arn, {})]


def _stack_parameters(project, given: list[dict]) -> dict[str, str]:
    values = {p["Key"]: p.get("Value", "") for p in given}
    values.update({"SageMakerProjectName": project.name, "SageMakerProjectId": project.project_id})
    return values


def create(backend, project, provider: dict, body: str) -> None:
    """Create the project's stack as CloudFormation would for the caller; sets the project's status."""
    caller = principals.caller.get()
    role_arn = provider.get("RoleARN")
    given = [{"Key": p["Key"], "Value": p.get("Value", "")} for p in provider.get("Parameters") or []]
    stack_name = f"SP-{backend.account_id}-{project.project_id}"
    cfn = CfnProvider(provider["TemplateName"], provider["TemplateURL"], role_arn, given, stack_name)
    project.template_provider = cfn
    tags = {t["Key"]: t["Value"] for t in project.tags}
    stack_arn = _stack_arn(backend, stack_name)
    tag_context = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    tag_context.update({f"aws:ResourceTag/{k}": v for k, v in tags.items()})
    tag_context["aws:TagKeys"] = sorted(tags)
    checks = _template_checks(cfn.template_url)
    if role_arn:
        checks.append(("iam:PassRole", role_arn, {"iam:PassedToService": CLOUDFORMATION}))
    checks.append(
        ("cloudformation:CreateStack", stack_arn, {"cloudformation:RoleArn": role_arn} if role_arn else {})
    )
    checks.append(("cloudformation:TagResource", stack_arn, tag_context))
    cloudformation = cloudformation_backends[backend.account_id][backend.region_name]
    try:
        _authorize(caller, backend, checks)
        stack = cloudformation.create_stack(
            name=stack_name,
            template=body,
            parameters=_stack_parameters(project, given),
            tags=tags,
            role_arn=role_arn,
        )
    except Exception as exc:  # refused before the stack existed: a denied call, a rule, a role
        cfn.failure = catalog._message(exc)
        project.status = "CreateFailed"
        return
    cfn.stack_id = stack.stack_id
    project.status = "CreateCompleted" if stack.status == "CREATE_COMPLETE" else "CreateFailed"


def delete(backend, project) -> bool:
    """Delete the project's stack as the caller asks it (the stack's role acting); False if it failed."""
    cfn: CfnProvider = project.template_provider
    stack = cfn.stack(backend.account_id, backend.region_name)
    if stack is None or stack.status == "DELETE_COMPLETE":
        return True
    caller = principals.caller.get()
    checks = [("cloudformation:DeleteStack", _stack_arn(backend, cfn.stack_name), {})]
    try:
        _authorize(caller, backend, checks)
    except enforcement.AccessDenied as denial:
        cfn.failure = str(denial)
        return False
    cloudformation = cloudformation_backends[backend.account_id][backend.region_name]
    cloudformation.delete_stack(stack.stack_id)
    if stack.status == "DELETE_FAILED":
        cfn.failure = None
        return False
    return True


@dataclass
class Update:
    """One UpdateProject of a template provider, run in the background as CloudFormation runs UpdateStack."""

    backend: object
    project: object
    template_url: str
    body: str
    given: list[dict]
    caller: Principal | None

    def run(self) -> None:
        with _one_at_a_time:
            token = principals.caller.set(self.caller)
            try:
                self._update()
            except Exception as exc:  # never leave the project UpdateInProgress
                crashes.report(log, "update of project %s crashed", self.project.name)
                self._failed(f"{type(exc).__name__}: {exc}")
            finally:
                principals.caller.reset(token)

    def _failed(self, reason: str) -> None:
        self.project.status = "UpdateFailed"
        self.project.template_provider.failure = reason

    def _update(self) -> None:
        backend, cfn = self.backend, self.project.template_provider
        stack = cfn.stack(backend.account_id, backend.region_name)
        if stack is None:
            self._failed("The project's stack does not exist.")
            return
        # No iam:PassRole: the stack keeps its role, which CloudFormation uses "even if the users don't have
        # permission to pass it" (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStack.html).
        checks = _template_checks(self.template_url)
        stack_arn = _stack_arn(backend, cfn.stack_name)
        context = {"cloudformation:RoleArn": stack.role_arn} if stack.role_arn else {}
        checks.append(("cloudformation:UpdateStack", stack_arn, context))
        parameters = _stack_parameters(self.project, self.given)
        since = len(stack.events)
        cloudformation = cloudformation_backends[backend.account_id][backend.region_name]
        try:
            _authorize(self.caller, backend, checks)
            cloudformation.update_stack(  # the stack keeps its role (moto would drop it)
                stack.name,
                self.body,
                stack.role_arn,
                [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
                None,
            )
        except Exception as exc:  # refused before the stack changed
            self._failed(catalog._message(exc))
            return
        if stack.status != "UPDATE_COMPLETE":
            self._failed(_update_failure(stack, since))
            return
        cfn.template_url, cfn.parameters, cfn.failure = self.template_url, self.given, None
        self.project.status = "UpdateCompleted"


def _update_failure(stack, since: int) -> str:
    events = stack.events[since:]
    reasons = dict.fromkeys(
        f"{e.logical_resource_id}: {e.resource_status_reason}"
        for e in events
        if e.resource_status.endswith("_FAILED") and e.logical_resource_id != stack.name
    )
    return " ".join(reasons) or f"stack {stack.name} is {stack.status}."


def start_update(backend, project, providers: list) -> None:
    """UpdateProject with TemplateProvidersToUpdate: checked now, run in the background."""
    provider = provider_of(providers, "templateProvidersToUpdate")
    cfn: CfnProvider = project.template_provider
    if provider["TemplateName"] != cfn.template_name:
        raise _invalid(
            f"Project {project.name} has no template named {provider['TemplateName']} (its template is "
            f"{cfn.template_name})."
        )
    if "RoleARN" in provider:
        raise _invalid("RoleARN cannot be updated: the project's stack keeps the role it was created with.")
    body = read_template(backend, provider["TemplateURL"])
    given = [{"Key": p["Key"], "Value": p.get("Value", "")} for p in provider.get("Parameters") or []]
    check_parameters(body, given)
    project.status = "UpdateInProgress"
    update = Update(backend, project, provider["TemplateURL"], body, given, principals.caller.get())
    threading.Thread(target=update.run, name=f"sm-project-update-{project.name}", daemon=True).start()
