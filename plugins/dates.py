"""Dates: the "date reached" trigger — birthdays, anniversaries, renewal dates.

It fires on time rather than on an event: the engine hands it each window of time
``(start, end]`` it scans (see "Triggers that fire on time" in docs/plugins/hooks.md).
The trigger works out which calendar dates have their moment — the date moved by
the offset, at the time of day — inside the window, and asks the CRM for the
persons on exactly those dates (``persons_on_dates``), so a scan costs the persons
due, never all persons.  Each event names its occasion (``birth_date:2026-12-10``),
so nobody is enrolled twice for one date however often a window is scanned.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import zoneinfo
from typing import Any

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate

from superflow import CrmError
from superflow import Event
from superflow import Services
from superflow import Trigger
from superflow import field_name_problem
from superflow import hookimpl
from superflow import zone

log = logging.getLogger(__name__)

EVENT_TYPE = "date.reached"
MAX_WINDOW_DAYS = 366
# UTC offsets of the world's time zones lie within these bounds.
EARLIEST_OFFSET = dt.timedelta(hours=-12)
LATEST_OFFSET = dt.timedelta(hours=14)


def _valid_zone(name: str) -> None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {name!r}") from None


class DateReachedSettings(Schema):
    field = fields.String(
        load_default="birth_date",
        metadata={
            "label": "Date field",
            "help": "Birth date, or another date field of the person",
            "widget": "crm_field",
            "choices_from": "date_fields",
        },
    )
    yearly = fields.Boolean(
        load_default=True,
        metadata={
            "label": "Every year",
            "help": "Yes: on the anniversary every year (birthdays); no: once, on the date itself",
        },
    )
    offset_days = fields.Integer(
        load_default=0,
        validate=validate.Range(min=-365, max=365),
        metadata={
            "label": "Days before or after",
            "help": "-3: three days before the date; 0: on the day; 2: two days after",
        },
    )
    time = fields.String(
        load_default="09:00",
        validate=validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="use HH:MM, e.g. 09:00"),
        metadata={"label": "Time of day", "help": "When on the day the person enters (HH:MM)"},
    )
    time_zone = fields.String(
        load_default="UTC",
        validate=_valid_zone,
        metadata={"label": "Time zone", "help": "Of the time of day; normally the flow's time zone"},
    )
    person_time_zone = fields.Boolean(
        load_default=True,
        metadata={
            "label": "In the person's time zone",
            "help": "Persons with a time zone in the CRM enter at the time of day in theirs",
        },
    )


class DateReached(Trigger):
    name = "date_reached"
    label = "Date reached"
    category = "Dates"
    description = "On (or some days before or after) a date of the person: a birthday, a renewal date."
    settings_schema = DateReachedSettings
    scans = True

    def sample_event(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The date reached: which field, the day it fell on and the field's value."""
        field = settings.get("field") or "birth_date"
        day = "2026-12-10"
        return {"occasion": f"{field}:{day}", "date": day, "field": field, "value": "1815-12-10"}

    def readiness(self, settings: dict[str, Any], flow: Any) -> list[str]:
        problems = []
        name_problem = field_name_problem(settings.get("field", "birth_date"))
        if name_problem:
            problems.append(name_problem)
        flow_zone = flow.doc.get("timezone") or "UTC"
        if "time_zone" not in settings and flow_zone != "UTC":
            problems.append(
                f"time_zone is required: the flow's time zone is {flow_zone!r}, and the time of day"
                " would otherwise be in UTC"
            )
        return problems

    def describe(self, settings: dict[str, Any]) -> str:
        field = settings.get("field", "birth_date")
        days = int(settings.get("offset_days", 0))
        when = (
            f"on {field}"
            if days == 0
            else f"{abs(days)} day{'s' if abs(days) != 1 else ''} {'before' if days < 0 else 'after'} {field}"
        )
        every = ", every year" if settings.get("yearly", True) else ""
        zone_name = settings.get("time_zone", "UTC")
        own = " or the person's own" if settings.get("person_time_zone", True) else ""
        return f"{when[0].upper()}{when[1:]}{every}, at {settings.get('time', '09:00')} ({zone_name}{own})"

    def matches(self, event: Any, settings: dict[str, Any], services: Services) -> bool:
        return False

    def scan(self, settings: dict[str, Any], services: Services, start: float, end: float) -> list[Event]:
        if end - start > MAX_WINDOW_DAYS * 86400:
            log.warning("date trigger: a window of %.0f days scanned as its last year", (end - start) / 86400)
            start = end - MAX_WINDOW_DAYS * 86400
        hours, minutes = (int(part) for part in settings["time"].split(":"))
        at = dt.time(hours, minutes)
        fallback = zoneinfo.ZoneInfo(settings["time_zone"])
        per_person = settings["person_time_zone"]
        fires = _fire_dates(start, end, at, fallback, any_zone=per_person)
        if not fires:
            return []
        offset = dt.timedelta(days=settings["offset_days"])
        targets = {fire - offset: fire for fire in fires}  # the field's date -> the day it fires
        yearly, field = settings["yearly"], settings["field"]
        try:
            found = services.crm.persons_on_dates(field, _asked(targets, yearly), yearly)
        except CrmError as exc:  # not a date field of the CRM: it will not fix itself
            log.error("date trigger: %s", exc)
            return []
        if not found:
            return []
        persons = services.crm.get_persons(list(found)) if per_person else {}
        events = []
        for person_id, value in found.items():
            for occurrence in _occurrences(value, targets, yearly):
                if per_person:
                    tz = zone((persons.get(str(person_id)) or {}).get("timezone"), settings["time_zone"])
                    moment = dt.datetime.combine(targets[occurrence], at, tz).timestamp()
                    if not start < moment <= end:
                        continue
                data = {
                    "occasion": f"{field}:{occurrence.isoformat()}",
                    "date": occurrence.isoformat(),
                    "field": field,
                    "value": value,
                }
                events.append(Event(EVENT_TYPE, str(person_id), data, source="date_reached"))
        return events


def _fire_dates(
    start: float, end: float, at: dt.time, tz: zoneinfo.ZoneInfo, any_zone: bool
) -> list[dt.date]:
    """The days whose time of day falls in ``(start, end]`` — in ``tz``, or, with
    ``any_zone``, in some time zone of the world (each person's is checked later)."""
    first = dt.datetime.fromtimestamp(start, dt.UTC).date() - dt.timedelta(days=2)
    last = dt.datetime.fromtimestamp(end, dt.UTC).date() + dt.timedelta(days=2)
    days = []
    day = first
    while day <= last:
        if any_zone:
            naive = dt.datetime.combine(day, at, dt.UTC)
            earliest, latest = naive - LATEST_OFFSET, naive - EARLIEST_OFFSET
            if earliest.timestamp() <= end and latest.timestamp() > start:
                days.append(day)
        elif start < dt.datetime.combine(day, at, tz).timestamp() <= end:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def _asked(targets: dict[dt.date, dt.date], yearly: bool) -> list[str]:
    """The dates to ask the CRM for; in a year without 29 February, those born on it
    have their birthday on the 28th."""
    asked = {day.isoformat() for day in targets}
    if yearly:
        asked |= {"2000-02-29" for day in targets if _is_feb_28_of_common_year(day)}
    return sorted(asked)


def _occurrences(value: Any, targets: dict[dt.date, dt.date], yearly: bool) -> list[dt.date]:
    """The dates among ``targets`` that are ``value``'s date (or, yearly, its anniversary)."""
    try:
        date = dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return []
    if not yearly:
        return [date] if date in targets else []
    leap_day = (date.month, date.day) == (2, 29)
    return [
        day
        for day in targets
        if (day.month, day.day) == (date.month, date.day) or (leap_day and _is_feb_28_of_common_year(day))
    ]


def _is_feb_28_of_common_year(day: dt.date) -> bool:
    return (day.month, day.day) == (2, 28) and not calendar.isleap(day.year)


@hookimpl
def superflow_register_triggers(register):
    register(DateReached())
