"""The embedded EventBridge delivers: events on an account's default bus start the targets of the rules they match.

moto stores rules and targets, and its PutEvents matches patterns, but it cannot start a CodePipeline. Here an event
a service emits (:func:`put`; the local SageMaker does for its pipelines' executions and steps) or a schedule rule's
firing (``scheduler``) is matched against the account's rules with moto's own pattern matcher; each matching
enabled rule's CodePipeline targets are started as EventBridge starts them: as the target's ``RoleArn``, which must
trust ``events.amazonaws.com`` and may call ``codepipeline:StartPipelineExecution`` (the embedded IAM decides). A
target that cannot be started is logged, as EventBridge counts a failed invocation and moves on; other target
kinds are logged as not delivered locally.

Delivery runs in its own thread, so the service that emitted the event never waits for its consumers (as on AWS).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable

from moto.events.models import events_backends

from smbundle.local.events.delivery import Delivery, make_event

log = logging.getLogger(__name__)


def _rules(account: str, region: str, bus: str = "default") -> list:
    backend = events_backends[account][region]
    event_bus = backend.event_buses.get(bus)
    return list(event_bus.rules.values()) if event_bus is not None else []


def matching(event: dict, account: str, region: str) -> list[Delivery]:
    """The targets of every enabled rule of the default bus whose pattern matches ``event``."""
    document = json.loads(json.dumps(event, default=str))
    found = []
    for rule in _rules(account, region):
        if rule.state != "ENABLED" or rule.event_pattern.dump() is None:
            continue
        if rule.event_pattern.matches_event(document):
            found.extend(Delivery(rule.name, t["Arn"], t.get("RoleArn")) for t in rule.targets)
    return found


def put(
    source: str, detail_type: str, detail: dict, *, account: str, region: str, resources: Iterable[str] = ()
) -> dict:
    """A service's event on the default bus: delivered to the matching rules' targets in the background."""
    event = make_event(source, detail_type, detail, account=account, region=region, resources=resources)
    deliveries = matching(event, account, region)
    if deliveries:
        start_in_background(deliveries, region, f"{detail_type} ({source})")
    return event


def start_in_background(deliveries: list[Delivery], region: str, why: str) -> None:
    thread = threading.Thread(
        target=_start_all, args=(deliveries, region, why), name="eventbridge-delivery", daemon=True
    )
    thread.start()


def _start_all(deliveries: list[Delivery], region: str, why: str) -> None:
    for delivery in deliveries:
        try:
            start(delivery, region)
        except Exception as exc:  # a failed invocation: EventBridge moves on
            log.warning(
                "EventBridge rule %s could not start %s on %s: %s",
                delivery.rule_name,
                delivery.target_arn,
                why,
                exc,
            )


def start(delivery: Delivery, region: str) -> str | None:
    """Start one target as its role; returns the CodePipeline execution id (None for targets not run locally)."""
    from smbundle.local import boto_sessions
    from smbundle.local.codepipeline.executions import settings
    from smbundle.local.iam import sessions

    if delivery.service != "codepipeline":
        log.warning(
            "EventBridge target %s of rule %s is not delivered locally",
            delivery.target_arn,
            delivery.rule_name,
        )
        return None
    if not settings.endpoint_url:
        log.warning(
            "EventBridge rule %s matched, but no embedded AWS server runs to start its target",
            delivery.rule_name,
        )
        return None
    if delivery.role_arn is None:
        raise sessions.RoleUnusable("the target has no RoleArn")
    role = sessions.assume(
        boto_sessions.session(region),
        settings.endpoint_url,
        delivery.role_arn,
        "events.amazonaws.com",
        "events",
    )
    answer = role.client("codepipeline").start_pipeline_execution(name=delivery.resource_name)
    log.info(
        "EventBridge rule %s started %s (%s)",
        delivery.rule_name,
        delivery.resource_name,
        answer["pipelineExecutionId"],
    )
    return answer["pipelineExecutionId"]
