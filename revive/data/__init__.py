"""Datasets (one per on-disk layout), their DataModules, and augmentation pipelines."""
