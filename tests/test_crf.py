"""The linear-chain CRF against brute-force enumeration of every tag sequence on tiny inputs."""

import itertools

import torch

from seqtrain.models.crf import CRF


def random_crf(num_tags: int, seed: int) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(num_tags)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    return crf


def sequence_score(crf: CRF, emissions: torch.Tensor, tags: tuple) -> torch.Tensor:
    score = crf.start[tags[0]] + crf.end[tags[-1]]
    for t, tag in enumerate(tags):
        score = score + emissions[t, tag]
        if t:
            score = score + crf.transitions[tags[t - 1], tag]
    return score


def batch(lengths: list[int], num_tags: int, seed: int):
    torch.manual_seed(seed)
    steps = max(lengths)
    emissions = torch.randn(len(lengths), steps, num_tags)
    mask = torch.arange(steps)[None, :] < torch.tensor(lengths)[:, None]
    return emissions, mask


def test_log_partition_equals_the_log_sum_over_all_tag_sequences():
    crf = random_crf(3, seed=0)
    lengths = [4, 1, 3]
    emissions, mask = batch(lengths, 3, seed=1)
    got = crf.log_partition(emissions, mask)
    for i, n in enumerate(lengths):
        scores = [sequence_score(crf, emissions[i, :n], tags) for tags in itertools.product(range(3), repeat=n)]
        assert torch.allclose(got[i], torch.logsumexp(torch.stack(scores), 0), atol=1e-5)


def test_viterbi_finds_the_highest_scoring_sequence():
    crf = random_crf(3, seed=2)
    lengths = [5, 2, 1, 4]
    emissions, mask = batch(lengths, 3, seed=3)
    decoded = crf.decode(emissions, mask)
    for i, n in enumerate(lengths):
        best = max(itertools.product(range(3), repeat=n), key=lambda tags: sequence_score(crf, emissions[i, :n], tags))
        assert tuple(decoded[i, :n].tolist()) == best
        assert decoded[i, n:].eq(0).all()


def test_nll_is_minus_the_log_probability_of_the_gold_sequence():
    crf = random_crf(4, seed=4)
    emissions, mask = batch([3, 2], 4, seed=5)
    tags = torch.tensor([[1, 3, 0], [2, 2, 0]])
    nll = crf.nll(emissions, tags, mask)
    for i, n in enumerate([3, 2]):
        gold = sequence_score(crf, emissions[i, :n], tuple(tags[i, :n].tolist()))
        assert torch.allclose(nll[i], crf.log_partition(emissions[i:i + 1, :n], mask[i:i + 1, :n])[0] - gold, atol=1e-5)


def test_padding_never_changes_loss_or_decoding():
    crf = random_crf(3, seed=6)
    emissions, mask = batch([4, 2], 3, seed=7)
    tags = torch.tensor([[0, 1, 2, 1], [2, 0, 0, 0]])
    garbage = emissions.clone()
    garbage[1, 2:] = 1e3 * torch.randn(2, 3)
    other_tags = tags.clone()
    other_tags[1, 2:] = 2
    assert torch.allclose(crf.nll(emissions, tags, mask), crf.nll(garbage, other_tags, mask))
    assert torch.equal(crf.decode(emissions, mask), crf.decode(garbage, mask))


def test_gradients_flow_to_every_parameter():
    crf = random_crf(3, seed=8)
    emissions, mask = batch([3, 1], 3, seed=9)
    emissions.requires_grad_()
    crf.nll(emissions, torch.tensor([[0, 1, 2], [1, 0, 0]]), mask).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in crf.parameters())
    assert emissions.grad[1, 1:].abs().sum() == 0  # pads get no gradient
