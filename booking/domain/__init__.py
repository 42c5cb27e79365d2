"""The pure booking domain: time slots and overlap, recurrence, holidays, rules, conflicts.

Imports neither Flask nor the database; besides the standard library, ``dateutil`` and
``holidays`` it uses only ``booking.domain.*`` and the pure ``pricing`` package.
"""
