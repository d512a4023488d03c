"""Exact sets in bounded memory: E.164 numbers ("one send per number per run") and the text of
invalid entries, each moving to an unlinked temporary SQLite file once it grows."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from array import array
from collections.abc import Iterable

__all__ = ["NumberSet", "TextSet"]

_EMPTY = 0
_SPREAD = 0x9E3779B97F4A7C15


class NumberSet:
    """Remembers numbers exactly: in memory while small, then in a temporary file.

    In memory it is open addressing over an ``array('Q')`` (8 bytes a slot, at most 2/3 full):
    an E.164 number has at most 15 digits, so its digits as an integer are an exact key (no
    fingerprint collisions, unlike a Bloom filter). Past ``spill_after`` numbers the keys move to
    an unlinked SQLite file whose page cache is capped at ``cache_kib``, so memory stays flat
    however many numbers a run sees: at the default, a table of at most 16,384 slots (128 KiB)
    plus that cache. Call :meth:`close` when done.
    """

    def __init__(self, *, spill_after: int = 8_192, cache_kib: int = 512) -> None:
        self._slots = array("Q", [_EMPTY]) * 1024
        self._mask = len(self._slots) - 1
        self._count = 0
        self._spill_after = spill_after
        self._cache_kib = cache_kib
        self._file: _SpillFile | None = None

    @staticmethod
    def _key(number: str) -> int:
        # The leading "1" keeps numbers that differ only by leading zeros apart, and is never 0.
        return int("1" + number.lstrip("+"))

    def add(self, number: str) -> bool:
        """Add ``number``; False if it was already there."""
        key = self._key(number)
        added = self._insert(key) if self._file is None else self._file.add(key)
        self._count += added
        if added and self._file is None and self._count > self._spill_after:
            self._file = _SpillFile(self._cache_kib, "INTEGER PRIMARY KEY")
            self._file.add_all(key for key in self._slots if key != _EMPTY)
            self._slots = array("Q")
        return added

    def _probe(self, key: int) -> int:
        """The slot holding ``key``, or the empty slot where it belongs (linear probing)."""
        slots, mask = self._slots, self._mask
        index = (key * _SPREAD >> 17) & mask
        while (held := slots[index]) != _EMPTY and held != key:
            index = (index + 1) & mask
        return index

    def _insert(self, key: int) -> bool:
        index = self._probe(key)
        if self._slots[index] == key:
            return False
        self._slots[index] = key
        if (self._count + 1) * 3 > len(self._slots) * 2:
            self._grow()
        return True

    def _grow(self) -> None:
        old = self._slots
        self._slots = array("Q", [_EMPTY]) * (2 * len(old))
        self._mask = len(self._slots) - 1
        for key in old:
            if key != _EMPTY:
                self._slots[self._probe(key)] = key

    @property
    def spilled(self) -> bool:
        """Whether the numbers now live in the temporary file."""
        return self._file is not None

    def __contains__(self, number: object) -> bool:
        if not isinstance(number, str):
            return False
        key = self._key(number)
        if self._file is not None:
            return key in self._file
        return bool(self._slots) and self._slots[self._probe(key)] == key

    def close(self) -> None:
        """Release the temporary file, if any. Idempotent."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._slots = array("Q")

    def __len__(self) -> int:
        return self._count


class TextSet:
    """Remembers strings exactly (the text of invalid entries): a ``set`` while small, then an
    unlinked SQLite file like :class:`NumberSet`'s, past ``spill_after`` strings or
    ``spill_chars`` characters in all, so a file of garbage cannot fill memory. Call
    :meth:`close` when done.
    """

    def __init__(
        self, *, spill_after: int = 8_192, spill_chars: int = 1 << 20, cache_kib: int = 512
    ) -> None:
        self._texts: set[str] = set()
        self._chars = 0
        self._count = 0
        self._spill_after, self._spill_chars = spill_after, spill_chars
        self._cache_kib = cache_kib
        self._file: _SpillFile | None = None

    def add(self, text: str) -> bool:
        """Add ``text``; False if it was already there."""
        if self._file is not None:
            added = self._file.add(text)
        else:
            added = text not in self._texts
            if added:
                self._texts.add(text)
                self._chars += len(text)
        self._count += added
        if self._file is None and (
            self._count > self._spill_after or self._chars > self._spill_chars
        ):
            self._file = _SpillFile(self._cache_kib, "TEXT PRIMARY KEY", without_rowid=True)
            self._file.add_all(self._texts)
            self._texts = set()
        return added

    @property
    def spilled(self) -> bool:
        """Whether the strings now live in the temporary file."""
        return self._file is not None

    def __contains__(self, text: object) -> bool:
        if not isinstance(text, str):
            return False
        return text in self._texts if self._file is None else text in self._file

    def close(self) -> None:
        """Release the temporary file, if any. Idempotent."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._texts = set()

    def __len__(self) -> int:
        return self._count


class _SpillFile:
    """An unlinked temporary SQLite file holding one table of unique keys, its page cache
    capped at ``cache_kib``: where a set goes once it has grown."""

    def __init__(self, cache_kib: int, key: str, *, without_rowid: bool = False) -> None:
        handle, path = tempfile.mkstemp(prefix="vlens-seen-", suffix=".sqlite3")
        os.close(handle)
        self._db = sqlite3.connect(path, isolation_level=None)
        os.unlink(path)  # the open connection keeps the file; nothing is left behind
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
        rowid = " WITHOUT ROWID" if without_rowid else ""
        self._db.execute(f"CREATE TABLE seen (key {key}){rowid}")

    def add(self, key: int | str) -> bool:
        """Add ``key``; False if it was already there."""
        return self._db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (key,)).rowcount == 1

    def add_all(self, keys: Iterable[int | str]) -> None:
        """Add ``keys``, all different and none there yet."""
        self._db.executemany("INSERT INTO seen VALUES (?)", ((key,) for key in keys))

    def __contains__(self, key: int | str) -> bool:
        return self._db.execute("SELECT 1 FROM seen WHERE key = ?", (key,)).fetchone() is not None

    def close(self) -> None:
        self._db.close()
