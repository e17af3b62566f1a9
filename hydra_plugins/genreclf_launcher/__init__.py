"""genreclf's Hydra launcher plugin (Hydra loads launchers from ``hydra_plugins`` only)."""
