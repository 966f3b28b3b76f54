"""A Studio domain with SageMaker projects enabled, as the prepared local account has one.

Two extensions of moto's SageMaker, plus the preparation itself:

- domain ids look like AWS's (``d-`` and 12 lowercase letters and digits) instead of ``d-<name>``;
- ``EnableSagemakerServicecatalogPortfolio``, ``DisableSagemakerServicecatalogPortfolio`` and
  ``GetSagemakerServicecatalogPortfolioStatus``: the account switch behind "SageMaker projects enabled" (moto lacks
  them);
- :func:`prepare_domain`: the domain ``studio`` whose users run as the Studio execution role, and projects enabled
  (idempotent; ``aws sagemaker list-domains`` shows it).
"""

from __future__ import annotations

import json
import random
import string

from moto.sagemaker import models
from moto.sagemaker.responses import SageMakerResponse

DOMAIN_NAME = "studio"
# A Studio domain needs a VPC; the embedded AWS has no network, so these stand for the account's default VPC.
VPC_ID = "vpc-0a1b2c3d4e5f60718"
SUBNET_IDS = ["subnet-0a1b2c3d4e5f60718"]

_applied = False


def _status(backend) -> str:
    return getattr(backend, "servicecatalog_portfolio_status", "Disabled")


def apply() -> None:
    global _applied
    if _applied:
        return
    original_init = models.Domain.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.id = "d-" + "".join(random.choices(string.ascii_lowercase + string.digits, k=12))
        self.arn = models.arn_formatter("domain", self.id, self.account_id, self.region_name)

    def enable(self: SageMakerResponse) -> str:
        self.sagemaker_backend.servicecatalog_portfolio_status = "Enabled"
        return "{}"

    def disable(self: SageMakerResponse) -> str:
        self.sagemaker_backend.servicecatalog_portfolio_status = "Disabled"
        return "{}"

    def get_status(self: SageMakerResponse) -> str:
        return json.dumps({"Status": _status(self.sagemaker_backend)})

    models.Domain.__init__ = init
    SageMakerResponse.enable_sagemaker_servicecatalog_portfolio = enable
    SageMakerResponse.disable_sagemaker_servicecatalog_portfolio = disable
    SageMakerResponse.get_sagemaker_servicecatalog_portfolio_status = get_status
    _applied = True


def prepare_domain(sagemaker, execution_role_arn: str) -> str:
    """The Studio domain of the prepared account (created once) with projects enabled; returns its id."""
    domain_id = next(
        (
            d["DomainId"]
            for d in sagemaker.list_domains().get("Domains", [])
            if d["DomainName"] == DOMAIN_NAME
        ),
        None,
    )
    if domain_id is None:
        arn = sagemaker.create_domain(
            DomainName=DOMAIN_NAME,
            AuthMode="IAM",
            DefaultUserSettings={"ExecutionRole": execution_role_arn},
            SubnetIds=SUBNET_IDS,
            VpcId=VPC_ID,
        )["DomainArn"]
        domain_id = arn.rsplit("/", 1)[-1]
    sagemaker.enable_sagemaker_servicecatalog_portfolio()
    return domain_id
