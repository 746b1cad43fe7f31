"""Tests for d2lrnn.plot: plot and Animator."""

from __future__ import annotations

import importlib
import sys
import warnings

import matplotlib

matplotlib.use("Agg")  # this test module only: no windows, no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import d2lrnn as d2l  # noqa: E402

# d2lrnn.plot is the function (re-exported by the package); fetch the module.
plot_module = importlib.import_module("d2lrnn.plot")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def lines_data(axes):
    return [(list(ln.get_xdata()), list(ln.get_ydata())) for ln in axes.lines]


@pytest.mark.parametrize(
    "make",
    [list, np.array, torch.tensor, lambda v: torch.tensor(v, requires_grad=True)],
    ids=["list", "array", "tensor", "tensor-grad"],
)
def test_plot_accepts_lists_arrays_and_tensors(make):
    axes = d2l.plot(make([0.0, 1.0, 2.0]), make([1.0, 4.0, 9.0]), "x", "y")
    assert lines_data(axes) == [([0.0, 1.0, 2.0], [1.0, 4.0, 9.0])]
    assert axes.get_xlabel() == "x" and axes.get_ylabel() == "y"


def test_plot_without_y_uses_the_index():
    axes = d2l.plot(torch.tensor([3.0, 1.0, 2.0]))
    assert lines_data(axes) == [([0, 1, 2], [3.0, 1.0, 2.0])]


def test_plot_shares_one_x_between_several_series():
    x = torch.arange(4.0)
    axes = d2l.plot(x, [x**2, [1, 1, 1, 1], np.zeros(4)], legend=["a", "b", "c"])
    assert [d[1] for d in lines_data(axes)] == [[0, 1, 4, 9], [1] * 4, [0] * 4]
    assert all(d[0] == [0, 1, 2, 3] for d in lines_data(axes))
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["a", "b", "c"]


def test_plot_pairs_x_and_y_series_of_different_lengths():
    axes = d2l.plot([[0, 1, 2], [5, 6]], [[1, 2, 3], [7, 8]])
    assert lines_data(axes) == [([0, 1, 2], [1, 2, 3]), ([5, 6], [7, 8])]


def test_plot_draws_2d_tensor_rows_as_series():
    axes = d2l.plot(torch.arange(6.0).reshape(2, 3))  # (2 series, 3 points)
    assert [d[1] for d in lines_data(axes)] == [[0, 1, 2], [3, 4, 5]]


def test_plot_uses_given_axes_and_settings():
    fig, ax = plt.subplots()
    out = d2l.plot([1, 2], [3, 4], xlim=(0, 5), ylim=(1, 10), yscale="log", axes=ax)
    assert out is ax and len(fig.axes) == 1
    assert ax.get_xlim() == (0, 5) and ax.get_yscale() == "log"


def test_plot_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="X has 3 points but Y has 2"):
        d2l.plot([1, 2, 3], torch.tensor([1.0, 2.0]))


def test_plot_rejects_mismatched_number_of_series():
    with pytest.raises(ValueError, match="X has 2 series but Y has 3"):
        d2l.plot([[1, 2], [3, 4]], [[1, 2], [3, 4], [5, 6]])


def test_plot_rejects_bad_types_and_empty_input():
    with pytest.raises(TypeError, match="X must be a list, array or tensor"):
        d2l.plot("abc")
    with pytest.raises(ValueError, match="X must not be empty"):
        d2l.plot([])


def test_animator_builds_series_and_skips_none():
    anim = d2l.Animator(legend=["train", "test"])
    anim.add(1, [0.5, None])
    anim.add(2, [0.4, 0.6])
    anim.add(3, (0.3, 0.5))
    assert anim.X == [[1, 2, 3], [2, 3]]
    assert anim.Y == [[0.5, 0.4, 0.3], [0.6, 0.5]]
    assert lines_data(anim.axes) == [([1, 2, 3], [0.5, 0.4, 0.3]), ([2, 3], [0.6, 0.5])]


def test_animator_accepts_a_scalar_and_per_series_x():
    anim = d2l.Animator()
    anim.add(1, torch.tensor(2.0))
    anim.add(2, 3)
    assert anim.X == [[1, 2]] and anim.Y == [[2.0, 3.0]]
    two = d2l.Animator()
    two.add([1, 10], [5, 6])
    assert two.X == [[1], [10]] and two.Y == [[5], [6]]


def test_animator_rejects_inconsistent_series():
    anim = d2l.Animator(legend=["a", "b"])
    with pytest.raises(ValueError, match="legend names 2 series but ys has 1"):
        anim.add(1, 0.5)
    anim.add(1, [1, 2])
    with pytest.raises(ValueError, match="ys must have 2 entries"):
        anim.add(2, [1, 2, 3])
    with pytest.raises(ValueError, match="x has 3 entries but ys has 2"):
        anim.add([1, 2, 3], [1, 2])


def test_animator_leaves_no_pyplot_figures_and_no_warning():
    before = plt.get_fignums()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "More than 20 figures"
        animators = [d2l.Animator() for _ in range(25)]
        for i, anim in enumerate(animators):
            anim.add(i, [i, i + 1])
        animators[0].show()
    assert plt.get_fignums() == before
    assert all(len(a.fig.axes) == 1 for a in animators)


class FakeHandle:
    def __init__(self) -> None:
        self.updates = 0

    def update(self, obj) -> None:
        self.updates += 1


def test_animator_in_notebook_shows_one_output_updated_in_place(monkeypatch):
    import IPython.display

    shown = []

    def fake_display(obj, display_id=False):
        shown.append((obj, display_id))
        return FakeHandle()

    monkeypatch.setattr(plot_module, "_in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", fake_display)
    anim = d2l.Animator(legend=["loss"])
    for epoch in range(1, 6):
        anim.add(epoch, 1.0 / epoch)
    anim.show()
    assert shown == [(anim.fig, True)]  # displayed once, with a display id
    assert anim._handle.updates == 5  # then redrawn in place
    assert anim.Y == [[1.0, 0.5, 1 / 3, 0.25, 0.2]]


def test_in_notebook_is_false_in_plain_python():
    assert plot_module._in_notebook() is False


# --- draw_graph ---------------------------------------------------------------

GRAPH_NODES = {"x": (0, 0, "$x$", "input"), "h": (0, 1.5, "$h$", "hidden")}


def test_draw_graph_draws_one_box_and_one_arrow_per_node_and_edge():
    fig, ax = plt.subplots()
    d2l.draw_graph(GRAPH_NODES, [("x", "h"), ("h", "h", {"rad": 0.5})], axes=ax)
    boxes = [p for p in ax.patches if type(p).__name__ == "FancyBboxPatch"]
    arrows = [p for p in ax.patches if type(p).__name__ == "FancyArrowPatch"]
    assert len(boxes) == 2 and len(arrows) == 2
    assert [t.get_text() for t in ax.texts] == ["$x$", "$h$"]
    low, high = ax.get_ylim()
    assert low < 0 - 0.3 and high > 1.5 + 0.3  # the boxes fit inside the axes
    plt.close(fig)


@pytest.mark.parametrize(
    ("nodes", "edges", "kwargs", "error", "match"),
    [
        ({}, [], {}, TypeError, "nodes must be a non-empty dict"),
        ({"x": (0, 0, "x")}, [], {}, TypeError, r"nodes\['x'\] must be"),
        ({"x": (0, "a", "x", "input")}, [], {}, TypeError, r"nodes\['x'\] y"),
        ({"x": (0, 0, 1, "input")}, [], {}, TypeError, r"nodes\['x'\] label"),
        ({"x": (0, 0, "x", "nokind")}, [], {}, ValueError, "kind must be one of"),
        (GRAPH_NODES, [("x", "y")], {}, ValueError, "unknown node 'y'"),
        (GRAPH_NODES, [("x",)], {}, TypeError, "an edge must be"),
        (GRAPH_NODES, [("x", "h", {"width": 2})], {}, ValueError, "edge style"),
        (GRAPH_NODES, [], {"size": (1, 0)}, ValueError, "size must be .* got 0"),
        (GRAPH_NODES, [], {"size": 1}, TypeError, "size must be a pair"),
        (GRAPH_NODES, [], {"fontsize": -1}, ValueError, "fontsize must be .* got -1"),
    ],
)
def test_draw_graph_rejects_bad_input_naming_it(nodes, edges, kwargs, error, match):
    with pytest.raises(error, match=match):
        d2l.draw_graph(nodes, edges, **kwargs)
    assert not plt.get_fignums()  # checked before any figure is made


def test_plot_cycles_through_the_formats():
    x = [0.0, 1.0]
    axes = d2l.plot(x, [[i, i] for i in range(5)])
    styles = [(ln.get_linestyle(), ln.get_color()) for ln in axes.lines]
    assert styles[1:4] == [("--", "m"), ("-.", "g"), (":", "r")]
    assert styles[0][0] == styles[4][0] == "-"  # the fifth reuses the first
    mine = d2l.plot(x, [x, x, x], fmts=("k-", "b:"))
    assert [(ln.get_linestyle(), ln.get_color()) for ln in mine.lines] == [
        ("-", "k"), (":", "b"), ("-", "k")]


def test_plot_sets_labels_scales_limits_and_grid():
    axes = d2l.plot([1.0, 2.0, 4.0], [1.0, 10.0, 100.0], xlabel="step", ylabel="loss",
                    xlim=(1, 4), ylim=(1, 200), xscale="log", yscale="log")
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("step", "loss")
    assert (axes.get_xscale(), axes.get_yscale()) == ("log", "log")
    assert axes.get_xlim() == (1, 4) and axes.get_ylim() == (1, 200)
    assert axes.get_legend() is None  # no legend asked for
    assert all(line.get_visible() for line in axes.xaxis.get_gridlines())
    assert all(line.get_visible() for line in axes.yaxis.get_gridlines())
    plain = d2l.plot([1.0, 2.0])
    assert (plain.get_xscale(), plain.get_yscale()) == ("linear", "linear")
    assert plain.get_xlabel() == "" and plain.get_ylabel() == ""


def test_plot_figure_size():
    assert tuple(d2l.plot([1.0, 2.0]).figure.get_size_inches()) == (5.0, 3.0)
    wide = d2l.plot([1.0, 2.0], figsize=(8, 2))
    assert tuple(wide.figure.get_size_inches()) == (8.0, 2.0)


def test_plot_draws_floats_from_integer_data():
    axes = d2l.plot(torch.tensor([1, 2, 3]), np.array([True, False, True]))
    (line,) = axes.lines
    assert line.get_xdata().dtype == line.get_ydata().dtype == np.float64
    assert list(line.get_ydata()) == [1.0, 0.0, 1.0]
    series = d2l.plot([torch.tensor([[1], [2]]), [3, 4]])  # each series flattened
    assert lines_data(series) == [([0, 1], [1.0, 2.0]), ([0, 1], [3.0, 4.0])]


def test_plot_moves_tensors_to_the_cpu_first():
    calls = []

    class DeviceTensor:
        """Stands in for a tensor on a GPU: numpy() only after cpu()."""

        ndim = 1

        def __init__(self, values):
            self.values = values

        def detach(self):
            calls.append("detach")
            return self

        def cpu(self):
            calls.append("cpu")
            return torch.tensor(self.values)

    axes = d2l.plot(DeviceTensor([1.0, 3.0]))
    assert lines_data(axes) == [([0, 1], [1.0, 3.0])]
    assert calls == ["detach", "cpu"]


def test_in_notebook_needs_a_kernel(monkeypatch):
    import IPython

    class Terminal:  # IPython in a terminal: a shell, but no kernel
        pass

    class Kernel:
        kernel = object()

    monkeypatch.setattr(IPython, "get_ipython", lambda: Terminal())
    assert plot_module._in_notebook() is False
    monkeypatch.setattr(IPython, "get_ipython", lambda: Kernel())
    assert plot_module._in_notebook() is True


def test_animator_applies_its_axes_settings_and_formats():
    anim = d2l.Animator(xlabel="epoch", ylabel="ppl", legend=("train", "val"),
                        xlim=(1, 10), ylim=(1, 100), xscale="log", yscale="log",
                        fmts=("k-", "b:"), figsize=(4, 2))
    assert tuple(anim.fig.get_size_inches()) == (4.0, 2.0)
    anim.add(1, [50.0, 60.0])
    anim.add(2, [20.0, None])
    ax = anim.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "ppl")
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert ax.get_xlim() == (1, 10) and ax.get_ylim() == (1, 100)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "val"]
    assert [(ln.get_linestyle(), ln.get_color()) for ln in ax.lines] == [
        ("-", "k"), (":", "b")]
    assert anim.legend == ["train", "val"] and isinstance(anim.legend, list)
    plain = d2l.Animator()
    plain.add(1, 2.0)
    assert plain.legend is None and plain.axes.get_legend() is None
    assert plain.axes.get_yscale() == "linear"
    assert tuple(plain.fig.get_size_inches()) == (5.0, 3.0)


def test_animator_skips_a_point_whose_x_is_none():
    anim = d2l.Animator()
    anim.add([None, 2], [1.0, 3.0])
    anim.add([4, 5], [None, 6.0])
    assert anim.X == [[], [2.0, 5.0]] and anim.Y == [[], [3.0, 6.0]]
    assert isinstance(anim.X[1][0], float)


def test_animator_takes_arrays_and_tensors_for_x_and_ys():
    anim = d2l.Animator()
    anim.add(torch.tensor([3.0]), np.array([1.0, 2.0]))  # one x for both series
    anim.add(np.array([4.0, 5.0]), torch.tensor([0.5, 0.25]))
    assert anim.X == [[3.0, 4.0], [3.0, 5.0]]
    assert anim.Y == [[1.0, 0.5], [2.0, 0.25]]


def test_plot_converts_every_kind_of_series_to_float_arrays():
    grad = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    axes = d2l.plot(grad)  # rows of a 2-D tensor that requires grad
    assert lines_data(axes) == [([0, 1], [1.0, 2.0]), ([0, 1], [3.0, 4.0])]
    for data in ([1, 2, 3], [np.int64(1), 2, 3]):
        (line,) = d2l.plot(data, data).lines
        assert isinstance(line.get_ydata(), np.ndarray)
        assert line.get_xdata().dtype == line.get_ydata().dtype == np.float64
    (line,) = d2l.plot([torch.tensor([[1.0, 2.0, 3.0]])]).lines  # a (1, 3) row
    assert (list(line.get_xdata()), list(line.get_ydata())) == ([0, 1, 2], [1, 2, 3])


def test_plot_shares_one_x_with_two_series():
    axes = d2l.plot([0.0, 1.0], [[1.0, 2.0], [3.0, 4.0]])
    assert lines_data(axes) == [([0.0, 1.0], [1.0, 2.0]), ([0.0, 1.0], [3.0, 4.0])]


def test_in_notebook_without_ipython(monkeypatch):
    monkeypatch.setitem(sys.modules, "IPython", None)  # `import IPython` fails
    assert plot_module._in_notebook() is False


def test_animator_stores_plain_floats():
    anim = d2l.Animator()
    anim.add(np.int64(1), torch.tensor([0.5, 0.25]))
    assert [type(v) for v in anim.X[0] + anim.Y[0] + anim.Y[1]] == [float] * 3


def test_draw_box_is_a_box_of_positive_size_centred_on_its_label():
    _, ax = plt.subplots()
    d2l.draw_box(ax, 1.0, 2.0, "h")
    (box,), (label,) = ax.patches, ax.texts
    assert box.get_width() > 0 and box.get_height() > 0
    centre = (box.get_x() + box.get_width() / 2, box.get_y() + box.get_height() / 2)
    assert centre == pytest.approx((1.0, 2.0))
    assert label.get_position() == (1.0, 2.0) and label.get_text() == "h"
    d2l.draw_box(ax, 0.0, 0.0, "x", w=2.0, h=0.25)
    assert (ax.patches[1].get_width(), ax.patches[1].get_height()) == (2.0, 0.25)


def test_draw_arrow_is_straight_black_and_heavier_than_box_outlines_by_default():
    _, ax = plt.subplots()
    d2l.draw_box(ax, 0.0, 0.0, "h")
    d2l.draw_arrow(ax, (0.0, 0.0), (1.0, 1.0))
    d2l.draw_arrow(ax, (0.0, 0.0), (1.0, 1.0), color="red", rad=0.3)
    box, arrow, curved = ax.patches
    assert arrow.get_connectionstyle().rad == 0  # a straight line
    black = matplotlib.colors.to_rgba("black")
    assert arrow.get_edgecolor() == arrow.get_facecolor() == black
    assert arrow.get_linewidth() > box.get_linewidth()  # arrows stand out
    assert curved.get_connectionstyle().rad == 0.3
    red = matplotlib.colors.to_rgba("red")
    assert curved.get_edgecolor() == curved.get_facecolor() == red
