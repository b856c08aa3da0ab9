"""What the `rwc` library and the key server share, and import from neither.

pycontainer (the client library and `rwc`) and keyserver (the server, its console and the
`keyserver` command) may not import each other's inside (pyproject.toml
[tool.importlinter]: the server does not depend on the client library, and the client does
not import the server). A policy both must apply identically lives here, once, in a
module of its own with no import of either package. Not an API: private to the
distribution, like the layers under ``keyserver._*``.
"""
