"""Deliver an event through the account's real EventBridge rules, as EventBridge would.

moto stores rules and targets but cannot deliver to a CodePipeline target. Here the rules' own event patterns
decide (moto's pattern matcher, the same one its PutEvents uses), and the matching targets are returned to the
caller, which starts what they point at. A rule whose pattern no longer matches simply starts nothing, exactly as
on AWS.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

from moto.events.models import EventPattern


@dataclass(frozen=True)
class Delivery:
    rule_name: str
    target_arn: str
    role_arn: str | None

    @property
    def service(self) -> str:
        return self.target_arn.split(":")[2]

    @property
    def resource_name(self) -> str:
        return self.target_arn.split(":", 5)[5].split("/")[-1]


def make_event(
    source: str, detail_type: str, detail: dict, *, account: str, region: str, resources=()
) -> dict:
    """An event envelope shaped like the ones EventBridge delivers."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": list(resources),
        "detail": detail,
    }


def deliver(events_client, event: dict, event_bus: str = "default") -> list[Delivery]:
    """Targets of every enabled rule on ``event_bus`` whose pattern matches ``event``."""
    deliveries: list[Delivery] = []
    for rule in _rules(events_client, event_bus):
        if rule.get("State") != "ENABLED" or not rule.get("EventPattern"):
            continue
        if not EventPattern.load(rule["EventPattern"]).matches_event(json.loads(json.dumps(event))):
            continue
        targets = events_client.list_targets_by_rule(Rule=rule["Name"], EventBusName=event_bus)["Targets"]
        deliveries.extend(Delivery(rule["Name"], t["Arn"], t.get("RoleArn")) for t in targets)
    return deliveries


def _rules(events_client, event_bus: str) -> list[dict]:
    rules, token = [], None
    while True:
        kwargs = {"EventBusName": event_bus}
        if token:
            kwargs["NextToken"] = token
        page = events_client.list_rules(**kwargs)
        rules.extend(page.get("Rules", []))
        token = page.get("NextToken")
        if not token:
            return rules
