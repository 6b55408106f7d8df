"""Token metrics on episodes the run never trains on (``vla train --val_dataset=DIR``).

The training log's loss is measured on the batch just trained on. For a policy trained for
many epochs it says little about unseen scenes: a policy memorises its own demonstrations, and
its token loss on fresh ones from the same generator is many times higher. Every ``val_every``
steps this runs the model on a fixed set of samples from ``val_dataset`` (no augmentation, the
inference input chain) and logs:

- ``val_loss``: the cross-entropy of the hard targets (the training loss without any smoothing)
- ``val_accuracy``: the share of action tokens predicted exactly
- ``val_bin_error``: the mean |argmax bin - target bin| over action tokens (how far off, not only
  whether; a 256-bin token one bin off decodes within one bin width)

They say whether a run generalises at all and when it starts to overfit. They do not rank
checkpoints by closed-loop success: runs that score alike here can differ widely in `vla eval`,
so checkpoints are chosen by evaluation.
"""

from __future__ import annotations

import torch

from vla.data.episode_arrays import load_episode_arrays
from vla.data.reader import LeRobotDatasetReader
from vla.policy.transforms import apply_transforms, input_transforms
from vla.train.data import MemoryBatches


class Validation:
    """Loads ``samples`` fixed samples of ``root`` once; :meth:`__call__` scores a model on them.

    The held-out instructions join the text source like a growing dataset's do (a text cache
    must hold them: ``vla text-cache`` names the fix)."""

    def __init__(self, root: str, samples: int, *, cfg, tokenizer, vcfg, stats, cams,
                 text_src, text_tf, device, batch_size: int = 256):  # fmt: skip
        reader = LeRobotDatasetReader(root)
        if reader.camera_keys != cams:
            raise ValueError(f"val_dataset {root}: cameras {reader.camera_keys}, training {cams}")
        eps = list(range(reader.num_episodes))
        instructions = sorted({reader.episode_task(e) for e in eps})
        if hasattr(text_src, "ensure"):
            text_src.ensure(instructions)
        arrays = load_episode_arrays(root, cfg.chunk_size, eps, cfg.decode_workers, instructions)
        self.data = MemoryBatches(arrays, tokenizer, vcfg.max_action_tokens, vcfg.eos_id, device)
        g = torch.Generator().manual_seed(0)
        n = len(self.data)
        self.idx = torch.randperm(n, generator=g)[: min(samples, n)]
        self.chain = input_transforms(cams, vcfg.image_size, stats,
                                      text_tf.with_table(self.data.instructions, device),
                                      cfg.state_norm_mode, train=True)  # fmt: skip
        # train=True: resized to the model's size like training data; no augmentation passed
        self.root = root
        self.n_bins = vcfg.action_vocab_size
        self.batch_size = batch_size
        self.device = device
        self.episodes = len(eps)

    @torch.no_grad()
    def predictions(
        self, model, autocast
    ) -> tuple[float, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(loss_sum, argmax ids, target ids, keep mask)`` over the fixed samples (ids (N, T))."""
        was_training = model.training
        model.eval()
        loss_sum, preds, targets, keeps = 0.0, [], [], []
        for start in range(0, len(self.idx), self.batch_size):
            raw = self.data.batch(self.idx[start : start + self.batch_size], self.device)
            batch = apply_transforms(self.chain, raw)
            with autocast:
                res = model(batch["images"], batch["observation.state"], batch["text"],
                            batch["text_mask"], raw["targets"], raw["target_mask"])  # fmt: skip
            keep = raw["target_mask"].bool()
            loss_sum += float(res["loss"]) * int(keep.sum())  # the loss is the kept tokens' mean
            preds.append(res["logits"].argmax(-1).cpu())
            targets.append(raw["targets"].cpu())
            keeps.append(keep.cpu())
        model.train(was_training)
        return loss_sum, torch.cat(preds), torch.cat(targets), torch.cat(keeps)

    def __call__(self, model, autocast) -> dict[str, float]:
        return self.metrics(*self.predictions(model, autocast))

    def metrics(self, loss_sum: float, pred, target, keep) -> dict[str, float]:
        """The logged metrics from :meth:`predictions`' output."""
        is_bin = keep & (target < self.n_bins)
        tokens = max(int(keep.sum()), 1)
        return {
            "val_loss": loss_sum / tokens,
            "val_accuracy": int(((pred == target) & keep).sum()) / tokens,
            "val_bin_error": float((pred - target).abs()[is_bin].float().mean())
            if is_bin.any()
            else 0.0,
        }

    def report(self, metrics: dict[str, float]) -> str:
        """One line naming the set and its metrics."""
        values = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items())
        return (
            f"held-out ({self.episodes} episodes of {self.root}, {len(self.idx)} samples): {values}"
        )
