// Expand an iCalendar file with Mozilla's ical.js, the parser Thunderbird uses.
//
// Usage: node expand.mjs FILE.ics [FROM] [TO]
//   FROM/TO: UTC bounds of the window, e.g. 2026-01-01T00:00:00Z (default 2000 to 2100).
// Prints JSON [{uid, start, end}] (UTC, "YYYY-MM-DDTHH:MM:SSZ") of every occurrence that
// overlaps the window, sorted by start then uid. EXDATEs are honoured by ical.js's
// expansion and RECURRENCE-ID overrides are related to their series by UID.
// Exits non-zero if a timed DTSTART/DTEND is floating or names a TZID the file does not
// define, so a missing or broken VTIMEZONE cannot pass unnoticed.
import { readFileSync } from 'node:fs';
import ICAL from 'ical.js';

const [file, from = '2000-01-01T00:00:00Z', to = '2100-01-01T00:00:00Z'] = process.argv.slice(2);
if (!file) {
  console.error('usage: node expand.mjs FILE.ics [FROM] [TO]');
  process.exit(2);
}
const windowStart = ICAL.Time.fromDateTimeString(from);
const windowEnd = ICAL.Time.fromDateTimeString(to);

const root = new ICAL.Component(ICAL.parse(readFileSync(file, 'utf8')));
const components = root.getAllSubcomponents('vevent');

// Relate overrides to their series by UID: by default ICAL.Event relates every
// RECURRENCE-ID component in the calendar to every series.
const isOverride = (component) => component.hasProperty('recurrence-id');
const uidOf = (component) => component.getFirstPropertyValue('uid');
const masterUids = new Set(components.filter((c) => !isOverride(c)).map(uidOf));

const utc = (time) => {
  if (!time.isDate && time.zone === ICAL.Timezone.localTimezone) {
    throw new Error(`floating or undefined time zone: ${time.toString()}`);
  }
  return time.convertToZone(ICAL.Timezone.utcTimezone).toString();
};
const occurrences = [];
const add = (uid, start, end) => {
  if (start.compare(windowEnd) < 0 && end.compare(windowStart) > 0) {
    occurrences.push({ uid, start: utc(start), end: utc(end) });
  }
};

for (const component of components) {
  const uid = uidOf(component);
  if (isOverride(component)) {
    if (!masterUids.has(uid)) {
      const orphan = new ICAL.Event(component);
      add(uid, orphan.startDate, orphan.endDate);
    }
    continue; // otherwise reported through its series
  }
  const exceptions = components.filter((c) => isOverride(c) && uidOf(c) === uid);
  const event = new ICAL.Event(component, { strictExceptions: true, exceptions });
  if (!event.isRecurring()) {
    add(uid, event.startDate, event.endDate);
    continue;
  }
  const iterator = event.iterator();
  for (let next = iterator.next(); next && next.compare(windowEnd) < 0; next = iterator.next()) {
    const details = event.getOccurrenceDetails(next);
    add(uid, details.startDate, details.endDate);
  }
}

occurrences.sort((a, b) => a.start.localeCompare(b.start) || a.uid.localeCompare(b.uid));
console.log(JSON.stringify(occurrences));
