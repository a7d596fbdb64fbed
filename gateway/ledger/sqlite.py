"""Single-node ledger: stdlib sqlite3 in WAL mode, one connection behind a lock.

Every call runs off the event loop. Inserts go to one writer thread that commits every record
waiting at that moment in one transaction (group commit), then wakes the waiters: `record` returns
only once its row is committed. With `synchronous=NORMAL` in WAL mode a process crash or restart
loses nothing recorded before answering (only an OS crash or power loss may drop the last
transactions), at a third of FULL's cost per commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from gateway.ledger.base import UsageRecord, UsageRow

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS usage ("
    " request_id TEXT PRIMARY KEY, client TEXT NOT NULL, provider TEXT NOT NULL,"
    " cost REAL NOT NULL, emulated TEXT NOT NULL, cache_hit INTEGER NOT NULL,"
    " timestamp REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS usage_timestamp ON usage (timestamp)",
    "CREATE INDEX IF NOT EXISTS usage_client_timestamp ON usage (client, timestamp)",
)


_INSERT = "INSERT OR IGNORE INTO usage VALUES (?, ?, ?, ?, ?, ?, ?)"
_Waiter = asyncio.Future[None]
_Pending = tuple[UsageRecord, _Waiter]


def _row(rec: UsageRecord) -> tuple[str, str, str, float, str, int, float]:
    return (rec.request_id, rec.client, rec.provider, rec.cost, ",".join(rec.emulated),
            int(rec.cache_hit), rec.timestamp)


def _settle(settled: list[tuple[_Waiter, BaseException | None]]) -> None:
    for future, error in settled:
        if future.done():  # the waiter was cancelled; the row is committed all the same
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


class _GroupWriter:
    """A writer thread: takes every queued record, commits them together, wakes the waiters.

    One queue hand-off and one loop wake-up per batch is cheaper than a thread-pool hop per
    insert, and under concurrency one commit serves many requests.
    """

    def __init__(self, insert: Callable[[list[UsageRecord]], list[BaseException | None]]) -> None:
        self._insert = insert
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._stopped = False

    def submit(self, rec: UsageRecord) -> _Waiter:
        """Queue `rec`; the future completes once it is committed (or failed)."""
        if self._stopped:
            raise sqlite3.ProgrammingError("the usage ledger is closed")
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="usage-ledger-writer", daemon=True
                    )
                    self._thread.start()
        future: _Waiter = asyncio.get_running_loop().create_future()
        self._queue.put((rec, future))
        return future

    def stop(self) -> None:
        """Commit what is queued, then end the thread (blocking)."""
        self._stopped = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
        # A record that raced past the `_stopped` check is failed, never left waiting.
        late = [item for item in self._drain([]) if item is not None]
        if late:
            self._wake(late, [sqlite3.ProgrammingError("the usage ledger is closed")] * len(late))

    def _drain(self, batch: list[_Pending | None]) -> list[_Pending | None]:
        """`batch` plus whatever is queued now, up to and including a stop marker."""
        with contextlib.suppress(queue.Empty):
            while not batch or batch[-1] is not None:
                batch.append(self._queue.get_nowait())
        return batch

    def _run(self) -> None:
        while True:
            batch = self._drain([self._queue.get()])
            pending = [item for item in batch if item is not None]
            if pending:
                self._commit(pending)
            if batch[-1] is None:
                return

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            outcomes = self._insert([rec for rec, _ in batch])
        except Exception as exc:  # never leave a waiter hanging
            outcomes = [exc] * len(batch)
        self._wake(batch, outcomes)

    @staticmethod
    def _wake(batch: list[_Pending], outcomes: list[BaseException | None]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Waiter, BaseException | None]]] = {}
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(future.get_loop(), []).append((future, outcome))
        for loop, settled in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, settled)


class SqliteLedger:
    """Single-node ledger in a SQLite file."""

    def __init__(self, path: str | Path) -> None:
        """Open (and create) the database at `path`; blocking, call at start-up."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by worker threads; the lock serialises its use.
        self._conn = sqlite3.connect(
            target, timeout=10.0, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                self._conn.execute(statement)
        self._writer = _GroupWriter(self._insert)

    def _insert(self, records: list[UsageRecord]) -> list[BaseException | None]:
        """Commit `records` in one transaction; on failure, each alone (one error each)."""
        rows = [_row(rec) for rec in records]
        with self._lock:
            try:
                self._conn.execute("BEGIN")
                self._conn.executemany(_INSERT, rows)
                self._conn.execute("COMMIT")
                return [None] * len(rows)
            except sqlite3.Error:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
            outcomes: list[BaseException | None] = []
            for row in rows:
                try:
                    self._conn.execute(_INSERT, row)
                    outcomes.append(None)
                except sqlite3.Error as exc:
                    outcomes.append(exc)
            return outcomes

    def _summarize(
        self, client: str | None, start: float | None, end: float | None
    ) -> list[UsageRow]:
        where: list[str] = []
        params: list[str | float] = []
        for clause, value in (("client = ?", client), ("timestamp >= ?", start),
                              ("timestamp < ?", end)):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = (
            "SELECT client, provider, COUNT(*), TOTAL(cost), TOTAL(cache_hit) FROM usage"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " GROUP BY client, provider ORDER BY client, provider"
        )
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [
            UsageRow(client=c, provider=p, images=n, cost=cost, cache_hits=int(hits))
            for c, p, n, cost, hits in rows
        ]

    def _close(self) -> None:
        self._writer.stop()
        with self._lock:
            self._conn.close()

    @property
    def partial(self) -> bool:
        """Never: the file holds every record of this node."""
        return False

    async def record(self, rec: UsageRecord) -> None:
        """Insert one record (returns once committed); a repeated request id is ignored."""
        await self._writer.submit(rec)

    async def summarize(
        self, client: str | None, start: float | None, end: float | None
    ) -> list[UsageRow]:
        """Sum records in `[start, end)` by client and provider."""
        return await asyncio.to_thread(self._summarize, client, start, end)

    async def aclose(self) -> None:
        """Close the database."""
        await asyncio.to_thread(self._close)
