"""EventBridge schedule rules that fire: a rule with a ``ScheduleExpression`` starts its targets on time.

moto stores schedule rules and checks their syntax; nothing fires them. Here a thread of the embedded AWS wakes at
each enabled schedule rule's next time (UTC) and delivers the rule's "Scheduled Event" to its targets (``bus``), as
EventBridge does; a new, changed or re-enabled rule is picked up at once.

The expressions, as EventBridge defines them: ``rate(N minute|minutes|hour|hours|day|days)`` (the first firing one
period after the rule is created) and ``cron(minutes hours day-of-month month day-of-week year)`` with numbers,
lists, ranges, ``*``, ``?`` and ``/`` steps (day-of-week 1-7 or SUN-SAT). The cron forms EventBridge has and this
scheduler does not (``L``, ``W``, ``#``) are logged as not scheduled locally: such a rule never fires here.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import UTC, datetime, timedelta

from moto.events.models import EventsBackend, events_backends

from smbundle.local.events import bus
from smbundle.local.events.delivery import make_event

log = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\(([^)]*)\)$")
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
_FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2199))

_lock = threading.Lock()
_wake = threading.Event()
_thread: threading.Thread | None = None
_anchors: dict[str, datetime] = {}  # rule ARN -> when a rate schedule started counting
_last_fired: dict[str, datetime] = {}
_applied = False


class NotScheduledLocally(Exception):
    """A valid EventBridge expression this scheduler cannot run."""


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    if field in ("*", "?"):
        return set(range(low, high + 1))
    values: set[int] = set()
    for part in field.split(","):
        base, _, step = part.partition("/")
        if names:
            for name, number in names.items():
                base = base.upper().replace(name, str(number))
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = int(first), int(last)
        elif base.isdigit():
            start = int(base)
            end = high if step else start
        else:
            raise NotScheduledLocally(f"cron field {field!r}")
        values.update(range(start, end + 1, int(step) if step else 1))
    return values


def cron_fields(expression: str) -> list[set[int]]:
    match = _CRON.match(expression)
    fields = match[1].split() if match else []
    if len(fields) != 6:
        raise NotScheduledLocally(expression)
    names = (None, None, None, _MONTHS, _DAYS, None)
    return [_values(f, lo, hi, n) for f, (lo, hi), n in zip(fields, _FIELDS, names, strict=True)]


def next_time(expression: str, after: datetime, anchor: datetime) -> datetime:
    """The first firing strictly after ``after`` (``anchor``: when a rate schedule started)."""
    rate = _RATE.match(expression)
    if rate:
        unit = rate[2].rstrip("s")
        period = timedelta(**{f"{unit}s": int(rate[1])})
        periods = int((after - anchor) / period) + 1
        return anchor + periods * period
    minutes, hours, days, months, weekdays, years = cron_fields(expression)
    moment = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    limit = after + timedelta(days=366 * 5)
    while moment < limit:
        weekday = (moment.isoweekday() % 7) + 1  # EventBridge: 1 = Sunday
        if moment.year not in years or moment.month not in months:
            moment = (moment.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
        elif moment.day not in days or weekday not in weekdays:
            moment = moment.replace(hour=0, minute=0) + timedelta(days=1)
        elif moment.hour not in hours:
            moment = moment.replace(minute=0) + timedelta(hours=1)
        elif moment.minute not in minutes:
            moment += timedelta(minutes=1)
        else:
            return moment
    raise NotScheduledLocally(f"{expression} does not fire in the next five years")


def _schedule_rules() -> list:
    rules = []
    for account in list(events_backends.keys()):
        for region in list(events_backends[account].keys()):
            for event_bus in list(events_backends[account][region].event_buses.values()):
                rules.extend(r for r in event_bus.rules.values() if r.scheduled_expression)
    return rules


def due(now: datetime) -> tuple[list, datetime | None]:
    """The enabled schedule rules whose time has come by ``now``, and the next time any fires."""
    ready, upcoming = [], None
    with _lock:
        for rule in _schedule_rules():
            anchor = _anchors.setdefault(rule.arn, now)
            if rule.state != "ENABLED":
                continue
            last = _last_fired.setdefault(rule.arn, anchor)
            try:
                moment = next_time(rule.scheduled_expression, last, anchor)
            except NotScheduledLocally as reason:
                log.warning("schedule rule %s is not scheduled locally: %s", rule.name, reason)
                _last_fired[rule.arn] = datetime.max.replace(tzinfo=UTC)
                continue
            if moment <= now:
                ready.append(rule)
                _last_fired[rule.arn] = now
                moment = next_time(rule.scheduled_expression, now, anchor)
            upcoming = moment if upcoming is None else min(upcoming, moment)
    return ready, upcoming


def fire(rule) -> None:
    """The rule's Scheduled Event, to the rule's own targets."""
    make_event(
        "aws.events",
        "Scheduled Event",
        {},
        account=rule.account_id,
        region=rule.region_name,
        resources=[rule.arn],
    )
    deliveries = bus.triggered(rule, rule.account_id, rule.region_name)
    bus.start_in_background(
        deliveries, rule.account_id, rule.region_name, f"schedule {rule.scheduled_expression}"
    )


def _loop() -> None:
    while True:
        try:
            ready, upcoming = due(datetime.now(UTC))
            for rule in ready:
                fire(rule)
        except Exception:  # the scheduler keeps running whatever one rule does
            log.exception("EventBridge schedule run failed")
            upcoming = None
        wait = (
            60.0 if upcoming is None else max(0.0, min(60.0, (upcoming - datetime.now(UTC)).total_seconds()))
        )
        _wake.wait(wait)
        _wake.clear()


def _start() -> None:
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_loop, name="eventbridge-scheduler", daemon=True)
            _thread.start()
    _wake.set()


def reset() -> None:
    """Forget when schedules started (a new embedded account starts counting afresh)."""
    with _lock:
        _anchors.clear()
        _last_fired.clear()


def apply() -> None:
    global _applied
    if _applied:
        return
    original_put, original_enable = EventsBackend.put_rule, EventsBackend.enable_rule

    def put_rule(self, name, *args, **kwargs):
        rule = original_put(self, name, *args, **kwargs)
        with _lock:
            _last_fired.pop(rule.arn, None)
        if rule.scheduled_expression:
            _start()
        return rule

    def enable_rule(self, *args, **kwargs):
        result = original_enable(self, *args, **kwargs)
        _wake.set()
        return result

    EventsBackend.put_rule = put_rule
    EventsBackend.enable_rule = enable_rule
    _applied = True
