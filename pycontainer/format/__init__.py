"""Container format v1, I/O-free: constants, header, index, key schedule, OPRF, stream cipher."""
