"""rwc key server: releases per-container VOPRF evaluations, audited, revocable.

spec §protocol (spec/protocol.md) is the normative description of the HTTP API.
"""
