"""What a careful read of the templates against the real services checks: every name fits its service's limit for the
longest values the templates accept, schedule expressions are the forms both schedulers accept, a Region that lacks
what the product needs is one line at publish time, and the build seed's SDK floor knows its images."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import botocore.session
import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
from moto.events.models import EventsBackend

from smbundle import region_support, templates
from smbundle.local.sagemaker.monitoring import cron_hours
from smbundle.template_resolution import NAME_PROPERTIES, resolve
from tests._in_process import run_script

REPO = Path(__file__).resolve().parents[1]
PRODUCT = templates.load(REPO / "service_catalog" / "product.yaml")
ENDPOINT = templates.load(REPO / "seed_code" / "deploy" / "endpoint-config-template.yml")
LONGEST_NAME = "a1" * 16  # 32 characters, the most SageMaker and the template accept
LONGEST_ID = "p-abcdefghijkl"  # SageMaker's project ids: "p-" and 12 characters
# Where the service itself (botocore's model) states a name's limit, when the CloudFormation schema does not.
API_NAMES = {
    "AWS::CodeBuild::Project": ("codebuild", "CreateProject", ("name",)),
    "AWS::CodePipeline::Pipeline": ("codepipeline", "CreatePipeline", ("pipeline", "name")),
    "AWS::Events::Rule": ("events", "PutRule", ("Name",)),
}


def limit(resource_type: str, prop: str) -> tuple[int, str]:
    """(maximum length, pattern) of a resource's name: cfn-lint's schema, else botocore's model."""
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    entry = schema["properties"].get(prop) or {}
    if entry.get("maxLength"):
        return entry["maxLength"], entry.get("pattern") or ".*"
    service, operation, path = API_NAMES[resource_type]
    shape = botocore.session.get_session().get_service_model(service).operation_model(operation).input_shape
    for member in path:
        shape = shape.members[member]
    return shape.metadata["max"], shape.metadata["pattern"]


@pytest.mark.parametrize(
    "parameters",
    [
        {},
        {
            "SourceProvider": "CodeCommit",
            "MonitoringBackend": "project",
            "RetrainOnDataQualityViolation": "true",
        },
    ],
)
def test_every_name_of_the_product_fits_its_service_for_the_longest_project_name_and_id(parameters):
    values = {**parameters, "SageMakerProjectName": LONGEST_NAME, "SageMakerProjectId": LONGEST_ID}
    assert len(LONGEST_NAME) == PRODUCT["Parameters"]["SageMakerProjectName"]["MaxLength"]
    assert len(LONGEST_ID) == PRODUCT["Parameters"]["SageMakerProjectId"]["MaxLength"]
    resolved = resolve(PRODUCT, values, region="us-east-1", account="123456789012", stack_name="SC-1-pp-x")
    checked = []
    for resource in resolved.resources():
        prop = NAME_PROPERTIES.get(resource.type)
        if prop is None or prop not in resource.properties:
            continue
        name = resource.properties[prop]
        maximum, pattern = limit(resource.type, prop)
        assert len(name) <= maximum, (
            f"{resource.logical_id}: {name} has {len(name)} characters, over {maximum}"
        )
        assert re.fullmatch(pattern.strip("^$"), name), (
            f"{resource.logical_id}: {name} does not match {pattern}"
        )
        checked.append(resource.type)
    assert checked.count("AWS::Events::Rule") == 5
    # Names the seeds derive from the same two values.
    sagemaker = botocore.session.get_session().get_service_model("sagemaker")
    for operation, member, name in [
        ("CreatePipeline", "PipelineName", f"{LONGEST_NAME}-{LONGEST_ID}-data-quality"),
        ("CreateModelPackageGroup", "ModelPackageGroupName", f"{LONGEST_NAME}-{LONGEST_ID}"),
        ("CreateEndpoint", "EndpointName", f"{LONGEST_NAME}-staging"),
        ("CreateMonitoringSchedule", "MonitoringScheduleName", f"{LONGEST_NAME}-prod-data-quality"),
        ("CreateDataQualityJobDefinition", "JobDefinitionName", f"{LONGEST_NAME}-prod-dq-0123456789"),
    ]:
        assert (
            len(name) <= sagemaker.operation_model(operation).input_shape.members[member].metadata["max"]
        ), name


def test_project_names_may_start_with_a_digit_everywhere_they_are_checked():
    """SageMaker's pattern for project names is [a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}."""
    for template in (PRODUCT, ENDPOINT):
        pattern = template["Parameters"]["SageMakerProjectName"]["AllowedPattern"]
        assert re.fullmatch(pattern, "2026-churn") and not re.fullmatch(pattern, "-churn")
    from smbundle import validation

    validation.project_name("2026-churn")  # run_local.py's check
    with pytest.raises(validation.UsageError):
        validation.project_name("churn_2026")


ACCEPTED = [
    "cron(0 * ? * * *)",
    "cron(0 2 ? * * *)",
    "cron(0 23 ? * * *)",
    "cron(0 0/6 ? * * *)",
    "cron(0 05/12 ? * * *)",
]
REFUSED = [
    "cron(0 * * * * *)",  # * in both day fields: EventBridge refuses it
    "cron(0 24 ? * * *)",
    "cron(0 0/25 ? * * *)",
    "cron(15 * ? * * *)",  # Model Monitor runs on the hour
    "cron(0 */2 ? * * *)",
    "rate(1 hour)",
    "NOW",
]


@pytest.mark.parametrize("expression", ACCEPTED + REFUSED)
def test_schedule_forms_the_templates_accept_are_the_ones_both_schedulers_accept(expression):
    product = PRODUCT["Parameters"]["MonitoringScheduleExpression"]["AllowedPattern"]
    endpoint = ENDPOINT["Parameters"]["MonitoringScheduleExpression"]["AllowedPattern"]
    accepted = bool(re.fullmatch(product, expression))
    assert accepted == bool(re.fullmatch(endpoint, expression)) == (expression in ACCEPTED)
    if accepted:  # EventBridge (moto's check of PutRule's syntax) and Model Monitor (the embedded one's)
        assert EventsBackend._CRON_REGEX.match(expression)
        assert cron_hours(expression)


def test_the_retrain_rule_is_off_unless_asked_and_the_schedule_follows_the_parameter():
    def rules(**parameters):
        resolved = resolve(PRODUCT, parameters, region="us-east-1", account="123456789012", stack_name="SC-x")
        return {r.logical_id: r.properties for r in resolved.resources() if r.type == "AWS::Events::Rule"}

    default = rules()
    assert default["RetrainOnDataQualityViolationRule"]["State"] == "DISABLED"
    assert default["DataQualityScheduleRule"]["ScheduleExpression"] == "cron(0 * ? * * *)"
    asked = rules(RetrainOnDataQualityViolation="true", MonitoringScheduleExpression="cron(0 2 ? * * *)")
    assert asked["RetrainOnDataQualityViolationRule"]["State"] == "ENABLED"
    assert asked["DataQualityScheduleRule"]["ScheduleExpression"] == "cron(0 2 ? * * *)"
    assert "DataQualityScheduleRule" not in rules(MonitoringBackend="model-monitor")


def test_a_region_that_lacks_what_the_default_path_needs_is_an_error_and_an_option_a_warning():
    assert region_support.check(REPO, PRODUCT, "us-east-1").errors == []
    lacking = region_support.check(REPO, PRODUCT, "ap-southeast-5")
    assert any("no SageMaker xgboost 3.0-5 image" in e for e in lacking.errors)
    assert any("AWS::CodeCommit::Repository" in w and "UseCodeCommit" in w for w in lacking.warnings)
    monitor = region_support.check(REPO, PRODUCT, "ap-south-2")
    assert monitor.errors == [] and any("MonitoringBackend model-monitor" in w for w in monitor.warnings)


def test_publishing_in_such_a_region_stops_before_writing_with_one_line_per_problem(tmp_path):
    """publish_product.py --dry-run (and a real run) against an embedded AWS in a Region without the XGBoost
    image: exit 1, no traceback, every line says what is missing."""
    from smbundle.local import server

    with server.start(region="ap-southeast-5") as embedded:
        run = run_script(
            *[
                "publish_product.py",
                "--dry-run",
                "--region",
                "ap-southeast-5",
                "--principal-arn",
                embedded.roles[server.STUDIO_EXECUTION_ROLE_NAME],
                "--endpoint-url",
                embedded.url,
            ],
            env={"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
        )
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert any(
        line.startswith("warning: ap-southeast-5 has no AWS::CodeCommit::Repository") for line in lines
    )
    (error,) = [line for line in lines if line.startswith("error:")]
    assert "ap-southeast-5 has no SageMaker xgboost 3.0-5 image" in error


def test_the_build_seeds_sdk_floor_knows_the_images_its_pipeline_uses():
    """sagemaker 2.256.0 is the first release whose image configs hold both xgboost 3.0-5 and sklearn 1.4-2
    (checked release by release on PyPI, 2.245.0 to 2.257.7); the pinned SDK knows them too."""
    project = tomllib.loads((REPO / "seed_code" / "build" / "pyproject.toml").read_text())["project"]
    (requirement,) = [d for d in project["dependencies"] if d.startswith("sagemaker")]
    floor = re.search(r">=([\d.]+)", requirement)[1]
    assert tuple(int(p) for p in floor.split(".")) >= (2, 256, 0)
    versions = region_support.pipeline_versions(REPO)
    assert versions == {"XGBOOST_VERSION": "3.0-5", "SKLEARN_VERSION": "1.4-2"}
    assert "us-east-1" in region_support.image_regions("xgboost", versions["XGBOOST_VERSION"])
    assert "us-east-1" in region_support.image_regions("sklearn", versions["SKLEARN_VERSION"])
