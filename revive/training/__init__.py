"""Training: ``train(cfg)`` in :mod:`~revive.training.run` and everything around a fit.

- :mod:`~revive.training.run`: ``train(cfg) -> metrics``, the run record, resuming;
- :mod:`~revive.training.trainer`: the Trainer factory and its speed defaults;
- :mod:`~revive.training.callbacks`: image panels, random states in checkpoints, replica check;
- :mod:`~revive.training.checkpoints`: atomic checkpoint writes;
- :mod:`~revive.training.loggers`: wandb settings (group, tags, run id);
- :mod:`~revive.training.run_dir`: run folders named from their overrides;
- :mod:`~revive.training.cli`: ``train.py`` (``revive-train``).

Nothing is imported here, so that Hydra can load the light modules (``run_dir``) without
Lightning.
"""
