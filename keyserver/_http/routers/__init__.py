"""HTTP routers, one per resource (spec §protocol)."""
