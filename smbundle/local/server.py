"""The embedded AWS: a moto server on 127.0.0.1 with our extensions, in this process.

The account starts prepared like one whose SageMaker Studio domain has projects enabled: the Service Catalog
launch role and the product roles exist (each trusting its service), and so does a Studio execution role.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field

import boto3

from smbundle.local import apply_extensions
from smbundle.local.sagemaker.studio_domain import prepare_domain

log = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"
STUDIO_EXECUTION_ROLE_NAME = "AmazonSageMaker-ExecutionRole-studio"
LAUNCH_ROLE_NAME = "AmazonSageMakerServiceCatalogProductsLaunchRole"
# Role name suffix -> the service principal that assumes it (what enabling projects creates).
PRODUCT_ROLES = {
    "AmazonSageMakerServiceCatalogProductsLaunchRole": "servicecatalog.amazonaws.com",
    "AmazonSageMakerServiceCatalogProductsUseRole": "sagemaker.amazonaws.com",
    "AmazonSageMakerServiceCatalogProductsCodeBuildRole": "codebuild.amazonaws.com",
    "AmazonSageMakerServiceCatalogProductsCodePipelineRole": "codepipeline.amazonaws.com",
    "AmazonSageMakerServiceCatalogProductsEventsRole": "events.amazonaws.com",
    "AmazonSageMakerServiceCatalogProductsCloudformationRole": "cloudformation.amazonaws.com",
    "AmazonSageMakerServiceCatalogProductsExecutionRole": "sagemaker.amazonaws.com",
}


def trust_policy(service: str) -> str:
    # One Service principal per statement (moto's CodePipeline rejects a list).
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def prepare_account(iam=None) -> dict[str, str]:
    """Create the roles of an account with SageMaker projects enabled; returns name -> ARN (idempotent)."""
    iam = iam or boto3.client("iam")
    arns = {}
    roles = {name: ("/service-role/", service) for name, service in PRODUCT_ROLES.items()}
    roles[STUDIO_EXECUTION_ROLE_NAME] = ("/service-role/", "sagemaker.amazonaws.com")
    for name, (path, service) in roles.items():
        try:
            arns[name] = iam.get_role(RoleName=name)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            arns[name] = iam.create_role(
                RoleName=name, Path=path, AssumeRolePolicyDocument=trust_policy(service)
            )["Role"]["Arn"]
    return arns


@dataclass
class EmbeddedAWS:
    url: str
    region: str
    roles: dict[str, str] = field(default_factory=dict)
    domain_id: str | None = None  # the Studio domain, projects enabled (sagemaker/studio_domain.py)
    _server: object = None

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self, service: str):
        return boto3.session.Session(region_name=self.region).client(service, endpoint_url=self.url)

    def __enter__(self) -> EmbeddedAWS:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start(port: int = 0, region: str = "us-east-1", host: str = "127.0.0.1") -> EmbeddedAWS:
    """Start the server (extensions applied first) and prepare the account."""
    from smbundle.local.moto_server import EmbeddedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    apply_extensions()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log lines on the terminal
    server = EmbeddedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    aws = EmbeddedAWS(url=f"http://{bound_host}:{bound_port}", region=region, _server=server)
    aws.roles = prepare_account(aws.client("iam"))
    aws.domain_id = prepare_domain(aws.client("sagemaker"), aws.roles[STUDIO_EXECUTION_ROLE_NAME])
    log.info("embedded AWS at %s", aws.url)
    return aws
