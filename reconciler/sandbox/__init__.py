"""The built-in Amazon Ads API sandbox: an emulator of the API subset reconciler uses.

- `state.World`: the emulated accounts, links, people (users and invitations on accounts of
  every kind: manager, sponsored-ads, DSP, AMC) and clock;
- `app.Sandbox`: answers requests (routing, auth, media types, the header per kind, faults);
- `ops_manager`, `ops_amc`, `ops_invitations`, `ops_users`: the operations, one function per
  operationId; `grants`: what each kind takes (roles, custom sets, countries), from `KINDS`;
- `transport.SandboxTransport`: the in-process way in; `server`: the loopback one;
- `persist.open_state`: the locked JSON state file behind `--sandbox`;
- `constants`: hosts, credentials, and every decision made where the reference says [UNK].
"""

from __future__ import annotations

from reconciler.sandbox.constants import (
    API_HOSTS,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_REFRESH_TOKEN,
    TOKEN_URL,
)
from reconciler.sandbox.faults import Faults
from reconciler.sandbox.persist import open_state
from reconciler.sandbox.transport import SandboxTransport
from reconciler.sandbox.world import World

__all__ = [
    "API_HOSTS",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "SANDBOX_REFRESH_TOKEN",
    "TOKEN_URL",
    "Faults",
    "SandboxTransport",
    "World",
    "open_state",
]
