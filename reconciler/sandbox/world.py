"""`World`: the sandbox's store (`reconciler.sandbox.state`) with its constructors from seeds
(`reconciler.sandbox.seed`). Kept apart so that the store does not import the seed parser
that builds it (no import cycle): `state` <- `seed` <- `world`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.sandbox import seed
from reconciler.sandbox.state import World as Store


class World(Store):
    """The sandbox world. `default()` is the demo seed; `from_seed` and `from_seed_file`
    build one from a seed (format: examples/sandbox-seed.yaml)."""

    @classmethod
    def default(cls) -> World:
        return cls.from_seed(seed.default_seed())

    @classmethod
    def from_seed(cls, data: Mapping[str, Any]) -> World:
        world = cls()
        seed.apply_seed(world, data, source="<seed>")
        return world

    @classmethod
    def from_seed_file(cls, path: str | Path) -> World:
        world = cls()
        seed.load_seed_file(world, Path(path))
        return world
