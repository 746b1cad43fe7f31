"""Tests for d2lrnn.recursive: balanced trees, TreeRNN and nonlinear_depth.

The plain recursion ``tree_reduce`` is the reference for the level-by-level
``TreeRNN``; depths are checked against integer formulas, gradients against
finite differences in float64.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.func import functional_call

import d2lrnn as d2l

F64 = torch.float64


def ceil_log2(n):
    """The smallest d with 2**d >= n, in integers."""
    return (n - 1).bit_length()


def flatten(tree):
    if isinstance(tree, int):
        return [tree]
    return flatten(tree[0]) + flatten(tree[1])


def randn(*shape, seed=0):
    return torch.randn(*shape, dtype=F64, generator=torch.Generator().manual_seed(seed))


# --- balanced_tree, leaf_depths, tree_reduce -----------------------------------


@given(st.integers(1, 600))
def test_balanced_tree_holds_every_leaf_once_in_order(n):
    tree = d2l.balanced_tree(n)
    assert flatten(tree) == list(range(n))
    depths = d2l.leaf_depths(tree)
    assert depths[0] == max(depths.values()) == ceil_log2(n)


def test_balanced_tree_small_cases():
    assert d2l.balanced_tree(1) == 0
    assert d2l.balanced_tree(2) == (0, 1)
    assert d2l.balanced_tree(3) == ((0, 1), 2)
    assert d2l.balanced_tree(6) == (((0, 1), (2, 3)), (4, 5))
    assert d2l.balanced_tree(7) == (((0, 1), (2, 3)), ((4, 5), 6))


def test_leaf_depths_of_an_unbalanced_tree():
    assert d2l.leaf_depths(((0, (1, 2)), 3)) == {0: 2, 1: 3, 2: 3, 3: 1}
    assert d2l.leaf_depths(5) == {5: 0}


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 8, 9, 31, 32, 33])
def test_all_leaves_at_one_depth_exactly_for_powers_of_two(n):
    depths = set(d2l.leaf_depths(d2l.balanced_tree(n)).values())
    assert (len(depths) == 1) == (n & (n - 1) == 0)


def test_tree_reduce_combines_in_tree_order():
    assert d2l.tree_reduce(((0, 1), 2), list("abc"),
                           lambda a, b: f"[{a}{b}]") == "[[ab]c]"
    assert d2l.tree_reduce(1, [10, 20], lambda a, b: a + b) == 20
    # a non-commutative combine tells left from right
    assert d2l.tree_reduce((1, 0), [3, 5], lambda a, b: a - b) == 2


# --- TreeRNN ---------------------------------------------------------------------


@settings(deadline=None, max_examples=30)
@given(st.integers(1, 40), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_tree_rnn_equals_the_recursion_over_its_tree(num_steps, batch, seed):
    torch.manual_seed(seed)
    layer = d2l.TreeRNN(3, 4).double()
    X = randn(num_steps, batch, 3, seed=seed)
    leaves = [X[t] @ layer.W_x for t in range(num_steps)]
    expected = d2l.tree_reduce(d2l.balanced_tree(num_steps), leaves, layer.combine)
    torch.testing.assert_close(layer(X), expected)


def test_tree_rnn_of_one_step_is_the_linear_leaf():
    torch.manual_seed(0)
    layer = d2l.TreeRNN(3, 4).double()
    X = randn(1, 2, 3, seed=1)
    torch.testing.assert_close(layer(X), X[0] @ layer.W_x)


def test_tree_rnn_node_is_the_formula():
    torch.manual_seed(1)
    layer = d2l.TreeRNN(2, 3).double()
    left, right = randn(4, 3, seed=2), randn(4, 3, seed=3)
    expected = torch.tanh(left @ layer.W_l + right @ layer.W_r + layer.b)
    torch.testing.assert_close(layer.combine(left, right), expected)


def test_tree_rnn_reads_order():
    torch.manual_seed(2)
    layer = d2l.TreeRNN(3, 4).double()
    X = randn(4, 2, 3, seed=4)
    swapped = X[[1, 0, 2, 3]]
    assert not torch.allclose(layer(X), layer(swapped))


def test_tree_rnn_gradients_match_finite_differences():
    torch.manual_seed(3)
    layer = d2l.TreeRNN(2, 3).double()
    X = randn(5, 2, 2, seed=5).requires_grad_()
    assert torch.autograd.gradcheck(layer, (X,))  # with respect to the input
    names = [n for n, _ in layer.named_parameters()]
    assert names == ["W_x", "W_l", "W_r", "b"]

    def with_weights(*weights):  # the layer, its parameters given as inputs
        return functional_call(layer, dict(zip(names, weights, strict=True)),
                               (X.detach(),))

    weights = tuple(p.detach().clone().requires_grad_() for p in layer.parameters())
    torch.testing.assert_close(with_weights(*weights), layer(X.detach()))
    assert torch.autograd.gradcheck(with_weights, weights)


def test_tree_rnn_starts_within_its_bounds():
    torch.manual_seed(4)
    h = 16
    layer = d2l.TreeRNN(9, h)
    assert layer.W_x.abs().max() <= 1.0 and layer.W_x.abs().max() > 0.5
    for p in (layer.W_l, layer.W_r, layer.b):
        assert p.abs().max() <= h ** -0.5
        assert p.abs().max() > 0.5 * h ** -0.5


def test_tree_rnn_parameter_count():
    layer = d2l.TreeRNN(5, 7)
    assert sum(p.numel() for p in layer.parameters()) == 5 * 7 + 2 * 7 * 7 + 7


# --- nonlinear_depth ---------------------------------------------------------------


@pytest.mark.parametrize("num_steps", [1, 2, 3, 5, 8, 13, 16, 33])
def test_nonlinear_depth_of_the_chain_and_the_tree(num_steps):
    torch.manual_seed(5)
    cell, layer = d2l.RNNCell(2, 3), d2l.TreeRNN(2, 3)
    xs = [torch.randn(1, 2, requires_grad=True) for _ in range(num_steps)]
    H = torch.zeros(1, 3)
    for x in xs:
        H = cell(x, H)
    root = d2l.tree_reduce(d2l.balanced_tree(num_steps),
                           [x @ layer.W_x for x in xs], layer.combine)
    depths = d2l.leaf_depths(d2l.balanced_tree(num_steps))
    for t, x in enumerate(xs):
        assert d2l.nonlinear_depth(H, x) == (num_steps - t, num_steps - t)
        assert d2l.nonlinear_depth(root, x) == (depths[t], depths[t])


def test_nonlinear_depth_fewest_and_most_differ_on_two_paths():
    x = torch.randn(3, requires_grad=True)
    y = torch.tanh(torch.tanh(torch.tanh(x))) + x  # paths with 3 and 0 tanh
    assert d2l.nonlinear_depth(y, x) == (0, 3)
    z = torch.sigmoid(torch.tanh(x))
    assert d2l.nonlinear_depth(z, x, kind="SigmoidBackward0") == (1, 1)


def test_nonlinear_depth_without_a_path_or_of_the_leaf_itself():
    x = torch.randn(3, requires_grad=True)
    other = torch.randn(3, requires_grad=True)
    assert d2l.nonlinear_depth(torch.tanh(other), x) is None
    assert d2l.nonlinear_depth(x, x) == (0, 0)
    assert d2l.nonlinear_depth(other, x) is None


def test_nonlinear_depth_walks_long_chains_without_recursion():
    x = torch.randn(2, requires_grad=True)
    y = x
    for _ in range(5000):  # deeper than Python's recursion limit
        y = torch.tanh(y)
    assert d2l.nonlinear_depth(y, x) == (5000, 5000)


# --- bad input -------------------------------------------------------------------


@pytest.mark.parametrize("tree", [(0,), (0, 1, 2), -1, True, "a", [0, 1], ((0, 1), 2.0),
                                  ((0, None), 1)])
def test_check_tree_names_a_bad_tree(tree):
    with pytest.raises(TypeError, match="tree must be a leaf index"):
        d2l.leaf_depths(tree)
    with pytest.raises(TypeError, match="tree must be a leaf index"):
        d2l.check_tree("tree", tree)


@pytest.mark.parametrize(("n", "error", "match"), [
    (0, ValueError, "num_leaves must be >= 1, got 0"),
    (2.0, TypeError, "num_leaves must be an int"),
    (True, TypeError, "num_leaves must be an int"),
])
def test_balanced_tree_names_a_bad_size(n, error, match):
    with pytest.raises(error, match=match):
        d2l.balanced_tree(n)


@pytest.mark.parametrize(("args", "error", "match"), [
    ((0, 3), ValueError, "num_inputs must be >= 1, got 0"),
    ((2, 0), ValueError, "num_hiddens must be >= 1, got 0"),
    ((2.5, 3), TypeError, "num_inputs must be an int"),
])
def test_tree_rnn_names_bad_sizes(args, error, match):
    with pytest.raises(error, match=match):
        d2l.TreeRNN(*args)


@pytest.mark.parametrize(("X", "error", "match"), [
    ([[1.0]], TypeError, "X must be a tensor"),
    (torch.zeros(5, 3), ValueError, r"X must have shape \(None, None, 3\)"),
    (torch.zeros(5, 2, 4), ValueError, "X must have shape"),
    (torch.zeros(0, 2, 3), ValueError, "X must hold at least one step"),
    (torch.zeros(5, 2, 3, dtype=F64), TypeError, "X must have dtype"),
])
def test_tree_rnn_names_a_bad_input(X, error, match):
    with pytest.raises(error, match=match):
        d2l.TreeRNN(3, 4)(X)


def test_nonlinear_depth_names_bad_tensors():
    x = torch.randn(3, requires_grad=True)
    y = torch.tanh(x)
    with pytest.raises(TypeError, match="output must be a tensor"):
        d2l.nonlinear_depth([1.0], x)
    with pytest.raises(TypeError, match="leaf must be a tensor"):
        d2l.nonlinear_depth(y, "x")
    with pytest.raises(ValueError, match="output must require grad"):
        d2l.nonlinear_depth(torch.zeros(3), x)
    with pytest.raises(ValueError, match="leaf must require grad"):
        d2l.nonlinear_depth(y, torch.zeros(3))
    with pytest.raises(ValueError, match="leaf must be a leaf tensor"):
        d2l.nonlinear_depth(torch.tanh(y), y)
