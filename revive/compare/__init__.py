"""Compare the runs of a sweep from their local logs: ``revive-compare runs=SWEEP_DIR``.

Reads every run folder under SWEEP_DIR (a folder with ``config_resolved.yaml``, as
``train.py`` writes) and writes into ``SWEEP_DIR/compare/``:

- ``comparison.md`` and ``comparison.csv``: the final metrics of each run by the parameters
  that differ between runs (taken from each run's command-line overrides);
- ``curves.png``: the validation curves of every run;
- ``final_vs_params.png``: the final metric against each swept parameter (e.g. LAB vs RGB);
- ``samples.png``: the same validation images colorized by every run: each run's checkpoint
  colorizes the target images of the first run's last validation panel (or ``images=DIR``);
  runs that are not colorizers (DnCNN) show their own last validation panel;
- with ``test_dir=DIR`` (several: ``test_dir=[DIR,DIR]``): each run's checkpoint scored on DIR
  by ``eval.py``'s colorizer protocol, the test metrics and the gray baseline added to the
  table, and ``test_vs_gray.png``, a bar chart of each metric against the gray baseline per
  folder.

Rooms: :mod:`~revive.compare.runs` (reading runs, the table), :mod:`~revive.compare.plots`
(curves, parameters, samples), :mod:`~revive.compare.testsets` (test folders) and
:mod:`~revive.compare.report` (``compare()`` and the command).
"""
