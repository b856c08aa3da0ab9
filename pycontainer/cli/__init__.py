"""The ``rwc`` command."""
