"""The RNN family: fused and cell-loop implementations agree; every-step states have documented shapes."""

import pytest
import torch

from seqtrain.models.rnn import Recurrent


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_cell_loop_matches_fused_with_the_same_weights(cell, bidirectional):
    torch.manual_seed(0)
    fused = Recurrent(cell, 5, 7, num_layers=2, bidirectional=bidirectional)
    loop = fused.to_impl("loop")
    x, lengths = torch.randn(3, 6, 5), torch.tensor([6, 3, 1])
    out_fused, final_fused = fused(x, lengths)
    out_loop, final_loop = loop(x, lengths)
    torch.testing.assert_close(out_loop, out_fused, atol=1e-6, rtol=1e-5)
    for a, b in zip(final_loop if cell == "lstm" else [final_loop], final_fused if cell == "lstm" else [final_fused]):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_relu_rnn_loop_matches_fused():
    torch.manual_seed(1)
    fused = Recurrent("rnn", 3, 4, nonlinearity="relu")
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(fused.to_impl("loop")(x)[0], fused(x)[0])


def test_conversion_back_and_forth_keeps_weights():
    fused = Recurrent("gru", 3, 4, num_layers=2, bidirectional=True)
    again = fused.to_impl("loop").to_impl("fused")
    for (k, a), (_, b) in zip(fused.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k


def test_padding_never_changes_a_sequences_output():
    torch.manual_seed(2)
    rnn = Recurrent("lstm", 3, 4, bidirectional=True)
    short = torch.randn(1, 3, 3)
    padded = torch.cat([short, torch.randn(1, 4, 3) * 100], dim=1)
    alone, _ = rnn(short)
    batched, _ = rnn(padded, torch.tensor([3]))
    torch.testing.assert_close(batched[:, :3], alone)
    assert torch.all(batched[:, 3:] == 0)


@pytest.mark.parametrize("impl", ["fused", "loop"])
def test_all_states_shapes_and_top_layer_equals_output(impl):
    torch.manual_seed(3)
    rnn = Recurrent("lstm", 5, 7, num_layers=3, bidirectional=True, impl=impl)
    x, lengths = torch.randn(4, 6, 5), torch.tensor([6, 5, 2, 1])
    states = rnn.all_states(x, lengths)
    assert states["h"].shape == states["c"].shape == (3, 2, 4, 6, 7)
    output, (h_n, _) = rnn(x, lengths)
    top = states["h"][-1].permute(1, 2, 0, 3).reshape(4, 6, 14)
    torch.testing.assert_close(top, output, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(states["h"][-1, 0, torch.arange(4), lengths - 1], h_n[-2])
    assert torch.all(states["h"][:, :, 3, 1:] == 0)  # past its length a sequence has no states


def test_gru_states_have_no_cell():
    states = Recurrent("gru", 2, 3).all_states(torch.randn(1, 4, 2))
    assert set(states) == {"h"} and states["h"].shape == (1, 1, 1, 4, 3)


@pytest.mark.parametrize("cell,nonlinearity", [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_outputs_on_padded_input_equal_the_packed_forward_and_its_gradients(cell, nonlinearity, bidirectional, bias):
    torch.manual_seed(4)
    rnn = Recurrent(cell, 5, 7, num_layers=2, bias=bias, bidirectional=bidirectional, nonlinearity=nonlinearity)
    x, lengths = torch.randn(4, 6, 5), torch.tensor([6, 3, 1, 5])
    x[1, 3:] = 100.0  # pads that would show if a step read them
    packed, _ = rnn(x, lengths)
    padded = rnn.outputs(x, lengths)
    torch.testing.assert_close(padded, packed, atol=1e-6, rtol=1e-5)
    weights = torch.randn_like(packed)
    grads = [torch.autograd.grad((out * weights).sum(), list(rnn.parameters())) for out in (packed, padded)]
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-4)
