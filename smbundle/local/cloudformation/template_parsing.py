"""Template bodies parsed once, by libyaml: same result as moto's parser, about eight times faster.

moto parses a stack's template with PyYAML's pure-Python loader every time it builds a stack, a change set or
compares templates, and the embedded AWS parses the same few bodies again and again (each CreateStack and
UpdateStack, each change set, the checks before them). This parses with the C loader (same constructors, the same
short-form intrinsic functions), falls back to JSON as moto does, and keeps the last bodies it parsed: each caller
gets its own copy, so nothing it changes leaks into the next stack.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

import yaml
from moto.cloudformation import responses
from moto.cloudformation.models import ChangeSet, Stack
from moto.cloudformation.utils import yaml_tag_constructor
from yaml.parser import ParserError
from yaml.scanner import ScannerError

_Loader = getattr(yaml, "CLoader", yaml.Loader)  # PyYAML wheels ship libyaml; without it, moto's own loader


class _TemplateLoader(_Loader):
    """moto's loader: the short-form intrinsic functions (!Ref, !Sub, ...) read as their long form."""


_TemplateLoader.add_multi_constructor("", yaml_tag_constructor)


@functools.lru_cache(maxsize=32)
def _parsed(template: str) -> Any:
    try:
        return yaml.load(template, Loader=_TemplateLoader)
    except (ParserError, ScannerError):
        return json.loads(template)


def parse_template(template: str) -> Any:
    return copy.deepcopy(_parsed(template))


def _change_set_parse_template(self: ChangeSet) -> None:
    self.template_dict = parse_template(self.template)


def _remembered_summaries(summarize):
    """moto's GetTemplateSummary, which parses with the pure-Python loader, kept for the last bodies it answered
    (a rollout asks it about the same product versions for each project); each caller gets its own copy."""
    remembered = functools.lru_cache(maxsize=16)(summarize)

    def summary(template_body: str) -> dict:
        return copy.deepcopy(remembered(template_body))

    summary.original = summarize
    return summary


def apply() -> None:
    Stack.parse_template = staticmethod(parse_template)
    ChangeSet._parse_template = _change_set_parse_template
    summarize = responses.get_template_summary_response_from_template
    responses.get_template_summary_response_from_template = _remembered_summaries(
        getattr(summarize, "original", summarize)
    )
