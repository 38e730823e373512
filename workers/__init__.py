"""arq workers: WorkerSettings and thin job functions that call chorus services."""
