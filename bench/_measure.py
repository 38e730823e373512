"""What the benchmarks share besides the set-up (that is tests/toolkit.py, shared with the tests):
bulk loading of the app's own rows, latency statistics, phases, process memory. Not a benchmark."""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any

# --- loading ----------------------------------------------------------------------------------


def as_records(rows: Sequence[Any]) -> tuple[str, list[str], list[tuple[Any, ...]]]:
    """Piccolo rows (instances of one table, built as the app builds them) as (table, columns,
    records) for COPY: the table, its columns and the defaults of unset ones come from the app's
    table class, so a new column needs nothing here. Rows without an id leave it to the serial."""
    from piccolo.columns import JSON
    from piccolo.querystring import QueryString

    if not rows:
        return "", [], []
    table = type(rows[0])
    pk = table._meta.primary_key
    with_ids = not isinstance(getattr(rows[0], pk._meta.name), QueryString)  # unset: DEFAULT
    columns = [c for c in table._meta.columns if with_ids or c is not pk]
    names = [c._meta.name for c in columns]
    as_json = [isinstance(c, JSON) for c in columns]  # asyncpg's COPY takes JSON as text

    def value(row: Any, name: str, is_json: bool) -> Any:
        v = getattr(row, name)
        return (
            json.dumps(v, ensure_ascii=False) if is_json and v is not None and not isinstance(v, str) else v
        )

    records = [tuple(value(r, n, j) for n, j in zip(names, as_json, strict=True)) for r in rows]
    return table._meta.tablename, [c._meta.db_column_name for c in columns], records


async def copy_records(
    conn: Any, table: str, columns: Sequence[str], records: Sequence[tuple[Any, ...]]
) -> int:
    """asyncpg's binary COPY of ``as_records``' output; returns the row count."""
    if not records:
        return 0
    status = await conn.copy_records_to_table(table, columns=list(columns), records=records)
    return int(status.split()[-1])


async def copy_rows(conn: Any, rows: Sequence[Any]) -> int:
    """COPY Piccolo rows of one table (see ``as_records``); returns the row count."""
    return await copy_records(conn, *as_records(rows))


async def reset_sequences(conn: Any, tables: Iterable[Any]) -> None:
    """After COPY with explicit ids: the next serial id of each Piccolo table follows the largest."""
    for table in tables:
        name = table._meta.tablename
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "
            f'COALESCE((SELECT max(id) FROM "{name}"), 0) + 1, false)'
        )


# --- SQL statements -----------------------------------------------------------------------------


class QueryTrace:
    """Records every statement sent (SQL, args, seconds) while ``active``: Piccolo's, and the raw
    statements ``chorus.db.fetch`` sends to asyncpg itself on PostgreSQL. (PostgresEngine has
    __slots__: the method is wrapped on the class; both are put back by ``remove``.)"""

    def __init__(self) -> None:
        from chorus import db

        self.db = db
        self.cls = type(db.engine())
        self.original = self.cls.run_querystring
        self.original_records = db._records
        self.active = False
        self.current: list[tuple[str, list[Any], float]] = []
        trace = self

        async def traced(engine: Any, querystring: Any, in_pool: bool = True) -> Any:
            if not trace.active:
                return await trace.original(engine, querystring, in_pool=in_pool)
            sql, args = querystring.compile_string(engine_type="postgres")
            t = time.perf_counter()
            result = await trace.original(engine, querystring, in_pool=in_pool)
            trace.current.append((sql, list(args), time.perf_counter() - t))
            return result

        async def traced_records(engine: Any, sql: str, args: Sequence[Any]) -> Any:
            t = time.perf_counter()
            result = await trace.original_records(engine, sql, args)
            if trace.active and result is not None:  # None: not sent here (SQLite: Piccolo's, traced above)
                trace.current.append((db._numbered(sql, len(args)), list(args), time.perf_counter() - t))
            return result

        self.cls.run_querystring = traced  # type: ignore[method-assign,assignment]
        db._records = traced_records  # type: ignore[assignment]

    def remove(self) -> None:
        self.cls.run_querystring = self.original  # type: ignore[method-assign]
        self.db._records = self.original_records  # type: ignore[assignment]


@contextlib.asynccontextmanager
async def statements_sent() -> AsyncIterator[list[tuple[str, list[Any], float]]]:
    """The statements sent while the block runs (a :class:`QueryTrace` active for it, removed
    after): ``async with statements_sent() as sent: …`` then ``len(sent)``."""
    trace = QueryTrace()
    trace.active = True
    try:
        yield trace.current
    finally:
        trace.active = False
        trace.remove()


# --- numbers ------------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); q in [0, 1]."""
    if not sorted_values:
        return math.nan
    pos = q * (len(sorted_values) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def latency_stats(seconds: Iterable[float]) -> dict[str, float]:
    """p50/p90/p99/max/mean in milliseconds."""
    ms = sorted(s * 1000 for s in seconds)
    return {
        "n": len(ms),
        "p50": percentile(ms, 0.50),
        "p90": percentile(ms, 0.90),
        "p99": percentile(ms, 0.99),
        "max": ms[-1] if ms else math.nan,
        "mean": sum(ms) / len(ms) if ms else math.nan,
    }


def fmt_stats(stats: dict[str, float]) -> str:
    return (
        f"p50 {stats['p50']:7.2f}  p90 {stats['p90']:7.2f}  p99 {stats['p99']:7.2f}  "
        f"max {stats['max']:7.2f}  mean {stats['mean']:7.2f}  ms  (n={int(stats['n'])})"
    )


class Phase:
    """`with Phase("load"):` prints the phase and how long it took."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.seconds = 0.0

    def __enter__(self) -> Phase:
        print(f"\n== {self.title}", flush=True)
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t
        print(f"   ({self.seconds:.1f} s)", flush=True)


# --- process memory -----------------------------------------------------------------------------


def proc_kb(pid: int, field_name: str = "VmRSS") -> int:
    """A memory figure of a process from /proc/<pid>/status (VmRSS, VmHWM, ...), in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise RuntimeError(field_name)


def reset_hwm(pid: int) -> bool:
    """VmHWM := current RSS (Linux >= 4.0, same user): per-phase peaks from the kernel too."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def mb(kb: float) -> float:
    return kb / 1024


class RssSampler:
    """Samples VmRSS of ``pid`` every ``interval`` s in a thread; ``window()`` opens a new peak."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.samples = 0
        self._lock = threading.Lock()
        self._peak = proc_kb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                value = proc_kb(self.pid)
            except (OSError, RuntimeError):
                return
            with self._lock:
                self._peak = max(self._peak, value)
                self.samples += 1
            self._stop.wait(self.interval)

    def window(self) -> int:
        """Start a new window at the current RSS; returns that RSS (kB)."""
        now = proc_kb(self.pid)
        with self._lock:
            self._peak = now
        return now

    def peak(self) -> int:
        """Peak RSS (kB) since the last window(), including a final fresh sample."""
        now = proc_kb(self.pid)
        with self._lock:
            self._peak = max(self._peak, now)
            return self._peak

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (from /proc/<pid>/stat), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """``cpu_seconds`` of a process and of every process under it now alive (a server's workers)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):  # gone meanwhile
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += cpu_seconds(current)
        except OSError:
            continue
        todo += children.get(current, [])
    return total


def steal_seconds() -> float:
    """Time this virtual machine's CPUs were ready but ran someone else (``steal`` in /proc/stat):
    on a busy host the wall times here grow with it while the CPU times do not."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK")
