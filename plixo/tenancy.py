"""Workspace isolation, enforced for every ORM query and flush rather than remembered per query.

A scope is set for each request (the signed-in user's workspace) and each job (the row's
workspace). Inside a scope every SELECT/UPDATE/DELETE touching a tenant table gets
`org_id = <scope>` added, and a flush refuses to write a row of another workspace. With no scope
at all, touching a tenant table raises: forgetting to scope fails loudly instead of leaking.
System code that must see every workspace says so explicitly with `unscoped()`, and even then reaches
only the few tables it needs across workspaces (SYSTEM_READABLE_TABLES: a sign-in finds the user's
memberships, an invite link its invite, a job its row); anything else is reached one workspace at a time.
Raw SQL text is not inspected and must filter by org_id itself.

On PostgreSQL the database enforces the same rule as a backstop: each transaction carries the scope in
the `plixo.workspace` setting, and a row-level security policy on every tenant table (see the
migrations) hides and refuses rows of other workspaces, whatever the shape of the statement.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar
from weakref import WeakKeyDictionary

from flask import abort
from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.sql.util import find_tables

from plixo.model import TenantMixin

ALL_WORKSPACES = object()
_scope: ContextVar[object] = ContextVar("plixo_tenant_scope", default=None)

T = TypeVar("T", bound=TenantMixin)


class TenantScopeError(RuntimeError):
    """Tenant data was touched outside a workspace scope, or across workspaces."""


def current_org_id() -> int | None:
    """The workspace the current code runs for, or None when unscoped/strict."""
    scope = _scope.get()
    return scope if isinstance(scope, int) else None


@contextmanager
def _scope_as(scope: object) -> Iterator[None]:
    token = _scope.set(scope)
    try:
        yield
    finally:
        _scope.reset(token)


def tenant_scope(org_id: int):
    """Run the block as workspace `org_id`: queries only see its rows."""
    return _scope_as(int(org_id))


def unscoped():
    """Run the block across all workspaces (system code only)."""
    return _scope_as(ALL_WORKSPACES)


def strict():
    """Run the block with no workspace: any tenant query raises."""
    return _scope_as(None)


def enter(scope: object):
    """Set the scope until `leave(token)`; for request hooks that cannot use a with-block."""
    return _scope.set(scope)


def leave(token) -> None:
    _scope.reset(token)


# Tenant tables system code may read across workspaces; their database policy lets an empty setting see every
# workspace. Every other tenant table's policy is a plain equality (see migration 5f1c2a7d9e30): keep both lists
# in step.
SYSTEM_READABLE_TABLES = frozenset({"memberships", "invites", "import_runs"})

_TENANT_TABLES: set = set()


def _tenant_tables() -> set:
    if not _TENANT_TABLES:
        from plixo.model import Base

        _TENANT_TABLES.update(m.local_table for m in Base.registry.mappers if issubclass(m.class_, TenantMixin))
    return _TENANT_TABLES


def _touches_tenant_table(state: ORMExecuteState) -> bool:
    """Whether the statement selects, joins or filters on a tenant table (not only its selected entities)."""
    if any(issubclass(m.class_, TenantMixin) for m in state.all_mappers):
        return True
    return not _tenant_tables().isdisjoint(_tables_of(state))


def _tables_of(state: ORMExecuteState) -> list:
    return find_tables(state.statement, include_joins=True, include_aliases=True, include_crud=True)


def _check_bulk_insert(state: ORMExecuteState, org_id: int) -> None:
    params = state.parameters
    rows = params if isinstance(params, list) else [params or {}]
    for row in rows:
        if row.get("org_id") != org_id:
            raise TenantScopeError("bulk insert of a row for another workspace")


WORKSPACE_SETTING = "plixo.workspace"


def _database_scope_value(scope: object) -> str:
    if scope is ALL_WORKSPACES:
        return ""
    return str(scope) if isinstance(scope, int) else "0"  # strict: no workspace's rows at all


def _sync_database_scope(session: Session, scope: object = None) -> None:
    """Tell PostgreSQL the current scope (or `scope`) for this transaction (once per change)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    connection = session.connection()
    wanted = _database_scope_value(_scope.get() if scope is None else scope)
    if wanted == "" and WORKSPACE_SETTING not in connection.info:
        return  # unset in this transaction already reads as empty: sign-in's lookups skip a round trip
    if connection.info.get(WORKSPACE_SETTING) != wanted:
        connection.exec_driver_sql("SELECT set_config('plixo.workspace', %(value)s, true)", {"value": wanted})
        connection.info[WORKSPACE_SETTING] = wanted


@event.listens_for(Session, "after_begin")
def _forget_database_scope(session: Session, transaction, connection) -> None:
    # set_config(..., true) lasts one transaction: a new one starts unset.
    connection.info.pop(WORKSPACE_SETTING, None)


_WORKSPACE_ONLY_TABLES: WeakKeyDictionary = WeakKeyDictionary()


def _workspace_only_tables(state: ORMExecuteState) -> frozenset[str]:
    """The workspace-only tables the statement touches (remembered per statement: sign-in asks on every request)."""
    found = _WORKSPACE_ONLY_TABLES.get(state.statement)
    if found is None:
        tables = {m.local_table for m in state.all_mappers if issubclass(m.class_, TenantMixin)}
        tables.update(t for t in _tables_of(state) if t in _tenant_tables())
        found = _WORKSPACE_ONLY_TABLES[state.statement] = frozenset(t.name for t in tables) - SYSTEM_READABLE_TABLES
    return found


def _refuse_workspace_tables(state: ORMExecuteState) -> None:
    """Across workspaces only the system-readable tables may be touched: the others are reached in a scope."""
    names = _workspace_only_tables(state)
    if names:
        raise TenantScopeError(f"{', '.join(sorted(names))} can only be used inside one workspace's scope")


def _sets_org_id(statement) -> bool:
    values = getattr(statement, "_values", None) or {}
    return any(getattr(key, "key", key) == "org_id" for key in values)


def _needs_database_scope(state: ORMExecuteState) -> bool:
    """False only for statements known to read no tenant table (users, organizations): they need no
    set_config round trip. Raw SQL, where the tables cannot be known, always gets one. In a workspace the
    answer is simply yes: the setting is sent once per transaction, which costs less than walking every
    statement's tree to find its tables."""
    return isinstance(_scope.get(), int) or _touches_tenant_table(state) or not _tables_of(state)


_OWN_WORKSPACE = "_plixo_workspace"


@event.listens_for(TenantMixin, "load", propagate=True)
def _remember_workspace_on_load(target, context) -> None:
    # Committing expires every attribute, org_id included: remember it, so a later refresh runs in the row's
    # own workspace even from system code (the database shows a workspace-only table to one workspace only).
    org_id = target.__dict__.get("org_id")
    if org_id is not None:
        setattr(target, _OWN_WORKSPACE, org_id)


def _scope_column_load(state: ORMExecuteState) -> None:
    """Refreshing an expired attribute re-reads a row this session already holds: in its own workspace (system
    code and sign-in hold rows of several), else in the current scope."""
    refreshed = state.load_options._refresh_state
    own = getattr(refreshed.obj(), _OWN_WORKSPACE, None) if refreshed is not None else None
    _sync_database_scope(state.session, own if own is not None else _scope.get())


@event.listens_for(Session, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    if state.is_column_load:
        _scope_column_load(state)
        return
    if _needs_database_scope(state):
        _sync_database_scope(state.session)
    scope = _scope.get()
    if scope is ALL_WORKSPACES:
        _refuse_workspace_tables(state)
        return
    if scope is None:
        if _touches_tenant_table(state):
            raise TenantScopeError("tenant table queried with no workspace scope")
        return
    if state.is_insert:
        if any(issubclass(m.class_, TenantMixin) for m in state.all_mappers):
            _check_bulk_insert(state, scope)
        return
    if state.is_update and _sets_org_id(state.statement):
        raise TenantScopeError("a row's workspace cannot be changed")
    # Always added: it filters every tenant entity wherever it appears (selected, joined, or in a subquery).
    state.statement = _in_workspace(state.statement, scope)


# A statement built once (module-level, with bindparam placeholders) is scoped once per workspace and then
# reused: a fresh copy per execution would make SQLAlchemy recompute its cache key, which costs more than
# running a small query. Entries die with their statement; each keeps the last few workspaces.
_SCOPED_STATEMENTS: WeakKeyDictionary = WeakKeyDictionary()
_WORKSPACES_PER_STATEMENT = 32


def _in_workspace(statement, org_id: int):
    """`statement` with every tenant entity filtered to `org_id`."""
    scoped = _SCOPED_STATEMENTS.get(statement)
    if scoped is None:
        scoped = _SCOPED_STATEMENTS[statement] = {}
    found = scoped.get(org_id)
    if found is None:
        if len(scoped) >= _WORKSPACES_PER_STATEMENT:
            scoped.clear()
        found = scoped[org_id] = statement.options(
            with_loader_criteria(TenantMixin, lambda cls: cls.org_id == org_id, include_aliases=True))
    return found


@event.listens_for(Session, "before_flush")
def _guard_flush(session: Session, flush_context, instances) -> None:
    _sync_database_scope(session)
    scope = _scope.get()
    for obj in session.new:
        if isinstance(obj, TenantMixin):
            if isinstance(scope, int) and obj.org_id is None:
                obj.org_id = scope
            _check_writable(obj, scope)
            setattr(obj, _OWN_WORKSPACE, obj.org_id)
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, TenantMixin):
            _check_writable(obj, scope)


def _check_writable(obj: TenantMixin, scope: object) -> None:
    if scope is ALL_WORKSPACES:
        if obj.__table__.name not in SYSTEM_READABLE_TABLES:
            raise TenantScopeError(f"{type(obj).__name__} can only be written inside its workspace's scope")
        if obj.org_id is None:
            raise TenantScopeError(f"{type(obj).__name__} has no workspace")
        return
    if scope is None:
        raise TenantScopeError(f"{type(obj).__name__} written with no workspace scope")
    if obj.org_id != scope:
        raise TenantScopeError(f"{type(obj).__name__} of another workspace written")


def get_or_404(session: Session, model: type[T], object_id: int, *options) -> T:
    """Load one row of the current workspace by id (with loader `options`), or 404 (never another workspace's)."""
    obj = session.execute(select(model).where(model.id == object_id).options(*options)).unique().scalar_one_or_none()
    if obj is None or obj.org_id != current_org_id():
        abort(404)
    return obj
