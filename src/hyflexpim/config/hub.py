"""Whether the Hugging Face hub can be reached: the one offline decision every loader (models, data sets) follows.

An offline flag the user set wins; otherwise one HTTPS request per process and endpoint (any HTTP status means it
answered; a refused, timed-out or intercepted connection does not), so a machine without network fails in seconds
instead of after the hub client's retries.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request

_ANSWERS: dict[str, bool] = {}


def flag_set(*names: str) -> bool:
    """Whether any of these environment variables asks for offline mode (1, true, yes, on)."""
    return any(os.environ.get(n, "").strip().lower() in ("1", "true", "yes", "on") for n in names)


def hub_reachable(timeout: float = 3.0, flags: tuple[str, ...] = ("HF_HUB_OFFLINE",)) -> bool:
    """False when one of ``flags`` is set, or the hub (``HF_ENDPOINT``) does not answer within ``timeout`` seconds;
    asked once per process and endpoint."""
    if flag_set(*flags):
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    if endpoint not in _ANSWERS:
        try:
            urllib.request.urlopen(urllib.request.Request(endpoint + "/api/models?limit=1", method="HEAD"),
                                   timeout=timeout).close()
            _ANSWERS[endpoint] = True
        except urllib.error.HTTPError:
            _ANSWERS[endpoint] = True  # it answered
        except (OSError, ValueError):  # URLError, TLS failure, timeout, a malformed endpoint
            _ANSWERS[endpoint] = False
    return _ANSWERS[endpoint]
