"""The network edge: the key-server client, its URL policy, problems and token store."""
