"""Loading, rendering and linting CloudFormation templates (parsed with cfnlint.decode, dumped with cfn-flip)."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path


class TemplateError(Exception):
    """A template that cannot be used as it is."""


def load(path: Path) -> dict:
    return copy.deepcopy(_decoded(str(path), Path(path).read_text()))


@functools.lru_cache(maxsize=16)
def _decoded(path: str, text: str) -> dict:
    """cfnlint's parse of a template's text, remembered: its YAML loader is pure Python (a tenth of a second for the
    product template), and a process that publishes again reads the same text again. Callers get a copy."""
    from cfnlint.decode import decode_str  # imported when needed: the scripts' usage errors come at once

    template, matches = decode_str(text)
    if template is None or matches:
        problems = (
            "; ".join(f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches) or "cannot parse"
        )
        raise TemplateError(f"{path}: {problems}")
    return template


def render_product(template: dict, bucket: str, build_key: str, deploy_key: str) -> dict:
    """Set where the seed code lives: Mappings.SeedCode.S3 (structured, never string replacement)."""
    rendered = copy.deepcopy(_plain(template))
    try:
        location = rendered["Mappings"]["SeedCode"]["S3"]
    except KeyError:
        raise TemplateError(
            "the product template has no Mappings.SeedCode.S3 entry for the seed-code location"
        ) from None
    missing = {"Bucket", "BuildKey", "DeployKey"} - set(location)
    if missing:
        raise TemplateError(f"Mappings.SeedCode.S3 lacks {sorted(missing)}")
    location.update({"Bucket": bucket, "BuildKey": build_key, "DeployKey": deploy_key})
    return rendered


def with_defaults(template: dict, defaults: dict[str, str]) -> dict:
    """The template with these parameters' ``Default`` set (each must be a parameter of the template)."""
    rendered = copy.deepcopy(_plain(template))
    parameters = rendered.get("Parameters") or {}
    missing = sorted(set(defaults) - set(parameters))
    if missing:
        raise TemplateError(f"the template has no parameter {', '.join(missing)}")
    for name, value in defaults.items():
        parameters[name]["Default"] = value
    return rendered


def to_yaml(template: dict) -> str:
    return _yaml(json.dumps(_plain(template)))


@functools.lru_cache(maxsize=16)
def _yaml(document: str) -> str:
    """cfn-flip's YAML of a JSON document, remembered: its pure-Python emitter takes a tenth of a second for the
    product template, and the publisher (and a process that publishes again) renders the same template each time."""
    from cfn_flip import dump_yaml

    return dump_yaml(json.loads(document), clean_up=False, long_form=False)


def _plain(value):
    """cfnlint's node types (dict_node, str_node) as plain Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def lint(path: Path) -> list[str]:
    from cfnlint.api import lint_file

    return [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in lint_file(Path(path))]
