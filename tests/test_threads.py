"""The thread count a process runs: affinity, cgroup quota (v1 and v2, on fake cgroup trees), option, env."""

import os
import subprocess
import sys

import pytest

from hyflexpim.cli import threads as th
from hyflexpim.errors import UserError


def _v2(tmp_path, path: str, cpu_max: dict):
    root = tmp_path / "cg"
    for folder, text in cpu_max.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "cpu.max").write_text(text + "\n")
    proc = tmp_path / "cgroup"
    proc.write_text(f"0::{path}\n")
    return root, proc


def test_v2_quota_of_the_process_cgroup(tmp_path):
    root, proc = _v2(tmp_path, "/job/step", {"job/step": "150000 100000", "": "max 100000"})
    assert th.cgroup_cpus(root, proc) == pytest.approx(1.5)


def test_v2_quota_of_a_parent_limits_the_child(tmp_path):
    root, proc = _v2(tmp_path, "/job/step", {"job/step": "max 100000", "job": "100000 100000"})
    assert th.cgroup_cpus(root, proc) == pytest.approx(1.0)


def test_v2_unlimited(tmp_path):
    root, proc = _v2(tmp_path, "/job", {"job": "max 100000", "": "max 100000"})
    assert th.cgroup_cpus(root, proc) is None


def test_v1_cfs_quota(tmp_path):
    root = tmp_path / "cg"
    d = root / "cpu,cpuacct" / "docker" / "abc"
    d.mkdir(parents=True)
    (d / "cpu.cfs_quota_us").write_text("300000\n")
    (d / "cpu.cfs_period_us").write_text("100000\n")
    proc = tmp_path / "cgroup"
    proc.write_text("4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n")
    assert th.cgroup_cpus(root, proc) == pytest.approx(3.0)


def test_v1_unlimited_and_unreadable(tmp_path):
    root = tmp_path / "cg"
    (root / "cpu").mkdir(parents=True)
    (root / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (root / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    proc = tmp_path / "cgroup"
    proc.write_text("1:cpu:/\n")
    assert th.cgroup_cpus(root, proc) is None
    assert th.cgroup_cpus(root, tmp_path / "missing") is None


def test_available_threads_is_affinity_capped_by_quota_rounded_down():
    assert th.available_threads(affinity=8, quota=2.5) == 2
    assert th.available_threads(affinity=2, quota=6.0) == 2
    assert th.available_threads(affinity=4, quota=0.5) == 1
    assert th.available_threads(affinity=3, read_quota=False) == 3


def test_affinity_is_what_the_process_may_run_on(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 5, 7})
    assert th.affinity_cpus() == 3


def test_option_then_env_then_omp_then_available():
    avail = lambda: 3  # noqa: E731
    assert th.resolve_threads(2, {th.ENV: "5"}, avail) == (2, "--threads")
    assert th.resolve_threads(None, {th.ENV: "5", "OMP_NUM_THREADS": "4"}, avail) == (5, th.ENV)
    assert th.resolve_threads(None, {"OMP_NUM_THREADS": "4"}, avail) == (4, "OMP_NUM_THREADS")
    assert th.resolve_threads(None, {}, avail)[0] == 3
    for bad in ("0", "two", "-1"):
        with pytest.raises(UserError, match=th.ENV):
            th.resolve_threads(None, {th.ENV: bad}, avail)
    with pytest.raises(UserError, match="--threads"):
        th.resolve_threads(0, {}, avail)


def test_configure_sets_the_environment_for_torch_and_children():
    env = {th.ENV: "1"}
    assert th.configure(None, env) == 1
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1"
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"
    env = {"OMP_WAIT_POLICY": "ACTIVE"}
    th.configure(3, env)
    assert env["OMP_WAIT_POLICY"] == "ACTIVE" and env["OMP_NUM_THREADS"] == "3"


def test_cli_applies_the_count_before_torch_loads(tmp_path):
    code = ("import sys; from typer.testing import CliRunner; from hyflexpim.cli.main import app; import typer\n"
            "@app.command('probe-threads', hidden=True)\n"
            "def probe():\n    import torch; print('threads', torch.get_num_threads())\n"
            "r = CliRunner().invoke(app, sys.argv[1:]); print(r.output); sys.exit(r.exit_code)")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", th.ENV, "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", code, "--threads", "1", "probe-threads"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert "threads 1" in out.stdout, out.stdout + out.stderr
    env[th.ENV] = "nope"
    out = subprocess.run([sys.executable, "-c", code, "probe-threads"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and f"error: {th.ENV} must be" in out.stdout + out.stderr
