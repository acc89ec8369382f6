"""Fixtures for the chaos suite: a generated world on disk, and its manifests loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifest import load_manifests
from reconciler.model import Desired
from tests.chaos.world import WorldSpec, write

# Two units of every kind of change: 2 x (4 managers, 2 new ones, 3 AMC accounts). The plan
# holds 92 actions: 4 creates, 24 associates, 16 disassociates, 18 invites, 6 revoked
# invitations, 6 resends, 6 role changes, 12 revoked users.
CHAOS_SPEC = WorldSpec().scaled(2)
# One unit (46 actions of the same kinds) where every request may fail: under 20% 429s an
# apply runs at about 7 requests a second, so the full size would take a minute per apply.
FAULTS_SPEC = WorldSpec()


class World:
    def __init__(self, folder: Path, spec: WorldSpec = CHAOS_SPEC) -> None:
        self.seed, self.manifests = write(folder, spec)
        self.desired: Desired = load_manifests([self.manifests])


@pytest.fixture
def chaos_world(tmp_path: Path) -> World:
    return World(tmp_path)


@pytest.fixture
def faults_world(tmp_path: Path) -> World:
    return World(tmp_path, FAULTS_SPEC)
