"""lpzero.torch.gather on Hugging Face models: what each input holds, checked against values
computed here without the hooks, and the cross-check against lpzero's own gather of the same
GPT-2 (same weights, same minibatch): every stdlib proxy agrees within 1e-4 relative.

These tests need torch and transformers (``.ci/run`` installs the CPU wheels); without them they
skip, unless LPZERO_REQUIRE_ALL=1.
"""

import math
import pathlib
import subprocess

import numpy as np
import pytest

import lpzero
from conftest import missing, run_cli

try:
    import torch
    import transformers
    import lpzero.torch as lt
except ImportError as e:  # pragma: no cover - exercised where torch is absent
    torch = None
    IMPORT_ERROR = e


@pytest.fixture(autouse=True)
def _need_torch():
    if torch is None:
        missing(f"torch/transformers ({IMPORT_ERROR})")
    torch.manual_seed(0)


def lm_loss(targets):
    """Mean next-token cross-entropy against `targets` ([batch, seq])."""

    def loss(out, batch):
        logits = out.logits
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))

    return loss


def tiny_gpt2(vocab=97, n_layer=2, d=16, heads=2, inner=24, positions=32):
    cfg = transformers.GPT2Config(
        vocab_size=vocab, n_positions=positions, n_embd=d, n_layer=n_layer, n_head=heads, n_inner=inner,
        activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0,
    )
    cfg._attn_implementation = "eager"
    return transformers.GPT2LMHeadModel(cfg).eval()


def tiny_llama(vocab=89, n_layer=2, d=16, heads=4, kv=2, inner=40):
    cfg = transformers.LlamaConfig(
        vocab_size=vocab, hidden_size=d, intermediate_size=inner, num_hidden_layers=n_layer, num_attention_heads=heads,
        num_key_value_heads=kv, max_position_embeddings=64, tie_word_embeddings=False,
    )
    cfg._attn_implementation = "eager"
    return transformers.LlamaForCausalLM(cfg).eval()


def tiny_bert(vocab=83, n_layer=2, d=16, heads=2, inner=32):
    cfg = transformers.BertConfig(
        vocab_size=vocab, hidden_size=d, num_hidden_layers=n_layer, num_attention_heads=heads, intermediate_size=inner,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, max_position_embeddings=64,
    )
    cfg._attn_implementation = "eager"
    return transformers.BertForMaskedLM(cfg).eval()


def ids_and_targets(vocab, batch=2, seq=8, seed=1):
    g = torch.Generator().manual_seed(seed)
    stream = torch.randint(0, vocab, (batch, seq + 1), generator=g)
    return stream[:, :-1].contiguous(), stream[:, 1:].contiguous()


def test_gpt2_inputs_hold_what_the_guide_says():
    model = tiny_gpt2()
    ids, targets = ids_and_targets(97)
    inputs = lt.gather(model, {"input_ids": ids}, lm_loss(targets), arch="g")
    assert sorted(inputs.names) == sorted(lt.ALL)
    # W: every block linear in forward order, [out, in] (Conv1D stores [in, out]).
    h0 = model.transformer.h[0]
    assert len(inputs["W"]) == 8 and len(inputs["G"]) == 8
    np.testing.assert_array_equal(inputs["W"][0], h0.attn.c_attn.weight.detach().numpy().T)
    np.testing.assert_array_equal(inputs["W"][3], h0.mlp.c_proj.weight.detach().numpy().T)
    assert inputs["W"][2].shape == (24, 16)
    assert inputs.metadata["modules"]["W"][:4] == ["transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_fc", "transformer.h.0.mlp.c_proj"]
    # G: the gradient of the same loss, recomputed here without hooks.
    model.zero_grad()
    loss = lm_loss(targets)(model(input_ids=ids), None)
    loss.backward()
    np.testing.assert_allclose(inputs["G"][0], h0.attn.c_attn.weight.grad.numpy().T, rtol=1e-5, atol=1e-8)
    assert inputs.metadata["loss"] == pytest.approx(float(loss.detach()), rel=1e-6)
    # S: [batch, head, query, key] probabilities, causal (rows sum to 1, nothing above the diagonal).
    s = inputs["S"][0]
    assert s.shape == (2, 2, 8, 8)
    np.testing.assert_allclose(s.sum(-1), 1.0, rtol=1e-5)
    assert np.all(np.triu(s, 1) == 0)
    # H: per-head context [batch, head, token, dim]; J: [batch, token, d_model].
    assert inputs["H"][1].shape == (2, 2, 8, 8) and inputs["GH"][1].shape == (2, 2, 8, 8)
    assert inputs["J"][0].shape == (2, 8, 16)
    assert inputs["A"][0].shape == (2, 8, 24)
    # The minibatch is recorded with the inputs.
    assert inputs.metadata["minibatch"]["input_ids"] == ids.reshape(-1).tolist()
    # P: each parameter once (the tied output head is the token embedding).
    assert sum(p.size for p in inputs["P"]) == sum(p.numel() for p in model.parameters())
    assert inputs.metadata["params"] == sum(p.numel() for p in model.parameters())


def test_llama_activation_is_the_gated_product_and_j_the_embedding_gradient():
    model = tiny_llama()
    ids, targets = ids_and_targets(89, seed=2)
    inputs = lt.gather(model, {"input_ids": ids}, lm_loss(targets), arch="l")
    assert len(inputs["W"]) == 14
    # Grouped-query attention: k and v project to kv_heads · head_dim = 2 · 4.
    assert inputs["W"][1].shape == (8, 16) and inputs["W"][0].shape == (16, 16)
    # A: act(gate(x)) · up(x) of the first layer, recomputed from the MLP's input.
    seen = []
    mlp = model.model.layers[0].mlp
    h = mlp.register_forward_pre_hook(lambda m, i: seen.append(i[0].detach()))
    with torch.no_grad():
        model(input_ids=ids)
    h.remove()
    x = seen[0]
    with torch.no_grad():
        a = (mlp.act_fn(mlp.gate_proj(x)) * mlp.up_proj(x)).numpy()
    np.testing.assert_allclose(inputs["A"][0], a, rtol=1e-5, atol=1e-7)
    # J: d loss / d input embeddings, from a run that feeds the embeddings in.
    emb = model.model.embed_tokens(ids).detach().requires_grad_(True)
    loss = lm_loss(targets)(model(inputs_embeds=emb), None)
    loss.backward()
    np.testing.assert_allclose(inputs["J"][0], emb.grad.numpy(), rtol=1e-4, atol=1e-9)
    # S has every query head.
    assert inputs["S"][0].shape == (2, 4, 8, 8)


def test_bert_map_and_only_what_is_needed():
    model = tiny_bert()
    ids = torch.randint(0, 83, (2, 8), generator=torch.Generator().manual_seed(3))
    labels = ids.clone()

    def mlm(out, batch):
        return torch.nn.functional.cross_entropy(out.logits.reshape(-1, 83), labels.reshape(-1))

    full = lt.gather(model, {"input_ids": ids}, mlm, arch="b")
    assert len(full["W"]) == 12 and len(full["A"]) == 2
    np.testing.assert_array_equal(full["W"][0], model.bert.encoder.layer[0].attention.self.query.weight.detach().numpy())
    # Only W: no backward pass, no gradient left on the model.
    only_w = lt.gather(model, {"input_ids": ids}, mlm, need=lpzero.Proxy("sum(sq(W))").inputs, arch="b")
    assert only_w.names == ["W"]
    assert all(p.grad is None for p in model.parameters())
    # The proxy scores the same on either.
    assert lpzero.Proxy("sum(sq(W))").score(only_w) == pytest.approx(lpzero.Proxy("sum(sq(W))").score(full), rel=0)
    with pytest.raises(ValueError, match="unknown inputs"):
        lt.gather(model, {"input_ids": ids}, mlm, need=["Q"])
    with pytest.raises(ValueError, match=r"\['GS'\] are not gathered from PyTorch models yet"):
        lt.gather(model, {"input_ids": ids}, mlm, need=lpzero.Proxy("sum(abs(W * GS))").inputs)


def test_own_module_map():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(11, 6)
            self.up = torch.nn.Linear(6, 10)
            self.act = torch.nn.ReLU()
            self.down = torch.nn.Linear(10, 11)

        def forward(self, input_ids):
            return self.down(self.act(self.up(self.emb(input_ids))))

    net = Net()
    ids = torch.tensor([[1, 2, 3], [4, 5, 6]])
    mm = lt.ModuleMap(linear=["up", "down"], ffn_act=["act"], embedding="emb")

    def loss(out, batch):
        return out.logsumexp(-1).mean()

    inputs = lt.gather(net, {"input_ids": ids}, loss, need=["W", "G", "A", "J"], module_map=mm, arch="net")
    assert [w.shape for w in inputs["W"]] == [(10, 6), (11, 10)]
    assert inputs["A"][0].shape == (2, 3, 10) and inputs["A"][0].min() >= 0
    assert inputs["J"][0].shape == (2, 3, 6)
    with pytest.raises(ValueError, match="does not have"):
        lt.gather(net, {"input_ids": ids}, loss, module_map=lt.ModuleMap(linear=["nope"]))
    with pytest.raises(ValueError, match="no ready-made module map"):
        lt.gather(net, {"input_ids": ids}, loss)


# The cross-check. GPT-2s that lpzero builds and Hugging Face also has: one cluster (div_val 1,
# no cutoffs), d_embed = d_model, the same heads and FFN width in every layer.
def cross_config(n_layer, d, heads, inner):
    return f"""adaptive: true
cutoffs: []
d_embed: {d}
d_inner: {[inner] * n_layer}
d_model: {d}
div_val: 1
dropatt: 0.0
dropout: 0.1
n_head: {[heads] * n_layer}
n_layer: {n_layer}
n_token: 50257
proj_init_std: 0.01
tgt_len: 64
tie_projs: [false]
tie_weight: true
weight_init_std: 0.02
"""


def hf_twin(inputs: lpzero.Inputs, n_layer, d, heads, inner):
    """The Hugging Face GPT2LMHeadModel computing what lpzero's GPT-2 flex model computes, with
    lpzero's parameters (from its P input, by the names in its metadata): Conv1D weights
    transposed, the output bias lpzero's adaptive softmax has (zero at initialisation) added to the
    tied head, and the √d_model scale of the token embedding as a forward hook."""
    names = inputs.metadata["modules"]["P"]
    p = dict(zip(names, inputs["P"]))
    cfg = transformers.GPT2Config(
        vocab_size=50257, n_positions=64, n_embd=d, n_layer=n_layer, n_head=heads, n_inner=inner, activation_function="gelu_new",
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5,
    )
    cfg._attn_implementation = "eager"
    model = transformers.GPT2LMHeadModel(cfg).eval()
    model.lm_head = torch.nn.Linear(d, 50257, bias=True)
    model.lm_head.weight = model.transformer.wte.weight
    state = {"transformer.wte.weight": p["wte.emb.0"], "transformer.wpe.weight": p["wpe"], "transformer.ln_f.weight": p["ln_f.weight"], "transformer.ln_f.bias": p["ln_f.bias"], "lm_head.bias": p["crit.bias.0"]}
    for l in range(n_layer):
        for part in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"):
            state[f"transformer.h.{l}.{part}.weight"] = p[f"h.{l}.{part}.weight"].T
            state[f"transformer.h.{l}.{part}.bias"] = p[f"h.{l}.{part}.bias"]
        for ln in ("ln_1", "ln_2"):
            state[f"transformer.h.{l}.{ln}.weight"] = p[f"h.{l}.{ln}.weight"]
            state[f"transformer.h.{l}.{ln}.bias"] = p[f"h.{l}.{ln}.bias"]
    assert len(state) == len(names) == len(dict(model.named_parameters())), "every parameter mapped once"
    missing_keys, unexpected = model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, strict=False)
    assert not unexpected and all(k == "lm_head.weight" for k in missing_keys), (missing_keys, unexpected)
    model.transformer.wte.register_forward_hook(lambda m, i, o: o * math.sqrt(d))
    return model, _hf_names(names)


def _hf_names(names):
    """Hugging Face's name of each of lpzero's GPT-2 parameter names."""
    fixed = {"wte.emb.0": "transformer.wte.weight", "wpe": "transformer.wpe.weight", "crit.bias.0": "lm_head.bias"}
    return {(fixed.get(n) or f"transformer.{n}"): n for n in names}


@pytest.mark.parametrize("n_layer,d,heads,inner,seed", [(2, 32, 2, 64, 3), (3, 48, 4, 96, 7)])
def test_cross_check_with_lpzeros_own_gather(tmp_path, lpzero_bin, n_layer, d, heads, inner, seed):
    bench = tmp_path / "bench"
    (bench / "config_0" / "j0").mkdir(parents=True)
    (bench / "config_0" / "j0" / "model_config.yaml").write_text(cross_config(n_layer, d, heads, inner))
    (bench / "ppl_summary.yaml").write_text("config_0_j0:\n  valid_ppl: 80.5\n")
    out = tmp_path / "inputs"
    run_cli(lpzero_bin, "gather", "--bench", str(bench), "--out", str(out), "--batch", "2", "--seq-len", "16", "--seed", str(seed))
    ours = lpzero.Inputs.load(out / "config_0_j0.safetensors")
    mb = ours.metadata["minibatch"]
    ids = torch.tensor(mb["ids"]).reshape(2, 16)
    targets = torch.tensor(mb["targets"]).reshape(2, 16)
    model, _ = hf_twin(ours, n_layer, d, heads, inner)
    lp_name = _hf_names(ours.metadata["modules"]["P"])
    theirs = lt.gather(model, {"input_ids": ids}, lm_loss(targets), arch="config_0_j0")
    assert theirs.metadata["loss"] == pytest.approx(ours.metadata["loss"], rel=1e-5)
    assert theirs.metadata["params"] == ours.metadata["params"]
    for name in lt.ALL:
        if name != "P":
            assert [a.shape for a in theirs[name]] == [a.shape for a in ours[name]], name
    # P: the same tensors, bit for bit, in [out, in] layout, under the two frameworks' names.
    ours_p = dict(zip(ours.metadata["modules"]["P"], ours["P"]))
    theirs_p = dict(zip(theirs.metadata["modules"]["P"], theirs["P"]))
    assert sorted(lp_name) == sorted(theirs_p)
    for hf, lp in lp_name.items():
        np.testing.assert_array_equal(theirs_p[hf], ours_p[lp], err_msg=hf)
    worst = 0.0
    compared = 0
    for proxy in lpzero.stdlib().values():
        if set(proxy.inputs) & lt.NOT_FROM_TORCH:
            # Z, GS and HG come from lpzero's own gather only; without them the proxy cannot score.
            assert proxy.score(theirs) is None, proxy.name
            continue
        compared += 1
        a, b = proxy.score(ours), proxy.score(theirs)
        assert a is not None and b is not None, proxy.name
        rel = abs(a - b) / max(abs(a), 1e-30)
        worst = max(worst, rel)
        print(f"  {proxy.name:<20} lpzero {a:<24.10g} torch {b:<24.10g} relative {rel:.1e}")
        assert rel <= 1e-4, f"{proxy.name}: lpzero {a!r}, torch {b!r} (relative {rel:.2e})"
    print(f"cross-check ({n_layer} layers, d_model {d}, {heads} heads, FFN {inner}, seed {seed}): {compared} stdlib proxies, worst relative difference {worst:.2e}")
