"""Files on disk that must survive crashes: atomic writes and the cache folder's upkeep."""
