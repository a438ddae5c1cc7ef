"""The citizen's own account: what is held about them (export), what they did (history), closing it."""
