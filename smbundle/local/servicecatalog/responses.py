"""Wire format of the Service Catalog operations we add to moto (JSON protocol)."""

from __future__ import annotations

import json
from datetime import datetime

from moto.servicecatalog.responses import ServiceCatalogResponse

from smbundle.local.cloudformation import template_parsing
from smbundle.local.servicecatalog import catalog
from smbundle.local.servicecatalog.catalog import CatalogError


def _json(value) -> str:
    return json.dumps(value, default=lambda v: v.timestamp() if isinstance(v, datetime) else str(v))


def _handler(function):
    def method(self: ServiceCatalogResponse):
        body = json.loads(self.body or "{}")
        try:
            return _json(function(self.servicecatalog_backend, body))
        except CatalogError as exc:
            return (
                400,
                {"status": 400, "x-amzn-ErrorType": exc.code},
                json.dumps({"__type": exc.code, "Message": str(exc)}),
            )

    method.__name__ = function.__name__
    return method


def _product_view(product) -> dict:
    return {
        "ProductViewSummary": product.to_dict(),
        "Status": "AVAILABLE",
        "ProductARN": product.arn,
        "CreatedTime": product.created_time,
    }


def create_product(backend, body):
    product = backend.create_product(
        name=body["Name"],
        owner=body.get("Owner"),
        description=body.get("Description"),
        distributor=body.get("Distributor"),
        support_description=body.get("SupportDescription"),
        support_email=body.get("SupportEmail"),
        support_url=body.get("SupportUrl"),
        product_type=body.get("ProductType", "CLOUD_FORMATION_TEMPLATE"),
        tags=body.get("Tags"),
        provisioning_artifact_parameters=body.get("ProvisioningArtifactParameters"),
        idempotency_token=body.get("IdempotencyToken"),
    )
    artifacts = catalog.state(backend).artifacts.get(product.id)
    if artifacts:
        created = artifacts[0]
    elif body.get("ProvisioningArtifactParameters"):
        created = catalog.add_artifact(backend, product.id, body["ProvisioningArtifactParameters"])
    else:
        created = None
    return {
        "ProductViewDetail": _product_view(product),
        "ProvisioningArtifactDetail": created.detail() if created else {},
        "Tags": product.tags,
    }


def describe_product(backend, body):
    product = backend.describe_product(None, body.get("Id"), body.get("Name"))
    artifacts = [a for a in catalog.state(backend).artifacts.get(product.id, []) if a.active]
    return {
        "ProductViewSummary": product.to_dict(),
        "ProvisioningArtifacts": [
            {
                "Id": a.id,
                "Name": a.name,
                "Description": a.description,
                "CreatedTime": a.created,
                "Guidance": a.guidance,
            }
            for a in artifacts
        ],
        "LaunchPaths": [
            {"Id": pid, "Name": _portfolio_name(backend, pid)} for pid in _portfolios_of(backend, product.id)
        ],
    }


def describe_product_as_admin(backend, body):
    product = backend.describe_product(None, body.get("Id"), body.get("Name"))
    artifacts = catalog.state(backend).artifacts.get(product.id, [])
    return {
        "ProductViewDetail": _product_view(product),
        "ProvisioningArtifactSummaries": [
            {"Id": a.id, "Name": a.name, "Description": a.description, "CreatedTime": a.created}
            for a in artifacts
        ],
        "Tags": product.tags,
    }


def create_provisioning_artifact(backend, body):
    created = catalog.add_artifact(
        backend, body["ProductId"], body["Parameters"], body.get("IdempotencyToken")
    )
    return {
        "ProvisioningArtifactDetail": created.detail(),
        "Info": {"TemplateUrl": created.template_url},
        "Status": "AVAILABLE",
    }


def list_provisioning_artifacts(backend, body):
    catalog.product(backend, body["ProductId"])
    return {
        "ProvisioningArtifactDetails": [
            a.detail() for a in catalog.state(backend).artifacts.get(body["ProductId"], [])
        ]
    }


def describe_provisioning_artifact(backend, body):
    found = catalog.artifact(
        backend, body["ProductId"], body.get("ProvisioningArtifactId"), body.get("ProvisioningArtifactName")
    )
    return {
        "ProvisioningArtifactDetail": found.detail(),
        "Info": {"TemplateUrl": found.template_url},
        "Status": "AVAILABLE",
    }


def update_provisioning_artifact(backend, body):
    found = catalog.artifact(backend, body["ProductId"], body["ProvisioningArtifactId"])
    if "Name" in body:
        found.name = body["Name"]
    if "Description" in body:
        found.description = body["Description"]
    if "Active" in body:
        found.active = bool(body["Active"])
    if "Guidance" in body:
        found.guidance = body["Guidance"]
    return {
        "ProvisioningArtifactDetail": found.detail(),
        "Info": {"TemplateUrl": found.template_url},
        "Status": "AVAILABLE",
    }


def delete_provisioning_artifact(backend, body):
    artifacts = catalog.state(backend).artifacts.get(body["ProductId"], [])
    found = catalog.artifact(backend, body["ProductId"], body["ProvisioningArtifactId"])
    if len(artifacts) == 1:
        raise CatalogError(
            "InvalidParametersException", "A product must keep at least one provisioning artifact."
        )
    artifacts.remove(found)
    return {}


def _portfolios_of(backend, product_id: str) -> list[str]:
    return [
        pid for pid, products in catalog.state(backend).portfolio_products.items() if product_id in products
    ]


def _portfolio_name(backend, portfolio_id: str) -> str:
    return (
        backend.portfolios[portfolio_id].display_name if portfolio_id in backend.portfolios else portfolio_id
    )


def describe_portfolio(backend, body):
    found = catalog.portfolio(backend, body["Id"])
    return {"PortfolioDetail": found.to_dict(), "Tags": found.tags or [], "TagOptions": [], "Budgets": []}


def associate_product_with_portfolio(backend, body):
    catalog.product(backend, body["ProductId"])
    catalog.portfolio(backend, body["PortfolioId"])
    products = catalog.state(backend).portfolio_products.setdefault(body["PortfolioId"], [])
    if body["ProductId"] not in products:
        products.append(body["ProductId"])
    return {}


def list_portfolios_for_product(backend, body):
    portfolios = [
        backend.portfolios[pid]
        for pid in _portfolios_of(backend, body["ProductId"])
        if pid in backend.portfolios
    ]
    return {"PortfolioDetails": [p.to_dict() for p in portfolios]}


def associate_principal_with_portfolio(backend, body):
    catalog.portfolio(backend, body["PortfolioId"])
    principals = catalog.state(backend).principals.setdefault(body["PortfolioId"], [])
    entry = {"PrincipalARN": body["PrincipalARN"], "PrincipalType": body.get("PrincipalType", "IAM")}
    if entry not in principals:
        principals.append(entry)
    return {}


def list_principals_for_portfolio(backend, body):
    catalog.portfolio(backend, body["PortfolioId"])
    return {"Principals": list(catalog.state(backend).principals.get(body["PortfolioId"], []))}


def create_constraint(backend, body):
    constraint = catalog.new_constraint(backend, body)
    detail = {
        k: constraint[k] for k in ("ConstraintId", "Type", "Description", "Owner", "ProductId", "PortfolioId")
    }
    return {
        "ConstraintDetail": detail,
        "ConstraintParameters": constraint["Parameters"],
        "Status": "AVAILABLE",
    }


def list_constraints_for_portfolio(backend, body):
    catalog.portfolio(backend, body["PortfolioId"])
    keys = ("ConstraintId", "Type", "Description", "Owner", "ProductId", "PortfolioId")
    return {
        "ConstraintDetails": [
            {k: c[k] for k in keys}
            for c in catalog.state(backend).constraints
            if c["PortfolioId"] == body["PortfolioId"] and body.get("ProductId") in (None, c["ProductId"])
        ]
    }


def _matching_products(backend, body) -> list:
    text = " ".join(((body.get("Filters") or {}).get("FullTextSearch")) or []).lower()
    products = list(backend.products.values())
    if body.get("PortfolioId"):
        allowed = catalog.state(backend).portfolio_products.get(body["PortfolioId"], [])
        products = [p for p in products if p.id in allowed]
    return [
        p for p in products if not text or text in p.name.lower() or text in (p.description or "").lower()
    ]


def search_products_as_admin(backend, body):
    return {"ProductViewDetails": [_product_view(p) for p in _matching_products(backend, body)]}


def search_products(backend, body):
    return {"ProductViewSummaries": [p.to_dict() for p in _matching_products(backend, body)]}


def list_launch_paths(backend, body):
    catalog.product(backend, body["ProductId"])
    paths = []
    for pid in _portfolios_of(backend, body["ProductId"]):
        constraints = [
            {"Type": c["Type"], "Description": c["Description"]}
            for c in catalog.state(backend).constraints
            if c["PortfolioId"] == pid and c["ProductId"] == body["ProductId"]
        ]
        paths.append(
            {"Id": pid, "Name": _portfolio_name(backend, pid), "ConstraintSummaries": constraints, "Tags": []}
        )
    return {"LaunchPathSummaries": paths}


def provision_product(backend, body):
    record = catalog.provision(
        backend,
        body["ProductId"],
        body.get("ProvisioningArtifactId"),
        body["ProvisionedProductName"],
        body.get("ProvisioningParameters", []),
        body.get("Tags", []),
        body.get("ProvisioningArtifactName"),
    )
    return {"RecordDetail": catalog.public_record(record)}


def describe_record(backend, body):
    record = catalog.state(backend).records.get(body["Id"])
    if record is None:
        raise CatalogError("ResourceNotFoundException", f"Record {body['Id']} not found.")
    return {"RecordDetail": catalog.public_record(record), "RecordOutputs": record["outputs"]}


def search_provisioned_products(backend, body):
    products = [p.detail() for p in catalog.state(backend).provisioned.values()]
    return {"ProvisionedProducts": products, "TotalResultsCount": len(products)}


def scan_provisioned_products(backend, body):
    return {"ProvisionedProducts": [p.detail() for p in catalog.state(backend).provisioned.values()]}


def describe_provisioned_product(backend, body):
    for provisioned in catalog.state(backend).provisioned.values():
        if provisioned.id == body.get("Id") or provisioned.name == body.get("Name"):
            return {"ProvisionedProductDetail": provisioned.detail(), "CloudWatchDashboards": []}
    raise CatalogError(
        "ResourceNotFoundException", f"Provisioned product {body.get('Id') or body.get('Name')} not found."
    )


_CONSTRAINT_KEYS = (
    "AllowedValues",
    "AllowedPattern",
    "ConstraintDescription",
    "MaxLength",
    "MinLength",
    "MaxValue",
    "MinValue",
)


def describe_provisioning_parameters(backend, body):
    """What Studio's project-creation form shows: the artifact's parameters with their constraints, the launch
    path's constraints, the outputs."""
    chosen = catalog.artifact(
        backend, body["ProductId"], body.get("ProvisioningArtifactId"), body.get("ProvisioningArtifactName")
    )
    template = template_parsing.parse_template(chosen.template_body)
    parameters = []
    for key, spec in (template.get("Parameters") or {}).items():
        constraints = {k: spec[k] for k in _CONSTRAINT_KEYS if k in spec}
        for bound in ("MaxLength", "MinLength", "MaxValue", "MinValue"):
            if bound in constraints:
                constraints[bound] = str(constraints[bound])
        if "AllowedValues" in constraints:
            constraints["AllowedValues"] = [str(v) for v in constraints["AllowedValues"]]
        entry = {
            "ParameterKey": key,
            "ParameterType": spec.get("Type", "String"),
            "IsNoEcho": str(spec.get("NoEcho", "false")).lower() == "true",
            "Description": spec.get("Description", ""),
            "ParameterConstraints": constraints,
        }
        if "Default" in spec:
            entry["DefaultValue"] = str(spec["Default"])
        parameters.append(entry)
    paths = _portfolios_of(backend, body["ProductId"])
    path = body.get("PathId") or (paths[0] if paths else None)
    constraints = [
        {"Type": c["Type"], "Description": c["Description"]}
        for c in catalog.state(backend).constraints
        if c["PortfolioId"] == path and c["ProductId"] == body["ProductId"]
    ]
    outputs = [
        {"Key": key, "Description": (spec or {}).get("Description", "")}
        for key, spec in (template.get("Outputs") or {}).items()
    ]
    return {
        "ProvisioningArtifactParameters": parameters,
        "ConstraintSummaries": constraints,
        "UsageInstructions": [],
        "TagOptions": [],
        "ProvisioningArtifactPreferences": {},
        "ProvisioningArtifactOutputs": outputs,
        "ProvisioningArtifactOutputKeys": outputs,
    }


def _provisioned(backend, body):
    for provisioned in catalog.state(backend).provisioned.values():
        if provisioned.id == body.get("ProvisionedProductId") or provisioned.name == body.get(
            "ProvisionedProductName"
        ):
            return provisioned
    raise CatalogError(
        "ResourceNotFoundException",
        f"Provisioned product {body.get('ProvisionedProductId') or body.get('ProvisionedProductName')} not found.",
    )


def get_provisioned_product_outputs(backend, body):
    provisioned = _provisioned(backend, body)
    record = catalog.state(backend).records.get(
        provisioned.last_successful_record_id or provisioned.last_record_id
    )
    outputs = (record or {}).get("outputs") or []
    wanted = body.get("OutputKeys")
    return {"Outputs": [o for o in outputs if not wanted or o["OutputKey"] in wanted]}


def list_record_history(backend, body):
    search = body.get("SearchFilter") or {}
    records = list(catalog.state(backend).records.values())
    if search.get("Key") == "provisionedproduct" and search.get("Value"):
        records = [
            r for r in records if search["Value"] in (r["ProvisionedProductId"], r["ProvisionedProductName"])
        ]
    records.sort(key=lambda r: r["CreatedTime"], reverse=True)
    return {"RecordDetails": [catalog.public_record(r) for r in records]}


def terminate_provisioned_product(backend, body):
    record = catalog.terminate(backend, body.get("ProvisionedProductId"), body.get("ProvisionedProductName"))
    return {"RecordDetail": catalog.public_record(record)}


OPERATIONS = [
    describe_portfolio,
    create_product,
    describe_product,
    describe_product_as_admin,
    create_provisioning_artifact,
    list_provisioning_artifacts,
    describe_provisioning_artifact,
    update_provisioning_artifact,
    delete_provisioning_artifact,
    associate_product_with_portfolio,
    list_portfolios_for_product,
    associate_principal_with_portfolio,
    list_principals_for_portfolio,
    create_constraint,
    list_constraints_for_portfolio,
    search_products_as_admin,
    search_products,
    list_launch_paths,
    provision_product,
    describe_record,
    search_provisioned_products,
    scan_provisioned_products,
    describe_provisioned_product,
    terminate_provisioned_product,
    describe_provisioning_parameters,
    get_provisioned_product_outputs,
    list_record_history,
]

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    for operation in OPERATIONS:
        setattr(ServiceCatalogResponse, operation.__name__, _handler(operation))
    _applied = True
