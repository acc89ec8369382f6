"""`reconciler.apply`: executing plans against the in-process sandbox, asserting on the
sandbox's resulting state."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from reconciler.api import AdsClient, ApiConfig
from reconciler.apply import (
    EXIT_INTERRUPTED,
    MAX_ATTEMPTS,
    ActionResult,
    ApplyReport,
    Journal,
    Status,
    apply_plan,
    check_not_stale,
)
from reconciler.apply.batches import make_batches
from reconciler.errors import EXIT_OK, EXIT_PARTIAL, StalePlanError
from reconciler.live.read import read_live
from reconciler.model import Desired, IdType, LinkRole, ManagerAccountType, Region, amc_scope
from reconciler.plan import PHASE_GRANT, Action, ActionKind, ManagerRef, Plan, Policy
from reconciler.planning.planner import make_plan
from reconciler.sandbox import Faults, SandboxTransport, World
from tests.factories import (
    ACME_AMC,
    ACME_ID,
    amc,
    demo_desired,
    desired,
    link,
    manager,
    run_apply,
    user,
    wire,
)


@contextmanager
def client_for(
    world: World, faults: Faults | None = None, *, concurrency: int = 8
) -> Iterator[AdsClient]:
    transport = SandboxTransport(world, faults=faults)
    with AdsClient(
        ApiConfig.sandbox(), transport=transport, max_concurrency=concurrency, sleep=lambda s: None
    ) as client:
        yield client


def plan_for(want: Desired, client: AdsClient, world: World) -> Plan:
    live = read_live(want, client.reader(), now=world.now())
    return make_plan(want, live, Policy(now=world.now()))


def apply_desired(
    want: Desired,
    world: World,
    faults: Faults | None = None,
    *,
    journal: Journal | None = None,
    stop: threading.Event | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    on_result: Callable[[ActionResult], None] | None = None,
) -> ApplyReport:
    # One connection at a time under faults: one seed then gives one fault sequence.
    with client_for(world, faults, concurrency=1 if faults else 8) as client:
        plan = plan_for(want, client, world)
        return run_apply(
            plan,
            want,
            client,
            journal=journal,
            stop=stop,
            max_attempts=max_attempts,
            on_result=on_result,
        )


def replan(want: Desired, world: World) -> Plan:
    with client_for(world) as client:
        return plan_for(want, client, world)


def globex(world: World) -> list[str]:
    return sorted(m.manager_id for m in world.managers.values() if m.name == "Globex Brands")


# ---- the demo world -------------------------------------------------------------------------


def test_demo_apply_changes_the_sandbox_as_planned_and_converges() -> None:
    world = World.default()
    report = apply_desired(demo_desired(), world)

    assert report.exit_code == EXIT_OK
    assert report.converged and report.verified and not report.remaining
    assert {r.status for r in report.results} == {Status.VERIFIED}
    # One call per batch: create, invite, set-role, associate x3 (Globex NA, Acme NA, Acme
    # EU: one host per region), revoke, disassociate.
    assert report.write_calls == 8
    assert world.stats.writes == 8
    acme_links = {x.account_id for x in world.managers[ACME_ID].links}
    assert acme_links == {f"ENTITY1ACME000{i}" for i in range(1, 6)} | {"ENTITY2EURO0001"}
    [new_id] = globex(world)
    # The id the create returned went into the associate calls of the same apply.
    assert {x.account_id for x in world.managers[new_id].links} == {
        "ENTITY1ACME0006",
        "ENTITY1DSP00001",
    }
    acme_amc = world.amc[ACME_AMC]
    roles = {u.user_id: u.role for u in acme_amc.users}
    assert roles == {
        "amzn1.account.ALICE0001": "ADMIN",
        "amzn1.account.ERIN0001": "ADMIN",
        "amzn1.account.FRANK0001": "VIEWER",
    }
    open_invites = sorted(i.email for i in acme_amc.invitations if i.state == "PENDING")
    assert open_invites == ["bob@example.com", "carol@example.com"]
    assert replan(demo_desired(), world).is_empty


def test_a_second_apply_has_nothing_to_do() -> None:
    world = World.default()
    apply_desired(demo_desired(), world)
    writes = world.stats.writes
    report = apply_desired(demo_desired(), world)
    assert report.results == () and report.converged and report.exit_code == EXIT_OK
    assert world.stats.writes == writes


# ---- batching -------------------------------------------------------------------------------


def _assoc(account: str, *, region: Region = Region.NA, role: str | None = None) -> Action:
    return Action(
        kind=ActionKind.ASSOCIATE,
        phase=PHASE_GRANT,
        target=account,
        manager=ManagerRef(name="Acme Agency", id=ACME_ID),
        id_type=IdType.ACCOUNT_ID,
        region=region,
        link_role=LinkRole(role) if role else None,
    )


def _amc_action(kind: ActionKind, target: str, *, notify: bool = True) -> Action:
    return Action(
        kind=kind,
        phase=PHASE_GRANT,
        target=target,
        account=amc_scope(ACME_AMC),
        notify=notify,
    )


def _sizes(actions: list[Action]) -> list[tuple[str, int]]:
    return [(b.kind.value, len(b.items)) for b in make_batches(list(enumerate(actions)))]


def test_batches_respect_the_api_limits_and_group_by_region_and_role() -> None:
    links = [_assoc(f"E{i:03}") for i in range(45)]
    assert _sizes(links) == [("associate", 20), ("associate", 20), ("associate", 5)]
    mixed = [
        _assoc("A"),
        _assoc("B", region=Region.EU),
        _assoc("C", role="ENTITY_VIEWER"),
        _assoc("D"),
    ]
    batches = make_batches(list(enumerate(mixed)))
    assert [[a.target for _, a in b.items] for b in batches] == [["A", "D"], ["B"], ["C"]]
    invites = [_amc_action(ActionKind.INVITE, f"u{i}@example.com") for i in range(120)]
    assert _sizes(invites) == [("invite", 50), ("invite", 50), ("invite", 20)]
    deletes = [_amc_action(ActionKind.REVOKE_USER, f"amzn1.account.U{i}") for i in range(250)]
    assert _sizes(deletes) == [("revoke-user", 200), ("revoke-user", 50)]
    notify = [
        _amc_action(ActionKind.INVITE, "a@example.com", notify=True),
        _amc_action(ActionKind.INVITE, "b@example.com", notify=False),
    ]
    assert _sizes(notify) == [("invite", 1), ("invite", 1)]


def test_only_consecutive_actions_of_one_kind_share_a_call() -> None:
    sequence = [
        _amc_action(ActionKind.REVOKE_INVITATION, "i1"),
        _amc_action(ActionKind.INVITE, "a@example.com"),
        _amc_action(ActionKind.REVOKE_INVITATION, "i2"),
    ]
    assert _sizes(sequence) == [("revoke-invitation", 1), ("invite", 1), ("revoke-invitation", 1)]


def _many_accounts_seed(count: int) -> dict[str, object]:
    return {
        "accounts": [
            {
                "id": f"ENTITYMANY{i:04}",
                "name": f"N{i}",
                "type": "SELLER",
                "marketplace": "ATVPDKIKX0DER",
            }
            for i in range(count)
        ],
        "manager_accounts": [{"id": "amzn1.ads1.ma1.many", "name": "Many", "type": "Agency"}],
    }


def test_45_links_take_three_associate_calls_in_the_sandbox() -> None:
    world = World.from_seed(_many_accounts_seed(45))
    want = desired(
        [manager("Many", *(link(f"ENTITYMANY{i:04}") for i in range(45)), id="amzn1.ads1.ma1.many")]
    )
    report = apply_desired(want, world)
    assert report.converged
    assert len(world.managers["amzn1.ads1.ma1.many"].links) == 45
    assert world.stats.requests["LinkAdvertisingAccountsToManagerAccountPublicAPI"] == 3


# ---- partial failure ------------------------------------------------------------------------


def test_a_refused_account_fails_alone_and_a_second_apply_finishes_the_job() -> None:
    world = World.default()
    want = desired(
        [
            manager(
                "Acme Agency",
                *(link(f"ENTITY1ACME000{i}") for i in (1, 2, 3, 4, 7)),
                link("ENTITY1ACME0005"),
                link("ENTITY1ACME0099"),  # not an account the sandbox lets anyone link
                id=ACME_ID,
            )
        ]
    )
    report = apply_desired(want, world)
    assert report.exit_code == EXIT_PARTIAL
    by_target = {r.action.target: r for r in report.results}
    assert by_target["ENTITY1ACME0005"].status is Status.VERIFIED
    failed = by_target["ENTITY1ACME0099"]
    assert failed.status is Status.FAILED
    assert "BAD_REQUEST" in failed.reason and "ENTITY1ACME0099" in failed.reason
    assert not report.converged and [a.target for a in report.remaining] == ["ENTITY1ACME0099"]
    assert "ENTITY1ACME0005" in {x.account_id for x in world.managers[ACME_ID].links}

    # The cause is fixed (the account becomes linkable); apply again does only what is left.
    world.advertisers["ENTITY1ACME0099"] = world.advertisers["ENTITY1ACME0008"].__class__(
        "ENTITY1ACME0099", "Late Seller", "SELLER", "ATVPDKIKX0DER"
    )
    again = apply_desired(want, world)
    assert again.exit_code == EXIT_OK and again.converged
    assert [r.action.target for r in again.results] == ["ENTITY1ACME0099"]
    assert replan(want, world).is_empty


# ---- unknown outcomes -----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_lost_answers_create_no_duplicate_invitation_or_manager_account(seed: int) -> None:
    world = World.default()
    faults = Faults(p_5xx_after_write=0.35, p_drop_after_write=0.35, seed=seed)
    report = apply_desired(demo_desired(), world, faults)

    assert world.stats.faults  # the faults did fire
    assert len(globex(world)) == 1
    carol = [i for i in world.amc[ACME_AMC].invitations if i.email == "carol@example.com"]
    assert len(carol) == 1
    # Each write took effect once: the sandbox applied exactly one write per batch.
    assert world.stats.writes == report.write_calls == 8
    assert report.converged, report.results
    settled = [r for r in report.results if "the answer was lost" in r.reason]
    assert settled and all(r.status is Status.VERIFIED and r.attempts == 1 for r in settled)


def test_a_write_lost_before_it_took_effect_is_sent_again_after_a_re_read() -> None:
    world = World.default()
    # Drops before any effect: the client cannot tell them from drops after it, so each is
    # an unknown outcome; the re-read shows nothing happened and the write goes again.
    faults = Faults(p_drop=0.3, seed=4)
    report = apply_desired(demo_desired(), world, faults, max_attempts=6)
    assert report.converged and report.exit_code == EXIT_OK
    assert any(r.attempts > 1 for r in report.results)
    assert len(globex(world)) == 1
    assert len([i for i in world.amc[ACME_AMC].invitations if i.email == "carol@example.com"]) == 1


def test_an_outcome_that_stays_unknown_fails_after_the_attempt_limit() -> None:
    world = World.default()
    faults = Faults(p_drop=1.0)  # nothing ever answers, nothing ever happens
    want = desired(
        [
            manager(
                "Acme Agency", *(link(f"ENTITY1ACME000{i}") for i in (1, 2, 3, 4, 5, 7)), id=ACME_ID
            )
        ]
    )
    with client_for(World.default()) as reader_client:
        plan = plan_for(want, reader_client, world)
    with client_for(world, faults, concurrency=1) as client:
        report = apply_plan(plan, client, max_attempts=2, verify=False)
    [result] = report.results
    assert result.status is Status.FAILED and "the answer was lost" in result.reason
    assert report.exit_code == EXIT_PARTIAL


# ---- journal and interruption ---------------------------------------------------------------


def test_journal_has_one_json_line_per_action(tmp_path: Path) -> None:
    world = World.default()
    path = tmp_path / "audit" / "journal.jsonl"
    with Journal(path, clock=lambda: 1_750_000_000.0) as journal:
        report = apply_desired(demo_desired(), world, journal=journal)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == len(report.results) == 9
    assert {line["action"] for line in lines} >= {"create-manager-account", "invite", "revoke-user"}
    first = lines[0]
    assert first["time"] == "2025-06-15T15:06:40.000+00:00"
    assert set(first) >= {"time", "action", "scope", "target", "result", "error"}
    assert all(line["result"] == "ok" and line["error"] is None for line in lines)
    # Appending: a second apply adds to the file.
    with Journal(path) as journal:
        journal.record(report.results[0])
    assert len(path.read_text().splitlines()) == 10


def test_stop_before_start_sends_nothing() -> None:
    world = World.default()
    stop = threading.Event()
    stop.set()
    report = apply_desired(demo_desired(), world, stop=stop)
    assert report.interrupted and report.exit_code == EXIT_INTERRUPTED
    assert {r.status for r in report.results} == {Status.SKIPPED}
    assert world.stats.writes == 0


def test_stop_midway_finishes_the_call_in_flight_and_the_next_plan_shows_the_rest() -> None:
    world = World.default()
    stop = threading.Event()
    report = apply_desired(demo_desired(), world, stop=stop, on_result=lambda r: stop.set())
    done = [r for r in report.results if r.done]
    skipped = [r for r in report.results if r.status is Status.SKIPPED]
    assert report.interrupted and done and skipped
    assert world.stats.writes == report.write_calls
    left = replan(demo_desired(), world)
    assert 0 < len(left.actions) < len(report.results)
    assert apply_desired(demo_desired(), world).converged


# ---- stale plans ----------------------------------------------------------------------------


def test_a_plan_is_stale_when_a_touched_scope_moved() -> None:
    world = World.default()
    with client_for(world) as client:
        plan = plan_for(demo_desired(), client, world)
        check_not_stale(plan, client.reader())  # nothing moved yet
        world.add_user(ACME_AMC, "gina@example.com", "admin", user_id="amzn1.account.GINA0001")
        world.unlink(ACME_ID, "ENTITY1ACME0001")
        with pytest.raises(StalePlanError) as caught:
            check_not_stale(plan, client.reader())
    message = str(caught.value)
    assert "user amzn1.account.GINA0001 (g***@example.com, admin) added" in message
    assert "link ENTITY1ACME0001 (NA) removed" in message


def test_a_change_outside_the_touched_scopes_does_not_make_a_plan_stale() -> None:
    world = World.default()
    erin = user("erin@example.com", "admin", user_id="amzn1.account.ERIN0001")
    want = desired([], [amc(ACME_AMC, erin, prune=False)])
    with client_for(world) as client:
        plan = plan_for(want, client, world)
        assert [a.kind for a in plan.actions] == [ActionKind.SET_ROLE]
        world.unlink(ACME_ID, "ENTITY1ACME0001")
        check_not_stale(plan, client.reader())
        report = apply_plan(plan, client)
    assert report.converged and world.amc[ACME_AMC].user("amzn1.account.ERIN0001") is not None


def test_a_refusal_whose_effect_is_already_in_place_is_done_not_failed() -> None:
    world = World.default()
    want = demo_desired()
    with client_for(world) as client:
        plan = plan_for(want, client, world)
        # Between plan and apply, someone else does two of its actions.
        [invite] = [a for a in plan.actions if a.kind is ActionKind.INVITE]
        client.create_invitations(ACME_AMC, [wire(invite)], notify=False)
        world.remove_user(ACME_AMC, "amzn1.account.DAVE0001")
        report = run_apply(plan, want, client)
    by_kind = {r.action.kind: r for r in report.results}
    assert by_kind[ActionKind.INVITE].status is Status.VERIFIED
    assert "DUPLICATE_INVITATION" in by_kind[ActionKind.INVITE].reason
    assert by_kind[ActionKind.REVOKE_USER].status is Status.VERIFIED
    assert "NOT_FOUND" in by_kind[ActionKind.REVOKE_USER].reason
    assert report.exit_code == EXIT_OK and report.converged
    carol = [i for i in world.amc[ACME_AMC].invitations if i.email == "carol@example.com"]
    assert len(carol) == 1


class _Interposed(SandboxTransport):
    """The sandbox, with `hook` seeing each request first once `armed`: it may change the
    world (another apply at work) or answer in the sandbox's place (a `Response`)."""

    def __init__(self, world: World, hook: Callable[[httpx.Request], httpx.Response | None]):
        super().__init__(world)
        self.hook = hook
        self.armed = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.armed.is_set():
            answer = self.hook(request)
            if answer is not None:
                return answer
        return super().handle_request(request)


def test_a_refusal_re_read_while_another_apply_removes_a_user_is_verified() -> None:
    """A chaos finding: the re-read of a refused invite listed a user the other apply
    then revoked; QueryUserRoles answered 404 and the whole AMC account read as incomplete,
    so the invite was reported failed. A user gone between the two calls is just gone."""
    world = World.default()
    want = demo_desired()
    dave = "amzn1.account.DAVE0001"
    raced = threading.Event()

    def revoke_dave_first(request: httpx.Request) -> None:
        asks_dave = json.loads(request.read() or b"{}").get("userId") == dave
        if request.url.path == "/userRoles/list" and asks_dave and not raced.is_set():
            raced.set()
            world.remove_user(ACME_AMC, dave)  # the other apply, a phase ahead
        return None

    transport = _Interposed(world, revoke_dave_first)
    with AdsClient(ApiConfig.sandbox(), transport=transport, sleep=lambda s: None) as client:
        plan = plan_for(want, client, world)
        [invite] = [a for a in plan.actions if a.kind is ActionKind.INVITE]
        client.create_invitations(ACME_AMC, [wire(invite)], notify=False)  # the other apply
        transport.armed.set()
        report = run_apply(plan, want, client)
    assert raced.is_set(), "the race did not happen"
    by_kind = {r.action.kind: r for r in report.results}
    assert by_kind[ActionKind.INVITE].status is Status.VERIFIED
    assert "DUPLICATE_INVITATION" in by_kind[ActionKind.INVITE].reason
    assert by_kind[ActionKind.REVOKE_USER].status is Status.VERIFIED
    assert report.exit_code == EXIT_OK and report.converged
    assert world.amc[ACME_AMC].user(dave) is None


def test_a_manager_account_created_since_the_plan_is_used_not_created_again() -> None:
    """Two applies that both plan to create "Globex Brands". The other one created
    it after this plan was made; Amazon would take a second create with the same name, and a
    manager account cannot be deleted, so the re-read right before the create adopts it."""
    world = World.default()
    want = demo_desired()
    with client_for(world) as client:
        plan = plan_for(want, client, world)
        [create] = [a for a in plan.actions if a.kind is ActionKind.CREATE_MANAGER_ACCOUNT]
        theirs = client.create_manager_account(
            "Globex Brands", ManagerAccountType(wire(create)["managerAccountType"])
        )["managerAccountId"]
        report = run_apply(plan, want, client)
    assert globex(world) == [theirs]
    [adopted] = [r for r in report.results if r.action.kind is ActionKind.CREATE_MANAGER_ACCOUNT]
    assert adopted.status is Status.VERIFIED and adopted.created_id == theirs
    assert "was created since the plan" in adopted.reason
    assert {x.account_id for x in world.managers[theirs].links} == {
        "ENTITY1ACME0006",
        "ENTITY1DSP00001",
    }
    assert report.exit_code == EXIT_OK and report.converged
    assert report.write_calls == 7  # the demo's 8 calls less the create


def test_a_create_whose_last_look_fails_is_not_sent() -> None:
    """No create without the re-read: a duplicate would be permanent, a create left for the
    next apply is not."""
    world = World.default()
    want = demo_desired()

    def manager_reads_fail(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and request.url.path == "/managerAccounts":
            return httpx.Response(500, json={"code": "INTERNAL_ERROR"}, request=request)
        return None

    transport = _Interposed(world, manager_reads_fail)
    with AdsClient(ApiConfig.sandbox(), transport=transport, sleep=lambda s: None) as client:
        plan = plan_for(want, client, world)
        transport.armed.set()  # the plan's read went through; every later one fails
        report = run_apply(plan, want, client)
    [create] = [r for r in report.results if r.action.kind is ActionKind.CREATE_MANAGER_ACCOUNT]
    assert create.status is Status.FAILED
    assert create.reason.startswith("not sent: the re-read before creating it failed")
    assert globex(world) == []
    associates = [r for r in report.results if r.action.manager == ManagerRef("Globex Brands")]
    assert {r.status for r in associates if r is not create} == {Status.SKIPPED}
