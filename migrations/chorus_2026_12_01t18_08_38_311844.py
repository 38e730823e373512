import asyncio
import sqlite3

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.constraints import Unique

ID = "2026-12-01T18:08:38:311844"
VERSION = "1.38.0"
DESCRIPTION = (
    "Real keys instead of formatted strings: the *_key columns (\"<case>:<user>\" and the like, built "
    "by hand) give way to multi-column unique constraints (membership, complaint, evidence, "
    "evidence_chain, merchant_alias, merge_proposal) and partial unique indexes (one open case per "
    "merchant, one live filing per case and regulator)"
)

# Piccolo cannot declare a partial index: these two are this migration's own SQL. Their predicates
# are the app's: cases.service.OPEN and filings.status.ENDS as of this migration.
PARTIAL_INDEXES = (
    'CREATE UNIQUE INDEX IF NOT EXISTS group_case_open ON group_case ("merchant") '
    "WHERE status IN ('gathering', 'filing')",
    'CREATE UNIQUE INDEX IF NOT EXISTS filing_live ON filing ("case", "regulator") '
    "WHERE status NOT IN ('resolved', 'rejected', 'closed', 'failed', 'withdrawn')",
)
# (case, index) was a plain index for the chain's reads; evidence_chain_no_fork now serves them.
REDUNDANT_INDEX = "DROP INDEX IF EXISTS evidence_chain_case_index"


class _RealKeys(MigrationManager):
    """PostgreSQL: Piccolo drops the columns and adds the constraints, and the partial indexes
    are raw SQL, all in one transaction.

    SQLite can neither drop a UNIQUE column nor add a constraint to a table: there each table
    is rebuilt without its key column (the documented create-copy-drop-rename, on a connection
    of its own with foreign keys off, or dropping a parent table would cascade into its
    children), and each constraint is a unique index of the same name; all in one transaction."""

    async def run(self, backwards: bool = False) -> None:
        from chorus import db

        if backwards:
            # The old keys were derived data, but rebuilding them (and their UNIQUE columns on
            # SQLite) is not worth a code path nobody runs: restore the backup taken before.
            raise NotImplementedError(f"migration {ID} cannot be reversed; restore a backup instead")
        if not db.is_sqlite():
            await super().run()
            return
        drops = [(d.tablename, d.db_column_name) for d in self.drop_columns.drop_columns]
        uniques = [
            (c.constraint._meta.name, c.tablename, list(c.constraint._meta.params["columns"]))
            for c in self.add_constraints.add_constraints
        ]
        self.drop_columns.drop_columns.clear()
        self.add_constraints.add_constraints.clear()
        self.raw.clear()
        self.wrap_in_transaction = False  # the rebuild holds the database on its own connection
        if not self.preview:
            await asyncio.to_thread(_sqlite_forwards, db.engine().path, drops, uniques)
        await super().run()


async def _postgres_raw() -> None:
    from chorus import db

    for sql in (*PARTIAL_INDEXES, REDUNDANT_INDEX):
        await db.engine().run_ddl(sql)


def _sqlite_forwards(
    path: str, drops: list[tuple[str, str]], uniques: list[tuple[str, str, list[str]]]
) -> None:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = OFF")  # only outside a transaction does it take effect
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table, column in drops:
                _sqlite_drop_column(conn, table, column)
            for name, table, columns in uniques:
                quoted = ", ".join(f'"{c}"' for c in columns)
                conn.execute(f'CREATE UNIQUE INDEX IF NOT EXISTS "{name}" ON "{table}" ({quoted})')
            for sql in (*PARTIAL_INDEXES, REDUNDANT_INDEX):
                conn.execute(sql)
            broken = conn.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"foreign keys broken by the rebuild: {broken[:5]}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()


def _sqlite_drop_column(conn: sqlite3.Connection, table: str, column: str) -> None:
    columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]
    if column not in columns:
        return  # already gone
    (create,) = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    head, _, body = create.partition("(")
    definitions = _split_top_level(body[: body.rindex(")")])
    kept = [d for d in definitions if not d.strip().startswith(f'"{column}"')]
    if len(kept) != len(definitions) - 1:
        raise RuntimeError(f"cannot find the definition of {table}.{column} in {create!r}")
    others = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND tbl_name = ? AND sql IS NOT NULL",
        (table,),
    ).fetchall()
    if any(f'"{column}"' in sql or f" {column}" in sql for (sql,) in others):
        raise RuntimeError(f"an index or trigger of {table} uses {column}")
    rebuilt = f"{table}__rebuild"
    conn.execute(f'CREATE TABLE "{rebuilt}" ({", ".join(d.strip() for d in kept)})')
    names = ", ".join(f'"{c}"' for c in columns if c != column)
    conn.execute(f'INSERT INTO "{rebuilt}" ({names}) SELECT {names} FROM "{table}"')
    conn.execute(f'DROP TABLE "{table}"')
    conn.execute(f'ALTER TABLE "{rebuilt}" RENAME TO "{table}"')
    for (sql,) in others:
        conn.execute(sql)


def _split_top_level(body: str) -> list[str]:
    """The comma-separated parts of a CREATE TABLE body, not splitting inside parentheses or
    quotes (``NUMERIC(14, 3)``, ``DEFAULT 'a, b'``)."""
    parts: list[str] = []
    depth, quote, start = 0, "", 0
    for i, ch in enumerate(body):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"`[":
            quote = "]" if ch == "[" else ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    return parts


async def forwards():
    manager = _RealKeys(migration_id=ID, app_name="chorus", description=DESCRIPTION)
    manager.add_raw(_postgres_raw)

    manager.drop_column(
        table_class_name="MerchantAlias",
        tablename="merchant_alias",
        column_name="unique_key",
        db_column_name="unique_key",
        schema=None,
    )

    manager.drop_column(
        table_class_name="MergeProposal",
        tablename="merge_proposal",
        column_name="pair_key",
        db_column_name="pair_key",
        schema=None,
    )

    manager.drop_column(
        table_class_name="Case",
        tablename="group_case",
        column_name="open_key",
        db_column_name="open_key",
        schema=None,
    )

    manager.drop_column(
        table_class_name="Membership",
        tablename="membership",
        column_name="unique_key",
        db_column_name="unique_key",
        schema=None,
    )

    manager.drop_column(
        table_class_name="ChainLink",
        tablename="evidence_chain",
        column_name="unique_key",
        db_column_name="unique_key",
        schema=None,
    )

    manager.drop_column(
        table_class_name="Evidence",
        tablename="evidence",
        column_name="unique_key",
        db_column_name="unique_key",
        schema=None,
    )

    manager.drop_column(
        table_class_name="Complaint",
        tablename="complaint",
        column_name="unique_key",
        db_column_name="unique_key",
        schema=None,
    )

    manager.drop_column(
        table_class_name="Filing",
        tablename="filing",
        column_name="active_key",
        db_column_name="active_key",
        schema=None,
    )

    manager.add_constraint(
        table_class_name="MerchantAlias",
        tablename="merchant_alias",
        constraint_name="merchant_alias_once",
        constraint_class=Unique,
        params={"columns": ["merchant", "name_key"], "nulls_distinct": True},
        schema=None,
    )

    manager.add_constraint(
        table_class_name="MergeProposal",
        tablename="merge_proposal",
        constraint_name="merge_proposal_pair",
        constraint_class=Unique,
        params={"columns": ["merchant_a", "merchant_b"], "nulls_distinct": True},
        schema=None,
    )

    manager.add_constraint(
        table_class_name="Membership",
        tablename="membership",
        constraint_name="membership_once",
        constraint_class=Unique,
        params={"columns": ["case", "user"], "nulls_distinct": True},
        schema=None,
    )

    manager.add_constraint(
        table_class_name="ChainLink",
        tablename="evidence_chain",
        constraint_name="evidence_chain_no_fork",
        constraint_class=Unique,
        params={"columns": ["case", "index"], "nulls_distinct": True},
        schema=None,
    )

    manager.add_constraint(
        table_class_name="Evidence",
        tablename="evidence",
        constraint_name="evidence_once",
        constraint_class=Unique,
        params={"columns": ["case", "uploader", "sha256"], "nulls_distinct": True},
        schema=None,
    )

    manager.add_constraint(
        table_class_name="Complaint",
        tablename="complaint",
        constraint_name="complaint_version_once",
        constraint_class=Unique,
        params={"columns": ["case", "regulator", "version"], "nulls_distinct": True},
        schema=None,
    )

    return manager
