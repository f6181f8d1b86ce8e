"""attn.torch against plain torch code: values, gradients, operators, modules, training."""

import pytest
import torch

import attn.torch as attn_torch
import reference
from cases import A, D, DV, H, MASKS, NK, NQ, SCORES, B, inputs, masks, score_parameters


def with_grad(tensors):
    return [t.clone().requires_grad_(True) for t in tensors]


def run_both(score, mask_kind, dtype, learned=False, shape=(B, H, NQ, NK, D, DV)):
    """(attn's out, grads), (reference out, grads) for one score and mask."""
    q, k, v = inputs(dtype, shape=shape)
    parameters = score_parameters(score, shape[4], dtype, learned=learned)
    mask = masks(mask_kind, shape[0], shape[1], shape[2], shape[3], dtype)
    results = []
    for implementation in ("attn", "reference"):
        tensors = with_grad([q, k, v])
        params = {name: value.clone().requires_grad_(True) if isinstance(value, torch.Tensor)
                  else value for name, value in parameters.items()}
        if implementation == "attn":
            out = attn_torch.attention(*tensors, score, **mask, **params)
        else:
            out = reference.attention(*tensors, score, **mask, **params)[0]
        grad_out = torch.linspace(-1, 1, out.numel(), dtype=dtype).reshape(out.shape)
        leaves = tensors + [p for p in params.values() if isinstance(p, torch.Tensor)]
        grads = torch.autograd.grad(out, leaves, grad_out)
        results.append((out.detach(), [g.detach() for g in grads]))
    return results


@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("score", SCORES)
def test_float64_forward_and_backward_match_plain_torch(score, mask_kind):
    (out, grads), (expected, expected_grads) = run_both(score, mask_kind, torch.float64)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    for grad, expected_grad in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected_grad, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("mask_kind", ("none", "causal", "float"))
@pytest.mark.parametrize("score", SCORES)
def test_float32_matches_plain_torch_within_1e_5(score, mask_kind):
    (out, grads), (expected, expected_grads) = run_both(score, mask_kind, torch.float32)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    for grad, expected_grad in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected_grad, rtol=1e-4, atol=1e-5)


def test_learned_cosine_scale_gets_its_gradient():
    (out, grads), (expected, expected_grads) = run_both("cosine", "causal", torch.float64,
                                                        learned=True)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    assert len(grads) == 4  # q, k, v and the scale
    torch.testing.assert_close(grads[3], expected_grads[3], rtol=1e-9, atol=1e-11)


def test_fully_masked_rows_give_zeros_zero_gradients_and_minus_infinite_lse():
    q, k, v = with_grad(inputs())
    mask = masks("fully_masked_rows", B, H, NQ, NK)["mask"]
    out, lse = attn_torch.attention(q, k, v, mask=mask, return_lse=True)
    assert torch.all(out[0, 1, 2] == 0) and torch.all(out[1, 0, 0] == 0)
    assert lse[0, 1, 2] == float("-inf") and torch.isfinite(lse[0, 0]).all()
    out.sum().backward()
    assert torch.all(q.grad[0, 1, 2] == 0)


@pytest.mark.parametrize("score", SCORES)
def test_weights_and_lse_match_plain_torch(score):
    q, k, v = inputs()
    parameters = score_parameters(score, D)
    mask = masks("bool", B, H, NQ, NK)
    out, weights, lse = attn_torch.attention(q, k, v, score, need_weights=True, return_lse=True,
                                             **mask, **parameters)
    _, expected_weights, expected_lse = reference.attention(q, k, v, score, **mask, **parameters)
    torch.testing.assert_close(weights, expected_weights, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(lse, expected_lse, rtol=1e-10, atol=1e-12)
    rows = attn_torch.attention_weights_from_lse(q, k, lse, score, rows=(1, 4), heads=[1],
                                                 **mask, **parameters)
    torch.testing.assert_close(rows, expected_weights[:, 1:2, 1:4])


@pytest.mark.parametrize("score", SCORES)
def test_gradcheck_including_score_parameters(score):
    shape = (1, 2, 3, 4, 3, 2)
    q, k, v = with_grad(inputs(shape=shape, seed=5))
    parameters = {name: value.clone().requires_grad_(True) if isinstance(value, torch.Tensor)
                  else value for name, value in score_parameters(score, 3, learned=True).items()}
    names = [name for name, value in parameters.items() if isinstance(value, torch.Tensor)]
    mask = masks("causal", 1, 2, 3, 4)

    def function(q, k, v, *tensors):
        given = dict(parameters, **dict(zip(names, tensors)))
        return attn_torch.attention(q, k, v, score, **mask, **given)

    assert torch.autograd.gradcheck(function, (q, k, v, *[parameters[n] for n in names]))


def test_views_with_a_contiguous_last_dimension_are_read_in_place():
    batch, queries, heads, d = 2, 6, 3, 4
    x = torch.randn(batch, queries, heads * d, dtype=torch.float64)
    q = x.view(batch, queries, heads, d).transpose(1, 2)  # strides (72, 4, 12, 1)
    assert not q.is_contiguous()
    out = attn_torch.attention(q, q, q)
    expected = reference.attention(q.contiguous(), q.contiguous(), q.contiguous())[0]
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)


def test_kernel_outputs_are_written_into_torch_memory():
    from attn import _core
    q, k, v = inputs()
    out = torch.empty(B, H, NQ, DV, dtype=torch.float64)
    lse = torch.empty(B, H, NQ, dtype=torch.float64)
    pointers = out.data_ptr(), lse.data_ptr()
    _core.flash_forward(q, k, v, None, 0.5, False, None, None, None, 0.0, 0, out=out, lse=lse)
    assert (out.data_ptr(), lse.data_ptr()) == pointers
    torch.testing.assert_close(out, reference.attention(q, k, v, scale=0.5)[0])


def test_errors_name_the_argument_and_its_shape():
    q, k, v = inputs()
    with pytest.raises(TypeError, match="'q' has dtype torch.int64"):
        attn_torch.attention(q.long(), k, v)
    with pytest.raises(ValueError, match=r"'k' must have 4 dimensions .*\(2, 7, 4\)"):
        attn_torch.attention(q, k[0], v)
    with pytest.raises(ValueError, match="'v' has shape"):
        attn_torch.attention(q, k, v[:, :, :3])
    with pytest.raises(ValueError, match="unknown score 'dott'"):
        attn_torch.attention(q, k, v, "dott")
    with pytest.raises(ValueError, match="the additive score needs 'w_q'"):
        attn_torch.attention(q, k, v, "additive")
    with pytest.raises(ValueError, match="'mask' of shape"):
        attn_torch.attention(q, k, v, mask=torch.ones(3, NQ, NK, dtype=torch.bool))
    with pytest.raises(TypeError, match="'key_padding_mask' has dtype"):
        attn_torch.attention(q, k, v, key_padding_mask=torch.zeros(B, NK))


@pytest.mark.skipif(not attn_torch.HAS_CUSTOM_OP, reason="torch.library.custom_op needs torch >= 2.4")
def test_opcheck_on_every_operator():
    q, k, v = inputs()
    v_a = torch.randn(D, dtype=torch.float64)
    allowed = masks("bool", B, H, NQ, NK)["mask"].expand(B, H, NQ, NK)
    forward_args = (q, k, v, None, 0.5, True, None, allowed, None, 0.0, 0)
    torch.library.opcheck(attn_torch.flash_attention_forward, forward_args)
    additive_args = (q, k, v, v_a, 1.0, False, torch.tensor([5, 7]), None, None, 0.25, 7)
    torch.library.opcheck(attn_torch.flash_attention_forward, additive_args)
    out, lse = attn_torch.flash_attention_forward(*additive_args)
    grad_out = torch.randn_like(out)
    torch.library.opcheck(attn_torch.flash_attention_backward,
                          (grad_out, q, k, v, v_a, out, lse, 1.0, False, torch.tensor([5, 7]),
                           None, None, 0.25, 7))
    torch.library.opcheck(attn_torch.weights_from_lse_op,
                          (q, k, v_a, lse, 1.0, False, torch.tensor([5, 7]), None, None, 0, NQ,
                           [0, 1]))
    differentiable = [t.clone().requires_grad_(True) for t in (q, k, v, v_a)]
    torch.library.opcheck(attn_torch.flash_attention_forward,
                          (*differentiable, 1.0, False, None, None, None, 0.0, 0))


@pytest.mark.skipif(not hasattr(torch, "compile") or not attn_torch.HAS_CUSTOM_OP,
                    reason="torch.compile traces custom operators from torch 2.4")
def test_torch_compile_traces_the_operators():
    q, k, v = with_grad(inputs())
    module = attn_torch.AdditiveAttention(D, A, dtype=torch.float64)

    def function(q, k, v):
        return module(q, k, v, causal=True).square().sum()

    compiled = torch.compile(function, backend="aot_eager", fullgraph=True)
    loss = compiled(q, k, v)
    expected = function(q, k, v)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert q.grad is not None and module.v_a.grad is not None


@pytest.mark.parametrize("module_class", ["additive", "bilinear", "cosine"])
def test_modules_train_like_their_plain_torch_twins(module_class):
    """A small seq2seq-style scorer trained for a few steps: the same losses with attn's
    operator and with plain torch."""
    torch.manual_seed(0)
    d = 8
    make = {"additive": lambda: attn_torch.AdditiveAttention(d, 6, dtype=torch.float64),
            "bilinear": lambda: attn_torch.BilinearAttention(d, dtype=torch.float64),
            "cosine": lambda: attn_torch.CosineAttention(scale=5.0, dtype=torch.float64)}
    fused = make[module_class]()
    plain = make[module_class]()
    plain.load_state_dict(fused.state_dict())
    generator = torch.Generator().manual_seed(3)
    queries = torch.randn(4, 5, d, generator=generator, dtype=torch.float64)
    keys = torch.randn(4, 9, d, generator=generator, dtype=torch.float64)
    targets = torch.randn(4, 5, d, generator=generator, dtype=torch.float64)
    padding = torch.zeros(4, 9, dtype=torch.bool)
    padding[1, 6:] = True

    def plain_forward(module, q, k):
        parameters = module._parameters_of_score()
        out = reference.attention(q.unsqueeze(1), k.unsqueeze(1), k.unsqueeze(1), module.score,
                                  key_padding_mask=padding, **parameters)[0]
        return out.squeeze(1)

    losses = {"fused": [], "plain": []}
    for name, module in (("fused", fused), ("plain", plain)):
        optimizer = torch.optim.Adam(module.parameters(), lr=0.05)
        for _ in range(5):
            optimizer.zero_grad()
            if name == "fused":
                out = module(queries, keys, keys, key_padding_mask=padding)
            else:
                out = plain_forward(module, queries, keys)
            loss = torch.nn.functional.mse_loss(out, targets)
            loss.backward()
            optimizer.step()
            losses[name].append(loss.item())
    assert losses["fused"][-1] < losses["fused"][0]
    torch.testing.assert_close(torch.tensor(losses["fused"]), torch.tensor(losses["plain"]),
                               rtol=1e-9, atol=1e-12)


def test_threads_follow_torch():
    from attn import _core
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        attn_torch.attention(*inputs())
        assert _core.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)


def test_the_seq2seq_example_learns():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "examples" / "seq2seq_additive.py"
    spec = importlib.util.spec_from_file_location("seq2seq_additive", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    _, losses = example.train(steps=60, log_every=0)
    assert sum(losses[-10:]) / 10 < 0.8 * sum(losses[:10]) / 10
