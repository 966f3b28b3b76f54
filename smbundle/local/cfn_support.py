"""Helpers shared by our CloudFormation resource models for moto."""

from __future__ import annotations

from typing import Any

from moto.cloudformation import parsing


def camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def camel_keys(value: Any, verbatim: tuple[str, ...] = ()) -> Any:
    """PascalCase CloudFormation properties to the API's camelCase; keys in ``verbatim`` keep their content."""
    if isinstance(value, list):
        return [camel_keys(v, verbatim) for v in value]
    if isinstance(value, dict):
        return {camel(k): (v if k in verbatim else camel_keys(v, verbatim)) for k, v in value.items()}
    return value


def api_string(value: Any) -> str:
    """CloudFormation booleans and numbers as the string values the APIs take."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def refresh_model_map() -> None:
    """moto caches the list of CloudFormation models; forget it after new models are defined."""
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
