"""Whether a Region has what the product needs: the publisher's check, before anything is written.

Two sources, both on this machine: cfn-lint's per-Region CloudFormation schemas say which resource types exist in a
Region, and the SageMaker Python SDK's image configs (``sagemaker/image_uri_config/*.json``, the data behind
``image_uris.retrieve``) say in which Regions an image exists. What the default path needs and the Region lacks is
an error (no project would work); what only an option needs is a warning naming the option:

- the product template's resources: one without a ``Condition`` is needed by every project; one with a condition
  only by projects that choose it (e.g. the CodeCommit repositories, ``SourceProvider`` ``CodeCommit``);
- the images the build pipeline runs: the built-in XGBoost and the scikit-learn processing images, in the versions
  ``seed_code/build/pipelines/abalone/pipeline.py`` names;
- Model Monitor (``MonitoringBackend`` ``model-monitor``): its analyzer image and the endpoint template's
  monitoring resource types.
"""

from __future__ import annotations

import ast
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

from smbundle import resource_permissions

PIPELINE = Path("seed_code") / "build" / "pipelines" / "abalone" / "pipeline.py"
MODEL_MONITOR_TYPES = ("AWS::SageMaker::DataQualityJobDefinition", "AWS::SageMaker::MonitoringSchedule")


@dataclass
class Support:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@functools.cache
def resource_types(region: str) -> frozenset[str]:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    return frozenset(PROVIDER_SCHEMA_MANAGER.get_resource_types(region))


def _image_config(framework: str) -> dict:
    """The SDK's config file, found without importing the SDK (which takes seconds)."""
    import importlib.util

    spec = importlib.util.find_spec("sagemaker")
    path = Path(spec.origin).parent / "image_uri_config" / f"{framework}.json"
    return json.loads(path.read_text())


def image_regions(framework: str, version: str | None = None) -> set[str]:
    """Regions with ``framework``'s image (in ``version``, any scope: training, inference, monitoring...)."""
    config = _image_config(framework)
    regions: set[str] = set()
    scopes = [config] + [v for v in config.values() if isinstance(v, dict) and "versions" in v]
    for scope in scopes:
        for name, entry in (scope.get("versions") or {}).items():
            if version is None or name == version:
                regions |= set(entry.get("registries") or {})
    return regions


def pipeline_versions(repo_root: Path) -> dict[str, str]:
    """The image versions the build seed's pipeline names (XGBOOST_VERSION, SKLEARN_VERSION), read without
    importing it (the SDK takes seconds to import)."""
    tree = ast.parse((repo_root / PIPELINE).read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in ("XGBOOST_VERSION", "SKLEARN_VERSION"):
                    found[target.id] = node.value.value
    return found


def check(repo_root: Path, product_template: dict, region: str) -> Support:
    support = Support()
    available = resource_types(region)
    needed: dict[str, list[str]] = {}  # type -> resources every project has
    optional: dict[tuple[str, str], list[str]] = {}  # (type, condition) -> resources some projects have
    unknown: dict[str, list[str]] = {}  # type no Region has -> resources
    for logical_id, resource in product_template.get("Resources", {}).items():
        kind = resource.get("Type", "")
        if kind in available or not kind.startswith("AWS::"):
            continue
        if resource_permissions.registry_schema(kind, region) is None:
            unknown.setdefault(kind, []).append(logical_id)
            continue
        if resource.get("Condition") is None:
            needed.setdefault(kind, []).append(logical_id)
        else:
            optional.setdefault((kind, resource["Condition"]), []).append(logical_id)
    for kind, names in unknown.items():
        support.errors.append(
            f"{kind} ({', '.join(names)}) is not a CloudFormation resource type: no Region's registry schema "
            "(cfn-lint's schemas) has it; check its spelling"
        )
    for kind, names in needed.items():
        support.errors.append(
            f"{region} has no {kind} (cfn-lint's schemas for the Region), which every project needs "
            f"({', '.join(names)}): publish the product in another Region"
        )
    for (kind, condition), names in optional.items():
        if kind not in needed:
            support.warnings.append(
                f"{region} has no {kind} (cfn-lint's schemas for the Region): projects whose parameters turn on "
                f"{condition} ({', '.join(names)}) will fail to create; choose the other option when creating one"
            )
    versions = pipeline_versions(repo_root)
    for framework, key in (("xgboost", "XGBOOST_VERSION"), ("sklearn", "SKLEARN_VERSION")):
        version = versions.get(key)
        if version and region not in image_regions(framework, version):
            support.errors.append(
                f"{region} has no SageMaker {framework} {version} image (the SageMaker Python SDK's image "
                f"configs): the build pipeline ({PIPELINE}, {key}) cannot run there; publish in another Region or "
                "use a version the Region has"
            )
    missing_monitor = [t for t in MODEL_MONITOR_TYPES if t not in available]
    if region not in image_regions("model-monitor") or missing_monitor:
        what = ", ".join(missing_monitor) or "the Model Monitor analyzer image"
        support.warnings.append(
            f"{region} has no {what}: MonitoringBackend model-monitor cannot deploy prod there (the default, "
            "project, works)"
        )
    return support
