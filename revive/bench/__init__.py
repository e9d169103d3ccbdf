"""Speed and memory benchmarks: ``revive-bench [benchmark=NAME]`` (``make bench`` runs them all).

Every speed is measured against a plain baseline in the same run: each in its own fresh
process, the two processes taking turns step by step, so that process-wide settings stay with
their variant, each peak RSS is its own, and load from other work slows both alike:

- ``pix2pix_step``: images/s of a training step (one D + one G step, LAB 1->2, 256x256) with the
  training defaults of this machine, against the official step in plain eager fp32;
- ``dncnn_step``: patches/s of a DnCNN training step, against the plain fp32 step;
- ``dncnn_infer``: megapixels/s of DnCNN inference as ``predict.py`` runs it (BatchNorm folded,
  bf16 where native), against eager fp32 with BatchNorm layers;
- ``revive_24mp``: seconds and peak RSS to revive a 24 MP scan (with and without denoising);
- ``app_load``: the web page with N sessions reviving at once: seconds to the first and the
  last result, the server's peak RSS;
- ``data_<name>``: training samples/s of one DataLoader worker for each datamodule.

Records go to a JSON list (``json=PATH``) and to a table on the terminal.
"""
