"""Plan files: `codec` turns a `Plan` into JSON and back (refusing what is tampered), `digest`
binds a plan to what was reviewed."""
