"""Stores behind the meter and the accounts: a small interface, SQLite behind it.

The meter store keeps, per subject (``a:<account>`` or ``v:<visitor>``), the codes opened in the
current period. Charging is one transaction, so parallel requests on one cookie cannot open more
codes than the limit, and a restored old cookie cannot shrink the record. A subject gets a row
only when it opens a code: visits that open nothing (HEAD, teasers, forms) write nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterable
from typing import Protocol

EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s.]{1,63}")
MIN_PASSWORD, MAX_PASSWORD = 10, 1024
MAX_REMEMBERED = 10_000  # meters kept in memory for the read-only path
PURGE_EVERY = 1000  # writing charges between purges of ended meter periods
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "maxmem": 64 * 1024 * 1024, "dklen": 32}

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
  id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, salt BLOB NOT NULL, hash BLOB NOT NULL,
  created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  account TEXT NOT NULL, session TEXT NOT NULL, created INTEGER NOT NULL,
  PRIMARY KEY (account, session));
CREATE TABLE IF NOT EXISTS meters (subject TEXT PRIMARY KEY, period_start INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS opened (
  subject TEXT NOT NULL, code TEXT NOT NULL, PRIMARY KEY (subject, code));
"""


class MeterStore(Protocol):
    def charge(
        self,
        subject: str,
        carry: Iterable[str],
        code: str | None,
        limit: int,
        now: int,
        period: int,
    ) -> tuple[frozenset[str], bool, int]:
        """Record ``carry`` (codes the cookie says are opened), then open ``code`` if it is already
        opened or the subject is under ``limit``. Returns (codes opened this period, whether
        ``code`` may be shown, the period's start)."""
        ...


class AccountStore(Protocol):
    def register(self, email: str, password: str, now: int) -> str | None: ...
    def authenticate(self, email: str, password: str) -> str | None: ...

    def open_session(self, account: str, now: int) -> str:
        """A new log-in session id for the account cookie."""
        ...

    def session_open(self, account: str, session: str) -> bool: ...
    def close_session(self, account: str, session: str) -> None: ...


def normalise_email(email: str) -> str | None:
    email = email.strip().lower()
    return email if len(email) <= 254 and EMAIL.fullmatch(email) else None


def password_ok(password: str) -> bool:
    return MIN_PASSWORD <= len(password) <= MAX_PASSWORD


def hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, **SCRYPT)  # type: ignore[arg-type]


class SQLiteStore:
    """Accounts and meters in one SQLite file; one connection, one lock (SQLite serialises
    writers anyway, and every statement here is short). Password hashing runs outside the lock."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        # WAL: readers never wait for the writer; NORMAL: a commit does not wait for fsync
        # (a crash may lose the last few views recorded, never the database)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._dummy_salt = os.urandom(16)
        self._charges = 0
        # subject -> (period start, codes opened): the meters table as this connection last saw
        # it; dropped whenever another connection (another process) has committed
        self._meters: dict[str, tuple[int, frozenset[str]]] = {}
        self._version: int | None = None
        self._longest_period = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- meter ---------------------------------------------------------------------------

    def charge(
        self,
        subject: str,
        carry: Iterable[str],
        code: str | None,
        limit: int,
        now: int,
        period: int,
    ) -> tuple[frozenset[str], bool, int]:
        carry = set(carry)
        with self._lock:
            db = self._db
            # most requests change nothing (a teaser, or a code already opened): read only, and
            # from memory while no other connection has committed since (``data_version``)
            version = db.execute("PRAGMA data_version").fetchone()[0]
            if version != self._version:
                self._meters.clear()
                self._version = version
            known = self._meters.get(subject)
            if known is None:
                row = db.execute("SELECT period_start FROM meters WHERE subject = ?", (subject,)).fetchone()
                if row is not None:
                    rows = db.execute("SELECT code FROM opened WHERE subject = ?", (subject,))
                    known = self._remember(subject, row[0], {r[0] for r in rows})
            live = known is not None and now - known[0] < period
            if live:
                assert known is not None
                start, seen = known
                if carry <= seen and (code is None or code in seen or len(seen) >= limit):
                    return seen, code is not None and code in seen, start
            elif not carry and (code is None or limit <= 0):
                return frozenset(), False, now  # nothing opened, nothing to open: write nothing
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT period_start FROM meters WHERE subject = ?", (subject,)).fetchone()
                ended = row is not None and now - row[0] >= period
                start = row[0] if row is not None and not ended else now
                opened: set[str] = set()
                if row is not None and not ended:
                    opened = {r[0] for r in db.execute("SELECT code FROM opened WHERE subject = ?", (subject,))}
                add = carry - opened
                granted = False
                if code is not None:
                    if code in opened or code in add:
                        granted = True
                    elif len(opened | add) < limit:
                        add.add(code)
                        granted = True
                if ended:  # the period is over: its record goes, whether or not a new one starts
                    db.execute("DELETE FROM opened WHERE subject = ?", (subject,))
                    db.execute("DELETE FROM meters WHERE subject = ?", (subject,))
                if add:  # the store grows only by codes opened (never by a visit that opened none)
                    if row is None or ended:
                        db.execute("INSERT INTO meters VALUES (?, ?)", (subject, start))
                    db.executemany("INSERT INTO opened VALUES (?, ?)", [(subject, c) for c in sorted(add)])
                    opened |= add
                self._charges += 1
                self._longest_period = max(self._longest_period, period)
                if self._charges % PURGE_EVERY == 0:
                    self._purge(now - self._longest_period)
                db.execute("COMMIT")
            except BaseException:
                self._meters.clear()
                db.execute("ROLLBACK")
                raise
            if opened:
                self._remember(subject, start, opened)
            else:
                self._meters.pop(subject, None)
        return frozenset(opened), granted, start

    def _remember(self, subject: str, start: int, opened: set[str]) -> tuple[int, frozenset[str]]:
        if len(self._meters) >= MAX_REMEMBERED:
            self._meters.clear()
        known = self._meters[subject] = (start, frozenset(opened))
        return known

    def _purge(self, before: int) -> None:
        """Forget meters whose period ended (each new guest that opened a code left one)."""
        old = "SELECT subject FROM meters WHERE period_start < ?"
        self._db.execute(f"DELETE FROM opened WHERE subject IN ({old})", (before,))
        self._db.execute("DELETE FROM meters WHERE period_start < ?", (before,))
        self._meters.clear()

    def subjects(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM meters").fetchone()[0])

    # --- accounts ------------------------------------------------------------------------

    def register(self, email: str, password: str, now: int) -> str | None:
        """The new account's id, or None if the email is taken (the caller says neither)."""
        salt = os.urandom(16)
        digest = hash_password(password, salt)
        with self._lock:
            try:
                cur = self._db.execute(
                    "INSERT INTO accounts (email, salt, hash, created) VALUES (?, ?, ?, ?)",
                    (email, salt, digest, now),
                )
            except sqlite3.IntegrityError:
                return None
        return str(cur.lastrowid)

    def open_session(self, account: str, now: int) -> str:
        session = secrets.token_urlsafe(16)
        with self._lock:
            self._db.execute("INSERT INTO sessions VALUES (?, ?, ?)", (account, session, now))
        return session

    def session_open(self, account: str, session: str) -> bool:
        """Log-out closes a session, so a copy of its account cookie no longer signs anyone in."""
        with self._lock:
            q = "SELECT 1 FROM sessions WHERE account = ? AND session = ?"
            return self._db.execute(q, (account, session)).fetchone() is not None

    def close_session(self, account: str, session: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE account = ? AND session = ?", (account, session))

    def authenticate(self, email: str, password: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT id, salt, hash FROM accounts WHERE email = ?", (email,)).fetchone()
        salt, expected = (row[1], row[2]) if row else (self._dummy_salt, b"\0" * 32)
        ok = hmac.compare_digest(hash_password(password, salt), expected)  # same work either way
        return str(row[0]) if row and ok else None
