"""`reconciler.workflows.offboard`: the person's live access everywhere the identity sees,
sponsored-ads and DSP accounts (found through GET /v2/profiles) included; each account read
once; every account that could not be read in full listed. Against the sandbox, through the
CLI where the output is the point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.manifest import load_manifests
from reconciler.model import ScopeKind
from reconciler.sandbox import SandboxTransport, World
from reconciler.workflows.offboard import offboard
from tests.api.helpers import Intercept, sandbox_client
from tests.driver import run, setup

AMC = "ENTITYOFFBOARD01"
ADS = "amzn1.ads-account.g.offboard01"
DSP = "ENTITYOFFBOARDDSP1"
ANA = {"email": "ana@corp.example", "user_id": "amzn1.account.ANA", "role": "VIEWER"}
BOSS = {"email": "boss@corp.example", "user_id": "amzn1.account.BOSS", "role": "ADMIN"}
# A look-alike of ana's address: a capital I for the l, on the DSP account.
LOOKALIKE = "ana@corp.exampIe"

MANIFEST = f"""version: 1
amcAccounts:
  - id: {AMC}
    users:
      - {{email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}}
      - {{email: ana@corp.example, userId: amzn1.account.ANA, role: viewer}}
"""


def world(ads_name: str = "Offboard Global", dsp_name: str = "Offboard DSP") -> dict[str, Any]:
    return {
        "amc_accounts": [{"id": AMC, "users": [BOSS, ANA]}],
        "ad_accounts": [
            {
                "id": ADS,
                "type": "sponsored-ads",
                "name": ads_name,
                "marketplaces": ["ATVPDKIKX0DER", "A1F83G8C2ARO7P"],
                "users": [BOSS, {**ANA, "role": None, "permissions": ["reports_view"]}],
            },
            {
                "id": DSP,
                "type": "dsp",
                "name": dsp_name,
                "users": [BOSS],
                "invitations": [
                    {"email": "ana@corp.example", "role": "VIEWER"},
                    {"email": LOOKALIKE, "role": "ADMIN"},
                ],
            },
        ],
    }


def still_live(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("still live")]


def test_offboard_lists_access_on_unmanaged_sponsored_ads_and_dsp_accounts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder = setup(tmp_path, capsys, world(), {"access.yaml": MANIFEST})
    code, out = run(capsys, "offboard", "--sandbox-state", state, "ana@corp.example", str(folder))
    assert code == 2, out
    assert "ana@corp.example" not in (folder / "access.yaml").read_text(encoding="utf-8")
    why = "still live, a merge does not end it (the manifests do not manage this account)"
    assert still_live(out) == [
        f"{why}: DSP account {DSP} (Offboard DSP): ana@corp.example (invited), viewer, invited",
        f"{why}: sponsored-ads account {ADS} (Offboard Global): a***@corp.example "
        "(amzn1.account.ANA), custom [reports_view], active",
    ]
    assert LOOKALIKE not in out  # an address that only looks like hers is someone else's
    assert "not read in full" not in out


def test_a_hostile_account_name_from_the_profiles_stays_one_escaped_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = "Shop\x1b[2J\x1b]8;;https://evil.example\x07\nstill live, a merge does not end it"
    yaml_syntax = "x: [1\n  - {id: ENTITYOTHER}  # \u202egnp.exe"
    state, folder = setup(tmp_path, capsys, world(forged, yaml_syntax), {"access.yaml": MANIFEST})
    code, out = run(capsys, "offboard", "--sandbox-state", state, "amzn1.account.ANA", str(folder))
    assert code == 2, out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    # Two rows (the pin proves the invitation's address is hers), each one line whatever
    # the names hold: no name starts a line of its own.
    dsp, ads = still_live(out)
    why = "still live, a merge does not end it (the manifests do not manage this account)"
    assert dsp.startswith(f"{why}: DSP account {DSP} (x: [1")
    assert dsp.endswith("ana@corp.example (invited), viewer, invited")
    assert ads.startswith(f"{why}: sponsored-ads account {ADS} (Shop")
    assert ads.endswith("(amzn1.account.ANA), custom [reports_view], active")


def _offboard(
    seed: dict[str, Any],
    manifest: str,
    who: str,
    tmp_path: Path,
    transport: httpx.BaseTransport | None = None,
    sandbox: World | None = None,
) -> Any:
    (tmp_path / "access.yaml").write_text(manifest, encoding="utf-8")
    desired = load_manifests([tmp_path])
    sandbox = sandbox or World.from_seed(seed)
    with sandbox_client(sandbox, transport=transport or SandboxTransport(sandbox)) as client:
        return offboard(who, desired, client, now=sandbox.now())


def test_each_account_is_read_once(tmp_path: Path) -> None:
    sandbox = World.from_seed(world())
    _offboard({}, MANIFEST, "ana@corp.example", tmp_path, sandbox=sandbox)
    # Three accounts (the managed AMC one, the two found through the profiles): one user
    # list and one invitation list each, not the managed one twice.
    assert sandbox.stats.requests["ListUsers"] == 3
    assert sandbox.stats.requests["ListUserInvitations"] == 3
    assert sandbox.stats.requests["listProfiles"] == 3


def test_a_managed_account_whose_read_failed_is_listed_as_not_read(tmp_path: Path) -> None:
    manifest = MANIFEST + (
        "adAccounts:\n  - id: amzn1.ads-account.g.gone\n    type: sponsored-ads\n    users:\n"
        "      - {userId: amzn1.account.BOSS, role: admin}\n"
    )
    result = _offboard(world(), manifest, "ana@corp.example", tmp_path)
    (unread,) = result.unread
    assert unread.startswith("sponsored-ads:amzn1.ads-account.g.gone: POST /")
    assert "HTTP 403" in unread


def _failing_profiles(status: int, region_host: str = "advertising-api-eu") -> Any:
    def rule(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/v2/profiles" and request.url.host.startswith(region_host + "."):
            return httpx.Response(status, json={"code": "SERVER_ERROR", "details": "down"})
        return None

    return rule


@pytest.mark.parametrize("status", [429, 500])
def test_one_region_failing_is_not_read_never_no_access(tmp_path: Path, status: int) -> None:
    sandbox = World.from_seed(world())
    transport = Intercept(SandboxTransport(sandbox), _failing_profiles(status))
    result = _offboard({}, MANIFEST, "ana@corp.example", tmp_path, transport, sandbox)
    assert sorted(u.split(":")[0] + ":" + u.split(":")[1] for u in result.unread) == [
        "dsp:*",
        "sponsored-ads:*",
    ]
    assert all("GET /v2/profiles on the EU host failed" in u for u in result.unread)
    # What the other hosts listed is still read: ana's access there is listed.
    assert {(g.scope.kind, g.scope.key) for g, _ in result.elsewhere} == {
        (ScopeKind.SPONSORED_ADS, ADS),
        (ScopeKind.DSP, DSP),
    }


def test_a_profile_naming_a_managed_account_of_another_kind_is_not_read_as_it(
    tmp_path: Path,
) -> None:
    """The profiles say the managed AMC account's id is a sponsored-ads account: the header
    is the same for both, so a read could not say which is meant. Not read, and listed."""
    sandbox = World.from_seed(world())

    def rule(request: httpx.Request) -> httpx.Response | None:
        if request.url.path != "/v2/profiles" or not request.url.host.startswith(
            "advertising-api-eu."
        ):
            return None
        profile = {"profileId": 7, "accountInfo": {"id": AMC, "type": "seller", "name": "Twin"}}
        return httpx.Response(200, content=json.dumps([profile]).encode(),
                              headers={"content-type": "application/json"})  # fmt: skip

    transport = Intercept(SandboxTransport(sandbox), rule)
    result = _offboard({}, MANIFEST, "amzn1.account.ANA", tmp_path, transport, sandbox)
    assert [u for u in result.unread if u.startswith(f"sponsored-ads:{AMC}")] == [
        f"sponsored-ads:{AMC}: GET /v2/profiles names sponsored-ads account {AMC}, whose id "
        f"also names amc:{AMC}: Amazon-Ads-AccountId cannot say which one a read is about, "
        "so it is not read as this account"
    ]
    assert AMC not in {g.scope.key for g, _ in result.elsewhere}
    # The managed AMC account once, and the two accounts the NA host's profiles name.
    assert sandbox.stats.requests["ListUsers"] == 3


def test_a_listed_person_on_a_prune_false_account_is_still_live_after_the_merge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With `prune: false` an unlisted user is left alone: removing her entry ends nothing,
    so her access there is listed as what a merge does not end, and stays live after
    apply (the entry's removal is still made: the manifests no longer ask for her)."""
    kept = MANIFEST.replace(f"  - id: {AMC}\n", f"  - id: {AMC}\n    prune: false\n")
    state, folder = setup(tmp_path, capsys, world(), {"access.yaml": kept})
    code, out = run(capsys, "offboard", "--sandbox-state", state, "ana@corp.example", str(folder))
    assert code == 2, out
    assert "ana@corp.example" not in (folder / "access.yaml").read_text(encoding="utf-8")
    assert still_live(out)[0] == (
        "still live, a merge does not end it (the account keeps unlisted users: prune is "
        f"false): AMC account {AMC} ({AMC}): a***@corp.example "
        "(amzn1.account.ANA), viewer, active"
    )
    assert len(still_live(out)) == 3  # and the DSP and sponsored-ads accounts, as before
    code, out = run(capsys, "apply", "--sandbox-state", state, "--auto-approve", str(folder))
    assert code == 0 and "No changes." in out, out


def test_an_invitation_to_a_kelvin_sign_look_alike_is_not_the_persons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`\u212aim@` starts with the Kelvin sign, which Unicode folds into a K: someone
    else's address, so offboarding kim lists nothing of it as hers."""
    seed = world()
    seed["ad_accounts"][1]["invitations"].append(
        {"email": "\u212aim@corp.example", "role": "ADMIN"}
    )
    kim = "      - {email: kim@corp.example, role: viewer}\n"
    state, folder = setup(tmp_path, capsys, seed, {"access.yaml": MANIFEST + kim})
    code, out = run(capsys, "offboard", "--sandbox-state", state, "kim@corp.example", str(folder))
    assert code == 2, out
    assert still_live(out) == [], out


def test_each_line_says_once_what_is_removed_where_and_what_is_not_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder = setup(tmp_path, capsys, world(), {"access.yaml": MANIFEST})
    at = folder / "access.yaml"
    code, out = run(
        capsys, "offboard", "--sandbox-state", state, "--diff", "ana@corp.example", str(folder)
    )
    assert code == 2, out
    assert f"{at}:6: would remove ana@corp.example from AMC account {AMC}\n" in out
    assert "would be" not in out and "removed" not in out
    # The last admin stays, said once: where, who, from what, and why.
    code, out = run(capsys, "offboard", "--sandbox-state", state, "boss@corp.example", str(folder))
    assert code == 0, out
    (line,) = [x for x in out.splitlines() if "boss@corp.example" in x]
    assert line == (
        f"{at}:5: not removed: boss@corp.example from AMC account {AMC}, because the "
        f"manifests would not pass their own checks without it: {at}:3:5: "
        f"AMC account `{AMC}` lists 0 admin(s) but minAdmins is 1: add an admin, or lower "
        "`minAdmins` (add another admin first)"
    )
    assert out.count("removed") == 1
    code, out = run(capsys, "offboard", "--sandbox-state", state, "ana@corp.example", str(folder))
    assert code == 2, out
    assert f"{at}:6: removed ana@corp.example from AMC account {AMC}\n" in out
