"""Send windows: the days and hours a flow may send in, in the person's time zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any


def zone(name: str | None, fallback: str) -> zoneinfo.ZoneInfo:
    for candidate in (name, fallback, "UTC"):
        if not candidate:
            continue
        try:
            return zoneinfo.ZoneInfo(candidate)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
    return zoneinfo.ZoneInfo("UTC")


def next_opening(window: dict[str, Any] | None, now: float, tz: zoneinfo.ZoneInfo) -> float | None:
    """``None`` when sending is allowed at ``now``; else the timestamp it opens next."""
    if not window or not window.get("days"):
        return None
    start = _minutes(window["start"])
    end = _minutes(window["end"])
    local = dt.datetime.fromtimestamp(now, tz)
    for day_offset in range(8):
        day = (local + dt.timedelta(days=day_offset)).date()
        if day.weekday() not in window["days"]:
            continue
        opens = dt.datetime.combine(day, dt.time(start // 60, start % 60), tz)
        closes = dt.datetime.combine(day, dt.time(0), tz) + dt.timedelta(minutes=end)
        if day_offset == 0 and opens <= local < closes:
            return None
        if opens > local:
            return opens.timestamp()
    return None


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)
