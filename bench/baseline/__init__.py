"""The benchmark's baseline: the least a DRF POST endpoint can do that still records an
event durably (one insert and one counter upsert in one transaction)."""
