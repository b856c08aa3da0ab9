"""The key-release path (spec §evaluate): batch, group commit, hot path."""
