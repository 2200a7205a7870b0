"""Emptying the database after each test, as cheaply as the data it left allows.

TRUNCATE of every table costs PostgreSQL a new file per table and index: about 0.1-0.2 s, paid by every test
whether it wrote one row or none. Deleting the few rows a test leaves costs a few milliseconds, so on
PostgreSQL the tables are emptied with DELETE and their sequences restarted, which leaves the database as
TRUNCATE … RESTART IDENTITY did. Row-level security shows each workspace's rows to that workspace only, so
they are deleted one workspace at a time, then the shared tables. When a test left much data, or when the
schema no longer guarantees that this reaches every row, everything is truncated as before.
"""

from __future__ import annotations

from sqlalchemy import Engine, MetaData, text

# Above this many bytes of table data, row-by-row deletion costs more than truncating.
LARGE_BYTES = 4 * 1024 * 1024

_RLS_TABLES = text("SELECT relname FROM pg_class WHERE relrowsecurity AND relkind = 'r' "
                   "AND relnamespace = to_regnamespace(current_schema()) AND relname = ANY(:names)")
# Foreign keys that delete the row with its parent, on columns that can't be empty (so every row has a parent).
_CASCADES = text("SELECT k.conrelid::regclass::text, k.confrelid::regclass::text FROM pg_constraint k "
                 "WHERE k.contype = 'f' AND k.confdeltype = 'c' AND NOT EXISTS (SELECT FROM pg_attribute a "
                 "WHERE a.attrelid = k.conrelid AND a.attnum = ANY(k.conkey) AND NOT a.attnotnull)")
_OWNED_SEQUENCES = text("SELECT s.oid::regclass::text, q.seqstart FROM pg_class t "
                        "JOIN pg_depend d ON d.refobjid = t.oid AND d.classid = 'pg_class'::regclass "
                        "AND d.deptype IN ('a', 'i') JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
                        "JOIN pg_sequence q ON q.seqrelid = s.oid "
                        "WHERE t.relnamespace = to_regnamespace(current_schema()) AND t.relname = ANY(:names)")

_plans: dict[str, str] = {}


def empty_database(engine: Engine, metadata: MetaData) -> None:
    tables = list(reversed(metadata.sorted_tables))  # children first
    with engine.begin() as conn:
        if conn.dialect.name != "postgresql":
            for table in tables:
                conn.execute(table.delete())
            return
        key = engine.url.render_as_string()
        if key not in _plans:
            _plans[key] = _postgresql_plan(conn, tables)
        conn.exec_driver_sql(_plans[key])


def _postgresql_plan(conn, tables) -> str:
    quote = conn.dialect.identifier_preparer.quote
    names = [t.name for t in tables]
    truncate = f"TRUNCATE {', '.join(quote(n) for n in names)} RESTART IDENTITY CASCADE"
    rls = set(conn.scalars(_RLS_TABLES, {"names": names}))
    workspaces = {fk.column.table.name for t in tables if t.name in rls and "org_id" in t.c
                  for fk in t.c.org_id.foreign_keys if len(fk.constraint.columns) == 1}
    if not rls or len(workspaces) != 1 or rls - _reached_by_cascades(conn, set(names) - rls):
        return truncate  # some workspace row might outlive its workspace: only TRUNCATE is sure to reach it
    sequences = conn.execute(_OWNED_SEQUENCES, {"names": names}).all()
    regclasses = ", ".join(f"'{quote(n)}'::regclass" for n in names)
    restart = ", ".join(f"('{seq}'::regclass, {start})" for seq, start in sequences)
    if restart:  # as RESTART IDENTITY: the next row of every table gets the first id again
        restart = (f"PERFORM setval(seq, start_value, false) FROM (VALUES {restart}) AS owned(seq, start_value) "
                   "WHERE pg_sequence_last_value(seq) IS NOT NULL;")
    return f"""DO $cleanup$
DECLARE workspace bigint;
BEGIN
    IF (SELECT sum(pg_relation_size(t)) FROM unnest(ARRAY[{regclasses}]) AS t) > {LARGE_BYTES} THEN
        {truncate};
        RETURN;
    END IF;
    FOR workspace IN SELECT id FROM {quote(workspaces.pop())} LOOP
        PERFORM set_config('plixo.workspace', workspace::text, true);
        {_deletes(quote, [n for n in names if n in rls])}
    END LOOP;
    PERFORM set_config('plixo.workspace', '', true);
    {_deletes(quote, [n for n in names if n not in rls])}
    {restart}
END
$cleanup$"""  # noqa: S608 - every name comes from the models' metadata or the catalog, quoted


def _deletes(quote, names: list[str]) -> str:
    return " ".join(f"DELETE FROM {quote(name)};" for name in names)  # noqa: S608 - names of the models' tables


def _reached_by_cascades(conn, roots: set[str]) -> set[str]:
    """The tables whose every row is deleted, through ON DELETE CASCADE, once the `roots` tables are emptied."""
    cascades = conn.execute(_CASCADES).all()
    reached = set(roots)
    grown = True
    while grown:
        grown = False
        for child, parent in cascades:
            if parent in reached and child not in reached:
                reached.add(child)
                grown = True
    return reached
