"""The key test: against the sandbox, plan -> apply -> plan is empty, and
import -> plan is empty, for every example manifest set and for random (manifest, live)
pairs seeded into a sandbox world."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from reconciler.api import AdsClient, ApiConfig
from reconciler.apply import Status
from reconciler.errors import PlanError
from reconciler.live.read import read_all, read_live
from reconciler.manifest import load_manifests
from reconciler.model import Desired, ManagerAccountType, Region, Role
from reconciler.plan import ActionKind, Plan, Policy
from reconciler.planning.planner import allowed_plan
from reconciler.sandbox import SandboxTransport, World
from reconciler.workflows.importer import import_live
from tests.factories import amc, desired, link, manager, run_apply, user

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "manifests"
# Every directory under examples/manifests/ that is a complete manifest set on its own (a
# subdirectory that needs its parent's groups is not): today the whole tree.
EXAMPLE_SETS = [EXAMPLES]


# Guards wide open: these tests are about convergence, the guards have their own tests.
def open_policy(now: float) -> Policy:
    return Policy(now=now, max_removals=10_000, max_removal_fraction=1.0, allow_fewer_admins=True)


@contextmanager
def client_for(world: World) -> Iterator[AdsClient]:
    with AdsClient(ApiConfig.sandbox(), transport=SandboxTransport(world)) as client:
        yield client


def plan_for(want: Desired, client: AdsClient, world: World) -> Plan:
    live = read_live(want, client.reader(), now=world.now())
    return allowed_plan(want, live, open_policy(world.now()))


def converge(want: Desired, world: World) -> int:
    """plan -> apply -> plan, asserting each step on the sandbox."""
    with client_for(world) as client:
        plan = plan_for(want, client, world)
        report = run_apply(plan, want, client)
        assert all(r.status is Status.VERIFIED for r in report.results), report.results
        assert report.converged and report.exit_code == 0
        assert world.stats.writes == report.write_calls
        again = plan_for(want, client, world)
    assert again.is_empty, again.actions
    return len(plan.actions)


def import_and_plan(world: World, out: Path) -> Plan:
    with client_for(world) as client:
        import_live(read_all(client.reader(), now=world.now()), out, force=True)
        want = load_manifests([out])
        return plan_for(want, client, world)


@pytest.mark.parametrize("path", EXAMPLE_SETS, ids=lambda p: p.name)
def test_every_example_converges_and_imports_to_an_empty_plan(path: Path, tmp_path: Path) -> None:
    world = World.default()
    converge(load_manifests([path]), world)
    assert import_and_plan(world, tmp_path / "imported").is_empty
    # And from the untouched seed too.
    assert import_and_plan(World.default(), tmp_path / "seed").is_empty


# ---- random worlds --------------------------------------------------------------------------

_ACCOUNTS = [
    *((f"ENTITYNA{i:02}", "ATVPDKIKX0DER") for i in range(6)),
    ("ENTITYEU01", "A1F83G8C2ARO7P"),
    ("ENTITYEU02", "A1F83G8C2ARO7P"),
    ("ENTITYFE01", "A1VC38T7YXB528"),
]
_REGION = {"ATVPDKIKX0DER": Region.NA, "A1F83G8C2ARO7P": Region.EU, "A1VC38T7YXB528": Region.FE}
# Distinct first letters: masked addresses (a***@example.com) never collide, so every person
# resolves; ambiguity has its own tests in planning/test_identity.py and cli/test_state.py.
_PEOPLE = ["alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank"]
_AMC = "ENTITYAMCRANDOM1"
# Invitations are seeded a day old or twenty days old (expired), far from the 3-day resend
# window on the sandbox's real clock whatever the time of day.
_ROLES = st.sampled_from([Role.ADMIN, Role.VIEWER])


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], Desired, set[str]]:
    """(sandbox seed, desired state, emails whose seeded invitation is already expired)."""
    ids = [a for a, _ in _ACCOUNTS]
    seed_managers = []
    want_managers = []
    for n in range(draw(st.integers(0, 2))):
        manager_id, name = f"amzn1.ads1.ma1.rand{n}", f"Manager {n}"
        seed_managers.append(
            {
                "id": manager_id,
                "name": name,
                "type": "Agency",
                "links": draw(st.lists(st.sampled_from(ids), unique=True, max_size=6)),
            }
        )
        if draw(st.booleans()):
            wanted = draw(st.lists(st.sampled_from(_ACCOUNTS), unique=True, max_size=6))
            want_managers.append(
                manager(
                    name,
                    *(link(a, _REGION[m]) for a, m in wanted),
                    id=manager_id if draw(st.booleans()) else None,
                    prune=draw(st.booleans()),
                )
            )
    if draw(st.booleans()):
        wanted = draw(st.lists(st.sampled_from(_ACCOUNTS), unique=True, max_size=4))
        want_managers.append(
            manager(
                "New Brand",
                *(link(a, _REGION[m]) for a, m in wanted),
                type=ManagerAccountType.ADVERTISER,
            )
        )

    people = draw(st.permutations(_PEOPLE))
    n_users = draw(st.integers(0, 4))
    n_invited = draw(st.integers(0, 3))
    users = people[:n_users]
    invited = people[n_users : n_users + n_invited]
    expired = {p for p in invited if draw(st.booleans())}
    roles = {p: draw(_ROLES) for p in _PEOPLE}
    seed_amc = {
        "id": _AMC,
        "name": "Random AMC",
        "marketplace": "ATVPDKIKX0DER",
        "users": [
            {
                "email": f"{p}@example.com",
                "user_id": f"amzn1.account.{p.upper()}",
                "role": roles[p].value,
            }
            for p in users
        ],
        "invitations": [
            {
                "email": f"{p}@example.com",
                "name": p.title(),
                "role": draw(_ROLES).value,
                "age_days": 20 if p in expired else 1,
            }
            for p in invited
        ],
    }
    listed = draw(st.lists(st.sampled_from(_PEOPLE), unique=True, max_size=6))
    want_amc = amc(
        _AMC,
        # Live people pinned by userId, as `import` writes them: a masked address that fits
        # is never proof enough to change a role.
        *(
            user(
                f"{p}@example.com",
                draw(_ROLES),
                user_id=f"amzn1.account.{p.upper()}" if p in users else None,
            )
            for p in listed
        ),
        prune=draw(st.booleans()),
        min_admins=1,
    )
    seed = {
        "accounts": [
            {"id": a, "name": a.title(), "type": "SELLER", "marketplace": m} for a, m in _ACCOUNTS
        ],
        "manager_accounts": seed_managers,
        "amc_accounts": [seed_amc],
    }
    return seed, desired(want_managers, [want_amc]), {f"{p}@example.com" for p in expired}


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(scenario=scenarios())
def test_random_worlds_converge(scenario: tuple[dict[str, Any], Desired, set[str]]) -> None:
    seed, want, _ = scenario
    world = World.from_seed(seed)
    try:
        with client_for(world) as client:
            first = plan_for(want, client, world)
    except PlanError:
        assume(False)
    # A removal that would leave no active admin is kept back (drift until an admin is
    # added), which no flag lifts: not this test's business (tests/planning/test_planner.py has it).
    assume(not first.kept)
    count = converge(want, world)
    event(f"{count} action(s)" if count < 5 else "5+ actions")


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(scenario=scenarios())
def test_random_worlds_import_to_an_empty_plan(
    scenario: tuple[dict[str, Any], Desired, set[str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    seed, _, expired = scenario
    world = World.from_seed(seed)
    plan = import_and_plan(world, tmp_path_factory.mktemp("import"))
    # An expired invitation is imported (someone is wanted) and resent: the only change.
    assert all(a.kind is ActionKind.RESEND_INVITATION for a in plan.actions), plan.actions
    assert {a.email for a in plan.actions} == expired
