"""`operations.apply` after the person said yes: what the plan grants is still what the
manifests grant at the moment the writes start, by the world's clock."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.api import AdsClient, ApiConfig
from reconciler.errors import StalePlanError
from reconciler.live.read import read_live
from reconciler.model import Desired, Source
from reconciler.plan import ActionKind, Plan, Policy
from reconciler.planning.planner import make_plan
from reconciler.sandbox import SandboxTransport, World
from reconciler.workflows import operations
from tests.factories import ACME_AMC, amc, desired, user

HOUR = 3600.0


def _wanted(world: World) -> Desired:
    """Alice stays admin; grace is invited for an hour from now (`expires:` at m.yaml:9)."""
    grace = replace(
        user("grace@example.com", line=9),
        expires=world.now() + HOUR,
        expires_source=Source("m.yaml", 9),
    )
    alice = user("alice@example.com", "admin", line=8)
    return desired([], [amc(ACME_AMC, alice, grace, prune=False)])


def _plan(want: Desired, client: AdsClient) -> Plan:
    now = client.now()
    return make_plan(want, read_live(want, client.reader(), now=now), Policy(now=now))


def test_an_expiry_that_passes_while_the_plan_is_shown_refuses_it_with_nothing_sent() -> None:
    world = World.default()
    world.freeze_clock(1_790_000_000.0)
    want = _wanted(world)
    transport = SandboxTransport(world)
    with AdsClient(ApiConfig.sandbox(), transport=transport, clock=world.now) as client:
        the_plan = _plan(want, client)
        assert [a.target for a in the_plan.actions if a.kind is ActionKind.INVITE] == [
            "grace@example.com"
        ]
        writes = world.stats.writes

        def confirm(shown: Plan) -> bool:
            world.advance_clock(2 * HOUR)  # the person read the plan for two hours
            return True

        with pytest.raises(StalePlanError) as caught:
            operations.apply(the_plan, want, client, confirm=confirm)
    assert world.stats.writes == writes  # grace was not invited after her access ended
    assert str(caught.value) == (
        "the plan is stale: live state changed since it was made:\n"
        "  grace@example.com on amc:ENTITY1AA1AA11AAA1: `expires:` (m.yaml:9) passed while "
        "the plan was shown, and the plan was made before it\n"
        "Run `reconciler plan` again and review the new plan."
    )


def test_the_plan_applies_when_no_expiry_passed_while_it_was_shown() -> None:
    world = World.default()
    world.freeze_clock(1_790_000_000.0)
    want = _wanted(world)
    transport = SandboxTransport(world)
    with AdsClient(ApiConfig.sandbox(), transport=transport, clock=world.now) as client:
        the_plan = _plan(want, client)

        def confirm(shown: Plan) -> bool:
            world.advance_clock(HOUR / 2)
            return True

        outcome = operations.apply(the_plan, want, client, confirm=confirm)
    assert outcome.report is not None and outcome.report.converged
    invited = {i.email for i in world.amc[ACME_AMC].invitations if i.state == "PENDING"}
    assert "grace@example.com" in invited
