"""Publish and version the product: seed-code zips and the rendered template to S3, then Service Catalog
(portfolio, product tagged for Studio, one provisioning artifact per content version, principals, launch
constraint), or a SageMaker S3 project template.

Every step is find-or-create, so a re-run after a failure half way converges to the same end state. A new
provisioning artifact is added only when the template or the seed code changed (the version label is a hash of
their content). Preflight checks run before any write; a dry run makes read calls only.
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from smbundle import (
    aws_clients,
    packaging,
    permission_plan,
    region_support,
    resource_permissions,
    roles_stack,
    s3_project_templates,
    templates,
)
from smbundle.catalog_versions import created_time, deprecate, ensure_artifact
from smbundle.publish_preflight import target_problems

log = logging.getLogger(__name__)

VISIBILITY_TAG = {"Key": "sagemaker:studio-visibility", "Value": "true"}
SEED_OBJECT_TAGS = {"servicecatalog:provisioning": "true"}
DEFAULT_PRODUCT_NAME = "MLOps template: build, train, serverless staging, instance prod"
DEFAULT_PORTFOLIO_NAME = "SageMaker organization templates"
PRODUCT_ROLE_SERVICES = {
    "AmazonSageMakerServiceCatalogProductsCodeBuildRole": "codebuild.amazonaws.com",
    "AmazonSageMakerServiceCatalogProductsCodePipelineRole": "codepipeline.amazonaws.com",
    "AmazonSageMakerServiceCatalogProductsEventsRole": "events.amazonaws.com",
    "AmazonSageMakerServiceCatalogProductsCloudformationRole": "cloudformation.amazonaws.com",
    "AmazonSageMakerServiceCatalogProductsExecutionRole": "sagemaker.amazonaws.com",
}
ENABLE_PROJECTS_FIX = (
    "enable SageMaker projects for the Studio domain (SageMaker console > Domains > <domain> > Domain settings > "
    "SageMaker Projects and JumpStart), which creates the service-role/AmazonSageMakerServiceCatalogProducts* roles"
)


ENDPOINT_TEMPLATE = "endpoint-config-template.yml"
NO_S3_LAUNCH_ROLE = (
    "no launch role for the S3 template (--launch-role-arn, or --roles custom): a project created without a RoleARN "
    "is built with its creator's own credentials, so what the template's resources need is not checked; give one "
    "(a role that trusts cloudformation.amazonaws.com, docs/publish.md)"
)
PERMISSION_FIX = (
    "change the template so it no longer needs this (docs/permissions.md lists what the SageMaker-managed roles "
    "allow), or use custom roles that allow it"
)


class PublishError(Exception):
    """Publishing cannot go on; the message says what to fix."""


class PreflightError(PublishError):
    def __init__(self, problems: list[str], warnings: list[str] | None = None):
        super().__init__(f"{len(problems)} prerequisite(s) missing: " + " | ".join(problems))
        self.problems = problems
        self.warnings = list(warnings or [])  # what the publisher also found, short of stopping it


@dataclass
class PublishOptions:
    repo_root: Path
    product_name: str = DEFAULT_PRODUCT_NAME
    portfolio_name: str = DEFAULT_PORTFOLIO_NAME
    portfolio_id: str | None = None
    bucket: str | None = None
    principal_arns: list[str] = field(default_factory=list)
    launch_role_arn: str | None = None
    keep_versions: int | None = None
    target: str = "servicecatalog"  # or "s3"
    domain_id: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    dry_run: bool = False
    skip_permission_check: bool = False
    roles: str = "managed"  # or "custom": the product's own roles stack (service_catalog/roles.yaml)
    owner: str = "ML platform team"
    description: str = (
        "Model build and deploy pipelines: SageMaker Pipeline with an MSE gate, serverless staging endpoint with "
        "real tests, manual approval, instance-backed production endpoint with data capture."
    )
    support_email: str | None = None
    support_url: str | None = None
    support_description: str = "See the README of the template repository; contact the ML platform team."


@dataclass
class Content:
    """What a version is made of: the two seed zips and the template rendered to point at them."""

    version: str
    build_zip: bytes
    deploy_zip: bytes
    build_key: str
    deploy_key: str
    template_key: str
    template_body: str
    template: dict  # the rendered template, as a document


def build_content(
    repo_root: Path, product_name: str, bucket: str, role_defaults: dict[str, str] | None = None
) -> Content:
    """The version's content. ``role_defaults`` (parameter -> role ARN) become the role parameters' defaults:
    Service Catalog has no parameter defaults outside the template, and Studio shows the template's."""
    build_zip = packaging.deterministic_zip(repo_root / "seed_code" / "build")
    deploy_zip = packaging.deterministic_zip(repo_root / "seed_code" / "deploy")
    template = templates.load(repo_root / "service_catalog" / "product.yaml")
    if role_defaults:
        template = templates.with_defaults(template, role_defaults)
    source = templates.to_yaml(template).encode()
    version = "v-" + packaging.content_hash(source, build_zip, deploy_zip)[:12]
    prefix = f"smbundle/{_slug(product_name)}/{version}"
    build_key, deploy_key = f"{prefix}/seed-code/build.zip", f"{prefix}/seed-code/deploy.zip"
    rendered = templates.render_product(template, bucket, build_key, deploy_key)
    return Content(
        version,
        build_zip,
        deploy_zip,
        build_key,
        deploy_key,
        f"{prefix}/product.yaml",
        templates.to_yaml(rendered),
        rendered,
    )


def _slug(name: str) -> str:
    # ASCII only: the slug names S3 keys and S3 templates' TemplateName ([a-zA-Z0-9](-*[a-zA-Z0-9])*)
    return "".join(c if c.isascii() and c.isalnum() else "-" for c in name.lower()).strip("-")[:60]


slug = _slug  # the S3 prefix a product name gives (empty when the name has no letter or digit)


def template_url(bucket: str, region: str, key: str) -> str:
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


class Publisher:
    def __init__(
        self,
        options: PublishOptions,
        session=None,
        before_write: Callable[[str], None] | None = None,
        progress: Callable[[str], None] | None = None,
        say: Callable[[str], None] | None = None,
    ):
        self.options = options
        self.session = session or aws_clients.session(options.profile, options.region)
        self.region = self.session.region_name or "us-east-1"
        self.before_write = before_write or (lambda step: None)
        self.progress = progress or (lambda step: None)  # told each write once it is done
        self.clients: dict = {}
        self.plan: list[str] = []
        self.changed = False
        self.warnings: list[str] = []  # what only some projects' choices need and the Region lacks
        self.say = say or (
            lambda text: log.info("%s", text)
        )  # what is not a write (the roles stack's preview)
        self.roles_stack = None  # with --roles custom: the deployed (or, in a dry run, planned) roles stack
        self.bucket: str | None = None  # where the template and the seed code go (set by run)

    def client(self, service: str):
        if service not in self.clients:
            self.clients[service] = aws_clients.client_with_retries(
                self.session, service, self.options.endpoint_url
            )
        return self.clients[service]

    def write(self, step: str, function, *args, **kwargs):
        """Every write goes through here: planned in a dry run, executed otherwise."""
        self.plan.append(step)
        self.changed = True
        if self.options.dry_run:
            return None
        self.before_write(step)
        log.info("%s", step)
        answer = function(*args, **kwargs)
        self.progress(step)
        return answer

    # -- preflight -------------------------------------------------------------------------------------------
    def preflight(self, account: str, content: Content | None = None) -> None:
        iam = self.client("iam")
        problems = []
        roles = dict(PRODUCT_ROLE_SERVICES)
        if self.options.target == "servicecatalog":
            launch = self.launch_role(account)
            roles[launch.split("/")[-1]] = "servicecatalog.amazonaws.com"
        if self.roles_stack is not None:
            roles = {} if not self.roles_stack.exists else dict(roles_stack.ROLE_SERVICES)
        for name, service in roles.items():
            problem = _check_role(iam, name, service)
            if problem:
                problems.append(problem)
        if self.options.target == "s3":
            problems.extend(self.s3_launch_role_problems(account))
        for principal in self.options.principal_arns:
            problem = _check_principal(iam, principal)
            if problem:
                problems.append(problem)
        if self.options.target == "servicecatalog" and not self.options.principal_arns:
            problems.append(
                "no --principal-arn given: without a Studio execution role associated with the portfolio the "
                "template is invisible in Studio; pass the domain's or user profile's execution role ARN"
            )
        if self.options.target == "s3" and not self.options.domain_id:
            problems.append(
                "--target s3 needs --domain-id (the Studio domain to tag with the template location)"
            )
        problems.extend(target_problems(self))
        if content is not None:
            support = region_support.check(self.options.repo_root, content.template, self.region)
            problems.extend(support.errors)
            self.warnings.extend(support.warnings)
        if self.roles_stack is not None and not self.roles_stack.exists:
            self.warnings.append(
                f"the roles stack {self.roles_stack.name} does not exist yet, so its roles' permissions are not "
                "checked: a run without --dry-run creates it, then checks them"
            )
        elif not problems and content is not None and not self.options.skip_permission_check:
            problems = self.permission_problems(account, content)
        if problems:
            raise PreflightError(problems, self.warnings)

    def s3_launch_role_problems(self, account: str) -> list[str]:
        """The S3 template's launch role (the RoleARN projects are created with) must trust CloudFormation; without
        one the stack is built with the creator's own credentials, which the preflight cannot plan for."""
        launch = self.launch_role(account)
        if launch is None:
            return []  # the permission check says what it cannot check (NO_S3_LAUNCH_ROLE)
        if self.roles_stack is not None:
            return []  # the roles stack's launch role trusts CloudFormation (roles.yaml), or will once this run updates it
        problem = _check_role(self.client("iam"), launch.split("/")[-1], s3_project_templates.CLOUDFORMATION)
        if problem and "does not exist" in problem:
            return [
                f"launch role {launch} does not exist: create a role that trusts cloudformation.amazonaws.com "
                "(docs/publish.md, 'Both targets'), or publish with --roles custom"
            ]
        if problem:
            return [
                f"launch role {launch} does not trust cloudformation.amazonaws.com, so CloudFormation cannot "
                "assume it as a project's RoleARN: add it to the role's trust policy, or publish with --roles custom"
            ]
        return []

    def permission_problems(self, account: str, content: Content) -> list[str]:
        """What the project roles would be denied (iam:SimulatePrincipalPolicy, driven by the template).

        Calls planned from a registry schema's handler permissions (a type outside the reviewed table) are an
        over-approximation: the preflight says so, one line per type, and their denials are warnings, not problems
        (AWS may not make the call; if it does, creating a project fails naming the role and the action)."""
        endpoint_template = templates.load(
            self.options.repo_root / "seed_code" / "deploy" / ENDPOINT_TEMPLATE
        )
        s3_target = self.options.target == "s3"
        try:
            calls = permission_plan.plan(
                content.template,
                endpoint_template,
                launch_role_arn=self.launch_role(account),
                region=self.region,
                account=account,
                # the custom roles exist for prod's autoscaling and rollback alarms: check those too
                prod_features=self.roles_stack is not None,
                provisioned_by=self.options.target,
            )
        except resource_permissions.UnknownResourceType as exc:
            return [str(exc)]
        callers = list(self.options.principal_arns) if s3_target else []
        if s3_target and self.launch_role(account) is None:
            self.warnings.append(NO_S3_LAUNCH_ROLE)
        if callers:  # the Studio users who create projects from the template
            calls += s3_project_templates.caller_calls(
                callers,
                self.bucket,
                s3_project_templates.template_key(_slug(self.options.product_name)),
                self.launch_role(account),
                self.region,
                account,
            )
        self.warnings.extend(permission_plan.over_approximations(calls))
        try:
            problems = permission_plan.check(self.client("iam"), calls)
        except ClientError as exc:
            raise PublishError(
                f"cannot check the project roles' permissions: {exc.response['Error']['Message']}; grant "
                "yourself iam:SimulatePrincipalPolicy or pass --skip-permission-check"
            ) from exc
        self.warnings.extend(_approximated_denials([p for p in problems if p.call.approximated]))
        return [
            f"{problem.describe()}: "
            + (s3_project_templates.CALLER_FIX if problem.call.role_arn in callers else PERMISSION_FIX)
            for problem in problems
            if not problem.call.approximated
        ]

    def default_launch_role(self, account: str) -> str:
        return f"arn:aws:iam::{account}:role/service-role/AmazonSageMakerServiceCatalogProductsLaunchRole"

    def launch_role(self, account: str) -> str | None:
        """The launch constraint's role: the roles stack's, --launch-role-arn, else the SageMaker-managed one. For
        the S3 template, the RoleARN CloudFormation assumes: the roles stack's or --launch-role-arn (the managed
        launch role trusts only Service Catalog), else None."""
        if self.roles_stack is not None:
            return self.roles_stack.launch_role_arn
        if self.options.target == "s3":
            return self.options.launch_role_arn
        return self.options.launch_role_arn or self.default_launch_role(account)

    # -- S3 --------------------------------------------------------------------------------------------------
    def ensure_bucket(self, bucket: str) -> None:
        s3 = self.client("s3")
        try:
            s3.head_bucket(Bucket=bucket)
            return
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
                raise PublishError(f"bucket {bucket} exists but is not accessible: {exc}") from exc
        kwargs = {"Bucket": bucket}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        self.write(f"create bucket {bucket}", s3.create_bucket, **kwargs)
        self.write(
            f"encrypt bucket {bucket}",
            s3.put_bucket_encryption,
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        self.write(
            f"block public access on {bucket}",
            s3.put_public_access_block,
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        self.write(
            f"enable versioning on {bucket}",
            s3.put_bucket_versioning,
            Bucket=bucket,
            VersioningConfiguration={"Status": "Enabled"},
        )

    def upload(self, bucket: str, key: str, body: bytes, tags: dict[str, str] | None = None) -> None:
        """Upload unless the object already holds ``body``; make sure it carries ``tags`` either way."""
        s3 = self.client("s3")
        try:
            existing = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError:
            existing = None
        if existing != body:
            kwargs = {"Bucket": bucket, "Key": key, "Body": body, "ServerSideEncryption": "AES256"}
            if tags:
                kwargs["Tagging"] = urlencode(tags)
            self.write(f"upload s3://{bucket}/{key}", s3.put_object, **kwargs)
            return
        if not tags:
            return
        current = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}
        if any(current.get(k) != v for k, v in tags.items()):
            merged = {**current, **tags}
            self.write(
                f"tag s3://{bucket}/{key} " + ", ".join(f"{k}={v}" for k, v in tags.items()),
                s3.put_object_tagging,
                Bucket=bucket,
                Key=key,
                Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in merged.items()]},
            )

    # -- Service Catalog ---------------------------------------------------------------------------------------
    def find_portfolio(self) -> str | None:
        catalog = self.client("servicecatalog")
        if self.options.portfolio_id:
            catalog.describe_portfolio(Id=self.options.portfolio_id)
            return self.options.portfolio_id
        for page in catalog.get_paginator("list_portfolios").paginate():
            for portfolio in page["PortfolioDetails"]:
                if portfolio["DisplayName"] == self.options.portfolio_name:
                    return portfolio["Id"]
        return None

    def find_product(self) -> str | None:
        catalog = self.client("servicecatalog")
        answer = catalog.search_products_as_admin(Filters={"FullTextSearch": [self.options.product_name]})
        for detail in answer.get("ProductViewDetails", []):
            if detail["ProductViewSummary"]["Name"] == self.options.product_name:
                return detail["ProductViewSummary"]["ProductId"]
        return None

    def publish_servicecatalog(self, account: str, bucket: str, content: Content) -> dict:
        catalog = self.client("servicecatalog")
        url = template_url(bucket, self.region, content.template_key)
        artifact_parameters = {
            "Name": content.version,
            "Description": f"content hash {content.version}",
            "Info": {"LoadTemplateFromURL": url},
            "Type": "CLOUD_FORMATION_TEMPLATE",
        }
        portfolio_id = self.find_portfolio()
        if portfolio_id is None:
            answer = self.write(
                f"create portfolio {self.options.portfolio_name!r}",
                catalog.create_portfolio,
                DisplayName=self.options.portfolio_name,
                ProviderName=self.options.owner,
                Description="SageMaker project templates published by smbundle",
                IdempotencyToken=_token("portfolio", self.options.portfolio_name),
            )
            portfolio_id = answer["PortfolioDetail"]["Id"] if answer else "(new portfolio)"

        product_id = self.find_product()
        artifact_id = None
        if product_id is None:
            product_args = {
                "Name": self.options.product_name,
                "Owner": self.options.owner,
                "Description": self.options.description,
                "Distributor": self.options.owner,
                "SupportDescription": self.options.support_description,
                "ProductType": "CLOUD_FORMATION_TEMPLATE",
                "Tags": [VISIBILITY_TAG],
                "ProvisioningArtifactParameters": artifact_parameters,
                "IdempotencyToken": _token("product", self.options.product_name),
            }
            if self.options.support_email:
                product_args["SupportEmail"] = self.options.support_email
            if self.options.support_url:
                product_args["SupportUrl"] = self.options.support_url
            answer = self.write(
                f"create product {self.options.product_name!r} ({content.version})",
                catalog.create_product,
                **product_args,
            )
            if answer:
                product_id = answer["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
                artifact_id = answer["ProvisioningArtifactDetail"]["Id"]
        else:
            artifacts = catalog.list_provisioning_artifacts(ProductId=product_id)[
                "ProvisioningArtifactDetails"
            ]
            artifact_id, artifacts = ensure_artifact(
                self, product_id, content.version, artifact_parameters, artifacts
            )
            self.deprecate_old(product_id, artifact_id, artifacts)

        self.associate(account, portfolio_id, product_id or "(new product)")

        return {
            "portfolio_id": portfolio_id,
            "product_id": product_id,
            "provisioning_artifact_id": artifact_id,
        }

    def associate(self, account: str, portfolio_id: str | None, product_id: str | None) -> None:
        catalog = self.client("servicecatalog")
        known_portfolio = not portfolio_id.startswith("(")
        known_product = not product_id.startswith("(")
        linked = []
        if known_product and known_portfolio:
            linked = [
                p["Id"] for p in catalog.list_portfolios_for_product(ProductId=product_id)["PortfolioDetails"]
            ]
        if portfolio_id not in linked:
            self.write(
                f"associate product {product_id} with portfolio {portfolio_id}",
                catalog.associate_product_with_portfolio,
                ProductId=product_id,
                PortfolioId=portfolio_id,
            )
        principals = []
        if known_portfolio:
            principals = [
                p["PrincipalARN"]
                for p in catalog.list_principals_for_portfolio(PortfolioId=portfolio_id)["Principals"]
            ]
        for principal in self.options.principal_arns:
            if principal not in principals:
                self.write(
                    f"grant portfolio {portfolio_id} to {principal}",
                    catalog.associate_principal_with_portfolio,
                    PortfolioId=portfolio_id,
                    PrincipalARN=principal,
                    PrincipalType="IAM",
                )
        constraints = []
        if known_portfolio and known_product:
            constraints = catalog.list_constraints_for_portfolio(
                PortfolioId=portfolio_id, ProductId=product_id
            )["ConstraintDetails"]
        launch = [c for c in constraints if c["Type"] == "LAUNCH"]
        if (
            launch and self.roles_stack is not None
        ):  # switching roles: the product's one LAUNCH constraint follows
            roles_stack.follow_launch_role(self, launch[0], self.roles_stack.launch_role_arn)
        if not launch:
            role = self.launch_role(account)
            self.write(
                f"launch constraint on {product_id} with role {role}",
                catalog.create_constraint,
                PortfolioId=portfolio_id,
                ProductId=product_id,
                Type="LAUNCH",
                Parameters=json.dumps({"RoleArn": role}),
                Description=(
                    roles_stack.LAUNCH_CONSTRAINT_DESCRIPTION
                    if self.roles_stack is not None
                    else "SageMaker projects launch role"
                ),
                IdempotencyToken=_token("launch", portfolio_id or "", product_id or ""),
            )

    def deprecate_old(self, product_id: str, current_id: str | None, artifacts: list[dict]) -> None:
        """Deprecate all but the newest ``keep_versions`` active artifacts, the current one always kept.

        ``artifacts`` is the product's list as it will be after this run (a planned new artifact included), so a
        dry run plans exactly the deprecations the real run makes."""
        keep = self.options.keep_versions
        if not keep:
            return
        catalog = self.client("servicecatalog")
        active = sorted((a for a in artifacts if a.get("Active", True)), key=created_time, reverse=True)
        active.sort(key=lambda a: a["Id"] != current_id)  # the current version is always kept
        for old in active[keep:]:
            deprecate(self, catalog, product_id, old)

    def publish_s3(self, account: str, bucket: str, content: Content) -> dict:
        s3 = self.client("s3")
        cors = {
            "CORSRules": [
                {
                    "AllowedHeaders": ["*"],
                    "AllowedMethods": ["GET", "PUT", "POST", "HEAD", "DELETE"],
                    "AllowedOrigins": ["https://*.sagemaker.aws"],
                    "ExposeHeaders": [
                        "ETag",
                        "x-amz-delete-marker",
                        "x-amz-id-2",
                        "x-amz-request-id",
                        "x-amz-server-side-encryption",
                        "x-amz-version-id",
                    ],
                }
            ]
        }
        try:
            current = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
        except ClientError:
            current = None
        if current != cors["CORSRules"]:
            self.write(
                f"set CORS for SageMaker Studio on {bucket}",
                s3.put_bucket_cors,
                Bucket=bucket,
                CORSConfiguration=cors,
            )
        key = s3_project_templates.template_key(_slug(self.options.product_name))
        self.upload(bucket, key, content.template_body.encode(), tags={"sagemaker:studio-visibility": "true"})
        location = f"s3://{bucket}/{s3_project_templates.TEMPLATES_PREFIX}"
        sagemaker = self.client("sagemaker")
        domain_arn = sagemaker.describe_domain(DomainId=self.options.domain_id)["DomainArn"]
        tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=domain_arn).get("Tags", [])}
        if tags.get("sagemaker:projectS3TemplatesLocation") != location:
            self.write(
                f"tag domain {self.options.domain_id} with sagemaker:projectS3TemplatesLocation={location}",
                sagemaker.add_tags,
                ResourceArn=domain_arn,
                Tags=[{"Key": "sagemaker:projectS3TemplatesLocation", "Value": location}],
            )
        return {
            "template_url": template_url(bucket, self.region, key),
            "templates_location": location,
            # what a project's CfnTemplateProvider names (Studio fills them in; CreateProject callers pass them)
            "template_name": s3_project_templates.template_name(_slug(self.options.product_name)),
            "launch_role_arn": self.launch_role(account),
        }

    # -- the whole thing -------------------------------------------------------------------------------------
    def run(self) -> dict:
        account = self.client("sts").get_caller_identity()["Account"]
        if self.options.bucket:
            bucket = self.options.bucket
        elif self.options.target == "s3":  # a sagemaker-* name, as AWS's guide names it
            bucket = s3_project_templates.default_bucket(account, self.region)
        else:
            bucket = f"smbundle-templates-{account}-{self.region}"
        self.bucket = bucket
        role_defaults = None
        if self.options.roles == "custom":  # first: a failed roles stack leaves nothing published
            try:
                self.roles_stack = roles_stack.RolesDeployer(self, self.options.repo_root, self.say).deploy(
                    account
                )
            except roles_stack.RolesStackError as exc:
                raise PublishError(str(exc)) from None
            role_defaults = self.roles_stack.parameter_defaults
        content = build_content(self.options.repo_root, self.options.product_name, bucket, role_defaults)
        self.preflight(account, content)
        self.ensure_bucket(bucket)
        # The launch role reads the seed code when it creates the repositories: the managed launch policy allows
        # s3:GetObject outside sagemaker-* buckets only on objects tagged servicecatalog:provisioning=true.
        self.upload(bucket, content.build_key, content.build_zip, tags=SEED_OBJECT_TAGS)
        self.upload(bucket, content.deploy_key, content.deploy_zip, tags=SEED_OBJECT_TAGS)
        self.upload(bucket, content.template_key, content.template_body.encode())
        result = {
            "target": self.options.target,
            "version": content.version,
            "bucket": bucket,
            "template_url": template_url(bucket, self.region, content.template_key),
            "seed_code": {
                "build": f"s3://{bucket}/{content.build_key}",
                "deploy": f"s3://{bucket}/{content.deploy_key}",
            },
        }
        if self.options.target == "s3":
            result.update(self.publish_s3(account, bucket, content))
            result["rollout"] = template_rollout(result["template_url"])
        else:
            result.update(self.publish_servicecatalog(account, bucket, content))
            result["rollout"] = rollout(self.options.product_name, content.version)
        result["roles"] = self.roles_stack.as_dict() if self.roles_stack is not None else "managed"
        result.update(
            {
                "changed": self.changed,
                "dry_run": self.options.dry_run,
                "plan": self.plan,
                "warnings": self.warnings,
            }
        )
        return result


def template_rollout(url: str) -> dict:
    """How the platform team moves the projects created from the S3 template at ``url`` to what it holds now."""
    command = f".venv/bin/python scripts/update_projects.py --template-url {shlex.quote(url)}"
    return {
        "note": (
            "existing projects keep the stack they were created with; preview their update (the change set of each "
            "project's stack), then update them"
        ),
        "preview": f"{command} --dry-run",
        "update": command,
    }


def rollout(product_name: str, version: str) -> dict:
    """How the platform team moves existing projects to ``version`` (they stay on theirs until updated)."""
    command = ".venv/bin/python scripts/update_projects.py"
    if product_name != DEFAULT_PRODUCT_NAME:
        command += f" --product-name {shlex.quote(product_name)}"
    command += f" --to-version {version}"
    return {
        "note": (
            "existing projects stay on the version they were created from; preview their update (the change set "
            "of each project's stack: what is modified in place, replaced or deleted), then update them"
        ),
        "preview": f"{command} --dry-run",
        "update": command,
    }


PROJECT_STEP = {"create": "creating", "update": "updating", "delete": "deleting"}


def _approximated_denials(problems: list[permission_plan.Problem]) -> list[str]:
    """Denials of calls planned from a registry schema's handler: one warning per role, resource and handler."""
    grouped: dict[tuple, list[str]] = {}
    for problem in problems:
        call = problem.call
        key = (call.role_arn, call.resource, call.why, problem.decision, call.approximated[1])
        grouped.setdefault(key, []).append(call.action)
    warnings = []
    for (role_arn, resource, why, decision, handler), denied in grouped.items():
        them, calls = ("them", "one of these calls") if len(denied) > 1 else ("it", "the call")
        warnings.append(
            f"role {role_arn.rsplit('/', 1)[-1]} may not {', '.join(denied)} on {resource} ({why}; {decision}): "
            f"the registry schema's {handler} handler lists {them} ({resource_permissions.OVER_APPROXIMATION}); "
            f"if AWS makes {calls}, {PROJECT_STEP.get(handler, handler)} a project fails: {PERMISSION_FIX}"
        )
    return warnings


def _check_role(iam, name: str, service: str) -> str | None:
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchEntity":
            return f"role {name} does not exist: {ENABLE_PROJECTS_FIX}"
        raise
    document = role["AssumeRolePolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    principals = []
    for statement in document.get("Statement", []):
        if statement.get("Effect") == "Allow":
            service_principal = (statement.get("Principal") or {}).get("Service", [])
            principals.extend(
                service_principal if isinstance(service_principal, list) else [service_principal]
            )
    if service not in principals:
        return f"role {name} does not trust {service}: add it to the role's trust policy (or re-create the role: {ENABLE_PROJECTS_FIX})"
    return None


def _check_principal(iam, arn: str) -> str | None:
    kind, _, path_and_name = arn.split(":", 5)[-1].partition("/")
    name = path_and_name.split("/")[-1]
    try:
        if kind == "role":
            iam.get_role(RoleName=name)
        elif kind == "user":
            iam.get_user(UserName=name)
        elif kind == "group":
            iam.get_group(GroupName=name)
        else:
            return f"principal {arn} is not an IAM role, user or group ARN"
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchEntity":
            return f"principal {arn} does not exist: pass the Studio domain's or user profile's execution role ARN"
        raise
    return None


def _token(*parts: str) -> str:
    return packaging.content_hash(*(p.encode() for p in parts))[:32]


def publish(options: PublishOptions, session=None, before_write=None, progress=None, say=None) -> dict:
    return Publisher(options, session, before_write, progress, say).run()
