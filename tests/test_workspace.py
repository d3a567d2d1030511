"""The run folder: its lock against a second writer, and the resume log after a torn line."""

import json
import subprocess
import sys
import time

import pytest

from hyflexpim.errors import UserError
from hyflexpim.pipeline.workspace import Workspace


def test_a_second_process_is_refused_in_one_line_naming_the_holder(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom hyflexpim.pipeline.workspace import "
                               f"Workspace\nWorkspace({str(out)!r})\nprint('held', flush=True)\ntime.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match=f"run folder {out} is in use by pid {holder.pid}"):
            Workspace(out)
    finally:
        holder.kill()
        holder.wait()
    deadline = time.time() + 10
    while True:  # the holder is gone: the folder is free again, with nothing of the refusal left behind
        try:
            ws = Workspace(out)
            break
        except UserError:
            assert time.time() < deadline
            time.sleep(0.1)
    assert Workspace(out).root == ws.root  # re-entrant within one process
    assert sorted(p.name for p in out.iterdir()) == [".lock", "importance", "models", "plans"]


def test_a_torn_last_line_does_not_swallow_the_next_record(tmp_path):
    ws = Workspace(tmp_path / "run")
    ws.record({"key": "a", "value": 1})
    with open(ws.log, "a") as f:
        f.write('{"key": "b", "val')  # a write cut by SIGKILL
    ws.record({"key": "c", "value": 3})
    assert sorted(ws.done()) == ["a", "c"]
    lines = ws.log.read_text().splitlines()
    assert json.loads(lines[-1]) == {"key": "c", "value": 3}
