from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-01T21:42:18:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "Filing on behalf of many people, continued: the unique indexes of representative_candidate "
    "and representative_vote, and the seeded market-regulation rows: the provincial and city bureaus "
    "become routing targets of the 12315 channel (routed_by), and all three expect a written "
    "authorization. Raw steps run before a migration's tables are made, hence a migration of its own"
)

UNIQUE_INDEXES = (
    # unique indexes on both engines (SQLite cannot add a constraint to a table)
    "CREATE UNIQUE INDEX IF NOT EXISTS candidate_once ON representative_candidate (\"case\", \"user\")",
    "CREATE UNIQUE INDEX IF NOT EXISTS vote_once ON representative_vote (\"case\", voter)",
)
# the seeded bureaus 12315 routes complaints to (data/regulators.json "routed_by")
ROUTED = {"cn-gd-amr": "cn-12315", "cn-gd-sz-amr": "cn-12315"}


async def _indexes_and_routing() -> None:
    from chorus import db

    engine = db.engine()
    for ddl in UNIQUE_INDEXES:
        await engine.run_ddl(ddl)
    for bureau, channel in ROUTED.items():
        await engine.run_ddl(
            "UPDATE regulator SET routed_by = (SELECT id FROM regulator WHERE slug = '%s'), "
            "authorization_required = true WHERE slug = '%s' AND routed_by IS NULL" % (channel, bureau)
        )
    await engine.run_ddl("UPDATE regulator SET authorization_required = true WHERE slug = 'cn-12315'")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chorus", description=DESCRIPTION)
    manager.add_raw(_indexes_and_routing)
    return manager
