"""E-mail: rendering the outbox events and sending them (SPEC §12)."""
