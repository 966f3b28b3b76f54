"""The embedded AWS: a moto server on 127.0.0.1 with our extensions, in this process.

The account starts prepared like one whose SageMaker Studio domain has projects enabled: the Service Catalog
launch role and the product roles exist (each trusting its service), and so does a Studio execution role.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from smbundle.local import apply_extensions, boto_sessions, crashes, sample_data
from smbundle.local.applicationautoscaling import target_tracking
from smbundle.local.codecommit import git_store
from smbundle.local.codepipeline import executions
from smbundle.local.events import scheduler
from smbundle.local.iam import enforcement, roles
from smbundle.local.sagemaker import availability, deployments, runtime
from smbundle.local.sagemaker.studio_domain import prepare_domain

log = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"
STUDIO_EXECUTION_ROLE_NAME = roles.STUDIO_EXECUTION_ROLE_NAME
LAUNCH_ROLE_NAME = f"{roles.PREFIX}LaunchRole"


def prepare_account(account_id: str = ACCOUNT_ID) -> dict[str, str]:
    """Create the roles of an account with SageMaker projects enabled, and serve AWS's public sample object the
    build seed reads by default; returns role name -> ARN (idempotent)."""
    apply_extensions()
    sample_data.serve_public_sample()
    return roles.prepare(account_id)


@dataclass
class EmbeddedAWS:
    url: str
    region: str
    roles: dict[str, str] = field(default_factory=dict)
    domain_id: str | None = None  # the Studio domain, projects enabled (sagemaker/studio_domain.py)
    _server: object = None

    def stop(self) -> None:
        """Stop serving and forget the account: the next ``start()`` in this process begins empty, as a new
        ``local_aws.py`` does."""
        if self._server is not None:
            from moto.moto_api._internal.models import moto_api_backend

            crashes.set_serving(False)  # work still running ends quietly
            self._server.stop()
            self._server = None
            ours = executions.settings.endpoint_url == self.url
            if ours:
                # While the account still exists: buffered captures are written as the endpoint's role.
                runtime.reset()  # the endpoints' containers and their model directories
                deployments.reset()  # blue/green deployments in flight
                target_tracking.reset()  # scaling activities and cooldowns
            moto_api_backend.reset()  # moto's backends are per process, not per server
            if ours:
                executions.settings.endpoint_url = None
                executions.settings.clean_up()
                availability.set_existing_customer(False)
                git_store.reset()  # the repositories of this account
                scheduler.reset()

    def client(self, service: str):
        """A boto3 client of this embedded AWS, as the environment's credentials (made once per service and
        credentials: boto_sessions.admin_client)."""
        return boto_sessions.admin_client(service, self.region, self.url)

    def __enter__(self) -> EmbeddedAWS:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start(
    port: int = 0,
    region: str = "us-east-1",
    host: str = "127.0.0.1",
    iam: bool = True,
    existing_customer: bool = False,
) -> EmbeddedAWS:
    """Start the server (extensions applied first) and prepare the account; ``iam=False`` lets every call
    through (for exploring only: a run that passes that way says nothing about AWS). The account is a new
    customer's, which cannot use SageMaker Model Monitor or Debugger (closed to new customers), unless
    ``existing_customer`` (``sagemaker/availability.py``)."""
    from smbundle.local.moto_server import EmbeddedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    apply_extensions()
    enforcement.set_enabled(iam)
    availability.set_existing_customer(existing_customer)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log lines on the terminal
    server = EmbeddedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    aws = EmbeddedAWS(url=f"http://{bound_host}:{bound_port}", region=region, _server=server)
    executions.settings.endpoint_url = aws.url  # pipeline executions run against this server
    crashes.set_serving(True)
    aws.roles = prepare_account()
    aws.domain_id = prepare_domain(aws.client("sagemaker"), aws.roles[STUDIO_EXECUTION_ROLE_NAME])
    log.info("embedded AWS at %s", aws.url)
    return aws
