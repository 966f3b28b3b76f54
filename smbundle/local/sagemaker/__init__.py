"""Embedded-AWS extensions of SageMaker (endpoints in CloudFormation, projects, runtime, pipelines)."""
