"""The product's own roles (service_catalog/roles.yaml): least privilege within the project's naming patterns,
enough for every call the lifecycle makes, deployed with a preview by publish_product.py --roles custom."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import boto3
import pytest

from smbundle import permission_plan, roles_stack, templates
from smbundle.local import production_runs, server
from smbundle.local.iam import actions, evaluation
from smbundle.local.lifecycle import LocalRunOptions, run_lifecycle
from smbundle.publish import PublishError, PublishOptions, build_content, publish
from tests._in_process import run_script
from tests._local_helpers import denials_logged, environment_set

REPO = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
STUDIO_ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/{server.STUDIO_EXECUTION_ROLE_NAME}"
ROLE_POLICIES = {  # role logical id -> its policy's logical id
    "LaunchRole": "LaunchPolicy",
    "CodePipelineRole": "CodePipelinePolicy",
    "CodeBuildRole": "CodeBuildPolicy",
    "EventsRole": "EventsPolicy",
    "CloudFormationRole": "CloudFormationPolicy",
    "ExecutionRole": "ExecutionPolicy",
}
# What a resource of a statement may name: the product's names (sagemaker-*, <project>-p-*, the endpoints
# <project>-staging/-prod, the pipelines' jobs pipelines-*, the Service Catalog stacks SC-<account>-*), and the few
# kinds whose names nobody chooses (CloudFormation's generated model and endpoint config names, Application Auto
# Scaling's scalable-target ids, CodeConnections ids, the projects themselves, SageMaker's job log groups).
PROJECT_PATTERNS = [
    r":(stack/)?sagemaker-\*$",
    r":(project/|rule/|build/|alarm:)sagemaker-\*$",
    r":s3:::sagemaker-(project-p-)?\*(/\*)?$",
    r":sns:\*:ACCOUNT:sagemaker-\*$",
    r":stack/SC-ACCOUNT-\*$",
    r":log-group:/aws/codebuild/sagemaker-\*$",
    r":log-group:/aws/sagemaker/\*$",
    r":(pipeline|model-package-group)/\*-p-\*$",
    r":model-package/\*-p-\*/\*$",
    r":endpoint/\*-(staging|prod)$",
    r":(processing|training)-job/pipelines-\*$",
    r":data-quality-job-definition/\*-prod-dq-\*$",
    r":monitoring-schedule/\*-prod-\*$",
    r":alarm:TargetTracking-endpoint/\*$",
    r":(model|endpoint-config|project)/\*$",  # names CloudFormation generates; the projects
    r":scalable-target/\*$",  # ids Application Auto Scaling generates
    r":connection/\*$",  # CodeConnections ids (use: only connections tagged sagemaker=true)
    r":role/service-role/AmazonSageMakerServiceCatalog(Custom|Products)\w+Role$",
    r":role/aws-service-role/sagemaker\.application-autoscaling\.amazonaws\.com/"
    r"AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint$",
]


def _resolve(value, account: str = ACCOUNT):
    """The roles template's policy values with its intrinsics resolved (Sub, GetAtt of the roles)."""
    if isinstance(value, dict):
        if "Fn::Sub" in value:
            text = value["Fn::Sub"]
            return text.replace("${AWS::Partition}", "aws").replace("${AWS::AccountId}", account)
        if "Fn::GetAtt" in value:
            logical = value["Fn::GetAtt"][0]
            name = ROLES["Resources"][logical]["Properties"]["RoleName"]
            return roles_stack.role_arn(name, account)
        return {k: _resolve(v, account) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, account) for v in value]
    return value


ROLES = templates.load(REPO / "service_catalog" / "roles.yaml")


def policy(role_logical_id: str) -> dict:
    return _resolve(ROLES["Resources"][ROLE_POLICIES[role_logical_id]]["Properties"]["PolicyDocument"])


def role_name(role_logical_id: str) -> str:
    return ROLES["Resources"][role_logical_id]["Properties"]["RoleName"]


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


# The two statements on "*" whose actions IAM could authorize against a resource, narrowed by a condition instead:
# the launch role's read of objects tagged servicecatalog:provisioning=true (Service Catalog's copy of the
# template and the seed code, as AWS documents for launch roles), and PutMetricData into the project check's
# namespace (metrics are not named resources; the managed policies grant it on "*").
NARROWING_CONDITIONS = {
    ("s3:GetObject",): "s3:ExistingObjectTag/servicecatalog:provisioning",
    ("cloudwatch:PutMetricData",): "cloudwatch:namespace",
}


# Actions IAM authorizes against "*" when called without a resource, as the named caller calls them.
ON_NO_RESOURCE = {
    # Service Catalog summarizes the product's template URL before the stack exists (the launch-role guide's
    # minimum; the managed launch policy grants it on "*")
    ("cloudformation:GetTemplateSummary",),
    # the scaling policy handler reads its metric; only CloudWatch datasets are a resource of GetMetricData
    ("cloudwatch:GetMetricData",),
}


def _narrowed(statement: dict) -> bool:
    listed = tuple(_listed(statement["Action"]))
    if listed in ON_NO_RESOURCE:
        return True
    key = NARROWING_CONDITIONS.get(listed)
    return key is not None and key in json.dumps(statement.get("Condition"))


def test_every_statement_stays_within_the_project_naming_patterns():
    """No statement grants on "*" unless IAM authorizes its actions against no resource (IAM's action data) or it
    is narrowed by a condition (NARROWING_CONDITIONS); every other resource
    is this account's and matches one of the product's naming patterns; every action exists."""
    patterns = [re.compile(p.replace("ACCOUNT", ACCOUNT)) for p in PROJECT_PATTERNS]
    for role in ROLE_POLICIES:
        for statement in policy(role)["Statement"]:
            assert (
                statement["Effect"] == "Allow"
                and "NotResource" not in statement
                and "NotAction" not in statement
            )
            names = _listed(statement["Action"])
            for action in names:
                assert actions.is_action(action), f"{role}: {action} is not an IAM action"
            for resource in _listed(statement["Resource"]):
                where = f"{role} {statement.get('Sid')}: {resource}"
                if resource == "*":
                    no_resource = all(actions.resource_types(a) == [] for a in names)
                    assert no_resource or _narrowed(statement), where
                    continue
                account = resource.split(":")[4]
                assert account in (ACCOUNT, ""), where  # this account only (S3 ARNs carry none)
                assert any(p.search(resource) for p in patterns), f"outside the project patterns: {where}"


def test_roles_trust_their_services_and_pass_only_project_roles():
    for role, service in {
        "LaunchRole": "servicecatalog",
        "CodePipelineRole": "codepipeline",
        "CodeBuildRole": "codebuild",
        "EventsRole": "events",
        "CloudFormationRole": "cloudformation",
        "ExecutionRole": "sagemaker",
    }.items():
        properties = ROLES["Resources"][role]["Properties"]
        assert properties["Path"] == "/service-role/"
        assert roles_stack.ROLE_SERVICES[properties["RoleName"]] == f"{service}.amazonaws.com"
        trust = properties["AssumeRolePolicyDocument"]["Statement"]
        if (
            role == "LaunchRole"
        ):  # also CloudFormation's: the RoleARN of projects from the S3 project template
            assert [s["Principal"] for s in trust] == [
                {"Service": ["servicecatalog.amazonaws.com", "cloudformation.amazonaws.com"]}
            ]
        else:
            assert [s["Principal"] for s in trust] == [{"Service": f"{service}.amazonaws.com"}]
        for statement in policy(role)["Statement"]:
            if "iam:PassRole" in _listed(statement["Action"]):
                assert "iam:PassedToService" in statement["Condition"]["StringEquals"], statement["Sid"]
                for arn in _listed(statement["Resource"]):
                    assert ":role/service-role/AmazonSageMakerServiceCatalog" in arn


@pytest.mark.parametrize(
    "parameters",
    [{}, {"ApprovalEmail": "reviewers@example.com"}, {"MonitoringBackend": "model-monitor"}],
    ids=["defaults", "approval-email", "model-monitor"],
)
def test_every_call_the_preflight_plans_is_allowed_including_autoscaling_and_alarms(parameters):
    """The permission plan of the product published with these roles (prod planned with autoscaling, canary and
    the rollback alarms on, and the product's options that create more) against the roles' policies, with the
    embedded IAM's evaluator."""
    arns = {p: roles_stack.role_arn(name, ACCOUNT) for p, (name, _) in roles_stack.PROJECT_ROLES.items()}
    content = build_content(REPO, "roles-test", f"smbundle-templates-{ACCOUNT}-us-east-1", arns)
    launch = roles_stack.role_arn(roles_stack.LAUNCH_ROLE, ACCOUNT)
    calls = permission_plan.plan(
        content.template,
        templates.load(REPO / "seed_code" / "deploy" / "endpoint-config-template.yml"),
        launch_role_arn=launch,
        region="eu-west-1",
        account=ACCOUNT,
        parameters=parameters,
        prod_features=True,
    )
    documents = {roles_stack.role_arn(role_name(r), ACCOUNT): [policy(r)] for r in ROLE_POLICIES}
    assert {c.role_arn for c in calls} == set(documents)  # every call is one of these roles'
    planned = {c.action for c in calls}
    assert {"application-autoscaling:RegisterScalableTarget", "cloudwatch:PutMetricAlarm"} <= planned
    assert "iam:CreateServiceLinkedRole" in planned
    denied = [
        f"{c.role_arn.rsplit('/', 1)[-1]} {c.action} {c.resource} ({c.why})"
        for c in calls
        if not evaluation.evaluate(documents[c.role_arn], c.action, c.resource, dict(c.context)).allowed
    ]
    assert denied == []


# -- publish_product.py --roles custom -----------------------------------------------------------------------------
@pytest.fixture
def account(aws):
    server.prepare_account()
    return boto3.session.Session(region_name="us-east-1")


def custom(**overrides) -> PublishOptions:
    values = {
        "repo_root": REPO,
        "principal_arns": [STUDIO_ROLE],
        "region": "us-east-1",
        "roles": "custom",
    }
    values.update(overrides)
    return PublishOptions(**values)


def role_defaults(product_id: str, artifact_id: str, region: str = "us-east-1") -> dict:
    catalog = boto3.client("servicecatalog", region_name=region)
    path = catalog.list_launch_paths(ProductId=product_id)["LaunchPathSummaries"][0]["Id"]
    answer = catalog.describe_provisioning_parameters(
        ProductId=product_id, ProvisioningArtifactId=artifact_id, PathId=path
    )
    return {
        p["ParameterKey"]: p.get("DefaultValue")
        for p in answer["ProvisioningArtifactParameters"]
        if p["ParameterKey"] in roles_stack.PROJECT_ROLES
    }


def test_dry_run_previews_the_roles_stack_and_writes_nothing(account):
    said = []
    result = publish(custom(dry_run=True), session=account, say=said.append)
    assert result["roles"]["status"] == "would create"
    assert said[0] == f"roles: create stack {roles_stack.STACK_NAME} in us-east-1:"
    assert any("Add" in line and "LaunchRole" in line and "AWS::IAM::Role" in line for line in said)
    assert f"create stack {roles_stack.STACK_NAME} in us-east-1" in result["plan"]
    assert any("not checked" in w for w in result["warnings"])
    assert boto3.client("cloudformation").describe_stacks()["Stacks"] == []
    assert boto3.client("servicecatalog").search_products_as_admin()["ProductViewDetails"] == []


def test_publish_creates_the_stack_and_the_product_uses_its_roles(account):
    said = []
    result = publish(custom(), session=account, say=said.append)
    assert result["roles"]["status"] == "created"
    arns = result["roles"]["role_arns"]
    assert arns["LaunchRoleArn"].endswith("/service-role/AmazonSageMakerServiceCatalogCustomLaunchRole")
    # the launch constraint is the stack's launch role (read from the embedded catalog: the embedded Service
    # Catalog has no DescribeConstraint); Studio shows the stack's roles as the role parameters' defaults
    from smbundle.local.servicecatalog import catalog

    backend = catalog.backend_for(ACCOUNT, "us-east-1")
    assert catalog.launch_role_arn(backend, result["product_id"]) == arns["LaunchRoleArn"]
    defaults = role_defaults(result["product_id"], result["provisioning_artifact_id"])
    assert defaults == {p: arns[p] for p in roles_stack.PROJECT_ROLES}
    # the roles carry their inline policies (the preflight checked them: no problem was raised)
    iam = boto3.client("iam")
    assert iam.list_role_policies(RoleName=roles_stack.LAUNCH_ROLE)["PolicyNames"] == [
        "SageMakerProjectsLaunch"
    ]

    # again: the stack is up to date and the version is the same
    again = publish(custom(), session=account, say=said.append)
    assert again["roles"]["status"] == "unchanged" and again["changed"] is False
    assert again["version"] == result["version"]
    # the managed roles make another version (other defaults)
    managed = publish(custom(roles="managed"), session=account)
    assert managed["version"] != result["version"] and managed["roles"] == "managed"


def test_a_changed_roles_template_is_previewed_then_updated(account, tmp_path):
    publish(custom(), session=account)
    root = tmp_path / "repo"
    shutil.copytree(REPO / "service_catalog", root / "service_catalog")
    shutil.copytree(REPO / "seed_code", root / "seed_code", ignore=shutil.ignore_patterns("__pycache__"))
    text = (root / "service_catalog" / "roles.yaml").read_text()
    (root / "service_catalog" / "roles.yaml").write_text(
        text.replace("              - events:TagResource\n", "", 1)
    )
    said = []
    dry = publish(custom(repo_root=root, dry_run=True), session=account, say=said.append)
    assert dry["roles"]["status"] == "would update"
    assert any(line.split()[:2] == ["Modify", "LaunchPolicy"] for line in said), said
    stack = boto3.client("cloudformation").describe_stacks(StackName=roles_stack.STACK_NAME)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"  # the dry run executed nothing
    updated = publish(custom(repo_root=root), session=account)
    assert updated["roles"]["status"] == "updated"
    document = boto3.client("iam").get_role_policy(
        RoleName=roles_stack.LAUNCH_ROLE, PolicyName="SageMakerProjectsLaunch"
    )["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert "events:TagResource" not in json.dumps(document)


def test_a_role_not_made_by_the_stack_stops_the_publication_before_anything_is_written(account):
    iam = boto3.client("iam")
    iam.create_role(
        RoleName=roles_stack.LAUNCH_ROLE,
        Path="/service-role/",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )
    with pytest.raises(PublishError, match="was not made by the roles stack"):
        publish(custom(), session=account)
    assert boto3.client("cloudformation").describe_stacks()["Stacks"] == []
    assert boto3.client("servicecatalog").search_products_as_admin()["ProductViewDetails"] == []


def test_a_second_region_uses_the_stack_of_the_first(account):
    first = publish(custom(), session=account)
    other = boto3.session.Session(region_name="eu-west-1")
    second = publish(custom(region="eu-west-1"), session=other)
    assert second["roles"]["region"] == "us-east-1" and second["roles"]["status"] == "unchanged"
    assert second["roles"]["role_arns"] == first["roles"]["role_arns"]
    assert boto3.client("cloudformation", region_name="eu-west-1").describe_stacks()["Stacks"] == []
    defaults = role_defaults(second["product_id"], second["provisioning_artifact_id"], "eu-west-1")
    assert defaults["ExecutionRoleArn"] == first["roles"]["role_arns"]["ExecutionRoleArn"]


def test_the_script_refuses_two_launch_roles():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT")}
    answer = run_script(
        "publish_product.py",
        "--roles",
        "custom",
        "--launch-role-arn",
        f"arn:aws:iam::{ACCOUNT}:role/x",
        env=env,
    )
    assert answer.returncode == 2
    assert answer.stderr.startswith("error: --launch-role-arn and --roles custom")


# -- the whole lifecycle under the custom roles ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def custom_lifecycle(tmp_path_factory):
    # What run_local.py --prod-load --bad-model runs, with AWS's clocks 600 times faster (run_local.py runs them at
    # 120) and less traffic per AWS minute, so that it costs no more locally: a peak of 12 (120 requests a second
    # here) and 3 while the bad model deploys (30 a second).
    with denials_logged() as denials, environment_set(SMBUNDLE_TIME_SCALE="600"), server.start() as embedded:
        summary = run_lifecycle(
            LocalRunOptions(
                workdir=tmp_path_factory.mktemp("custom-roles"),
                project_name="custom-roles",
                endpoint_url=embedded.url,
                roles="custom",
                project_parameters=LIFECYCLE_PARAMETERS,
                prod_load=12,
                bad_model=True,
                bad_model_rate=3,
            ),
            lambda *event: None,
        )
        session = boto3.session.Session(region_name="us-east-1")
        state = {
            name: session.client(name, endpoint_url=embedded.url)
            for name in ("codebuild", "sagemaker", "codepipeline", "cloudformation")
        }
        yield summary, denials, _project_state(state, summary)


# Prod with autoscaling (2 to 4 instances), canary updates and rollback alarms: what run_local.py --prod-load
# --bad-model chooses, with a target of 2 requests per instance and minute (the peak of 12 asks for 6 instances,
# above the maximum; the bad model's 3 leave 2 enough) and a bake long enough for the canary to see about ninety
# requests (1800 AWS seconds, 3 s here).
LIFECYCLE_PARAMETERS = {
    **production_runs.PROD_LOAD_PARAMETERS,
    **production_runs.BAD_MODEL_PARAMETERS,
    "ProdTargetInvocationsPerInstance": "2",
    "ProdBakeTimeSeconds": "1800",
}


def _project_state(clients: dict, summary: dict) -> dict:
    project_id = summary["project"]["ProjectId"] if "project" in summary else None
    builds = clients["codebuild"].batch_get_projects(names=clients["codebuild"].list_projects()["projects"])
    prod = clients["sagemaker"].describe_endpoint(EndpointName="custom-roles-prod")
    config = clients["sagemaker"].describe_endpoint_config(EndpointConfigName=prod["EndpointConfigName"])
    model = clients["sagemaker"].describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    return {
        "project_id": project_id,
        "build_roles": {p["serviceRole"] for p in builds["projects"]},
        "prod_model_role": model["ExecutionRoleArn"],
    }


def test_the_whole_lifecycle_runs_under_the_custom_roles_with_no_denial(custom_lifecycle):
    summary, denied, state = custom_lifecycle
    assert denied == []
    assert all(
        entry["status"] == "Succeeded"
        for name, entry in summary["stages"].items()
        if ".OnCreation" not in name and name != "ModelDeploy.v2.DeployProd"  # the bad model's (below)
    )
    assert state["build_roles"] == {
        roles_stack.role_arn("AmazonSageMakerServiceCatalogCustomCodeBuildRole", ACCOUNT)
    }
    assert state["prod_model_role"] == roles_stack.role_arn(
        "AmazonSageMakerServiceCatalogCustomExecutionRole", ACCOUNT
    )
    assert summary["prod"]["DescribeEndpoint"]["EndpointStatus"] == "InService"


def test_prod_scales_out_under_load_and_back_in_after(custom_lifecycle):
    summary, _, _ = custom_lifecycle
    load = summary["prod_load"]
    assert (load["min_capacity"], load["max_capacity"]) == (2, 4)
    counts = [point["instances"] for point in load["instance_counts"]]
    assert counts[0] == 2 and max(counts) > 2 and counts[-1] == 2  # out under the peak, back in after it
    assert load["errors"] == 0
    causes = [a["Cause"] or "" for a in load["scaling_activities"]]
    assert any("AlarmHigh" in cause for cause in causes) and any("AlarmLow" in cause for cause in causes)


def test_a_bad_model_is_rolled_back_by_its_alarm_and_the_deploy_fails(custom_lifecycle):
    summary, _, _ = custom_lifecycle
    bad = summary["bad_model"]
    assert bad["prod_serves"] == bad["first_package"] != bad["second_package"]
    assert bad["second_package"].endswith("/2")
    assert bad["endpoint_status"] == "InService"
    assert bad["alarm"] in bad["failure_reason"] and "rolled back" in bad["failure_reason"]
    assert bad["alarm_history"]  # the 5XX alarm went to ALARM
    assert bad["deploy_status"] == ["Failed"] and bad["deploy_failed_action"] == "VerifyProd"
    assert "rolled back" in bad["deploy_failure"]
    assert (
        0 < bad["traffic"]["errors"] < bad["traffic"]["requests"]
    )  # the canary's share of the JSON requests
