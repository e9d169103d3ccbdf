"""Scoring models on test folders (``eval.py``), and the metrics that training logs too.

- :mod:`~revive.evaluation.protocol`: ``evaluate(cfg)``, the evaluator of each kind of model,
  tables and files;
- :mod:`~revive.evaluation.denoisers`: DnCNN on clean images with synthetic noise (KAIR's
  protocol, which reproduces the paper's numbers);
- :mod:`~revive.evaluation.metrics`: PSNR, SSIM, colorfulness (torchmetrics for training, 8-bit
  numpy scores for published tables);
- :mod:`~revive.evaluation.cli`: ``eval.py`` (``revive-eval``).
"""
