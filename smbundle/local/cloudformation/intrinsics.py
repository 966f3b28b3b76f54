"""YAML short forms as CloudFormation reads them.

``!Condition Name`` (a condition used inside ``Fn::And`` / ``Fn::Or`` / ``Fn::Not``) is ``{"Condition": "Name"}``.
moto read it as ``{"Fn::Condition": "Name"}``, which its condition parser does not know, so a condition combining
other conditions was always false, and the resources under it were silently left out of the stack.
"""

from __future__ import annotations

from moto.cloudformation import models, responses, utils

_original = utils.yaml_tag_constructor


def yaml_tag_constructor(loader, tag, node):
    if tag == "!Condition":
        return {"Condition": loader.construct_scalar(node)}
    return _original(loader, tag, node)


def apply() -> None:
    # moto imports the constructor by name and registers it whenever it parses a template
    for module in (models, responses, utils):
        module.yaml_tag_constructor = yaml_tag_constructor
