"""Fixtures of the deploy repository's own tests (self-contained: boto3, moto and pytest only)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / "test"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch):
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name in (
        "STAGING_MEMORY_SIZE_MB",
        "STAGING_MAX_CONCURRENCY",
        "STAGING_PROVISIONED_CONCURRENCY",
        "PROD_INSTANCE_TYPE",
        "PROD_INSTANCE_COUNT",
        "PROD_MIN_INSTANCE_COUNT",
        "PROD_MAX_INSTANCE_COUNT",
        "PROD_TARGET_INVOCATIONS_PER_INSTANCE",
        "PROD_DEPLOYMENT_STRATEGY",
        "PROD_CANARY_SIZE_PERCENT",
        "PROD_LINEAR_STEP_PERCENT",
        "PROD_BAKE_TIME_SECONDS",
        "PROD_ALARM_ROLLBACK",
        "PROD_LATENCY_P99_THRESHOLD_MS",
        "PROD_SAMPLING_PERCENTAGE",
        "MONITORING_BACKEND",
        "MONITORING_SCHEDULE_EXPRESSION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
