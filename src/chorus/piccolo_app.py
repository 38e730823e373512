"""The single Piccolo app: every domain's tables, migrations in the top-level folder."""

from piccolo.conf.apps import AppConfig, table_finder

from chorus import resources

MIGRATIONS_DIR = resources.folder("migrations")

TABLE_MODULES = [
    "chorus.accounts.tables",
    "chorus.audit.tables",
    "chorus.jobs",
    "chorus.merchants.tables",
    "chorus.cases.tables",
    "chorus.notifications.tables",
    "chorus.evidence.tables",
    "chorus.regulators.tables",
    "chorus.complaints.tables",
    "chorus.filings.tables",
    "chorus.authorizations.tables",
    "chorus.ladder.tables",
]

APP_CONFIG = AppConfig(
    app_name="chorus",
    migrations_folder_path=str(MIGRATIONS_DIR),
    table_classes=table_finder(modules=TABLE_MODULES, exclude_imported=True),
    migration_dependencies=[],
    commands=[],
)
