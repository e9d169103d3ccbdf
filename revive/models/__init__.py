"""LightningModules: the training logic around the plain networks in ``revive.nets``."""
