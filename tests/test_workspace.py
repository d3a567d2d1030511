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
    # the step folders are made by their first file (issue 28: a run stopped early leaves no empty ones)
    assert sorted(p.name for p in out.iterdir()) == [".lock"]


def test_a_torn_last_line_does_not_swallow_the_next_record(tmp_path):
    ws = Workspace(tmp_path / "run")

    def rec(variant, value):  # records as the run writes them (done() checks each one holds together)
        return {"key": f"{variant}/clean", "variant": variant, "scorer": None, "policy": None, "slc_rate": None,
                "seed": None, "metric": "accuracy", "value": value}

    ws.record(rec("fp32", 0.75))
    with open(ws.log, "a") as f:
        f.write('{"key": "svd/clean", "val')  # a write cut by SIGKILL
    ws.record(rec("redistributed", 0.5))
    assert sorted(ws.done()) == ["fp32/clean", "redistributed/clean"]
    lines = ws.log.read_text().splitlines()
    assert json.loads(lines[-1]) == rec("redistributed", 0.5)
