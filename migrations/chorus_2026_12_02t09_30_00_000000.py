from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-02T09:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "PostgreSQL: chorus_join_hold(case), which holds a case for a joining report (FOR NO KEY UPDATE) "
    "and then, in a statement of its own and so with a snapshot taken once the case is held, counts its "
    "members: the report's member number in one round trip instead of two (issue 15 goal 2; "
    "chorus.cases.service._hold_case). SQLite's IMMEDIATE transactions serialize joins without it"
)

# A VOLATILE SQL function takes a new snapshot for each statement in it: the count sees every join
# committed by the reports that held the case before this one (a single statement's snapshot,
# taken before it waited for the lock, would not).
FUNCTION = """
CREATE OR REPLACE FUNCTION chorus_join_hold(held integer)
RETURNS TABLE (status varchar, members bigint)
LANGUAGE sql VOLATILE AS $$
    SELECT 1 FROM group_case WHERE id = held FOR NO KEY UPDATE;
    SELECT c.status, (SELECT count(*) FROM membership m WHERE m."case" = held)
    FROM group_case c WHERE c.id = held;
$$
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chorus", description=DESCRIPTION)

    async def run():
        from chorus import db

        if db.is_sqlite():
            return
        await db.engine().run_ddl(FUNCTION)

    async def run_backwards():
        from chorus import db

        if db.is_sqlite():
            return
        await db.engine().run_ddl("DROP FUNCTION IF EXISTS chorus_join_hold(integer)")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
