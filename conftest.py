"""For every test of the repository (tooling and both seeds): botocore reads the service models once per worker."""

from __future__ import annotations

import pytest

from smbundle.local import boto_sessions


@pytest.fixture(scope="session", autouse=True)
def service_models_read_once():
    """boto3's default session is new in every test (moto resets it): let all sessions share one model loader."""
    boto_sessions.share_loader_with_every_session()
