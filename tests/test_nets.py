"""The torch modules of sklearn_mtl.nets: OMoE, CGC / PLE routing and capacity, the expert bank,
and the entire-space cascade (its loss, and the conditional tower it trains on unclicked rows)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl.losses import MultiTaskLoss
from sklearn_mtl.nets import MLP, CascadeNet, ESMMNet, ExpertBank, MMoENet, OMoENet, PLENet

NO_CAT = torch.zeros(6, 0, dtype=torch.long)


def _outputs_after_perturbing(net, params, x):
    """Outputs of ``net`` on ``x`` before and after adding noise to ``params``."""
    before = net.task_outputs(x, NO_CAT)
    with torch.no_grad():
        for p in params:
            p.add_(torch.randn_like(p))
    after = net.task_outputs(x, NO_CAT)
    return before, after


def _ple(n_levels, **kw):
    torch.manual_seed(0)
    return PLENet(5, [], [], n_outputs=[1, 1], hidden_units=(8,), tower_units=(4,),
                  n_levels=n_levels, n_shared_experts=2, n_task_experts=1, **kw)


def test_cgc_task_sees_only_its_own_and_the_shared_experts():
    net, x = _ple(1), torch.randn(6, 5)
    other = list(net.levels[0].task_experts[1].parameters())
    before, after = _outputs_after_perturbing(net, other, x)
    torch.testing.assert_close(after[0], before[0])  # task 0 cannot see task 1's expert
    assert not torch.allclose(after[1], before[1])
    shared = list(net.levels[0].shared_experts.parameters())
    before, after = _outputs_after_perturbing(net, shared, x)
    assert not torch.allclose(after[0], before[0]) and not torch.allclose(after[1], before[1])


def test_ple_shared_gate_carries_task_experts_to_the_next_level_only():
    net, x = _ple(2), torch.randn(6, 5)
    # Level 0's shared gate mixes task 1's expert into level 1's shared experts, which task 0 reads.
    before, after = _outputs_after_perturbing(net, list(net.levels[0].task_experts[1].parameters()), x)
    assert not torch.allclose(after[0], before[0])
    # On the last level there is no shared gate: task 1's expert stays invisible to task 0.
    assert net.levels[1].shared_gate is None
    before, after = _outputs_after_perturbing(net, list(net.levels[1].task_experts[1].parameters()), x)
    torch.testing.assert_close(after[0], before[0])
    assert not torch.allclose(after[1], before[1])


def test_ple_gate_weights_layout_and_parameter_count():
    d, h, tower = 5, 8, 4
    net = _ple(2)
    levels = net.gate_weights(torch.randn(6, d), NO_CAT)
    assert [tuple(lv["tasks"].shape) for lv in levels] == [(6, 2, 3), (6, 2, 3)]
    assert tuple(levels[0]["shared"].shape) == (6, 4) and levels[1]["shared"] is None
    for lv in levels:
        torch.testing.assert_close(lv["tasks"].sum(dim=2), torch.ones(6, 2))
    # Per level: 2 shared + 2 x 1 task experts, a 3-way gate per task, a 4-way shared gate
    # on level 0 only; then two towers.
    expected = (4 * (d * h + h) + 2 * (d * 3 + 3) + (d * 4 + 4)
                + 4 * (h * h + h) + 2 * (h * 3 + 3)
                + 2 * (h * tower + tower + tower + 1))
    assert sum(p.numel() for p in net.parameters()) == expected


def test_omoe_is_mmoe_with_one_gate():
    torch.manual_seed(0)
    omoe = OMoENet(5, [], [], n_outputs=[1, 1, 1], hidden_units=(8,), n_experts=4)
    mmoe = MMoENet(5, [], [], n_outputs=[1, 1, 1], hidden_units=(8,), n_experts=4)
    gates = omoe.gate_weights(torch.randn(6, 5), NO_CAT)
    torch.testing.assert_close(gates[:, 0], gates[:, 2])
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(mmoe) - n(omoe) == 2 * (5 * 4 + 4)  # two gates fewer


@pytest.mark.parametrize("units", [(8,), (8, 5), (6, 4, 3)])
@pytest.mark.parametrize("n_experts", [0, 1, 3])
def test_expert_bank_is_a_list_of_expert_mlps(units, n_experts):
    # Same draws, same weights, same outputs as one MLP per expert.
    torch.manual_seed(0)
    mlps = torch.nn.ModuleList(MLP(5, units, dropout=0.1) for _ in range(n_experts)).eval()
    torch.manual_seed(0)
    bank = ExpertBank(5, units, n_experts, dropout=0.1).eval()
    x = torch.randn(7, 5)
    expected = torch.stack([m(x) for m in mlps], dim=1) if n_experts else torch.zeros(7, 0, units[-1])
    torch.testing.assert_close(bank(x), expected)
    assert sum(p.numel() for p in bank.parameters()) == sum(p.numel() for p in mlps.parameters())


def test_expert_bank_trains_each_expert_on_its_own_weights():
    torch.manual_seed(0)
    bank = ExpertBank(4, (6, 3), 3)
    bank(torch.randn(10, 4))[:, 1].sum().backward()
    for grads in ([w.grad for w in bank.weights], [b.grad for b in bank.biases]):
        for g in grads:
            assert g[1].abs().sum() > 0
            assert g[0].abs().sum() == 0 and g[2].abs().sum() == 0


def test_cascade_loss_is_the_entire_space_product_loss():
    torch.manual_seed(0)
    inner = ESMMNet(3, [], [], n_outputs=[1, 1], hidden_units=(4,))
    net = CascadeNet(inner, [(1, 0)])
    x = torch.randn(64, 3)
    y = torch.tensor(np.random.default_rng(0).integers(0, 2, size=(64, 2)), dtype=torch.float32)
    y[:, 1] *= y[:, 0]  # purchase only after a click
    loss = MultiTaskLoss(["binary", "binary"], [1, 1])(net(x, torch.zeros(64, 0, dtype=torch.long)), y)
    cond = torch.sigmoid(inner(x, torch.zeros(64, 0, dtype=torch.long)))
    p_ctr, p_ctcvr = cond[:, 0], cond[:, 0] * cond[:, 1]
    expected = F.binary_cross_entropy(p_ctr, y[:, 0]) + F.binary_cross_entropy(p_ctcvr, y[:, 1])
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)


def test_cascade_trains_the_conditional_tower_on_unclicked_rows():
    """ESMM's point: rows without a click still train the conversion tower (label 0)."""
    X = np.random.default_rng(0).normal(size=(64, 3))
    unclicked = np.column_stack([np.zeros(64), np.full(64, np.nan)])
    grads = {}
    for cascade in (None, {"task_1": "task_0"}):
        model = MultiTaskRecommender("esmm" if cascade else "single", cascade=cascade,
                                     hidden_units=(4,), max_epochs=1, random_state=0,
                                     validation_fraction=None)
        Y = unclicked.copy()
        Y[:10, 0], Y[:10, 1] = 1, np.arange(10) % 2  # ten clicked rows, five purchases
        model.fit(X, Y)
        net = model.net_
        net.module_.zero_grad()
        x = {"x_num": torch.tensor(X[1:], dtype=torch.float32),
             "x_cat": torch.zeros(63, 0, dtype=torch.long)}
        y_enc = torch.tensor(np.column_stack([np.zeros(63), np.zeros(63)]), dtype=torch.float32)
        if cascade is None:
            y_enc[:, 1] = float("nan")  # without a cascade these rows carry no purchase label
        net.get_loss(net.infer(x), {"y": y_enc}, training=True).backward()
        inner = net.module_.module if cascade else net.module_
        head = inner.heads[1] if cascade else inner.columns[1].head
        grads[bool(cascade)] = head.out.weight.grad.abs().sum().item()
    assert grads[True] > 0
    assert grads[False] == 0
