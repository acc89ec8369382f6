"""The command workflows (plan, apply, drift, show, import, adopt, pin): the only thing `cli/`
calls. Each owns its workflow end to end; below it sit the stage packages."""
