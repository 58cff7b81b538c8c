"""Worker scripts: each runs under the Python of the env it measures and prints one JSON line."""
