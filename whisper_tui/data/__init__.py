"""Audio and datasets: reading clips and metadata.csv, checks, splits, importers, sample speech."""
