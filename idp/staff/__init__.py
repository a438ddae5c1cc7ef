"""Staff: persons who hold console roles, and their console sessions."""
