"""Property tests: load -> normalise is stable, and merge order never matters."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.manifest import load_manifests
from reconciler.model import Desired
from tests.manifest.strategies import dump, manifests, to_manifest

SETTINGS = settings(max_examples=60, deadline=None)


def _world(desired: Desired, *, groups: bool = True) -> tuple[Any, ...]:
    amcs = desired.accounts
    if not groups:  # a re-written manifest lists group members directly
        amcs = tuple(replace(a, users=tuple(replace(u, group=None) for u in a.users)) for a in amcs)
    return (desired.manager_accounts, amcs)


def _write(folder: Path, name: str, manifest: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(dump(manifest), encoding="utf-8")
    return path


@SETTINGS
@given(manifest=manifests())
def test_load_then_normalise_is_stable(manifest: dict[str, Any], tmp_path_factory: Any) -> None:
    folder = tmp_path_factory.mktemp("stable")
    first = load_manifests([_write(folder, "a.yaml", manifest)])
    again = load_manifests([_write(folder / "again", "b.yaml", to_manifest(first))])
    assert _world(again) == _world(first, groups=False)
    # Canonical order: sorted however the manifest listed things.
    assert [m.key for m in first.manager_accounts] == sorted(m.key for m in first.manager_accounts)
    for amc in first.accounts:
        assert [u.key for u in amc.users] == sorted(u.key for u in amc.users)


@SETTINGS
@given(manifest=manifests(), data=st.data())
def test_merge_order_does_not_change_the_result(
    manifest: dict[str, Any], data: st.DataObject, tmp_path_factory: Any
) -> None:
    whole = load_manifests([_write(tmp_path_factory.mktemp("whole"), "all.yaml", manifest)])
    # Split every entry into its own file, in a random order, with random file names.
    pieces: list[dict[str, Any]] = [
        {"version": 1, "groups": {k: v}} for k, v in manifest.get("groups", {}).items()
    ]
    pieces += [{"version": 1, "managerAccounts": list(reversed(manifest["managerAccounts"]))}]
    pieces += [{"version": 1, "amcAccounts": [a]} for a in manifest["amcAccounts"]]
    order = data.draw(st.permutations(range(len(pieces))))
    folder = tmp_path_factory.mktemp("split")
    for position, index in enumerate(order):
        sub = folder / ("nested" if position % 2 else "")
        _write(sub, f"{position:03d}-{index}.yml", pieces[index])
    split = load_manifests([folder])
    assert _world(split) == _world(whole)
