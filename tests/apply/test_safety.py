"""Apply never leaves an account worse than it found it.

Removals and demotions wait for their scope's grants; the admin rule is counted on what
actually happened; nothing of the kind is ever sent (asserted from the requests the sandbox
received, not only its final state). The prompt is followed by a re-read; interruptions say
what happened; a 401 on a write after a renewed token is a missing permission on that
account, not a bad refresh token.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from reconciler.api import AdsClient, ApiConfig
from reconciler.apply import Status
from reconciler.apply.render import render_report, result_line
from reconciler.errors import EXIT_OK, EXIT_PARTIAL, PlanError
from reconciler.live.read import read_live
from reconciler.model import Desired, Role
from reconciler.plan import ActionKind, Plan, Policy
from reconciler.planning.planner import allowed_plan
from reconciler.sandbox import SandboxTransport, World
from tests.driver import (
    OLGA_PETE,
    PROMOTE_PETE,
    Terminal,
    check_golden,
    write_manifest,
    write_seed,
)
from tests.driver import SAFE_AMC as AMC
from tests.driver import terminal_env as _env
from tests.factories import amc, desired, run_apply, user

PERMISSIVE = {"max_removals": 1000, "max_removal_fraction": 1.0}


def world_of(users: list[tuple[str, str, str]], **extra: Any) -> World:
    """One AMC account; users as (user_id, email, ADMIN|VIEWER)."""
    seed = {
        "amc_accounts": [
            {
                "id": AMC,
                "name": "Safe AMC",
                "users": [{"user_id": u, "email": e, "role": r} for u, e, r in users],
                **extra,
            }
        ]
    }
    return World.from_seed(seed)


class Recorder(SandboxTransport):
    """The sandbox, keeping every request it was sent (operation path, method, body), and
    answering some write items with an item error in its place (`refuse`: userIds or email
    addresses the sandbox should refuse, as Amazon refuses one item of a batch)."""

    def __init__(self, world: World, refuse: set[str] | None = None) -> None:
        super().__init__(world)
        self.refuse = refuse or set()
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            body = json.loads(request.read() or b"{}")
        except ValueError:  # the token endpoint's form body
            body = {}
        with self.lock:
            self.sent.append((request.method, request.url.path, body))
        if request.url.path == "/userPermissions" and request.method == "PUT":
            items = body.get("userPermissions", [])
            refused = [i for i in items if i.get("userId") in self.refuse]
            if refused:
                kept = [i for i in items if i not in refused]
                answer = self._forward(request, {"userPermissions": kept}) if kept else {}
                errors = [
                    {"userId": i["userId"], "code": "INTERNAL_ERROR", "message": "injected"}
                    for i in refused
                ]
                return httpx.Response(
                    200,
                    json={
                        "successes": answer.get("successes", []),
                        "errors": answer.get("errors", []) + errors,
                    },
                    request=request,
                )
        return super().handle_request(request)

    def _forward(self, request: httpx.Request, body: dict[str, Any]) -> dict[str, Any]:
        copy = httpx.Request(request.method, request.url, headers=request.headers, json=body)
        data: dict[str, Any] = super().handle_request(copy).json()
        return data

    def deletes(self) -> list[str]:
        """userIds DeleteUserPermissions was asked to remove."""
        return [
            u["userId"]
            for method, path, body in self.sent
            if path == "/userPermissions" and method == "DELETE"
            for u in body.get("users", [])
        ]

    def demotions(self) -> list[str]:
        return [
            p["userId"]
            for method, path, body in self.sent
            if path == "/userPermissions" and method == "PUT"
            for p in body.get("userPermissions", [])
            if p["permissionSet"]["role"] != "ADMIN"
        ]


@contextmanager
def client_on(transport: SandboxTransport) -> Iterator[AdsClient]:
    with AdsClient(ApiConfig.sandbox(), transport=transport, sleep=lambda s: None) as client:
        yield client


def plan_with(want: Desired, client: AdsClient, world: World, **policy: Any) -> Plan:
    live = read_live(want, client.reader(), now=world.now())
    return allowed_plan(want, live, Policy(now=world.now(), **policy))


def admins(world: World) -> set[str]:
    return {u.user_id for u in world.amc[AMC].users if u.role == "ADMIN"}


def test_a_failed_promotion_leaves_the_removals_undone_and_the_next_apply_finishes() -> None:
    """minAdmins 2: keep anna, promote emil, drop ben and bo. The promotion fails."""
    world = world_of(
        [
            ("amzn1.account.ANNA", "anna@corp.example", "ADMIN"),
            ("amzn1.account.BEN", "ben@corp.example", "ADMIN"),
            ("amzn1.account.BO", "bo@corp.example", "ADMIN"),
            ("amzn1.account.EMIL", "emil@corp.example", "VIEWER"),
        ]
    )
    want = desired(
        amcs=[
            amc(
                AMC,
                user("anna@corp.example", Role.ADMIN, user_id="amzn1.account.ANNA"),
                user("emil@corp.example", Role.ADMIN, user_id="amzn1.account.EMIL"),
                min_admins=2,
            )
        ]
    )
    transport = Recorder(world, refuse={"amzn1.account.EMIL"})
    with client_on(transport) as client:
        plan = plan_with(want, client, world, **PERMISSIVE)
        report = run_apply(plan, want, client)
    by_kind = {r.action.target: r for r in report.results}
    assert by_kind["amzn1.account.EMIL"].status is Status.FAILED
    for gone in ("amzn1.account.BEN", "amzn1.account.BO"):
        assert by_kind[gone].status is Status.SKIPPED
        assert "removals wait for their grants" in by_kind[gone].reason
    assert report.exit_code == EXIT_PARTIAL
    assert transport.deletes() == []  # never sent, not merely refused
    lines = "".join(result_line(r) + "\n" for r in report.results) + render_report(report)
    check_golden("apply-report.txt", lines)
    assert admins(world) == {"amzn1.account.ANNA", "amzn1.account.BEN", "amzn1.account.BO"}

    with client_on(Recorder(world)) as client:  # the fault is gone
        report = run_apply(plan_with(want, client, world, **PERMISSIVE), want, client)
    assert report.exit_code == EXIT_OK and report.converged
    assert admins(world) == {"amzn1.account.ANNA", "amzn1.account.EMIL"}


def test_the_last_admins_removal_is_never_sent_when_the_promotion_fails() -> None:
    world = world_of(
        [
            ("amzn1.account.OLGA", "olga@corp.example", "ADMIN"),
            ("amzn1.account.PETE", "pete@corp.example", "VIEWER"),
        ]
    )
    want = desired(
        amcs=[amc(AMC, user("pete@corp.example", Role.ADMIN, user_id="amzn1.account.PETE"))]
    )
    transport = Recorder(world, refuse={"amzn1.account.PETE"})
    with client_on(transport) as client:
        plan = plan_with(want, client, world, **PERMISSIVE)
        assert [a.kind for a in plan.actions] == [ActionKind.SET_ROLE, ActionKind.REVOKE_USER]
        report = run_apply(plan, want, client)
    assert report.exit_code == EXIT_PARTIAL
    assert "amzn1.account.OLGA" not in transport.deletes()
    assert admins(world) == {"amzn1.account.OLGA"}


def test_the_executor_never_sends_the_removal_of_the_last_admin_whatever_the_plan_says() -> None:
    """Defence in depth: a plan (made by hand here, as a buggy planner might) that removes
    every admin with no grant before it. By the executor's own count the removal would leave
    none, so it is not sent."""
    from reconciler.actions import permissions
    from reconciler.apply import apply_plan
    from reconciler.model import amc_scope

    world = world_of(
        [
            ("amzn1.account.OLGA", "olga@corp.example", "ADMIN"),
            ("amzn1.account.PETE", "pete@corp.example", "VIEWER"),
        ]
    )
    transport = Recorder(world)
    with client_on(transport) as client:
        live = read_live(desired(amcs=[amc(AMC)]), client.reader(), now=world.now())
        olga = next(u for u in live.accounts[0].users if u.user_id == "amzn1.account.OLGA")
        plan = Plan(
            actions=(permissions.revoke_user(amc_scope(AMC), olga, reason="test"),),
            live=live,
            min_admins={str(amc_scope(AMC)): 0},  # by typed address, as a plan keys it
        )
        report = apply_plan(plan, client)
    [result] = report.results
    assert result.status is Status.SKIPPED and "would leave 0 active admin(s)" in result.reason
    assert transport.deletes() == []
    assert admins(world) == {"amzn1.account.OLGA"}


def test_a_raise_to_editor_is_not_counted_as_an_admin_when_the_last_admin_goes() -> None:
    """On a kind with an editor role, a grant that raises a viewer to editor (phase 1) does
    not make a second admin: the removal of the only admin after it is still held."""
    from reconciler.actions import permissions
    from reconciler.apply import apply_plan
    from reconciler.model import DesiredAccount, Grant, Scope, ScopeKind

    dsp = Scope(ScopeKind.DSP, "ENTITYDSPSAFE01")
    seed = {
        "ad_accounts": [
            {
                "id": dsp.key,
                "type": "dsp",
                "users": [
                    {
                        "email": "olga@corp.example",
                        "user_id": "amzn1.account.OLGA",
                        "role": "ADMIN",
                    },
                    {
                        "email": "pete@corp.example",
                        "user_id": "amzn1.account.PETE",
                        "role": "VIEWER",
                    },
                ],
            }
        ]
    }
    world = World.from_seed(seed)
    transport = Recorder(world)
    with client_on(transport) as client:
        wanted = Desired(accounts=(DesiredAccount(id=dsp.key, kind=dsp.kind),))
        live = read_live(wanted, client.reader(), now=world.now())
        olga, pete = sorted(live.accounts[0].users, key=lambda u: u.user_id)
        raise_pete = permissions.set_role(dsp, pete, Grant(Role.EDITOR), label="p", reason="t")
        plan = Plan(
            actions=(raise_pete, permissions.revoke_user(dsp, olga, reason="t")),
            live=live,
            min_admins={str(dsp): 0},  # by typed address, as a plan keys it
        )
        report = apply_plan(plan, client)
    raised, removal = report.results
    assert raised.done
    assert removal.status is Status.SKIPPED and "would leave 0 active admin(s)" in removal.reason
    assert transport.deletes() == []
    owner = world.account(dsp.key, ScopeKind.DSP).user("amzn1.account.OLGA")
    assert owner is not None and owner.role == "ADMIN"


# ---- a hypothesis property: whatever fails, admins are kept ---------------------------------

_PEOPLE = ["ann", "bea", "cal", "dov", "eve"]


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[tuple[str, str, str]], Desired, set[str]]:
    """One AMC account: live users (admins likely), a manifest that keeps, promotes, demotes
    or drops each, a minAdmins, and the userIds whose role change the sandbox refuses."""
    live_roles = draw(
        st.lists(st.sampled_from(["ADMIN", "ADMIN", "VIEWER", None]), min_size=5, max_size=5)
    )
    users = [
        (f"amzn1.account.{p.upper()}", f"{p}@corp.example", r)
        for p, r in zip(_PEOPLE, live_roles, strict=True)
        if r is not None
    ]
    entries = []
    for p, live_role in zip(_PEOPLE, live_roles, strict=True):
        choice = draw(st.sampled_from(["keep", "admin", "viewer", "drop"]))
        role = (live_role or "VIEWER").lower() if choice == "keep" else choice
        if choice != "drop":
            pin = f"amzn1.account.{p.upper()}" if live_role else None  # as import writes them
            entries.append(user(f"{p}@corp.example", Role(role), user_id=pin))
    want = desired(amcs=[amc(AMC, *entries, min_admins=draw(st.integers(0, 3)))])
    refuse = draw(st.sets(st.sampled_from([f"amzn1.account.{p.upper()}" for p in _PEOPLE])))
    return users, want, refuse


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
@example(
    case=(
        [
            ("amzn1.account.ANN", "ann@corp.example", "ADMIN"),
            ("amzn1.account.BEA", "bea@corp.example", "ADMIN"),
            ("amzn1.account.CAL", "cal@corp.example", "ADMIN"),
            ("amzn1.account.DOV", "dov@corp.example", "VIEWER"),
        ],
        desired(
            amcs=[
                amc(
                    AMC,
                    user("ann@corp.example", Role.ADMIN, user_id="amzn1.account.ANN"),
                    user("dov@corp.example", Role.ADMIN, user_id="amzn1.account.DOV"),
                    min_admins=2,
                )
            ]
        ),
        {"amzn1.account.DOV"},
    )
)
def test_after_any_apply_with_failures_admins_are_kept(
    case: tuple[list[tuple[str, str, str]], Desired, set[str]],
) -> None:
    users, want, refuse = case
    world = world_of(users)
    before = admins(world)
    transport = Recorder(world, refuse=refuse)
    with client_on(transport) as client:
        try:
            plan = plan_with(want, client, world, **PERMISSIVE)
        except PlanError:
            assume(False)
            return
        report = run_apply(plan, want, client)
    minimum = want.accounts[0].min_admins
    after = admins(world)
    if any(r.status is Status.FAILED for r in report.results):
        assert len(after) >= min(minimum, len(before))
    if before:
        assert after, (before, plan.actions, report.results)


# ---- the CLI: prompt, interruptions, permissions ------------------------------------------


def test_a_write_refused_with_401_after_renewal_is_a_missing_permission_on_that_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reconciler.cli import main

    seed = {"amc_accounts": [{**OLGA_PETE["amc_accounts"][0], "viewer_only": True}]}
    state = str(tmp_path / "state.json")
    manifests = write_manifest(tmp_path, PROMOTE_PETE)
    for argv in (
        ["sandbox", "reset", "--sandbox-state", state, "--seed", write_seed(tmp_path, seed)],
        ["apply", "--sandbox-state", state, "--auto-approve", manifests],
    ):
        with pytest.raises(SystemExit) as stop:
            main(argv)
    out, err = capsys.readouterr()
    assert stop.value.code == EXIT_PARTIAL, out + err
    assert f"failed   amc:{AMC}: set role of pete@corp.example" in out
    assert "lack a permission on this account" in out and "Viewer permission only" in out
    assert "refresh token" not in out + err


# ---- through a pseudo-terminal: the prompt and interruptions ------------------------------


@pytest.fixture
def olga_pete(tmp_path: Path) -> tuple[str, str]:
    """A sandbox state file with olga (admin) and pete (viewer), and manifests that promote
    pete: one change, asked for at the prompt."""
    import subprocess
    import sys

    state = str(tmp_path / "state.json")
    seed = write_seed(tmp_path, OLGA_PETE)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "reconciler",
            "sandbox",
            "reset",
            "--sandbox-state",
            state,
            "--seed",
            seed,
        ],
        check=True,
        env=_env(),
        capture_output=True,
        timeout=60,
    )
    return state, write_manifest(tmp_path, PROMOTE_PETE)


def test_answering_n_says_nothing_was_applied(olga_pete: tuple[str, str]) -> None:
    state, manifests = olga_pete
    term = Terminal(["apply", "--sandbox-state", state, manifests], _env())
    term.read_until("Apply these changes? [y/N]")
    term.send("n\n")
    code, output = term.finish()
    assert code == 1
    assert output.rstrip().endswith("Nothing was applied.")
    assert World.load(state).amc[AMC].user("amzn1.account.PETE").role == "VIEWER"  # type: ignore[union-attr]


def test_ctrl_c_at_the_prompt_exits_130(olga_pete: tuple[str, str]) -> None:

    state, manifests = olga_pete
    term = Terminal(["apply", "--sandbox-state", state, manifests], _env())
    term.read_until("Apply these changes? [y/N]")
    term.interrupt()
    code, output = term.finish()
    assert code == 130
    assert "Interrupted: nothing was applied." in output
    assert "Aborted" not in output


def test_ctrl_c_while_reading_exits_130(tmp_path: Path) -> None:

    from tests.chaos.harness import serve

    manifests = write_manifest(tmp_path, PROMOTE_PETE)
    with serve("--seed", write_seed(tmp_path, OLGA_PETE), "--latency-ms", "3000") as served:
        term = Terminal(["apply", manifests], _env(dict(served.env)))
        # Ready when the token is issued: the read is then under way, and every answer
        # takes 3 s, so the interrupt lands while it reads.
        for _ in range(1200):  # a minute at most
            if "lwa:token" in served.stats()["requests"]:
                break
            term.expect_running()
        term.interrupt()
        code, output = term.finish()
    assert code == 130, output
    assert "Interrupted" in output and "Traceback" not in output


def test_a_change_while_the_prompt_waits_refuses_the_plan(tmp_path: Path) -> None:
    from tests.chaos.harness import serve

    manifests = write_manifest(tmp_path, PROMOTE_PETE)
    with serve("--seed", write_seed(tmp_path, OLGA_PETE)) as served:
        term = Terminal(["apply", manifests], _env(dict(served.env)))
        term.read_until("Apply these changes? [y/N]")
        served.control("remove-user", amc_account_id=AMC, user_id="amzn1.account.PETE")
        term.send("y\n")
        code, output = term.finish()
        writes = served.stats()["writes"]
    assert code == 1, output
    assert "the plan is stale" in output
    assert f"amc:{AMC}: user amzn1.account.PETE" in output and "removed" in output
    assert writes == 0  # API writes only (the console's removal is a control call): none
