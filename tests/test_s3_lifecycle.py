"""The S3 project template path end to end: `run_local.py --target s3` (the whole lifecycle from a project created
through TemplateProviders by the Studio user, the roles stack's launch role as RoleARN, under enforcement), and the
preflight of `publish_product.py --target s3` (the role that builds the stack, the project roles, and the Studio
user who creates the project)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from smbundle import permission_plan, roles_stack, s3_project_templates, templates
from smbundle.local import server
from smbundle.local.iam import evaluation, roles
from smbundle.local.lifecycle import LocalRunOptions, run_lifecycle
from smbundle.local.sagemaker.studio_domain import prepare_domain
from smbundle.publish import PreflightError, PublishOptions, build_content, publish
from tests._local_helpers import denials_logged

REPO = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
REGION = "us-east-1"
STUDIO = server.STUDIO_EXECUTION_ROLE_NAME
STUDIO_ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/{STUDIO}"
CUSTOM_LAUNCH = roles_stack.role_arn(roles_stack.LAUNCH_ROLE, ACCOUNT)
BUCKET = s3_project_templates.default_bucket(ACCOUNT, REGION)


# -- the preflight of publish_product.py --target s3 ---------------------------------------------------------------
@pytest.fixture
def account(aws):
    server.prepare_account()
    session = boto3.session.Session(region_name=REGION)
    domain_id = prepare_domain(session.client("sagemaker"), STUDIO_ROLE)
    return session, domain_id


def s3_options(domain_id: str, **overrides) -> PublishOptions:
    values = {
        "repo_root": REPO,
        "target": "s3",
        "domain_id": domain_id,
        "principal_arns": [STUDIO_ROLE],
        "region": REGION,
        "roles": "custom",
    }
    values.update(overrides)
    return PublishOptions(**values)


def studio_may_create_projects(launch_role_arn: str = CUSTOM_LAUNCH) -> None:
    boto3.client("iam").put_role_policy(
        RoleName=STUDIO,
        PolicyName="projects-from-s3",
        PolicyDocument=json.dumps(s3_project_templates.studio_user_policy(ACCOUNT, BUCKET, launch_role_arn)),
    )


def test_a_studio_user_who_may_not_create_the_stack_stops_the_publication(account):
    session, domain_id = account
    with pytest.raises(PreflightError) as failure:
        publish(s3_options(domain_id), session=session)
    problems = failure.value.problems
    stack = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/SP-{ACCOUNT}-p-preflight000/*"
    expected = [
        f"role {STUDIO} may not cloudformation:CreateStack on {stack}",
        f"role {STUDIO} may not cloudformation:TagResource on {stack}",
        f"role {STUDIO} may not iam:PassRole on {CUSTOM_LAUNCH}",
        f"role {STUDIO} may not s3:GetObjectTagging on arn:aws:s3:::{BUCKET}/templates/",
    ]
    for start in expected:
        found = [p for p in problems if p.startswith(start)]
        assert found, (start, problems)
        assert found[0].endswith(s3_project_templates.CALLER_FIX)
    # only the Studio user's calls are missing: the roles stack's roles may do what the template needs
    assert all(p.startswith(f"role {STUDIO} ") for p in problems), problems
    # nothing of the template was written (the roles stack is deployed first, as with the Service Catalog target)
    assert BUCKET not in {b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]}


def test_with_the_studio_policy_the_template_is_published_for_the_launch_role(account):
    session, domain_id = account
    studio_may_create_projects()
    result = publish(s3_options(domain_id), session=session)
    assert result["bucket"] == BUCKET
    assert result["launch_role_arn"] == CUSTOM_LAUNCH
    assert result["template_name"] == "mlops-template-build-train-serve"
    assert len(result["template_name"]) <= 32
    key = result["template_url"].split(".amazonaws.com/")[1]
    tags = boto3.client("s3").get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
    assert {"Key": "sagemaker:studio-visibility", "Value": "true"} in tags


def test_the_launch_role_must_be_one_cloudformation_can_assume(account):
    session, domain_id = account
    managed_launch = f"arn:aws:iam::{ACCOUNT}:role/service-role/{server.LAUNCH_ROLE_NAME}"
    options = s3_options(domain_id, roles="managed", launch_role_arn=managed_launch, principal_arns=[])
    with pytest.raises(PreflightError) as failure:
        publish(options, session=session)
    assert failure.value.problems == [
        f"launch role {managed_launch} does not trust cloudformation.amazonaws.com, so CloudFormation cannot "
        "assume it as a project's RoleARN: add it to the role's trust policy, or publish with --roles custom"
    ]
    missing = f"arn:aws:iam::{ACCOUNT}:role/NoSuchLaunchRole"
    with pytest.raises(PreflightError, match=f"launch role {missing} does not exist"):
        publish(s3_options(domain_id, roles="managed", launch_role_arn=missing), session=session)


def test_the_launch_roles_calls_are_checked_as_the_role_cloudformation_assumes(account):
    """A role that trusts CloudFormation but carries the managed Service Catalog launch policy: it may create
    everything the default template creates (the template is checked against that policy), so nothing is denied;
    with no policy at all, every resource's creation is."""
    session, domain_id = account
    iam = boto3.client("iam")
    for name, policies in (
        ("S3ProjectsLaunch", [roles.managed_policy_arn(LAUNCH_POLICY)]),
        ("BareLaunch", []),
    ):
        iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=roles.trust_policy(("cloudformation.amazonaws.com",))
        )
        for arn in policies:
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    good = f"arn:aws:iam::{ACCOUNT}:role/S3ProjectsLaunch"
    studio_may_create_projects(good)
    result = publish(s3_options(domain_id, roles="managed", launch_role_arn=good), session=session)
    assert result["launch_role_arn"] == good
    bare = f"arn:aws:iam::{ACCOUNT}:role/BareLaunch"
    with pytest.raises(PreflightError) as failure:
        publish(
            s3_options(domain_id, roles="managed", launch_role_arn=bare, principal_arns=[]), session=session
        )
    assert any(
        p.startswith("role BareLaunch may not codecommit:CreateRepository") and "ModelBuildRepository" in p
        for p in failure.value.problems
    ), failure.value.problems
    assert not any(
        "cloudformation:CreateStack" in p for p in failure.value.problems
    )  # the Studio user's call


LAUNCH_POLICY = "AmazonSageMakerAdmin-ServiceCatalogProductsServiceRolePolicy"


def test_without_a_launch_role_the_publication_warns_that_the_resources_are_not_checked(account):
    session, domain_id = account
    result = publish(s3_options(domain_id, roles="managed", principal_arns=[]), session=session)
    assert result["launch_role_arn"] is None
    assert any(w.startswith("no launch role for the S3 template") for w in result["warnings"])


# -- the plan itself ----------------------------------------------------------------------------------------------
def test_the_s3_plan_has_the_studio_user_create_the_stack_and_the_launch_role_its_resources():
    content = build_content(REPO, "plan-test", BUCKET)
    endpoint = templates.load(REPO / "seed_code" / "deploy" / "endpoint-config-template.yml")
    s3_plan = permission_plan.plan(
        content.template,
        endpoint,
        launch_role_arn=CUSTOM_LAUNCH,
        region=REGION,
        account=ACCOUNT,
        provisioned_by="s3",
    )
    launch_calls = [c for c in s3_plan if c.role_arn == CUSTOM_LAUNCH]
    assert launch_calls and not [c for c in launch_calls if c.action.startswith("cloudformation:")]
    assert not [c for c in launch_calls if "sc-123456789012" in c.resource]  # no Service Catalog copy to read
    catalog_plan = permission_plan.plan(
        content.template, endpoint, launch_role_arn=CUSTOM_LAUNCH, region=REGION, account=ACCOUNT
    )
    resource_calls = {(c.action, c.resource) for c in launch_calls}
    assert resource_calls <= {
        (c.action, c.resource) for c in catalog_plan
    }  # the same resources, the same names
    assert permission_plan.plan(
        content.template, endpoint, launch_role_arn=None, region=REGION, account=ACCOUNT, provisioned_by="s3"
    ) == [c for c in s3_plan if c.role_arn != CUSTOM_LAUNCH]


def test_the_studio_policy_allows_exactly_what_the_preflight_asks_of_the_studio_user():
    key = s3_project_templates.template_key("plan-test")
    calls = s3_project_templates.caller_calls([STUDIO_ROLE], BUCKET, key, CUSTOM_LAUNCH, REGION, ACCOUNT)
    assert [c.action for c in calls] == [
        "s3:GetObject",
        "s3:GetObjectTagging",
        "iam:PassRole",
        "cloudformation:CreateStack",
        "cloudformation:TagResource",
        "cloudformation:DeleteStack",
    ]
    policy = [s3_project_templates.studio_user_policy(ACCOUNT, BUCKET, CUSTOM_LAUNCH)]
    for call in calls:
        assert evaluation.evaluate(policy, call.action, call.resource, dict(call.context)).allowed, call
    other = roles_stack.role_arn("SomeOtherRole", ACCOUNT)
    assert not evaluation.evaluate(
        policy, "iam:PassRole", other, {"iam:PassedToService": "cloudformation.amazonaws.com"}
    ).allowed
    untagged = next(c for c in calls if c.action == "cloudformation:TagResource")
    assert not evaluation.evaluate(
        policy, untagged.action, untagged.resource, {"aws:TagKeys": ["team"]}
    ).allowed


# -- the whole lifecycle from the S3 template ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def s3_lifecycle(tmp_path_factory):
    notes = []

    def reporter(event, name, status, seconds):
        if event == "note":
            notes.append(name)

    with denials_logged() as denials, server.start() as embedded:
        summary = run_lifecycle(
            LocalRunOptions(
                workdir=tmp_path_factory.mktemp("s3-lifecycle"),
                project_name="s3-demo",
                endpoint_url=embedded.url,
                roles="custom",
                target="s3",
            ),
            reporter,
        )
        session = boto3.session.Session(region_name=REGION)
        clients = {s: session.client(s, endpoint_url=embedded.url) for s in ("cloudformation", "codebuild")}
        project_id = summary["project"]["ProjectId"]
        stack = clients["cloudformation"].describe_stacks(StackName=f"SP-{ACCOUNT}-{project_id}")["Stacks"][0]
        builds = clients["codebuild"].batch_get_projects(
            names=clients["codebuild"].list_projects()["projects"]
        )
        catalog = session.client("servicecatalog", endpoint_url=embedded.url)
        state = {
            "stack": stack,
            "build_roles": {p["serviceRole"] for p in builds["projects"]},
            "products": catalog.search_products_as_admin()["ProductViewDetails"],
            "domain_tags": session.client("sagemaker", endpoint_url=embedded.url).list_tags(
                ResourceArn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:domain/{embedded.domain_id}"
            )["Tags"],
        }
        yield summary, denials, notes, state


def test_the_whole_lifecycle_runs_from_the_s3_template_with_no_denial(s3_lifecycle):
    summary, denied, _, state = s3_lifecycle
    assert denied == []
    assert all(e["status"] == "Succeeded" for n, e in summary["stages"].items() if ".OnCreation" not in n)
    assert {"Publish", "CreateProject", "ApproveModelPackage", "ModelDeploy.DeployProd"} <= set(
        summary["stages"]
    )
    assert summary["prod"]["DescribeEndpoint"]["EndpointStatus"] == "InService"
    assert summary["staging"]["DescribeEndpoint"]["EndpointStatus"] == "InService"
    assert summary["first_runs"]["build"]["status"] == "Succeeded"
    # published as an S3 template only: no Service Catalog product; the domain points at the templates
    assert state["products"] == []
    assert {
        "Key": "sagemaker:projectS3TemplatesLocation",
        "Value": f"s3://{BUCKET}/templates/",
    } in state["domain_tags"]


def test_the_project_comes_from_the_template_its_stack_built_by_the_launch_role(s3_lifecycle):
    summary, _, notes, state = s3_lifecycle
    source = summary["project"]["provisioned_from"]
    assert source["target"] == "s3"
    assert source["TemplateURL"].startswith(f"https://{BUCKET}.s3.{REGION}.amazonaws.com/templates/")
    assert source["RoleARN"] == CUSTOM_LAUNCH
    assert source["StackDetail"]["Name"] == f"SP-{ACCOUNT}-{summary['project']['ProjectId']}"
    assert source["StackDetail"]["StatusMessage"] == "CREATE_COMPLETE"
    assert state["stack"]["RoleARN"] == CUSTOM_LAUNCH
    assert {"Key": "sagemaker:project-name", "Value": "s3-demo"} in state["stack"]["Tags"]
    # the project's services run as the roles stack's roles (the template's role parameters' defaults)
    assert state["build_roles"] == {
        roles_stack.role_arn("AmazonSageMakerServiceCatalogCustomCodeBuildRole", ACCOUNT)
    }
    # the Studio role was given what creating projects from S3 templates needs, then created the project
    assert any(n.startswith(f"studio access: {STUDIO} may read s3://{BUCKET}/templates/") for n in notes)
