// Read an iCalendar file with Mozilla's ical.js and print what identifies each event.
//
// Usage: node components.mjs FILE.ics
// Prints JSON {method, events: [{uid, recurrenceId, sequence, status, start, end}]} with times in
// UTC ("YYYY-MM-DDTHH:MM:SSZ"); exits non-zero when the file does not parse or a timed
// DTSTART/DTEND is floating or names a TZID the file does not define.
import { readFileSync } from 'node:fs';
import ICAL from 'ical.js';

const [file] = process.argv.slice(2);
if (!file) {
  console.error('usage: node components.mjs FILE.ics');
  process.exit(2);
}
const root = new ICAL.Component(ICAL.parse(readFileSync(file, 'utf8')));
for (const zone of root.getAllSubcomponents('vtimezone')) {
  ICAL.TimezoneService.register(zone);
}
const utc = (time) => {
  if (!time) return null;
  if (!time.isDate && time.zone === ICAL.Timezone.localTimezone) {
    throw new Error(`floating or undefined time zone: ${time.toString()}`);
  }
  return time.convertToZone(ICAL.Timezone.utcTimezone).toString();
};
const events = root.getAllSubcomponents('vevent').map((component) => {
  const event = new ICAL.Event(component);
  return {
    uid: event.uid,
    recurrenceId: utc(event.recurrenceId),
    sequence: event.sequence,
    status: component.getFirstPropertyValue('status'),
    start: utc(event.startDate),
    end: utc(event.endDate),
  };
});
console.log(JSON.stringify({ method: root.getFirstPropertyValue('method'), events }));
