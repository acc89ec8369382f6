"""The control API of a sandbox served by `reconciler sandbox serve`, over HTTP: its
operations (`sandbox ... --url`) and its clock.

Which endpoints count as a served sandbox, and so when its clock is read at all, is decided
in one place: `sandbox_at`. The answer is never a guess from what a host says about itself:
the configuration must hold the sandbox's public credentials (which no Amazon account
accepts) and name loopback hosts only (where Amazon never is). Anything else is the real
API, whose time is this machine's; a clock sent by a remote host is never asked for, let
alone trusted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from reconciler.api import ApiConfig
from reconciler.api.config import (
    ENV_CLIENT_ID,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_REFRESH_TOKEN,
    is_loopback,
    shown_url,
)
from reconciler.errors import ConfigError, UsageError

# The latest time a sandbox clock may say (9999-12-31T23:59:59Z): Python's datetime ends
# there, and the plan file writes times as dates.
LATEST = 253402300799.0


def base_url(url: str) -> str:
    """`--url` checked: an http(s) URL of a running `sandbox serve`, without the trailing /."""
    base = url.strip().rstrip("/")
    scheme = base.partition("://")[0] if "://" in base else ""
    if scheme not in ("http", "https"):
        example = base.split("://")[-1].rsplit("@", 1)[-1] or "127.0.0.1:8400"
        raise ConfigError(
            f"--url {shown_url(url)} is not an http:// URL; give one that `reconciler sandbox "
            f"serve` printed, e.g. http://{example}"
        )
    return base


def call(method: str, url: str, route: str, args: dict[str, Any] | None = None) -> Any:
    """One request to a running sandbox's control API; its JSON answer, or a one-line error."""
    base = base_url(url)
    try:
        response = httpx.request(
            method,
            f"{base}/_sandbox/{route}",
            json=args,
            timeout=10.0,
            follow_redirects=False,
            trust_env=False,  # no proxy variable may stand between us and the sandbox
        )
    except httpx.HTTPError as exc:
        raise ConfigError(
            f"cannot reach the sandbox at {shown_url(base)} ({type(exc).__name__}): is "
            "`reconciler sandbox serve` running there? Check --url against the URLs it printed."
        ) from None
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{shown_url(base)} answered HTTP {response.status_code} without a sandbox JSON "
            "body: is it a `reconciler sandbox serve` URL?"
        )
    if response.status_code != 200:
        raise UsageError(f"sandbox {route}: {data.get('error', response.reason_phrase)}")
    return data


def clock_value(data: Any) -> float | None:
    """The epoch seconds in a `GET /_sandbox/clock` answer (`{"now": <seconds>}`), or None
    when it is not a finite time between 1970 and 9999."""
    now = data.get("now") if isinstance(data, dict) else None
    if isinstance(now, bool) or not isinstance(now, int | float):
        return None
    if not math.isfinite(now) or not 0.0 <= now <= LATEST:
        return None
    return float(now)


def clock(url: str) -> float:
    """The clock of the sandbox served at `url` (`sandbox clock --url`)."""
    now = clock_value(call("GET", url, "clock"))
    if now is None:
        raise ConfigError(
            f"{shown_url(base_url(url))} did not answer with a clock (epoch seconds under "
            '"now"): is it a `reconciler sandbox serve` URL?'
        )
    return now


def sandbox_at(env: Mapping[str, str]) -> str | None:
    """The origin of the sandbox the environment points the API client at, or None when it
    points anywhere else (module docstring): the sandbox's public client id, client secret
    and refresh token, and every API URL and the token URL on a loopback host. The origin is
    the token URL's (a served sandbox answers its control API on each of its ports; the
    token endpoint is the one every command talks to first). Without the sandbox's client
    id nothing else is looked at (a command that needs no credentials does not fail for the
    lack of them); with it, a malformed variable is the `ConfigError` the client would
    raise."""
    if env.get(ENV_CLIENT_ID, "").strip() != SANDBOX_CLIENT_ID:
        return None
    config = ApiConfig.from_env(env)
    public = (config.client_secret, config.refresh_token)
    if public != (SANDBOX_CLIENT_SECRET, SANDBOX_REFRESH_TOKEN):
        return None
    urls = (*config.api_urls.values(), config.token_url)
    if not all(is_loopback(urlsplit(url).hostname or "") for url in urls):
        return None
    scheme, host = urlsplit(config.token_url)[:2]
    return f"{scheme}://{host}"


def served_clock(env: Mapping[str, str]) -> float | None:
    """The served sandbox's clock when the environment points at one (`sandbox_at`), read
    now over HTTP; None for any other endpoint, which is then never asked. A sandbox that
    cannot be reached or answers without a clock is a `ConfigError`: a plan judged by the
    wrong clock would expire the wrong grants."""
    url = sandbox_at(env)
    if url is None:
        return None
    named = "which AMAZON_ADS_TOKEN_URL names with the sandbox's public credentials"
    try:
        # Like the API client: no redirect, and no proxy variable names who answers.
        response = httpx.get(
            f"{url}/_sandbox/clock", timeout=10.0, follow_redirects=False, trust_env=False
        )
    except httpx.HTTPError as exc:
        raise ConfigError(
            f"cannot read the clock of the sandbox at {shown_url(url)} ({type(exc).__name__}), "
            f"{named}: is `reconciler sandbox serve` still running there? Paste the export "
            "lines it printed again."
        ) from None
    try:
        data = response.json()
    except (ValueError, RecursionError):
        data = None
    now = clock_value(data) if response.status_code == 200 else None
    if now is None:
        raise ConfigError(
            f"{shown_url(url)} answered HTTP {response.status_code} without the sandbox's clock "
            f'(epoch seconds under "now"), {named}: point the AMAZON_ADS_* variables at a '
            "`reconciler sandbox serve` (the export lines it prints)"
        )
    return now
