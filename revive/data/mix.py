"""A weighted mix of datasets, e.g. ``data=mix data.sources=[celeba,art] data.weights=[0.7,0.3]``.

The seed found that a varied mix generalizes better. Weights are honoured in *every* epoch, not
only on average: :class:`WeightedEpochSampler` draws exactly ``round(weight * epoch_length)``
samples from each source per epoch, without repeats within a source until it is exhausted, from
a generator seeded by ``(seed, epoch)``. Validation and test are the sources' own splits, joined.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Sampler

from revive.data.module import SPLITS, ImageDataModule
from revive.errors import UserError

log = logging.getLogger(__name__)

# Settings that must agree across sources so that their samples can share a batch.
SHARED_KEYS = ("load_size", "crop_size", "flip", "random_resized_crop", "seed")
# Sources that cannot train a colorizer.
NO_TARGETS = ("family",)


def allocate(weights: Sequence[float], total: int) -> list[int]:
    """Split ``total`` into integer counts proportional to ``weights`` (largest remainder)."""
    w = np.asarray(weights, dtype=np.float64)
    exact = w / w.sum() * total
    counts = np.floor(exact).astype(np.int64)
    short = total - int(counts.sum())
    counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    return counts.tolist()


class WeightedEpochSampler(Sampler[int]):
    """Indices into a ConcatDataset of sources with the given sizes, ``epoch_length`` per epoch.

    Each source contributes its exact share; within a source, indices come from consecutive
    random permutations, so no sample repeats before the source has been seen whole. Lightning
    calls :meth:`set_epoch` each epoch; without it every ``iter`` moves to the next epoch.
    """

    def __init__(
        self, sizes: Sequence[int], weights: Sequence[float], epoch_length: int, seed: int = 0
    ):
        if len(sizes) != len(weights):
            raise UserError(f"{len(sizes)} sources but {len(weights)} weights")
        if any(s <= 0 for s in sizes):
            raise UserError(f"every source needs at least one sample, got sizes {list(sizes)}")
        self.sizes, self.weights = list(sizes), list(weights)
        self.epoch_length, self.seed = int(epoch_length), seed
        self.offsets = np.cumsum([0] + self.sizes[:-1]).tolist()
        self.counts = allocate(self.weights, self.epoch_length)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def indices(self, epoch: int) -> np.ndarray:
        """The shuffled indices of ``epoch`` (deterministic in ``seed`` and ``epoch``)."""
        rng = np.random.default_rng([self.seed, epoch])
        parts = []
        for size, offset, count in zip(self.sizes, self.offsets, self.counts, strict=True):
            passes = -(-count // size)  # ceil
            order = np.concatenate([rng.permutation(size) for _ in range(passes)])[:count]
            parts.append(order + offset)
        chosen = np.concatenate(parts) if parts else np.empty(0, np.int64)
        rng.shuffle(chosen)
        return chosen

    def __iter__(self) -> Iterator[int]:
        chosen = self.indices(self.epoch)
        self.epoch += 1
        return iter(chosen.tolist())

    def __len__(self) -> int:
        return self.epoch_length


def _root_of(roots: Mapping[str, Any] | None, name: str) -> str | None:
    """``data.roots.<name>``; None leaves the source's own ``root`` in place."""
    # Checked first: ``name in roots`` is False for a ``???`` entry.
    if isinstance(roots, DictConfig) and OmegaConf.is_missing(roots, name):
        raise UserError(f"mix source {name!r} needs its folder: add data.roots.{name}=PATH")
    if roots is None or name not in roots:
        return None
    return str(roots[name])


class MixDataModule(ImageDataModule):
    """Sources built from their own data configs (``options``), with roots from ``roots``.

    ``<source>_root=PATH`` (e.g. ``data.landscapes_root``) is a shorthand for
    ``roots.<source>=PATH`` and wins over it.
    """

    def __init__(
        self,
        sources: Sequence[str],
        weights: Sequence[float],
        options: Mapping[str, Any],
        roots: Mapping[str, Any] | None = None,
        epoch_length: int | None = None,
        **kwargs: Any,
    ) -> None:
        named = {k[: -len("_root")]: kwargs.pop(k) for k in list(kwargs) if k.endswith("_root")}
        for name in named:
            if name not in sources:
                raise UserError(f"data.{name}_root is set but {name!r} is not in data.sources")
        super().__init__(**kwargs)
        sources, weights = list(sources), [float(w) for w in weights]
        if not sources:
            raise UserError("data.sources is empty; e.g. data.sources=[celeba,art]")
        if len(set(sources)) != len(sources):
            raise UserError(f"data.sources lists a source twice: {sources}")
        if len(weights) != len(sources):
            raise UserError(
                f"data.sources={sources} has {len(sources)} entries but data.weights={weights} "
                f"has {len(weights)}"
            )
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise UserError(f"data.weights={weights} must be >= 0 and not all zero")
        for name in sources:
            if name in NO_TARGETS:
                raise UserError(
                    f"data.sources contains {name!r}, which has no color targets and cannot "
                    "train a colorizer; mix celeba, art, colorization or folder"
                )
            if name not in options:
                raise UserError(
                    f"unknown mix source {name!r}; known: {sorted(options)}. Add a data config "
                    f"with +data@data.options.{name}={name} and set data.roots.{name}=PATH"
                )
        self.sources, self.weights = sources, weights
        self.epoch_length = epoch_length
        shared = {
            "load_size": self.load_size,
            "crop_size": self.crop_size,
            "flip": self.flip,
            "random_resized_crop": self.random_resized_crop,
            "seed": self.seed,
        }
        self.modules = {
            name: self._build_source(
                name, options[name], named.get(name) or _root_of(roots, name), shared
            )
            for name in sources
        }
        self.sampler: WeightedEpochSampler | None = None

    @staticmethod
    def _build_source(
        name: str, option: Any, root: Any, shared: Mapping[str, Any]
    ) -> ImageDataModule:
        cfg = OmegaConf.create(
            OmegaConf.to_container(option, resolve=True)
            if isinstance(option, DictConfig)
            else option
        )
        if root is not None:
            cfg.root = str(root)
        for key in SHARED_KEYS:
            cfg[key] = shared[key]
        if "output" in cfg:
            cfg.output = "rgb"  # one batch format for all sources (colorization yields LAB)
        module = instantiate(cfg, _convert_="all")
        if not isinstance(module, ImageDataModule):
            raise TypeError(
                f"mix source {name!r} built a {type(module).__name__}, not a datamodule"
            )
        return module

    def check_layout(self) -> None:
        for module in self.modules.values():
            module.check_layout()

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        for module in self.modules.values():
            module.setup(stage)
        for split in SPLITS:
            parts = [self._split_of(m, split) for m in self.modules.values()]
            if split == "train":
                self.datasets[split] = self.degraded(ConcatDataset(parts))
                sizes = [len(p) for p in parts]
                length = self.epoch_length or sum(sizes)
                self.sampler = WeightedEpochSampler(sizes, self.weights, length, self.seed)
                log.info(
                    "mix: %s, %d training samples per epoch (%s)",
                    ", ".join(
                        f"{n} {w:g}" for n, w in zip(self.sources, self.weights, strict=True)
                    ),
                    length,
                    ", ".join(
                        f"{n} {c}" for n, c in zip(self.sources, self.sampler.counts, strict=True)
                    ),
                )
            else:
                present = [p for p in parts if p is not None]
                if present:
                    self.datasets[split] = ConcatDataset(present)

    @staticmethod
    def _split_of(module: ImageDataModule, split: str) -> Dataset | None:
        if split == "train":
            return module.datasets["train"]
        if split in module.datasets:
            return module.datasets[split]
        # A source without a test split contributes its val split, as its own test loader would.
        return module.datasets.get("val") if split == "test" else None

    def source_sizes(self) -> dict[str, dict[str, int]]:
        """Samples per split of each source, for ``revive.data.inspect``."""
        self.setup()
        return {
            name: {s: len(ds) for s, ds in module.datasets.items()}
            for name, module in self.modules.items()
        }

    def train_dataloader(self) -> DataLoader:
        self.setup("fit")
        return self._loader("train", shuffle=False, sampler=self.sampler)
