"""Scoring models on test folders (``eval.py``), and the metrics that training logs too.

- :mod:`~revive.evaluation.protocol`: ``evaluate(cfg)``, the evaluator of each kind of model,
  tables and files;
- :mod:`~revive.evaluation.denoisers`: DnCNN on clean images with synthetic noise (KAIR's
  protocol, which reproduces the paper's numbers);
- :mod:`~revive.evaluation.colorizers`: colorizers through predict.py's Restorer on test photos
  at full size, against the gray baseline (L* kept, zero chroma);
- :mod:`~revive.evaluation.metrics`: PSNR, SSIM, CIEDE2000, colorfulness (torchmetrics for
  training, 8-bit scores for published tables);
- :mod:`~revive.evaluation.perceptual` and :mod:`~revive.evaluation.inception`: optional LPIPS
  and FID from weight files on disk;
- :mod:`~revive.evaluation.cli`: ``eval.py`` (``revive-eval``).
"""
