"""The `yiwang` command line."""
