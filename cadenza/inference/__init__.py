"""Generation: Composer (load once, generate), grammar constraints, rendering to files."""
