"""Reading iCalendar data defensively, into a calendar `expand` and `split_by_uid` trust.

Besides `parse_calendar`, the helpers `text`, `values` and `stable_text` are
shared with expansion and splitting: they read a component the same way.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

import icalendar

from calmesh.engine.recurrence.occurrence import CalendarDataError, zone_from_name


def parse_calendar(data: bytes | str) -> icalendar.Calendar:
    """Read iCalendar data into one calendar of its events and time zones.

    Raises `CalendarDataError` with a message naming the line when it can.
    Only what expansion reads is parsed (calendar properties, VTIMEZONEs and
    VEVENTs without their VALARMs): icalendar tolerates a broken property
    only inside a VEVENT, so a bad to-do or alarm would otherwise lose the
    whole file. Several VCALENDARs in one file are merged.

    The result is normalised for `expand` and `split_by_uid`, which expect a
    calendar from here: every event has a UID, every TZID means what this
    file says it means, and X-WR-TIMEZONE is an IANA name or absent.
    """
    text = _decode(data)
    wanted = _events_and_zones(text)
    try:
        # Clients such as Evolution and Lightning write "/vendor/Europe/Berlin";
        # icalendar resolves it by its Olson suffix, which is what we want,
        # and warns about the guess.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", icalendar.GloballyUniqueTZIDGuessed)
            calendars = icalendar.Calendar.from_ical(wanted, multiple=True)
        calendar = calendars[0]
        for other in calendars[1:]:
            calendar.subcomponents.extend(other.subcomponents)
        _normalise(calendar)
    except ValueError as exc:
        raise CalendarDataError(_describe(exc, text)) from exc
    except (KeyError, TypeError, IndexError, AttributeError) as exc:
        # icalendar's internals tripping over input (a VTIMEZONE with two
        # TZIDs): their message would mean nothing to the user.
        raise CalendarDataError("malformed iCalendar: the data could not be parsed") from exc
    except OSError as exc:
        # icalendar looks TZIDs up as file names: do not show the server's paths.
        raise CalendarDataError("malformed iCalendar: a TZID is not a time zone name") from exc
    return calendar


def _decode(data: bytes | str) -> str:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            # Older Windows exporters write cp1252; a wrong guess costs an accent.
            data = data.decode("cp1252", errors="replace")
    return data.removeprefix("\ufeff")


def _events_and_zones(text: str) -> str:
    """The text of each VCALENDAR's properties, VTIMEZONEs and VEVENTs.

    Checks on the way that every BEGIN is closed, so a truncated file gets a
    message with a line number. An END with the wrong name closes the open
    component anyway, as icalendar does: the corpus has an exporter writing
    END:VTOOD, and a typo there should not lose every event. Content outside
    any VCALENDAR is ignored.
    """
    lines = text.split("\n")
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.upper() != "BEGIN:VCALENDAR":
        if not first:
            raise CalendarDataError("not an iCalendar file: it is empty")
        if first.startswith("<"):
            raise CalendarDataError("not an iCalendar file: it looks like a web page")
        raise CalendarDataError("not an iCalendar file: missing BEGIN:VCALENDAR")
    kept: list[str] = []
    stack: list[tuple[str, int]] = []
    keep = False
    for number, line in enumerate(lines, start=1):
        if line[:1] in (" ", "\t"):  # a folded continuation of the previous line
            if keep:
                kept.append(line)
            continue
        upper = line.strip().upper()
        if upper.startswith("BEGIN:"):
            stack.append((upper[6:].strip(), number))
            keep = _is_kept([name for name, _ in stack])
        elif upper.startswith("END:"):
            if not stack:
                keep = False
                continue
            if _is_kept([name for name, _ in stack]):
                # Write the END the open component needs, whatever the file says.
                kept.append(f"END:{stack[-1][0]}")
            stack.pop()
            keep = _is_kept([name for name, _ in stack])
            continue
        if keep and upper:
            kept.append(line)
    if stack:
        name, opened_at = stack[-1]
        raise CalendarDataError(
            f"malformed iCalendar: BEGIN:{name} at line {opened_at} is never closed "
            "(the file may be cut off)"
        )
    return "\n".join(kept)


def _is_kept(path: list[str]) -> bool:
    if not path or path[0] != "VCALENDAR":
        return False
    return len(path) == 1 or path[1] == "VTIMEZONE" or path[1:] == ["VEVENT"]


def _describe(exc: Exception, text: str) -> str:
    """A one-line message, with the line number if the error quotes a line or value."""
    message = " ".join(str(exc).split())[:200] or type(exc).__name__
    quoted = re.findall(r"'([^']{3,})'", message) + re.findall(r"got: (\S+)", message)
    for needle in quoted:
        for number, line in enumerate(text.split("\n"), start=1):
            if needle in line:
                return f"malformed iCalendar at line {number}: {message}"
    return f"malformed iCalendar: {message}"


def _normalise(calendar: icalendar.Calendar) -> None:
    # The library would use id(component) for a missing UID, which changes on
    # every run; a hash of the content (DTSTAMP aside) does not.
    for event in calendar.walk("VEVENT"):
        if isinstance(event.get("UID"), list):
            # The library keys series by UID and cannot hash a repeated one.
            uid = text(event, "UID")
            event.pop("UID")
            event.add("UID", uid)
        if "UID" not in event:
            try:
                content = stable_text(event)
            except UNWRITABLE:
                content = repr(event).encode()
            event.add("UID", f"calmesh-{hashlib.sha256(content).hexdigest()[:32]}")
    _pin_custom_zones(calendar)
    if "X-WR-TIMEZONE" in calendar:
        # The library looks the name up with ZoneInfo and fails on a Windows
        # name or a typo; an unknown one falls back to default_tz.
        zone = zone_from_name(text(calendar, "X-WR-TIMEZONE"))
        calendar.pop("X-WR-TIMEZONE")
        if zone is not None:
            calendar.add("X-WR-TIMEZONE", zone.key)


_ZONED_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "RDATE", "EXDATE")


def _pin_custom_zones(calendar: icalendar.Calendar) -> None:
    """Make each custom TZID mean this file's own VTIMEZONE.

    icalendar caches a VTIMEZONE it cannot name (Outlook's "Customized Time
    Zone", "GMT Standard Time" with a definition) process-wide under its
    TZID, first definition wins. Another user's file with the same TZID, or
    one with no VTIMEZONE at all, would then silently get that definition.
    Zones from the IANA database are not affected and are left alone.
    """
    definitions: dict[str, icalendar.Timezone] = {}
    for vtimezone in calendar.walk("VTIMEZONE"):
        definitions.setdefault(text(vtimezone, "TZID"), vtimezone)
    zones: dict[str, tzinfo | None] = {}
    for event in calendar.walk("VEVENT"):
        for name in _ZONED_PROPERTIES:
            for prop in values(event.get(name)):
                if not isinstance(prop, (icalendar.vDDDTypes, icalendar.vDDDLists)):
                    continue  # a broken value: the library skips its series
                tzid = prop.params.get("TZID")
                if not tzid:
                    continue
                if tzid not in zones:
                    zones[tzid] = _own_zone(definitions.get(tzid)) or zone_from_name(tzid)
                for value in prop.dts:
                    value.dt = _rezone(value.dt, zones[tzid])


def _own_zone(vtimezone: icalendar.Timezone | None) -> tzinfo | None:
    if vtimezone is None:
        return None
    definition = vtimezone.copy(recursive=True)
    for observance in definition.subcomponents:
        # Outlook leaves TZNAME out; the zone's tzname() is then None, and
        # X-WR-TIMEZONE handling takes a None tzname for a floating time and
        # moves the event into the calendar's zone.
        if "TZNAME" not in observance:
            observance.add("TZNAME", text(vtimezone, "TZID"))
    try:
        return definition.to_tz(lookup_tzid=False)  # built afresh, never from the cache
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def _rezone(value: object, zone: tzinfo | None) -> object:
    """Put a datetime (or a period's) from a non-IANA zone into `zone`; None makes it floating."""
    if isinstance(value, tuple):
        return tuple(_rezone(part, zone) for part in value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value if isinstance(value.tzinfo, ZoneInfo) else value.replace(tzinfo=zone)
    return value


def values(prop: object) -> list:
    """A property's values: icalendar gives a list when a property repeats."""
    if prop is None:
        return []
    return prop if isinstance(prop, list) else [prop]


def stable_text(event: icalendar.Event) -> bytes:
    """The event as iCalendar without DTSTAMP or alarms.

    Exporters such as Google stamp every event with the download time, so
    DTSTAMP would change a content hash on every fetch without changing any
    occurrence; alarms do not change occurrences either.
    """
    stable = event.copy()  # properties only, no alarms
    stable.pop("DTSTAMP", None)
    return stable.to_ical()


# What icalendar raises for parsed values it cannot write back, such as an
# RDATE period that ends before it starts.
UNWRITABLE = (ValueError, TypeError)


def text(component: icalendar.Component, name: str) -> str:
    """A property's first value as text, "" when it is absent."""
    found = values(component.get(name))
    return str(found[0]) if found else ""
