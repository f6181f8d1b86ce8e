"""attn.torch.MultiheadAttention against torch.nn.MultiheadAttention with the same state
dict: outputs, weights and every gradient, in float64."""

import pytest
import torch

import attn.torch as attn_torch

E, HEADS, L, S, BATCH = 12, 3, 5, 7, 2

CONFIGURATIONS = {
    "defaults": dict(module={}, forward={}),
    "batch_first_bool_masks": dict(module=dict(batch_first=True),
                                   forward=dict(attn_mask="bool2d", key_padding_mask="bool")),
    "kdim_vdim_float_mask_per_head": dict(module=dict(kdim=5, vdim=4),
                                          forward=dict(attn_mask="float3d",
                                                       average_attn_weights=False)),
    "bias_kv_zero_attn_float_padding": dict(module=dict(add_bias_kv=True, add_zero_attn=True),
                                            forward=dict(key_padding_mask="float",
                                                         attn_mask="float3d")),
    "no_bias_no_weights": dict(module=dict(bias=False), forward=dict(need_weights=False)),
    "unbatched": dict(module={}, forward=dict(unbatched=True)),
    "dropout_in_eval": dict(module=dict(dropout=0.3), forward=dict(key_padding_mask="bool")),
}


def make_masks(forward, generator):
    forward = dict(forward)
    if forward.get("attn_mask") == "bool2d":
        mask = torch.rand(L, S, generator=generator) > 0.7  # True = masked out
        mask[:, 0] = False
        forward["attn_mask"] = mask
    elif forward.get("attn_mask") == "float3d":
        forward["attn_mask"] = torch.randn(BATCH * HEADS, L, S, generator=generator,
                                           dtype=torch.float64)
    if forward.get("key_padding_mask") == "bool":
        padding = torch.zeros(BATCH, S, dtype=torch.bool)
        padding[1, 4:] = True
        forward["key_padding_mask"] = padding
    elif forward.get("key_padding_mask") == "float":
        padding = torch.zeros(BATCH, S, dtype=torch.float64)
        padding[0, 5:] = float("-inf")
        padding[1, 1] = -2.0
        forward["key_padding_mask"] = padding
    return forward


TORCH_MAJOR = int(torch.__version__.split(".")[0])


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_matches_torch_multihead_attention(name):
    configuration = CONFIGURATIONS[name]
    if configuration["forward"].get("key_padding_mask") == "float" and TORCH_MAJOR < 2:
        pytest.skip("torch 1.x masks with a float key_padding_mask instead of adding it")
    torch.manual_seed(0)
    reference = torch.nn.MultiheadAttention(E, HEADS, dtype=torch.float64, **configuration["module"])
    ours = attn_torch.MultiheadAttention(E, HEADS, dtype=torch.float64, **configuration["module"])
    assert set(ours.state_dict()) == set(reference.state_dict())
    ours.load_state_dict(reference.state_dict())
    reference.eval(), ours.eval()
    generator = torch.Generator().manual_seed(1)
    forward = make_masks(configuration["forward"], generator)
    unbatched = forward.pop("unbatched", False)
    batch_first = configuration["module"].get("batch_first", False)
    kdim = configuration["module"].get("kdim", E)
    vdim = configuration["module"].get("vdim", E)

    def shaped(length, dim):
        shape = (length, dim) if unbatched else \
            ((BATCH, length, dim) if batch_first else (length, BATCH, dim))
        return torch.randn(shape, generator=generator, dtype=torch.float64)

    inputs = [shaped(L, E), shaped(S, kdim), shaped(S, vdim)]
    results = []
    for module in (ours, reference):
        leaves = [x.clone().requires_grad_(True) for x in inputs]
        out, weights = module(*leaves, **forward)
        grad_out = torch.linspace(-1, 1, out.numel(), dtype=torch.float64).reshape(out.shape)
        parameters = [p for _, p in sorted(module.named_parameters())]
        grads = torch.autograd.grad(out, leaves + parameters, grad_out)
        results.append((out.detach(), weights, grads))
    (out, weights, grads), (expected, expected_weights, expected_grads) = results
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    if expected_weights is None:
        assert weights is None
    else:
        assert not weights.requires_grad  # an observation, outside the graph
        torch.testing.assert_close(weights, expected_weights, rtol=1e-10, atol=1e-12)
    for grad, expected_grad in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected_grad, rtol=1e-9, atol=1e-11)


def test_dropout_in_training_drops_weights_and_repeats_with_the_seed():
    torch.manual_seed(0)
    module = attn_torch.MultiheadAttention(E, HEADS, dropout=0.5, batch_first=True,
                                           dtype=torch.float64)
    x = torch.randn(BATCH, L, E, dtype=torch.float64)
    torch.manual_seed(5)
    first, _ = module(x, x, x, need_weights=False)
    torch.manual_seed(5)
    again, _ = module(x, x, x, need_weights=False)
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    module.eval()
    evaluated, _ = module(x, x, x, need_weights=False)
    assert not torch.allclose(first, evaluated)


def test_dropout_keeps_weights_scaled_by_one_over_keep():
    """With v the identity, out = the weights after dropout: each is 0 or w / (1 - p)."""
    p = 0.4
    q = torch.randn(1, 2, 6, 4, dtype=torch.float64)
    k = torch.randn(1, 2, 6, 4, dtype=torch.float64)
    v = torch.eye(6, dtype=torch.float64).expand(1, 2, 6, 6)
    torch.manual_seed(3)
    out, weights = attn_torch.attention(q, k, v, need_weights=True, dropout=p)
    kept = out != 0
    torch.testing.assert_close(out[kept], weights[kept] / (1 - p))
    fraction = kept.double().mean().item()
    assert 0.3 < fraction < 0.9


def test_gradcheck_with_a_fixed_dropout_pattern():
    q, k, v = (torch.randn(1, 2, 3, 4, dtype=torch.float64, requires_grad=True) for _ in range(3))

    def function(q, k, v):
        return attn_torch._fused(q, k, v, None, 0.5, False, None, None, None, 0.3, 1234)[0]

    assert torch.autograd.gradcheck(function, (q, k, v))
