"""The embedded EventBridge delivers: events on an account's default bus start the targets of the rules they match.

moto stores rules and targets, and its PutEvents matches patterns, but it cannot start a CodePipeline. Here an event
a service emits (:func:`put`: SageMaker for its pipelines and model packages, and the other services' extensions) or
a schedule rule's firing (``scheduler``) is matched against the account's rules with moto's own pattern matcher;
each matching enabled rule's CodePipeline targets are started as EventBridge starts them: as the target's
``RoleArn``, which must trust ``events.amazonaws.com`` and may call ``codepipeline:StartPipelineExecution`` (the
embedded IAM decides). An execution a rule starts shows the trigger AWS shows: ``CloudWatchEvent`` with the rule's
ARN. Each rule an event triggers, and each delivery, counts in the rule's CloudWatch metrics as EventBridge's do
(``AWS/Events`` ``TriggeredRules``, then ``Invocations`` or ``FailedInvocations``, dimension ``RuleName``); a target
that cannot be started is also logged with the reason, and delivery moves on. Other target kinds are logged as not
delivered locally.

Delivery runs in its own thread, so the service that emitted the event never waits for its consumers (as on AWS).
Matching does not: ``TriggeredRules`` is counted before the call that emitted the event answers (AWS publishes its
metrics within minutes), so a client of the embedded AWS knows at once whether a rule matched.
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


def matching(event: dict, account: str, region: str) -> list:
    """Every enabled rule of the default bus whose pattern matches ``event``."""
    document = json.loads(json.dumps(event, default=str))
    return [
        rule
        for rule in _rules(account, region)
        if rule.state == "ENABLED"
        and rule.event_pattern.dump() is not None
        and rule.event_pattern.matches_event(document)
    ]


def triggered(rule, account: str, region: str) -> list[Delivery]:
    """A rule an event matched: counted (``TriggeredRules``); its targets, to deliver to."""
    _count(account, region, rule.name, "TriggeredRules")
    return [Delivery(rule.name, t["Arn"], t.get("RoleArn")) for t in rule.targets]


def put(
    source: str, detail_type: str, detail: dict, *, account: str, region: str, resources: Iterable[str] = ()
) -> dict:
    """A service's event on the default bus: delivered to the matching rules' targets in the background."""
    event = make_event(source, detail_type, detail, account=account, region=region, resources=resources)
    deliveries = [d for rule in matching(event, account, region) for d in triggered(rule, account, region)]
    if deliveries:
        start_in_background(deliveries, account, region, f"{detail_type} ({source})")
    return event


def start_in_background(deliveries: list[Delivery], account: str, region: str, why: str) -> None:
    thread = threading.Thread(
        target=_start_all, args=(deliveries, account, region, why), name="eventbridge-delivery", daemon=True
    )
    thread.start()


def _start_all(deliveries: list[Delivery], account: str, region: str, why: str) -> None:
    for delivery in deliveries:
        try:
            start(delivery, account, region)
            _count(account, region, delivery.rule_name, "Invocations")
        except Exception as exc:  # a failed invocation: EventBridge counts it and moves on
            _count(account, region, delivery.rule_name, "FailedInvocations")
            log.warning(
                "EventBridge rule %s could not start %s on %s: %s",
                delivery.rule_name,
                delivery.target_arn,
                why,
                exc,
            )


def _count(account: str, region: str, rule_name: str, metric: str) -> None:
    """EventBridge's per-rule metric (namespace AWS/Events, dimension RuleName), as a person reads it with
    aws cloudwatch get-metric-statistics."""
    from moto.cloudwatch.models import cloudwatch_backends

    cloudwatch_backends[account][region].put_metric_data(
        "AWS/Events",
        [
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "RuleName", "Value": rule_name}],
                "Value": 1.0,
                "Unit": "Count",  # no Timestamp: moto stamps it now, as it stamps a PutMetricData without one
            }
        ],
    )


def rule_arn(account: str, region: str, rule_name: str) -> str:
    return f"arn:aws:events:{region}:{account}:rule/{rule_name}"


def start(delivery: Delivery, account: str, region: str) -> str | None:
    """Start one target as EventBridge does: as the target's role, which must trust events.amazonaws.com and may
    start the pipeline; the execution's trigger is the rule (``CloudWatchEvent``). Returns the execution id (None
    for targets not run locally); raises AssumeRoleFailed or AccessDenied as the invocation fails."""
    from moto.codepipeline.models import codepipeline_backends

    from smbundle.local.codepipeline import executions
    from smbundle.local.iam import enforcement, principals

    if delivery.service != "codepipeline":
        log.warning(
            "EventBridge target %s of rule %s is not delivered locally",
            delivery.target_arn,
            delivery.rule_name,
        )
        return None
    if not executions.settings.endpoint_url:
        log.warning(
            "EventBridge rule %s matched, but no embedded AWS server runs to start its target",
            delivery.rule_name,
        )
        return None
    if delivery.role_arn is None:
        raise principals.AssumeRoleFailed(f"the target {delivery.target_arn} has no RoleArn")
    found = principals.role(delivery.role_arn)
    if found is None or not principals.trusts(found.assume_role_policy_document, "events.amazonaws.com"):
        raise principals.AssumeRoleFailed(
            f"events.amazonaws.com cannot assume role {delivery.role_arn}: it does not exist or does not trust "
            "events.amazonaws.com"
        )
    enforcement.authorize(
        principals.Principal(delivery.role_arn, "events"),
        "codepipeline:StartPipelineExecution",
        delivery.target_arn,
        None,
        region,
    )
    backend = codepipeline_backends[account][region]
    trigger = {
        "triggerType": "CloudWatchEvent",
        "triggerDetail": rule_arn(account, region, delivery.rule_name),
    }
    execution_id = executions.start(backend, delivery.resource_name, trigger=trigger)
    log.info("EventBridge rule %s started %s (%s)", delivery.rule_name, delivery.resource_name, execution_id)
    return execution_id
