"""Our cfn-lint rules catch what cfn-lint does not know about serverless endpoints, in every Fn::If branch."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint
from cfnlint.config import ConfigMixIn
from cfnlint.rules import Rules
from cfnlint.runner import Runner

REPO = Path(__file__).resolve().parents[1]
RULES = str(REPO / "smbundle" / "cfn_rules")

TEMPLATE = """
Parameters:
  Memory:
    Type: Number
    AllowedValues: [{memory_values}]
Conditions:
  IsProd: !Equals [!Ref AWS::Region, us-east-1]
Resources:
  Config:
    Type: AWS::SageMaker::EndpointConfig
    Properties:
      ProductionVariants:
        - VariantName: AllTraffic
          ModelName: model
          InitialVariantWeight: 1.0
{variant}
{capture}
"""
SERVERLESS_BY_CONDITION = """          InstanceType: !If [IsProd, ml.m5.large, !Ref AWS::NoValue]
          InitialInstanceCount: !If [IsProd, 1, !Ref AWS::NoValue]
          ServerlessConfig: !If
            - IsProd
            - !Ref AWS::NoValue
            - MemorySizeInMB: !Ref Memory
              MaxConcurrency: 20"""
CAPTURE_IN_PROD = """      DataCaptureConfig: !If
        - IsProd
        - InitialSamplingPercentage: 10
          DestinationS3Uri: s3://bucket/capture
          CaptureOptions: [{CaptureMode: Input}]
        - !Ref AWS::NoValue"""


CONFIG = ManualArgs(regions=["us-east-1"], append_rules=[RULES])


@functools.cache
def _rules() -> Rules:
    """cfn-lint's rules and ours, loaded once for the module (loading them takes most of a lint)."""
    return Runner(ConfigMixIn(**CONFIG)).rules


def _lint(text: str) -> list:
    return lint(text, rules=_rules(), config=CONFIG)


def findings(memory_values="1024, 2048", variant=SERVERLESS_BY_CONDITION, capture=CAPTURE_IN_PROD):
    text = TEMPLATE.format(memory_values=memory_values, variant=variant, capture=capture)
    matches = _lint(text)
    return sorted({m.rule.id for m in matches if m.rule.id.startswith("E9")})


def test_the_blog_design_is_clean():
    assert findings() == []


def test_memory_parameter_outside_the_1gb_steps():
    assert findings(memory_values="1024, 1500") == ["E9001"]


def test_both_kinds_in_one_branch():
    both = SERVERLESS_BY_CONDITION.replace("!If [IsProd, ml.m5.large, !Ref AWS::NoValue]", "ml.m5.large")
    assert findings(variant=both) == ["E9002"]


def test_neither_kind():
    assert findings(variant="          InitialInstanceCount: 1", capture="") == ["E9002"]


def test_data_capture_reaching_the_serverless_branch():
    always = """      DataCaptureConfig:
        InitialSamplingPercentage: 10
        DestinationS3Uri: s3://bucket/capture
        CaptureOptions: [{CaptureMode: Input}]"""
    assert findings(capture=always) == ["E9003"]


def test_provisioned_concurrency_above_max():
    variant = """          ServerlessConfig:
            MemorySizeInMB: 2048
            MaxConcurrency: 5
            ProvisionedConcurrency: 6"""
    assert findings(variant=variant, capture="") == ["E9004"]


@pytest.mark.parametrize(
    "template", ["seed_code/deploy/endpoint-config-template.yml", "service_catalog/product.yaml"]
)
def test_repository_templates_pass_our_rules(template):
    matches = _lint((REPO / template).read_text())
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


MONITORED = """
Parameters:
  Stage:
    Type: String
    AllowedValues: [staging, prod]
  Watch:
    Type: String
    AllowedValues: ["true", "false"]
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  IsStaging: !Not [!Condition IsProd]
  IsMonitored: !And [!Condition IsProd, !Equals [!Ref Watch, "true"]]
Resources:
  Config:
    Type: AWS::SageMaker::EndpointConfig
    Properties:
      ProductionVariants:
        - VariantName: AllTraffic
          ModelName: model
          InitialVariantWeight: 1.0
          InstanceType: !If [IsProd, ml.m5.large, !Ref AWS::NoValue]
          InitialInstanceCount: !If [IsProd, 1, !Ref AWS::NoValue]
          ServerlessConfig: !If [IsProd, !Ref AWS::NoValue, {{MemorySizeInMB: 2048, MaxConcurrency: 20}}]
  Endpoint:
    Type: AWS::SageMaker::Endpoint
    Properties:
      EndpointConfigName: !GetAtt Config.EndpointConfigName
  Definition:
    Type: AWS::SageMaker::DataQualityJobDefinition
{definition_condition}
    Properties:
      JobDefinitionName: quality
      DataQualityAppSpecification: {{ImageUri: analyzer}}
      DataQualityJobInput:
        EndpointInput: {{EndpointName: !GetAtt Endpoint.EndpointName, LocalPath: /opt/ml/processing/input}}
      DataQualityJobOutputConfig:
        MonitoringOutputs: [{{S3Output: {{S3Uri: s3://bucket/reports, LocalPath: /opt/ml/processing/output}}}}]
      JobResources: {{ClusterConfig: {{InstanceCount: 1, InstanceType: ml.m5.xlarge, VolumeSizeInGB: 20}}}}
      RoleArn: arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole
  Schedule:
    Type: AWS::SageMaker::MonitoringSchedule
{schedule_condition}
    DependsOn: Definition
    Properties:
      MonitoringScheduleName: watch
      MonitoringScheduleConfig:
        MonitoringJobDefinitionName: quality
        MonitoringType: DataQuality
        ScheduleConfig: {{ScheduleExpression: cron(0 * ? * * *)}}
"""


def monitoring_findings(definition_condition: str, schedule_condition: str) -> list[str]:
    text = MONITORED.format(definition_condition=definition_condition, schedule_condition=schedule_condition)
    matches = _lint(text)
    return sorted(f"{m.rule.id} {m.path[1]}" for m in matches if m.rule.id.startswith("E9"))


def test_monitoring_only_where_the_endpoint_has_instances_is_clean():
    prod_only = "    Condition: IsMonitored"
    assert monitoring_findings(prod_only, prod_only) == []


def test_monitoring_that_reaches_the_serverless_branch_is_an_error():
    assert monitoring_findings("", "") == ["E9005 Definition", "E9005 Schedule"]
    on_staging = "    Condition: IsStaging"
    assert monitoring_findings(on_staging, on_staging) == ["E9005 Definition", "E9005 Schedule"]
    # a schedule without its own condition watches the endpoint its job definition names
    assert monitoring_findings("    Condition: IsMonitored", "") == ["E9005 Schedule"]
