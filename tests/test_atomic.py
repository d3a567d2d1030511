"""Shared cache entries are made once: atomic writes leave no half file, and the cache lock makes a second
process wait for the first instead of making the same entry beside it."""

import multiprocessing as mp
import os
import time
from pathlib import Path

import pytest

from hyflexpim.atomic import exclusive, write_atomic


def _make_once(folder: str) -> None:
    folder = Path(folder)
    with exclusive(folder / "entry.lock"):
        if (folder / "entry").exists():
            return
        time.sleep(0.5)  # long enough that an unlocked second process would also find the entry missing
        with open(folder / "makers.log", "a") as f:
            f.write(f"{os.getpid()}\n")
        write_atomic(folder / "entry", "made")


def test_two_processes_make_a_cache_entry_once(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_make_once, args=(str(tmp_path),)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert (tmp_path / "entry").read_text() == "made"
    assert len((tmp_path / "makers.log").read_text().split()) == 1


def test_the_lock_is_released_when_the_block_fails(tmp_path):
    with pytest.raises(RuntimeError), exclusive(tmp_path / "x.lock"):
        raise RuntimeError("boom")
    _make_once(str(tmp_path))  # would hang here if the first holder still had the lock
    assert (tmp_path / "entry").read_text() == "made"


def test_an_atomic_write_leaves_no_temporary_file(tmp_path):
    write_atomic(tmp_path / "a.txt", "one")
    write_atomic(tmp_path / "a.txt", b"two")
    assert (tmp_path / "a.txt").read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
