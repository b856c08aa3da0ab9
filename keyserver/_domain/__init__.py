"""Domain layer: errors, settings, lifecycle rules, validation, keys, auth.

No database, no HTTP: everything here is a rule or a value. The layers above it
(store, release, service, http, cli) import it; it imports none of them.
"""
