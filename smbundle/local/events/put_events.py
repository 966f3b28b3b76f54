"""PutEvents as EventBridge answers it: events of your own reach the rules they match, and an event that claims to come
from an AWS service is refused.

- An entry whose ``Source`` starts with ``aws.`` is reserved for AWS's own services: it fails with
  ``NotAuthorizedForSourceException`` ("Not authorized for the source."), counted in ``FailedEntryCount``, as
  EventBridge answers it. (The services' own events come from the services: SageMaker, CodeCommit... send them here
  themselves.)
- A matching rule's CodePipeline targets are started as the target's role (``bus``); moto's other target kinds
  (SQS, CloudWatch Logs, event buses) are delivered by moto, as before. moto itself cannot start a CodePipeline and
  failed the whole call.
"""

from __future__ import annotations

import copy

from moto.events.models import EventsBackend, Rule

from smbundle.local.events import bus

RESERVED_PREFIX = "aws."
_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    original_put, original_send = EventsBackend.put_events, Rule.send_to_targets

    def put_events(self, events):
        mine = [e for e in events if not str(e.get("Source") or "").startswith(RESERVED_PREFIX)]
        answered = iter(original_put(self, mine) if mine else [])
        return [
            {"ErrorCode": "NotAuthorizedForSourceException", "ErrorMessage": "Not authorized for the source."}
            if str(e.get("Source") or "").startswith(RESERVED_PREFIX)
            else next(answered)
            for e in events
        ]

    def send_to_targets(self, original_event, transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        pipelines = [t for t in self.targets if ":codepipeline:" in str(t.get("Arn"))]
        triggered = bus.triggered(self, self.account_id, self.region_name)
        deliveries = [d for d in triggered if d.service == "codepipeline"]
        if deliveries:
            bus.start_in_background(deliveries, self.account_id, self.region_name, "PutEvents")
        others = [t for t in self.targets if t not in pipelines]
        if others:
            rule = copy.copy(self)
            rule.targets = others
            original_send(rule, original_event, transform_input)

    EventsBackend.put_events = put_events
    Rule.send_to_targets = send_to_targets
    _applied = True
