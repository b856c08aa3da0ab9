"""The ``keyserver`` command."""
