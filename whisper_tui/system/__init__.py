"""The machine and the process: CPU/RAM/GPU gauges, process identity, quiet libraries."""
