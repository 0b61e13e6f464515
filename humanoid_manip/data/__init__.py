"""Episode files (MCAP), validation, lineage and the dataset index."""
