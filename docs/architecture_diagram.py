"""Draw the architectures of ``MultiTaskRecommender`` for the user guide.

One figure, two rows of four panels (``architecture="hard"``, ``"soft"``, ``"mmoe"``,
``"single"``; then ``"omoe"``, ``"cgc"``, ``"ple"`` and ``"esmm"`` with its cascade), each
drawn from the input ``x`` at the bottom to the task outputs ``h_A``, ``h_B`` at the top, for
two tasks A and B. Shared parts are grey-blue, task-A parts orange and task-B parts green.
The figure is written to ``docs/img/architectures.png``.

It needs matplotlib only (not the package itself). Rerun it from the repository root with::

    python docs/architecture_diagram.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch, Patch  # noqa: E402

OUT = Path(__file__).parent / "img" / "architectures.png"

FONT = 8.5
COLOURS = {
    "shared": ("#dbe4ee", "#4a5d73"),
    "A": ("#fde0c5", "#c0601a"),
    "B": ("#d5ecd4", "#2e7d32"),
    "input": ("#ffffff", "#555555"),
}

# Row heights (y of box centres), shared by all panels so that rows line up.
Y_X, Y_INPUT, Y_MID, Y_EXPERT, Y_GATE, Y_MIX, Y_TOWER, Y_OUT = 0.45, 2.0, 5.5, 3.9, 3.9, 7.2, 9.1, 10.7
XLIM, YLIM = (0.0, 10.0), (-1.3, 11.5)
COL_A, COL_B = 2.3, 7.7  # x of the task columns


def box(ax, x, y, text, kind, w=3.0, h=1.0, fontsize=FONT):
    """Rounded box centred at (x, y); returns its (bottom, top) y for arrows."""
    face, edge = COLOURS[kind]
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.25",
            facecolor=face,
            edgecolor=edge,
            linewidth=1.2,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)
    return y - h / 2, y + h / 2


def arrow(ax, start, end, style="-|>", colour="#444444", **kw):
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={"arrowstyle": style, "color": colour, "lw": 1.0, "shrinkA": 0, "shrinkB": 0, **kw},
    )


def up(ax, x0, y0, x1, y1):
    """Arrow from the top of one box (x0, y0) to the bottom of another (x1, y1)."""
    arrow(ax, (x0, y0), (x1, y1))


def towers_and_outputs(ax, h_tower=0.9, h_out=0.8):
    """Towers and outputs of both tasks; returns the bottom y of the towers."""
    bottoms = {}
    for task, x in (("A", COL_A), ("B", COL_B)):
        bottom, top = box(ax, x, Y_TOWER, rf"tower$_{task}$", task, h=h_tower)
        out_bottom, _ = box(ax, x, Y_OUT, rf"$h_{task}$", task, w=1.4, h=h_out)
        up(ax, x, top, x, out_bottom)
        bottoms[task] = bottom
    return bottoms


def input_node(ax):
    _, top = box(ax, 5.0, Y_X, r"$x$", "input", w=1.2, h=0.7)
    return top


def caption(ax, text):
    ax.text(5.0, -0.9, text, ha="center", va="center", fontsize=FONT, style="italic", color="#333333")


def panel_hard(ax):
    x_top = input_node(ax)
    in_bot, in_top = box(ax, 5.0, Y_INPUT, "input layer\n(embeddings + numerics)", "shared", w=7.6, h=1.2)
    up(ax, 5.0, x_top, 5.0, in_bot)
    b_bot, b_top = box(ax, 5.0, Y_MID, "shared bottom\n" + r"$B$ = MLP(hidden_units)", "shared", w=7.6, h=1.2)
    up(ax, 5.0, in_top, 5.0, b_bot)
    tower_bottoms = towers_and_outputs(ax)
    for task, x in (("A", COL_A), ("B", COL_B)):
        up(ax, x, b_top, x, tower_bottoms[task])
    caption(ax, "one shared bottom, one tower per task")


def per_task_columns(ax):
    """Input layer, bottom, tower and output per task (soft and single); returns bottom boxes' x-edges."""
    x_top = input_node(ax)
    tower_bottoms = towers_and_outputs(ax)
    for task, x in (("A", COL_A), ("B", COL_B)):
        in_bot, in_top = box(ax, x, Y_INPUT, rf"input$_{task}$", task, h=1.0)
        arrow(ax, (5.0 + (-0.4 if task == "A" else 0.4), x_top), (x, in_bot))
        b_bot, b_top = box(ax, x, Y_MID, rf"bottom $B_{task}$", task, h=1.0)
        up(ax, x, in_top, x, b_bot)
        up(ax, x, b_top, x, tower_bottoms[task])
    return COL_A + 1.5, COL_B - 1.5


def panel_soft(ax):
    left, right = per_task_columns(ax)
    arrow(ax, (left + 0.05, Y_MID), (right - 0.05, Y_MID), style="<|-|>", linestyle="--", colour="#4a5d73")
    ax.text(5.0, Y_MID + 0.75, r"$\lambda\,\Vert\theta_A - \theta_B\Vert^2$", ha="center", va="center",
            fontsize=FONT + 0.5)
    ax.text(5.0, Y_MID - 0.7, "sharing_strength", ha="center", va="center", fontsize=FONT - 0.5,
            color="#4a5d73")
    caption(ax, "per-task nets, weights pulled together")


def panel_single(ax):
    per_task_columns(ax)
    caption(ax, "each task alone, same capacity as in hard")


def panel_mmoe(ax):
    x_top = input_node(ax)
    in_bot, in_top = box(ax, 5.0, Y_INPUT, "input layer\n(embeddings + numerics)", "shared", w=7.6, h=1.2)
    up(ax, 5.0, x_top, 5.0, in_bot)

    experts = [(3.65, r"$E_1$"), (4.75, r"$E_2$"), (6.35, r"$E_n$")]
    expert_tops = []
    for ex, label in experts:
        e_bot, e_top = box(ax, ex, Y_EXPERT, label, "shared", w=0.9, h=0.8)
        up(ax, ex, in_top, ex, e_bot)
        expert_tops.append((ex, e_top))
    ax.text(5.55, Y_EXPERT, r"$\cdots$", ha="center", va="center", fontsize=FONT + 2)

    tower_bottoms = towers_and_outputs(ax)
    for task, gx, mx in (("A", 1.35, COL_A), ("B", 8.65, COL_B)):
        g_bot, g_top = box(ax, gx, Y_GATE, rf"gate$_{task}$ =" + "\n" + rf"softmax($W_{task}\,x$)", task,
                           w=2.6, h=1.15, fontsize=8)
        up(ax, gx, in_top, gx, g_bot)
        m_bot, m_top = box(ax, mx, Y_MIX, rf"$\Sigma_i\; g_{{{task},i}}\, E_i$", task, w=2.6, h=0.9)
        up(ax, gx, g_top, gx, m_bot)
        for ex, e_top in expert_tops:
            land = mx + (0.3 if task == "A" else -0.3) + (ex - 5.0) * 0.3
            arrow(ax, (ex, e_top), (land, m_bot), colour="#8a99aa")
        up(ax, mx, m_top, mx, tower_bottoms[task])
    caption(ax, "experts mixed by per-task softmax gates")


def _experts_row(ax, specs, y, in_top_at):
    """Small expert boxes ``(x, label, kind)`` at height ``y`` fed from ``in_top_at(x)``."""
    tops = []
    for ex, label, kind in specs:
        e_bot, e_top = box(ax, ex, y, label, kind, w=0.95, h=0.75, fontsize=8)
        up(ax, ex, in_top_at(ex), ex, e_bot)
        tops.append((ex, e_top, kind))
    return tops


def panel_omoe(ax):
    x_top = input_node(ax)
    in_bot, in_top = box(ax, 5.0, Y_INPUT, "input layer\n(embeddings + numerics)", "shared", w=7.6, h=1.2)
    up(ax, 5.0, x_top, 5.0, in_bot)
    tops = _experts_row(ax, [(3.2, r"$E_1$", "shared"), (4.3, r"$E_2$", "shared"),
                             (5.9, r"$E_n$", "shared")], Y_EXPERT, lambda x: in_top)
    ax.text(5.1, Y_EXPERT, r"$\cdots$", ha="center", va="center", fontsize=FONT + 2)
    g_bot, g_top = box(ax, 8.3, Y_EXPERT, "one gate\nsoftmax($Wx$)", "shared", w=2.4, h=1.0,
                       fontsize=8)
    up(ax, 8.3, in_top, 8.3, g_bot)
    m_bot, m_top = box(ax, 5.0, Y_MIX, r"$\Sigma_i\; g_i\, E_i$", "shared", w=3.2, h=0.9)
    for ex, e_top, _ in tops:
        arrow(ax, (ex, e_top), (5.0 + (ex - 5.0) * 0.4, m_bot), colour="#8a99aa")
    arrow(ax, (8.3, g_top), (6.4, m_bot), colour="#4a5d73")
    tower_bottoms = towers_and_outputs(ax)
    for task, x in (("A", COL_A), ("B", COL_B)):
        arrow(ax, (5.0, m_top), (x, tower_bottoms[task]))
    caption(ax, "MMoE with one gate for all tasks")


def _cgc_level(ax, y_experts, y_mix, inputs, shared_gate):
    """One extraction level: experts A, S, B, per-task mixes (and a shared mix); returns tops."""
    tops = _experts_row(ax, [(1.6, r"$E_A$", "A"), (4.4, r"$E_{S1}$", "shared"),
                             (5.6, r"$E_{S2}$", "shared"), (8.4, r"$E_B$", "B")],
                        y_experts, inputs)
    out = {}
    mixes = [("A", COL_A, ("A", "shared")), ("B", COL_B, ("B", "shared"))]
    if shared_gate:
        mixes.append(("shared", 5.0, ("A", "B", "shared")))
    for task, mx, sees in mixes:
        label = r"$g_S$: all" if task == "shared" else rf"$g_{task}$: {task} + S"
        m_bot, m_top = box(ax, mx, y_mix, label, task, w=2.0 if task == "shared" else 2.4, h=0.75,
                           fontsize=8)
        for ex, e_top, kind in tops:
            if kind in sees:
                arrow(ax, (ex, e_top), (mx + (ex - mx) * 0.25, m_bot), colour="#8a99aa")
        out[task] = m_top
    return out


def panel_cgc(ax):
    x_top = input_node(ax)
    in_bot, in_top = box(ax, 5.0, Y_INPUT, "input layer\n(embeddings + numerics)", "shared", w=7.6, h=1.2)
    up(ax, 5.0, x_top, 5.0, in_bot)
    mix_tops = _cgc_level(ax, Y_EXPERT, Y_MIX, lambda x: in_top, shared_gate=False)
    tower_bottoms = towers_and_outputs(ax)
    for task, x in (("A", COL_A), ("B", COL_B)):
        up(ax, x, mix_tops[task], x, tower_bottoms[task])
    caption(ax, "task experts + shared experts, a gate per task")


def panel_ple(ax):
    x_top = input_node(ax)
    in_bot, in_top = box(ax, 5.0, 1.55, "input layer", "shared", w=7.6, h=0.7)
    up(ax, 5.0, x_top, 5.0, in_bot)
    level1 = _cgc_level(ax, 2.9, 4.3, lambda x: in_top, shared_gate=True)

    def level2_input(x):
        return level1["A"] if x < 3 else level1["B"] if x > 7 else level1["shared"]

    level2 = _cgc_level(ax, 5.9, 7.45, level2_input, shared_gate=False)
    tower_bottoms = towers_and_outputs(ax)
    for task, x in (("A", COL_A), ("B", COL_B)):
        up(ax, x, level2[task], x, tower_bottoms[task])
    ax.text(9.9, 3.6, "level 1", ha="right", va="center", fontsize=7, color="#555555")
    ax.text(9.9, 6.7, "level 2", ha="right", va="center", fontsize=7, color="#555555")
    caption(ax, "stacked CGC levels; shared gate feeds the next")


def panel_esmm(ax):
    x_top = input_node(ax)
    in_bot, in_top = box(ax, 5.0, Y_INPUT, "shared embeddings\n(+ numerics)", "shared", w=7.6, h=1.2)
    up(ax, 5.0, x_top, 5.0, in_bot)
    outs = {}
    for task, x, label, out in (("A", COL_A, "CTR tower", r"pCTR"), ("B", COL_B, "CVR tower", r"pCVR")):
        t_bot, t_top = box(ax, x, Y_MID, label + "\nMLP(hidden, tower)", task, w=3.2, h=1.2)
        up(ax, x, in_top, x, t_bot)
        o_bot, o_top = box(ax, x, Y_MIX + 0.3, out, task, w=1.6, h=0.8)
        up(ax, x, t_top, x, o_bot)
        outs[task] = o_top
    p_bot, p_top = box(ax, COL_B, Y_OUT - 0.6, "pCTCVR =\npCTR $\\times$ pCVR", "B", w=3.2, h=1.2,
                       fontsize=8)
    up(ax, COL_B, outs["B"], COL_B, p_bot)
    arrow(ax, (COL_A, outs["A"]), (COL_B - 1.6, Y_OUT - 0.6))
    ax.text(COL_A, Y_OUT - 0.6, "loss: click\n(all rows)", ha="center", va="center", fontsize=8)
    ax.text(COL_B - 0.4, Y_OUT + 0.75, "loss: click & purchase\n(all rows)", ha="center",
            va="center", fontsize=8)
    caption(ax, "cascade={'purchase': 'click'}")


def main() -> Path:
    fig, axes = plt.subplots(2, 4, figsize=(13, 9.0))
    panels = [
        ('architecture="hard"', panel_hard),
        ('"soft"', panel_soft),
        ('"mmoe"', panel_mmoe),
        ('"single"', panel_single),
        ('"omoe"', panel_omoe),
        ('"cgc"', panel_cgc),
        ('"ple" (n_levels=2)', panel_ple),
        ('"esmm"', panel_esmm),
    ]
    for ax, (title, draw) in zip(axes.ravel(), panels):
        ax.set_xlim(*XLIM)
        ax.set_ylim(*YLIM)
        ax.set_axis_off()
        ax.set_title(title, fontsize=11, family="monospace")
        draw(ax)
    handles = [
        Patch(facecolor=COLOURS["shared"][0], edgecolor=COLOURS["shared"][1], label="shared by both tasks"),
        Patch(facecolor=COLOURS["A"][0], edgecolor=COLOURS["A"][1], label="task A only"),
        Patch(facecolor=COLOURS["B"][0], edgecolor=COLOURS["B"][1], label="task B only"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=9, frameon=False)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.96, bottom=0.05, wspace=0.06, hspace=0.12)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=130)
    plt.close(fig)
    return OUT


if __name__ == "__main__":
    print(main())
