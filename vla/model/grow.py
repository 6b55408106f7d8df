"""Grow a trained mean-pooled FiLM model into a ``film_pool="queries"`` one computing the same
function, so a warm start can add the query path without losing what the checkpoint learned.

    mean:     cond = mean(txt)                               (B, d)  -> FiLM Linear(d -> h)
    queries:  cond = [softmax(q_k . K txt) @ txt]_k=1..K     (B, K*d) -> FiLM Linear(K*d -> h')

With the key projection K = 0 every query attends uniformly over the valid tokens, so each
pooled vector is the mean. The grown first FiLM layer holds the trained weights divided by K in
each of its K input blocks (W [m, m, ...] / K = W m); hidden units beyond the trained width
(h' = min(K*d, 512) > h) get small random inputs and zero outputs, so they change nothing at
first and still receive gradients. Training then moves K away from 0 and the queries specialise.
"""

from __future__ import annotations

import copy

import torch

from vla.model.vla_model import VLAModel


def grow_film_queries(model: VLAModel, film_queries: int = 2) -> VLAModel:
    """A ``film_pool="queries"`` copy of a ``film_pool="mean"`` model (same outputs at start)."""
    cfg = model.config
    if not cfg.vision_film or cfg.film_pool != "mean":
        raise ValueError(
            "grow_film_queries starts from a vision_film model with film_pool='mean', got "
            f"vision_film={cfg.vision_film}, film_pool={cfg.film_pool!r}"
        )
    new_cfg = copy.deepcopy(cfg)
    new_cfg.film_pool, new_cfg.film_queries = "queries", int(film_queries)
    grown = VLAModel(new_cfg)  # validates film_queries >= 1
    old_sd = model.state_dict()
    new_sd = grown.state_dict()
    film = "vision.tower.film.mlp."
    kept = {k: v for k, v in old_sd.items() if not k.startswith(film)}
    missing, unexpected = grown.load_state_dict(kept, strict=False)
    assert not unexpected, unexpected
    assert all(k.startswith(film) or k.startswith("film_") for k in missing), missing

    k = new_cfg.film_queries
    w1, b1 = old_sd[film + "0.weight"], old_sd[film + "0.bias"]  # (h, d), (h,)
    w2, b2 = old_sd[film + "2.weight"], old_sd[film + "2.bias"]  # (2C, h), (2C,)
    h, d = w1.shape
    with torch.no_grad():
        nw1 = new_sd[film + "0.weight"].clone()  # (h', K*d), random init
        nb1 = torch.zeros_like(new_sd[film + "0.bias"])
        nw1[:h] = (w1 / k).repeat(1, k)
        nb1[:h] = b1
        nw2 = torch.zeros_like(new_sd[film + "2.weight"])  # (2C, h')
        nw2[:, :h] = w2
        grown.load_state_dict(
            {
                film + "0.weight": nw1,
                film + "0.bias": nb1,
                film + "2.weight": nw2,
                film + "2.bias": b2.clone(),
            },
            strict=False,
        )
        grown.film_key.weight.zero_()  # uniform attention: every query reads the mean
    return grown


def grow_state_token(model: VLAModel) -> VLAModel:
    """A ``use_state=True`` copy of a model trained without the proprioceptive-state token.

    Every trained weight is carried over. The new state projection starts at zero (weights and
    bias), so at first the state token is the same zero vector whatever the state says: the
    state cannot move the output until training moves the projection. Unlike
    :func:`grow_film_queries` this does not keep the function exactly: the extra prefix token
    takes a share of the decoder's attention from the first step.
    """
    cfg = model.config
    if cfg.use_state:
        raise ValueError("grow_state_token starts from a use_state=False model; this one has it")
    new_cfg = copy.deepcopy(cfg)
    new_cfg.use_state = True
    grown = VLAModel(new_cfg)
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected, unexpected
    assert set(missing) <= {"state_proj.weight", "state_proj.bias", "no_state.weight"}, missing
    with torch.no_grad():
        grown.state_proj.weight.zero_()
        grown.state_proj.bias.zero_()
        grown.no_state.weight.zero_()  # a dropped state looks like the zero start
    return grown


def apply_init_overrides(model: VLAModel, overrides: dict) -> VLAModel:
    """The ``model:`` overrides of a run warm-started from ``model`` (``--init_from``): fields
    equal to the checkpoint's change nothing, ``film_pool: queries`` over a mean-pooled FiLM
    checkpoint grows it (:func:`grow_film_queries`), ``use_state: true`` over a checkpoint
    without the state token adds it (:func:`grow_state_token`); any other change is an error,
    since the trained weights fix the architecture."""
    cfg = model.config
    changed = {k: v for k, v in overrides.items() if getattr(cfg, k, object()) != v}
    if changed.get("film_pool") == "queries" and cfg.vision_film and cfg.film_pool == "mean":
        model = grow_film_queries(model, changed.pop("film_queries", cfg.film_queries))
        changed.pop("film_pool")
    if changed.get("use_state") is True and not cfg.use_state:
        model = grow_state_token(model)
        changed.pop("use_state")
    if changed:
        was = {k: getattr(cfg, k, "<unset>") for k in changed}
        raise ValueError(
            f"init_from keeps the checkpoint's architecture: it has {was}, the run asks for "
            f"{changed}. Drop these model overrides, or train from scratch (no --init_from); "
            "the changes a warm start can make are --model.film_pool=queries on a "
            "film_pool=mean checkpoint and --model.use_state=true on one without the state token"
        )
    return model
