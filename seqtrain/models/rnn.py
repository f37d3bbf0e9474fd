"""The RNN family as PyTorch exposes it, in two interchangeable implementations.

`Recurrent` runs either the fused nn.RNN/LSTM/GRU (cuDNN on GPU) or a step loop over
nn.RNNCell/LSTMCell/GRUCell. Both take batch-first input with optional lengths (padding is never
read), give the same outputs for the same weights, and convert into each other with `to_impl`.
`all_states` returns h_t (and c_t for LSTM) at every step, layer and direction.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence


FUSED = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
CELLS = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}


class Recurrent(nn.Module):
    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 bias: bool = True, dropout: float = 0.0, bidirectional: bool = False,
                 nonlinearity: str = "tanh", impl: str = "fused"):
        super().__init__()
        self.args = dict(cell=cell, input_size=input_size, hidden_size=hidden_size,
                         num_layers=num_layers, bias=bias, dropout=dropout,
                         bidirectional=bidirectional, nonlinearity=nonlinearity)
        self.cell, self.impl = cell, impl
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.directions = 2 if bidirectional else 1
        self.dropout = dropout
        extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        if impl == "fused":
            # nn.RNN warns when dropout is set on a single layer; it would do nothing there anyway.
            self.rnn = FUSED[cell](input_size, hidden_size, num_layers, bias=bias, batch_first=True,
                                   dropout=dropout if num_layers > 1 else 0.0,
                                   bidirectional=bidirectional, **extra)
        else:
            width = hidden_size * self.directions
            self.cells = nn.ModuleList(
                CELLS[cell](input_size if layer == 0 else width, hidden_size, bias=bias, **extra)
                for layer in range(num_layers) for _ in range(self.directions))

    @property
    def output_size(self) -> int:
        return self.hidden_size * self.directions

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None, hx=None):
        """x [B, T, input]; lengths [B] on CPU or None. Returns output [B, T, D*H] and the final
        state in nn.LSTM's layout: h_n [L*D, B, H] (a tuple (h_n, c_n) for LSTM). Pads give zeros."""
        if self.impl == "loop":
            output, final, _ = self._loop(x, lengths, hx, keep_all=False)
            return output, final
        if lengths is None:
            return self.rnn(x, hx)
        output, final = self.rnn(pack(x, lengths), hx)
        return unpack(output, x.shape[1]), final

    def outputs(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """forward's output alone [B, T, D*H], equal up to rounding. On the CPU the fused network runs
        on padded input instead of packed: PyTorch's packed steps are slow there (a bucketed batch of
        the English tagger's 2-layer BiLSTM trains about 1.2x faster). Pads come after each sequence,
        so a forward step never reads them; the backward direction reads each sequence reversed within
        its length, so that its pads come last too."""
        if self.impl == "loop" or lengths is None or x.is_cuda:
            return self.forward(x, lengths)[0]
        steps = x.shape[1]
        mask = (torch.arange(steps)[None, :] < lengths[:, None])[..., None]
        if self.directions == 1:
            return self.rnn(x)[0] * mask
        order = torch.arange(steps)[None, :].expand(len(lengths), steps)
        order = torch.where(mask[..., 0], lengths[:, None] - 1 - order, order)[..., None]
        def reverse(t):  # each sequence reversed within its length; pads stay where they are
            return t.gather(1, order.expand_as(t))
        layer_input = x
        for layer in range(self.num_layers):
            if layer > 0:
                layer_input = nn.functional.dropout(layer_input, self.dropout, self.training)
            forward = self._one_direction(layer_input, layer, "")
            backward = reverse(self._one_direction(reverse(layer_input), layer, "_reverse"))
            layer_input = torch.cat([forward, backward], dim=-1) * mask
        return layer_input

    def _one_direction(self, x: torch.Tensor, layer: int, suffix: str) -> torch.Tensor:
        """One layer, one direction of the fused network, over padded input: the op nn.LSTM/GRU/RNN call."""
        names = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if self.args["bias"] else ())
        weights = [getattr(self.rnn, f"{name}_l{layer}{suffix}") for name in names]
        h0 = x.new_zeros(1, x.shape[0], self.hidden_size)
        run = {"lstm": torch.lstm, "gru": torch.gru,
               "rnn": torch.rnn_tanh if self.args["nonlinearity"] == "tanh" else torch.rnn_relu}[self.cell]
        hx = (h0, h0) if self.cell == "lstm" else h0
        return run(x, hx, weights, self.args["bias"], 1, 0.0, self.training, False, True)[0]

    def all_states(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """h (and c for LSTM) at every step: each [num_layers, directions, B, T, hidden_size].
        Steps past a sequence's length hold zeros."""
        module = self if self.impl == "loop" else self.to_impl("loop")
        _, _, states = module._loop(x, lengths, None, keep_all=True)
        return states

    def to_impl(self, impl: str) -> "Recurrent":
        """The same weights in the other implementation (a fresh module)."""
        other = Recurrent(**self.args, impl=impl).to(next(self.parameters()).device)
        other.load_state_dict(convert_state_dict(self.state_dict(), self.impl, impl, self.directions))
        other.train(self.training)
        return other

    def _loop(self, x, lengths, hx, keep_all: bool):
        batch, steps, _ = x.shape
        mask = None
        if lengths is not None:
            mask = torch.arange(steps, device=x.device)[None, :] < lengths.to(x.device)[:, None]
        h0, c0 = (hx if isinstance(hx, tuple) else (hx, None)) if hx is not None else (None, None)
        zeros = x.new_zeros(batch, self.hidden_size)
        finals_h, finals_c, every_h, every_c = [], [], [], []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.directions):
                index = layer * self.directions + direction
                h = h0[index] if h0 is not None else zeros
                c = c0[index] if c0 is not None else zeros
                hs, cs = self._run_cell(self.cells[index], layer_input, h, c, mask, reverse=direction == 1)
                outputs.append(hs)
                # a finished sequence's state stays frozen, so the last column holds its final state
                finals_h.append(hs[:, 0] if direction == 1 else hs[:, -1])
                if self.cell == "lstm":
                    finals_c.append(cs[:, 0] if direction == 1 else cs[:, -1])
                if keep_all:
                    every_h.append(hs)
                    every_c.append(cs)
            layer_input = torch.cat(outputs, dim=-1)
            if mask is not None:
                layer_input = layer_input * mask[..., None]
            if layer < self.num_layers - 1 and self.dropout > 0:
                layer_input = nn.functional.dropout(layer_input, self.dropout, self.training)
        final = torch.stack(finals_h)
        if self.cell == "lstm":
            final = (final, torch.stack(finals_c))
        states = {}
        if keep_all:
            shape = (self.num_layers, self.directions, batch, steps, self.hidden_size)
            keep = mask[None, None, ..., None] if mask is not None else 1
            states["h"] = torch.stack(every_h).reshape(shape) * keep
            if self.cell == "lstm":
                states["c"] = torch.stack(every_c).reshape(shape) * keep
        return layer_input, final, states

    def _run_cell(self, cell, inputs, h, c, mask, reverse: bool):
        steps = inputs.shape[1]
        hs, cs = [None] * steps, [None] * steps
        for t in (reversed(range(steps)) if reverse else range(steps)):
            if self.cell == "lstm":
                new_h, new_c = cell(inputs[:, t], (h, c))
            else:
                new_h, new_c = cell(inputs[:, t], h), c
            if mask is not None:  # past its length a sequence keeps its state, as packing does
                keep = mask[:, t, None]
                new_h = torch.where(keep, new_h, h)
                new_c = torch.where(keep, new_c, c)
            h, c = new_h, new_c
            hs[t], cs[t] = h, c
        return torch.stack(hs, 1), torch.stack(cs, 1)


# pack_padded_sequence(enforce_sorted=False) and pad_packed_sequence each wait for the GPU on every
# call (a blocking copy of the sort order to it, a copy of the order back); these two don't.

def pack(x: torch.Tensor, lengths: torch.Tensor) -> PackedSequence:
    """pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)."""
    lengths, order = torch.sort(on_host(lengths), descending=True)
    if x.is_cuda:
        order = order.pin_memory().to(x.device, non_blocking=True)
    packed = pack_padded_sequence(x.index_select(0, order), lengths, batch_first=True)
    unsort = torch.empty_like(order).scatter_(0, order, torch.arange(len(order), device=order.device))
    return PackedSequence(packed.data, packed.batch_sizes, order, unsort)


def unpack(packed: PackedSequence, total_length: int) -> torch.Tensor:
    """pad_packed_sequence(packed, batch_first=True, total_length=total_length)[0]."""
    padded, _ = pad_packed_sequence(PackedSequence(packed.data, packed.batch_sizes), batch_first=True,
                                    total_length=total_length)
    return padded.index_select(0, packed.unsorted_indices)


def on_host(lengths: torch.Tensor) -> torch.Tensor:
    """Lengths on the CPU for pack_padded_sequence: the copy seqtrain.data.batching.to_device kept when it
    moved them to a GPU, else .cpu() (which waits for the GPU)."""
    host = getattr(lengths, "host_copy", None)
    return host if host is not None else lengths.cpu()


def convert_state_dict(state: dict, source: str, target: str, directions: int) -> dict:
    """Rename parameters between the fused layout (weight_ih_l0_reverse) and the cell list (cells.1.weight_ih)."""
    if source == target:
        return dict(state)
    out = {}
    for key, value in state.items():
        if source == "fused":
            name, _, rest = key.removeprefix("rnn.").rpartition("_l")
            layer, reverse = (rest.removesuffix("_reverse"), rest.endswith("_reverse"))
            out[f"cells.{int(layer) * directions + int(reverse)}.{name}"] = value
        else:
            _, index, name = key.split(".")
            layer, direction = divmod(int(index), directions)
            out[f"rnn.{name}_l{layer}{'_reverse' if direction else ''}"] = value
    return out
