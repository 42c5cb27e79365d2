"""The audit log of every change: a session hook writes it, admins read it.

Who acts is set per request by the HTTP layer (``set_acting``, called where the caller is
resolved); outside a request (the command line, scripts) the actor is ``system`` and the origin
names the command. The hook runs after each flush, while the attribute history of the flushed
objects is still there:

* an insert records every column of the new row in ``after``;
* an update records the changed columns only, old values in ``before``, new in ``after``;
  many-to-many collections (a user's organisations and buildings, a room's parts) appear as
  sorted id lists;
* a delete records every column of the row in ``before``;
* a bulk ``update()`` or ``delete()`` through the session (e.g. revoking feed tokens) records
  each affected row, read before and after the statement.

Secrets never enter the log: password hashes, token hashes and feed token nonces show as
``"[redacted]"``. Derived and bookkeeping rows are not logged: occupancies (they follow their
booking), feed change markers, idempotency replies, the notification outbox, and the log itself.
The entries are written in the same transaction as the change, so a rolled-back change leaves
no entry and a committed one always has its entry.
"""

from __future__ import annotations

import contextvars
import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import JSON, String, bindparam, cast, event, insert, inspect, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import NO_VALUE

from booking.extensions import db
from booking.models.audit import AuditEntry
from booking.models.types import NEW_ID, json_around_new_id, text_around, utcnow
from booking.services.access import Actor, require_admin

REDACTED = "[redacted]"
SECRET_FIELDS = frozenset({"password_hash", "token_hash", "nonce"})
NOT_AUDITED = frozenset(
    {"audit_log", "occupancies", "feed_markers", "idempotency_keys", "outbox_events", "outbox_messages"}
)


@dataclass(frozen=True)
class Acting:
    user_id: int | None
    role: str
    origin: str


_acting: contextvars.ContextVar[Acting | None] = contextvars.ContextVar("booking_audit_acting", default=None)


def set_acting(actor: Actor, origin: str) -> None:
    """Record who acts in the current request (the HTTP layer calls this once it knows)."""
    _acting.set(Acting(actor.user_id, actor.role, origin[:300]))


def clear_acting() -> None:
    _acting.set(None)


def _current_acting() -> Acting:
    acting = _acting.get()
    if acting is not None:
        return acting
    from flask import has_request_context, request

    if has_request_context():
        return Acting(None, "anonymous", f"{request.method} {request.path}"[:300])
    import click

    context = click.get_current_context(silent=True)
    return Acting(None, "system", context.command_path[:300] if context else "")


# --- the hook --------------------------------------------------------------------------------


# Most column values are of these exact types and stored as they are: tested first, as every
# audit entry of an insert converts every column (bench peer, created: part of the entry's cost).
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


def _jsonable(value):
    if type(value) in _PLAIN_TYPES:
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return json.loads(json.dumps(value, default=str))


def _shown(key: str, value):
    return REDACTED if key in SECRET_FIELDS and value is not None else _jsonable(value)


def _audited(obj) -> bool:
    table = getattr(obj, "__tablename__", None)
    return table is not None and table not in NOT_AUDITED


def _entity_id(mapper, obj) -> str:
    return "/".join(str(v) for v in mapper.primary_key_from_instance(obj))


def _ids(objects) -> list:
    return sorted(inspect(o).identity[0] if inspect(o).identity else id(o) for o in objects)


def _full_state(obj) -> dict:
    state = inspect(obj)
    # Each column's loaded value, read from the instance's dict as ``AttributeState.loaded_value``
    # does, without building an AttributeState per column (every insert's entry reads them all).
    loaded = state.dict
    return {
        attr.key: _shown(attr.key, loaded.get(attr.key, NO_VALUE))
        for attr in state.mapper.column_attrs
        if loaded.get(attr.key, NO_VALUE) is not NO_VALUE
    }


def _changes(obj) -> tuple[dict, dict]:
    state = inspect(obj)
    before, after = {}, {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if not history.added and not history.deleted:
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old == new:
            continue
        before[attr.key], after[attr.key] = _shown(attr.key, old), _shown(attr.key, new)
    for rel in state.mapper.relationships:
        if rel.secondary is None or rel.viewonly:
            continue
        history = state.attrs[rel.key].history
        if not history.added and not history.deleted:
            continue
        before[rel.key] = _ids([*history.unchanged, *history.deleted])
        after[rel.key] = _ids([*history.unchanged, *history.added])
    return before, after


def _entry(acting: Acting, now: datetime, action: str, table: str, entity_id: str, before, after) -> dict:
    return {
        "at": now,
        "actor_user_id": acting.user_id,
        "actor_role": acting.role,
        "origin": acting.origin,
        "action": action,
        "entity": table,
        "entity_id": entity_id,
        "before": before,
        "after": after,
    }


_INSERT_ENTRIES = AuditEntry.__table__.insert()


def _after_flush(session: Session, flush_context) -> None:
    acting, now, entries = _current_acting(), utcnow(), []
    for obj in session.new:
        if _audited(obj):
            mapper = inspect(obj).mapper
            entries.append(
                _entry(
                    acting, now, "insert", obj.__tablename__, _entity_id(mapper, obj), None, _full_state(obj)
                )
            )
    for obj in session.dirty:
        if _audited(obj) and session.is_modified(obj, include_collections=True):
            before, after = _changes(obj)
            if before or after:
                mapper = inspect(obj).mapper
                entries.append(
                    _entry(acting, now, "update", obj.__tablename__, _entity_id(mapper, obj), before, after)
                )
    for obj in session.deleted:
        if _audited(obj):
            mapper = inspect(obj).mapper
            entries.append(
                _entry(
                    acting, now, "delete", obj.__tablename__, _entity_id(mapper, obj), _full_state(obj), None
                )
            )
    if entries:
        session.connection().execute(_INSERT_ENTRIES, entries)


def _bulk_statement(orm_execute_state):
    """Bulk ``update()``/``delete()`` of an audited entity: log each row it touches."""
    if not (orm_execute_state.is_update or orm_execute_state.is_delete):
        return None
    mapper = orm_execute_state.bind_mapper
    if mapper is None or mapper.local_table.name in NOT_AUDITED:
        return None
    statement = orm_execute_state.statement
    table = mapper.local_table
    session = orm_execute_state.session
    connection = session.connection()
    condition = statement.whereclause
    query = select(table) if condition is None else select(table).where(condition)
    before_rows = {
        tuple(row[c.name] for c in table.primary_key.columns): row
        for row in connection.execute(query).mappings()
    }
    result = orm_execute_state.invoke_statement()
    if not before_rows:
        return result
    acting, now, entries = _current_acting(), utcnow(), []
    keys = list(before_rows)
    pk = list(table.primary_key.columns)
    after_rows = {}
    if orm_execute_state.is_update:
        for row in connection.execute(select(table).where(pk[0].in_([k[0] for k in keys]))).mappings():
            after_rows[tuple(row[c.name] for c in pk)] = row
    columns = {attr.key: attr.columns[0].name for attr in mapper.column_attrs}
    for key in keys:
        old = before_rows[key]
        entity_id = "/".join(str(k) for k in key)
        if orm_execute_state.is_delete:
            entries.append(
                _entry(
                    acting,
                    now,
                    "delete",
                    table.name,
                    entity_id,
                    {a: _shown(a, old[c]) for a, c in columns.items()},
                    None,
                )
            )
            continue
        new = after_rows.get(key)
        if new is None:
            continue
        changed = [a for a, c in columns.items() if old[c] != new[c]]
        if changed:
            entries.append(
                _entry(
                    acting,
                    now,
                    "update",
                    table.name,
                    entity_id,
                    {a: _shown(a, old[columns[a]]) for a in changed},
                    {a: _shown(a, new[columns[a]]) for a in changed},
                )
            )
    if entries:
        connection.execute(AuditEntry.__table__.insert(), entries)
    return result


def install(session_target) -> None:
    """Listen on ``session_target`` (a Session class, sessionmaker or scoped_session); idempotent."""
    for name, listener in (("after_flush", _after_flush), ("do_orm_execute", _bulk_statement)):
        if not event.contains(session_target, name, listener):
            event.listen(session_target, name, listener)


def init_audit(app) -> None:
    """The hook on the app's session, and a clean actor at the start and end of every request."""
    install(db.session)
    app.before_request(clear_acting)
    app.teardown_request(lambda error: clear_acting())


def record(action: str, table: str, entity_id: str, before: dict | None, after: dict | None) -> None:
    """Log a change the hook cannot see, in its format: a statement on a table without a mapped
    class (removing a membership or a janitor's building is a DELETE on ``memberships`` or
    ``janitor_buildings``, whose row count decides the answer)."""

    def shown(values: dict | None) -> dict | None:
        return None if values is None else {key: _shown(key, value) for key, value in values.items()}

    entry = _entry(_current_acting(), utcnow(), action, table, entity_id, shown(before), shown(after))
    db.session.connection().execute(_INSERT_ENTRIES, [entry])


def inserted_entry(new_row, table: str):
    """PostgreSQL: the hook's entry for the row that the data-modifying CTE ``new_row`` (with an
    ``id`` column) inserts into ``table``, as a data-modifying CTE of the same statement; its
    parameters come from ``inserted_entry_parameters``."""
    entries = AuditEntry.__table__
    rows = select(
        bindparam("audit_at", type_=entries.c.at.type),
        bindparam("audit_actor_user_id", type_=entries.c.actor_user_id.type),
        bindparam("audit_actor_role", type_=entries.c.actor_role.type),
        bindparam("audit_origin", type_=entries.c.origin.type),
        literal("insert"),
        literal(table),
        cast(new_row.c.id, String),
        cast(literal("null"), JSON),  # as the JSON type stores None
        text_around("audit_after_head", new_row.c.id, "audit_after_tail"),
    )
    columns = [
        "at",
        "actor_user_id",
        "actor_role",
        "origin",
        "action",
        "entity",
        "entity_id",
        "before",
        "after",
    ]
    return insert(entries).from_select(columns, rows).cte(f"audited_{table}")


def inserted_entry_parameters(model, values: dict) -> dict:
    """The parameters of ``inserted_entry``: who acts, now, and ``after`` as the hook writes it
    for an insert of ``values`` (every column but the id that the insert sets) into ``model``'s
    table: the id first, then the columns in the mapper's order (``_full_state``)."""
    acting = _current_acting()
    after = {"id": NEW_ID}
    for attr in inspect(model).column_attrs:
        if attr.key in values:
            after[attr.key] = _shown(attr.key, values[attr.key])
    head, tail = json_around_new_id(after)
    return {
        "audit_at": utcnow(),
        "audit_actor_user_id": acting.user_id,
        "audit_actor_role": acting.role,
        "audit_origin": acting.origin,
        "audit_after_head": head,
        "audit_after_tail": tail,
    }


# --- reading ---------------------------------------------------------------------------------


def audit_entries(actor: Actor, filters: dict):
    """A select of the log for admins, newest first, narrowed by entity, id, action, actor and
    time (``from`` inclusive, ``to`` exclusive)."""
    require_admin(actor)
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    for key, column in (
        ("entity", AuditEntry.entity),
        ("entity_id", AuditEntry.entity_id),
        ("action", AuditEntry.action),
        ("actor_user_id", AuditEntry.actor_user_id),
    ):
        if filters.get(key) is not None:
            query = query.where(column == filters[key])
    if filters.get("from") is not None:
        query = query.where(AuditEntry.at >= filters["from"])
    if filters.get("to") is not None:
        query = query.where(AuditEntry.at < filters["to"])
    return query
