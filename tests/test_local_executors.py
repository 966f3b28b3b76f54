"""The local CodeBuild, CloudFormation-action and EventBridge executors behave like the services."""

from __future__ import annotations

import json

import boto3
import pytest
from moto.cloudformation.exceptions import ValidationError

from smbundle.local.cloudformation.validation import check_parameters
from smbundle.local.codebuild.executor import BuildspecError, run_build, unset_references
from smbundle.local.codepipeline.cloudformation_action import DeployError, deploy
from smbundle.local.events.delivery import deliver, make_event


def _project(name="demo-build", variables=None, buildspec="buildspec.yml"):
    return {
        "name": name,
        "source": {"type": "CODEPIPELINE", "buildspec": buildspec},
        "environment": {
            "image": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
            "environmentVariables": [
                {"name": k, "value": v, "type": "PLAINTEXT"} for k, v in (variables or {}).items()
            ],
        },
        "timeoutInMinutes": 5,
    }


BUILDSPEC = """
version: 0.2
phases:
  install:
    commands:
      - exit 1  # skipped locally: dependencies come from our environment
  build:
    commands:
      - echo "bucket=$ARTIFACT_BUCKET secret=${HOST_ONLY:-unset}" > out.txt
      - mkdir -p sub && cp out.txt sub/copy.txt
artifacts:
  files:
    - out.txt
    - sub/*
"""


def test_build_runs_with_project_environment_only(tmp_path, monkeypatch):
    monkeypatch.setenv("HOST_ONLY", "leaked")
    src = tmp_path / "src"
    src.mkdir()
    (src / "buildspec.yml").write_text(BUILDSPEC)
    result = run_build(
        _project(variables={"ARTIFACT_BUCKET": "b1"}),
        src,
        tmp_path / "out",
        region="us-east-1",
        endpoint_url=None,
    )
    assert result.succeeded, result.log_tail
    assert (tmp_path / "out" / "out.txt").read_text().strip() == "bucket=b1 secret=unset"
    assert result.artifact_files == ["out.txt", "sub/copy.txt"]


def test_build_fails_before_running_when_a_variable_is_not_set(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "buildspec.yml").write_text(BUILDSPEC)
    with pytest.raises(
        BuildspecError, match=r"\$ARTIFACT_BUCKET, which build project demo-build does not set"
    ):
        run_build(_project(), src, tmp_path / "out", region="us-east-1", endpoint_url=None)


def test_failing_command_is_reported_with_phase_and_output(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "buildspec.yml").write_text(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo ok\n      - echo boom >&2; false\n      - echo never\n"
    )
    result = run_build(_project(), src, tmp_path / "out", region="us-east-1", endpoint_url=None)
    assert result.status == "FAILED"
    assert result.phase == "BUILD"
    assert result.command == "echo boom >&2; false"
    assert "boom" in result.log_tail


def test_unset_references_respects_exports_and_defaults():
    commands = ["export A=1", "echo $A ${B:-x} $C $CODEBUILD_SRC_DIR"]
    assert unset_references(commands, {"CODEBUILD_SRC_DIR"}) == ["C"]


TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  StageName:
    Type: String
    AllowedValues: [staging, prod]
  MemorySizeInMB:
    Type: Number
    AllowedValues: [1024, 2048]
    Default: 2048
Resources:
  Topic:
    Type: AWS::SNS::Topic
Outputs:
  Stage:
    Value: !Ref StageName
"""


def test_parameter_checks_match_cloudformation():
    template = {"Parameters": {"StageName": {"Type": "String", "AllowedValues": ["staging", "prod"]}}}
    check_parameters(template, {"StageName": "prod"})
    with pytest.raises(ValidationError, match="must be one of AllowedValues"):
        check_parameters(template, {"StageName": "Prod"})
    with pytest.raises(ValidationError, match=r"\['Typo'\] do not exist in the template"):
        check_parameters(template, {"StageName": "prod", "Typo": "x"})
    with pytest.raises(ValidationError, match=r"\['StageName'\] must have values"):
        check_parameters(template, {})


def test_cloudformation_action_creates_then_updates_the_stack(aws, tmp_path):
    artifact = tmp_path / "BuildArtifact"
    artifact.mkdir()
    (artifact / "template.yml").write_text(TEMPLATE)
    (artifact / "config.json").write_text(
        json.dumps({"Parameters": {"StageName": "staging"}, "Tags": {"k": "v"}})
    )
    configuration = {
        "ActionMode": "REPLACE_ON_FAILURE",
        "StackName": "demo-staging",
        "TemplatePath": "BuildArtifact::template.yml",
        "TemplateConfiguration": "BuildArtifact::config.json",
    }
    cloudformation = boto3.client("cloudformation")
    stack = deploy(cloudformation, configuration, {"BuildArtifact": artifact})
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {"Key": "k", "Value": "v"} in stack["Tags"]
    (artifact / "config.json").write_text(
        json.dumps({"Parameters": {"StageName": "staging", "MemorySizeInMB": "3"}})
    )
    with pytest.raises(DeployError, match="MemorySizeInMB' must be one of AllowedValues"):
        deploy(cloudformation, configuration, {"BuildArtifact": artifact})
    (artifact / "config.json").write_text(json.dumps({"Parameters": {"StageName": 2}}))
    with pytest.raises(DeployError, match="parameter StageName must be a string"):
        deploy(cloudformation, configuration, {"BuildArtifact": artifact})


def test_events_reach_only_the_targets_whose_pattern_matches(aws):
    events = boto3.client("events")
    pattern = {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": ["p-1"], "ModelApprovalStatus": ["Approved", "Rejected"]},
    }
    events.put_rule(Name="deploy", EventPattern=json.dumps(pattern))
    events.put_targets(
        Rule="deploy",
        Targets=[
            {"Id": "t", "Arn": "arn:aws:codepipeline:us-east-1:123456789012:my-deploy", "RoleArn": "arn:r"}
        ],
    )
    approved = make_event(
        "aws.sagemaker",
        "SageMaker Model Package State Change",
        {"ModelPackageGroupName": "p-1", "ModelApprovalStatus": "Approved"},
        account="123456789012",
        region="us-east-1",
    )
    (delivery,) = deliver(events, approved)
    assert (delivery.service, delivery.resource_name) == ("codepipeline", "my-deploy")
    pending = dict(
        approved, detail={"ModelPackageGroupName": "p-1", "ModelApprovalStatus": "PendingManualApproval"}
    )
    assert deliver(events, pending) == []
    other = dict(approved, detail={"ModelPackageGroupName": "p-2", "ModelApprovalStatus": "Approved"})
    assert deliver(events, other) == []


def test_the_load_phase_duration_comes_from_its_variable_when_usable(caplog):
    from smbundle.local.codepipeline.executions import DEFAULT_BUILD_OVERRIDES, build_overrides

    base = dict(DEFAULT_BUILD_OVERRIDES)
    assert build_overrides(base, {})["LOAD_DURATION_S"] == "2"
    assert build_overrides(base, {"SMBUNDLE_LOAD_DURATION_SECONDS": "0.5"})["LOAD_DURATION_S"] == "0.5"
    assert base["LOAD_DURATION_S"] == "2"  # the defaults are not changed
    for bad in ("-1", "0", "soon", "inf"):
        assert build_overrides(base, {"SMBUNDLE_LOAD_DURATION_SECONDS": bad})["LOAD_DURATION_S"] == "2"
    assert "SMBUNDLE_LOAD_DURATION_SECONDS='soon' is not a number" in caplog.text
