"""The sweep hands Ray's driver its settings for the Ray session only (issue 29: no lasting os.environ writes)."""

import os

from hyflexpim.sweep.engine import process_env, ray_driver_env


def test_the_driver_env_adds_only_what_the_user_left_unset(tmp_path):
    token = tmp_path / "auth_token"
    assert ray_driver_env(None, {"RAY_AUTH_TOKEN_PATH": str(token)}) == {"RAY_USAGE_STATS_ENABLED": "0"}
    assert ray_driver_env("auto", {"RAY_AUTH_TOKEN_PATH": str(token)}) == {"RAY_USAGE_STATS_ENABLED": "0"}
    token.write_text("t")
    assert ray_driver_env("auto", {"RAY_AUTH_TOKEN_PATH": str(token)}) == {"RAY_USAGE_STATS_ENABLED": "0",
                                                                           "RAY_AUTH_MODE": "token"}
    assert ray_driver_env(None, {"RAY_AUTH_TOKEN_PATH": str(token)}) == {"RAY_USAGE_STATS_ENABLED": "0"}  # embedded
    user = {"RAY_AUTH_TOKEN": "x", "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "1"}
    assert ray_driver_env("auto", user) == {}


def test_the_process_env_is_restored_after_the_session(monkeypatch):
    monkeypatch.setenv("HYFLEXPIM_TEST_KEPT", "before")
    monkeypatch.delenv("HYFLEXPIM_TEST_NEW", raising=False)
    with process_env({"HYFLEXPIM_TEST_KEPT": "during", "HYFLEXPIM_TEST_NEW": "1"}):
        assert (os.environ["HYFLEXPIM_TEST_KEPT"], os.environ["HYFLEXPIM_TEST_NEW"]) == ("during", "1")
    assert os.environ["HYFLEXPIM_TEST_KEPT"] == "before" and "HYFLEXPIM_TEST_NEW" not in os.environ
