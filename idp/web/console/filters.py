"""The date filters of the console's logs: days typed as staff read their calendar (Beijing days)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement

from idp.staff.activity import BEIJING

__all__ = ["BEIJING", "within_days"]


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:  # a malformed day filters nothing rather than failing the page
        return None


def within_days(column: Any, since: str, until: str) -> list[ColumnElement[bool]]:
    """Conditions for `column` from the start of day `since` to the end of day `until` (either may be empty)."""
    conditions: list[ColumnElement[bool]] = []
    first, last = _day(since), _day(until)
    if first is not None:
        conditions.append(column >= datetime.combine(first, time(), BEIJING))
    if last is not None:
        conditions.append(column < datetime.combine(last + timedelta(days=1), time(), BEIJING))
    return conditions
