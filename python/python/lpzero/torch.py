"""Gathering lpzero's proxy inputs from a PyTorch model with forward and backward hooks.

    >>> import lpzero, lpzero.torch
    >>> inputs = lpzero.torch.gather(model, batch, loss_fn)        # a Hugging Face GPT-2, BERT or LLaMA
    >>> lpzero.Proxy("sum(abs(G * W))").score(inputs)

What each input holds (the same as lpzero's own gather, ``docs/GUIDE.md``):

* ``W``, ``G``: the weight of every linear layer of the blocks, in forward order, in ``[out, in]``
  layout (Hugging Face GPT-2's ``Conv1D`` stores ``[in, out]``: it is transposed), and its
  gradient;
* ``A``, ``GA``: the output of every FFN non-linearity and the gradient of the loss with respect
  to it;
* ``H``, ``GH``: the per-head attention outputs (the context before the output projection),
  ``[batch, head, token, dim]``, and their gradients;
* ``S``: the attention probabilities ``[batch, head, query, key]``;
* ``J``: the gradient of the loss with respect to the input embeddings (what enters the first
  block), one entry ``[batch, token, dim]``;
* ``P``: every parameter tensor (each once).

Only what ``need`` lists is collected, and the backward pass runs only when a gradient input is
needed. Which modules hold what is a :class:`ModuleMap`; ready-made ones exist for Hugging Face
GPT-2, BERT and LLaMA models (:func:`module_map` picks by ``model.config.model_type``), and your
own is a few lines (see :class:`ModuleMap`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch

from . import Inputs

GRADIENTS = {"G", "GA", "GH", "J"}
ALL = ["A", "GA", "H", "GH", "S", "W", "G", "J", "P"]
# Inputs of the language that this module does not gather yet: FFN pre-activations, Synflow's
# and GraSP's gradients (they need passes of their own), and the architecture scalars L, D, N
# (what a configuration states; an inputs file may carry them as rank-0 tensors `L.0`, ...).
NOT_FROM_TORCH = {"Z", "GS", "HG", "L", "D", "N"}


@dataclass
class ModuleMap:
    """Where a model keeps what the proxy inputs read, by module name (``model.named_modules()``).

    * ``linear``: the linear layers of the blocks whose weights are ``W`` (their order in the
      forward pass is the order of ``W``); ``transposed`` names those stored ``[in, out]``.
    * ``ffn_act``: modules whose *output* is an FFN activation (``A``); ``ffn_act_inputs``:
      modules whose *input* is one (for a gated FFN, the input of the down projection).
    * ``heads``: ``(module, heads)`` pairs whose input is the merged per-head context
      ``[batch, token, heads·dim]`` (the attention output projection).
    * ``embedding``: the module whose input (``embedding_side="input"``) or output is the input
      embedding of the first block (``J``).
    * ``attention``: ``"output_attentions"`` (the model returns its attention probabilities when
      called with ``output_attentions=True``) or names of modules whose output is ``[batch, head,
      query, key]`` probabilities.
    """

    linear: List[str]
    transposed: List[str] = field(default_factory=list)
    ffn_act: List[str] = field(default_factory=list)
    ffn_act_inputs: List[str] = field(default_factory=list)
    heads: List[Tuple[str, int]] = field(default_factory=list)
    embedding: Optional[str] = None
    embedding_side: str = "output"
    attention: object = "output_attentions"


def gpt2_map(model) -> ModuleMap:
    """Hugging Face ``GPT2Model`` / ``GPT2LMHeadModel``."""
    t = model.transformer if hasattr(model, "transformer") else model
    prefix = "transformer." if hasattr(model, "transformer") else ""
    heads = model.config.n_head
    linear, ffn, hs = [], [], []
    for i, _ in enumerate(t.h):
        b = f"{prefix}h.{i}"
        linear += [f"{b}.attn.c_attn", f"{b}.attn.c_proj", f"{b}.mlp.c_fc", f"{b}.mlp.c_proj"]
        ffn.append(f"{b}.mlp.act")
        hs.append((f"{b}.attn.c_proj", heads))
    return ModuleMap(linear=linear, transposed=list(linear), ffn_act=ffn, heads=hs, embedding=f"{prefix}drop", embedding_side="input")


def bert_map(model) -> ModuleMap:
    """Hugging Face ``BertModel`` and the BERT heads built on it."""
    prefix = "bert." if hasattr(model, "bert") else ""
    enc = (model.bert if hasattr(model, "bert") else model).encoder
    heads = model.config.num_attention_heads
    linear, ffn, hs = [], [], []
    for i, _ in enumerate(enc.layer):
        b = f"{prefix}encoder.layer.{i}"
        linear += [f"{b}.attention.self.query", f"{b}.attention.self.key", f"{b}.attention.self.value", f"{b}.attention.output.dense", f"{b}.intermediate.dense", f"{b}.output.dense"]
        ffn.append(f"{b}.intermediate.intermediate_act_fn")
        hs.append((f"{b}.attention.output.dense", heads))
    return ModuleMap(linear=linear, ffn_act=ffn, heads=hs, embedding=f"{prefix}embeddings", embedding_side="output")


def llama_map(model) -> ModuleMap:
    """Hugging Face ``LlamaModel`` / ``LlamaForCausalLM``: ``A`` is the gated activation
    ``act(gate(x)) · up(x)`` that enters the down projection."""
    prefix = "model." if hasattr(model, "model") else ""
    layers = (model.model if hasattr(model, "model") else model).layers
    heads = model.config.num_attention_heads
    linear, acts, hs = [], [], []
    for i, _ in enumerate(layers):
        b = f"{prefix}layers.{i}"
        linear += [f"{b}.self_attn.q_proj", f"{b}.self_attn.k_proj", f"{b}.self_attn.v_proj", f"{b}.self_attn.o_proj", f"{b}.mlp.gate_proj", f"{b}.mlp.up_proj", f"{b}.mlp.down_proj"]
        acts.append(f"{b}.mlp.down_proj")
        hs.append((f"{b}.self_attn.o_proj", heads))
    return ModuleMap(linear=linear, ffn_act_inputs=acts, heads=hs, embedding=f"{prefix}embed_tokens", embedding_side="output")


MAPS: Dict[str, Callable] = {"gpt2": gpt2_map, "bert": bert_map, "llama": llama_map}


def module_map(model) -> ModuleMap:
    """The ready-made map of a Hugging Face model, by ``model.config.model_type``."""
    kind = getattr(getattr(model, "config", None), "model_type", None)
    if kind not in MAPS:
        raise ValueError(f"no ready-made module map for model type {kind!r} (known: {', '.join(MAPS)}); pass module_map=ModuleMap(...)")
    return MAPS[kind](model)


def _host(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float32).cpu().contiguous().numpy()


def gather(
    model: torch.nn.Module,
    batch: dict,
    loss_fn: Callable[[object, dict], torch.Tensor],
    need: Optional[Iterable[str]] = None,
    module_map: Optional[ModuleMap] = None,
    arch: str = "model",
    **metadata,
) -> Inputs:
    """Runs ``model(**batch)`` (with ``output_attentions=True`` when ``S`` is needed and the map
    says so), ``loss = loss_fn(outputs, batch)``, and the backward pass when a gradient input is
    needed, and returns the inputs the hooks saw. ``need`` lists the inputs to collect (the nine it gathers by
    default; e.g. the union of ``Proxy.inputs`` of the proxies to score). The model is put in
    evaluation mode (dropout off, as lpzero gathers) and its gradients are zeroed first; its
    parameters are not changed. ``metadata`` (``seed``, ``family``, ...) is
    stored with the inputs (``batch`` and ``seq_len`` are read off ``input_ids``)."""
    start = time.perf_counter()
    need = set(ALL if need is None else need)
    unknown = need - set(ALL)
    later = unknown & NOT_FROM_TORCH
    if later:
        raise ValueError(f"inputs {sorted(later)} are not gathered from PyTorch models yet (lpzero's own families gather them: `lpzero gather`); this gathers {' '.join(ALL)}")
    if unknown:
        raise ValueError(f"unknown inputs {sorted(unknown)} (inputs are {' '.join(ALL)})")
    mm = module_map or globals()["module_map"](model)
    modules = dict(model.named_modules())
    missing = [n for n in mm.linear + mm.ffn_act + mm.ffn_act_inputs + [h for h, _ in mm.heads] + ([mm.embedding] if mm.embedding else []) if n not in modules]
    if missing:
        raise ValueError(f"the module map names modules the model does not have: {missing[:5]}")
    backward = bool(need & GRADIENTS)
    was_training = model.training
    model.eval()
    model.zero_grad(set_to_none=True)
    handles, order, acts, heads, emb, probs = [], [], [], [], [], []

    def keep(t):
        if backward and t.requires_grad:
            t.retain_grad()
        return t

    if need & {"W", "G"}:
        for name in mm.linear:
            handles.append(modules[name].register_forward_hook(lambda m, i, o, name=name: order.append(name)))
    if need & {"A", "GA"}:
        for name in mm.ffn_act:
            handles.append(modules[name].register_forward_hook(lambda m, i, o: acts.append(keep(o))))
        for name in mm.ffn_act_inputs:
            handles.append(modules[name].register_forward_pre_hook(lambda m, i: acts.append(keep(i[0]))))
    if need & {"H", "GH"}:
        for name, n in mm.heads:
            handles.append(modules[name].register_forward_pre_hook(lambda m, i, n=n: heads.append((keep(i[0]), n))))
    if "J" in need and mm.embedding:
        if mm.embedding_side == "input":
            handles.append(modules[mm.embedding].register_forward_pre_hook(lambda m, i: emb.append(keep(i[0]))))
        else:
            handles.append(modules[mm.embedding].register_forward_hook(lambda m, i, o: emb.append(keep(o))))
    if "S" in need and mm.attention != "output_attentions":
        for name in mm.attention:
            handles.append(modules[name].register_forward_hook(lambda m, i, o: probs.append(o.detach())))
    # Attention probabilities come only from the eager attention of Hugging Face models (SDPA
    # and flash attention never form them): switched to it for this pass, and back.
    config = getattr(model, "config", None)
    attn_impl = getattr(config, "_attn_implementation", None)
    eager = "S" in need and mm.attention == "output_attentions" and attn_impl not in (None, "eager")
    try:
        if eager:
            config._attn_implementation = "eager"
        kwargs = dict(batch)
        if "S" in need and mm.attention == "output_attentions":
            kwargs["output_attentions"] = True
        with torch.enable_grad():
            out = model(**kwargs)
            loss = loss_fn(out, batch)
            if backward:
                loss.backward()
    finally:
        for h in handles:
            h.remove()
        if eager:
            config._attn_implementation = attn_impl
        model.train(was_training)
    arrays: Dict[str, List[np.ndarray]] = {}
    names_of: Dict[str, List[str]] = {}
    if need & {"W", "G"}:
        transposed = set(mm.transposed)
        ws, gs = [], []
        for name in order:
            w = modules[name].weight
            t = (lambda x: x.t()) if name in transposed else (lambda x: x)
            ws.append(_host(t(w)))
            gs.append(_host(t(w.grad)) if w.grad is not None else np.zeros(ws[-1].shape, np.float32))
        if "W" in need:
            arrays["W"], names_of["W"] = ws, list(order)
        if "G" in need:
            arrays["G"], names_of["G"] = gs, list(order)
    if need & {"A", "GA"}:
        if "A" in need:
            arrays["A"] = [_host(a) for a in acts]
        if "GA" in need:
            arrays["GA"] = [_host(a.grad) if a.grad is not None else np.zeros(a.shape, np.float32) for a in acts]
    if need & {"H", "GH"}:
        def split(t, n):
            b, s, w = t.shape
            return t.reshape(b, s, n, w // n).permute(0, 2, 1, 3)
        if "H" in need:
            arrays["H"] = [_host(split(h, n)) for h, n in heads]
        if "GH" in need:
            arrays["GH"] = [_host(split(h.grad, n)) if h.grad is not None else np.zeros(_host(split(h, n)).shape, np.float32) for h, n in heads]
    if "S" in need:
        if mm.attention == "output_attentions":
            att = getattr(out, "attentions", None)
            if not att or any(a is None for a in att):
                raise ValueError("the model returned no attention probabilities (load it with attn_implementation=\"eager\")")
            arrays["S"] = [_host(a) for a in att]
        else:
            arrays["S"] = [_host(p) for p in probs]
    if "J" in need:
        if not emb or emb[0].grad is None:
            raise ValueError("no gradient reached the embedding module of the map")
        arrays["J"] = [_host(emb[0].grad)]
    if "P" in need:
        # Each parameter once (tied ones under their first name), weights of `transposed`
        # modules in [out, in] layout as in W.
        flipped = {f"{name}.weight" for name in mm.transposed}
        seen, ps, pnames = set(), [], []
        for name, p in model.named_parameters():
            if id(p) in seen:
                continue
            seen.add(id(p))
            ps.append(_host(p.t() if name in flipped and p.dim() == 2 else p))
            pnames.append(name)
        arrays["P"], names_of["P"] = ps, pnames
    params = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    inputs = Inputs(arrays, arch=arch)
    meta = dict(loss=float(loss.detach()), params=int(params), framework=f"torch {torch.__version__}", gather_seconds=time.perf_counter() - start)
    ids = batch.get("input_ids")
    if isinstance(ids, torch.Tensor) and ids.dim() == 2:
        meta.update(batch=int(ids.shape[0]), seq_len=int(ids.shape[1]))
    meta.update(metadata)
    inputs.update_metadata(**meta)
    m = inputs.metadata
    m["modules"] = names_of
    # The minibatch: the batch's integer tensors, flattened row-major.
    m["minibatch"] = {k: [int(x) for x in v.detach().reshape(-1).cpu().tolist()] for k, v in batch.items() if isinstance(v, torch.Tensor) and not v.is_floating_point()}
    inputs._raw.set_meta_json(json.dumps(m))
    return inputs
