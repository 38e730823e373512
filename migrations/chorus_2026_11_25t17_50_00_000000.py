from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-25T17:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "evidence_chain (case, index) index: chain pages, heads and appends read a case's chain in "
    "index order (bench/complaint.py: 50,000-entry chain pass 2.3 s -> 1.3 s, head 15 ms -> 2 ms)"
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chorus", description=DESCRIPTION)

    async def run():
        from chorus import db

        await db.engine().run_ddl(
            'CREATE INDEX IF NOT EXISTS evidence_chain_case_index ON evidence_chain ("case", "index")'
        )

    async def run_backwards():
        from chorus import db

        await db.engine().run_ddl("DROP INDEX IF EXISTS evidence_chain_case_index")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
