from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-04T21:31:00:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "membership.consent_versions filled from consent_complaint_id / consent_sha256: the one "
    "version each consent named until now"
)

BACKFILL = {
    "postgres": (
        "UPDATE membership SET consent_versions = "
        "json_build_array(json_build_object('id', consent_complaint_id, 'sha256', consent_sha256)) "
        "WHERE consented_at IS NOT NULL AND consent_complaint_id IS NOT NULL"
    ),
    "sqlite": (
        "UPDATE membership SET consent_versions = "
        "json_array(json_object('id', consent_complaint_id, 'sha256', consent_sha256)) "
        "WHERE consented_at IS NOT NULL AND consent_complaint_id IS NOT NULL"
    ),
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chorus", description=DESCRIPTION)

    async def backfill():
        from chorus import db

        await db.engine().run_ddl(BACKFILL["sqlite" if db.is_sqlite() else "postgres"])

    async def nothing():  # the column goes with the previous migration's backwards
        return None

    manager.add_raw(backfill)
    manager.add_raw_backwards(nothing)
    return manager
