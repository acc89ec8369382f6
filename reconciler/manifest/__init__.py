"""Manifests (YAML) -> `Desired`: the first arrow of the pipeline.

`yamlload` parses safely with locations, `schema` checks the JSON Schema, `semantics` enforces
identities and limits and normalises, `loader` finds files and ties it together.
"""

from reconciler.manifest.loader import discover, load_manifests, load_texts

__all__ = ["discover", "load_manifests", "load_texts"]
