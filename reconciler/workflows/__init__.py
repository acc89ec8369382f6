"""The command workflows: the only thing `cli/` calls. One function per command (`state`,
`applying`, `edits`, `people`, `manifests`, `sandbox`), each owning its workflow end to end
and returning what the command shows; below them the operations they share and the stage
packages."""
